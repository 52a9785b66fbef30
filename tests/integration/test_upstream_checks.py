"""What vpcdns checks and cleans in upstream answers, with scripted Python
upstreams on loopback. 0x20: the name of each upstream query goes out with
the case of its letters random (a 33-letter name, so all-lower-case by
chance is a 2^-33 event), a reply that does not repeat that case exactly
is dropped as a mismatch (SERVFAIL when no other comes), and a group with
use_0x20: false accepts it; the client always gets its own question case
back. Scrubbing: a hostile upstream's answers carry records about other
names in every section (an A record for www.other-zone in the answer, NS
records for unrelated zones in authority, addresses of names nothing
refers to in additional, an SOA of another zone beside a negative
answer); clients get only the records of the question's CNAME chain, the
NS/SOA of the zones above it and the addresses of the NS targets kept,
in a well-formed message (strict decoder: counts, compression), the
cached copy is as clean, and the removed records are counted
(scrubbed=).
"""

import os
import struct
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, CNAME, NS, SOA, check, eq  # noqa: E402

suite = vt.Suite("upstream_checks")
S = {}
GOOD = "198.51.100.7"
LONG = "AbcdefghijklmnopqrstuvwxyzAbcdefg"   # 33 letters


def rr_a(name, addr, ttl=60):
    return vt.rr_wire(name, A, ttl, vt.rdata_a(addr))


def qname_of(m):
    return m.question[0][0]


def echo_handler(m, transport):
    """Answers with the question exactly as received."""
    if not m.question:
        return None
    return [vt.build_response(m, answers=[rr_a(qname_of(m), GOOD)])]


def lower_handler(m, transport):
    """Answers with the question lower-cased, like servers that do not
    echo the case they were asked with."""
    if not m.question:
        return None
    name, qtype, qclass = m.question[0]
    q = vt.name_to_wire(name.lower()) + struct.pack("!HH", qtype, qclass)
    return [vt.build_response(m, question=q, answers=[rr_a(name.lower(), GOOD)])]


EVIL = "6.6.6.6"
GLUE = "198.51.100.53"


def rr_ns(owner, target):
    return vt.rr_wire(owner, NS, 60, vt.name_to_wire(target))


def rr_soa(owner):
    return vt.rr_wire(owner, SOA, 60, vt.rdata_soa("ns." + owner, "h." + owner))


def rr_cname(owner, target):
    return vt.rr_wire(owner, CNAME, 60, vt.name_to_wire(target))


def scrub_handler(m, transport):
    """Answers for scrub.test, each padded with records about other names."""
    if not m.question:
        return None
    name = qname_of(m)
    kind = name.lower().split(".")[0]
    if kind == "nx":
        return [vt.build_response(m, rcode=vt.NXDOMAIN, authority=[
            rr_soa("other-zone"), rr_soa("scrub.test"), rr_ns("other-zone", "ns.other-zone")],
            additional=[rr_a("ns.other-zone", EVIL)])]
    if kind == "chain":
        # out of order, through another zone, with a stray record
        return [vt.build_response(m, answers=[
            rr_a("t2.x.example", GOOD), rr_a("www.other-zone", EVIL),
            rr_cname("t1.other.example", "t2.x.example"),
            rr_cname(name, "t1.other.example")],
            authority=[rr_ns("x.example", "ns.x.example"), rr_ns("y.example", "ns.y.example")],
            additional=[rr_a("ns.x.example", GLUE), rr_a("ns.y.example", EVIL)])]
    return [vt.build_response(m, answers=[
        rr_a(name, GOOD), rr_a("www.other-zone", EVIL)],
        authority=[rr_ns("scrub.test", "ns.scrub.test"), rr_ns("other-zone", "ns.other-zone"),
                   rr_ns("com", "ns.other-zone")],
        additional=[rr_a("ns.scrub.test", GLUE), rr_a("ns.other-zone", EVIL),
                    rr_a("unrelated.scrub.test", EVIL)])]


def setup():
    vt.binary()
    wd = S["wd"] = vt.workdir("upcheck")
    S["echo"] = vt.FakeUpstream(echo_handler).start()
    S["lower"] = vt.FakeUpstream(lower_handler).start()
    S["scrub"] = vt.FakeUpstream(scrub_handler).start()
    srv = vt.Vpcdns(wd, None)
    srv.set_config({
        "server": vt.server_block(srv.port, upstream_timeout="300ms", query_timeout="600ms"),
        "upstreams": {
            "echo": ["127.0.0.1:%d" % S["echo"].port],
            "lower": ["127.0.0.1:%d" % S["lower"].port],
            "scrub": ["127.0.0.1:%d" % S["scrub"].port],
            "lowernocase": {"servers": ["127.0.0.1:%d" % S["lower"].port],
                            "use_0x20": False},
        },
        "views": [{"name": "v", "clients": ["127.0.0.1/32"],
                   "forward": {".": "echo", "lower.test.": "lower",
                               "nocase.test.": "lowernocase",
                               "scrub.test.": "scrub"}}],
    })
    S["srv"] = srv.start()


def teardown():
    try:
        vt.teardown_server(S.get("srv"))
    finally:
        for k in ("echo", "lower", "scrub"):
            if k in S:
                S[k].stop()


def fq(name, timeout=3.0, **kw):
    m, sent = vt.udp_query(name, A, port=S["srv"].port, timeout=timeout, **kw)
    check(m is not None, "no reply to %s" % name)
    eq(m.raw_question, vt.Msg.parse(sent).raw_question, "client's question echoed")
    return m


def received(fake, name):
    """Question names the fake upstream got for name (any case)."""
    low = name.lower().rstrip(".") + "."
    with fake.lock:
        return [q[1].question[0][0] for q in fake.queries
                if q[1] is not None and q[1].question
                and q[1].question[0][0].lower() == low]


# ---- 0x20 --------------------------------------------------------------------

@suite.case
def upstream_sees_random_case():
    names = []
    for i in range(2):
        name = "%s.c%d.echo.test" % (LONG, i)
        m = fq(name)
        eq(m.values(A), [GOOD], "answer")
        got = received(S["echo"], name)
        eq(len(got), 1, "upstream queries for %s" % name)
        first = got[0].split(".")[0]
        check(first not in (LONG, LONG.lower(), LONG.upper()),
              "the upstream saw %r: the case was not randomised" % got[0])
        names.append(first)
    check(names[0] != names[1], "the same case pattern twice", names)


@suite.case
def client_case_echoed():
    m = fq("MiXeD.CaSe.Echo.Test")
    eq(m.question[0][0], "MiXeD.CaSe.Echo.Test.", "question as the client sent it")
    eq(m.values(A), [GOOD], "answer")


@suite.case
def reply_with_other_case_rejected():
    before = S["srv"].stats()["upstream"]["dropped_mismatch"]
    name = "%s.lower.test" % LONG
    m = fq(name)
    eq(m.rcode_name(), "SERVFAIL", "rcode when the reply's question case differs")
    check(GOOD not in str(m.answer), "the lower-cased reply reached the client", m)
    after = S["srv"].stats()["upstream"]["dropped_mismatch"]
    check(after > before, "the reply was not counted as a mismatch (%d -> %d)"
          % (before, after))


@suite.case
def reply_case_ignored_when_switched_off():
    name = "%s.nocase.test" % LONG
    m = fq(name)
    eq(m.rcode_name(), "NOERROR", "rcode with use_0x20: false")
    eq(m.values(A), [GOOD], "answer")
    got = received(S["lower"], name)
    eq(got, [name + "."], "the name goes upstream as the client wrote it")


# ---- scrubbing -----------------------------------------------------------------

def records(m):
    """(section, owner, type, value) of every record, owners lower-cased."""
    out = []
    for sec in ("answer", "authority", "additional"):
        for r in getattr(m, sec):
            v = r.value.lower() if isinstance(r.value, str) else r.value
            out.append((sec, r.name.lower(), r.type, v))
    return out


def scrubbed():
    return S["srv"].stats()["upstream"]["scrubbed"]


def fq_twice(name):
    """The answer as the upstream's reply made it, then as the cache
    gives it; the upstream must have been asked once."""
    first = fq(name, edns=True)
    second = fq(name, edns=True)
    eq(S["scrub"].asked(name), 1, "upstream queries for %s (second from the cache)" % name)
    return first, second


@suite.case
def stray_records_scrubbed():
    before = scrubbed()
    name = "www.scrub.test"
    for m in fq_twice(name):
        eq(m.rcode_name(), "NOERROR", "rcode")
        eq(records(m), [
            ("answer", name + ".", A, GOOD),
            ("authority", "scrub.test.", NS, "ns.scrub.test."),
            ("additional", "ns.scrub.test.", A, GLUE),
        ], "records given to the client")
    eq(scrubbed() - before, 5, "records counted as scrubbed")


@suite.case
def cname_chain_kept_strays_scrubbed():
    name = "chain.scrub.test"
    for m in fq_twice(name):
        eq(sorted(records(m)), sorted([
            ("answer", name + ".", CNAME, "t1.other.example."),
            ("answer", "t1.other.example.", CNAME, "t2.x.example."),
            ("answer", "t2.x.example.", A, GOOD),
            ("authority", "x.example.", NS, "ns.x.example."),
            ("additional", "ns.x.example.", A, GLUE),
        ]), "records given to the client")
        check(EVIL not in str(m.answer + m.authority + m.additional), "a stray record", m)


@suite.case
def negative_answer_keeps_its_own_soa():
    name = "nx.scrub.test"
    for m in fq_twice(name):
        eq(m.rcode_name(), "NXDOMAIN", "rcode")
        eq([(s, o, t) for s, o, t, _ in records(m)],
           [("authority", "scrub.test.", SOA)], "records given to the client")


@suite.case
def stray_names_not_answered_from_the_cache():
    # the strays above were never stored under their own names: asking
    # for them goes upstream
    for name in ("www.other-zone", "unrelated.scrub.test"):
        m = fq(name)
        check(EVIL not in m.values(A), "%s answered from a stray record" % name, m)


if __name__ == "__main__":
    suite.main(setup, teardown)
