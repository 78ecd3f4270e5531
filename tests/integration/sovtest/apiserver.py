"""The layout of the HTTP API tests (test_api_*.py): the REAL sovdns daemon
with two datacenters whose health comes from real probes of stand-in sites.

  dc-east  192.0.2.1, a stand-in http site on 127.0.0.x (GET /health → "OK")
  dc-west  192.0.2.2, likewise
  www.example.com.  failover east → west, TTL 1 s
  api.example.com.  nearest (geo.nets: 198.51.100.0/24 → west,
                    203.0.113.0/24 → east, default east), TTL 1 s

Health is real: ApiServer(health={"dc-west": "down"}) gives dc-west a probe
target where nothing listens; set_health(dc, "down"/"up") switches that
site's stand-in to failing (503) and back, and waits until the daemon sees it.
Probes run every 200 ms with rise 1, fall 2. The daemon records the first
probe round (unknown -> up) as health events, and notifies them: seq0 is the
last event before the test's own, after those first-round events.

No tests here; the test files import the `api` fixture and ApiServer.
"""

from __future__ import annotations

import copy
import subprocess

import pytest

from .api import assert_error, parse_time  # noqa: F401 (the test files import them from here)
from .daemon import ApiDaemon
from .paths import BOUND_S, REPO, default_sovdns_bin  # noqa: F401
from .ports import closed_port, site_addrs
from .sites import Site
from .wait import wait_until  # noqa: F401

# Token secrets (files are written 0600 by the harness).
TOKENS = {
    "ops": ("admin", "ops-secret-0123456789abcdef0123"),
    "viewer": ("read", "viewer-secret-0123456789abcdef01"),
    "deploy-east": ("drain:dc-east", "east-secret-0123456789abcdef012"),
}

SERIAL = 2026113001
ZONE = f"""$ORIGIN example.com.
$TTL 300
@    SOA  ns1.example.com. hostmaster.example.com. {SERIAL} 7200 3600 1209600 300
     NS   ns1.example.com.
ns1  A    192.0.2.53
"""

DATACENTERS = [
    {"id": "dc-east", "ipv4": ["192.0.2.1"], "location": {"lat": 40.7, "lon": -74.0}},
    {"id": "dc-west", "ipv4": ["192.0.2.2"], "location": {"lat": 37.8, "lon": -122.4}},
]
SERVICES = [
    {"name": "www.example.com.", "policy": "failover", "ttl": 1,
     "datacenters": ["dc-east", "dc-west"]},
    {"name": "api.example.com.", "policy": "nearest", "ttl": 1,
     "datacenters": ["dc-east", "dc-west"]},
]
GEO = {"nets": {"198.51.100.0/24": "dc-west", "203.0.113.0/24": "dc-east"}, "default": "dc-east"}
# fall 2 and timeout = interval: one slow answer of a stand-in site on a loaded
# machine (CI runs while other work loads it) must not withdraw a site mid-test.
PROBE = {"interval_ms": 200, "timeout_ms": 200, "jitter_ms": 0, "rise": 1, "fall": 2}


def daemon_version() -> str:
    """What `sovdns --version` prints: "sovdns X.Y.Z" → "X.Y.Z"."""
    r = subprocess.run([str(default_sovdns_bin()), "--version"], capture_output=True, text=True,
                       timeout=BOUND_S)
    return r.stdout.split()[-1]


class ApiServer(ApiDaemon):
    """One sovdns process with its own config, tokens, sites and state_dir.

    health: {dc: "up" | "down"}; "down" gives the datacenter a probe target
    where nothing listens. api: members merged into the "api" section."""

    def __init__(self, tmp_path, api: dict | None = None, health: dict | None = None,
                 state_dir=None, tokens=TOKENS, datacenters=None, services=None, geo=None):
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.sites: dict[str, Site] = {}
        self.targets: dict[str, str] = {}
        addrs = iter(site_addrs(len(DATACENTERS)))
        for d in DATACENTERS:
            dc, addr = d["id"], next(addrs)
            if (health or {}).get(dc, "up") == "up":
                self.sites[dc] = Site("http", addr).start()
                self.targets[dc] = self.sites[dc].target
            else:
                self.targets[dc] = f"{addr}:{closed_port(addr)}"
        zone = tmp_path / "example.com.zone"
        zone.write_text(ZONE)
        conf = {
            "threads": 1,
            "log": {"level": "info"},
            "zones": [{"origin": "example.com", "file": str(zone)}],
            "datacenters": copy.deepcopy(datacenters or DATACENTERS),
            "services": copy.deepcopy(services or SERVICES),
            "geo": copy.deepcopy(geo or GEO),
            "probes": {"defaults": dict(PROBE),
                       "checks": [{"name": "web", "type": "http", "path": "/health",
                                   "body_contains": "OK", "targets": dict(self.targets)}]},
            "api": {"drain_margin_s": 0, "timeout_s": 5, **(api or {})},
        }
        if state_dir is not None:
            conf["state_dir"] = str(state_dir)
        MADE.append(self)
        super().__init__(tmp_path, conf, tokens=tokens, state_dir=state_dir)

    def start(self) -> "ApiServer":
        super().start()
        # The first probe round decides from one answer each (unknown -> up or
        # down); a slow first answer makes a site down for one round. Tests begin
        # once every site meant to be up is up, so a drain is never refused by
        # the last-usable rule because of that round.
        probed = self.conf["probes"]["checks"][0]["targets"]
        up = [dc for dc, site in self.sites.items()
              if dc in probed and site.alive() and site.up]
        wait_until(lambda: all(self.dc(dc)["health"] == "up" for dc in up),
                   what=f"{up} up")
        # The daemon records the first probe round(s) as health events before
        # the test begins; the test's own events come after seq0.
        self.seq0 = self.get("/v1/events").json()["last_seq"]
        return self

    def events_since_start(self) -> list:
        return self.get("/v1/events", params={"since": self.seq0}).json()["events"]

    def metric(self, name: str) -> float:
        """The value of an unlabelled sample in GET /metrics."""
        for line in self.get("/metrics").text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"no sample {name} in /metrics")

    def keep_only(self, dc: str):
        """Rewrites the configuration with datacenter dc alone (restart to apply)."""
        self.conf["datacenters"] = [d for d in self.conf["datacenters"] if d["id"] == dc]
        self.conf["geo"] = {"default": dc}
        for s in self.conf["services"]:
            s["datacenters"] = [dc]
        self.conf["probes"]["checks"][0]["targets"] = {dc: self.targets[dc]}
        self.write_config()

    def set_health(self, dc: str, health: str):
        """Switches dc's stand-in site to failing ("down") or healthy ("up"), and
        waits until the probes have seen it."""
        self.sites[dc].up = health == "up"
        wait_until(lambda: self.dc(dc)["health"] == health, what=f"{dc} {health}")

    def answer(self, service="www.example.com.", client="192.0.2.200") -> dict:
        return self.api_answer(client, service)

    def close_sites(self):
        for s in self.sites.values():
            s.kill()



# Every ApiServer made during a test; conftest's end_api_servers() ends what
# is left (processes by PID, then the sites) after each test.
MADE: list = []


def end_all():
    errors = []
    while MADE:
        s = MADE.pop()
        try:
            s.stop()
        except AssertionError as e:
            errors.append(str(e))
        finally:
            s.close_sites()
    return errors


@pytest.fixture
def api(tmp_path):
    """A running server with the default layout and tokens (stopped by
    conftest's end_api_servers, which wants exit status 0)."""
    return ApiServer(tmp_path / "api").start()
