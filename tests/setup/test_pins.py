"""The worker's runtime dependencies are the versions that deploy: pinned once, in pyproject.toml, read by uv.lock
(the test environment), by pywrangler (what ``uv run pywrangler deploy`` vendors) and by the parity runtime.

* every runtime dependency is an exact ``==`` pin and the pins are the whole runtime closure in uv.lock;
* every pin is a version Pyodide 0.28.3's own lock (``node_modules/pyodide/pyodide-lock.json``) supplies — except
  ``VENDORED_FROM_PYPI``: packages Pyodide does not ship, which pywrangler vendors from PyPI. For those the test asks
  instead that Pyodide's lock still lacks them (if Pyodide starts shipping one, it must be pinned to Pyodide's
  version) and that uv.lock has a pure-Python wheel of the pinned version (pywrangler installs binaries only);
* pywrangler's own resolution step (``pywrangler.resolve``: ``uv pip compile pyproject.toml`` + the SDK, run for
  real with Pyodide's platform and Python 3.13) yields exactly the pins. Pyodide's package index is not reachable
  here, so it resolves against PyPI only; the pins themselves are checked against Pyodide's lock above.

Needs ``node_modules`` (for pyodide-lock.json) and PyPI or uv's cache (for the resolution).
"""

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from pywrangler import resolve as pywrangler_resolve

ROOT = Path(__file__).resolve().parents[2]
PYODIDE_LOCK = ROOT / "node_modules" / "pyodide" / "pyodide-lock.json"
PYODIDE_VERSION = "0.28.3"
VENDORED_FROM_PYPI = {"sqlglot", "workers-runtime-sdk"}
NOT_ON_THE_EDGE = {"cryptography"}  # dev only: backs the embedded runtime's WebCrypto stand-in


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    """pyproject's runtime dependencies, each asserted to be ``name==version``."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    out = {}
    for dep in deps:
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([0-9][0-9A-Za-z.]*)", dep)
        assert match, f"runtime dependency {dep!r} is not an exact pin"
        out[canonical(match[1])] = match[2]
    return out


def uv_lock() -> dict[str, dict]:
    return {p["name"]: p for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}


def pyodide_packages() -> dict[str, dict]:
    lock = json.loads(PYODIDE_LOCK.read_text())
    return {canonical(name): entry for name, entry in lock["packages"].items()}


def unsupplied(pinned: dict[str, str], pyodide: dict[str, dict]) -> list[str]:
    """Pins that Pyodide's lock cannot supply (packages vendored from PyPI must be absent from it instead)."""
    bad = []
    for name, version in sorted(pinned.items()):
        shipped = pyodide.get(name, {}).get("version")
        if name in VENDORED_FROM_PYPI:
            if shipped is not None:
                bad.append(f"{name}=={version}: Pyodide now ships {shipped}; pin that instead")
        elif shipped != version:
            bad.append(f"{name}=={version}: Pyodide {PYODIDE_VERSION} supplies {shipped or 'no such package'}")
    return bad


def test_runtime_pins_are_the_whole_runtime_closure_of_uv_lock() -> None:
    locked = uv_lock()
    closure: set[str] = set()
    todo = [d["name"] for d in locked["edgenotify"]["dependencies"]]
    while todo:
        name = todo.pop()
        if name not in closure:
            closure.add(name)
            todo += [d["name"] for d in locked[name].get("dependencies", [])]
    pinned = pins()
    assert closure == set(pinned), f"unpinned: {sorted(closure - set(pinned))}, not needed: {set(pinned) - closure}"
    assert {name: locked[name]["version"] for name in closure} == pinned
    assert not NOT_ON_THE_EDGE & closure


def test_cryptography_is_a_dev_dependency_only() -> None:
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    assert any(canonical(re.split(r"[<>=~ ]", d)[0]) == "cryptography" for d in dev)
    assert "cryptography" not in pins()


def test_every_pin_is_a_version_pyodide_supplies() -> None:
    lock = json.loads(PYODIDE_LOCK.read_text())
    assert json.loads((ROOT / "node_modules" / "pyodide" / "package.json").read_text())["version"] == PYODIDE_VERSION
    assert lock["info"]["python"].startswith("3.13.")
    assert unsupplied(pins(), pyodide_packages()) == []


def test_the_check_fails_on_a_version_pyodide_cannot_supply() -> None:
    pyodide = pyodide_packages()
    assert unsupplied(pins() | {"pydantic": "2.11.0"}, pyodide) == [
        f"pydantic==2.11.0: Pyodide {PYODIDE_VERSION} supplies 2.10.6"
    ]
    assert unsupplied({"left-pad": "1.0"}, pyodide) == [
        f"left-pad==1.0: Pyodide {PYODIDE_VERSION} supplies no such package"
    ]
    shipped = {"sqlglot": {"version": "99.0.0"}}
    assert unsupplied({"sqlglot": "30.31.0"}, shipped) == [
        "sqlglot==30.31.0: Pyodide now ships 99.0.0; pin that instead"
    ]


def test_packages_vendored_from_pypi_have_a_pure_wheel_at_the_pin() -> None:
    locked, pinned = uv_lock(), pins()
    for name in VENDORED_FROM_PYPI:
        wheels = [w["url"].rsplit("/", 1)[1] for w in locked[name].get("wheels", [])]
        assert any(w.endswith("-py3-none-any.whl") and f"-{pinned[name]}-" in w for w in wheels), (name, wheels)


def test_pywrangler_resolves_exactly_the_pins_for_pyodide(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """pywrangler's own compile step, with its interpreter and index swapped for what this machine can reach."""
    captured: list[list[str]] = []
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(pywrangler_resolve, "run_command", lambda cmd, **kw: captured.append(list(cmd)))
    pywrangler_resolve._compile_lockfile([pywrangler_resolve.MANAGED_SDK_PACKAGE], tmp_path / "pylock.toml")
    (cmd,) = captured
    assert cmd[:4] == ["uv", "pip", "compile", str(ROOT / "pyproject.toml")]
    supplemental = tmp_path / "supplemental.txt"  # pywrangler's temporary requirements file is gone by now
    supplemental.write_text(pywrangler_resolve.MANAGED_SDK_PACKAGE)
    python = cmd.index("--python")
    assert cmd[python + 1].startswith("cpython-3.13.") and cmd[python + 1].endswith("-emscripten-wasm32-musl")
    index = cmd.index("--extra-index-url")
    assert cmd[index + 1].endswith(f"/{PYODIDE_VERSION}")
    out = tmp_path / "resolved.txt"
    argv = [*cmd[:4], str(supplemental), "--python-platform", "wasm32-pyodide2025", "--python-version", "3.13"]
    # Without Pyodide's index there is no Pyodide wheel of pydantic-core, so --no-build goes too: uv reads the
    # metadata of another wheel of the same version and builds nothing.
    dropped = {python, python + 1, index, index + 1, cmd.index("--no-build")}
    argv += [a for i, a in enumerate(cmd[5:], 5) if i not in dropped]
    argv = [a if a != str(tmp_path / "pylock.toml") else str(out) for a in argv] + ["--no-annotate"]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    resolved = dict(line.split("==") for line in out.read_text().split() if "==" in line)
    assert {canonical(k): v for k, v in resolved.items()} == pins()


def test_parity_wheels_are_the_locked_versions() -> None:
    locked, pinned = uv_lock(), pins()
    wheels = {}
    for line in (ROOT / "devkit" / "parity" / "wheels.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            spec, digest = line.split(" --hash=")
            name, version = spec.split("==")
            wheels[canonical(name)] = (version, digest)
    for name, (version, digest) in wheels.items():
        assert pinned[name] == version, name
        assert digest in {w["hash"] for w in locked[name]["wheels"]}, name
    pure = {n for n in pinned if all(w["url"].endswith("-none-any.whl") for w in locked[n]["wheels"])}
    assert set(wheels) == pure - {"pydantic", "annotated-types"}  # pydantic needs the compiled pydantic-core
