"""Which files, which project folder, which project name."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from dockyard.compose.files import normalize_name
from dockyard.compose.loader import LoadOptions, load
from dockyard.errors import InvalidArgument
from tests.unit.compose.helpers import load_error, load_in, write

SIMPLE = "services:\n  web: {image: busybox}\n"


@pytest.mark.parametrize("name", ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"])
def test_default_file_names(compose_dir: Path, name: str) -> None:
    p = load_in(compose_dir, {name: SIMPLE})
    assert p.config_files == [f"{compose_dir}/{name}"]


def test_compose_yaml_is_preferred_and_its_override_is_read(compose_dir: Path) -> None:
    files = {
        "docker-compose.yml": "services:\n  old: {image: b}\n",
        "compose.yaml": SIMPLE,
        "compose.override.yaml": "services:\n  web: {command: [echo]}\n",
    }
    p = load_in(compose_dir, files)
    assert p.config_files == [f"{compose_dir}/compose.yaml", f"{compose_dir}/compose.override.yaml"]
    assert p.services["web"].command == ["echo"]


def test_found_in_a_parent_folder(compose_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        compose_dir,
        {"compose.yaml": "services:\n  web: {image: b, volumes: ['./data:/data']}\n", ".env": "X=1\n"},
    )
    deep = compose_dir / "src" / "pkg"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    p = load(LoadOptions())
    assert (p.name, p.working_dir) == ("shop", str(compose_dir))
    assert p.services["web"].volumes[0].source == f"{compose_dir}/data"
    assert p.environment["X"] == "1"


def test_no_file_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        InvalidArgument, match=r"no Compose file in .* or its parents: write compose.yaml there"
    ):
        load(LoadOptions())


def test_missing_named_file(compose_dir: Path) -> None:
    assert load_error(compose_dir, {}, files=["nope.yaml"]).startswith("Compose file nope.yaml not found")


def test_compose_file_variable(compose_dir: Path) -> None:
    files = {"a.yaml": SIMPLE, "b.yaml": "services:\n  web: {command: [b]}\n"}
    p = load_in(compose_dir, files, {"COMPOSE_FILE": "a.yaml:b.yaml"})
    assert p.config_files == [f"{compose_dir}/a.yaml", f"{compose_dir}/b.yaml"]


def test_stdin(compose_dir: Path) -> None:
    p = load(LoadOptions(files=["-"], stdin=io.StringIO("name: piped\n" + SIMPLE)))
    assert (p.name, p.working_dir, p.config_files) == ("piped", str(compose_dir), ["-"])


def test_project_directory_option(compose_dir: Path) -> None:
    write(compose_dir, {"deploy/compose.yaml": "services:\n  web: {image: b, build: ./app}\n"})
    p = load(LoadOptions(files=["deploy/compose.yaml"]))
    assert (p.name, p.working_dir) == ("deploy", f"{compose_dir}/deploy")
    assert (
        p.services["web"].build is not None and p.services["web"].build.context == f"{compose_dir}/deploy/app"
    )
    p = load(LoadOptions(files=["deploy/compose.yaml"], project_dir="."))
    assert (p.name, p.working_dir) == ("shop", str(compose_dir))
    assert p.services["web"].build is not None and p.services["web"].build.context == f"{compose_dir}/app"


def test_project_name_precedence(compose_dir: Path) -> None:
    files = {"compose.yaml": "name: from-file\n" + SIMPLE}
    assert load_in(compose_dir, files).name == "from-file"
    assert load_in(compose_dir, files, {"COMPOSE_PROJECT_NAME": "from-env"}).name == "from-env"
    assert (
        load_in(compose_dir, files, {"COMPOSE_PROJECT_NAME": "from-env"}, project_name="from-flag").name
        == "from-flag"
    )
    write(compose_dir, {".env": "COMPOSE_PROJECT_NAME=from-dotenv\n"})
    assert load_in(compose_dir, files).name == "from-dotenv"


def test_project_name_names_engine_objects(compose_dir: Path) -> None:
    files = {
        "compose.yaml": SIMPLE
        + """\
            networks:
              back: {}
              named: {name: exact}
              outside: {external: true}
              legacy: {external: {name: old-net}}
            volumes:
              data: {}
              kept: {external: true, name: shared}
            """.replace("            ", ""),
    }
    p = load_in(compose_dir, files, project_name="demo")
    assert {k: n.name for k, n in p.networks.items()} == {
        "back": "demo_back",
        "named": "exact",
        "outside": "outside",
        "legacy": "old-net",
        "default": "demo_default",
    }
    assert p.networks["legacy"].external
    assert {k: v.name for k, v in p.volumes.items()} == {"data": "demo_data", "kept": "shared"}


@pytest.mark.parametrize(
    ("folder", "name"), [("My App.v2", "myappv2"), ("__x-Y", "x-y"), ("Shop_1", "shop_1")]
)
def test_folder_names_are_normalized(folder: str, name: str) -> None:
    assert normalize_name(folder) == name


def test_folder_without_usable_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "___"
    folder.mkdir()
    monkeypatch.chdir(folder)
    message = load_error(folder, {"compose.yaml": SIMPLE})
    assert message == (
        'cannot make a project name from the folder name "___": '
        "give one with -p, COMPOSE_PROJECT_NAME or a top-level name:"
    )


@pytest.mark.parametrize("bad", ["Upper", "-dash", "sp ace", "dot.ted"])
def test_given_project_names_must_be_valid(compose_dir: Path, bad: str) -> None:
    message = load_error(compose_dir, {"compose.yaml": SIMPLE}, project_name=bad)
    assert message.startswith(f'invalid project name "{bad}" (from -p): use lower-case letters')


def test_file_outside_the_current_folder_is_shown_by_its_path(compose_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.yaml"
    other.write_text("services:\n  web: {image: b, ports: ['x']}\n")
    message = load_error(compose_dir, {}, files=[os.fspath(other)])
    assert message.startswith(f'{other}:2: services.web.ports[0]: invalid port "x"')


def test_project_directory_without_files_is_searched(compose_dir: Path) -> None:
    write(compose_dir, {"app/compose.yaml": SIMPLE, "app/.env": "X=app\n"})
    p = load(LoadOptions(project_dir="app"))
    assert (p.name, p.config_files, p.environment["X"]) == ("app", [f"{compose_dir}/app/compose.yaml"], "app")
