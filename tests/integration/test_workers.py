"""Several workers (server.workers: 3): each a thread with its own loop,
listeners on the same addresses (SO_REUSEPORT), upstream sockets and cache.
Clients on many source ports are spread across the workers and all
answered, over UDP and TCP; every worker logs its counters on SIGUSR1 and
together they account for every query; a reload reaches every worker (no
client sees the old data afterwards); a bad reload keeps every worker on
the old data; changing the worker count is reported as needing a restart;
the process stops cleanly.
"""

import os
import re
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("workers")
S = {}
WORKERS = 3


def zone(addr):
    return ("$ORIGIN w.test.\n$TTL 60\n@ IN SOA ns hm 1 3600 600 86400 60\n"
            "www IN A %s\n" % addr)


def config(port, workers=WORKERS):
    return {
        "server": vt.server_block(port, workers=workers),
        "upstreams": {"up": ["127.0.0.1:%d" % S["fake"].port]},
        "views": [{"name": "v", "clients": ["127.0.0.0/8"],
                   "zones": [S["zonefile"]], "forward": {".": "up"}}],
    }


def setup():
    vt.binary()
    wd = vt.workdir("workers")
    S["wd"] = wd
    S["zonefile"] = vt.write(os.path.join(wd, "w.test.zone"), zone("10.0.0.1"))

    def handler(m, transport):
        name, qtype, _ = m.question[0]
        return [vt.build_response(m, answers=[vt.rr_wire(name, A, 300,
                                                         vt.rdata_a("198.51.100.7"))])]
    S["fake"] = vt.FakeUpstream(handler).start()
    srv = vt.Vpcdns(wd, None)
    srv.set_config(config(srv.port))
    S["srv"] = srv.start()


def teardown():
    try:
        vt.teardown_server(S.get("srv"))
    finally:
        if "fake" in S:
            S["fake"].stop()


def ask(name, src="127.0.0.1", tcp=False):
    fn = vt.tcp_query if tcp else vt.udp_query
    m, _ = fn(name, A, port=S["srv"].port, src=src)
    check(m is not None, "no reply to %s" % name)
    return m


def worker_stats():
    """{worker index: {section: counters}} from one SIGUSR1 report."""
    srv = S["srv"]
    off = srv.log_size()
    srv.signal(vt.signal.SIGUSR1)
    pat = r"stats: net .* worker=%d\b" % (WORKERS - 1)
    vt.wait_until(lambda: all(re.search(r"stats: net .* worker=%d\b" % i,
                                        srv.log_since(off))
                              for i in range(WORKERS)), 5.0)
    check(re.search(pat, srv.log_since(off)), "not every worker logged its counters")
    out = {}
    for line in srv.log_since(off).splitlines():
        m = re.search(r"stats: (?:([a-z]+) )?(.*) worker=(\d+)$", line)
        if not m:
            continue
        kv = {k: int(v) for k, v in re.findall(r"([a-z_]+)=(\d+)", m.group(2))}
        out.setdefault(int(m.group(3)), {})[m.group(1) or "query"] = kv
    return out


@suite.case
def started_with_workers():
    check(S["srv"].wait_log(r"serving generation 1: .* %d workers" % WORKERS),
          "startup line does not say %d workers" % WORKERS)


@suite.case
def many_clients_all_answered_across_workers():
    before = worker_stats()
    errors = []

    def client(k):
        for i in range(60):
            try:
                m = ask("www.w.test", src="127.0.%d.%d" % (k, i % 200 + 1))
                if m.values(A) != ["10.0.0.1"]:
                    errors.append(m.values(A))
            except Exception as e:  # noqa: BLE001
                errors.append(str(e))
    threads = [threading.Thread(target=client, args=(k,)) for k in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    check(not errors, "wrong or missing answers: %s" % errors[:5])
    for i in range(10):
        eq(ask("www.w.test", tcp=True).values(A), ["10.0.0.1"], "TCP answer %d" % i)
    after = worker_stats()
    eq(sorted(after), list(range(WORKERS)), "workers reporting")
    got = {w: after[w]["query"]["queries"] - before.get(w, {}).get("query", {}).get("queries", 0)
           for w in after}
    eq(sum(got.values()), 6 * 60 + 10, "queries counted by all workers together")
    busy = [w for w, n in got.items() if n > 0]
    check(len(busy) >= 2, "the kernel spread clients over fewer than two workers: %s" % got)


@suite.case
def forwarded_answers_from_every_worker():
    for i in range(30):
        m = ask("n%d.fwd.test" % i, src="127.1.0.%d" % (i + 1))
        eq(m.values(A), ["198.51.100.7"], "forwarded answer %d" % i)
        check(not m.aa, "AA on a forwarded answer", m)


@suite.case
def reload_reaches_every_worker():
    srv = S["srv"]
    vt.write(S["zonefile"], zone("10.0.0.2"))
    check(srv.reload(), "reload failed")
    for i in range(120):
        m = ask("www.w.test", src="127.2.%d.%d" % (i // 200, i % 200 + 1))
        eq(m.values(A), ["10.0.0.2"], "answer after reload, client %d" % i)
    st = worker_stats()
    for w in range(WORKERS):
        eq(st[w]["query"]["generation"], 2, "generation in worker %d" % w)


@suite.case
def bad_reload_keeps_every_worker_on_old_data():
    srv = S["srv"]
    vt.write(S["zonefile"], "$ORIGIN w.test.\n@ IN SOA broken\n")
    check(not srv.reload(), "a broken zone was accepted")
    for i in range(60):
        eq(ask("www.w.test", src="127.3.0.%d" % (i + 1)).values(A), ["10.0.0.2"],
           "old answer after a failed reload, client %d" % i)
    vt.write(S["zonefile"], zone("10.0.0.2"))


@suite.case
def worker_count_change_needs_restart():
    srv = S["srv"]
    srv.set_config(config(srv.port, workers=WORKERS + 1))
    off = srv.log_size()
    check(srv.reload(), "reload failed")
    check(re.search(r"server.workers changed; restart", srv.log_since(off)),
          "no restart warning for a new worker count")
    # Reverted: the running count again, so no warning.
    srv.set_config(config(srv.port, workers=WORKERS))
    off = srv.log_size()
    check(srv.reload(), "reload failed")
    check("restart" not in srv.log_since(off),
          "restart still asked for after reverting the worker count",
          srv.log_since(off))
    st = worker_stats()
    eq(sorted(st), list(range(WORKERS)), "still the same workers")


if __name__ == "__main__":
    suite.main(setup, teardown)
