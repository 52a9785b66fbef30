#!/usr/bin/env python3
"""Golden-file tests of vpcdns-import: each directory under
tests/import/fixtures/ holds AWS CLI outputs (JSON) and, optionally, `args`
(extra arguments, one a line), `stdin` (the fixture file to pipe in),
`exit` (expected status, default 0) and `same-as` (a case whose golden
output this one must reproduce). The importer runs in a fresh directory
with `--out out`; its output tree must equal tests/import/golden/<case>/
byte for byte, its stderr must equal tests/import/golden/<case>.stderr, and
a failing run must write nothing at all. Further checks: the same input in
another file order gives the same bytes, an error leaves an existing
output directory untouched, a rerun removes the zone files of deleted
endpoints, VPCs of an earlier import are kept or pruned by source, the
zone files and views load in ldns and in vpcdns itself (when available),
and the AWS CLI examples in ../shared/aws-examples are handled. The output
is a link to a versioned folder: a first run writes out -> out.v1, which
is what the golden trees hold. Environment: VPCDNS_IMPORT (the binary), VD_SOURCE_DIR (the
repository), VPCDNS (the daemon, optional). Exit 77 to skip.
VD_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing (review
the diff before committing it).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import traceback

SRC = os.environ.get("VD_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(SRC, "tests", "import", "fixtures")
GOLDEN = os.path.join(SRC, "tests", "import", "golden")
UPDATE = os.environ.get("VD_UPDATE_GOLDEN") == "1"
BIN = os.path.abspath(os.environ["VPCDNS_IMPORT"]) if os.environ.get("VPCDNS_IMPORT") else ""
DAEMON = os.path.abspath(os.environ["VPCDNS"]) if os.environ.get("VPCDNS") else ""

results = []


def case(fn):
    results.append(fn)
    return fn


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def tree(root):
    """Relative path -> bytes of every file under root."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, root)] = read(p, "rb")
    return out


def run(args, cwd, stdin=None):
    p = subprocess.run([BIN] + args, cwd=cwd, input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def fixture_opts(name):
    fdir = os.path.join(FIXTURES, name)

    def opt(fname, default):
        p = os.path.join(fdir, fname)
        return read(p).strip() if os.path.exists(p) else default
    args = opt("args", "")
    return {
        "dir": fdir,
        "args": args.split("\n") if args else [],
        "stdin": opt("stdin", None),
        "exit": int(opt("exit", "0")),
        "same_as": opt("same-as", None),
        "inputs": sorted(f for f in os.listdir(fdir) if f.endswith(".json")),
    }


def run_fixture(name, tmp, reverse=False):
    """Copies the fixture's JSON into tmp/in and runs the importer there."""
    o = fixture_opts(name)
    os.makedirs(os.path.join(tmp, "in"), exist_ok=True)
    for f in o["inputs"]:
        shutil.copy(os.path.join(o["dir"], f), os.path.join(tmp, "in", f))
    files = [] if o["stdin"] else ["in/" + f for f in o["inputs"]]
    if reverse:
        files.reverse()
    stdin = read(os.path.join(o["dir"], o["stdin"]), "rb") if o["stdin"] else None
    return o, run(["--out", "out"] + o["args"] + files, tmp, stdin)


def compare_tree(got_root, want_root):
    got, want = tree(got_root), tree(want_root)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    check(not missing, "files not written: %s" % missing)
    check(not extra, "unexpected files: %s" % extra)
    for p in sorted(want):
        if got[p] != want[p]:
            raise Fail("%s differs from the golden file:\n--- want\n%s--- got\n%s"
                       % (p, want[p].decode(), got[p].decode()))


def golden_case(name):
    def fn():
        tmp = tempfile.mkdtemp(prefix="vd-import-")
        try:
            o, (rc, out, err) = run_fixture(name, tmp)
            want_err = os.path.join(GOLDEN, name + ".stderr")
            gdir = os.path.join(GOLDEN, o["same_as"] or name)
            outdir = os.path.join(tmp, "out")
            if UPDATE:
                with open(want_err, "w") as f:
                    f.write(err)
                if rc == 0 and not o["same_as"]:
                    shutil.rmtree(gdir, ignore_errors=True)
                    shutil.copytree(outdir, gdir)
            check(rc == o["exit"], "exit %d, want %d; stderr:\n%s" % (rc, o["exit"], err))
            check(out == "", "stdout not empty: %r" % out)
            check(err == read(want_err), "stderr differs:\n--- want\n%s--- got\n%s"
                  % (read(want_err), err))
            if rc == 0:
                compare_tree(outdir, gdir)
            else:
                check(sorted(os.listdir(tmp)) == ["in"],
                      "a failed run wrote %s" % sorted(os.listdir(tmp)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    fn.__name__ = "golden: " + name
    return fn


def all_cases():
    return sorted(d for d in os.listdir(FIXTURES) if os.path.isdir(os.path.join(FIXTURES, d)))


@case
def determinism():
    """Every successful case, with its files given in reverse order."""
    for name in all_cases():
        o = fixture_opts(name)
        if o["exit"] or o["stdin"] or len(o["inputs"]) < 2:
            continue
        tmp = tempfile.mkdtemp(prefix="vd-import-")
        try:
            _, (rc, _, err) = run_fixture(name, tmp, reverse=True)
            check(rc == 0, "%s reversed: exit %d: %s" % (name, rc, err))
            compare_tree(os.path.join(tmp, "out"), os.path.join(GOLDEN, o["same_as"] or name))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@case
def error_leaves_output_alone():
    tmp = tempfile.mkdtemp(prefix="vd-import-")
    try:
        keep = os.path.join(tmp, "out", "vpc-0a1b2c3d4e5f60718", "zones")
        os.makedirs(keep)
        with open(os.path.join(keep, "ec2.us-east-1.amazonaws.com.zone"), "w") as f:
            f.write("; from an earlier run\n")
        before = tree(os.path.join(tmp, "out"))
        _, (rc, _, _) = run_fixture("err-missing-eni", tmp)
        check(rc == 1, "exit %d" % rc)
        check(tree(os.path.join(tmp, "out")) == before, "the output directory changed")
        check(sorted(os.listdir(tmp)) == ["in", "out"], "files written beside it")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def link_target(path):
    return os.readlink(path) if os.path.islink(path) else None


@case
def rerun_drops_deleted_endpoints():
    """A rerun after an endpoint was deleted: the new version has no zone
    file for it, the link moves to the new version, the previous version
    stays (a reload in progress may still read it), older ones go."""
    tmp = tempfile.mkdtemp(prefix="vd-import-")
    try:
        out = os.path.join(tmp, "out")
        _, (rc, _, err) = run_fixture("private-dns", tmp)
        check(rc == 0, "exit %d: %s" % (rc, err))
        check(link_target(out) == "out.v1", "link: %r" % link_target(out))
        zdir = os.path.join(out, "vpc-0a1b2c3d4e5f60718", "zones")
        check("kinesis.us-east-1.amazonaws.com.zone" in os.listdir(zdir), os.listdir(zdir))
        shutil.rmtree(os.path.join(tmp, "in"))
        _, (rc, _, err) = run_fixture("skipped", tmp)
        check(rc == 0, "exit %d: %s" % (rc, err))
        check(link_target(out) == "out.v2", "link: %r" % link_target(out))
        left = sorted(os.listdir(zdir))
        check(left == ["us-east-1.vpce.amazonaws.com.zone"], "left: %s" % left)
        check("out -> out.v2" in err, err)
        view = read(os.path.join(out, "vpc-0a1b2c3d4e5f60718", "view.yaml"))
        check('"out.v2/vpc-0a1b2c3d4e5f60718/zones/"' in view, view)
        check(os.path.isdir(os.path.join(tmp, "out.v1")), "previous version removed")
        shutil.rmtree(os.path.join(tmp, "in"))
        _, (rc, _, err) = run_fixture("skipped", tmp)
        check(rc == 0, "exit %d: %s" % (rc, err))
        check(sorted(os.listdir(tmp)) == ["in", "out", "out.v2", "out.v3"],
              "left: %s" % sorted(os.listdir(tmp)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@case
def vpc_without_endpoints():
    """--vpc for a VPC whose endpoints are all gone writes its subnets and a
    view without zones; the new version has no zones folder for it."""
    tmp = tempfile.mkdtemp(prefix="vd-import-")
    try:
        _, (rc, _, err) = run_fixture("private-dns", tmp)
        check(rc == 0, "exit %d: %s" % (rc, err))
        zdir = os.path.join(tmp, "out", "vpc-0a1b2c3d4e5f60718", "zones")
        check(os.path.isdir(zdir), "no zones folder")
        rc, _, err = run(["--vpc", "vpc-0a1b2c3d4e5f60718", "--out", "out",
                          "in/describe-subnets.json"], tmp)
        check(rc == 0, "exit %d: %s" % (rc, err))
        check(not os.path.exists(zdir), "zones folder kept")
        view = read(os.path.join(tmp, "out", "vpc-0a1b2c3d4e5f60718", "view.yaml"))
        check("zones:" not in view and "No available interface endpoint" in view, view)
        check("0 endpoints, 0 zones, 0 records, 5 subnets" in err, err)
        rc, _, err = run(["--vpc", "vpc-0123456789abcdef0", "--out", "out2",
                          "in/describe-subnets.json"], tmp)
        check(rc == 1 and "--vpc vpc-0123456789abcdef0: no endpoint or subnet" in err, err)
        check(not os.path.exists(os.path.join(tmp, "out2")), "out2 written")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def split_by_vpc(fixture, vpcs, dest):
    """Writes the fixture's four inputs into dest, keeping only the items
    of the given VPCs (endpoints, interfaces and subnets by VpcId)."""
    import json
    os.makedirs(dest, exist_ok=True)
    names = []
    for f in sorted(os.listdir(os.path.join(FIXTURES, fixture))):
        if not f.endswith(".json"):
            continue
        doc = json.loads(read(os.path.join(FIXTURES, fixture, f)))
        for key in ("Vpcs", "VpcEndpoints", "NetworkInterfaces", "Subnets"):
            if key in doc:
                doc[key] = [x for x in doc[key] if x.get("VpcId") in vpcs]
        with open(os.path.join(dest, f), "w") as fp:
            json.dump(doc, fp, indent=2)
        names.append(os.path.join(dest, f))
    return names


VA, VB, VC = "vpc-0a1b2c3d4e5f60718", "vpc-0b2c3d4e5f6071829", "vpc-0c3d4e5f60718293a"


@case
def prune_by_source():
    """VPCs absent from the input are listed; --prune removes only those
    whose source was imported this time; the others are carried into the
    new version with their view's paths moved to it."""
    tmp = tempfile.mkdtemp(prefix="vd-import-")
    try:
        a = split_by_vpc("describe-vpcs", [VA], os.path.join(tmp, "a"))
        b = split_by_vpc("describe-vpcs", [VB, VC], os.path.join(tmp, "b"))
        rc, _, err = run(["--out", "out", "--source", "prod/us-east-1"] + a +
                         ["--source", "dev/us-east-1", "--region", "us-east-1"] + b, tmp)
        check(rc == 0, "exit %d: %s" % (rc, err))
        man = read(os.path.join(tmp, "out", ".vpcdns-import.manifest"))
        for want in ("vpc %s prod/us-east-1\n" % VA, "vpc %s dev/us-east-1\n" % VB,
                     "vpc %s dev/us-east-1\n" % VC, "file %s/view.yaml\n" % VC):
            check(want in man, "missing %r in:\n%s" % (want, man))
        # VPC C deleted in dev; prod's calls "failed" (not in the input).
        b2 = split_by_vpc("describe-vpcs", [VB], os.path.join(tmp, "b2"))
        rc, _, err = run(["--out", "out", "--prune", "--source", "dev/us-east-1"] + b2, tmp)
        check(rc == 0, "exit %d: %s" % (rc, err))
        for want in ("vpcdns-import: %s: from an earlier import, not in the input: "
                     "removed (--prune)\n" % VC,
                     "vpcdns-import: %s: from an earlier import, not in the input: kept, "
                     "because its source prod/us-east-1 was not in this import\n" % VA):
            check(want in err, "missing %r in:\n%s" % (want, err))
        out = os.path.join(tmp, "out")
        check(sorted(d for d in os.listdir(out) if d.startswith("vpc-")) == [VA, VB],
              os.listdir(out))
        view_a = read(os.path.join(out, VA, "view.yaml"))
        check('"out.v2/%s/zones/"' % VA in view_a and "out.v1" not in view_a, view_a)
        check(os.path.isfile(os.path.join(out, VA, "zones", "ec2.us-east-1.amazonaws.com.zone")),
              "carried zone file missing")
        views = read(os.path.join(out, "views.yaml"))
        check(views.count("- name: ") == 2 and "- name: %s" % VA in views, views)
        check("prod/us-east-1" in read(os.path.join(out, ".vpcdns-import.manifest")),
              "carried VPC lost its source")
        # Without --prune an absent VPC is listed and kept.
        rc, _, err = run(["--out", "out", "--source", "dev/us-east-1"] +
                         split_by_vpc("describe-vpcs", [], os.path.join(tmp, "b3")), tmp)
        check(rc == 0, "exit %d: %s" % (rc, err))
        check("%s: from an earlier import, not in the input: kept (--prune removes it)"
              % VB in err, err)
        check(os.path.isdir(os.path.join(out, VB)), "B removed without --prune")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@case
def refuses_foreign_output():
    """--out naming an existing folder or a link it did not make is an
    error before anything is written."""
    tmp = tempfile.mkdtemp(prefix="vd-import-")
    try:
        os.makedirs(os.path.join(tmp, "out", "keep"))
        _, (rc, _, err) = run_fixture("private-dns", tmp)
        check(rc == 1 and "out: exists and is not the symbolic link" in err, err)
        check(os.listdir(os.path.join(tmp, "out")) == ["keep"], "out changed")
        check(sorted(os.listdir(tmp)) == ["in", "out"], sorted(os.listdir(tmp)))
        os.rmdir(os.path.join(tmp, "out", "keep"))
        os.rmdir(os.path.join(tmp, "out"))
        os.symlink("in", os.path.join(tmp, "out"))
        _, (rc, _, err) = run_fixture("private-dns", tmp)
        check(rc == 1 and "a symbolic link that vpcdns-import did not make" in err, err)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@case
def usage():
    tmp = tempfile.mkdtemp(prefix="vd-import-")
    try:
        rc, out, _ = run(["--help"], tmp)
        check(rc == 0 and "--vpc VPC-ID" in out and "-o, --out DIR" in out
              and "-h, --help" in out, out)
        rc, out, _ = run(["--version"], tmp)
        check(rc == 0 and out.startswith("vpcdns-import "), out)
        rc, _, err = run(["in.json"], tmp)
        check(rc == 2 and "--out DIR is required" in err, err)
        rc, _, err = run(["--vpc", "vpc-../../etc", "--out", "o"], tmp)
        check(rc == 2 and "not a VPC ID" in err, err)
        rc, _, err = run(["--out", "o", "missing.json"], tmp)
        check(rc == 1 and "missing.json: cannot open: No such file or directory" in err, err)
        check(os.listdir(tmp) == [], "files written: %s" % os.listdir(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def golden_zone_files():
    for d, _, files in os.walk(GOLDEN):
        for f in sorted(files):
            if f.endswith(".zone"):
                yield os.path.join(d, f)


@case
def zones_parse_in_ldns():
    tool = shutil.which("ldns-read-zone")
    if not tool:
        print("  (ldns-read-zone not installed: skipped)")
        return
    n = 0
    for z in golden_zone_files():
        p = subprocess.run([tool, "-q", z], capture_output=True, timeout=30)
        check(p.returncode == 0, "%s: %s" % (z, p.stderr.decode()))
        n += 1
    check(n > 0, "no golden zone file")


@case
def zones_load_in_vpcdns():
    """Each golden VPC's view (zones folder and all), and each golden
    views.yaml pasted under views:, passes vpcdns --check."""
    if not DAEMON or not os.access(DAEMON, os.X_OK):
        print("  (the vpcdns binary is not built here: skipped)")
        return
    head = ("server:\n  listen: [\"127.0.0.1:53535\"]\n"
            "upstreams:\n  default: [\"127.0.0.1:53536\"]\nviews:\n")
    tmp = tempfile.mkdtemp(prefix="vd-import-")
    try:
        n = 0
        for name in all_cases():
            gdir = os.path.join(GOLDEN, name)
            if not os.path.isdir(gdir):
                continue
            shutil.copytree(gdir, os.path.join(tmp, name, "out.v1"))
            os.symlink("out.v1", os.path.join(tmp, name, "out"))
            views = read(os.path.join(gdir, "views.yaml"))
            for vpc in sorted(d for d in os.listdir(gdir) if d.startswith("vpc-")):
                view = read(os.path.join(gdir, vpc, "view.yaml"))
                conf = os.path.join(tmp, name, vpc + ".yaml")
                with open(conf, "w") as f:
                    f.write(head + view)
                rc, err = vpcdns_check(conf)
                if "clients: []" in view:
                    continue
                check(rc == 0, "%s/%s: vpcdns --check failed:\n%s" % (name, vpc, err))
                n += 1
            if "clients: []" in views:
                continue
            conf = os.path.join(tmp, name, "all.yaml")
            with open(conf, "w") as f:
                f.write(head + views)
            rc, err = vpcdns_check(conf)
            check(rc == 0, "%s/views.yaml: vpcdns --check failed:\n%s" % (name, err))
        check(n > 0, "nothing checked")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def vpcdns_check(conf):
    p = subprocess.run([DAEMON, "--check", "-c", conf], cwd=os.path.dirname(conf),
                       capture_output=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).decode()


@case
def aws_cli_examples():
    """The published CLI examples: the gateway and GWLB endpoints are
    skipped by name; the interface endpoint's network interfaces are not
    in those files, which is an error naming each of them; nothing is
    written. The pending S3 endpoint alone leaves nothing to import."""
    ex = os.path.join(SRC, "..", "shared", "aws-examples")
    if not os.path.isdir(ex):
        print("  (%s not found: the AWS CLI examples are not checked)" % ex)
        return
    tmp = tempfile.mkdtemp(prefix="vd-import-")
    try:
        rc, _, err = run(["--out", "out", os.path.join(ex, "describe-vpc-endpoints.json"),
                          os.path.join(ex, "describe-subnets.json")], tmp)
        check(rc == 1, "exit %d" % rc)
        for want in (
                "vpcdns-import: skipping vpce-032a826a (Gateway, com.amazonaws.us-east-1.dynamodb): "
                "a gateway endpoint changes routing, not DNS\n",
                "vpcdns-import: skipping vpce-aabbaabbaabbaabba (GatewayLoadBalancer, "
                "com.amazonaws.vpce.us-east-1.vpce-svc-123123a1c43abc123): a Gateway Load "
                "Balancer endpoint has no DNS names\n",
                "vpcdns-import: vpce-0f89a33420c1931d7 lists network interface eni-2ec2b084, "
                "which is not in the input",
                "vpcdns-import: vpce-0f89a33420c1931d7 lists network interface eni-1b4a65cf, "
                "which is not in the input",
                "vpcdns-import: 2 errors; nothing written\n"):
            check(want in err, "missing %r in:\n%s" % (want, err))
        check(os.listdir(tmp) == [], "files written: %s" % os.listdir(tmp))

        rc, _, err = run(["--out", "out", os.path.join(ex, "create-vpc-endpoint.s3-interface.json"),
                          os.path.join(ex, "create-vpc-endpoint.gwlb.json")], tmp)
        check(rc == 1, "exit %d" % rc)
        for want in ("skipping vpce-1a2b3c4d5e6f1a2b3 (Interface, com.amazonaws.us-east-1.s3): "
                     "state is pending, not available",
                     "skipping vpce-aabbaabbaabbaabba (GatewayLoadBalancer",
                     "no available interface endpoint in the input: nothing to import"):
            check(want in err, "missing %r in:\n%s" % (want, err))
        check(os.listdir(tmp) == [], "files written: %s" % os.listdir(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if not BIN or not os.access(BIN, os.X_OK):
        print("skip: VPCDNS_IMPORT is not an executable (%r); build vpcdns-import" % BIN)
        return 77
    if not os.path.isdir(FIXTURES):
        print("skip: no fixtures at %s" % FIXTURES)
        return 77
    tests = [golden_case(n) for n in all_cases()] + results
    failed = 0
    for t in tests:
        try:
            t()
            print("ok   %s" % t.__name__)
        except Exception as e:  # report every case, then fail
            failed += 1
            print("FAIL %s: %s" % (t.__name__, e if isinstance(e, Fail) else traceback.format_exc()))
    print("%d passed, %d failed" % (len(tests) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
