#!/bin/bash
# Install what dockyard needs on a Debian 12 machine, as root: Debian packages and a virtual
# environment at .venv with dockyard installed in editable mode. Idempotent and quick when done:
# apt runs only for packages dpkg-query does not report installed, pip only when pyproject.toml
# changed since the last install.
#
#   scripts/install.sh          what the demo needs (runtime dependencies)
#   scripts/install.sh test     that plus the peers the tests compare against and the test tools
#
# Used by scripts/demo.sh and scripts/test.sh; safe to run by hand.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
PYTHON=/usr/bin/python3 # Debian's interpreter, never a pyenv shim (50 ms of bash per start)

BASE_PACKAGES=(python3-venv python3-dev busybox-static libseccomp2 runc iproute2 util-linux iptables nftables tini)
# The peers of the compatibility tests: dockerd, containerd, crun, skopeo, umoci; tmux drives
# `docker run -it`.
# gcc and libc6-dev build the isolation suite's static escape prober (tests/isolation/prober.c).
# docker-compose (1.29, the Python one): the demo app run by another Compose (test_compose_v1.py).
TEST_PACKAGES=(containerd docker.io tmux skopeo umoci crun docker-registry chromium gcc libc6-dev docker-compose)

mode=${1:-base}
case $mode in
base) packages=("${BASE_PACKAGES[@]}") extras="" ;;
test) packages=("${BASE_PACKAGES[@]}" "${TEST_PACKAGES[@]}") extras="[test]" ;;
*)
	echo "usage: $0 [base|test]" >&2
	exit 2
	;;
esac

if [ "$(id -u)" != 0 ]; then
	echo "error: run as root (apt-get and the container runtime need it): sudo $0 $*" >&2
	exit 1
fi

log() { printf '>>> %s\n' "$*"; }

# ---------------------------------------------------------------- Debian packages
missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done

policy=/usr/sbin/policy-rc.d
saved_policy=""
restore_policy() {
	# Put back the machine's own policy-rc.d (or none) whatever happened during the install.
	if [ -n "$saved_policy" ]; then
		mv -f "$saved_policy" "$policy"
	else
		rm -f "$policy"
	fi
}

if [ ${#missing[@]} -gt 0 ]; then
	log "apt-get install ${missing[*]}"
	# docker.io's and containerd's postinst start their services (invoke-rc.d without systemd,
	# deb-systemd-invoke with it). A running dockerd rewrites the host's iptables rules, and the
	# tests start their own dockerd on their own socket: forbid every service start during the
	# install (policy-rc.d exit 101 = "action forbidden", honoured by both helpers).
	if [ -e "$policy" ]; then
		saved_policy=$(mktemp /usr/sbin/policy-rc.d.dockyard-saved.XXXXXX)
		cp -p "$policy" "$saved_policy"
	fi
	trap restore_policy EXIT
	printf '#!/bin/sh\n# written by dockyard scripts/install.sh for the duration of an install\nexit 101\n' >"$policy"
	chmod 755 "$policy"

	export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l
	apt-get update -q
	apt-get install -y -q "${missing[@]}"

	restore_policy
	trap - EXIT
	# With systemd as init the units are also enabled (and docker.socket would start dockerd on
	# the first connection to /var/run/docker.sock): disable them and stop anything started.
	if [ -d /run/systemd/system ]; then
		systemctl disable --now docker.service docker.socket 2>/dev/null || true
	fi
else
	log "Debian packages present: ${packages[*]}"
fi

# ---------------------------------------------------------------- virtual environment
if ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
	log "creating $VENV with $PYTHON"
	rm -rf "$VENV"
	"$PYTHON" -m venv "$VENV"
fi

# The stamp holds the hash of pyproject.toml and the extras installed with it; an install with
# [test] also satisfies a plain one.
stamp=$VENV/.dockyard-install-stamp
hash=$(sha256sum pyproject.toml | cut -d' ' -f1)
read -r had_hash had_extras 2>/dev/null <"$stamp" || true
if [ "${had_hash:-}" != "$hash" ] || { [ -n "$extras" ] && [ "${had_extras:-}" != "$extras" ]; } ||
	! "$VENV/bin/python" -c 'import dockyard' 2>/dev/null; then
	log "pip install -e .$extras"
	"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".$extras"
	[ -z "$extras" ] && [ "${had_hash:-}" = "$hash" ] && extras=${had_extras:-}
	echo "$hash $extras" >"$stamp"
else
	log "$VENV is up to date (dockyard$extras)"
fi

# Bytecode for every module, written now: the runtime is started once per container operation
# and compiling its modules on the fly (as when PYTHONDONTWRITEBYTECODE is set, or the tree is
# read-only) costs more than the whole start. Python reads the .pyc files even when told not to
# write them, and recompiles in memory only a module changed since.
"$VENV/bin/python" -m compileall -q -j 0 src >/dev/null

# The launchers' first line re-executes them with the venv's Python and -S through /bin/sh. pip
# copies them only when it installs, so copy them again from bin/ every time (an edited launcher
# takes effect without a reinstall). Inside this venv we know the interpreter: point the shebang
# at it directly and save that shell hop on every container operation. The scripts work either way.
for name in dockyard dockyard-runtime; do
	install -m 755 "bin/$name" "$VENV/bin/$name.new"
	sed -i "1s|.*|#!$VENV/bin/python3 -S|" "$VENV/bin/$name.new"
	mv -f "$VENV/bin/$name.new" "$VENV/bin/$name"
done

# The launchers' module caches, next to them: every module a container start (dockyard-runtime) or
# a client command (dockyard) needs, compiled into one file read with one open
# (dockyard/runtime/codecache.py). Entries are checked against their sources' mtime and size, so a
# stale cache is only slower, never wrong.
for name in dockyard dockyard-runtime; do
	"$VENV/bin/python" -m dockyard.runtime.codecache "$VENV/bin/$name" >/dev/null
done
