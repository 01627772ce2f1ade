"""The API scenario shared by the round-trip and HTTP benchmarks: a user, a webhook, a template.

The user is one of the generated data's 1,000 users, so log pages and stats run over realistic
history; the webhook points at a loopback :class:`bench.receiver.Receiver`.
"""

import base64
import json
import shutil
from pathlib import Path
from typing import Any

from bench.datagen import ROOT

USER = "user_0001"
TEMPLATE = "bench_order"
API_TOKEN = "bench-api-token"
ADMIN_TOKEN = "bench-admin-token"
SECRET = "whsec_" + base64.b64encode(b"edgenotify-bench-signing-key-32b").decode()


def state_with(db_file: Path, state_dir: Path) -> Path:
    """An embedded-runtime state directory whose D1 database is a copy of ``db_file``."""
    target = state_dir / "d1" / "DB.sqlite3"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(db_file, target)
    return state_dir


def config_dir(directory: Path) -> Path:
    """wrangler.toml + a .dev.vars with development mode and our tokens (never the repo's .dev.vars)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "wrangler.toml", directory / "wrangler.toml")
    (directory / ".dev.vars").write_text(
        f"ENVIRONMENT=development\nAPI_TOKEN={API_TOKEN}\nADMIN_TOKEN={ADMIN_TOKEN}\n", encoding="utf-8"
    )
    return directory / "wrangler.toml"


def auth() -> dict[str, str]:
    return {"authorization": f"Bearer {API_TOKEN}"}


def config_path() -> str:
    return f"/v1/users/{USER}/channels/webhook"


def config_body(receiver_url: str) -> dict[str, Any]:
    return {"config": {"url": receiver_url, "secret": SECRET}, "is_active": True}


def template_body() -> dict[str, Any]:
    return {
        "name": "Order shipped (bench)",
        "variables": [{"name": "name"}, {"name": "order_id"}, {"name": "carrier", "required": False, "default": "DHL"}],
        "contents": {
            "webhook": {
                "subject_template": "Order {{ order_id }} shipped",
                "content_template": "Hi {{ name }}, good news: your order #{{ order_id }} left our warehouse and is "
                "on its way with {{ carrier }}. Track it at https://track.example.com/{{ order_id }} — questions? "
                "Just reply, we are here 24/7.",
            }
        },
    }


def send_body(n: int) -> dict[str, Any]:
    return {"user_id": USER, "template_key": TEMPLATE, "variables": {"name": "Ana", "order_id": f"B{n:07d}"}}


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()
