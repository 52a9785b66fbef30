"""Answering rules of local zones, end to end: exact matches with AA,
NODATA and empty non-terminals with the SOA at min(SOA TTL, MINIMUM),
RFC 4592 wildcards, CNAME chains (local, across zones, to NXDOMAIN, into
upstream with AA cleared, loops), RFC 8482 ANY, absent names forwarded or
NXDOMAIN per zone, rotation of several A/AAAA records, 0x20 case and ID
echo, escaped and mixed-case owners, a 255-octet name, checked with raw
packets and with dig and kdig. The "." upstream is
a Python fake that counts queries, so the tests also prove that local
answers never go upstream.
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, AAAA, TXT, CNAME, SOA, NS, MX, ANY, check, eq  # noqa: E402

suite = vt.Suite("answers")
S = {}

LOCAL_ZONE = """; local data used by test_answers
$ORIGIN local.test.
$TTL 300
@\tIN SOA\tns.local.test. hostmaster.local.test. 7 3600 600 86400 120
@\tIN NS\tns
ns\tIN A\t192.0.2.53
www\tIN A\t192.0.2.1
multi\tIN A\t192.0.2.11
multi\tIN A\t192.0.2.12
multi\tIN A\t192.0.2.13
multi\tIN A\t192.0.2.14
v6\tIN AAAA\t2001:db8::1
v6multi\tIN AAAA\t2001:db8::11
v6multi\tIN AAAA\t2001:db8::12
v6multi\tIN AAAA\t2001:db8::13
txt\tIN TXT\t"hello world" "second string"
ttl60\t60 IN A\t192.0.2.70
a.b.c\tIN A\t192.0.2.30
*.wild\tIN A\t192.0.2.40
*.wild\tIN TXT\t"from wildcard"
exists.wild\tIN AAAA\t2001:db8::40
*.wc\tIN CNAME\twww.local.test.
alias\tIN CNAME\twww
alias2\tIN CNAME\talias
cross\tIN CNAME\thost.nx.test.
crossnx\tIN CNAME\tmissing.nx.test.
ext\tIN CNAME\ttarget.example.org.
loop1\tIN CNAME\tloop2
loop2\tIN CNAME\tloop1
mixed\tIN A\t192.0.2.60
mixed\tIN TXT\t"mixed"
mixed\tIN MX\t10 mail.local.test.
MiXeD-CaSe\tIN A\t192.0.2.80
esc\\.dot\tIN A\t192.0.2.81
*.w3\tIN A\t192.0.2.90
a.b.w3\tIN A\t192.0.2.91
*.long\tIN A\t192.0.2.95
"""

NX_ZONE = """; fallback: nxdomain zone with SOA TTL below MINIMUM
$ORIGIN nx.test.
$TTL 3600
@\t60 IN SOA\tns.nx.test. hostmaster.nx.test. 1 3600 600 86400 3600
@\tIN NS\tns.nx.test.
ns\tIN A\t192.0.2.99
host\tIN A\t192.0.2.100
a.ent\tIN A\t192.0.2.101
*.wild\tIN A\t192.0.2.102
"""

# What the fake upstream knows (lower-case name, type) -> A/AAAA values.
UPSTREAM = {
    ("target.example.org.", A): ["198.51.100.7"],
    ("gone.local.test.", A): ["198.51.100.99"],
    ("sub.exists.wild.local.test.", A): ["198.51.100.98"],
    ("missing.nx.test.", A): ["198.51.100.97"],
    ("nope.nx.test.", A): ["198.51.100.96"],
}


def upstream_handler(m, transport):
    if not m.question:
        return None
    name, qtype, _ = m.question[0]
    vals = UPSTREAM.get((name.lower(), qtype))
    if vals is None:
        return [vt.build_response(m, rcode=vt.NXDOMAIN)]
    ans = [vt.rr_wire(name, A, 30, vt.rdata_a(v)) for v in vals]
    return [vt.build_response(m, answers=ans, flags=vt.F_QR | vt.F_AA | vt.F_RD)]


def upstream_saw(name):
    return S["up"].count(lambda q: q[1] is not None and q[1].question
                         and q[1].question[0][0].lower() == name.lower())


def setup():
    vt.binary()
    vt.require_tools("dig", "kdig")
    wd = vt.workdir("answers")
    S["wd"] = wd
    local = vt.write(os.path.join(wd, "zones", "local.test.zone"), LOCAL_ZONE)
    nx = vt.write(os.path.join(wd, "zones", "nx.test.zone"), NX_ZONE)
    S["up"] = vt.FakeUpstream(upstream_handler).start()
    srv = vt.Vpcdns(wd, None)
    srv.set_config({
        "server": vt.server_block(srv.port, v6=False),
        "upstreams": {"up": ["127.0.0.1:%d" % S["up"].port]},
        "views": [{
            "name": "main",
            "clients": ["127.0.0.1/32"],
            "zones": [local, {"path": nx, "fallback": "nxdomain"}],
            "forward": {".": "up"},
        }],
    })
    S["srv"] = srv.start()


def teardown():
    try:
        vt.teardown_server(S.get("srv"))
    finally:
        if "up" in S:
            S["up"].stop()


def q(name, qtype=A, **kw):
    m = S["srv"].udp(name, qtype, **kw)
    check(m is not None, "no reply to %s/%s" % (name, qtype))
    return m


def local_ok(m, sent, rcode=vt.NOERROR):
    """Common checks of a local answer: header, echo, AA."""
    eq(m.rcode_name(), vt.RCODE_NAMES[rcode], "rcode of %s" % m.question)
    check(m.qr, "QR not set", m)
    check(m.aa, "AA not set on a local answer", m)
    check(m.ra, "RA not set", m)
    check(m.rd, "RD from the query not copied", m)
    eq(m.id, vt.Msg.parse(sent, strict=False).id, "reply ID")
    eq(m.raw_question, vt.Msg.parse(sent, strict=False).raw_question,
       "question echoed byte for byte")


def qs(name, qtype=A, **kw):
    m, sent = vt.udp_query(name, qtype, port=S["srv"].port, **kw)
    check(m is not None, "no reply to %s" % name)
    return m, sent


def neg_soa(m, apex, ttl):
    soas = m.rrs("authority", SOA)
    eq(len(soas), 1, "SOA records in AUTHORITY of %s" % m.summary())
    eq(soas[0].name.lower(), apex, "SOA owner")
    eq(soas[0].ttl, ttl, "negative-answer SOA TTL")
    eq(m.answer, [], "answer section of a negative answer")


@suite.case
def exact_a_raw():
    before = S["up"].count()
    m, sent = qs("www.local.test", A)
    local_ok(m, sent)
    eq(m.values(A), ["192.0.2.1"], "A answer")
    eq(m.rrs()[0].ttl, 300, "TTL from $TTL")
    eq(m.rrs()[0].name.lower(), "www.local.test.", "owner")
    check(m.opt is None, "OPT in reply to a query without EDNS", m)
    eq(S["up"].count(), before, "upstream queries caused by a local answer")


@suite.case
def exact_a_dig():
    r = vt.dig(S["srv"].port, "www.local.test", "A")
    eq(r.status, "NOERROR", "dig status")
    check({"qr", "aa", "rd", "ra"} <= r.flags, "dig flags %s" % r.flags, r.text)
    eq(r.rdata("A"), ["192.0.2.1"], "dig answer")


@suite.case
def exact_a_kdig_tcp():
    r = vt.kdig(S["srv"].port, "+tcp", "www.local.test", "A")
    eq(r.status, "NOERROR", "kdig status")
    check({"qr", "aa", "ra"} <= r.flags, "kdig flags %s" % r.flags, r.text)
    eq(r.rdata("A"), ["192.0.2.1"], "kdig answer")


@suite.case
def mixed_case_question_kept():
    for name in ("wWw.LoCaL.tEsT", "WWW.LOCAL.TEST."):
        m, sent = qs(name, A)
        local_ok(m, sent)
        eq(m.question[0][0], name.rstrip(".") + ".", "question name case")
        eq(m.values(A), ["192.0.2.1"], "answer to %s" % name)


@suite.case
def explicit_ttl():
    m, sent = qs("ttl60.local.test")
    local_ok(m, sent)
    eq([r.ttl for r in m.answer], [60], "TTL written on the record")


@suite.case
def aaaa_and_txt():
    m, sent = qs("v6.local.test", AAAA)
    local_ok(m, sent)
    eq(m.values(AAAA), ["2001:db8::1"], "AAAA")
    m, sent = qs("txt.local.test", TXT)
    local_ok(m, sent)
    eq(m.values(TXT), [[b"hello world", b"second string"]], "TXT strings")


@suite.case
def apex_soa_and_ns():
    m, sent = qs("local.test", SOA)
    local_ok(m, sent)
    soa = m.values(SOA)
    eq(len(soa), 1, "SOA count")
    eq(soa[0][0], "ns.local.test.", "SOA mname")
    eq(soa[0][6], 120, "SOA minimum")
    m, sent = qs("local.test", NS)
    local_ok(m, sent)
    eq(m.values(NS), ["ns.local.test."], "NS at apex")


@suite.case
def nodata_soa_min_minimum():
    m, sent = qs("www.local.test", TXT)
    local_ok(m, sent)
    neg_soa(m, "local.test.", 120)   # min(300, 120)


@suite.case
def nodata_soa_min_ttl():
    m, sent = qs("host.nx.test", TXT)
    local_ok(m, sent)
    neg_soa(m, "nx.test.", 60)       # min(60, 3600)


@suite.case
def empty_non_terminals_are_nodata():
    before = S["up"].count()
    for name, apex, ttl in (("b.c.local.test", "local.test.", 120),
                            ("c.local.test", "local.test.", 120),
                            ("ent.nx.test", "nx.test.", 60)):
        m, sent = qs(name, A)
        local_ok(m, sent)
        neg_soa(m, apex, ttl)
    eq(S["up"].count(), before, "upstream queries for empty non-terminals")


@suite.case
def wildcard_synthesis():
    for name in ("x.wild.local.test", "a.b.wild.local.test", "*.wild.local.test"):
        m, sent = qs(name, A)
        local_ok(m, sent)
        eq(m.values(A), ["192.0.2.40"], "wildcard A for %s" % name)
        eq(m.answer[0].name.lower(), name.lower() + ".", "owner is the query name")
    m, sent = qs("x.wild.local.test", TXT)
    local_ok(m, sent)
    eq(m.values(TXT), [[b"from wildcard"]], "wildcard TXT")


@suite.case
def wildcard_nodata():
    m, sent = qs("x.wild.local.test", AAAA)
    local_ok(m, sent)
    neg_soa(m, "local.test.", 120)


@suite.case
def wildcard_does_not_cover_existing_name():
    m, sent = qs("exists.wild.local.test", A)
    local_ok(m, sent)
    neg_soa(m, "local.test.", 120)


@suite.case
def wildcard_blocked_below_existing_name():
    # RFC 4592: the closest encloser is exists.wild, which has no "*"
    # child, so the name does not exist here and is forwarded.
    m, sent = qs("sub.exists.wild.local.test", A)
    eq(m.rcode_name(), "NOERROR", "rcode")
    check(not m.aa, "AA set on a forwarded answer", m)
    eq(m.values(A), ["198.51.100.98"], "forwarded answer")
    check(upstream_saw("sub.exists.wild.local.test.") >= 1, "upstream never asked")


@suite.case
def wildcard_in_nxdomain_zone():
    m, sent = qs("q.wild.nx.test", A)
    local_ok(m, sent)
    eq(m.values(A), ["192.0.2.102"], "wildcard answer")


@suite.case
def cname_chain_local():
    m, sent = qs("alias.local.test", A)
    local_ok(m, sent)
    eq([(r.name.lower(), r.type) for r in m.answer],
       [("alias.local.test.", CNAME), ("www.local.test.", A)], "answer chain")
    eq(m.answer[0].value.lower(), "www.local.test.", "CNAME target")
    eq(m.values(A), ["192.0.2.1"], "final A")
    m, sent = qs("alias2.local.test", A)
    local_ok(m, sent)
    eq([(r.name.lower(), r.type) for r in m.answer],
       [("alias2.local.test.", CNAME), ("alias.local.test.", CNAME),
        ("www.local.test.", A)], "two-hop chain")


@suite.case
def cname_qtype_cname():
    m, sent = qs("alias.local.test", CNAME)
    local_ok(m, sent)
    eq([(r.name.lower(), r.type, r.value.lower()) for r in m.answer],
       [("alias.local.test.", CNAME, "www.local.test.")], "CNAME only")


@suite.case
def cname_across_zones():
    m, sent = qs("cross.local.test", A)
    local_ok(m, sent)
    eq([r.type for r in m.answer], [CNAME, A], "answer types")
    eq(m.values(A), ["192.0.2.100"], "A from the other zone")


@suite.case
def cname_to_nxdomain():
    before = upstream_saw("missing.nx.test.")
    m, sent = qs("crossnx.local.test", A)
    eq(m.rcode_name(), "NXDOMAIN", "rcode of a chain ending in NXDOMAIN")
    check(m.aa, "AA not set", m)
    eq([r.type for r in m.answer], [CNAME], "answer holds the CNAME")
    soas = m.rrs("authority", SOA)
    eq([s.name.lower() for s in soas], ["nx.test."], "SOA of the target zone")
    eq(upstream_saw("missing.nx.test."), before, "fallback nxdomain went upstream")


@suite.case
def cname_chased_upstream():
    m, sent = qs("ext.local.test", A)
    eq(m.rcode_name(), "NOERROR", "rcode")
    check(not m.aa, "AA must be clear when the chain finished upstream", m)
    check(m.ra, "RA not set", m)
    eq([(r.name.lower(), r.type) for r in m.answer],
       [("ext.local.test.", CNAME), ("target.example.org.", A)], "chain")
    eq(m.values(A), ["198.51.100.7"], "upstream A")
    eq(m.raw_question, vt.Msg.parse(sent).raw_question, "question echoed")


@suite.case
def cname_loop_terminates():
    m, sent = qs("loop1.local.test", A)
    check(m.rcode in (vt.NOERROR, vt.SERVFAIL), "rcode %s for a CNAME loop" % m.rcode_name())
    check(len(m.answer) <= 20, "CNAME loop expanded to %d records" % len(m.answer))
    check(S["srv"].alive(), "server died on a CNAME loop")


@suite.case
def wildcard_cname():
    m, sent = qs("any.wc.local.test", A)
    local_ok(m, sent)
    eq([(r.name.lower(), r.type) for r in m.answer],
       [("any.wc.local.test.", CNAME), ("www.local.test.", A)], "wildcard CNAME chain")


@suite.case
def any_is_minimal():
    for transport in ("udp", "tcp"):
        m, sent = vt.udp_query("mixed.local.test", ANY, port=S["srv"].port) \
            if transport == "udp" else vt.tcp_query("mixed.local.test", ANY,
                                                    port=S["srv"].port)
        check(m is not None, "no reply over %s" % transport)
        local_ok(m, sent)
        types = {r.type for r in m.answer}
        check(len(m.answer) >= 1, "ANY answered nothing", m)
        eq(len(types), 1, "RRsets in a minimal ANY answer (%s)" % transport)


@suite.case
def absent_name_forwarded():
    m, sent = qs("gone.local.test", A)
    eq(m.rcode_name(), "NOERROR", "rcode")
    check(not m.aa, "AA set on a forwarded answer", m)
    check(m.ra, "RA not set", m)
    eq(m.values(A), ["198.51.100.99"], "upstream answer")
    eq(m.raw_question, vt.Msg.parse(sent).raw_question, "question echoed")


@suite.case
def absent_name_nxdomain_zone():
    before = S["up"].count()
    for name in ("nope.nx.test", "missing.nx.test", "deep.er.nope.nx.test"):
        m, sent = qs(name, A)
        local_ok(m, sent, vt.NXDOMAIN)
        neg_soa(m, "nx.test.", 60)
    eq(S["up"].count(), before, "a fallback: nxdomain zone went upstream")
    r = vt.dig(S["srv"].port, "nope.nx.test")
    eq(r.status, "NXDOMAIN", "dig status")
    check("aa" in r.flags, "dig flags %s" % r.flags)


@suite.case
def rotation_of_a_records():
    orders, firsts = set(), set()
    for _ in range(40):
        m, sent = qs("multi.local.test", A)
        local_ok(m, sent)
        vals = m.values(A)
        eq(sorted(vals), ["192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.14"],
           "A set")
        orders.add(tuple(vals))
        firsts.add(vals[0])
    check(len(orders) >= 2, "A records never change order: %s" % orders)
    eq(len(firsts), 4, "distinct first records over 40 answers")


@suite.case
def rotation_of_aaaa_records():
    orders = set()
    for _ in range(30):
        m, sent = qs("v6multi.local.test", AAAA)
        eq(len(m.values(AAAA)), 3, "AAAA count")
        orders.add(tuple(m.values(AAAA)))
    check(len(orders) >= 2, "AAAA records never change order")


@suite.case
def tcp_gives_same_answers():
    for name, want in (("www.local.test", ["192.0.2.1"]), ("x.wild.local.test", ["192.0.2.40"])):
        m, sent = vt.tcp_query(name, A, port=S["srv"].port)
        check(m is not None, "no TCP reply")
        local_ok(m, sent)
        eq(m.values(A), want, "TCP answer")


@suite.case
def edns_local_answer():
    m, sent = qs("www.local.test", A, edns={"udp": 4096})
    local_ok(m, sent)
    check(m.opt is not None, "no OPT in reply to an EDNS query", m)
    eq(m.opt.udp, 1232, "advertised UDP size")
    eq(m.opt.version, 0, "EDNS version")


@suite.case
def dig_wildcard_and_cname():
    r = vt.dig(S["srv"].port, "bucket.wild.local.test")
    eq(r.rdata("A"), ["192.0.2.40"], "dig wildcard")
    r = vt.kdig(S["srv"].port, "alias.local.test")
    eq(r.rdata("CNAME"), ["www.local.test."], "kdig CNAME")
    eq(r.rdata("A"), ["192.0.2.1"], "kdig chain end")
    check("aa" in r.flags, "kdig flags %s" % r.flags)


@suite.case
def owner_case_in_zone_file_ignored():
    for name in ("mixed-case.local.test", "MIXED-CASE.LOCAL.TEST"):
        m, sent = qs(name, A)
        local_ok(m, sent)
        eq(m.values(A), ["192.0.2.80"], "answer for %s" % name)


@suite.case
def escaped_dot_in_label():
    m, sent = qs([b"esc.dot", b"local", b"test"], A)
    local_ok(m, sent)
    eq(m.values(A), ["192.0.2.81"], "answer for the label 'esc.dot'")
    m, sent = qs("dot.local.test", A)   # "esc.dot" is one label: no ENT "dot"
    check(not m.aa or m.rcode != vt.NOERROR or m.values(A) != ["192.0.2.81"],
          "the escaped label was split", m)


@suite.case
def wildcard_rfc4592_empty_non_terminal():
    # *.w3 and a.b.w3 exist: b.w3 is an empty non-terminal (NODATA, not
    # the wildcard); below b.w3 the closest encloser is b.w3, which has no
    # "*" child, so c.b.w3 does not exist (and is forwarded); z.w3 matches.
    m, sent = qs("b.w3.local.test", A)
    local_ok(m, sent)
    neg_soa(m, "local.test.", 120)
    m, sent = qs("c.b.w3.local.test", A)
    check(not m.aa and m.values(A) == [], "c.b.w3 must not match *.w3", m)
    check(upstream_saw("c.b.w3.local.test.") >= 1, "c.b.w3 not forwarded")
    m, sent = qs("z.w3.local.test", A)
    local_ok(m, sent)
    eq(m.values(A), ["192.0.2.90"], "wildcard answer")


@suite.case
def longest_possible_name():
    # 255 octets in wire form, answered by *.long.local.test
    suffix = [b"long", b"local", b"test"]
    room = 255 - len(vt.name_to_wire(suffix))
    labels = []
    while room > 1:
        n = min(63, room - 1)
        labels.append(b"x" * n)
        room -= n + 1
    name = labels + suffix
    eq(len(vt.name_to_wire(name)), 255, "test name length")
    for tcp in (False, True):
        fn = vt.tcp_query if tcp else vt.udp_query
        m, sent = fn(name, A, port=S["srv"].port, edns=True)
        check(m is not None, "no reply for a 255-octet name (tcp=%s)" % tcp)
        local_ok(m, sent)
        eq(m.values(A), ["192.0.2.95"], "wildcard answer")
        eq(len(vt.name_to_wire(m.answer[0].name)), 255, "owner length")


@suite.case
def local_answers_never_went_upstream():
    local_names = {"www.local.test.", "multi.local.test.", "x.wild.local.test.",
                   "alias.local.test.", "b.c.local.test.", "nope.nx.test.",
                   "host.nx.test.", "mixed.local.test."}
    seen = {q[1].question[0][0].lower() for q in S["up"].queries
            if q[1] is not None and q[1].question}
    eq(sorted(seen & local_names), [], "local names seen upstream")


if __name__ == "__main__":
    suite.main(setup, teardown)
