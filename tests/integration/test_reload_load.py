"""Reloads under a steady query stream: a client sends local queries at a
fixed rate from 127.0.0.1 while the daemon reloads several times with
every zone file changed (so each reload replaces, and must free, every
zone of the old generation); every query gets its answer. Each replaced
snapshot is freed on the thread pool once the workers let go of it, never
by a worker: /metrics counts it (vpcdns_snapshots_retired_total, one per
reload, none left retiring) and the log says "retired off the workers".
"""

import os
import re
import select
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import check, eq  # noqa: E402

suite = vt.Suite("reload_load")
S = {}
VIEWS = 40
ENDPOINTS = 25
RATE = 2000        # queries per second
SECONDS = 5.0
RELOADS = 3
LINE_RE = re.compile(r"reload: generation (\d+) loaded from")


def write_data(wd):
    """VIEWS views with ENDPOINTS endpoint zones each (bench/scale.sh's
    shape); view 0 also serves 127.0.0.1."""
    views = []
    for v in range(VIEWS):
        d = os.path.join(wd, "vpc%d" % v)
        for e in range(ENDPOINTS):
            vt.write(os.path.join(d, "svc%d.us-east-1.amazonaws.com.zone" % e),
                     "$ORIGIN svc%d.us-east-1.amazonaws.com.\n$TTL 60\n"
                     "@ SOA ns.invalid. hm.invalid. 1 3600 600 86400 60\n"
                     "@ A 10.%d.1.%d\n@ A 10.%d.2.%d\n" % (e, v, e + 1, v, e + 1))
        clients = ["10.%d.0.0/16" % v] + (["127.0.0.1/32"] if v == 0 else [])
        views.append({"name": "vpc%d" % v, "clients": clients, "zones": [d + "/"],
                      "forward": {".": "up"}})
    return views


def touch_all(wd):
    now = time.time()
    for root, _, files in os.walk(wd):
        for f in files:
            if f.endswith(".zone"):
                os.utime(os.path.join(root, f), (now, now))


def setup():
    vt.binary()
    vt.require_tools("curl")
    wd = vt.workdir("reload_load")
    S["wd"] = wd
    S["http"] = vt.free_port()
    views = write_data(wd)
    srv = vt.Vpcdns(wd, "")
    S["srv"] = srv
    srv.set_config({
        "server": vt.server_block(srv.port, workers=2),
        "upstreams": {"up": ["127.0.0.1:9"]},
        "views": views,
        "http": {"listen": ["127.0.0.1:%d" % S["http"]]},
    })
    srv.start(timeout=30)


def teardown():
    vt.teardown_server(S.get("srv"))


def metric(name):
    rc, out, _ = vt.check_run(["curl", "-s", "--max-time", "5",
                               "http://127.0.0.1:%d/metrics" % S["http"]])
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == name:
            return float(parts[1])
    return None


def query(qid, e):
    return (struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
            + vt.name_to_wire("svc%d.us-east-1.amazonaws.com" % e)
            + struct.pack(">HH", 1, 1))


def stream(reload_at):
    """Sends RATE queries a second for SECONDS, calling reload_at[i]'s
    action when its time comes; returns (sent, answered, bad)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.connect(("127.0.0.1", S["srv"].port))
    s.setblocking(False)
    outstanding, answered, bad = set(), 0, 0
    t0 = time.monotonic()
    n_total = int(RATE * SECONDS)
    sent, actions = 0, sorted(reload_at)
    end = t0 + SECONDS + 3.0  # answers may come up to 3 s after the last query
    while time.monotonic() < end and (sent < n_total or outstanding):
        now = time.monotonic()
        while actions and now - t0 >= actions[0][0]:
            actions.pop(0)[1]()
        due = min(n_total, int((now - t0) * RATE))
        while sent < due:
            qid = sent & 0xffff
            s.send(query(qid, sent % ENDPOINTS))
            outstanding.add(qid)
            sent += 1
        r, _, _ = select.select([s], [], [], 0.002)
        while r:
            try:
                pkt = s.recv(2048)
            except BlockingIOError:
                break
            qid = struct.unpack(">H", pkt[:2])[0]
            if qid in outstanding:
                outstanding.discard(qid)
                answered += 1
                if pkt[3] & 0xf != 0 or struct.unpack(">H", pkt[6:8])[0] != 2:
                    bad += 1
    s.close()
    return sent, answered, bad


@suite.case
def every_query_is_answered_across_reloads():
    srv = S["srv"]
    off = srv.log_size()

    def reload():
        touch_all(S["wd"])
        srv.sighup()

    at = [(1.0 + i * (SECONDS - 1.5) / RELOADS, reload) for i in range(RELOADS)]
    sent, answered, bad = stream(at)
    eq(sent, int(RATE * SECONDS), "queries sent")
    check(vt.wait_until(lambda: len(LINE_RE.findall(srv.log_since(off))) >= RELOADS,
                        timeout=30),
          "%d reloads did not all finish; log:\n%s"
          % (RELOADS, srv.log_since(off)[-2000:]))
    eq(sent - answered, 0, "queries lost across %d reloads" % RELOADS)
    eq(bad, 0, "answers that were not NOERROR with the two endpoint addresses")


@suite.case
def replaced_snapshots_are_freed_off_the_workers():
    # One retired per reload so far, none still held.
    check(vt.wait_until(lambda: metric("vpcdns_snapshots_retired_total") == RELOADS,
                        timeout=10),
          "vpcdns_snapshots_retired_total is %r, want %d"
          % (metric("vpcdns_snapshots_retired_total"), RELOADS))
    eq(metric("vpcdns_snapshots_retiring"), 0.0, "vpcdns_snapshots_retiring")
    check(metric("vpcdns_snapshot_retire_released_bytes_total") is not None,
          "vpcdns_snapshot_retire_released_bytes_total is exported")
    n = len(re.findall(r"snapshot \d+ retired off the workers in \d+ ms",
                       S["srv"].log()))
    eq(n, RELOADS, "'retired off the workers' log lines")


if __name__ == "__main__":
    suite.main(setup, teardown)
