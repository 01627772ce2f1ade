#!/usr/bin/env bash
# Download the pinned pure-Python wheels (wheels.txt) that the parity harness installs into Pyodide.
# They go to a git-ignored cache (devkit/parity/.wheels, or $PARITY_WHEELS_DIR) and are fetched once:
# a stamp of wheels.txt decides whether the cache is current. Prints the cache directory.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${PARITY_WHEELS_DIR:-$HERE/.wheels}"
STAMP="$(sha256sum "$HERE/wheels.txt" | cut -c1-16)"
PYTHON="${PYTHON:-python3}"

if [ "$(cat "$CACHE/.stamp" 2>/dev/null)" != "$STAMP" ]; then
  echo "parity: downloading pinned wheels into $CACHE" >&2
  rm -rf "$CACHE"
  mkdir -p "$CACHE"
  # Pure wheels for the Pyodide interpreter (CPython 3.13), whatever Python runs pip here.
  "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.13 --implementation py --require-hashes -r "$HERE/wheels.txt" -d "$CACHE"
  echo "$STAMP" > "$CACHE/.stamp"
fi
echo "$CACHE"
