"""--check-config on the "probes" section: an unknown key is placed at its
member (not at the object) with a suggestion, and a misfit of
"probes.defaults" is reported once, against "defaults", not against every
check that inherits it."""

from __future__ import annotations

import subprocess

from sovtest.paths import BOUND_S, default_sovdns_bin

ZONE = """$ORIGIN example.com.
$TTL 300
@ SOA ns1 h 1 7200 3600 1209600 300
  NS ns1
ns1 A 192.0.2.53
"""

# line 5: "defaults"; line 6 and 7: one check each
CONF = """{"listen": ["127.0.0.1:5399"],
 "zones": [{"origin": "example.com", "file": "z.zone"}],
 "datacenters": [{"id": "dc-a", "ipv4": ["192.0.2.1"], "location": {"lat": 1, "lon": 2}}],
 "services": [{"name": "www.example.com.", "policy": "all", "ttl": 30, "datacenters": ["dc-a"]}],
 "probes": {"defaults": {"interval_ms": 1000, "timeout_ms": 3000, "rize": 2},
            "checks": [{"name": "a", "type": "http", "path": "/h", "targets": {"dc-a": "127.0.0.1:1"}},
                       {"name": "b", "type": "tcp", "pth": "/x", "port": 80, "targets": {"dc-a": "127.0.0.1:1"}}]}}
"""


def test_probe_errors_name_the_key_and_the_defaults(tmp_path):
    (tmp_path / "z.zone").write_text(ZONE)
    conf = tmp_path / "c.json"
    conf.write_text(CONF)
    r = subprocess.run([str(default_sovdns_bin()), "--check-config", str(conf)],
                       capture_output=True, text=True, timeout=BOUND_S)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    rize = CONF.splitlines()[4].index('"rize": ') + len('"rize": ') + 1
    pth = CONF.splitlines()[6].index('"pth": ') + len('"pth": ') + 1
    assert f'{conf}:5:{rize}: probes.defaults: unknown key "rize" (did you mean "rise"?)' in lines, \
        r.stderr
    assert f'{conf}:7:{pth}: probes.checks[1]: unknown key "pth" (did you mean "path"?)' in lines, \
        r.stderr
    misfit = [line for line in lines if "must not exceed interval_ms" in line]
    assert len(misfit) == 1 and ": probes.defaults: timeout_ms (3000)" in misfit[0], r.stderr
