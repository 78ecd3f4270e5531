"""Start, probe, reload and stop DNS servers for the integration tests.

Three kinds share one interface so that the suite can be validated against
real peers before (and besides) sovdns:

  - Sovdns: the binary under test ($SOVDNS_BIN, default paths.SOVDNS_BIN_DEFAULT)
  - Knot:   knotd, with a generated knot.conf
  - Nsd:    nsd, with a generated nsd.conf

Every server listens on a random 127.0.0.x address and a random high port
(and optionally the same port on ::1). Start-up is retried on another
address/port when the process dies early with a non-zero status (a bind
race); readiness means "answers a SOA query for the first zone over UDP and
TCP", waited for with a bound. stop() sends SIGTERM to the PID we started,
waits with a bound, then SIGKILL. Nothing here kills by name.

Run as a script to start a peer in the foreground with the suite's zones:
    cd tests/integration && /usr/bin/python3 -m sovtest.servers knot 127.0.0.1:5399
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from .paths import ZONES_DIR, default_sovdns_bin
from .ports import fmt_hostport, ipv6_loopback_available, parse_hostport
from .ports import pick_endpoint as _pick

# (origin, path) of every zone the answer tests and the differential test use.
SUITE_ZONES = [
    ("example.test", ZONES_DIR / "example.test.zone"),
    ("lab.example.test", ZONES_DIR / "lab.example.test.zone"),
    ("edge.test", ZONES_DIR / "edge.test.zone"),
    ("rfc4592.test", ZONES_DIR / "rfc4592.test.zone"),
]

READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
START_ATTEMPTS = 5
DEFAULT_EDNS_PAYLOAD = 1232  # sovdns, Knot and NSD default (DNS flag day 2020)


class ServerError(Exception):
    pass


def pick_endpoint(rng: random.Random, want_ipv6: bool,
                  addr: str | None = None) -> tuple[str, int]:
    try:
        return _pick(rng, want_ipv6, addr)
    except OSError as e:
        raise ServerError(str(e)) from None


def soa_answers(addr: str, port: int, origin: str, timeout: float = 0.3) -> bool:
    """True if addr:port answers a SOA query for origin with NOERROR + SOA, over UDP and TCP."""
    q = dns.message.make_query(origin, dns.rdatatype.SOA)
    try:
        for send in (dns.query.udp, dns.query.tcp):
            r = send(q, addr, port=port, timeout=timeout)
            if r.rcode() != dns.rcode.NOERROR or not r.answer:
                return False
        return True
    except (OSError, EOFError, dns.exception.DNSException):
        return False


class Server:
    """A DNS server process we started. Subclasses write the config and the command."""

    kind = "?"
    reload_signal = signal.SIGHUP

    def __init__(self, workdir: Path, zones, *, ipv6: bool = False, edns_payload: int | None = None,
                 threads: int = 2, seed: int | None = None,
                 endpoint: tuple[str, int] | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.zones = [(o, Path(p)) for o, p in zones]
        self.ipv6 = ipv6 and ipv6_loopback_available()
        self.edns_payload = edns_payload
        self.threads = threads
        self.rng = random.Random(seed)
        self.endpoint = endpoint  # fixed address/port instead of a random pick
        self.fixed_addr: str | None = None  # a subclass that can only bind one address
        self.proc: subprocess.Popen | None = None
        self.addr = ""
        self.port = 0
        self.log_path = self.workdir / f"{self.kind}.stderr.log"
        self.returncode: int | None = None

    # -- to implement -------------------------------------------------------
    def command(self) -> list[str]:
        raise NotImplementedError

    # -- common -------------------------------------------------------------
    @property
    def target(self) -> tuple[str, int]:
        return self.addr, self.port

    @property
    def advertised_payload(self) -> int:
        """The EDNS payload size the server should put in its OPT (bytes)."""
        return self.edns_payload or DEFAULT_EDNS_PAYLOAD

    @property
    def listen(self) -> list[tuple[str, int]]:
        out = [(self.addr, self.port)]
        if self.ipv6:
            out.append(("::1", self.port))
        return out

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> "Server":
        last = ""
        for _attempt in range(START_ATTEMPTS):
            if self.endpoint:
                self.addr, self.port = self.endpoint
            else:
                self.addr, self.port = pick_endpoint(self.rng, self.ipv6, self.fixed_addr)
            cmd = self.command()
            with open(self.log_path, "ab") as log:
                log.write(f"\n=== {' '.join(map(str, cmd))}\n".encode())
                log.flush()
                self.proc = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT,
                                             cwd=self.workdir)
            status = self._wait_ready()
            if status == "ready":
                return self
            if status == "timeout":
                self._kill_unready()
                raise ServerError(f"{self.kind} did not answer a SOA query within "
                                  f"{READY_TIMEOUT_S} s on {fmt_hostport(*self.target)}\n"
                                  f"--- log {self.log_path} ---\n{self.log_text()[-4000:]}")
            rc = self.proc.returncode
            self.proc = None
            last = f"{self.kind} exited with status {rc} before answering"
            if rc == 0 or self.endpoint:
                break  # exiting with success without serving is not a bind race: do not retry
        raise ServerError(f"{last}\n--- log {self.log_path} ---\n{self.log_text()[-4000:]}")

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + READY_TIMEOUT_S
        origin = self.zones[0][0]
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "exited"
            if all(soa_answers(a, p, origin) for a, p in self.listen):
                return "ready"
            time.sleep(0.05)
        return "timeout"

    def _kill_unready(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        self.proc = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def reload(self):
        """Asks the server to re-read its zones (SIGHUP for sovdns)."""
        assert self.alive(), f"{self.kind} is not running"
        os.kill(self.pid, self.reload_signal)

    def stop(self) -> int:
        """SIGTERM, wait up to STOP_TIMEOUT_S, else SIGKILL. Returns the exit status
        (negative = killed by that signal). Idempotent."""
        if self.proc is None:
            return self.returncode if self.returncode is not None else 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=STOP_TIMEOUT_S)
                with open(self.log_path, "a") as log:
                    log.write(f"\n=== test harness: no exit within {STOP_TIMEOUT_S} s of SIGTERM, "
                              "sent SIGKILL\n")
        self.returncode = self.proc.returncode
        self.proc = None
        return self.returncode


class Sovdns(Server):
    kind = "sovdns"

    def __init__(self, workdir, zones, *, config_mode: bool = False, extra_args=(),
                 config_extra: dict | None = None, **kw):
        super().__init__(workdir, zones, **kw)
        self.binary = default_sovdns_bin()
        self.config_mode = config_mode
        self.extra_args = list(extra_args)
        self.config_extra = config_extra or {}
        self.config_path = self.workdir / "sovdns.json"

    def command(self):
        if not self.binary.exists():
            raise ServerError(f"sovdns binary not found: {self.binary} (set SOVDNS_BIN or build it)")
        if self.config_mode:
            conf = {
                "listen": [fmt_hostport(a, p) for a, p in self.listen],
                "threads": self.threads,
                "log": {"level": "debug"},
                "zones": [{"origin": o, "file": str(p)} for o, p in self.zones],
            }
            if self.edns_payload is not None:
                conf["edns_payload"] = self.edns_payload
            conf.update(self.config_extra)
            self.config_path.write_text(json.dumps(conf, indent=2) + "\n")
            return [self.binary, "--config", self.config_path, *self.extra_args]
        cmd = [self.binary]
        for a, p in self.listen:
            cmd += ["--listen", fmt_hostport(a, p)]
        for o, p in self.zones:
            cmd += ["--zone", f"{o}={p}"]
        cmd += ["--threads", str(self.threads), "--log-level", "debug"]
        if self.edns_payload is not None:
            cmd += ["--edns-payload", str(self.edns_payload)]
        return cmd + self.extra_args


class Knot(Server):
    kind = "knot"
    # knotd: SIGHUP reloads the configuration only; SIGUSR1 reloads all zones.
    reload_signal = signal.SIGUSR1

    def command(self):
        knotd = shutil.which("knotd") or "/usr/sbin/knotd"
        run = self.workdir / "run"
        db = self.workdir / "db"
        run.mkdir(exist_ok=True)
        db.mkdir(exist_ok=True)
        listen = "\n".join(f"    listen: {a}@{p}" for a, p in self.listen)
        zones = "\n".join(f"  - domain: {o}\n    file: {p}" for o, p in self.zones)
        payload = f"    udp-max-payload: {self.edns_payload}\n" if self.edns_payload else ""
        conf = f"""server:
    rundir: {run}
{listen}
    udp-workers: {self.threads}
    tcp-workers: {self.threads}
    background-workers: 1
{payload}
database:
    storage: {db}

control:
    listen: {run}/knot.sock

log:
  - target: stderr
    any: info

template:
  - id: default
    storage: {self.workdir}
    semantic-checks: off
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    dnssec-signing: off

zone:
{zones}
"""
        path = self.workdir / "knot.conf"
        path.write_text(conf)
        return [knotd, "-c", path]


class Nsd(Server):
    kind = "nsd"
    # NSD's own default (minimal-responses: no) when SOVDNS_NSD_DEFAULTS=1
    nsd_default_responses = os.environ.get("SOVDNS_NSD_DEFAULTS") == "1"

    def command(self):
        nsd = shutil.which("nsd") or "/usr/sbin/nsd"
        ips = "\n".join(f"  ip-address: {a}@{p}" for a, p in self.listen)
        zones = "\n".join(f"zone:\n  name: {o}\n  zonefile: {p}\n" for o, p in self.zones)
        size = self.edns_payload or 1232
        conf = f"""server:
{ips}
  port: {self.port}
  do-ip4: yes
  do-ip6: {'yes' if self.ipv6 else 'no'}
  username: ""
  chroot: ""
  zonesdir: "{self.workdir}"
  database: ""
  zonelistfile: "{self.workdir}/zone.list"
  xfrdfile: "{self.workdir}/xfrd.state"
  xfrdir: "{self.workdir}"
  pidfile: "{self.workdir}/nsd.pid"
  server-count: {self.threads}
  ipv4-edns-size: {size}
  ipv6-edns-size: {size}
  verbosity: 1
  hide-version: no
  # Knot-like (and sovdns-like) answers: no NS RRset in the authority
  # section of positive answers, and no addresses for it in additional.
  minimal-responses: {'no' if self.nsd_default_responses else 'yes'}
  # The tests send thousands of queries from one address: no rate limit.
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0

remote-control:
  control-enable: no

{zones}"""
        path = self.workdir / "nsd.conf"
        path.write_text(conf)
        return [nsd, "-c", path, "-d"]


KINDS = {"sovdns": Sovdns, "knot": Knot, "nsd": Nsd}


def make_server(kind: str, workdir, zones=SUITE_ZONES, **kw) -> Server:
    if kind not in KINDS:
        raise ServerError(f"unknown server kind {kind!r} (one of {', '.join(KINDS)})")
    if kind != "sovdns":
        for k in ("config_mode", "extra_args", "config_extra"):
            kw.pop(k, None)
    return KINDS[kind](workdir, zones, **kw)


def main(argv):
    if len(argv) != 3 or argv[1] not in KINDS:
        print(f"usage: {argv[0]} {{{'|'.join(KINDS)}}} ADDR:PORT", file=sys.stderr)
        return 2
    addr, port = parse_hostport(argv[2])
    work = Path(tempfile.mkdtemp(prefix=f"itest-{argv[1]}-"))
    srv = make_server(argv[1], work, endpoint=(addr, port))
    def on_term(_sig, _frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    srv.start()
    print(f"{argv[1]} serving the suite's zones on {argv[2]} (pid {srv.pid}, log {srv.log_path}); "
          "Ctrl-C stops it", flush=True)
    try:
        srv.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        print(f"exit status {srv.stop()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
