"""The control channel, end to end: the real daemon with two workers and
the real vpcdnsctl on a socket in the test's folder. reload (a good one
prints the new generation; a broken zone prints file:line, exits 1, the
old data keeps serving and status shows the failure), status, stats and
views fields, flush NAME and flush-all (the next query goes upstream
again, counted at a fake upstream), explain --client for clients of two
views (the same lines dig -c CH TXT gets from that address), errors for
unknown commands, bad arguments and oversize requests, a silent client
closed after the read timeout while others are served, the socket's mode,
a second vpcdns on the same socket refused, a stale socket file replaced
and the socket removed at exit. Environment: VPCDNS, VPCDNSCTL.
"""

import json
import os
import re
import socket
import stat
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, CH, TXT, check, eq  # noqa: E402

suite = vt.Suite("ctl")
S = {}
FWD_ADDR = "198.51.100.7"


def zone(addr, broken=False):
    lines = ["$ORIGIN z.test.", "$TTL 60",
             "@ IN SOA ns.z.test. hm.z.test. 1 3600 600 86400 60",
             "ns IN A 192.0.2.53",
             "www IN A %s" % addr]
    if broken:
        lines.append("bad IN A 999.1.2.3")   # line 6
    return "\n".join(lines) + "\n"


def upstream(m, transport):
    if not m.question:
        return None
    name = m.question[0][0]
    return [vt.build_response(m, answers=[vt.rr_wire(name, A, 300, vt.rdata_a(FWD_ADDR))])]


def config():
    return {
        "server": vt.server_block(S["port"], workers=2),
        "upstreams": {"up": ["127.0.0.1:%d" % S["up"].port]},
        "views": [{"name": "a", "clients": ["127.0.0.1/32", "127.0.0.3/32"],
                   "zones": [S["za"]], "forward": {".": "up"}},
                  {"name": "b", "clients": ["127.0.0.2/32"],
                   "zones": [S["zb"]], "forward": {".": "up"}}],
    }


def setup():
    vt.binary()
    vt.ctl_binary()
    wd = S["wd"] = vt.workdir("ctl")
    S["up"] = vt.FakeUpstream(upstream).start()
    S["za"] = vt.write(os.path.join(wd, "a", "z.test.zone"), zone("10.0.0.1"))
    S["zb"] = vt.write(os.path.join(wd, "b", "z.test.zone"), zone("10.0.0.2"))
    S["port"] = vt.free_port()
    S["srv"] = vt.Vpcdns(wd, config(), port=S["port"]).start()


def teardown():
    if "srv" in S:
        S["srv"].stop()
    if "up" in S:
        S["up"].stop()


def ctl(*args, **kw):
    return S["srv"].ctl(*args, **kw)


def ctl_json(*args):
    rc, out, err = ctl("--json", *args)
    check(out.strip(), "vpcdnsctl --json %s: no output" % " ".join(args), err)
    return rc, json.loads(out)


def www(src="127.0.0.1"):
    m = vt.udp_query("www.z.test", A, port=S["port"], src=src)[0]
    check(m is not None, "no reply to www.z.test from %s" % src)
    return m.values(A)


def raw(request, timeout=10.0, eof=False):
    """Sends request bytes on the control socket (then ends the stream when
    eof); returns all it answers."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(S["srv"].ctl_socket)
        s.sendall(request)
        if eof:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            data = s.recv(65536)
            if not data:
                return out.decode()
            out += data
    finally:
        s.close()


@suite.case
def socket_mode_is_0660():
    st = os.stat(S["srv"].ctl_socket)
    check(stat.S_ISSOCK(st.st_mode), "the control socket is a socket")
    eq(stat.S_IMODE(st.st_mode), 0o660, "control socket mode")


@suite.case
def status_fields():
    rc, out, err = ctl("status")
    eq(rc, 0, "status exit status")
    for want in ("generation: ", "views: 2", "workers: 2", "config: " + S["srv"].conf_path,
                 "uptime: ", "zones: 2", "records: 6", "last reload: "):
        check(want in out, "status shows %r" % want, out)
    rc, j = ctl_json("status")
    eq(rc, 0, "status --json exit status")
    eq(j["ok"], True, "ok")
    eq((j["views"], j["workers"], j["zones"], j["records"]), (2, 2, 2, 6),
       "views, workers, zones, records")
    eq(j["config"], S["srv"].conf_path, "config")
    check(j["generation"] >= 1 and j["loaded_at"] > 0 and j["uptime"] >= 0,
          "generation, loaded_at, uptime", j)
    check(j["last_reload"]["result"] in ("none", "ok", "failed"), "last_reload", j)


@suite.case
def views_fields():
    rc, out, err = ctl("views")
    eq(rc, 0, "views exit status")
    check(re.search(r"^a: clients 127\.0\.0\.1/32 127\.0\.0\.3/32; zones 1", out, re.M),
          "view a line", out)
    check(re.search(r"^b: clients 127\.0\.0\.2/32; zones 1", out, re.M), "view b", out)
    rc, j = ctl_json("views")
    eq([(v["name"], v["clients"], v["zones"]) for v in j["views"]],
       [("a", ["127.0.0.1/32", "127.0.0.3/32"], 1), ("b", ["127.0.0.2/32"], 1)],
       "views --json")


@suite.case
def stats_total_and_per_worker():
    _, before = ctl_json("stats")
    for _ in range(5):
        www()
    rc, j = ctl_json("stats")
    eq(rc, 0, "stats exit status")
    eq((j["workers"], j["answered"], len(j["per_worker"])), (2, 2, 2), "workers")
    got = j["total"]["query"]["queries"] - before["total"]["query"]["queries"]
    check(got >= 5, "total queries counted 5 more (got %d)" % got, j["total"])
    eq(sum(w["query"]["queries"] for w in j["per_worker"]), j["total"]["query"]["queries"],
       "total is the sum of the workers")
    check(all("cache" in w and "upstream" in w and "net" in w for w in j["per_worker"]),
          "each worker has cache, upstream and net counters", j["per_worker"][0])
    # The firewall, rate-limit and cookie counters the SIGUSR1 log and
    # /metrics show are here too.
    for k in ("fw_allow", "fw_alert", "fw_block", "ratelimited", "slipped",
              "badcookie", "cookies", "cookies_valid"):
        check(k in j["total"]["query"], "stats has query %s" % k, j["total"]["query"])
    for k in ("explored", "probes", "conn_broken", "conn_retries"):
        check(k in j["total"]["upstream"], "stats has upstream %s" % k,
              j["total"]["upstream"])
    rc, out, _ = ctl("stats")
    check(re.search(r"^total query: queries=\d+", out, re.M), "text total line", out)
    check(re.search(r"^worker 1 cache: entries=\d+", out, re.M), "text worker line", out)


@suite.case
def reload_good_prints_generation():
    vt.write(S["za"], zone("10.0.0.11"))
    rc, out, err = ctl("reload")
    eq(rc, 0, "reload exit status (stderr %r)" % err)
    m = re.match(r"generation (\d+) loaded", out)
    check(m, "reload prints the generation", out)
    gen = int(m.group(1))
    eq(www(), ["10.0.0.11"], "new data served")
    rc, j = ctl_json("reload")
    eq((rc, j["ok"], j["generation"]), (0, True, gen + 1), "reload --json")
    rc, st = ctl_json("status")
    eq((st["generation"], st["last_reload"]["result"]), (gen + 1, "ok"), "status after")


@suite.case
def reload_broken_zone_fails_and_old_data_serves():
    _, st = ctl_json("status")
    gen = st["generation"]
    eq(www(), [www()[0]], "answers before")
    before = www()
    vt.write(S["za"], zone("10.0.0.99", broken=True))
    rc, out, err = ctl("reload")
    eq(rc, 1, "failed reload exit status")
    check(re.search(r"^%s:6: " % re.escape(S["za"]), err, re.M),
          "the error names file:line", err)
    check("generation %d keeps serving" % gen in err, "says what keeps serving", err)
    eq(www(), before, "the old data keeps serving")
    rc, out, err = ctl("status")
    check(re.search(r"^last reload: failed at .* first: %s:6: " % re.escape(S["za"]), out,
                    re.M), "status shows the failed reload and its first error", out)
    rc, j = ctl_json("reload")
    eq((rc, j["ok"], j["generation"]), (1, False, gen), "reload --json on failure")
    check(any(e.startswith(S["za"] + ":6: ") for e in j["errors"]), "errors list", j)
    rc, st = ctl_json("status")
    eq((st["last_reload"]["result"], st["generation"]), ("failed", gen), "status --json")
    check(st["last_reload"]["first_error"].startswith(S["za"] + ":6: "), "first_error", st)
    vt.write(S["za"], zone("10.0.0.1"))
    eq(ctl("reload")[0], 0, "reload after the fix")
    eq(www(), ["10.0.0.1"], "fixed data served")


def fill_cache(name):
    """Asks name until every worker has it cached: then more queries do
    not reach the upstream."""
    for _ in range(12):
        vt.udp_query(name, A, port=S["port"])
    n = S["up"].asked(name)
    for _ in range(12):
        vt.udp_query(name, A, port=S["port"])
    eq(S["up"].asked(name), n, "cached answers for %s stay local" % name)
    return n


def until_upstream(name, n):
    """Queries name until the upstream saw it more than n times."""
    for _ in range(20):
        m = vt.udp_query(name, A, port=S["port"])[0]
        eq(m.values(A), [FWD_ADDR], "forwarded answer")
        if S["up"].asked(name) > n:
            return True
    return False


@suite.case
def flush_name_goes_upstream_again():
    n = fill_cache("f1.example.")
    fill_cache("keep.example.")
    rc, out, err = ctl("flush", "F1.example")
    eq(rc, 0, "flush exit status (stderr %r)" % err)
    m = re.match(r"removed (\d+) cache entries for f1\.example\.", out, re.I)
    check(m and 1 <= int(m.group(1)) <= 2, "flush says what it removed", out)
    check(until_upstream("f1.example.", n), "after flush the name goes upstream again")
    k = S["up"].asked("keep.example.")
    for _ in range(8):
        vt.udp_query("keep.example.", A, port=S["port"])
    eq(S["up"].asked("keep.example."), k, "other names stay cached")


@suite.case
def flush_all_empties_every_worker():
    n = fill_cache("f2.example.")
    rc, j = ctl_json("flush-all")
    eq((rc, j["ok"], j["workers"], j["answered"]), (0, True, 2, 2), "flush-all --json")
    check(j["removed"] >= 1, "flush-all removed entries", j)
    check(until_upstream("f2.example.", n), "after flush-all the name goes upstream again")
    _, st = ctl_json("stats")
    check(st["total"]["cache"]["entries"] <= 2, "the caches were emptied", st["total"])


def dig_explain(name, src):
    """The explain lines a client at src gets (CH TXT over TCP)."""
    pkt, _ = vt.make_query(name, TXT, qclass=CH)
    data = vt.tcp_exchange(pkt, S["port"], src=src)
    m = vt.Msg.parse(data)
    eq(m.rcode_name(), "NOERROR", "explain from %s" % src)
    return [b"".join(rr.value).decode() for rr in m.answer]


def no_port(lines):
    return [re.sub(r"(client 127\.0\.0\.\d+):\d+", r"\1", ln) for ln in lines]


@suite.case
def explain_as_another_client():
    got = {}
    for src in ("127.0.0.1", "127.0.0.2"):
        rc, out, err = ctl("explain", "www.z.test", "--client", src)
        eq(rc, 0, "explain exit status (stderr %r)" % err)
        lines = out.splitlines()
        eq(no_port(lines), no_port(dig_explain("www.z.test", src)),
           "vpcdnsctl explain for %s vs what that client gets" % src)
        got[src] = lines
    check(got["127.0.0.1"][0].startswith("view a;") and
          got["127.0.0.2"][0].startswith("view b;"), "different views", got)
    check(got["127.0.0.1"] != got["127.0.0.2"], "different answers", got)
    rc, out, err = ctl("explain", "www.z.test", "AAAA", "--client", "127.0.0.2")
    eq(no_port(out.splitlines()), no_port(dig_explain("_aaaa.www.z.test", "127.0.0.2")),
       "explain with a type")
    rc, j = ctl_json("explain", "www.z.test", "--client", "127.0.0.3")
    eq((rc, j["view"], j["type"], j["client"]), (0, "a", "A", "127.0.0.3"), "--json")
    check(j["lines"] and j["lines"][-1].startswith("result: NOERROR"), "lines", j)
    rc, out, err = ctl("explain", "www.z.test", "--client", "127.0.0.9")
    eq(rc, 1, "a client in no view: exit status")
    check("127.0.0.9 is in no view" in err, "a client in no view: message", err)


@suite.case
def bad_requests_get_errors():
    for args, what in ((["bogus"], "unknown command"), (["flush"], "usage: flush NAME"),
                       (["explain", "x.test"], "usage: explain"),
                       (["explain", "x.test", "BOGUS", "--client", "127.0.0.1"],
                        "unknown type"),
                       (["flush", "a..b"], "bad name"),
                       (["explain", "x", "--client", "nowhere"], "bad address"),
                       (["status", "extra"], "usage: status")):
        rc, out, err = ctl(*args)
        eq(rc, 2, "vpcdnsctl %s: exit status" % " ".join(args))
        check(what in err, "vpcdnsctl %s: says %r" % (" ".join(args), what), err)
    # The same checks on the server, for clients that are not vpcdnsctl.
    out = raw(b"bogus\n")
    check(out.startswith("error\nunknown command 'bogus'"), "server: unknown command", out)
    out = raw(b"--json flush\n")
    eq(out.split("\n", 1)[0], "error", "server: status line")
    j = json.loads(out.split("\n", 1)[1])
    eq(j["ok"], False, "json error: ok")
    check("usage: flush NAME" in j["errors"][0], "json error: message", j)
    out = raw(b"x" * 5000)
    check(out.startswith("error\nrequest longer than 4096 bytes"), "oversize request", out)
    out = raw(b"status\x01\n")
    check(out.startswith("error\nrequest holds a byte"), "control byte", out)
    out = raw(b"status", eof=True)   # no newline, then end of stream: still one request
    check(out.startswith("ok\nconfig: "), "request ended by EOF", out)


@suite.case
def silent_client_is_closed_others_are_served():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(S["srv"].ctl_socket)
    t0 = time.monotonic()
    try:
        for _ in range(3):
            eq(ctl("status")[0], 0, "status while a client is silent")
        out = b""
        while True:
            data = s.recv(4096)
            if not data:
                break
            out += data
    finally:
        s.close()
    check(out.startswith(b"error\nno complete request line in time"), "timeout message", out)
    check(time.monotonic() - t0 < 19, "closed after the read timeout")


@suite.case
def client_that_does_not_read_is_closed_and_does_not_hold_the_stop():
    # A reply far larger than the socket buffer (thousands of views) to a
    # client that never reads: the write cannot finish. The connection is
    # closed after the read timeout like a silent one, and SIGTERM stops
    # the server meanwhile (a pending write once kept its loop alive).
    cfg = config()
    cfg["views"] = cfg["views"] + [
        {"name": "many-view-%05d" % i, "clients": ["10.%d.%d.0/24" % (i // 250, i % 250)],
         "forward": {".": "up"}} for i in range(6000)]
    port = vt.free_port()
    cfg["server"] = vt.server_block(port, workers=2)
    srv = vt.Vpcdns(S["wd"], cfg, port=port, name="big").start(timeout=20)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        s.connect(srv.ctl_socket)
        s.sendall(b"views\n")
        # Past the read timeout (5 s) the server has closed its end.
        time.sleep(6.5)
        try:
            s.send(b"x")
            closed = False
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        check(closed, "the connection of a client that does not read is closed")
        # A second one, stopped before its timeout.
        s.close()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(srv.ctl_socket)
        s.sendall(b"views\n")
        time.sleep(1.0)
        t0 = time.monotonic()
        rc, in_time = srv.stop(timeout=15)
        check(in_time, "vpcdns stopped while a control client did not read "
              "(waited %.1f s)" % (time.monotonic() - t0), srv.log()[-1500:])
        eq(rc, 0, "exit status")
    finally:
        s.close()
        srv.stop()


@suite.case
def unreachable_socket_exit_3():
    path = os.path.join(S["wd"], "none.sock")
    rc, out, err = vt.check_run([vt.ctl_binary(), "-s", path, "status"])
    eq(rc, 3, "exit status when nothing listens")
    check(path in err and "No such file" in err, "names the socket and why", err)


@suite.case
def second_server_on_the_same_socket_refuses():
    cfg = config()
    cfg["server"] = dict(cfg["server"], control_socket=S["srv"].ctl_socket)
    other = vt.Vpcdns(S["wd"], cfg, name="second")
    p = vt.start_process([vt.binary(), "-c", other.conf_path], other.log_path,
                         env=vt.server_env(S["wd"]))
    try:
        p.wait(20)
    finally:
        vt.stop_process(p)
    check(p.returncode not in (0, None), "the second vpcdns exits with an error")
    check("another process answers on it" in other.log(), "it says why", other.log())
    eq(ctl("status")[0], 0, "the first one still answers on the socket")


@suite.case
def socket_in_a_missing_folder_says_so():
    cfg = config()
    missing = os.path.join(S["wd"], "no-such-dir", "vpcdns.sock")
    cfg["server"] = dict(cfg["server"], control_socket=missing)
    other = vt.Vpcdns(S["wd"], cfg, name="missingdir")
    p = vt.start_process([vt.binary(), "-c", other.conf_path], other.log_path,
                         env=vt.server_env(S["wd"]))
    try:
        p.wait(20)
    finally:
        vt.stop_process(p)
    check(p.returncode not in (0, None), "vpcdns started without its control socket")
    check("No such file or directory" in other.log(),
          "the error does not say the folder is missing", other.log())


@suite.case
def stale_socket_replaced_and_removed_at_exit():
    wd = S["wd"]
    port = vt.free_port()
    cfg = config()
    cfg["server"] = vt.server_block(port)
    srv = vt.Vpcdns(wd, cfg, name="stale", port=port)
    # A socket file nobody listens on, as a killed process leaves it.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(srv.ctl_socket)
    s.close()
    srv.start()
    try:
        eq(srv.ctl("status")[0], 0, "served on the replaced socket")
    finally:
        srv.stop()
    check(not os.path.exists(srv.ctl_socket), "the socket is removed at exit")


if __name__ == "__main__":
    suite.main(setup, teardown)
