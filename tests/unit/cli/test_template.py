"""The Go-template subset of dockyard.cli.template, checked against what Go's text/template prints."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.cli.template import Template, TemplateError, go_string, render

INSPECT: dict[str, Any] = {
    "Id": "abc123",
    "Name": "/web",
    "State": {"Status": "running", "Running": True, "ExitCode": 0, "Health": None},
    "Config": {"Cmd": ["sleep", "60"], "Labels": {"k": "v", "com.example.x": "y"}, "Env": []},
    "NetworkSettings": {
        "IPAddress": "172.17.0.2",
        "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]},
    },
    "Mounts": [{"Source": "/a", "Destination": "/x"}, {"Source": "/b", "Destination": "/y"}],
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{.State.Status}}", "running"),
        ("{{.NetworkSettings.IPAddress}}", "172.17.0.2"),
        ("{{json .Config.Cmd}}", '["sleep","60"]'),
        ('{{index .Config.Labels "com.example.x"}}', "y"),
        ('{{index .Config.Labels "missing"}}', ""),
        ("{{.Config.Cmd}}", "[sleep 60]"),
        ("{{.Config.Labels}}", "map[com.example.x:y k:v]"),
        ("{{.State.Running}} {{.State.ExitCode}} {{.State.Health}}", "true 0 <nil>"),
        ("{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}", "/a:/x /b:/y "),
        ("{{range $i, $m := .Mounts}}{{$i}}={{$m.Source}};{{end}}", "0=/a;1=/b;"),
        ("{{range $k, $v := .Config.Labels}}{{$k}}{{end}}", "com.example.xk"),
        ("{{range .Config.Env}}x{{else}}empty{{end}}", "empty"),
        ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
        ('{{if eq .State.Status "exited"}}a{{else if eq .State.Status "running"}}b{{else}}c{{end}}', "b"),
        ("{{with .State}}{{.Status}}{{end}}", "running"),
        ('{{.Name | upper}} {{lower "AB"}} {{title "hello world"}}', "/WEB ab Hello World"),
        ('{{join .Config.Cmd ","}} {{len .Mounts}}', "sleep,60 2"),
        ('{{printf "%s-%d-%q" .Name 7 "x"}}', '/web-7-"x"'),
        ("{{$x := .Id}}{{$x}}", "abc123"),
        ("{{- .Id -}}  \n  {{.Name}}", "abc123/web"),
        ("a {{/* a comment */}}b", "a b"),
        ("{{(index .Mounts 1).Source}}", "/b"),
        ('{{and .State.Running .Name}} {{or .Config.Env "none"}} {{not .State.Running}}', "/web none false"),
        (
            "{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{(index $conf 0).HostPort}}{{end}}",
            "80/tcp -> 8080",
        ),
        ('{{split "a:b" ":"}} {{truncate "abcdef" 3}} {{pad "x" 1 2}}|', "[a b] abc  x  |"),
        ("{{json .}}", None),
    ],
)
def test_render(source: str, expected: str | None) -> None:
    out = render(source, INSPECT)
    if expected is None:
        import json

        assert json.loads(out) == INSPECT
    else:
        assert out == expected


def test_methods_with_arguments() -> None:
    class Row:
        def ID(self) -> str:
            return "id1"

        def Label(self, name: str) -> str:
            return {"a": "1"}.get(name, "")

    assert render('{{.ID}} {{.Label "a"}}|{{.Label "b"}}|', Row()) == "id1 1||"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{.Bogus}}", 'template: :1:2: executing "" at <.Bogus>: map has no entry for key "Bogus"'),
        ("{{.State.Nope}}", 'executing "" at <.State.Nope>: map has no entry for key "Nope"'),
        ("{{.State.Health.Status}}", "nil pointer evaluating interface {}.Status"),
        ("{{nofunc .Id}}", 'function "nofunc" not defined'),
        ("{{.Id", "unclosed action"),
        ("{{if .Id}}x", "unexpected EOF"),
        ("{{end}}", "unexpected {{end}}"),
        ("{{$nope}}", "undefined variable: $nope"),
        ("{{index .Mounts 5}}", "index out of range"),
    ],
)
def test_errors(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as found:
        Template(source).execute(INSPECT)
    assert message in found.value.message


def test_go_string() -> None:
    assert go_string(None) == "<nil>"
    assert go_string(1.5) == "1.5" and go_string(3.0) == "3" and go_string(1e21) == "1e+21"
    assert go_string([1, "a", [True]]) == "[1 a [true]]"
    assert go_string({"b": 1, "a": {}}) == "map[a:map[] b:1]"
