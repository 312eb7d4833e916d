"""Registry credentials in docker's ``config.json``: read by pull/push, written by login/logout.

The file is ``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``), shared with the
docker CLI: ``{"auths": {"<server>": {"auth": base64("user:password")}}}``. Docker Hub's key is
``https://index.docker.io/v1/``; other registries are keyed by ``host[:port]``. Keys the docker
CLI wrote with a scheme or path (``https://host/v1/``) are found too.

Credential helpers, as the docker CLI runs them (docker-credential-helpers' protocol):
``credHelpers: {"<server>": "NAME"}`` names a helper for one registry, ``credsStore: "NAME"``
one for all others. The program ``docker-credential-NAME`` is run with ``get`` (the server on
stdin; ``{"Username", "Secret"}`` on stdout, a Username of ``<token>`` meaning an identity
token), ``store`` (``{"ServerURL", "Username", "Secret"}`` on stdin) and ``erase`` (the server on
stdin). With a helper, config.json keeps only an empty ``auths`` entry for the server.

Requests carry credentials in ``X-Registry-Auth``: base64url of ``{"username", "password",
"serveraddress"}`` (Engine API "Authentication").
"""

from __future__ import annotations

import binascii
import os

from dockyard.errors import InvalidArgument
from dockyard.oci import fastjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

INDEX_SERVER = "https://index.docker.io/v1/"
_HUB_NAMES = {"", "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}


def config_dir(env: Mapping[str, str], override: str | None = None) -> str:
    return override or env.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


_URLSAFE = bytes.maketrans(b"+/", b"-_")  # base64.urlsafe_b64encode's alphabet


def config_path(env: Mapping[str, str], override: str | None = None) -> str:
    return os.path.join(config_dir(env, override), "config.json")


def load(path: str) -> dict[str, Any]:
    """The config file's content; {} when it does not exist yet."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    if not text.strip():
        return {}
    try:
        data = fastjson.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"{path} is not valid JSON ({exc}): fix or remove it") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"{path} must hold a JSON object: fix or remove it")
    return data


def save(path: str, data: Mapping[str, Any]) -> None:
    """Write the config atomically (temp file, fsync, rename), readable by its owner only."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            import json  # only here: it imports re and enum, and every command reads the config

            json.dump(data, f, indent="\t")
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass  # never created or already renamed
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def server_key(server: str) -> str:
    """The ``auths`` key for a registry name: Docker Hub's URL, else ``host[:port]``."""
    host = server.strip()
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix) :]
    host = host.split("/", 1)[0].lower()
    return INDEX_SERVER if host in _HUB_NAMES else host


def _matches(key: str, wanted: str) -> bool:
    return server_key(key) == wanted


def helper_for(config: Mapping[str, Any], server: str) -> str | None:
    """The credential helper's name for ``server`` (credHelpers first, then credsStore)."""
    wanted = server_key(server)
    for key, name in (config.get("credHelpers") or {}).items():
        if server_key(key) == wanted and name:
            return str(name)
    store = config.get("credsStore")
    return str(store) if store else None


def _run_helper(name: str, verb: str, data: str) -> str:
    import subprocess  # here: it loads threading, and `dockyard ps` must start without it

    program = f"docker-credential-{name}"
    try:
        res = subprocess.run([program, verb], input=data.encode(), capture_output=True, timeout=60)
    except FileNotFoundError:
        raise InvalidArgument(
            f"credential helper {program} not found in PATH: install it or remove it from config.json"
        ) from None
    out = res.stdout.decode(errors="replace").strip()
    if res.returncode != 0:
        if verb == "get" and "credentials not found" in out.lower():
            return ""
        raise InvalidArgument(
            f"credential helper {program} {verb} failed: {out or res.stderr.decode().strip()}"
        )
    return out


def _helper_key(server: str) -> str:
    # The docker CLI hands helpers Docker Hub's URL, and other registries as host[:port].
    return server_key(server)


def get(config: Mapping[str, Any], server: str) -> tuple[str, str] | None:
    """(username, password) stored for ``server``, or None."""
    helper = helper_for(config, server)
    if helper:
        out = _run_helper(helper, "get", _helper_key(server))
        if not out:
            return None
        try:
            creds = fastjson.loads(out)
        except ValueError:
            raise InvalidArgument(f"credential helper docker-credential-{helper} gave no JSON") from None
        return str(creds.get("Username") or ""), str(creds.get("Secret") or "")
    wanted = server_key(server)
    auths = config.get("auths") or {}
    for key in [wanted, *auths]:
        entry = auths.get(key)
        if not isinstance(entry, dict) or not _matches(key, wanted):
            continue
        if entry.get("auth"):
            try:
                decoded = binascii.a2b_base64(entry["auth"], strict_mode=True).decode()
                user, _, password = decoded.partition(":")
            except ValueError:
                raise InvalidArgument(
                    f'the credentials stored for "{key}" are not base64 "user:password": run dockyard login'
                ) from None
            return user, password
        if entry.get("username"):
            return str(entry["username"]), str(entry.get("password", ""))
    return None


def put(config: dict[str, Any], server: str, username: str, password: str) -> None:
    helper = helper_for(config, server)
    if helper:
        payload = {"ServerURL": _helper_key(server), "Username": username, "Secret": password}
        _run_helper(helper, "store", fastjson.dumps(payload))
        config.setdefault("auths", {})[server_key(server)] = {}
        return
    token = binascii.b2a_base64(f"{username}:{password}".encode(), newline=False).decode()
    config.setdefault("auths", {})[server_key(server)] = {"auth": token}


def remove(config: dict[str, Any], server: str) -> bool:
    """Forget every key naming ``server``; False if none did."""
    wanted = server_key(server)
    auths = config.get("auths") or {}
    keys = [key for key in auths if _matches(key, wanted)]
    helper = helper_for(config, server)
    if helper and keys:
        _run_helper(helper, "erase", _helper_key(server))
    for key in keys:
        del auths[key]
    return bool(keys)


def identity_token(config: Mapping[str, Any], server: str) -> str:
    """The refresh token `login` stored for ``server`` (``identitytoken``), or ""."""
    wanted = server_key(server)
    for key, entry in (config.get("auths") or {}).items():
        if isinstance(entry, dict) and _matches(key, wanted) and entry.get("identitytoken"):
            return str(entry["identitytoken"])
    return ""


def header(username: str = "", password: str = "", server: str = "", identitytoken: str = "") -> str:
    """The ``X-Registry-Auth`` value (``e30=``, an empty object, when there is nothing to send)."""
    payload: dict[str, str] = {}
    if username or password:
        payload = {"username": username, "password": password, "serveraddress": server}
    if identitytoken:
        # The docker CLI sends it beside the user name: the daemon trades it for tokens.
        payload["identitytoken"] = identitytoken
    encoded = binascii.b2a_base64(fastjson.dumps(payload).encode(), newline=False)
    return encoded.translate(_URLSAFE).decode()


def header_for(config: Mapping[str, Any], server: str) -> str:
    found = get(config, server)
    if found is None:
        return header()
    return header(found[0], found[1], server_key(server), identity_token(config, server))
