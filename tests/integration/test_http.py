"""The HTTP listener, end to end with curl (a real client) and promtool:
/metrics passes `promtool check metrics`; counters move for a local
answer, a cache hit, a forwarded query, a refused client (no view), a dead
upstream (timeouts, the server's state, one log line per state change,
not per query) and a failed and a good reload; http.per_view_metrics off
drops the view label; /health and /ready answer 200, other paths 404 and
other methods 405; /ready is 503 "loading" while a large first load runs
(the listener starts before it); http.max_connections is enforced; every
metric the Grafana dashboard queries exists; and under systemd
(JOURNAL_STREAM naming the log's device and inode) log lines carry <N>
syslog priorities.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("http")
S = {}
ZONE = """$ORIGIN h.test.
$TTL 60
@ IN SOA ns hm 1 3600 600 86400 60
@ IN NS ns
ns IN A 192.0.2.1
www IN A 192.0.2.80
"""
BIG_RECORDS = 200000
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def config(port, http_port, per_view=True, zone="h.test.zone", max_conn=None, extra=None):
    http = {"listen": ["127.0.0.1:%d" % http_port]}
    if not per_view:
        http["per_view_metrics"] = False
    if max_conn:
        http["max_connections"] = max_conn
    cfg = {
        "server": vt.server_block(port, workers=2, upstream_timeout="300ms",
                                  query_timeout="700ms"),
        "upstreams": {"good": ["127.0.0.1:%d" % S["good"].port],
                      "dead": ["127.0.0.1:%d" % S["dead"].port]},
        "views": [{"name": "main", "clients": ["127.0.0.1/32"],
                   "zones": [os.path.join(S["wd"], zone)],
                   "forward": {".": "good", "dead.test.": "dead"}}],
        "http": http,
    }
    if extra:
        cfg.update(extra)
    return cfg


def curl(path, port=None, method=None, timeout=5):
    """(status, body) from curl, or (0, "") when the connection failed."""
    args = ["curl", "-s", "--max-time", str(timeout), "-o", "-", "-w", "\n%{http_code}"]
    if method:
        args += ["-X", method]
    args.append("http://127.0.0.1:%d%s" % (port or S["http"], path))
    rc, out, _ = vt.check_run(args, timeout=timeout + 5)
    body, _, code = out.rpartition("\n")
    return int(code or 0), body


def scrape():
    code, body = curl("/metrics")
    eq(code, 200, "/metrics status")
    return body


def samples(text):
    """{(name, labels text): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        check(m, "not a sample line: %r" % line)
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def value(s, name, **labels):
    """Sum of name's samples whose labels include every labels item."""
    total = 0.0
    for (n, lt), v in s.items():
        if n != name:
            continue
        if all('%s="%s"' % (k, v2) in lt for k, v2 in labels.items()):
            total += v
    return total


def moved(before, after, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


def setup():
    vt.binary()
    vt.require_tools("curl", "promtool")
    wd = vt.workdir("http")
    S["wd"] = wd
    vt.write(os.path.join(wd, "h.test.zone"), ZONE)

    def good(m, transport):
        name, qtype, _ = m.question[0]
        return [vt.build_response(m, answers=[vt.rr_wire(name, A, 300,
                                                         vt.rdata_a("198.51.100.9"))])]
    S["good"] = vt.FakeUpstream(good).start()
    S["dead"] = vt.FakeUpstream(lambda m, t: None).start()
    srv = vt.Vpcdns(wd, None)
    S["http"] = vt.free_port()
    srv.set_config(config(srv.port, S["http"]))
    S["srv"] = srv.start()


def teardown():
    try:
        vt.teardown_server(S.get("srv"))
    finally:
        for k in ("good", "dead"):
            if k in S:
                S[k].stop()


@suite.case
def promtool_accepts_metrics():
    S["srv"].udp("www.h.test")
    text = scrape()
    p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    eq(p.returncode, 0, "promtool check metrics exit status (%s)"
       % p.stdout.decode(errors="replace")[:2000])
    check('vpcdns_build_info{version="' in text, "no build_info")


@suite.case
def endpoints_and_methods():
    code, body = curl("/health")
    eq(code, 200, "/health")
    check(body.startswith("ok"), "/health body", body)
    code, body = curl("/ready")
    eq(code, 200, "/ready")
    check(body.startswith("ready: generation"), "/ready body", body)
    eq(curl("/")[0], 404, "/")
    eq(curl("/metrics/x")[0], 404, "/metrics/x")
    eq(curl("/metrics", method="POST")[0], 405, "POST /metrics")
    eq(curl("/ready", method="DELETE")[0], 405, "DELETE /ready")


@suite.case
def local_answer_and_refused_client_counted():
    srv = S["srv"]
    before = samples(scrape())
    eq(srv.udp("www.h.test").values(A), ["192.0.2.80"], "local answer")
    m = srv.tcp("www.h.test", vt.AAAA)
    check(m is not None, "no TCP reply")
    m, _ = vt.udp_query("www.h.test", A, port=srv.port, src="127.0.0.2")
    eq(m.rcode, vt.REFUSED, "client outside every view")
    after = samples(scrape())
    eq(moved(before, after, "vpcdns_requests_total", view="main", transport="udp",
             family="ipv4", qtype="A"), 1, "UDP A requests of view main")
    eq(moved(before, after, "vpcdns_requests_total", view="main", transport="tcp",
             qtype="AAAA"), 1, "TCP AAAA requests of view main")
    eq(moved(before, after, "vpcdns_responses_total", view="main", rcode="NOERROR"), 2,
       "NOERROR responses")
    eq(moved(before, after, "vpcdns_clients_refused_total"), 1, "clients refused")
    eq(moved(before, after, "vpcdns_responses_total", view="(none)", rcode="REFUSED"), 1,
       "REFUSED responses to clients with no view")
    eq(moved(before, after, "vpcdns_request_duration_seconds_count", route="local"), 2,
       "local route durations")


@suite.case
def forward_then_cache_hit_counted():
    srv = S["srv"]
    before = samples(scrape())
    eq(srv.udp("fwd1.example").values(A), ["198.51.100.9"], "forwarded")
    mid = samples(scrape())
    # Two workers, each with its own cache: a few more asks reach both.
    for _ in range(6):
        eq(srv.udp("fwd1.example").values(A), ["198.51.100.9"], "cached")
    after = samples(scrape())
    eq(moved(before, mid, "vpcdns_upstream_queries_total", group="good"), 1,
       "upstream queries")
    eq(moved(before, mid, "vpcdns_upstream_answers_total", group="good"), 1,
       "upstream answers")
    eq(moved(before, mid, "vpcdns_upstream_response_seconds_count", group="good"), 1,
       "upstream response time samples")
    eq(moved(before, mid, "vpcdns_request_duration_seconds_count", route="forward"), 1,
       "forward route durations")
    hits = moved(mid, after, "vpcdns_cache_hits_total")
    check(hits >= 5, "cache hits: %d of 6" % hits)
    eq(moved(mid, after, "vpcdns_request_duration_seconds_count", route="cache"), hits,
       "cache route durations")
    eq(moved(mid, after, "vpcdns_upstream_queries_total") + hits, 6,
       "upstream queries besides the hits")
    eq(value(after, "vpcdns_upstream_up", group="good"), 1, "good server up")


@suite.case
def dead_upstream_timeouts_state_and_one_log_line():
    srv = S["srv"]
    before = samples(scrape())
    off = srv.log_size()
    for i in range(4):
        m = srv.udp("q%d.dead.test" % i, timeout=3.0)
        check(m is not None and m.rcode == vt.SERVFAIL, "SERVFAIL from a dead upstream", m)
    after = samples(scrape())
    check(moved(before, after, "vpcdns_upstream_timeouts_total", group="dead") >= 1,
          "no timeout counted")
    eq(value(after, "vpcdns_upstream_up", group="dead"), 0, "dead server state")
    eq(moved(before, after, "vpcdns_responses_total", rcode="SERVFAIL"), 4,
       "SERVFAIL responses")
    log = srv.log_since(off)
    downs = re.findall(r"upstream 127\.0\.0\.1:%d: timed out; backed off" % S["dead"].port,
                       log)
    # Two workers: each has its own view of the server, so at most one
    # line per worker, never one per query.
    check(1 <= len(downs) <= 2, "state-change lines for 4 queries: %d" % len(downs), log)


@suite.case
def reload_failure_and_success_counted():
    srv = S["srv"]
    before = samples(scrape())
    zone = os.path.join(S["wd"], "h.test.zone")
    vt.write(zone, ZONE + "bad IN A 999.1.1.1\n")
    check(not srv.reload(), "a broken zone was accepted")
    mid = samples(scrape())
    eq(moved(before, mid, "vpcdns_reloads_total", result="failure"), 1, "failed reloads")
    eq(moved(before, mid, "vpcdns_config_generation"), 0, "generation after a failure")
    vt.write(zone, ZONE)
    check(srv.reload(), "good reload failed")
    after = samples(scrape())
    eq(moved(mid, after, "vpcdns_reloads_total", result="success"), 1, "good reloads")
    eq(moved(mid, after, "vpcdns_config_generation"), 1, "generation after success")
    eq(value(after, "vpcdns_views"), 1, "views")
    eq(value(after, "vpcdns_zones"), 1, "zones")
    eq(value(after, "vpcdns_zone_records"), 4, "records")


@suite.case
def per_view_label_switch():
    srv = S["srv"]
    srv.set_config(config(srv.port, S["http"], per_view=False))
    check(srv.reload(), "reload failed")
    srv.udp("www.h.test")
    text = scrape()
    check("vpcdns_requests_total{transport=" in text, "no view-less request series")
    check('vpcdns_requests_total{view=' not in text, "view label still there")
    srv.set_config(config(srv.port, S["http"]))
    check(srv.reload(), "reload failed")
    check('vpcdns_requests_total{view="main"' in scrape(), "view label not back")


@suite.case
def query_log_records_counted():
    """With a query log, the written-records family counts every logged
    reply; without one it stays 0."""
    srv = vt.Vpcdns(S["wd"], None, name="qlogsrv")
    hp = vt.free_port()
    log = os.path.join(S["wd"], "query.log")
    srv.set_config(config(srv.port, hp, extra={"query_log": {"file": log}}))
    srv.start()
    try:
        before = samples(curl("/metrics", port=hp)[1])
        for _ in range(5):
            check(srv.udp("www.h.test") is not None, "no answer")
        wrote = lambda: moved(before, samples(curl("/metrics", port=hp)[1]),
                              "vpcdns_querylog_records_written_total")
        check(vt.wait_until(lambda: wrote() >= 5, 5.0),
              "querylog_records_written_total moved by %s, want 5" % wrote())
        lines = open(log).read().splitlines()
        check(len(lines) >= 5, "only %d query-log lines" % len(lines))
        eq(value(samples(curl("/metrics", port=hp)[1]),
                 "vpcdns_querylog_records_dropped_total"), 0.0, "records dropped")
    finally:
        vt.teardown_server(srv)
    eq(value(samples(scrape()), "vpcdns_querylog_records_written_total"), 0.0,
       "written without a query log")


@suite.case
def dashboard_metrics_exist():
    path = os.path.join(vt.source_dir(), "contrib", "grafana", "vpcdns.json")
    with open(path) as f:
        dash = json.load(f)
    exprs = []

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "expr" and isinstance(v, str):
                    exprs.append(v)
                else:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(dash)
    check(len(exprs) >= 6, "too few queries in the dashboard: %d" % len(exprs))
    names = set(n for n, _ in samples(scrape()))
    for e in exprs:
        for n in re.findall(r"\bvpcdns_\w+", e):
            base = n
            if n not in names:
                base = re.sub(r"_(bucket|sum|count)$", "", n)
                check(base + "_bucket" in names or base + "_count" in names,
                      "dashboard query uses %s, not in /metrics" % n, e)


@suite.case
def connection_limit():
    wd = S["wd"]
    srv = vt.Vpcdns(wd, None, name="limited")
    hp = vt.free_port()
    srv.set_config(config(srv.port, hp, max_conn=2))
    srv.start()
    try:
        held = []
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", hp), timeout=2)
            held.append(s)
        time.sleep(0.2)
        code, _ = curl("/health", port=hp, timeout=3)
        check(code != 200, "a third connection was served past max_connections=2")
        for s in held:
            s.close()
        ok = vt.wait_until(lambda: curl("/health", port=hp, timeout=3)[0] == 200, 5.0)
        check(ok, "no connection served after the others closed")
    finally:
        vt.teardown_server(srv)


@suite.case
def ready_is_503_while_draining():
    """SIGTERM with a lameduck: /ready turns 503 at once, naming the
    drain, while /health stays 200 and queries are still answered; then
    the process exits."""
    srv = vt.Vpcdns(S["wd"], None, name="draining")
    hp = vt.free_port()
    cfg = config(srv.port, hp)
    cfg["server"]["lameduck"] = "2s"
    srv.set_config(cfg)
    srv.start()
    try:
        eq(curl("/ready", port=hp)[0], 200, "/ready before SIGTERM")
        srv.signal(signal.SIGTERM)
        t0 = time.monotonic()
        code, body = curl("/ready", port=hp)
        eq(code, 503, "/ready during the lameduck")
        check("draining" in body, "/ready does not say it is draining", body)
        check(time.monotonic() - t0 < 1.5, "first /ready answer came too late")
        eq(curl("/health", port=hp)[0], 200, "/health during the lameduck")
        m = srv.udp("www.h.test")
        check(m is not None and m.rcode == 0, "no answer during the lameduck", m)
        rc, _ = vt.stop_process(srv.proc, signal.SIGTERM, timeout=6.0)
        eq(rc, 0, "exit status after the lameduck")
    finally:
        if srv.alive():
            vt.stop_process(srv.proc)


@suite.case
def ready_is_503_while_the_first_load_runs():
    wd = S["wd"]
    lines = [ZONE.replace("h.test", "big.test").replace("www IN A 192.0.2.80\n", "")]
    lines += ["h%d IN A 10.%d.%d.%d\n" % (i, i >> 16 & 255, i >> 8 & 255, i & 255)
              for i in range(BIG_RECORDS)]
    vt.write(os.path.join(wd, "big.test.zone"), "".join(lines))
    srv = vt.Vpcdns(wd, None, name="slow")
    hp = vt.free_port()
    cfg = config(srv.port, hp)
    cfg["views"][0]["zones"].append(os.path.join(wd, "big.test.zone"))
    srv.set_config(cfg)
    srv.proc = vt.start_process([vt.binary(), "-c", srv.conf_path], srv.log_path,
                                env=vt.server_env(wd))
    seen = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and srv.alive():
            code, body = curl("/ready", port=hp, timeout=2)
            if code:
                seen.append((code, body.strip()))
                if code == 200:
                    break
            time.sleep(0.02)
        check(seen and seen[-1][0] == 200, "never ready", seen[-3:], srv.log()[-1500:])
        first = seen[0]
        eq(first[0], 503, "first /ready status (body %r)" % first[1])
        check(first[1].startswith("loading"), "503 reason", first[1])
        check(srv.wait_ready(10), "not answering DNS once ready")
    finally:
        vt.teardown_server(srv)


@suite.case
def journald_priority_prefixes():
    wd = S["wd"]
    srv = vt.Vpcdns(wd, None, name="journal")
    srv.set_config(config(srv.port, vt.free_port()))
    open(srv.log_path, "a").close()
    st = os.stat(srv.log_path)
    os.environ["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
    try:
        srv.start()
    finally:
        del os.environ["JOURNAL_STREAM"]
    try:
        srv.udp("x.dead.test", timeout=3.0)
        check(srv.wait_log(r"(^|\n)<4>warning: upstream .* backed off", timeout=5),
              "no <4> warning line", srv.log()[-1500:])
        for line in srv.log().splitlines():
            if re.match(r"(==|\s|SUMMARY|WARNING: ThreadSanitizer)", line):
                continue   # sanitizer output is not ours
            check(re.match(r"<[3467]>(error|warning|info|debug): ", line),
                  "line without a priority prefix: %r" % line)
        check(re.search(r"^<6>info: ", srv.log(), re.M), "no <6> info line")
    finally:
        vt.teardown_server(srv)


if __name__ == "__main__":
    suite.main(setup, teardown)
