"""Faults (issue 8): kill -9 while admin state is being written → the next
start loads a consistent state (atomic temp file + fsync + rename), and DNS
answers agree with it. (Failed writes — full disk — are in test_api_drain.py;
a garbage zone or .mmdb on reload in test_reload.py / test_geo_answers.py.)"""
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import dns.message
import dns.query
import pytest
import requests

from sovtest.paths import default_sovdns_bin
from sovtest.ports import free_port

pytestmark = pytest.mark.sovdns_only

REPO = Path(__file__).resolve().parents[2]
DCS = ["dc-a", "dc-b", "dc-c"]
ADDR = {"dc-a": "192.0.2.1", "dc-b": "192.0.2.2", "dc-c": "192.0.2.3"}


def write_config(tmp: Path, dns_port: int, api_port: int) -> Path:
    token = tmp / "admin.token"
    token.write_text("k" * 40 + "\n")
    token.chmod(0o600)
    conf = {
        "listen": [f"127.0.0.1:{dns_port}"], "threads": 1,
        "zones": [{"origin": "example.test", "file": str(REPO / "conf/demo/example.test.zone")}],
        "datacenters": [{"id": d, "location": {"lat": 0, "lon": i}, "ipv4": [ADDR[d]]}
                        for i, d in enumerate(DCS)],
        "services": [{"name": "www.example.test", "policy": "all", "datacenters": DCS, "ttl": 1}],
        "state_dir": str(tmp / "state"),
        "api": {"listen": f"127.0.0.1:{api_port}", "drain_margin_s": 0,
                "tokens": [{"name": "ops", "file": str(token), "scope": "admin"}]},
    }
    path = tmp / "sovdns.json"
    path.write_text(json.dumps(conf))
    return path


def start(binary, conf: Path, api_port: int, log: Path):
    proc = subprocess.Popen([binary, "--config", str(conf)], stderr=open(log, "a"))
    deadline = time.monotonic() + 15
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{api_port}/v1/status", timeout=1,
                            headers=HDR).status_code == 200:
                return proc
        except requests.RequestException:
            pass
        assert proc.poll() is None, f"sovdns exited {proc.returncode}:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, "sovdns did not come up"
        time.sleep(0.05)


HDR = {"Authorization": "Bearer " + "k" * 40}


def answers(dns_port):
    r = dns.query.udp(dns.message.make_query("www.example.test", "A"), "127.0.0.1",
                      port=dns_port, timeout=2)
    return sorted(rr.address for rrset in r.answer for rr in rrset)


def test_kill_9_during_state_writes_leaves_a_consistent_state(tmp_path):
    binary = os.environ.get("SOVDNS_BIN") or default_sovdns_bin()
    dns_port, api_port = free_port(), free_port()
    conf = write_config(tmp_path, dns_port, api_port)
    log = tmp_path / "sovdns.log"
    for round_ in range(6):
        proc = start(binary, conf, api_port, log)
        stop = threading.Event()

        def churn():
            i = 0
            while not stop.is_set():
                dc = DCS[i % 2]  # dc-c stays active, so no drain is refused
                verb = "drain" if (i // 2) % 2 == 0 else "undrain"
                try:
                    requests.post(f"http://127.0.0.1:{api_port}/v1/datacenters/{dc}/{verb}",
                                  json={"reason": f"round {round_} step {i}"}, headers=HDR,
                                  timeout=1)
                except requests.RequestException:
                    return  # the daemon is gone
                i += 1

        t = threading.Thread(target=churn)
        t.start()
        time.sleep(0.05 + 0.07 * round_)  # kill at a different point each round
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        t.join(timeout=10)
        # The state on disk parses, and a new daemon loads it and agrees in DNS.
        state = json.loads((tmp_path / "state" / "admin.json").read_text())
        assert isinstance(state, dict), state
        proc = start(binary, conf, api_port, log)
        view = requests.get(f"http://127.0.0.1:{api_port}/v1/datacenters", headers=HDR,
                            timeout=2).json()["datacenters"]
        out = {d["id"] for d in view if d["admin"]["state"] != "active"}
        assert "dc-c" not in out
        want = sorted(ADDR[d] for d in DCS if d not in out)
        assert answers(dns_port) == want, (out, view)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, log.read_text()[-3000:]
