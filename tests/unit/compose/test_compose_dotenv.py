""".env and --env-file: the dotenv syntax and the precedence of the files and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.compose.dotenv import parse_dotenv, project_environment
from dockyard.errors import InvalidArgument
from tests.unit.compose.helpers import load_error, load_in, write


def test_syntax() -> None:
    text = (
        "# a comment\n"
        "\n"
        "export A=1\n"
        "B = two words  # trailing comment\n"
        "C=a#b\n"
        'D="line1\\nline2 ${A} \\"q\\""\n'
        "E='literal ${A} \\n'\n"
        "F=${A}-${OUTER:-none}\n"
        'G="multi\n'
        'line"\n'
        "H=\n"
        "FROM_OUTER\n"
        "NOT_ANYWHERE\n"
        "I='x # not a comment'\n"
    )
    env = parse_dotenv(text, ".env", {"FROM_OUTER": "outer"})
    assert env == {
        "A": "1",
        "B": "two words",
        "C": "a#b",
        "D": 'line1\nline2 1 "q"',
        "E": "literal ${A} \\n",
        "F": "1-none",
        "G": "multi\nline",
        "H": "",
        "FROM_OUTER": "outer",
        "I": "x # not a comment",
    }


def test_errors_name_the_file_and_line() -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_dotenv("A=1\n!bad\n", "prod.env", {})
    assert str(info.value) == "prod.env: line 2: expected KEY=value, got '!bad'"
    with pytest.raises(InvalidArgument) as info:
        parse_dotenv('A="open\nB=2\n', "prod.env", {})
    assert 'prod.env: line 1: A: the " quote is never closed' in str(info.value)
    with pytest.raises(InvalidArgument) as info:
        parse_dotenv("A=${NEED:?must be set}\n", "prod.env", {})
    assert 'prod.env: line 1: A: required variable "NEED" is missing a value: must be set' in str(info.value)


def test_several_env_files_later_wins_process_wins_over_all(tmp_path: Path) -> None:
    write(tmp_path, {"one.env": "A=1\nB=1\nC=1\n", "two.env": "B=2\nC=${B}2\n"})
    env = project_environment([str(tmp_path / "one.env"), str(tmp_path / "two.env")], None, {"C": "process"})
    assert (env["A"], env["B"], env["C"]) == ("1", "2", "process")


def test_env_file_option_replaces_dotenv(compose_dir: Path) -> None:
    files = {
        ".env": "TAG=dotenv\n",
        "prod.env": "TAG=prod\n",
        "compose.yaml": "services:\n  web:\n    image: b:${TAG}\n",
    }
    p = load_in(compose_dir, files, env_files=["prod.env"])
    assert p.services["web"].image == "b:prod"


def test_missing_env_file_option_is_an_error(compose_dir: Path) -> None:
    message = load_error(
        compose_dir, {"compose.yaml": "services:\n  web:\n    image: b\n"}, env_files=["nope.env"]
    )
    assert "nope.env" in message and "not found" in message


def test_service_env_file_forms_and_precedence(compose_dir: Path) -> None:
    files = {
        ".env": "SHELL_VAR=from-dotenv\n",
        "common.env": "A=common\nB=common\nREF=${SHELL_VAR}\n",
        "web.env": "B=web\n",
        "compose.yaml": """\
            services:
              one:
                image: b
                env_file: common.env
              two:
                image: b
                env_file: [common.env, web.env]
                environment: {A: explicit, UNSET_ONE: null, SHELL_VAR: null}
              three:
                image: b
                env_file:
                  - path: missing.env
                    required: false
                  - web.env
            """,
    }
    p = load_in(compose_dir, files)
    assert p.services["one"].environment == {"A": "common", "B": "common", "REF": "from-dotenv"}
    assert p.services["two"].environment == {
        "A": "explicit",
        "B": "web",
        "REF": "from-dotenv",
        "UNSET_ONE": None,
        "SHELL_VAR": "from-dotenv",
    }
    assert p.services["three"].environment == {"B": "web"}


def test_required_env_file_missing(compose_dir: Path) -> None:
    message = load_error(
        compose_dir, {"compose.yaml": "services:\n  web:\n    image: b\n    env_file: web.env\n"}
    )
    assert message == (
        f"compose.yaml:4: services.web.env_file: {compose_dir}/web.env not found: "
        'create it, or mark it "required: false"'
    )


def test_env_file_format_raw_takes_lines_verbatim(compose_dir: Path) -> None:
    files = {
        ".env": "SHELL_VAR=from-dotenv\n",
        "raw.env": (
            "# comment\n\nQUOTED=\"kept\" 'as is'\nREF=${SHELL_VAR}\nHASH=a # b\nEMPTY=\nSHELL_VAR\nNOWHERE\n"
        ),
        "compose.yaml": """\
            services:
              web:
                image: b
                env_file:
                  - path: raw.env
                    format: raw
            """,
    }
    p = load_in(compose_dir, files)
    assert p.services["web"].environment == {
        "QUOTED": "\"kept\" 'as is'",
        "REF": "${SHELL_VAR}",
        "HASH": "a # b",
        "EMPTY": "",
        "SHELL_VAR": "from-dotenv",
    }
    files["compose.yaml"] = files["compose.yaml"].replace("format: raw", "format: ini")
    message = load_error(compose_dir, files)
    assert 'services.web.env_file: unsupported format "ini": use "raw" or leave it out' in message
