#!/usr/bin/env python3
"""Endpoint awareness, end to end: vpcdns-import turns the hub-spoke
fixture (AWS CLI output for a hub VPC with interface endpoints in three
AZs, private DNS, ECR wildcards, S3 with PrivateDnsOnlyForInboundResolver-
Endpoint beside its gateway endpoint, dualstack and service-defined record
types, and a spoke VPC with its own EC2 and SSM endpoints) into zone files
and subnets files, and vpcdns serves them to clients on loopback addresses
that mixed `subnets:` lists place in Availability Zones. Checked: answer
order by the client's AZ (prefer, only with its fallback, off, on-prem
clients without an AZ, rotation), zonal and regional vpce names, private
names and wildcards with AA, A and AAAA as DnsRecordIpType says, unlisted
names falling through to the upstream, the inbound-only S3 recipe, hub and
spoke precedence and two VPCs included by one on-prem view, forward rules
not inherited through include, PTR for endpoint addresses, explain over CH
TXT (and REFUSED where a view turns it off), include errors reported by
--check, SIGUSR1 statistics, and a re-import with a new endpoint picked up
by SIGHUP. Environment: VPCDNS, VPCDNS_IMPORT,
VD_SOURCE_DIR. Exit 77 when a binary or a tool is missing.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, AAAA, PTR, SOA, TXT, CH, check, eq  # noqa: E402

suite = vt.Suite("endpoints")
S = {}

HUB = "vpc-0a1b2c3d4e5f60718"
SPOKE = "vpc-0b2c3d4e5f6071829"
FIXTURE = "hub-spoke"
VPCE = "us-east-1.vpce.amazonaws.com"

# Test clients and the views / AZs the configuration puts them in.
AZ4, AZ6, AZ1 = "127.0.1.1", "127.0.2.1", "127.0.4.1"        # hub, prefer
ONLY_AZ4, ONLY_AZ1 = "127.0.5.1", "127.0.5.3"                # hub-only, only
OFF_AZ4 = "127.0.8.1"                                        # hub-off, off
SPOKE_AZ2, SPOKE_AZ4 = "127.0.6.1", "127.0.6.4"              # spoke
ONPREM = "127.0.3.1"                                         # no AZ
QUIET = "127.0.7.1"                                          # explain: false

# Endpoint data of the fixture (see tests/import/fixtures/hub-spoke).
EC2 = {"use1-az4": "10.20.1.15", "use1-az6": "10.20.2.27"}
EC2_SPOKE = {"use1-az4": "10.30.1.15", "use1-az2": "10.30.2.15"}
KIN = {"use1-az4": "10.20.1.88", "use1-az6": "10.20.2.88", "use1-az1": "10.20.3.88"}
DKR = ["10.20.1.41", "10.20.2.41"]
S3 = ["10.20.1.60", "10.20.3.60"]
STS = ["10.20.1.71", "10.20.2.71"]
STS6 = {"use1-az4": "2600:1f18:4a3:5601:8e1c:2b4d:71aa:1",
        "use1-az6": "2600:1f18:4a3:5602:16f0:9a2e:71bb:2"}
SSM = ["10.20.1.72", "10.20.2.72"]
SSM6 = ["2600:1f18:4a3:5601:51a7:c0de:72aa:1", "2600:1f18:4a3:5602:51a7:c0de:72bb:2"]
SSM_SPOKE = ["10.30.1.16"]
EC2_VPCE = "vpce-0ec2a1b2c3d4e5f60-x7k2m9qp.ec2." + VPCE
EC2_SPOKE_VPCE = "vpce-0ec2b9c8d7e6f5a4b-b2v2c2x2.ec2." + VPCE
KIN_VPCE = "vpce-0f1e2d3c4b5a69788-2mq8rz4t.kinesis." + VPCE
STS_VPCE = "vpce-05757a1b2c3d4e5f6-q8w7e6r5.sts." + VPCE
SSM_VPCE = "vpce-055a1b2c3d4e5f607-p0o9i8u7.ssm." + VPCE
SSM_SPOKE_VPCE = "vpce-055b9c8d7e6f5a4b3-s5s5s5s5.ssm." + VPCE
S3_VPCE = "vpce-0a53c4d5e6f7a8b9c-r2t3y4u5.s3." + VPCE

# What the fake upstream answers for any name: never an endpoint address.
UP_A, UP_AAAA, UP_PTR = "192.0.2.80", "2001:db8::80", "upstream-ptr.example."

# An endpoint added by the re-import case.
SQS = "vpce-05a5a1b2c3d4e5f6a"
SQS_ENIS = [("eni-05a5aa11aa11aa11a", "subnet-0a11a11a11a11a11a", "10.20.1.91", "us-east-1a",
             "use1-az4"),
            ("eni-05a5bb22bb22bb22b", "subnet-0b22b22b22b22b22b", "10.20.2.91", "us-east-1b",
             "use1-az6")]


# ---- set-up ----------------------------------------------------------------

def import_binary():
    path = os.environ.get("VPCDNS_IMPORT")
    if not path:
        raise vt.SkipTest("VPCDNS_IMPORT is not set (path to the vpcdns-import binary)")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise vt.SkipTest("vpcdns-import binary not built yet: %s" % path)
    return os.path.abspath(path)


def run_import(*files):
    """Runs the importer in the work dir with --out out; returns stderr."""
    p = subprocess.run([S["import"], "--out", "out"] + list(files), cwd=S["wd"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=20)
    rc, out, err = p.returncode, p.stdout.decode(), p.stderr.decode()
    check(rc == 0, "vpcdns-import exited %d" % rc, err)
    eq(out, "", "vpcdns-import stdout")
    return err


def up_handler(m, transport):
    if not m.question:
        return None
    name, qtype, _ = m.question[0]
    ans = []
    if qtype == A:
        ans = [vt.rr_wire(name, A, 30, vt.rdata_a(UP_A))]
    elif qtype == AAAA:
        ans = [vt.rr_wire(name, AAAA, 30, vt.rdata_aaaa(UP_AAAA))]
    elif qtype == PTR:
        ans = [vt.rr_wire(name, PTR, 30, vt.name_to_wire(UP_PTR))]
    soa = vt.rr_wire("example.", SOA, 30, vt.rdata_soa("ns.example.", "h.example.", minimum=30))
    return [vt.build_response(m, answers=ans, authority=[] if ans else [soa])]


def sub(cidr, az_id):
    return {"cidr": cidr, "az_id": az_id}


def config():
    hub_subnets = "out/%s/subnets.yaml" % HUB
    fwd = {".": "up"}
    return {
        "server": vt.server_block(S["port"], directory=S["wd"]),
        "upstreams": {"up": ["127.0.0.1:%d" % S["up"].port]},
        "views": [
            {"name": "hub",
             "clients": ["10.20.0.0/16", "127.0.1.0/24", "127.0.2.0/24", "127.0.4.0/24"],
             # imported subnets plus loopback clients placed in AZs
             "subnets": [hub_subnets, sub("127.0.1.0/24", "use1-az4"),
                         sub("127.0.2.0/24", "use1-az6"), sub("127.0.4.0/24", "use1-az1")],
             "zones": ["out/%s/zones/" % HUB],
             "forward": fwd},
            {"name": "hub-only", "clients": ["127.0.5.0/24"],
             "subnets": [hub_subnets, sub("127.0.5.1/32", "use1-az4"),
                         sub("127.0.5.3/32", "use1-az1")],
             "zones": ["out/%s/zones/" % HUB],
             "az_affinity": "only",
             "forward": fwd},
            {"name": "hub-off", "clients": ["127.0.8.0/24"],
             "include": ["hub"],
             "subnets": [sub("127.0.8.0/24", "use1-az4")],
             "az_affinity": "off",
             "forward": fwd},
            {"name": "spoke", "clients": ["10.30.0.0/16", "127.0.6.0/24"],
             "subnets": ["out/%s/subnets.yaml" % SPOKE, sub("127.0.6.1/32", "use1-az2"),
                         sub("127.0.6.4/32", "use1-az4")],
             "zones": ["out/%s/zones/" % SPOKE],
             "include": ["hub"],
             "az_affinity": "prefer",
             "forward": fwd},
            {"name": "onprem", "clients": ["127.0.3.0/24"],
             "zones": ["out/%s/inbound-zones/" % HUB],
             "include": ["hub", "spoke"],
             "forward": fwd},
            {"name": "quiet", "clients": ["127.0.7.0/24"],
             "include": ["hub"],
             "explain": False},
        ],
    }


def setup():
    vt.binary()
    S["import"] = import_binary()
    vt.require_tools("dig")
    fdir = os.path.join(vt.source_dir(), "tests", "import", "fixtures", FIXTURE)
    if not os.path.isdir(fdir):
        raise AssertionError("fixture %s is missing" % fdir)
    S["wd"] = wd = vt.workdir("endpoints")
    for f in ("endpoints.json", "enis.json", "subnets.json"):
        shutil.copy(os.path.join(fdir, f), os.path.join(wd, f))
    S["import_err"] = run_import("endpoints.json", "enis.json", "subnets.json")
    S["up"] = vt.FakeUpstream(up_handler).start()
    S["port"] = vt.free_port()
    srv = vt.Vpcdns(wd, None, port=S["port"])
    srv.set_config(config())
    S["srv"] = srv.start()


def teardown():
    try:
        vt.teardown_server(S.get("srv"))
    finally:
        if "up" in S:
            S["up"].stop()


# ---- helpers -----------------------------------------------------------------

def ask(src, name, qtype=A, qclass=vt.IN, tcp=False):
    fn = vt.tcp_query if tcp else vt.udp_query
    m, sent = fn(name, qtype, qclass=qclass, port=S["port"], src=src, edns=True)
    check(m is not None, "no reply to %s %s from %s" % (name, vt.TYPE_NAMES.get(qtype), src))
    eq(m.id, vt.Msg.parse(sent).id, "reply ID")
    return m


def local(src, name, qtype=A):
    """A local answer: NOERROR with AA. Returns the values of qtype."""
    m = ask(src, name, qtype)
    eq(m.rcode_name(), "NOERROR", "rcode of %s from %s" % (name, src))
    check(m.aa, "%s from %s: AA not set on a local answer" % (name, src), m)
    return m.values(qtype)


def forwarded(src, name, qtype=A):
    """An answer from the fake upstream: no AA, the upstream's value."""
    m = ask(src, name, qtype)
    eq(m.rcode_name(), "NOERROR", "rcode of %s from %s" % (name, src))
    check(not m.aa, "%s from %s: AA set, so not forwarded" % (name, src), m)
    want = {A: [UP_A], AAAA: [UP_AAAA], PTR: [UP_PTR]}[qtype]
    eq(m.values(qtype), want, "%s from %s: the upstream's answer" % (name, src))


def orders(src, name, qtype=A, n=9):
    return [tuple(local(src, name, qtype)) for _ in range(n)]


def check_rotated(seen, addrs, what):
    """Every answer holds all addrs, and the order changes."""
    for o in seen:
        eq(sorted(o), sorted(addrs), "%s: addresses" % what)
    check(len(set(seen)) > 1, "%s: the order never changes over %d queries" % (what, len(seen)),
          seen[0])
    firsts = set(o[0] for o in seen)
    eq(sorted(firsts), sorted(addrs), "%s: addresses seen first" % what)


def explain(src, name, dig=True):
    """Lines of the CH TXT explain answer for name, asked from src."""
    if dig:
        r = vt.dig(S["port"], "-b", src, name, "CH", "TXT")
        eq(r.status, "NOERROR", "explain status for %s from %s" % (name, src))
        check(r.answer, "explain: no answer", r.text)
        lines = []
        for rr in r.answer:
            eq(rr[2:4], ("CH", "TXT"), "explain record class/type")
            lines.append(rr[4].strip('"'))
        return lines
    m = ask(src, name, TXT, qclass=CH)
    eq(m.rcode_name(), "NOERROR", "explain rcode")
    return [b"".join(r.value).decode() for r in m.rrs("answer", TXT)]


def generation():
    line = explain(AZ4, "probe.example.", dig=False)[0]
    mt = re.search(r"generation (\d+)", line)
    check(mt, "no generation in explain: %s" % line)
    return int(mt.group(1))


def sighup_and_wait():
    srv = S["srv"]
    off = srv.log_size()
    srv.signal(signal.SIGHUP)
    m = srv.wait_log(r"reload: generation (\d+) loaded", since=off, timeout=10)
    check(m, "no successful reload in the log", srv.log_since(off)[-2000:])
    return int(m.group(1))


# ---- the import ----------------------------------------------------------

@suite.case
def import_writes_zones_and_subnets():
    err = S["import_err"]
    check("skipping vpce-0a0b0c0d0e0f01234 (Gateway, com.amazonaws.us-east-1.s3)" in err,
          "the S3 gateway endpoint is not reported as skipped", err)
    check(re.search(r"%s: 7 endpoints, 11 zones, \d+ records, 5 subnets" % HUB, err),
          "hub summary line", err)
    check(re.search(r"%s: 2 endpoints, 3 zones, \d+ records, 2 subnets" % SPOKE, err),
          "spoke summary line", err)
    hub = os.path.join(S["wd"], "out", HUB)
    zones = sorted(os.listdir(os.path.join(hub, "zones")))
    for z in ("ec2.us-east-1.amazonaws.com.zone", "dkr.ecr.us-east-1.amazonaws.com.zone",
              VPCE + ".zone", "sts.us-east-1.amazonaws.com.zone"):
        check(z in zones, "zones/%s not written" % z, zones)
    check(not any(z.startswith("s3") for z in zones),
          "an inbound-only S3 name is in zones/ (for in-VPC clients)", zones)
    eq(sorted(os.listdir(os.path.join(hub, "inbound-zones"))),
       ["s3-accesspoint.us-east-1.amazonaws.com.zone", "s3-control.us-east-1.amazonaws.com.zone",
        "s3.us-east-1.amazonaws.com.zone"], "inbound-zones/")
    with open(os.path.join(hub, "subnets.yaml")) as f:
        text = f.read()
    for cidr, az in (("10.20.1.0/24", "use1-az4"), ("10.20.3.0/24", "use1-az1"),
                     ("2600:1f18:4a3:5602::/64", "use1-az6")):
        check(re.search(r"- cidr: %s\n\s+az_id: %s\n" % (re.escape(cidr), az), text),
              "subnets.yaml lacks %s in %s" % (cidr, az), text)


@suite.case
def config_passes_check():
    rc, out, err = vt.check_run([vt.binary(), "--check", "-c", S["srv"].conf_path],
                                env=vt.server_env(S["wd"]))
    eq(rc, 0, "vpcdns --check exit status (%s)" % (out + err))
    check(not vt.SANITIZER_RE.search(out + err), "sanitizer report from --check", out + err)


@suite.case
def include_errors_are_reported():
    base = config()
    base["server"]["listen"] = ["127.0.0.1:%d" % vt.free_port()]
    cases = [
        ({"hub": ["spoke"]}, r"include cycle"),
        ({"onprem": ["nosuch"]}, r"includes unknown view 'nosuch'"),
        ({"quiet": ["quiet"]}, r"includes itself"),
    ]
    for change, want in cases:
        cfg = json.loads(json.dumps(base))
        for v in cfg["views"]:
            if v["name"] in change:
                v["include"] = change[v["name"]]
        path = vt.write(os.path.join(S["wd"], "bad-include.yaml"), vt.to_yaml(cfg) + "\n")
        rc, out, err = vt.check_run([vt.binary(), "--check", "-c", path],
                                    env=vt.server_env(S["wd"]))
        eq(rc, 1, "--check exit status with include %s" % change)
        check(re.search(want, out + err), "no '%s' in --check output" % want, out + err)
        check(not vt.SANITIZER_RE.search(out + err), "sanitizer report from --check", out + err)


# ---- answers ordered by AZ -------------------------------------------------

@suite.case
def prefer_puts_client_az_first():
    for src, az in ((AZ4, "use1-az4"), (AZ6, "use1-az6")):
        seen = orders(src, "ec2.us-east-1.amazonaws.com")
        for o in seen:
            eq(o[0], EC2[az], "first ec2 address for a client in %s" % az)
            eq(sorted(o), sorted(EC2.values()), "ec2 addresses for %s" % az)
    seen = orders(AZ1, "kinesis.us-east-1.amazonaws.com")
    for o in seen:
        eq(o[0], KIN["use1-az1"], "first kinesis address for a client in use1-az1")
        eq(len(o), 3, "kinesis answer size")
    # the addresses in other AZs follow, rotated
    seen = orders(AZ4, "kinesis.us-east-1.amazonaws.com")
    for o in seen:
        eq(o[0], KIN["use1-az4"], "first kinesis address for a client in use1-az4")
    rest = set(o[1:] for o in seen)
    eq(len(rest), 2, "orders of the other AZs' addresses after the client's own")


@suite.case
def prefer_rotates_when_client_az_has_none():
    # use1-az1 has no ec2 interface: both addresses, rotated
    check_rotated(orders(AZ1, "ec2.us-east-1.amazonaws.com"), EC2.values(),
                  "ec2 for a client in use1-az1 (prefer)")


@suite.case
def prefer_orders_aaaa_by_ipv6_subnets():
    for src, az in ((AZ4, "use1-az4"), (AZ6, "use1-az6")):
        for o in orders(src, "sts.us-east-1.amazonaws.com", AAAA, n=5):
            eq(o[0], STS6[az], "first AAAA of sts for a client in %s" % az)
            eq(sorted(o), sorted(STS6.values()), "sts AAAA")


@suite.case
def only_keeps_client_az():
    for _ in range(6):
        eq(local(ONLY_AZ4, "ec2.us-east-1.amazonaws.com"), [EC2["use1-az4"]],
           "az_affinity only, client in use1-az4")
        eq(local(ONLY_AZ1, "kinesis.us-east-1.amazonaws.com"), [KIN["use1-az1"]],
           "az_affinity only, kinesis for a client in use1-az1")


@suite.case
def only_falls_back_to_all():
    check_rotated(orders(ONLY_AZ1, "ec2.us-east-1.amazonaws.com"), EC2.values(),
                  "az_affinity only, client in use1-az1 (no ec2 interface there)")
    # a client of the view outside every listed subnet has no AZ
    check_rotated(orders("127.0.5.9", "ec2.us-east-1.amazonaws.com"), EC2.values(),
                  "az_affinity only, client with no AZ")


@suite.case
def off_rotates_all():
    check_rotated(orders(OFF_AZ4, "ec2.us-east-1.amazonaws.com"), EC2.values(),
                  "az_affinity off, client in use1-az4")
    check_rotated(orders(OFF_AZ4, "kinesis.us-east-1.amazonaws.com"), KIN.values(),
                  "az_affinity off, kinesis")


@suite.case
def onprem_rotates_all():
    check_rotated(orders(ONPREM, "ec2.us-east-1.amazonaws.com"), EC2.values(),
                  "on-prem client, ec2")
    check_rotated(orders(ONPREM, "kinesis.us-east-1.amazonaws.com"), KIN.values(),
                  "on-prem client, kinesis")
    check_rotated(orders(ONPREM, KIN_VPCE), KIN.values(), "on-prem client, kinesis vpce")


@suite.case
def tcp_answers_are_ordered_too():
    for _ in range(4):
        m = ask(AZ6, "kinesis.us-east-1.amazonaws.com", tcp=True)
        check(m.aa, "AA over TCP", m)
        eq(m.values(A)[0], KIN["use1-az6"], "first kinesis address over TCP, use1-az6")


# ---- names -------------------------------------------------------------------

@suite.case
def zonal_and_regional_vpce_names():
    zonal = {"us-east-1a": KIN["use1-az4"], "us-east-1b": KIN["use1-az6"],
             "us-east-1c": KIN["use1-az1"]}
    for src in (AZ4, AZ6, ONPREM, ONLY_AZ1, OFF_AZ4, SPOKE_AZ2):
        for az, addr in zonal.items():
            name = "vpce-0f1e2d3c4b5a69788-2mq8rz4t-%s.kinesis.%s" % (az, VPCE)
            eq(local(src, name), [addr], "zonal name %s from %s" % (name, src))
        if src != ONLY_AZ1:
            eq(sorted(local(src, KIN_VPCE)), sorted(KIN.values()),
               "regional kinesis from %s" % src)
    # az_affinity only applies to the regional name as to any other
    eq(local(ONLY_AZ1, KIN_VPCE), [KIN["use1-az1"]], "regional kinesis, only, use1-az1")
    eq(local(AZ4, "vpce-0ec2a1b2c3d4e5f60-x7k2m9qp-us-east-1b.ec2." + VPCE),
       [EC2["use1-az6"]], "zonal ec2 name in another AZ than the client's")
    eq(local(AZ6, KIN_VPCE)[0], KIN["use1-az6"], "regional name ordered by AZ too")


@suite.case
def private_names_and_wildcards():
    cases = [
        ("ec2.us-east-1.amazonaws.com", EC2.values()),
        ("dkr.ecr.us-east-1.amazonaws.com", DKR),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com", DKR),
        ("a.b.dkr.ecr.us-east-1.amazonaws.com", DKR),
        ("api.ecr.us-east-1.amazonaws.com", ["10.20.1.42", "10.20.2.42"]),
        ("ecr.us-east-1.api.aws", ["10.20.1.42", "10.20.2.42"]),
        ("kinesis.us-east-1.amazonaws.com", KIN.values()),
        ("bucket.vpce-0a53c4d5e6f7a8b9c-r2t3y4u5.s3." + VPCE, S3),
        ("control.vpce-0a53c4d5e6f7a8b9c-r2t3y4u5-us-east-1c.s3." + VPCE, ["10.20.3.60"]),
    ]
    for name, want in cases:
        got = local(AZ4, name)
        eq(sorted(got), sorted(want), name)
    m = ask(AZ4, "x.dkr.ecr.us-east-1.amazonaws.com")
    for rr in m.answer:
        eq(rr.ttl, 60, "TTL of a wildcard answer")
        eq(rr.name, "x.dkr.ecr.us-east-1.amazonaws.com.", "owner of a wildcard answer")


@suite.case
def record_types_follow_dns_record_ip_type():
    # dualstack: A and AAAA on every name
    eq(sorted(local(AZ4, "sts.us-east-1.amazonaws.com")), STS, "sts A")
    eq(sorted(local(AZ4, "sts.us-east-1.amazonaws.com", AAAA)), sorted(STS6.values()), "sts AAAA")
    eq(sorted(local(AZ4, STS_VPCE, AAAA)), sorted(STS6.values()), "sts vpce AAAA")
    # service-defined: AAAA only on the vpce names
    eq(sorted(local(AZ4, "ssm.us-east-1.amazonaws.com")), SSM, "ssm A")
    m = ask(AZ4, "ssm.us-east-1.amazonaws.com", AAAA)
    eq((m.rcode_name(), m.answer), ("NOERROR", []), "ssm private name AAAA: NODATA")
    check(m.aa and m.rrs("authority", SOA), "NODATA with AA and the zone's SOA", m)
    eq(sorted(local(AZ4, SSM_VPCE, AAAA)), sorted(SSM6), "ssm vpce AAAA")
    # ipv4: no AAAA
    m = ask(AZ4, "ec2.us-east-1.amazonaws.com", AAAA)
    eq((m.rcode_name(), m.answer), ("NOERROR", []), "ec2 AAAA: NODATA")
    check(m.aa, "ec2 AAAA NODATA is local", m)


@suite.case
def unlisted_names_fall_through():
    for name in ("sqs.us-east-1.amazonaws.com",               # no zone at all
                 "fips.ec2.us-east-1.amazonaws.com",          # under the ec2 zone
                 "vpce-0123-abcd.ec2." + VPCE,                # under the vpce zone
                 "something.ecr.us-east-1.api.aws",
                 "example.com"):
        forwarded(AZ4, name)
        forwarded(ONPREM, name)
    forwarded(AZ4, "sqs.us-east-1.amazonaws.com", AAAA)


@suite.case
def inbound_only_s3_recipe():
    # In the VPC, S3 names go to public DNS (through the gateway endpoint)...
    for name in ("s3.us-east-1.amazonaws.com", "bucket.s3.us-east-1.amazonaws.com",
                 "s3-control.us-east-1.amazonaws.com",
                 "123456789012.s3-control.us-east-1.amazonaws.com",
                 "ap-111122223333.s3-accesspoint.us-east-1.amazonaws.com"):
        forwarded(AZ4, name)
        forwarded(SPOKE_AZ2, name)
        # ...on premises they answer the interface endpoint.
        eq(sorted(local(ONPREM, name)), S3, "%s on premises" % name)
    # the endpoint-specific names are the same for both
    name = "bucket.vpce-0a53c4d5e6f7a8b9c-r2t3y4u5.s3." + VPCE
    eq(sorted(local(AZ4, name)), S3, "vpce S3 name in the VPC")
    eq(sorted(local(ONPREM, name)), S3, "vpce S3 name on premises")


# ---- hub and spoke -----------------------------------------------------------

@suite.case
def spoke_own_zone_wins():
    for _ in range(4):
        o = local(SPOKE_AZ2, "ec2.us-east-1.amazonaws.com")
        eq(o, [EC2_SPOKE["use1-az2"], EC2_SPOKE["use1-az4"]], "spoke's own ec2, client use1-az2")
        o = local(SPOKE_AZ4, "ec2.us-east-1.amazonaws.com")
        eq(o, [EC2_SPOKE["use1-az4"], EC2_SPOKE["use1-az2"]], "spoke's own ec2, client use1-az4")
    eq(local(SPOKE_AZ2, "ssm.us-east-1.amazonaws.com"), SSM_SPOKE, "spoke's own ssm")
    m = ask(SPOKE_AZ2, "ssm.us-east-1.amazonaws.com", AAAA)
    eq((m.rcode_name(), m.answer), ("NOERROR", []),
       "spoke's own ssm zone answers AAAA (NODATA), not the hub's")
    # the hub's endpoints for the services the spoke lacks
    eq(sorted(local(SPOKE_AZ2, "sts.us-east-1.amazonaws.com")), STS, "hub's sts in the spoke")
    eq(sorted(local(SPOKE_AZ2, "x.dkr.ecr.us-east-1.amazonaws.com")), DKR, "hub's dkr wildcard")
    # both VPCs' vpce names under the shared vpce apex
    eq(sorted(local(SPOKE_AZ2, EC2_SPOKE_VPCE)), sorted(EC2_SPOKE.values()), "spoke vpce")
    eq(sorted(local(SPOKE_AZ2, EC2_VPCE)), sorted(EC2.values()), "hub vpce in the spoke")
    # answer AZs come from the included hub's subnets as well
    for _ in range(4):
        eq(local(SPOKE_AZ4, "kinesis.us-east-1.amazonaws.com")[0], KIN["use1-az4"],
           "hub's kinesis for a spoke client in use1-az4")
    # the hub does not see the spoke
    forwarded(AZ4, EC2_SPOKE_VPCE)
    eq(sorted(local(AZ4, "ec2.us-east-1.amazonaws.com")), sorted(EC2.values()),
       "the hub keeps its own ec2")


@suite.case
def onprem_gets_both_vpcs():
    for name, want in ((EC2_VPCE, EC2.values()), (EC2_SPOKE_VPCE, EC2_SPOKE.values()),
                       (SSM_SPOKE_VPCE, SSM_SPOKE), (SSM_VPCE, SSM), (KIN_VPCE, KIN.values()),
                       ("vpce-0ec2b9c8d7e6f5a4b-b2v2c2x2-us-east-1d.ec2." + VPCE,
                        [EC2_SPOKE["use1-az2"]])):
        eq(sorted(local(ONPREM, name)), sorted(want), "%s on premises" % name)
    # same private name in both: the first included view (hub) answers
    eq(sorted(local(ONPREM, "ec2.us-east-1.amazonaws.com")), sorted(EC2.values()),
       "ec2 on premises (hub included first)")


@suite.case
def forward_rules_are_not_inherited():
    eq(sorted(local(QUIET, "sts.us-east-1.amazonaws.com")), STS, "included zone in 'quiet'")
    m = ask(QUIET, "example.com")
    eq(m.rcode_name(), "REFUSED", "a view without forward rules that includes one with '.'")
    m = ask(QUIET, "fips.ec2.us-east-1.amazonaws.com")
    eq(m.rcode_name(), "REFUSED", "fallback forward with no rule in the view")


# ---- reverse lookups ---------------------------------------------------------

def ptr(src, addr):
    r = vt.dig(S["port"], "-b", src, "-x", addr)
    eq(r.status, "NOERROR", "dig -x %s from %s" % (addr, src))
    return r


@suite.case
def ptr_names_the_endpoint():
    cases = [(AZ4, "10.20.2.27", EC2_VPCE), (AZ4, "10.20.3.88", KIN_VPCE),
             (AZ6, STS6["use1-az4"], STS_VPCE), (AZ4, "10.20.1.72", SSM_VPCE),
             (ONPREM, "10.20.1.15", EC2_VPCE), (ONPREM, "10.30.2.15", EC2_SPOKE_VPCE),
             (SPOKE_AZ2, "10.30.1.16", SSM_SPOKE_VPCE), (SPOKE_AZ2, "10.20.1.88", KIN_VPCE)]
    for src, addr, want in cases:
        r = ptr(src, addr)
        check("aa" in r.flags, "dig -x %s from %s: no aa flag" % (addr, src), r.text)
        eq(r.rdata("PTR"), [want + "."], "dig -x %s from %s" % (addr, src))


@suite.case
def ptr_for_s3_endpoint_address():
    # S3's vpce names are all wildcards (*.vpce-....s3...), but its
    # addresses are endpoint data all the same: they must name the endpoint
    # (the regional name without its "*." label, or with it), not go
    # upstream to end as ip-10-20-3-60.ec2.internal.
    for src in (AZ4, ONPREM):
        r = ptr(src, "10.20.3.60")
        check("aa" in r.flags, "dig -x 10.20.3.60 from %s: no aa flag, so not answered "
              "from endpoint data" % src, r.text)
        check(r.rdata("PTR") in ([S3_VPCE + "."], ["*." + S3_VPCE + "."]),
              "dig -x 10.20.3.60 from %s: PTR %s, want %s." % (src, r.rdata("PTR"), S3_VPCE))


@suite.case
def ptr_outside_endpoint_data_is_forwarded():
    for src, addr in ((AZ4, "10.20.1.5"), (AZ4, "10.30.1.15"), (ONPREM, "10.20.9.9"),
                      (AZ4, "2600:1f18:4a3:5601::1")):
        r = ptr(src, addr)
        check("aa" not in r.flags, "dig -x %s from %s answered locally" % (addr, src), r.text)
        eq(r.rdata("PTR"), [UP_PTR], "dig -x %s from %s: the upstream's answer" % (addr, src))
    m = ask(QUIET, "5.1.20.10.in-addr.arpa", PTR)
    eq(m.rcode_name(), "REFUSED", "PTR outside endpoint data in a view without rules")
    eq(local(QUIET, "15.1.20.10.in-addr.arpa", PTR), [EC2_VPCE + "."],
       "PTR of a hub address through include")


# ---- explain -----------------------------------------------------------------

@suite.case
def explain_per_client():
    gen = generation()
    # out is a link to out.v<N>; explain names the file it read.
    zdir = r"out(\.v[0-9]+)?/%s/zones" % re.escape(HUB)
    cases = [
        (AZ4, "ec2.us-east-1.amazonaws.com", "hub", "use1-az4",
         [r"zone ec2\.us-east-1\.amazonaws\.com\.? \([^)]*%s/ec2\.us-east-1\.amazonaws\.com\.zone"
          % zdir, r"answer"]),
        (AZ6, "x.dkr.ecr.us-east-1.amazonaws.com", "hub", "use1-az6",
         [r"dkr\.ecr\.us-east-1\.amazonaws\.com\.zone", r"wildcard"]),
        (AZ1, "sqs.us-east-1.amazonaws.com", "hub", "use1-az1",
         [r"forward rule '\.?' -> upstream group 'up' \(127\.0\.0\.1:%d\)" % S["up"].port]),
        (AZ4, "bucket.s3.us-east-1.amazonaws.com", "hub", "use1-az4",
         [r"forward rule '\.?' -> upstream group 'up'"]),
        (ONPREM, "bucket.s3.us-east-1.amazonaws.com", "onprem", "none",
         [r"inbound-zones/s3\.us-east-1\.amazonaws\.com\.zone", r"wildcard"]),
        (ONPREM, "sts.us-east-1.amazonaws.com", "onprem", "none",
         [r"included from view hub"]),
        (SPOKE_AZ2, "ec2.us-east-1.amazonaws.com", "spoke", "use1-az2",
         [r"%s/zones/ec2\.us-east-1\.amazonaws\.com\.zone" % SPOKE]),
        (ONLY_AZ4, "fips.ec2.us-east-1.amazonaws.com", "hub-only", "use1-az4",
         [r"not in zone.*fallback forward", r"forward rule '\.?' -> upstream group 'up'"]),
        (OFF_AZ4, "ec2.us-east-1.amazonaws.com", "hub-off", "use1-az4",
         [r"az_affinity off"]),
    ]
    for src, name, view, az, pats in cases:
        lines = explain(src, name)
        text = "\n".join(lines)
        first = lines[0]
        check("view %s;" % view in first, "explain from %s: view %s not named" % (src, view), text)
        check(re.search(r"\baz %s\b" % re.escape(az), first),
              "explain from %s: AZ %s not shown" % (src, az), text)
        check("generation %d" % gen in first, "explain: generation %d not shown" % gen, text)
        for p in pats:
            check(re.search(p, text), "explain %s from %s: no /%s/" % (name, src, p), text)


@suite.case
def explain_off_is_refused():
    m = ask(QUIET, "ec2.us-east-1.amazonaws.com", TXT, qclass=CH)
    eq(m.rcode_name(), "REFUSED", "CH TXT explain in a view with explain: false")
    eq(m.answer, [], "no explain records")
    r = vt.dig(S["port"], "-b", QUIET, "ec2.us-east-1.amazonaws.com", "CH", "TXT")
    eq(r.status, "REFUSED", "dig CH TXT from the quiet view")
    # id.server still answers there
    m = ask(QUIET, "id.server", TXT, qclass=CH)
    eq(m.rcode_name(), "NOERROR", "id.server in a view with explain: false")


# ---- statistics ----------------------------------------------------------

@suite.case
def sigusr1_logs_statistics():
    srv = S["srv"]
    local(AZ4, "ec2.us-east-1.amazonaws.com")
    off = srv.log_size()
    srv.signal(signal.SIGUSR1)
    m = srv.wait_log(r"stats: net udp_recv=(\d+)", since=off)
    check(m, "no statistics in the log after SIGUSR1", srv.log_since(off))
    text = srv.log_since(off)
    for pat in (r"stats: generation=\d+ queries=\d+ ", r"stats: cache entries=\d+ ",
                r"stats: upstream queries=\d+ "):
        check(re.search(pat, text), "no /%s/ after SIGUSR1" % pat, text)
    q = re.search(r"stats: generation=\d+ queries=(\d+) .* local=(\d+) ", text)
    check(q and int(q.group(2)) > 0 and int(q.group(1)) >= int(q.group(2)),
          "local answers not counted", text)
    check(srv.alive(), "the server exited on SIGUSR1")


# ---- import again, reload ----------------------------------------------------

def sqs_inventory():
    """One more interface endpoint (SQS, private DNS) in the hub VPC."""
    def names(x):
        out = ["%s-%s.sqs.%s" % (SQS, x, VPCE)]
        out += ["%s-%s-%s.sqs.%s" % (SQS, x, e[3], VPCE) for e in SQS_ENIS]
        return out + ["sqs.us-east-1.amazonaws.com"]
    ep = {"VpcEndpointId": SQS, "VpcEndpointType": "Interface", "VpcId": HUB,
          "ServiceName": "com.amazonaws.us-east-1.sqs", "State": "available",
          "RouteTableIds": [], "SubnetIds": [e[1] for e in SQS_ENIS],
          "Groups": [{"GroupId": "sg-0f0e0d0c0b0a09080", "GroupName": "endpoints"}],
          "IpAddressType": "ipv4", "DnsOptions": {"DnsRecordIpType": "ipv4"},
          "PrivateDnsEnabled": True, "RequesterManaged": False,
          "NetworkInterfaceIds": [e[0] for e in SQS_ENIS],
          "DnsEntries": [{"DnsName": n, "HostedZoneId": "Z7HUB22UULQXV"}
                         for n in names("q1w2e3r4")],
          "CreationTimestamp": "2026-11-26T10:00:00.000Z", "Tags": [], "OwnerId": "111122223333"}
    enis = [{"AvailabilityZone": az, "AvailabilityZoneId": azid,
             "Description": "VPC Endpoint Interface " + SQS, "InterfaceType": "vpc_endpoint",
             "Ipv6Addresses": [], "NetworkInterfaceId": eid, "OwnerId": "111122223333",
             "PrivateIpAddress": ip,
             "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": ip}],
             "RequesterManaged": True, "Status": "in-use", "SubnetId": sid, "VpcId": HUB}
            for eid, sid, ip, az, azid in SQS_ENIS]
    vt.write(os.path.join(S["wd"], "endpoints-sqs.json"), json.dumps({"VpcEndpoints": [ep]}))
    vt.write(os.path.join(S["wd"], "enis-sqs.json"), json.dumps({"NetworkInterfaces": enis}))


@suite.case
def reimport_and_reload():
    name = "sqs.us-east-1.amazonaws.com"
    forwarded(AZ6, name)
    before = generation()
    sqs_inventory()
    err = run_import("endpoints.json", "endpoints-sqs.json", "enis.json", "enis-sqs.json",
                     "subnets.json")
    check(re.search(r"%s: 8 endpoints" % HUB, err), "re-import summary", err)
    # nothing changes until the reload
    forwarded(AZ6, name)
    gen = sighup_and_wait()
    check(gen > before, "generation %d after reload, was %d" % (gen, before))
    eq(generation(), gen, "explain shows the new generation")
    for _ in range(4):
        eq(local(AZ6, name), ["10.20.2.91", "10.20.1.91"], "new endpoint, client in use1-az6")
    eq(local(ONPREM, "%s-q1w2e3r4-us-east-1a.sqs.%s" % (SQS, VPCE)), ["10.20.1.91"],
       "new zonal name through include")
    r = ptr(AZ4, "10.20.1.91")
    eq(r.rdata("PTR"), ["%s-q1w2e3r4.sqs.%s." % (SQS, VPCE)], "PTR of the new endpoint")
    lines = explain(AZ6, name)
    check(re.search(r"sqs\.us-east-1\.amazonaws\.com\.zone.*answer", "\n".join(lines)),
          "explain names the new zone file", lines)
    # the old data is all still there
    eq(local(AZ4, "ec2.us-east-1.amazonaws.com")[0], EC2["use1-az4"], "ec2 after reload")


if __name__ == "__main__":
    suite.main(setup, teardown)
