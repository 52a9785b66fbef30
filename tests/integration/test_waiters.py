"""Bounds on client queries waiting for upstream answers, against a silent
upstream: identical queries share one upstream query but at most
server.max_pending_per_fetch of them wait on it, and at most
server.max_pending wait in all; every query past a bound is answered at
once with SERVFAIL and EDE 14 (Not Ready), before any waiting one gets its
SERVFAIL (EDE 22) at the upstream timeout; the upstream is asked only for
the names that got a waiting slot; afterwards nothing is pending and the
pool of released records has shrunk back (the SIGUSR1 counters), and the
server still answers.
"""

import os
import select
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("waiters")
S = {}
EDE_NOT_READY = 14
PER_FETCH, TOTAL = 40, 100
POOL_KEEP = 64          # VD_QUERY_POOL_KEEP
# name -> queries sent for it; the bounds leave (waiting, rejected):
# a (40, 20), b (40, 20), c (20, 10: the total is reached), d (0, 20)
BURST = [("a", 60), ("b", 60), ("c", 30), ("d", 20)]


def setup():
    vt.binary()
    wd = S["wd"] = vt.workdir("waiters")
    S["dead"] = vt.FakeUpstream(vt.silent_handler).start()
    srv = vt.Vpcdns(wd, None)
    srv.set_config({
        "server": vt.server_block(srv.port, upstream_timeout="1500ms",
                                  query_timeout="3s", max_pending=TOTAL,
                                  max_pending_per_fetch=PER_FETCH),
        "upstreams": {"dead": ["127.0.0.1:%d" % S["dead"].port]},
        "views": [{"name": "v", "clients": ["127.0.0.1/32"],
                   "forward": {".": "dead"}}],
    })
    S["srv"] = srv.start()


def teardown():
    try:
        vt.teardown_server(S.get("srv"))
    finally:
        if "dead" in S:
            S["dead"].stop()


def burst(tag):
    """Sends the burst from one socket (paced, so the server's receive
    buffer keeps up) and returns the replies in order of arrival as
    (name, rcode, EDE codes)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind(("127.0.0.1", 0))
    want, replies = {}, []
    qid = 1
    try:
        for name, n in BURST:
            for _ in range(n):
                pkt, _ = vt.make_query("%s.%s.burst.test" % (name, tag), A, qid=qid,
                                       edns=True)
                want[qid] = name
                s.sendto(pkt, ("127.0.0.1", S["srv"].port))
                qid += 1
                if qid % 20 == 0:
                    time.sleep(0.005)
        deadline = time.monotonic() + 10
        while want and time.monotonic() < deadline:
            r, _, _ = select.select([s], [], [], 0.2)
            if not r:
                continue
            m = vt.Msg.parse(s.recv(65535))
            if m.id in want:
                replies.append((want.pop(m.id), m.rcode_name(), m.ede_codes()))
    finally:
        s.close()
    check(not want, "%d queries got no reply" % len(want))
    return replies


@suite.case
def past_the_bounds_servfail_ede14_at_once():
    st0 = S["srv"].stats()["query"]
    replies = burst("one")
    rejected = [r for r in replies if r[2] == [EDE_NOT_READY]]
    waited = [r for r in replies if r[2] == [vt.EDE_NO_REACHABLE]]
    eq(len(rejected), 70, "queries answered EDE 14")
    eq(len(waited), 100, "queries that waited for the upstream (EDE 22)")
    check(all(r[1] == "SERVFAIL" for r in replies), "a reply was not SERVFAIL",
          [r for r in replies if r[1] != "SERVFAIL"][:3])
    # the refused ones were answered before the upstream timeout ended
    # any waiting one
    eq([r[2] for r in replies[:70]], [[EDE_NOT_READY]] * 70, "order of the replies")
    per_name = {}
    for name, _, ede in rejected:
        per_name[name] = per_name.get(name, 0) + 1
    eq(per_name, {"a": 20, "b": 20, "c": 10, "d": 20}, "EDE 14 replies per name")
    for name, asked in (("a", 1), ("b", 1), ("c", 1), ("d", 0)):
        eq(S["dead"].asked("%s.one.burst.test" % name), asked,
           "upstream queries for %s" % name)
    st1 = S["srv"].stats()["query"]
    eq(st1["rejected_pending"] - st0["rejected_pending"], 70, "rejected_pending counter")


@suite.case
def memory_given_back_after_the_burst():
    q = S["srv"].stats()["query"]
    eq(q["pending"], 0, "queries pending after the burst")
    check(q["pooled"] <= POOL_KEEP + len(BURST),
          "%d released records kept after a burst of %d waiting queries"
          % (q["pooled"], TOTAL))


@suite.case
def bounds_hold_again_and_server_answers():
    replies = burst("two")
    eq(sum(1 for r in replies if r[2] == [EDE_NOT_READY]), 70, "EDE 14 replies, second burst")
    q = S["srv"].stats()["query"]
    eq(q["pending"], 0, "queries pending after the second burst")
    m = S["srv"].udp("id.server", vt.TXT, qclass=vt.CH)
    check(m is not None and m.rcode_name() == "NOERROR", "server answers", m)


if __name__ == "__main__":
    suite.main(setup, teardown)
