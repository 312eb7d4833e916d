"""The rules of the Engine API checker (``api_schema``) and the integrity of its data, offline.

``test_api_schema_dockerd.py`` proves the checker on the real dockerd; these tests pin down each
rule on small documents and check that the distilled reference and the allowance tables hang
together (every ``$ref`` resolves, every allowance names a real property).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.compat import api_schema
from tests.compat.api_schema import (
    DOCKERD_20_10_VERSION,
    EVERY_FIELD,
    NEWER_THAN_1_41,
    NULL_WHEN_UNSET,
    OMITTED_WHEN_EMPTY,
    REMOVED_AFTER_1_41,
    SCHEMAS,
    assert_matches,
    check,
)

#: Every schema the brief of issue 3's checker names; the lead's tests look them up by these.
REQUIRED_SCHEMAS = [
    "SystemInfo", "SystemVersion", "ContainerSummary", "ContainerInspectResponse", "ContainerState",
    "Health", "HealthcheckResult", "ContainerConfig", "HostConfig", "NetworkSettings", "EndpointSettings",
    "MountPoint", "GraphDriverData", "ContainerCreateResponse", "ContainerWaitResponse",
    "ContainerTopResponse", "ContainerUpdateResponse", "ContainerChangeResponseItem", "FilesystemChange",
    "ContainerStatsResponse", "ImageSummary", "ImageInspect", "HistoryResponseItem",
    "ImageDeleteResponseItem", "Volume", "VolumeListResponse", "ExecInspectResponse", "IdResponse",
    "Network", "EventMessage", "SystemDataUsageResponse", "AuthResponse", "ContainerPruneResponse",
    "ImagePruneResponse", "VolumePruneResponse", "ErrorResponse",
]  # fmt: skip
TYPES = {"string", "integer", "number", "boolean", "array", "object"}


def _nodes(schema: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    """Every node of a schema with its local path (array items and map values transparent)."""
    out = [(path, schema)]
    for key in ("items", "additionalProperties"):
        if key in schema:
            out += _nodes(schema[key], path)
    for name, sub in schema.get("properties", {}).items():
        out += _nodes(sub, f"{path}.{name}" if path else name)
    return out


def _example(schema: dict[str, Any]) -> Any:
    """A complete, valid instance of a schema: every property present, maps and lists of one."""
    if "$ref" in schema:
        return _example(SCHEMAS[schema["$ref"]])
    kind = schema["type"]
    if kind == "object":
        if "properties" in schema:
            return {name: _example(sub) for name, sub in schema["properties"].items()}
        if "additionalProperties" in schema:
            return {"key": _example(schema["additionalProperties"])}
        return {"free": ["form"]}
    if kind == "array":
        return [_example(schema["items"])]
    return {"string": "s", "integer": 7, "number": 1.5, "boolean": True}[kind]


def test_every_named_schema_is_there() -> None:
    missing = [name for name in REQUIRED_SCHEMAS if name not in SCHEMAS]
    assert not missing


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_nodes_are_well_formed(name: str) -> None:
    """Each node is a resolvable $ref or a known type; arrays say what they hold."""
    for path, node in _nodes(SCHEMAS[name], ""):
        where = f"{name}.{path}"
        if "$ref" in node:
            assert node["$ref"] in SCHEMAS, where
            continue
        assert node.get("type") in TYPES, where
        if node["type"] == "array":
            assert "items" in node, where
        assert set(node) <= {"type", "nullable", "items", "properties", "additionalProperties"}, where


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_a_complete_instance_passes(name: str) -> None:
    assert check(name, _example({"$ref": name})) == []


def _local_paths(owner: str) -> set[str]:
    return {path for path, _ in _nodes(SCHEMAS[owner], "") if path}


@pytest.mark.parametrize(
    "table", [OMITTED_WHEN_EMPTY, NULL_WHEN_UNSET, NEWER_THAN_1_41], ids=["omitted", "null", "newer"]
)
def test_allowances_name_real_properties(table: dict[str, frozenset[str]]) -> None:
    """A typo in an allowance would silently allow nothing: each must name a reference property."""
    for owner, fields in table.items():
        assert owner in SCHEMAS, owner
        assert fields <= _local_paths(owner) | {EVERY_FIELD}, (owner, sorted(fields - _local_paths(owner)))


def test_removed_fields_are_really_gone_from_the_reference() -> None:
    for owner, fields in REMOVED_AFTER_1_41.items():
        assert owner in SCHEMAS, owner
        assert not fields & _local_paths(owner), (owner, sorted(fields & _local_paths(owner)))


def test_types_are_strict() -> None:
    """integer takes ints only (not bools, not floats); number takes both; bool is not 0/1."""
    summary = _example({"$ref": "ContainerSummary"})
    assert check("ContainerSummary", {**summary, "Created": True}) == [
        "ContainerSummary.Created: expected integer, got bool"
    ]
    assert check("ContainerSummary", {**summary, "Created": 1.0}) == [
        "ContainerSummary.Created: expected integer, got float"
    ]
    assert check("ContainerSummary", {**summary, "Id": 5}) == [
        "ContainerSummary.Id: expected string, got int"
    ]
    state = _example({"$ref": "ContainerState"})
    assert check("ContainerState", {**state, "Running": 1}) == [
        "ContainerState.Running: expected boolean, got int"
    ]
    assert check("ContainerState", {**state, "Health": []}) == [
        "ContainerState.Health: expected object, got array"
    ]


def test_number_accepts_ints_and_floats() -> None:
    # No response schema of ours has a number field; a synthetic one exercises the rule.
    SCHEMAS["_Number"] = {"type": "object", "properties": {"N": {"type": "number"}}}
    try:
        assert check("_Number", {"N": 1}) == check("_Number", {"N": 0.5}) == []
        assert check("_Number", {"N": False}) == ["_Number.N: expected number, got bool"]
    finally:
        del SCHEMAS["_Number"]


def test_maps_are_checked_per_value() -> None:
    summary = _example({"$ref": "ContainerSummary"})
    summary["Labels"] = {"ok": "v", "bad": 3}
    summary["NetworkSettings"]["Networks"]["n1"] = {"NetworkID": "x"}
    problems = check("ContainerSummary", summary)
    assert 'ContainerSummary.Labels["bad"]: expected string, got int' in problems
    assert 'ContainerSummary.NetworkSettings.Networks["n1"].EndpointID: missing' in problems
    assert not any('["ok"]' in p or '["key"]' in p for p in problems)


def test_null_only_where_nullable_or_allowed() -> None:
    inspect = _example({"$ref": "ContainerInspectResponse"})
    # x-nullable in the reference: ContainerState, ExecIDs; dockerd's nil slice: HostConfig.Binds.
    ok = {**inspect, "State": None, "ExecIDs": None}
    ok["HostConfig"] = {**inspect["HostConfig"], "Binds": None, "PidsLimit": None}
    assert check("ContainerInspectResponse", ok) == []
    bad = {**inspect, "Path": None}
    bad["HostConfig"] = {**inspect["HostConfig"], "Privileged": None}
    assert check("ContainerInspectResponse", bad) == [
        "ContainerInspectResponse.Path: expected string, got null",
        "ContainerInspectResponse.HostConfig.Privileged: expected boolean, got null",
    ]


def test_missing_and_unexpected_fields() -> None:
    version = _example({"$ref": "SystemVersion"})
    del version["ApiVersion"], version["Experimental"]  # Experimental: omitted when false
    version["Components"][0].pop("Details")
    version["Extra"] = 1
    assert check("SystemVersion", version) == [
        "SystemVersion.Components[0].Details: missing",
        "SystemVersion.ApiVersion: missing",
        "SystemVersion.Extra: unexpected (not in the API 1.45 reference)",
    ]
    assert check("SystemVersion", version, require_all=False) == [
        "SystemVersion.Extra: unexpected (not in the API 1.45 reference)"
    ]


def test_mount_fields_may_all_be_left_out_at_any_depth() -> None:
    inspect = _example({"$ref": "ContainerInspectResponse"})
    inspect["HostConfig"]["Mounts"] = [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1}}]
    assert check("ContainerInspectResponse", inspect) == []
    inspect["HostConfig"]["Mounts"][0]["TmpfsOptions"]["SizeBytes"] = "1"
    assert check("ContainerInspectResponse", inspect) == [
        "ContainerInspectResponse.HostConfig.Mounts[0].TmpfsOptions.SizeBytes: expected integer, got str"
    ]


def test_api_1_41_allowances_apply_only_when_asked() -> None:
    info = _example({"$ref": "SystemInfo"})
    del info["CDISpecDirs"]
    info["KernelMemory"] = True
    assert check("SystemInfo", info, api_version=DOCKERD_20_10_VERSION) == []
    assert check("SystemInfo", info) == [
        "SystemInfo.CDISpecDirs: missing",
        "SystemInfo.KernelMemory: unexpected (not in the API 1.45 reference)",
    ]


def test_ref_aliases_resolve() -> None:
    change = {"Path": "/x", "Kind": 1}
    assert check("ContainerChangeResponseItem", change) == check("FilesystemChange", change) == []
    assert check("AuthResponse", {"Status": "Login Succeeded", "IdentityToken": ""}) == []


def test_bad_arguments_say_what_is_known() -> None:
    with pytest.raises(KeyError, match="ContainerSummary"):
        check("ContainerSumary", {})
    with pytest.raises(ValueError, match=r"1\.41"):
        check("IdResponse", {"Id": "x"}, api_version="1.30")


def test_assert_matches_lists_every_problem() -> None:
    with pytest.raises(AssertionError) as err:
        assert_matches("IdResponse", {"id": "x"})
    text = str(err.value)
    assert "IdResponse.Id: missing" in text and "IdResponse.id: unexpected" in text and "2 problems" in text
    assert_matches("IdResponse", {"Id": "x"})


def test_schema_file_is_the_one_loaded() -> None:
    assert api_schema.SCHEMA_FILE.name == "engine_api_schema.json" and api_schema.SCHEMA_FILE.is_file()
