"""The config hash: what tells ``up`` a service's containers are out of date.

As Compose v2 (``pkg/compose/hash.go`` ``ServiceHash``): sha256 of the service's canonical
config with what does not shape a container left out: the replica count (``scale``,
``deploy.replicas``: scaling adds or removes containers, it never recreates them), ``build``
and ``pull_policy`` (how the image is got, not what runs), ``depends_on`` (start order) and
``profiles``. The canonical form is the model's, JSON with sorted keys, so the hash does not
depend on the order of keys in the file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from dockyard.compose.model import Service, _prune

_LEFT_OUT = ("build", "pull_policy", "scale", "depends_on", "profiles")


def canonical(service: Service) -> dict[str, Any]:
    data = asdict(service)
    for key in _LEFT_OUT:
        data.pop(key, None)
    deploy = data.get("deploy")
    if isinstance(deploy, dict):
        deploy.pop("replicas", None)
    pruned: dict[str, Any] = _prune(data)
    return pruned


def config_hash(service: Service) -> str:
    text = json.dumps(canonical(service), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
