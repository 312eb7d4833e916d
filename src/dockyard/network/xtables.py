"""The host's iptables binaries, run with -w (wait for the xtables lock instead of failing beside
a running dockerd) and LC_ALL=C. Whichever backend the host's `iptables` has (Debian's
iptables-nft, or iptables-legacy where nftables is missing) is used, the one dockerd uses too:
rules of one host kept in one backend are what `iptables -S` and `iptables-save` show."""

from __future__ import annotations

import os
import shutil
import subprocess

from dockyard.errors import SystemFailure


def binary(name: str) -> str:
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None
    )
    if path is None:
        raise SystemFailure(f"{name} is not installed: install it (apt-get install iptables)")
    return path


def run(args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [binary("iptables"), "-w", *args]
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    if check and proc.returncode != 0:
        raise SystemFailure(f"{' '.join(argv)} failed: {proc.stderr.strip() or proc.returncode}")
    return proc


def restore(text: str) -> None:
    """``iptables-restore --noflush``: declaring a user chain (``:NAME - [0:0]``) creates or
    flushes it, and each table block commits at once, so a packet never sees a chain half-filled."""
    argv = [binary("iptables-restore"), "-w", "--noflush"]
    proc = subprocess.run(argv, input=text, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    if proc.returncode != 0:
        raise SystemFailure(f"iptables-restore failed: {proc.stderr.strip()} (input: {text!r})")


def fill_chains(table: str, chains: dict[str, list[list[str]]]) -> None:
    """Replace the contents of ``chains`` (name -> rules) of ``table`` in one commit."""
    lines = [f"*{table}", *(f":{name} - [0:0]" for name in chains)]
    lines += [" ".join(["-A", name, *rule]) for name, rules in chains.items() for rule in rules]
    lines.append("COMMIT")
    restore("\n".join(lines) + "\n")


def listing(table: str, chain: str) -> list[str] | None:
    """``iptables -S chain`` lines without the chain's own -N line; None if there is no chain."""
    proc = run(["-t", table, "-S", chain], check=False)
    if proc.returncode != 0:
        return None
    return [line for line in proc.stdout.splitlines() if line and not line.startswith(("-N ", "-P "))]


def exists(table: str, chain: str, rule: list[str]) -> bool:
    return run(["-t", table, "-C", chain, *rule], check=False).returncode == 0


def ensure_first(table: str, chain: str, rule: list[str]) -> None:
    """``rule`` in ``chain``, inserted first when missing (ahead of what others decide there)."""
    if not exists(table, chain, rule):
        run(["-t", table, "-I", chain, "1", *rule])


def delete_all(table: str, chain: str, rule: list[str]) -> None:
    while exists(table, chain, rule):
        run(["-t", table, "-D", chain, *rule])


def drop_chain(table: str, chain: str) -> None:
    """Flush and delete a user chain (nothing may jump to it any more); idempotent."""
    if listing(table, chain) is not None:
        run(["-t", table, "-F", chain])
        run(["-t", table, "-X", chain])
