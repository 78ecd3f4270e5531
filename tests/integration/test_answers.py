"""The answer rules (docs/dns-behaviour.md), each over UDP and TCP, with and
without EDNS, with mixed-case qnames. conftest.check_reply() adds to every
reply: question echoed with its exact case, RD copied, RA clear, OPT iff the
query had one, size limits, no TC over TCP.

Expected data comes from the zone files themselves (ZoneData, fixture zd).
"""

import subprocess

import dns.flags
import dns.rcode
import pytest

from sovtest.dnsclient import query, rrsets

NOERROR, NXDOMAIN, REFUSED = dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.REFUSED


def merge(*dicts):
    out = {}
    for d in dicts:
        out.update(d)
    return out


def aa(r):
    return bool(r.flags & dns.flags.AA)


def assert_positive(r, answer, additional=None):
    """NOERROR, AA, exactly `answer`, empty authority (minimal responses)."""
    assert r.rcode() == NOERROR, dns.rcode.to_text(r.rcode())
    assert aa(r), "AA not set on an authoritative answer"
    assert rrsets(r.answer) == answer
    assert rrsets(r.authority) == {}, "authority section of a positive answer should be empty"
    if additional is not None:
        assert rrsets(r.additional) == additional


def assert_negative(r, rcode, soa, answer=None):
    """NXDOMAIN or NODATA: AA, the zone's SOA alone in authority, SOA TTL = min(TTL, MINIMUM)."""
    assert r.rcode() == rcode, dns.rcode.to_text(r.rcode())
    assert aa(r), "AA not set on an authoritative negative answer"
    assert rrsets(r.answer) == (answer or {})
    assert rrsets(r.authority) == soa
    assert rrsets(r.additional) == {}


def assert_referral(r, ns, glue_required, glue_allowed=None):
    """NOERROR, no AA, empty answer, the delegation NS in authority, glue in additional.
    glue_required must be present; other in-zone addresses of NS targets may be."""
    assert r.rcode() == NOERROR, dns.rcode.to_text(r.rcode())
    assert not aa(r), "AA set on a referral"
    assert rrsets(r.answer) == {}
    assert rrsets(r.authority) == ns
    add = rrsets(r.additional)
    for key, val in glue_required.items():
        assert add.get(key) == val, f"glue {key} missing or wrong in {add}"
    extra = set(add) - set(glue_required) - set(glue_allowed or {})
    assert not extra, f"unexpected additional records {extra}"
    for key in set(add) & set(glue_allowed or {}):
        assert add[key] == glue_allowed[key]


# --- positive answers, AA, case ---------------------------------------------

@pytest.mark.parametrize("name,rdtype", [
    ("www.example.test", "A"), ("www.example.test", "AAAA"), ("example.test", "TXT"),
    ("example.test", "CAA"), ("example.test", "SOA"), ("_dmarc.example.test", "TXT"),
    ("pay.example.test", "A"), ("pay.example.test", "TXT"), ("host.edge.test", "HINFO"),
    ("host.edge.test", "SSHFP"), ("host.edge.test", "TYPE65280"), ("100.2.0.192.edge.test", "PTR"),
    ("caa.edge.test", "CAA"), ("mail._domainkey.example.test", "TXT"),
    ("ci.lab.example.test", "AAAA"), ("lab.example.test", "SOA"),
])
def test_positive_answer_is_authoritative(ask, zd, name, rdtype):
    r = ask(name, rdtype)
    assert_positive(r, zd.rrset(name, rdtype), additional={})


def test_owner_case_in_zone_does_not_matter(ask, zd):
    # The zone file writes "MixedCase"; the query uses another mix.
    r = ask("mIXEDcASE.EDGE.test", "A", mix=False)
    assert_positive(r, zd.rrset("mixedcase.edge.test", "A"))


def test_apex_ns_has_addresses_in_additional(ask, zd):
    r = ask("example.test", "NS")
    assert_positive(r, zd.rrset("example.test", "NS"), additional=merge(
        zd.rrset("ns1.example.test", "A"), zd.rrset("ns1.example.test", "AAAA"),
        zd.rrset("ns2.example.test", "A"), zd.rrset("ns2.example.test", "AAAA")))


def test_child_zone_apex_ns_answered_by_child(ask, zd):
    r = ask("lab.example.test", "NS")
    # ns2.example.test is in another zone: its address is not required
    assert_positive(r, zd.rrset("lab.example.test", "NS"))
    add = rrsets(r.additional)
    assert add.get(("ns1.lab.example.test.", "A")) == zd.rrset("ns1.lab.example.test", "A")[
        ("ns1.lab.example.test.", "A")]


# --- additional section for NS / MX / SRV targets -----------------------------

NSD_MINIMAL = pytest.mark.peer_differs(
    "nsd", reason="NSD with minimal-responses adds additional data to referrals only "
    "(and without it, adds the zone's NS RRset to the authority of every answer)")


@NSD_MINIMAL
def test_mx_targets_in_additional(ask, zd):
    r = ask("example.test", "MX")
    assert_positive(r, zd.rrset("example.test", "MX"), additional=merge(
        zd.rrset("mail.example.test", "A"), zd.rrset("mail.example.test", "AAAA"),
        zd.rrset("relay.example.test", "A"), zd.rrset("relay.example.test", "AAAA")))


@NSD_MINIMAL
def test_mx_target_outside_zone_gets_no_additional(ask, zd):
    r = ask("host.edge.test", "MX")
    assert_positive(r, zd.rrset("host.edge.test", "MX"), additional=merge(
        zd.rrset("mx.edge.test", "A"), zd.rrset("mx.edge.test", "AAAA")))


@NSD_MINIMAL
def test_srv_targets_in_additional(ask, zd):
    r = ask("_submission._tcp.example.test", "SRV")
    assert_positive(r, zd.rrset("_submission._tcp.example.test", "SRV"), additional=merge(
        zd.rrset("mail.example.test", "A"), zd.rrset("mail.example.test", "AAAA")))
    r = ask("_sip._udp.edge.test", "SRV")
    assert_positive(r, zd.rrset("_sip._udp.edge.test", "SRV"), additional=merge(
        zd.rrset("srv-target.edge.test", "A"), zd.rrset("srv-target.edge.test", "AAAA")))


# --- CNAME --------------------------------------------------------------------

def test_cname_to_name_in_zone(ask, zd):
    r = ask("blog.example.test", "A")
    assert_positive(r, merge(zd.rrset("blog.example.test", "CNAME"),
                             zd.rrset("www.example.test", "A")))


def test_cname_chain(ask, zd):
    r = ask("c1.edge.test", "AAAA")
    assert_positive(r, merge(zd.rrset("c1.edge.test", "CNAME"), zd.rrset("c2.edge.test", "CNAME"),
                             zd.rrset("c3.edge.test", "AAAA")))


def test_cname_query_is_not_followed(ask, zd):
    r = ask("c1.edge.test", "CNAME")
    assert_positive(r, zd.rrset("c1.edge.test", "CNAME"))


def test_cname_chain_to_nodata(ask, zd):
    r = ask("c1.edge.test", "MX")
    assert_negative(r, NOERROR, zd.soa("edge.test"), answer=merge(
        zd.rrset("c1.edge.test", "CNAME"), zd.rrset("c2.edge.test", "CNAME")))


def test_cname_to_nxdomain_sets_nxdomain(ask, zd):
    # RFC 6604 §2.1: the rcode is that of the last name in the chain.
    r = ask("dangling.edge.test", "A")
    assert_negative(r, NXDOMAIN, zd.soa("edge.test"), answer=zd.rrset("dangling.edge.test", "CNAME"))


def test_cname_chain_to_wildcard(ask, zd):
    r = ask("cw.edge.test", "A")
    assert_positive(r, merge(zd.rrset("cw.edge.test", "CNAME"),
                             zd.rrset("*.wild.edge.test", "A", owner="x.wild.edge.test")))
    r = ask("shop.example.test", "AAAA")
    assert_positive(r, merge(zd.rrset("shop.example.test", "CNAME"),
                             zd.rrset("*.apps.example.test", "AAAA", owner="shop.apps.example.test")))


def test_wildcard_cname_then_chain(ask, zd):
    r = ask("anything.wc.edge.test", "A")
    assert_positive(r, merge(zd.rrset("*.wc.edge.test", "CNAME", owner="anything.wc.edge.test"),
                             zd.rrset("c1.edge.test", "CNAME"), zd.rrset("c2.edge.test", "CNAME"),
                             zd.rrset("c3.edge.test", "A")))


@pytest.mark.parametrize("name,chain", [
    ("loop1.edge.test", ["loop1", "loop2", "loop3"]),
    ("self.edge.test", ["self"]),
])
def test_cname_loop_is_cut(ask, zd, name, chain):
    # Knot and NSD both answer NOERROR with every CNAME of the loop once.
    r = ask(name, "A")
    assert_positive(r, merge(*(zd.rrset(f"{c}.edge.test", "CNAME") for c in chain)))


def test_long_cname_chain(ask, zd):
    # A server stops after a bounded number of links (Knot: 5 CNAMEs, NSD: more).
    # Required: at least 5 links, each a true prefix of the chain, NOERROR, AA;
    # if the whole chain fits the limit, it ends with the A record.
    r = ask("l1.edge.test", "A")
    assert r.rcode() == NOERROR and aa(r)
    got = rrsets(r.answer)
    full = merge(*(zd.rrset(f"l{i}.edge.test", "CNAME") for i in range(1, 9)),
                 zd.rrset("l9.edge.test", "A"))
    links = [k for k in full if k[1] == "CNAME"]
    n = sum(1 for k in got if k[1] == "CNAME")
    assert n >= 5, f"only {n} links of the chain followed"
    want = {k: full[k] for k in links[:n]}
    if n == len(links):
        want.update(zd.rrset("l9.edge.test", "A"))
    assert got == want
    assert rrsets(r.authority) == {}


def test_cname_out_of_zone_not_followed(ask, zd):
    r = ask("ext.edge.test", "A")
    assert_positive(r, zd.rrset("ext.edge.test", "CNAME"))


@pytest.mark.peer_differs("nsd", reason="NSD follows a CNAME into another zone it serves")
def test_cname_into_other_served_zone_not_followed(ask, zd):
    # Like Knot: the chain is followed inside the zone only; resolvers do the rest.
    r = ask("cross.edge.test", "A")
    assert_positive(r, zd.rrset("cross.edge.test", "CNAME"))


def test_cname_to_delegation_gives_referral_after_cname(ask, zd):
    r = ask("cdel.edge.test", "A")
    assert r.rcode() == NOERROR
    assert aa(r), "the CNAME is authoritative data: AA stays set"
    assert rrsets(r.answer) == zd.rrset("cdel.edge.test", "CNAME")
    assert rrsets(r.authority) == zd.rrset("sub.edge.test", "NS")
    assert rrsets(r.additional) == merge(zd.rrset("ns1.sub.edge.test", "A"),
                                         zd.rrset("ns1.sub.edge.test", "AAAA"))


def test_name_below_cname_does_not_exist(ask, zd):
    r = ask("below.c1.edge.test", "A")
    assert_negative(r, NXDOMAIN, zd.soa("edge.test"))


# --- wildcards (RFC 4592 §2.2.1 examples, zone rfc4592.test) --------------------

@NSD_MINIMAL
def test_rfc4592_host3_mx_synthesised(ask, zd):
    r = ask("host3.rfc4592.test", "MX")
    assert_positive(r, zd.rrset("*.rfc4592.test", "MX", owner="host3.rfc4592.test"),
                    additional=zd.rrset("host1.rfc4592.test", "A"))


def test_rfc4592_host3_a_nodata(ask, zd):
    r = ask("host3.rfc4592.test", "A")
    assert_negative(r, NOERROR, zd.soa("rfc4592.test"))


def test_rfc4592_foo_bar_txt_synthesised(ask, zd):
    r = ask("foo.bar.rfc4592.test", "TXT")
    assert_positive(r, zd.rrset("*.rfc4592.test", "TXT", owner="foo.bar.rfc4592.test"))


def test_rfc4592_host1_mx_nodata(ask, zd):
    # host1 exists: the wildcard does not apply to it
    r = ask("host1.rfc4592.test", "MX")
    assert_negative(r, NOERROR, zd.soa("rfc4592.test"))


def test_rfc4592_sub_star_mx_nodata(ask, zd):
    # "sub.*" exists; its owner has a literal "*" label, not a wildcard
    r = ask("sub.*.rfc4592.test", "MX", mix=False)
    assert_negative(r, NOERROR, zd.soa("rfc4592.test"))


def test_rfc4592_telnet_nxdomain_under_empty_nonterminal(ask, zd):
    # closest encloser _tcp.host1 (an empty non-terminal) has no wildcard child
    r = ask("_telnet._tcp.host1.rfc4592.test", "SRV")
    assert_negative(r, NXDOMAIN, zd.soa("rfc4592.test"))


def test_rfc4592_host_subdel_referral(ask, zd):
    r = ask("host.subdel.rfc4592.test", "A")
    assert_referral(r, zd.rrset("subdel.rfc4592.test", "NS"), {})


def test_rfc4592_ghost_star_nxdomain(ask, zd):
    # closest encloser "*" itself: "*.*.rfc4592.test" does not exist
    r = ask("ghost.*.rfc4592.test", "MX", mix=False)
    assert_negative(r, NXDOMAIN, zd.soa("rfc4592.test"))


def test_rfc4592_wildcard_owner_queried_literally(ask, zd):
    r = ask("*.rfc4592.test", "TXT", mix=False)
    assert_positive(r, zd.rrset("*.rfc4592.test", "TXT"))


@pytest.mark.parametrize("name", ["host2.rfc4592.test", "_tcp.host2.rfc4592.test",
                                  "_tcp.host1.rfc4592.test"])
def test_rfc4592_empty_non_terminals_are_nodata(ask, zd, name):
    # RFC 4592 §2.2.2: empty non-terminals exist; no wildcard match for them
    r = ask(name, "TXT")
    assert_negative(r, NOERROR, zd.soa("rfc4592.test"))


def test_wildcard_in_demo_zone(ask, zd):
    r = ask("tenant42.apps.example.test", "A")
    assert_positive(r, zd.rrset("*.apps.example.test", "A", owner="tenant42.apps.example.test"))
    r = ask("a.b.c.apps.example.test", "AAAA")  # a wildcard matches several labels
    assert_positive(r, zd.rrset("*.apps.example.test", "AAAA", owner="a.b.c.apps.example.test"))


def test_explicit_name_beats_wildcard(ask, zd):
    r = ask("git.apps.example.test", "A")
    assert_positive(r, zd.rrset("git.apps.example.test", "A"))
    r = ask("git.apps.example.test", "TXT")
    assert_negative(r, NOERROR, zd.soa("example.test"))


def test_below_explicit_name_no_wildcard(ask, zd):
    # closest encloser git.apps.example.test has no "*" child
    r = ask("x.git.apps.example.test", "A")
    assert_negative(r, NXDOMAIN, zd.soa("example.test"))


def test_wildcard_parent_is_empty_non_terminal(ask, zd):
    r = ask("apps.example.test", "A")
    assert_negative(r, NOERROR, zd.soa("example.test"))


@pytest.mark.parametrize("name", ["_domainkey.example.test", "_tcp.example.test",
                                  "ent.edge.test", "deep.ent.edge.test"])
def test_empty_non_terminal_is_nodata(ask, zd, name):
    zone = "edge.test" if name.endswith("edge.test") else "example.test"
    r = ask(name, "A")
    assert_negative(r, NOERROR, zd.soa(zone))


def test_below_empty_non_terminal_nxdomain(ask, zd):
    r = ask("x.ent.edge.test", "A")
    assert_negative(r, NXDOMAIN, zd.soa("edge.test"))


# --- referrals and DS ---------------------------------------------------------------

REFERRAL_CASES = [
    # (qname, qtype, cut, required glue owners, allowed other address owners)
    ("host.sub.edge.test", "A", "sub.edge.test", ["ns1.sub.edge.test"], []),
    ("a.b.sub.edge.test", "MX", "sub.edge.test", ["ns1.sub.edge.test"], []),
    ("sub.edge.test", "A", "sub.edge.test", ["ns1.sub.edge.test"], []),
    ("sub.edge.test", "NS", "sub.edge.test", ["ns1.sub.edge.test"], []),
    ("x.sub.edge.test", "DS", "sub.edge.test", ["ns1.sub.edge.test"], []),
    ("www.branch.example.test", "AAAA", "branch.example.test", ["ns.branch.example.test"],
     ["ns1.example.test"]),
    ("secure.edge.test", "A", "secure.edge.test", ["ns1.secure.edge.test"], []),
    ("x.sib.edge.test", "A", "sib.edge.test", [], ["ns1.sub.edge.test"]),
    ("x.side.edge.test", "TXT", "side.edge.test", [], ["ns1.edge.test"]),
]


@pytest.mark.parametrize("qname,qtype,cut,glue,allowed", REFERRAL_CASES,
                         ids=[f"{c[0]}/{c[1]}" for c in REFERRAL_CASES])
def test_referral(ask, zd, qname, qtype, cut, glue, allowed):
    def addrs(owners):
        out = {}
        for o in owners:
            for t in ("A", "AAAA"):
                try:
                    out.update(zd.rrset(o, t))
                except AssertionError:
                    pass
        return out
    r = ask(qname, qtype)
    assert_referral(r, zd.rrset(cut, "NS"), addrs(glue), addrs(allowed))


def test_ds_at_delegation_answered_by_parent(ask, zd):
    r = ask("secure.edge.test", "DS")
    assert_positive(r, zd.rrset("secure.edge.test", "DS"))


def test_ds_at_served_child_apex_answered_by_parent(ask, zd):
    # lab.example.test is served too; its DS lives in example.test
    r = ask("lab.example.test", "DS")
    assert_positive(r, zd.rrset("lab.example.test", "DS"))


def test_ds_absent_at_delegation_is_nodata_from_parent(ask, zd):
    r = ask("sub.edge.test", "DS")
    assert_negative(r, NOERROR, zd.soa("edge.test"))


def test_served_child_answers_below_its_apex(ask, zd):
    # no referral: the child zone is served here
    r = ask("builds.lab.example.test", "A")
    assert_positive(r, merge(zd.rrset("builds.lab.example.test", "CNAME"),
                             zd.rrset("ci.lab.example.test", "A")))


# --- negative answers -------------------------------------------------------------------

@pytest.mark.parametrize("qname,zone", [
    ("nothere.example.test", "example.test"),  # SOA TTL 3600 > MINIMUM 300
    ("nothere.edge.test", "edge.test"),        # 3600 > 600
    ("nothere.lab.example.test", "lab.example.test"),  # 1800 > 60
    ("nothere._tcp.host1.rfc4592.test", "rfc4592.test"),  # SOA TTL 300 < MINIMUM 3600
])
def test_nxdomain(ask, zd, qname, zone):
    r = ask(qname, "A")
    assert_negative(r, NXDOMAIN, zd.soa(zone))


@pytest.mark.parametrize("qname,qtype,zone", [
    ("www.example.test", "MX", "example.test"),
    ("example.test", "SRV", "example.test"),
    ("host.edge.test", "CAA", "edge.test"),
    ("ci.lab.example.test", "MX", "lab.example.test"),
    ("host1.rfc4592.test", "AAAA", "rfc4592.test"),
    ("www.example.test", "TYPE65400", "example.test"),
    ("ns1.sub.edge.test", "A", None),  # glue is not an answer: referral, checked below
])
def test_nodata(ask, zd, qname, qtype, zone):
    r = ask(qname, qtype)
    if zone is None:
        assert_referral(r, zd.rrset("sub.edge.test", "NS"),
                        merge(zd.rrset("ns1.sub.edge.test", "A"),
                              zd.rrset("ns1.sub.edge.test", "AAAA")))
        return
    assert_negative(r, NOERROR, zd.soa(zone))


# --- ANY (RFC 8482) ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["host.edge.test", "example.test", "www.example.test",
                                  "x.apps.example.test", "blog.example.test"])
def test_any_is_answered_minimally(ask, zd, proto, name):
    r = ask(name, "ANY")
    assert r.rcode() == NOERROR and aa(r)
    got = rrsets(r.answer)
    assert got, "ANY answered with nothing"
    if proto.transport == "udp":
        assert len(got) == 1, f"ANY over UDP must carry one RRset (RFC 8482 §4.2), got {list(got)}"
    # every RRset given is the real one (wildcard-synthesised at the qname)
    for (owner, rdtype), val in got.items():
        assert owner == name + "."
        src = "*.apps.example.test" if name.startswith("x.apps") else name
        assert {(owner, rdtype): val} == zd.rrset(src, rdtype, owner=name)


def test_any_at_missing_name_is_nxdomain(ask, zd):
    r = ask("nothere.example.test", "ANY")
    assert_negative(r, NXDOMAIN, zd.soa("example.test"))


# --- names outside every zone --------------------------------------------------------------

@pytest.mark.parametrize("qname,qtype", [
    ("www.example.org", "A"), ("test", "SOA"), (".", "NS"), ("example.testx", "A"),
    ("xexample.test", "A"), ("com", "NS"),
])
def test_out_of_zone_refused(ask, qname, qtype):
    r = ask(qname, qtype)
    assert r.rcode() == REFUSED
    assert not aa(r), "AA on REFUSED"
    assert not r.answer and not r.authority
    assert all(rr.rdtype == 41 for rr in r.additional)  # nothing but OPT (dnspython hides it)


# --- header bits ---------------------------------------------------------------------------

@pytest.mark.parametrize("rd", [False, True], ids=["rd0", "rd1"])
@pytest.mark.parametrize("qname", ["www.example.test", "nothere.example.test", "www.example.org"])
def test_rd_copied_ra_never(ask, rd, qname):
    r = ask(qname, "A", rd=rd)  # check_reply verifies RD copied and RA clear
    assert bool(r.flags & dns.flags.RD) == rd


# --- a delegation whose name server is the cut itself --------------------------------------

SELF_GLUE_ZONE = """$ORIGIN selfglue.test.
$TTL 3600
@    SOA  ns1 hostmaster 1 7200 3600 1209600 300
     NS   ns1
ns1  A    192.0.2.53
sub  NS   sub.selfglue.test.
sub  A    192.0.2.70
sub  AAAA 2001:db8::70
"""


@pytest.mark.parametrize("qname", ["sub.selfglue.test", "www.sub.selfglue.test"])
def test_cut_whose_ns_is_the_cut_itself_loads_and_sends_its_glue(spawn, tmp_path, qname):
    """RFC 9471 §2.1: `sub NS sub.selfglue.test.` needs `sub A/AAAA` as glue. The
    zone loads (NSD, Knot and BIND load it too) and a referral at or below the
    cut carries both addresses; a real client (kdig) sees the same."""
    path = tmp_path / "selfglue.test.zone"
    path.write_text(SELF_GLUE_ZONE)
    srv = spawn([("selfglue.test", path)])
    for transport in ("udp", "tcp"):
        r = query(srv.target, qname, "A", transport=transport).msg
        assert_referral(r, {("sub.selfglue.test.", "NS"): (3600, frozenset({"sub.selfglue.test."}))},
                        {("sub.selfglue.test.", "A"): (3600, frozenset({"192.0.2.70"})),
                         ("sub.selfglue.test.", "AAAA"): (3600, frozenset({"2001:db8::70"}))})
    host, port = srv.target
    out = subprocess.run(["kdig", f"@{host}", "-p", str(port), "+norec", qname, "A"],
                         capture_output=True, text=True, timeout=60)
    assert "status: NOERROR" in out.stdout, out.stdout + out.stderr
    assert "192.0.2.70" in out.stdout and "2001:db8::70" in out.stdout, out.stdout


# --- SVCB/HTTPS additional section (RFC 9460 §4.1) -----------------------------------------

SVCB_ZONE = """$ORIGIN svcb.test.
$TTL 3600
@     SOA   ns1 hostmaster 1 7200 3600 1209600 300
      NS    ns1
      HTTPS 0 pool
ns1   A     192.0.2.53
pool  HTTPS 1 web alpn=h2
web   A     192.0.2.80
web   AAAA  2001:db8::80
svc   HTTPS 1 . alpn=h3
svc   A     192.0.2.81
"""


@pytest.mark.sovdns_only  # minimal_responses is sovdns' configuration
def test_svcb_https_targets_in_additional(spawn, tmp_path):
    """The apex's AliasMode HTTPS brings the target's HTTPS and its target's
    addresses; a ServiceMode "." record its owner's; with minimal_responses
    nothing (the client asks). Checked with dnspython and kdig."""
    path = tmp_path / "svcb.test.zone"
    path.write_text(SVCB_ZONE)
    srv = spawn([("svcb.test", path)], config_mode=True)
    for transport in ("udp", "tcp"):
        r = query(srv.target, "svcb.test", "HTTPS", transport=transport).msg
        assert r.rcode() == NOERROR and aa(r)
        assert set(rrsets(r.answer)) == {("svcb.test.", "HTTPS")}
        assert set(rrsets(r.additional)) == {("pool.svcb.test.", "HTTPS"),
                                             ("web.svcb.test.", "A"), ("web.svcb.test.", "AAAA")}
        r = query(srv.target, "svc.svcb.test", "HTTPS", transport=transport).msg
        assert rrsets(r.additional) == {("svc.svcb.test.", "A"): (3600, frozenset({"192.0.2.81"}))}
    host, port = srv.target
    out = subprocess.run(["kdig", f"@{host}", "-p", str(port), "+norec", "svcb.test", "HTTPS"],
                         capture_output=True, text=True, timeout=60)
    assert "2001:db8::80" in out.stdout and "pool.svcb.test." in out.stdout, out.stdout

    minimal = spawn([("svcb.test", path)], name="minimal", config_mode=True,
                    config_extra={"minimal_responses": True})
    r = query(minimal.target, "svcb.test", "HTTPS").msg
    assert r.rcode() == NOERROR and len(r.answer) == 1
    assert rrsets(r.additional) == {}, "minimal_responses: no SVCB/HTTPS additional data"


# --- DNAME (RFC 6672) ----------------------------------------------------------------------

DNAME_ZONE = """$ORIGIN dname.test.
$TTL 3600
@     SOA   ns1 hostmaster 1 7200 3600 1209600 300
      NS    ns1
ns1   A     192.0.2.53
old   600 DNAME new.dname.test.
x.new A     192.0.2.77
away  DNAME elsewhere.test.
long  DNAME {long}
""".format(long=".".join(["a" * 50] * 4) + ".test.")


def test_dname_substitution(spawn, tmp_path):
    """RFC 6672 §3: below a DNAME, the DNAME, a synthesised CNAME with its TTL,
    then the data at the new name; out of the zone the resolver goes on; a
    name that would be too long is YXDOMAIN (§2.2). dnspython and kdig."""
    path = tmp_path / "dname.test.zone"
    path.write_text(DNAME_ZONE)
    srv = spawn([("dname.test", path)])
    for transport in ("udp", "tcp"):
        r = query(srv.target, "x.old.dname.test", "A", transport=transport).msg
        assert r.rcode() == NOERROR and aa(r)
        assert rrsets(r.answer) == {
            ("old.dname.test.", "DNAME"): (600, frozenset({"new.dname.test."})),
            ("x.old.dname.test.", "CNAME"): (600, frozenset({"x.new.dname.test."})),
            ("x.new.dname.test.", "A"): (3600, frozenset({"192.0.2.77"}))}
        r = query(srv.target, "a.away.dname.test", "A", transport=transport).msg
        assert r.rcode() == NOERROR
        assert rrsets(r.answer)[("a.away.dname.test.", "CNAME")][1] == {"a.elsewhere.test."}
        r = query(srv.target, "b" * 60 + ".long.dname.test", "A", transport=transport).msg
        assert r.rcode() == dns.rcode.YXDOMAIN
        assert set(rrsets(r.answer)) == {("long.dname.test.", "DNAME")}
    host, port = srv.target
    out = subprocess.run(["kdig", f"@{host}", "-p", str(port), "+norec", "x.old.dname.test", "A"],
                         capture_output=True, text=True, timeout=60)
    assert "DNAME" in out.stdout and "192.0.2.77" in out.stdout, out.stdout
