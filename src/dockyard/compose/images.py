"""Images of the services: found, pulled or built (``POST /build``) before any container is made.

The build context's tar is made by a function the caller hands in (the command line has one
that honours .dockerignore), so this package needs nothing of the command line's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from dockyard.client import auth, reference
from dockyard.client.api import APIClient, quote_path
from dockyard.client.errors import NoSuchObject
from dockyard.compose import naming
from dockyard.compose.errors import ComposeError
from dockyard.compose.model import Project, Service
from dockyard.compose.progress import Progress

TarContext = Callable[[str, str], Iterable[bytes]]


def image_id(client: APIClient, ref: str) -> str | None:
    try:
        found = client.get(f"/images/{quote_path(ref)}/json")
    except NoSuchObject:
        return None
    return str(found.get("Id") or "") or None


def _drain(messages: Iterator[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    seen = []
    for message in messages:
        if message.get("error") or message.get("errorDetail"):
            detail = message.get("error") or (message.get("errorDetail") or {}).get("message")
            raise ComposeError(f"{what}: {detail}")
        seen.append(message)
    return seen


def pull(client: APIClient, image: str, config: Mapping[str, Any], progress: Progress, service: str) -> None:
    ref = reference.parse(image).with_default_tag()
    params = {"fromImage": ref.familiar_name, "tag": ref.digest or ref.tag or None}
    headers = {"X-Registry-Auth": auth.header_for(config, ref.domain)}
    progress.event("Image", image, "Pulling")
    try:
        _drain(client.stream_json("POST", "/images/create", params, headers=headers), f"pull {image}")
    except (ComposeError, NoSuchObject) as exc:
        progress.event("Image", image, "Error", error=True)
        raise ComposeError(f'service "{service}": pulling image "{image}" failed: {exc.message}') from None
    progress.event("Image", image, "Pulled")


def push(client: APIClient, image: str, config: Mapping[str, Any], progress: Progress) -> None:
    ref = reference.parse(image).with_default_tag()
    headers = {"X-Registry-Auth": auth.header_for(config, ref.domain)}
    progress.event("Image", image, "Pushing")
    path = f"/images/{quote_path(ref.familiar_name)}/push"
    _drain(client.stream_json("POST", path, {"tag": ref.tag or None}, headers=headers), f"push {image}")
    progress.event("Image", image, "Pushed")


def build(
    client: APIClient,
    project: Project,
    service: Service,
    tar_context: TarContext,
    progress: Progress,
    *,
    no_cache: bool = False,
    pull: bool = False,
) -> str:
    """Build the service's image (tagged as its ``image``, else ``<project>-<service>``); its id."""
    spec = service.build
    if spec is None:
        raise ComposeError(f'service "{service.name}" has no build section: give it one, or an image')
    tag = naming.service_image(project, service)
    params: dict[str, Any] = {
        "t": tag,
        "dockerfile": spec.dockerfile,
        "buildargs": json.dumps(spec.args) if spec.args else None,
        "target": spec.target or None,
        "labels": json.dumps(spec.labels) if spec.labels else None,
        "cachefrom": json.dumps(spec.cache_from) if spec.cache_from else None,
        "networkmode": spec.network or None,
        "extrahosts": ",".join(spec.extra_hosts) or None,
        "nocache": no_cache or None,
        "pull": pull or None,
        "rm": "1",
    }
    progress.event("Service", service.name, "Building")
    body = iter(tar_context(spec.context, spec.dockerfile))
    messages = client.stream_json(
        "POST", "/build", params, body=body, headers={"Content-Type": "application/x-tar"}
    )
    built = ""
    try:
        for message in _drain(messages, f'service "{service.name}": build failed'):
            aux = message.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                built = str(aux["ID"])
    except ComposeError:
        progress.event("Service", service.name, "Error", error=True)
        raise
    progress.event("Service", service.name, "Built")
    return built or image_id(client, tag) or ""


def ensure(
    client: APIClient,
    project: Project,
    names: list[str],
    config: Mapping[str, Any],
    progress: Progress,
    tar_context: TarContext | None,
    *,
    build_first: bool = False,
    pull_always: bool = False,
) -> dict[str, str]:
    """Every service's image present (built with ``--build``, when missing and buildable, or when
    ``pull_policy: build``; pulled when missing, or always with ``pull_policy: always``);
    service -> image id."""
    ids: dict[str, str] = {}
    for name in names:
        service = project.services[name]
        image = naming.service_image(project, service)
        policy = service.pull_policy or "missing"
        wants_build = service.build is not None and (build_first or policy == "build")
        if wants_build and tar_context is not None:
            ids[name] = build(client, project, service, tar_context, progress)
            continue
        found = None if (pull_always or policy == "always") else image_id(client, image)
        if found is None and service.build is not None and tar_context is not None and policy != "always":
            ids[name] = build(client, project, service, tar_context, progress)
            continue
        if found is None:
            if policy == "never":
                raise ComposeError(
                    f'service "{name}": image "{image}" is missing and pull_policy is never: pull or build it'
                )
            pull(client, image, config, progress, name)
            found = image_id(client, image)
        ids[name] = found or ""
    return ids
