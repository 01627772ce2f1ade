"""Run one contender as a child process and measure it the same way for everyone.

Every tool in a comparison (our CLIs, ``sqlite3``, wrangler) runs under ``/usr/bin/time -v``
for wall time and peak RSS, with a per-run timeout and an RSS cap enforced by sampling the
child's whole session (wrangler's memory is mostly its ``workerd`` grandchild). A tool that
fails, times out or blows the cap yields a ``Run`` saying so (``failed: <reason> after <t>``)
instead of an exception: an anchor dying is a result worth recording, not a crash. Without
``/usr/bin/time`` (Debian ``time``) only the sampled RSS is reported.
"""

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

TIME = "/usr/bin/time"
SAMPLE_SECONDS = 0.1
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class Run:
    label: str
    seconds: float
    ok: bool
    reason: str = ""  # why it failed; empty when ok
    max_rss_kib: int | None = None  # largest single process, from /usr/bin/time -v
    tree_rss_kib: int | None = None  # peak of the sampled sum over the child's session
    output_bytes: int | None = None

    @property
    def peak_kib(self) -> int | None:
        values = [v for v in (self.max_rss_kib, self.tree_rss_kib) if v]
        return max(values) if values else None

    @property
    def status(self) -> str:
        return "ok" if self.ok else f"failed: {self.reason} after {self.seconds:.1f} s"


def session_rss_kib(sid: int) -> int:
    """Sum of resident memory of every process in session ``sid`` (the child and its descendants)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[3]) == sid:  # fields after "(comm)": state ppid pgrp session ... rss is #22
            total += int(fields[21]) * PAGE_KIB
    return total


def parse_time_v(text: str) -> int | None:
    for line in text.splitlines():
        if "Maximum resident set size" in line:
            return int(line.rsplit(":", 1)[1])
    return None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NOISE = ("Command exited", "Command terminated", "🪵", "If you think this is a bug", "Note that there is")
_ERROR = re.compile(r"error|failed|✘|fatal|invalid|out of memory|killed", re.IGNORECASE)


def _tail(path: Path, limit: int = 300) -> str:
    """The most telling line of a failed tool's stderr: the last error-looking line, else the last line."""
    try:
        text = _ANSI.sub("", path.read_text(errors="replace"))
    except OSError:
        return ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(_NOISE)]
    errors = [ln for ln in lines if _ERROR.search(ln)]
    chosen = errors[-1] if errors else (lines[-1] if lines else "")
    return chosen[:limit]


def run(
    label: str,
    argv: list[str],
    *,
    timeout: float,
    work: Path,
    rss_cap_mib: int = 4096,
    stdin: Path | None = None,
    stdout: Path | None = None,
    output: Path | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Run:
    """Run ``argv``; ``output`` is the file whose size is reported (defaults to ``stdout``)."""
    if shutil.which(argv[0]) is None:
        return Run(label, 0.0, False, f"{argv[0]} is not installed")
    work.mkdir(parents=True, exist_ok=True)
    slug = "".join(c if c.isalnum() else "_" for c in label)
    timefile, errfile = work / f"{slug}.time", work / f"{slug}.stderr"
    out_fh = open(stdout, "wb") if stdout else subprocess.DEVNULL
    in_fh = open(stdin, "rb") if stdin else subprocess.DEVNULL
    started = time.perf_counter()
    try:
        with open(errfile, "wb") as err_fh:
            proc = subprocess.Popen(
                [TIME, "-v", "-o", str(timefile), *argv] if os.access(TIME, os.X_OK) else argv,
                stdin=in_fh,
                stdout=out_fh,
                stderr=err_fh,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
            reason, tree_peak = _watch(proc, started, timeout, rss_cap_mib)
    finally:
        for fh in (out_fh, in_fh):
            if fh is not subprocess.DEVNULL:
                fh.close()
    seconds = time.perf_counter() - started
    if not reason and proc.returncode != 0:
        reason = f"exit {proc.returncode}: {_tail(errfile) or _tail(timefile)}"
    max_rss = parse_time_v(timefile.read_text(errors="replace")) if timefile.exists() else None
    target = output or stdout
    size = target.stat().st_size if target and target.exists() and not reason else None
    return Run(label, seconds, not reason, reason, max_rss, tree_peak or None, size)


def _watch(proc: subprocess.Popen, started: float, timeout: float, cap_mib: int) -> tuple[str, int]:
    """Wait for ``proc``, sampling its session's RSS; kill the session on timeout or cap."""
    peak = 0
    while True:
        try:
            proc.wait(timeout=SAMPLE_SECONDS)
            return "", peak
        except subprocess.TimeoutExpired:
            pass
        peak = max(peak, session_rss_kib(proc.pid))
        elapsed = time.perf_counter() - started
        if elapsed > timeout:
            _kill(proc)
            return f"timeout ({timeout:g} s)", peak
        if peak > cap_mib * 1024:
            _kill(proc)
            return f"RSS cap {cap_mib} MiB exceeded", peak


def _kill(proc: subprocess.Popen) -> None:
    """Kill the child's process group (we created it with start_new_session), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
