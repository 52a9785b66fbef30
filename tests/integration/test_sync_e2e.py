"""From AWS to answers, end to end: the real vpcdns-sync, vpcdns-import,
vpcdnsctl and daemon, with a fake AWS CLI first on PATH
(tests/integration/fakes/aws) serving a recorded inventory in the AWS
CLI's shapes. Loopback ranges stand in for the VPCs, so that the test's
queries come from inside them: VPC A 127.1.0.0/16, B 127.2.0.0/16, C
127.3.0.0/16, on premises 127.9.0.0/16. vpcdns.yaml reads the importer's
endpoints/views.yaml through view_files (defaults give the forward rule)
and has an on-premises view including "vpc-*"; it is never edited.

- v1 (A: ec2 and sts endpoints; B: ec2) synced: each VPC's clients get
  their own endpoint addresses, on premises gets A's (the first included
  view), vpce names resolve, public names are forwarded.
- v2 (a new subnet in A, a new VPC C with one endpoint, B's last endpoint
  deleted, A's sts endpoint deleted, one ENI of A's ec2 endpoint replaced
  by another address) synced while a query stream runs from a client in A:
  the summary names the changes, no query of the stream is lost and each
  answer is the v1 or the v2 set; then every answer follows v2 and no
  client gets a deleted address.
- A throttled call is retried and the sync succeeds; a denied account and
  invalid JSON make vpcdns-sync exit 1 naming the account and the call,
  while the daemon keeps serving that account's VPCs (nothing pruned).

`vpcdnsctl reload` after breaking a zone (file:line, exit 1, old data
serving, status showing the failed reload) is tested in test_ctl.py
(reload_broken_zone_fails_and_old_data_serves).
Environment: VPCDNS, VPCDNSCTL, VPCDNS_IMPORT, VPCDNS_SYNC.
"""

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("sync_e2e")
S = {}
FAKES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakes")
PUBLIC = "198.51.100.7"   # the fake upstream's answer to every name
REGION = "us-east-1"
EC2 = "ec2.%s.amazonaws.com" % REGION
STS = "sts.%s.amazonaws.com" % REGION

VA, VB, VC = "vpc-0a1b2c3d4e5f6a001", "vpc-0b1b2c3d4e5f6b002", "vpc-0c1b2c3d4e5f6c003"
ACCOUNT = {VA: "111122223333", VB: "444455556666", VC: "111122223333"}
PROFILE = {VA: "prod", VB: "dev", VC: "prod"}
CIDR = {VA: "127.1.0.0/16", VB: "127.2.0.0/16", VC: "127.3.0.0/16"}
# Clients: one in a subnet of each VPC, one in A's v2 subnet, on premises.
CLIENT = {"a": "127.1.1.10", "a-new": "127.1.3.10", "b": "127.2.1.10",
          "c": "127.3.1.10", "onprem": "127.9.0.10"}
AZS = [("us-east-1a", "use1-az4"), ("us-east-1b", "use1-az6"), ("us-east-1c", "use1-az1")]

# The endpoints: id, VPC, service, DNS suffix, [(ENI id, subnet index, address)].
EP_A_EC2 = ("vpce-0a1ec2a1b2c3d4e5f", VA, "ec2", "a1ec2x7k",
            [("eni-0a1ec2aa11aa11aa1", 0, "127.1.1.15"), ("eni-0a1ec2bb22bb22bb2", 1, "127.1.2.27")])
EP_A_STS = ("vpce-0a2sts1b2c3d4e5f6", VA, "sts", "a2stsp0o",
            [("eni-0a2stsaa11aa11aa1", 0, "127.1.1.71"), ("eni-0a2stsbb22bb22bb2", 1, "127.1.2.71")])
EP_B_EC2 = ("vpce-0b1ec2a1b2c3d4e5f", VB, "ec2", "b1ec2q9w",
            [("eni-0b1ec2aa11aa11aa1", 0, "127.2.1.15"), ("eni-0b1ec2bb22bb22bb2", 1, "127.2.2.15")])
EP_C_EC2 = ("vpce-0c1ec2a1b2c3d4e5f", VC, "ec2", "c1ec2m3n",
            [("eni-0c1ec2aa11aa11aa1", 0, "127.3.1.15")])
# v2: A's second ec2 ENI replaced by another one with another address.
EP_A_EC2_V2 = (EP_A_EC2[0], VA, "ec2", EP_A_EC2[3],
               [EP_A_EC2[4][0], ("eni-0a1ec2cc33cc33cc3", 1, "127.1.2.99")])
# Added by the throttled sync: an sts endpoint in C.
EP_C_STS = ("vpce-0c2sts1b2c3d4e5f6", VC, "sts", "c2stsz1x",
            [("eni-0c2stsaa11aa11aa1", 0, "127.3.1.71")])

A_V1, A_V2 = {"127.1.1.15", "127.1.2.27"}, {"127.1.1.15", "127.1.2.99"}
B_V1 = {"127.2.1.15", "127.2.2.15"}
C_V2 = {"127.3.1.15"}
DELETED = {"127.1.2.27", "127.1.1.71", "127.1.2.71", "127.2.1.15", "127.2.2.15"}


# ---- the recorded inventory, in the AWS CLI's shapes ----------------------

def subnet_id(vpc, i):
    return "subnet-0%s%015x" % (vpc[5], i + 1)


def subnet_cidr(vpc, i):
    return "%s.%d.0/24" % (CIDR[vpc].rsplit(".", 2)[0], i + 1)


def vpc_doc(vpc):
    return {
        "CidrBlock": CIDR[vpc],
        "DhcpOptionsId": "dopt-0a1b2c3d4e5f60718",
        "State": "available",
        "VpcId": vpc,
        "OwnerId": ACCOUNT[vpc],
        "InstanceTenancy": "default",
        "CidrBlockAssociationSet": [{
            "AssociationId": "vpc-cidr-assoc-0%s1b2c3d4e5f60701" % vpc[5],
            "CidrBlock": CIDR[vpc],
            "CidrBlockState": {"State": "associated"}}],
        "IsDefault": False,
        "Tags": [{"Key": "Name", "Value": "vpc-%s" % vpc[5]}],
    }


def subnet_doc(vpc, i):
    az, az_id = AZS[i]
    sid = subnet_id(vpc, i)
    return {
        "AvailabilityZone": az,
        "AvailabilityZoneId": az_id,
        "AvailableIpAddressCount": 245,
        "CidrBlock": subnet_cidr(vpc, i),
        "DefaultForAz": False,
        "MapPublicIpOnLaunch": False,
        "State": "available",
        "SubnetId": sid,
        "VpcId": vpc,
        "OwnerId": ACCOUNT[vpc],
        "AssignIpv6AddressOnCreation": False,
        "Ipv6CidrBlockAssociationSet": [],
        "Tags": [{"Key": "Name", "Value": "private-%s" % az}],
        "SubnetArn": "arn:aws:ec2:%s:%s:subnet/%s" % (REGION, ACCOUNT[vpc], sid),
    }


def endpoint_doc(ep):
    eid, vpc, svc, tag, enis = ep
    base = "%s-%s" % (eid, tag)
    dns = [{"DnsName": "%s.%s.%s.vpce.amazonaws.com" % (base, svc, REGION),
            "HostedZoneId": "Z7HUB22UULQXV"}]
    for az in sorted({AZS[i][0] for _, i, _ in enis}):
        dns.append({"DnsName": "%s-%s.%s.%s.vpce.amazonaws.com" % (base, az, svc, REGION),
                    "HostedZoneId": "Z7HUB22UULQXV"})
    dns.append({"DnsName": "%s.%s.amazonaws.com" % (svc, REGION),
                "HostedZoneId": "Z0407216ZZ1K8EXAMPLE"})
    return {
        "VpcEndpointId": eid,
        "VpcEndpointType": "Interface",
        "VpcId": vpc,
        "ServiceName": "com.amazonaws.%s.%s" % (REGION, svc),
        "State": "available",
        "PolicyDocument": "{\n  \"Statement\": [\n    {\n      \"Action\": \"*\", \n"
                          "      \"Effect\": \"Allow\", \n      \"Principal\": \"*\", \n"
                          "      \"Resource\": \"*\"\n    }\n  ]\n}",
        "RouteTableIds": [],
        "SubnetIds": sorted({subnet_id(vpc, i) for _, i, _ in enis}),
        "Groups": [{"GroupId": "sg-0f0e0d0c0b0a09080", "GroupName": "endpoints"}],
        "IpAddressType": "ipv4",
        "DnsOptions": {"DnsRecordIpType": "ipv4"},
        "PrivateDnsEnabled": True,
        "RequesterManaged": False,
        "NetworkInterfaceIds": [e for e, _, _ in enis],
        "DnsEntries": dns,
        "CreationTimestamp": "2024-03-05T14:46:16.583000+00:00",
        "Tags": [],
        "OwnerId": ACCOUNT[vpc],
    }


def eni_docs(ep):
    eid, vpc, _, _, enis = ep
    out = []
    for eni, i, addr in enis:
        az, az_id = AZS[i]
        host = "ip-%s.ec2.internal" % addr.replace(".", "-")
        out.append({
            "AvailabilityZone": az,
            "AvailabilityZoneId": az_id,
            "Description": "VPC Endpoint Interface %s" % eid,
            "Groups": [{"GroupId": "sg-0f0e0d0c0b0a09080", "GroupName": "endpoints"}],
            "InterfaceType": "vpc_endpoint",
            "Ipv6Addresses": [],
            "MacAddress": "0e:15:a1:1a:a1:%02x" % (sum(eni.encode()) & 0xff),
            "NetworkInterfaceId": eni,
            "OwnerId": ACCOUNT[vpc],
            "PrivateDnsName": host,
            "PrivateIpAddress": addr,
            "PrivateIpAddresses": [{"Primary": True, "PrivateDnsName": host,
                                    "PrivateIpAddress": addr}],
            "RequesterId": "727180483921",
            "RequesterManaged": True,
            "SourceDestCheck": True,
            "Status": "in-use",
            "SubnetId": subnet_id(vpc, i),
            "TagSet": [],
            "VpcId": vpc,
            "DenyAllIgwTraffic": False,
            "Ipv6Native": False,
            "Operator": {"Managed": False},
        })
    return out


def inventory(vpcs, endpoints):
    """vpcs: {vpc: number of subnets}; endpoints: a list. Returns
    {profile: {call: document}}."""
    out = {}
    for profile in sorted(set(PROFILE.values())):
        mine = [v for v in sorted(vpcs) if PROFILE[v] == profile]
        eps = [e for e in endpoints if PROFILE[e[1]] == profile]
        out[profile] = {
            "describe-vpcs": {"Vpcs": [vpc_doc(v) for v in mine]},
            "describe-subnets": {"Subnets": [subnet_doc(v, i) for v in mine
                                             for i in range(vpcs[v])]},
            "describe-vpc-endpoints": {"VpcEndpoints": [endpoint_doc(e) for e in eps]},
            "describe-network-interfaces": {"NetworkInterfaces": [d for e in eps
                                                                  for d in eni_docs(e)]},
        }
    return out


V1 = ({VA: 2, VB: 2}, [EP_A_EC2, EP_A_STS, EP_B_EC2])
V2 = ({VA: 3, VB: 2, VC: 1}, [EP_A_EC2_V2, EP_C_EC2])


def serve(inv):
    """Puts the inventory where the fake aws reads it; clears failures."""
    for profile, docs in inv.items():
        d = os.path.join(S["aws"], profile, REGION)
        os.makedirs(d, exist_ok=True)
        for name in os.listdir(d):
            os.unlink(os.path.join(d, name))
        for call, doc in docs.items():
            with open(os.path.join(d, call + ".json"), "w") as f:
                json.dump(doc, f, indent=4)


def fail_call(profile, call, what, text=""):
    vt.write(os.path.join(S["aws"], profile, REGION, call + what), text)


def sync():
    """Runs vpcdns-sync; returns (exit status, stdout, stderr)."""
    env = dict(os.environ)
    env["PATH"] = FAKES + os.pathsep + env.get("PATH", "")
    env["FAKE_AWS_DIR"] = S["aws"]
    p = subprocess.run([S["sync"], "-c", S["sync_conf"]], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120, env=env)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def sync_ok(what):
    rc, out, err = sync()
    eq(rc, 0, "%s: vpcdns-sync exit status (stdout %r, stderr %r)" % (what, out, err))
    return out, err


def upstream(m, transport):
    if not m.question:
        return None
    name = m.question[0][0]
    return [vt.build_response(m, answers=[vt.rr_wire(name, A, 30, vt.rdata_a(PUBLIC))])]


def sync_binary():
    path = os.environ.get("VPCDNS_SYNC") or os.path.join(os.path.dirname(vt.binary()),
                                                          "vpcdns-sync")
    if not os.access(path, os.X_OK):
        raise vt.SkipTest("vpcdns-sync not built yet: %s" % path)
    return os.path.abspath(path)


def setup():
    vt.binary()
    ctl = vt.ctl_binary()
    S["sync"] = sync_binary()
    imp = os.environ.get("VPCDNS_IMPORT") or os.path.join(os.path.dirname(vt.binary()),
                                                           "vpcdns-import")
    if not os.access(imp, os.X_OK):
        raise vt.SkipTest("vpcdns-import not built yet: %s" % imp)
    wd = S["wd"] = vt.workdir("sync-e2e")
    S["aws"] = os.path.join(wd, "aws")
    S["up"] = vt.FakeUpstream(upstream).start()
    srv = S["srv"] = vt.Vpcdns(wd, None)
    srv.set_config({
        "server": vt.server_block(srv.port, workers=2),
        "upstreams": {"up": ["127.0.0.1:%d" % S["up"].port]},
        "views": [{"name": "onprem", "clients": ["127.9.0.0/16"],
                   "include": ["vpc-*"], "forward": {".": "up"}}],
        "view_files": [{"path": "endpoints/views.yaml",
                        "defaults": {"forward": {".": "up"}}}],
    })
    S["sync_conf"] = vt.write(os.path.join(wd, "sync.yaml"), (
        "accounts:\n"
        "  - profile: prod\n    regions: [%s]\n"
        "  - profile: dev\n    regions: [%s]\n"
        "output: endpoints\n"
        "importer: %s\n"
        "vpcdnsctl: %s\n"
        "socket: %s\n"
        "vpcdns: %s\n"
        "vpcdns_config: %s\n"
        "retry: {tries: 4, base_ms: 10, max_ms: 40}\n"
        % (REGION, REGION, os.path.abspath(imp), os.path.abspath(ctl), srv.ctl_socket,
           os.path.abspath(vt.binary()), srv.conf_path)))


def teardown():
    try:
        vt.teardown_server(S.get("srv"))
    finally:
        if "up" in S:
            S["up"].stop()


def ask(client, name):
    """(rcode, set of A addresses) for name asked from the client's address."""
    m = vt.udp_query(name, A, port=S["srv"].port, src=CLIENT[client], timeout=3.0)[0]
    check(m is not None, "no reply to %s from %s" % (name, client))
    return m.rcode_name(), set(m.values(A))


def answer(client, name):
    rcode, addrs = ask(client, name)
    eq(rcode, "NOERROR", "rcode of %s from %s" % (name, client))
    return addrs


def vpce(ep, az=None):
    eid, _, svc, tag, _ = ep
    return "%s-%s%s.%s.%s.vpce.amazonaws.com" % (eid, tag, "-" + az if az else "", svc, REGION)


def generation():
    rc, out, err = S["srv"].ctl("--json", "status")
    eq(rc, 0, "vpcdnsctl status exit status (%s)" % err)
    return json.loads(out)["generation"]


@suite.case
def first_sync_before_the_server_runs():
    """A new installation: vpcdns.yaml names endpoints/views.yaml, which
    only the first import writes, so the first sync runs before vpcdns
    does: it imports and checks, and its reload fails (no server)."""
    serve(inventory(*V1))
    rc, out, err = sync()
    eq(rc, 1, "first sync without a server: exit status (%s%s)" % (out, err))
    check("reload failed (exit 3): vpcdnsctl: cannot connect to " in err
          and "there is no earlier import to restore" in err,
          "the failed reload is reported and the import kept", err)
    check(os.path.isfile(os.path.join(S["wd"], "endpoints", "views.yaml")),
          "endpoints/views.yaml written", err)
    S["srv"].start()


@suite.case
def v1_answers():
    # The first sync with the server running: nothing changed, generation 2.
    out, err = sync_ok("v1 again")
    check(out.endswith("views: 0 added, 0 removed; records: 0 added, 0 removed, 0 changed; "
                       "generation %d\n" % generation()), "v1 summary", out)
    eq(answer("a", EC2), A_V1, "A's ec2 from A")
    eq(answer("a", STS), {"127.1.1.71", "127.1.2.71"}, "A's sts from A")
    eq(answer("a-new", EC2), A_V1, "A's ec2 from A's CIDR outside its subnets")
    eq(answer("b", EC2), B_V1, "B's ec2 from B")
    eq(answer("b", STS), {PUBLIC}, "sts from B: forwarded")
    eq(answer("onprem", EC2), A_V1, "ec2 on premises: the first included view, A")
    eq(answer("onprem", STS), {"127.1.1.71", "127.1.2.71"}, "sts on premises: A's")
    eq(answer("a", vpce(EP_A_EC2)), A_V1, "A's ec2 vpce name")
    eq(answer("a", vpce(EP_A_EC2, "us-east-1b")), {"127.1.2.27"}, "A's zonal vpce name")
    eq(answer("b", vpce(EP_B_EC2)), B_V1, "B's vpce name from B")
    eq(answer("onprem", vpce(EP_B_EC2)), B_V1, "B's vpce name on premises")
    eq(answer("onprem", vpce(EP_A_STS)), {"127.1.1.71", "127.1.2.71"},
       "A's sts vpce name on premises")
    eq(answer("a", "www.example.com"), {PUBLIC}, "a public name from A")
    eq(ask("c", EC2)[0], "REFUSED", "C's clients have no view yet")


class Stream(threading.Thread):
    """UDP queries for one name from one client, one at a time, at most
    RATE a second and MAX in all, until stopped; counts every outcome."""
    RATE, MAX = 500, 30000

    def __init__(self, client, name):
        super().__init__(daemon=True)
        self.src, self.name = CLIENT[client], name
        self.stop_ev = threading.Event()
        self.sent = self.answered = 0
        self.lost, self.bad, self.sets = [], [], {}

    def run(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((self.src, 0))
        s.connect(("127.0.0.1", S["srv"].port))
        try:
            while not self.stop_ev.is_set() and self.sent < self.MAX:
                t0 = time.monotonic()
                pkt, qid = vt.make_query(self.name, A)
                s.send(pkt)
                self.sent += 1
                m = self._recv(s, qid)
                if m is None:
                    self.lost.append(self.sent)
                else:
                    self.answered += 1
                    key = (m.rcode_name(), frozenset(m.values(A)))
                    self.sets[key] = self.sets.get(key, 0) + 1
                time.sleep(max(0.0, 1.0 / self.RATE - (time.monotonic() - t0)))
        finally:
            s.close()

    @staticmethod
    def _recv(s, qid):
        deadline = time.monotonic() + 3.0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                data = s.recv(65535)
            except (socket.timeout, ConnectionRefusedError):
                return None
            if len(data) >= 2 and struct.unpack("!H", data[:2])[0] == qid:
                return vt.Msg.parse(data)


@suite.case
def v2_synced_under_a_query_stream():
    serve(inventory(*V2))
    gen = generation()
    stream = Stream("a", EC2)
    stream.start()
    check(vt.wait_until(lambda: stream.answered >= 20, timeout=10), "the stream is not answered")
    try:
        rc, out, err = sync()
    finally:
        # A few more queries once the sync is over, then stop.
        after = stream.sent
        vt.wait_until(lambda: stream.sent >= after + 50, timeout=10)
        stream.stop_ev.set()
        stream.join(30)
    eq(rc, 0, "v2 sync exit status (stdout %r, stderr %r)" % (out, err))
    for want in ("view added: %s\n" % VC,
                 "%s: changed %s. A 127.1.1.15 127.1.2.27 -> 127.1.1.15 127.1.2.99\n" % (VA, EC2),
                 "%s: removed %s. A\n" % (VA, STS),
                 "%s: removed %s. A\n" % (VB, EC2),
                 "%s: added %s. A 127.3.1.15\n" % (VC, EC2),
                 "views: 1 added, 0 removed; records: 3 added, 8 removed, 3 changed; "
                 "generation %d\n" % (gen + 1)):
        check(want in out, "the summary lacks %r" % want, out)
    check(not stream.lost, "%d of %d queries of the stream got no answer (numbers %s)"
          % (len(stream.lost), stream.sent, stream.lost[:10]), stream.sets)
    eq(stream.answered, stream.sent, "answered queries of the stream")
    allowed = {("NOERROR", frozenset(A_V1)), ("NOERROR", frozenset(A_V2))}
    check(set(stream.sets) <= allowed, "answers of the stream other than v1's or v2's",
          stream.sets)
    check(stream.sets.get(("NOERROR", frozenset(A_V2))), "the stream never saw v2",
          stream.sets)
    print("  stream: %d queries, answers %s" % (stream.sent, {
        ",".join(sorted(k[1])): v for k, v in stream.sets.items()}))


@suite.case
def v2_answers():
    eq(answer("a", EC2), A_V2, "A's ec2 from A (ENI replaced)")
    eq(answer("a-new", EC2), A_V2, "A's ec2 from A's new subnet")
    eq(answer("a", STS), {PUBLIC}, "sts from A after its endpoint was deleted")
    eq(answer("c", EC2), C_V2, "C's ec2 from C")
    eq(answer("c", STS), {PUBLIC}, "sts from C: forwarded")
    eq(answer("b", EC2), {PUBLIC}, "ec2 from B after its last endpoint was deleted")
    eq(answer("onprem", EC2), A_V2, "ec2 on premises")
    eq(answer("onprem", vpce(EP_C_EC2)), C_V2, "C's vpce name on premises")
    eq(answer("a", vpce(EP_A_EC2, "us-east-1b")), {"127.1.2.99"}, "A's zonal vpce name")
    # Nobody gets a deleted address, for any name of v1 or v2.
    names = [EC2, STS] + [vpce(ep, az) for ep in (EP_A_EC2, EP_A_STS, EP_B_EC2, EP_C_EC2)
                          for az in (None, "us-east-1a", "us-east-1b")]
    for client in CLIENT:
        for name in names:
            got = answer(client, name)
            check(not got & DELETED, "%s from %s: deleted addresses %s"
                  % (name, client, sorted(got & DELETED)))


# After v2: C gets an sts endpoint (the throttled sync), then prod's next
# inventory drops C and moves A's replaced ENI again, and dev's gives B an
# endpoint again; prod's calls fail until the last case.
V3 = ({VA: 3, VB: 2, VC: 1}, [EP_A_EC2_V2, EP_C_EC2, EP_C_STS])
EP_A_EC2_V4 = (EP_A_EC2[0], VA, "ec2", EP_A_EC2[3],
               [EP_A_EC2[4][0], ("eni-0a1ec2dd44dd44dd4", 1, "127.1.2.100")])
EP_B_EC2_V4 = ("vpce-0b2ec2a1b2c3d4e5f", VB, "ec2", "b2ec2r5t",
               [("eni-0b2ec2aa11aa11aa1", 0, "127.2.1.20")])
V4 = ({VA: 3, VB: 2}, [EP_A_EC2_V4, EP_B_EC2_V4])


@suite.case
def throttled_call_retried():
    serve(inventory(*V3))
    fail_call("prod", "describe-vpc-endpoints", ".throttle", "2\n")
    out, err = sync_ok("throttled twice")
    for want in ("vpcdns-sync: prod/%s: aws ec2 describe-vpc-endpoints: throttled "
                 "(try 1 of 4)" % REGION, "(try 2 of 4)"):
        check(want in err, "stderr lacks %r" % want, err)
    check("%s: added %s. A 127.3.1.71\n" % (VC, STS) in out, "the summary", out)
    eq(answer("c", STS), {"127.3.1.71"}, "C's new sts endpoint after the throttled sync")


def still_v3(what):
    eq(answer("a", EC2), A_V2, "%s: A's ec2 from A" % what)
    eq(answer("onprem", EC2), A_V2, "%s: A's ec2 on premises" % what)
    eq(answer("c", EC2), C_V2, "%s: C's ec2 from C (not pruned)" % what)
    eq(answer("c", STS), {"127.3.1.71"}, "%s: C's sts from C" % what)


@suite.case
def denied_account_keeps_serving():
    serve(inventory(*V4))
    fail_call("prod", "describe-vpc-endpoints", ".deny")
    gen = generation()
    rc, out, err = sync()
    eq(rc, 1, "exit status with prod denied (stdout %r, stderr %r)" % (out, err))
    check("vpcdns-sync: prod/%s: aws ec2 describe-vpc-endpoints failed: An error occurred "
          "(UnauthorizedOperation) when calling the DescribeVpcEndpoints operation" % REGION
          in err, "the message names the account and the call", err)
    check("kept, because its source prod/%s was not in this import" % REGION in err,
          "prod's VPCs kept", err)
    # dev was fetched: imported and reloaded; prod's VPCs keep serving.
    eq(generation(), gen + 1, "generation after the partial sync")
    eq(answer("b", EC2), {"127.2.1.20"}, "dev's new endpoint in B")
    still_v3("prod denied")


@suite.case
def invalid_json_keeps_serving():
    serve(inventory(*V4))
    vt.write(os.path.join(S["aws"], "prod", REGION, "describe-network-interfaces.json"),
             '{"NetworkInterfaces": [\n')
    rc, out, err = sync()
    eq(rc, 1, "exit status with invalid JSON (stdout %r, stderr %r)" % (out, err))
    check("vpcdns-sync: prod/%s: aws ec2 describe-network-interfaces: invalid JSON" % REGION
          in err, "the message names the account and the call", err)
    still_v3("invalid JSON")
    eq(answer("b", EC2), {"127.2.1.20"}, "B's endpoint")


@suite.case
def recovered_account_is_pruned():
    """prod answers again: C, gone from its inventory, is pruned now, and
    A's moved ENI is served."""
    serve(inventory(*V4))
    out, err = sync_ok("prod recovered")
    check("view removed: %s\n" % VC in out, "the summary", out)
    eq(ask("c", EC2)[0], "REFUSED", "C's clients once C is pruned")
    eq(answer("onprem", vpce(EP_C_EC2)), {PUBLIC}, "C's vpce name on premises")
    eq(answer("a", EC2), {"127.1.1.15", "127.1.2.100"}, "A's ec2 from A")
    eq(answer("b", EC2), {"127.2.1.20"}, "B's ec2 from B")


if __name__ == "__main__":
    suite.main(setup, teardown)
