"""``-e``/``--env-file`` and ``-l``/``--label-file`` values, read as docker's ``opts`` package reads them.

An env file holds ``KEY=VALUE`` lines taken literally (no quotes, no expansion); ``#`` lines and
blank lines are skipped; a bare ``KEY`` takes the value of this process's environment, and is
dropped when unset. ``-e KEY`` alone is kept as ``KEY`` when unset, which tells the daemon to
remove the image's default for it.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def _lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise InvalidArgument(f"open {path}: no such file or directory") from None
    except OSError as exc:
        raise InvalidArgument(f"open {path}: {exc.strerror}") from None
    return text.removeprefix("\ufeff").splitlines()


def env_value(spec: str, environ: Mapping[str, str]) -> str:
    """One ``-e`` value: ``KEY=VALUE`` as given, ``KEY`` filled from the environment if set there."""
    if "=" in spec:
        if spec.startswith("="):
            raise InvalidArgument(f"invalid environment variable: {spec}")
        return spec
    value = environ.get(spec)
    return spec if value is None else f"{spec}={value}"


def read_env_file(path: str, environ: Mapping[str, str]) -> list[str]:
    out = []
    for raw in _lines(path):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if any(c in key for c in " \t"):
            raise InvalidArgument(f"variable '{key}' contains whitespaces: fix line \"{raw}\" of {path}")
        if not key:
            raise InvalidArgument(f'no variable name on line "{raw}" of {path}')
        if sep:
            out.append(f"{key}={value}")
        elif key in environ:
            out.append(f"{key}={environ[key]}")
    return out


def read_label_file(path: str) -> list[str]:
    return [line for line in (raw.strip() for raw in _lines(path)) if line and not line.startswith("#")]


def labels_map(specs: list[str]) -> dict[str, str]:
    """``k=v`` (or ``k``, an empty value) labels to the API's map."""
    out: dict[str, str] = {}
    for spec in specs:
        key, _, value = spec.partition("=")
        if not key:
            raise InvalidArgument(f"invalid label '{spec}': empty name")
        out[key] = value
    return out
