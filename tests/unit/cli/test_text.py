"""Docker's text layouts: tabwriter, human sizes and durations, --format, ps/images/stats/df rows."""

from __future__ import annotations

import json
import time

import pytest

from dockyard.cli import formatter, humanize, tabwriter
from dockyard.cli.events import pretty
from dockyard.cli.images import image_rows
from dockyard.cli.progress import StreamFailed, plain_line, show_plain
from dockyard.cli.ps import ContainerRow, go_quote
from dockyard.cli.stats import StatsRow, cpu_percent, memory_usage
from dockyard.cli.system import usage_rows
from dockyard.cli.template import TemplateError


def test_tabwriter_like_go() -> None:
    text = "CONTAINER ID\tIMAGE\tNAMES\nabc\tbusybox\tweb\n"
    assert tabwriter.render(text) == "CONTAINER ID   IMAGE     NAMES\nabc            busybox   web\n"
    # minwidth 20 (docker top)
    assert (
        tabwriter.render("UID\tPID\nroot\t1\n", minwidth=20)
        == "UID                 PID\nroot                1\n"
    )
    # Column widths are per block of lines having that column: column 1 here is line 1's alone.
    assert tabwriter.render("a\tb\tc\nlonger-cell-text\tb\nx\ty\n") == (
        "a" + " " * 18 + "b" + " " * 9 + "c\n" + "longer-cell-text   b\n" + "x" + " " * 18 + "y\n"
    )
    assert tabwriter.render("a\tb\nlonger-cell-text\tc\n") == "a                  b\nlonger-cell-text   c\n"
    assert tabwriter.render("x\t\ty\n") == "x                   y\n"  # an empty cell is still a column


def test_human_sizes_and_durations() -> None:
    assert humanize.size(1986000) == "1.986MB"
    assert humanize.size(1986000, 3) == "1.99MB"
    assert humanize.size(0) == "0B" and humanize.size(999) == "999B" and humanize.size(1000) == "1kB"
    assert humanize.bytes_size(344 * 1024) == "344KiB"
    assert humanize.bytes_size(23.54 * 1024**3) == "23.54GiB"
    assert humanize.duration(0.5) == "Less than a second"
    assert humanize.duration(1) == "1 second" and humanize.duration(59) == "59 seconds"
    assert humanize.duration(60) == "About a minute" and humanize.duration(150) == "2 minutes"
    assert humanize.duration(3600) == "About an hour" and humanize.duration(5 * 3600) == "5 hours"
    assert humanize.duration(3 * 86400) == "3 days" and humanize.duration(20 * 86400) == "2 weeks"
    assert humanize.duration(90 * 86400) == "3 months" and humanize.duration(800 * 86400) == "2 years"
    assert humanize.ago(100, now=160) == "About a minute ago"


def test_times() -> None:
    assert humanize.parse_timestamp("2024-01-02T03:04:05.5Z") == pytest.approx(1704164645.5)
    assert humanize.parse_timestamp("2024-01-02T04:04:05+01:00") == 1704164645
    assert humanize.parse_timestamp("0001-01-01T00:00:00Z") is None
    assert humanize.parse_timestamp("yesterday") is None
    stamp = humanize.rfc3339_nano_fixed(1704164645_000000001)
    assert stamp.split(".")[1][:9] == "000000001"


def test_format_specs() -> None:
    rows = [{"A": "1", "B": "two"}]
    assert (
        formatter.render("", "table {{.A}}\\t{{.B}}", rows, {"A": "COL A", "B": "B"})
        == "COL A     B\n1         two\n"
    )
    assert formatter.render("{{.A}}-{{.B}}", "table {{.A}}", rows, {}) == "1-two\n"
    assert json.loads(formatter.render("json", "table {{.A}}", rows, {})) == rows[0]
    assert formatter.render("table", "table {{.A}}", [], {"A": "AA"}) == "AA\n"
    with pytest.raises(TemplateError, match="template parsing error"):
        formatter.render("{{.A", "", rows, {})
    assert formatter.ellipsis("sh -c 'echo out; echo err'", 20) == "sh -c 'echo out; ec…"
    assert formatter.truncate_id("sha256:0123456789abcdef") == "0123456789ab"
    assert formatter.filters(["label=a=b", "status=exited", "label=c"]) == {
        "label": ["a=b", "c"],
        "status": ["exited"],
    }


def test_container_row() -> None:
    now = time.time()
    c = {
        "Id": "f" * 64,
        "Names": ["/web", "/other/alias"],
        "Image": "busybox",
        "ImageID": "sha256:" + "a" * 64,
        "Command": 'sh -c "echo out; echo err"',
        "Created": int(now) - 130,
        "State": "running",
        "Status": "Up 2 minutes",
        "Ports": [
            {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"PrivatePort": 443, "Type": "tcp"},
            {"PrivatePort": 444, "Type": "tcp"},
        ],
        "Labels": {"b": "2", "a": "1"},
        "SizeRw": 0,
        "SizeRootFs": 1986000,
        "Mounts": [{"Name": "averyveryverylongvolumename", "Driver": "local"}],
        "NetworkSettings": {"Networks": {"bridge": {}, "alpha": {}}},
    }
    row = ContainerRow(c, True, now)
    assert row.ID() == "f" * 12 and row.Names() == "web"
    assert row.Command() == '"sh -c \\"echo out; ec…"'
    assert row.RunningFor() == "2 minutes ago"
    assert row.Ports() == "443-444/tcp, 0.0.0.0:8080->80/tcp"
    assert row.Labels() == "a=1,b=2" and row.Label("b") == "2" and row.Label("zz") == ""
    assert row.Size() == "0B (virtual 1.99MB)"
    assert (
        row.Mounts() == "averyveryveryl…" and row.LocalVolumes() == "1" and row.Networks() == "alpha,bridge"
    )
    assert ContainerRow({**c, "Image": "sha256:" + "a" * 64}, True, now).Image() == "a" * 12
    assert set(row.json_fields()) >= {"ID", "Names", "Ports", "State"}
    assert go_quote('a"b\n') == '"a\\"b\\n"'


def test_image_rows() -> None:
    images = [
        {
            "Id": "sha256:" + "1" * 64,
            "RepoTags": ["busybox:latest", "busybox:1", "me/x:2"],
            "RepoDigests": ["busybox@sha256:" + "d" * 64],
            "Created": 0,
            "Size": 1986000,
        },
        {
            "Id": "sha256:" + "2" * 64,
            "RepoTags": ["<none>:<none>"],
            "RepoDigests": [],
            "Created": 0,
            "Size": 5,
        },
        {
            "Id": "sha256:" + "3" * 64,
            "RepoTags": [],
            "RepoDigests": ["only@sha256:" + "e" * 64],
            "Created": 0,
            "Size": 5,
        },
    ]
    rows = image_rows(images, False, True, 0)
    assert [(r.Repository(), r.Tag(), r.Digest()) for r in rows] == [
        ("busybox", "latest", "<none>"),
        ("busybox", "1", "<none>"),
        ("me/x", "2", "<none>"),
        ("<none>", "<none>", "<none>"),
        ("only", "<none>", "<none>"),
    ]
    with_digests = image_rows(images, True, True, 0)
    assert with_digests[0].Digest() == "sha256:" + "d" * 64
    assert with_digests[-1].Digest() == "sha256:" + "e" * 64
    assert rows[0].ID() == "1" * 12 and rows[0].Size() == "1.99MB" and rows[0].Containers() == "N/A"


def test_stats_numbers() -> None:
    sample = {
        "id": "c" * 64,
        "name": "/web",
        "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000, "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
        "memory_stats": {
            "usage": 10 * 1024 * 1024,
            "limit": 100 * 1024 * 1024,
            "stats": {"total_inactive_file": 1024 * 1024},
        },
        "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 500}},
        "blkio_stats": {
            "io_service_bytes_recursive": [{"op": "Read", "value": 4096}, {"op": "Write", "value": 0}]
        },
        "pids_stats": {"current": 3},
    }
    assert cpu_percent(sample) == pytest.approx(40.0)
    assert memory_usage(sample) == (9 * 1024 * 1024, 100 * 1024 * 1024)
    row = StatsRow("web", sample, True)
    assert [
        row.ID(),
        row.Name(),
        row.CPUPerc(),
        row.MemUsage(),
        row.MemPerc(),
        row.NetIO(),
        row.BlockIO(),
        row.PIDs(),
    ] == [
        "c" * 12,
        "web",
        "40.00%",
        "9MiB / 100MiB",
        "9.00%",
        "1.5kB / 500B",
        "4.1kB / 0B",
        "3",
    ]
    missing = StatsRow("gone", None, True)
    assert (missing.CPUPerc(), missing.MemUsage(), missing.PIDs()) == ("--", "-- / --", "--")


def test_disk_usage_rows() -> None:
    df = {
        "LayersSize": 2000,
        "Images": [
            {"Size": 1500, "SharedSize": 0, "Containers": 1},
            {"Size": 500, "SharedSize": 0, "Containers": 0},
        ],
        "Containers": [{"SizeRw": 10, "State": "running"}, {"SizeRw": 30, "State": "exited"}],
        "Volumes": [{"UsageData": {"Size": 7, "RefCount": 0}}, {"UsageData": {"Size": -1, "RefCount": 1}}],
        "BuildCache": [],
    }
    rows = usage_rows(df)
    table = [(r.Type(), r.TotalCount(), r.Active(), r.Size(), r.Reclaimable()) for r in rows]
    assert table == [
        ("Images", "2", "1", "2kB", "500B (25%)"),
        ("Containers", "2", "1", "40B", "30B (75%)"),
        ("Local Volumes", "2", "1", "7B", "7B (100%)"),
        ("Build Cache", "0", "0", "0B", "0B"),
    ]


def test_event_line() -> None:
    event = {
        "Type": "container",
        "Action": "die",
        "Actor": {"ID": "abc", "Attributes": {"name": "web", "exitCode": "137", "image": "busybox"}},
        "timeNano": 1704164645_123456789,
    }
    line = pretty(event)
    assert line.endswith(" container die abc (exitCode=137, image=busybox, name=web)")
    assert ".123456789" in line.split()[0]


def test_progress_plain_lines() -> None:
    assert (
        plain_line({"status": "Pulling from library/busybox", "id": "latest"})
        == "latest: Pulling from library/busybox\n"
    )
    assert (
        plain_line({"status": "Downloading", "id": "abc", "progressDetail": {"current": 5, "total": 9}}) == ""
    )
    assert (
        plain_line({"status": "Download complete", "id": "abc", "progressDetail": {}})
        == "abc: Download complete\n"
    )
    assert plain_line({"stream": "Loaded image: x:1\n"}) == "Loaded image: x:1\n"

    class Sink:
        def __init__(self) -> None:
            self.data = b""

        def write(self, b: bytes) -> int:
            self.data += b
            return len(b)

        def flush(self) -> None:
            pass

    sink = Sink()
    aux = show_plain([{"status": "Digest: sha256:1"}, {"aux": {"Tag": "1"}}], sink)  # type: ignore[arg-type]
    assert sink.data == b"Digest: sha256:1\n" and aux == [{"Tag": "1"}]
    with pytest.raises(StreamFailed, match="manifest unknown"):
        show_plain([{"errorDetail": {"message": "manifest unknown"}, "error": "manifest unknown"}], sink)  # type: ignore[arg-type]


def test_progress_bar_like_docker() -> None:
    from dockyard.cli.progress import progress_bar

    assert progress_bar({"current": 1_500_000, "total": 3_000_000}, 120) == (
        "[" + "=" * 25 + ">" + " " * 25 + "]    1.5MB/3MB"
    )
    assert progress_bar({"current": 1_500_000, "total": 3_000_000}, 80) == "   1.5MB/3MB"
    assert progress_bar({"current": 2048}, 120) == " 2.048kB"
    assert progress_bar({}, 120) == ""
