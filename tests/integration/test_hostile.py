"""The hostile-upstream battery: a scripted upstream that answers each query
with junk first (a wrong ID, question name, type or class, QR=0, another
opcode, another source port, a message cut mid-record, trailing bytes, a
compression loop, a forward compression pointer, a reserved label type,
two questions, a bare header, a few bytes) and only then, or never, the
right answer; the same over TCP after TC=1; and up to 300 messages of the
CZ-NIC DNS fuzzing corpus replayed as answers with the query's ID patched
in. The client gets the right answer (or SERVFAIL with EDE 22 when none
comes), every junk message is counted as dropped_mismatch or
dropped_malformed in the SIGUSR1 statistics, nothing from junk is cached
(a junk answer about another name or type never answers that name or
type later), and other clients, local and forwarded, are answered
throughout. Also: records about other names in a valid answer (answer,
authority and additional sections, a CNAME target) are never served for
those names from the cache.
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
from vdtest import A, AAAA, CNAME, NS, check, eq  # noqa: E402

suite = vt.Suite("hostile")
S = {}
GOOD, VICTIM_GOOD, BOGUS = "198.51.100.50", "198.51.100.51", "203.0.113.66"
GOOD6, BOGUS6 = "2001:db8::50", "2001:db8::66"
CORPUS_DIR = "/work/shared/corpus/cznic-dns-fuzzing/packet"
CORPUS_MAX, CORPUS_CHUNK = 300, 30


def zone(origin, body):
    return ("$ORIGIN %s\n$TTL 60\n@ IN SOA ns.%s hostmaster.%s 1 3600 600 86400 60\n"
            "@ IN NS ns.%s\nns IN A 192.0.2.53\n%s\n" % (origin, origin, origin, origin, body))


# ---- junk --------------------------------------------------------------------

def qname_of(m):
    return m.question[0][0]


def rr_a(name, addr, ttl=60):
    return vt.rr_wire(name, A, ttl, vt.rdata_a(addr))


def bogus(m, **kw):
    """A well-formed answer claiming BOGUS for the query's name."""
    return vt.build_response(m, answers=[rr_a(qname_of(m), BOGUS)], **kw)


def question(name, qtype=A, qclass=vt.IN):
    return vt.name_to_wire(name) + struct.pack("!HH", qtype, qclass)


def header(m, an, qd=1, flags=vt.F_QR | vt.F_RA | vt.F_RD):
    return struct.pack("!HHHHHH", m.id, flags, qd, an, 0, 0)


def victim(m):
    return "victim-" + qname_of(m)


def j_comp_loop(m):
    # The owner is label "a" then a pointer back to that label: every
    # pointer goes backwards, yet the name never ends.
    pkt = header(m, 1) + m.raw_question
    o = len(pkt)
    return pkt + b"\x01a" + struct.pack("!H", 0xC000 | o) + struct.pack(
        "!HHIH", A, vt.IN, 60, 4) + vt.rdata_a(BOGUS)


def j_fwd_ptr(m):
    # The owner points forward, at the CNAME target in its own rdata.
    pkt = header(m, 1) + m.raw_question
    o = len(pkt)
    target = vt.name_to_wire(qname_of(m))
    return pkt + struct.pack("!H", 0xC000 | (o + 2 + 10)) + struct.pack(
        "!HHIH", CNAME, vt.IN, 60, len(target)) + target


def j_label_type(m):
    return (header(m, 1) + m.raw_question + b"\x41abc\x00" +
            struct.pack("!HHIH", A, vt.IN, 60, 4) + vt.rdata_a(BOGUS))


def j_other_port(m):
    return ("other_port", bogus(m))


# kind -> (builder, counter it must move; None: the kernel may drop it)
JUNK = {
    "wrongid": (lambda m: bogus(m, qid=(m.id + 1) & 0xFFFF), "dropped_mismatch"),
    "wrongname": (lambda m: vt.build_response(m, question=question(victim(m)),
                                              answers=[rr_a(victim(m), BOGUS)]),
                  "dropped_mismatch"),
    "wrongtype": (lambda m: vt.build_response(
        m, question=question(qname_of(m), AAAA),
        answers=[vt.rr_wire(qname_of(m), AAAA, 60, vt.rdata_aaaa(BOGUS6))]),
        "dropped_mismatch"),
    "wrongclass": (lambda m: bogus(m, question=question(qname_of(m), A, vt.CH)),
                   "dropped_mismatch"),
    "qr0": (lambda m: bogus(m, flags=vt.F_RA | vt.F_RD), "dropped_mismatch"),
    "opcode": (lambda m: bogus(m, flags=vt.F_QR | vt.F_RA | (4 << 11)), "dropped_mismatch"),
    "otherport": (j_other_port, None),
    "truncated": (lambda m: bogus(m)[:-3], "dropped_malformed"),
    "trailing": (lambda m: bogus(m) + b"\x00\x00\x00\x01", "dropped_malformed"),
    "comploop": (j_comp_loop, "dropped_malformed"),
    "fwdptr": (j_fwd_ptr, "dropped_malformed"),
    "labeltype": (j_label_type, "dropped_malformed"),
    "twoq": (lambda m: bogus(m)[:4] + b"\x00\x02" + bogus(m)[6:], "dropped_malformed"),
    "headeronly": (lambda m: header(m, 0), "dropped_malformed"),
    "short": (lambda m: m.raw[:2] + b"\x81", "dropped_malformed"),
}


def load_corpus():
    """Up to CORPUS_MAX corpus messages that could not pass for an answer
    to our query once the ID is patched (a FORMERR without a question
    would), at most 4 KiB each; every group of the corpus is sampled."""
    names = sorted(os.listdir(CORPUS_DIR))
    groups = {}
    for n in names:
        groups.setdefault(n.split("-")[0], []).append(n)
    picked = []
    share = {"cz.nic": 26, "seed": 60}
    for g, files in sorted(groups.items()):
        want = share.get(g, CORPUS_MAX)
        step = max(1, len(files) // want)
        picked += files[::step][:want]
    out = []
    for n in picked:
        with open(os.path.join(CORPUS_DIR, n), "rb") as f:
            data = f.read()
        if len(data) > 4096:
            continue
        if len(data) >= 12:
            flags, qd = struct.unpack("!HH", data[2:6])
            if flags & vt.F_QR and (flags >> 11) & 0xF == 0 and qd == 0 and flags & 0xF == 1:
                continue
        out.append(data)
        if len(out) == CORPUS_MAX:
            break
    return out


def patch_id(data, qid):
    if len(data) < 2:
        return data
    return struct.pack("!H", qid) + data[2:]


# ---- the hostile upstream ----------------------------------------------------

def good(m):
    name, qtype, _ = m.question[0]
    if qtype == AAAA:
        return vt.build_response(m, answers=[vt.rr_wire(name, AAAA, 60, vt.rdata_aaaa(GOOD6))])
    addr = VICTIM_GOOD if name.lower().startswith(("victim", "x-")) else GOOD
    return vt.build_response(m, answers=[rr_a(name, addr)])


def poison(m):
    """A valid answer with records about other names in every section."""
    name = qname_of(m)
    return vt.build_response(
        m, answers=[rr_a(name, GOOD), rr_a("x-answer.h.test", BOGUS)],
        authority=[vt.rr_wire("h.test", NS, 60, vt.name_to_wire("x-ns.h.test"))],
        additional=[rr_a("x-additional.h.test", BOGUS), rr_a("x-ns.h.test", BOGUS)])


def poison_cname(m):
    name = qname_of(m)
    return vt.build_response(m, answers=[
        vt.rr_wire(name, CNAME, 60, vt.name_to_wire("x-target.h.test")),
        rr_a("x-target.h.test", BOGUS)])


def hostile_handler(m, transport):
    if not m.question:
        return None
    low = qname_of(m).lower()
    first = low.split(".")[0]
    kind, _, arg = first.partition("-")
    if kind == "tcp":
        if transport == "udp":   # empty and truncated: retry over TCP
            return [vt.build_response(m, flags=vt.F_QR | vt.F_RA | vt.F_TC | vt.F_RD)]
        return [JUNK[k][0](m) for k in JUNK if k != "otherport"] + [good(m)]
    if kind == "never":
        return [JUNK[k][0](m) for k in JUNK]
    if kind == "all":
        return [JUNK[k][0](m) for k in JUNK] + [good(m)]
    if kind == "corpus":
        i = int(arg)
        chunk = S["corpus"][i * CORPUS_CHUNK:(i + 1) * CORPUS_CHUNK]
        return [patch_id(d, m.id) for d in chunk] + [good(m)]
    if kind == "poison":
        return [poison(m)]
    if kind == "poisoncname":
        return [poison_cname(m)]
    if kind in JUNK and m.question[0][1] == A:
        return [JUNK[kind][0](m), good(m)]
    return [good(m)]


# ---- other clients, all along ------------------------------------------------

class Chatter:
    """Another client (127.0.0.2) asking a local name and a fresh
    forwarded name every 20 ms; records every failure."""

    def __init__(self, port):
        self.port = port
        self.stop_flag = threading.Event()
        self.ok = 0
        self.failures = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _one(self, name, want, aa):
        m, _ = vt.udp_query(name, A, port=self.port, src="127.0.0.2", timeout=1.0)
        if m is None or m.values(A) != [want] or m.aa != aa:
            self.failures.append((time.monotonic(), name, m))
        else:
            self.ok += 1

    def _run(self):
        i = 0
        while not self.stop_flag.is_set() and i < 100000:
            self._one("www.loc.test", "10.4.4.4", True)
            self._one("c%d.ok.test" % i, "198.51.100.1", False)
            i += 1
            self.stop_flag.wait(0.02)

    def stop(self):
        self.stop_flag.set()
        self.thread.join(5)


# ---- setup -------------------------------------------------------------------

def setup():
    vt.binary()
    vt.require_tools("nsd")
    wd = S["wd"] = vt.workdir("hostile")
    S["corpus"] = load_corpus() if os.path.isdir(CORPUS_DIR) else None
    S["nsd"] = vt.Nsd(wd, {"ok.test.": zone("ok.test.", "* IN A 198.51.100.1")}).server_options(
        "rrl-ratelimit: 0", "rrl-whitelist-ratelimit: 0").start()
    S["h"] = vt.FakeUpstream(hostile_handler).start()
    zp = vt.write(os.path.join(wd, "zones", "loc.test.zone"),
                  zone("loc.test.", "www IN A 10.4.4.4"))
    srv = vt.Vpcdns(wd, None)
    srv.set_config({
        "server": vt.server_block(srv.port, upstream_timeout="500ms", query_timeout="1s"),
        "upstreams": {"hostile": ["127.0.0.1:%d" % S["h"].port],
                      "good": ["127.0.0.1:%d" % S["nsd"].port]},
        "views": [{"name": "v", "clients": ["127.0.0.1/32", "127.0.0.2/32"], "zones": [zp],
                   "forward": {".": "good", "h.test.": "hostile"}}],
    })
    S["srv"] = srv.start()
    S["chatter"] = Chatter(srv.port).start()


def teardown():
    try:
        if "chatter" in S:
            S["chatter"].stop()
        vt.teardown_server(S.get("srv"))
    finally:
        for k in ("h", "nsd"):
            if k in S:
                S[k].stop()


# ---- helpers -----------------------------------------------------------------

def fq(name, qtype=A, timeout=3.0, **kw):
    m, sent = vt.udp_query(name, qtype, port=S["srv"].port, timeout=timeout, **kw)
    check(m is not None, "no reply to %s" % name)
    s = vt.Msg.parse(sent)
    eq(m.id, s.id, "reply ID")
    eq(m.raw_question, s.raw_question, "question echoed")
    check(not m.aa, "AA on a forwarded reply", m)
    return m


def asked(name, qtype=None):
    low = name.rstrip(".").lower() + "."
    return S["h"].count(lambda q: q[1] is not None and q[1].question
                        and q[1].question[0][0].lower() == low
                        and (qtype is None or q[1].question[0][1] == qtype))


def dropped():
    u = S["srv"].stats()["upstream"]
    return u["dropped_mismatch"], u["dropped_malformed"]


def no_bogus(m):
    text = str(m.answer + m.authority + m.additional)
    check(BOGUS not in text and BOGUS6 not in text, "a junk record reached the client", m)


def chatter_clean(since):
    bad = [f for f in S["chatter"].failures if f[0] >= since]
    check(not bad, "%d queries of another client failed meanwhile" % len(bad), *bad[:5])


# ---- cases -------------------------------------------------------------------

@suite.case
def normal_answers_pass():
    m = fq("plain.h.test")
    eq(m.values(A), [GOOD], "answer from the hostile upstream's good side")
    m = fq("www.ok.test")
    eq(m.values(A), ["198.51.100.1"], "answer from nsd")


@suite.case
def each_junk_kind_dropped_and_counted():
    t0 = time.monotonic()
    problems = []
    for kind, (_, counter) in JUNK.items():
        name = "%s.h.test" % kind
        before = dropped()
        m = fq(name, edns=True)
        after = dropped()
        delta = {"dropped_mismatch": after[0] - before[0],
                 "dropped_malformed": after[1] - before[1]}
        if m.rcode_name() != "NOERROR" or m.values(A) != [GOOD]:
            problems.append("%s: reply %s" % (kind, m.summary()))
        if counter is None:
            if sum(delta.values()) > 1:
                problems.append("%s: counters moved by %s" % (kind, delta))
        else:
            want = {"dropped_mismatch": 0, "dropped_malformed": 0}
            want[counter] = 1
            if delta != want:
                problems.append("%s: counters moved by %s, want %s" % (kind, delta, want))
        n = asked(name)
        m = fq(name)
        if m.values(A) != [GOOD] or asked(name) != n:
            problems.append("%s: the right answer was not the one cached (%s, %d queries)"
                            % (kind, m.summary(), asked(name)))
        no_bogus(m)
    check(not problems, "junk handling", *problems)
    chatter_clean(t0)


@suite.case
def junk_about_other_questions_never_cached():
    # wrongname.h.test's junk answered victim-wrongname.h.test; the
    # wrongtype junk answered wrongtype.h.test AAAA.
    t0 = time.monotonic()
    v = "victim-wrongname.h.test"
    eq(asked(v), 0, "queries for %s before" % v)
    m = fq(v)
    eq(m.values(A), [VICTIM_GOOD], "answer for the name a junk reply was about")
    eq(asked(v), 1, "the upstream was asked for %s" % v)
    n = asked("wrongtype.h.test", AAAA)
    m = fq("wrongtype.h.test", AAAA)
    eq(m.values(AAAA), [GOOD6], "AAAA answer")
    eq(asked("wrongtype.h.test", AAAA), n + 1, "the upstream was asked for AAAA")
    chatter_clean(t0)


@suite.case
def all_junk_then_answer():
    t0 = time.monotonic()
    before = dropped()
    m = fq("all.h.test", edns=True)
    eq(m.values(A), [GOOD], "answer after %d junk messages" % len(JUNK))
    after = dropped()
    counted = (after[0] - before[0]) + (after[1] - before[1])
    check(len(JUNK) - 1 <= counted <= len(JUNK),
          "%d junk messages counted, %d sent (one from another port)" % (counted, len(JUNK)))
    chatter_clean(t0)


@suite.case
def only_junk_is_servfail_ede22_and_not_cached():
    t0 = time.monotonic()
    for i in range(2):
        n = asked("never.h.test")
        m = fq("never.h.test", edns=True, timeout=4)
        eq(m.rcode_name(), "SERVFAIL", "rcode when only junk came")
        eq(m.ede_codes(), [vt.EDE_NO_REACHABLE], "EDE")
        no_bogus(m)
        check(asked("never.h.test") > n, "round %d: the upstream was not asked (cached?)" % i)
    chatter_clean(t0)


@suite.case
def junk_over_tcp_dropped_and_counted():
    t0 = time.monotonic()
    before = dropped()
    st0 = S["srv"].stats()["upstream"]
    m = fq("tcp-1.h.test", edns=True)
    eq(m.values(A), [GOOD], "answer over TCP after junk frames")
    no_bogus(m)
    after = dropped()
    st1 = S["srv"].stats()["upstream"]
    check(st1["tcp"] > st0["tcp"], "no TCP query was sent", st1)
    eq((after[0] - before[0]) + (after[1] - before[1]), len(JUNK) - 1, "junk frames counted")
    chatter_clean(t0)


@suite.case
def corpus_replayed_as_answers():
    if S["corpus"] is None:
        raise vt.SkipTest("%s is absent" % CORPUS_DIR)
    t0 = time.monotonic()
    corpus = S["corpus"]
    chunks = (len(corpus) + CORPUS_CHUNK - 1) // CORPUS_CHUNK
    problems = []
    total = 0
    for i in range(chunks):
        sent = len(corpus[i * CORPUS_CHUNK:(i + 1) * CORPUS_CHUNK])
        before = dropped()
        m = fq("corpus-%d.h.test" % i, edns=True)
        after = dropped()
        counted = (after[0] - before[0]) + (after[1] - before[1])
        total += counted
        if m.values(A) != [GOOD]:
            problems.append("chunk %d: %s" % (i, m.summary()))
        if counted != sent:
            problems.append("chunk %d: %d messages counted as dropped, %d sent"
                            % (i, counted, sent))
        no_bogus(m)
    check(not problems, "corpus replay", *problems)
    check(S["srv"].alive(), "server died")
    print("# %d corpus messages replayed as answers, %d dropped" % (len(corpus), total))
    chatter_clean(t0)


@suite.case
def extra_records_never_answer_other_names():
    t0 = time.monotonic()
    m = fq("poison.h.test")
    eq(m.values(A)[:1], [GOOD], "answer")
    m = fq("poisoncname.h.test")
    eq([r.type for r in m.answer], [CNAME, A], "CNAME answer")
    for name in ("x-answer.h.test", "x-additional.h.test", "x-ns.h.test", "x-target.h.test"):
        n = asked(name)
        m = fq(name)
        eq(m.values(A), [VICTIM_GOOD], "answer for %s" % name)
        eq(asked(name), n + 1, "the upstream was asked for %s" % name)
    n = asked("h.test", NS)
    m = fq("h.test", NS)
    eq(asked("h.test", NS), n + 1, "the upstream was asked for h.test NS")
    # the whole response stays cached under its own question
    n = asked("poison.h.test")
    m = fq("poison.h.test")
    eq(m.values(A)[:1], [GOOD], "cached answer")
    eq(asked("poison.h.test"), n, "poison.h.test answered from the cache")
    chatter_clean(t0)


@suite.case
def other_clients_answered_throughout():
    c = S["chatter"]
    c.stop()
    eq(c.failures, [], "failed queries of the other client")
    check(c.ok >= 40, "the other client got only %d answers" % c.ok)
    check(S["srv"].alive(), "server died")


if __name__ == "__main__":
    suite.main(setup, teardown)
