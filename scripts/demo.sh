#!/bin/bash
# Install dockyard and run a container with it, on a fresh Debian 12 machine, as root.
#
# Builds an OCI bundle from the host's busybox-static (no image, no network) and runs it with
# `dockyard-runtime run`, runc's command line. Later this grows into starting the daemon and
# `dockyard run`.
set -euo pipefail

cd "$(dirname "$0")/.."
./scripts/install.sh base

VENV=$PWD/.venv
work=$(mktemp -d /tmp/dockyard-demo.XXXXXX)
id="demo-$$"
cleanup() {
	# run removes its own container; this catches an interrupted run (already gone is fine).
	"$VENV/bin/dockyard-runtime" --root "$work/state" delete --force "$id" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# shellcheck disable=SC2016 # expanded by the container's shell, not this one
script='echo "hello from $(hostname): pid $$, $(id)"; echo "applets: $(ls /bin | wc -l) in /bin"'
echo ">>> building a busybox bundle in $work/bundle"
"$VENV/bin/python" -m dockyard.util.busybox bundle "$work/bundle" --hostname dockyard-demo \
	--spec-from "$VENV/bin/dockyard-runtime" -- sh -c "$script"

echo ">>> dockyard-runtime run --bundle $work/bundle $id"
"$VENV/bin/dockyard-runtime" --root "$work/state" run --bundle "$work/bundle" "$id" </dev/null
echo ">>> the container exited with status 0"
