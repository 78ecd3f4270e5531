"""Stand-in datacenters: probe_servers.py in a process of its own, so a test can
kill it (SIGKILL, a crashed site), start it again on the same port, or switch
an http site to failing (503) and back without stopping it."""

from __future__ import annotations

import atexit
import os
import select
import subprocess
import tempfile
import uuid
from pathlib import Path

from .paths import BOUND_S, PROBE_SERVERS, PY
from .ports import fmt_hostport


FAIL_FILES: list = []


@atexit.register
def _remove_fail_files():
    for f in FAIL_FILES:
        f.unlink(missing_ok=True)


class Site:
    """One stand-in endpoint (probe_servers.py MODE: http, https, blackhole,
    accept-close, dns) on bind:port (port 0: the stand-in picks one and reports it)."""

    def __init__(self, mode: str, bind: str, port: int = 0, extra=()):
        self.mode, self.bind, self.port, self.extra = mode, bind, port, list(extra)
        self.proc: subprocess.Popen | None = None
        # exists only while the site is switched to failing. Unique for ever: a
        # name from id(self) was reused by a later Site once this one was
        # gone, which then found the file of a site left failing and
        # answered 503 from its first probe on.
        self.fail_file = Path(tempfile.gettempdir()) / f"sovtest-site-{os.getpid()}-{uuid.uuid4().hex}"
        FAIL_FILES.append(self.fail_file)

    # name kept for the probe tests
    @property
    def addr(self) -> str:
        return self.bind

    def start(self, timeout_s: float = BOUND_S) -> "Site":
        assert self.proc is None, "already running"
        cmd = [PY, str(PROBE_SERVERS), self.mode, "--bind", self.bind, "--port", str(self.port)]
        if self.mode in ("http", "https"):
            cmd += ["--fail-file", str(self.fail_file)]
        self.proc = subprocess.Popen(cmd + self.extra, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                     text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("READY"):
            self.kill()
            raise AssertionError(f"{self.mode} stand-in on {self.bind}:{self.port} did not start")
        self.port = int(line.split()[1])
        return self

    def kill(self):
        """SIGKILL to the PID we started: a crash, no goodbye. Idempotent."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=BOUND_S)
            self.proc.stdout.close()
        self.proc = None

    stop = kill
    close = kill

    def restart(self) -> "Site":
        self.kill()
        return self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- failing without stopping (http/https) --
    @property
    def up(self) -> bool:
        return not self.fail_file.exists()

    @up.setter
    def up(self, value: bool):
        if value:
            self.fail_file.unlink(missing_ok=True)
        else:
            self.fail_file.touch()

    def fail(self):
        self.up = False

    def heal(self):
        self.up = True

    @property
    def hostport(self) -> str:
        return fmt_hostport(self.bind, self.port)

    target = hostport
