"""Privilege drop. Started as root with server.user, vpcdns binds its
sockets and then runs as that user: every uid and gid in /proc/PID/status
(real, effective, saved, filesystem) is the user's, its supplementary
groups are the user's own, it still answers, and a reload reads the
files as that user (a zone file only root can read makes the reload fail
and the old generation keep serving). Port 53 works the same when it is
free on 127.0.0.1. Started as root without server.user it warns. Needs
root (CI runs as root); skipped otherwise.
"""

import grp
import os
import pwd
import socket
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("privdrop")
S = {}
USER = "nobody"
ZONE = """$ORIGIN svc.example.
$TTL 60
@ IN SOA ns hostmaster 1 3600 600 86400 60
@ IN NS ns
ns IN A 10.0.0.1
www IN A 10.0.0.%d
"""


def setup():
    vt.binary()
    if os.geteuid() != 0:
        raise vt.SkipTest("needs root to test dropping privileges (CI runs as root)")
    try:
        S["pw"] = pwd.getpwnam(USER)
    except KeyError:
        raise vt.SkipTest("no '%s' user on this system" % USER)
    S["wd"] = vt.workdir("privdrop")
    # The user must be able to read the configuration and the zones.
    os.chmod(S["wd"], 0o755)
    S["servers"] = []


def teardown():
    for srv in S.get("servers", []):
        vt.teardown_server(srv)


def env():
    e = vt.server_env(S["wd"])
    # LeakSanitizer stops the world with ptrace, which a process whose
    # credentials changed (no longer dumpable) refuses; ASan itself stays.
    e["ASAN_OPTIONS"] = "detect_leaks=0"
    return e


def start(name, port=None, **server):
    srv = vt.Vpcdns(S["wd"], None, name=name, port=port)
    vt.write(os.path.join(S["wd"], name + ".zone"), ZONE % 1)
    cfg = {
        "server": vt.server_block(srv.port, **server),
        "views": [{"name": "all", "clients": ["127.0.0.0/8"],
                   "zones": [name + ".zone"]}],
    }
    srv.set_config(cfg)
    for f in (srv.conf_path, os.path.join(S["wd"], name + ".zone")):
        os.chmod(f, 0o644)
    open(srv.log_path, "a").close()
    srv.proc = vt.start_process([vt.binary(), "-c", srv.conf_path], srv.log_path, env=env())
    S["servers"].append(srv)
    check(srv.wait_ready(5), "vpcdns did not start", srv.log()[-2000:])
    return srv


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def expected_groups(pw):
    gids = {g.gr_gid for g in grp.getgrall() if pw.pw_name in g.gr_mem}
    gids.add(pw.pw_gid)
    return sorted(gids)


def check_dropped(srv):
    pw = S["pw"]
    st = status(srv.proc.pid)
    eq(st["Uid"], [str(pw.pw_uid)] * 4, "Uid (real, effective, saved, fs)")
    eq(st["Gid"], [str(pw.pw_gid)] * 4, "Gid (real, effective, saved, fs)")
    eq(sorted(int(g) for g in st["Groups"]), expected_groups(pw), "Groups")
    check(srv.wait_log(r"running as user %s \(uid %d, gid %d\)" % (USER, pw.pw_uid, pw.pw_gid)),
          "no log line about the user", srv.log()[-1500:])


def www(srv, **kw):
    m = srv.udp("www.svc.example", **kw)
    vt.expect_reply(m, "www.svc.example")
    return m.values(A)


@suite.case
def runs_as_the_user_after_binding():
    srv = start("drop", user=USER)
    check_dropped(srv)
    eq(www(srv), ["10.0.0.1"], "UDP answer as %s" % USER)
    vt.expect_reply(srv.tcp("www.svc.example"), "TCP answer")
    S["drop"] = srv


@suite.case
def reloads_read_files_as_the_user():
    srv = S.get("drop")
    check(srv is not None, "no server from the previous case")
    zone = os.path.join(S["wd"], "drop.zone")
    vt.write(zone, ZONE % 2)
    os.chmod(zone, 0o644)
    check(srv.reload(), "reload with readable files failed", srv.log()[-1500:])
    eq(www(srv), ["10.0.0.2"], "answer after the reload")
    # Readable by root only: the reload, running as the user, cannot.
    vt.write(zone, ZONE % 3)
    os.chmod(zone, 0o600)
    check(not srv.reload(), "reload of a root-only zone succeeded: not running as the user")
    check("permission denied" in srv.log().lower(), "no permission error logged",
          srv.log()[-1500:])
    eq(www(srv), ["10.0.0.2"], "the old generation keeps serving")
    check_dropped(srv)


@suite.case
def root_without_user_warns():
    srv = start("root")
    check(srv.wait_log(r"warning: running as root: set server.user"),
          "no warning about running as root", srv.log()[-1500:])
    eq(status(srv.proc.pid)["Uid"], ["0"] * 4, "Uid stays root")


def port53_free():
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 53))
        except OSError:
            return False
        finally:
            s.close()
    return True


@suite.case
def port_53_as_the_user():
    if not port53_free():
        raise vt.SkipTest("127.0.0.1:53 is taken on this machine")
    srv = start("port53", port=53, user=USER)
    check_dropped(srv)
    eq(www(srv), ["10.0.0.1"], "answer on port 53")


if __name__ == "__main__":
    suite.main(setup, teardown)
