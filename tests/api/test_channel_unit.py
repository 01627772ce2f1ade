"""A channel is one unit: a fourth channel defined in ONE module (tests/api/fourth_channel.py,
not shipped) and registered in the channel table gets validated and masked configs, its path,
its models in the OpenAPI document, SSRF checks, delivery, scrubbed errors and its failure policy,
with no other edit. Runs in a fresh interpreter: the API models derive from the table at import."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys
from edgenotify.notify import channels
from tests.api import fourth_channel
channels.register(fourth_channel.SPEC)

from pathlib import Path
from tests.conftest import start_worker
from tests.api.receivers import Receiver

receiver = Receiver()
worker, stop = start_worker(Path(sys.argv[1]))
auth = worker.headers("client")
client = worker.client
token = "pager-token-0123456789"
out = {}
try:
    url = f"{receiver.base_url}/page"
    put = lambda cfg: client.put("/v1/users/u1/channels/pager", json={"config": cfg}, headers=auth)
    out["bad_room"] = put({"url": url, "token": token, "room": "ops"}).json()
    out["unsafe"] = put({"url": "https://10.0.0.1/page", "token": token, "room": "#ops"}).json()
    out["put"] = put({"url": url, "token": token, "room": "#ops"}).json()
    out["get"] = client.get("/v1/users/u1/channels/pager", headers=auth).json()
    receiver.answer(503, {"error": f"token {token} rejected"})
    sent = client.post("/v1/notifications", json={"user_id": "u1", "content": "db down"}, headers=auth).json()
    worker.drain()
    message_id = sent["messages"][0]["message_id"]
    out["after_503"] = client.get(f"/v1/notifications/{message_id}", headers=auth).json()
    receiver.answer(423, {"error": "room locked"})
    sent = client.post("/v1/notifications", json={"user_id": "u1", "content": "again"}, headers=auth).json()
    worker.drain()
    out["after_423"] = client.get(f"/v1/notifications/{sent['messages'][0]['message_id']}", headers=auth).json()
    out["requests"] = [r.json for r in receiver.requests]
    out["auth"] = [r.headers["authorization"] for r in receiver.requests]
    document = client.get("/openapi.json").json()
    out["schemas"] = sorted(document["components"]["schemas"])
    param = document["paths"]["/v1/users/{user_id}/channels/{channel}"]["put"]["parameters"]
    out["channel_pattern"] = next(p["schema"]["pattern"] for p in param if p["name"] == "channel")
finally:
    stop()
    receiver.close()
print(json.dumps(out))
"""


def test_a_fourth_channel_defined_in_one_module_works_end_to_end(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "state")], capture_output=True, text=True, timeout=120,
        cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    token = "pager-token-0123456789"
    assert out["bad_room"]["error"]["field"] == "config.room"
    assert out["unsafe"]["error"] == {**out["unsafe"]["error"], "code": "unsafe_url", "field": "config.url"}
    assert out["put"]["config"]["token"] == "****6789" and out["get"]["config"]["room"] == "#ops"
    assert token not in json.dumps([out["put"], out["get"], out["after_503"]])
    assert out["requests"][0] == {"room": "#ops", "text": "db down"} and out["auth"][0] == f"Bearer {token}"
    retrying = out["after_503"]
    assert retrying["status"] == "pending" and retrying["attempts"][0]["outcome"] == "retrying"
    assert "****" in retrying["error"] and "****" in retrying["attempts"][0]["response_excerpt"]
    assert out["after_423"]["status"] == "failed"  # the channel's own policy
    assert {"PagerSettings", "MaskedPager"} <= set(out["schemas"])
    assert out["channel_pattern"] == "^(webhook|telegram|lark|pager)$"
