"""Least privilege: with "user", sovdns binds its sockets as root, then runs
as that account (docs/configuration.md, "user")."""
import os
import pwd
import subprocess

import dns.message
import dns.query
import pytest

from sovtest.paths import default_sovdns_bin
from sovtest.servers import SUITE_ZONES

pytestmark = pytest.mark.sovdns_only


def uids(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_drops_to_the_configured_user(spawn):
    nobody = pwd.getpwnam("nobody").pw_uid
    srv = spawn(SUITE_ZONES, config_mode=True, config_extra={"user": "nobody"})
    assert set(uids(srv.proc.pid)) == {nobody}, "real, effective, saved and fs uid are all nobody's"
    r = dns.query.udp(dns.message.make_query("www.example.test", "A"), srv.addr, port=srv.port,
                      timeout=2)
    assert r.answer
    assert "running as nobody" in srv.log_text()


def test_unknown_user_is_a_config_error(tmp_path):
    conf = tmp_path / "sovdns.json"
    zone = SUITE_ZONES[0][1]
    conf.write_text('{"listen": ["127.0.0.1:5300"],\n "user": "no-such-user-here",\n'
                    f' "zones": [{{"origin": "example.test", "file": "{zone}"}}]}}\n')
    r = subprocess.run([default_sovdns_bin(), "--check-config", str(conf)], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 1
    assert f"{conf}:2:10: \"user\": no account named \"no-such-user-here\"" in r.stderr, r.stderr
