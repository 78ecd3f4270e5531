"""Harness for the sovctl tests: two real sovdns instances and stand-in datacenters.

  - two stand-in datacenters, dc-a and dc-b: sites.Site (probe_servers.py http)
    on their own 127.0.0.x address; GET /health answers "ok" while the site is
    up (Site.up), 503 otherwise;
  - two sovdns instances, ns1 and ns2 (sovtest/servers.py, config
    mode): each with its own configuration, the zone svc.test, the service
    www.svc.test (policy "all" over dc-a and dc-b, TTL 1 s, so a drain is safe
    after ~2 s with drain_margin_s 0), http probes of both sites every 200 ms,
    its HTTP API on a free loopback port with an admin token file (0600), and
    its state_dir in the test's tmp directory;
  - a sovctl configuration naming both instances, the hooks each test wants,
    a log directory and a state file.

Environment:
  SOVDNS_BIN   the daemon (default paths.SOVDNS_BIN_DEFAULT)
  SOVCTL_BIN   sovctl (default <repo>/build/deployer/sovctl)

No tests here; the test_sovctl_*.py files import this module.
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import stat
import subprocess
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import pytest
import requests

from .paths import REPO, sovctl_bin  # noqa: F401 (test_sovctl_duplicity uses REPO)
from .servers import ServerError, make_server
from .sites import Site
from .wait import wait_until as _wait_until

SERVICE = "www.svc.test"
ADDRS = {"dc-a": "192.0.2.1", "dc-b": "192.0.2.2"}
BOUND_S = 20.0  # every wait in these tests is bounded


# Every wait in these tests is bounded by BOUND_S unless the call says otherwise.
wait_until = functools.partial(_wait_until, timeout=BOUND_S)


def make_site(rng: random.Random) -> Site:
    """A stand-in datacenter on its own 127.0.0.x: /health answers "ok" while up."""
    last = None
    for _ in range(50):
        try:
            return Site("http", f"127.0.0.{rng.randint(2, 254)}", extra=["--body", "ok\n"]).start()
        except AssertionError as e:  # the address:port was taken
            last = e
    raise RuntimeError(f"no free address for a site: {last}")


ZONE = """$ORIGIN svc.test.
$TTL 300
@    IN SOA ns1.svc.test. hostmaster.svc.test. 2026113001 3600 600 86400 60
@    IN NS  ns1.svc.test.
@    IN NS  ns2.svc.test.
ns1  IN A   192.0.2.53
ns2  IN A   192.0.2.54
"""


class Instance:
    """One sovdns with its API; .api(method, path, body) talks to it."""

    def __init__(self, name: str, workdir: Path, sites: dict, zone: Path):
        self.name = name
        self.sites = sites
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.token_file = self.dir / "admin.token"
        self.token = f"{name}-secret-{random.getrandbits(64):016x}"
        self.token_file.write_text(self.token + "\n")
        self.token_file.chmod(0o600)
        extra = {
            "state_dir": str(self.dir / "state"),
            "datacenters": [
                {"id": dc, "location": {"lat": 50.0 + i, "lon": 8.0 + i}, "ipv4": [ADDRS[dc]]}
                for i, dc in enumerate(sites)
            ],
            "services": [{"name": SERVICE, "policy": "all", "datacenters": list(sites),
                          "ttl": 1}],
            "probes": {
                "defaults": {"interval_ms": 200, "timeout_ms": 200, "rise": 1, "fall": 2,
                             "jitter_ms": 0},
                "checks": [{"name": "web", "type": "http", "path": "/health",
                            "body_contains": "ok",
                            "targets": {dc: s.target for dc, s in sites.items()}}],
            },
            "api": {"listen": "127.0.0.1:0", "drain_margin_s": 0,
                    "tokens": [{"name": "sovctl", "file": str(self.token_file),
                                "scope": "admin"}]},
        }
        self.server = make_server("sovdns", self.dir, [("svc.test", zone)], config_mode=True,
                                  config_extra=extra, threads=1)
        self.api_url = ""

    def start(self):
        try:
            self.server.start()
        except ServerError as e:
            pytest.fail(str(e), pytrace=False)
        m = wait_until(lambda: re.findall(r"HTTP API listening on \S+:(\d+) ",
                                          self.server.log_text()),
                       what=f"{self.name}'s API port in its log")
        self.api_url = f"http://127.0.0.1:{m[-1]}"
        seen = {}

        def all_up():
            seen.update({d["id"]: d for d in self.datacenters()})
            return all(d["health"] == "up" for d in seen.values())
        try:
            wait_until(all_up, what=f"both sites up on {self.name}")
        except AssertionError as e:  # say why: the sites' processes and what sovdns saw
            alive = {dc: s.alive() for dc, s in self.sites.items()}
            raise AssertionError(f"{e}\nsites alive: {alive}\nseen: {json.dumps(seen)}\n"
                                 f"log tail:\n{self.server.log_text()[-3000:]}") from None
        return self

    def stop(self) -> int:
        return self.server.stop()

    @property
    def dns(self):
        return self.server.target

    def api(self, method: str, path: str, body=None, timeout=5.0):
        r = requests.request(method, self.api_url + path, json=body, timeout=timeout,
                             headers={"Authorization": f"Bearer {self.token}"})
        return r.status_code, (r.json() if r.content else None)

    def datacenters(self):
        code, body = self.api("GET", "/v1/datacenters")
        assert code == 200, body
        return body["datacenters"]

    def dc(self, dc: str) -> dict:
        code, body = self.api("GET", f"/v1/datacenters/{dc}")
        assert code == 200, body
        return body

    def answer(self) -> set[str]:
        """The addresses ns answers www.svc.test A with, over DNS."""
        q = dns.message.make_query(SERVICE, dns.rdatatype.A)
        r = dns.query.udp(q, self.dns[0], port=self.dns[1], timeout=2.0)
        return {rd.address for rrset in r.answer for rd in rrset
                if rrset.rdtype == dns.rdatatype.A}


class Cluster:
    """Two sites, two instances, and a sovctl configuration to write."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        rng = random.Random()
        self.sites = {dc: make_site(rng) for dc in ("dc-a", "dc-b")}
        zone = tmp / "svc.test.zone"
        zone.write_text(ZONE)
        self.instances = [Instance(n, tmp / n, self.sites, zone) for n in ("ns1", "ns2")]
        self.config_path = tmp / "sovctl" / "sovctl.json"
        self.config_path.parent.mkdir()
        self.log_dir = tmp / "sovctl" / "log"
        self.state_file = tmp / "sovctl" / "state.json"

    def start(self):
        for inst in self.instances:
            inst.start()
        return self

    def close(self):
        codes = {}
        for inst in self.instances:
            codes[inst.name] = inst.stop()
        for s in self.sites.values():
            s.close()
        return codes

    def write_config(self, hooks: dict, env: dict | None = None, instances=None, **extra):
        """hooks: {dc: {kind: {"command": [...], "timeout_s": N}}}."""
        insts = instances if instances is not None else self.instances
        conf = {
            "instances": [{"name": i.name, "api": i.api_url, "token_file": str(i.token_file),
                           "timeout_s": 3} for i in insts],
            "datacenters": [{"id": dc, "hooks": hooks.get(dc, {})} for dc in self.sites],
            "log_dir": str(self.log_dir),
            "state_file": str(self.state_file),
            "poll_interval_ms": 100,
            "kill_grace_s": 1,
            "verify_timeout_s": 15,
            "drain_slack_s": 10,
        }
        if env:
            conf["env"] = env
        conf.update(extra)
        self.config_path.write_text(json.dumps(conf, indent=2) + "\n")
        return self.config_path

    def cmd(self, *args) -> list[str]:
        return [str(sovctl_bin()), "-c", str(self.config_path), *map(str, args)]

    def run(self, *args, timeout=60, env=None):
        """Runs sovctl to completion; returns the CompletedProcess (text)."""
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run(self.cmd(*args), capture_output=True, text=True, timeout=timeout,
                              env=e, stdin=subprocess.DEVNULL)

    def run_json(self, *args, **kw):
        p = self.run("--json", *args, **kw)
        try:
            doc = json.loads(p.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"sovctl printed no JSON (exit {p.returncode})\n"
                                 f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p, doc

    def admin_states(self, dc: str) -> dict:
        return {i.name: i.dc(dc)["admin"]["state"] for i in self.instances}

    def back_in_answers(self, dc: str) -> bool:
        return all(ADDRS[dc] in i.answer() and i.dc(dc)["admin"]["state"] == "active"
                   for i in self.instances)


def hook_script(path: Path, body: str) -> Path:
    """Writes an executable hook (Python, /usr/bin/python3) and returns its path."""
    path.write_text("#!/usr/bin/python3\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP)
    return path


@pytest.fixture
def cluster(tmp_path):
    if not sovctl_bin().exists():
        pytest.fail(f"sovctl not found at {sovctl_bin()} (build it, or set SOVCTL_BIN)",
                    pytrace=False)
    c = Cluster(tmp_path)
    try:
        c.start()
        yield c
    finally:
        codes = c.close()
    bad = {k: v for k, v in codes.items() if v != 0}
    assert not bad, f"sovdns exited non-zero on SIGTERM: {bad}"
