"""``scripts/dev`` in a real terminal (tmux): Ctrl-C shuts down gracefully, a second Ctrl-C stops at once, cleanly.

To keep the graceful shutdown waiting, a notification is sent to a webhook receiver that accepts the connection
and never answers: the delivery (``waitUntil`` work, which a graceful shutdown finishes) holds for its timeout, so
the second Ctrl-C lands while the first one's shutdown is still waiting.
The process must end with the documented exit code 130, the screen with no traceback.
Needs tmux (Debian package).
"""

import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
from setup_kit import ROOT

from devkit.embedded.env import parse_dotenv

DEADLINE_S = 120


def pane(session: str) -> str:
    out = subprocess.run(["tmux", "capture-pane", "-p", "-J", "-S", "-2000", "-t", session], capture_output=True)
    return out.stdout.decode(errors="replace")


def tmux_format(session: str, fmt: str) -> str:
    return subprocess.run(["tmux", "display", "-p", "-t", session, fmt], capture_output=True, text=True).stdout.strip()


def wait_for(session: str, text: str) -> str:
    """Poll the screen until ``text`` appears (bounded by DEADLINE_S)."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        screen = pane(session)
        if text in screen:
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared:\n{pane(session)}")


def deliver_to_a_silent_receiver(base: str, receiver: socket.socket) -> socket.socket:
    """Send one notification to a webhook at ``receiver``; return once the delivery has connected to it."""
    token = {"authorization": f"Bearer {parse_dotenv((ROOT / '.dev.vars').read_text())['API_TOKEN']}"}
    hook = {"url": f"http://127.0.0.1:{receiver.getsockname()[1]}/hook", "secret": "whsec_" + "MDEy" * 8}
    put = httpx.put(f"{base}/v1/users/u1/channels/webhook", json={"config": hook}, headers=token, timeout=30)
    assert put.status_code in (200, 201), put.text
    body = {"user_id": "u1", "subject": "Hi", "content": "held"}
    sent = httpx.post(f"{base}/v1/notifications", json=body, headers=token | {"idempotency-key": "held"}, timeout=30)
    assert sent.status_code in (200, 201, 202), sent.text
    receiver.settimeout(DEADLINE_S)
    held, _ = receiver.accept()  # the delivery is now in flight, waiting for an answer that never comes
    return held


def test_second_ctrl_c_stops_at_once_without_a_traceback(tmp_path: Path) -> None:
    assert shutil.which("tmux"), "this test needs tmux (apt-get install tmux)"
    session = f"edgenotify-dev-{uuid.uuid4().hex[:8]}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The shell reports the exit status itself: tmux's pane_dead_status needs the tmux server to reap the
    # process, which it did not always do on a loaded machine (the pane died, the status stayed empty).
    # `trap : INT`: the wrapping shell outlives both Ctrl-Cs (the dev server gets SIGINT's default handling).
    dev = f"scripts/dev --port {port} --state-dir {tmp_path / 'state'}"
    command = f"bash -c 'trap : INT; {dev}; echo dev-exit-status=$?'"
    tmux = ["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "50", "-c", str(ROOT), command]
    subprocess.run(tmux, check=True)
    subprocess.run(["tmux", "set-option", "-w", "-t", session, "remain-on-exit", "on"], check=True)  # keep the screen
    try:
        wait_for(session, f"[embedded] ready on http://127.0.0.1:{port}")
        with (
            socket.create_server(("127.0.0.1", 0)) as receiver,
            deliver_to_a_silent_receiver(f"http://127.0.0.1:{port}", receiver),  # the delivery's socket, held open
        ):
            subprocess.run(["tmux", "send-keys", "-t", session, "C-c"], check=True)
            wait_for(session, "[embedded] shutting down")
            subprocess.run(["tmux", "send-keys", "-t", session, "C-c"], check=True)
            wait_for(session, "[embedded] interrupted")
            screen = wait_for(session, "dev-exit-status=")  # the process exits right after that line
            status = screen.split("dev-exit-status=", 1)[1].split()[0]
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    assert status == "130", screen
    assert "Traceback" not in screen and "KeyboardInterrupt" not in screen, screen
