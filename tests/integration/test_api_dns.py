"""End-to-end tests of the HTTP API against the REAL daemon: what the API does
must be seen in DNS answers (dnspython), with real probes of stand-in sites.

Layout (sovtest/e2e.py): three datacenters dc-a (Frankfurt), dc-b
(New York), dc-c (Singapore) with health endpoints on 127.0.0.x; services
www.example.test (nearest, a/b/c, on_all_down all) and pay.example.test
(failover a→b, on_all_down empty), TTL 2 s, drain margin 0, so a drain is
safe after 2 + max(0, ceil(2/10)) = 3 s. Every wait is bounded.

Run: SOVDNS_BIN=build/daemon/sovdns /usr/bin/python3 -m pytest tests/integration/test_api_dns.py
"""

from __future__ import annotations

import json
import signal
import math
import os
import threading
import time

import dns.exception
import dns.rcode
import pytest
import requests

from sovtest import prom
from sovtest.api import assert_error, parse_time
from sovtest.e2e import ADDR_DC, DCS, TTL, Daemon, addresses, answer_ttls, ecs_scope
from sovtest.ports import site_addrs
from sovtest.sites import Site
from sovtest.wait import wait_until

WAIT_S = TTL + max(0, math.ceil(TTL / 10))  # drain wait: ttl + max(margin 0, ceil(ttl/10))
CLIENT = {dc: d["client"] for dc, d in DCS.items()}


@pytest.fixture
def e2e(tmp_path):
    """e2e(up=("dc-a", ...), **Daemon kwargs) -> started Daemon. Datacenters not
    in `up` have no health endpoint (down from the first probe round). Every
    daemon must exit 0 on SIGTERM; every site is ended by its PID."""
    if os.environ.get("SOVDNS_TARGET") or os.environ.get("SOVDNS_IMPL", "sovdns") != "sovdns":
        pytest.skip("starts its own sovdns daemons")
    daemons, sites = [], []

    def make(up=("dc-a", "dc-b", "dc-c"), name="d", **kw):
        addrs = iter(site_addrs(3))
        health = {}
        for dc in DCS:
            if dc in up:
                s = Site("http", next(addrs)).start()
                sites.append(s)
                health[dc] = s
            else:
                health[dc] = None
        d = Daemon(tmp_path / name, health, **kw)
        daemons.append(d)
        return d.start()

    yield make
    errors = []
    for d in daemons:
        try:
            d.stop()
        except AssertionError as e:
            errors.append(str(e))
    for s in sites:
        s.stop()
    assert not errors, "\n".join(errors)


def dns_names(d, dc, clients=None, qname="www.example.test"):
    """True if any answer (A or AAAA) for any of the clients names dc."""
    return any(dc in d.answer_dcs(qname, client=c) for c in (clients or [None, *CLIENT.values()]))


# ---------------------------------------------------------------- drains

def test_full_drain_cycle_seen_in_dns(e2e):
    d = e2e()
    assert d.answer_dcs(client=CLIENT["dc-a"]) == {"dc-a"}
    assert d.answer_dcs() == {"dc-a"}  # unknown clients go to geo.default
    assert d.answer_dcs("pay.example.test") == {"dc-a"}

    t_req = time.time()
    r = d.drain("dc-a", reason="deploy 1.4.2")
    t_resp = time.time()
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "draining" and body["changed"] is True and body["by"] == "ops"
    # the margin applied: max(configured 0, ceil(TTL / 10)), so ttl_s + margin_s is the wait
    assert body["ttl_s"] == TTL and body["margin_s"] == WAIT_S - TTL
    safe_at = parse_time(body["safe_at"])
    # never early: at least the full wait after the request was sent
    assert safe_at >= t_req + WAIT_S - 1e-3 and safe_at <= t_resp + WAIT_S + 1, body

    # gone from DNS at once: no client, no service, either family
    assert not dns_names(d, "dc-a")
    assert not dns_names(d, "dc-a", qname="pay.example.test")
    assert d.answer_dcs(client=CLIENT["dc-a"]) == {"dc-b"}  # next nearest to Frankfurt
    assert d.answer_dcs("pay.example.test") == {"dc-b"}
    # while a site is out, the service answers with ttl_when_down (= min(ttl, 10))
    assert answer_ttls(d.ask("www.example.test", client=CLIENT["dc-b"])) == {min(TTL, 10)}
    dc = d.dc("dc-a")
    assert dc["admin"]["state"] == "draining" and dc["in_answers"] is False
    assert dc["usable"] is False and dc["health"] == "up"

    # `drained` only after ttl + margin; every observation before that is `draining`
    seen = []
    deadline = time.monotonic() + WAIT_S + 3
    while time.monotonic() < deadline:
        t0 = time.time()
        st = d.admin_state("dc-a")
        seen.append((t0, time.time(), st))
        assert not dns_names(d, "dc-a", clients=[CLIENT["dc-a"]])
        if st == "drained":
            break
        assert st == "draining", seen
        time.sleep(0.1)
    assert seen[-1][2] == "drained", f"not drained within {WAIT_S + 3} s: {seen[-3:]}"
    for _t0, t1, st in seen:
        if st == "drained":
            assert t1 >= t_req + WAIT_S, f"drained {t_req + WAIT_S - t1:.2f} s early: {seen}"
    # it was seen draining close to the end of the wait (the poll was dense enough)
    assert any(st == "draining" and t1 >= t_req + WAIT_S - 1.0 for _t, t1, st in seen), seen
    assert not dns_names(d, "dc-a")

    # back in answers at once after undrain (its health is up)
    r = d.undrain("dc-a", reason="deploy done")
    assert r.status_code == 200 and r.json()["state"] == "active" and r.json()["changed"], r.text
    assert d.answer_dcs(client=CLIENT["dc-a"]) == {"dc-a"}
    assert d.answer_dcs("pay.example.test") == {"dc-a"}
    assert answer_ttls(d.ask("www.example.test", client=CLIENT["dc-a"])) == {TTL}
    assert d.dc("dc-a")["in_answers"] is True

    ev = d.get("/v1/events").json()["events"]
    admin = [(e["from"], e["to"]) for e in ev if e["type"] == "admin"]
    assert admin == [("active", "draining"), ("draining", "drained"), ("drained", "active")]


def test_last_usable_409_force_and_fail_open_in_dns(e2e):
    d = e2e(up=("dc-a", "dc-b"))  # dc-c is down from the start
    assert d.dc("dc-c")["health"] == "down"
    assert d.answer_dcs(client=CLIENT["dc-c"]) == {"dc-a"}  # nearest usable to Singapore
    assert d.drain("dc-a").status_code == 200

    # dc-b is the last usable datacenter of both services (dc-c is down)
    err = assert_error(d.drain("dc-b"), 409, "last_usable_datacenter")
    assert "www.example.test" in err["message"] and "pay.example.test" in err["message"], err
    assert "force" in err["message"]
    assert d.admin_state("dc-b") == "active"
    assert_error(d.maintenance("dc-b", True), 409, "last_usable_datacenter")
    assert d.admin_state("dc-b") == "active"
    assert {d.answer_dcs(client=c).pop() for c in CLIENT.values()} == {"dc-b"}

    r = d.drain("dc-b", force=True, reason="move both")
    assert r.status_code == 200 and r.json()["state"] == "draining", r.text
    # No usable datacenter: www fails open, but only to what no operator took
    # out: dc-c (down). A draining site is held already (geo.md: else a forced
    # drain would keep it in caches past its safe_at)...
    r = d.ask("www.example.test", "A", client=CLIENT["dc-c"])
    assert {ADDR_DC[a] for a in addresses(r)} == {"dc-c"}
    # ...and stays so once drained.
    wait_until(lambda: d.admin_state("dc-b") == "drained", timeout=WAIT_S + 3, interval=0.1,
               what="dc-b drained")
    assert d.admin_state("dc-a") == "drained"
    for c in (None, *CLIENT.values()):
        r = d.ask("www.example.test", "A", client=c)
        assert {ADDR_DC[a] for a in addresses(r)} == {"dc-c"}, c
    # dc-c has no IPv6 address. The AAAA answer must not fall back to the
    # drained dc-a/dc-b (a dual-stack client would prefer IPv6 and reach the
    # site the operator drained): "if all are held, all of them" is for a
    # service whose datacenters are ALL held, which www's are not.
    # (checked at the end, so the rest of the test runs whatever happens here)
    aaaa = {}
    for c in (None, *CLIENT.values()):
        r = d.ask("www.example.test", "AAAA", client=c)
        assert r.rcode() == dns.rcode.NOERROR
        aaaa[c] = sorted({ADDR_DC[a] for a in addresses(r)})
    ans = d.api_answer(CLIENT["dc-a"])
    assert ans["fail_open"] is True and ans["outcome"] == "fail_open", ans
    assert [a for a in ans["addresses"] if ":" not in a] == [DCS["dc-c"]["ipv4"]], ans
    api_named = sorted(set(ans["datacenters"]) - {"dc-c"})  # checked at the end
    # pay (on_all_down empty): NODATA, both of its datacenters are drained
    for t in ("A", "AAAA"):
        r = d.ask("pay.example.test", t, client=CLIENT["dc-b"])
        assert r.rcode() == dns.rcode.NOERROR and addresses(r) == [], r
    assert d.dc("dc-a")["in_answers"] is False and d.dc("dc-b")["in_answers"] is False
    assert d.dc("dc-c")["in_answers"] is True

    # maintenance of dc-c too: every datacenter held → all of them (geo.md,
    # "if all are held, all of them")
    assert d.maintenance("dc-c", True, force=True).status_code == 200
    assert d.answer_dcs(client=CLIENT["dc-c"]) == {"dc-a", "dc-b", "dc-c"}
    assert d.maintenance("dc-c", False).status_code == 200

    # undrain dc-b: back to normal answers, fail-open over
    assert d.undrain("dc-b").status_code == 200
    assert d.answer_dcs(client=CLIENT["dc-c"]) == {"dc-b"}
    assert d.api_answer(CLIENT["dc-c"])["fail_open"] is False

    named = {c: v for c, v in aaaa.items() if v}
    assert not named and not api_named, (
        f"fail-open AAAA answers name the drained dc-a/dc-b (client: datacenters) {named}, "
        "although dc-c (not held, IPv4 only) is the service's fail-open answer and "
        f"/v1/datacenters said in_answers false for both; the answer route names {api_named}")


def test_maintenance_overrides_a_healthy_probe(e2e):
    d = e2e()
    assert d.answer_dcs(client=CLIENT["dc-b"]) == {"dc-b"}
    r = d.maintenance("dc-b", True, reason="restore after disk loss")
    assert r.status_code == 200 and r.json()["state"] == "maintenance", r.text
    # from active: withdrawn like a drain, with the same wait (it was null)
    assert r.json()["safe_at"] is not None and r.json()["after"] == "active"
    checks = d.dc("dc-b")["probes"]["checks_total"]
    # a few probe rounds later the probe still says up, and it stays out
    wait_until(lambda: d.dc("dc-b")["probes"]["checks_total"] >= checks + 3, timeout=5,
               what="three more probe rounds")
    dc = d.dc("dc-b")
    assert dc["health"] == "up" and dc["probes"]["last_ok"] is True
    assert dc["admin"]["state"] == "maintenance" and dc["in_answers"] is False
    assert not dns_names(d, "dc-b")
    assert not dns_names(d, "dc-b", qname="pay.example.test")
    assert d.answer_dcs(client=CLIENT["dc-b"]) == {"dc-a"}  # next nearest to New York
    assert_error(d.drain("dc-b"), 409, "in_maintenance")
    assert_error(d.undrain("dc-b"), 409, "in_maintenance")
    assert d.admin_state("dc-b") == "maintenance"
    r = d.maintenance("dc-b", False)
    assert r.status_code == 200 and r.json()["state"] == "active", r.text
    assert d.answer_dcs(client=CLIENT["dc-b"]) == {"dc-b"}
    # Ending maintenance never ends a drain under it: back to draining, still
    # out of DNS, until undrain.
    assert d.drain("dc-b", reason="deploy").status_code == 200
    assert d.maintenance("dc-b", True, reason="disk").status_code == 200
    r = d.maintenance("dc-b", False)
    assert r.status_code == 200 and r.json()["state"] in ("draining", "drained"), r.text
    assert not dns_names(d, "dc-b")
    assert d.undrain("dc-b").status_code == 200
    assert d.answer_dcs(client=CLIENT["dc-b"]) == {"dc-b"}


def test_drain_scoped_token_cannot_drain_another_datacenter(e2e):
    d = e2e()
    for call in (lambda: d.drain("dc-b", token="deploy-a"),
                 lambda: d.maintenance("dc-b", True, token="deploy-a"),
                 lambda: d.undrain("dc-b", token="deploy-a")):
        assert_error(call(), 403, "forbidden")
    assert_error(d.drain("dc-a", token="viewer"), 403, "forbidden")
    assert_error(d.drain("dc-a", token=None), 401, "unauthorized")
    assert_error(d.post("/v1/reload", token="deploy-a"), 403, "forbidden")
    assert d.admin_state("dc-b") == "active"
    assert d.answer_dcs(client=CLIENT["dc-b"]) == {"dc-b"}
    # its own datacenter it may drain
    r = d.drain("dc-a", token="deploy-a", reason="deploy dc-a")
    assert r.status_code == 200 and r.json()["by"] == "deploy-a", r.text
    assert not dns_names(d, "dc-a", clients=[CLIENT["dc-a"], None])
    # the audit log shows who tried what
    audit = [json.loads(x) for x in (d.state_dir / "audit.log").read_text().splitlines()]
    refused = [a for a in audit if a["who"] == "deploy-a" and a["status"] == 403]
    assert {a["path"] for a in refused} >= {"/v1/datacenters/dc-b/drain",
                                            "/v1/datacenters/dc-b/maintenance"}
    assert any(a["who"] == "deploy-a" and a["status"] == 200 and
               a["path"] == "/v1/datacenters/dc-a/drain" for a in audit)


# ----------------------------------------------------------- persistence

def test_restart_while_drained_stays_drained(e2e):
    d = e2e()
    op = d.post("/v1/operations", {"kind": "deploy", "datacenter": "dc-a",
                                   "reason": "deploy 2.0"}, token="deploy-a")
    assert op.status_code == 201, op.text
    op_id = op.json()["id"]
    assert d.drain("dc-a", token="deploy-a").status_code == 200
    wait_until(lambda: d.admin_state("dc-a") == "drained", timeout=WAIT_S + 3, interval=0.1,
               what="dc-a drained")
    before = d.dc("dc-a")["admin"]

    assert d.stop() == 0
    d.start()  # same config, same state_dir
    after = d.dc("dc-a")
    assert after["admin"]["state"] == "drained", after
    assert after["admin"]["since"] == before["since"] and after["admin"]["by"] == "deploy-a"
    assert after["health"] == "up" and after["in_answers"] is False
    assert not dns_names(d, "dc-a")
    assert not dns_names(d, "dc-a", qname="pay.example.test")
    assert d.get(f"/v1/operations/{op_id}").json()["state"] == "pending"
    # and the site comes back only when someone says so
    assert d.undrain("dc-a", token="deploy-a").status_code == 200
    assert d.answer_dcs(client=CLIENT["dc-a"]) == {"dc-a"}


@pytest.mark.parametrize("name", ["admin.json", "operations.json"])
def test_corrupt_state_file_refuses_to_start(e2e, name):
    d = e2e()
    # two writes of each file, so that each has a previous good copy
    assert d.drain("dc-c").status_code == 200
    assert d.undrain("dc-c").status_code == 200
    for _ in range(2):
        assert d.post("/v1/operations", {"kind": "backup", "datacenter": "dc-c",
                                         "reason": "nightly"}).status_code == 201
    assert d.stop() == 0
    path = d.state_dir / name
    assert path.exists() and path.with_name(name + ".prev").exists(), \
        sorted(p.name for p in d.state_dir.iterdir())
    bad = b'{"version": 1,\n  "datacenters": {"dc-a": {"state": "drai'
    path.write_bytes(bad)

    refused = d.start_refused()
    assert refused.rc != 0
    # a clear error on stderr: the file, the line of the JSON error, the copy to compare
    assert f"{path}:2:" in refused.stderr, refused.stderr
    assert f"previous good copy is {path}.prev" in refused.stderr, refused.stderr
    assert path.read_bytes() == bad  # never reset or rewritten
    assert not d.alive()
    # nothing answers on the daemon's DNS port
    with pytest.raises((dns.exception.Timeout, OSError)):
        d.ask("example.test", "SOA", timeout=0.3)


# ------------------------------------------------------------ operations

def test_operations_lifecycle_through_the_daemon(e2e):
    d = e2e()
    r = d.post("/v1/operations", {"kind": "backup", "datacenter": "dc-a", "reason": "nightly"},
               token="deploy-a")
    assert r.status_code == 201, r.text
    op = r.json()
    assert r.headers["Location"] == f"/v1/operations/{op['id']}"
    assert op["state"] == "pending" and op["created_by"] == "deploy-a"
    assert_error(d.post("/v1/operations", {"kind": "backup", "datacenter": "dc-b",
                                           "reason": "x"}, token="deploy-a"), 403, "forbidden")
    assert_error(d.post("/v1/operations", {"kind": "backup", "datacenter": "dc-z",
                                           "reason": "x"}), 400, "unknown_datacenter")

    def move(state, **body):
        return d.post(f"/v1/operations/{op['id']}/state", {"state": state, **body},
                      token="deploy-a")

    assert_error(move("running"), 409, "invalid_transition")
    for st in ("draining", "drained", "running"):
        r = move(st)
        assert r.status_code == 200 and r.json()["state"] == st, r.text
    assert move("running").json()["changed"] is False  # a retried request is harmless
    assert move("verifying", result={"archive": "dc-a.tar.gpg", "sha256": "ab" * 32}) \
        .status_code == 200
    r = move("done", result={"bytes": 4096})
    assert r.status_code == 200, r.text
    got = d.get(f"/v1/operations/{op['id']}").json()
    assert got["state"] == "done"
    assert got["result"] == {"archive": "dc-a.tar.gpg", "sha256": "ab" * 32, "bytes": 4096}
    assert [h["state"] for h in got["history"]] == ["pending", "draining", "drained",
                                                    "running", "verifying", "done"]
    assert_error(move("failed"), 409, "invalid_transition")

    other = d.post("/v1/operations", {"kind": "restore", "datacenter": "dc-b",
                                      "reason": "restore"}).json()
    r = d.post(f"/v1/operations/{other['id']}/abort", {"reason": "wrong archive"})
    assert r.status_code == 200 and r.json()["state"] == "aborted", r.text
    ops = d.get("/v1/operations").json()["operations"]
    assert [o["id"] for o in ops] == [other["id"], op["id"]]
    only_a = d.get("/v1/operations", params={"datacenter": "dc-a"}).json()["operations"]
    assert [o["id"] for o in only_a] == [op["id"]]
    ev = [e for e in d.get("/v1/events").json()["events"] if e["type"] == "operation"]
    assert ev[-1]["operation"] == other["id"] and ev[-1]["to"] == "aborted"
    # operations change no DNS answer by themselves
    assert d.answer_dcs(client=CLIENT["dc-a"]) == {"dc-a"}
    # they survive a restart
    assert d.stop() == 0
    d.start()
    assert d.get(f"/v1/operations/{op['id']}").json()["state"] == "done"
    assert d.get(f"/v1/operations/{other['id']}").json()["state"] == "aborted"


# ----------------------------------------------- "what would you answer"

def test_answer_route_agrees_with_dns_ecs(e2e):
    d = e2e(up=("dc-a", "dc-b"))  # dc-c down: its clients are sent elsewhere
    clients = [*CLIENT.values(), "10.9.8.7", "2001:db8:b::7", "192.0.2.200"]

    def compare(service):
        for c in clients:
            api = d.api_answer(c, service)
            dns_addrs, ttls, scopes = [], set(), set()
            for t in ("A", "AAAA"):
                r = d.ask(service, t, client=c)
                assert r.rcode() == dns.rcode.NOERROR
                dns_addrs += addresses(r)
                ttls |= answer_ttls(r)
                if t == "A":
                    scopes.add(ecs_scope(r))
            where = f"{service} for {c}: API {api}, DNS {dns_addrs}"
            assert sorted(api["addresses"]) == sorted(dns_addrs), where
            assert {ADDR_DC[a] for a in dns_addrs} == set(api["datacenters"]), where
            if dns_addrs:
                assert ttls == {api["ttl_s"]}, where
            assert scopes == {api["ecs_scope"]}, where

    for service in ("www.example.test", "pay.example.test"):
        compare(service)
    assert d.drain("dc-a").status_code == 200
    compare("www.example.test")
    compare("pay.example.test")
    assert d.drain("dc-b", force=True).status_code == 200  # fail-open
    compare("www.example.test")
    compare("pay.example.test")


# --------------------------------------------------------------- reload

def test_reload_picks_up_a_zone_change_and_keeps_old_data_on_error(e2e):
    d = e2e()
    zone = d.zone_dir / "example.test.zone"
    good = zone.read_text()
    assert d.drain("dc-c").status_code == 200  # admin state must survive reloads

    r = d.ask("new.example.test", "TXT")
    assert r.rcode() == dns.rcode.NXDOMAIN
    zone.write_text(good.replace("2024060101", "2024060102") +
                    'new             TXT   "added by reload"\n')
    r = d.post("/v1/reload")
    assert r.status_code == 200 and r.json() == {"reloaded": True}, r.text
    r = d.ask("new.example.test", "TXT")
    assert r.rcode() == dns.rcode.NOERROR and "added by reload" in r.answer[0].to_text()
    soa = d.ask("example.test", "SOA")
    assert soa.answer[0][0].serial == 2024060102
    serials = {z["origin"]: z["serial"] for z in d.get("/v1/status").json()["zones"]}
    assert serials["example.test."] == 2024060102, serials
    assert d.admin_state("dc-c") in ("draining", "drained")
    assert not dns_names(d, "dc-c")

    # a broken zone: an error body naming the file, and the old data still served
    broken = good.replace("2024060101", "2024060103") + "broken A not-an-address\n"
    zone.write_text(broken)
    err = assert_error(d.post("/v1/reload"), 500, "reload_failed")
    assert f"{zone}:{broken.count(chr(10))}:" in err["message"], err  # file:line at fault
    assert d.alive()
    r = d.ask("new.example.test", "TXT")
    assert r.rcode() == dns.rcode.NOERROR and "added by reload" in r.answer[0].to_text()
    assert d.ask("example.test", "SOA").answer[0][0].serial == 2024060102
    assert d.answer_dcs(client=CLIENT["dc-b"]) == {"dc-b"}
    assert not dns_names(d, "dc-c")
    m = prom.parse(d.get("/metrics").text, strict_groups=False)
    assert prom.value(m, "sovdns_api_reloads_total") == 2
    assert prom.value(m, "sovdns_api_reload_failures_total") == 1
    ev = [e for e in d.get("/v1/events").json()["events"] if e["type"] == "reload"]
    assert [e["ok"] for e in ev] == [True, False], ev
    # SIGHUP reloads are events too, by "SIGHUP"
    zone.write_text(good.replace("2024060101", "2024060104"))
    d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: d.ask("example.test", "SOA").answer[0][0].serial == 2024060104,
               timeout=10, interval=0.05, what="SIGHUP reload")
    ev = [e for e in d.get("/v1/events").json()["events"] if e["type"] == "reload"]
    assert [(e["ok"], e["by"]) for e in ev][-1] == (True, "SIGHUP"), ev


# ------------------------------------------------------------------ load

def test_50_concurrent_api_calls_under_dns_load(e2e):
    d = e2e()
    stop = threading.Event()
    dns_stats = {"sent": 0, "ok": 0, "bad": []}
    lock = threading.Lock()

    def dns_load(client, want):
        n = 0
        while not stop.is_set() and n < 5000:
            n += 1
            try:
                r = d.ask("www.example.test", "A", client=client, timeout=2.0)
                ok = r.rcode() == dns.rcode.NOERROR and \
                    {ADDR_DC[a] for a in addresses(r)} == {want}
                problem = None if ok else f"{client}: {r.rcode()} {addresses(r)}"
            except (dns.exception.DNSException, OSError) as e:
                problem = f"{client}: {type(e).__name__} {e}"
            with lock:
                dns_stats["sent"] += 1
                if problem:
                    dns_stats["bad"].append(problem)
                else:
                    dns_stats["ok"] += 1

    loaders = [threading.Thread(target=dns_load, args=(CLIENT[dc], dc), daemon=True)
               for dc in ("dc-a", "dc-b", "dc-a", "dc-b")]
    for t in loaders:
        t.start()
    wait_until(lambda: dns_stats["sent"] >= 50, timeout=5, what="DNS load running")

    # 50 calls whose right answers do not depend on their order
    calls = ([("datacenters", None)] * 10 + [("answer", None)] * 8 + [("metrics", None)] * 6 +
             [("status", None)] * 6 + [("create_op", None)] * 8 + [("drain_c", None)] * 6 +
             [("forbidden", None)] * 6)
    assert len(calls) == 50
    barrier = threading.Barrier(len(calls), timeout=10)
    results: list = [None] * len(calls)

    def call(i, kind):
        s = requests.Session()
        try:
            barrier.wait()
            if kind == "datacenters":
                r = d.get("/v1/datacenters", session=s)
                ok = r.status_code == 200 and \
                    [x["id"] for x in r.json()["datacenters"]] == list(DCS)
            elif kind == "answer":
                r = d.get("/v1/services/www.example.test/answer", session=s,
                          params={"client": CLIENT["dc-b"]})
                ok = r.status_code == 200 and r.json()["datacenters"] == ["dc-b"]
            elif kind == "metrics":
                r = d.get("/metrics", session=s)
                ok = r.status_code == 200 and \
                    "sovdns_queries_total" in prom.parse(r.text, strict_groups=False)
            elif kind == "status":
                r = d.get("/v1/status", session=s)
                ok = r.status_code == 200 and len(r.json()["zones"]) == 2
            elif kind == "create_op":
                r = d.post("/v1/operations", {"kind": "backup", "datacenter": "dc-b",
                                              "reason": f"concurrent {i}"}, session=s)
                ok = r.status_code == 201 and r.json()["state"] == "pending"
            elif kind == "drain_c":
                r = d.drain("dc-c", reason="concurrent drain", session=s)
                ok = r.status_code == 200 and r.json()["state"] == "draining"
            else:
                r = d.drain("dc-b", token="deploy-a", session=s)
                ok = r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
            body = r.json() if ok and kind in ("drain_c", "create_op") else None
            results[i] = (kind, ok, r.status_code, r.text[:300], body)
        except Exception as e:  # noqa: BLE001 (reported below)
            results[i] = (kind, False, None, f"{type(e).__name__}: {e}", None)
        finally:
            s.close()

    threads = [threading.Thread(target=call, args=(i, k), daemon=True)
               for i, (k, _) in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=15)
    time.sleep(0.3)  # keep the load on a little after the last call
    stop.set()
    for t in loaders:
        t.join(timeout=5)

    assert all(not t.is_alive() for t in threads), "an API call did not finish within 15 s"
    bad = [r for r in results if r is None or not r[1]]
    assert not bad, f"{len(bad)} API calls failed: {bad[:5]}"
    drains = [r[4] for r in results if r[0] == "drain_c"]
    assert sum(1 for x in drains if x["changed"]) == 1, drains  # exactly one made the change
    assert len({x["safe_at"] for x in drains}) == 1, drains
    ids = [r[4]["id"] for r in results if r[0] == "create_op"]
    assert len(set(ids)) == 8, ids
    assert len(d.get("/v1/operations").json()["operations"]) == 8

    assert dns_stats["sent"] >= 100, dns_stats["sent"]
    assert not dns_stats["bad"], f"{len(dns_stats['bad'])} of {dns_stats['sent']} DNS " \
                                 f"queries lost or wrong: {dns_stats['bad'][:5]}"
    assert dns_stats["ok"] == dns_stats["sent"]
    assert d.admin_state("dc-b") == "active"
    assert not dns_names(d, "dc-c")


# --------------------------------------------------------------- metrics

def test_metrics_are_prometheus_text(e2e):
    d = e2e(up=("dc-a", "dc-b"))
    d.drain("dc-a")
    d.ask("www.example.test", "A", client=CLIENT["dc-b"])
    r = d.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers
    assert "version=0.0.4" in r.headers["Content-Type"], r.headers
    m = prom.parse(r.text, strict_groups=False)
    assert prom.value(m, "sovdns_datacenter_admin_state", datacenter="dc-a",
                      state="draining") == 1
    assert prom.value(m, "sovdns_datacenter_admin_state", datacenter="dc-a",
                      state="active") == 0
    assert m["sovdns_queries_total"].type == "counter"
    assert m["sovdns_api_requests_total"].type == "counter"
    assert prom.total(m, "sovdns_api_requests_total", route="/v1/datacenters/{id}/drain",
                      code="200") == 1
    # strict: HELP/TYPE for all, each metric's lines one group, no duplicates
    prom.parse(r.text)


def test_metrics_dns_counters_move_with_queries(e2e):
    d = e2e(up=("dc-a", "dc-b"))  # dc-c down
    m0 = prom.parse(d.get("/metrics").text, strict_groups=False)
    n = 20
    for i in range(n):
        d.ask("www.example.test", "A", client=CLIENT["dc-b"])
    for i in range(5):
        d.ask(f"nope{i}.example.test", "A")
    d.ask("www.example.test", "A", client=CLIENT["dc-a"], tcp=True)
    # fail-open answers: a and b in maintenance (held at once), c down:
    # www fails open to dc-c
    assert d.maintenance("dc-a", True).status_code == 200
    assert d.maintenance("dc-b", True, force=True).status_code == 200
    for i in range(3):
        r = d.ask("www.example.test", "A", client=CLIENT["dc-b"])
        assert {ADDR_DC[a] for a in addresses(r)} == {"dc-c"}
    m1 = prom.parse(d.get("/metrics").text, strict_groups=False)

    def delta(name, **labels):
        return prom.value(m1, name, **labels) - prom.value(m0, name, **labels)

    assert delta("sovdns_queries_total", transport="udp") == n + 5 + 3
    assert delta("sovdns_queries_total", transport="tcp") == 1
    assert delta("sovdns_responses_total", rcode="NXDOMAIN") == 5
    assert delta("sovdns_responses_total", rcode="NOERROR") == n + 1 + 3
    assert delta("sovdns_service_datacenter_answers_total", service="www.example.test",
                 datacenter="dc-b") == n
    assert delta("sovdns_service_datacenter_answers_total", service="www.example.test",
                 datacenter="dc-c") == 3
    assert prom.value(m1, "sovdns_datacenter_health", datacenter="dc-c", state="down") == 1
    assert prom.value(m1, "sovdns_datacenter_in_answers", datacenter="dc-a") == 0
    assert prom.value(m1, "sovdns_probe_failures_total", target="dc-c") >= 1
    # the aggregate service counters move too
    assert delta("sovdns_service_answers_total") == n + 1 + 3, \
        "sovdns_service_answers_total does not count service answers"
    assert delta("sovdns_fail_open_total") == 3, \
        "sovdns_fail_open_total does not count fail-open answers"


@pytest.mark.parametrize("text", [
    "x 1",                                              # no final line feed
    "# TYPE x counter\nx -1\n",                         # negative counter
    "# TYPE x counter\n# TYPE x counter\nx 1\n",        # second TYPE
    "x 1\n# TYPE x counter\n",                          # TYPE after samples
    "# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n",     # duplicate series
    "# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n",           # label twice
    "# TYPE x gauge\nx{a=1} 1\n",                       # unquoted label value
    "# TYPE x gauge\nx{a=\"\\q\"} 1\n",                 # bad escape
    "# TYPE x gauge\nx one\n",                          # not a number
    "# TYPE x gauge\nx 1 2 3\n",                        # too many fields
    "# TYPE x gauge\n# TYPE y gauge\nx 1\ny 1\nx{a=\"b\"} 1\n",  # x not one group
    "# TYPE x widget\nx 1\n",                           # unknown type
    "# TYPE 1x gauge\n1x 1\n",                          # bad metric name
])
def test_prometheus_parser_is_strict(text):
    """The parser used above can fail (so its passing means something)."""
    with pytest.raises(prom.PromError):
        prom.parse(text, require_meta=False)


def test_prometheus_parser_accepts_valid_text():
    m = prom.parse('# HELP x_total Things, with a \\\\ and a \\n.\n# TYPE x_total counter\n'
                   'x_total{a="q\\"uote",b="line\\nfeed"} 3\nx_total 1e3 1700000000000\n'
                   '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 0.5\nh_count 2\n'
                   '# a comment\n\n# TYPE g gauge\ng NaN\n', require_meta=False)
    assert prom.value(m, "x_total", a='q"uote', b="line\nfeed") == 3
    assert prom.value(m, "x_total") == 1000 and m["x_total"].help == "Things, with a \\ and a \n."
    assert prom.value(m, "h_count") == 2 and prom.total(m, "h_bucket") == 2
    assert math.isnan(prom.value(m, "g"))
