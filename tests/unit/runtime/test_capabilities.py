"""capabilities.py: names, parsing, validation; the pure parts (the real sequence is in integration)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from dockyard.errors import ConfigError
from dockyard.runtime import capabilities as caps
from dockyard.runtime.capabilities import CAPS, CapSets

RUNC_DEFAULT = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


@pytest.fixture
def kernel_last_cap() -> Iterator[None]:
    """Restore the cached cap_last_cap after a test pretends to run on an older kernel."""
    saved = caps._last_cap
    try:
        yield
    finally:
        caps._last_cap = saved


def test_caps_table_is_dense_and_complete() -> None:
    assert sorted(CAPS.values()) == list(range(41))
    assert CAPS["CAP_CHOWN"] == 0
    assert CAPS["CAP_SYS_ADMIN"] == 21
    assert CAPS["CAP_SYS_RESOURCE"] == 24
    assert CAPS["CAP_AUDIT_WRITE"] == 29
    assert CAPS["CAP_CHECKPOINT_RESTORE"] == 40
    assert all(name.startswith("CAP_") and name.isupper() for name in CAPS)


def test_last_cap_reads_the_kernel() -> None:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        assert caps.last_cap() == int(f.read())


def test_probe_agrees_with_proc() -> None:
    assert caps._probe_last_cap() == caps.last_cap()


def test_names_decodes_status_masks() -> None:
    # CapEff of `runc spec`'s default process, as /proc/PID/status shows it.
    assert caps.names(int("0000000020000420", 16)) == ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]
    assert caps.names(0) == []
    assert caps.names(1 << 50 | 1) == ["CAP_CHOWN", "CAP_50"]
    assert caps.names(caps.to_mask(CAPS.values())) == list(CAPS)


def test_parse_none_means_no_capabilities() -> None:
    # runc turns a missing process.capabilities into five empty sets (verified: all Cap* are 0).
    assert caps.parse(None) == CapSets()


def test_parse_runc_default_drops_ambient_without_inheritable() -> None:
    seen: list[str] = []
    sets = caps.parse(
        {k: list(RUNC_DEFAULT) for k in ("bounding", "effective", "permitted", "ambient")}, warn=seen.append
    )
    numbers = frozenset(CAPS[n] for n in RUNC_DEFAULT)
    assert sets.bounding == sets.effective == sets.permitted == numbers
    assert sets.inheritable == frozenset()
    # The kernel cannot raise them (not inheritable); runc ignores that, and so do we, with a warning.
    assert sets.ambient == frozenset()
    assert len(seen) == 1 and "process.capabilities.ambient" in seen[0] and "CAP_KILL" in seen[0]
    assert sets.warnings == tuple(seen)
    assert sets.mask("bounding") == 0x20000420


def test_parse_keeps_ambient_in_permitted_and_inheritable() -> None:
    two = ["CAP_NET_BIND_SERVICE", "CAP_KILL"]
    sets = caps.parse({k: list(two) for k in caps.SET_NAMES})
    assert sets.ambient == frozenset({10, 5})
    assert sets.warnings == ()


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (
            {"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_FOO"]},
            "process.capabilities.bounding[3]",
        ),
        ({"effective": ["chown"]}, "process.capabilities.effective[0]"),
        ({"permitted": [5]}, "process.capabilities.permitted[0]"),
        ({"ambient": "CAP_KILL"}, "process.capabilities.ambient"),
        ({"bonding": ["CAP_KILL"]}, "process.capabilities.bonding"),
    ],
)
def test_parse_errors_name_the_element(config: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        caps.parse(config)
    assert info.value.field == field
    assert field in str(info.value)


def test_parse_suggests_the_spelling() -> None:
    with pytest.raises(ConfigError, match="did you mean 'CAP_CHOWN'"):
        caps.parse({"bounding": ["chown"]})
    with pytest.raises(ConfigError, match="did you mean 'CAP_SYS_ADMIN'"):
        caps.parse({"bounding": ["cap_sys_admin"]})


def test_parse_not_an_object() -> None:
    with pytest.raises(ConfigError, match=r"process\.capabilities"):
        caps.parse(["CAP_KILL"])  # type: ignore[arg-type]


def test_parse_custom_field_prefix() -> None:
    with pytest.raises(ConfigError) as info:
        caps.parse({"bounding": ["CAP_NOPE"]}, field="exec.process.capabilities")
    assert info.value.field == "exec.process.capabilities.bounding[0]"


def test_effective_must_be_permitted() -> None:
    # runc fails here with "unable to apply caps: operation not permitted"; we say why.
    with pytest.raises(ConfigError) as info:
        caps.parse(
            {
                "bounding": ["CAP_KILL", "CAP_CHOWN"],
                "permitted": ["CAP_KILL"],
                "effective": ["CAP_KILL", "CAP_CHOWN"],
            }
        )
    assert info.value.field == "process.capabilities.effective"
    assert "CAP_CHOWN" in str(info.value) and "permitted" in str(info.value)


def test_inheritable_must_be_in_bounding() -> None:
    with pytest.raises(ConfigError) as info:
        caps.parse({"bounding": ["CAP_KILL"], "inheritable": ["CAP_CHOWN"]})
    assert info.value.field == "process.capabilities.inheritable"


@pytest.mark.usefixtures("kernel_last_cap")
def test_names_above_cap_last_cap_are_ignored_with_a_warning() -> None:
    caps._last_cap = 37  # a 5.4 kernel: no CAP_PERFMON, CAP_BPF, CAP_CHECKPOINT_RESTORE
    seen: list[str] = []
    sets = caps.parse(
        {
            "bounding": ["CAP_KILL", "CAP_BPF", "CAP_PERFMON"],
            "permitted": ["CAP_BPF"],
            "effective": ["CAP_BPF"],
        },
        warn=seen.append,
    )
    assert sets.bounding == frozenset({5})
    assert sets.permitted == sets.effective == frozenset()
    assert len(seen) == 1
    assert "cap_last_cap is 37" in seen[0] and "CAP_BPF, CAP_PERFMON" in seen[0]


def test_check_against_bounding_refuses_what_the_runtime_lacks() -> None:
    have = frozenset(range(41)) - {CAPS["CAP_SYS_RESOURCE"]}
    sets = caps.parse({k: ["CAP_KILL", "CAP_SYS_RESOURCE"] for k in ("bounding", "effective", "permitted")})
    with pytest.raises(ConfigError) as info:
        caps.check_against_bounding(sets, bounding=have)
    assert info.value.field == "process.capabilities.effective"
    assert "CAP_SYS_RESOURCE" in str(info.value) and "remove them" in str(info.value)


def test_check_against_bounding_only_warns_for_bounding() -> None:
    have = frozenset(range(41)) - {CAPS["CAP_SYS_RESOURCE"]}
    sets = caps.parse({"bounding": ["CAP_KILL", "CAP_SYS_RESOURCE"], "permitted": ["CAP_KILL"]})
    seen: list[str] = []
    assert caps.check_against_bounding(sets, warn=seen.append, bounding=have) == seen
    assert len(seen) == 1 and "CAP_SYS_RESOURCE" in seen[0]
    assert caps.check_against_bounding(caps.parse({"bounding": ["CAP_KILL"]}), bounding=have) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root's capability sets")
def test_current_bounding_matches_status() -> None:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("CapBnd:"))
    assert caps.to_mask(caps.current_bounding()) == int(line.split()[1], 16)
    assert caps.read_status()["CapBnd"] == int(line.split()[1], 16)
