"""Rate limiting, end to end: a UDP flood from one /24 is limited while a
client in another /24 of the same view keeps every answer; every slip-th
limited query gets an empty TC=1 reply (counted exactly); slip 0 and a
view's rate_limit: false override the server's settings; allow-listed
prefixes are never limited; TCP has its own, higher limit and past it gets
REFUSED with EDE 18; the counters in the SIGUSR1 stats match what the
clients saw; and a flood from 100,000 random sources evicts buckets of the
fixed table while the server's memory stays where it was.
"""

import os
import random
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("ratelimit")
S = {}
QPS, BURST = 10, 10
TABLE = 4096


def setup():
    vt.binary()
    wd = vt.workdir("ratelimit")
    z = vt.write(os.path.join(wd, "rl.test.zone"),
                 "$ORIGIN rl.test.\n$TTL 60\n"
                 "@ IN SOA ns hostmaster 1 3600 600 86400 60\n"
                 "www IN A 10.0.0.1\n")
    srv = vt.Vpcdns(wd, None)
    srv.set_config({
        "server": vt.server_block(srv.port, rate_limit={
            "qps": QPS, "burst": BURST, "slip": 2, "tcp_qps": 50, "tcp_burst": 50,
            "table_size": TABLE, "allow": ["127.0.9.0/24"]}),
        "views": [
            {"name": "noslip", "clients": ["127.1.0.0/16"], "zones": [z],
             "rate_limit": {"slip": 0}},
            {"name": "free", "clients": ["127.2.0.0/16"], "zones": [z],
             "rate_limit": False},
            {"name": "main", "clients": ["127.0.0.0/8"], "zones": [z]},
        ],
    })
    S["srv"] = srv.start()


def teardown():
    vt.teardown_server(S.get("srv"))


def flood(src, n, quiet=0.2, chunk=25):
    """Sends n queries from src, `chunk` at a time as fast as it can,
    collecting the replies after each chunk until none came for `quiet`
    seconds (chunks keep the socket buffers on both sides from
    overflowing on a loaded machine). Returns (answered, truncated)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.connect(("127.0.0.1", S["srv"].port))
    ids = set()
    answered = truncated = 0
    try:
        for start in range(0, n, chunk):
            for i in range(start, min(n, start + chunk)):
                pkt, qid = vt.make_query("www.rl.test", qid=i)
                ids.add(qid)
                s.send(pkt)
            s.settimeout(quiet)
            while True:
                try:
                    data = s.recv(65535)
                except socket.timeout:
                    break
                m = vt.Msg.parse(data)
                check(m.id in ids, "reply to a query not sent", m)
                ids.discard(m.id)
                if m.tc:
                    eq(m.answer, [], "records in a slipped reply")
                    truncated += 1
                else:
                    eq(m.values(A), ["10.0.0.1"], "answer")
                    answered += 1
        return answered, truncated
    finally:
        s.close()


def ask(src, tcp=False):
    fn = vt.tcp_query if tcp else vt.udp_query
    m, _ = fn("www.rl.test", port=S["srv"].port, src=src, timeout=1.0)
    return m


def stats():
    return S["srv"].stats()


@suite.case
def flood_is_limited_other_prefix_keeps_answers():
    before = stats()["ratelimit"]
    got = [0, 0]
    kept = 0
    for _ in range(8):
        a, t = flood("127.0.1.10", 40)
        got[0] += a
        got[1] += t
        m = ask("127.0.2.10")
        check(m is not None and m.values(A) == ["10.0.0.1"],
              "the client in another /24 lost an answer", m)
        kept += 1
    eq(kept, 8, "answers for the other /24")
    answered, truncated = got
    limited = 320 - answered
    check(answered >= BURST, "fewer answers than the burst: %d" % answered)
    check(limited > 150, "the flood was hardly limited: %d answered" % answered)
    eq(truncated, limited // 2, "TC replies with slip 2 over %d limited" % limited)
    after = stats()["ratelimit"]
    eq(after["limited"] - before["limited"], limited, "limited counter")
    eq(after["slipped"] - before["slipped"], truncated, "slipped counter")


@suite.case
def slip_zero_in_a_view_never_truncates():
    answered, truncated = flood("127.1.0.10", 200)
    check(answered < 100, "the flood was not limited: %d answered" % answered)
    eq(truncated, 0, "TC replies with slip 0")


@suite.case
def rate_limit_false_in_a_view():
    answered, truncated = flood("127.2.0.10", 200)
    eq((answered, truncated), (200, 0), "answers in a view with rate_limit: false")


@suite.case
def allow_listed_prefix_is_never_limited():
    answered, truncated = flood("127.0.9.10", 300)
    eq((answered, truncated), (300, 0), "answers for an allow-listed prefix")


@suite.case
def tcp_has_its_own_higher_limit():
    a, _ = flood("127.0.3.10", 100)
    check(a < 50, "UDP flood was not limited")
    c = vt.TcpConn(S["srv"].port, src="127.0.3.11")
    try:
        rcodes = []
        for i in range(90):
            pkt, qid = vt.make_query("www.rl.test", qid=i, edns=True)
            c.send_msg(pkt)
        for i in range(90):
            m = vt.Msg.parse(c.recv_msg())
            rcodes.append(m.rcode_name())
            if m.rcode_name() == "REFUSED":
                check(18 in m.ede_codes(), "EDE 18 on a rate-limited TCP query", m)
        eq(rcodes[:40], ["NOERROR"] * 40, "TCP answers within its burst")
        check("REFUSED" in rcodes, "no TCP query was refused past tcp_burst")
    finally:
        c.close()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@suite.case
def random_source_flood_keeps_memory_fixed():
    srv = S["srv"]
    flood("127.0.4.10", 50)  # warm up the paths the flood takes
    before_rss = rss_kb(srv.proc.pid)
    st = stats()
    before, recv0 = st["ratelimit"], st["net"]["udp_recv"]
    pkt, _ = vt.make_query("www.rl.test", qid=7)
    dst = ("127.0.0.1", srv.port)
    rnd = random.Random(12)
    t0 = time.monotonic()
    for i in range(100000):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.%d.%d.%d" % (rnd.randrange(10, 250), rnd.randrange(256),
                                      rnd.randrange(1, 255)), 0))
            s.sendto(pkt, dst)
        finally:
            s.close()
        if i % 1000 == 0:
            check(time.monotonic() - t0 < 60, "flood took over a minute")
    # The flood may still be queued in the server's socket: ask until it
    # has drained.
    check(vt.wait_until(lambda: ask("127.0.2.20") is not None, timeout=20),
          "no answer after the flood")
    st = stats()
    after, received = st["ratelimit"], st["net"]["udp_recv"] - recv0
    after_rss = rss_kb(srv.proc.pid)
    # The kernel may drop part of the flood when the server falls behind.
    check(received >= 20000, "only %d of the flood reached the server" % received)
    eq(after["slots"], TABLE, "table slots after the flood")
    eq(before["slots"], TABLE, "table slots before the flood")
    check(after["evictions"] - before["evictions"] >= 5 * TABLE,
          "evictions under the flood: %d" % (after["evictions"] - before["evictions"]))
    check(after_rss - before_rss < 2048,
          "RSS grew by %d KiB under the flood" % (after_rss - before_rss))
    print("  rss before %d KiB, after %d KiB, evictions %d" % (
        before_rss, after_rss, after["evictions"] - before["evictions"]))


if __name__ == "__main__":
    suite.main(setup, teardown)
