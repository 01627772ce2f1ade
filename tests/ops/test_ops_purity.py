"""The data-layer ops modules load without pydantic, cryptography or sqlglot (Pyodide parity rule)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "src" / "edgenotify" / "ops"
DATA_LAYER = sorted(
    "edgenotify." + ".".join(p.relative_to(OPS.parent).with_suffix("").parts)
    for p in OPS.rglob("*.py")
    if p.stem != "__init__"
)

PROBE = """
import sys
for blocked in ("pydantic", "pydantic_core", "cryptography", "sqlglot"):
    sys.modules[blocked] = None  # any import of them now raises ImportError
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
print("ok", len(sys.argv) - 1)
"""


def test_ops_modules_import_without_compiled_or_heavy_packages() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *DATA_LAYER],
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ok {len(DATA_LAYER)}"
    assert "edgenotify.ops.diagnostics.queryplan" in DATA_LAYER  # sqlglot is imported inside its functions only


def test_the_admin_routes_module_does_not_import_sqlglot() -> None:
    probe = "import sys; import edgenotify.routes; print('sqlglot' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
