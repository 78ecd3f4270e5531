"""Memory: sovdns under valgrind (memcheck) reports no leak and no error after
a start, a thousand queries over UDP and TCP, a reload and a stop."""
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import dns.message
import dns.query
import pytest

from sovtest.paths import default_sovdns_bin
from sovtest.ports import free_port
from sovtest.servers import SUITE_ZONES

pytestmark = [pytest.mark.sovdns_only,
              pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")]


def test_no_leaks_under_valgrind(tmp_path):
    binary = os.environ.get("SOVDNS_BIN") or default_sovdns_bin()
    if "asan" in str(binary):
        pytest.skip("valgrind cannot run a binary built with AddressSanitizer")
    port = free_port()
    token = tmp_path / "token"
    token.write_text("x" * 32 + "\n")
    token.chmod(0o600)
    conf = {
        "listen": [f"127.0.0.1:{port}"], "threads": 2,
        "zones": [{"origin": o, "file": str(p)} for o, p in SUITE_ZONES if o != "example.test"]
        + [{"origin": "example.test", "file": str(Path(__file__).resolve().parents[2]
                                                   / "conf/demo/example.test.zone")}],
        "datacenters": [
            {"id": "dc-eu", "location": {"lat": 50.1, "lon": 8.7}, "ipv4": ["192.0.2.10"]},
            {"id": "dc-us", "location": {"lat": 40.7, "lon": -74.0}, "ipv4": ["198.51.100.10"],
             "ipv6": ["2001:db8::10"]}],
        "services": [{"name": "www.example.test", "datacenters": ["dc-eu", "dc-us"]},
                     {"name": "pay.example.test", "policy": "failover",
                      "datacenters": ["dc-eu", "dc-us"]}],
        "geo": {"nets": {"198.51.100.0/24": "dc-us"}, "default": "dc-eu"},
        "probes": {"defaults": {"interval_ms": 300, "timeout_ms": 200},
                   "checks": [{"type": "tcp", "port": 9, "targets": {
                       "dc-eu": "127.0.0.1:9", "dc-us": "127.0.0.1:9"}}]},
        "state_dir": str(tmp_path / "state"),
        "api": {"listen": f"127.0.0.1:{free_port()}",
                "tokens": [{"name": "t", "file": str(token), "scope": "admin"}]},
        "rrl": {"responses_per_second": 100000},
    }
    cpath = tmp_path / "sovdns.json"
    cpath.write_text(json.dumps(conf))
    log = tmp_path / "valgrind.log"
    proc = subprocess.Popen(
        ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
         "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
         f"--log-file={log}", str(binary), "--config", str(cpath)],
        stderr=open(tmp_path / "sovdns.log", "w"))
    try:
        deadline = time.monotonic() + 60
        while True:  # valgrind starts slowly: wait for an answer, bounded
            try:
                dns.query.udp(dns.message.make_query("example.test", "SOA"), "127.0.0.1",
                              port=port, timeout=1)
                break
            except Exception:
                assert proc.poll() is None, (tmp_path / "sovdns.log").read_text()
                assert time.monotonic() < deadline, "sovdns under valgrind did not answer"
        names = ["www.example.test", "pay.example.test", "mail.example.test",
                 "nothere.example.test", "x.apps.example.test", "ci.lab.example.test",
                 "www.branch.example.test", "blog.example.test", "example.org"]
        types = ["A", "AAAA", "MX", "TXT", "ANY", "NS", "SOA"]
        sent = 0
        for i in range(1000):
            q = dns.message.make_query(names[i % len(names)], types[i % len(types)],
                                       use_edns=0 if i % 2 else None)
            if i % 10 == 0:
                dns.query.tcp(q, "127.0.0.1", port=port, timeout=5)
            else:
                dns.query.udp(q, "127.0.0.1", port=port, timeout=5)
            sent += 1
        assert sent == 1000
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while "reload: generation 2" not in (tmp_path / "sovdns.log").read_text():
            assert time.monotonic() < deadline, "no reload"
            time.sleep(0.2)
        dns.query.udp(dns.message.make_query("www.example.test", "A"), "127.0.0.1", port=port,
                      timeout=5)
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
    text = log.read_text()
    assert rc == 0, f"exit {rc}\n{text[-4000:]}"
    assert "ERROR SUMMARY: 0 errors" in text, text[-4000:]
    assert "definitely lost: 0 bytes" in text or "no leaks are possible" in text, text[-4000:]
