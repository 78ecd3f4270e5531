"""Helpers of the geo and failover integration tests (test_geo_answers.py,
test_failover.py): a zone with service names, a .mmdb built from a readable
source with Debian's MaxMind DB writer, the server with datacenters and
waits on its log and first probe round. Stand-in sites: sites.Site;
certificates: pki; the DNS client (query, Reply): dnsclient.

Every wait is on a condition with a bound; nothing is killed by name.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .dnsclient import Reply, query
from .paths import REPO
from .wait import wait_timed

MKMMDB = REPO / "tests" / "unit" / "geo" / "mkmmdb.pl"
CITY_TXT = REPO / "tests" / "unit" / "geo" / "city.txt"

ORIGIN = "geo.test"

# The zone every geo test serves. www, pay, db, all... are services (from the
# configuration): they have no A/AAAA/CNAME here; other types may live there.
# Line numbers matter to test_geo_answers' config-error test (STATIC_A_LINE).
ZONE = """$ORIGIN geo.test.
$TTL 3600
@        SOA   ns1.geo.test. hostmaster.geo.test. 1 7200 3600 1209600 300
         NS    ns1.geo.test.
ns1      A     192.0.2.53
static   A     192.0.2.99
         AAAA  2001:db8::99
blog     CNAME www.geo.test.
www      TXT   "the web site: a geo service"
"""
STATIC_A_LINE = 6   # "static A" above
BLOG_CNAME_LINE = 8  # "blog CNAME" above
NEG_TTL = 300        # min(SOA TTL 3600, MINIMUM 300), RFC 2308 §5


def write_zone(directory: Path, text: str = ZONE) -> Path:
    path = Path(directory) / "geo.test.zone"
    path.write_text(text)
    return path


# --------------------------------------------------------------------------
# Waiting


def wait_log(srv, pattern: str, timeout_s: float = 5.0, offset: int = 0) -> str:
    """Waits until the server's log (from offset) contains pattern; returns the line."""
    def find():
        for line in srv.log_text()[offset:].splitlines():
            if pattern in line:
                return line
        return None
    line, _ = wait_timed(find, timeout_s, f"log line containing {pattern!r}")
    return line


def wait_services_ready(srv, qname: str = f"www.{ORIGIN}", timeout_s: float = 10.0) -> Reply:
    """Waits until the first probe round is done: service answers are no longer SERVFAIL."""
    r, _ = wait_timed(lambda: (lambda r: r if r.rcode != "SERVFAIL" else None)(
        query(srv.target, qname, "A")), timeout_s, f"{qname} answered (first probe round)")
    return r


# --------------------------------------------------------------------------
# MaxMind DB


def build_mmdb(source: Path, out: Path) -> Path:
    """Builds out from the readable source with tests/unit/geo/mkmmdb.pl;
    skips the test when Debian's libmaxmind-db-writer-perl is missing."""
    r = subprocess.run(["perl", str(MKMMDB), str(source), str(out)], capture_output=True,
                       text=True, timeout=60)
    if r.returncode == 77:
        pytest.skip("cannot build the test .mmdb: install libmaxmind-db-writer-perl")
    assert r.returncode == 0, f"mkmmdb.pl {source}: {r.stderr}"
    return out


# --------------------------------------------------------------------------
# The server


def geo_server(spawn, zone_path: Path, *, datacenters, services, geo=None, probes=None,
               name: str = "geo", extra=None):
    """Starts sovdns (config-file mode) serving geo.test with these sections."""
    cfg = {"datacenters": datacenters, "services": services}
    if geo is not None:
        cfg["geo"] = geo
    if probes is not None:
        cfg["probes"] = probes
    cfg.update(extra or {})
    return spawn([(ORIGIN, zone_path)], name=name, config_mode=True, config_extra=cfg)


def rewrite_config(srv, change) -> None:
    """Applies change(dict) to the server's config file, replaced atomically."""
    conf = json.loads(srv.config_path.read_text())
    change(conf)
    tmp = srv.config_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(conf, indent=2) + "\n")
    os.replace(tmp, srv.config_path)
