"""``python -m devkit.embedded serve [--port N] [--host H] [--state-dir DIR]``: the local Worker.

Exit codes: 0 after a graceful shutdown (Ctrl-C / SIGTERM), 2 for bad arguments, 3 when the
address is already in use, 130 when a second Ctrl-C cuts the graceful shutdown short.
"""

import argparse
import asyncio
import errno
import os
import signal
import sys
from pathlib import Path

from devkit.embedded.env import DEFAULT_STATE_DIR, ROOT, build_env
from devkit.embedded.runtime import Runtime
from devkit.embedded.server import EmbeddedServer
from edgenotify.limits import LimitsConfigError

EXIT_PORT_IN_USE = 3
EXIT_INTERRUPTED = 130


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devkit.embedded", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the Worker on loopback")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787, help="0 picks a free port")
    serve.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    serve.add_argument("--config", type=Path, default=ROOT / "wrangler.toml")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> int:
    env = build_env(args.state_dir, args.config)
    try:
        runtime = Runtime(env, config_path=args.config)
    except LimitsConfigError as exc:  # a LIMIT_* value from .dev.vars or the shell
        env.close()
        print(f"error: {exc}", file=sys.stderr)
        return 2  # the exit code of bad arguments
    server = EmbeddedServer(runtime, args.host, args.port, log=lambda line: print(line, flush=True))
    try:
        await server.start()
    except OSError as exc:
        env.close()
        if exc.errno == errno.EADDRINUSE:
            print(f"error: {args.host}:{args.port} is already in use; pick another with --port", file=sys.stderr)
            return EXIT_PORT_IN_USE
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"[embedded] ready on {server.url} (state: {args.state_dir})", flush=True)
    await stop.wait()
    print("[embedded] shutting down: finishing requests and waitUntil work", flush=True)
    for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C stops at once
        loop.remove_signal_handler(sig)
    await server.shutdown()
    env.close()
    print("[embedded] stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return asyncio.run(serve(args))
    except KeyboardInterrupt:  # the second Ctrl-C: the handlers are gone, stop now without a traceback
        print("[embedded] interrupted: stopped without finishing pending work", file=sys.stderr, flush=True)
        sys.stdout.flush()
        # Now, as promised: a normal exit would wait for executor threads still blocked in pending work.
        os._exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
