"""Idle and slow clients cannot lock operators out of the HTTP API.

The API's slots are taken at accept, before a header says who is calling.
The daemon (api/guard.h) drops a connection that has not sent a complete
request header within api.header_timeout_s, caps connections per client
address (api.max_connections_per_client) and, when half of
api.max_connections are held by connections without a valid token, evicts
the oldest one of the busiest address. Here 1,000 idle and 1,000 slow-drip
connections come from 10 loopback addresses other than the operator's, and
keep coming back when dropped; drains from 127.0.0.1 must still go through.
"""

from __future__ import annotations

import errno
import resource
import selectors
import socket
import threading
import time

import pytest
import requests

from sovtest.apiserver import ApiServer
from sovtest.paths import BOUND_S
from sovtest.wait import wait_until

IDLE = 1000
DRIP = 1000
# Never 127.0.0.1, the operator's. Ten addresses share the 128 pending slots
# (half of 256), so the busiest holds 13 or more; the operator's address, with
# at most its last keep-alive connection and the new one, is never the busiest.
ATTACK_ADDRS = [f"127.0.1.{i}" for i in range(1, 11)]
# A header that never ends: one byte per DRIP_EVERY_S on every drip socket.
DRIP_BYTES = b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 100000
DRIP_EVERY_S = 1.0
RECONNECT_AFTER_S = 1.0
HEADER_TIMEOUT_S = 5  # api.header_timeout_s's default  # a dropped attacker socket comes back after this


def raise_fd_limit(need: int):
    """The test holds 2,000 sockets; the daemon (a child) inherits the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


class Attacker(threading.Thread):
    """Holds IDLE sockets that send nothing and DRIP sockets that send a header
    one byte at a time, spread over ATTACK_ADDRS; reconnects dropped ones."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.stop = threading.Event()
        self.slots = [{"drip": i >= IDLE, "src": ATTACK_ADDRS[i % len(ATTACK_ADDRS)],
                       "sock": None, "sent": 0, "retry": 0.0} for i in range(IDLE + DRIP)]
        self.connected = 0  # connects that succeeded, in all
        self.dropped = 0    # connections the server closed
        self.ever = set()   # slots connected at least once
        self.ever_dropped = set()  # slots the server closed at least once

    def _open(self, i, slot, now):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((slot["src"], 0))
            rc = s.connect_ex(("127.0.0.1", self.port))
        except OSError:
            s.close()
            slot["retry"] = now + RECONNECT_AFTER_S
            return
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            slot["retry"] = now + RECONNECT_AFTER_S
            return
        slot["sock"], slot["sent"] = s, 0
        self.sel.register(s, selectors.EVENT_READ, i)
        self.connected += 1
        self.ever.add(i)

    def _drop(self, i, slot, now):
        self.sel.unregister(slot["sock"])
        slot["sock"].close()
        slot["sock"] = None
        slot["retry"] = now + RECONNECT_AFTER_S
        self.dropped += 1
        self.ever_dropped.add(i)

    def run(self):
        next_drip = 0.0
        while not self.stop.is_set():
            now = time.monotonic()
            for i, slot in enumerate(self.slots):
                if slot["sock"] is None and now >= slot["retry"]:
                    self._open(i, slot, now)
            if now >= next_drip:
                next_drip = now + DRIP_EVERY_S
                for slot in self.slots:
                    if slot["drip"] and slot["sock"] is not None:
                        try:
                            slot["sock"].send(DRIP_BYTES[slot["sent"]:slot["sent"] + 1])
                            slot["sent"] += 1
                        except OSError:
                            pass  # not connected yet, or dropped: the read side sees it
            for key, _ in self.sel.select(timeout=0.1):
                slot = self.slots[key.data]
                try:
                    data = slot["sock"].recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self._drop(key.data, slot, time.monotonic())
        for slot in self.slots:
            if slot["sock"] is not None:
                slot["sock"].close()


def test_idle_and_slow_clients_do_not_lock_out_drains(tmp_path):
    raise_fd_limit(IDLE + DRIP + 1024)
    # the defaults of api.max_connections (256), header_timeout_s (5) and
    # max_connections_per_client (64): what an operator runs
    srv = ApiServer(tmp_path / "api").start()
    attacker = Attacker(srv.port)
    attacker.start()
    try:
        wait_until(lambda: len(attacker.ever) == IDLE + DRIP, timeout=BOUND_S * 3,
                   what="all 2,000 attacker sockets connected")
        # drains and undrains, each on a fresh connection as sovctl makes
        # them, until the attack has lasted past a header deadline (5 s) and
        # every attacker socket has been dropped by the server at least once
        t0 = time.monotonic()
        give_up = t0 + BOUND_S * 4
        cycle = 0
        while (cycle < 3 or time.monotonic() < t0 + HEADER_TIMEOUT_S + 1
               or len(attacker.ever_dropped) < IDLE + DRIP):
            assert time.monotonic() < give_up, \
                f"attacker sockets never dropped: {IDLE + DRIP - len(attacker.ever_dropped)}"
            r = srv.drain("dc-east", reason=f"under attack {cycle}")
            assert r.status_code == 200, r.text
            assert srv.admin_state("dc-east") in ("draining", "drained")
            r = srv.undrain("dc-east")
            assert r.status_code == 200, r.text
            assert srv.admin_state("dc-east") == "active"
            cycle += 1
        assert attacker.dropped > 0
    finally:
        attacker.stop.set()
        attacker.join(BOUND_S)
    assert not attacker.is_alive()


def dropped(srv, reason: str) -> float:
    sample = f'sovdns_api_connections_dropped_total{{reason="{reason}"}} '
    for line in srv.get("/metrics").text.splitlines():
        if line.startswith(sample):
            return float(line.split()[1])
    raise AssertionError(f"no sample {sample}")


def read_until_closed(s: socket.socket, bound_s: float) -> str:
    s.settimeout(bound_s)
    try:
        while s.recv(4096):
            pass
        return "closed"
    except ConnectionResetError:
        return "closed"
    except socket.timeout:
        return "open"


def test_header_timeout_and_per_client_cap(tmp_path):
    srv = ApiServer(tmp_path / "api", api={"header_timeout_s": 1,
                                           "max_connections_per_client": 4}).start()
    # one idle and one slow client: each dropped once its header is late
    t0 = time.monotonic()
    idle = socket.create_connection(("127.0.0.1", srv.port), source_address=("127.0.1.50", 0))
    drip = socket.create_connection(("127.0.0.1", srv.port), source_address=("127.0.1.51", 0))
    drip.send(b"GET /v1/status HTTP/1.1\r\n")
    assert read_until_closed(idle, BOUND_S) == "closed"
    assert time.monotonic() - t0 >= 0.9  # not before its second
    drip.send(b"Host: x\r\n")  # activity does not extend the deadline
    assert read_until_closed(drip, BOUND_S) == "closed"
    idle.close()
    drip.close()
    # a fifth connection from one address is closed at accept; the four others
    # later, at their header deadline
    socks = [socket.create_connection(("127.0.0.1", srv.port), source_address=("127.0.1.60", 0))
             for _ in range(5)]
    closed = [read_until_closed(s, BOUND_S) for s in socks]
    assert closed == ["closed"] * 5
    for s in socks:
        s.close()
    # all closed: 2 + 4 for their late header, the fifth by the cap (not counted here)
    assert dropped(srv, "header_timeout") == 6
    # a client that sends its request at once is served, token or not
    r = requests.get(srv.url("/v1/status"), headers=srv.headers("viewer"), timeout=BOUND_S)
    assert r.status_code == 200
