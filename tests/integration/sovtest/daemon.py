"""The REAL sovdns daemon with datacenters, services, probes and the HTTP API,
on loopback, for the API tests (test_api_*.py) and the end-to-end tests.

The API listens on port 0 unless the configuration says otherwise: the daemon
binds it and logs "HTTP API listening on ADDR:N", which is where the port is
read from (no pick-then-bind race). The DNS listen address must be written in
the configuration, so it is picked (ports.pick_endpoint) and start() tries
another one when the daemon exits because it was taken meanwhile.

Readiness: GET /v1/status answers 200 with probes_ready, and the first zone's
SOA is served over UDP and TCP. Every wait is bounded; the process is ended by
the PID we started; stop() wants exit status 0 and no sanitizer report.
"""

from __future__ import annotations

import copy
import json
import random
import signal
import subprocess
from pathlib import Path

from .api import ApiClient
from .paths import BOUND_S, default_sovdns_bin
from .ports import fmt_hostport, pick_endpoint
from .procs import end, port_in_log, read_log, sanitizer_report, tail
from .servers import soa_answers
from .wait import wait_until

START_ATTEMPTS = 5
API_PORT_RE = r"API listening on (?:port |\S+:)(\d+) "  # ADDR:N (older builds: port N)


class StartRefused(Exception):
    def __init__(self, rc, stdout, stderr):
        super().__init__(f"sovdns exited with {rc}:\n{stderr}")
        self.rc, self.stdout, self.stderr = rc, stdout, stderr


def write_tokens(directory: Path, tokens: dict) -> list:
    """Token files (0600) for {name: (scope, secret)}; returns api.tokens entries."""
    out = []
    for name, (scope, secret) in tokens.items():
        f = Path(directory) / f"{name}.token"
        f.write_text(secret + "\n")
        f.chmod(0o600)
        out.append({"name": name, "file": str(f), "scope": scope})
    return out


class ApiDaemon(ApiClient):
    """One sovdns process. conf is the whole configuration except "listen"
    (picked here); "api" gets listen 127.0.0.1:0 and the token files unless
    given; state_dir defaults to workdir/state."""

    def __init__(self, workdir: Path, conf: dict, *, tokens: dict, state_dir: Path | None = None,
                 config_name: str = "sovdns.json"):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tokens = tokens
        self.state_dir = Path(state_dir) if state_dir else self.dir / "state"
        self.config_path = self.dir / config_name
        self.log_path = self.dir / "sovdns.log"
        self.rng = random.Random()
        self.addr, self.dns_port = pick_endpoint(self.rng)
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.conf = copy.deepcopy(conf)
        self.conf.setdefault("state_dir", str(self.state_dir))
        api = self.conf.setdefault("api", {})
        api.setdefault("listen", "127.0.0.1:0")
        api.setdefault("tokens", write_tokens(self.dir, tokens))
        self.write_config()

    # -- files -----------------------------------------------------------
    def write_config(self):
        conf = {"listen": [fmt_hostport(self.addr, self.dns_port)], **self.conf}
        self.config_path.write_text(json.dumps(conf, indent=2) + "\n")

    def log(self) -> str:
        return read_log(self.log_path)

    @property
    def target(self):
        return self.addr, self.dns_port

    def first_zone(self) -> str | None:
        zones = self.conf.get("zones") or []
        return zones[0]["origin"] if zones else None

    # -- process ---------------------------------------------------------
    def command(self):
        binary = default_sovdns_bin().resolve()  # the daemon runs in its workdir
        assert binary.exists(), f"{binary} not found: build first or set SOVDNS_BIN"
        return [str(binary), "--config", str(self.config_path)]

    def start(self) -> "ApiDaemon":
        assert self.proc is None, "already running"
        for attempt in range(START_ATTEMPTS):
            offset = len(self.log().encode())
            with open(self.log_path, "ab") as log:
                log.write(f"\n=== {' '.join(self.command())}\n".encode())
                log.flush()
                self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
            try:
                if self._wait_ready(offset):
                    return self
            except BaseException:
                end(self.proc, signal.SIGKILL)
                self.proc = None
                raise
            # exited: the DNS address taken meanwhile? then another one
            text = self.log().encode()[offset:].decode(errors="replace")
            self.proc = None
            if "in use" not in text or attempt == START_ATTEMPTS - 1:
                raise AssertionError(f"sovdns exited during start-up:\n{tail(text)}")
            self.addr, self.dns_port = pick_endpoint(self.rng)
            self.write_config()
        raise AssertionError("unreachable")

    def _wait_ready(self, offset: int) -> bool:
        """True once ready; False if the process exited."""
        origin = self.first_zone()

        def ready():
            if self.proc.poll() is not None:
                return "exited"
            text = self.log().encode()[offset:].decode(errors="replace")
            port = port_in_log(text, API_PORT_RE)
            if port is None:
                return False
            self.port = port
            if origin and not soa_answers(self.addr, self.dns_port, origin):
                return False
            try:
                r = self.get("/v1/status")
            except OSError:  # requests' ConnectionError, SSL errors
                return False
            return r.status_code == 200 and r.json().get("probes_ready") is True
        return wait_until(ready, what="sovdns to serve DNS and GET /v1/status") is True

    def start_refused(self) -> StartRefused:
        """Starts expecting a refusal: the exit code, stdout and stderr apart."""
        r = subprocess.run(self.command(), stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=BOUND_S, cwd=self.dir)
        if r.returncode == 0:
            raise AssertionError(f"sovdns exited 0, expected a refusal:\n{r.stderr}")
        return StartRefused(r.returncode, r.stdout, r.stderr)

    def start_failure(self) -> tuple[int, str]:
        """Starts expecting a refusal; returns (exit code, output)."""
        e = self.start_refused()
        return e.rc, e.stdout + e.stderr

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def reload_signal(self):
        assert self.alive()
        self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> int:
        """SIGTERM; the exit status must be 0 and the log free of sanitizer reports."""
        if self.proc is None:
            return 0
        rc = end(self.proc)
        self.proc = None
        text = self.log()
        assert not sanitizer_report(text), tail(text)
        assert rc == 0, f"sovdns exited with {rc} on SIGTERM:\n{tail(text)}"
        return rc

    def restart(self) -> "ApiDaemon":
        assert self.stop() == 0
        return self.start()
