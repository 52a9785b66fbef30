"""DNS over TLS upstreams, end to end: Debian's unbound serves local data
over TLS (RFC 7858) on 127.0.0.1 with a certificate from a throw-away CA
that this test makes with the openssl CLI; vpcdns forwards to it with
tls://127.0.0.1:PORT#dot.test and server.tls_ca_file. Checked: answers
over TLS, verified by name and by address; a wrong name, and a CA vpcdns
does not trust, give SERVFAIL with EDE 23 (Network Error) and a log line
with OpenSSL's reason; failover from a server with a bad certificate to a
good one; many queries share one TLS connection (counted by a small
pass-through proxy in front of unbound, and by unbound's own num.query.tls
statistic); after the connection is cut, the next query dials again and
unbound sees the TLS session resumed (num.query.tls.resume). Exits 77 when
unbound or openssl is missing.
"""

import os
import random
import select
import shutil
import socket
import ssl
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("dot")
S = {}
NAME = "dot.test"
ANSWER = "198.51.100.77"


# ---- certificates, made with the openssl CLI --------------------------------

def openssl(wd, *args):
    rc, out, err = vt.check_run(["openssl"] + list(args), timeout=30)
    if rc != 0:
        raise AssertionError("openssl %s failed: %s" % (args[0], err))


def make_pki(wd):
    """A CA, a server certificate for dot.test and 127.0.0.1 signed by it,
    and a second CA that signed nothing."""
    p = lambda n: os.path.join(wd, n)   # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        openssl(wd, "req", "-x509", *ec, "-keyout", p(ca + ".key"), "-out", p(ca + ".pem"),
                "-days", "2", "-subj", "/CN=vpcdns DoT test %s" % ca,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl(wd, "req", *ec, "-keyout", p("server.key"), "-out", p("server.csr"),
            "-subj", "/CN=" + NAME)
    vt.write(p("server.ext"),
             "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
             "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s,IP:127.0.0.1\n" % NAME)
    openssl(wd, "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"),
            "-CAkey", p("ca.key"), "-CAcreateserial", "-out", p("server.pem"),
            "-days", "2", "-extfile", p("server.ext"))
    return {"ca": p("ca.pem"), "other_ca": p("other-ca.pem"),
            "cert": p("server.pem"), "key": p("server.key")}


# ---- unbound as the DoT server ---------------------------------------------

UNBOUND_CONF = """server:
    verbosity: 1
    do-daemonize: no
    use-syslog: no
    logfile: ""
    username: ""
    chroot: ""
    directory: "{wd}"
    pidfile: "{wd}/unbound.pid"
    interface: 127.0.0.1@{port}
    tls-port: {port}
    tls-service-key: "{key}"
    tls-service-pem: "{cert}"
    tls-session-ticket-keys: "{wd}/ticket.key"
    do-ip6: no
    num-threads: 1
    so-reuseport: no
    incoming-num-tcp: 20
    tcp-idle-timeout: 60000
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    local-zone: "{name}." redirect
    local-data: "{name}. 60 IN A {answer}"
    statistics-cumulative: yes
    extended-statistics: yes
remote-control:
    control-enable: yes
    control-interface: "{wd}/control.sock"
    control-use-cert: no
"""


class UnboundDot:
    """unbound answering every name under dot.test over TLS only."""

    def __init__(self, wd, pki):
        vt.require_tools("unbound")
        self.wd = os.path.join(wd, "unbound")
        os.makedirs(self.wd, exist_ok=True)
        self.port = vt.free_port()
        self.pki = pki
        self.conf = os.path.join(self.wd, "unbound.conf")
        self.log_path = os.path.join(self.wd, "unbound.log")
        with open(os.path.join(self.wd, "ticket.key"), "wb") as f:
            f.write(os.urandom(80))
        vt.write(self.conf, UNBOUND_CONF.format(wd=self.wd, port=self.port, name=NAME,
                                                answer=ANSWER, key=pki["key"],
                                                cert=pki["cert"]))
        self.proc = None

    def start(self):
        self.proc = vt.start_process(["unbound", "-d", "-c", self.conf], self.log_path)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("unbound exited: %s" % open(self.log_path).read())
            try:
                m = dot_query(self.port, "ready." + NAME, self.pki["ca"])
            except OSError:
                return False
            return m is not None and ANSWER in m.values(A)
        if not vt.wait_until(ready, 10.0):
            raise AssertionError("unbound did not answer over TLS: %s"
                                 % open(self.log_path).read())
        return self

    def stats(self):
        """unbound-control stats as a dict, or None when unavailable."""
        if not shutil.which("unbound-control") and \
           not os.path.exists("/usr/sbin/unbound-control"):
            return None
        rc, out, _ = vt.check_run(["unbound-control", "-c", self.conf, "stats_noreset"])
        if rc != 0:
            return None
        d = {}
        for line in out.splitlines():
            k, _, v = line.partition("=")
            try:
                d[k] = float(v)
            except ValueError:
                pass
        return d

    def stop(self):
        if self.proc:
            vt.stop_process(self.proc)


def dot_query(port, qname, cafile, hostname=NAME, timeout=2.0):
    """One query over TLS with Python's ssl module (to check unbound)."""
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=hostname) as s:
            pkt, _ = vt.make_query(qname, A)
            s.sendall(struct.pack("!H", len(pkt)) + pkt)
            hdr = recv_exact(s, 2)
            data = recv_exact(s, struct.unpack("!H", hdr)[0])
            return vt.Msg.parse(data)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return buf


# ---- a pass-through proxy that counts connections ---------------------------

class CountingProxy:
    """127.0.0.1:port -> 127.0.0.1:target, byte for byte (TLS passes
    through untouched); counts the connections accepted and can cut every
    open one."""

    def __init__(self, target):
        self.target = target
        self.port = vt.free_port()
        self.accepted = 0
        self.pairs = {}          # socket -> its peer
        self.lock = threading.Lock()
        self.cut_now = False
        self.stopping = False
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def open_connections(self):
        with self.lock:
            return len(self.pairs) // 2

    def cut(self):
        """Closes every proxied connection; returns once done."""
        self.cut_now = True
        vt.wait_until(lambda: not self.cut_now, 5.0)

    def stop(self):
        self.stopping = True
        self.thread.join(5.0)
        self.listener.close()

    def _close_pair(self, s):
        peer = self.pairs.pop(s, None)
        self.pairs.pop(peer, None)
        for x in (s, peer):
            if x is not None:
                x.close()

    def _accept(self):
        c, _ = self.listener.accept()
        try:
            u = socket.create_connection(("127.0.0.1", self.target), timeout=2)
        except OSError:
            c.close()
            return
        with self.lock:
            self.accepted += 1
            self.pairs[c] = u
            self.pairs[u] = c

    def _run(self):
        while not self.stopping:
            if self.cut_now:
                with self.lock:
                    for s in list(self.pairs):
                        if s in self.pairs:
                            self._close_pair(s)
                self.cut_now = False
            with self.lock:
                socks = [self.listener] + list(self.pairs)
            r, _, _ = select.select(socks, [], [], 0.05)
            for s in r:
                if s is self.listener:
                    self._accept()
                    continue
                with self.lock:
                    if s not in self.pairs:
                        continue
                    try:
                        data = s.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        self._close_pair(s)
                        continue
                    try:
                        self.pairs[s].sendall(data)
                    except OSError:
                        self._close_pair(s)
        with self.lock:
            for s in list(self.pairs):
                if s in self.pairs:
                    self._close_pair(s)


# ---- setup -------------------------------------------------------------------

def tls(port, name=None):
    return "tls://127.0.0.1:%d%s" % (port, "#" + name if name else "")


def vpcdns_config(ca):
    ub, px = S["unbound"].port, S["proxy"].port
    server = vt.server_block(0, query_timeout="3s", upstream_timeout="1s")
    server["listen"] = ["127.0.0.1:@PORT@"]
    # The tests count TLS connections: no loop probes with their own.
    server["loop_check"] = False
    if ca:
        server["tls_ca_file"] = ca
    return {
        "server": server,
        "upstreams": {
            "good": [tls(px, NAME)],
            "byaddr": [tls(ub)],
            "wrong": [tls(ub, "wrong.test")],
            "mixed": [tls(ub, "wrong2.test"), tls(ub, NAME)],
        },
        "views": [{
            "name": "all",
            "clients": ["127.0.0.0/8"],
            "forward": {".": "good", "ip.%s." % NAME: "byaddr",
                        "bad.%s." % NAME: "wrong", "fo.%s." % NAME: "mixed"},
        }],
    }


def setup():
    vt.binary()
    vt.require_tools("unbound", "openssl")
    wd = vt.workdir("dot")
    S["wd"] = wd
    S["pki"] = make_pki(wd)
    S["unbound"] = UnboundDot(wd, S["pki"]).start()
    S["proxy"] = CountingProxy(S["unbound"].port).start()
    S["srv"] = vt.Vpcdns(wd, vpcdns_config(S["pki"]["ca"])).start()


def teardown():
    try:
        vt.teardown_server(S.get("srv"))
        vt.teardown_server(S.get("untrusting"))
    finally:
        for k in ("proxy", "unbound"):
            if S.get(k):
                S[k].stop()


def unique(label):
    """A name under label.dot.test that no cache has seen."""
    return "q%08x.%s.%s" % (random.getrandbits(32), label, NAME)


def answered(m, what):
    vt.expect_reply(m, what)
    eq(m.rcode_name(), "NOERROR", "%s rcode" % what)
    eq(m.values(A), [ANSWER], "%s answer" % what)


def refused_by_tls(m, what):
    vt.expect_reply(m, what)
    eq(m.rcode_name(), "SERVFAIL", "%s rcode" % what)
    check(vt.EDE_NETWORK_ERROR in m.ede_codes(), "%s: EDE 23 expected" % what,
          m.ede_codes())


# ---- cases -------------------------------------------------------------------

@suite.case
def answers_over_tls_by_name():
    srv = S["srv"]
    answered(srv.udp(unique("www")), "UDP client")
    answered(srv.tcp(unique("www")), "TCP client")
    check(S["proxy"].accepted >= 1, "no TLS connection reached the proxy")


@suite.case
def answers_over_tls_by_address():
    answered(S["srv"].udp(unique("ip")), "address-verified server")


@suite.case
def wrong_name_refused():
    srv = S["srv"]
    off = srv.log_size()
    refused_by_tls(srv.udp(unique("bad"), timeout=5.0, edns=True), "wrong name")
    m = srv.wait_log(r"tls://127\.0\.0\.1:\d+#wrong\.test: TLS handshake failed: "
                     r"certificate verification: hostname mismatch", since=off)
    check(m is not None, "no log line with the reason", srv.log_since(off)[-2000:])
    # logged once, not per query
    refused_by_tls(srv.udp(unique("bad"), timeout=5.0, edns=True), "wrong name again")
    time.sleep(0.2)
    eq(srv.log_since(off).count("wrong.test: TLS handshake failed"), 1,
       "log lines for one broken server")


@suite.case
def failover_past_bad_certificate():
    answered(S["srv"].udp(unique("fo"), timeout=5.0), "group with a bad server first")


@suite.case
def untrusted_ca_refused():
    """Without tls_ca_file the system store is used, which does not know
    the test CA."""
    wd = S["wd"]
    srv = vt.Vpcdns(wd, vpcdns_config(None), name="untrusting")
    S["untrusting"] = srv
    srv.start()
    off = 0
    refused_by_tls(srv.udp(unique("www"), timeout=5.0, edns=True), "untrusted CA")
    check(srv.wait_log(r"TLS handshake failed: certificate verification: "
                       r"unable to get local issuer certificate", since=off) is not None,
          "no log line for the untrusted CA", srv.log()[-2000:])


@suite.case
def connection_reused():
    srv, px, ub = S["srv"], S["proxy"], S["unbound"]
    # the connection of the first case may still be open (10 s idle)
    start, was_open = px.accepted, px.open_connections()
    before = ub.stats()
    n = 12
    for i in range(n):
        answered(srv.udp(unique("r%d" % i)), "query %d" % i)
    eq(px.accepted - start, 0 if was_open else 1,
       "new TLS connections for %d queries" % n)
    eq(px.open_connections(), 1, "open TLS connections")
    after = ub.stats()
    if before is not None and after is not None:
        got = after.get("num.query.tls", 0) - before.get("num.query.tls", 0)
        check(got >= n, "unbound counted %d TLS queries, want >= %d" % (got, n))


@suite.case
def pipelined_burst_one_connection():
    srv, px = S["srv"], S["proxy"]
    start = px.accepted
    names = [unique("p%d" % i) for i in range(20)]
    socks = []
    for qn in names:
        pkt, qid = vt.make_query(qn, A)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5.0)
        s.sendto(pkt, ("127.0.0.1", srv.port))
        socks.append((s, qid))
    for s, qid in socks:
        data, _ = s.recvfrom(65535)
        s.close()
        m = vt.Msg.parse(data)
        eq(m.id, qid, "reply ID")
        answered(m, "burst query")
    check(px.accepted - start <= 1, "a burst of 20 opened %d connections"
          % (px.accepted - start))
    eq(px.open_connections(), 1, "open TLS connections after the burst")


@suite.case
def redial_resumes_session():
    srv, px, ub = S["srv"], S["proxy"], S["unbound"]
    answered(srv.udp(unique("s1")), "before the cut")
    before = ub.stats()
    start = px.accepted
    px.cut()
    time.sleep(0.3)          # vpcdns notices the close
    answered(srv.udp(unique("s2")), "after the cut")
    eq(px.accepted - start, 1, "connections dialled after the cut")
    after = ub.stats()
    if before is None or after is None:
        print("# unbound-control unavailable: resumption not checked here")
        return
    got = after.get("num.query.tls.resume", 0) - before.get("num.query.tls.resume", 0)
    check(got >= 1, "unbound saw no resumed TLS session", after)


if __name__ == "__main__":
    suite.main(setup, teardown)
