"""The answer cache and the forwarding engine around it, end to end, with
real nsd upstreams (behind a counting relay where the number of queries
matters) and scripted Python upstreams: a forwarded answer is cached and
its TTLs count down, AA is never set, each client keeps its ID and 0x20
case; NXDOMAIN and NODATA are cached for min(SOA TTL, MINIMUM) bounded by
max_negative_ttl, not without an SOA, SERVFAIL never; min_ttl and max_ttl
clamps show in the TTLs served; the key holds the upstream group (views
on different groups never share an answer, views on the same group do)
and the DO and CD bits; serve-stale (TTL 30, EDE 3) when the upstream is
gone, SERVFAIL with stale_max 0, and a background refresh once it is
back; prefetch of a popular entry before it expires, and none with
prefetch off; identical queries in flight share one upstream query; the
byte budget holds under a flood of unique names; the cache survives
SIGHUP unless the group's servers change; the bound on upstream queries in
flight (EDE 14) while local names keep answering; an upstream CNAME chain
into the view's own zone is completed from local data, per view, from one
shared cache entry.
"""

import os
import re
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, CNAME, SOA, TXT, check, eq  # noqa: E402

suite = vt.Suite("cache")
S = {"servers": [], "fakes": []}
EDE_STALE, EDE_NOT_READY = 3, 14
BOGUS = "203.0.113.66"     # what misbehaving upstreams claim


def zone(origin, body, soa_ttl=60, minimum=60):
    return ("$ORIGIN %s\n$TTL 60\n@ %d IN SOA ns.%s hostmaster.%s 1 3600 600 86400 %d\n"
            "@ IN NS ns.%s\nns IN A 192.0.2.53\n%s\n"
            % (origin, soa_ttl, origin, origin, minimum, origin, body))


# ---- upstreams -------------------------------------------------------------

def relay(port):
    """A FakeUpstream handler that passes each query to nsd on port and
    returns nsd's answer: real answers, counted by the FakeUpstream."""
    def handler(m, transport):
        data = vt.udp_exchange(m.raw, port, timeout=1.0, expect_id=m.id)
        return [data] if data is not None else None
    return handler


def rr_a(name, addr, ttl):
    return vt.rr_wire(name, A, ttl, vt.rdata_a(addr))


def soa_rr(origin, ttl, minimum):
    return vt.rr_wire(origin, SOA, ttl, vt.rdata_soa("ns." + origin, "hostmaster." + origin,
                                                     minimum=minimum))


def fake_handler(m, transport):
    """The scripted upstream: what it answers depends on the name's zone."""
    if not m.question:
        return None
    name, qtype, _ = m.question[0]
    low = name.lower()
    edns = {"udp": 1232, "do": m.opt.do} if m.opt else None

    def reply(**kw):
        kw.setdefault("edns", edns)
        return vt.build_response(m, **kw)
    if low.endswith(".pos.test."):        # AA set on purpose: vpcdns must clear it
        return [reply(answers=[rr_a(name, "198.51.100.10", 30)],
                      flags=vt.F_QR | vt.F_AA | vt.F_RA | (m.flags & vt.F_RD))]
    if low.endswith(".key.test."):
        return [reply(answers=[rr_a(name, "198.51.100.11", 60)])]
    if low.endswith(".nosoa.test."):
        if low.startswith("nx."):
            return [reply(rcode=vt.NXDOMAIN)]
        return [reply()]                   # NODATA without SOA
    if low.endswith(".sf.test."):
        return [reply(rcode=vt.SERVFAIL)]
    if low.endswith(".clamp.test."):
        ttl = {"lo": 2, "hi": 5000}[low[:2]]
        return [reply(answers=[rr_a(name, "198.51.100.13", ttl)])]
    if low.endswith(".slow.test."):
        return [("delay", 0.3, reply(answers=[rr_a(name, "198.51.100.12", 60)]))]
    if low.endswith(".pf.test."):
        return [reply(answers=[rr_a(name, "198.51.100.14", PF_TTL)])]
    if low == "www.example.org." and qtype == A:
        return [reply(answers=[vt.rr_wire(name, CNAME, 60, vt.name_to_wire("app.corp.internal")),
                               rr_a("app.corp.internal", BOGUS, 60)])]
    return [reply(rcode=vt.NXDOMAIN, authority=[soa_rr("test", 60, 60)])]


PF_TTL = 5


def stale_handler(ttl):
    def handler(m, transport):
        if not m.question:
            return None
        return [vt.build_response(m, answers=[rr_a(m.question[0][0], "198.51.100.30", ttl)])]
    return handler


def fixed_handler(addr):
    def handler(m, transport):
        if not m.question:
            return None
        return [vt.build_response(m, answers=[rr_a(m.question[0][0], addr, 60)])]
    return handler


def fake(handler, port=None):
    """A started FakeUpstream that a case made, stopped at the end."""
    f = vt.FakeUpstream(handler, port=port).start()
    S["fakes"].append(f)
    return f


# ---- servers -----------------------------------------------------------------

def up(*fakes):
    return ["127.0.0.1:%d" % f.port for f in fakes]


def start_server(name, config, **server):
    """A vpcdns with the given upstreams/views/cache sections, torn down
    (and checked for a clean exit) at the end."""
    srv = vt.Vpcdns(S["wd"], None, name=name)
    cfg = {"server": vt.server_block(srv.port, **server)}
    cfg.update(config)
    srv.set_config(cfg)
    S["servers"].append(srv)
    return srv.start()


def stop_server(srv):
    S["servers"].remove(srv)
    vt.teardown_server(srv)


def setup():
    vt.binary()
    vt.require_tools("nsd")
    wd = S["wd"] = vt.workdir("cache")
    S["nsdA"] = vt.Nsd(wd, {"sep.test.": zone("sep.test.", "www IN A 198.51.100.1\n"
                                                           "x IN A 198.51.100.1\ny IN A 198.51.100.1\n"
                                                           "z IN A 198.51.100.1")},
                       name="nsdA").start()
    S["nsdB"] = vt.Nsd(wd, {"sep.test.": zone("sep.test.", "www IN A 198.51.100.2\n"
                                                           "x IN A 198.51.100.2\ny IN A 198.51.100.2\n"
                                                           "z IN A 198.51.100.2")},
                       name="nsdB").start()
    S["nsdN"] = vt.Nsd(wd, {
        "neg.test.": zone("neg.test.", "host IN A 198.51.100.3", minimum=3),
        "cap.test.": zone("cap.test.", "host IN A 198.51.100.4", soa_ttl=300, minimum=300),
        "soattl.test.": zone("soattl.test.", "host IN A 198.51.100.5", soa_ttl=2, minimum=300),
    }, name="nsdN").start()
    S["nsdF"] = vt.Nsd(wd, {"flood.test.": zone("flood.test.", "* IN A 198.51.100.6")},
                       name="nsdF").server_options("rrl-ratelimit: 0",
                                                   "rrl-whitelist-ratelimit: 0").start()
    S["pA"] = vt.FakeUpstream(relay(S["nsdA"].port), tcp=False).start()
    S["pB"] = vt.FakeUpstream(relay(S["nsdB"].port), tcp=False).start()
    S["pN"] = vt.FakeUpstream(relay(S["nsdN"].port), tcp=False).start()
    S["fake"] = vt.FakeUpstream(fake_handler).start()
    zd = os.path.join(wd, "zones")
    corp_a = vt.write(os.path.join(zd, "a", "corp.internal.zone"),
                      zone("corp.internal.", "app IN A 10.1.2.3"))
    corp_b = vt.write(os.path.join(zd, "b", "corp.internal.zone"),
                      zone("corp.internal.", "app IN A 10.9.9.9"))
    fwd = {".": "fake", "sep.test.": "gA", "neg.test.": "neg", "cap.test.": "neg",
           "soattl.test.": "neg"}
    S["main"] = start_server("main", {
        "upstreams": {"gA": up(S["pA"]), "gA2": up(S["pA"]), "gB": up(S["pB"]),
                      "neg": up(S["pN"]), "fake": up(S["fake"])},
        "cache": {"max_negative_ttl": "5s"},
        "views": [
            {"name": "a", "clients": ["127.0.0.1/32"], "zones": [corp_a], "forward": fwd},
            {"name": "b", "clients": ["127.0.0.2/32"], "zones": [corp_b],
             "forward": dict(fwd, **{"sep.test.": "gB"})},
            {"name": "c", "clients": ["127.0.0.3/32"], "forward": dict(fwd)},
            {"name": "d", "clients": ["127.0.0.4/32"],
             "forward": dict(fwd, **{"sep.test.": "gA2"})},
        ],
    }, upstream_timeout="500ms")


def teardown():
    errors = []
    for srv in list(S["servers"]):
        try:
            vt.teardown_server(srv)
        except AssertionError as e:
            errors.append("%s: %s" % (srv.name, e))
    for k in ("nsdA", "nsdB", "nsdN", "nsdF", "pA", "pB", "pN", "fake"):
        if k in S:
            S[k].stop()
    for f in S["fakes"]:
        f.stop()
    check(not errors, "servers did not stop cleanly", *errors)


# ---- helpers -----------------------------------------------------------------

def fq(name, qtype=A, srv=None, src="127.0.0.1", timeout=3.0, **kw):
    """A UDP query checked for the basics: a reply, with the query's ID
    and question byte for byte, QR and RA set, AA clear."""
    srv = srv or S["main"]
    m, sent = vt.udp_query(name, qtype, port=srv.port, src=src, timeout=timeout, **kw)
    check(m is not None, "no reply to %s from %s" % (name, src))
    s = vt.Msg.parse(sent)
    eq(m.id, s.id, "reply ID")
    eq(m.raw_question, s.raw_question, "question echoed byte for byte")
    check(m.qr and m.ra, "QR/RA not set", m)
    check(not m.aa, "AA set on a forwarded answer", m)
    return m


def ttls(m, section="answer"):
    return [r.ttl for r in getattr(m, section)]


def asked(fake, name, qtype=None):
    low = name.rstrip(".").lower() + "."
    return fake.count(lambda q: q[1] is not None and q[1].question
                      and q[1].question[0][0].lower() == low
                      and (qtype is None or q[1].question[0][1] == qtype))


def cased(name, i):
    """name with letters upper-cased by the bits of i (0x20 case)."""
    return "".join(c.upper() if (i >> (k % 8)) & 1 else c for k, c in enumerate(name))


# ---- cases -------------------------------------------------------------------

@suite.case
def bad_cache_settings_rejected():
    base = {"server": vt.server_block(0), "upstreams": {"u": ["127.0.0.1:9"]},
            "views": [{"name": "v", "clients": ["127.0.0.1/32"], "forward": {".": "u"}}]}
    env = vt.server_env(S["wd"])
    for cache, want in (({"size": "lots"}, r"cache\.size"),
                        ({"size": "-1MiB"}, r"cache\.size"),
                        ({"min_ttl": "1m", "max_ttl": "10s"}, r"cache\.min_ttl"),
                        ({"stale_max": "soon"}, r"cache\.stale_max"),
                        ({"prefetch": "maybe"}, r"cache\.prefetch"),
                        ({"sizes": "1MiB"}, r"unknown key 'sizes'")):
        path = vt.write(os.path.join(S["wd"], "bad.yaml"),
                        vt.to_yaml(dict(base, cache=cache)) + "\n")
        rc, out, err = vt.check_run([vt.binary(), "--check", "-c", path], env=env)
        check(rc != 0, "--check accepted cache %r" % cache, out + err)
        check(re.search(want, out + err), "no message matching %r for %r" % (want, cache),
              out + err)
    path = vt.write(os.path.join(S["wd"], "good.yaml"), vt.to_yaml(dict(base, cache={
        "size": "1MiB", "min_ttl": 0, "max_ttl": "1h", "max_negative_ttl": "5m",
        "stale_max": 0, "prefetch": False})) + "\n")
    rc, out, err = vt.check_run([vt.binary(), "--check", "-c", path], env=env)
    eq(rc, 0, "--check of a valid cache section (%s)" % (out + err).strip())


@suite.case
def positive_answer_cached_ttl_counts_down():
    f = S["fake"]
    m = fq("WwW.PoS.tEsT", qid=1111)
    eq(m.values(A), ["198.51.100.10"], "first answer")
    eq(ttls(m), [30], "TTL of the fresh answer")
    t0 = time.monotonic()
    eq(asked(f, "www.pos.test"), 1, "upstream queries after the miss")
    for i, nm in enumerate(("www.pos.test", "WWW.POS.TEST", "wWw.pOs.TeSt")):
        m = fq(nm, qid=2000 + i, edns=(i == 1))
        eq(m.values(A), ["198.51.100.10"], "cached answer")
        eq(m.question[0][0], nm + ".", "question case on a hit")
        check(m.answer[0].name == nm + ".", "answer owner not in the client's case: %s"
              % m.answer[0].name, m)
        check(ttls(m)[0] in (29, 30), "TTL on an immediate hit: %s" % ttls(m))
    eq(asked(f, "www.pos.test"), 1, "upstream queries after three hits")
    time.sleep(max(0.0, 2.05 - (time.monotonic() - t0)))
    m = fq("www.pos.test")
    check(ttls(m)[0] in (27, 28), "TTL 2 s later: %s (want 28, counting down)" % ttls(m), m)
    eq(asked(f, "www.pos.test"), 1, "upstream queries after the aged hit")


@suite.case
def queries_without_rd_use_but_never_fill_the_cache():
    f = S["fake"]
    # RD=0 on a miss: asked upstream with RD=0, and not stored.
    m = fq("norec.pos.test", flags=0)
    eq(m.values(A), ["198.51.100.10"], "answer without RD")
    check(not m.rd, "RD echoed as set", m)
    eq(asked(f, "norec.pos.test"), 1, "upstream queries after the RD=0 miss")
    got = [q[1] for q in f.queries if q[1] is not None and q[1].question
           and q[1].question[0][0].lower() == "norec.pos.test."]
    check(got and not got[-1].rd, "the upstream saw RD set for an RD=0 client")
    m = fq("norec.pos.test")
    eq(asked(f, "norec.pos.test"), 2, "an RD=1 query after an RD=0 one went upstream")
    # Now cached (RD=1 filled it): an RD=0 client is answered from it.
    m = fq("norec.pos.test", flags=0)
    eq(m.values(A), ["198.51.100.10"], "cached answer for an RD=0 client")
    eq(asked(f, "norec.pos.test"), 2, "upstream queries after the RD=0 hit")


@suite.case
def negative_answers_cached_for_soa_minimum():
    p = S["pN"]
    names = (("gone.neg.test", A, "NXDOMAIN"), ("host.neg.test", TXT, "NOERROR"))
    for name, qt, rc in names:
        m = fq(name, qt)
        eq(m.rcode_name(), rc, "rcode of %s" % name)
        eq(m.values(qt), [], "answer of %s" % name)
        eq([r.name.lower() for r in m.rrs("authority", SOA)], ["neg.test."], "SOA of %s" % name)
    t0 = time.monotonic()
    for name, qt, rc in names:
        m = fq(name.upper(), qt)
        eq(m.rcode_name(), rc, "cached rcode of %s" % name)
        soa = m.rrs("authority", SOA)
        check(soa and soa[0].ttl <= 3, "SOA TTL on a hit: %s (want <= 3, the MINIMUM)"
              % ttls(m, "authority"), m)
        eq(asked(p, name, qt), 1, "upstream queries for %s while cached" % name)
    time.sleep(max(0.0, 3.3 - (time.monotonic() - t0)))
    for name, qt, rc in names:
        m = fq(name, qt)
        eq(m.rcode_name(), rc, "rcode of %s after MINIMUM" % name)
        eq(asked(p, name, qt), 2, "upstream queries for %s after 3 s (MINIMUM 3)" % name)


@suite.case
def negative_ttl_bounds():
    # cap.test: SOA TTL and MINIMUM 300, max_negative_ttl 5 s.
    # soattl.test: SOA TTL 2 below MINIMUM 300.
    for name, want in (("gone.cap.test", 5), ("gone.soattl.test", 2)):
        fq(name)
        m = fq(name)
        eq(m.rcode_name(), "NXDOMAIN", "rcode of %s" % name)
        soa = m.rrs("authority", SOA)
        check(soa and soa[0].ttl in (want, want - 1), "%s: SOA TTL %s on a hit, want %d"
              % (name, ttls(m, "authority"), want), m)
        eq(asked(S["pN"], name), 1, "upstream queries for %s" % name)


@suite.case
def negative_without_soa_and_servfail_not_cached():
    f = S["fake"]
    for name, rc in (("nx.nosoa.test", "NXDOMAIN"), ("nd.nosoa.test", "NOERROR"),
                     ("x.sf.test", "SERVFAIL")):
        for i in range(3):
            m = fq(name, edns=True)
            eq(m.rcode_name(), rc, "rcode of %s" % name)
        eq(asked(f, name), 3, "upstream queries for %s (never cached)" % name)


@suite.case
def min_and_max_ttl_clamps():
    srv = start_server("clamp", {
        "upstreams": {"fake": up(S["fake"])},
        "cache": {"min_ttl": "10s", "max_ttl": "100s"},
        "views": [{"name": "v", "clients": ["127.0.0.1/32"], "forward": {".": "fake"}}],
    })
    try:
        for name, want in (("lo.clamp.test", 10), ("hi.clamp.test", 100)):
            n0 = asked(S["fake"], name)
            first = fq(name, srv=srv)
            hit = fq(name, srv=srv)
            eq(asked(S["fake"], name) - n0, 1, "upstream queries for %s" % name)
            eq(first.values(A), ["198.51.100.13"], "%s: first reply" % name)
            check(ttls(hit)[0] in (want, want - 1), "%s: TTL %s on a hit, want %d (clamped)"
                  % (name, ttls(hit), want), hit)
        time.sleep(2.2)   # past the upstream's 2 s: min_ttl keeps it cached
        hit = fq("lo.clamp.test", srv=srv)
        eq(asked(S["fake"], "lo.clamp.test"), 1, "upstream queries for lo after 2.2 s")
        check(ttls(hit)[0] in (7, 8), "TTL after 2.2 s: %s" % ttls(hit))
    finally:
        stop_server(srv)


@suite.case
def first_reply_ttls_match_the_cache():
    # The client whose query filled the cache must not be told a longer
    # (or shorter) life than the cache gives the same answer: the clamps
    # and the negative TTL bound apply to the first reply as well (as in
    # Unbound, whose clients "also see" cache-min-ttl and cache-max-ttl).
    srv = start_server("clamp1", {
        "upstreams": {"fake": up(S["fake"]), "neg": up(S["pN"])},
        "cache": {"min_ttl": "10s", "max_ttl": "100s", "max_negative_ttl": "5s"},
        "views": [{"name": "v", "clients": ["127.0.0.1/32"],
                   "forward": {".": "fake", "cap.test.": "neg"}}],
    })
    try:
        bad = []
        for name, sect, want in (("lo2.clamp.test", "answer", 10),
                                 ("hi2.clamp.test", "answer", 100),
                                 ("first.cap.test", "authority", 5)):
            first = fq(name, srv=srv)
            hit = fq(name, srv=srv)
            got = (ttls(first, sect)[:1], ttls(hit, sect)[:1])
            if got[0] != [want] or got[1] not in ([want], [want - 1]):
                bad.append("%s: first reply TTL %s, cache hit %s, want %d"
                           % (name, got[0], got[1], want))
        check(not bad, "first replies carry the upstream's TTL, not the cache's", *bad)
    finally:
        stop_server(srv)


@suite.case
def views_on_different_groups_never_share():
    pa, pb = S["pA"], S["pB"]
    want = {"127.0.0.1": "198.51.100.1", "127.0.0.2": "198.51.100.2"}
    for name, order in (("x.sep.test", ("127.0.0.1", "127.0.0.2")),
                        ("y.sep.test", ("127.0.0.2", "127.0.0.1"))):
        for rnd in range(2):   # second round: both answers now cached
            for src in order:
                m = fq(name, src=src)
                eq(m.values(A), [want[src]], "%s for a client of view %s (round %d)"
                   % (name, src, rnd))
        eq(asked(pa, name), 1, "group A upstream queries for %s" % name)
        eq(asked(pb, name), 1, "group B upstream queries for %s" % name)


@suite.case
def views_on_the_same_group_share():
    pa = S["pA"]
    m = fq("z.sep.test", src="127.0.0.1")
    eq(m.values(A), ["198.51.100.1"], "view a")
    m = fq("Z.sep.test", src="127.0.0.3")
    eq(m.values(A), ["198.51.100.1"], "view c (same group)")
    eq(asked(pa, "z.sep.test"), 1, "upstream queries: views a and c share the entry")
    # gA2 lists the same server under another name: another group, its
    # own entries
    m = fq("z.sep.test", src="127.0.0.4")
    eq(m.values(A), ["198.51.100.1"], "view d")
    eq(asked(pa, "z.sep.test"), 2, "upstream queries: group gA2 does not use gA's entry")
    fq("z.sep.test", src="127.0.0.4")
    eq(asked(pa, "z.sep.test"), 2, "upstream queries: gA2 has its own entry now")


@suite.case
def do_and_cd_are_part_of_the_key():
    f = S["fake"]
    name = "www.key.test"

    def n():
        return asked(f, name)
    fq(name)
    fq(name, edns=True)
    eq(n(), 1, "EDNS without DO shares the plain entry")
    m = fq(name, edns={"do": True})
    eq(n(), 2, "a DO query after a non-DO query reaches the upstream")
    check(m.opt is not None and m.opt.do, "DO not echoed", m)
    fq(name, edns={"do": True})
    eq(n(), 2, "a second DO query is a hit")
    m = fq(name, flags=vt.F_RD | vt.F_CD)
    check(m.cd, "CD not echoed", m)
    eq(n(), 3, "a CD query reaches the upstream")
    fq(name, flags=vt.F_RD | vt.F_CD, edns={"do": True})
    eq(n(), 4, "a CD+DO query reaches the upstream")
    for kw in ({}, {"edns": {"do": True}}, {"flags": vt.F_RD | vt.F_CD},
               {"flags": vt.F_RD | vt.F_CD, "edns": {"do": True}}):
        m = fq(name, **kw)
        eq(m.values(A), ["198.51.100.11"], "answer %r" % kw)
        check(not m.cd if "flags" not in kw else m.cd, "CD of the reply %r" % kw, m)
        if kw.get("edns"):
            check(m.opt.do, "DO of the reply %r" % kw, m)
    eq(n(), 4, "all four variants cached")
    sent = [q[1] for q in f.queries if q[1] and q[1].question
            and q[1].question[0][0].lower() == name + "."]
    eq([(bool(q.opt and q.opt.do), q.cd) for q in sent],
       [(False, False), (True, False), (False, True), (True, True)],
       "DO and CD of the upstream queries")


def stale_servers():
    S["stale_up"] = fake(stale_handler(1))
    port = S["stale_up"].port
    views = [{"name": "v", "clients": ["127.0.0.1/32"], "forward": {".": "st"}}]
    s1 = start_server("stale", {"upstreams": {"st": up(S["stale_up"])}, "views": views})
    s0 = start_server("nostale", {"upstreams": {"st": up(S["stale_up"])}, "views": views,
                                  "cache": {"stale_max": 0}})
    return port, s1, s0


@suite.case
def serve_stale_then_refresh():
    port, s1, s0 = stale_servers()
    try:
        for srv in (s1, s0):
            m = fq("www.st.test", srv=srv, edns=True)
            eq(m.values(A), ["198.51.100.30"], "answer while the upstream is up")
            eq(ttls(m), [1], "upstream TTL")
        S["stale_up"].stop()   # the port now answers with ICMP unreachable
        time.sleep(1.3)
        m = fq("www.st.test", srv=s1, edns=True)
        eq(m.rcode_name(), "NOERROR", "rcode of the stale answer")
        eq(m.values(A), ["198.51.100.30"], "stale answer")
        eq(ttls(m), [30], "TTL of a stale answer (RFC 8767)")
        eq(m.ede_codes(), [EDE_STALE], "EDE of a stale answer")
        m = fq("www.st.test", srv=s1)
        eq(m.values(A), ["198.51.100.30"], "stale answer without EDNS")
        check(m.opt is None, "OPT in reply to a query without EDNS", m)
        m = fq("www.st.test", srv=s0, edns=True)
        eq(m.rcode_name(), "SERVFAIL", "rcode with stale_max 0 and the upstream gone")
        eq(m.values(A), [], "answer with stale_max 0")
        check(EDE_STALE not in m.ede_codes(), "EDE 3 with stale_max 0", m)
        st = s1.stats()
        check(st["query"]["stale"] >= 2 and st["cache"]["stale_hits"] >= 2,
              "stale counters: %s %s" % (st["query"], st["cache"]))

        # The upstream comes back with another TTL: the next query still
        # gets the stale answer at once (a refresh failed < 30 s ago), and
        # the refresh it starts makes the entry fresh.
        S["stale_up"] = fake(stale_handler(100), port=port)
        t0 = time.monotonic()
        m = fq("www.st.test", srv=s1, edns=True)
        el = time.monotonic() - t0
        eq(ttls(m), [30], "TTL right after the upstream returned (stale, refresh running)")
        check(el < 0.3, "the client waited %.2fs for a refresh" % el)
        check(vt.wait_until(lambda: len(S["stale_up"].queries) >= 1, 2.0),
              "no background refresh reached the restarted upstream")

        def fresh():
            r = fq("www.st.test", srv=s1, edns=True)
            return r if ttls(r) and 98 <= ttls(r)[0] <= 100 else None
        m = vt.wait_until(fresh, 2.0, 0.1)
        check(m is not None, "the entry did not become fresh after the refresh")
        eq(m.ede_codes(), [], "EDE on the refreshed answer")
    finally:
        stop_server(s1)
        stop_server(s0)


@suite.case
def serve_stale_after_timeouts():
    # A silent upstream: the stale answer comes after the upstream
    # timeout, not as an error.
    answering = fake(stale_handler(1))
    views = [{"name": "v", "clients": ["127.0.0.1/32"], "forward": {".": "g"}}]
    srv = start_server("stale2", {"upstreams": {"g": up(answering)}, "views": views},
                       upstream_timeout="300ms")
    try:
        fq("quiet.st.test", srv=srv)
        answering.stop()
        silent = fake(vt.silent_handler, port=answering.port)
        time.sleep(1.2)
        t0 = time.monotonic()
        m = fq("quiet.st.test", srv=srv, edns=True, timeout=5)
        el = time.monotonic() - t0
        eq(m.values(A), ["198.51.100.30"], "stale answer after a timeout")
        eq(ttls(m), [30], "stale TTL")
        eq(m.ede_codes(), [EDE_STALE], "EDE")
        check(asked(silent, "quiet.st.test") >= 1, "the silent upstream was not asked")
        check(el >= 0.25, "stale answer after %.2fs, before the upstream timed out" % el)
    finally:
        stop_server(srv)


@suite.case
def prefetch_popular_entry():
    f = S["fake"]
    views = [{"name": "v", "clients": ["127.0.0.1/32"], "forward": {".": "fake"}}]
    on = start_server("pf_on", {"upstreams": {"fake": up(f)}, "views": views})
    off = start_server("pf_off", {"upstreams": {"fake": up(f)}, "views": views,
                                  "cache": {"prefetch": False}})
    try:
        t0 = time.monotonic()
        for srv, name in ((on, "on.pf.test"), (off, "off.pf.test")):
            eq(ttls(fq(name, srv=srv)), [PF_TTL], "first answer")
            for _ in range(3):   # popular: several hits
                fq(name, srv=srv)
            eq(asked(f, name), 1, "upstream queries for %s" % name)
        # last 10 % of a 5 s TTL: from 4.5 s on
        time.sleep(max(0.0, t0 + 4.7 - time.monotonic()))
        for srv, name in ((on, "on.pf.test"), (off, "off.pf.test")):
            m = fq(name, srv=srv)
            check(ttls(m)[0] <= 1, "%s: TTL %s in the last 10 %%: not a hit?" % (name, ttls(m)))
        check(vt.wait_until(lambda: asked(f, "on.pf.test") == 2, 0.25, 0.01),
              "no prefetch: the upstream saw %d queries for on.pf.test"
              % asked(f, "on.pf.test"))
        check(time.monotonic() - t0 < PF_TTL, "prefetch check ran past the expiry")
        eq(asked(f, "off.pf.test"), 1, "upstream queries with prefetch: false")
        time.sleep(max(0.0, t0 + PF_TTL + 0.3 - time.monotonic()))
        m = fq("on.pf.test", srv=on)
        check(ttls(m)[0] >= PF_TTL - 1, "after the old expiry: TTL %s, want the refreshed one"
              % ttls(m))
        eq(asked(f, "on.pf.test"), 2, "upstream queries: the hot name never missed")
        st = on.stats()
        check(st["query"]["refreshes"] >= 1, "refreshes counter: %s" % st["query"])
    finally:
        stop_server(on)
        stop_server(off)


@suite.case
def identical_queries_share_one_fetch():
    f = S["fake"]
    name = "shared.slow.test"
    n = 20
    before = S["main"].stats()["query"]
    socks, want = [], {}
    try:
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.connect(("127.0.0.1", S["main"].port))
            qname = cased(name, i * 37 + 1)
            pkt, qid = vt.make_query(qname, qid=5000 + i)
            s.send(pkt)
            socks.append(s)
            want[i] = (qid, vt.Msg.parse(pkt).raw_question)
        t0 = time.monotonic()
        for i, s in enumerate(socks):
            s.settimeout(max(0.05, t0 + 3 - time.monotonic()))
            try:
                m = vt.Msg.parse(s.recv(65535))
            except socket.timeout:
                raise AssertionError("client %d got no reply" % i)
            eq(m.id, want[i][0], "ID of client %d" % i)
            eq(m.raw_question, want[i][1], "question of client %d" % i)
            eq(m.values(A), ["198.51.100.12"], "answer of client %d" % i)
    finally:
        for s in socks:
            s.close()
    eq(asked(f, name), 1, "upstream queries for %d identical questions" % n)
    after = S["main"].stats()["query"]
    eq(after["coalesced"] - before["coalesced"], n - 1, "coalesced counter")
    eq(after["upstream_fetches"] - before["upstream_fetches"], 1, "upstream_fetches counter")


def flood(port, names, window=100, timeout=30.0):
    """Sends every name once over one socket, at most window unanswered at
    a time. Returns how many were answered NOERROR with the address."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", port))
    ok, sent, outstanding = 0, 0, {}
    deadline = time.monotonic() + timeout
    try:
        while (sent < len(names) or outstanding) and time.monotonic() < deadline:
            while sent < len(names) and len(outstanding) < window:
                qid = sent & 0xFFFF
                s.send(vt.make_query(names[sent], qid=qid)[0])
                outstanding[qid] = time.monotonic()
                sent += 1
            s.settimeout(0.5)
            try:
                data = s.recv(65535)
            except socket.timeout:
                outstanding.clear()     # lost ones: move on
                continue
            qid = struct.unpack("!H", data[:2])[0]
            if outstanding.pop(qid, None) is not None and data[3] & 0xF == 0:
                ok += 1
    finally:
        s.close()
    return ok, sent


def rss_kib(srv):
    with open("/proc/%d/status" % srv.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % srv.proc.pid)


@suite.case
def memory_bound_under_unique_name_flood():
    srv = start_server("flood", {
        "upstreams": {"f": ["127.0.0.1:%d" % S["nsdF"].port]},
        "cache": {"size": "1MiB"},
        "views": [{"name": "v", "clients": ["127.0.0.1/32"], "forward": {".": "f"}}],
    })
    try:
        count = 20000
        ok, sent = flood(srv.port, ["u%d.flood.test" % i for i in range(count)])
        eq(sent, count, "queries sent")
        check(ok >= count * 0.95, "only %d of %d flood queries answered" % (ok, count))
        st = srv.stats()
        c = st["cache"]
        eq(c["max_bytes"], 1 << 20, "max_bytes")
        check(c["bytes"] <= c["max_bytes"], "cache bytes %d over the budget %d"
              % (c["bytes"], c["max_bytes"]))
        check(c["evictions"] > 0, "no evictions after %d unique names: %s" % (count, c))
        check(c["entries"] > 1000, "the cache keeps too little: %s" % c)
        check(c["entries"] + c["evictions"] >= ok * 0.95, "stored+evicted below answered: %s" % c)
        m = fq("after.flood.test", srv=srv)
        eq(m.values(A), ["198.51.100.6"], "answer after the flood")
        # The accounting is the server's own word: the process must not
        # grow either once the cache is full (not measurable under ASan,
        # whose quarantine holds on to freed memory).
        if "libasan" not in open("/proc/%d/maps" % srv.proc.pid).read():
            rss0 = rss_kib(srv)
            ok2, _ = flood(srv.port, ["v%d.flood.test" % i for i in range(count)])
            check(ok2 >= count * 0.95, "second flood: %d answered" % ok2)
            grown = rss_kib(srv) - rss0
            check(grown < 2048, "resident memory grew by %d KiB over a second flood of "
                  "%d names with the cache full" % (grown, count))
        m = fq("u%d.flood.test" % (count - 1), srv=srv)
        eq(m.values(A), ["198.51.100.6"], "a recent name")
    finally:
        stop_server(srv)


@suite.case
def cache_survives_sighup_unless_servers_change():
    u1 = fake(fixed_handler("198.51.100.41"))
    u2 = fake(fixed_handler("198.51.100.42"))
    views = [{"name": "v", "clients": ["127.0.0.1/32"],
              "forward": {".": "g1", "two.test.": "g2"}}]
    cfg = {"upstreams": {"g1": up(u1), "g2": up(u1)}, "views": views}
    # No loop probes: they would reach u1 too, at start and each reload.
    srv = start_server("reload", cfg, loop_check=False)
    try:
        for name in ("www.one.test", "www.two.test"):
            eq(fq(name, srv=srv).values(A), ["198.51.100.41"], "first answer for %s" % name)
        eq(u1.count(), 2, "upstream queries")
        # a reload that changes something else keeps both groups' entries
        cfg2 = dict(cfg)
        cfg2["server"] = vt.server_block(srv.port, identity="reloaded", loop_check=False)
        srv.set_config(cfg2)
        check(srv.reload(), "reload failed: %s" % srv.log()[-800:])
        for name in ("www.one.test", "www.two.test"):
            eq(fq(name, srv=srv).values(A), ["198.51.100.41"], "%s after SIGHUP" % name)
        eq(u1.count(), 2, "upstream queries after a reload with the same groups")
        eq(srv.stats()["cache"]["entries"], 2, "cache entries after the first reload")
        # g2 gets another server: its entries go, g1's stay
        cfg3 = dict(cfg2, upstreams={"g1": up(u1), "g2": up(u2)})
        srv.set_config(cfg3)
        check(srv.reload(), "reload failed: %s" % srv.log()[-800:])
        eq(srv.stats()["cache"]["entries"], 1, "cache entries once g2's servers changed "
           "(its entry dropped, not left to age out)")
        eq(fq("www.one.test", srv=srv).values(A), ["198.51.100.41"], "unchanged group")
        eq(u1.count(), 2, "upstream queries of the unchanged group")
        eq(fq("www.two.test", srv=srv).values(A), ["198.51.100.42"],
           "changed group: the new server's answer")
        eq(asked(u2, "www.two.test"), 1, "the new server was asked")
        eq(u1.count(), 2, "the old server was not asked again")
    finally:
        stop_server(srv)


@suite.case
def inflight_bound_gives_ede14_and_locals_keep_answering():
    silent = fake(vt.silent_handler)
    zp = vt.write(os.path.join(S["wd"], "zones", "loc.test.zone"),
                  zone("loc.test.", "www IN A 10.4.4.4"))
    srv = start_server("inflight", {
        "upstreams": {"dead": up(silent)},
        "views": [{"name": "v", "clients": ["127.0.0.1/32"], "zones": [zp],
                   "forward": {".": "dead"}}],
    }, upstream_max_inflight=5, upstream_timeout="1s", query_timeout="1s")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("127.0.0.1", srv.port))
        t0 = time.monotonic()
        for i in range(20):
            s.send(vt.make_query("n%d.dead.test" % i, qid=100 + i, edns=True)[0])
        quick = {}
        s.settimeout(0.5)
        while len(quick) < 15:
            try:
                m = vt.Msg.parse(s.recv(65535))
            except socket.timeout:
                break
            quick[m.id] = (m, time.monotonic() - t0)
        m, _ = vt.udp_query("www.loc.test", A, port=srv.port, timeout=0.5)
        check(m is not None and m.values(A) == ["10.4.4.4"] and m.aa,
              "local answer while the bound is reached", m)
        eq(len(quick), 15, "queries answered at once (20 sent, 5 may be in flight)")
        for qid, (m, el) in quick.items():
            eq(m.rcode_name(), "SERVFAIL", "rcode past the bound")
            eq(m.ede_codes(), [EDE_NOT_READY], "EDE past the bound")
            check(el < 0.4, "SERVFAIL past the bound took %.2fs" % el)
        st = srv.stats()["upstream"]
        eq(st["rejected_inflight"], 15, "rejected_inflight counter")
        # the 5 in flight end with the deadline (EDE 22)
        s.settimeout(3)
        late = []
        while len(late) < 5:
            m = vt.Msg.parse(s.recv(65535))
            late.append(m)
        eq(sorted(m.id for m in late + [q[0] for q in quick.values()]),
           list(range(100, 120)), "every query answered once")
        for m in late:
            eq(m.rcode_name(), "SERVFAIL", "rcode at the deadline")
            eq(m.ede_codes(), [vt.EDE_NO_REACHABLE], "EDE at the deadline")
        m = fq("n99.dead.test", srv=srv, edns=True, timeout=3)
        eq(m.ede_codes(), [vt.EDE_NO_REACHABLE], "below the bound again: a real attempt")
    finally:
        s.close()
        stop_server(srv)


@suite.case
def upstream_cname_completed_from_local_zone():
    f = S["fake"]
    n0 = asked(f, "www.example.org")
    for rnd in range(2):   # miss, then hit: the same reply
        for src, addr in (("127.0.0.1", "10.1.2.3"), ("127.0.0.2", "10.9.9.9")):
            m = fq("www.example.org", src=src)
            eq(m.rcode_name(), "NOERROR", "rcode")
            eq([(r.name.lower(), r.type, r.value) for r in m.answer],
               [("www.example.org.", CNAME, "app.corp.internal."),
                ("app.corp.internal.", A, addr)],
               "answer for view %s (round %d)" % (src, rnd))
            check(BOGUS not in str(m.answer + m.authority + m.additional),
                  "the upstream's A for the local name was served", m)
    eq(asked(f, "www.example.org") - n0, 1, "upstream queries: both views share the entry")


if __name__ == "__main__":
    suite.main(setup, teardown)
