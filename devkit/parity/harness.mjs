// The parity runtime: our Python code on real Pyodide (Python 3.13) against Miniflare's real D1, KV and R2.
//
//   node devkit/parity/harness.mjs --root <repo> --wheels <dir> [--json <out.json>] [--only name,name]
//                                  [--receivers <json: name -> base URL>] [--coverage <out.json>]
//   node devkit/parity/harness.mjs --root <repo> --wheels <dir> --bench <spec.json>
//
// The second form is the benchmark mode (bench/pyodide_jobs.py): Miniflare on the spec's config and
// persist directory (which the caller prepared, e.g. with a generated D1 file), then
// devkit/parity/pyodide_bench.py instead of the contracts; it writes the figures to the spec's "out".
//
// 1. wrangler's getPlatformProxy() starts Miniflare with the bindings of the project's wrangler.toml
//    (persisted in a fresh temporary directory, removed at exit; offline, no worker script is run).
// 2. Pyodide 0.28 from the npm package loads, the pinned pure-Python wheels (wheels.txt: workers-runtime-sdk,
//    sqlglot, httpx and its dependencies) are installed from local files, and src/, tests/contract/ and
//    devkit/parity/ are mounted read-through.
// 3. devkit/parity/pyodide_glue.py wraps each binding with the SDK's _BindingWrapper (as production does;
//    D1 through the local forwarding stand-ins below), runs the harness self-checks and every contract in
//    tests/contract/, and returns the results.
// Prints one line per test and "N passed, N failed"; exits 1 when anything failed or could not run.
// Miniflare and Pyodide start once per run: the whole suite is one process.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

const RUN_TIMEOUT_MS = 360_000; // generous: a loaded 2-core machine runs the suite 3-5x slower than an idle one

function options() {
  const { values } = parseArgs({
    options: {
      root: { type: "string" },
      wheels: { type: "string" },
      json: { type: "string" },
      only: { type: "string" },
      receivers: { type: "string" },
      coverage: { type: "string" },
      bench: { type: "string" },
    },
  });
  if (!values.root || !values.wheels) {
    console.error("usage: harness.mjs --root <repo> --wheels <dir> [--json <file>] [--only a,b]");
    process.exit(2);
  }
  return {
    root: path.resolve(values.root),
    wheels: path.resolve(values.wheels),
    json: values.json ? path.resolve(values.json) : null,
    only: values.only ? values.only.split(",").filter(Boolean) : [],
    receivers: values.receivers ?? "{}",
    coverage: values.coverage ? path.resolve(values.coverage) : null,
    bench: values.bench ? path.resolve(values.bench) : null,
  };
}

async function startBindings(configPath, persistDir) {
  const { getPlatformProxy } = await import("wrangler");
  // The declared secrets, with the values the contract suite's runners give both runtimes
  // (tests/contract/contracts.py: CONTRACT_SECRETS); set, not defaulted, so a developer's cannot leak in.
  Object.assign(process.env, { API_TOKEN: "contract-client-token", ADMIN_TOKEN: "contract-admin-token" });
  return getPlatformProxy({
    configPath,
    persist: { path: persistDir },
    remoteBindings: false,
    // A developer's .dev.vars (e.g. CONFIG_ENCRYPTION_KEY) must not leak into the contracts: wrangler
    // reads .dev.vars whenever envFiles is empty, so name one env file that does not exist instead.
    envFiles: [".parity-no-env-file"],
  });
}

async function startPython(opts) {
  const { loadPyodide } = await import("pyodide");
  // Python's own output goes to stderr so that stdout carries only the results.
  const write = (line) => process.stderr.write(`[pyodide] ${line}\n`);
  const py = await loadPyodide({ stdout: write, stderr: write });
  const wheels = fs.readdirSync(opts.wheels).filter((f) => f.endsWith(".whl"));
  if (wheels.length === 0) throw new Error(`no wheels in ${opts.wheels} (run devkit/parity/fetch_wheels.sh)`);
  for (const wheel of wheels) {
    // unpackArchive refuses a Node Buffer: it needs a plain Uint8Array.
    py.unpackArchive(new Uint8Array(fs.readFileSync(path.join(opts.wheels, wheel))), "wheel");
  }
  const mounts = {
    "/parity/src": path.join(opts.root, "src"),
    "/parity/tests/contract": path.join(opts.root, "tests", "contract"),
    "/parity/glue": path.join(opts.root, "devkit", "parity"),
  };
  for (const [target, host] of Object.entries(mounts)) {
    py.FS.mkdirTree(target);
    py.mountNodeFS(target, host);
  }
  py.runPython("import sys; sys.path[:0] = ['/parity/src', '/parity', '/parity/glue']");
  return py;
}

// workerd's non-standard crypto.DigestStream, which Node lacks: a WritableStream whose `digest` promise
// resolves to the ArrayBuffer of the hash of all bytes written, once it is closed. The stand-in hashes
// with node:crypto (OpenSSL, natively, on this thread, as workerd's BoringSSL does), so the benchmark
// meters a native hash where production has one. Algorithm names as workerd takes them ("SHA-256").
class DigestStream extends WritableStream {
  constructor(algorithm) {
    const name = typeof algorithm === "string" ? algorithm : algorithm.name;
    const hash = createHash(name.toLowerCase().replace("-", ""));
    let settle;
    const digest = new Promise((resolve, reject) => (settle = { resolve, reject }));
    super({
      write(chunk) {
        hash.update(chunk);
      },
      close() {
        const out = hash.digest();
        settle.resolve(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
      },
      abort(reason) {
        settle.reject(reason);
      },
    });
    this.digest = digest;
  }
}
globalThis.crypto.DigestStream ??= DigestStream;

// Local stand-ins for D1's client-side objects, forwarding every call one-to-one to Miniflare's binding.
//
// Why: getPlatformProxy's objects are Node proxies in which EVERY property access is a synchronous round
// trip to workerd. The SDK wrapper inspects each result (constructor.name, to_py), which costs ~5 extra
// round trips per prepare()/bind() (~60 ms each instead of ~12 ms, measured). In production, prepare()
// and bind() return local JS objects too (workerd's d1-api.ts). Each method below calls the same method
// on the Miniflare object with the same arguments, so values, validation (bind's D1_TYPE_ERROR, thrown
// synchronously) and errors are Miniflare's own; only the objects Python inspects are local. KV and R2
// stay raw proxies: their calls return plain data and are few.
class D1PreparedStatement {
  constructor(remote) {
    this.remote = remote;
  }
  bind(...values) {
    return new D1PreparedStatement(this.remote.bind(...values));
  }
  first(...args) {
    return this.remote.first(...args);
  }
  all(...args) {
    return this.remote.all(...args);
  }
  run(...args) {
    return this.remote.run(...args);
  }
  raw(...args) {
    return this.remote.raw(...args);
  }
}

const unwrap = (statements) => Array.from(statements, (s) => (s instanceof D1PreparedStatement ? s.remote : s));

class D1DatabaseSession {
  constructor(remote) {
    this.remote = remote;
  }
  prepare(sql) {
    return new D1PreparedStatement(this.remote.prepare(sql));
  }
  batch(statements) {
    return this.remote.batch(unwrap(statements));
  }
  getBookmark() {
    return this.remote.getBookmark();
  }
}

class D1Database {
  constructor(remote) {
    this.remote = remote;
  }
  prepare(sql) {
    return new D1PreparedStatement(this.remote.prepare(sql));
  }
  batch(statements) {
    return this.remote.batch(unwrap(statements));
  }
  exec(sql) {
    return this.remote.exec(sql);
  }
  withSession(...args) {
    return new D1DatabaseSession(this.remote.withSession(...args));
  }
}

// The ExecutionContext a Worker's fetch() gets, as far as our code uses it: waitUntil() and
// passThroughOnException(). Its toStringTag is workerd's, so the SDK's patchWaitUntil (below) applies.
// settled() is the harness's own: it resolves once every promise given to waitUntil has settled.
// Like workerd's, this ctx takes only promises until the SDK has patched it (WorkerEntrypoint.__init__).
class ExecutionContext {
  #pending = [];
  get [Symbol.toStringTag]() {
    return "ExecutionContext";
  }
  waitUntil(promise) {
    // A failure is logged, as workerd does, and never becomes an unhandled rejection.
    this.#pending.push(Promise.resolve(promise).catch((err) => console.error(`waitUntil task failed: ${err}`)));
  }
  passThroughOnException() {}
  async settled() {
    while (this.#pending.length > 0) await Promise.allSettled(this.#pending.splice(0));
  }
}

// workerd's patchWaitUntil (python-entrypoint-helper): the SDK calls it on every WorkerEntrypoint's ctx,
// so that waitUntil() accepts a Python awaitable. The proxy Pyodide passes is borrowed (destroyed when
// the call returns), so it is copied, awaited, then destroyed.
const waitUntilPatched = new WeakSet();
function patchWaitUntil(ctx) {
  if (Object.prototype.toString.call(ctx) !== "[object ExecutionContext]" || waitUntilPatched.has(ctx)) return;
  const original = ctx.waitUntil.bind(ctx);
  ctx.waitUntil = (p) =>
    original(
      (async () => {
        if (typeof p?.copy === "function") p = p.copy();
        await p;
        if (typeof p?.destroy === "function") p.destroy();
      })(),
    );
  waitUntilPatched.add(ctx);
}

const runtime = { newExecutionContext: () => new ExecutionContext(), patchWaitUntil };

function pythonEnv(env) {
  return { ...env, DB: new D1Database(env.DB) };
}

function report(results) {
  for (const r of results) {
    const cost = r.cpu_ms === undefined ? "" : `, CPU ${r.cpu_ms} ms, wasm heap ${r.heap_mb} MB`;
    const line = `${r.ok ? "PASS" : "FAIL"} ${r.name} (${r.ms} ms${cost})`;
    console.log(r.ok ? line : `${line}\n    ${String(r.error).split("\n").join("\n    ")}`);
  }
  const passed = results.filter((r) => r.ok).length;
  console.log(`${passed} passed, ${results.length - passed} failed`);
  return results.length > 0 && passed === results.length;
}

// CPU meters for the benchmark, in microseconds: this (main) thread, where Pyodide runs with the JS it
// calls and Miniflare's client side; and the whole Node process (adds its helper threads: V8's GC,
// libuv, Miniflare's synchronous-proxy worker). workerd, which executes the SQL, is another process.
const threadUs = () => {
  const u = process.threadCpuUsage();
  return u.user + u.system;
};
const meter = {
  thread: threadUs,
  process: () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  },
  miniflare: () => miniflareUs,
};

// Bench mode only: Miniflare's D1 and R2 bindings with the main-thread CPU of each of their calls, from
// the call until its promise settles, added up in miniflareUs. That is the client side of Miniflare's
// proxies (serialising arguments, decoding results), which production does not have: nothing else runs
// on the thread meanwhile, and waiting for workerd costs no CPU. Overlapping calls (R2 uploads in
// flight together) count once: the meter runs while at least one call is open. Below the harness's
// D1 stand-ins, which see it as the Miniflare binding; statements are handed back to Miniflare unwrapped.
let miniflareUs = 0;
let openCalls = 0;
let openedAt = 0;
const meteredStatements = new WeakMap();

function timed(call) {
  if (openCalls++ === 0) openedAt = threadUs();
  const settle = () => {
    if (--openCalls === 0) miniflareUs += threadUs() - openedAt;
  };
  let result;
  try {
    result = call();
  } catch (err) {
    settle();
    throw err;
  }
  if (result && typeof result.then === "function") return Promise.resolve(result).finally(settle);
  settle();
  return result;
}

// An R2 binding, or an object one returned (R2Object, R2ObjectBody, multipart upload, uploaded part,
// list page): every property read and call on Miniflare's proxy is timed, objects it returns are wrapped
// alike, data (primitives, ArrayBuffers and views) is returned as it is, and a wrapped object passed back
// as an argument reaches Miniflare unwrapped.
const isData = (v) => v === null || typeof v !== "object" || v instanceof ArrayBuffer || ArrayBuffer.isView(v);
const meteredTargets = new WeakMap();
const unmetered = (v) => (Array.isArray(v) ? v.map(unmetered) : isData(v) ? v : (meteredTargets.get(v) ?? v));

function meteredR2(remote) {
  const wrap = (v) => (isData(v) ? v : meteredR2(v));
  const metered = new Proxy(remote, {
    get(target, prop) {
      const value = timed(() => Reflect.get(target, prop));
      if (typeof value !== "function") return wrap(value);
      if (prop === "constructor") return value; // the SDK reads constructor.name to choose its wrapper
      return (...args) => {
        const out = timed(() => value.apply(target, args.map(unmetered)));
        return out && typeof out.then === "function" ? out.then(wrap) : wrap(out);
      };
    },
  });
  meteredTargets.set(metered, remote);
  return metered;
}

function meteredStatement(remote) {
  const statement = {
    bind: (...values) => meteredStatement(timed(() => remote.bind(...values))),
    first: (...args) => timed(() => remote.first(...args)),
    all: (...args) => timed(() => remote.all(...args)),
    run: (...args) => timed(() => remote.run(...args)),
    raw: (...args) => timed(() => remote.raw(...args)),
  };
  meteredStatements.set(statement, remote);
  return statement;
}

function meteredD1(remote) {
  const unwrapped = (statements) => Array.from(statements, (s) => meteredStatements.get(s) ?? s);
  return {
    prepare: (sql) => meteredStatement(timed(() => remote.prepare(sql))),
    batch: (statements) => timed(() => remote.batch(unwrapped(statements))),
    exec: (sql) => timed(() => remote.exec(sql)),
    withSession: (...args) => {
      const session = timed(() => remote.withSession(...args));
      return { ...meteredD1(session), getBookmark: () => timed(() => session.getBookmark()) };
    },
  };
}

async function benchMain(opts) {
  const spec = JSON.parse(fs.readFileSync(opts.bench, "utf8"));
  const timer = setTimeout(() => {
    console.error(`parity bench: gave up after ${spec.timeout_ms} ms`);
    process.exit(1);
  }, spec.timeout_ms);
  let proxy = null;
  let ok = false;
  try {
    const [bindings, python] = await Promise.allSettled([startBindings(spec.config, spec.persist), startPython(opts)]);
    if (bindings.status === "fulfilled") proxy = bindings.value;
    for (const s of [bindings, python]) if (s.status === "rejected") throw s.reason;
    const env = proxy.env;
    const envs = Object.fromEntries(
      Object.entries(spec.databases).map(([role, name]) => [
        role,
        { ...env, DB: new D1Database(meteredD1(env[name])), BACKUPS: meteredR2(env.BACKUPS) },
      ]),
    );
    const bench = python.value.pyimport("pyodide_bench");
    const out = await bench.run(envs, runtime, meter, JSON.stringify(spec));
    fs.writeFileSync(spec.out, out);
    ok = JSON.parse(out).ok;
  } catch (err) {
    console.error(`parity bench: harness error: ${err && err.stack ? err.stack : err}`);
  } finally {
    clearTimeout(timer);
    if (proxy) await proxy.dispose();
  }
  process.exit(ok ? 0 : 1);
}

async function main() {
  const opts = options();
  if (opts.bench) return benchMain(opts);
  const started = Date.now();
  const persistDir = fs.mkdtempSync(path.join(os.tmpdir(), "edgenotify-parity-"));
  const timer = setTimeout(() => {
    console.error(`parity: gave up after ${RUN_TIMEOUT_MS} ms`);
    process.exit(1);
  }, RUN_TIMEOUT_MS);
  let proxy = null;
  let ok = false;
  try {
    // Miniflare and Pyodide start in parallel; a failure of either still disposes Miniflare below.
    const config = path.join(opts.root, "wrangler.toml");
    const [bindings, python] = await Promise.allSettled([startBindings(config, persistDir), startPython(opts)]);
    if (bindings.status === "fulfilled") proxy = bindings.value;
    for (const s of [bindings, python]) if (s.status === "rejected") throw s.reason;
    const py = python.value;
    const startup = Date.now() - started;
    const glue = py.pyimport("pyodide_glue");
    const out = await glue.run(pythonEnv(proxy.env), opts.only.join(","), startup, runtime, opts.receivers, !!opts.coverage);
    // Written as Python produced it: a round trip through JS numbers would turn 1e20 (a float) into an int.
    const payload = JSON.parse(out);
    if (opts.coverage) fs.writeFileSync(opts.coverage, JSON.stringify(payload.coverage));
    if (opts.json) fs.writeFileSync(opts.json, out);
    ok = report(payload.results);
    const total = Date.now() - started;
    console.log(`parity: Python ${payload.python}, Pyodide ${py.version}, startup ${startup} ms, total ${total} ms`);
  } catch (err) {
    console.error(`parity: harness error: ${err && err.stack ? err.stack : err}`);
  } finally {
    clearTimeout(timer);
    if (proxy) await proxy.dispose();
    fs.rmSync(persistDir, { recursive: true, force: true });
  }
  process.exit(ok ? 0 : 1);
}

await main();
