"""Every instruction and flag of issue 6, each built for real and checked in the image or by
running it."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.build_helpers import (  # noqa: F401
    Contexts,
    Tags,
    build,
    build_bytes,
    contexts_fixture,
    inspect,
    run_out,
    tags_fixture,
)

pytestmark = [pytest.mark.root]


def test_metadata_instructions(dockyard_daemon: Any, contexts: Contexts, tags: Tags) -> None:
    ctx = contexts.make(
        {
            "Dockerfile": """\
FROM busybox
MAINTAINER someone@example.org
ARG VERSION=1.2
ENV APP_HOME=/srv/app VERSION_SEEN=${VERSION} \\
    QUOTED="a b"
LABEL org.version="$VERSION" "spaced key"=v
EXPOSE 80 443/udp 7000-7001
VOLUME /data /logs
VOLUME ["/json1", "/json2"]
WORKDIR $APP_HOME
WORKDIR sub
USER 1000:1000
HEALTHCHECK --interval=30s --timeout=5s --start-period=1s --retries=4 CMD test -e /
STOPSIGNAL SIGUSR1
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo triggered > /tmp/onbuild.txt
ENTRYPOINT echo from-entrypoint
CMD ["ignored"]
""",
        }
    )
    tag = tags.new()
    build(dockyard_daemon, "-t", tag, str(ctx))
    data = inspect(dockyard_daemon, tag)
    cfg = data["Config"]
    env = dict(e.split("=", 1) for e in cfg["Env"])
    assert env["APP_HOME"] == "/srv/app" and env["VERSION_SEEN"] == "1.2" and env["QUOTED"] == "a b"
    assert "VERSION" not in env  # ARG is not kept in the image
    assert cfg["Labels"] == {"org.version": "1.2", "spaced key": "v"}
    assert set(cfg["ExposedPorts"]) == {"80/tcp", "443/udp", "7000/tcp", "7001/tcp"}
    assert set(cfg["Volumes"]) == {"/data", "/logs", "/json1", "/json2"}
    assert cfg["WorkingDir"] == "/srv/app/sub"
    assert cfg["User"] == "1000:1000"
    assert cfg["Healthcheck"] == {
        "Test": ["CMD-SHELL", "test -e /"],
        "Interval": 30 * 10**9,
        "Timeout": 5 * 10**9,
        "StartPeriod": 10**9,
        "Retries": 4,
    }
    assert cfg["StopSignal"] == "SIGUSR1"
    assert cfg["Shell"] == ["/bin/sh", "-ec"]
    assert cfg["OnBuild"] == ["RUN echo triggered > /tmp/onbuild.txt"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-ec", "echo from-entrypoint"]
    assert cfg["Cmd"] == ["ignored"]
    assert data["Author"] == "someone@example.org"
    child_ctx = contexts.make({"Dockerfile": f"FROM {tag}\nUSER 0\nHEALTHCHECK NONE\nENTRYPOINT []\n"})
    child = tags.new()
    res = build(dockyard_daemon, "-t", child, str(child_ctx))
    assert "# Executing 1 build trigger" in res.stderr
    assert run_out(dockyard_daemon, child, "cat", "/tmp/onbuild.txt") == "triggered\n"  # run as USER 1000
    child_cfg = inspect(dockyard_daemon, child)["Config"]
    assert not child_cfg.get("OnBuild") and child_cfg["Healthcheck"] == {"Test": ["NONE"]}


def test_cmd_and_entrypoint_rules(dockyard_daemon: Any, contexts: Contexts, tags: Tags) -> None:
    base = contexts.make({"Dockerfile": 'FROM busybox\nCMD ["echo", "base-cmd"]\n'})
    base_tag = tags.new()
    build(dockyard_daemon, "-t", base_tag, str(base))
    child = contexts.make({"Dockerfile": f'FROM {base_tag}\nENTRYPOINT ["echo", "entry"]\n'})
    child_tag = tags.new()
    build(dockyard_daemon, "-t", child_tag, str(child))
    assert inspect(dockyard_daemon, child_tag)["Config"]["Cmd"] is None  # inherited CMD dropped
    assert run_out(dockyard_daemon, child_tag) == "entry\n"


HEREDOCS = """\
FROM busybox
ENV WHO=heredoc
RUN ["sh", "-c", "echo exec-form > /exec.txt"]
RUN <<EOF
echo "script from $WHO" > /script.txt
echo second line >> /script.txt
EOF
RUN cat <<A > /a.txt && cat <<'B' > /b.txt
expanded $WHO
A
literal $WHO
B
COPY <<EOF /etc/app.conf
name=$WHO
EOF
COPY <<"RAW" /raw.conf
name=$WHO
RAW
SHELL ["/bin/sh", "-c", "echo shell-was-used > /shell.txt; eval \\"$0\\""]
RUN true
"""


def test_run_forms_shell_and_heredocs(dockyard_daemon: Any, contexts: Contexts, tags: Tags) -> None:
    ctx = contexts.make({"Dockerfile": HEREDOCS})
    tag = tags.new()
    build(dockyard_daemon, "-t", tag, str(ctx))
    files = ["/exec.txt", "/script.txt", "/a.txt", "/b.txt", "/etc/app.conf", "/raw.conf", "/shell.txt"]
    out = run_out(dockyard_daemon, tag, "cat", *files)
    assert out == (
        "exec-form\nscript from heredoc\nsecond line\nexpanded heredoc\nliteral $WHO\n"
        "name=heredoc\nname=$WHO\nshell-was-used\n"
    )


COPIES = """\
FROM busybox
RUN echo 'app:x:1234:4321::/home/app:/bin/sh' >> /etc/passwd && echo 'grp:x:999:' >> /etc/group
COPY dir /dir-contents/
COPY *.txt /globbed/
COPY --chown=app:grp --chmod=0640 one.txt /owned.txt
COPY --chown=77 two.txt /numeric.txt
COPY --link one.txt /linked/
WORKDIR /w
COPY one.txt relative.txt
"""


def test_copy_semantics_chown_chmod_link(dockyard_daemon: Any, contexts: Contexts, tags: Tags) -> None:
    ctx = contexts.make(
        {"Dockerfile": COPIES, "dir/inner/deep.txt": "deep\n", "one.txt": "one\n", "two.txt": "two\n"}
    )
    tag = tags.new()
    build(dockyard_daemon, "-t", tag, str(ctx))
    script = (
        "ls /dir-contents /dir-contents/inner; ls /globbed; stat -c '%u:%g %a' /owned.txt /numeric.txt;"
        " cat /linked/one.txt /w/relative.txt; stat -c '%u:%g' /globbed/one.txt"
    )
    out = run_out(dockyard_daemon, tag, "sh", "-c", script)
    assert out.split("\n") == [
        "/dir-contents:",
        "inner",
        "",
        "/dir-contents/inner:",
        "deep.txt",
        "one.txt",
        "two.txt",
        "1234:999 640",
        "77:77 644",
        "one",
        "one",
        "0:0",
        "",
    ]


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_file() -> Iterator[tuple[str, bytes]]:
    """A file served over HTTP on 127.0.0.1 (ADD <url>)."""
    body = b"downloaded content\n"
    handler = type("H", (_Handler,), {"body": body})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/files/payload.txt", body
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_add_archive_and_url_with_checksum(
    dockyard_daemon: Any, contexts: Contexts, tags: Tags, http_file: tuple[str, bytes]
) -> None:
    url, body = http_file
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("pkg/README")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"readme"))
    digest = hashlib.sha256(body).hexdigest()
    ctx = contexts.make(
        {
            "Dockerfile": f"FROM busybox\nADD pkg.tar.gz /opt/\nADD --checksum=sha256:{digest} {url} /dl/\n",
            "pkg.tar.gz": buf.getvalue(),
        }
    )
    tag = tags.new()
    build(dockyard_daemon, "-t", tag, str(ctx))
    script = "cat /opt/pkg/README; echo; cat /dl/payload.txt; stat -c %a /dl/payload.txt"
    assert run_out(dockyard_daemon, tag, "sh", "-c", script) == "readme\ndownloaded content\n600\n"
    bad = contexts.make({"Dockerfile": f"FROM busybox\nADD --checksum=sha256:{'0' * 64} {url} /dl/\n"})
    res = build(dockyard_daemon, str(bad), check=False)
    assert res.returncode == 1
    assert f"checksum of {url} is sha256:{digest}, expected sha256:{'0' * 64}" in res.stderr


def test_run_mounts_cache_bind_secret_tmpfs_network(
    dockyard_daemon: Any, contexts: Contexts, tags: Tags, tmp_path: Path
) -> None:
    cache_id = f"c{os.getpid()}x{tmp_path.name}"
    dockerfile = f"""\
FROM busybox AS files
RUN mkdir /stuff && echo from-stage > /stuff/s.txt
FROM busybox
RUN --mount=type=cache,target=/cache,id={cache_id} echo run >> /cache/runs && wc -l < /cache/runs > /runs.txt
RUN --mount=type=bind,from=files,source=/stuff,target=/mnt cat /mnt/s.txt > /from-stage.txt
RUN --mount=type=bind,source=ctxdir,target=/ctx cat /ctx/c.txt > /from-ctx.txt
RUN --mount=type=secret,id=token cat /run/secrets/token | wc -c > /secret-len.txt
RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/f
RUN --network=none ls /sys/class/net > /nets.txt
"""
    ctx = contexts.make({"Dockerfile": dockerfile, "ctxdir/c.txt": "from-context\n"})
    secret = tmp_path / "token"
    secret.write_text("s3cr3t-value")
    tag = tags.new()
    build(dockyard_daemon, "-t", tag, "--secret", f"id=token,src={secret}", str(ctx))
    script = (
        "cat /runs.txt /from-stage.txt /from-ctx.txt /secret-len.txt /nets.txt;"
        " ls /run/secrets /scratch 2>&1; true"
    )
    out = run_out(dockyard_daemon, tag, "sh", "-c", script)
    lines = out.split("\n")
    assert lines[:5] == ["1", "from-stage", "from-context", "12", "lo"]
    assert "s3cr3t" not in out
    assert "ls: /run/secrets: No such file or directory" in out  # mount points are not kept
    # The cache mount outlives the build: a --no-cache build sees the first run's file.
    tag2 = tags.new()
    build(dockyard_daemon, "--no-cache", "-t", tag2, "--secret", f"id=token,src={secret}", str(ctx))
    assert run_out(dockyard_daemon, tag2, "cat", "/runs.txt") == "2\n"
    missing = contexts.make({"Dockerfile": "FROM busybox\nRUN --mount=type=secret,id=nope,required true\n"})
    res = build(dockyard_daemon, str(missing), check=False)
    assert res.returncode == 1 and "secret nope not found" in res.stderr


def test_dockerignore_dockerfile_flag_and_stdin(dockyard_daemon: Any, contexts: Contexts, tags: Tags) -> None:
    ctx = contexts.make(
        {
            "Dockerfile": "FROM busybox\nCOPY . /ctx/\n",
            "other.Dockerfile": "FROM busybox\nCOPY keep.md /other/\n",
            ".dockerignore": "*.md\n!keep.md\n**/*.tmp\nsecrets\n",
            "keep.md": "k",
            "drop.md": "d",
            "a/b/c.tmp": "t",
            "a/b/real.txt": "r",
            "secrets/key": "s",
        }
    )
    tag = tags.new()
    build(dockyard_daemon, "-t", tag, str(ctx))
    files = run_out(dockyard_daemon, tag, "sh", "-c", "find /ctx -type f | sort").split()
    assert files == [
        "/ctx/.dockerignore",
        "/ctx/Dockerfile",
        "/ctx/a/b/real.txt",
        "/ctx/keep.md",
        "/ctx/other.Dockerfile",
    ]
    other = tags.new()
    build(dockyard_daemon, "-t", other, "-f", str(ctx / "other.Dockerfile"), str(ctx))
    assert run_out(dockyard_daemon, other, "cat", "/other/keep.md") == "k"
    from_stdin = tags.new()
    build(
        dockyard_daemon, "-t", from_stdin, "-f", "-", str(ctx), input=b"FROM busybox\nCOPY keep.md /stdin/\n"
    )
    assert run_out(dockyard_daemon, from_stdin, "cat", "/stdin/keep.md") == "k"
    only_dockerfile = tags.new()
    build(dockyard_daemon, "-t", only_dockerfile, "-", input=b"FROM busybox\nRUN echo piped > /p\n")
    assert run_out(dockyard_daemon, only_dockerfile, "cat", "/p") == "piped\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in {"Dockerfile": b"FROM busybox\nCOPY f /f\n", "f": b"tarred"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    tar_tag = tags.new()
    build_bytes(dockyard_daemon, "-t", tar_tag, "-", input=buf.getvalue())
    assert run_out(dockyard_daemon, tar_tag, "cat", "/f") == "tarred"


def test_labels_iidfile_quiet_and_scratch(
    dockyard_daemon: Any, contexts: Contexts, tags: Tags, tmp_path: Path
) -> None:
    ctx = contexts.make({"Dockerfile": 'FROM scratch\nCOPY f /f\nCMD ["/f"]\n', "f": "data"})
    tag = tags.new()
    iid = tmp_path / "iid"
    res = dockyard_daemon.dockyard(
        "build", "-q", "-t", tag, "--label", "a=b", "--iidfile", str(iid), str(ctx)
    )
    image = res.stdout.strip()
    assert image.startswith("sha256:") and iid.read_text() == image and res.stderr == ""
    data = inspect(dockyard_daemon, tag)
    assert data["Id"] == image and data["Config"]["Labels"] == {"a": "b"}
    assert len(data["RootFS"]["Layers"]) == 1 and data["Created"].startswith("1970-01-01T00:00:00")
