"""The data layer loads without pydantic, cryptography or sqlglot (the parity runtime has none of them)."""

import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")

SCRIPT = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('pydantic', 'pydantic_core', 'cryptography', 'sqlglot'):
            raise ImportError('blocked ' + name)
sys.meta_path.insert(0, Block())
import edgenotify.audit, edgenotify.notify.configs, edgenotify.notify.templates, edgenotify.notify.render
import edgenotify.notify.ssrf, edgenotify.notify.channels, edgenotify.notify.config_cache
import asyncio
from edgenotify.notify.crypto import seal, unseal
assert asyncio.run(unseal(asyncio.run(seal('{}', None, 'u/webhook')), None, 'u/webhook')) == '{}'
"""


def test_data_layer_imports_without_compiled_packages():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, cwd=SRC)
    assert done.returncode == 0, done.stderr
