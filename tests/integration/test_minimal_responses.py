"""'minimal_responses': true leaves out the additional-section addresses of
NS/MX/SRV targets (the resolver can ask for them), but never a referral's
glue (without it the resolver cannot follow the delegation). Compared with
the same server and zones without the option, which adds them (RFC 1034
§4.3.2 step 6)."""
import pytest
from sovtest.dnsclient import exchange, make_query, rrsets
from sovtest.servers import SUITE_ZONES

pytestmark = pytest.mark.sovdns_only


def ask(srv, name, rdtype):
    return exchange(srv.target, make_query(name, rdtype, edns=True), "udp")[0]


@pytest.fixture
def both(spawn):
    full = spawn(SUITE_ZONES, name="full", config_mode=True)
    minimal = spawn(SUITE_ZONES, name="minimal", config_mode=True,
                    config_extra={"minimal_responses": True})
    return full, minimal


@pytest.mark.parametrize("name,rdtype", [("example.test", "MX"), ("example.test", "NS")])
def test_no_target_addresses_when_minimal(both, name, rdtype):
    full, minimal = both
    a, b = ask(full, name, rdtype), ask(minimal, name, rdtype)
    assert rrsets(a.answer) == rrsets(b.answer) and rrsets(b.answer)
    assert rrsets(a.additional), "the full server adds target addresses"
    assert rrsets(b.additional) == {}, f"minimal server added {rrsets(b.additional)}"


@pytest.mark.parametrize("qname,glue", [
    ("www.branch.example.test", ("ns.branch.example.test.", "A")),
    ("cdel.edge.test", ("ns1.sub.edge.test.", "A")),  # a CNAME into a delegation
])
def test_referral_keeps_its_glue_when_minimal(both, qname, glue):
    full, minimal = both
    a, b = ask(full, qname, "A"), ask(minimal, qname, "A")
    assert rrsets(b.authority) == rrsets(a.authority) and rrsets(b.authority)
    assert rrsets(b.answer) == rrsets(a.answer)
    assert glue in rrsets(b.additional), f"glue missing: {rrsets(b.additional)}"


def test_minimal_responses_must_be_boolean(tmp_path):
    import subprocess
    from sovtest.paths import ZONES_DIR, default_sovdns_bin
    conf = tmp_path / "c.json"
    conf.write_text('{"listen": ["127.0.0.1:5300"], "minimal_responses": "yes",\n'
                    f' "zones": [{{"origin": "example.test.", "file": "{ZONES_DIR}/example.test.zone"}}]}}\n')
    res = subprocess.run([str(default_sovdns_bin()), "--check-config", str(conf)],
                         capture_output=True, text=True, timeout=10)
    assert res.returncode == 1
    assert "c.json:1:" in res.stderr and "minimal_responses" in res.stderr, res.stderr
