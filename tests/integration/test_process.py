"""The process: command line, configuration file, checks, signals, start-up errors."""

import base64
import json
import os
import random
import re
import shutil
import socket
import subprocess
import time

import dns.flags
import dns.rcode
import pytest

from conftest import KIND, TARGET, Asker, RemoteServer
from sovtest.dnsclient import NoReply, Proto, rrsets, tcp_connect, tcp_read_msg
from sovtest.paths import DEMO_DIR, ZONES_DIR, default_sovdns_bin
from sovtest.servers import SUITE_ZONES, pick_endpoint

DIAG = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<msg>\S.*)$")
EXIT_BOUND_S = 10.0

needs_binary = pytest.mark.skipif(bool(TARGET), reason="SOVDNS_TARGET is set: no binary to run")


def run_sovdns(*args, cwd=None, timeout=EXIT_BOUND_S):
    binary = default_sovdns_bin()
    assert binary.exists(), f"sovdns binary not found: {binary}"
    return subprocess.run([str(binary), *map(str, args)], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


def diagnostics(stderr: str):
    """Every "file:line:column: message" line of stderr, as match objects."""
    return [m for m in map(DIAG.match, stderr.splitlines()) if m]


def assert_diag(res, path, lines):
    """Exit 1 and a diagnostic for `path` at one of `lines` (an int or a set)."""
    lines = {lines} if isinstance(lines, int) else set(lines)
    assert res.returncode == 1, f"exit {res.returncode}, stderr:\n{res.stderr}"
    found = [m for m in diagnostics(res.stderr)
             if m["file"] == str(path) or m["file"].endswith("/" + path.name) or m["file"] == path.name]
    assert found, f"no 'file:line:column: message' line for {path} in stderr:\n{res.stderr}"
    assert any(int(m["line"]) in lines for m in found), \
        f"no diagnostic at line {sorted(lines)} of {path.name}:\n{res.stderr}"
    for m in found:
        assert int(m["line"]) >= 1 and int(m["col"]) >= 1


# --- --check-zone ----------------------------------------------------------------------------

ZONE_HEAD = """$ORIGIN example.test.
$TTL 3600
@   SOA ns1.example.test. hostmaster.example.test. 1 7200 3600 1209600 300
    NS  ns1.example.test.
ns1 A   192.0.2.53
"""  # 5 lines: the error cases below start at line 6


@pytest.mark.sovdns_only
@needs_binary
@pytest.mark.parametrize("origin,path", SUITE_ZONES, ids=[o for o, _ in SUITE_ZONES])
def test_check_zone_accepts_valid_zones(origin, path):
    res = run_sovdns("--check-zone", f"{origin}={path}")
    assert res.returncode == 0, res.stderr
    assert not diagnostics(res.stderr), res.stderr


BAD_ZONES = {
    # name: (text after ZONE_HEAD, lines where the error may be reported)
    "bad-ipv4": ("www A 192.0.2.300\n", 6),
    "unknown-type": ("www FOO 1 2 3\n", 6),
    "bad-ttl": ("www 1h30x A 192.0.2.1\n", 6),
    "outside-origin": ("www.example.org. A 192.0.2.1\n", 6),
    "cname-and-other-data": ("www A 192.0.2.1\nwww CNAME ns1.example.test.\n", {6, 7}),
    "two-cnames": ("w CNAME ns1.example.test.\nw CNAME www.example.test.\n", {6, 7}),
    "second-soa": ("@ SOA a. b. 2 1 1 1 1\n", 6),
    "soa-below-apex": ("sub SOA a. b. 2 1 1 1 1\n", 6),
    "data-below-cut": ("lab NS ns.lab.example.test.\nns.lab A 192.0.2.1\nwww.lab A 192.0.2.2\n", 8),
    "class-ch": ("www CH TXT \"chaos\"\n", 6),
    "unterminated-paren": ("www TXT ( \"a\"\n", {6, 7}),
    "unterminated-quote": ("t1 TXT \"abc\n", 6),
    "ttl-above-2^31-1": ("big 2147483648 A 192.0.2.1\n", 6),
    # ldns wraps these silently; each must be an error instead
    "ttl-2^32-wraps": ("big 4294967296 A 192.0.2.1\n", 6),
    "ttl-directive-2^32": ("$TTL 4294967296\nwww A 192.0.2.1\n", 6),
    "mx-preference-65536": ("www MX 65536 ns1\n", 6),
    "mx-preference-negative": ("www MX -1 ns1\n", 6),
    "srv-port-plus-sign": ("_s._tcp SRV 0 0 +53 ns1\n", 6),
    "at-inside-owner": ("@a A 192.0.2.1\n", 6),
    "at-inside-rdata-name": ("x CNAME @.foo.\n", 6),
    "nul-byte-in-txt": ("t TXT \"a\x00b\"\n", 6),
    "at-after-dot": ("a.@ A 192.0.2.1\n", 6),
    "at-inside-target": ("m MX 10 x@\n", 6),
    "rfc3597-longer-than-the-type": ("d A \\# 5 c000020201\n", 6),
    "rfc3597-trailing-octets": ("m MX \\# 7 000a016d000000\n", 6),
}


@pytest.mark.sovdns_only
@needs_binary
@pytest.mark.parametrize("case", list(BAD_ZONES))
def test_check_zone_reports_file_line_column(tmp_path, case):
    text, lines = BAD_ZONES[case]
    path = tmp_path / "example.test.zone"
    path.write_text(ZONE_HEAD + text)
    assert_diag(run_sovdns("--check-zone", f"example.test={path}"), path, lines)


@pytest.mark.sovdns_only
@needs_binary
def test_check_zone_bad_ttl_directive_is_one_error_not_two(tmp_path):
    # A bad $TTL is reported once; no "no $TTL before the first record"
    # warning on top of it.
    path = tmp_path / "example.test.zone"
    path.write_text("$TTL forever\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
                    "@ NS ns1\nns1 A 192.0.2.53\n")
    res = run_sovdns("--check-zone", f"example.test={path}")
    assert_diag(res, path, 1)
    assert "not a TTL" in res.stderr, res.stderr
    assert "no $TTL" not in res.stderr, res.stderr


@pytest.mark.sovdns_only
@needs_binary
def test_check_config_lists_errors_in_file_order(tmp_path):
    # The validators run section by section (datacenters before services);
    # the report must still read top to bottom, as the operator fixes it.
    zone = ZONES_DIR / "example.test.zone"
    conf = tmp_path / "sovdns.json"
    conf.write_text(
        '{\n'
        '  "services": [{"name": "www.example.test.", "policy": "nearest",\n'
        '                "datacenters": ["dc-a"], "ttl": "x"}],\n'
        '  "listen": ["127.0.0.1:5300"],\n'
        f'  "zones": [{{"origin": "example.test.", "file": "{zone}"}}],\n'
        '  "datacenters": [{"id": "dc-a", "location": {"lat": 500, "lon": 8},\n'
        '                   "ipv4": ["192.0.2.1"]}]\n'
        '}\n')
    res = run_sovdns("--check-config", conf)
    lines = [int(m["line"]) for m in diagnostics(res.stderr)]
    assert res.returncode == 1 and len(lines) >= 2, res.stderr
    assert lines == sorted(lines), res.stderr
    assert lines[0] == 3 and 6 in lines, res.stderr


@pytest.mark.sovdns_only
@needs_binary
def test_check_zone_reports_every_error(tmp_path):
    path = tmp_path / "example.test.zone"
    path.write_text(ZONE_HEAD + "a A 192.0.2.300\nb A 192.0.2.1\nc AAAA 2001:db8::g\n")
    res = run_sovdns("--check-zone", f"example.test={path}")
    assert_diag(res, path, 6)
    assert_diag(res, path, 8)


@pytest.mark.sovdns_only
@needs_binary
def test_check_zone_without_soa_or_ns(tmp_path):
    path = tmp_path / "example.test.zone"
    path.write_text("$ORIGIN example.test.\nwww 3600 A 192.0.2.1\n")
    res = run_sovdns("--check-zone", f"example.test={path}")
    assert res.returncode == 1
    assert any(path.name in m["file"] for m in diagnostics(res.stderr)), res.stderr


@pytest.mark.sovdns_only
@needs_binary
def test_check_zone_missing_file(tmp_path):
    path = tmp_path / "nothere.zone"
    res = run_sovdns("--check-zone", f"example.test={path}")
    assert res.returncode == 1
    assert any(path.name in m["file"] for m in diagnostics(res.stderr)), res.stderr


# --- --check-config --------------------------------------------------------------------------

@pytest.mark.sovdns_only
@needs_binary
def test_check_config_accepts_demo(tmp_path):
    # a copy, with the TSIG key conf/demo/run makes on its first run
    for f in ("sovdns.json", "example.test.zone", "lab.example.test.zone"):
        shutil.copy(DEMO_DIR / f, tmp_path / f)
    (tmp_path / "keys").mkdir()
    key = tmp_path / "keys" / "transfer.key"
    key.write_text("hmac-sha256:transfer:" + base64.b64encode(os.urandom(32)).decode() + "\n")
    key.chmod(0o600)
    res = run_sovdns("--check-config", tmp_path / "sovdns.json")
    assert res.returncode == 0, res.stderr
    assert not diagnostics(res.stderr), res.stderr


def demo_config_in(tmp_path, text):
    """Writes a config next to copies of the demo zones; returns its path."""
    for z in ("example.test.zone", "lab.example.test.zone"):
        shutil.copy(DEMO_DIR / z, tmp_path / z)
    path = tmp_path / "sovdns.json"
    path.write_text(text)
    return path


GOOD_CONFIG = """{
  "listen": ["127.0.0.1:5353"],
  "threads": 1,
  "zones": [
    {"origin": "example.test", "file": "example.test.zone"}
  ]
}
"""

BAD_CONFIGS = {
    # name: (config text, line of the error)
    "unknown-key": (GOOD_CONFIG.replace('"threads": 1,', '"threads": 1,\n  "treads": 2,'), 4),
    "syntax-missing-comma": (GOOD_CONFIG.replace('"threads": 1,', '"threads": 1'), 4),
    "wrong-type": (GOOD_CONFIG.replace('"threads": 1,', '"threads": "two",'), 3),
    "bad-listen-port": (GOOD_CONFIG.replace("127.0.0.1:5353", "127.0.0.1:99999"), 2),
    "bad-listen-address": (GOOD_CONFIG.replace("127.0.0.1:5353", "127.0.0.300:53"), 2),
    "edns-payload-too-small": (GOOD_CONFIG.replace('"threads": 1,', '"edns_payload": 100,'), 3),
    "zone-without-file": (GOOD_CONFIG.replace(', "file": "example.test.zone"', ""), 5),
    "unknown-zone-key": (GOOD_CONFIG.replace('"file"', '"fiel"'), 5),
    "duplicate-zone": (GOOD_CONFIG.replace(
        '{"origin": "example.test", "file": "example.test.zone"}',
        '{"origin": "example.test", "file": "example.test.zone"},\n'
        '    {"origin": "EXAMPLE.test.", "file": "example.test.zone"}'), 6),
}


@pytest.mark.sovdns_only
@needs_binary
@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_check_config_reports_file_line_column(tmp_path, case):
    text, line = BAD_CONFIGS[case]
    path = demo_config_in(tmp_path, text)
    assert_diag(run_sovdns("--check-config", path), path, line)


@pytest.mark.sovdns_only
@needs_binary
def test_check_config_checks_the_zones_too(tmp_path):
    # What a reload would refuse, --check-config refuses: a missing or broken zone file.
    path = demo_config_in(tmp_path, GOOD_CONFIG.replace("example.test.zone", "missing.zone"))
    res = run_sovdns("--check-config", path)
    assert res.returncode == 1
    assert "missing.zone" in res.stderr
    path = demo_config_in(tmp_path, GOOD_CONFIG)
    (tmp_path / "example.test.zone").write_text(ZONE_HEAD + "www A 192.0.2.300\n")
    assert_diag(run_sovdns("--check-config", path), tmp_path / "example.test.zone", 6)


# --- start-up and signals ------------------------------------------------------------------

@pytest.mark.sovdns_only
@needs_binary
def test_unknown_option_is_an_error():
    res = run_sovdns("--no-such-option")
    assert res.returncode != 0
    assert "no-such-option" in res.stderr


@pytest.mark.sovdns_only
@needs_binary
def test_missing_zone_file_at_start_is_fatal(tmp_path):
    addr, port = pick_endpoint(random.Random(), False)
    res = run_sovdns("--listen", f"{addr}:{port}", "--zone", f"example.test={tmp_path}/none.zone")
    assert res.returncode != 0
    assert "none.zone" in res.stderr


@pytest.mark.sovdns_only
@needs_binary
def test_bind_failure_is_fatal_and_named(tmp_path):
    addr, port = pick_endpoint(random.Random(), False)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind((addr, port))  # no SO_REUSEPORT: sovdns cannot share it
        res = run_sovdns("--listen", f"{addr}:{port}",
                         "--zone", f"example.test={DEMO_DIR / 'example.test.zone'}")
    assert res.returncode != 0
    assert f"{addr}:{port}" in res.stderr or f"{addr}" in res.stderr, res.stderr


def test_sigterm_exits_zero(spawn):
    srv = spawn()
    assert srv.stop() == 0


def test_sigterm_with_open_tcp_connections(spawn):
    # Idle and half-sent connections must not keep the process alive.
    srv = spawn()
    idle = tcp_connect(srv.target)
    half = tcp_connect(srv.target)
    half.sendall(b"\x00\x40\x12\x34")  # announces 64 bytes, sends 2
    try:
        t0 = time.monotonic()
        assert srv.stop() == 0
        assert time.monotonic() - t0 < EXIT_BOUND_S
    finally:
        idle.close()
        half.close()


def test_threads_one(spawn, zd):
    srv = spawn(threads=1)
    r = Asker(srv, Proto("udp", False))("www.example.test", "A")
    assert rrsets(r.answer) == zd.rrset("www.example.test", "A")


@pytest.mark.parametrize("payload", [1024, 1400])
def test_configured_edns_payload(spawn, zd, payload):
    if KIND == "knot" and payload < 1220:
        pytest.skip("knotd's udp-max-payload cannot be set below 1220")
    srv = spawn(edns_payload=payload)
    ask = Asker(srv, Proto("udp", True))  # check_reply: OPT payload == configured
    r = ask("big.edge.test", "TXT", payload=4096)  # about 1070 bytes
    if payload < 1070:
        assert r.flags & dns.flags.TC and r.wire_size <= payload
    else:
        assert not r.flags & dns.flags.TC
        assert rrsets(r.answer) == zd.rrset("big.edge.test", "TXT")
    # the client's smaller size still wins
    r = ask("big.edge.test", "TXT", payload=512)
    assert r.flags & dns.flags.TC and r.wire_size <= 512


@pytest.mark.sovdns_only
def test_config_file_mode(spawn, zd):
    srv = spawn(config_mode=True)
    for p in ("udp", "tcp"):
        r = Asker(srv, Proto(p, True))("c1.edge.test", "A")
        assert rrsets(r.answer) == {**zd.rrset("c1.edge.test", "CNAME"),
                                    **zd.rrset("c2.edge.test", "CNAME"),
                                    **zd.rrset("c3.edge.test", "A")}


@pytest.mark.sovdns_only
@needs_binary
def test_config_zone_paths_relative_to_config_dir(tmp_path, zd):
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    addr, port = pick_endpoint(random.Random(), False)
    path = demo_config_in(conf_dir, json.dumps({
        "listen": [f"{addr}:{port}"], "threads": 1,
        "zones": [{"origin": "example.test", "file": "example.test.zone"},
                  {"origin": "lab.example.test", "file": "lab.example.test.zone"}]}))
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    proc = subprocess.Popen([str(default_sovdns_bin()), "--config", str(path)], cwd=run_dir,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, f"exited {proc.returncode}: {proc.stderr.read()}"
            try:
                r = Asker(RemoteServer(f"{addr}:{port}"), Proto("udp", False))(
                    "ci.lab.example.test", "A")
                break
            except (NoReply, OSError):
                assert time.monotonic() < deadline, "not answering after 10 s"
                time.sleep(0.05)
        assert rrsets(r.answer) == zd.rrset("ci.lab.example.test", "A")
    finally:
        proc.terminate()
        rc = proc.wait(timeout=EXIT_BOUND_S)
    assert rc == 0, proc.stderr.read()


@pytest.mark.sovdns_only
def test_tcp_idle_timeout_from_config(spawn):
    srv = spawn(config_mode=True, config_extra={"tcp": {"idle_timeout_ms": 300,
                                                        "max_connections": 100}})
    with tcp_connect(srv.target) as s:
        t0 = time.monotonic()
        with pytest.raises(NoReply, match="closed|reset"):
            tcp_read_msg(s, t0 + 5)  # the server closes the idle connection
        assert time.monotonic() - t0 < 3, "idle connection kept well past its timeout"


def test_query_after_many_tcp_connections(spawn, zd):
    # Connections opened and closed without a query leave no residue.
    srv = spawn()
    for _ in range(50):
        tcp_connect(srv.target).close()
    r = Asker(srv, Proto("tcp", False))("www.example.test", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert rrsets(r.answer) == zd.rrset("www.example.test", "A")
