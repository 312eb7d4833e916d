"""The default config.json (the ``spec`` verb) and the features document (the ``features`` verb).

``default_spec`` is what ``runc spec`` (1.1) writes, field for field and in runc's key order, with
our ``ociVersion``; ``default_spec(rootless=True)`` is ``runc spec --rootless``. ``features`` is
the runtime-spec 1.1 features document (features.md, features-linux.md) in the shape
``runc features`` prints, describing what this runtime implements.
"""

from __future__ import annotations

import os

from dockyard.oci.runtime_config import OCI_VERSION, default_spec
from dockyard.runtime import capabilities

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

OCI_VERSION_MIN = "1.0.0"

__all__ = ["OCI_VERSION", "default_spec", "features"]

HOOKS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]


def mount_options() -> list[str]:
    """Every mount option name mounts.py recognises (flags, propagation, runc's extensions)."""
    from dockyard.runtime import mounts

    return sorted(set(mounts.FLAGS) | set(mounts.PROPAGATION) | set(mounts.EXTENSIONS))


def namespaces() -> list[str]:
    from dockyard.runtime.config import NAMESPACE_FLAGS

    return sorted(NAMESPACE_FLAGS)


def _apparmor_enabled() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled", "rb") as f:
            return f.read().strip() == b"Y"
    except OSError:
        return False


def _selinux_enabled() -> bool:
    return os.path.exists("/sys/fs/selinux/enforce")


def features() -> dict[str, Any]:
    """The features document (runtime-spec 1.1 features.md) for this runtime on this host.

    Only properties defined by runtime-spec 1.1.0 (``ociVersionMax``) appear. SCMP_ACT_NOTIFY is
    left out of the seccomp actions: validate() recognises it only to refuse it. AppArmor and
    SELinux are reported enabled only where the host's LSM is active, because process.py applies a
    profile or label only there (it refuses one elsewhere); runc reports its compiled-in support.
    """
    from dockyard import __version__
    from dockyard.runtime import seccomp

    seccomp_enabled = seccomp.available()
    seccomp_doc: dict[str, Any] = {"enabled": seccomp_enabled}
    annotations: dict[str, str] = {}
    if seccomp_enabled:
        seccomp_doc.update(
            {
                "actions": sorted(a for a in seccomp.ACTIONS if a != "SCMP_ACT_NOTIFY"),
                "operators": sorted(seccomp.OPERATORS),
                "archs": seccomp.known_archs(),
                "knownFlags": list(seccomp.FLAGS),
                "supportedFlags": seccomp.supported_flags(),
            }
        )
        annotations["io.github.seccomp.libseccomp.version"] = seccomp.library_version()
    annotations["org.dockyard.runtime.version"] = __version__
    return {
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": OCI_VERSION,
        "hooks": list(HOOKS),
        "mountOptions": mount_options(),
        "linux": {
            "namespaces": namespaces(),
            "capabilities": sorted(capabilities.CAPS, key=capabilities.CAPS.__getitem__),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": seccomp_doc,
            "apparmor": {"enabled": _apparmor_enabled()},
            "selinux": {"enabled": _selinux_enabled()},
            "intelRdt": {"enabled": False},
        },
        "annotations": annotations,
    }
