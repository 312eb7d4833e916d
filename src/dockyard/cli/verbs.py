"""The command table: docker's command names, their groups and aliases, and where each lives.

Each entry is ``(module under dockyard.cli, function, summary)``; the module is imported only
when its command runs, so ``dockyard ps`` loads the ps module and nothing of pull or cp.
"""

from __future__ import annotations

Entry = tuple[str, str, str]

CONTAINER: dict[str, Entry] = {
    "attach": (
        "attach",
        "attach",
        "Attach local standard input, output, and error streams to a running container",
    ),
    "commit": ("container_fs", "commit", "Create a new image from a container's changes"),
    "cp": ("cp", "cp", "Copy files/folders between a container and the local filesystem"),
    "create": ("run", "create", "Create a new container"),
    "diff": ("container_fs", "diff", "Inspect changes to files or directories on a container's filesystem"),
    "exec": ("exec", "exec_", "Execute a command in a running container"),
    "export": ("container_fs", "export", "Export a container's filesystem as a tar archive"),
    "inspect": ("inspect", "container_inspect", "Display detailed information on one or more containers"),
    "kill": ("lifecycle", "kill", "Kill one or more running containers"),
    "logs": ("logs", "logs", "Fetch the logs of a container"),
    "ls": ("ps", "ps", "List containers"),
    "pause": ("lifecycle", "pause", "Pause all processes within one or more containers"),
    "port": ("port", "port", "List port mappings or a specific mapping for the container"),
    "prune": ("lifecycle", "prune", "Remove all stopped containers"),
    "rename": ("lifecycle", "rename", "Rename a container"),
    "restart": ("lifecycle", "restart", "Restart one or more containers"),
    "rm": ("lifecycle", "rm", "Remove one or more containers"),
    "run": ("run", "run", "Create and run a new container from an image"),
    "start": ("start", "start", "Start one or more stopped containers"),
    "stats": ("stats", "stats", "Display a live stream of container(s) resource usage statistics"),
    "stop": ("lifecycle", "stop", "Stop one or more running containers"),
    "top": ("top", "top", "Display the running processes of a container"),
    "unpause": ("lifecycle", "unpause", "Unpause all processes within one or more containers"),
    "update": ("lifecycle", "update", "Update configuration of one or more containers"),
    "wait": ("lifecycle", "wait", "Block until one or more containers stop, then print their exit codes"),
}

IMAGE: dict[str, Entry] = {
    "build": ("build", "build", "Build an image from a Dockerfile"),
    "bootstrap": (
        "images",
        "bootstrap",
        "Make busybox:latest from the host's busybox-static (dockyard's own)",
    ),
    "history": ("images", "history", "Show the history of an image"),
    "import": ("transfer", "import_", "Import the contents from a tarball to create a filesystem image"),
    "inspect": ("inspect", "image_inspect", "Display detailed information on one or more images"),
    "load": ("transfer", "load", "Load an image from a tar archive or STDIN"),
    "ls": ("images", "images", "List images"),
    "prune": ("images", "prune", "Remove unused images"),
    "pull": ("pull", "pull", "Download an image from a registry"),
    "push": ("transfer", "push", "Upload an image to a registry"),
    "rm": ("images", "rmi", "Remove one or more images"),
    "save": ("transfer", "save", "Save one or more images to a tar archive (streamed to STDOUT by default)"),
    "tag": ("images", "tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
}

VOLUME: dict[str, Entry] = {
    "create": ("volume", "create", "Create a volume"),
    "inspect": ("inspect", "volume_inspect", "Display detailed information on one or more volumes"),
    "ls": ("volume", "ls", "List volumes"),
    "prune": ("volume", "prune", "Remove unused local volumes"),
    "rm": ("volume", "rm", "Remove one or more volumes"),
}

BUILDER: dict[str, Entry] = {
    "build": IMAGE["build"],
    "prune": ("build", "prune", "Remove build cache"),
}

NETWORK: dict[str, Entry] = {
    "connect": ("network", "connect", "Connect a container to a network"),
    "create": ("network", "create", "Create a network"),
    "disconnect": ("network", "disconnect", "Disconnect a container from a network"),
    "inspect": ("inspect", "network_inspect", "Display detailed information on one or more networks"),
    "ls": ("network", "ls", "List networks"),
    "prune": ("network", "prune", "Remove all unused networks"),
    "rm": ("network", "rm", "Remove one or more networks"),
}

SYSTEM: dict[str, Entry] = {
    "check": (
        "check",
        "check",
        "Verify the image store's blobs and layers (--repair removes what is corrupt)",
    ),
    "df": ("system", "df", "Show docker disk usage"),
    "events": ("events", "events", "Get real time events from the server"),
    "info": ("system", "info", "Display system-wide information"),
    "prune": ("system", "prune", "Remove unused data"),
}

GROUPS: dict[str, tuple[dict[str, Entry], dict[str, str], str]] = {
    # group -> (subcommands, subcommand aliases, summary)
    "container": (CONTAINER, {"list": "ls", "ps": "ls", "remove": "rm"}, "Manage containers"),
    "image": (IMAGE, {"list": "ls", "remove": "rm"}, "Manage images"),
    "volume": (VOLUME, {"list": "ls", "remove": "rm"}, "Manage volumes"),
    "network": (NETWORK, {"list": "ls", "remove": "rm"}, "Manage networks"),
    "system": (SYSTEM, {}, "Manage Dockyard"),
    "builder": (BUILDER, {}, "Manage builds"),
}

#: top-level commands: docker's shortcuts into the groups, and the commands of their own
TOP: dict[str, Entry] = {
    **{name: entry for name, entry in CONTAINER.items() if name not in ("ls", "prune")},
    "ps": CONTAINER["ls"],
    "images": IMAGE["ls"],
    "build": IMAGE["build"],
    "rmi": IMAGE["rm"],
    **{name: IMAGE[name] for name in ("history", "import", "load", "pull", "push", "save", "tag")},
    "inspect": ("inspect", "inspect", "Return low-level information on Docker objects"),
    "events": SYSTEM["events"],
    "info": SYSTEM["info"],
    "version": ("system", "version", "Show the Dockyard version information"),
    "login": ("login", "login", "Log in to a registry"),
    "logout": ("login", "logout", "Log out from a registry"),
    "compose": ("compose", "compose", "Define and run multi-container applications (Docker Compose)"),
}

#: how docker lists the other names of a command in its help (``Aliases:``)
ALIASES: dict[tuple[str, ...], list[str]] = {
    ("container", "ls"): ["container ls", "container list", "container ps", "ps"],
    ("image", "ls"): ["image ls", "image list", "images"],
    ("image", "rm"): ["image rm", "image remove", "rmi"],
    ("volume", "ls"): ["volume ls", "volume list"],
    ("volume", "rm"): ["volume rm", "volume remove"],
    ("network", "ls"): ["network ls", "network list"],
    ("network", "rm"): ["network rm", "network remove"],
}


def resolve(words: list[str]) -> tuple[list[str], Entry | None, int]:
    """(command words as typed, its entry, how many words it took); entry None if unknown.

    ``container``/``image``/... alone, or with an unknown subcommand, resolve to no entry with
    their one word taken (the caller prints the group's help).
    """
    if not words:
        return [], None, 0
    first = words[0]
    if first in GROUPS:
        table, aliases, _ = GROUPS[first]
        if len(words) > 1:
            sub = aliases.get(words[1], words[1])
            if sub in table:
                return [first, words[1]], table[sub], 2
        return [first], None, 1
    entry = TOP.get(first)
    return [first], entry, 1 if entry else 0


def aliases_of(words: list[str]) -> list[str]:
    if len(words) == 2:
        group, sub = words
        table, aliases, _ = GROUPS[group]
        sub = aliases.get(sub, sub)
        found = ALIASES.get((group, sub))
        if found:
            return [f"dockyard {name}" for name in found]
        if sub in TOP and TOP[sub] == table[sub]:
            return [f"dockyard {group} {sub}", f"dockyard {sub}"]
        return []
    name = words[0]
    for names in ALIASES.values():
        if name in names:
            return [f"dockyard {n}" for n in names]
    for group, (table, _, _) in GROUPS.items():
        if name in table and TOP.get(name) == table[name]:
            return [f"dockyard {group} {name}", f"dockyard {name}"]
    return []
