"""Explain (CH TXT [_<type>.]<name>) and the real answer come from the same
walk: for A, AAAA, TXT, PTR, a CNAME chain across zones, a name with no
record of the asked type and a CNAME loop, the routing steps the explain
lines report (owner and what each zone gave) are exactly the RRsets of the
real IN answer, in order, and the explain "result:" line names the real
answer's rcode. A plain name is explained for A, as before the type label
existed; the loop is reported where the answer stops.
"""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, AAAA, TXT, PTR, CNAME, CH, check, eq  # noqa: E402

suite = vt.Suite("explain")
S = {}

LOCAL_ZONE = """; explain agrees with answers
$ORIGIN local.test.
$TTL 300
@\tIN SOA\tns.local.test. hostmaster.local.test. 1 3600 600 86400 120
@\tIN NS\tns
ns\tIN A\t192.0.2.53
www\tIN A\t192.0.2.1
multi\tIN A\t192.0.2.11
multi\tIN A\t192.0.2.12
v6\tIN AAAA\t2001:db8::1
txt\tIN TXT\t"hello"
alias\tIN CNAME\talias2
alias2\tIN CNAME\thost.other.test.
loop1\tIN CNAME\tloop2
loop2\tIN CNAME\tloop1
self\tIN CNAME\tself
"""

OTHER_ZONE = """$ORIGIN other.test.
$TTL 300
@\tIN SOA\tns.other.test. hostmaster.other.test. 1 3600 600 86400 120
@\tIN NS\tns.local.test.
host\tIN A\t192.0.2.7
host\tIN AAAA\t2001:db8::7
"""

VPCE = "vpce-0123456789abcdef0-abcd1234.ec2.us-east-1.vpce.amazonaws.com."
VPCE_ZONE = """$ORIGIN us-east-1.vpce.amazonaws.com.
$TTL 60
@\tIN SOA\tns.local.test. hostmaster.local.test. 1 3600 600 86400 60
@\tIN NS\tns.local.test.
vpce-0123456789abcdef0-abcd1234.ec2\tIN A\t10.0.1.10
"""


def setup():
    vt.binary()
    vt.require_tools("dig")
    wd = vt.workdir("explain")
    local = vt.write(os.path.join(wd, "zones", "local.test.zone"), LOCAL_ZONE)
    other = vt.write(os.path.join(wd, "zones", "other.test.zone"), OTHER_ZONE)
    vpce = vt.write(os.path.join(wd, "zones", "vpce.zone"), VPCE_ZONE)
    srv = vt.Vpcdns(wd, None)
    srv.set_config({
        "server": vt.server_block(srv.port, v6=False),
        "views": [{
            "name": "main",
            "clients": ["127.0.0.1/32"],
            "zones": [local, other, vpce],
        }],
    })
    S["srv"] = srv.start()


def teardown():
    vt.teardown_server(S.get("srv"))


def explain(name):
    """The explain lines for name, asked with dig -c CH -t TXT."""
    r = vt.dig(S["srv"].port, "-c", "CH", "-t", "TXT", name)
    eq(r.status, "NOERROR", "explain status for %s" % name)
    check(r.answer, "explain %s: no answer" % name, r.text)
    return [rr[4].strip('"') for rr in r.answer]


STEP = re.compile(r"^(\S+): zone \S+ \(.*\): (answer|CNAME)")


def explained_steps(lines):
    """(owner, 'CNAME' or 'answer') for each zone step that adds an RRset."""
    return [(m.group(1).lower(), m.group(2)) for m in map(STEP.match, lines) if m]


def answered_rrsets(m):
    """(owner, type) of each RRset of the answer section, in order (the same
    RRset written twice, as a CNAME to itself is, counts twice)."""
    out, seen = [], []
    for rr in m.answer:
        key = (rr.name.lower(), rr.type)
        if not out or out[-1] != key or rr.value in seen:
            out.append(key)
            seen = []
        seen.append(rr.value)
    return out


def agree(name, qtype, label):
    """The real IN answer and the explain lines for it tell the same story."""
    m = S["srv"].udp(name, qtype)
    check(m is not None, "no reply to %s" % name)
    lines = explain(label + name if label else name)
    text = "\n".join(lines)
    check(("type %s" % vt.TYPE_NAMES[qtype]) in lines[0],
          "explain %s: header names type %s" % (name, vt.TYPE_NAMES[qtype]), text)
    steps = explained_steps(lines)
    want = [(o, "CNAME" if t == CNAME else "answer") for o, t in answered_rrsets(m)]
    eq(steps, want, "explain steps vs answer RRsets for %s/%s\n%s" % (name, qtype, text))
    res = [ln for ln in lines if ln.startswith("result: ")]
    eq(len(res), 1, "one result line\n%s" % text)
    check(res[0].startswith("result: %s" % m.rcode_name()),
          "explain result %r vs answer rcode %s" % (res[0], m.rcode_name()), text)
    return m, lines


@suite.case
def a_plain_name_is_a():
    m, lines = agree("www.local.test.", A, None)
    eq(m.values(A), ["192.0.2.1"], "A answer")
    m, lines = agree("multi.local.test.", A, "_a.")
    check("records ordered by AZ/rotated" in "\n".join(lines), "several A: rotated", lines)


@suite.case
def aaaa():
    m, _ = agree("v6.local.test.", AAAA, "_aaaa.")
    eq(m.values(AAAA), ["2001:db8::1"], "AAAA answer")


@suite.case
def type_decides_nodata():
    # www has an A and no AAAA: explain for AAAA says NODATA, as the answer is empty.
    m, lines = agree("www.local.test.", AAAA, "_aaaa.")
    eq(m.answer, [], "no AAAA at www")
    check(any("NODATA (name exists, no AAAA)" in ln for ln in lines), "NODATA for AAAA", lines)


@suite.case
def txt():
    m, _ = agree("txt.local.test.", TXT, "_TXT.")
    eq(len(m.answer), 1, "TXT answer")


@suite.case
def cname_chain_across_zones():
    for qtype, label in ((A, "_a."), (AAAA, "_aaaa.")):
        m, _ = agree("alias.local.test.", qtype, label)
        eq([r.type for r in m.answer], [CNAME, CNAME, qtype], "chain of %s" % qtype)


@suite.case
def cname_loop_stops():
    for name, steps in (("loop1.local.test.", 2), ("self.local.test.", 2)):
        m, lines = agree(name, A, None)
        eq(len(m.answer), steps, "CNAMEs in the answer to %s" % name)
        check(any("CNAME loop" in ln for ln in lines), "explain %s: loop reported" % name,
              lines)
        check("CNAME loop" in lines[-2], "explain %s: the loop is the last step" % name,
              lines)


@suite.case
def ptr_from_endpoint_data():
    rev = "10.1.0.10.in-addr.arpa."
    m = S["srv"].udp(rev, PTR)
    eq(m.rcode_name(), "NOERROR", "PTR rcode")
    eq([r.value.lower() for r in m.rrs("answer", PTR)], [VPCE], "PTR answer")
    lines = explain("_ptr." + rev)
    check(any(ln.lower().endswith(": ptr " + VPCE) for ln in lines),
          "explain names the PTR target", lines)
    eq(lines[-1], "result: NOERROR, answer: PTR", "explain result for PTR")


if __name__ == "__main__":
    suite.main(setup, teardown)
