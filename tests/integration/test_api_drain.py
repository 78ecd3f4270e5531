"""Drain, undrain, maintenance and leases through the HTTP API, their effect on
answers, and their persistence (restart, corrupt files, failed writes)."""

from __future__ import annotations

import json
import re
import time

import pytest

from sovtest.api import assert_error, parse_time
from sovtest.apiserver import ApiServer, api  # noqa: F401 (a fixture)
from sovtest.faults import tinyfs  # noqa: F401 (a fixture)
from sovtest.wait import wait_until


def test_full_drain_cycle(api):
    assert api.answer()["datacenters"] == ["dc-east"]
    r = api.drain("dc-east", reason="deploy 1.4.2")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["datacenter"] == "dc-east" and body["changed"] is True
    assert body["state"] == "draining"
    assert body["reason"] == "deploy 1.4.2" and body["by"] == "ops"
    # TTL 1 s, margin 0 → wait 1 + max(0, ceil(0.1)) = 2 s, safe_at rounded up to a second
    since, safe_at = parse_time(body["since"]), parse_time(body["safe_at"])
    assert 2 <= safe_at - since <= 3, body
    assert body["ttl_s"] == 1 and body["margin_s"] == 1  # the margin applied

    # out of answers at once
    assert api.answer()["datacenters"] == ["dc-west"]
    dc = api.dc("dc-east")
    assert dc["in_answers"] is False and dc["usable"] is False and dc["health"] == "up"

    # drained only after the TTL wait
    assert api.admin_state("dc-east") == "draining"
    wait_until(lambda: api.admin_state("dc-east") == "drained", what="drained")
    assert time.time() >= safe_at - 0.01
    assert api.answer()["datacenters"] == ["dc-west"]

    # back after undrain
    r = api.undrain("dc-east", reason="deploy done")
    assert r.status_code == 200 and r.json()["state"] == "active" and r.json()["changed"]
    assert api.answer()["datacenters"] == ["dc-east"]
    assert api.dc("dc-east")["in_answers"] is True

    # the events tell the story in order
    ev = api.get("/v1/events").json()["events"]
    seen = [(e["from"], e["to"]) for e in ev if e["type"] == "admin"]
    assert seen == [("active", "draining"), ("draining", "drained"), ("drained", "active")]
    assert all(e["datacenter"] == "dc-east" for e in ev if e["type"] == "admin")


def test_drain_is_idempotent_and_undrain_of_active_is_a_no_op(api):
    assert api.drain("dc-east").json()["changed"] is True
    first = api.dc("dc-east")["admin"]
    r = api.drain("dc-east", reason="again")
    assert r.status_code == 200 and r.json()["changed"] is False
    assert r.json()["safe_at"] == first["safe_at"]  # the wait does not restart
    r = api.undrain("dc-west")
    assert r.status_code == 200 and r.json()["changed"] is False and r.json()["state"] == "active"


def test_last_usable_datacenter_409_and_force(api):
    assert api.drain("dc-east").status_code == 200
    err = assert_error(api.drain("dc-west"), 409, "last_usable_datacenter")
    assert "www.example.com." in err["message"] and "force" in err["message"]
    assert api.admin_state("dc-west") == "active"  # nothing changed
    r = api.drain("dc-west", force=True, reason="both down for the move")
    assert r.status_code == 200 and r.json()["state"] == "draining"
    # no usable datacenter: fail-open names those not held (draining, drained,
    # maintenance), and every one when all are held, as here
    ans = api.answer()
    assert ans["fail_open"] is True and set(ans["datacenters"]) == {"dc-east", "dc-west"}
    metrics = api.get("/metrics").text
    assert "sovdns_api_drains_refused_total 1" in metrics


def test_drain_of_down_peer_counts_as_last_usable(tmp_path):
    srv = ApiServer(tmp_path, health={"dc-west": "down"}).start()
    try:
        assert_error(srv.drain("dc-east"), 409, "last_usable_datacenter")
        # dc-west is down: draining it leaves dc-east usable, so it is allowed
        assert srv.drain("dc-west").status_code == 200
    finally:
        srv.stop()


def test_fail_open_never_names_a_draining_datacenter(tmp_path):
    """The daemon's rule: a held datacenter (draining too) is left out of a
    fail-open answer while another one is not held, even if that one is down."""
    srv = ApiServer(tmp_path, health={"dc-west": "down"}).start()
    assert srv.drain("dc-east", force=True).status_code == 200
    ans = srv.answer()
    assert ans["fail_open"] is True and ans["datacenters"] == ["dc-west"]
    assert srv.dc("dc-east")["in_answers"] is False


def test_maintenance_overrides_a_healthy_probe(api):
    r = api.post("/v1/datacenters/dc-east/maintenance", {"on": True, "reason": "restore"})
    assert r.status_code == 200, r.text
    # from active: withdrawn like a drain, with the same wait (issue 16: it was null)
    assert r.json()["state"] == "maintenance" and r.json()["safe_at"] is not None
    dc = api.dc("dc-east")
    assert dc["health"] == "up" and dc["in_answers"] is False
    assert api.answer()["datacenters"] == ["dc-west"]
    # drain and undrain do not end maintenance
    assert_error(api.drain("dc-east"), 409, "in_maintenance")
    assert_error(api.undrain("dc-east"), 409, "in_maintenance")
    # maintenance of the last usable one needs force
    assert_error(api.post("/v1/datacenters/dc-west/maintenance", {"on": True, "reason": "x"}),
                 409, "last_usable_datacenter")
    # ending maintenance returns to active; ending it again changes nothing
    r = api.post("/v1/datacenters/dc-east/maintenance", {"on": False})
    assert r.status_code == 200 and r.json()["state"] == "active" and r.json()["changed"]
    r = api.post("/v1/datacenters/dc-east/maintenance", {"on": False})
    assert r.status_code == 200 and r.json()["changed"] is False
    assert api.answer()["datacenters"] == ["dc-east"]
    # ending maintenance does not end a drain
    assert api.drain("dc-east").status_code == 200
    r = api.post("/v1/datacenters/dc-east/maintenance", {"on": False})
    assert r.json()["state"] == "draining" and r.json()["changed"] is False


def test_maintenance_needs_a_reason_to_start(api):
    assert_error(api.post("/v1/datacenters/dc-east/maintenance", {"on": True}), 400,
                 "invalid_value")
    assert_error(api.post("/v1/datacenters/dc-east/maintenance", {"reason": "x"}), 400,
                 "missing_field")


def test_drain_reply_shows_the_margin_applied_and_refuses_lease_0(api):
    # TTL 1 s, drain_margin_s 0: 10 % of the TTL (rounded up to 1 s) is applied
    assert_error(api.drain("dc-east", lease_s=0), 400, "invalid_value")
    assert api.admin_state("dc-east") == "active"
    body = api.drain("dc-east").json()
    assert body["ttl_s"] == 1 and body["margin_s"] == 1, body
    wait = parse_time(body["safe_at"]) - parse_time(body["since"])
    assert body["ttl_s"] + body["margin_s"] <= wait <= body["ttl_s"] + body["margin_s"] + 1


def test_maintenance_from_active_says_when_it_is_safe(api):
    # maintenance withdraws the datacenter like a drain: the same wait
    r = api.maintenance("dc-east", True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "maintenance" and body["after"] == "active", body
    assert body["safe_at"] is not None and body["ttl_s"] == 1 and body["margin_s"] == 1, body
    wait = parse_time(body["safe_at"]) - parse_time(body["since"])
    assert 2 <= wait <= 3, body
    assert api.answer()["datacenters"] == ["dc-west"]
    r = api.maintenance("dc-east", False)
    assert r.status_code == 200 and r.json()["state"] == "active", r.text
    # over a drain: ending it returns to the drain, whose safe_at it shows
    drain = api.drain("dc-east").json()
    body = api.maintenance("dc-east", True).json()
    assert body["after"] == "drain" and body["safe_at"] == drain["safe_at"], body
    assert api.maintenance("dc-east", False).json()["state"] in ("draining", "drained")


def test_lease_expiry_ends_the_drain(api):
    r = api.drain("dc-east", lease_s=2)
    assert r.status_code == 200
    body = r.json()
    lease = parse_time(body["lease_expires_at"])
    assert 2 <= lease - parse_time(body["since"]) <= 3
    wait_until(lambda: api.admin_state("dc-east") == "active", what="the lease to expire")
    assert time.time() >= lease - 0.01
    rec = api.dc("dc-east")["admin"]
    assert rec["by"] == "lease" and rec["lease_expires_at"] is None
    assert api.answer()["datacenters"] == ["dc-east"]
    ev = [e for e in api.get("/v1/events").json()["events"] if e["type"] == "admin"]
    assert ev[-1]["to"] == "active" and ev[-1]["by"] == "lease"


def test_lease_renewal_by_draining_again(api):
    first = parse_time(api.drain("dc-east", lease_s=2).json()["lease_expires_at"])
    r = api.drain("dc-east", lease_s=60, reason="still deploying")
    assert r.status_code == 200 and r.json()["changed"] is False
    assert parse_time(r.json()["lease_expires_at"]) >= time.time() + 55
    # past the first lease: still out of answers
    wait_until(lambda: api.admin_state("dc-east") == "drained", what="drained")
    wait_until(lambda: time.time() >= first + 1.0, what="past the first lease")
    assert api.admin_state("dc-east") == "drained"
    # a drain without lease_s removes the lease
    r = api.drain("dc-east")
    assert r.json()["lease_expires_at"] is None


def test_lease_limits(api):
    assert_error(api.drain("dc-east", lease_s=7 * 86400 + 1), 400, "invalid_value")
    assert_error(api.drain("dc-east", lease_s=-1), 400, "wrong_type")
    assert_error(api.drain("dc-east", lease_s="60"), 400, "wrong_type")


def test_restart_keeps_drained_state(api):
    assert api.drain("dc-east", reason="backup").status_code == 200
    wait_until(lambda: api.admin_state("dc-east") == "drained", what="drained")
    assert api.drain("dc-west", force=True, reason="second").status_code == 200  # draining at the restart
    api.restart()
    rec = api.dc("dc-east")["admin"]
    assert rec["state"] == "drained" and rec["reason"] == "backup" and rec["by"] == "ops"
    assert api.admin_state("dc-west") in ("draining", "drained")
    assert api.answer()["fail_open"] is True
    state = json.loads((api.state_dir / "admin.json").read_text())
    assert state["version"] == 1 and state["datacenters"]["dc-east"]["state"] == "drained"
    assert (api.state_dir / "admin.json.prev").exists()
    assert "dc-east starts drained" in api.log()


def test_restart_keeps_state_of_datacenters_gone_from_the_config(tmp_path):
    srv = ApiServer(tmp_path).start()
    assert srv.drain("dc-west", reason="keep me").status_code == 200
    srv.stop()
    srv.keep_only("dc-east")
    srv.start()
    try:
        assert srv.get("/v1/datacenters/dc-west").status_code == 404
        assert srv.drain("dc-east", force=True).status_code == 200  # rewrites admin.json
        state = json.loads((srv.state_dir / "admin.json").read_text())
        assert state["datacenters"]["dc-west"]["state"] == "draining"
        assert "not in the configuration" in srv.log()
    finally:
        srv.stop()


@pytest.mark.parametrize("name,content", [
    ("admin.json", "{\"version\": 1, \"datacenters\": {"),
    ("admin.json", "{\"version\": 1, \"datacenters\": {\"dc-east\": {\"state\": \"sleeping\"}}}"),
    ("admin.json", "{\"version\": 2, \"datacenters\": {}}"),
    ("operations.json", "[]"),
    ("operations.json", "{\"version\": 1, \"last_id\": \"\", \"operations\": [{\"id\": \"x\"}]}"),
])
def test_corrupt_state_file_is_a_clear_refusal(tmp_path, name, content):
    srv = ApiServer(tmp_path)
    srv.state_dir.mkdir()
    path = srv.state_dir / name
    path.write_text(content)
    rc, out = srv.start_failure()
    assert rc != 0
    assert str(path) in out, out
    assert f"{path}.prev" in out, out  # tells where the previous good copy is
    assert path.read_text() == content  # never rewritten or reset


def test_missing_state_file_with_prev_is_refused(api):
    assert api.drain("dc-east").status_code == 200
    assert api.drain("dc-east", reason="twice, so that .prev exists").status_code == 200
    api.stop()
    (api.state_dir / "admin.json").unlink()
    rc, out = api.start_failure()
    assert rc != 0 and "admin.json.prev" in out and "missing" in out, out


def test_second_process_on_the_same_state_dir_is_refused(api, tmp_path):
    other = ApiServer(tmp_path / "other", state_dir=api.state_dir)
    rc, out = other.start_failure()
    assert rc != 0 and "in use by another" in out, out


def test_failed_write_changes_nothing(tmp_path, tinyfs):
    # the state_dir on a tiny file system that the test fills: writes fail with ENOSPC
    srv = ApiServer(tmp_path / "srv", state_dir=tinyfs.path / "state",
                    api={"audit_log": str(tmp_path / "audit.log")}).start()
    try:
        assert srv.drain("dc-east").status_code == 200
        before = (srv.state_dir / "admin.json").read_text()
        tinyfs.fill()
        err = assert_error(srv.drain("dc-west", force=True), 500, "state_write_failed")
        assert "admin.json" in err["message"] and "No space left" in err["message"]
        assert srv.admin_state("dc-west") == "active"
        assert srv.answer("api.example.com.", "198.51.100.7")["datacenters"] == ["dc-west"]
        assert (srv.state_dir / "admin.json").read_text() == before
        err = assert_error(srv.post("/v1/operations", {"kind": "backup", "datacenter": "dc-east",
                                                        "reason": "nightly"}),
                           500, "state_write_failed")
        assert srv.get("/v1/operations").json()["operations"] == []
        # the timer's draining → drained waits for the disk, it is not lost:
        # once the timer's own write failed too (a third failure), still draining
        wait_until(lambda: write_failures(srv) >= 3, what="the timer's write to fail")
        assert srv.admin_state("dc-east") == "draining"
        assert "sovdns_api_state_write_failures_total 0" not in srv.get("/metrics").text
        tinyfs.unfill()
        wait_until(lambda: srv.admin_state("dc-east") == "drained", what="drained after retry")
        assert srv.drain("dc-west", force=True).status_code == 200
    finally:
        srv.stop()


def write_failures(srv) -> int:
    m = re.search(r"^sovdns_api_state_write_failures_total (\d+)$", srv.get("/metrics").text,
                  re.M)
    return int(m.group(1))


def test_failed_write_on_a_full_file_system(tmp_path, tinyfs):
    mnt = tinyfs.path
    srv = None
    try:
        srv = ApiServer(tmp_path / "srv", state_dir=mnt / "state",
                        api={"audit_log": str(tmp_path / "audit.log")}).start()
        assert srv.drain("dc-east").status_code == 200
        # fill the file system
        tinyfs.fill()
        err = assert_error(srv.drain("dc-west", force=True), 500, "state_write_failed")
        assert "No space left" in err["message"]
        assert srv.admin_state("dc-west") == "active"
        assert json.loads((mnt / "state" / "admin.json").read_text())["datacenters"]["dc-west"]["state"] == "active"
        assert not [p for p in (mnt / "state").iterdir() if ".tmp" in p.name]  # no debris
        tinyfs.unfill()
        assert srv.drain("dc-west", force=True).status_code == 200
    finally:
        if srv is not None:
            srv.stop()


def test_scoped_token_drains_only_its_datacenter(api):
    r = api.drain("dc-east", token="deploy-east")
    assert r.status_code == 200 and r.json()["by"] == "deploy-east"
    assert_error(api.drain("dc-west", token="deploy-east", force=True), 403, "forbidden")
    assert_error(api.post("/v1/datacenters/dc-west/maintenance", {"on": True, "reason": "x"},
                          token="deploy-east"), 403, "forbidden")
    assert_error(api.drain("dc-east", token="viewer"), 403, "forbidden")
    assert_error(api.post("/v1/reload", token="deploy-east"), 403, "forbidden")
    assert api.undrain("dc-east", token="deploy-east").status_code == 200


def test_audit_log_records_changes_and_refusals(api):
    assert api.drain("dc-east", reason="audit me").status_code == 200
    assert api.drain("dc-west", token="deploy-east").status_code == 403
    lines = [json.loads(x) for x in (api.state_dir / "audit.log").read_text().splitlines()]
    ok = [x for x in lines if x["status"] == 200]
    assert ok[0]["who"] == "ops" and ok[0]["from"] == "127.0.0.1"
    assert ok[0]["path"] == "/v1/datacenters/dc-east/drain" and ok[0]["method"] == "POST"
    assert ok[0]["request"] == {"reason": "audit me"}
    parse_time(ok[0]["time"])
    refused = [x for x in lines if x["status"] == 403]
    assert refused and refused[0]["who"] == "deploy-east" and refused[0]["error"] == "forbidden"
