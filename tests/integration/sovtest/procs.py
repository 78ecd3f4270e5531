"""Processes the tests start: ended by the PID we hold, never by name."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

from .paths import BOUND_S


def end(proc: subprocess.Popen, sig=signal.SIGTERM, timeout=BOUND_S) -> int:
    """Ends a process we started: sig, then SIGKILL after the bound. Returns its status."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    return proc.returncode


def tail(text: str, lines: int = 80) -> str:
    return "\n".join(text.splitlines()[-lines:])


def read_log(path: Path) -> str:
    return Path(path).read_text(errors="replace") if Path(path).exists() else ""


def sanitizer_report(text: str) -> bool:
    """A sanitizer build reports leaks and undefined behaviour in its output."""
    return "Sanitizer" in text or "runtime error:" in text


def port_in_log(text: str, pattern: str) -> int | None:
    """The port a process reported in its log: pattern is a regex with one group."""
    m = re.findall(pattern, text)
    return int(m[-1]) if m else None
