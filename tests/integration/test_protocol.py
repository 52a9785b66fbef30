"""Protocol rules, end to end: TCP per RFC 7766 (2-byte framing across
partial writes, several messages per segment, pipelining with answers as
they complete, idle timeout that activity resets, a connection limit),
EDNS per RFC 6891 (OPT only when asked, payload 1232 advertised, BADVERS,
unknown options ignored, DO copied, small payloads read as 512), UDP
truncation with TC and the full answer over TCP, UDP answers capped at
the advertised 1232 bytes whatever the client's buffer, NSID (RFC 5001), CH TXT
id.server / hostname.bind / version.bind / version.server (and
hide_version), explanations too long for UDP truncated, NOTIMP for other opcodes (no RA, RD, CD or AD in it), silence
for QR=1.
"""

import os
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, TXT, check, eq  # noqa: E402

suite = vt.Suite("protocol")
S = {}
IDENTITY = "vpcdns-proto-id"
BIG, MEDIUM, HUGE = 30, 5, 400
CHAIN = 6
IDLE_S = 1.0
LIMIT = 4


def zone_text():
    big = "\n".join('big IN TXT "%03d-%s"' % (i, "b" * 96) for i in range(BIG))
    big += "\n" + "\n".join('huge IN TXT "%03d-%s"' % (i, "h" * 96) for i in range(HUGE))
    med = "\n".join('medium IN TXT "%03d-%s"' % (i, "m" * 96) for i in range(MEDIUM))
    # A CNAME chain whose explanation (one TXT per step) exceeds 512 bytes.
    chain = "\n".join("chain%d IN CNAME chain%d" % (i, i + 1) for i in range(CHAIN))
    chain += "\nchain%d IN A 192.0.2.9" % CHAIN
    return ("$ORIGIN proto.test.\n$TTL 60\n"
            "@ IN SOA ns.proto.test. hostmaster.proto.test. 1 3600 600 86400 60\n"
            "@ IN NS ns\nns IN A 192.0.2.53\nwww IN A 192.0.2.1\n"
            "w2 IN A 192.0.2.2\n%s\n%s\n%s\n" % (big, med, chain))


def slow_handler(m, transport):
    if not m.question:
        return None
    name = m.question[0][0]
    if name.lower().endswith("slow.test."):
        return [("delay", 0.6, vt.build_response(
            m, answers=[vt.rr_wire(name, A, 30, vt.rdata_a("198.51.100.5"))]))]
    return [vt.build_response(m, rcode=vt.NXDOMAIN)]


def config(srv, zone, up, **server):
    return {
        "server": vt.server_block(srv.port, v6=S["v6"], identity=IDENTITY, **server),
        "upstreams": {"up": ["127.0.0.1:%d" % up.port]},
        "views": [{"name": "p", "clients": ["127.0.0.1/32"] + (["::1/128"] if S["v6"] else []),
                   "zones": [zone], "forward": {".": "up"}}],
    }


def setup():
    vt.binary()
    vt.require_tools("dig", "kdig")
    wd = vt.workdir("protocol")
    S["v6"] = vt.have_ipv6()
    z = vt.write(os.path.join(wd, "proto.test.zone"), zone_text())
    S["up"] = vt.FakeUpstream(slow_handler).start()
    srv = vt.Vpcdns(wd, None, v6=S["v6"])
    srv.set_config(config(srv, z, S["up"], tcp_idle_timeout="%dms" % int(IDLE_S * 1000),
                          upstream_timeout="2s",
                          hide_version=False))
    S["srv"] = srv.start()
    hid = vt.Vpcdns(wd, None, name="hidden", v6=S["v6"])
    hid.set_config(config(hid, z, S["up"], hide_version=True, tcp_idle_timeout="30s",
                          tcp_max_connections=LIMIT))
    S["hid"] = hid.start()


def teardown():
    try:
        vt.teardown_server(S.get("srv"))
        vt.teardown_server(S.get("hid"))
    finally:
        if "up" in S:
            S["up"].stop()


def port():
    return S["srv"].port


def uq(name, qtype=A, srv="srv", **kw):
    m, sent = vt.udp_query(name, qtype, port=S[srv].port, **kw)
    check(m is not None, "no reply to %s" % name)
    s = vt.Msg.parse(sent)
    eq(m.id, s.id, "reply ID")
    eq(m.raw_question, s.raw_question, "question echoed")
    return m


def frame(pkt):
    return struct.pack("!H", len(pkt)) + pkt


# ---- TCP -----------------------------------------------------------------

@suite.case
def tcp_single_query():
    m = S["srv"].tcp("www.proto.test")
    check(m is not None, "no TCP reply")
    eq(m.values(A), ["192.0.2.1"], "answer")


@suite.case
def tcp_partial_writes():
    c = vt.TcpConn(port())
    try:
        pkt, qid = vt.make_query("www.proto.test", qid=0x1234)
        data = frame(pkt)
        c.send_raw(data[:1])
        time.sleep(0.05)
        c.send_raw(data[1:7])
        time.sleep(0.05)
        c.send_raw(data[7:])
        m = vt.Msg.parse(c.recv_msg(2) or b"")
        eq(m.id, qid, "ID")
        eq(m.values(A), ["192.0.2.1"], "answer after split writes")
        pkt, qid = vt.make_query("w2.proto.test", qid=0x4321)
        for b in frame(pkt):   # one byte per segment
            c.send_raw(bytes([b]))
            time.sleep(0.003)
        m = vt.Msg.parse(c.recv_msg(2) or b"")
        eq((m.id, m.values(A)), (qid, ["192.0.2.2"]), "answer after byte-by-byte writes")
    finally:
        c.close()


@suite.case
def tcp_several_messages_per_segment():
    c = vt.TcpConn(port())
    try:
        p1, i1 = vt.make_query("www.proto.test", qid=1)
        p2, i2 = vt.make_query("w2.proto.test", qid=2)
        p3, i3 = vt.make_query("www.proto.test", qid=3)
        blob = frame(p1) + frame(p2) + frame(p3)
        cut = len(frame(p1)) + len(frame(p2)) + 5
        c.send_raw(blob[:cut])
        time.sleep(0.1)
        c.send_raw(blob[cut:])
        got = {}
        for _ in range(3):
            d = c.recv_msg(2)
            check(d is not None, "missing reply; have %s" % sorted(got))
            m = vt.Msg.parse(d)
            got[m.id] = m.values(A)
        eq(got, {1: ["192.0.2.1"], 2: ["192.0.2.2"], 3: ["192.0.2.1"]}, "answers by ID")
    finally:
        c.close()


@suite.case
def tcp_pipelining():
    c = vt.TcpConn(port())
    try:
        want = {}
        blob = b""
        for i in range(25):
            name = "www.proto.test" if i % 2 else "w2.proto.test"
            pkt, qid = vt.make_query(name, qid=100 + i)
            want[qid] = name + "."
            blob += frame(pkt)
        c.send_raw(blob)
        got = {}
        deadline = time.monotonic() + 4
        while len(got) < len(want) and time.monotonic() < deadline:
            d = c.recv_msg(max(0.05, deadline - time.monotonic()))
            if d is None:
                break
            m = vt.Msg.parse(d)
            got[m.id] = m
        eq(sorted(got), sorted(want), "pipelined IDs answered")
        for qid, m in got.items():
            eq(m.question[0][0], want[qid], "question of %d" % qid)
    finally:
        c.close()


@suite.case
def tcp_answers_as_they_complete():
    c = vt.TcpConn(port())
    try:
        p1, i1 = vt.make_query("a.slow.test", qid=11)   # upstream waits 0.6 s
        p2, i2 = vt.make_query("www.proto.test", qid=22)
        t0 = time.monotonic()
        c.send_raw(frame(p1) + frame(p2))
        first = vt.Msg.parse(c.recv_msg(3) or b"")
        t1 = time.monotonic() - t0
        second = vt.Msg.parse(c.recv_msg(3) or b"")
        eq((first.id, second.id), (22, 11), "order of replies (local first)")
        check(t1 < 0.5, "local answer waited %.2fs behind a slow upstream" % t1)
        eq(second.values(A), ["198.51.100.5"], "slow forwarded answer")
    finally:
        c.close()


@suite.case
def tcp_half_close_still_answered():
    c = vt.TcpConn(port())
    try:
        pkt, qid = vt.make_query("www.proto.test", qid=77)
        c.send_msg(pkt)
        c.sock.shutdown(socket.SHUT_WR)   # the client is done sending
        d = c.recv_msg(2)
        check(d is not None, "no answer after the client half-closed")
        eq(vt.Msg.parse(d).id, 77, "ID")
    except vt.Closed:
        raise AssertionError("connection closed without the answer after a half-close")
    finally:
        c.close()


@suite.case
def tcp_idle_timeout_closes():
    c = vt.TcpConn(port())
    try:
        t0 = time.monotonic()
        closed = c.wait_closed(IDLE_S + 2.0)
        el = time.monotonic() - t0
        check(closed, "idle connection still open after %.1fs" % el)
        check(el >= IDLE_S * 0.7, "closed after %.2fs, before the idle timeout" % el)
    finally:
        c.close()
    c = vt.TcpConn(port())   # after an answered query, and mid-frame
    try:
        c.send_msg(vt.make_query("www.proto.test")[0])
        check(c.recv_msg(2) is not None, "no reply")
        c.send_raw(b"\x00\x30\x12")
        check(c.wait_closed(IDLE_S + 2.0), "half-sent frame kept the connection open")
    finally:
        c.close()


@suite.case
def tcp_activity_resets_idle_timer():
    c = vt.TcpConn(port())
    try:
        for i in range(6):   # 6 x 0.35 s is well past one idle period
            pkt, qid = vt.make_query("www.proto.test", qid=500 + i)
            c.send_msg(pkt)
            d = c.recv_msg(2)
            check(d is not None and vt.Msg.parse(d).id == qid, "query %d unanswered" % i)
            time.sleep(IDLE_S * 0.35)
    except vt.Closed:
        raise AssertionError("connection closed although it was active")
    finally:
        c.close()


@suite.case
def tcp_connection_limit():
    conns = []
    try:
        for i in range(LIMIT + 6):
            try:
                conns.append(vt.TcpConn(S["hid"].port, timeout=1))
            except OSError:
                conns.append(None)
        served = []
        for rnd in range(2):
            ok = set()
            for i, c in enumerate(conns):
                if c is None:
                    continue
                try:
                    c.send_msg(vt.make_query("www.proto.test", qid=i)[0])
                except OSError:
                    continue
            for i, c in enumerate(conns):
                if c is None:
                    continue
                try:
                    d = c.recv_msg(0.4)
                except (vt.Closed, OSError):
                    conns[i] = None
                    continue
                if d is not None:
                    ok.add(i)
            served.append(ok)
        both = served[0] & served[1]
        check(1 <= len(both) <= LIMIT, "%d connections served twice, limit %d"
              % (len(both), LIMIT), served)
        m = S["hid"].udp("www.proto.test")
        check(m is not None, "UDP starved while TCP is at its limit")
    finally:
        for c in conns:
            if c is not None:
                c.close()

    def fresh():
        try:
            m = vt.tcp_query("www.proto.test", port=S["hid"].port, timeout=0.5)[0]
            return m is not None
        except OSError:
            return False
    check(vt.wait_until(fresh, 3.0), "no TCP service after the connections closed")


# ---- EDNS ----------------------------------------------------------------

@suite.case
def edns_opt_only_when_asked():
    m = uq("www.proto.test")
    check(m.opt is None, "OPT in reply to a query without one", m)
    m = uq("www.proto.test", edns={"udp": 4096})
    check(m.opt is not None, "no OPT in reply to an EDNS query", m)
    eq((m.opt.udp, m.opt.version, m.opt.ext_rcode, m.opt.owner), (1232, 0, 0, "."),
       "OPT udp/version/ext-rcode/owner")


@suite.case
def edns_badvers():
    for tcp in (False, True):
        fn = vt.tcp_query if tcp else vt.udp_query
        m, sent = fn("www.proto.test", A, port=port(), edns={"version": 1})
        check(m is not None, "no reply to EDNS version 1 (tcp=%s)" % tcp)
        eq(m.rcode, vt.BADVERS, "extended rcode (tcp=%s)" % tcp)
        eq(m.flags & 0xF, 0, "low rcode bits of BADVERS")
        eq(m.opt.version, 0, "version in our OPT")
        eq(m.answer, [], "answer to a BADVERS query")
        eq(m.id, vt.Msg.parse(sent).id, "ID")
    r = vt.dig(port(), "+edns=1", "+noednsnegotiation", "www.proto.test")
    eq(r.status, "BADVERS", "dig status")


@suite.case
def edns_unknown_options_ignored():
    m = uq("www.proto.test", edns={"options": [(65001, b"hello"), (10, b"12345678"),
                                               (12, b"\x00" * 8)]})
    eq(m.rcode_name(), "NOERROR", "rcode")
    eq(m.values(A), ["192.0.2.1"], "answer")
    check(m.opt.option(65001) is None, "unknown option echoed", m)


@suite.case
def edns_do_copied():
    m = uq("www.proto.test", edns={"do": True})
    check(m.opt.do, "DO not copied", m)
    m = uq("www.proto.test", edns={"do": False})
    check(not m.opt.do, "DO set although not asked", m)


@suite.case
def edns_small_payload_read_as_512():
    m = uq("www.proto.test", edns={"udp": 100})
    eq(m.values(A), ["192.0.2.1"], "small answer fits")
    m = uq("medium.proto.test", TXT, edns={"udp": 100})
    check(m.tc, "TC expected: medium answer is over 512 bytes", m)
    check(len(m.raw) <= 512, "reply of %d bytes for a payload below 512" % len(m.raw))


# ---- truncation ----------------------------------------------------------

@suite.case
def truncation_without_edns():
    for name in ("medium.proto.test", "big.proto.test"):
        m = uq(name, TXT)
        check(m.tc, "no TC on a %s answer to a 512-byte client" % name, m)
        check(len(m.raw) <= 512, "UDP reply of %d bytes without EDNS" % len(m.raw))
        check(m.opt is None, "OPT in reply to a query without EDNS", m)


@suite.case
def truncation_with_edns():
    m = uq("big.proto.test", TXT, edns={"udp": 512})
    check(m.tc, "no TC at 512", m)
    check(len(m.raw) <= 512, "reply of %d bytes at 512" % len(m.raw))
    check(m.opt is not None, "truncated reply lost its OPT", m)
    m = uq("medium.proto.test", TXT, edns={"udp": 1232})
    check(not m.tc, "TC although the answer fits 1232", m)
    eq(len(m.values(TXT)), MEDIUM, "records at 1232")
    m = uq("big.proto.test", TXT, edns={"udp": 1232})
    check(m.tc and len(m.raw) <= 1232, "big answer at 1232: tc=%s len=%d" % (m.tc, len(m.raw)))


@suite.case
def udp_capped_at_advertised_size():
    # However large a buffer the client claims, a UDP answer is no larger
    # than the 1232 bytes we advertise; TCP still carries everything.
    for name, n in (("big.proto.test", BIG), ("huge.proto.test", HUGE)):
        for udp in (4096, 65535):
            m = uq(name, TXT, edns={"udp": udp})
            check(m.tc, "no TC for %s at EDNS %d" % (name, udp), m)
            check(len(m.raw) <= 1232, "UDP reply of %d bytes for %s at EDNS %d"
                  % (len(m.raw), name, udp))
            check(m.opt is not None and m.opt.udp == 1232, "OPT of the capped reply", m)
        m = uq(name, TXT)
        check(m.tc and len(m.raw) <= 512, "no EDNS: tc=%s len=%d" % (m.tc, len(m.raw)))
        m = S["srv"].tcp(name, TXT, timeout=3)
        check(m is not None and not m.tc, "TCP reply truncated", m)
        eq(len(m.values(TXT)), n, "records over TCP")
    m = uq("medium.proto.test", TXT, edns={"udp": 65535})
    check(not m.tc, "TC although the answer fits 1232", m)
    eq(len(m.values(TXT)), MEDIUM, "records at EDNS 65535")


@suite.case
def tcp_carries_the_whole_answer():
    m = S["srv"].tcp("big.proto.test", TXT)
    check(m is not None and not m.tc, "TCP reply truncated", m)
    eq(len(m.values(TXT)), BIG, "records over TCP")
    r = vt.dig(port(), "big.proto.test", "TXT")
    eq(len(r.rdata("TXT")), BIG, "dig after its TCP retry")
    check("Truncated, retrying in TCP mode" in r.text, "dig never saw TC over UDP", r.text[:400])
    r = vt.kdig(port(), "+tcp", "big.proto.test", "TXT")
    eq(len(r.rdata("TXT")), BIG, "kdig +tcp")


@suite.case
def tcp_answer_over_32k():
    m = S["srv"].tcp("huge.proto.test", TXT, timeout=3)
    check(m is not None and not m.tc, "no complete TCP reply for a ~42 KB RRset", m)
    eq(len(m.values(TXT)), HUGE, "records over TCP")
    check(len(m.raw) > 32768, "reply only %d bytes" % len(m.raw))


@suite.case
def client_gone_before_forwarded_answer():
    for i in range(5):   # TCP: the client closes while the upstream is slow
        c = vt.TcpConn(port())
        c.send_msg(vt.make_query("gone%d.slow.test" % i)[0])
        c.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # UDP: socket closed
    s.connect(("127.0.0.1", port()))
    s.send(vt.make_query("udpgone.slow.test")[0])
    s.close()
    time.sleep(0.9)   # the upstream answers after 0.6 s
    check(S["srv"].alive(), "server exited")
    m = S["srv"].tcp("www.proto.test")
    check(m is not None and m.values(A) == ["192.0.2.1"], "no answer afterwards", m)


@suite.case
def many_tcp_connections_pipelined():
    conns = [vt.TcpConn(port()) for _ in range(30)]
    try:
        for k, c in enumerate(conns):
            c.send_raw(b"".join(frame(vt.make_query("www.proto.test", qid=k * 10 + j)[0])
                                for j in range(5)))
        for k, c in enumerate(conns):
            ids = set()
            for _ in range(5):
                d = c.recv_msg(3)
                check(d is not None, "connection %d: missing replies (have %s)" % (k, ids))
                ids.add(vt.Msg.parse(d).id)
            eq(ids, {k * 10 + j for j in range(5)}, "IDs on connection %d" % k)
    finally:
        for c in conns:
            c.close()


# ---- NSID and CHAOS ------------------------------------------------------

@suite.case
def nsid_when_asked():
    m = uq("www.proto.test", edns={"options": [(vt.OPT_NSID, b"")]})
    eq(m.opt.option(vt.OPT_NSID), IDENTITY.encode(), "NSID payload")
    m = uq("www.proto.test", edns=True)
    check(m.opt.option(vt.OPT_NSID) is None, "NSID without being asked", m)
    r = vt.dig(port(), "+nsid", "www.proto.test")
    check('("%s")' % IDENTITY in r.text, "dig +nsid does not show the identity", r.text)


@suite.case
def chaos_identity():
    for name in ("id.server", "hostname.bind", "ID.SERVER"):
        m = uq(name, TXT, qclass=vt.CH)
        eq(m.rcode_name(), "NOERROR", "rcode of CH TXT %s" % name)
        eq(m.values(TXT), [[IDENTITY.encode()]], "CH TXT %s" % name)
        eq(m.answer[0].cls, vt.CH, "answer class")
    r = vt.dig(port(), "-c", "CH", "-t", "TXT", "id.server")
    eq(r.rdata("TXT"), ['"%s"' % IDENTITY], "dig CH TXT id.server")


@suite.case
def chaos_version():
    for name in ("version.bind", "version.server"):
        m = uq(name, TXT, qclass=vt.CH)
        eq(m.rcode_name(), "NOERROR", "rcode of %s" % name)
        vals = m.values(TXT)
        check(len(vals) == 1 and vals[0] and vals[0][0], "empty version text", m)
    for name in ("version.bind", "version.server"):
        m = uq(name, TXT, srv="hid", qclass=vt.CH)
        eq(m.rcode_name(), "REFUSED", "%s with hide_version" % name)
        eq(m.answer, [], "answer with hide_version")
    m = uq("id.server", TXT, srv="hid", qclass=vt.CH)
    eq(m.values(TXT), [[IDENTITY.encode()]], "id.server still answered with hide_version")


@suite.case
def chaos_explain_truncated_not_refused():
    # An explanation too long for the client's UDP size is truncated (TC,
    # then the client retries over TCP), not refused.
    m = uq("chain0.proto.test", TXT, qclass=vt.CH)
    eq(m.rcode_name(), "NOERROR", "rcode of a long explanation over UDP")
    check(m.tc, "no TC on an explanation over 512 bytes", m)
    check(len(m.raw) <= 512 and m.answer == [], "truncated reply: %d bytes" % len(m.raw), m)
    for kw in ({"tcp": True}, {"edns": {"udp": 1232}}):
        if kw.get("tcp"):
            m = S["srv"].tcp("chain0.proto.test", TXT, qclass=vt.CH)
        else:
            m = uq("chain0.proto.test", TXT, qclass=vt.CH, **kw)
        check(m is not None and not m.tc, "explanation truncated (%s)" % kw, m)
        eq(m.rcode_name(), "NOERROR", "rcode (%s)" % kw)
        # The header, one line per step (CHAIN CNAMEs and the answer) and
        # the result line.
        eq(len(m.values(TXT)), CHAIN + 3, "explanation lines (%s)" % kw)
        check(len(m.raw) > 512, "explanation only %d bytes" % len(m.raw))
    r = vt.dig(port(), "+noedns", "-c", "CH", "-t", "TXT", "chain0.proto.test")
    eq(r.status, "NOERROR", "dig status")
    check("Truncated, retrying in TCP mode" in r.text, "dig never saw TC", r.text[:400])
    eq(len(r.rdata("TXT")), CHAIN + 3, "dig after its TCP retry")


# ---- opcodes and QR ------------------------------------------------------

@suite.case
def other_opcodes_notimp():
    for opcode in (1, 2, 4, 5, 15):
        m, sent = vt.udp_query("www.proto.test", A, port=port(), opcode=opcode)
        check(m is not None, "no reply to opcode %d" % opcode)
        eq(m.rcode_name(), "NOTIMP", "rcode for opcode %d" % opcode)
        check(m.qr, "QR", m)
        eq(m.id, vt.Msg.parse(sent).id, "ID")
        eq(m.opcode, opcode, "opcode echoed")
    m, sent = vt.tcp_query("www.proto.test", A, port=port(), opcode=4)
    check(m is not None and m.rcode == vt.NOTIMP, "NOTIFY over TCP", m)


@suite.case
def notimp_carries_no_query_flags():
    # ISC genreport's opcode/opcodeflg tests: a NOTIMP reply to an unknown
    # opcode sets none of RA, RD, CD, AD (nor AA or TC), whatever the
    # query's flags were.
    sent_flags = (0, vt.F_RD, vt.F_RD | vt.F_CD | vt.F_AD, vt.F_TC | vt.F_AD | vt.F_CD)
    for opcode in (1, 3, 15):
        for flags in sent_flags:
            for edns in (None, True):
                pkt, qid = vt.make_query("www.proto.test", A, flags=flags,
                                         opcode=opcode, edns=edns)
                data = vt.udp_exchange(pkt, port(), expect_id=qid)
                check(data is not None, "no reply to opcode %d flags %#x" % (opcode, flags))
                m = vt.Msg.parse(data)
                eq((m.opcode, m.rcode_name()), (opcode, "NOTIMP"), "opcode and rcode")
                extra = m.flags & (vt.F_RA | vt.F_RD | vt.F_CD | vt.F_AD | vt.F_AA | vt.F_TC)
                eq(extra, 0, "flags of NOTIMP to opcode %d, query flags %#x" % (opcode, flags))
                check(m.qr, "QR", m)


@suite.case
def qr_set_is_dropped():
    pkt, qid = vt.make_query("www.proto.test", flags=vt.F_QR | vt.F_RD)
    eq(vt.udp_exchange(pkt, port(), timeout=0.5), None, "reply to a QR=1 packet")
    check(uq("www.proto.test") is not None, "server stopped answering")


@suite.case
def rd_clear_kept_clear():
    m = uq("www.proto.test", flags=0)
    check(not m.rd, "RD set in reply to RD=0", m)
    check(m.aa and m.ra, "AA/RA", m)


@suite.case
def ipv6_listener():
    if not S["v6"]:
        raise vt.SkipTest("no IPv6 loopback")
    m, _ = vt.udp_query("www.proto.test", A, port=port(), host="::1")
    check(m is not None and m.values(A) == ["192.0.2.1"], "UDP over ::1", m)
    m, _ = vt.tcp_query("www.proto.test", A, port=port(), host="::1")
    check(m is not None and m.values(A) == ["192.0.2.1"], "TCP over ::1", m)


@suite.case
def udp_reply_from_the_queried_address():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(2)
        pkt, qid = vt.make_query("www.proto.test")
        s.sendto(pkt, ("127.0.0.1", port()))
        data, addr = s.recvfrom(65535)
        eq(addr, ("127.0.0.1", port()), "reply source")
    finally:
        s.close()


if __name__ == "__main__":
    suite.main(setup, teardown)
