#!/usr/bin/python3
"""Writes seed queries for fuzz_wire into the directory given as argv[1].

Seeds are generated from this readable description rather than checked in
as binary blobs. Uses dnspython (python3-dnspython)."""
import os
import sys

import dns.edns
import dns.message
import dns.rdatatype
import dns.tsigkeyring


def seeds():
    yield "plain", dns.message.make_query("www.example.test", "A", use_edns=False)
    yield "mixed_case", dns.message.make_query("WwW.ExAmPlE.TeSt", "AAAA", use_edns=False)
    yield "root_ns", dns.message.make_query(".", "NS", use_edns=False)
    yield "edns_do", dns.message.make_query("example.test", "SOA", use_edns=0,
                                            want_dnssec=True, payload=1232)
    yield "badvers", dns.message.make_query("example.test", "A", use_edns=1)
    ecs4 = dns.edns.ECSOption("192.0.2.0", 24)
    ecs6 = dns.edns.ECSOption("2001:db8:1234::", 48)
    ecs0 = dns.edns.ECSOption("0.0.0.0", 0)
    cookie = dns.edns.GenericOption(dns.edns.COOKIE, b"ABCDEFGH")
    cookie_full = dns.edns.GenericOption(dns.edns.COOKIE, b"ABCDEFGH" + b"s" * 16)
    yield "ecs4", dns.message.make_query("svc.example.test", "A", use_edns=0, options=[ecs4])
    yield "ecs6_cookie", dns.message.make_query("svc.example.test", "AAAA", use_edns=0,
                                                options=[ecs6, cookie_full])
    yield "ecs0_cookie", dns.message.make_query("svc.example.test", "A", use_edns=0,
                                                options=[cookie, ecs0])
    signed = dns.message.make_query("example.test", "AXFR", use_edns=0)
    keyring = dns.tsigkeyring.from_text({"key.example.test.": "c2VjcmV0c2VjcmV0c2VjcmV0"})
    signed.use_tsig(keyring, keyname="key.example.test.")
    yield "tsig", signed
    notify = dns.message.make_query("example.test", "SOA", use_edns=False)
    notify.set_opcode(dns.opcode.NOTIFY)
    notify.answer.append(notify.find_rrset(notify.answer, notify.question[0].name,
                                           dns.rdataclass.IN, dns.rdatatype.SOA, create=True))
    notify.answer[0].add(dns.rdata.from_text("IN", "SOA",
                                             "ns.example.test. h.example.test. 1 2 3 4 5"))
    yield "notify", notify


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, msg in seeds():
        with open(os.path.join(out, name), "wb") as f:
            f.write(msg.to_wire())


if __name__ == "__main__":
    main()
