#!/usr/bin/env bash
# Refresh the pinned dependency sets from pyproject.toml (`make lock`):
#   requirements/runtime.txt  what the service needs to run (the Docker image installs this)
#   requirements/dev.txt      that, plus the test and lint tools (`make install` and CI install this)
# Each is resolved in a fresh virtualenv, so nothing already installed leaks into the pins.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

freeze() {  # freeze EXTRA OUT: install the project with EXTRA in a new venv and pin what it pulled in
    local venv="$tmp/venv$1" out=$2
    "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet ".$1"
    {
        echo "# Pinned by scripts/lock.sh from pyproject.toml ($("$venv/bin/python" -V)); refresh with: make lock"
        "$venv/bin/pip" freeze --exclude kaltim-land-api | LC_ALL=C sort -f
    } > "$out"
    echo "wrote $out ($(grep -vc '^#' "$out") packages)"
}

freeze "" requirements/runtime.txt
freeze "[test]" requirements/dev.txt
