"""Hostile input, end to end: hand-made malformed queries each checked for
the right outcome (silence below 12 bytes or with QR=1, FORMERR with the
ID echoed when a header can be read, NOTIMP for other opcodes); a
deterministic sample of the CZ-NIC dns-fuzzing packet corpus replayed at
the server over UDP and TCP; seeded random and bit-flipped packets; and
hostile upstream responses (corpus messages served as answers). After each
batch the server must still answer a normal query, every reply it sends
must be a well-formed DNS message, and it must exit cleanly at the end.
The corpus lives outside the repository and is only read in place.
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

suite = vt.Suite("malformed")
S = {}
CORPUS_MAX = 500
BATCH = 50


def corpus_dir():
    d = os.environ.get("VD_CORPUS_DIR")
    if d:
        return d
    return os.path.join(vt.source_dir(), "..", "shared", "corpus", "cznic-dns-fuzzing",
                        "packet")


def corpus_sample(n, seed):
    d = corpus_dir()
    if not os.path.isdir(d):
        raise vt.SkipTest("corpus folder %s is absent" % os.path.normpath(d))
    names = sorted(os.listdir(d))
    rnd = random.Random(seed)
    pick = sorted(rnd.sample(names, min(n, len(names))))
    out = []
    for fn in pick:
        with open(os.path.join(d, fn), "rb") as f:
            out.append((fn, f.read()))
    return out


ZONE = """$ORIGIN mal.test.
$TTL 60
@ IN SOA ns.mal.test. hostmaster.mal.test. 1 3600 600 86400 60
@ IN NS ns
ns IN A 192.0.2.53
www IN A 192.0.2.1
* IN TXT "wild"
"""

HOSTILE = {}   # qname (lower) -> corpus message served as the upstream answer


def splice(resp_body, query):
    """A corpus message turned into an answer to query: the query's ID and
    question, QR set, then the corpus message's records after its own
    question (None when its question cannot be skipped)."""
    try:
        off = 12
        qd = struct.unpack_from("!H", resp_body, 4)[0]
        for _ in range(qd):
            _, off = vt.read_name(resp_body, off, strict=False)
            off += 4
        if off > len(resp_body):
            return None
    except (vt.ParseError, struct.error):
        return None
    flags = struct.unpack_from("!H", resp_body, 2)[0] | vt.F_QR
    counts = resp_body[6:12]
    return (struct.pack("!HHH", query.id, flags & ~0x7800, 1) + counts +
            query.raw_question + resp_body[off:])


def upstream_handler(m, transport):
    if not m.question:
        return None
    name = m.question[0][0].lower()
    body = HOSTILE.get(name)
    if body is not None:
        out = splice(body, m)
        return [out] if out else None
    return [vt.build_response(m, rcode=vt.NXDOMAIN)]


def setup():
    vt.binary()
    wd = vt.workdir("malformed")
    z = vt.write(os.path.join(wd, "mal.test.zone"), ZONE)
    S["up"] = vt.FakeUpstream(upstream_handler).start()
    srv = vt.Vpcdns(wd, None)
    srv.set_config({
        "server": vt.server_block(srv.port, upstream_timeout="300ms", tcp_idle_timeout="2s"),
        "upstreams": {"up": ["127.0.0.1:%d" % S["up"].port]},
        "views": [{"name": "m", "clients": ["127.0.0.1/32"], "zones": [z],
                   "forward": {".": "up"}}],
    })
    S["srv"] = srv.start()


def teardown():
    try:
        vt.teardown_server(S.get("srv"))
    finally:
        if "up" in S:
            S["up"].stop()


def still_answers(what):
    for _ in range(3):
        m = S["srv"].udp("www.mal.test", timeout=1.0)
        if m is not None:
            eq(m.values(A), ["192.0.2.1"], "normal answer after %s" % what)
            check(S["srv"].alive(), "server exited after %s" % what)
            return
    raise AssertionError("server stopped answering after %s (alive=%s)"
                         % (what, S["srv"].alive()))


def send_one(pkt, timeout=0.4):
    """Sends pkt from a fresh socket; returns the reply bytes or None."""
    return vt.udp_exchange(pkt, S["srv"].port, timeout=timeout)


def hdr(qid=0xBEEF, flags=vt.F_RD, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


QTAIL = struct.pack("!HH", A, 1)
GOOD_NAME = vt.name_to_wire("www.mal.test")

# A TSIG record (RFC 8945), well-formed in framing; its content is not
# checked by a server that has no keys.
TSIG = vt.name_to_wire("key.example") + struct.pack("!HHIH", 250, 255, 0, 6) + b"hmac-x"
# (label, packet, expected): expected is None (silence) or an rcode.
HANDMADE = [
    ("empty datagram", b"", None),
    ("one byte", b"\x12", None),
    ("eleven bytes", hdr()[:11], None),
    ("QR=1 response", hdr(flags=vt.F_QR) + GOOD_NAME + QTAIL, None),
    ("QR=1 with NOTIFY opcode", hdr(flags=vt.F_QR | (4 << 11)) + GOOD_NAME + QTAIL, None),
    ("header only, QDCOUNT=1", hdr(), vt.FORMERR),
    ("QDCOUNT=0", hdr(qd=0), vt.FORMERR),
    ("QDCOUNT=2", hdr(qd=2) + GOOD_NAME + QTAIL + GOOD_NAME + QTAIL, vt.FORMERR),
    ("ANCOUNT=1", hdr(an=1) + GOOD_NAME + QTAIL + b"\xc0\x0c" + struct.pack("!HHIH", A, 1, 60, 4) + b"\x01\x02\x03\x04", vt.FORMERR),
    ("NSCOUNT=1 without records", hdr(ns=1) + GOOD_NAME + QTAIL, vt.FORMERR),
    ("ARCOUNT=1 without records", hdr(ar=1) + GOOD_NAME + QTAIL, vt.FORMERR),
    ("question without class", hdr() + GOOD_NAME + struct.pack("!H", A), vt.FORMERR),
    ("name runs past end", hdr() + b"\x03www\x10mal", vt.FORMERR),
    ("label of 64 bytes", hdr() + b"\x40" + b"a" * 64 + b"\x00" + QTAIL, vt.FORMERR),
    ("name longer than 255", hdr() + (b"\x3f" + b"a" * 63) * 4 + b"\x05aaaaa\x00" + QTAIL,
     vt.FORMERR),
    ("pointer to itself", hdr() + b"\xc0\x0c" + QTAIL, vt.FORMERR),
    ("forward pointer", hdr() + b"\xc0\x10" + QTAIL + b"\x03www\x00", vt.FORMERR),
    ("pointer loop", hdr() + b"\x01a\xc0\x0c" + QTAIL, vt.FORMERR),
    ("reserved label type 0x40", hdr() + b"\x41abc\x00" + QTAIL, vt.FORMERR),
    ("reserved label type 0x80", hdr() + b"\x81abc\x00" + QTAIL, vt.FORMERR),
    ("trailing garbage", hdr() + GOOD_NAME + QTAIL + b"\xde\xad\xbe\xef", vt.FORMERR),
    ("two OPT records", hdr(ar=2) + GOOD_NAME + QTAIL + vt.opt_rr() + vt.opt_rr(), vt.FORMERR),
    ("OPT not owned by root", hdr(ar=1) + GOOD_NAME + QTAIL +
     vt.opt_rr(owner=vt.name_to_wire("x")), vt.FORMERR),
    ("OPT rdata past end", hdr(ar=1) + GOOD_NAME + QTAIL +
     vt.opt_rr()[:-2] + struct.pack("!H", 40), vt.FORMERR),
    ("option overruns OPT", hdr(ar=1) + GOOD_NAME + QTAIL +
     vt.opt_rr(rdata=struct.pack("!HH", 10, 30) + b"12345678"), vt.FORMERR),
    ("truncated option header", hdr(ar=1) + GOOD_NAME + QTAIL +
     vt.opt_rr(rdata=b"\x00\x0a\x00"), vt.FORMERR),
    ("OPT in answer section", hdr(an=1) + GOOD_NAME + QTAIL + vt.opt_rr(), vt.FORMERR),
    ("TSIG before OPT", hdr(ar=2) + GOOD_NAME + QTAIL + TSIG + vt.opt_rr(), vt.FORMERR),
    ("two TSIG records", hdr(ar=2) + GOOD_NAME + QTAIL + TSIG + TSIG, vt.FORMERR),
    ("opcode IQUERY", hdr(flags=(1 << 11)) + GOOD_NAME + QTAIL, vt.NOTIMP),
    ("opcode NOTIFY", hdr(flags=(4 << 11)) + GOOD_NAME + QTAIL, vt.NOTIMP),
    ("opcode UPDATE", hdr(flags=(5 << 11)) + GOOD_NAME + QTAIL, vt.NOTIMP),
    ("opcode 9", hdr(flags=(9 << 11)) + GOOD_NAME + QTAIL, vt.NOTIMP),
]


@suite.case
def handmade_malformed_queries():
    problems = []
    for label, pkt, want in HANDMADE:
        qid = struct.unpack("!H", pkt[:2])[0] if len(pkt) >= 2 else None
        data = send_one(pkt)
        if want is None:
            if data is not None:
                problems.append("%s: expected silence, got %r" % (label, data[:24]))
            continue
        if data is None:
            problems.append("%s: expected %s, got silence" % (label, vt.RCODE_NAMES[want]))
            continue
        try:
            m = vt.Msg.parse(data)
        except vt.ParseError as e:
            problems.append("%s: unparsable reply (%s): %r" % (label, e, data[:40]))
            continue
        if m.rcode != want or not m.qr or m.id != qid:
            problems.append("%s: got %s qr=%s id=%04x, expected %s id=%04x" % (
                label, m.rcode_name(), m.qr, m.id, vt.RCODE_NAMES[want], qid))
        if m.answer:
            problems.append("%s: answer records in an error reply" % label)
    eq(problems, [], "hand-made packets with the wrong outcome")
    still_answers("hand-made packets")


@suite.case
def tsig_not_last_is_formerr_not_forwarded():
    # RFC 8945 5.2: a TSIG must be the last additional record; a query with
    # one elsewhere is FORMERR and never reaches an upstream.
    name = "tsig-order.fwd.test"
    for label, extra, ar in (("before OPT", TSIG + vt.opt_rr(), 2),
                             ("twice", TSIG + TSIG, 2),
                             ("before a TXT", TSIG + b"\x00" + struct.pack("!HHIH", 16, 1, 0, 1)
                              + b"\x00", 2)):
        pkt = hdr(qid=0x7517, ar=ar) + vt.name_to_wire(name) + QTAIL + extra
        data = send_one(pkt, timeout=1.0)
        check(data is not None, "no reply to a TSIG %s" % label)
        m = vt.Msg.parse(data)
        eq((m.rcode_name(), m.id, m.answer), ("FORMERR", 0x7517, []), "TSIG %s" % label)
    time.sleep(0.2)
    check(not S["up"].asked(name), "query with a misplaced TSIG forwarded upstream")
    # A TSIG that is last is not a framing error: the query is answered.
    pkt = hdr(qid=0x7518, ar=2) + GOOD_NAME + QTAIL + vt.opt_rr() + TSIG
    m = vt.Msg.parse(send_one(pkt, timeout=1.0) or b"")
    eq((m.rcode_name(), m.values(A)), ("NOERROR", ["192.0.2.1"]), "TSIG last")


@suite.case
def handmade_over_tcp():
    problems = []
    for label, pkt, want in HANDMADE:
        if len(pkt) < 12:
            continue
        try:
            c = vt.TcpConn(S["srv"].port, timeout=1)
        except OSError as e:
            raise AssertionError("TCP connect failed: %s" % e)
        try:
            c.send_msg(pkt)
            try:
                data = c.recv_msg(0.5)
            except vt.Closed:
                data = None
            if want is None and data is not None:
                problems.append("%s: expected silence over TCP" % label)
            elif want is not None:
                if data is None:
                    problems.append("%s: no %s over TCP" % (label, vt.RCODE_NAMES[want]))
                else:
                    m = vt.Msg.parse(data)
                    if m.rcode != want:
                        problems.append("%s: %s over TCP" % (label, m.rcode_name()))
        finally:
            c.close()
    eq(problems, [], "TCP outcomes")
    still_answers("hand-made packets over TCP")


@suite.case
def tcp_stream_abuse():
    cases = [b"\x00", b"\x00\x00", b"\x00\x05abcde", b"\xff\xff" + b"x" * 100,
             b"\x00\x0c" + hdr()[:12], b"\x00\x02\x12\x34"]
    for raw in cases:
        c = vt.TcpConn(S["srv"].port, timeout=1)
        try:
            c.send_raw(raw)
            try:
                d = c.recv_msg(0.3)
                if d is not None:
                    vt.Msg.parse(d)
            except vt.Closed:
                pass
        finally:
            c.close()
    still_answers("TCP stream abuse")


@suite.case
def oversized_datagram():
    pkt = hdr() + GOOD_NAME + QTAIL + b"\x00" * 60000
    data = send_one(pkt)
    if data is not None:
        m = vt.Msg.parse(data)
        eq(m.rcode_name(), "FORMERR", "rcode for 60 KB of trailing bytes")
    still_answers("an oversized datagram")


def blast(packets, what, tcp=False):
    """Sends packets in batches from one UDP socket (or one TCP connection
    per batch); checks every reply parses and answers a packet we sent;
    checks the server still answers after each batch."""
    bad = []
    replies = 0
    for start in range(0, len(packets), BATCH):
        batch = packets[start:start + BATCH]
        ids = {struct.unpack("!H", p[:2])[0] for _, p in batch if len(p) >= 2}
        eligible = sum(1 for _, p in batch if len(p) >= 12 and not p[2] & 0x80)
        got = []
        if tcp:
            c = None
            try:
                c = vt.TcpConn(S["srv"].port, timeout=1)
                for _, p in batch:
                    if 0 < len(p) < 65536:
                        c.send_msg(p)
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline:
                    d = c.recv_msg(deadline - time.monotonic())
                    if d is None:
                        break
                    got.append(d)
            except (vt.Closed, OSError):
                pass
            finally:
                if c is not None:
                    c.close()
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.connect(("127.0.0.1", S["srv"].port))
            try:
                for _, p in batch:
                    try:
                        s.send(p)
                    except OSError:
                        pass
                    time.sleep(0.0005)
                deadline = time.monotonic() + 0.8
                while time.monotonic() < deadline:
                    s.settimeout(max(0.01, deadline - time.monotonic()))
                    try:
                        got.append(s.recv(65535))
                    except (socket.timeout, ConnectionRefusedError):
                        break
            finally:
                s.close()
        for d in got:
            replies += 1
            try:
                m = vt.Msg.parse(d)
            except vt.ParseError as e:
                bad.append("unparsable reply (%s): %r" % (e, d[:32]))
                continue
            if not m.qr:
                bad.append("reply without QR: %s" % m.summary())
            if m.id not in ids:
                bad.append("reply with an ID we never sent: %04x" % m.id)
            if not tcp and m.opt is None and len(d) > 512:
                bad.append("%d-byte UDP reply without EDNS" % len(d))
        check(len(got) <= eligible, "%d replies for %d answerable packets in a batch"
              % (len(got), eligible))
        still_answers("%s batch %d" % (what, start // BATCH))
    eq(bad[:10], [], "bad replies (%d total)" % len(bad))
    return replies


@suite.case
def corpus_replay_udp():
    pkts = corpus_sample(CORPUS_MAX, 2016)
    n = blast(pkts, "corpus over UDP")
    print("#   %d corpus packets sent over UDP, %d replies" % (len(pkts), n))


@suite.case
def corpus_replay_tcp():
    pkts = corpus_sample(150, 7766)
    blast(pkts, "corpus over TCP", tcp=True)


@suite.case
def random_and_bitflipped_packets():
    rnd = random.Random(1035)
    base, _ = vt.make_query("www.mal.test", A, qid=0x0102, edns={"options": [(3, b"")]})
    pkts = []
    for i in range(150):
        pkts.append(("random%d" % i, bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 80)))))
    for i in range(250):
        b = bytearray(base)
        for _ in range(rnd.randrange(1, 6)):
            pos = rnd.randrange(len(b))
            b[pos] ^= 1 << rnd.randrange(8)
        if rnd.random() < 0.2:
            b = b[:rnd.randrange(len(b))]
        pkts.append(("flip%d" % i, bytes(b)))
    blast(pkts, "random packets")


@suite.case
def hostile_upstream_answers():
    pkts = corpus_sample(4000, 99)
    bodies = [p for _, p in pkts if len(p) >= 12 and p[2] & 0x80][:150]
    check(bodies, "no response-shaped packets in the corpus sample")
    for i, b in enumerate(bodies):
        HOSTILE["h%d.hostile.test." % i] = b
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", S["srv"].port))
    sent = {}
    bad = []
    try:
        for i in range(len(bodies)):
            pkt, qid = vt.make_query("h%d.hostile.test" % i, A, qid=i + 1,
                                     edns={"udp": 4096} if i % 2 else None)
            sent[qid] = pkt
            s.send(pkt)
            time.sleep(0.001)
        got = {}
        deadline = time.monotonic() + 4
        while len(got) < len(sent) and time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                d = s.recv(65535)
            except socket.timeout:
                break
            try:
                m = vt.Msg.parse(d)
            except vt.ParseError as e:
                bad.append("unparsable reply (%s): %r" % (e, d[:32]))
                continue
            if m.id not in sent:
                bad.append("unknown ID %d" % m.id)
                continue
            if m.raw_question != vt.Msg.parse(sent[m.id]).raw_question:
                bad.append("question not echoed for %d" % m.id)
            if m.aa:
                bad.append("AA on a forwarded answer %d" % m.id)
            got[m.id] = m
    finally:
        s.close()
    eq(bad[:10], [], "bad replies to forwarded queries (%d total)" % len(bad))
    missing = sorted(set(sent) - set(got))
    eq(missing[:10], [], "queries left without any reply (%d total)" % len(missing))
    still_answers("hostile upstream answers")


if __name__ == "__main__":
    suite.main(setup, teardown)
