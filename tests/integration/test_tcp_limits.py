"""TCP resource limits, end to end: a client that pipelines queries for a
large answer and never reads is closed after tcp_io_timeout and the
process does not grow (reading stops while replies are owed); a message
trickled in one byte at a time is closed by the same deadline even though
every byte arrives well within the idle timeout; a legitimate client is
answered while another address floods the table with slow connections
(the connection idle longest is closed to admit a new one, RFC 7766
section 6.2.3); tcp_max_connections_per_client caps one address; the
connection closed for room is the one idle longest.
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
from vdtest import A, TXT, check, eq  # noqa: E402

suite = vt.Suite("tcp_limits")
S = {}
BIG_RRS, BIG_LEN = 40, 200      # an answer of about 8 KB
STUCK_QUERIES = 10000           # ~80 MB of replies if they were all queued
RSS_GROWTH_MAX_KB = 40 * 1024   # generous: the bounded queue is ~100 KB
ATTACKER, LEGIT, CROWD, OTHER = "127.0.0.2", "127.0.0.1", "127.0.0.3", "127.0.0.4"


def zone_text():
    big = "\n".join('big IN TXT "%03d-%s"' % (i, "x" * BIG_LEN) for i in range(BIG_RRS))
    return ("$ORIGIN limits.test.\n$TTL 60\n"
            "@ IN SOA ns.limits.test. hostmaster.limits.test. 1 3600 600 86400 60\n"
            "@ IN NS ns\nns IN A 192.0.2.53\nwww IN A 192.0.2.1\n%s\n" % big)


def start_server(name, **server):
    srv = vt.Vpcdns(S["wd"], None, name=name)
    srv.set_config({
        "server": vt.server_block(srv.port, **server),
        "views": [{"name": "all", "clients": ["127.0.0.0/8"], "zones": [S["zone"]]}],
    })
    S.setdefault("servers", []).append(srv)
    return srv.start()


def setup():
    vt.binary()
    S["wd"] = vt.workdir("tcplimits")
    S["zone"] = vt.write(os.path.join(S["wd"], "limits.test.zone"), zone_text())


def teardown():
    for srv in S.get("servers", []):
        vt.teardown_server(srv)


def rss_kb(srv):
    with open("/proc/%d/status" % srv.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % srv.proc.pid)


def frame(pkt):
    return struct.pack("!H", len(pkt)) + pkt


def answered(srv, src, qid, conn=None):
    """Whether a query over TCP from src (on conn, or a new connection)
    gets its answer."""
    c = conn
    try:
        if c is None:
            c = vt.TcpConn(srv.port, src=src, timeout=2)
        c.send_msg(vt.make_query("www.limits.test", qid=qid)[0])
        d = c.recv_msg(2)
        return d is not None and vt.Msg.parse(d).id == qid
    except (vt.Closed, OSError):
        return False
    finally:
        if conn is None and c is not None:
            c.close()


def net_stats(srv):
    return srv.stats()["net"]


@suite.case
def stuck_reader_closed_and_memory_bounded():
    srv = start_server("stuck", tcp_io_timeout="1s", tcp_idle_timeout="3s")
    m = srv.tcp("big.limits.test", TXT)
    check(m is not None and len(m.values(TXT)) == BIG_RRS, "no full big answer", m)
    before = rss_kb(srv)

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", srv.port))
    s.setblocking(False)
    data = b"".join(frame(vt.make_query("big.limits.test", TXT, qid=i & 0xFFFF)[0])
                    for i in range(STUCK_QUERIES))
    off, deadline = 0, time.monotonic() + 4
    try:
        while off < len(data) and time.monotonic() < deadline:
            try:
                off += s.send(data[off:off + 65536])
            except BlockingIOError:
                time.sleep(0.02)
            except OSError:
                break   # closed by the server
        # Never read. The server must give up on the connection although
        # its shutdown can never complete.
        def closed():
            st = net_stats(srv)
            return st.get("tcp_open", 1) == 0 and st
        st = vt.wait_until(closed, 8.0, 0.5)
        check(st, "connection of a client that never reads still open",
              net_stats(srv))
        check(st["tcp_write_timeouts"] >= 1, "not counted as a write timeout", st)
        check(st["tcp_paused"] >= 1, "reading never paused", st)
        grown = rss_kb(srv) - before
        check(grown < RSS_GROWTH_MAX_KB, "RSS grew by %d KiB (sent %d bytes of queries)"
              % (grown, off))
    finally:
        s.close()
    check(answered(srv, LEGIT, 7), "no TCP service afterwards")


@suite.case
def slow_message_closed_by_deadline():
    srv = start_server("slow", tcp_io_timeout="1s", tcp_idle_timeout="30s")
    pkt = frame(vt.make_query("www.limits.test", qid=9)[0])
    c = vt.TcpConn(srv.port)
    try:
        t0, closed, i = time.monotonic(), False, 0
        # One byte every 0.25 s: the 30-odd bytes would take 8 s.
        while time.monotonic() - t0 < 5 and i < len(pkt) - 1:
            try:
                c.send_raw(pkt[i:i + 1])
            except OSError:
                closed = True
                break
            i += 1
            if c.wait_closed(0.25):
                closed = True
                break
        check(closed, "a message trickling in for %.1fs was not cut off"
              % (time.monotonic() - t0))
    finally:
        c.close()
    st = net_stats(srv)
    check(st["tcp_read_timeouts"] >= 1, "not counted as a read timeout", st)
    eq(st["tcp_idle_closed"], 0, "closed as idle")
    check(answered(srv, LEGIT, 10), "no TCP service afterwards")


class SlowFlood:
    """Keeps up to `width` connections from src open, each sending one byte
    of a message every half second; at most `total` connections in all."""

    def __init__(self, port, src, width, total, seconds):
        self.port, self.src = port, src
        self.width, self.total, self.seconds = width, total, seconds
        self.opened = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def join(self):
        self.stop.set()
        self.thread.join(self.seconds + 5)

    def _run(self):
        conns = []
        end = time.monotonic() + self.seconds
        try:
            while not self.stop.is_set() and time.monotonic() < end:
                while len(conns) < self.width and self.opened < self.total:
                    try:
                        s = socket.create_connection(("127.0.0.1", self.port), 1,
                                                     source_address=(self.src, 0))
                        s.send(b"\x00")
                        conns.append(s)
                    except OSError:
                        pass
                    self.opened += 1
                self.stop.wait(0.5)
                alive = []
                for s in conns:
                    try:
                        s.send(b"\x20")
                        alive.append(s)
                    except OSError:
                        s.close()
                conns = alive
        finally:
            for s in conns:
                s.close()


@suite.case
def legit_client_served_during_slow_flood():
    limit = 50
    srv = start_server("flood", tcp_max_connections=limit,
                       tcp_max_connections_per_client=1000,
                       tcp_io_timeout="2s", tcp_idle_timeout="30s")
    flood = SlowFlood(srv.port, ATTACKER, limit * 2, 1000, 15).start()
    try:
        full = vt.wait_until(lambda: net_stats(srv)["tcp_open"] >= limit, 5.0, 0.2)
        check(full, "the flood never filled the table", net_stats(srv))
        ok = sum(answered(srv, LEGIT, 100 + i) for i in range(20))
        st = net_stats(srv)
    finally:
        flood.join()
    eq(ok, 20, "legitimate TCP queries answered while the table was full")
    check(st["tcp_evicted"] >= 20, "idle connections not closed for room", st)
    check(st["tcp_open"] <= limit, "more connections open than the limit", st)


@suite.case
def per_client_limit():
    srv = start_server("perclient", tcp_max_connections=100,
                       tcp_max_connections_per_client=5, tcp_idle_timeout="30s")
    conns = []
    try:
        for _ in range(8):
            conns.append(vt.TcpConn(srv.port, src=CROWD, timeout=2))
        ok = sum(answered(srv, CROWD, 200 + i, conn=c) for i, c in enumerate(conns))
        eq(ok, 5, "connections served from one address")
        check(answered(srv, OTHER, 300), "another address refused")
        st = net_stats(srv)
        eq(st["tcp_client_rejected"], 3, "connections refused for the address")
    finally:
        for c in conns:
            c.close()
    # Closing them frees the address's share.
    check(vt.wait_until(lambda: answered(srv, CROWD, 400), 3.0),
          "address still refused after its connections closed")


@suite.case
def oldest_idle_is_closed_for_room():
    srv = start_server("evict", tcp_max_connections=4, tcp_idle_timeout="30s")
    conns = {}
    try:
        for k in "ABCD":
            conns[k] = vt.TcpConn(srv.port, timeout=2)
            check(answered(srv, LEGIT, ord(k), conn=conns[k]), "%s not served" % k)
        check(answered(srv, LEGIT, 1, conn=conns["A"]), "A not served again")
        conns["E"] = vt.TcpConn(srv.port, timeout=2)   # B is now idle longest
        check(answered(srv, LEGIT, ord("E"), conn=conns["E"]), "new connection refused")
        check(conns["B"].wait_closed(2), "the connection idle longest (B) stays open")
        for k in "ACDE":
            check(answered(srv, LEGIT, 50 + ord(k), conn=conns[k]),
                  "%s closed instead of B" % k)
        eq(net_stats(srv)["tcp_evicted"], 1, "connections closed for room")
    finally:
        for c in conns.values():
            c.close()


if __name__ == "__main__":
    suite.main(setup, teardown)
