"""Harness for the HTTP API tests: starts api/sovapi-run (the real API server
with a fake DNS backend described by a JSON file) on a free loopback port.

Environment:
  SOVAPI_RUN   the driver binary (default <repo>/build/api/sovapi-run)

No tests here; the test_api_*.py files import this module.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]

# Token secrets (files are written 0600 by the harness).
TOKENS = {
    "ops": ("admin", "ops-secret-0123456789abcdef0123"),
    "viewer": ("read", "viewer-secret-0123456789abcdef01"),
    "deploy-east": ("drain:dc-east", "east-secret-0123456789abcdef012"),
}

# Two sites serving two services; TTLs are short so drains finish quickly.
BACKEND = {
    "version": "0.1.0-test",
    "zones": [{"origin": "example.com.", "serial": 2026113001}],
    "datacenters": [
        {"id": "dc-east", "health": "up", "addresses": ["192.0.2.1"],
         "location": {"lat": 40.7, "lon": -74.0}},
        {"id": "dc-west", "health": "up", "addresses": ["192.0.2.2"],
         "location": {"lat": 37.8, "lon": -122.4}},
    ],
    "services": [
        {"name": "www.example.com.", "policy": "failover", "ttl_s": 1,
         "datacenters": ["dc-east", "dc-west"]},
        {"name": "api.example.com.", "policy": "nearest", "ttl_s": 1,
         "datacenters": ["dc-east", "dc-west"]},
    ],
    "networks": {"198.51.100.0/24": "dc-west", "203.0.113.0/24": "dc-east"},
}

BOUND_S = 10.0  # every wait in these tests is bounded by this


def sovapi_bin() -> Path:
    return Path(os.environ.get("SOVAPI_RUN", REPO / "build" / "api" / "sovapi-run"))


def wait_until(fn, timeout=BOUND_S, interval=0.05, what="condition"):
    """Polls fn() until it returns a true value (returned) or timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class StartError(Exception):
    pass


class ApiServer:
    """One sovapi-run process with its own config, tokens, backend and state_dir."""

    def __init__(self, tmp_path: Path, api: dict | None = None, backend: dict | None = None,
                 env: dict | None = None, state_dir: Path | None = None, tokens=TOKENS):
        self.dir = tmp_path
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = state_dir or (tmp_path / "state")
        self.env = dict(os.environ, **(env or {}))
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.scheme = "http"
        self.verify: bool | str = True  # requests' verify= (a CA file for HTTPS)
        self.tokens = tokens
        tok_conf = []
        for name, (scope, secret) in tokens.items():
            f = tmp_path / f"{name}.token"
            f.write_text(secret + "\n")
            f.chmod(0o600)
            tok_conf.append({"name": name, "file": str(f), "scope": scope})
        self.api_conf = {"listen": "127.0.0.1:0", "drain_margin_s": 0, "tokens": tok_conf,
                         "timeout_s": 5}
        self.api_conf.update(api or {})
        self.config_path = tmp_path / "sovdns.json"
        self.backend_path = tmp_path / "backend.json"
        self.port_path = tmp_path / "port"
        self.log_path = tmp_path / "sovapi.log"
        self.write_config()
        self.set_backend(backend if backend is not None else copy.deepcopy(BACKEND))

    # -- files --
    def write_config(self, extra: dict | None = None):
        conf = {"state_dir": str(self.state_dir), "api": self.api_conf}
        conf.update(extra or {})
        self.config_path.write_text(json.dumps(conf, indent=2))

    def set_backend(self, backend: dict):
        self.backend = backend
        tmp = self.backend_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(backend, indent=2))
        tmp.replace(self.backend_path)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- process --
    def start(self):
        binary = sovapi_bin()
        assert binary.exists(), f"{binary} not found: build first (ninja -C build) or set SOVAPI_RUN"
        if self.port_path.exists():
            self.port_path.unlink()
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(binary), "--config", str(self.config_path), "--backend", str(self.backend_path),
             "--port-file", str(self.port_path)],
            stdout=self.logf, stderr=subprocess.STDOUT, env=self.env)

        def ready():
            if self.proc.poll() is not None:
                raise StartError(f"sovapi-run exited with {self.proc.returncode}:\n{self.log()}")
            return self.port_path.exists() and self.port_path.read_text().strip()
        try:
            self.port = int(wait_until(ready, what="the port file"))
            wait_until(lambda: self._status_ok(), what="GET /v1/status")
        except BaseException:
            # never leave a process behind when start-up goes wrong
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=BOUND_S)
            self.proc = None
            self.logf.close()
            raise
        return self

    def _status_ok(self):
        try:
            return self.get("/v1/status").status_code == 200
        except requests.ConnectionError:
            return False

    def start_failure(self) -> tuple[int, str]:
        """Starts expecting a refusal; returns (exit code, output)."""
        binary = sovapi_bin()
        r = subprocess.run(
            [str(binary), "--config", str(self.config_path), "--backend", str(self.backend_path),
             "--port-file", str(self.port_path)],
            capture_output=True, text=True, env=self.env, timeout=BOUND_S)
        return r.returncode, r.stdout + r.stderr

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=BOUND_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=BOUND_S)
                raise AssertionError("sovapi-run did not stop on SIGTERM")
        rc = self.proc.returncode
        self.proc = None
        self.logf.close()
        # a sanitizer build reports leaks and undefined behaviour at exit
        assert "Sanitizer" not in self.log() and "runtime error:" not in self.log(), self.log()
        assert rc == 0, f"sovapi-run exited with {rc}:\n{self.log()}"
        return rc

    def restart(self):
        assert self.stop() == 0
        return self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- HTTP --
    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def headers(self, token: str | None):
        if token is None:
            return {}
        secret = self.tokens[token][1] if token in self.tokens else token
        return {"Authorization": f"Bearer {secret}"}

    def get(self, path, token="viewer", **kw):
        headers = self.headers(token)
        headers.update(kw.pop("headers", {}))
        return requests.get(self.url(path), headers=headers, timeout=BOUND_S, verify=self.verify,
                            **kw)

    def post(self, path, body=None, token="ops", **kw):
        headers = self.headers(token)
        headers.update(kw.pop("headers", {}))
        if body is not None and "data" not in kw:
            kw["data"] = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        return requests.post(self.url(path), headers=headers, timeout=BOUND_S, verify=self.verify,
                             **kw)

    # -- shortcuts --
    def dc(self, dc: str) -> dict:
        r = self.get(f"/v1/datacenters/{dc}")
        assert r.status_code == 200, r.text
        return r.json()

    def admin_state(self, dc: str) -> str:
        return self.dc(dc)["admin"]["state"]

    def answer(self, service="www.example.com.", client="192.0.2.200") -> dict:
        r = self.get(f"/v1/services/{service}/answer", params={"client": client})
        assert r.status_code == 200, r.text
        return r.json()

    def drain(self, dc, token="ops", **body):
        body.setdefault("reason", "test drain")
        return self.post(f"/v1/datacenters/{dc}/drain", body, token=token)

    def undrain(self, dc, token="ops", **body):
        return self.post(f"/v1/datacenters/{dc}/undrain", body, token=token)


def assert_error(r: requests.Response, status: int, code: str | None = None):
    """Checks the status and the uniform error body."""
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
    import calendar
    return calendar.timegm(tuple(int(x) for x in m.groups()) + (0, 0, 0))


import pytest  # noqa: E402


@pytest.fixture
def api(tmp_path):
    """A running server with the default backend and tokens."""
    srv = ApiServer(tmp_path).start()
    yield srv
    assert srv.stop() == 0
