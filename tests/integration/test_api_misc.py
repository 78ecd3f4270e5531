"""Status, services and answers, events and notifications, reload, metrics,
concurrency, HTTPS, start-up checks, and the OpenAPI description."""

from __future__ import annotations

import json
import re
import threading

import pytest
import requests
import yaml

from sovtest.api import assert_error, parse_time
from sovtest.apiserver import ApiServer, api, daemon_version  # noqa: F401 (a fixture)
from sovtest.paths import BOUND_S, REPO
from sovtest.pki import self_signed
from sovtest.wait import wait_until


def test_status(api):
    s = api.get("/v1/status").json()
    assert s["version"] == daemon_version()
    assert [{k: z[k] for k in ("origin", "serial")} for z in s["zones"]] == \
        [{"origin": "example.com.", "serial": 2026113001}]
    parse_time(s["snapshot_loaded_at"])
    assert isinstance(s["uptime_s"], int)
    assert s["api"]["datacenters"] == {"active": 2, "draining": 0, "drained": 0, "maintenance": 0}
    assert s["api"]["operations_open"] == 0
    assert api.drain("dc-east").status_code == 200
    assert api.get("/v1/status").json()["api"]["datacenters"]["draining"] == 1


def test_datacenters_show_backend_details(api):
    dcs = api.get("/v1/datacenters").json()["datacenters"]
    assert [d["id"] for d in dcs] == ["dc-east", "dc-west"]
    east = dcs[0]
    assert east["addresses"] == ["192.0.2.1"]
    assert east["health"] == "up" and east["usable"] and east["in_answers"]
    assert east["admin"]["state"] == "active"


def test_services_and_answers(api):
    svcs = api.get("/v1/services").json()["services"]
    assert [s["name"] for s in svcs] == ["www.example.com.", "api.example.com."]
    www = svcs[0]
    assert www["policy"] == "failover" and www["ttl_s"] == 1 and www["usable_datacenters"] == 2
    assert [d["id"] for d in www["datacenters"]] == ["dc-east", "dc-west"]
    # by name, with or without the final dot, any case
    assert api.get("/v1/services/WWW.example.com").json()["name"] == "www.example.com."
    a = api.answer("api.example.com.", "198.51.100.9")
    assert a["datacenters"] == ["dc-west"] and a["client"] == "198.51.100.9"
    assert a["service"] == "api.example.com." and a["fail_open"] is False
    assert a["addresses"] == ["192.0.2.2"]
    assert api.answer("api.example.com.", "203.0.113.1")["datacenters"] == ["dc-east"]
    assert api.answer("api.example.com.", "2001:db8::1")["datacenters"] == ["dc-east"]
    assert api.drain("dc-west").status_code == 200
    assert api.answer("api.example.com.", "198.51.100.9")["datacenters"] == ["dc-east"]
    www = api.get("/v1/services/www.example.com.").json()
    assert www["usable_datacenters"] == 1
    assert www["datacenters"][1] == {"id": "dc-west", "health_ok": True, "admin": "draining",
                                     "usable": False}


def test_reload_changes_health_and_reports_failures(tmp_path):
    out = tmp_path / "notify.jsonl"
    srv = ApiServer(tmp_path, api={"notify": {"command": ["/bin/sh", "-c", f"cat >> {out}"]}})
    srv.start()
    try:
        srv.set_health("dc-east", "down")  # dc-east's site fails its probe
        r = srv.post("/v1/reload")
        assert r.status_code == 200 and r.json() == {"reloaded": True}
        dc = srv.dc("dc-east")
        assert dc["health"] == "down" and dc["usable"] is False and dc["in_answers"] is False
        assert srv.answer()["datacenters"] == ["dc-west"]
        ev = srv.events_since_start()
        health = [e for e in ev if e["type"] == "health"]
        assert health == [{**health[0], "datacenter": "dc-east", "from": "up", "to": "down"}]
        # dc-east is down: draining dc-west would leave no usable one
        assert_error(srv.drain("dc-west"), 409, "last_usable_datacenter")
        srv.config_path.write_text("{ broken")
        err = assert_error(srv.post("/v1/reload"), 500, "reload_failed")
        assert srv.config_path.name in err["message"] and "still served" in err["message"]
        assert srv.dc("dc-east")["health"] == "down"  # old state kept
        assert "sovdns_api_reload_failures_total 1" in srv.get("/metrics").text
        # the health change was notified
        wait_until(lambda: out.exists() and '"type":"health"' in out.read_text(), what="notify")
    finally:
        srv.stop()


def test_events_since_and_limit(api):
    for i in range(3):
        assert api.drain("dc-east", reason=f"r{i}").status_code == 200
        api.undrain("dc-east")
    b = api.seq0  # the events of the first probe round come before the test's
    body = api.get("/v1/events").json()
    ev = [e for e in body["events"] if e["seq"] > b]
    first = body["events"][0]["seq"]  # the run's first: start ms * 1000 + 1 (api/events.h)
    assert first % 1000 == 1
    assert [e["seq"] for e in body["events"]] == list(range(first, b + 7)) and body["last_seq"] == b + 6
    assert [e["seq"] for e in api.get("/v1/events", params={"since": b + 4}).json()["events"]] == [b + 5, b + 6]
    assert [e["seq"] for e in api.get("/v1/events", params={"limit": 2}).json()["events"]] == [b + 5, b + 6]
    assert [e["seq"] for e in api.get("/v1/events", params={"since": b + 1, "limit": 2}).json()["events"]] == [b + 2, b + 3]
    assert api.get("/v1/events", params={"since": b + 6}).json()["events"] == []
    e = ev[0]
    assert list(e)[:3] == ["seq", "time", "host"] and e["type"] == "admin"


def test_notify_command_gets_each_event_in_order(tmp_path):
    out = tmp_path / "notify.jsonl"
    srv = ApiServer(tmp_path, api={"notify": {"command": ["/bin/sh", "-c", f"cat >> {out}"]}})
    srv.start()
    try:
        assert srv.drain("dc-east", reason="deploy").status_code == 200
        r = srv.post("/v1/operations", {"kind": "deploy", "datacenter": "dc-east",
                                        "reason": "v2"})
        assert r.status_code in (200, 201), r.text
        op = r.json()
        assert srv.undrain("dc-east").status_code == 200

        b = srv.seq0  # the first probe round's health events are notified first

        def lines():
            if not out.exists():
                return None
            ls = [x for x in map(json.loads, out.read_text().splitlines()) if x["seq"] > b]
            return ls if len(ls) >= 3 else None
        got = wait_until(lines, what="3 notifications")
        assert [g["seq"] for g in got] == [b + 1, b + 2, b + 3]
        assert got[0]["type"] == "admin" and got[0]["to"] == "draining"
        assert got[0]["reason"] == "deploy" and got[0]["by"] == "ops"
        assert got[1]["type"] == "operation" and got[1]["operation"] == op["id"]
        assert got[2]["to"] == "active"
        n = len(srv.get("/v1/events").json()["events"])  # the first round's and these 3
        wait_until(lambda: srv.metric("sovdns_notify_runs_total") == n, what="every run counted")
        assert "sovdns_notify_failures_total 0" in srv.get("/metrics").text
    finally:
        srv.stop()


def test_slow_notify_command_is_killed(tmp_path):
    srv = ApiServer(tmp_path, api={"notify": {"command": ["/bin/sleep", "30"], "timeout_ms": 300}})
    srv.start()
    try:
        for _ in range(3):
            assert srv.drain("dc-east").status_code == 200
            assert srv.undrain("dc-east").status_code == 200
        wait_until(lambda: "sovdns_notify_timeouts_total 2" in srv.get("/metrics").text,
                   what="two timeouts")
        assert "still running after 300 ms; killing it" in srv.log()
    finally:
        srv.stop()


def test_notify_command_blocks_no_request(tmp_path):
    """The command holds the notifier (it waits for a file the test writes last);
    every drain and undrain is answered meanwhile, so none waited for it."""
    started, release = tmp_path / "started", tmp_path / "release"
    script = f"echo run >> {started}; while [ ! -e {release} ]; do sleep 0.05; done"
    srv = ApiServer(tmp_path, api={"notify": {"command": ["/bin/sh", "-c", script],
                                              "timeout_ms": 600000}})
    srv.start()
    try:
        wait_until(started.exists, what="the first notification to start")
        for _ in range(3):
            assert srv.drain("dc-east").status_code == 200
            assert srv.undrain("dc-east").status_code == 200
        assert started.read_text().count("run") == 1, "the notifier was not held by its first run"
        release.touch()
        # every event so far (seq numbers go on across restarts: count them)
        n = len(srv.get("/v1/events").json()["events"])
        wait_until(lambda: srv.metric("sovdns_notify_runs_total") == n, what=f"{n} runs")
        assert started.read_text().count("run") == n
    finally:
        srv.stop()


def test_notify_command_that_cannot_run(tmp_path):
    srv = ApiServer(tmp_path, api={"notify": {"command": ["/nonexistent/alert"]}}).start()
    try:
        assert srv.drain("dc-east").status_code == 200
        n = len(srv.get("/v1/events").json()["events"])  # the first round's and the drain's
        wait_until(lambda: srv.metric("sovdns_notify_failures_total") == n, what="a failure")
        assert srv.get("/v1/status").status_code == 200
    finally:
        srv.stop()


# Prometheus text exposition format 0.0.4, strictly enough to catch mistakes.
METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"'
SAMPLE = re.compile(rf"^({METRIC_NAME})(?:\{{({LABEL}(?:,{LABEL})*)?\}})? (\S+)(?: (-?\d+))?$")


def parse_prometheus(text: str) -> dict:
    assert text.endswith("\n")
    types, samples = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            assert re.match(rf"^# HELP {METRIC_NAME} .+$", line), line
        elif line.startswith("# TYPE "):
            m = re.match(rf"^# TYPE ({METRIC_NAME}) (counter|gauge|histogram|summary|untyped)$", line)
            assert m, line
            assert m.group(1) not in types, f"TYPE twice: {line}"
            types[m.group(1)] = m.group(2)
        elif line.startswith("#") or line == "":
            continue
        else:
            m = SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            name, labels, value = m.group(1), m.group(2) or "", m.group(3)
            float(value)
            assert name in types or re.sub(r"_(bucket|sum|count)$", "", name) in types, \
                f"sample before its TYPE: {line}"
            key = (name, labels)
            assert key not in samples, f"duplicate sample: {line}"
            samples[key] = float(value)
    return samples


def test_metrics_parse_as_prometheus_text(api):
    assert api.drain("dc-east").status_code == 200
    api.get("/v1/nothing")
    r = api.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    s = parse_prometheus(r.text)
    assert s[("sovdns_datacenter_admin_state", 'datacenter="dc-east",state="draining"')] == 1
    assert s[("sovdns_datacenter_admin_state", 'datacenter="dc-east",state="active"')] == 0
    assert s[("sovdns_datacenter_admin_state", 'datacenter="dc-west",state="active"')] == 1
    assert s[("sovdns_datacenter_health", 'datacenter="dc-west",state="up"')] == 1  # backend part
    assert s[("sovdns_api_requests_total",
              'method="POST",route="/v1/datacenters/{id}/drain",code="200"')] == 1
    assert s[("sovdns_api_requests_total", 'method="",route="unmatched",code="404"')] == 1
    assert s[("sovdns_operations", 'state="pending"')] == 0


def test_50_concurrent_calls(api):
    results, errors = [], []
    lock = threading.Lock()

    def worker(i):
        try:
            kind = i % 5
            if kind == 0:
                r = api.get("/v1/datacenters")
                ok = r.status_code == 200
            elif kind == 1:
                r = api.get("/metrics")
                ok = r.status_code == 200 and "sovdns_api_requests_total" in r.text
            elif kind == 2:
                r = api.post("/v1/operations", {"kind": "backup", "datacenter": "dc-west",
                                                "reason": f"job {i}"})
                ok = r.status_code == 201
            elif kind == 3:
                r = api.drain("dc-east", reason=f"job {i}")
                ok = r.status_code == 200
            else:
                r = api.answer("api.example.com.", "198.51.100.1")
                ok = r["datacenters"] == ["dc-west"]
            with lock:
                results.append(ok)
        except Exception as e:  # noqa: BLE001 — reported below
            with lock:
                errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=BOUND_S * 2)
    assert not errors, errors
    assert len(results) == 50 and all(results)
    ops = api.get("/v1/operations").json()["operations"]
    assert len(ops) == 10 and len({o["id"] for o in ops}) == 10
    assert api.admin_state("dc-east") in ("draining", "drained")
    # the state on disk is whole and matches
    doc = json.loads((api.state_dir / "operations.json").read_text())
    assert len(doc["operations"]) == 10


def test_https(tmp_path):
    made = self_signed(tmp_path)
    if made is None:
        pytest.skip("openssl cannot make a test certificate")
    cert, key = made
    srv = ApiServer(tmp_path, api={"tls": {"cert": str(cert), "key": str(key)}})
    srv.scheme = "https"
    srv.verify = str(cert)  # the self-signed certificate is its own CA
    srv.start()
    try:
        r = requests.get(f"https://localhost:{srv.port}/v1/status", headers=srv.headers("viewer"),
                         verify=str(cert), timeout=BOUND_S)
        assert r.status_code == 200
        assert srv.drain("dc-east").status_code == 200
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{srv.port}/v1/status", timeout=BOUND_S)
        assert srv.alive()
    finally:
        srv.stop()


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o602])
def test_token_file_readable_by_others_is_refused(tmp_path, mode):
    srv = ApiServer(tmp_path)
    (tmp_path / "ops.token").chmod(mode)
    rc, out = srv.start_failure()
    assert rc != 0 and "ops.token" in out and "other users" in out, out


def test_bad_tokens_and_config_are_refused(tmp_path):
    srv = ApiServer(tmp_path)
    (tmp_path / "ops.token").write_text("short\n")
    rc, out = srv.start_failure()
    assert rc != 0 and "shorter than 16" in out, out

    srv = ApiServer(tmp_path / "b", api={"listen": "localhost:80", "threads": 0, "bogus": 1,
                                         "tokens": [{"name": "x", "file": "f", "scope": "root"}]})
    rc, out = srv.start_failure()
    assert rc != 0
    for text in ("api.listen", "api.threads", "unknown key \"bogus\"", "unknown scope \"root\""):
        assert text in out, out
    assert str(srv.config_path) + ":" in out  # file:line:column


def test_listen_address_in_use_is_a_clear_error(api, tmp_path):
    other = ApiServer(tmp_path / "other", api={"listen": f"127.0.0.1:{api.port}"})
    rc, out = other.start_failure()
    assert rc != 0 and f"port {api.port}" in out, out


# ---- the OpenAPI description is kept in step with the server ----

OPENAPI = REPO / "docs" / "openapi.yaml"
ROUTES_C = REPO / "api" / "routes.c"


def code_routes() -> set[tuple[str, str]]:
    text = ROUTES_C.read_text()
    table = text[text.index("const struct http_route api_routes[]"):]
    found = set(re.findall(r'\{"(GET|POST)", "([^"]+)"', table))
    assert len(found) >= 15, found
    return found


def doc_routes() -> set[tuple[str, str]]:
    doc = yaml.safe_load(OPENAPI.read_text())
    assert doc["openapi"].startswith("3.")
    out = set()
    for path, item in doc["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "delete", "patch", "head", "options"):
                out.add((method.upper(), path))
    return out


def test_openapi_lists_every_route_and_nothing_else():
    assert code_routes() == doc_routes()


def test_openapi_operations_are_complete():
    doc = yaml.safe_load(OPENAPI.read_text())
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            assert op.get("operationId") and op.get("summary"), (method, path)
            assert "200" in op["responses"] or "201" in op["responses"], (method, path)
            for p in re.findall(r"\{(\w+)\}", path):
                params = item.get("parameters", []) + op.get("parameters", [])
                assert any(x.get("name") == p or x.get("$ref", "").endswith("/" + p.capitalize())
                           or x.get("$ref", "").lower().endswith(p.lower())
                           for x in params), (method, path, p)


def test_every_documented_route_answers(api):
    """No documented route is a 404 "no such route" or a 405 on the live server."""
    subst = {"id": "dc-east", "name": "www.example.com.", "origin": "example.com."}
    op = api.post("/v1/operations", {"kind": "backup", "datacenter": "dc-east", "reason": "x"}).json()
    for method, path in sorted(doc_routes()):
        real = re.sub(r"\{(\w+)\}", lambda m: subst[m.group(1)], path)
        if path.startswith("/v1/operations/{id}"):
            real = path.replace("{id}", op["id"])
        if method == "GET":
            r = api.get(real, params={"client": "192.0.2.9"} if real.endswith("/answer") else None)
        else:
            r = api.post(real, {}) if not real.endswith("/abort") else api.post(real)
        assert r.status_code not in (404, 405) or "no such route" not in r.text, (method, path, r.text)
        assert r.status_code != 405, (method, path, r.text)
        assert r.status_code < 500, (method, path, r.text)


def test_reload_that_brings_a_service_back_logs_healthy_again(tmp_path):
    # "no datacenter is healthy" and "a datacenter is healthy again" come in
    # pairs (alerts key on them), also when a reload, not a probe, ends it
    srv = ApiServer(tmp_path / "api").start()
    srv.set_health("dc-east", "down")
    srv.set_health("dc-west", "down")
    wait_until(lambda: "service www.example.com.: no datacenter is healthy" in srv.log(),
               what="the all-down warning")
    offset = len(srv.log())
    # the sites still answer 503; the reloaded check accepts it
    srv.conf["probes"]["checks"][0]["expect_status"] = [503]
    del srv.conf["probes"]["checks"][0]["body_contains"]
    srv.write_config()
    r = srv.post("/v1/reload")
    assert r.status_code == 200, r.text
    wait_until(lambda: srv.dc("dc-east")["health"] == "up", what="dc-east up after the reload")
    wait_until(lambda: "service www.example.com.: a datacenter is healthy again"
               in srv.log()[offset:], what="the healthy-again line")
    assert "no datacenter is healthy" not in srv.log()[offset:]


def test_event_numbers_go_on_across_a_restart(tmp_path):
    # a poller's ?since=N must not miss the events of the next run
    srv = ApiServer(tmp_path / "api").start()
    srv.drain("dc-east", reason="before the restart")
    last = srv.get("/v1/events").json()["last_seq"]
    srv.stop()
    srv.start()
    body = srv.get("/v1/events", params={"since": last}).json()
    assert body["events"], "the new run's events are hidden behind the old numbers"
    assert body["events"][0]["seq"] > last and body["last_seq"] > last
    # the first probe round of the new run is among them
    assert any(e["type"] == "health" for e in body["events"]), body


def test_zone_files_in_the_api_are_absolute(tmp_path):
    """Started with a relative --config and a relative zone file, GET /v1/zones
    names the file absolutely (as a secondary's state_dir path is): the
    operator reading it need not know where sovdns was started."""
    import os
    from sovtest.paths import default_sovdns_bin
    srv = ApiServer(tmp_path)
    srv.conf["zones"][0]["file"] = "example.com.zone"  # beside the configuration
    srv.write_config()
    srv.command = lambda: [str(default_sovdns_bin()), "--config",
                           os.path.relpath(srv.config_path, srv.dir)]
    srv.start()
    try:
        z = srv.get("/v1/zones").json()["zones"][0]
        assert z["file"] == os.path.realpath(tmp_path / "example.com.zone"), z
    finally:
        srv.stop()
