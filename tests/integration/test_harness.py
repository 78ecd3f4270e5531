"""Checks of the checkers: the reply invariants and the differential
comparison must reject wrong replies (no server needed)."""

import dns.flags
import dns.message
import dns.rrset
import pytest

from conftest import check_reply
from sovtest.dnsclient import make_query
from test_differential import Normaliser, Query, Summary, diff, section


def good_pair(edns=True):
    q = make_query("wWw.Example.TEST", "A", edns=edns, rd=True, qid=99)
    r = dns.message.make_response(q)
    r.flags |= dns.flags.AA
    if edns:
        r.use_edns(0, 0, 1232)
    return q, r


def test_good_reply_passes():
    q, r = good_pair()
    check_reply(q, r, 60, "udp", 1232)


@pytest.mark.parametrize("breakage", [
    "question-lowercased", "ra-set", "rd-not-copied", "opt-missing", "payload-wrong",
    "do-not-echoed", "opt-without-edns", "tc-over-tcp", "too-big-for-udp",
])
def test_bad_reply_is_rejected(breakage):
    q, r = good_pair(edns=breakage != "opt-without-edns")
    transport, size = "udp", 60
    if breakage == "question-lowercased":
        r.question = [dns.rrset.RRset(q.question[0].name.canonicalize(), 1, 1)]
    elif breakage == "ra-set":
        r.flags |= dns.flags.RA
    elif breakage == "rd-not-copied":
        r.flags &= ~dns.flags.RD
    elif breakage == "opt-missing":
        r.use_edns(False)
    elif breakage == "payload-wrong":
        r.use_edns(0, 0, 4096)
    elif breakage == "do-not-echoed":
        q.ednsflags |= dns.flags.DO
    elif breakage == "opt-without-edns":
        r.use_edns(0, 0, 1232)
    elif breakage == "tc-over-tcp":
        r.flags |= dns.flags.TC
        transport = "tcp"
    elif breakage == "too-big-for-udp":
        size = 1300
    with pytest.raises(AssertionError):
        check_reply(q, r, size, transport, 1232)


def summary(answer, rcode="NOERROR", flags=("AA",), additional=None, authority=None):
    def sec(rrs):
        return section([dns.rrset.from_text(*rr) for rr in rrs or []])
    return Summary(rcode, frozenset(flags), None, sec(answer), sec(authority), sec(additional))


A = ("www.example.test.", 300, "IN", "A", "192.0.2.10")
Q = Query("www.example.test.", "A", "udp", False, False, False)


@pytest.mark.parametrize("other,kind", [
    (summary([("www.example.test.", 301, "IN", "A", "192.0.2.10")]), "answer"),  # TTL
    (summary([("www.example.test.", 300, "IN", "A", "192.0.2.11")]), "answer"),  # data
    (summary([A], rcode="NXDOMAIN"), "rcode"),
    (summary([A], flags=()), "flag-AA"),
    (summary([A], authority=[("example.test.", 300, "IN", "NS", "ns1.example.test.")]),
     "authority"),
    (summary([A], additional=[("ns1.example.test.", 300, "IN", "A", "192.0.2.53")]),
     "additional"),  # added additional data is not permitted
])
def test_differences_survive_normalisation(other, kind):
    ref = summary([A])
    Normaliser(None, None).apply(Q, ref, other)
    assert kind in diff(ref, other)


def test_case_and_order_are_not_differences():
    a = summary([A, ("www.example.test.", 300, "IN", "A", "198.51.100.10")])
    b = summary([("WWW.example.TEST.", 300, "IN", "A", "198.51.100.10"),
                 ("www.EXAMPLE.test.", 300, "IN", "A", "192.0.2.10")])
    assert diff(a, b) == []


def test_omitted_referral_glue_is_a_difference():
    ns = [("sub.edge.test.", 3600, "IN", "NS", "ns1.sub.edge.test.")]
    glue = [("ns1.sub.edge.test.", 3600, "IN", "A", "192.0.2.53")]
    ref = summary([], flags=(), authority=ns, additional=glue)
    sub = summary([], flags=(), authority=ns)
    Normaliser(None, None).apply(Q, ref, sub)
    assert diff(ref, sub) == ["additional"]
