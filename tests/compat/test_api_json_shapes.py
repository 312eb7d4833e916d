"""The JSON of every endpoint docker-py and the docker CLI use, field by field against the
Engine API 1.45 reference (issue 3, "Must show" 2).

One module-scoped scene makes each call once over the session daemon's socket (the same calls
``test_api_schema_dockerd.py`` makes on the real dockerd, so the two answer sets are comparable):
containers in each state (created with most options set, running with a healthcheck and a
volume, exited), exec, images (pull progress, inspect, history, tag, delete, commit), volumes,
networks, system, events and errors. Each test checks one response with ``assert_matches``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.compat.api_schema import check
from tests.compat.engines import unique, wait_for
from tests.daemon_harness import DockyardDaemon

pytestmark = [pytest.mark.compat, pytest.mark.root]

API = "/v1.45"
#: Health probes every 100 ms, so State.Health.Log has entries within a second.
HEALTH_INTERVAL_NS = 100_000_000


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._unix_path)
        self.sock = sock


@dataclass
class EngineApi:
    """Plain HTTP/1.1 calls to the daemon's socket, versioned as API 1.45."""

    sock: str

    def raw(
        self, method: str, path: str, body: object = None, timeout: float = 60.0, data: bytes | None = None
    ) -> tuple[int, bytes]:
        conn = _UnixConnection(self.sock, timeout)
        try:
            payload = data if data is not None else None if body is None else json.dumps(body).encode()
            headers = {} if payload is None else {"Content-Type": "application/json"}
            conn.request(method, API + path, body=payload, headers=headers)
            res = conn.getresponse()
            return res.status, res.read()
        finally:
            conn.close()

    def call(
        self, method: str, path: str, body: object = None, expect: int = 200, data: bytes | None = None
    ) -> Any:
        status, out = self.raw(method, path, body, data=data)
        assert status == expect, f"{method} {path}: HTTP {status}, expected {expect}: {out[:500]!r}"
        return json.loads(out) if out.strip() else None

    def get(self, path: str, expect: int = 200) -> Any:
        return self.call("GET", path, expect=expect)

    def post(self, path: str, body: object = None, expect: int = 200) -> Any:
        return self.call("POST", path, body, expect=expect)


def query(**params: object) -> str:
    """A query string; dict and list values are JSON-encoded (as the filters parameter wants)."""
    enc = {k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in params.items()}
    return "?" + urllib.parse.urlencode(enc)


def json_lines(data: bytes) -> list[Any]:
    return [json.loads(line) for line in data.splitlines() if line.strip()]


@dataclass
class Scene:
    responses: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # case -> why the scene could not make it
    containers: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    @contextlib.contextmanager
    def step(self, *cases: str) -> Iterator[None]:
        """A part of the scene: if it fails, the cases it makes fail with the reason, the other
        parts still run (one missing endpoint does not hide the shapes of the rest)."""
        try:
            yield
        except Exception as exc:
            for case in cases:
                self.errors.setdefault(case, f"{type(exc).__name__}: {exc}")


def _make_scene(api: EngineApi, registry: str, s: Scene) -> None:
    tag = f"dyshape-{os.getpid()}-{unique('s')}"
    labels = {"dyshape": tag}
    mine = {"label": [f"dyshape={tag}"]}
    r = s.responses
    since = time.time() - 1
    image = "busybox"
    volume = f"{tag}-vol"
    s.volumes += [volume, f"{volume}2"]
    run_id = done_id = ""

    with s.step("volume_create", "volume_create_labels", "volume_inspect"):
        r["volume_create"] = api.post("/volumes/create", {"Name": volume}, expect=201)
        r["volume_create_labels"] = api.post(
            "/volumes/create", {"Name": f"{volume}2", "Labels": labels, "DriverOpts": {}}, expect=201
        )
        r["volume_inspect"] = api.get(f"/volumes/{volume}")

    # Running, with a healthcheck, a named volume, a label and a file it creates.
    body: dict[str, Any] = {
        "Image": image,
        "Cmd": ["sh", "-c", "touch /dyshape-new; exec sleep 60"],
        "Labels": labels,
        "Healthcheck": {"Test": ["CMD", "true"], "Interval": HEALTH_INTERVAL_NS, "Retries": 3},
        "HostConfig": {"Binds": [f"{volume}:/data"]},
    }
    name = f"{tag}-run"
    with s.step("container_create"):
        r["container_create"] = api.post(f"/containers/create{query(name=name)}", body, expect=201)
        run_id = r["container_create"]["Id"]
        s.containers.append(run_id)
        api.post(f"/containers/{run_id}/start", expect=204)
    with s.step("error_conflict_name"):
        r["error_conflict_name"] = api.post(f"/containers/create{query(name=name)}", body, expect=409)

    def healthy() -> Any:
        info = api.get(f"/containers/{run_id}/json")
        health = info["State"].get("Health") or {}
        return info if health.get("Status") == "healthy" and health.get("Log") else None

    with s.step("container_inspect_health"):
        r["container_inspect_health"] = wait_for(healthy, 20, "the healthcheck to report healthy")
    with s.step("container_changes"):
        wait_for(lambda: api.get(f"/containers/{run_id}/changes"), 10, "the container's file change")
        r["container_changes"] = api.get(f"/containers/{run_id}/changes")
    with s.step("container_top"):
        r["container_top"] = api.get(f"/containers/{run_id}/top")
    with s.step("container_top_args"):
        r["container_top_args"] = api.get(f"/containers/{run_id}/top{query(ps_args='-ef')}")
    with s.step("container_update"):
        r["container_update"] = api.post(f"/containers/{run_id}/update", {"CpuShares": 512})
    with s.step("container_stats"):
        one_shot = query(stream="false", **{"one-shot": "true"})
        r["container_stats"] = api.get(f"/containers/{run_id}/stats{one_shot}")

    with s.step("exec_create", "exec_inspect", "exec_inspect_running"):
        r["exec_create"] = api.post(
            f"/containers/{run_id}/exec", {"Cmd": ["sh", "-c", "exit 7"], "AttachStdout": True}, expect=201
        )
        exec_id = r["exec_create"]["Id"]
        api.post(f"/exec/{exec_id}/start", {"Detach": True})
        sleeper = api.post(
            f"/containers/{run_id}/exec", {"Cmd": ["sleep", "5"], "User": "nobody"}, expect=201
        )
        api.post(f"/exec/{sleeper['Id']}/start", {"Detach": True})
        r["exec_inspect_running"] = api.get(f"/exec/{sleeper['Id']}/json")

        def exec_done() -> Any:
            info = api.get(f"/exec/{exec_id}/json")
            return None if info["Running"] else info

        r["exec_inspect"] = wait_for(exec_done, 10, "the exec to exit")
    with s.step("container_inspect_running", "container_inspect_size"):
        r["container_inspect_running"] = api.get(f"/containers/{run_id}/json")
        r["container_inspect_size"] = api.get(f"/containers/{run_id}/json{query(size=1)}")

    # Created, never started, with most HostConfig and Config options set.
    body = {
        "Image": image,
        "Entrypoint": ["sh", "-c"],
        "Cmd": ["exit 0"],
        "Env": ["DYSHAPE=1"],
        "Labels": labels,
        "ExposedPorts": {"80/tcp": {}},
        "Volumes": {"/anon": {}},
        "StopSignal": "SIGINT",
        "StopTimeout": 3,
        "Healthcheck": {"Test": ["NONE"]},
        "HostConfig": {
            "NetworkMode": "none",
            "Privileged": True,
            "Init": True,
            "Mounts": [{"Type": "tmpfs", "Target": "/scratch", "TmpfsOptions": {"SizeBytes": 1 << 20}}],
            "Tmpfs": {"/run2": "size=1m"},
            "Sysctls": {"kernel.shm_rmid_forced": "1"},
            "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
            "CapAdd": ["NET_ADMIN"],
            "Dns": ["127.0.0.1"],
            "ExtraHosts": ["dyshape:127.0.0.1"],
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2},
            "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}},
            "Memory": 64 << 20,
            "PidsLimit": 100,
        },
    }
    with s.step("container_inspect_created"):
        created_id = api.post(f"/containers/create{query(name=f'{tag}-created')}", body, expect=201)["Id"]
        s.containers.append(created_id)
        r["container_inspect_created"] = api.get(f"/containers/{created_id}/json")

    # Exits 3: wait, inspect (exited), commit.
    with s.step("container_wait", "container_inspect_exited"):
        body = {"Image": image, "Cmd": ["sh", "-c", "echo x > /f; exit 3"], "Labels": labels}
        done_id = api.post(f"/containers/create{query(name=f'{tag}-done')}", body, expect=201)["Id"]
        s.containers.append(done_id)
        api.post(f"/containers/{done_id}/start", expect=204)
        r["container_wait"] = api.post(f"/containers/{done_id}/wait")
        r["container_inspect_exited"] = api.get(f"/containers/{done_id}/json")
    with s.step("container_list", "container_list_size"):
        r["container_list"] = api.get(f"/containers/json{query(all=1, filters=mine)}")
        r["container_list_size"] = api.get(f"/containers/json{query(all=1, size=1, filters=mine)}")

    repo = f"dyshape-commit-{os.getpid()}"
    committed = f"{repo}:v1"
    s.images += [committed, f"{repo}:alias"]
    with s.step("commit", "image_inspect_committed", "image_history", "image_delete"):
        commit_query = query(container=done_id, repo=repo, tag="v1", comment="dyshape")
        r["commit"] = api.post(f"/commit{commit_query}", {}, expect=201)
        r["image_inspect_committed"] = api.get(f"/images/{committed}/json")
        r["image_history"] = api.get(f"/images/{committed}/history")
    with s.step("image_inspect"):
        r["image_inspect"] = api.get(f"/images/{image}/json")
    with s.step("image_list"):
        r["image_list"] = api.get("/images/json")
    with s.step("image_list_digests_shared"):
        r["image_list_digests_shared"] = api.get(f"/images/json{query(digests=1, **{'shared-size': 1})}")
    with s.step("image_delete_untag"):
        api.post(f"/images/{image}/tag{query(repo=repo, tag='alias')}", expect=201)
        r["image_delete_untag"] = api.call("DELETE", f"/images/{repo}:alias")
    with s.step("image_delete"):
        r["image_delete"] = api.call("DELETE", f"/images/{committed}")

    # Pull from the reference registry: a stream of progress JSON lines.
    pulled = f"{registry}/library/pulled"
    s.images.append(f"{pulled}:1")
    with s.step("image_pull", "image_inspect_pulled"):
        status, data = api.raw("POST", f"/images/create{query(fromImage=pulled, tag='1')}")
        assert status == 200, data[:500]
        r["image_pull"] = json_lines(data)
        r["image_inspect_pulled"] = api.get(f"/images/{pulled}:1/json")
    with s.step("auth"):
        # The reference registry asks for no credentials: dockerd answers "Login Succeeded".
        r["auth"] = api.post(
            "/auth", {"username": "someone", "password": "secret", "serveraddress": registry}
        )
        assert r["auth"]["Status"] == "Login Succeeded", r["auth"]

    nothing = {"label": [f"dyshape-nothing={tag}"]}
    with s.step("container_prune_nothing"):
        r["container_prune_nothing"] = api.post(f"/containers/prune{query(filters=nothing)}")
    with s.step("container_prune"):
        r["container_prune"] = api.post(f"/containers/prune{query(filters=mine)}")
    with s.step("image_prune"):
        r["image_prune"] = api.post(f"/images/prune{query(filters=nothing)}")
    with s.step("volume_prune"):
        all_mine = {"label": [f"dyshape={tag}"], "all": ["true"]}
        r["volume_prune"] = api.post(f"/volumes/prune{query(filters=all_mine)}")
    with s.step("volume_list"):
        r["volume_list"] = api.get("/volumes")
    with s.step("volume_list_filtered"):
        r["volume_list_filtered"] = api.get(f"/volumes{query(filters={'name': [volume]})}")

    with s.step("network_list"):
        r["network_list"] = api.get("/networks")
    with s.step("network_inspect_bridge"):
        r["network_inspect_bridge"] = api.get("/networks/bridge")
    with s.step("network_inspect_none"):
        r["network_inspect_none"] = api.get("/networks/none")
    with s.step("info"):
        r["info"] = api.get("/info")
    with s.step("version"):
        r["version"] = api.get("/version")
    with s.step("system_df"):
        r["system_df"] = api.get("/system/df")

    errors: list[tuple[str, str, str, bytes | None, int]] = [
        ("error_no_such_container", "GET", f"/containers/{tag}-missing/json", None, 404),
        ("error_no_such_image", "GET", f"/images/{tag}-missing:v1/json", None, 404),
        ("error_no_such_volume", "GET", f"/volumes/{tag}-missing", None, 404),
        ("error_no_such_exec", "GET", f"/exec/{tag}-missing/json", None, 404),
        ("error_bad_json", "POST", "/containers/create", b'{"Image": "busybox",', 400),
        ("error_bad_reference", "POST", "/containers/create", b'{"Image": "Not//Valid::ref"}', 400),
        ("error_volume_in_use", "DELETE", f"/volumes/{volume}", None, 409),
        ("error_remove_running", "DELETE", f"/containers/{run_id}", None, 409),
    ]
    for case, method, path, payload, expect in errors:
        with s.step(case):
            r[case] = api.call(method, path, data=payload, expect=expect)

    with s.step("events"):
        until = f"{time.time():.9f}"
        status, data = api.raw("GET", f"/events{query(since=f'{since:.9f}', until=until)}")
        assert status == 200, data[:500]
        r["events"] = json_lines(data)


@pytest.fixture(scope="module")
def scene(dockyard_daemon: DockyardDaemon, reference_registry: str) -> Iterator[Scene]:
    api = EngineApi(str(dockyard_daemon.socket))
    s = Scene()
    try:
        _make_scene(api, reference_registry, s)
        yield s
    finally:
        for cid in s.containers:
            api.raw("DELETE", f"/containers/{cid}{query(force=1, v=1)}")
        for ref in s.images:
            api.raw("DELETE", f"/images/{ref}")
        for vol in s.volumes:
            api.raw("DELETE", f"/volumes/{vol}{query(force=1)}")


#: (case, schema, is the response a list of that schema)
CASES = [
    ("volume_create", "Volume", False),
    ("volume_create_labels", "Volume", False),
    ("volume_inspect", "Volume", False),
    ("volume_list", "VolumeListResponse", False),
    ("volume_list_filtered", "VolumeListResponse", False),
    ("volume_prune", "VolumePruneResponse", False),
    ("container_create", "ContainerCreateResponse", False),
    ("container_changes", "FilesystemChange", True),
    ("container_top", "ContainerTopResponse", False),
    ("container_top_args", "ContainerTopResponse", False),
    ("container_update", "ContainerUpdateResponse", False),
    ("container_stats", "ContainerStatsResponse", False),
    ("container_inspect_created", "ContainerInspectResponse", False),
    ("container_inspect_running", "ContainerInspectResponse", False),
    ("container_inspect_health", "ContainerInspectResponse", False),
    ("container_inspect_size", "ContainerInspectResponse", False),
    ("container_inspect_exited", "ContainerInspectResponse", False),
    ("container_wait", "ContainerWaitResponse", False),
    ("container_list", "ContainerSummary", True),
    ("container_list_size", "ContainerSummary", True),
    ("container_prune", "ContainerPruneResponse", False),
    ("container_prune_nothing", "ContainerPruneResponse", False),
    ("exec_create", "IdResponse", False),
    ("exec_inspect", "ExecInspectResponse", False),
    ("exec_inspect_running", "ExecInspectResponse", False),
    ("commit", "IdResponse", False),
    ("image_inspect", "ImageInspect", False),
    ("image_inspect_committed", "ImageInspect", False),
    ("image_inspect_pulled", "ImageInspect", False),
    ("image_history", "HistoryResponseItem", True),
    ("image_list", "ImageSummary", True),
    ("image_list_digests_shared", "ImageSummary", True),
    ("image_delete_untag", "ImageDeleteResponseItem", True),
    ("image_delete", "ImageDeleteResponseItem", True),
    ("image_prune", "ImagePruneResponse", False),
    ("image_pull", "CreateImageInfo", True),
    ("auth", "SystemAuthResponse", False),
    ("network_list", "Network", True),
    ("network_inspect_bridge", "Network", False),
    ("network_inspect_none", "Network", False),
    ("info", "SystemInfo", False),
    ("version", "SystemVersion", False),
    ("system_df", "SystemDataUsageResponse", False),
    ("error_no_such_container", "ErrorResponse", False),
    ("error_no_such_image", "ErrorResponse", False),
    ("error_no_such_volume", "ErrorResponse", False),
    ("error_no_such_exec", "ErrorResponse", False),
    ("error_conflict_name", "ErrorResponse", False),
    ("error_volume_in_use", "ErrorResponse", False),
    ("error_remove_running", "ErrorResponse", False),
    ("error_bad_json", "ErrorResponse", False),
    ("error_bad_reference", "ErrorResponse", False),
    ("events", "EventMessage", True),
]

#: Progress messages leave out what they do not carry (Go omitempty): only the items' own
#: fields are checked, not which are present.
PARTIAL = {"CreateImageInfo"}

#: What dockerd sends at API 1.45 beyond the 1.45 reference: the pre-1.22 event fields
#: `status`, `id` and `from` stay in every event until API 1.52 (moby/moby#50832), and clients
#: still read them (the devcontainer CLI waits for `status == "start"`). api_schema.py allows
#: them only for API 1.41; this is the same allowance for 1.45.
LEGACY_AT_1_45 = {
    f"EventMessage.{key}: unexpected (not in the API 1.45 reference)" for key in ("status", "id", "from")
}


def _problems(schema: str, value: object, require_all: bool) -> list[str]:
    return [p for p in check(schema, value, require_all=require_all) if p not in LEGACY_AT_1_45]


@pytest.mark.parametrize(("case", "schema", "is_list"), CASES, ids=[c[0] for c in CASES])
def test_response_matches_reference(scene: Scene, case: str, schema: str, is_list: bool) -> None:
    assert case not in scene.errors, f"{case}: the call failed: {scene.errors[case]}"
    value = scene.responses[case]
    require_all = schema not in PARTIAL
    if not is_list:
        problems = _problems(schema, value, require_all)
        assert not problems, f"{case}: {len(problems)} problems:\n  " + "\n  ".join(problems)
        return
    assert isinstance(value, list) and value, f"{case}: expected a non-empty list, got {value!r}"
    # The same problem in many items is reported once, with the items it was found in.
    found: dict[str, list[int]] = {}
    for i, item in enumerate(value):
        for problem in _problems(schema, item, require_all):
            found.setdefault(problem, []).append(i)
    lines = [f"{p} (items {idx[:5]}{'...' if len(idx) > 5 else ''})" for p, idx in found.items()]
    assert not lines, f"{case}: {len(lines)} problems in {len(value)} items:\n  " + "\n  ".join(lines)


def test_scene_covers_the_interesting_shapes(scene: Scene) -> None:
    """The scene exercised what the schemas nest, and the values are the right ones."""
    r = scene.responses
    state = r["container_inspect_health"]["State"]
    assert state["Health"]["Status"] == "healthy" and state["Health"]["Log"], state
    assert [m["Type"] for m in r["container_inspect_running"]["Mounts"]] == ["volume"]
    assert r["container_inspect_created"]["State"]["Status"] == "created"
    assert r["container_inspect_exited"]["State"]["ExitCode"] == 3
    assert r["container_wait"] == {"StatusCode": 3, "Error": None}
    assert r["exec_inspect"]["ExitCode"] == 7 and r["exec_inspect_running"]["Running"] is True
    assert r["exec_inspect_running"]["ExitCode"] is None
    assert {"Untagged"} == set().union(*r["image_delete_untag"])
    assert {"Untagged", "Deleted"} == set().union(*r["image_delete"])
    assert r["container_prune"]["ContainersDeleted"], r["container_prune"]
    assert r["volume_prune"]["VolumesDeleted"], r["volume_prune"]
    assert {"/dyshape-new"} <= {c["Path"] for c in r["container_changes"]}
    assert any("Downloaded newer image" in m.get("status", "") for m in r["image_pull"]), r["image_pull"]
    size = r["container_inspect_size"]
    assert isinstance(size["SizeRw"], int) and isinstance(size["SizeRootFs"], int) and size["SizeRootFs"] > 0


def test_events_of_every_kind_the_scene_caused(scene: Scene) -> None:
    """dockerd publishes volume create/mount/destroy and network connect/disconnect events too
    (the scene made volumes, and started containers on the default bridge)."""
    assert "events" not in scene.errors, scene.errors["events"]
    seen = {(e["Type"], e["Action"]) for e in scene.responses["events"]}
    expected = [("container", "create"), ("container", "start"), ("container", "die"),
                ("container", "destroy"), ("image", "tag"), ("image", "untag"), ("image", "delete"),
                ("image", "pull"), ("volume", "create"), ("volume", "mount"), ("volume", "destroy"),
                ("network", "connect")]  # fmt: skip
    missing = [f"{kind} {action}" for kind, action in expected if (kind, action) not in seen]
    assert not missing, f"no {', '.join(missing)} events among {sorted(seen)}"


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("error_no_such_container", "No such container: "),
        ("error_no_such_image", "No such image: "),
        ("error_no_such_volume", "no such volume"),
        ("error_no_such_exec", "No such exec instance: "),
        ("error_conflict_name", "is already in use by container"),
        ("error_volume_in_use", "volume is in use"),
        ("error_remove_running", "cannot remove "),
        ("error_bad_reference", "invalid reference format"),
    ],
)
def test_error_messages_as_docker(scene: Scene, case: str, needle: str) -> None:
    assert case not in scene.errors, f"{case}: the call failed: {scene.errors[case]}"
    # Case-insensitive: dockerd 20.10 says "You cannot remove a running container", 26 "cannot
    # remove container ...: container is running".
    assert needle.lower() in scene.responses[case]["message"].lower(), scene.responses[case]
