"""The storage tree, drawn in one place (the shape of distribution's registry/storage/paths.go).

    blobs/<alg>/<hex[:2]>/<hex>/data                          content, shared by every repository
    repositories/<name>/_layers/<alg>/<hex>/link              blob linked into a repository
    repositories/<name>/_manifests/revisions/<alg>/<hex>/link manifest stored in a repository
    repositories/<name>/_manifests/tags/<tag>/current/link    tag -> manifest digest
    repositories/<name>/_referrers/<alg>/<subject-hex>/<alg>/<hex>/link   subject -> referrer
    repositories/<name>/_uploads/<uuid>/startedat             an upload session
    repositories/<name>/_uploads/<uuid>/chunks/<offset:020d>  its chunks, each written atomically

Repository components never start with "_" (names.py), so the store's own folders cannot clash
with a repository's. Only checked names, tags, digests and uuids are joined in here.
"""

from __future__ import annotations

from dockyard.registry.digest import Digest

REPOS = "repositories"


def blob_data(d: Digest) -> str:
    return f"blobs/{d.algorithm}/{d.hex[:2]}/{d.hex}/data"


def blob_dir(d: Digest) -> str:
    return f"blobs/{d.algorithm}/{d.hex[:2]}/{d.hex}"


def repo(name: str) -> str:
    return f"{REPOS}/{name}"


def layer_link(name: str, d: Digest) -> str:
    return f"{REPOS}/{name}/_layers/{d.algorithm}/{d.hex}/link"


def layers(name: str) -> str:
    return f"{REPOS}/{name}/_layers"


def revision_link(name: str, d: Digest) -> str:
    return f"{REPOS}/{name}/_manifests/revisions/{d.algorithm}/{d.hex}/link"


def revisions(name: str) -> str:
    return f"{REPOS}/{name}/_manifests/revisions"


def tag_link(name: str, tag: str) -> str:
    return f"{REPOS}/{name}/_manifests/tags/{tag}/current/link"


def tag_dir(name: str, tag: str) -> str:
    return f"{REPOS}/{name}/_manifests/tags/{tag}"


def tags(name: str) -> str:
    return f"{REPOS}/{name}/_manifests/tags"


def manifests(name: str) -> str:
    return f"{REPOS}/{name}/_manifests"


def referrers(name: str, subject: Digest) -> str:
    return f"{REPOS}/{name}/_referrers/{subject.algorithm}/{subject.hex}"


def referrer_link(name: str, subject: Digest, d: Digest) -> str:
    return f"{referrers(name, subject)}/{d.algorithm}/{d.hex}/link"


def uploads(name: str) -> str:
    return f"{REPOS}/{name}/_uploads"


def upload(name: str, uuid: str) -> str:
    return f"{REPOS}/{name}/_uploads/{uuid}"


def upload_chunks(name: str, uuid: str) -> str:
    return f"{REPOS}/{name}/_uploads/{uuid}/chunks"


def upload_chunk(name: str, uuid: str, offset: int) -> str:
    return f"{REPOS}/{name}/_uploads/{uuid}/chunks/{offset:020d}"


def upload_started(name: str, uuid: str) -> str:
    return f"{REPOS}/{name}/_uploads/{uuid}/startedat"
