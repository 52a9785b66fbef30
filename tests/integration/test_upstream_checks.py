"""What vpcdns checks and cleans in upstream answers, with scripted Python
upstreams on loopback. 0x20: the name of each upstream query goes out with
the case of its letters random (a 33-letter name, so all-lower-case by
chance is a 2^-33 event), a reply that does not repeat that case exactly
is dropped as a mismatch (SERVFAIL when no other comes), and a group with
use_0x20: false accepts it; the client always gets its own question case
back.
"""

import os
import struct
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

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


def setup():
    vt.binary()
    wd = S["wd"] = vt.workdir("upcheck")
    S["echo"] = vt.FakeUpstream(echo_handler).start()
    S["lower"] = vt.FakeUpstream(lower_handler).start()
    srv = vt.Vpcdns(wd, None)
    srv.set_config({
        "server": vt.server_block(srv.port, upstream_timeout="300ms", query_timeout="600ms"),
        "upstreams": {
            "echo": ["127.0.0.1:%d" % S["echo"].port],
            "lower": ["127.0.0.1:%d" % S["lower"].port],
            "lowernocase": {"servers": ["127.0.0.1:%d" % S["lower"].port],
                            "use_0x20": False},
        },
        "views": [{"name": "v", "clients": ["127.0.0.1/32"],
                   "forward": {".": "echo", "lower.test.": "lower",
                               "nocase.test.": "lowernocase"}}],
    })
    S["srv"] = srv.start()


def teardown():
    try:
        vt.teardown_server(S.get("srv"))
    finally:
        for k in ("echo", "lower"):
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


if __name__ == "__main__":
    suite.main(setup, teardown)
