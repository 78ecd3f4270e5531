"""Every error status of the HTTP API, with the uniform JSON error body, and
robustness against malformed requests."""

from __future__ import annotations

import json
import socket

import requests

from sovtest.api import assert_error
from sovtest.apiserver import ApiServer, api  # noqa: F401 (a fixture)
from sovtest.faults import tinyfs  # noqa: F401 (a fixture)
from sovtest.paths import BOUND_S


def test_400_bad_json_unknown_field_wrong_type(api):
    path = "/v1/datacenters/dc-east/drain"
    err = assert_error(api.post(path, data="{\"reason\": ", headers={"Content-Type": "application/json"}),
                       400, "bad_json")
    assert "line" in err["message"]
    assert_error(api.post(path, data="[1, 2]", headers={"Content-Type": "application/json"}),
                 400, "bad_json")
    assert_error(api.post(path, data="{\"reason\": \"a\", \"reason\": \"b\"}",
                          headers={"Content-Type": "application/json"}), 400, "bad_json")
    assert_error(api.post(path, data=b"{\"reason\": \"\xff\"}",
                          headers={"Content-Type": "application/json"}), 400, "bad_json")
    err = assert_error(api.post(path, {"reason": "x", "forse": True}), 400, "unknown_field")
    assert "forse" in err["message"]
    assert_error(api.post(path, {"reason": 5}), 400, "wrong_type")
    assert_error(api.post(path, {"reason": "x", "force": "yes"}), 400, "wrong_type")
    assert_error(api.post(path, {}), 400, "missing_field")
    assert_error(api.post(path), 400, "missing_field")  # empty body counts as {}
    assert_error(api.post(path, {"reason": "line\nbreak"}), 400, "invalid_value")
    assert_error(api.post(path, {"reason": "x" * 300}), 400, "invalid_value")
    assert_error(api.get("/v1/services/www.example.com./answer"), 400, "missing_parameter")
    assert_error(api.get("/v1/services/www.example.com./answer", params={"client": "1.2.3"}),
                 400, "invalid_parameter")
    assert_error(api.get("/v1/events", params={"since": "-1"}), 400, "invalid_parameter")
    assert_error(api.get("/v1/status", params={"verbose": "1"}), 400, "unknown_parameter")
    assert api.admin_state("dc-east") == "active"  # none of it changed anything


def test_401_without_or_with_a_bad_token(api):
    r = api.get("/v1/datacenters", token=None)
    assert_error(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(api.get("/v1/datacenters", token="not-a-valid-secret-at-all"), 401, "unauthorized")
    assert_error(api.get("/v1/datacenters", token=None,
                         headers={"Authorization": "Basic b3BzOm9wcw=="}), 401)
    # a valid secret with a suffix is not valid
    secret = api.tokens["ops"][1]
    assert_error(api.post("/v1/datacenters/dc-east/drain", {"reason": "x"}, token=secret + "x"),
                 401, "unauthorized")
    assert_error(api.post("/v1/datacenters/dc-east/drain", {"reason": "x"}, token=secret[:-1]),
                 401, "unauthorized")
    assert_error(api.get("/metrics", token=None), 401)
    assert api.admin_state("dc-east") == "active"


def test_403_scope(api):
    assert_error(api.drain("dc-east", token="viewer"), 403, "forbidden")
    assert_error(api.post("/v1/reload", token="viewer"), 403, "forbidden")


def test_404(api):
    assert_error(api.get("/v1/nothing"), 404, "not_found")
    assert_error(api.get("/"), 404, "not_found")
    assert_error(api.get("/v1/datacenters/dc-mars"), 404, "not_found")
    assert_error(api.get("/v1/datacenters/..%2F..%2Fetc"), 404, "not_found")
    assert_error(api.drain("dc-mars"), 404, "not_found")
    assert_error(api.get("/v1/services/nope.example.com."), 404, "not_found")
    assert_error(api.get("/v1/services/nope.example.com./answer", params={"client": "::1"}), 404)
    assert_error(api.get("/v1/datacenters/"), 404)
    assert_error(api.get("/v1//datacenters"), 404)


def test_405_with_allow(api):
    r = api.post("/v1/datacenters", {})
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET, HEAD"
    r = api.get("/v1/datacenters/dc-east/drain")
    assert_error(r, 405)
    assert r.headers["Allow"] == "POST"
    r = requests.delete(api.url("/v1/operations"), headers=api.headers("ops"), timeout=BOUND_S)
    assert_error(r, 405)
    assert r.headers["Allow"] == "GET, HEAD, POST"
    r = requests.put(api.url("/v1/reload"), headers=api.headers("ops"), timeout=BOUND_S)
    assert_error(r, 405)
    assert r.headers["Allow"] == "POST"


def test_409(api):
    assert api.drain("dc-east").status_code == 200
    assert_error(api.drain("dc-west"), 409, "last_usable_datacenter")


def test_413_body_too_large(tmp_path):
    srv = ApiServer(tmp_path, api={"body_max_bytes": 4096}).start()
    try:
        big = "{\"reason\": \"" + "x" * 5000 + "\"}"
        err = assert_error(srv.post("/v1/datacenters/dc-east/drain", data=big,
                                    headers={"Content-Type": "application/json"}), 413,
                           "payload_too_large")
        assert "4096" in err["message"]

        def chunks():
            for _ in range(10):
                yield b"x" * 1000
        # chunked: no Content-Length; the limit is found while reading
        assert_error(srv.post("/v1/datacenters/dc-east/drain", data=chunks(),
                              headers={"Content-Type": "application/json"}), 413,
                     "payload_too_large")
        assert srv.admin_state("dc-east") == "active"
        assert srv.get("/v1/status").status_code == 200
    finally:
        srv.stop()


def test_415_not_json(api):
    path = "/v1/datacenters/dc-east/drain"
    assert_error(api.post(path, data="reason=x", headers={"Content-Type": "application/x-www-form-urlencoded"}),
                 415, "unsupported_media_type")
    assert_error(api.post(path, data="{\"reason\": \"x\"}", headers={"Content-Type": "text/plain"}),
                 415, "unsupported_media_type")
    assert_error(api.post(path, data=b"{\"reason\": \"x\"}"), 415, "unsupported_media_type")
    # charset parameter is fine
    r = api.post(path, data="{\"reason\": \"x\"}",
                 headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text


def test_500_is_json_too(tmp_path, tinyfs):
    # the state_dir on a tiny file system, full: the state write fails (ENOSPC)
    srv = ApiServer(tmp_path / "srv", state_dir=tinyfs.path / "state",
                    api={"audit_log": str(tmp_path / "audit.log")}).start()
    tinyfs.fill()
    try:
        assert_error(srv.drain("dc-east"), 500, "state_write_failed")
    finally:
        srv.stop()


def test_head_and_read_routes_open_without_token(tmp_path):
    srv = ApiServer(tmp_path, api={"read_without_token": True}).start()
    try:
        assert srv.get("/v1/datacenters", token=None).status_code == 200
        assert srv.get("/metrics", token=None).status_code == 200
        r = requests.head(srv.url("/v1/status"), timeout=BOUND_S)
        assert r.status_code == 200 and r.text == ""
        assert_error(srv.drain("dc-east", token=None), 401, "unauthorized")
        # a bad token is still refused on an open route
        assert_error(srv.get("/v1/status", token="wrong-token-wrong-token"), 401)
    finally:
        srv.stop()


def raw(api, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", api.port), timeout=BOUND_S) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            return b""  # the server refused the rest: fine, it only must not die
        out = b""
        while True:
            try:
                b = s.recv(65536)
            except OSError:
                break
            if not b:
                break
            out += b
        return out


def test_malformed_requests_do_not_hurt(api):
    secret = api.tokens["ops"][1].encode()
    junk = [
        b"\x00\x01\x02\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /v1/status HTTP/9.9\r\n\r\n",
        b"POST /v1/datacenters/dc-east/drain HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST /v1/datacenters/dc-east/drain HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"POST /v1/datacenters/dc-east/drain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + secret +
        b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"reason\":",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1/status HTTP/1.1\r\nHost: x\r\n" + b"X-Junk: y\r\n" * 2000 + b"\r\n",
        b"GET /v1/datacenters/%00 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + secret + b"\r\n\r\n",
        b"GET /v1/services/%ff%fe/answer?client=::1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + secret + b"\r\n\r\n",
    ]
    for j in junk:
        raw(api, j)
        assert api.alive(), f"died on {j[:60]!r}"
    assert api.get("/v1/status").status_code == 200
    assert api.admin_state("dc-east") == "active"


def parse_raw(reply: bytes) -> tuple[int, dict, bytes]:
    head, _, body = reply.partition(b"\r\n\r\n")
    # libmicrohttpd 0.9.75 sends its status line and header twice when it
    # refuses a Content-Length (a bug of the library; main's HTML page had it
    # too): the reply is the last header block and what follows
    while body.startswith(b"HTTP/1."):
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in
               (line.split(":", 1) for line in lines[1:] if ":" in line)}
    return status, headers, body


def test_errors_libmicrohttpd_makes_itself_are_json_too(api):
    # every status libmicrohttpd 0.9.75 answers by itself (connection.c,
    # transmit_error_response_len) before a handler sees the request
    cases = [
        (400, "bad_request", b"GET /v1/status HTTP/1.1\r\nHost: x\r\nBad header\r\n\r\n"),
        (400, "bad_request", b"POST /v1/reload HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Length: -5\r\n\r\n"),
        (400, "bad_request", b"POST /v1/reload HTTP/1.1\r\nHost: x\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"),
        (413, "payload_too_large", b"POST /v1/reload HTTP/1.1\r\nHost: x\r\n"
                                   b"Content-Length: 99999999999999999999\r\n\r\n"),
        (414, "uri_too_long", b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        (431, "header_too_large", b"GET /v1/status HTTP/1.1\r\nHost: x\r\n"
                                  + b"X-Junk: y\r\n" * 4000 + b"\r\n"),
        (505, "http_version_not_supported", b"GET /v1/status HTTP/2.0\r\nHost: x\r\n\r\n"),
    ]
    for status, code, request in cases:
        # libmicrohttpd answers an oversized request before reading all of it
        # and closes; the unread rest makes the kernel reset the connection,
        # which may discard the reply before we read it: ask again (bounded)
        reply = b""
        for _ in range(10):
            reply = raw(api, request)
            if reply:
                break
        assert reply, f"no reply to {request[:60]!r} in 10 tries"
        got, headers, body = parse_raw(reply)
        assert got == status, (request[:60], got, body[:200])
        assert headers["content-type"] == "application/json", (request[:60], headers)
        err = json.loads(body)["error"]
        assert err["code"] == code, (request[:60], err)
        assert err["message"]
    # the API's own replies are untouched
    assert_error(api.get("/v1/nothing"), 404, "not_found")
