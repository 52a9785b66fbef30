"""DNS cookies, end to end: dig +cookie shows our server cookie and a
second query with it is "good"; a client presenting a valid server cookie
passes where a cookieless client of its /24 is rate limited; over UDP a
limited client that sent a cookie (only a client cookie, or a server
cookie we did not make) gets BADCOOKIE with a fresh cookie, which then
passes; over TCP an invalid server cookie is answered normally with a
fresh one; malformed COOKIE options get FORMERR (RFC 7873 5.2.2); and two
instances sharing cookie_secret accept each other's cookies while an
instance with its own random secret does not.
"""

import os
import re
import socket
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("cookies")
S = {}
COOKIE = 10
BADCOOKIE = 23
SECRET = "e5e973e5a6b2a43f48e7dc849e37bfcf"


def config(srv, z, **server):
    return {
        "server": vt.server_block(srv.port, rate_limit={"qps": 1, "burst": 3, "slip": 2,
                                                      "tcp_qps": 100, "tcp_burst": 100},
                                  **server),
        "views": [{"name": "main", "clients": ["127.0.0.0/8"], "zones": [z]}],
    }


def setup():
    vt.binary()
    wd = vt.workdir("cookies")
    z = vt.write(os.path.join(wd, "ck.test.zone"),
                 "$ORIGIN ck.test.\n$TTL 60\n"
                 "@ IN SOA ns hostmaster 1 3600 600 86400 60\n"
                 "www IN A 10.0.0.1\n")
    for name, extra in (("srv", {}), ("fleet_a", {"cookie_secret": SECRET}),
                        ("fleet_b", {"cookie_secret": ["00" * 16, SECRET]})):
        srv = vt.Vpcdns(os.path.join(wd, name), None, name=name)
        srv.set_config(config(srv, z, **extra))
        S[name] = srv.start()


def teardown():
    for k in ("srv", "fleet_a", "fleet_b"):
        vt.teardown_server(S.get(k))


def query(cookie, src, srv="srv", tcp=False, qid=None):
    """One query carrying COOKIE option bytes `cookie` (None: no option)."""
    opts = [(COOKIE, cookie)] if cookie is not None else []
    pkt, qid = vt.make_query("www.ck.test", qid=qid, edns={"options": opts})
    port = S[srv].port
    if tcp:
        data = vt.tcp_exchange(pkt, port, src=src, timeout=2.0)
    else:
        data = vt.udp_exchange(pkt, port, src=src, timeout=1.0, expect_id=qid)
    return vt.Msg.parse(data) if data is not None else None


def exhaust(src, srv="srv", n=60):
    """Cookieless UDP queries from src until its /24 is limited."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((src, 0))
        for i in range(n):
            pkt, _ = vt.make_query("www.ck.test", qid=i)
            s.sendto(pkt, ("127.0.0.1", S[srv].port))
    finally:
        s.close()


def server_cookie(m, cc):
    check(m is not None and m.opt is not None, "no OPT in the reply", m)
    got = m.opt.option(COOKIE)
    check(got is not None, "no COOKIE option in the reply", m)
    eq(len(got), 24, "COOKIE length")
    eq(got[:8], cc, "client cookie echoed")
    eq(got[8], 1, "server cookie version")
    return got


@suite.case
def dig_cookie_shows_server_cookie():
    srv = S["srv"]
    r = vt.dig(srv.port, "www.ck.test", "+cookie", "-b", "127.0.1.10")
    eq(r.status, "NOERROR", "status")
    m = re.search(r"COOKIE: ([0-9a-f]{48})", r.text)
    check(m is not None, "dig shows no 24-byte cookie", r.text)
    r2 = vt.dig(srv.port, "www.ck.test", "+cookie=" + m.group(1), "-b", "127.0.1.10")
    check(re.search(r"COOKIE: [0-9a-f]{48} \(good\)", r2.text),
          "dig does not call the returned cookie good", r2.text)
    eq(r2.rdata("A"), ["10.0.0.1"], "answer")


@suite.case
def valid_cookie_passes_the_limit():
    cc = os.urandom(8)
    full = server_cookie(query(cc, "127.0.2.10"), cc)
    exhaust("127.0.2.11")
    m = query(None, "127.0.2.12")
    check(m is None or m.tc, "a cookieless client of the /24 was not limited", m)
    before = S["srv"].stats()["ratelimit"]
    for i in range(20):
        m = query(full, "127.0.2.10")
        check(m is not None, "no reply to a query with a valid cookie (%d)" % i)
        eq(m.rcode_name(), "NOERROR", "rcode with a valid cookie")
        eq(m.values(A), ["10.0.0.1"], "answer with a valid cookie")
        full = server_cookie(m, cc)
    after = S["srv"].stats()["ratelimit"]
    eq(after["cookies_valid"] - before["cookies_valid"], 20, "valid cookies counted")
    # the same cookie from another address of the /24 is not valid there
    before = S["srv"].stats()["ratelimit"]
    query(full, "127.0.2.13")
    after = S["srv"].stats()["ratelimit"]
    eq(after["cookies_valid"], before["cookies_valid"],
       "a cookie made for another address counted valid")


@suite.case
def badcookie_when_limited():
    cc = os.urandom(8)
    for sent in (cc, cc + b"\x01\x00\x00\x00" + os.urandom(12), cc + os.urandom(8)):
        exhaust("127.0.3.11")
        m = query(sent, "127.0.3.10")
        check(m is not None, "no reply to a limited query with a cookie")
        eq(m.rcode, BADCOOKIE, "rcode of a limited query with a cookie of %d bytes"
           % len(sent))
        eq(m.answer, [], "records in BADCOOKIE")
        fresh = server_cookie(m, cc)
    m = query(fresh, "127.0.3.10")
    eq(m.rcode_name(), "NOERROR", "the fresh cookie from BADCOOKIE passes")
    check(S["srv"].stats()["ratelimit"]["badcookie"] >= 3, "badcookie counter")


@suite.case
def invalid_cookie_over_tcp_is_answered():
    cc = os.urandom(8)
    bad = cc + b"\x01\x00\x00\x00" + os.urandom(12)
    m = query(bad, "127.0.4.10", tcp=True)
    eq(m.rcode_name(), "NOERROR", "rcode over TCP with an invalid cookie")
    eq(m.values(A), ["10.0.0.1"], "answer")
    fresh = server_cookie(m, cc)
    check(fresh != bad, "the invalid server cookie was echoed")
    # and over UDP while not limited: answered with a fresh cookie too
    m = query(bad, "127.0.4.10")
    eq(m.rcode_name(), "NOERROR", "rcode over UDP, not limited")
    server_cookie(m, cc)


@suite.case
def malformed_cookie_is_formerr():
    for n in (0, 7, 9, 15, 41):
        m = query(os.urandom(n), "127.0.5.10")
        check(m is not None, "no reply to a COOKIE of %d bytes" % n)
        eq(m.rcode_name(), "FORMERR", "rcode for a COOKIE of %d bytes" % n)
    pkt, qid = vt.make_query("www.ck.test", edns={"options": [
        (COOKIE, os.urandom(8)), (COOKIE, os.urandom(8))]})
    m = vt.Msg.parse(vt.udp_exchange(pkt, S["srv"].port, src="127.0.5.10",
                                     expect_id=qid))
    eq(m.rcode_name(), "FORMERR", "rcode for two COOKIE options")
    for n in (8, 16, 40):
        m = query(os.urandom(n), "127.0.5.10")
        eq(m.rcode_name(), "NOERROR", "rcode for a COOKIE of %d bytes" % n)


@suite.case
def fleet_shares_cookie_secret():
    cc = os.urandom(8)
    full = server_cookie(query(cc, "127.0.6.10", srv="fleet_a"), cc)
    for name in ("fleet_b", "srv"):
        exhaust("127.0.6.11", srv=name)
    m = query(full, "127.0.6.10", srv="fleet_b")
    eq(m.rcode_name(), "NOERROR", "fleet_b accepts fleet_a's cookie")
    m = query(full, "127.0.6.10", srv="srv")
    eq(m.rcode, BADCOOKIE, "a server with its own secret does not")


if __name__ == "__main__":
    suite.main(setup, teardown)
