"""File descriptors: started under a low open-files limit, vpcdns raises
the soft limit to what its configuration can hold open (up to the hard
limit, as /proc/PID/limits shows; again on a reload that needs more) and
warns, naming the keys, when the hard limit is too low. When upstream
sockets cannot be opened because idle TCP clients hold every descriptor,
it logs so (once, not once per query), counts it as socket_failures in
the SIGUSR1 statistics, and recovers when descriptors are free again.
"""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("fd_limits")
S = {}
ANSWER = "198.51.100.7"
WARN_RE = r"open files limit is \d+ .*server\.tcp_max_connections.*server\.upstream_max_inflight"
SOCK_RE = r"upstream: cannot open a socket: too many open files"


def handler(m, transport):
    if not m.question:
        return None
    return [vt.build_response(m, answers=[vt.rr_wire(m.question[0][0], A, 0,
                                                     vt.rdata_a(ANSWER))])]


def setup():
    vt.binary()
    vt.require_tools("prlimit")
    S["wd"] = vt.workdir("fdlimits")
    S["up"] = vt.FakeUpstream(handler, tcp=False).start()


def teardown():
    try:
        for srv in S.get("servers", []):
            vt.teardown_server(srv)
    finally:
        if "up" in S:
            S["up"].stop()


def srv_config(srv, **server):
    return {
        "server": vt.server_block(srv.port, **server),
        "upstreams": {"up": ["127.0.0.1:%d" % S["up"].port]},
        "cache": {"size": 0},
        "views": [{"name": "all", "clients": ["127.0.0.0/8"], "forward": {".": "up"}}],
    }


def start_limited(name, soft, hard, **server):
    """vpcdns under prlimit (which execs it: the PID is the server's)."""
    srv = vt.Vpcdns(S["wd"], None, name=name)
    srv.set_config(srv_config(srv, **server))
    S.setdefault("servers", []).append(srv)
    open(srv.log_path, "a").close()
    srv.proc = vt.start_process(["prlimit", "--nofile=%d:%d" % (soft, hard), vt.binary(),
                                 "-c", srv.conf_path], srv.log_path, env=vt.server_env(S["wd"]))
    check(srv.wait_ready(5), "vpcdns did not start", srv.log()[-2000:])
    return srv


def nofile(srv):
    with open("/proc/%d/limits" % srv.proc.pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no open files line in /proc/%d/limits" % srv.proc.pid)


@suite.case
def soft_limit_raised_to_what_the_config_needs():
    srv = start_limited("raise", 256, 4096, tcp_max_connections=1000,
                        upstream_max_inflight=1000)
    soft, hard = nofile(srv)
    eq(hard, 4096, "hard limit")
    check(soft > 2000, "soft limit still %d with 1000 TCP clients and 1000 upstream "
          "queries configured" % soft)
    check(srv.wait_log(r"open files limit raised from 256 to %d" % soft, timeout=1),
          "raise not logged", srv.log()[-1500:])
    check(not re.search(WARN_RE, srv.log()), "warned although the limit was raised",
          srv.log()[-1500:])
    # A reload that needs more raises it again.
    srv.set_config(srv_config(srv, tcp_max_connections=1500, upstream_max_inflight=1000))
    check(srv.reload(), "reload failed", srv.log()[-1500:])
    check(nofile(srv)[0] > soft + 400, "soft limit not raised on reload: %d" % nofile(srv)[0])


@suite.case
def warns_naming_the_keys_when_the_hard_limit_is_too_low():
    srv = start_limited("low", 256, 300, tcp_max_connections=1000,
                        upstream_max_inflight=1000)
    eq(nofile(srv), (300, 300), "limits (raised to the hard limit)")
    check(srv.wait_log(WARN_RE, timeout=1), "no warning naming the keys",
          srv.log()[-1500:])
    m = srv.udp("www.fd.test")
    check(m is not None and m.values(A) == [ANSWER], "no forwarded answer", m)


@suite.case
def socket_failures_logged_and_counted():
    srv = start_limited("starved", 64, 64, tcp_max_connections=200,
                        tcp_max_connections_per_client=200,
                        upstream_max_inflight=50, tcp_idle_timeout="30s")
    m = srv.udp("before.fd.test")
    check(m is not None and m.values(A) == [ANSWER], "no forwarded answer at first", m)
    conns = []
    try:
        for _ in range(80):   # more than the descriptors left
            try:
                conns.append(vt.TcpConn(srv.port, timeout=1))
            except OSError:
                break
        failed = 0
        for i in range(5):
            m = srv.udp("starved%d.fd.test" % i, timeout=3)
            failed += m is not None and m.rcode_name() == "SERVFAIL"
        check(failed >= 1, "no upstream query failed with every descriptor in use")
        check(srv.wait_log(SOCK_RE, timeout=2), "socket failure not logged",
              srv.log()[-1500:])
        st = srv.stats()["upstream"]
        check(st["socket_failures"] >= failed, "socket failures not counted", st)
        eq(len(re.findall(SOCK_RE, srv.log(), re.I)), 1, "log lines (rate-limited)")
    finally:
        for c in conns:
            c.close()

    def answered():
        m = srv.udp("after.fd.test", timeout=1)
        return m is not None and m.values(A) == [ANSWER]
    check(vt.wait_until(answered, 5), "no forwarded answer after the clients left")


if __name__ == "__main__":
    suite.main(setup, teardown)
