"""The operations log through the HTTP API: lifecycle, invalid transitions,
results, scopes and persistence."""

from __future__ import annotations

import json
import re

from sovtest.api import assert_error, parse_time
from sovtest.apiserver import ApiServer, api  # noqa: F401 (a fixture)

ID_RE = re.compile(r"op-\d{8}T\d{6}Z-\d{4}")


def create(api, kind="backup", dc="dc-east", reason="nightly backup", token="ops"):
    return api.post("/v1/operations", {"kind": kind, "datacenter": dc, "reason": reason},
                    token=token)


def move(api, op_id, state, token="ops", **body):
    body["state"] = state
    return api.post(f"/v1/operations/{op_id}/state", body, token=token)


def test_operation_lifecycle(api):
    r = create(api)
    assert r.status_code == 201, r.text
    op = r.json()
    assert ID_RE.fullmatch(op["id"]), op["id"]
    assert r.headers["Location"] == f"/v1/operations/{op['id']}"
    assert op["state"] == "pending" and op["kind"] == "backup" and op["datacenter"] == "dc-east"
    assert op["created_by"] == "ops" and op["reason"] == "nightly backup" and op["result"] == {}
    for st in ("draining", "drained", "running"):
        r = move(api, op["id"], st)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == st and r.json()["changed"] is True
    r = move(api, op["id"], "verifying",
             result={"archive": "dc-east-20261130.tar.gpg", "sha256": "ab" * 32})
    assert r.status_code == 200
    r = move(api, op["id"], "done", result={"bytes": 12345})
    assert r.status_code == 200
    done = api.get(f"/v1/operations/{op['id']}").json()
    assert done["state"] == "done"
    # results merge
    assert done["result"] == {"archive": "dc-east-20261130.tar.gpg", "sha256": "ab" * 32,
                              "bytes": 12345}
    # a timestamp per state, in order
    hist = done["history"]
    assert [h["state"] for h in hist] == ["pending", "draining", "drained", "running",
                                           "verifying", "done"]
    times = [parse_time(h["at"]) for h in hist]
    assert times == sorted(times)
    assert parse_time(done["updated_at"]) >= parse_time(done["created_at"])
    # operations are in the events, with their transitions
    ev = [e for e in api.get("/v1/events").json()["events"] if e["type"] == "operation"]
    assert [(e["from"], e["to"]) for e in ev][-1] == ("verifying", "done")
    assert ev[0]["to"] == "pending" and ev[0]["operation"] == op["id"]


def test_invalid_transitions(api):
    op = create(api).json()
    # skipping a step
    err = assert_error(move(api, op["id"], "running"), 409, "invalid_transition")
    assert "pending" in err["message"] and "draining" in err["message"]
    assert_error(move(api, op["id"], "done"), 409, "invalid_transition")
    # the same state again is harmless (a retried request)
    r = move(api, op["id"], "pending", result={"note": "retry"})
    assert r.status_code == 200 and r.json()["changed"] is False
    assert r.json()["result"] == {"note": "retry"}
    assert move(api, op["id"], "draining").status_code == 200
    assert move(api, op["id"], "failed", reason="disk full").status_code == 200
    # final states are final
    for st in ("draining", "done", "failed", "aborted", "pending"):
        assert_error(move(api, op["id"], st), 409, "invalid_transition")
    assert_error(api.post(f"/v1/operations/{op['id']}/abort", {}), 409, "invalid_transition")
    got = api.get(f"/v1/operations/{op['id']}").json()
    assert got["state"] == "failed" and got["history"][-1]["reason"] == "disk full"
    # unknown state names are a 400, not a 409
    assert_error(move(api, op["id"], "sleeping"), 400, "invalid_value")


def test_abort(api):
    op = create(api, kind="deploy").json()
    move(api, op["id"], "draining")
    r = api.post(f"/v1/operations/{op['id']}/abort", {"reason": "wrong build"})
    assert r.status_code == 200 and r.json()["state"] == "aborted"
    assert r.json()["history"][-1] == {**r.json()["history"][-1], "state": "aborted",
                                        "reason": "wrong build", "by": "ops"}
    # abort without a body
    op2 = create(api).json()
    r = api.post(f"/v1/operations/{op2['id']}/abort")
    assert r.status_code == 200 and r.json()["state"] == "aborted"


def test_create_validation(api):
    assert_error(create(api, kind="upgrade"), 400, "invalid_value")
    assert_error(create(api, dc="dc-mars"), 400, "unknown_datacenter")
    assert_error(create(api, reason=""), 400, "invalid_value")
    assert_error(api.post("/v1/operations", {"kind": "backup", "datacenter": "dc-east"}), 400,
                 "missing_field")
    assert_error(api.post("/v1/operations", {"kind": "backup", "datacenter": "dc-east",
                                             "reason": "x", "when": "now"}), 400, "unknown_field")
    assert_error(api.post("/v1/operations/op-20261130T072400Z-0001/state", {"state": "done"}),
                 404, "not_found")
    assert_error(api.get("/v1/operations/op-nope"), 404, "not_found")
    assert_error(move(api, "x", "done", result=["not", "an", "object"]), 400, "wrong_type")
    assert api.get("/v1/operations").json()["operations"] == []


def test_scope_limits_operations_to_the_tokens_datacenters(api):
    assert create(api, token="deploy-east").status_code == 201
    assert_error(create(api, dc="dc-west", token="deploy-east"), 403, "forbidden")
    assert_error(create(api, token="viewer"), 403, "forbidden")
    west = create(api, dc="dc-west").json()
    assert_error(move(api, west["id"], "draining", token="deploy-east"), 403, "forbidden")
    assert_error(api.post(f"/v1/operations/{west['id']}/abort", token="deploy-east"), 403,
                 "forbidden")


def test_list_filters_and_order(api):
    ids = [create(api, kind=k, dc=d).json()["id"]
           for k, d in [("backup", "dc-east"), ("deploy", "dc-west"), ("restore", "dc-east"),
                        ("tls-renew", "dc-west")]]
    assert ids == sorted(ids) and len(set(ids)) == 4  # time-sortable, unique
    ops = api.get("/v1/operations").json()["operations"]
    assert [o["id"] for o in ops] == ids[::-1]  # newest first
    east = api.get("/v1/operations", params={"datacenter": "dc-east"}).json()["operations"]
    assert [o["id"] for o in east] == [ids[2], ids[0]]
    move(api, ids[1], "draining")
    dr = api.get("/v1/operations", params={"state": "draining"}).json()["operations"]
    assert [o["id"] for o in dr] == [ids[1]]
    assert len(api.get("/v1/operations", params={"limit": 2}).json()["operations"]) == 2
    assert_error(api.get("/v1/operations", params={"limit": 0}), 400, "invalid_parameter")
    assert_error(api.get("/v1/operations", params={"state": "x"}), 400, "invalid_parameter")
    assert_error(api.get("/v1/operations", params={"kind": "backup"}), 400, "unknown_parameter")


def test_operations_survive_restart_and_ids_keep_growing(api):
    a = create(api).json()
    move(api, a["id"], "draining", result={"k": "v"})
    api.restart()
    got = api.get(f"/v1/operations/{a['id']}").json()
    assert got["state"] == "draining" and got["result"] == {"k": "v"}
    b = create(api).json()
    assert b["id"] > a["id"]
    doc = json.loads((api.state_dir / "operations.json").read_text())
    assert doc["version"] == 1 and doc["last_id"] == b["id"]
    assert [o["id"] for o in doc["operations"]] == [a["id"], b["id"]]


def test_finished_operations_beyond_the_limit_are_dropped(tmp_path):
    srv = ApiServer(tmp_path, api={"operations_keep": 2}).start()
    try:
        ids = []
        for _ in range(4):
            op = create(srv).json()
            ids.append(op["id"])
            assert srv.post(f"/v1/operations/{op['id']}/abort").status_code == 200
        open_op = create(srv).json()["id"]
        kept = [o["id"] for o in srv.get("/v1/operations").json()["operations"]]
        assert kept == [open_op, ids[3], ids[2]]
    finally:
        srv.stop()
