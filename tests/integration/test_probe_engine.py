"""Integration tests of the probe engine, through the sovprobe-run driver.

Real servers on 127.0.0.x stand in for datacenters (sovtest.sites.Site); the
certificates are made here with the openssl command line. Every wait is on a
condition with a bound computed from the probe timing, never a fixed sleep.

Run: /usr/bin/python3 -m pytest tests/integration/test_probe_engine.py
(the driver: SOVPROBE_RUN, default probe/sovprobe-run of SOVDNS_BIN's build tree).
"""
import json
import os
import pathlib
import queue
import signal
import subprocess
import threading
import time

import pytest

from sovtest.paths import sovprobe_run_bin
from sovtest.pki import make_pki
from sovtest.ports import closed_port
from sovtest.sites import Site

# Probe timing used by most tests: short, so the suite is quick, and with a
# generous slack for a loaded CI machine (the bound asserted is still the
# documented one: interval × fall + timeout, plus slack).
INTERVAL_MS = 300
TIMEOUT_MS = 250
RISE = 2
FALL = 3
SLACK_S = 1.5


def driver_path():
    p = sovprobe_run_bin()
    if p.exists():
        return str(p)
    pytest.skip(f"{p} not built (set SOVPROBE_RUN)")


def timing(**over):
    t = {"interval_ms": INTERVAL_MS, "timeout_ms": TIMEOUT_MS, "rise": RISE, "fall": FALL,
         "jitter_ms": 30}
    t.update(over)
    return t


class Driver:
    """sovprobe-run with a generated config; collects its JSON lines."""

    def __init__(self, tmp_path, config, name="probes.json"):
        self.cfg_path = tmp_path / name
        self.cfg_path.write_text(json.dumps(config, indent=1))
        self.err_path = tmp_path / (name + ".stderr")
        self.err = open(self.err_path, "w")
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen([driver_path(), str(self.cfg_path)],
                                     stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.events = queue.Queue()
        self.seen = []  # (time read, event)
        self.claimed = set()  # indexes into seen already returned by wait_for
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.events.put((time.monotonic(), json.loads(line)))
        self.events.put((time.monotonic(), None))

    def stderr_tail(self):
        self.err.flush()
        return self.err_path.read_text()[-3000:]

    def wait_for(self, pred, timeout_s, what):
        """Returns (monotonic time read, event) of the first event matching pred
        that no earlier wait returned, looking at events already read first."""
        for i, (t, ev) in enumerate(self.seen):
            if i not in self.claimed and pred(ev):
                self.claimed.add(i)
                return t, ev
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                t, ev = self.events.get(timeout=left)
            except queue.Empty:
                break
            if ev is None:
                pytest.fail(f"sovprobe-run exited while waiting for {what}:\n{self.stderr_tail()}")
            self.seen.append((t, ev))
            if pred(ev):
                self.claimed.add(len(self.seen) - 1)
                return t, ev
        seen = [ev for _, ev in self.seen]
        pytest.fail(f"no {what} within {timeout_s:.2f} s; seen {seen}\n{self.stderr_tail()}")

    def transition(self, target, to, timeout_s):
        return self.wait_for(
            lambda e: e["event"] == "transition" and e["target"] == target and e["to"] == to,
            timeout_s, f"{target} → {to}")

    def ready(self, timeout_s=10):
        return self.wait_for(lambda e: e["event"] == "ready", timeout_s, "ready")

    def details(self, timeout_s=5):
        """Asks for every target's detail record (SIGUSR1); returns them by target."""
        ready = [ev for _, ev in self.seen if ev["event"] == "ready"]
        n_targets = ready[0]["targets"] if ready else self.ready()[1]["targets"]
        self.proc.send_signal(signal.SIGUSR1)
        out = {}
        while len(out) < n_targets:
            _, ev = self.wait_for(lambda e: e["event"] == "detail", timeout_s, "detail")
            out[ev["target"]] = ev
        return out

    def cpu_seconds(self):
        fields = pathlib.Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.err.close()
        return self.proc.returncode


@pytest.fixture
def servers():
    started = []

    def make(mode, bind, port=0, extra=()):
        s = Site(mode, bind, port, extra).start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.kill()


@pytest.fixture
def drivers(tmp_path):
    running = []

    def make(config, name="probes.json"):
        d = Driver(tmp_path, config, name)
        running.append(d)
        return d

    yield make
    for d in running:
        rc = d.stop()
        # 0 means a clean stop: no crash, and no leak under ASan/LSan.
        assert rc == 0, f"sovprobe-run exited with {rc}:\n{d.stderr_tail()}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test CA, a second CA nobody trusts, and leaf certificates:
    good (www.test), wrong name (other.test), expired (www.test), untrusted CA."""
    return make_pki(tmp_path_factory.mktemp("pki"))


def dc(dc_id, *addrs):
    return {"id": dc_id, "addresses": list(addrs)}


# --------------------------------------------------------------------------


def test_http_down_after_fall_up_after_rise(servers, drivers):
    """Kill a site: down within interval × fall + timeout; restart: up after rise."""
    web = servers("http", "127.0.0.2")
    slow = servers("blackhole", "127.0.0.9")  # a silent site must not delay dc-west
    d = drivers({
        "datacenters": [dc("dc-west", "127.0.0.2"), dc("dc-slow", "127.0.0.9")],
        "probes": {
            "defaults": timing(),
            "checks": [
                {"type": "http", "port": web.port, "path": "/health", "body_contains": "healthy",
                 "datacenters": ["dc-west"]},
                {"type": "http", "port": slow.port, "datacenters": ["dc-slow"],
                 "interval_ms": 2000, "timeout_ms": 2000, "jitter_ms": 0},
            ],
        },
    })
    _, up = d.transition("dc-west", "up", 5)
    assert "answered status 200" in up["reason"] and up["from"] == "unknown"

    web.kill()
    t_kill = time.monotonic()
    bound = (INTERVAL_MS * FALL + TIMEOUT_MS) / 1000 + SLACK_S
    t_down, down = d.transition("dc-west", "down", bound)
    assert f"refused the connection, {FALL} of {FALL} failed" in down["reason"], down
    assert down["reason"].startswith(f"http://127.0.0.2:{web.port}/health ")
    assert t_down - t_kill <= bound
    # Hysteresis: it took `fall` failures, not the first one.
    assert t_down - t_kill >= (INTERVAL_MS * (FALL - 1) - 30 * FALL) / 1000 * 0.9

    web.start()
    t_start = time.monotonic()
    bound_up = (INTERVAL_MS * RISE + TIMEOUT_MS) / 1000 + SLACK_S
    t_up, up = d.transition("dc-west", "up", bound_up)
    assert f"{RISE} of {RISE} succeeded" in up["reason"], up
    assert t_up - t_start <= bound_up

    _, slow_down = d.transition("dc-slow", "down", 5)
    assert "timed out after 2000 ms waiting for the response" in slow_down["reason"]


def test_tcp_closed_port(servers, drivers):
    port = closed_port("127.0.0.3")
    d = drivers({
        "datacenters": [dc("dc-east", "127.0.0.3")],
        "probes": {"defaults": timing(), "checks": [{"type": "tcp", "port": port}]},
    })
    _, ev = d.transition("dc-east", "down", 5)
    assert ev["reason"] == f"tcp 127.0.0.3:{port} refused the connection, first check"


def test_tcp_and_http_over_ipv6(servers, drivers):
    web = servers("http", "::1")
    d = drivers({
        "datacenters": [dc("dc-v6", "::1")],
        "probes": {"defaults": timing(), "checks": [
            {"type": "tcp", "port": web.port},
            {"type": "http", "port": web.port, "path": "/health", "expect_status": [200]},
        ]},
    })
    _, ev = d.transition("dc-v6", "up", 5)
    assert "[::1]" in ev["reason"]


def test_http_unexpected_status(servers, drivers):
    web = servers("http", "127.0.0.4", extra=["--status", "503"])
    d = drivers({
        "datacenters": [dc("dc-a", "127.0.0.4")],
        "probes": {"defaults": timing(), "checks": [
            {"type": "http", "url": "http://app.test/health", "port": web.port}]},
    })
    _, ev = d.transition("dc-a", "down", 5)
    assert ev["reason"] == (f"http://app.test:{web.port}/health at 127.0.0.4 answered status "
                            "503, expected 200-399, first check")


def test_https_good_certificate_and_days_to_expiry(servers, drivers, pki):
    site = servers("https", "127.0.0.5", extra=pki["good"])
    d = drivers({
        "datacenters": [dc("dc-tls", "127.0.0.5")],
        "probes": {"defaults": timing(), "checks": [
            {"type": "https", "url": f"https://www.test:{site.port}/health",
             "ca_file": pki["ca"], "body_contains": "OK"}]},
    })
    _, ev = d.transition("dc-tls", "up", 5)
    assert ev["reason"].startswith(f"https://www.test:{site.port}/health at 127.0.0.5 answered "
                                   "status 200")
    det = d.details()["dc-tls"]
    assert det["cert_days_left"] in (19, 20), det
    assert det["state"] == "up" and det["checks"] >= 1 and det["failures"] == 0


@pytest.mark.parametrize("cert,reason", [
    ("wrongname", "presented a certificate not valid for the name www.test"),
    ("expired", "presented an expired certificate (expired on "),
    ("untrusted", "presented a certificate from an untrusted CA (unable to get local issuer"),
])
def test_https_bad_certificate(servers, drivers, pki, cert, reason):
    site = servers("https", "127.0.0.6", extra=pki[cert])
    d = drivers({
        "datacenters": [dc("dc-tls", "127.0.0.6")],
        "probes": {"defaults": timing(), "checks": [
            {"type": "https", "host": "www.test", "port": site.port, "path": "/health",
             "ca_file": pki["ca"]}]},
    })
    _, ev = d.transition("dc-tls", "down", 5)
    assert reason in ev["reason"], ev
    if cert == "expired":
        assert d.details()["dc-tls"]["cert_days_left"] < 0


def test_https_without_verification_still_records_expiry(servers, drivers, pki):
    site = servers("https", "127.0.0.6", extra=pki["expired"])
    d = drivers({
        "datacenters": [dc("dc-tls", "127.0.0.6")],
        "probes": {"defaults": timing(), "checks": [
            {"type": "https", "host": "www.test", "port": site.port, "path": "/health",
             "verify": False}]},
    })
    d.transition("dc-tls", "up", 5)
    assert d.details()["dc-tls"]["cert_days_left"] < 0


def test_server_that_never_answers_times_out(servers, drivers, pki):
    hole = servers("blackhole", "127.0.0.7")
    d = drivers({
        "datacenters": [dc("dc-http", "127.0.0.7"), dc("dc-https", "127.0.0.7")],
        "probes": {"defaults": timing(), "checks": [
            {"type": "http", "port": hole.port, "datacenters": ["dc-http"]},
            {"type": "https", "port": hole.port, "host": "www.test", "ca_file": pki["ca"],
             "datacenters": ["dc-https"]},
        ]},
    })
    _, ev = d.transition("dc-http", "down", 5)
    assert f"timed out after {TIMEOUT_MS} ms waiting for the response" in ev["reason"]
    _, ev = d.transition("dc-https", "down", 5)
    assert f"timed out after {TIMEOUT_MS} ms during the TLS handshake" in ev["reason"]


def test_server_that_closes_without_answering(servers, drivers):
    sink = servers("accept-close", "127.0.0.16")
    d = drivers({
        "datacenters": [dc("dc-rude", "127.0.0.16")],
        "probes": {"defaults": timing(), "checks": [{"type": "http", "port": sink.port}]},
    })
    _, ev = d.transition("dc-rude", "down", 5)
    assert ("closed the connection without a response" in ev["reason"]
            or "reset the connection" in ev["reason"]), ev


def test_first_round_is_bounded_by_the_timeout(servers, drivers):
    hole = servers("blackhole", "127.0.0.8")
    web = servers("http", "127.0.0.8")
    d = drivers({
        "datacenters": [dc("dc-x", "127.0.0.8")],
        "probes": {"defaults": timing(interval_ms=5000, timeout_ms=1500), "checks": [
            {"type": "http", "port": hole.port}, {"type": "tcp", "port": web.port}]},
    })
    t, ev = d.ready(timeout_s=10)
    assert ev["pending"] == 0
    # 200 ms start-up spread + 1500 ms timeout + 100 ms margin, plus process start.
    assert t - d.t_start <= 1.8 + SLACK_S
    assert [e for _, e in d.seen if e["event"] == "transition"][0]["to"] == "down"


def test_combine_any_and_all(servers, drivers):
    web = servers("http", "127.0.0.10")
    closed = closed_port("127.0.0.11")
    d = drivers({
        "datacenters": [dc("dc-any", "127.0.0.10", "127.0.0.11"),
                        dc("dc-all", "127.0.0.10", "127.0.0.11")],
        "probes": {
            "defaults": timing(),
            "datacenters": {"dc-any": {"combine": "any"}},
            "checks": [{"type": "tcp", "port": web.port,
                        "targets": {"dc-any": ["127.0.0.10", f"127.0.0.11:{closed}"],
                                    "dc-all": ["127.0.0.10", f"127.0.0.11:{closed}"]}}],
        },
    })
    d.ready()
    d.transition("dc-any", "up", 5)
    d.transition("dc-all", "down", 5)


def test_service_probe_decides_for_its_service(servers, drivers):
    web = servers("http", "127.0.0.12")
    closed = closed_port("127.0.0.12")
    d = drivers({
        "datacenters": [dc("dc-west", "127.0.0.12")],
        "probes": {"defaults": timing(), "checks": [
            {"type": "tcp", "port": web.port},
            {"type": "tcp", "port": closed, "service": "pay.example.com"}]},
    })
    _, ev = d.transition("dc-west", "up", 5)
    _, ev = d.transition("pay.example.com@dc-west", "down", 5)
    assert ev["service"] == "pay.example.com" and ev["dc"] == "dc-west"


def test_dns_probe(servers, drivers):
    ns = servers("dns", "127.0.0.13", extra=["--answer", "192.0.2.7"])
    nx = servers("dns", "127.0.0.14", extra=["--rcode", "NXDOMAIN"])
    d = drivers({
        "datacenters": [dc("dc-ns", "127.0.0.13"), dc("dc-nx", "127.0.0.14"),
                        dc("dc-wrong", "127.0.0.13")],
        "probes": {"defaults": timing(), "checks": [
            {"type": "dns", "qname": "www.example.com", "port": ns.port,
             "expect_address": "192.0.2.7", "datacenters": ["dc-ns"]},
            {"type": "dns", "qname": "www.example.com", "port": nx.port,
             "datacenters": ["dc-nx"]},
            {"type": "dns", "qname": "www.example.com", "port": ns.port,
             "expect_address": "192.0.2.8", "datacenters": ["dc-wrong"]},
        ]},
    })
    _, ev = d.transition("dc-ns", "up", 5)
    assert "answered NOERROR" in ev["reason"]
    _, ev = d.transition("dc-nx", "down", 5)
    assert "answered NXDOMAIN, expected NOERROR" in ev["reason"]
    _, ev = d.transition("dc-wrong", "down", 5)
    assert "without 192.0.2.8 in the answer" in ev["reason"]


def test_hundreds_of_probes_cost_little_cpu(servers, drivers):
    """300 probes at 1 s with at most 32 in flight: all answer, little CPU."""
    sink = servers("accept-close", "127.0.0.15")
    n = 300
    d = drivers({
        "datacenters": [dc(f"dc-{i:03d}", "127.0.0.15") for i in range(n)],
        "probes": {"defaults": timing(interval_ms=1000, timeout_ms=500, jitter_ms=100),
                   "max_in_flight": 32,
                   "checks": [{"type": "tcp", "port": sink.port}]},
    })
    _, ev = d.ready()
    assert ev["pending"] == 0 and ev["probes"] == n
    cpu0, t0 = d.cpu_seconds(), time.monotonic()
    ups = set()
    while len(ups) < n:
        _, e = d.wait_for(lambda e: e["event"] == "transition", 5, "more transitions")
        assert e["to"] == "up", e
        ups.add(e["target"])
    # Measure over three full rounds (~900 probes).
    time.sleep(3)  # measuring a rate needs a time span; no condition to wait on
    cpu = d.cpu_seconds() - cpu0
    span = time.monotonic() - t0
    print(f"cpu {cpu:.3f} s in {span:.1f} s for {n} probes/s")
    assert cpu / span < 0.25, f"{cpu:.3f} s CPU in {span:.1f} s for {n} probes/s"
    det = d.details()
    assert all(v["failures"] == 0 and v["checks"] >= 3 for v in det.values())


def test_config_errors_are_reported(tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({
        "datacenters": [dc("dc-a", "127.0.0.1")],
        "probes": {"checks": [
            {"type": "http", "interval_ms": 1000, "timeout_ms": 5000},
            {"type": "tcp"},
            {"type": "smtp"},
            {"type": "https", "url": "http://x/", "datacenters": ["dc-zz"]},
        ]},
    }))
    r = subprocess.run([driver_path(), "--check", str(cfg)], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 1
    assert "probes.checks[0]: timeout_ms (5000) must not exceed interval_ms (1000)" in r.stderr
    assert "probes.checks[1]: a tcp check needs a \"port\"" in r.stderr
    assert "probes.checks[2]: unknown type \"smtp\"" in r.stderr
    assert "probes.checks[3].url: must start with https://" in r.stderr
