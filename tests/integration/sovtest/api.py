"""The HTTP API client side: requests with a token, shortcuts, the error body."""

from __future__ import annotations

import calendar
import json
import re

import requests

from .paths import BOUND_S


class ApiClient:
    """Mixed into a process that serves the API: needs self.port, self.tokens
    ({name: (scope, secret)}), self.scheme and self.verify."""

    scheme = "http"
    verify: bool | str = True  # requests' verify= (a CA file for HTTPS)
    tokens: dict = {}
    port = 0

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def headers(self, token: str | None):
        if token is None:
            return {}
        secret = self.tokens[token][1] if token in self.tokens else token
        return {"Authorization": f"Bearer {secret}"}

    def get(self, path, token="viewer", session=None, **kw):
        headers = self.headers(token)
        headers.update(kw.pop("headers", {}))
        s = session or requests
        return s.get(self.url(path), headers=headers, timeout=BOUND_S, verify=self.verify, **kw)

    def post(self, path, body=None, token="ops", session=None, **kw):
        headers = self.headers(token)
        headers.update(kw.pop("headers", {}))
        if body is not None and "data" not in kw:
            kw["data"] = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        s = session or requests
        return s.post(self.url(path), headers=headers, timeout=BOUND_S, verify=self.verify, **kw)

    def status_ok(self) -> bool:
        try:
            return self.get("/v1/status").status_code == 200
        except requests.ConnectionError:
            return False

    # -- shortcuts --
    def dc(self, dc: str) -> dict:
        r = self.get(f"/v1/datacenters/{dc}")
        assert r.status_code == 200, r.text
        return r.json()

    def admin_state(self, dc: str) -> str:
        return self.dc(dc)["admin"]["state"]

    default_reason = "test drain"

    def drain(self, dc, token="ops", session=None, **body):
        body.setdefault("reason", self.default_reason)
        return self.post(f"/v1/datacenters/{dc}/drain", body, token=token, session=session)

    def undrain(self, dc, token="ops", **body):
        return self.post(f"/v1/datacenters/{dc}/undrain", body, token=token)

    def maintenance(self, dc, on, token="ops", **body):
        body["on"] = on
        if on:
            body.setdefault("reason", "test maintenance")
        return self.post(f"/v1/datacenters/{dc}/maintenance", body, token=token)

    def api_answer(self, client, service) -> dict:
        r = self.get(f"/v1/services/{service}/answer", params={"client": client})
        assert r.status_code == 200, r.text
        return r.json()

    def metrics(self) -> str:
        return self.get("/metrics").text


def assert_error(r: requests.Response, status: int, code: str | None = None) -> dict:
    """Checks the status and the uniform error body {"error": {"code", "message"}}."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def parse_time(text: str) -> float:
    """RFC 3339 "2026-11-30T07:24:00Z" → Unix seconds."""
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z", text)
    assert m, f"not an RFC 3339 UTC time: {text!r}"
    return calendar.timegm(tuple(int(x) for x in m.groups()) + (0, 0, 0))
