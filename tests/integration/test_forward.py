"""Forwarding, end to end, against real and scripted upstreams: answers from
nsd pass through without AA; the longest matching suffix picks the group;
a forward rule beats a zone at the same name while a deeper zone beats a
rule; a zone's absent names go "as if the zone were not there" (fallback
forward) or get NXDOMAIN; a local CNAME is chased upstream along the
target's own route with AA cleared; failover on ICMP refused, on timeout
and on a REFUSED answer, whichever server is picked first; SERVFAIL with
EDE 22 or 23 when every server
fails; TC from upstream retried over TCP (ldns-testns); responses with the
wrong ID (also from ldns-testns), source port, question or QR bit are
ignored; each client's question case, RD, CD and DO are kept, also when several clients ask
the same question at once; IDs and source ports are random; EDNS and size
follow each client, not the one whose query filled the cache; odd label
bytes reach the upstream intact; in-flight queries do not block SIGTERM.
"""

import os
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, AAAA, TXT, CNAME, SOA, check, eq  # noqa: E402

suite = vt.Suite("forward")
S = {}
TIMEOUT_MS = 400
BIG_TXT = 30


def zone(origin, body):
    return ("$ORIGIN %s\n$TTL 60\n@ IN SOA ns.%s hostmaster.%s 1 3600 600 86400 60\n"
            "@ IN NS ns.%s\nns IN A 192.0.2.53\n%s\n" % (origin, origin, origin, origin, body))


TESTNS_DATA = """; UDP answers are truncated and empty; TCP answers carry the data.
ENTRY_BEGIN
MATCH opcode qtype qname
MATCH UDP
ADJUST copy_id
REPLY QR AA TC NOERROR
SECTION QUESTION
www.tc.test. IN A
ENTRY_END

ENTRY_BEGIN
MATCH opcode qtype qname
MATCH TCP
ADJUST copy_id
REPLY QR AA NOERROR
SECTION QUESTION
www.tc.test. IN A
SECTION ANSWER
www.tc.test. 60 IN A 198.51.100.60
ENTRY_END

; no copy_id: the reply carries the wrong ID and must be ignored
ENTRY_BEGIN
MATCH opcode qtype
REPLY QR AA NOERROR
SECTION QUESTION
www.wrongid.test. IN A
SECTION ANSWER
www.wrongid.test. 60 IN A 198.51.100.111
ENTRY_END
"""


def answer_a(m, addr, qname=None, **kw):
    name = qname or m.question[0][0]
    return vt.build_response(m, answers=[vt.rr_wire(name, A, 30, vt.rdata_a(addr))], **kw)


def mm_handler(m, transport):
    """Scripted upstream for mm.test and flags.test."""
    if not m.question:
        return None
    name, qtype, qclass = m.question[0]
    low = name.lower()
    if low.startswith("www.mm.test") or low.startswith("case.mm.test"):
        other_q = vt.name_to_wire("evil.mm.test") + struct.pack("!HH", A, 1)
        type_q = vt.name_to_wire(name) + struct.pack("!HH", AAAA, 1)
        good_q = m.raw_question   # the case it was asked in (0x20)
        return [
            ("other_port", answer_a(m, "198.51.100.71")),
            answer_a(m, "198.51.100.72", qid=(m.id + 1) & 0xFFFF),
            answer_a(m, "198.51.100.73", question=other_q),
            answer_a(m, "198.51.100.74", question=type_q),
            answer_a(m, "198.51.100.75", flags=vt.F_RA | vt.F_RD),   # QR=0
            b"\x00\x01\x02",
            m.raw[:2] + b"\x81\x80\x00\x01\x00\x01",                 # truncated
            ("delay", 0.05, answer_a(m, "198.51.100.70", question=good_q)),
        ]
    if low.startswith("bad.mm.test"):
        return [answer_a(m, "198.51.100.72", qid=(m.id + 1) & 0xFFFF),
                ("other_port", answer_a(m, "198.51.100.71"))]
    if low.endswith("flags.test."):
        return [answer_a(m, "198.51.100.90",
                         edns={"udp": 1232, "do": bool(m.opt and m.opt.do)} if m.opt else None)]
    if low.endswith("raw.mm.test."):   # echo the name exactly as received
        return [vt.build_response(m, answers=[
            m.raw_question[:-4] + struct.pack("!HHIH", A, 1, 30, 4) + vt.rdata_a("198.51.100.92")])]
    if low.endswith("slow.mm.test."):
        return [("delay", 0.3, answer_a(m, "198.51.100.91"))]
    return [vt.build_response(m, rcode=vt.NXDOMAIN)]


AB_ADDR = {"a": "198.51.100.101", "b": "198.51.100.102"}


def ab_handler(me, mode):
    """Server "a" or "b" of a two-server group: it answers names starting
    with its own letter and, for the other letter's names, stays silent
    (mode "timeout") or says REFUSED (mode "refused"). Whichever server
    the forwarder picks first, half the names need a failover."""
    def handler(m, transport):
        if not m.question:
            return None
        name = m.question[0][0]
        if name.lower().startswith(me + "-"):
            return [answer_a(m, AB_ADDR[me])]
        if mode == "refused":
            return [vt.build_response(m, rcode=vt.REFUSED)]
        return None
    return handler


def setup():
    vt.binary()
    vt.require_tools("nsd", "ldns-testns", "dig", "kdig")
    wd = vt.workdir("forward")
    big = "\n".join('bigtxt IN TXT "%03d-%s"' % (i, "x" * 96) for i in range(BIG_TXT))
    S["nsd1"] = vt.Nsd(wd, {
        "example.org.": zone("example.org.",
                             "www IN A 198.51.100.1\ntarget IN A 198.51.100.7\n"
                             "e1 IN A 198.51.100.2\ne2 IN A 198.51.100.3\n" + big + "\n" +
                             big.replace("bigtxt IN", "bigtxt2 IN") + "\n" +
                             big.replace("bigtxt IN", "bigtxt3 IN")),
        "ff.test.": zone("ff.test.", "gone IN A 198.51.100.50\nhere IN A 198.51.100.52"),
        "fn.test.": zone("fn.test.", "gone IN A 198.51.100.51"),
        "deep.corp.example.": zone("deep.corp.example.", "x IN A 198.51.100.30"),
        "fo.test.": zone("fo.test.", "www IN A 198.51.100.80\n* IN A 198.51.100.81"),
    }, name="nsd1").start()
    S["nsd2"] = vt.Nsd(wd, {
        "corp.example.": zone("corp.example.",
                              "host IN A 198.51.100.21\nx.deep IN A 198.51.100.31\n"
                              "miss.zz IN A 198.51.100.41\nwww.z IN A 198.51.100.42"),
        "fz.test.": zone("fz.test.", "www IN A 198.51.100.40"),
    }, name="nsd2").start()
    S["testns"] = vt.Testns(wd, TESTNS_DATA).start()
    S["mm"] = vt.FakeUpstream(mm_handler).start()
    S["silent1"] = vt.FakeUpstream(vt.silent_handler).start()
    S["silent2"] = vt.FakeUpstream(vt.silent_handler).start()
    S["icmp_fast"] = vt.FakeUpstream(lambda m, t: [answer_a(m, "198.51.100.121")]).start()
    S["icmp_slow"] = vt.FakeUpstream(
        lambda m, t: [("delay", 0.05, answer_a(m, "198.51.100.122"))]).start()
    for mode in ("timeout", "refused"):
        for me in ("a", "b"):
            S["ab_%s_%s" % (mode, me)] = vt.FakeUpstream(ab_handler(me, mode)).start()
    S["wd"] = wd
    closed = [vt.free_port() for _ in range(3)]   # nothing listens there
    zd = os.path.join(wd, "zones")

    def z(origin, body):
        return vt.write(os.path.join(zd, origin + "zone"), zone(origin, body))
    up = lambda *ports: ["127.0.0.1:%d" % p for p in ports]  # noqa: E731
    srv = vt.Vpcdns(wd, None)
    srv.set_config({
        "server": vt.server_block(srv.port, upstream_timeout="%dms" % TIMEOUT_MS),
        "upstreams": {
            "default": up(S["nsd1"].port),
            "corp": up(S["nsd2"].port),
            "fo": up(closed[0], S["nsd1"].port),
            "ab_timeout": up(S["ab_timeout_a"].port, S["ab_timeout_b"].port),
            "ab_refused": up(S["ab_refused_a"].port, S["ab_refused_b"].port),
            "dead22": up(S["silent1"].port, S["silent2"].port),
            "dead23": up(closed[1], closed[2]),
            # ldns-testns answers with its entry's question, not the
            # case it was asked in: 0x20 off for it
            "tc": {"servers": up(S["testns"].port), "use_0x20": False},
            "wid": {"servers": up(S["testns"].port), "use_0x20": False},
            "icmp": up(S["icmp_fast"].port, S["icmp_slow"].port),
            "mm": up(S["mm"].port),
        },
        "views": [{
            "name": "fwd",
            "clients": ["127.0.0.1/32"],
            "zones": [
                z("fz.test.", "www IN A 10.9.9.9"),
                z("z.corp.example.", "www IN A 10.7.7.7"),
                z("zz.corp.example.", "here IN A 10.7.7.8"),
                z("ff.test.", "here IN A 10.8.8.8"),
                {"path": z("fn.test.", "here IN A 10.8.8.9"), "fallback": "nxdomain"},
                z("lc.test.", "ext IN CNAME target.example.org.\n"
                              "corp IN CNAME host.corp.example.\n"
                              "dead IN CNAME www.dead22.test."),
            ],
            "forward": {
                ".": "default",
                "corp.example.": "corp",
                "deep.corp.example.": "default",
                "fz.test.": "corp",
                "fo.test.": "fo",
                "abto.test.": "ab_timeout",
                "abrf.test.": "ab_refused",
                "dead22.test.": "dead22",
                "dead23.test.": "dead23",
                "tc.test.": "tc",
                "wrongid.test.": "wid",
                "icmp.test.": "icmp",
                "mm.test.": "mm",
                "flags.test.": "mm",
            },
        }],
    })
    S["srv"] = srv.start()


def teardown():
    try:
        vt.teardown_server(S.get("srv"))
    finally:
        for k in ("nsd1", "nsd2", "testns", "mm", "silent1", "silent2", "icmp_slow", "ab_timeout_a",
                  "ab_timeout_b", "ab_refused_a", "ab_refused_b"):
            if k in S:
                S[k].stop()


def fq(name, qtype=A, tcp=False, timeout=3.0, **kw):
    fn = vt.tcp_query if tcp else vt.udp_query
    m, sent = fn(name, qtype, port=S["srv"].port, timeout=timeout, **kw)
    check(m is not None, "no reply to %s" % name)
    s = vt.Msg.parse(sent)
    eq(m.id, s.id, "reply ID")
    eq(m.raw_question, s.raw_question, "question echoed byte for byte")
    check(m.qr and m.ra, "QR/RA not set", m)
    return m


def forwarded_ok(m, want):
    eq(m.rcode_name(), "NOERROR", "rcode of %s" % m.question)
    check(not m.aa, "AA set on a forwarded answer", m)
    eq(m.values(A), want, "answer to %s" % m.question)


@suite.case
def forwarded_to_nsd():
    forwarded_ok(fq("www.example.org"), ["198.51.100.1"])
    forwarded_ok(fq("www.example.org", tcp=True), ["198.51.100.1"])
    r = vt.dig(S["srv"].port, "www.example.org")
    eq(r.rdata("A"), ["198.51.100.1"], "dig")
    check("aa" not in r.flags and "ra" in r.flags, "dig flags %s" % r.flags)
    r = vt.kdig(S["srv"].port, "+tcp", "www.example.org")
    eq(r.rdata("A"), ["198.51.100.1"], "kdig +tcp")


@suite.case
def forwarded_nxdomain():
    m = fq("nope.example.org")
    eq(m.rcode_name(), "NXDOMAIN", "rcode")
    check(not m.aa, "AA set", m)
    eq([r.name.lower() for r in m.rrs("authority", SOA)], ["example.org."], "upstream SOA")


@suite.case
def longest_suffix_wins():
    forwarded_ok(fq("host.corp.example"), ["198.51.100.21"])
    forwarded_ok(fq("x.deep.corp.example"), ["198.51.100.30"])
    forwarded_ok(fq("X.Deep.Corp.Example"), ["198.51.100.30"])


@suite.case
def forward_rule_beats_zone():
    forwarded_ok(fq("www.fz.test"), ["198.51.100.40"])


@suite.case
def deeper_zone_beats_rule():
    m = fq("www.z.corp.example")
    check(m.aa, "local answer without AA", m)
    eq(m.values(A), ["10.7.7.7"], "deeper zone answers")


@suite.case
def fallback_forward_as_if_zone_absent():
    m = fq("here.ff.test")
    check(m.aa, "AA", m)
    eq(m.values(A), ["10.8.8.8"], "local name")
    forwarded_ok(fq("gone.ff.test"), ["198.51.100.50"])
    # zz.corp.example's missing names follow the corp.example rule (nsd2)
    forwarded_ok(fq("miss.zz.corp.example"), ["198.51.100.41"])


@suite.case
def fallback_nxdomain_is_final():
    m = fq("gone.fn.test")
    eq(m.rcode_name(), "NXDOMAIN", "rcode")
    check(m.aa, "AA on local NXDOMAIN", m)
    eq(m.values(A), [], "answer")
    eq([r.name.lower() for r in m.rrs("authority", SOA)], ["fn.test."], "local SOA")


@suite.case
def cname_chased_upstream_clears_aa():
    m = fq("ext.lc.test")
    forwarded_ok(m, ["198.51.100.7"])
    eq([(r.name.lower(), r.type) for r in m.answer],
       [("ext.lc.test.", CNAME), ("target.example.org.", A)], "chain")
    m = fq("corp.lc.test")   # the target follows its own route (corp -> nsd2)
    forwarded_ok(m, ["198.51.100.21"])
    eq(m.answer[0].type, CNAME, "CNAME first")


@suite.case
def failover_on_refused_port():
    t0 = time.monotonic()
    forwarded_ok(fq("www.fo.test"), ["198.51.100.80"])
    forwarded_ok(fq("a1.fo.test", tcp=True), ["198.51.100.81"])
    check(time.monotonic() - t0 < 2 * TIMEOUT_MS / 1000 + 1.5, "failover too slow")


def ab_round(domain, mode):
    """Six names alternating between the two servers' letters: every one
    must be answered by the server that knows it."""
    wrong_pick = 0
    for i in range(3):
        for me, other in (("a", "b"), ("b", "a")):
            name = "%s-%d.%s" % (me, i, domain)
            t0 = time.monotonic()
            forwarded_ok(fq(name, timeout=4), [AB_ADDR[me]])
            el = time.monotonic() - t0
            check(el < 2 * TIMEOUT_MS / 1000 + 1.0, "%s answered after %.2fs" % (name, el))
            wrong_pick += S["ab_%s_%s" % (mode, other)].asked(name)
    check(wrong_pick >= 1, "no query went to the server that cannot answer it first; "
          "failover was never exercised")


@suite.case
def failover_on_icmp_refused_is_immediate():
    for i in range(4):   # let the forwarder learn that icmp_fast is fastest
        fq("warm%d.icmp.test" % i)
    S["icmp_fast"].stop()   # its port now answers with ICMP port unreachable
    for i in range(4):
        t0 = time.monotonic()
        forwarded_ok(fq("after%d.icmp.test" % i), ["198.51.100.122"])
        el = time.monotonic() - t0
        check(el < TIMEOUT_MS / 1000 * 0.8,
              "answer took %.2fs: the ICMP error was not acted on before the %d ms "
              "timeout" % (el, TIMEOUT_MS))


@suite.case
def failover_on_timeout():
    ab_round("abto.test", "timeout")


@suite.case
def servfail_ede22_all_timed_out():
    b1, b2 = S["silent1"].asked("www.dead22.test"), S["silent2"].asked("www.dead22.test")
    t0 = time.monotonic()
    m = fq("www.dead22.test", edns=True, timeout=6)
    el = time.monotonic() - t0
    eq(m.rcode_name(), "SERVFAIL", "rcode when every server times out")
    check(not m.aa, "AA on SERVFAIL", m)
    check(vt.EDE_NO_REACHABLE in m.ede_codes(), "EDE %s, want 22" % m.ede_codes(), m)
    eq(S["silent1"].asked("www.dead22.test") - b1, 1, "queries to server 1")
    eq(S["silent2"].asked("www.dead22.test") - b2, 1, "queries to server 2")
    check(el < 2 * TIMEOUT_MS / 1000 + 2, "SERVFAIL took %.2fs" % el)
    m = fq("x.dead22.test", timeout=6)
    eq(m.rcode_name(), "SERVFAIL", "rcode without EDNS")
    check(m.opt is None, "OPT in reply to a query without EDNS", m)


@suite.case
def servfail_ede23_network_error():
    m = fq("www.dead23.test", edns=True)
    eq(m.rcode_name(), "SERVFAIL", "rcode when every server refuses")
    check(vt.EDE_NETWORK_ERROR in m.ede_codes(), "EDE %s, want 23" % m.ede_codes(), m)
    r = vt.dig(S["srv"].port, "www2.dead23.test")
    eq(r.status, "SERVFAIL", "dig status")
    check("EDE: 23" in r.text, "dig shows no EDE 23", r.text)


@suite.case
def cname_into_dead_upstream():
    m = fq("dead.lc.test", edns=True, timeout=6)
    eq(m.rcode_name(), "SERVFAIL", "rcode")
    check(not m.aa, "AA set", m)


@suite.case
def tc_from_upstream_retried_over_tcp():
    m = fq("www.tc.test", edns=True)
    forwarded_ok(m, ["198.51.100.60"])
    check(not m.tc, "TC passed to the client although the answer fits", m)
    m = fq("WWW.tc.TEST")
    forwarded_ok(m, ["198.51.100.60"])
    r = vt.dig(S["srv"].port, "+ignore", "www.tc.test")
    eq(r.rdata("A"), ["198.51.100.60"], "dig +ignore (no client retry)")


@suite.case
def mismatched_responses_ignored():
    m = fq("www.mm.test", timeout=4)
    forwarded_ok(m, ["198.51.100.70"])


@suite.case
def wrong_id_from_ldns_testns_ignored():
    # ldns-testns (no copy_id) answers with a fixed ID: the forwarder must
    # drop that answer and, with no other server, time out.
    m = fq("www.wrongid.test", edns=True, timeout=4)
    eq(m.values(A), [], "answer taken from a reply with the wrong ID")
    eq(m.rcode_name(), "SERVFAIL", "rcode")
    check(vt.EDE_NO_REACHABLE in m.ede_codes(), "EDE %s, want 22" % m.ede_codes(), m)


@suite.case
def only_mismatched_responses_is_servfail():
    m = fq("bad.mm.test", edns=True, timeout=4)
    eq(m.rcode_name(), "SERVFAIL", "rcode when no valid response came")
    check(not (set(m.values(A)) & {"198.51.100.71", "198.51.100.72"}),
          "a spoofed answer was accepted", m)


@suite.case
def case_0x20_kept():
    m = fq("CaSe.Mm.TeSt", timeout=4)   # the client's case, whatever went upstream
    forwarded_ok(m, ["198.51.100.70"])
    eq(m.question[0][0], "CaSe.Mm.TeSt.", "question case")
    m = fq("WwW.eXaMpLe.OrG")
    forwarded_ok(m, ["198.51.100.1"])
    eq(m.question[0][0], "WwW.eXaMpLe.OrG.", "question case")


@suite.case
def rd_cd_do_passed_upstream():
    n0 = len(S["mm"].queries)
    m = fq("a.flags.test", flags=vt.F_RD | vt.F_CD, edns={"udp": 1232, "do": True})
    forwarded_ok(m, ["198.51.100.90"])
    check(m.opt is not None and m.opt.do, "DO not copied into the reply", m)
    m = fq("b.flags.test", flags=0)
    forwarded_ok(m, ["198.51.100.90"])
    check(not m.rd, "RD set in reply to a query without RD", m)
    seen = {q[1].question[0][0].lower(): q[1] for q in S["mm"].queries[n0:] if q[1]}
    a, b = seen.get("a.flags.test."), seen.get("b.flags.test.")
    check(a is not None and b is not None, "upstream did not see both queries", seen)
    check(a.rd and a.cd, "RD/CD not passed upstream", a)
    check(a.opt is not None and a.opt.do, "DO not passed upstream", a)
    check(not b.rd, "RD=0 not passed upstream", b)


@suite.case
def random_upstream_ids_and_ports():
    n0 = len(S["mm"].queries)
    for i in range(20):
        pkt, qid = vt.make_query("r%d.flags.test" % i, qid=4242)
        data = vt.udp_exchange(pkt, S["srv"].port, timeout=2, expect_id=4242)
        check(data is not None, "no reply to query %d" % i)
    ups = [q for q in S["mm"].queries[n0:] if q[0] == "udp"]
    eq(len(ups), 20, "upstream queries")
    ids = [q[1].id for q in ups]
    ports = [q[3][1] for q in ups]
    check(ids.count(4242) <= 1, "upstream IDs copy the client's: %s" % ids)
    check(len(set(ids)) >= 18, "upstream IDs repeat: %s" % ids)
    check(len(set(ports)) >= 15, "upstream source ports repeat: %s" % ports)


@suite.case
def edns_on_forwarded_replies():
    m = fq("www.example.org")
    check(m.opt is None, "OPT in reply to a query without EDNS", m)
    m = fq("www.example.org", edns={"udp": 4096})
    check(m.opt is not None, "no OPT in reply to an EDNS query", m)
    eq(m.opt.udp, 1232, "advertised UDP size")


@suite.case
def big_upstream_answer_truncated_for_small_client():
    m = fq("bigtxt.example.org", TXT)
    check(m.tc, "reply bigger than 512 bytes without TC", m)
    check(len(m.raw) <= 512, "UDP reply of %d bytes to a 512-byte client" % len(m.raw))
    m = fq("bigtxt.example.org", TXT, tcp=True)
    check(not m.tc, "TC over TCP", m)
    eq(len(m.values(TXT)), BIG_TXT, "TXT records over TCP")
    r = vt.dig(S["srv"].port, "bigtxt.example.org", "TXT")
    eq(len(r.rdata("TXT")), BIG_TXT, "dig (retrying over TCP) sees every record")


@suite.case
def pipelined_forwarded_queries_match_up():
    # 40 distinct queries in flight at once from one socket; every reply
    # must carry the question of the query with its ID.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", S["srv"].port))
    want = {}
    try:
        for i in range(40):
            name = "p%d.example.org" % i if i % 2 else "p%d.slow.mm.test" % i
            pkt, qid = vt.make_query(name, qid=1000 + i)
            want[qid] = name + "."
            s.send(pkt)
        got = {}
        deadline = time.monotonic() + 5
        while len(got) < len(want) and time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                m = vt.Msg.parse(s.recv(65535))
            except socket.timeout:
                break
            got[m.id] = m
    finally:
        s.close()
    eq(sorted(got), sorted(want), "IDs answered")
    for qid, m in got.items():
        eq(m.question[0][0], want[qid], "question of reply %d" % qid)
        if "slow" in want[qid]:
            eq(m.values(A), ["198.51.100.91"], "slow answer")
        else:
            eq(m.rcode_name(), "NXDOMAIN", "rcode for %s" % want[qid])


@suite.case
def same_question_from_many_clients_at_once():
    # Concurrent identical questions (different case, IDs and sockets) may
    # share one upstream fetch, but each reply carries its own ID and case.
    socks, want = [], {}
    try:
        for i in range(12):
            name = "".join(c.upper() if (i >> (k % 4)) & 1 else c
                           for k, c in enumerate("shared.slow.mm.test"))
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.connect(("127.0.0.1", S["srv"].port))
            pkt, qid = vt.make_query(name, qid=3000 + i, edns=(i % 3 == 0))
            s.send(pkt)
            socks.append(s)
            want[i] = (qid, vt.Msg.parse(pkt).raw_question, i % 3 == 0)
        for i, s in enumerate(socks):
            s.settimeout(3)
            try:
                m = vt.Msg.parse(s.recv(65535))
            except socket.timeout:
                raise AssertionError("client %d got no reply" % i)
            qid, rq, edns = want[i]
            eq(m.id, qid, "ID for client %d" % i)
            eq(m.raw_question, rq, "question for client %d" % i)
            eq(m.opt is not None, edns, "OPT presence for client %d" % i)
            eq(m.values(A), ["198.51.100.91"], "answer for client %d" % i)
    finally:
        for s in socks:
            s.close()


@suite.case
def concurrent_clients():
    errors = []

    def worker(k):
        for i in range(10):
            m, _ = vt.udp_query("www.example.org", A, port=S["srv"].port, timeout=3)
            if m is None or m.values(A) != ["198.51.100.1"]:
                errors.append((k, i, m))
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    eq(errors, [], "failed concurrent queries")


@suite.case
def edns_and_size_follow_each_client_not_the_first():
    m = fq("e1.example.org", edns=True)
    check(m.opt is not None, "no OPT for the EDNS client", m)
    m = fq("e1.example.org")
    check(m.opt is None, "OPT in reply to a non-EDNS client (answer first fetched with EDNS)", m)
    eq(m.values(A), ["198.51.100.2"], "answer")
    m = fq("e2.example.org", edns={"do": True})
    check(m.opt.do, "DO not copied", m)
    m = fq("e2.example.org", edns={"do": False})
    check(not m.opt.do, "DO set for a client that did not ask (first fetch had DO)", m)
    m = fq("bigtxt2.example.org", TXT, tcp=True)
    eq(len(m.values(TXT)), BIG_TXT, "TCP answer")
    m = fq("bigtxt2.example.org", TXT)
    check(m.tc and len(m.raw) <= 512, "UDP reply after a TCP fetch: tc=%s len=%d"
          % (m.tc, len(m.raw)))
    m = fq("bigtxt2.example.org", TXT, edns={"udp": 1232})
    check(m.tc and len(m.raw) <= 1232, "EDNS 1232 reply: tc=%s len=%d" % (m.tc, len(m.raw)))


@suite.case
def forwarded_udp_capped_at_advertised_size():
    # First the fetch (the answer comes from the upstream's response), then
    # a cache hit: neither exceeds the 1232 bytes we advertise over UDP,
    # whatever buffer the client claims.
    for what in ("forwarded", "cached"):
        m = fq("bigtxt3.example.org", TXT, edns={"udp": 65535})
        check(m.tc and len(m.raw) <= 1232, "%s reply at EDNS 65535: tc=%s len=%d"
              % (what, m.tc, len(m.raw)))
    m = fq("bigtxt3.example.org", TXT, tcp=True)
    eq(len(m.values(TXT)), BIG_TXT, "TCP answer")


@suite.case
def odd_label_bytes_forwarded_intact():
    labels = [b"A.b", b"x\x00y", b"Sp ace", b"raw", b"mm", b"test"]
    pkt, qid = vt.make_query(labels, A)
    data = vt.udp_exchange(pkt, S["srv"].port, timeout=3, expect_id=qid)
    check(data is not None, "no reply")
    m = vt.Msg.parse(data)
    eq(m.raw_question, vt.Msg.parse(pkt).raw_question, "question echoed byte for byte")
    forwarded_ok(m, ["198.51.100.92"])
    ups = [q for q in S["mm"].queries if q[1] is not None and q[1].question
           and q[1].question[0][0].lower().endswith("raw.mm.test.")]
    check(ups, "upstream never asked")
    # every byte kept; letters in a random case (0x20)
    eq(ups[-1][1].raw_question.lower(), vt.Msg.parse(pkt).raw_question.lower(),
       "name sent upstream (bytes kept)")


@suite.case
def forwarded_ttl_not_raised():
    for _ in range(2):
        m = fq("www.example.org")
        check(all(r.ttl <= 60 for r in m.answer), "TTL above the upstream's 60", m)


@suite.case
def refused_rcode_fails_over():
    # fwd.h: a SERVFAIL/REFUSED response is final only "when every server
    # answered so".
    ab_round("abrf.test", "refused")


@suite.case
def shutdown_with_queries_in_flight():
    wd = S["wd"]
    srv = vt.Vpcdns(wd, None, name="inflight")
    srv.set_config({
        "server": vt.server_block(srv.port, upstream_timeout="5s"),
        "upstreams": {"dead": ["127.0.0.1:%d" % S["silent1"].port]},
        "views": [{"name": "x", "clients": ["127.0.0.1/32"], "forward": {".": "dead"}}],
    })
    srv.start()
    socks = []
    try:
        for i in range(20):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.connect(("127.0.0.1", srv.port))
            s.send(vt.make_query("q%d.inflight.test" % i)[0])
            socks.append(s)
        time.sleep(0.2)
        vt.teardown_server(srv)   # SIGTERM: exit 0 within 5 s, no sanitizer report
    finally:
        for s in socks:
            s.close()


if __name__ == "__main__":
    suite.main(setup, teardown)
