"""SIGHUP reload, end to end: a changed zone file, a zone file added to or
removed from a zone folder, a broken zone file or config (old answers keep
serving, the log names file:line, the daemon lives), a zone file over
server.zone_file_max_size (refused before parsing, old answers kept), generation numbers
that increase, a burst of SIGHUPs coalesced into few reloads, a query in
flight upstream finishing across a reload that removes its rule, a changed
listen address reported as needing a restart, and a reload storm under a
steady stream of UDP and TCP queries that must lose none of them.
"""

import os
import re
import signal
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("reload")
S = {}
BIG_RECORDS = 20000
ZONE_MAX = "1MiB"   # server.zone_file_max_size; big.test.zone is about half
GEN_RE = re.compile(r"gen(?:eration)?\W{0,3}(\d+)|#(\d+)", re.I)


def rl_zone(addr, serial, broken_line=None):
    lines = ["; reload test zone",
             "$ORIGIN rl.test.",
             "$TTL 60",
             "@ IN SOA ns.rl.test. hostmaster.rl.test. %d 3600 600 86400 60" % serial,
             "@ IN NS ns",
             "ns IN A 192.0.2.53",
             "www IN A %s" % addr,
             "pad%d IN TXT \"%s\"" % (serial, "p" * (serial % 7))]
    if broken_line:
        lines.insert(broken_line - 1, "bad IN A 999.1.2.3")
    return "\n".join(lines) + "\n"


def slow_handler(m, transport):
    if not m.question:
        return None
    name = m.question[0][0]
    return [("delay", 0.8, vt.build_response(
        m, answers=[vt.rr_wire(name, A, 30, vt.rdata_a("198.51.100.5"))]))]


def make_config(with_slow=True, extra_line=None, port=None, clients=("127.0.0.1/32",),
                up_port=None, identity="vpcdns-test"):
    srv = S["srv"]
    fwd = {".": "up"}
    if with_slow:
        fwd["slow.test."] = "slow"
    cfg = {
        "server": vt.server_block(port or srv.port, upstream_timeout="2s", identity=identity,
                                  zone_file_max_size=ZONE_MAX),
        "upstreams": {"up": ["127.0.0.1:%d" % (up_port or S["nsd"].port)],
                      "slow": ["127.0.0.1:%d" % S["slow"].port]},
        "views": [{"name": "r", "clients": list(clients),
                   "zones": [S["zdir"] + "/"], "forward": fwd}],
    }
    text = vt.to_yaml(cfg) + "\n"
    if extra_line:
        text += extra_line + "\n"
    return text


def write_zone(addr, serial, broken_line=None):
    path = os.path.join(S["zdir"], "rl.test.zone")
    vt.write(path, rl_zone(addr, serial, broken_line))
    t = time.time() + serial   # distinct mtimes, whatever the clock granularity
    os.utime(path, (t, t))
    return path


def setup():
    vt.binary()
    vt.require_tools("nsd")
    wd = vt.workdir("reload")
    S["wd"] = wd
    S["zdir"] = os.path.join(wd, "zones")
    S["nsd"] = vt.Nsd(wd, {"fwd.test.": "$ORIGIN fwd.test.\n$TTL 60\n"
                           "@ IN SOA ns hm 1 3600 600 86400 60\n@ IN NS ns\n"
                           "ns IN A 192.0.2.53\nname IN A 198.51.100.1\n"}).start()
    S["slow"] = vt.FakeUpstream(slow_handler).start()
    S["alt"] = vt.FakeUpstream(lambda m, t: [vt.build_response(m, answers=[vt.rr_wire(
        m.question[0][0], A, 300, vt.rdata_a("198.51.100.77"))])]).start()
    S["serial"] = 1
    write_zone("10.0.0.1", 1)
    big = ["$ORIGIN big.test.", "$TTL 60",
           "@ IN SOA ns.big.test. hm.big.test. 1 3600 600 86400 60", "@ IN NS ns"]
    big += ["h%05d IN A 10.%d.%d.%d" % (i, i >> 16 & 255, i >> 8 & 255, i & 255)
            for i in range(BIG_RECORDS)]
    vt.write(os.path.join(S["zdir"], "big.test.zone"), "\n".join(big) + "\n")
    srv = vt.Vpcdns(wd, "")
    S["srv"] = srv
    srv.set_config(make_config())
    srv.start(timeout=20)


def teardown():
    try:
        vt.teardown_server(S.get("srv"))
    finally:
        for k in ("nsd", "slow", "alt"):
            if k in S:
                S[k].stop()


def www():
    m = S["srv"].udp("www.rl.test", timeout=1.5)
    return m.values(A) if m is not None else None


def bump(addr, broken_line=None):
    S["serial"] += 1
    return write_zone(addr, S["serial"], broken_line)


def wait_answer(want, timeout=8.0):
    got = vt.wait_until(lambda: www() == [want], timeout, 0.05)
    check(got, "answer never became %s (now %s); log tail:\n%s"
          % (want, www(), S["srv"].log()[-1500:]))


def reload_lines(text):
    return [l for l in text.splitlines() if "reload" in l.lower()]


def generations(text):
    out = []
    for l in reload_lines(text):
        m = GEN_RE.search(l)
        if m:
            out.append(int(m.group(1) or m.group(2)))
    return out


def hup_and_wait(pattern=r"reload", timeout=8.0):
    """SIGHUP, then wait for a log line matching pattern; returns the new
    log text since the signal."""
    off = S["srv"].log_size()
    S["srv"].sighup()
    m = S["srv"].wait_log(pattern, since=off, timeout=timeout)
    check(m, "no log line matching %r after SIGHUP; new log:\n%s"
          % (pattern, S["srv"].log_since(off)[-1500:]))
    time.sleep(0.1)
    return S["srv"].log_since(off)


@suite.case
def initial_answers():
    eq(www(), ["10.0.0.1"], "initial answer")
    m = S["srv"].udp("h12345.big.test")
    check(m is not None and m.values(A) == ["10.0.48.57"], "big zone loaded", m)


@suite.case
def changed_zone_is_picked_up():
    bump("10.0.0.2")
    off = S["srv"].log_size()
    S["srv"].sighup()
    wait_answer("10.0.0.2")
    check(S["srv"].wait_log(r"reload", since=off, timeout=3), "no reload line in the log")
    check(S["srv"].alive(), "server exited")


@suite.case
def zone_file_added_and_removed():
    p = vt.write(os.path.join(S["zdir"], "new.test.zone"),
                 "$ORIGIN new.test.\n$TTL 60\n@ IN SOA ns hm 1 3600 600 86400 60\n"
                 "@ IN NS ns\nns IN A 192.0.2.53\nwww IN A 10.0.9.9\n")
    S["srv"].sighup()

    def present():
        m = S["srv"].udp("www.new.test", timeout=1)
        return m is not None and m.values(A) == ["10.0.9.9"]
    check(vt.wait_until(present, 8.0), "new zone never answered")
    m = S["srv"].udp("www.new.test")
    check(m.aa and m.values(A) == ["10.0.9.9"], "new zone's answer", m)
    os.unlink(p)
    S["srv"].sighup()

    def gone():
        m = S["srv"].udp("www.new.test", timeout=1)
        return m is not None and "10.0.9.9" not in m.values(A)
    check(vt.wait_until(gone, 8.0), "removed zone still answers")
    eq(www(), ["10.0.0.2"], "other zone unaffected")


@suite.case
def broken_zone_keeps_old_answers():
    path = bump("10.0.0.9", broken_line=7)
    text = hup_and_wait(r"rl\.test\.zone:7\b")
    check(S["srv"].alive(), "server exited on a broken zone")
    eq(www(), ["10.0.0.2"], "old answer after a failed reload")
    failed = [l for l in reload_lines(text)
              if re.search(r"fail|error|abort|reject|keep", l, re.I)]
    check(failed, "no reload line reporting the failure", text)
    check(path in text or "rl.test.zone:7" in text, "error does not name the file", text)
    bump("10.0.0.3")
    S["srv"].sighup()
    wait_answer("10.0.0.3")


@suite.case
def broken_config_keeps_old_answers():
    srv = S["srv"]
    good = open(srv.conf_path).read()
    bad_line = len(good.splitlines()) + 1
    vt.write(srv.conf_path, make_config(extra_line="no_such_key: 1"))
    text = hup_and_wait(r"%s:%d\b" % (re.escape(os.path.basename(srv.conf_path)), bad_line))
    check(srv.alive(), "server exited on a broken config")
    eq(www(), ["10.0.0.3"], "old answer after a failed config reload")
    check(re.search(r"no_such_key", text), "error does not name the key", text)
    vt.write(srv.conf_path, make_config(extra_line="views: 17"))   # duplicate key
    hup_and_wait(r"%s:\d+" % re.escape(os.path.basename(srv.conf_path)))
    eq(www(), ["10.0.0.3"], "old answer after a second bad config")
    vt.write(srv.conf_path, good)
    bump("10.0.0.4")
    srv.sighup()
    wait_answer("10.0.0.4")


@suite.case
def oversize_zone_keeps_old_answers():
    # A zone file over server.zone_file_max_size is refused before it is
    # parsed, with "file: reason"; the reload fails and old answers stay.
    before = www()
    path = bump("10.0.0.8")
    pad = "; %s\n" % ("x" * 1000)
    with open(path, "a") as f:
        f.write(pad * 1100)   # ~1.1 MB of comments: over 1 MiB
    size = os.path.getsize(path)
    check(size > 1 << 20, "test zone only %d bytes" % size)
    off = S["srv"].log_size()
    check(not S["srv"].reload(), "reload succeeded with a %d-byte zone file" % size)
    text = S["srv"].log_since(off)
    want = "%s: file is %d bytes, more than the limit of %d (server.zone_file_max_size)" % (
        os.path.basename(path), size, 1 << 20)
    check(want in text, "no '%s' in the log" % want, text[-1500:])
    check(S["srv"].alive(), "server exited on an oversize zone")
    eq(www(), before, "old answer after a reload with an oversize zone")
    bump("10.0.0.5")
    S["srv"].sighup()
    wait_answer("10.0.0.5")


@suite.case
def generation_increases():
    gens = []
    for i in range(3):
        bump("10.0.1.%d" % (i + 1))
        off = S["srv"].log_size()
        S["srv"].sighup()
        wait_answer("10.0.1.%d" % (i + 1))
        check(S["srv"].wait_log(r"reload.*\d", since=off, timeout=3), "no reload log line")
        time.sleep(0.1)
        new = S["srv"].log_since(off)
        g = generations(new)
        check(g, "no generation number in the reload lines", reload_lines(new))
        check(re.search(r"\d+(?:\.\d+)?\s*(?:ms|us|\u00b5s|s)\b",
                        "\n".join(reload_lines(new))),
              "no duration in the reload lines", reload_lines(new))
        gens.append(max(g))
    check(gens[0] < gens[1] < gens[2], "generations do not increase: %s" % gens)


@suite.case
def sighup_burst_coalesces():
    bump("10.0.2.1")
    # A reload reuses unchanged zones in a millisecond, and a file whose
    # text did not change is not parsed again, so the big zone gets new
    # data first: the reload the burst starts parses its 20,000 records
    # (about 10 ms here), and the other SIGHUPs come while it runs.
    path = os.path.join(S["zdir"], "big.test.zone")
    with open(path) as f:
        text = f.read()
    vt.write(path, text + "burst IN A 10.9.9.9\n")
    off = S["srv"].log_size()
    for _ in range(10):   # spread over a fraction of one reload's time
        S["srv"].sighup()
        time.sleep(0.0005)
    wait_answer("10.0.2.1")
    time.sleep(1.5)   # let any queued reload run
    check(S["srv"].alive(), "server died under a SIGHUP burst")
    new = S["srv"].log_since(off)
    g = set(generations(new))
    check(g, "no generation numbers logged", reload_lines(new))
    check(len(g) <= 3, "%d reloads for a burst of 10 SIGHUPs" % len(g), reload_lines(new))
    eq(www(), ["10.0.2.1"], "answer after the burst")


@suite.case
def in_flight_query_survives_reload():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", S["srv"].port))
    try:
        pkt, qid = vt.make_query("x.slow.test", qid=777)
        s.send(pkt)
        time.sleep(0.2)
        vt.write(S["srv"].conf_path, make_config(with_slow=False))
        S["srv"].sighup()
        s.settimeout(4)
        try:
            m = vt.Msg.parse(s.recv(65535))
        except socket.timeout:
            raise AssertionError("query in flight during a reload got no reply")
        eq((m.id, m.values(A)), (777, ["198.51.100.5"]), "in-flight answer")
    finally:
        s.close()
        vt.write(S["srv"].conf_path, make_config())
        S["srv"].sighup()
        time.sleep(0.5)


@suite.case
def client_joins_and_leaves_a_view():
    srv = S["srv"]

    def from5():
        return vt.udp_query("www.rl.test", port=srv.port, src="127.0.0.5", edns=True)[0]
    m = from5()
    check(m is not None and m.rcode == vt.REFUSED, "127.0.0.5 is in no view yet", m)
    vt.write(srv.conf_path, make_config(clients=("127.0.0.1/32", "127.0.0.5/32")))
    srv.sighup()
    check(vt.wait_until(lambda: (from5() or m).rcode == vt.NOERROR, 8.0),
          "127.0.0.5 not served after joining the view")
    vt.write(srv.conf_path, make_config())
    srv.sighup()
    check(vt.wait_until(lambda: (from5() or m).rcode == vt.REFUSED, 8.0),
          "127.0.0.5 still served after leaving the view")
    m = from5()
    check(vt.EDE_PROHIBITED in m.ede_codes(), "no EDE 18 after the reload", m)


@suite.case
def new_upstream_servers_take_effect():
    # The group keeps its name but gets another server: answers cached from
    # the old server must not be served for it.
    srv = S["srv"]

    def fwd():
        m = srv.udp("name.fwd.test", timeout=2)
        return m.values(A) if m is not None else None
    eq(fwd(), ["198.51.100.1"], "answer from nsd")
    vt.write(srv.conf_path, make_config(up_port=S["alt"].port, identity="second-identity"))
    srv.sighup()
    try:
        check(vt.wait_until(lambda: fwd() == ["198.51.100.77"], 8.0),
              "still %s after the group's server changed" % fwd())
        m = srv.udp("id.server", vt.TXT, qclass=vt.CH)
        eq(m.values(vt.TXT), [[b"second-identity"]], "identity after reload")
    finally:
        vt.write(srv.conf_path, make_config())
        srv.sighup()
    check(vt.wait_until(lambda: fwd() == ["198.51.100.1"], 8.0),
          "old server's answer not back after restoring the config: %s" % fwd())


@suite.case
def listen_change_needs_restart():
    srv = S["srv"]
    other = vt.free_port()
    vt.write(srv.conf_path, make_config(port=other))
    try:
        text = hup_and_wait(r"restart")
        check(srv.alive(), "server exited", text)
        m = vt.udp_query("www.rl.test", port=srv.port)[0]
        check(m is not None, "old listen address stopped answering")
        # Reverted: what runs is what the file says, so no warning.
        vt.write(srv.conf_path, make_config())
        text = hup_and_wait(r"generation \d+ loaded")
        check("restart" not in text, "restart still asked for after reverting", text)
    finally:
        vt.write(srv.conf_path, make_config())
        srv.sighup()
        time.sleep(0.3)


@suite.case
def reload_under_steady_queries():
    srv = S["srv"]
    addrs = ("10.0.3.1", "10.0.3.2")
    bump(addrs[0])
    srv.sighup()
    wait_answer(addrs[0])
    stop = threading.Event()
    res = {"udp": [0, 0, []], "tcp": [0, 0, []]}   # sent, answered, problems

    def judge(m, name, r):
        r[1] += 1
        if name.startswith("www"):
            if m.rcode != vt.NOERROR or m.values(A) not in ([addrs[0]], [addrs[1]]):
                r[2].append(m.summary())
        elif m.rcode != vt.NOERROR or m.values(A) != ["198.51.100.1"]:
            r[2].append(m.summary())

    def udp_worker():
        r = res["udp"]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.1", srv.port))
        try:
            i = 0
            while i < 3000 and not (stop.is_set() and i >= 400):
                name = "name.fwd.test" if i % 5 == 4 else "www.rl.test"
                pkt, qid = vt.make_query(name, qid=i & 0xFFFF)
                s.send(pkt)
                r[0] += 1
                deadline = time.monotonic() + 2
                while time.monotonic() < deadline:
                    s.settimeout(deadline - time.monotonic())
                    try:
                        d = s.recv(65535)
                    except socket.timeout:
                        r[2].append("query %d (%s) lost" % (i, name))
                        break
                    m = vt.Msg.parse(d)
                    if m.id == qid:
                        judge(m, name, r)
                        break
                i += 1
                time.sleep(0.0005)
        finally:
            s.close()

    def tcp_worker():
        r = res["tcp"]
        c = vt.TcpConn(srv.port)
        try:
            for i in range(400):
                if stop.is_set() and i >= 100:
                    break
                name = "name.fwd.test" if i % 4 == 3 else "www.rl.test"
                pkt, qid = vt.make_query(name, qid=i)
                c.send_msg(pkt)
                r[0] += 1
                d = c.recv_msg(2)
                if d is None:
                    r[2].append("tcp query %d lost" % i)
                    continue
                judge(vt.Msg.parse(d), name, r)
                time.sleep(0.002)
        except (vt.Closed, OSError) as e:
            r[2].append("TCP connection failed during reloads: %r" % e)
        finally:
            c.close()

    threads = [threading.Thread(target=udp_worker), threading.Thread(target=tcp_worker)]
    for t in threads:
        t.start()
    for k in range(6):
        time.sleep(0.4)
        bump(addrs[(k + 1) % 2])
        srv.sighup()
    stop.set()
    for t in threads:
        t.join(60)
    final = addrs[6 % 2]
    wait_answer(final)
    for kind in ("udp", "tcp"):
        sent, answered, problems = res[kind]
        eq(problems[:5], [], "%s problems (%d total)" % (kind, len(problems)))
        eq(answered, sent, "%s queries answered" % kind)
    check(res["udp"][0] >= 400, "too few UDP queries ran: %d" % res["udp"][0])
    print("#   %d UDP + %d TCP queries across 6 reloads, none lost"
          % (res["udp"][0], res["tcp"][0]))


@suite.case
def sigint_is_a_clean_exit_too():
    # a second server instance on the same config: SIGINT exits 0
    wd = S["wd"]
    srv2 = vt.Vpcdns(wd, "", name="second")
    txt = open(S["srv"].conf_path).read().replace(":%d\"" % S["srv"].port,
                                                  ":%d\"" % srv2.port)
    vt.write(srv2.conf_path, txt)
    srv2.start(timeout=20)
    rc, in_time = vt.stop_process(srv2.proc, signal.SIGINT)
    check(in_time, "no exit within 5s of SIGINT")
    eq(rc, 0, "exit status after SIGINT")


if __name__ == "__main__":
    suite.main(setup, teardown)
