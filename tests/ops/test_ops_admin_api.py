"""The /admin operations routes on the running embedded server, and the crons that feed them."""

import asyncio
from datetime import timedelta

from edgenotify.clock import utcnow
from edgenotify.db import Database
from edgenotify.migrations import _bundle
from edgenotify.ops.backups import manifest as mf
from edgenotify.scheduled import BACKUP_CRON, MAINTENANCE_CRON


def _admin(worker):
    return worker.headers("admin")


def test_admin_routes_need_the_admin_token(worker) -> None:
    for method, path in (("GET", "/admin/health"), ("GET", "/admin/backups"), ("POST", "/admin/query-plan")):
        assert worker.client.request(method, path, headers=worker.headers("client")).status_code == 403
        assert worker.client.request(method, path).status_code == 401


def test_backup_list_status_get_and_restore_over_http(worker) -> None:
    client, admin = worker.client, _admin(worker)
    status = client.get("/admin/backups/status", headers=admin).json()
    assert status["health"]["status"] == "warning" and status["health"]["reasons"] == ["no complete backup exists"]

    created = client.post("/admin/backups", headers=admin)
    assert created.status_code == 201, created.text
    manifest = created.json()
    listed = client.get("/admin/backups", headers=admin).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == manifest["id"] and listed["items"][0]["complete"]
    assert listed["items"][0]["etag"] == manifest["object"]["etag"] and listed["items"][0]["steps"] == 1
    status = client.get("/admin/backups/status", headers=admin).json()
    assert status["health"]["status"] == "healthy" and status["health"]["latest"]["id"] == manifest["id"]
    one = client.get(f"/admin/backups/{manifest['id']}", headers=admin).json()
    assert one["manifest"] == manifest

    # the database now holds the audit row of that backup: a restore must be forced
    dry = client.post(f"/admin/backups/{manifest['id']}/restore", headers=admin)
    assert dry.status_code == 200 and dry.json()["dry_run"] and not dry.json()["ok"]
    assert dry.json()["refusals"][0]["code"] == "target_not_empty"
    refused = client.post(f"/admin/backups/{manifest['id']}/restore", headers=admin, json={"dry_run": False})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "target_not_empty"
    done = client.post(
        f"/admin/backups/{manifest['id']}/restore",
        headers=admin,
        json={"dry_run": False, "force": True, "quiesce_seconds": 0},
    )
    assert done.status_code == 200, done.text
    job = done.json()["job"]
    assert job["status"] == "complete" and job["verification"]["ok"] and job["phase"] == "done"
    audit = asyncio.run(Database(worker.env.DB).all("SELECT action, resource_id FROM audit_logs ORDER BY id"))
    # the restored state had the backup's start row; the restore's own rows are written at its end
    assert [a["action"] for a in audit] == ["backup.start", "restore.start", "restore.complete"]
    assert audit[1]["resource_id"] == job["id"]
    shown = client.get(f"/admin/jobs/{job['id']}", headers=admin).json()
    assert shown["status"] == "complete" and shown["checks"] and all(c["ok"] for c in shown["checks"])
    jobs = client.get("/admin/jobs", headers=admin).json()["items"]
    assert [j["kind"] for j in jobs] == ["restore", "backup"]  # ops_jobs is never replaced by a restore

    assert client.get("/admin/backups/nope", headers=admin).status_code == 422
    missing = client.post("/admin/backups/20200101T000000000Z-abcdef/restore", headers=admin)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "backup_not_found"
    bad = client.post(f"/admin/backups/{manifest['id']}/restore", headers=admin, json={"dry_run": "x", "extra": 1})
    assert bad.status_code == 422


def test_background_backup_and_the_backup_cron_with_retention(worker) -> None:
    client, admin = worker.client, _admin(worker)
    started = client.post("/admin/backups", headers=admin, json={"wait": False})
    assert started.status_code == 201  # small: the job finished within the request, no waitUntil involved

    async def plant_old_backups():  # two complete backups from 40 and 41 days ago, one stale incomplete
        r2 = worker.env.BACKUPS
        ids = [mf.new_backup_id(utcnow() - timedelta(days=d)) for d in (40, 41, 2)]
        for backup_id in ids:
            await r2.put(mf.data_key(backup_id), b"x")
        for backup_id in ids[:2]:
            fake = {"format": mf.FORMAT, "format_version": 3, "id": backup_id, "created_at": "", "tables": []}
            fake |= {"migration": {}, "object": {"size": 1}}  # complete: the data object has the recorded size
            await r2.put(mf.manifest_key(backup_id), mf.encode(fake))
        return ids

    old = asyncio.run(plant_old_backups())
    assert worker.scheduled(BACKUP_CRON).status_code == 200
    listed = client.get("/admin/backups", headers=admin).json()["items"]
    ids = [b["id"] for b in listed]
    assert started.json()["id"] in ids and len(ids) == 4  # background + cron + the two old ones (keep_last 7)
    assert old[2] not in ids  # incomplete for two days: gone
    runs = client.get("/admin/maintenance/runs", headers=admin, params={"task": "backup"}).json()
    assert runs["latest"]["status"] == "success" and runs["latest"]["details"]["id"] in ids
    retention = client.get("/admin/maintenance/runs", headers=admin, params={"task": "backup_retention"}).json()
    assert retention["latest"]["details"]["deleted"] == [old[2]]
    # a stricter policy from system_configs: keep only the newest backup
    asyncio.run(
        Database(worker.env.DB).run(
            "INSERT INTO system_configs (config_key, config_value) VALUES ('ops.backup_keep_last', '1')"
        )
    )
    dry = client.post("/admin/backups/retention", headers=admin).json()
    assert dry["dry_run"] and {d["id"] for d in dry["delete"]} == set(old[:2])
    applied = client.post("/admin/backups/retention", headers=admin, json={"dry_run": False}).json()
    assert applied["deleted_keys"] == 4 and len(client.get("/admin/backups", headers=admin).json()["items"]) == 2


def test_health_states(worker) -> None:
    client, admin = worker.client, _admin(worker)
    fresh = client.get("/admin/health", headers=admin)
    assert fresh.status_code == 200 and fresh.json()["status"] == "degraded"
    assert fresh.json()["reasons"] == ["backups: no complete backup exists"]
    checks = {c["name"]: c for c in fresh.json()["checks"]}
    assert checks["tables"]["missing"] == [] and checks["migrations"]["pending"] == []
    assert checks["size"]["bytes"] > 0 and checks["size"]["source"] == "size_after" and checks["d1"]["latency_ms"] >= 0

    assert client.post("/admin/backups", headers=admin).status_code == 201
    assert worker.scheduled(MAINTENANCE_CRON).status_code == 200
    healthy = client.get("/admin/health", headers=admin).json()
    assert healthy["status"] == "healthy", healthy["reasons"]
    assert {c["name"]: c for c in healthy["checks"]}["maintenance"]["last_status"] == "success"

    asyncio.run(Database(worker.env.DB).run("DROP TABLE user_stats"))
    broken = client.get("/admin/health", headers=admin)
    assert broken.status_code == 503 and broken.json()["status"] == "unhealthy"
    assert "tables: missing table(s): user_stats" in broken.json()["reasons"]


def test_maintenance_over_http_and_its_runs(worker) -> None:
    client, admin = worker.client, _admin(worker)
    ran = client.post("/admin/maintenance/run", headers=admin)
    assert ran.status_code == 200 and ran.json()["status"] == "success", ran.json()
    runs = client.get("/admin/maintenance/runs", headers=admin).json()
    assert runs["latest"]["task_name"] == "maintenance" and runs["latest"]["status"] == "success"
    assert {r["task_name"] for r in runs["items"]} >= {"maintenance.integrity", "maintenance.archive_logs"}


def test_migrations_capacity_and_query_plan_routes(worker) -> None:
    client, admin = worker.client, _admin(worker)
    migrations = client.get("/admin/migrations", headers=admin).json()
    bundled = [name for name, _ in _bundle.MIGRATIONS]
    assert migrations["applied"] == bundled and migrations["pending"] == []
    assert migrations["current"] and migrations["ledger"][0]["sha256"] == migrations["files"][0]["sha256"]

    capacity = client.get("/admin/capacity", headers=admin, params={"days": 7})
    assert capacity.status_code == 200
    report = capacity.json()
    assert report["window_days"] == 7 and [p["days"] for p in report["projections"]] == [30, 365]
    assert {t["name"] for t in report["tables"]} >= {"notification_logs", "audit_logs"}
    assert client.get("/admin/capacity", headers=admin, params={"days": 0}).status_code == 422

    plan = client.post(
        "/admin/query-plan",
        headers=admin,
        json={"sql": "SELECT * FROM user_stats WHERE failed_count = ?", "params": [1]},
    )
    assert plan.status_code == 200 and plan.json()["full_scans"] == ["user_stats"]
    refused = client.post("/admin/query-plan", headers=admin, json={"sql": "DELETE FROM user_stats"})
    assert refused.status_code == 422 and refused.json()["error"] == {
        "code": "not_a_select",
        "message": "only a read-only SELECT is allowed, not DELETE",
        "field": "sql",
    }
    multiple = client.post("/admin/query-plan", headers=admin, json={"sql": "SELECT 1; SELECT 2"})
    assert multiple.json()["error"]["code"] == "multiple_statements"
