"""Views from files, end to end: vpcdns.yaml names per-VPC view files by a
glob (view_files) with defaults for what the generated files leave out
(forward rules) and an on-premises view that includes every VPC by a
pattern. Two VPC files answer their own clients (127.0.0.x source
addresses); a third VPC folder and one with no endpoints (an empty zones/
folder) added + SIGHUP answer their clients; a removed folder + SIGHUP
gets its clients REFUSED; a broken view file + SIGHUP keeps the old data
serving and the log names the view file and line; --check reports the
same file:line.
"""

import os
import re
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("view_files")
S = {}
PUBLIC = "198.51.100.7"   # what the upstream answers for any name
CLIENTS = {"vpc-a": "127.0.0.10", "vpc-b": "127.0.0.20", "vpc-c": "127.0.0.30",
           "vpc-d": "127.0.0.40"}
ONPREM = "127.0.0.1"


def public_handler(m, transport):
    if not m.question:
        return None
    name = m.question[0][0]
    return [vt.build_response(m, answers=[vt.rr_wire(name, A, 30, vt.rdata_a(PUBLIC))])]


def zone(origin, addr):
    return ("$ORIGIN %s\n$TTL 60\n@ IN SOA ns.%s hostmaster.%s 1 3600 600 86400 60\n"
            "@ IN NS ns.%s\nns IN A 192.0.2.53\nwww IN A %s\n"
            % (origin, origin, origin, origin, addr))


def write_vpc(vpc, addr=None, view=None):
    """endpoints/<vpc>/view.yaml with zones/ beside it, the way vpcdns-import
    writes them; addr None: no endpoints (an empty zones/ folder)."""
    d = os.path.join(S["wd"], "endpoints", vpc)
    os.makedirs(os.path.join(d, "zones"), exist_ok=True)
    if addr:
        vt.write(os.path.join(d, "zones", "svc.zone"), zone("%s.svc.test." % vpc, addr))
    vt.write(os.path.join(d, "view.yaml"), view or (
        "# written by vpcdns-import\n"
        "- name: %s\n"
        "  clients: [\"%s/32\"]\n"
        "  zones: [\"zones/\"]\n"
        "  vpc_id: vpc-0123456789abcdef0\n"
        "  account_id: \"111122223333\"\n"
        "  region: us-east-1\n" % (vpc, CLIENTS[vpc])))
    return os.path.join(d, "view.yaml")


def setup():
    vt.binary()
    wd = S["wd"] = vt.workdir("viewfiles")
    S["up"] = vt.FakeUpstream(public_handler).start()
    write_vpc("vpc-a", "10.0.0.1")
    write_vpc("vpc-b", "10.1.0.1")
    srv = vt.Vpcdns(wd, None)
    srv.set_config({
        "server": vt.server_block(srv.port),
        "upstreams": {"up": ["127.0.0.1:%d" % S["up"].port]},
        "views": [{"name": "onprem", "clients": [ONPREM + "/32"],
                   "include": ["vpc-*"], "forward": {".": "up"}}],
        "view_files": [{"path": "endpoints/*/view.yaml",
                        "defaults": {"forward": {".": "up"}, "explain": False}}],
    })
    S["srv"] = srv.start()


def teardown():
    try:
        vt.teardown_server(S.get("srv"))
    finally:
        if "up" in S:
            S["up"].stop()


def ask(src, name):
    m, sent = vt.udp_query(name, A, port=S["srv"].port, src=src)
    check(m is not None, "no reply to %s from %s" % (name, src))
    eq(m.id, vt.Msg.parse(sent).id, "reply ID")
    return m


def answer(src, name):
    m = ask(src, name)
    eq(m.rcode_name(), "NOERROR", "rcode for %s from %s" % (name, src))
    return m.values(A)


@suite.case
def two_view_files_answer_their_clients():
    eq(answer(CLIENTS["vpc-a"], "www.vpc-a.svc.test"), ["10.0.0.1"], "vpc-a's own zone")
    eq(answer(CLIENTS["vpc-b"], "www.vpc-b.svc.test"), ["10.1.0.1"], "vpc-b's own zone")
    # The other VPC's names are not in the view: the default forward rule.
    eq(answer(CLIENTS["vpc-a"], "www.vpc-b.svc.test"), [PUBLIC], "vpc-a asks vpc-b's name")
    eq(answer(CLIENTS["vpc-b"], "name.example"), [PUBLIC], "default forward rule")
    # On premises includes every VPC by the pattern vpc-*.
    eq(answer(ONPREM, "www.vpc-a.svc.test"), ["10.0.0.1"], "onprem sees vpc-a")
    eq(answer(ONPREM, "www.vpc-b.svc.test"), ["10.1.0.1"], "onprem sees vpc-b")
    eq(ask(CLIENTS["vpc-c"], "www.vpc-a.svc.test").rcode_name(), "REFUSED",
       "no view for vpc-c yet")


@suite.case
def new_folder_adds_its_view():
    write_vpc("vpc-c", "10.2.0.1")
    write_vpc("vpc-d")   # no interface endpoints: it forwards everything
    check(S["srv"].reload(), "reload with two more view files failed",
          S["srv"].log()[-2000:])
    eq(answer(CLIENTS["vpc-c"], "www.vpc-c.svc.test"), ["10.2.0.1"], "vpc-c's own zone")
    eq(answer(ONPREM, "www.vpc-c.svc.test"), ["10.2.0.1"], "onprem follows the new VPC")
    eq(answer(CLIENTS["vpc-d"], "www.vpc-a.svc.test"), [PUBLIC],
       "a VPC with no endpoints forwards")
    eq(answer(CLIENTS["vpc-d"], "www.vpc-d.svc.test"), [PUBLIC], "vpc-d has no zone")


@suite.case
def removed_folder_removes_its_view():
    shutil.rmtree(os.path.join(S["wd"], "endpoints", "vpc-b"))
    check(S["srv"].reload(), "reload without vpc-b failed", S["srv"].log()[-2000:])
    eq(ask(CLIENTS["vpc-b"], "www.vpc-b.svc.test").rcode_name(), "REFUSED",
       "vpc-b's clients after its folder is gone")
    eq(answer(ONPREM, "www.vpc-b.svc.test"), [PUBLIC], "onprem no longer has vpc-b's zone")
    eq(answer(CLIENTS["vpc-a"], "www.vpc-a.svc.test"), ["10.0.0.1"], "vpc-a unchanged")


@suite.case
def broken_view_file_keeps_old_views():
    srv = S["srv"]
    path = os.path.join(S["wd"], "endpoints", "vpc-c", "view.yaml")
    good = open(path).read()
    write_vpc("vpc-c", "10.2.0.1", view=good.replace('"127.0.0.30/32"', '"127.0.0.30/8"'))
    off = srv.log_size()
    check(not srv.reload(), "a reload with a bad CIDR in a view file succeeded")
    text = srv.log_since(off)
    check(re.search(r"vpc-c/view\.yaml:3: .*bad CIDR '127\.0\.0\.30/8'", text),
          "the log does not name the view file and line", text)
    check(srv.alive(), "server exited on a broken view file")
    eq(answer(CLIENTS["vpc-c"], "www.vpc-c.svc.test"), ["10.2.0.1"], "old vpc-c data")
    eq(answer(ONPREM, "www.vpc-c.svc.test"), ["10.2.0.1"], "old onprem data")
    # --check reports the same file:line and fails.
    rc, out, err = vt.check_run([vt.binary(), "--check", "-c", srv.conf_path],
                                env=vt.server_env(S["wd"]))
    check(rc != 0, "--check accepted a broken view file", out + err)
    check(re.search(r"vpc-c/view\.yaml:3: ", out + err), "--check lacks file:line", out + err)
    # A view file that is not there any more is fine; a duplicate name is
    # reported with both files.
    vt.write(path, good.replace("name: vpc-c", "name: vpc-a"))
    check(not srv.reload(), "a reload with a duplicate view name succeeded")
    check(re.search(r"vpc-c/view\.yaml:2: view 'vpc-a' already defined at \S*"
                    r"vpc-a/view\.yaml:2", srv.log_since(off)),
          "the duplicate is not reported with both files", srv.log_since(off))
    vt.write(path, good)
    check(srv.reload(), "reload after repairing the view file failed")
    eq(answer(CLIENTS["vpc-c"], "www.vpc-c.svc.test"), ["10.2.0.1"], "vpc-c after repair")


if __name__ == "__main__":
    suite.main(setup, teardown)
