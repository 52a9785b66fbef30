"""Integration-test harness for vpcdns: runs the real binary on loopback with
real upstreams (nsd, ldns-testns) or scripted Python fakes, and talks to it
with raw DNS packets (a small encoder and a strict decoder written here, so
no third-party module is needed) or with the dig and kdig clients. Every
process it starts is tracked and stopped by its PID at exit; only loopback
addresses are ever used, and every wait is bounded. Each test file builds a
Suite, registers cases with @suite.case and calls suite.main(setup), which
prints one line per case and a closing "N passed, N failed" line and exits
0 (all passed), 1 (a failure) or 77 (skipped, with the reason).
"""

import atexit
import ipaddress
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

# ---- constants -----------------------------------------------------------

A, NS, CNAME, SOA, PTR, HINFO, MX, TXT, AAAA, SRV = 1, 2, 5, 6, 12, 13, 15, 16, 28, 33
DNAME, OPT, DS, RRSIG, NSEC, DNSKEY, IXFR, AXFR, ANY = 39, 41, 43, 46, 47, 48, 251, 252, 255
IN, CH = 1, 3

NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
BADVERS = 16
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN",
               4: "NOTIMP", 5: "REFUSED", 16: "BADVERS"}
TYPE_NAMES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO",
              15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 39: "DNAME",
              41: "OPT", 255: "ANY"}

F_QR, F_AA, F_TC, F_RD, F_RA, F_AD, F_CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0020, 0x0010

OPT_NSID, OPT_COOKIE, OPT_EDE = 3, 10, 15
EDE_PROHIBITED, EDE_NO_REACHABLE, EDE_NETWORK_ERROR = 18, 22, 23

LOOPBACK_OK = ("127.", "::1")


class SkipTest(Exception):
    """Raised to skip a whole test file (exit 77) with a reason."""


class ParseError(Exception):
    """A packet the strict decoder rejects."""


# ---- encoding ------------------------------------------------------------

def name_to_wire(name):
    """Presentation name ("www.example.org", "x.", ".") to uncompressed wire
    form. Case is kept. Accepts bytes labels in a list as well."""
    if isinstance(name, (list, tuple)):
        labels = [l if isinstance(l, bytes) else l.encode() for l in name]
    else:
        if name in ("", "."):
            return b"\x00"
        labels = [l.encode() for l in name.rstrip(".").split(".")]
    out = b""
    for l in labels:
        if len(l) > 63:
            raise ValueError("label too long")
        out += bytes([len(l)]) + l
    return out + b"\x00"


def opt_rr(udp=1232, ext_rcode=0, version=0, do=False, options=(), owner=b"\x00",
           rdata=None):
    """An OPT pseudo-RR. options is a list of (code, bytes); rdata overrides
    the encoded option list (for malformed cases)."""
    if rdata is None:
        rdata = b"".join(struct.pack("!HH", c, len(d)) + d for c, d in options)
    ttl = (ext_rcode << 24) | (version << 16) | (0x8000 if do else 0)
    return owner + struct.pack("!HHIH", OPT, udp, ttl, len(rdata)) + rdata


def make_query(qname, qtype=A, qclass=IN, qid=None, flags=F_RD, opcode=0,
               edns=None):
    """A query packet. edns: None (no OPT), True (default OPT) or a dict of
    opt_rr keyword arguments. Returns (packet bytes, id)."""
    if qid is None:
        qid = random.randrange(0, 65536)
    flags = (flags & ~0x7800) | (opcode << 11)
    ar = b""
    if edns:
        ar = opt_rr(**(edns if isinstance(edns, dict) else {}))
    hdr = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 1 if ar else 0)
    return hdr + name_to_wire(qname) + struct.pack("!HH", qtype, qclass) + ar, qid


def rr_wire(name, rtype, ttl, rdata, cls=IN):
    return name_to_wire(name) + struct.pack("!HHIH", rtype, cls, ttl, len(rdata)) + rdata


def rdata_a(addr):
    return socket.inet_pton(socket.AF_INET, addr)


def rdata_aaaa(addr):
    return socket.inet_pton(socket.AF_INET6, addr)


def rdata_txt(*strings):
    out = b""
    for s in strings:
        s = s if isinstance(s, bytes) else s.encode()
        out += bytes([len(s)]) + s
    return out


def rdata_soa(mname, rname, serial=1, refresh=3600, retry=600, expire=86400, minimum=300):
    return name_to_wire(mname) + name_to_wire(rname) + struct.pack(
        "!IIIII", serial, refresh, retry, expire, minimum)


def build_response(query, answers=(), authority=(), additional=(), rcode=NOERROR,
                   flags=None, qid=None, question=None, edns=None):
    """A response to query (bytes or Msg): the question copied as sent
    unless question (raw bytes of a question entry) is given; answers etc.
    are lists of rr_wire() bytes. flags default to QR|RA + the query's RD."""
    q = query if isinstance(query, Msg) else Msg.parse(query, strict=False)
    if flags is None:
        flags = F_QR | F_RA | (q.flags & (F_RD | F_CD))
    flags = (flags & ~0xF) | (rcode & 0xF)
    if question is None:
        question = q.raw_question
    ar = list(additional)
    if edns:
        ar.append(opt_rr(**(edns if isinstance(edns, dict) else {})))
    hdr = struct.pack("!HHHHHH", q.id if qid is None else qid, flags,
                      1 if question else 0, len(answers), len(authority), len(ar))
    return hdr + question + b"".join(answers) + b"".join(authority) + b"".join(ar)


# ---- decoding ------------------------------------------------------------

def read_name(pkt, off, strict=True):
    """Reads a possibly compressed name. Returns (labels as list of bytes,
    offset after the name in place). Rejects loops, overruns, long names."""
    labels = []
    end = None
    jumps = 0
    total = 1
    while True:
        if off >= len(pkt):
            raise ParseError("name runs past end of packet")
        ln = pkt[off]
        if ln & 0xC0 == 0xC0:
            if off + 1 >= len(pkt):
                raise ParseError("truncated compression pointer")
            ptr = ((ln & 0x3F) << 8) | pkt[off + 1]
            if strict and ptr >= off:
                raise ParseError("forward or self compression pointer at %d" % off)
            if end is None:
                end = off + 2
            jumps += 1
            if jumps > 128:
                raise ParseError("compression loop")
            off = ptr
            continue
        if ln & 0xC0:
            raise ParseError("reserved label type 0x%02x" % ln)
        off += 1
        if ln == 0:
            break
        if off + ln > len(pkt):
            raise ParseError("label runs past end of packet")
        labels.append(pkt[off:off + ln])
        total += ln + 1
        if total > 255:
            raise ParseError("name longer than 255 bytes")
        off += ln
    return labels, (end if end is not None else off)


def labels_text(labels):
    if not labels:
        return "."
    out = []
    for l in labels:
        s = ""
        for b in l:
            c = chr(b)
            if c in ".\\":
                s += "\\" + c
            elif 0x21 <= b <= 0x7E:
                s += c
            else:
                s += "\\%03d" % b
        out.append(s)
    return ".".join(out) + "."


class RR:
    """One decoded resource record. name is presentation text with case as
    received; value is a parsed form for common types (str for A, AAAA and
    names, tuple for SOA/MX, list of bytes for TXT) else the raw rdata."""

    def __init__(self, name, rtype, cls, ttl, rdata, value):
        self.name, self.type, self.cls, self.ttl = name, rtype, cls, ttl
        self.rdata, self.value = rdata, value

    def __repr__(self):
        return "%s %d %s %r" % (self.name, self.ttl, TYPE_NAMES.get(self.type, self.type), self.value)


class Opt:
    def __init__(self, owner, udp, ttl, rdata):
        self.owner = owner
        self.udp = udp
        self.ext_rcode = ttl >> 24
        self.version = (ttl >> 16) & 0xFF
        self.do = bool(ttl & 0x8000)
        self.options = []
        off = 0
        while off < len(rdata):
            if off + 4 > len(rdata):
                raise ParseError("truncated EDNS option header")
            code, ln = struct.unpack_from("!HH", rdata, off)
            off += 4
            if off + ln > len(rdata):
                raise ParseError("EDNS option overruns OPT rdata")
            self.options.append((code, rdata[off:off + ln]))
            off += ln

    def option(self, code):
        for c, d in self.options:
            if c == code:
                return d
        return None

    def ede_codes(self):
        return [struct.unpack("!H", d[:2])[0] for c, d in self.options
                if c == OPT_EDE and len(d) >= 2]


def parse_rdata(pkt, off, rtype, rdlen, strict):
    end = off + rdlen
    if rtype == A:
        if rdlen != 4:
            raise ParseError("A rdata length %d" % rdlen)
        return socket.inet_ntop(socket.AF_INET, pkt[off:end])
    if rtype == AAAA:
        if rdlen != 16:
            raise ParseError("AAAA rdata length %d" % rdlen)
        return socket.inet_ntop(socket.AF_INET6, pkt[off:end])
    if rtype in (NS, CNAME, PTR, DNAME):
        labels, noff = read_name(pkt, off, strict)
        if noff != end:
            raise ParseError("name rdata length mismatch")
        return labels_text(labels)
    if rtype == SOA:
        m, o = read_name(pkt, off, strict)
        r, o = read_name(pkt, o, strict)
        if o + 20 != end:
            raise ParseError("SOA rdata length mismatch")
        return (labels_text(m), labels_text(r)) + struct.unpack_from("!IIIII", pkt, o)
    if rtype == MX:
        if rdlen < 3:
            raise ParseError("MX rdata too short")
        pref = struct.unpack_from("!H", pkt, off)[0]
        labels, noff = read_name(pkt, off + 2, strict)
        if noff != end:
            raise ParseError("MX rdata length mismatch")
        return (pref, labels_text(labels))
    if rtype == TXT:
        out, o = [], off
        while o < end:
            ln = pkt[o]
            if o + 1 + ln > end:
                raise ParseError("TXT string overruns rdata")
            out.append(pkt[o + 1:o + 1 + ln])
            o += 1 + ln
        return out
    return pkt[off:end]


class Msg:
    """A decoded DNS message. rcode includes the OPT extended bits."""

    @classmethod
    def parse(cls, pkt, strict=True):
        m = cls()
        m.raw = pkt
        if len(pkt) < 12:
            raise ParseError("shorter than a header (%d bytes)" % len(pkt))
        m.id, m.flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", pkt, 0)
        m.counts = (qd, an, ns, ar)
        off = 12
        m.question = []
        qstart = off
        for _ in range(qd):
            labels, off = read_name(pkt, off, strict)
            if off + 4 > len(pkt):
                raise ParseError("question truncated")
            qt, qc = struct.unpack_from("!HH", pkt, off)
            off += 4
            m.question.append((labels_text(labels), qt, qc))
        m.raw_question = pkt[qstart:off]
        m.answer, m.authority, m.additional = [], [], []
        m.opt = None
        for section, count in ((m.answer, an), (m.authority, ns), (m.additional, ar)):
            for _ in range(count):
                labels, off = read_name(pkt, off, strict)
                if off + 10 > len(pkt):
                    raise ParseError("RR header truncated")
                rtype, rcls, ttl, rdlen = struct.unpack_from("!HHIH", pkt, off)
                off += 10
                if off + rdlen > len(pkt):
                    raise ParseError("rdata runs past end of packet")
                if rtype == OPT:
                    if section is not m.additional:
                        raise ParseError("OPT outside additional section")
                    if m.opt is not None:
                        raise ParseError("two OPT records")
                    m.opt = Opt(labels_text(labels), rcls, ttl, pkt[off:off + rdlen])
                else:
                    val = parse_rdata(pkt, off, rtype, rdlen, strict)
                    section.append(RR(labels_text(labels), rtype, rcls, ttl,
                                      pkt[off:off + rdlen], val))
                off += rdlen
        if strict and off != len(pkt):
            raise ParseError("%d trailing bytes" % (len(pkt) - off))
        m.rcode = (m.flags & 0xF) | ((m.opt.ext_rcode << 4) if m.opt else 0)
        return m

    qr = property(lambda s: bool(s.flags & F_QR))
    aa = property(lambda s: bool(s.flags & F_AA))
    tc = property(lambda s: bool(s.flags & F_TC))
    rd = property(lambda s: bool(s.flags & F_RD))
    ra = property(lambda s: bool(s.flags & F_RA))
    ad = property(lambda s: bool(s.flags & F_AD))
    cd = property(lambda s: bool(s.flags & F_CD))
    opcode = property(lambda s: (s.flags >> 11) & 0xF)

    def rrs(self, section="answer", rtype=None):
        return [r for r in getattr(self, section) if rtype is None or r.type == rtype]

    def values(self, rtype=A, section="answer"):
        return [r.value for r in self.rrs(section, rtype)]

    def ede_codes(self):
        return self.opt.ede_codes() if self.opt else []

    def rcode_name(self):
        return RCODE_NAMES.get(self.rcode, str(self.rcode))

    def summary(self):
        fl = [n for n, b in (("qr", F_QR), ("aa", F_AA), ("tc", F_TC), ("rd", F_RD),
                             ("ra", F_RA), ("ad", F_AD), ("cd", F_CD)) if self.flags & b]
        s = "id=%d %s [%s] q=%s an=%s ns=%s" % (
            self.id, self.rcode_name(), " ".join(fl), self.question, self.answer,
            self.authority)
        if self.opt:
            s += " opt(udp=%d v=%d do=%d opts=%s)" % (self.opt.udp, self.opt.version,
                                                     self.opt.do, self.opt.options)
        return s

    def __repr__(self):
        return "<Msg %s>" % self.summary()


# ---- transports ----------------------------------------------------------

def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _check_loopback(host):
    if not host.startswith(LOOPBACK_OK):
        raise ValueError("refusing to contact non-loopback address %s" % host)


def udp_exchange(pkt, port, host="127.0.0.1", src=None, timeout=2.0, expect_id=None):
    """Sends one datagram and returns the first reply (bytes) whose ID
    matches expect_id (any reply when None), or None on timeout."""
    _check_loopback(host)
    s = socket.socket(_family(host), socket.SOCK_DGRAM)
    try:
        if src:
            s.bind((src, 0))
        s.connect((host, port))
        s.send(pkt)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                data = s.recv(65535)
            except socket.timeout:
                return None
            except ConnectionRefusedError:
                return None
            if expect_id is None or (len(data) >= 2 and struct.unpack("!H", data[:2])[0] == expect_id):
                return data
    finally:
        s.close()


def udp_query(qname, qtype=A, port=None, host="127.0.0.1", src=None, timeout=2.0,
              **kw):
    """Query over UDP; returns (Msg or None, sent bytes)."""
    pkt, qid = make_query(qname, qtype, **kw)
    data = udp_exchange(pkt, port, host, src, timeout, expect_id=qid)
    return (Msg.parse(data) if data is not None else None), pkt


class Closed(Exception):
    """The peer closed the TCP connection."""


class TcpConn:
    """A client TCP connection with RFC 1035 2-byte framing."""

    def __init__(self, port, host="127.0.0.1", src=None, timeout=2.0):
        _check_loopback(host)
        self.sock = socket.socket(_family(host), socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if src:
            self.sock.bind((src, 0))
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_msg(self, pkt):
        self.sock.sendall(struct.pack("!H", len(pkt)) + pkt)

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                raise Closed("reset")
            if not chunk:
                raise Closed("eof")
            self.buf += chunk
        return True

    def recv_msg(self, timeout=2.0):
        """One framed message (bytes); None on timeout; raises Closed."""
        deadline = time.monotonic() + timeout
        if not self._fill(2, deadline):
            return None
        ln = struct.unpack("!H", self.buf[:2])[0]
        if not self._fill(2 + ln, deadline):
            return None
        data, self.buf = self.buf[2:2 + ln], self.buf[2 + ln:]
        return data

    def wait_closed(self, timeout):
        """True when the server closes the connection within timeout
        (messages received meanwhile are discarded)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.buf = b""
                self._fill(1, deadline)
        except Closed:
            return True
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def tcp_exchange(pkt, port, host="127.0.0.1", src=None, timeout=2.0):
    c = TcpConn(port, host, src, timeout)
    try:
        c.send_msg(pkt)
        return c.recv_msg(timeout)
    except (Closed, OSError):
        return None
    finally:
        c.close()


def tcp_query(qname, qtype=A, port=None, host="127.0.0.1", src=None, timeout=2.0, **kw):
    pkt, qid = make_query(qname, qtype, **kw)
    data = tcp_exchange(pkt, port, host, src, timeout)
    return (Msg.parse(data) if data is not None else None), pkt


# ---- ports, temp dirs, processes -----------------------------------------

_used_ports = set()


def free_port(v6=False):
    """A port free on 127.0.0.1 (and ::1 when v6) for both UDP and TCP."""
    for _ in range(200):
        p = random.randrange(20000, 60000)
        if p in _used_ports:
            continue
        socks = []
        try:
            hosts = ["127.0.0.1"] + (["::1"] if v6 else [])
            for h in hosts:
                for t in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(_family(h), t)
                    socks.append(s)
                    s.bind((h, p))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        _used_ports.add(p)
        return p
    raise RuntimeError("no free port found")


def have_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


_procs = []
_workdirs = []
_keep = {"flag": False}


def start_process(args, log_path, env=None, cwd=None):
    """Starts a tracked process with stdout+stderr going to log_path."""
    log = open(log_path, "ab")
    p = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                         env=env, cwd=cwd)
    log.close()
    _procs.append(p)
    return p


def stop_process(p, sig=signal.SIGTERM, timeout=5.0):
    """Signals p by PID, waits, kills after timeout. Returns the exit code
    (negative for a signal) and whether it exited within timeout."""
    clean = True
    if p.poll() is None:
        try:
            p.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            clean = False
            p.kill()
            p.wait(5)
    if p in _procs:
        _procs.remove(p)
    return p.returncode, clean


def _cleanup():
    for p in list(_procs):
        try:
            stop_process(p, timeout=3)
        except Exception:
            pass
    for d in _workdirs:
        if _keep["flag"] or os.environ.get("VD_KEEP"):
            sys.stdout.write("# files kept in %s\n" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def _on_signal(signum, frame):
    sys.exit(1)   # runs atexit, which stops every process


signal.signal(signal.SIGTERM, _on_signal)


def workdir(tag="vd"):
    d = tempfile.mkdtemp(prefix="vdtest-%s-" % tag)
    _workdirs.append(d)
    return d


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def wait_until(fn, timeout=5.0, interval=0.05):
    """Polls fn() until truthy; returns its value or None."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


# ---- YAML config emitter -------------------------------------------------

def _scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return json.dumps(str(v))


def to_yaml(obj, indent=0):
    """Block-style YAML for dicts, lists of dicts; lists of scalars are
    written in flow style. Strings are double-quoted."""
    pad = "  " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            key = k if re.match(r"^[A-Za-z_][A-Za-z0-9_-]*$", k) else json.dumps(k)
            if isinstance(v, dict):
                if v:
                    out.append("%s%s:" % (pad, key))
                    out.append(to_yaml(v, indent + 1))
                else:
                    out.append("%s%s: {}" % (pad, key))
            elif isinstance(v, list) and any(isinstance(x, dict) for x in v):
                out.append("%s%s:" % (pad, key))
                out.append(to_yaml(v, indent + 1))
            elif isinstance(v, list):
                out.append("%s%s: [%s]" % (pad, key, ", ".join(_scalar(x) for x in v)))
            else:
                out.append("%s%s: %s" % (pad, key, _scalar(v)))
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict):
                sub = to_yaml(item, indent + 1).split("\n")
                out.append("%s- %s" % (pad, sub[0].lstrip()))
                out.extend(sub[1:])
            else:
                out.append("%s- %s" % (pad, _scalar(item)))
    return "\n".join(l for l in out if l != "")


# ---- the server under test -----------------------------------------------

def binary():
    path = os.environ.get("VPCDNS")
    if not path:
        raise SkipTest("VPCDNS is not set (path to the vpcdns binary)")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise SkipTest("vpcdns binary not built yet: %s" % path)
    return path


def ctl_binary():
    """vpcdnsctl: $VPCDNSCTL, or beside the vpcdns binary."""
    path = os.environ.get("VPCDNSCTL") or os.path.join(os.path.dirname(binary()),
                                                        "vpcdnsctl")
    if not os.access(path, os.X_OK):
        raise SkipTest("vpcdnsctl not built yet: %s" % path)
    return path


def with_control_socket(config, path):
    """A copy of a config dict whose server section names the control
    socket path (unless it names one already)."""
    if "server" not in config or not isinstance(config["server"], dict) \
            or "control_socket" in config["server"]:
        return config
    out = dict(config)
    out["server"] = dict(config["server"], control_socket=path)
    return out


def source_dir():
    d = os.environ.get("VD_SOURCE_DIR")
    if d:
        return d
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def require_tools(*tools):
    for t in tools:
        if not shutil.which(t) and not os.path.exists("/usr/sbin/" + t):
            raise SkipTest("%s is not installed" % t)


def resolv_conf(wd):
    """A resolv.conf pointing "system" at loopback only."""
    return write(os.path.join(wd, "resolv.conf"), "nameserver 127.0.0.1\n")


def server_env(wd):
    env = dict(os.environ)
    env["VPCDNS_RESOLV_CONF"] = resolv_conf(wd)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    env.setdefault("TSAN_OPTIONS", "halt_on_error=1:second_deadlock_stack=1")
    return env


# A report from any sanitizer in a server's log fails the test (a
# ThreadSanitizer race is a WARNING, its own failures an ERROR or FATAL).
SANITIZER_RE = re.compile(r"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:"
                          r"|SUMMARY: UndefinedBehaviorSanitizer"
                          r"|(WARNING|ERROR|FATAL): ThreadSanitizer)")
# Every server a test made, so that the runner can check all their logs.
_servers = []


class Vpcdns:
    """The server under test, with its config in wd/NAME.yaml and its
    stderr in wd/NAME.log."""

    def __init__(self, wd, config, name="vpcdns", port=None, v6=False, args=()):
        self.wd, self.name = wd, name
        self.args = list(args)
        self.port = port or free_port(v6)
        self.conf_path = os.path.join(wd, name + ".yaml")
        self.log_path = os.path.join(wd, name + ".log")
        self.proc = None
        # The control socket (server.control_socket), in the test's folder;
        # dict configs get it unless they name one.
        self.ctl_socket = os.path.join(wd, name + ".sock")
        self.set_config(config)
        self.sanitizer_checked = False   # teardown_server looked already
        _servers.append(self)

    def set_config(self, config):
        if isinstance(config, dict):
            config = with_control_socket(config, self.ctl_socket)
        text = config if isinstance(config, str) else to_yaml(config) + "\n"
        write(self.conf_path, text.replace("@PORT@", str(self.port)))

    def start(self, timeout=5.0):
        open(self.log_path, "a").close()
        self.proc = start_process([binary(), "-c", self.conf_path] + self.args,
                                  self.log_path,
                                  env=server_env(self.wd))
        if not self.wait_ready(timeout):
            rc = self.proc.poll()
            raise AssertionError("vpcdns did not answer within %.0fs (exit %s); log:\n%s"
                                 % (timeout, rc, self.log()[-3000:]))
        return self

    def wait_ready(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            pkt, qid = make_query("id.server", TXT, CH)
            if udp_exchange(pkt, self.port, timeout=0.2, expect_id=qid) is not None:
                try:
                    TcpConn(self.port, timeout=0.5).close()
                    return True
                except OSError:
                    pass
            time.sleep(0.05)
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, offset):
        with open(self.log_path, "r", errors="replace") as f:
            f.seek(offset)
            return f.read()

    def wait_log(self, pattern, since=0, timeout=5.0):
        """First match of regex pattern in the log after offset since."""
        rx = re.compile(pattern, re.I)

        def look():
            return rx.search(self.log_since(since))
        return wait_until(look, timeout)

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stats(self, timeout=3.0):
        """Sends SIGUSR1 and returns the counters the server logs, as
        {"query": {...}, "cache": {...}, "upstream": {...}, "net": {...}}
        of ints ("cache" is absent when the server has no cache)."""
        off = self.log_size()
        self.signal(signal.SIGUSR1)
        if not self.wait_log(r"stats: net .*\n", since=off, timeout=timeout):
            raise AssertionError("no stats lines after SIGUSR1; log:\n%s"
                                 % self.log_since(off)[-1500:])
        return parse_stats(self.log_since(off))

    def reload(self, timeout=8.0):
        """SIGHUP, then waits for the reload's outcome. Returns True when a
        new generation was loaded, False when the reload failed."""
        off = self.log_size()
        self.sighup()
        m = self.wait_log(r"reload: (generation \d+ loaded|failed)", since=off,
                          timeout=timeout)
        if not m:
            raise AssertionError("no reload outcome in the log after SIGHUP:\n%s"
                                 % self.log_since(off)[-1500:])
        return m.group(1).startswith("generation")

    def sighup(self):
        self.signal(signal.SIGHUP)

    def stop(self, timeout=5.0):
        """SIGTERM; returns (exit code, exited in time)."""
        if self.proc is None:
            return None, True
        return stop_process(self.proc, signal.SIGTERM, timeout)

    def sanitizer_report(self):
        m = SANITIZER_RE.search(self.log())
        if not m:
            return None
        text = self.log()
        return text[max(0, m.start() - 200):m.start() + 1500]

    def ctl(self, *args, timeout=40):
        """Runs vpcdnsctl on this server's control socket; returns
        (exit status, stdout, stderr)."""
        return check_run([ctl_binary(), "-s", self.ctl_socket] + list(args),
                         timeout=timeout)

    # queries
    def udp(self, qname, qtype=A, **kw):
        return udp_query(qname, qtype, port=self.port, **kw)[0]

    def tcp(self, qname, qtype=A, **kw):
        return tcp_query(qname, qtype, port=self.port, **kw)[0]


def parse_stats(text):
    """The counters of the last SIGUSR1 report in text: one dict per
    "stats:" line, keyed "query" (the line without a section word),
    "cache", "upstream" and "net"."""
    out = {}
    for line in text.splitlines():
        m = re.search(r"stats: (?:([a-z]+) )?((?:[a-z_]+=\d+ ?)+)$", line)
        if not m:
            continue
        out[m.group(1) or "query"] = {k: int(v) for k, v in re.findall(r"([a-z_]+)=(\d+)", m.group(2))}
    return out


def server_block(port, v6=False, **extra):
    s = {"listen": ["127.0.0.1:%d" % port] + (["[::1]:%d" % port] if v6 else []),
         "identity": "vpcdns-test",
         "upstream_timeout": "500ms",
         "tcp_idle_timeout": "5s",
         "tcp_max_connections": 100,
         "log_level": "info"}
    s.update(extra)
    return s


def check_run(args, env=None, timeout=20):
    """Runs a short command; returns (rc, stdout, stderr)."""
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


# ---- real upstreams ------------------------------------------------------

class Nsd:
    """nsd serving zones {origin: zone file text} on 127.0.0.1:port."""

    def __init__(self, wd, zones, name="nsd"):
        require_tools("nsd")
        self.wd = os.path.join(wd, name)
        os.makedirs(self.wd, exist_ok=True)
        self.port = free_port()
        self.zones = zones
        self.log_path = os.path.join(self.wd, "nsd.log")
        self.proc = None
        conf = ["server:",
                "  ip-address: 127.0.0.1@%d" % self.port,
                "  port: %d" % self.port,
                "  do-ip6: no",
                '  zonesdir: "%s"' % self.wd,
                '  pidfile: "%s/nsd.pid"' % self.wd,
                '  username: ""',
                '  chroot: ""',
                '  database: ""',
                '  zonelistfile: "%s/zone.list"' % self.wd,
                '  xfrdfile: "%s/xfrd.state"' % self.wd,
                '  xfrdir: "%s"' % self.wd,
                "  hide-version: yes",
                "  verbosity: 1",
                "  server-count: 1",
                "remote-control:",
                "  control-enable: no"]
        for origin, text in zones.items():
            fn = origin.rstrip(".") + ".zone"
            write(os.path.join(self.wd, fn), text)
            conf += ["zone:", '  name: "%s"' % origin, '  zonefile: "%s"' % fn]
        self.conf_path = write(os.path.join(self.wd, "nsd.conf"), "\n".join(conf) + "\n")

    def server_options(self, *lines):
        """Adds lines ("rrl-ratelimit: 0") to the server: clause of the
        configuration; call before start()."""
        with open(self.conf_path) as f:
            text = f.read()
        text = text.replace("server:\n", "server:\n" + "".join(
            "  %s\n" % l for l in lines), 1)
        write(self.conf_path, text)
        return self

    def start(self):
        self.proc = start_process(["nsd", "-d", "-c", self.conf_path], self.log_path)
        first = next(iter(self.zones))

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("nsd exited: %s" % open(self.log_path).read())
            m, _ = udp_query(first, SOA, port=self.port, timeout=0.2)
            return m is not None and m.rcode == NOERROR
        if not wait_until(ready, 5.0):
            raise AssertionError("nsd did not answer: %s" % open(self.log_path).read())
        return self

    def stop(self):
        if self.proc:
            stop_process(self.proc)


class Testns:
    """ldns-testns answering from a scripted data file on 127.0.0.1:port
    (it binds the wildcard address; we only ever talk to loopback)."""

    def __init__(self, wd, data, name="testns"):
        require_tools("ldns-testns")
        self.port = free_port()
        self.data_path = write(os.path.join(wd, name + ".data"), data)
        self.log_path = os.path.join(wd, name + ".log")
        self.proc = None

    def start(self):
        self.proc = start_process(["ldns-testns", "-p", str(self.port), self.data_path],
                                  self.log_path)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("ldns-testns exited: %s" % open(self.log_path).read())
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return True
            except OSError:
                return False
        if not wait_until(ready, 5.0):
            raise AssertionError("ldns-testns not listening")
        return self

    def stop(self):
        if self.proc:
            stop_process(self.proc)


# ---- scripted Python upstream --------------------------------------------

class FakeUpstream:
    """A UDP+TCP DNS server on 127.0.0.1 run by a thread. handler(msg,
    transport) returns None (stay silent) or a list of actions, each bytes
    (send now), ("delay", seconds, bytes) or ("other_port", bytes) (send
    from a different source port). Every received query is recorded in
    self.queries as (transport, Msg or None, raw bytes, peer address)."""

    def __init__(self, handler, tcp=True, port=None):
        self.handler = handler
        self.port = port or free_port()
        self.queries = []
        self.lock = threading.Lock()
        self.stopping = False
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp = None
        if tcp:
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.tcp.bind(("127.0.0.1", self.port))
            self.tcp.listen(64)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.timers = []

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        self.thread.join(3)
        for t in self.timers:
            t.cancel()
        self.udp.close()
        if self.tcp:
            self.tcp.close()

    def count(self, pred=None):
        with self.lock:
            return sum(1 for q in self.queries if pred is None or pred(q))

    def _record(self, transport, data, addr=None):
        try:
            m = Msg.parse(data, strict=False)
        except ParseError:
            m = None
        with self.lock:
            self.queries.append((transport, m, data, addr))
        return m

    def asked(self, name):
        """How many queries for name (case-insensitive) arrived."""
        name = name.rstrip(".").lower() + "."
        return self.count(lambda q: q[1] is not None and q[1].question
                          and q[1].question[0][0].lower() == name)

    def _act(self, actions, send):
        for a in actions or ():
            if isinstance(a, bytes):
                send(a)
            elif a[0] == "delay":
                t = threading.Timer(a[1], self._safe_send, (send, a[2]))
                t.daemon = True
                self.timers.append(t)
                t.start()
            elif a[0] == "other_port":
                send(a[1], other=True)

    @staticmethod
    def _safe_send(send, data):
        try:
            send(data)
        except OSError:
            pass

    def _run(self):
        conns = {}
        while not self.stopping:
            rl = [self.udp] + ([self.tcp] if self.tcp else []) + list(conns)
            try:
                r, _, _ = select.select(rl, [], [], 0.1)
            except (OSError, ValueError):
                break
            for s in r:
                if s is self.udp:
                    try:
                        data, addr = self.udp.recvfrom(65535)
                    except OSError:
                        continue
                    self._udp_one(data, addr)
                elif s is self.tcp:
                    try:
                        c, _ = self.tcp.accept()
                        conns[c] = b""
                    except OSError:
                        pass
                else:
                    self._tcp_read(s, conns)
        for c in conns:
            c.close()

    def _udp_one(self, data, addr):
        m = self._record("udp", data, addr)
        if m is None:
            return

        def send(pkt, other=False):
            if other:
                o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                o.bind(("127.0.0.1", 0))
                o.sendto(pkt, addr)
                o.close()
            else:
                self.udp.sendto(pkt, addr)
        self._act(self.handler(m, "udp"), send)

    def _tcp_read(self, c, conns):
        try:
            chunk = c.recv(65535)
        except OSError:
            chunk = b""
        if not chunk:
            del conns[c]
            c.close()
            return
        buf = conns[c] + chunk
        while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
            ln = struct.unpack("!H", buf[:2])[0]
            data, buf = buf[2:2 + ln], buf[2 + ln:]
            m = self._record("tcp", data, c.getpeername() if c.fileno() >= 0 else None)
            if m is None:
                continue

            def send(pkt, other=False, c=c):
                c.sendall(struct.pack("!H", len(pkt)) + pkt)
            self._act(self.handler(m, "tcp"), send)
        conns[c] = buf


def silent_handler(msg, transport):
    return None


# ---- real clients --------------------------------------------------------

class ClientResult:
    """Parsed text output of dig or kdig."""

    def __init__(self, text, rc):
        self.text, self.rc = text, rc
        m = re.search(r"status: ([A-Z]+)", text)
        self.status = m.group(1) if m else None
        m = re.search(r"(?:flags|Flags): ([a-z ]*);", text)
        self.flags = set(m.group(1).split()) if m else set()
        self.answer = self._section("ANSWER")
        self.authority = self._section("AUTHORITY")

    def _section(self, name):
        out = []
        m = re.search(r";; %s SECTION:\n(.*?)(?:\n\n|\Z)" % name, self.text, re.S)
        if not m:
            return out
        for line in m.group(1).splitlines():
            if not line.strip() or line.startswith(";"):
                continue
            f = line.split(None, 4)
            if len(f) >= 5:
                out.append((f[0], int(f[1]), f[2], f[3], f[4].strip()))
        return out

    def rdata(self, rtype="A"):
        return [r[4] for r in self.answer if r[3] == rtype]


def dig(port, *args, server="127.0.0.1", timeout=10):
    require_tools("dig")
    _check_loopback(server)
    rc, out, err = check_run(["dig", "@" + server, "-p", str(port), "+tries=1",
                              "+time=2"] + list(args), timeout=timeout)
    return ClientResult(out + err, rc)


def kdig(port, *args, server="127.0.0.1", timeout=10):
    require_tools("kdig")
    _check_loopback(server)
    rc, out, err = check_run(["kdig", "@" + server, "-p", str(port), "+retry=0",
                              "+timeout=2"] + list(args), timeout=timeout)
    return ClientResult(out + err, rc)


# ---- assertions and the suite runner -------------------------------------

def check(cond, msg, *detail):
    if not cond:
        raise AssertionError(msg + "".join("\n    " + str(d) for d in detail))


def eq(got, want, what):
    if got != want:
        raise AssertionError("%s: got %r, expected %r" % (what, got, want))


def expect_reply(m, what="query"):
    check(m is not None, "%s: no reply" % what)
    return m


class Suite:
    """Runs registered cases in order, one line each, then the summary."""

    def __init__(self, name):
        self.name = name
        self.cases = []
        self.passed = 0
        self.failed = 0
        self.failures = []

    def case(self, fn):
        self.cases.append(fn)
        return fn

    def _run_case(self, fn):
        t0 = time.monotonic()
        try:
            fn()
        except SkipTest as e:
            print("skip - %s: %s" % (fn.__name__, e))
            return
        except AssertionError as e:
            self.failed += 1
            self.failures.append(fn.__name__)
            print("FAIL - %s (%.2fs): %s" % (fn.__name__, time.monotonic() - t0, e))
            return
        except Exception as e:
            self.failed += 1
            self.failures.append(fn.__name__)
            print("FAIL - %s (%.2fs): %s: %s" % (fn.__name__, time.monotonic() - t0,
                                                  type(e).__name__, e))
            traceback.print_exc(file=sys.stdout)
            return
        self.passed += 1
        print("ok   - %s (%.2fs)" % (fn.__name__, time.monotonic() - t0))
        sys.stdout.flush()

    def main(self, setup=None, teardown=None):
        """setup() prepares shared state (may raise SkipTest); teardown()
        runs at the end. Exits the process."""
        random.seed()
        code = 0
        try:
            try:
                if setup:
                    setup()
            except SkipTest as e:
                print("skipped: %s" % e)
                print("0 passed, 0 failed (skipped)")
                sys.stdout.flush()
                code = 77
                return
            except Exception as e:
                self.failed += 1
                print("FAIL - setup: %s: %s" % (type(e).__name__, e))
                traceback.print_exc(file=sys.stdout)
            else:
                for fn in self.cases:
                    self._run_case(fn)
            if teardown:
                try:
                    teardown()
                except AssertionError as e:
                    self.failed += 1
                    print("FAIL - teardown: %s" % e)
                except Exception as e:
                    self.failed += 1
                    print("FAIL - teardown: %s: %s" % (type(e).__name__, e))
            for srv in _servers:
                rep = None if srv.sanitizer_checked else srv.sanitizer_report()
                if rep is not None:
                    self.failed += 1
                    self.failures.append("sanitizer")
                    print("FAIL - sanitizer report in %s:\n%s" % (srv.log_path, rep))
            if self.failures:
                print("# failed: %s" % ", ".join(self.failures))
            print("%d passed, %d failed" % (self.passed, self.failed))
            code = 1 if self.failed else 0
            _keep["flag"] = bool(self.failed)
        finally:
            sys.stdout.flush()
            # atexit stops processes and removes temp dirs
            sys.exit(code)


def teardown_server(srv):
    """Stops srv with SIGTERM and fails on an unclean exit or a sanitizer
    report in its log."""
    if srv is None or srv.proc is None:
        return
    was_alive = srv.alive()
    rc, in_time = srv.stop()
    rep = srv.sanitizer_report()
    srv.sanitizer_checked = True
    check(rep is None, "sanitizer report in %s" % srv.log_path, rep)
    check(was_alive, "server had exited before teardown (exit %s)" % rc,
          srv.log()[-2000:])
    check(in_time, "server did not exit within 5s of SIGTERM")
    eq(rc, 0, "exit status after SIGTERM")
