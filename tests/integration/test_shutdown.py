"""Clean shutdown and the systemd readiness protocol. After SIGTERM with
nothing in flight vpcdns exits at once (well under 200 ms); a query
forwarded before SIGTERM still gets its upstream's answer, over UDP and
TCP, while new queries are no longer taken; server.shutdown_timeout bounds
that wait; server.lameduck keeps answering for its duration (and a second
SIGTERM cuts it short). With NOTIFY_SOCKET set, vpcdns sends READY=1
once serving, RELOADING=1 / READY=1 with a STATUS= around reloads, and
STOPPING=1 on SIGTERM.
"""

import os
import signal
import socket
import statistics
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("shutdown")
S = {}
ANSWER = "198.51.100.9"
SLOW = 0.5   # seconds the slow upstream takes to answer "slow." names


def handler(m, transport):
    if not m.question:
        return None
    name = m.question[0][0]
    if name.lower().startswith("silent."):
        return None
    r = vt.build_response(m, answers=[vt.rr_wire(name, A, 60, vt.rdata_a(ANSWER))])
    if name.lower().startswith("slow."):
        return [("delay", SLOW, r)]
    return [r]


def setup():
    vt.binary()
    S["wd"] = vt.workdir("shutdown")
    S["up"] = vt.FakeUpstream(handler).start()


def teardown():
    if "up" in S:
        S["up"].stop()


def config(srv, **server):
    server.setdefault("query_timeout", "5s")
    server.setdefault("upstream_timeout", "4s")
    return {
        "server": vt.server_block(srv.port, **server),
        "upstreams": {"up": ["127.0.0.1:%d" % S["up"].port]},
        "cache": {"size": 0},
        "views": [{"name": "all", "clients": ["127.0.0.0/8"], "forward": {".": "up"}}],
    }


def start(name, env=None, **server):
    srv = vt.Vpcdns(S["wd"], None, name=name)
    srv.set_config(config(srv, **server))
    if env is None:
        return srv.start()
    open(srv.log_path, "a").close()
    e = vt.server_env(S["wd"])
    e.update(env)
    srv.proc = vt.start_process([vt.binary(), "-c", srv.conf_path], srv.log_path, env=e)
    check(srv.wait_ready(5), "vpcdns did not start", srv.log()[-2000:])
    return srv


def sanitized():
    """Whether the binary is a sanitizer build (their exit-time checks,
    LeakSanitizer's above all, take longer than the process itself)."""
    with open(vt.binary(), "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def wait_exit(srv, timeout=10.0):
    """Waits for srv's process; returns (exit code, seconds waited)."""
    t0 = time.monotonic()
    rc = srv.proc.wait(timeout)
    return rc, time.monotonic() - t0


def finish(srv):
    """The process has exited: clean exit, no sanitizer report."""
    if srv.proc in vt._procs:
        vt._procs.remove(srv.proc)
    srv.sanitizer_checked = True
    rep = srv.sanitizer_report()
    check(rep is None, "sanitizer report", rep)


def udp_send(port, qname):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pkt, qid = vt.make_query(qname, A)
    s.sendto(pkt, ("127.0.0.1", port))
    return s, qid


def udp_answer(s, qid, timeout):
    s.settimeout(timeout)
    try:
        while True:
            m = vt.Msg.parse(s.recv(65535))
            if m.id == qid:
                return m
    except socket.timeout:
        return None
    finally:
        s.close()


@suite.case
def idle_server_exits_within_200ms_of_sigterm():
    bound = 1.0 if sanitized() else 0.2
    times = []
    for i in range(3):
        srv = start("idle%d" % i)
        vt.expect_reply(srv.udp("fast.example"), "a forwarded query before stopping")
        time.sleep(0.1)
        srv.signal(signal.SIGTERM)
        rc, secs = wait_exit(srv)
        finish(srv)
        eq(rc, 0, "exit status")
        times.append(secs)
    med = statistics.median(times)
    print("# SIGTERM to exit: %s s (median %.3f s)" % (
        ", ".join("%.3f" % t for t in times), med))
    check(med < bound, "median time from SIGTERM to exit %.3f s, want < %.1f s"
          % (med, bound))


@suite.case
def query_in_flight_gets_its_answer():
    srv = start("inflight")
    us, uid = udp_send(srv.port, "slow.udp.example")
    tc = vt.TcpConn(srv.port, timeout=3)
    tpkt, tid = vt.make_query("slow.tcp.example", A)
    tc.send_msg(tpkt)
    check(vt.wait_until(lambda: S["up"].asked("slow.tcp.example")
                        and S["up"].asked("slow.udp.example"), 3),
          "the upstream was not asked")
    srv.signal(signal.SIGTERM)
    t0 = time.monotonic()
    # New work is refused while the old finishes: no answer to a UDP
    # query sent once the signal has landed (the upstream still has
    # 0.4 s to go).
    time.sleep(0.1)
    late, lid = udp_send(srv.port, "fast.late.example")
    m = udp_answer(us, uid, 3)
    check(m is not None, "no answer to the UDP query in flight", srv.log()[-1500:])
    eq(m.values(A), [ANSWER], "UDP answer during shutdown")
    tm = vt.Msg.parse(tc.recv_msg(3))
    eq(tm.id, tid, "TCP reply id")
    eq(tm.values(A), [ANSWER], "TCP answer during shutdown")
    check(tc.wait_closed(3), "the TCP connection was not closed after its reply")
    tc.close()
    check(udp_answer(late, lid, 0.3) is None, "a query sent after SIGTERM was answered")
    rc, _ = wait_exit(srv)
    finish(srv)
    eq(rc, 0, "exit status")
    waited = time.monotonic() - t0
    check(waited >= SLOW - 0.2, "exited before the upstream answered (%.2f s)" % waited)
    check(S["up"].asked("fast.late.example") == 0, "the late query was forwarded")


@suite.case
def shutdown_timeout_bounds_the_wait():
    srv = start("deadline", shutdown_timeout="300ms")
    us, uid = udp_send(srv.port, "silent.example")
    check(vt.wait_until(lambda: S["up"].asked("silent.example"), 3),
          "the upstream was not asked")
    srv.signal(signal.SIGTERM)
    rc, secs = wait_exit(srv)
    finish(srv)
    eq(rc, 0, "exit status")
    # query_timeout is 5 s: the exit came from server.shutdown_timeout.
    check(secs < 3.0, "exit took %.2f s with shutdown_timeout 300ms" % secs)
    check(vt.wait_until(lambda: "server.shutdown_timeout passed with 1 queries" in srv.log(), 1),
          "no shutdown_timeout warning", srv.log()[-1500:])
    udp_answer(us, uid, 0.1)


@suite.case
def lameduck_keeps_answering():
    srv = start("lameduck", lameduck="1500ms")
    srv.signal(signal.SIGTERM)
    t0 = time.monotonic()
    check(srv.wait_log(r"draining: answering for 1500 ms more", timeout=2),
          "no lameduck log line", srv.log()[-1500:])
    answered = 0
    while time.monotonic() - t0 < 1.0:
        m = srv.udp("fast.example", timeout=1.0)
        vt.expect_reply(m, "UDP query during the lameduck")
        eq(m.values(A), [ANSWER], "answer during the lameduck")
        answered += 1
        time.sleep(0.1)
    vt.expect_reply(srv.tcp("fast.tcp.example"), "TCP query during the lameduck")
    check(srv.alive(), "exited during the lameduck")
    rc, secs = wait_exit(srv)
    finish(srv)
    eq(rc, 0, "exit status")
    check(time.monotonic() - t0 >= 1.4, "exited before the lameduck ended")
    check(answered >= 5, "only %d answers during the lameduck" % answered)


@suite.case
def second_sigterm_ends_the_lameduck():
    srv = start("lameduck2", lameduck="30s")
    srv.signal(signal.SIGTERM)
    check(srv.wait_log(r"draining: answering", timeout=2), "no lameduck log line")
    vt.expect_reply(srv.udp("fast.example"), "UDP query during the lameduck")
    srv.signal(signal.SIGTERM)
    rc, secs = wait_exit(srv, 10)
    finish(srv)
    eq(rc, 0, "exit status")
    check(secs < 5, "a second SIGTERM did not end a 30 s lameduck (%.1f s)" % secs)


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.msgs = []

    def next(self, key, timeout=5.0):
        """The first message (dict) from now on holding key."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            msg = dict(l.split("=", 1) for l in data.splitlines() if "=" in l)
            self.msgs.append(msg)
            if key in msg:
                return msg
        raise AssertionError("no %s message; got %r" % (key, self.msgs))

    def close(self):
        self.sock.close()


@suite.case
def sd_notify_ready_reload_stopping():
    # Not notify.sock: the harness puts the control socket at NAME.sock.
    ns = NotifySocket(os.path.join(S["wd"], "systemd-notify.sock"))
    try:
        srv = start("notify", env={"NOTIFY_SOCKET": ns.path})
        m = ns.next("READY")
        eq(m["READY"], "1", "READY")
        check("serving generation 1" in m.get("STATUS", ""), "STATUS at start: %r" % m)

        srv.sighup()
        m = ns.next("RELOADING")
        check(int(m.get("MONOTONIC_USEC", "0")) > 0, "MONOTONIC_USEC with RELOADING: %r" % m)
        m = ns.next("READY")
        check("serving generation 2" in m.get("STATUS", "") and "reload ok" in m["STATUS"],
              "STATUS after a reload: %r" % m)

        good = open(srv.conf_path).read()
        vt.write(srv.conf_path, good + "bogus_key: 1\n")
        srv.sighup()
        ns.next("RELOADING")
        m = ns.next("READY")
        check("serving generation 2" in m["STATUS"] and "reload failed" in m["STATUS"]
              and "bogus_key" in m["STATUS"], "STATUS after a failed reload: %r" % m)
        vt.write(srv.conf_path, good)

        srv.signal(signal.SIGTERM)
        m = ns.next("STOPPING")
        eq(m["STOPPING"], "1", "STOPPING")
        rc, _ = wait_exit(srv)
        finish(srv)
        eq(rc, 0, "exit status")
    finally:
        ns.close()


if __name__ == "__main__":
    suite.main(setup, teardown)
