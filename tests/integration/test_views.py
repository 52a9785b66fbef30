"""Views, end to end: the client's source address picks the view by the
longest prefix; views holding the same zone name answer their own data and
never each other's, each view forwards to its own upstreams (two nsd
instances that answer the same name differently), a client in no view is
REFUSED with Extended DNS Error 18, a view with no data exposes nothing,
and an IPv6 (::1) client is matched like an IPv4 one.
"""

import os
import random
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("views")
S = {}


def zone(origin, body, soa_ttl=60):
    return ("$ORIGIN %s\n$TTL 60\n@ IN SOA ns.%s hostmaster.%s 1 3600 600 86400 60\n"
            "@ IN NS ns.%s\nns IN A 192.0.2.53\n%s\n" % (origin, origin, origin, origin, body))


def setup():
    vt.binary()
    vt.require_tools("nsd", "dig")
    wd = vt.workdir("views")
    S["v6"] = vt.have_ipv6()
    S["nsd_a"] = vt.Nsd(wd, {
        "fwd.test.": zone("fwd.test.", "name IN A 203.0.113.21"),
        "shared.test.": zone("shared.test.", "v1only IN A 203.0.113.31"),
        "only1.test.": zone("only1.test.", "www IN A 203.0.113.11"),
    }, name="nsd_a").start()
    S["nsd_b"] = vt.Nsd(wd, {
        "fwd.test.": zone("fwd.test.", "name IN A 203.0.113.22"),
        "shared.test.": zone("shared.test.", "v1only IN A 203.0.113.32"),
        "only1.test.": zone("only1.test.", "www IN A 203.0.113.12"),
    }, name="nsd_b").start()
    z = lambda n, body: vt.write(os.path.join(wd, n), zone("shared.test.", body))  # noqa
    v1_shared = z("v1/shared.test.zone", "www IN A 10.1.0.1\nv1only IN A 10.1.0.9")
    v2_shared = z("v2/shared.test.zone", "www IN A 10.2.0.1")
    v3_shared = z("v3/shared.test.zone", "www IN A 10.3.0.1")
    only1 = vt.write(os.path.join(wd, "v1/only1.test.zone"),
                     zone("only1.test.", "www IN A 10.1.0.11"))
    srv = vt.Vpcdns(wd, None, v6=S["v6"])
    srv.set_config({
        "server": vt.server_block(srv.port, v6=S["v6"]),
        "upstreams": {"ga": ["127.0.0.1:%d" % S["nsd_a"].port],
                      "gb": ["127.0.0.1:%d" % S["nsd_b"].port]},
        "views": [
            {"name": "v1", "clients": ["127.0.0.1/32"] + (["::1/128"] if S["v6"] else []),
             "zones": [v1_shared, {"path": only1, "fallback": "nxdomain"}],
             "forward": {".": "ga"}},
            {"name": "v2", "clients": ["127.0.0.2/32"],
             "zones": [v2_shared], "forward": {".": "gb"}},
            {"name": "v3", "clients": ["127.0.0.0/24"],
             "zones": [v3_shared], "forward": {".": "ga"}},
            {"name": "empty", "clients": ["127.0.2.0/24"]},
            {"name": "v26", "clients": ["127.0.3.64/26"], "zones": [v3_shared],
             "forward": {".": "ga"}},
            {"name": "v25", "clients": ["127.0.3.0/25"], "zones": [v2_shared],
             "forward": {".": "gb"}},
        ],
    })
    S["srv"] = srv.start()


def teardown():
    try:
        vt.teardown_server(S.get("srv"))
    finally:
        for k in ("nsd_a", "nsd_b"):
            if k in S:
                S[k].stop()


def ask(src, name, qtype=A, tcp=False, **kw):
    fn = vt.tcp_query if tcp else vt.udp_query
    host = "::1" if ":" in src else "127.0.0.1"
    m, sent = fn(name, qtype, port=S["srv"].port, host=host, src=src, **kw)
    check(m is not None, "no reply to %s from %s" % (name, src))
    eq(m.id, vt.Msg.parse(sent).id, "reply ID")
    eq(m.raw_question, vt.Msg.parse(sent).raw_question, "question echoed")
    return m


@suite.case
def same_name_differs_per_view():
    for src, want in (("127.0.0.1", "10.1.0.1"), ("127.0.0.2", "10.2.0.1"),
                      ("127.0.0.3", "10.3.0.1"), ("127.0.0.200", "10.3.0.1")):
        m = ask(src, "www.shared.test")
        eq(m.rcode_name(), "NOERROR", "rcode for %s" % src)
        check(m.aa, "AA not set", m)
        eq(m.values(A), [want], "answer for client %s" % src)


@suite.case
def longest_prefix_wins():
    # 127.0.0.2 is in v2 (/32) and v3 (/24): the /32 wins, also over TCP.
    for tcp in (False, True):
        m = ask("127.0.0.2", "www.shared.test", tcp=tcp)
        eq(m.values(A), ["10.2.0.1"], "answer for 127.0.0.2 (tcp=%s)" % tcp)


@suite.case
def other_views_data_never_leaks():
    m = ask("127.0.0.2", "v1only.shared.test")
    check(not m.aa, "AA on what must be a forwarded answer", m)
    eq(m.values(A), ["203.0.113.32"], "v2 gets its own upstream's data")
    m = ask("127.0.0.2", "www.only1.test")
    eq(m.values(A), ["203.0.113.12"], "v2 must not see v1's only1.test zone")
    m = ask("127.0.0.3", "www.only1.test")
    eq(m.values(A), ["203.0.113.11"], "v3 forwards only1.test to its upstream")
    m = ask("127.0.0.1", "www.only1.test")
    check(m.aa, "v1's own zone answers with AA", m)
    eq(m.values(A), ["10.1.0.11"], "v1 sees its zone")
    m = ask("127.0.0.1", "nope.only1.test")
    eq(m.rcode_name(), "NXDOMAIN", "v1's nxdomain zone")


@suite.case
def forwarding_is_per_view():
    for i in range(6):
        for src, want in (("127.0.0.1", "203.0.113.21"), ("127.0.0.2", "203.0.113.22"),
                          ("127.0.0.9", "203.0.113.21")):
            m = ask(src, "name.fwd.test")
            eq(m.rcode_name(), "NOERROR", "rcode")
            check(not m.aa, "AA on a forwarded answer", m)
            eq(m.values(A), [want], "round %d, client %s" % (i, src))


@suite.case
def interleaved_clients_stay_apart():
    rnd = random.Random(7)
    want = {"127.0.0.1": "10.1.0.1", "127.0.0.2": "10.2.0.1", "127.0.0.77": "10.3.0.1"}
    for i in range(90):
        src = rnd.choice(sorted(want))
        m = ask(src, rnd.choice(["www.shared.test", "WWW.Shared.TEST"]), tcp=(i % 5 == 0))
        eq(m.values(A), [want[src]], "query %d from %s" % (i, src))


@suite.case
def no_view_refused_with_ede18():
    for name in ("www.shared.test", "name.fwd.test"):
        m = ask("127.0.1.5", name, edns=True)
        eq(m.rcode_name(), "REFUSED", "rcode for a client in no view")
        eq(m.answer, [], "answer section")
        check(m.opt is not None, "no OPT although the query had EDNS", m)
        check(vt.EDE_PROHIBITED in m.ede_codes(), "EDE codes %s, want 18" % m.ede_codes(), m)
    m = ask("127.0.1.5", "www.shared.test")
    eq(m.rcode_name(), "REFUSED", "rcode without EDNS")
    check(m.opt is None, "OPT in reply to a query without EDNS", m)
    m = ask("127.0.1.5", "www.shared.test", tcp=True, edns=True)
    eq(m.rcode_name(), "REFUSED", "rcode over TCP")
    check(vt.EDE_PROHIBITED in m.ede_codes(), "EDE over TCP", m)


@suite.case
def no_view_refused_dig():
    r = vt.dig(S["srv"].port, "-b", "127.0.1.5", "www.shared.test")
    eq(r.status, "REFUSED", "dig status")
    check("EDE: 18" in r.text, "dig shows no EDE 18", r.text)
    eq(r.answer, [], "dig answer")


@suite.case
def empty_view_exposes_nothing():
    leaked = {"10.1.0.1", "10.2.0.1", "10.3.0.1", "203.0.113.21", "203.0.113.22"}
    for name in ("www.shared.test", "name.fwd.test"):
        m = ask("127.0.2.1", name)
        got = set(m.values(A))
        eq(sorted(got & leaked), [], "data seen by a view with no zones or rules")
        check(m.rcode != vt.NOERROR or not m.answer, "answer from an empty view", m)


@suite.case
def prefix_boundaries():
    # 127.0.3.64/26 (v26, 10.3.0.1) inside 127.0.3.0/25 (v25, 10.2.0.1)
    for src, want in (("127.0.3.0", "10.2.0.1"), ("127.0.3.63", "10.2.0.1"),
                      ("127.0.3.64", "10.3.0.1"), ("127.0.3.127", "10.3.0.1")):
        m = ask(src, "www.shared.test")
        eq(m.values(A), [want], "answer for %s" % src)
    m = ask("127.0.3.128", "www.shared.test", edns=True)
    eq(m.rcode_name(), "REFUSED", "127.0.3.128 is outside both prefixes")


@suite.case
def ipv6_client():
    if not S["v6"]:
        raise vt.SkipTest("no IPv6 loopback")
    m = ask("::1", "www.shared.test")
    eq(m.values(A), ["10.1.0.1"], "::1 is in v1")
    m = ask("::1", "www.shared.test", tcp=True)
    eq(m.values(A), ["10.1.0.1"], "::1 over TCP")
    r = vt.dig(S["srv"].port, "www.shared.test", server="::1")
    eq(r.rdata("A"), ["10.1.0.1"], "dig @::1")


if __name__ == "__main__":
    suite.main(setup, teardown)
