// Run statements against Miniflare's real local D1 (getPlatformProxy) and print D1's own metadata.
//
// Why: rows_read / rows_written are what D1 bills, and only workerd's patched SQLite counts them;
// CPython's sqlite3 cannot. Usage: node bench/d1meta.mjs <wrangler.toml> <persist v3 dir> <job.json>
// job.json = {"steps": [{"label": str, "repeat": n, "batch": [{"sql": str, "params": [...]}, ...]}]}
// A step with one statement runs as prepare().all(); with several, as one db.batch([...]).
// Prints one JSON line per step: {"label", "meta": [per-statement meta of the last run], "ms": [wall per run]}.
import { readFileSync } from "node:fs";
import { getPlatformProxy } from "wrangler";

const [configPath, persistPath, jobPath] = process.argv.slice(2);
const job = JSON.parse(readFileSync(jobPath, "utf8"));
const proxy = await getPlatformProxy({ configPath, persist: { path: persistPath } });
const db = proxy.env.DB;

function statement(s) {
  const stmt = db.prepare(s.sql);
  return s.params && s.params.length ? stmt.bind(...s.params) : stmt;
}

try {
  for (const step of job.steps) {
    const ms = [];
    let metas = [];
    for (let i = 0; i < (step.repeat || 1); i++) {
      const t0 = performance.now();
      if (step.batch.length === 1) {
        const r = await statement(step.batch[0]).all();
        metas = [r.meta];
      } else {
        const rs = await db.batch(step.batch.map(statement));
        metas = rs.map((r) => r.meta);
      }
      ms.push(performance.now() - t0);
    }
    process.stdout.write(JSON.stringify({ label: step.label, meta: metas, ms }) + "\n");
  }
} finally {
  await proxy.dispose();
}
