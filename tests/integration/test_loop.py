"""Forwarding loop detection: two vpcdns on loopback that forward "." to
each other (A's upstream is B, B's is A) each find the loop within one
second of both running: an error in the log naming the group, queries
for forwarded names answered SERVFAIL with EDE 22 "forwarding loop" at
once (the upstream timeouts are far longer than the client waits),
vpcdnsctl status and /metrics name the group. After a reload that points
A at a healthy upstream, A probes again and serves. A server whose
upstream is a healthy fake one is not flagged: the fake sees the probe
(a name under vpcdns-loop-check.invalid) and answers it, and forwarded
queries are answered. With server.loop_check: false no probe is sent.
"""

import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("loop")
S = {}
LOOP_LOG = r"forwarding loop: upstream group 'up' sends our queries back"


def answer(m, transport):
    if not m.question:
        return None
    name = m.question[0][0]
    if "vpcdns-loop-check" in name.lower():
        return [vt.build_response(m, rcode=3)]
    return [vt.build_response(m, answers=[vt.rr_wire(name, A, 300, vt.rdata_a("198.51.100.9"))])]


def config(port, upstream_port, http_port=None):
    c = {
        # Upstream timeouts far longer than a client waits: an answer
        # that comes back at all came back without waiting for them.
        "server": vt.server_block(port, upstream_timeout="4s", query_timeout="8s"),
        "upstreams": {"up": ["127.0.0.1:%d" % upstream_port]},
        "views": [{"name": "all", "clients": ["127.0.0.0/8"], "forward": {".": "up"}}],
    }
    if http_port:
        c["http"] = {"listen": ["127.0.0.1:%d" % http_port]}
    return c


def setup():
    vt.binary()
    vt.ctl_binary()
    vt.require_tools("curl")
    wd = vt.workdir("loop")
    S["fake"] = vt.FakeUpstream(answer).start()
    pa, pb = vt.free_port(), vt.free_port()
    S["http"] = vt.free_port()
    S["a"] = vt.Vpcdns(wd, config(pa, pb, S["http"]), name="a", port=pa)
    S["b"] = vt.Vpcdns(wd, config(pb, pa), name="b", port=pb)
    pc = vt.free_port()
    S["c"] = vt.Vpcdns(wd, config(pc, S["fake"].port), name="c", port=pc)
    S["a"].start()
    S["b"].start()
    S["both_up"] = time.monotonic()
    S["c"].start()


def teardown():
    for k in ("a", "b", "c"):
        vt.teardown_server(S.get(k))
    if "fake" in S:
        S["fake"].stop()


def ask(srv, name):
    m = vt.udp_query(name, A, port=srv.port, timeout=2.0, edns=True)[0]
    check(m is not None, "no reply from %s to %s within 2 s" % (srv.name, name))
    return m


@suite.case
def both_find_the_loop_within_a_second():
    for k in ("a", "b"):
        left = max(0.05, 1.0 - (time.monotonic() - S["both_up"]))
        check(S[k].wait_log(LOOP_LOG, timeout=left),
              "%s: no forwarding loop logged within 1 s of both running" % k,
              S[k].log()[-2000:])
    for k in ("a", "b"):
        check(re.search(r"\berr", [l for l in S[k].log().splitlines()
                                  if "forwarding loop" in l][0], re.I),
              "%s: the loop is logged as an error" % k, S[k].log()[-1000:])
        eq(len(re.findall(LOOP_LOG, S[k].log())), 1, "%s: logged once" % k)


@suite.case
def looping_group_gets_servfail_with_ede_at_once():
    for k in ("a", "b"):
        m = ask(S[k], "www.example.com")
        eq(m.rcode_name(), "SERVFAIL", "%s: a query for the looping group" % k)
        eq(m.ede_codes(), [22], "%s: EDE No Reachable Authority" % k)
        check(b"forwarding loop" in (m.opt.option(15) or b""),
              "%s: EDE text names the loop" % k, m.summary())


@suite.case
def status_and_metrics_name_the_group():
    rc, out, err = S["a"].ctl("status")
    eq(rc, 0, "vpcdnsctl status (stderr %r)" % err)
    check(re.search(r"forwarding loop: upstream groups up\b", out), "status names the group", out)
    rc, out, err = S["a"].ctl("--json", "status")
    j = json.loads(out)
    eq((j["looping_upstream_groups"], j["looping"]), (1, "up"), "status --json")
    body = subprocess.run(["curl", "-s", "--max-time", "5",
                           "http://127.0.0.1:%d/metrics" % S["http"]],
                          stdout=subprocess.PIPE, timeout=10).stdout.decode()
    check(re.search(r'^vpcdns_upstream_group_looping\{group="up"\} 1$', body, re.M),
          "metric vpcdns_upstream_group_looping{group=\"up\"} 1", body[-1500:])
    rc, out, err = S["c"].ctl("status")
    check("forwarding loop" not in out, "the healthy server's status shows no loop", out)


@suite.case
def healthy_upstream_is_not_flagged():
    c = S["c"]
    check(vt.wait_until(lambda: probes(S["fake"]), 2.0), "the healthy upstream saw the probe")
    m = ask(c, "www.example.com")
    eq(m.rcode_name(), "NOERROR", "a forwarded query through a healthy group")
    eq(m.values(A), ["198.51.100.9"], "its answer")
    check("forwarding loop" not in c.log(), "no loop logged", c.log()[-1500:])


@suite.case
def reload_probes_again():
    a = S["a"]
    since = a.log_size()
    a.set_config(config(a.port, S["fake"].port, S["http"]))
    gen = a.reload()
    check(gen, "reload of a")
    check(vt.wait_until(lambda: ask(a, "www.example.org").rcode_name() == "NOERROR", 3.0),
          "a serves through the healthy upstream after the reload")
    check(not re.search(LOOP_LOG, a.log_since(since)), "no loop after the reload",
          a.log_since(since))
    rc, out, err = a.ctl("status")
    check("forwarding loop" not in out, "status after the reload", out)


def probes(fake):
    return fake.count(lambda q: q[1] is not None and q[1].question and
                      q[1].question[0][0].lower().endswith(".vpcdns-loop-check.invalid."))


@suite.case
def loop_check_false_sends_no_probe():
    fake = vt.FakeUpstream(answer).start()
    srv = None
    try:
        port = vt.free_port()
        cfg = config(port, fake.port)
        cfg["server"]["loop_check"] = False
        srv = vt.Vpcdns(S["a"].wd, cfg, name="quiet", port=port).start()
        eq(ask(srv, "www.example.net").values(A), ["198.51.100.9"], "forwarded")
        srv.reload()
        eq(ask(srv, "www2.example.net").values(A), ["198.51.100.9"], "after a reload")
        eq(probes(fake), 0, "probes with loop_check: false")
        eq(fake.count(), 2, "only the clients' queries reached the upstream")
    finally:
        vt.teardown_server(srv)
        fake.stop()


@suite.case
def probes_to_a_dead_upstream_log_no_warning():
    fake = vt.FakeUpstream(vt.silent_handler).start()
    srv = None
    try:
        port = vt.free_port()
        cfg = config(port, fake.port)
        cfg["server"].update(upstream_timeout="100ms", query_timeout="150ms")
        srv = vt.Vpcdns(S["a"].wd, cfg, name="dead", port=port).start()
        # the first probe timed out and was sent again
        check(vt.wait_until(lambda: probes(fake) >= 2, 5.0), "the probe was resent")
        check(not re.search(r"warning: upstream .*backed off", srv.log()),
              "the workers, not the probes, report a dead upstream", srv.log()[-1500:])
    finally:
        vt.teardown_server(srv)
        fake.stop()


if __name__ == "__main__":
    suite.main(setup, teardown)
