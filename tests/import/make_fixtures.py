#!/usr/bin/env python3
"""Writes the importer's test fixtures under tests/import/fixtures/: JSON
shaped like the output of aws ec2 describe-vpc-endpoints,
describe-network-interfaces, describe-subnets and create-vpc-endpoint, with
consistent IDs across files, plus each case's args/stdin/exit/same-as
files. Variations are deliberate: field order, compact and indented JSON,
the three timestamp forms, DnsEntries in shuffled order, absent optional
fields. Run it after changing a case, then regenerate the golden files
(VD_UPDATE_GOLDEN=1, see tests/integration/test_import.py) and review the
diff. Usage: python3 tests/import/make_fixtures.py [tests/import]
"""
import copy
import json
import os
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
OWNER = "111122223333"
REQ = "727180483921"
POLICY = "{\n  \"Statement\": [\n    {\n      \"Action\": \"*\", \n      \"Effect\": \"Allow\", \n      \"Principal\": \"*\", \n      \"Resource\": \"*\"\n    }\n  ]\n}"

VPC_A = "vpc-0a1b2c3d4e5f60718"
VPC_B = "vpc-0b2c3d4e5f6071829"

# subnet id -> (vpc, cidr, az, azid, ipv6 or None)
SUBNETS = {
    "subnet-0a11a11a11a11a11a": (VPC_A, "10.20.1.0/24", "us-east-1a", "use1-az4", "2600:1f18:4a3:5601::/64"),
    "subnet-0b22b22b22b22b22b": (VPC_A, "10.20.2.0/24", "us-east-1b", "use1-az6", "2600:1f18:4a3:5602::/64"),
    "subnet-0c33c33c33c33c33c": (VPC_A, "10.20.3.0/24", "us-east-1c", "use1-az1", None),
    "subnet-0d44d44d44d44d44d": (VPC_B, "10.30.1.0/24", "us-east-1a", "use1-az4", None),
    "subnet-0e55e55e55e55e55e": (VPC_B, "10.30.2.0/24", "us-east-1d", "use1-az2", None),
}

def subnet(sid, style=0):
    vpc, cidr, az, azid, v6 = SUBNETS[sid]
    assoc = []
    if v6:
        assoc = [{
            "AssociationId": "subnet-cidr-assoc-0" + sid[-16:],
            "Ipv6CidrBlock": v6,
            "Ipv6CidrBlockState": {"State": "associated"},
        }]
    d = {
        "AvailabilityZone": az,
        "AvailabilityZoneId": azid,
        "AvailableIpAddressCount": 245,
        "CidrBlock": cidr,
        "DefaultForAz": False,
        "MapPublicIpOnLaunch": False,
        "MapCustomerOwnedIpOnLaunch": False,
        "State": "available",
        "SubnetId": sid,
        "VpcId": vpc,
        "OwnerId": OWNER,
        "AssignIpv6AddressOnCreation": False,
        "Ipv6CidrBlockAssociationSet": assoc,
        "Tags": [{"Key": "Name", "Value": "private-" + az}],
        "SubnetArn": "arn:aws:ec2:us-east-1:%s:subnet/%s" % (OWNER, sid),
        "EnableDns64": False,
        "Ipv6Native": False,
        "PrivateDnsNameOptionsOnLaunch": {
            "HostnameType": "ip-name",
            "EnableResourceNameDnsARecord": False,
            "EnableResourceNameDnsAAAARecord": False,
        },
    }
    if style:
        d = dict(reversed(list(d.items())))
    return d

def vpc(vid, cidr, secondary=(), ipv6=(), owner=OWNER, gone=()):
    """A VPC as aws ec2 describe-vpcs prints it: the primary block in
    CidrBlock and again in CidrBlockAssociationSet, secondary blocks after
    it, IPv6 blocks in Ipv6CidrBlockAssociationSet; `gone` lists blocks
    whose association is going away (not to be imported)."""
    n = [0]

    def assoc(kind):
        n[0] += 1
        return "%s-cidr-assoc-0%s%02d" % (kind, vid[-14:], n[0])
    v4 = [{"AssociationId": assoc("vpc"), "CidrBlock": c,
           "CidrBlockState": {"State": "disassociated" if c in gone else "associated"}}
          for c in (cidr,) + tuple(secondary)]
    d = {
        "CidrBlock": cidr,
        "DhcpOptionsId": "dopt-0a1b2c3d4e5f60718",
        "State": "available",
        "VpcId": vid,
        "OwnerId": owner,
        "InstanceTenancy": "default",
        "CidrBlockAssociationSet": v4,
        "IsDefault": False,
        "Tags": [{"Key": "Name", "Value": "vpc-" + vid[-4:]}],
    }
    if ipv6:
        d["Ipv6CidrBlockAssociationSet"] = [
            {"AssociationId": assoc("vpc"), "Ipv6CidrBlock": c,
             "Ipv6CidrBlockState": {"State": "disassociating" if c in gone else "associated"},
             "NetworkBorderGroup": "us-east-1", "Ipv6Pool": "Amazon"} for c in ipv6]
    return d

def eni(eid, ep, sid, ip, v6=None, style=0):
    vpc, cidr, az, azid, _ = SUBNETS[sid]
    dns = "ip-" + ip.replace(".", "-") + ".ec2.internal"
    d = {
        "AvailabilityZone": az,
        "AvailabilityZoneId": azid,
        "Description": "VPC Endpoint Interface " + ep,
        "Groups": [{"GroupId": "sg-0f0e0d0c0b0a09080", "GroupName": "endpoints"}],
        "InterfaceType": "vpc_endpoint",
        "Ipv6Addresses": [{"Ipv6Address": a, "IsPrimaryIpv6": False} for a in (v6 or [])],
        "MacAddress": "0e:%02x:%s:%s:%s:%s" % (len(eid), eid[-8:-6], eid[-6:-4], eid[-4:-2], eid[-2:]),
        "NetworkInterfaceId": eid,
        "OwnerId": OWNER,
        "PrivateDnsName": dns,
        "PrivateIpAddress": ip,
        "PrivateIpAddresses": [{"Primary": True, "PrivateDnsName": dns, "PrivateIpAddress": ip}],
        "RequesterId": REQ,
        "RequesterManaged": True,
        "SourceDestCheck": True,
        "Status": "in-use",
        "SubnetId": sid,
        "TagSet": [],
        "VpcId": vpc,
        "DenyAllIgwTraffic": False,
        "Ipv6Native": False,
        "Operator": {"Managed": False},
    }
    if v6:
        d["Ipv6Address"] = v6[0]
    if style:
        d = dict(sorted(d.items(), key=lambda kv: kv[0][::-1]))
    return d

def dns(name, hz="Z7HUB22UULQXV"):
    return {"DnsName": name, "HostedZoneId": hz}

def endpoint(eid, vpc, svc, enis, entries, private=True, iptype="ipv4", addrtype="ipv4",
             state="available", ts="2024-03-05T14:46:16.583000+00:00", subnets=None,
             style=0, extra=None):
    d = {
        "VpcEndpointId": eid,
        "VpcEndpointType": "Interface",
        "VpcId": vpc,
        "ServiceName": svc,
        "State": state,
        "PolicyDocument": POLICY,
        "RouteTableIds": [],
        "SubnetIds": subnets or [],
        "Groups": [{"GroupId": "sg-0f0e0d0c0b0a09080", "GroupName": "endpoints"}],
        "IpAddressType": addrtype,
        "DnsOptions": {"DnsRecordIpType": iptype},
        "PrivateDnsEnabled": private,
        "RequesterManaged": False,
        "NetworkInterfaceIds": enis,
        "DnsEntries": entries,
        "CreationTimestamp": ts,
        "Tags": [],
        "OwnerId": OWNER,
    }
    if extra:
        d.update(extra)
    if style:
        d = dict(reversed(list(d.items())))
    return d

def vpce_names(eid, x, svc_labels, azs, wildcard=False, region="us-east-1"):
    pre = "*." if wildcard else ""
    out = [pre + "%s-%s.%s.%s.vpce.amazonaws.com" % (eid, x, svc_labels, region)]
    for az in azs:
        out.append(pre + "%s-%s-%s.%s.%s.vpce.amazonaws.com" % (eid, x, az, svc_labels, region))
    return out

def write(case, name, obj, compact=False):
    d = os.path.join(ROOT, "fixtures", case)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "w") as f:
        if compact:
            f.write(json.dumps(obj, separators=(",", ":")))
        else:
            f.write(json.dumps(obj, indent=4) + "\n")

def write_text(case, name, text):
    d = os.path.join(ROOT, "fixtures", case)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "w") as f:
        f.write(text)

# ---- shared endpoints of VPC A ----
EC2 = "vpce-0ec2a1b2c3d4e5f60"
EC2_ENIS = [("eni-0ec2aa11aa11aa11a", "subnet-0a11a11a11a11a11a", "10.20.1.15"),
            ("eni-0ec2bb22bb22bb22b", "subnet-0b22b22b22b22b22b", "10.20.2.27")]
KIN = "vpce-0f1e2d3c4b5a69788"
KIN_ENIS = [("eni-0d1e0d1e0d1e0d1e0", "subnet-0a11a11a11a11a11a", "10.20.1.88"),
            ("eni-0d2e0d2e0d2e0d2e0", "subnet-0b22b22b22b22b22b", "10.20.2.88"),
            ("eni-0d3e0d3e0d3e0d3e0", "subnet-0c33c33c33c33c33c", "10.20.3.88")]

def ec2_ep(private=True, vpc=VPC_A, eid=EC2, enis=EC2_ENIS, x="x7k2m9qp", order=None, **kw):
    azs = [SUBNETS[s][2] for _, s, _ in enis]
    names = vpce_names(eid, x, "ec2", azs)
    if private:
        names.append("ec2.us-east-1.amazonaws.com")
    entries = [dns(n) if "vpce" in n else dns(n, "Z0407216ZZ1K8EXAMPLE") for n in names]
    if order:
        entries = [entries[i] for i in order]
    return endpoint(eid, vpc, "com.amazonaws.us-east-1.ec2", [e for e, _, _ in enis], entries,
                    private=private, subnets=[s for _, s, _ in enis], **kw)

def kin_ep(**kw):
    azs = [SUBNETS[s][2] for _, s, _ in KIN_ENIS]
    names = vpce_names(KIN, "2mq8rz4t", "kinesis", azs) + ["kinesis.us-east-1.amazonaws.com"]
    return endpoint(KIN, VPC_A, "com.amazonaws.us-east-1.kinesis-streams",
                    [e for e, _, _ in KIN_ENIS], [dns(n) for n in names],
                    subnets=[s for _, s, _ in KIN_ENIS], **kw)

def enis_of(ep, lst, v6=None, style=0):
    return [eni(e, ep, s, ip, v6.get(e) if v6 else None, style) for e, s, ip in lst]

A_SUBNETS = ["subnet-0a11a11a11a11a11a", "subnet-0b22b22b22b22b22b", "subnet-0c33c33c33c33c33c"]
B_SUBNETS = ["subnet-0d44d44d44d44d44d", "subnet-0e55e55e55e55e55e"]

def subnets_doc(ids, style=0):
    return {"Subnets": [subnet(s, style) for s in ids]}

# ---- private-dns ----
write("private-dns", "describe-vpc-endpoints.json", {"VpcEndpoints": [ec2_ep(), kin_ep()]})
write("private-dns", "describe-network-interfaces.json",
      {"NetworkInterfaces": enis_of(EC2, EC2_ENIS) + enis_of(KIN, KIN_ENIS)})
write("private-dns", "describe-subnets.json", subnets_doc(A_SUBNETS))

# ---- dns-order: the same inventory, shuffled and reformatted ----
e1 = ec2_ep(order=[3, 2, 0, 1], ts="2024-03-05T14:46:16Z", style=1)
e1["NetworkInterfaceIds"].reverse()
e1["DnsEntries"] = [dict(reversed(list(x.items()))) for x in e1["DnsEntries"]]
k1 = kin_ep(ts="2024-03-05T14:46:16.583Z")
k1["DnsEntries"] = [k1["DnsEntries"][i] for i in (2, 4, 0, 3, 1)]
del k1["DnsOptions"]          # absent DnsOptions means ipv4
del k1["Tags"]
write("dns-order", "endpoints.json", {"VpcEndpoints": [k1, e1]}, compact=True)
write("dns-order", "enis.json", {"NetworkInterfaces":
      list(reversed(enis_of(EC2, EC2_ENIS, style=1) + enis_of(KIN, KIN_ENIS, style=1)))})
write("dns-order", "subnets.json", subnets_doc(list(reversed(A_SUBNETS)), style=1))
write_text("dns-order", "same-as", "private-dns\n")

# ---- private-dns-off ----
ELB = "vpce-0e1b2a3c4d5e6f708"
ELB_ENIS = [("eni-0e1b0e1b0e1b0e1b1", "subnet-0a11a11a11a11a11a", "10.20.1.200"),
            ("eni-0e1b0e1b0e1b0e1b2", "subnet-0b22b22b22b22b22b", "10.20.2.200")]
elb_names = vpce_names(ELB, "k4j5h6g7", "elasticloadbalancing", ["us-east-1b", "us-east-1a"])
elb = endpoint(ELB, VPC_A, "com.amazonaws.us-east-1.elasticloadbalancing",
               [e for e, _, _ in ELB_ENIS], [dns(n) for n in elb_names], private=False,
               ts="2022-02-21T11:30:07.418Z", subnets=["subnet-0a11a11a11a11a11a", "subnet-0b22b22b22b22b22b"],
               extra={"PrivateDnsNames": [{"PrivateDnsName": "elasticloadbalancing.us-east-1.amazonaws.com"}]})
write("private-dns-off", "describe-vpc-endpoints.json",
      {"VpcEndpoints": [elb, ec2_ep(private=False)]})
write("private-dns-off", "describe-network-interfaces.json",
      {"NetworkInterfaces": enis_of(ELB, ELB_ENIS) + enis_of(EC2, EC2_ENIS)})
write("private-dns-off", "describe-subnets.json", subnets_doc(A_SUBNETS))

# ---- ecr: docker wildcards and api.aws names ----
DKR = "vpce-0dc4e7a1b2c3d4e5f"
DKR_ENIS = [("eni-0dc4aa11aa11aa11a", "subnet-0a11a11a11a11a11a", "10.20.1.41"),
            ("eni-0dc4bb22bb22bb22b", "subnet-0b22b22b22b22b22b", "10.20.2.41")]
API = "vpce-0ce0a1b2c3d4e5f6a"
API_ENIS = [("eni-0ce0aa11aa11aa11a", "subnet-0a11a11a11a11a11a", "10.20.1.42"),
            ("eni-0ce0bb22bb22bb22b", "subnet-0b22b22b22b22b22b", "10.20.2.42")]
dkr_names = vpce_names(DKR, "8fj3k2lq", "dkr.ecr", ["us-east-1a", "us-east-1b"]) + \
    ["dkr.ecr.us-east-1.amazonaws.com", "*.dkr.ecr.us-east-1.amazonaws.com"]
api_names = vpce_names(API, "5c6v7b8n", "api.ecr", ["us-east-1b", "us-east-1a"]) + \
    ["api.ecr.us-east-1.amazonaws.com", "ecr.us-east-1.api.aws"]
write("ecr", "describe-vpc-endpoints.json", {"VpcEndpoints": [
    endpoint(DKR, VPC_A, "com.amazonaws.us-east-1.ecr.dkr", [e for e, _, _ in DKR_ENIS],
             [dns(n) for n in dkr_names]),
    endpoint(API, VPC_A, "com.amazonaws.us-east-1.ecr.api", [e for e, _, _ in API_ENIS],
             [dns(n) for n in reversed(api_names)])]})
write("ecr", "describe-network-interfaces.json",
      {"NetworkInterfaces": enis_of(DKR, DKR_ENIS) + enis_of(API, API_ENIS)})
write("ecr", "describe-subnets.json", subnets_doc(A_SUBNETS))

# ---- s3-interface ----
S3 = "vpce-0a53c4d5e6f7a8b9c"
S3_ENIS = [("eni-0a53aa11aa11aa11a", "subnet-0a11a11a11a11a11a", "10.20.1.60"),
           ("eni-0a53cc33cc33cc33c", "subnet-0c33c33c33c33c33c", "10.20.3.60")]
s3_names = vpce_names(S3, "r2t3y4u5", "s3", ["us-east-1a", "us-east-1c"], wildcard=True)
s3_priv = ["s3.us-east-1.amazonaws.com", "*.s3.us-east-1.amazonaws.com",
           "s3-control.us-east-1.amazonaws.com", "*.s3-control.us-east-1.amazonaws.com",
           "s3-accesspoint.us-east-1.amazonaws.com", "*.s3-accesspoint.us-east-1.amazonaws.com"]
s3 = endpoint(S3, VPC_A, "com.amazonaws.us-east-1.s3", [e for e, _, _ in S3_ENIS],
              [dns(n) for n in s3_names] + [dns(n, "Z0407216ZZ1K8EXAMPLE") for n in s3_priv],
              extra={"DnsOptions": {"DnsRecordIpType": "ipv4",
                                    "PrivateDnsOnlyForInboundResolverEndpoint": False}})
write("s3-interface", "describe-vpc-endpoints.json", {"VpcEndpoints": [s3]})
write("s3-interface", "describe-network-interfaces.json", {"NetworkInterfaces": enis_of(S3, S3_ENIS)})
write("s3-interface", "describe-subnets.json", subnets_doc(A_SUBNETS))

# ---- inbound-only: S3 with PrivateDnsOnlyForInboundResolverEndpoint, plus its gateway ----
s3i = copy.deepcopy(s3)
s3i["DnsOptions"]["PrivateDnsOnlyForInboundResolverEndpoint"] = True
GW = "vpce-0a0b0c0d0e0f01234"
gw = {"VpcEndpointId": GW, "VpcEndpointType": "Gateway", "VpcId": VPC_A,
      "ServiceName": "com.amazonaws.us-east-1.s3", "State": "available", "PolicyDocument": POLICY,
      "RouteTableIds": ["rtb-0123456789abcdef0"], "SubnetIds": [], "Groups": [],
      "PrivateDnsEnabled": False, "RequesterManaged": False, "NetworkInterfaceIds": [],
      "DnsEntries": [], "CreationTimestamp": "2024-01-10T09:00:00+00:00", "OwnerId": OWNER}
write("inbound-only", "describe-vpc-endpoints.json", {"VpcEndpoints": [gw, s3i]})
write("inbound-only", "describe-network-interfaces.json", {"NetworkInterfaces": enis_of(S3, S3_ENIS)})
write("inbound-only", "describe-subnets.json", subnets_doc(A_SUBNETS))

# ---- dualstack, service-defined, ipv6 ----
STS = "vpce-05757a1b2c3d4e5f6"
STS_ENIS = [("eni-0575aa11aa11aa11a", "subnet-0a11a11a11a11a11a", "10.20.1.71"),
            ("eni-0575bb22bb22bb22b", "subnet-0b22b22b22b22b22b", "10.20.2.71")]
STS_V6 = {"eni-0575aa11aa11aa11a": ["2600:1f18:4a3:5601:8e1c:2b4d:71aa:1"],
          "eni-0575bb22bb22bb22b": ["2600:1f18:4a3:5602:16f0:9a2e:71bb:2"]}
SSM = "vpce-055a1b2c3d4e5f607"
SSM_ENIS = [("eni-055aaa11aa11aa11a", "subnet-0a11a11a11a11a11a", "10.20.1.72"),
            ("eni-055abb22bb22bb22b", "subnet-0b22b22b22b22b22b", "10.20.2.72")]
SSM_V6 = {"eni-055aaa11aa11aa11a": ["2600:1f18:4a3:5601:51a7:c0de:72aa:1"],
          "eni-055abb22bb22bb22b": ["2600:1f18:4a3:5602:51a7:c0de:72bb:2"]}
LOGS = "vpce-0106a1b2c3d4e5f60"
LOGS_ENIS = [("eni-0106aa11aa11aa11a", "subnet-0a11a11a11a11a11a", "10.20.1.73"),
             ("eni-0106bb22bb22bb22b", "subnet-0b22b22b22b22b22b", "10.20.2.73")]
LOGS_V6 = {"eni-0106aa11aa11aa11a": ["2600:1f18:4a3:5601:106:ab:73aa:1"],
           "eni-0106bb22bb22bb22b": ["2600:1f18:4a3:5602:106:ab:73bb:2"]}
def simple_ep(eid, svc_label, x, lst, iptype, private_names, addrtype="dualstack"):
    names = vpce_names(eid, x, svc_label, [SUBNETS[s][2] for _, s, _ in lst]) + private_names
    return endpoint(eid, VPC_A, "com.amazonaws.us-east-1." + svc_label, [e for e, _, _ in lst],
                    [dns(n) for n in names], iptype=iptype, addrtype=addrtype,
                    subnets=[s for _, s, _ in lst])
write("dualstack", "describe-vpc-endpoints.json", {"VpcEndpoints": [
    simple_ep(STS, "sts", "q8w7e6r5", STS_ENIS, "dualstack", ["sts.us-east-1.amazonaws.com"]),
    simple_ep(SSM, "ssm", "p0o9i8u7", SSM_ENIS, "service-defined", ["ssm.us-east-1.amazonaws.com"]),
    simple_ep(LOGS, "logs", "z1x2c3v4", LOGS_ENIS, "ipv6", ["logs.us-east-1.amazonaws.com"])]})
write("dualstack", "describe-network-interfaces.json", {"NetworkInterfaces":
      enis_of(STS, STS_ENIS, STS_V6) + enis_of(SSM, SSM_ENIS, SSM_V6) + enis_of(LOGS, LOGS_ENIS, LOGS_V6)})
write("dualstack", "describe-subnets.json", subnets_doc(A_SUBNETS))

# ---- skipped: gateway, GWLB, Lattice endpoints beside one interface endpoint ----
gwlb = {"VpcEndpointId": "vpce-0b1b2b3b4b5b6b7b8", "VpcEndpointType": "GatewayLoadBalancer",
        "VpcId": VPC_A, "ServiceName": "com.amazonaws.vpce.us-east-1.vpce-svc-0f1e2d3c4b5a69788",
        "State": "available", "SubnetIds": ["subnet-0a11a11a11a11a11a"], "RequesterManaged": False,
        "NetworkInterfaceIds": ["eni-0b1b0b1b0b1b0b1b1"],
        "CreationTimestamp": "2024-05-02T16:20:31.907Z", "Tags": [], "OwnerId": OWNER}
ddb = {"PolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"dynamodb:*\",\"Resource\":\"*\"}]}",
       "VpcId": VPC_A, "NetworkInterfaceIds": [], "SubnetIds": [], "PrivateDnsEnabled": True,
       "State": "available", "ServiceName": "com.amazonaws.us-east-1.dynamodb",
       "RouteTableIds": ["rtb-0123456789abcdef0"], "Groups": [], "VpcEndpointId": "vpce-0d1d2d3d4d5d6d7d8",
       "VpcEndpointType": "Gateway", "CreationTimestamp": "2023-06-14T08:12:45Z", "DnsEntries": [],
       "OwnerId": OWNER}
res = {"VpcEndpointId": "vpce-0123456789abcdef1", "VpcEndpointType": "Resource", "VpcId": VPC_A,
       "State": "available", "ServiceName": "", "SubnetIds": ["subnet-0a11a11a11a11a11a"],
       "ResourceConfigurationArn": "arn:aws:vpc-lattice:us-east-1:%s:resourceconfiguration/rcfg-0123456789abcdef0" % OWNER,
       "PrivateDnsEnabled": True, "RequesterManaged": False,
       "NetworkInterfaceIds": ["eni-0777777777777777a"],
       "DnsEntries": [{"DnsName": "vpce-0123456789abcdef1-snra-0a1b2c3d4e5f60718.rcfg-0123456789abcdef0.4232ccc.vpc-lattice-rsc.us-east-1.on.aws",
                       "HostedZoneId": "Z01234567ABCDEFGHIJK"}],
       "CreationTimestamp": "2024-12-01T10:00:00.000Z", "OwnerId": OWNER}
sn = {"VpcEndpointId": "vpce-0123456789abcdef2", "VpcEndpointType": "ServiceNetwork", "VpcId": VPC_A,
      "State": "available", "ServiceNetworkArn": "arn:aws:vpc-lattice:us-east-1:%s:servicenetwork/sn-0123456789abcdef0" % OWNER,
      "SubnetIds": ["subnet-0b22b22b22b22b22b"], "PrivateDnsEnabled": True, "RequesterManaged": False,
      "NetworkInterfaceIds": ["eni-0888888888888888b"], "DnsEntries": [],
      "CreationTimestamp": "2024-12-01T10:05:00+00:00", "OwnerId": OWNER}
write("skipped", "describe-vpc-endpoints.json",
      {"VpcEndpoints": [ddb, gwlb, ec2_ep(private=False), res, sn]})
write("skipped", "describe-network-interfaces.json", {"NetworkInterfaces": enis_of(EC2, EC2_ENIS)})
write("skipped", "describe-subnets.json", subnets_doc(A_SUBNETS))

# ---- pending: not-available endpoints are skipped ----
pend = {"VpcEndpoint": copy.deepcopy(s3)}
pend["VpcEndpoint"]["State"] = "pending"
pend["VpcEndpoint"]["VpcEndpointId"] = "vpce-0a54c4d5e6f7a8b9d"
pend["VpcEndpoint"]["DnsEntries"] = [dns(n.replace(S3, "vpce-0a54c4d5e6f7a8b9d")) for n in s3_names]
pend["VpcEndpoint"]["PrivateDnsEnabled"] = False
pend["VpcEndpoint"]["CreationTimestamp"] = "2024-10-09T07:03:52.211000+00:00"
pend["ClientToken"] = "a1b2c3d4-0000-4000-8000-000000000001"
CUST = "vpce-0c0ffee0c0ffee0c0"
cust = endpoint(CUST, VPC_A, "com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d4e5f60718",
                ["eni-0c0faa11aa11aa11a"],
                [dns(n) for n in vpce_names(CUST, "m3n4b5v6", "vpce-svc-0a1b2c3d4e5f60718", ["us-east-1a"])],
                private=False, state="pendingAcceptance", subnets=["subnet-0a11a11a11a11a11a"])
dele = ec2_ep(state="deleting", eid="vpce-0de1e7e0de1e7e0de", x="d3l3t3d0",
              enis=[("eni-0de1aa11aa11aa11a", "subnet-0a11a11a11a11a11a", "10.20.1.99")])
write("pending", "create-vpc-endpoint.json", pend)
write("pending", "describe-vpc-endpoints.json", {"VpcEndpoints": [cust, dele, kin_ep()]})
write("pending", "describe-network-interfaces.json", {"NetworkInterfaces": enis_of(KIN, KIN_ENIS)})
write("pending", "describe-subnets.json", subnets_doc(A_SUBNETS))

# ---- pagination: two pages of endpoints, two pages of interfaces ----
sts4 = simple_ep(STS, "sts", "q8w7e6r5", STS_ENIS, "ipv4", ["sts.us-east-1.amazonaws.com"], addrtype="ipv4")
write("pagination", "describe-vpc-endpoints.page1.json",
      {"VpcEndpoints": [ec2_ep(), kin_ep()],
       "NextToken": "eyJOZXh0VG9rZW4iOiBudWxsLCAiYm90b190cnVuY2F0ZV9hbW91bnQiOiAyfQ=="})
write("pagination", "describe-vpc-endpoints.page2.json", {"VpcEndpoints": [kin_ep(), sts4]})
write("pagination", "describe-network-interfaces.page1.json",
      {"NetworkInterfaces": enis_of(EC2, EC2_ENIS) + enis_of(KIN, KIN_ENIS)[:1],
       "NextToken": "eyJOZXh0VG9rZW4iOiBudWxsLCAiYm90b190cnVuY2F0ZV9hbW91bnQiOiAzfQ=="})
write("pagination", "describe-network-interfaces.page2.json",
      {"NetworkInterfaces": enis_of(KIN, KIN_ENIS)[1:] + enis_of(STS, STS_ENIS)})
write("pagination", "describe-subnets.json", subnets_doc(A_SUBNETS))

# ---- two VPCs with the same service ----
EC2B = "vpce-0ec2b9c8d7e6f5a4b"
EC2B_ENIS = [("eni-0ec2dd44dd44dd44d", "subnet-0d44d44d44d44d44d", "10.30.1.15"),
             ("eni-0ec2ee55ee55ee55e", "subnet-0e55e55e55e55e55e", "10.30.2.15")]
SSMB = "vpce-055b9c8d7e6f5a4b3"
SSMB_ENIS = [("eni-055bdd44dd44dd44d", "subnet-0d44d44d44d44d44d", "10.30.1.16")]
two_eps = {"VpcEndpoints": [
    ec2_ep(), ec2_ep(vpc=VPC_B, eid=EC2B, enis=EC2B_ENIS, x="b2v2c2x2"),
    endpoint(SSMB, VPC_B, "com.amazonaws.us-east-1.ssm", [e for e, _, _ in SSMB_ENIS],
             [dns(n) for n in vpce_names(SSMB, "s5s5s5s5", "ssm", ["us-east-1a"])] +
             [dns("ssm.us-east-1.amazonaws.com")])]}
two_enis = {"NetworkInterfaces": enis_of(EC2, EC2_ENIS) + enis_of(EC2B, EC2B_ENIS) + enis_of(SSMB, SSMB_ENIS)}
for case in ("two-vpcs", "vpc-filter"):
    write(case, "describe-vpc-endpoints.json", two_eps)
    write(case, "describe-network-interfaces.json", two_enis)
    write(case, "describe-subnets.json", subnets_doc(A_SUBNETS + B_SUBNETS))
write_text("vpc-filter", "args", "--vpc\n" + VPC_B + "\n")

# ---- stdin: one document with all three keys, piped in ----
write("stdin", "inventory.json", {"VpcEndpoints": [ec2_ep()],
                                  "NetworkInterfaces": enis_of(EC2, EC2_ENIS),
                                  "Subnets": [subnet(s) for s in A_SUBNETS]})
write_text("stdin", "stdin", "inventory.json\n")
write_text("stdin", "args", "-\n")

# ---- errors ----
dup = ec2_ep(eid="vpce-0dddd1111dddd1111", x="d0u0p0l0",
             enis=[("eni-0ddd1111ddd1111dd", "subnet-0c33c33c33c33c33c", "10.20.3.15")])
write("err-duplicate-name", "describe-vpc-endpoints.json", {"VpcEndpoints": [ec2_ep(), dup]})
write("err-duplicate-name", "describe-network-interfaces.json", {"NetworkInterfaces":
      enis_of(EC2, EC2_ENIS) + enis_of("vpce-0dddd1111dddd1111", [("eni-0ddd1111ddd1111dd", "subnet-0c33c33c33c33c33c", "10.20.3.15")])})
write("err-duplicate-name", "describe-subnets.json", subnets_doc(A_SUBNETS))
write_text("err-duplicate-name", "exit", "1\n")

text = json.dumps({"VpcEndpoints": [ec2_ep()]}, indent=4) + "\n"
lines = text.split("\n")
# drop the comma after "State": "available" -> a parse error on the next line
for i, l in enumerate(lines):
    if '"State": "available",' in l:
        lines[i] = l.rstrip(",")
        break
write_text("err-malformed", "describe-vpc-endpoints.json", "\n".join(lines))
write("err-malformed", "describe-subnets.json", subnets_doc(A_SUBNETS))
write_text("err-malformed", "exit", "1\n")

wt = [ec2_ep(), kin_ep(), ec2_ep(vpc=VPC_A, eid="vpce-0ec2c3c3c3c3c3c3c", private=False, x="w0r0n0g0")]
wt[2]["DnsEntries"][0]["DnsName"] = 12345
wt[1]["PrivateDnsEnabled"] = "true"
write("err-wrong-type", "describe-vpc-endpoints.json", {"VpcEndpoints": wt})
write("err-wrong-type", "describe-subnets.json", subnets_doc(A_SUBNETS))
write_text("err-wrong-type", "exit", "1\n")

write("err-missing-eni", "describe-vpc-endpoints.json", {"VpcEndpoints": [ec2_ep(), kin_ep()]})
write("err-missing-eni", "describe-network-interfaces.json",
      {"NetworkInterfaces": enis_of(EC2, EC2_ENIS) + enis_of(KIN, KIN_ENIS)[:2]})
write("err-missing-eni", "describe-subnets.json", subnets_doc(A_SUBNETS))
write_text("err-missing-eni", "exit", "1\n")

changed = kin_ep()
changed["State"] = "pending"
write("err-page-conflict", "describe-vpc-endpoints.page1.json", {"VpcEndpoints": [ec2_ep(), kin_ep()], "NextToken": "dG9rZW4="})
write("err-page-conflict", "describe-vpc-endpoints.page2.json", {"VpcEndpoints": [changed]})
write("err-page-conflict", "describe-network-interfaces.json",
      {"NetworkInterfaces": enis_of(EC2, EC2_ENIS) + enis_of(KIN, KIN_ENIS)})
write_text("err-page-conflict", "exit", "1\n")

zm = ec2_ep()
zm["DnsEntries"].append(dns("%s-x7k2m9qp-us-east-1c.ec2.us-east-1.vpce.amazonaws.com" % EC2))
write("err-zonal-without-eni", "describe-vpc-endpoints.json", {"VpcEndpoints": [zm]})
write("err-zonal-without-eni", "describe-network-interfaces.json", {"NetworkInterfaces": enis_of(EC2, EC2_ENIS)})
write_text("err-zonal-without-eni", "exit", "1\n")

write("err-no-ipv6", "describe-vpc-endpoints.json", {"VpcEndpoints": [
    simple_ep(STS, "sts", "q8w7e6r5", STS_ENIS, "dualstack", ["sts.us-east-1.amazonaws.com"])]})
write("err-no-ipv6", "describe-network-interfaces.json", {"NetworkInterfaces":
      enis_of(STS, STS_ENIS, {"eni-0575aa11aa11aa11a": STS_V6["eni-0575aa11aa11aa11a"]})})
write_text("err-no-ipv6", "exit", "1\n")

write("err-not-aws", "describe-vpc-endpoint-services.json", {
    "ServiceDetails": [{"ServiceName": "com.amazonaws.us-east-1.ec2",
                        "PrivateDnsName": "ec2.us-east-1.amazonaws.com"}],
    "ServiceNames": ["com.amazonaws.us-east-1.ec2"]})
write_text("err-not-aws", "exit", "1\n")

# ---- describe-vpcs: clients from the VPCs' blocks; a VPC without endpoints ----
VPC_C = "vpc-0c3d4e5f60718293a"
VPCS = {"Vpcs": [
    vpc(VPC_A, "10.20.0.0/16", secondary=["100.64.0.0/20", "10.21.0.0/16"],
        ipv6=["2600:1f18:4a3:5600::/56", "2600:1f18:4a3:9900::/56"],
        gone=["10.21.0.0/16", "2600:1f18:4a3:9900::/56"]),
    vpc(VPC_B, "10.30.0.0/16"),
    vpc(VPC_C, "10.40.0.0/16", owner="444455556666")]}
write("describe-vpcs", "describe-vpcs.json", VPCS)
write("describe-vpcs", "describe-vpc-endpoints.json", two_eps)
write("describe-vpcs", "describe-network-interfaces.json", two_enis)
write("describe-vpcs", "describe-subnets.json", subnets_doc(A_SUBNETS + B_SUBNETS))
write_text("describe-vpcs", "args", "--region\nus-east-1\n")
