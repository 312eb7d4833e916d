"""Field-by-field check of Engine API JSON against the reference (moby's swagger, API 1.45).

The reference is distilled into ``engine_api_schema.json`` beside this file (where it came from
and how: ``engine_api_schema.md``). Its format: every schema node is ``{"$ref": NAME}`` or has a
``type`` (string, integer, number, boolean, array, object), ``"nullable": true`` where the
reference says ``x-nullable``, ``items`` for arrays, ``properties`` for objects with named fields
and ``additionalProperties`` for maps; an object with neither is free-form.

``check(name, value)`` lists every difference: a property of the reference that is missing, a
property the reference does not have, a value of the wrong type, a null where none is allowed.
Docker's daemon sends every property (null where unset) except the few it omits when empty, so
"missing" is the rule and the exceptions are explicit below, each with its reason, each seen on
the real dockerd (``test_api_schema_dockerd.py``).

Allowances are keyed by the schema that owns the property and the property's path inside that
schema, with array items and map values transparent: ``"RootFS.Layers"`` in ``ImageInspect``,
``"Components.Details"`` in ``SystemVersion``. A ``$ref`` starts a new schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

REFERENCE_VERSION = "1.45"
#: The API version of Debian's docker.io 20.10 dockerd, the real daemon the checker is proven on.
DOCKERD_20_10_VERSION = "1.41"
SCHEMA_FILE = Path(__file__).with_name("engine_api_schema.json")

Schema = dict[str, Any]

#: In an allowance set: every property of the schema, at any depth.
EVERY_FIELD = "*"

# container.Config (Go) tags these `json:",omitempty"`: dockerd leaves them out when unset.
_CONFIG_OMITTED = frozenset(
    {"ArgsEscaped", "ExposedPorts", "Healthcheck", "MacAddress", "NetworkDisabled", "Shell", "StopSignal",
     "StopTimeout"}
)  # fmt: skip
# container.Config: nil slices and maps (no Cmd, Entrypoint, Env, Labels or Volumes given).
_CONFIG_NULL = frozenset({"Cmd", "Entrypoint", "Env", "Labels", "Volumes"})

# Fields dockerd leaves out when they are empty (Go `json:",omitempty"`), in every API version,
# or that the reference itself says are omitted.
OMITTED_WHEN_EMPTY: dict[str, frozenset[str]] = {
    "ContainerConfig": _CONFIG_OMITTED,
    "ImageConfig": _CONFIG_OMITTED,
    # container.HealthConfig: every field omitempty (`{"Test": ["NONE"]}` comes back alone).
    "HealthConfig": frozenset({"Test", "Interval", "Timeout", "Retries", "StartPeriod", "StartInterval"}),
    # Init is a *bool; the maps are omitempty. KernelMemoryTCP: "omitted when empty" (reference).
    "HostConfig": frozenset(
        {"Init", "Mounts", "StorageOpt", "Sysctls", "Tmpfs", "Annotations", "KernelMemoryTCP"}
    ),
    # mount.Mount and its option structs tag every field omitempty: only what was given comes back.
    "Mount": frozenset({EVERY_FIELD}),
    # MountPoint: a tmpfs mount has no Name and no Driver.
    "MountPoint": frozenset({"Name", "Driver"}),
    # Sizes only with ?size=1 (and SizeRw is omitempty, so 0 is left out then too).
    "ContainerInspectResponse": frozenset({"SizeRw", "SizeRootFs"}),
    "ContainerSummary": frozenset({"SizeRw", "SizeRootFs"}),
    # Health is a pointer: no healthcheck, no Health.
    "ContainerState": frozenset({"Health"}),
    # ExecProcessConfig.User is omitempty.
    "ProcessConfig": frozenset({"user"}),
    # OsVersion and Variant are omitempty; VirtualSize "is omitted in API v1.44" and Created
    # "omitted otherwise" when the image has none (both: the reference).
    "ImageInspect": frozenset({"OsVersion", "Variant", "VirtualSize", "Created"}),
    "ImageSummary": frozenset({"VirtualSize"}),
    # Each item carries one of the two.
    "ImageDeleteResponseItem": frozenset({"Untagged", "Deleted"}),
    # Peers: "only present for overlay networks" (reference).
    "Network": frozenset({"Peers"}),
    # Status: driver-specific, omitempty; UsageData only in /system/df; ClusterVolume only on a
    # swarm manager.
    "Volume": frozenset({"Status", "UsageData", "ClusterVolume"}),
    # DefaultAddressPools and ProductLicense are omitempty; KernelMemoryTCP "omitted if not
    # supported" (reference).
    "SystemInfo": frozenset({"DefaultAddressPools", "ProductLicense", "KernelMemoryTCP"}),
    # runtimeArgs and status are omitempty.
    "Runtime": frozenset({"runtimeArgs", "status"}),
    # Only inside a swarm.
    "SwarmInfo": frozenset({"Cluster", "Managers", "Nodes"}),
    # "omitted when empty" / "when empty / false" (reference).
    "SystemVersion": frozenset({"KernelVersion", "Experimental"}),
    # network.IPAMConfig: IPRange and AuxAddress are omitempty (a plain subnet + gateway).
    "IPAMConfig": frozenset({"IPRange", "AuxiliaryAddresses"}),
    # types.Port: IP and PublicPort are omitempty (an exposed port that is not published).
    "Port": frozenset({"IP", "PublicPort"}),
}

# HostConfig: every list and map the container was not given; MemorySwappiness is a *int64;
# MaskedPaths and ReadonlyPaths are nil for a privileged container.
_HOSTCONFIG_NULL = frozenset(
    {"Binds", "BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps",
     "BlkioDeviceWriteIOps", "CapAdd", "CapDrop", "DeviceCgroupRules", "DeviceRequests", "Devices", "Dns",
     "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd", "Links", "MaskedPaths", "MemorySwappiness",
     "PortBindings", "ReadonlyPaths", "SecurityOpt", "Ulimits", "VolumesFrom"}
)  # fmt: skip

# Fields that are null when unset though the reference has no x-nullable: Go nil slices, maps
# and pointers, which encoding/json writes as null.
NULL_WHEN_UNSET: dict[str, frozenset[str]] = {
    "ContainerConfig": _CONFIG_NULL,
    "ImageConfig": _CONFIG_NULL,
    "HostConfig": _HOSTCONFIG_NULL,
    # DNSNames: nil on the default bridge, which has no embedded DNS (dockerd 26 sends null).
    "EndpointSettings": frozenset({"Aliases", "Links", "DNSNames"}),
    "ContainerUpdateResponse": frozenset({"Warnings"}),
    # *WaitExitError: null when the wait succeeded.
    "ContainerWaitResponse": frozenset({"Error"}),
    # *int: no exit code while the exec runs.
    "ExecInspectResponse": frozenset({"ExitCode"}),
    "ContainerPruneResponse": frozenset({"ContainersDeleted"}),
    "ImagePruneResponse": frozenset({"ImagesDeleted"}),
    "ImageSummary": frozenset({"Labels", "RepoDigests"}),
    "IPAM": frozenset({"Options"}),
    "Volume": frozenset({"Labels", "Options"}),
    "VolumeListResponse": frozenset({"Warnings"}),
    "SystemDataUsageResponse": frozenset({"BuildCache"}),
    "SystemInfo": frozenset({"GenericResources", "Warnings"}),
    "PluginsInfo": frozenset({"Authorization"}),
}

# Fields of the 1.45 reference that dockerd 20.10 (API 1.41) does not send. The reference has no
# x-added-in markers; both are absent from moby's docs/api/v1.43.yaml (fields the table above
# already lets go missing, such as HealthConfig.StartInterval, are not repeated).
NEWER_THAN_1_41: dict[str, frozenset[str]] = {
    "EndpointSettings": frozenset({"DNSNames"}),
    "SystemInfo": frozenset({"CDISpecDirs"}),
}

# Fields dockerd 20.10 (API 1.41) sends that the 1.45 reference no longer has.
REMOVED_AFTER_1_41: dict[str, frozenset[str]] = {
    # KernelMemory: removed in API 1.42 (version-history.md).
    "HostConfig": frozenset({"KernelMemory"}),
    "SystemInfo": frozenset({"KernelMemory"}),
    # BuilderSize: removed in API 1.42 (version-history.md).
    "SystemDataUsageResponse": frozenset({"BuilderSize"}),
    # Container and ContainerConfig of an image: gone from the 1.45 ImageInspect.
    "ImageInspect": frozenset({"Container", "ContainerConfig"}),
    # The pre-1.22 event fields, kept beside Type/Action/Actor until the 1.45 reference dropped them.
    "EventMessage": frozenset({"status", "id", "from"}),
}

_TYPE_NAMES = {bool: "bool", int: "int", float: "float", str: "str", list: "array", dict: "object"}


def _load() -> dict[str, Schema]:
    with open(SCHEMA_FILE, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{SCHEMA_FILE}: expected a JSON object of schemas, got {type(data).__name__}")
    return cast(dict[str, Schema], data)


SCHEMAS: dict[str, Schema] = _load()


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _type_ok(expected: str, value: object) -> bool:
    # bool is a subclass of int in Python; JSON true is never an integer.
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "array":
        return isinstance(value, list)
    if expected == "object":
        return isinstance(value, dict)
    raise ValueError(f"{SCHEMA_FILE}: unknown type {expected!r}")


class _Checker:
    def __init__(self, require_all: bool, api_version: str) -> None:
        if api_version not in (REFERENCE_VERSION, DOCKERD_20_10_VERSION):
            raise ValueError(
                f"api_version {api_version!r}: the checker knows the reference ({REFERENCE_VERSION}) "
                f"and dockerd 20.10's API ({DOCKERD_20_10_VERSION}) only"
            )
        self.require_all = require_all
        self.legacy = api_version == DOCKERD_20_10_VERSION
        self.problems: list[str] = []

    def _allowed(self, table: Mapping[str, frozenset[str]], owner: str, local: str) -> bool:
        fields = table.get(owner, frozenset())
        return local in fields or EVERY_FIELD in fields

    def node(self, schema: Schema, value: object, path: str, owner: str, local: str) -> None:
        """Check ``value`` at JSON ``path`` against ``schema``; ``owner``/``local`` key allowances."""
        if "$ref" in schema:
            name = schema["$ref"]
            target = SCHEMAS[name]
            nullable = bool(schema.get("nullable")) or bool(target.get("nullable"))
            if value is None and (nullable or self._allowed(NULL_WHEN_UNSET, owner, local)):
                return
            self.node(target, value, path, name, "")
            return
        if value is None:
            if schema.get("nullable") or self._allowed(NULL_WHEN_UNSET, owner, local):
                return
            self.problems.append(f"{path}: expected {schema['type']}, got null")
            return
        expected = schema["type"]
        if not _type_ok(expected, value):
            self.problems.append(f"{path}: expected {expected}, got {_type_name(value)}")
            return
        if expected == "array":
            for i, item in enumerate(cast(list[object], value)):
                self.node(schema["items"], item, f"{path}[{i}]", owner, local)
        elif expected == "object":
            self.fields(schema, cast(dict[str, object], value), path, owner, local)

    def fields(self, schema: Schema, value: dict[str, object], path: str, owner: str, local: str) -> None:
        props: dict[str, Schema] | None = schema.get("properties")
        extra: Schema | None = schema.get("additionalProperties")
        if props is None:
            if extra is not None:
                for key, item in value.items():
                    self.node(extra, item, f"{path}[{json.dumps(key)}]", owner, local)
            return  # free-form object: any keys, any values
        prefix = f"{local}." if local else ""
        for key, sub in props.items():
            sub_local = prefix + key
            if key in value:
                self.node(sub, value[key], f"{path}.{key}", owner, sub_local)
            elif self.require_all and not self._may_be_missing(owner, sub_local):
                self.problems.append(f"{path}.{key}: missing")
        for key in value:
            if key not in props and not (
                self.legacy and self._allowed(REMOVED_AFTER_1_41, owner, prefix + key)
            ):
                self.problems.append(
                    f"{path}.{key}: unexpected (not in the API {REFERENCE_VERSION} reference)"
                )

    def _may_be_missing(self, owner: str, local: str) -> bool:
        if self._allowed(OMITTED_WHEN_EMPTY, owner, local):
            return True
        return self.legacy and self._allowed(NEWER_THAN_1_41, owner, local)


def check(
    name: str, value: object, *, require_all: bool = True, api_version: str = REFERENCE_VERSION
) -> list[str]:
    """The differences between ``value`` and reference schema ``name``, one line each.

    ``require_all=False`` skips the missing-field check (for partial documents).
    ``api_version="1.41"`` accepts dockerd 20.10's shapes: fields added after 1.41 may be
    missing and fields removed since may be present.
    """
    if name not in SCHEMAS:
        raise KeyError(f"no schema {name!r} in {SCHEMA_FILE.name}; known: {', '.join(sorted(SCHEMAS))}")
    checker = _Checker(require_all, api_version)
    checker.node({"$ref": name}, value, name, name, "")
    return checker.problems


def assert_matches(
    name: str, value: object, *, require_all: bool = True, api_version: str = REFERENCE_VERSION
) -> None:
    """Raise AssertionError listing every difference between ``value`` and schema ``name``."""
    problems = check(name, value, require_all=require_all, api_version=api_version)
    if problems:
        raise AssertionError(
            f"{name} does not match the Engine API {REFERENCE_VERSION} reference "
            f"({len(problems)} problems):\n  " + "\n  ".join(problems)
        )
