# Sourced by the scripts. Installs what is missing or stale, then puts it first on PATH.
#
#   source scripts/_setup.sh    Python: .venv from uv.lock (all that scripts/dev, migrate, backup, restore need)
#   setup_node                  then, where wrangler or Pyodide is needed: Node >= 22 and node_modules
#
# Python: the machine's Python >= 3.11 (first of $PYTHON, python3, python3.13, python3.12, python3.11, python);
# a Python build is never downloaded. uv is the one on PATH if it is at least the version pinned in pyproject.toml,
# else that version installed once from PyPI with pip into ~/.cache/edgenotify/. `uv sync --frozen` installs
# exactly uv.lock into .venv and rebuilds a .venv made for another interpreter; a broken one is removed first.
# Node: the machine's Node if it is >= 22, else the Node 22 that tools/node's lock pins for this platform.
# `npm ci` installs exactly the committed locks, so a clean clone stays clean.
#
# Exit codes: 3 no Python >= 3.11; 4 uv could not be installed; 5 no npm (needed only by setup_node).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export UV_PYTHON_DOWNLOADS=never WRANGLER_SEND_METRICS=false
unset VIRTUAL_ENV UV_PROJECT_ENVIRONMENT

_setup_fail() { # code message...
  local code="$1"
  shift
  printf 'setup: %s\n' "$@" >&2
  exit "$code"
}

_version_at_least() { # have want: dotted versions
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

_find_python() {
  local cand found=""
  for cand in ${PYTHON:-} python3 python3.13 python3.12 python3.11 python; do
    command -v "$cand" >/dev/null 2>&1 || continue
    local v
    v="$("$cand" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" || continue
    if _version_at_least "$v" 3.11; then
      command -v "$cand"
      return 0
    fi
    found="$found $cand=$v"
  done
  _setup_fail 3 "edgenotify needs Python >= 3.11 and found none on PATH (${found# }${found:+; }looked for" \
    "\$PYTHON, python3, python3.13, python3.12, python3.11, python). Install Python 3.11 or newer, or point" \
    "PYTHON at one: PYTHON=/path/to/python3.12 $0"
}

_find_uv() { # python → path of a uv at least the pinned version
  local py="$1" want have cache
  want="$(sed -n 's/^ *"uv==\([0-9.]*\)".*/\1/p' pyproject.toml)"
  if command -v uv >/dev/null 2>&1; then
    have="$(uv --version | cut -d' ' -f2)"
    if _version_at_least "$have" "$want"; then
      command -v uv
      return 0
    fi
  fi
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/edgenotify/uv-$want"
  if [ ! -x "$cache/bin/uv" ]; then
    echo "setup: installing uv $want from PyPI into $cache (pip)" >&2
    mkdir -p "$(dirname "$cache")"
    local tmp
    tmp="$(mktemp -d "$cache.XXXXXX")"
    "$py" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
      --target "$tmp" "uv==$want" >&2 ||
      { rm -rf "$tmp"; _setup_fail 4 "could not install uv $want with $py -m pip; install uv $want or newer and re-run"; }
    mv -T "$tmp" "$cache" 2>/dev/null || rm -rf "$tmp" # a concurrent set-up won the race: its copy is as good
  fi
  echo "$cache/bin/uv"
}

_setup_python() {
  local py uv
  py="$(_find_python)"
  uv="$(_find_uv "$py")"
  if [ -e .venv ] && ! .venv/bin/python -c '' >/dev/null 2>&1; then
    echo "setup: .venv is not a working virtualenv (its Python is gone or it was never one); rebuilding it" >&2
    rm -rf .venv
  fi
  # uv recreates a .venv whose interpreter is not $py, and installs exactly uv.lock (dev group included).
  UV_PYTHON="$py" "$uv" sync --frozen --quiet
  export PATH="$ROOT/.venv/bin:$(dirname "$uv"):$PATH"
  export PYTHONPATH="$ROOT/src:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
  python scripts/build_bundle
}

_npm_ci() { # dir: install its committed lock unless node_modules already matches it
  local dir="$1" stamp
  stamp="$(sha256sum "$dir/package-lock.json" | cut -c1-16)"
  [ "$(cat "$dir/node_modules/.stamp" 2>/dev/null)" = "$stamp" ] && return 0
  local where="${dir#"$ROOT"}"
  where="${where#/}"
  echo "setup: npm ci in ${where:-.}" >&2
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2
  echo "$stamp" >"$dir/node_modules/.stamp"
}

_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

setup_node() {
  command -v npm >/dev/null 2>&1 ||
    _setup_fail 5 "npm is needed for wrangler and Pyodide (tests, bench, deploy) and is not on PATH; install Node.js" \
      "(any version with npm: Node 22 itself comes from the npm registry when the machine's is older)"
  if [ "$(_node_major)" -lt 22 ]; then
    _npm_ci "$ROOT/tools/node"
    export PATH="$ROOT/tools/node/node_modules/.bin:$PATH"
    [ "$(_node_major)" -ge 22 ] || _setup_fail 5 "tools/node has no Node 22 build for $(uname -s) $(uname -m)"
  fi
  _npm_ci "$ROOT"
  export PATH="$ROOT/node_modules/.bin:$PATH"
}

_setup_python
