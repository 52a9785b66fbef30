#!/usr/bin/env python3
"""vpcdns-sync end to end with a fake AWS CLI and a fake vpcdnsctl first
on PATH (tests/integration/fakes/): it never calls AWS. The inventory is
the importer's describe-vpcs fixture split into two accounts: profile
prod (VPC A) and profile dev (VPCs B and C), both in us-east-1. Cases: a
first sync and the summary; a second sync after changes (an ENI replaced,
an endpoint and a VPC deleted) and its summary; a throttled call retried;
a denied account and invalid JSON keep the previous data of that account
and exit 1 naming the account and the call, while the other account is
imported and pruned; a failed check or reload puts the previous import
back; configuration errors as file:line. Environment: VPCDNS_SYNC,
VPCDNS_IMPORT, VPCDNS (optional, for the real --check), VD_SOURCE_DIR.
Exit 77 to skip.
"""

import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

SRC = os.environ.get("VD_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(SRC, "tests", "import", "fixtures", "describe-vpcs")
FAKES = os.path.join(SRC, "tests", "integration", "fakes")
SYNC = os.path.abspath(os.environ.get("VPCDNS_SYNC", ""))
IMPORT = os.path.abspath(os.environ.get("VPCDNS_IMPORT", ""))
DAEMON = os.path.abspath(os.environ["VPCDNS"]) if os.environ.get("VPCDNS") else ""

VA, VB, VC = "vpc-0a1b2c3d4e5f60718", "vpc-0b2c3d4e5f6071829", "vpc-0c3d4e5f60718293a"
CALLS = {"describe-vpcs": "Vpcs", "describe-vpc-endpoints": "VpcEndpoints",
         "describe-network-interfaces": "NetworkInterfaces", "describe-subnets": "Subnets"}

results = []


def case(fn):
    results.append(fn)
    return fn


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def read(path):
    with open(path) as f:
        return f.read()


def inventory():
    """call -> the fixture's document."""
    return {c: json.loads(read(os.path.join(FIX, c + ".json"))) for c in CALLS}


class Env:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="vd-sync-")
        self.aws = os.path.join(self.root, "aws")
        self.ctl = os.path.join(self.root, "ctl")
        os.makedirs(self.aws)
        os.makedirs(self.ctl)
        self.out = os.path.join(self.root, "endpoints")
        self.conf = os.path.join(self.root, "sync.yaml")
        self.write_conf()

    def write_conf(self, extra=""):
        with open(self.conf, "w") as f:
            f.write("accounts:\n"
                    "  - profile: prod\n    regions: [us-east-1]\n"
                    "  - profile: dev\n    regions: [us-east-1]\n"
                    "output: endpoints\n"
                    "importer: %s\n"
                    "vpcdnsctl: %s\n"
                    "retry: {tries: 5, base_ms: 1, max_ms: 4}\n%s"
                    % (IMPORT, os.path.join(FAKES, "vpcdnsctl"), extra))

    def serve(self, profile, docs, vpcs):
        """The account's four outputs: the items of the given VPCs."""
        d = os.path.join(self.aws, profile, "us-east-1")
        os.makedirs(d, exist_ok=True)
        for call, key in CALLS.items():
            doc = copy.deepcopy(docs[call])
            doc[key] = [x for x in doc[key] if x.get("VpcId") in vpcs]
            with open(os.path.join(d, call + ".json"), "w") as f:
                json.dump(doc, f, indent=4)

    def control(self, profile, call, what, text=""):
        with open(os.path.join(self.aws, profile, "us-east-1", call + what), "w") as f:
            f.write(text)

    def run(self):
        env = dict(os.environ)
        env["PATH"] = FAKES + os.pathsep + env.get("PATH", "")
        env["FAKE_AWS_DIR"] = self.aws
        env["FAKE_CTL_DIR"] = self.ctl
        p = subprocess.run([SYNC, "-c", self.conf], capture_output=True, timeout=120, env=env)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def link(self):
        return os.readlink(self.out) if os.path.islink(self.out) else None

    def calls(self):
        p = os.path.join(self.aws, "calls.log")
        return read(p).splitlines() if os.path.exists(p) else []

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)


def v1(env):
    docs = inventory()
    env.serve("prod", docs, [VA])
    env.serve("dev", docs, [VB, VC])
    return docs


def synced_v1():
    env = Env()
    v1(env)
    rc, out, err = env.run()
    check(rc == 0, "first sync: exit %d\n%s%s" % (rc, out, err))
    return env


def replace_eni(docs, old, new):
    for e in docs["describe-network-interfaces"]["NetworkInterfaces"]:
        if e["PrivateIpAddress"] == old:
            e["PrivateIpAddress"] = new
            e["PrivateIpAddresses"][0]["PrivateIpAddress"] = new


@case
def first_sync():
    env = Env()
    try:
        v1(env)
        rc, out, err = env.run()
        check(rc == 0, "exit %d\n%s%s" % (rc, out, err))
        for want in ("view added: %s\n" % VA, "view added: %s\n" % VB, "view added: %s\n" % VC,
                     "%s: added ec2.us-east-1.amazonaws.com. A 10.20.1.15 10.20.2.27\n" % VA,
                     "views: 3 added, 0 removed; records: "):
            check(want in out, "missing %r in:\n%s" % (want, out))
        check(out.rstrip().endswith("0 removed, 0 changed; generation 1"), out)
        check(env.link() == "endpoints.v1", "link %r" % env.link())
        man = read(os.path.join(env.out, ".vpcdns-import.manifest"))
        for want in ("vpc %s prod/us-east-1\n" % VA, "vpc %s dev/us-east-1\n" % VB,
                     "vpc %s dev/us-east-1\n" % VC):
            check(want in man, "missing %r in the manifest:\n%s" % (want, man))
        view = read(os.path.join(env.out, VC, "view.yaml"))
        check('clients: ["10.40.0.0/16"]' in view and "zones:" not in view, view)
        check("region: us-east-1   # from --region" in view, view)
        calls = env.calls()
        check(len(calls) == 8 and "prod us-east-1 describe-vpcs" in calls
              and "dev us-east-1 describe-subnets" in calls, calls)
        ctl = read(os.path.join(env.ctl, "calls.log"))
        check(ctl == "--json reload\n", ctl)
    finally:
        env.close()


@case
def second_sync_summary():
    """v2: an ENI of A replaced by another address, B's ssm endpoint
    deleted, VPC C deleted: the summary says exactly that."""
    env = synced_v1()
    try:
        docs = inventory()
        replace_eni(docs, "10.20.2.27", "10.20.2.99")
        docs["describe-vpc-endpoints"]["VpcEndpoints"] = [
            e for e in docs["describe-vpc-endpoints"]["VpcEndpoints"]
            if "ssm" not in e["ServiceName"]]
        env.serve("prod", docs, [VA])
        env.serve("dev", docs, [VB])
        rc, out, err = env.run()
        check(rc == 0, "exit %d\n%s%s" % (rc, out, err))
        for want in ("view removed: %s\n" % VC,
                     "%s: changed ec2.us-east-1.amazonaws.com. A 10.20.1.15 10.20.2.27 -> "
                     "10.20.1.15 10.20.2.99\n" % VA,
                     "%s: removed ssm.us-east-1.amazonaws.com. A\n" % VB,
                     "views: 0 added, 1 removed; records: 0 added, 3 removed, 3 changed; "
                     "generation 2\n"):
            check(want in out, "missing %r in:\n%s" % (want, out))
        check("%s: from an earlier import, not in the input: removed (--prune)" % VC in err, err)
        check(not os.path.exists(os.path.join(env.out, VC)), "C not pruned")
        check(env.link() == "endpoints.v2", env.link())
    finally:
        env.close()


@case
def throttled_call_retried():
    env = Env()
    try:
        v1(env)
        env.control("prod", "describe-vpc-endpoints", ".throttle", "2\n")
        rc, out, err = env.run()
        check(rc == 0, "exit %d\n%s%s" % (rc, out, err))
        for want in ("vpcdns-sync: prod/us-east-1: aws ec2 describe-vpc-endpoints: throttled "
                     "(try 1 of 5)", "(try 2 of 5)"):
            check(want in err, "missing %r in:\n%s" % (want, err))
        check(env.calls().count("prod us-east-1 describe-vpc-endpoints") == 3, env.calls())
        check(os.path.isdir(os.path.join(env.out, VA)), "A not imported")
        # Throttled on every try: a failure naming the account and call.
        env.control("prod", "describe-vpc-endpoints", ".throttle", "9\n")
        rc, out, err = env.run()
        check(rc == 1, "exit %d" % rc)
        check("prod/us-east-1: aws ec2 describe-vpc-endpoints failed (still throttled after "
              "every try): An error occurred (RequestLimitExceeded)" in err, err)
    finally:
        env.close()


@case
def denied_account_keeps_its_data():
    """dev is denied while its VPC C was deleted and prod changed: prod's
    change is imported, C is not pruned (its account failed), exit 1."""
    env = synced_v1()
    try:
        zone_b = read(os.path.join(env.out, VB, "zones", "ssm.us-east-1.amazonaws.com.zone"))
        docs = inventory()
        replace_eni(docs, "10.20.2.27", "10.20.2.99")
        env.serve("prod", docs, [VA])
        env.serve("dev", docs, [VB])
        env.control("dev", "describe-subnets", ".deny")
        rc, out, err = env.run()
        check(rc == 1, "exit %d\n%s%s" % (rc, out, err))
        check("vpcdns-sync: dev/us-east-1: aws ec2 describe-subnets failed: An error occurred "
              "(UnauthorizedOperation) when calling the DescribeSubnets operation" in err, err)
        check("1 of 2 account and region pairs failed" in err, err)
        check("kept, because its source dev/us-east-1 was not in this import" in err, err)
        for vpc in (VA, VB, VC):
            check(os.path.isdir(os.path.join(env.out, vpc)), "%s gone" % vpc)
        check(read(os.path.join(env.out, VB, "zones", "ssm.us-east-1.amazonaws.com.zone"))
              == zone_b, "B's data changed")
        check("10.20.2.99" in read(os.path.join(env.out, VA, "zones",
                                                "ec2.us-east-1.amazonaws.com.zone")),
              "A not updated")
        check("generation 2" in out, out)
    finally:
        env.close()


@case
def invalid_json_keeps_previous_data():
    env = synced_v1()
    try:
        before = read(os.path.join(env.out, VA, "zones", "ec2.us-east-1.amazonaws.com.zone"))
        docs = inventory()
        replace_eni(docs, "10.20.2.27", "10.20.2.99")
        env.serve("prod", docs, [VA])
        with open(os.path.join(env.aws, "prod", "us-east-1",
                               "describe-network-interfaces.json"), "w") as f:
            f.write('{"NetworkInterfaces": [\n')
        rc, out, err = env.run()
        check(rc == 1, "exit %d\n%s%s" % (rc, out, err))
        check("vpcdns-sync: prod/us-east-1: aws ec2 describe-network-interfaces: invalid JSON"
              in err, err)
        check(read(os.path.join(env.out, VA, "zones", "ec2.us-east-1.amazonaws.com.zone"))
              == before, "A's data changed")
        # Every account failing: nothing imported, the link stays.
        env.control("dev", "describe-vpcs", ".deny")
        link = env.link()
        rc, out, err = env.run()
        check(rc == 1 and "no account and region fetched: nothing imported" in err, err)
        check(env.link() == link, "link moved")
    finally:
        env.close()


@case
def failed_reload_restores_previous_import():
    env = synced_v1()
    try:
        with open(os.path.join(env.ctl, "fail"), "w") as f:
            f.write("/etc/vpcdns/vpcdns.yaml:12: view vpc-x: bad zone\n")
        docs = inventory()
        replace_eni(docs, "10.20.2.27", "10.20.2.99")
        env.serve("prod", docs, [VA])
        rc, out, err = env.run()
        check(rc == 1, "exit %d\n%s%s" % (rc, out, err))
        check("reload failed (exit 1)" in err
              and "/etc/vpcdns/vpcdns.yaml:12: view vpc-x: bad zone\n" in err, err)
        check("points to the previous import again (endpoints.v1)" in err, err)
        check(env.link() == "endpoints.v1", env.link())
        check("10.20.2.99" not in read(os.path.join(env.out, VA, "zones",
                                                    "ec2.us-east-1.amazonaws.com.zone")),
              "new data serving")
    finally:
        env.close()


@case
def check_runs_before_reload():
    """vpcdns_config: vpcdns --check runs on the new tree (the real binary
    when built, on a configuration naming A's zones through the link); a
    failing check restores the previous import and skips the reload."""
    env = synced_v1()
    try:
        fake = os.path.join(env.root, "badcheck")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\necho \"$3:7: something wrong\" >&2\nexit 1\n")
        os.chmod(fake, 0o755)
        with open(os.path.join(env.root, "vpcdns.yaml"), "w") as f:
            f.write("server:\n  listen: [\"127.0.0.1:53535\"]\n"
                    "upstreams:\n  default: [\"127.0.0.1:53536\"]\nviews:\n"
                    "  - name: a\n    clients: [\"10.20.0.0/16\"]\n"
                    "    zones: [\"endpoints/%s/zones/\"]\n" % VA)
        env.write_conf("vpcdns_config: vpcdns.yaml\nvpcdns: %s\n" % fake)
        rc, out, err = env.run()
        check(rc == 1 and "vpcdns.yaml:7: something wrong" in err
              and "--check -c %s/vpcdns.yaml failed (exit 1)" % env.root in err, err)
        check(env.link() == "endpoints.v1", env.link())
        check(read(os.path.join(env.ctl, "calls.log")).count("reload") == 1, "reloaded")
        if DAEMON and os.access(DAEMON, os.X_OK):
            env.write_conf("vpcdns_config: vpcdns.yaml\nvpcdns: %s\n" % DAEMON)
            rc, out, err = env.run()
            check(rc == 0, "real --check: exit %d\n%s%s" % (rc, out, err))
    finally:
        env.close()


@case
def config_errors():
    env = Env()
    try:
        with open(env.conf, "w") as f:
            f.write("accounts:\n  - profile: prod\n    regions: [us-east-1, \"US East\"]\n"
                    "  - profile: prod\n    regions: []\n"
                    "output: out\ncolour: blue\nretry: {tries: 0}\n")
        rc, out, err = env.run()
        check(rc == 2, "exit %d: %s" % (rc, err))
        for want in ("sync.yaml:3: 'US East' is not an AWS region name",
                     "sync.yaml:4: profile prod listed twice (first on line 2)",
                     "sync.yaml:5: regions must be a non-empty list",
                     "sync.yaml:7: unknown key 'colour'",
                     "sync.yaml:8: retry.tries must be a number from 1 to 20"):
            check(want in err, "missing %r in:\n%s" % (want, err))
        check(env.calls() == [], "AWS called with a bad configuration")
        os.unlink(env.conf)
        rc, out, err = env.run()
        check(rc == 2 and "sync.yaml: cannot open: No such file or directory" in err, err)
    finally:
        env.close()


def main():
    for b in (SYNC, IMPORT):
        if not b or not os.access(b, os.X_OK):
            print("skip: %r is not built (VPCDNS_SYNC, VPCDNS_IMPORT)" % b)
            return 77
    failed = 0
    for t in results:
        try:
            t()
            print("ok   %s" % t.__name__)
        except Exception as e:
            failed += 1
            print("FAIL %s: %s" % (t.__name__, e if isinstance(e, Fail) else traceback.format_exc()))
    print("%d passed, %d failed" % (len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
