#!/bin/bash
# Install everything the tests need (Debian packages, the peers, .venv with dockyard[test]) and
# run the whole check: ruff, ruff format, mypy, import-linter, then pytest on the whole suite.
# Arguments are passed to pytest (e.g. ./scripts/test.sh tests/unit -x).
set -euo pipefail

cd "$(dirname "$0")/.."
./scripts/install.sh test

BIN=$PWD/.venv/bin
failed=()
step() {
	echo ">>> $*"
	"$@" || failed+=("$1")
}

step "$BIN/ruff" check src tests bench
step "$BIN/ruff" format --check src tests bench
step "$BIN/mypy"
step "$BIN/lint-imports"
if [ ${#failed[@]} -gt 0 ]; then
	echo ">>> FAILED: ${failed[*]##*/} (pytest runs anyway)"
fi

# pytest last, so its summary is the run's closing line.
echo ">>> pytest"
rc=0
"$BIN/python" -m pytest "$@" || rc=$?
if [ ${#failed[@]} -gt 0 ] && [ $rc = 0 ]; then
	rc=1
fi
exit $rc
