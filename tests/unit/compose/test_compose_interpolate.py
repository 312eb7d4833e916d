"""Interpolation: every form of the Compose Specification, and where a failure is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.compose.interpolate import InterpolationError, Substituter
from tests.unit.compose.helpers import load_error, load_in

ENV = {"SET": "value", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$SET", "value"),
        ("${SET}", "value"),
        ("a${SET}b", "avalueb"),
        ("$SET-x", "value-x"),
        ("${UNSET}", ""),
        ("${UNSET:-d}", "d"),
        ("${EMPTY:-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${UNSET-d}", "d"),
        ("${SET:-d}", "value"),
        ("${SET:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${UNSET:-${ALSO_UNSET:-${SET}}}", "value"),
        ("${UNSET:-a ${SET} b}", "a value b"),
        ("${SET:-${REQUIRED:?never evaluated}}", "value"),
        ("$$SET", "$SET"),
        ("$${SET}", "${SET}"),
        ("cost: 5$$", "cost: 5$"),
        ("${SET:?needed}", "value"),
    ],
)
def test_forms(text: str, expected: str) -> None:
    assert Substituter(ENV)(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${UNSET:?set it in .env}", 'required variable "UNSET" is missing a value: set it in .env'),
        ("${EMPTY:?}", 'required variable "EMPTY" is missing a value'),
        ("${UNSET?}", 'required variable "UNSET" is missing a value'),
        ("$1", "write $$ for a literal $"),
        ("${SET", "after ${SET use }"),
        ("${SET!}", "after ${SET use }"),
        ("${UNSET:-x", 'a "${" is never closed'),
        ("${}", "must start with a variable name"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(InterpolationError) as info:
        Substituter(ENV)(text)
    assert message in str(info.value)


def test_empty_value_passes_the_unset_only_check() -> None:
    assert Substituter(ENV)("${EMPTY?}") == ""


def test_missing_required_variable_names_file_path_variable_and_message(compose_dir: Path) -> None:
    message = load_error(
        compose_dir,
        {
            "compose.yaml": "services:\n  web:\n    image: busybox\n"
            "    ports: ['80', '${PORT:?give the port}:80']\n"
        },
    )
    assert message == (
        'compose.yaml:4: services.web.ports[1]: required variable "PORT" is missing a value: give the port'
    )


def test_values_are_interpolated_keys_are_not(compose_dir: Path) -> None:
    p = load_in(
        compose_dir,
        {"compose.yaml": "services:\n  web:\n    image: ${IMG}\n    labels: {'${KEY}': '${VAL}'}\n"},
        {"IMG": "busybox", "KEY": "k", "VAL": "v"},
    )
    assert p.services["web"].image == "busybox"
    assert p.services["web"].labels == {"${KEY}": "v"}


def test_unset_variable_becomes_blank_with_a_warning(compose_dir: Path) -> None:
    p = load_in(compose_dir, {"compose.yaml": "services:\n  web:\n    image: busybox${NOPE}\n"})
    assert p.services["web"].image == "busybox"
    assert p.warnings == ['compose.yaml: the "NOPE" variable is not set; defaulting to a blank string']


def test_interpolated_numbers_and_booleans_are_converted(compose_dir: Path) -> None:
    p = load_in(
        compose_dir,
        {"compose.yaml": "services:\n  web:\n    image: busybox\n    deploy: {replicas: '${N}'}\n"
         "    read_only: ${RO}\n    stop_grace_period: ${GRACE}\n"},
        {"N": "3", "RO": "true", "GRACE": "1m"},
    )  # fmt: skip
    web = p.services["web"]
    assert (web.replicas(), web.read_only, web.stop_grace_period) == (3, True, 60.0)


def test_process_environment_wins_over_dotenv(compose_dir: Path) -> None:
    files = {
        ".env": "TAG=from-dotenv\nOTHER=dotenv-only\n",
        "compose.yaml": "services:\n  web:\n    image: b:${TAG}-${OTHER}\n",
    }
    assert (
        load_in(compose_dir, files, {"TAG": "from-process"}).services["web"].image
        == "b:from-process-dotenv-only"
    )
