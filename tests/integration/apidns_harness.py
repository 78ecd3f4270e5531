"""Harness for the end-to-end API tests (test_api_dns.py): the REAL sovdns
daemon, serving DNS and its HTTP API, with stand-in datacenters on loopback.

  Site     one stand-in health endpoint (probe_servers.py http) on 127.0.0.x,
           a process of its own so a test can stop it (a site going down)
  Daemon   one sovdns process: its config, zones (copies of conf/demo/*.zone),
           token files (0600), state_dir, a DNS port and an API port picked
           here (api.listen port 0 would not be discoverable)
  ask()    a DNS query with dnspython, optionally with an ECS option

Environment: SOVDNS_BIN, the binary (default <repo>/build/daemon/sovdns).
Every wait is bounded; processes are ended by the PID we started.
No tests here.
"""

from __future__ import annotations

import json
import random
import select
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import requests

from servers import default_sovdns_bin, pick_endpoint, soa_answers

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEMO = REPO / "conf" / "demo"
PY = "/usr/bin/python3"
SITE_SERVER = HERE / "probe_servers.py"

BOUND_S = 10.0  # the bound of every wait, unless a test gives a shorter one

# Token secrets (each in its own 0600 file).
TOKENS = {
    "ops": ("admin", "ops-secret-e2e-0123456789abcdef"),
    "viewer": ("read", "viewer-secret-e2e-0123456789abcd"),
    "deploy-a": ("drain:dc-a", "deploy-a-secret-e2e-0123456789ab"),
}

# Three sites. Addresses are documentation ones; each site's /24 is mapped to
# it in geo.nets so an ECS option picks the nearest site; unknown clients
# (127.0.0.1, the source of the tests' queries) go to dc-a.
DCS = {
    "dc-a": {"ipv4": "192.0.2.10", "ipv6": "2001:db8:a::10", "net": "192.0.2.0/24",
             "lat": 50.11, "lon": 8.68, "client": "192.0.2.7"},
    "dc-b": {"ipv4": "198.51.100.10", "ipv6": "2001:db8:b::10", "net": "198.51.100.0/24",
             "lat": 40.71, "lon": -74.01, "client": "198.51.100.7"},
    "dc-c": {"ipv4": "203.0.113.10", "ipv6": None, "net": "203.0.113.0/24",
             "lat": 1.35, "lon": 103.82, "client": "203.0.113.7"},
}
ADDR_DC = {}
for _id, _d in DCS.items():
    ADDR_DC[_d["ipv4"]] = _id
    if _d["ipv6"]:
        ADDR_DC[_d["ipv6"]] = _id

TTL = 2  # service TTL: drains wait TTL + max(margin 0, ceil(TTL/10)) = 3 s
PROBE = {"interval_ms": 250, "timeout_ms": 200, "jitter_ms": 0, "rise": 1, "fall": 1}


def wait_until(fn, timeout=BOUND_S, interval=0.05, what="condition"):
    """Polls fn() until it returns a true value (returned) or timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def free_tcp_port(addr="127.0.0.1") -> int:
    """A free port below the ephemeral range (see servers.pick_endpoint)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(20000, 32767)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((addr, port))
                return port
            except OSError:
                continue
    raise AssertionError("no free TCP port")


def _end(proc: subprocess.Popen, sig=signal.SIGTERM) -> int:
    """Ends a process we started, by its PID: sig, then SIGKILL after the bound."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=BOUND_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=BOUND_S)
    return proc.returncode


class Site:
    """A stand-in datacenter health endpoint: GET /health → 200 "OK healthy"."""

    def __init__(self, addr: str):
        self.addr = addr
        self.port = 0
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Site":
        self.proc = subprocess.Popen(
            [PY, str(SITE_SERVER), "http", "--bind", self.addr, "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], BOUND_S)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("READY"):
            _end(self.proc, signal.SIGKILL)
            raise AssertionError(f"health endpoint on {self.addr} did not start")
        self.port = int(line.split()[1])
        return self

    @property
    def target(self) -> str:
        return f"{self.addr}:{self.port}"

    def stop(self):
        if self.proc is not None:
            _end(self.proc, signal.SIGKILL)
            self.proc.stdout.close()
            self.proc = None


class StartRefused(Exception):
    def __init__(self, rc, stdout, stderr):
        super().__init__(f"sovdns exited with {rc}:\n{stderr}")
        self.rc, self.stdout, self.stderr = rc, stdout, stderr


class Daemon:
    """One sovdns process with DNS and the API on loopback.

    health: {dc: Site or None}; None gives the datacenter a probe target
    where nothing listens (it is down from the first probe round on)."""

    def __init__(self, workdir: Path, health: dict, *, services=None, api_extra=None,
                 conf_extra=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = self.dir / "state"
        self.zone_dir = self.dir / "zones"
        self.zone_dir.mkdir(exist_ok=True)
        for z in ("example.test.zone", "lab.example.test.zone"):
            shutil.copy(DEMO / z, self.zone_dir / z)
        self.config_path = self.dir / "sovdns.json"
        self.log_path = self.dir / "sovdns.log"
        self.rng = random.Random()
        self.addr, self.port = pick_endpoint(self.rng, False)
        self.api_port = free_tcp_port()
        self.proc: subprocess.Popen | None = None
        self.tokens = TOKENS
        tok_conf = []
        for name, (scope, secret) in TOKENS.items():
            f = self.dir / f"{name}.token"
            f.write_text(secret + "\n")
            f.chmod(0o600)
            tok_conf.append({"name": name, "file": str(f), "scope": scope})
        targets = {}
        for dc, site in health.items():
            targets[dc] = site.target if site else f"127.0.0.1:{free_tcp_port()}"
        dcs = []
        for dc, d in DCS.items():
            e = {"id": dc, "location": {"lat": d["lat"], "lon": d["lon"]}, "ipv4": [d["ipv4"]]}
            if d["ipv6"]:
                e["ipv6"] = [d["ipv6"]]
            dcs.append(e)
        self.conf = {
            "listen": [f"{self.addr}:{self.port}"],
            "threads": 2,
            "log": {"level": "info"},
            "zones": [{"origin": "example.test", "file": "zones/example.test.zone"},
                      {"origin": "lab.example.test", "file": "zones/lab.example.test.zone"}],
            "datacenters": dcs,
            "services": services if services is not None else [
                {"name": "www.example.test", "policy": "nearest",
                 "datacenters": list(DCS), "ttl": TTL},
                {"name": "pay.example.test", "policy": "failover",
                 "datacenters": ["dc-a", "dc-b"], "ttl": TTL, "on_all_down": "empty"},
            ],
            "geo": {"nets": {d["net"]: dc for dc, d in DCS.items()}, "default": "dc-a"},
            "probes": {"defaults": dict(PROBE),
                       "checks": [{"name": "web", "type": "http", "path": "/health",
                                   "body_contains": "OK", "targets": targets}]},
            "state_dir": str(self.state_dir),
            "api": {"listen": f"127.0.0.1:{self.api_port}", "drain_margin_s": 0,
                    "timeout_s": 5, "tokens": tok_conf, **(api_extra or {})},
        }
        self.conf.update(conf_extra or {})
        self.write_config()

    def write_config(self):
        self.config_path.write_text(json.dumps(self.conf, indent=2) + "\n")

    # -- process ---------------------------------------------------------
    def command(self):
        binary = default_sovdns_bin().resolve()  # the daemon runs in its workdir
        assert binary.exists(), f"{binary} not found: build first or set SOVDNS_BIN"
        return [str(binary), "--config", str(self.config_path)]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> "Daemon":
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== {' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.dir)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"sovdns exited with {self.proc.returncode} during "
                                     f"start-up:\n{self.log()[-4000:]}")
            if not soa_answers(self.addr, self.port, "example.test"):
                return False
            try:
                r = self.get("/v1/status")
            except requests.ConnectionError:
                return False
            return r.status_code == 200 and r.json().get("probes_ready") is True
        try:
            wait_until(ready, what="sovdns to answer DNS and GET /v1/status")
        except BaseException:
            _end(self.proc, signal.SIGKILL)
            self.proc = None
            raise
        return self

    def start_refused(self) -> StartRefused:
        """Starts expecting a refusal: the exit code, stdout and stderr apart."""
        r = subprocess.run(self.command(), stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=BOUND_S, cwd=self.dir)
        if r.returncode == 0:
            raise AssertionError(f"sovdns exited 0, expected a refusal:\n{r.stderr}")
        return StartRefused(r.returncode, r.stdout, r.stderr)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int:
        """SIGTERM; the exit status must be 0 and the log free of sanitizer reports."""
        if self.proc is None:
            return 0
        rc = _end(self.proc)
        self.proc = None
        text = self.log()
        assert "Sanitizer" not in text and "runtime error:" not in text, text[-4000:]
        assert rc == 0, f"sovdns exited with {rc} on SIGTERM:\n{text[-4000:]}"
        return rc

    # -- HTTP ------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.api_port}{path}"

    def headers(self, token):
        if token is None:
            return {}
        return {"Authorization": f"Bearer {self.tokens[token][1]}"}

    def get(self, path, token="viewer", session=None, **kw):
        s = session or requests
        return s.get(self.url(path), headers=self.headers(token), timeout=BOUND_S, **kw)

    def post(self, path, body=None, token="ops", session=None):
        s = session or requests
        headers = self.headers(token)
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        return s.post(self.url(path), headers=headers, data=data, timeout=BOUND_S)

    def dc(self, dc: str) -> dict:
        r = self.get(f"/v1/datacenters/{dc}")
        assert r.status_code == 200, r.text
        return r.json()

    def admin_state(self, dc: str) -> str:
        return self.dc(dc)["admin"]["state"]

    def drain(self, dc, token="ops", session=None, **body):
        body.setdefault("reason", "e2e drain")
        return self.post(f"/v1/datacenters/{dc}/drain", body, token=token, session=session)

    def undrain(self, dc, token="ops", **body):
        return self.post(f"/v1/datacenters/{dc}/undrain", body, token=token)

    def maintenance(self, dc, on, token="ops", **body):
        body["on"] = on
        if on:
            body.setdefault("reason", "e2e maintenance")
        return self.post(f"/v1/datacenters/{dc}/maintenance", body, token=token)

    def api_answer(self, client, service="www.example.test") -> dict:
        r = self.get(f"/v1/services/{service}/answer", params={"client": client})
        assert r.status_code == 200, r.text
        return r.json()

    # -- DNS -------------------------------------------------------------
    def ask(self, qname, qtype="A", client=None, prefix=None, tcp=False, timeout=2.0):
        return ask((self.addr, self.port), qname, qtype, client=client, prefix=prefix, tcp=tcp,
                   timeout=timeout)

    def answer_dcs(self, qname="www.example.test", client=None) -> set:
        """The datacenters named by the A (and AAAA) answers for client."""
        found = set()
        for t in ("A", "AAAA"):
            r = self.ask(qname, t, client=client)
            assert r.rcode() == dns.rcode.NOERROR, f"{qname} {t}: {dns.rcode.to_text(r.rcode())}"
            found |= {ADDR_DC[a] for a in addresses(r)}
        return found


def ask(target, qname, qtype="A", client=None, prefix=None, tcp=False, timeout=2.0):
    """One query to target (addr, port); client adds an ECS option for it
    (prefix: 32/128 by default). Raises dns.exception.Timeout on no reply."""
    opts = []
    if client is not None:
        fam_bits = 128 if ":" in client else 32
        opts.append(dns.edns.ECSOption(client, prefix if prefix is not None else fam_bits))
    q = dns.message.make_query(qname, qtype, use_edns=0, payload=1232, options=opts)
    q.flags &= ~dns.flags.RD
    send = dns.query.tcp if tcp else dns.query.udp
    r = send(q, target[0], port=target[1], timeout=timeout)
    assert r.id == q.id
    return r


def addresses(r) -> list:
    """The A/AAAA addresses in the answer section, in order."""
    out = []
    for rrset in r.answer:
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            out += [rd.address for rd in rrset]
    return out


def answer_ttls(r) -> set:
    return {rrset.ttl for rrset in r.answer
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)}


def ecs_scope(r):
    for o in r.options:
        if isinstance(o, dns.edns.ECSOption):
            return o.scopelen
    return None


def assert_error(r, status: int, code: str | None = None) -> dict:
    """The status and the uniform error body {"error": {"code", "message"}}."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def parse_time(text: str) -> float:
    """RFC 3339 "2026-11-30T07:24:00Z" → Unix seconds."""
    import calendar
    import re
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z", text)
    assert m, f"not an RFC 3339 UTC time: {text!r}"
    return calendar.timegm(tuple(int(x) for x in m.groups()) + (0, 0, 0))


def site_addrs(n: int) -> list:
    """n distinct random 127.0.0.x addresses for health endpoints."""
    return [f"127.0.0.{x}" for x in random.sample(range(2, 254), n)]

