#!/usr/bin/env bash
# Download the pinned pure-Python wheels (wheels.txt) that the parity harness installs into Pyodide.
# They go to a git-ignored cache (devkit/parity/.wheels, or $PARITY_WHEELS_DIR), one directory per
# version of wheels.txt, fetched once. Safe when several test runs start at the same time: each downloads
# into its own temporary directory and renames it into place; a directory in place is never modified.
# Prints the directory holding the wheels.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${PARITY_WHEELS_DIR:-$HERE/.wheels}"
STAMP="$(sha256sum "$HERE/wheels.txt" | cut -c1-16)"
TARGET="$CACHE/$STAMP"
PYTHON="${PYTHON:-python3}"

if [ ! -d "$TARGET" ]; then
  echo "parity: downloading pinned wheels into $TARGET" >&2
  mkdir -p "$CACHE"
  TMP="$(mktemp -d "$CACHE/.download.XXXXXX")"
  trap 'rm -rf "$TMP"' EXIT
  # Pure wheels for the Pyodide interpreter (CPython 3.13), whatever Python runs pip here.
  "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.13 --implementation py --require-hashes -r "$HERE/wheels.txt" -d "$TMP"
  mv -T "$TMP" "$TARGET" 2>/dev/null || true # another run may have won the race: its copy is as good
fi
echo "$TARGET"
