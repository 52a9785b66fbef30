"""Watched zone folders (server.watch_zones), end to end: a reload takes
every folder in which nothing happened since the last build as it was
("2 of 2 zone folders unchanged"); a file rewritten, added or deleted in
one folder, or the folder replaced by another renamed into its place, is
seen by the next reload (its answers change) while the other folder is
still taken as it was, even a file rewritten twice within one second at
the same size; with watch_zones: false every folder is looked at again
("0 of 2") and the answers are the same; /metrics counts the folders and
those taken unchanged.
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("watch_zones")
S = {}
RACY_WAIT = 1.2   # past the racy window (VD_ZONE_RACY_NS, 1 s)
LINE_RE = re.compile(r"reload: generation \d+ loaded from .* \((\d+) zones: (\d+) "
                     r"reused, (\d+) read\).*; (\d+) of (\d+) zone folders unchanged")


def zone_text(name, last):
    return ("$ORIGIN %s.watch.test.\n$TTL 60\n"
            "@ IN SOA ns hm 1 3600 600 86400 60\n"
            "www IN A 10.7.0.%d\n" % (name, last))


def write_zone(folder, name, last):
    vt.write(os.path.join(S[folder], "%s.watch.test.zone" % name),
             zone_text(name, last))


def make_config(watch=True):
    server = vt.server_block(S["srv"].port)
    if not watch:
        server = dict(server, watch_zones=False)
    return {
        "server": server,
        "http": {"listen": ["127.0.0.1:%d" % S["http"]]},
        "upstreams": {"up": ["127.0.0.1:9"]},
        "views": [{"name": "w", "clients": ["127.0.0.1/32"],
                   "zones": [{"path": S["a"] + "/", "fallback": "nxdomain"},
                             {"path": S["b"] + "/", "fallback": "nxdomain"}],
                   "forward": {".": "up"}}],
    }


def setup():
    vt.binary()
    wd = vt.workdir("watch_zones")
    S["wd"] = wd
    S["a"] = os.path.join(wd, "a")
    S["b"] = os.path.join(wd, "b")
    for i in range(3):
        write_zone("a", "a%d" % i, 1)
        write_zone("b", "b%d" % i, 1)
    time.sleep(RACY_WAIT)
    S["srv"] = vt.Vpcdns(wd, "")
    S["http"] = vt.free_port()
    S["srv"].set_config(make_config())
    S["srv"].start(timeout=20)


def teardown():
    vt.teardown_server(S.get("srv"))


def www(name):
    m = S["srv"].udp("www.%s.watch.test" % name, timeout=1.5)
    check(m is not None, "no answer for www.%s.watch.test" % name)
    if m.rcode_name() != "NOERROR":
        return m.rcode_name()
    return m.values(A)


def reload():
    """SIGHUP; returns (zones, reused, read, folders unchanged, folders)."""
    off = S["srv"].log_size()
    S["srv"].sighup()
    m = S["srv"].wait_log(LINE_RE.pattern, since=off, timeout=20)
    check(m, "no reload line with the folders after SIGHUP; new log:\n%s"
          % S["srv"].log_since(off)[-1500:])
    m = LINE_RE.search(S["srv"].log_since(off))
    return tuple(int(g) for g in m.groups())


def folder_gauges():
    """(folders, unchanged, unwatched) from /metrics."""
    rc, out, _ = vt.check_run(["curl", "-s", "--max-time", "5",
                               "http://127.0.0.1:%d/metrics" % S["http"]], timeout=10)
    eq(rc, 0, "curl /metrics")
    got = {}
    for name in ("vpcdns_zone_folders", "vpcdns_zone_folders_unchanged",
                 "vpcdns_zone_folders_unwatched"):
        m = re.search(r"^%s (\S+)$" % name, out, re.M)
        check(m, "no %s sample in /metrics" % name)
        got[name] = int(float(m.group(1)))
    return (got["vpcdns_zone_folders"], got["vpcdns_zone_folders_unchanged"],
            got["vpcdns_zone_folders_unwatched"])


@suite.case
def unchanged_folders_are_taken_as_they_were():
    # The start marked both folders, so none was taken unchanged...
    eq(folder_gauges(), (2, 0, 0), "/metrics (folders, unchanged, unwatched) at start")
    # ...and nothing happened in them since.
    eq(reload(), (6, 6, 0, 2, 2), "(zones, reused, read, unchanged, folders)")
    eq(reload(), (6, 6, 0, 2, 2), "and again")
    eq(folder_gauges(), (2, 2, 0), "/metrics after the reloads")
    for n in ("a0", "a1", "a2", "b0", "b1", "b2"):
        eq(www(n), ["10.7.0.1"], "www.%s" % n)


@suite.case
def a_rewritten_file_is_seen():
    write_zone("a", "a1", 2)
    time.sleep(RACY_WAIT)
    zones, reused, read, unchanged, folders = reload()
    eq((unchanged, folders), (1, 2), "folder b unchanged, a looked at")
    eq((zones, read), (6, 1), "one file read")
    eq(www("a1"), ["10.7.0.2"], "the rewritten zone's new data")
    eq(www("a0"), ["10.7.0.1"], "its neighbour")
    eq(www("b1"), ["10.7.0.1"], "the other folder's zone")
    eq(reload()[3:], (2, 2), "then both unchanged again")


@suite.case
def rewritten_twice_in_one_second_is_seen():
    # Same size, the same second as the write and the reload before: a
    # file's stat cannot tell the two writes apart, the watch can.
    write_zone("a", "a2", 3)
    reload()
    eq(www("a2"), ["10.7.0.3"], "first rewrite")
    write_zone("a", "a2", 4)
    zones, reused, read, unchanged, folders = reload()
    eq(www("a2"), ["10.7.0.4"], "second rewrite, same size, same second")
    eq(unchanged, 1, "folder a looked at")


@suite.case
def added_and_deleted_files_are_seen():
    # No zone: forwarded, to an upstream that is not there.
    eq(www("b3"), "SERVFAIL", "before it is added")
    write_zone("b", "b3", 3)
    time.sleep(RACY_WAIT)
    zones, reused, read, unchanged, folders = reload()
    eq((zones, unchanged), (7, 1), "(zones, folders unchanged) after adding")
    eq(www("b3"), ["10.7.0.3"], "the added zone answers")
    os.unlink(os.path.join(S["b"], "b3.watch.test.zone"))
    zones, reused, read, unchanged, folders = reload()
    eq((zones, unchanged), (6, 1), "(zones, folders unchanged) after deleting")
    eq(www("b3"), "SERVFAIL", "the deleted zone is gone")


@suite.case
def a_folder_replaced_by_rename_is_seen():
    new = S["a"] + ".new"
    os.makedirs(new)
    for i in range(3):
        vt.write(os.path.join(new, "a%d.watch.test.zone" % i), zone_text("a%d" % i, 9))
    time.sleep(RACY_WAIT)
    os.rename(S["a"], S["a"] + ".old")
    os.rename(new, S["a"])
    zones, reused, read, unchanged, folders = reload()
    eq((unchanged, folders), (1, 2), "the replaced folder is looked at")
    for i in range(3):
        eq(www("a%d" % i), ["10.7.0.9"], "www.a%d from the new folder" % i)
    eq(www("b0"), ["10.7.0.1"], "the other folder's zone")


@suite.case
def watch_zones_off_looks_at_every_folder():
    S["srv"].set_config(make_config(watch=False))
    time.sleep(RACY_WAIT)
    eq(reload()[3:], (0, 2), "no folder taken on the watch's word")
    eq(reload()[:3], (6, 6, 0), "still shared, on each file's stat")
    write_zone("b", "b2", 5)
    time.sleep(RACY_WAIT)
    eq(reload()[2:], (1, 0, 2), "(read, unchanged, folders)")
    eq(www("b2"), ["10.7.0.5"], "the change is seen without the watch")
    S["srv"].set_config(make_config())
    reload()
    eq(reload()[3:], (2, 2), "on again: taken as they were from the next reload")


if __name__ == "__main__":
    suite.main(setup, teardown)
