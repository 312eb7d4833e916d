#!/bin/bash
# Install dockyard, start its daemon, make the built-in busybox image and run a container, on a
# fresh Debian 12 machine, as root. No internet is needed after the install: the image is built
# from the host's busybox-static.
#
# The daemon keeps running afterwards (like an installed dockerd): talk to it with
# `.venv/bin/dockyard ...` or any docker client with DOCKER_HOST=unix:///run/dockyard.sock; stop
# it with `kill $(cat /run/dockyard/dockyard.pid)`. Its log is /var/log/dockyard.log.
#
# DOCKYARD_DAEMON_FLAGS: extra daemon flags. The default keeps container traffic on this machine
# (no outbound NAT, no forwarding from dockyard's bridge to other interfaces); set it to "" for
# Docker's defaults, where containers reach the outside world.
set -euo pipefail

cd "$(dirname "$0")/.."
./scripts/install.sh base

BIN=$PWD/.venv/bin
SOCK=/run/dockyard.sock
export DOCKYARD_HOST=unix://$SOCK
FLAGS=${DOCKYARD_DAEMON_FLAGS---ip-masq=false --isolate-egress}

if "$BIN/dockyard" version >/dev/null 2>&1; then
	echo ">>> the dockyard daemon is already running on $SOCK"
else
	echo ">>> starting the daemon: dockyard daemon $FLAGS (log: /var/log/dockyard.log)"
	# shellcheck disable=SC2086 # FLAGS is a list of flags
	setsid "$BIN/dockyard" daemon -H "$DOCKYARD_HOST" $FLAGS </dev/null >>/var/log/dockyard.log 2>&1 &
	for _ in $(seq 1 200); do
		"$BIN/dockyard" version >/dev/null 2>&1 && break
		sleep 0.1
	done
	"$BIN/dockyard" version >/dev/null || {
		tail -20 /var/log/dockyard.log
		exit 1
	}
fi

echo ">>> dockyard image bootstrap   (busybox:latest from the host's busybox-static)"
"$BIN/dockyard" image bootstrap

# shellcheck disable=SC2016 # expanded by the container's shell, not this one
script='echo "hello from $(hostname): pid $$, $(id)"; echo "eth0: $(ip -4 -o addr show eth0 | awk "{print \$4}")"'
echo ">>> dockyard run --rm busybox sh -c '...'"
"$BIN/dockyard" run --rm busybox sh -c "$script"
echo ">>> dockyard ps -a"
"$BIN/dockyard" ps -a
echo ">>> done: the daemon keeps running (stop it with: kill \$(cat /run/dockyard/dockyard.pid))"
