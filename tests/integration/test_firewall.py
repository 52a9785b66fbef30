"""DNS firewall, end to end: a view's rule groups block (NXDOMAIN, NODATA,
an override CNAME with its answer), alert (answer goes through, counted
and logged) and allow (before a block by priority) for local names and for
names forwarded to a fake upstream; a CNAME target in a local chain or in
an upstream answer (also from the cache) is blocked unless the rule trusts
redirections; a rule limited to AAAA leaves A alone; a view without the
rule group is not affected; a bad list line fails --check with file:line,
and a reload with it keeps the old lists serving.
"""

import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, AAAA, CNAME, check, eq  # noqa: E402

suite = vt.Suite("firewall")
S = {}

LOCAL = """$ORIGIN local.test.
$TTL 60
@ IN SOA ns hostmaster 1 3600 600 86400 60
@ IN NS ns
ns IN A 192.0.2.53
www IN A 10.0.0.1
bad IN A 10.0.0.66
nodata IN A 10.0.0.67
ov IN A 10.0.0.68
ovf IN A 10.0.0.69
watch IN A 10.0.0.70
allowed IN A 10.0.0.71
typed IN A 10.0.0.72
typed IN AAAA 2001:db8::72
sink IN A 10.0.0.99
alias IN CNAME evil
evil IN A 10.0.0.13
talias IN CNAME tevil
tevil IN A 10.0.0.14
"""

LISTS = {
    "allow": "allowed.local.test\n",
    "nx": "# blocked with NXDOMAIN\nbad.local.test\nallowed.local.test\n*.nx.up.test\n",
    "nodata": "nodata.local.test\nnodata.up.test\n",
    "override": "ov.local.test\nov.up.test\n",
    "ovfwd": "ovf.local.test\n",
    "alert": "watch.local.test\nwatch.up.test\n",
    "chain": "evil.local.test\nevil.up.test\n",
    "tchain": "tevil.local.test\ntevil.up.test\n",
    "typed": "typed.local.test\n",
}


def upstream(m, transport):
    if not m.question:
        return None
    name = m.question[0][0]
    low = name.lower()
    answers = []
    if low.startswith("alias.") or low.startswith("talias."):
        target = ("evil." if low.startswith("alias.") else "tevil.") + "up.test."
        answers.append(vt.rr_wire(name, CNAME, 30, vt.name_to_wire(target)))
        answers.append(vt.rr_wire(target, A, 30, vt.rdata_a("198.51.100.66")))
    elif m.question[0][1] == A:
        answers.append(vt.rr_wire(name, A, 30, vt.rdata_a("198.51.100.1")))
    return [vt.build_response(m, answers=answers)]


def write_lists(lists):
    for k, text in lists.items():
        vt.write(os.path.join(S["wd"], "lists", k + ".txt"), text)


def config(srv):
    rules = [
        {"priority": 10, "list": "allow", "action": "allow"},
        {"priority": 20, "list": "nx", "action": "block", "block_response": "nxdomain"},
        {"priority": 30, "list": "nodata", "action": "block"},
        {"priority": 40, "list": "override", "action": "block",
         "block_response": "override", "override_name": "sink.local.test",
         "override_ttl": 120},
        {"priority": 50, "list": "alert", "action": "alert"},
        {"priority": 60, "list": "chain", "action": "block", "block_response": "nxdomain"},
        {"priority": 70, "list": "tchain", "action": "block",
         "block_response": "nxdomain", "trust_redirections": True},
        {"priority": 80, "list": "ovfwd", "action": "block", "block_response": "override",
         "override_name": "target.up.test"},
        {"priority": 90, "list": "typed", "action": "block",
         "block_response": "nxdomain", "types": ["AAAA"]},
    ]
    # Written out of order: priorities decide, not positions.
    rules = rules[5:] + rules[:5]
    return {
        "server": vt.server_block(srv.port),
        "query_log": {"file": os.path.join(S["wd"], "query.log")},
        "upstreams": {"up": ["127.0.0.1:%d" % S["up"].port]},
        "firewall": {
            "lists": {k: os.path.join(S["wd"], "lists", k + ".txt") for k in LISTS},
            "rule_groups": {"main": rules},
        },
        "views": [
            {"name": "guarded", "clients": ["127.0.0.1/32"], "zones": [S["zone"]],
             "forward": {"up.test": "up"}, "firewall": ["main"]},
            {"name": "open", "clients": ["127.0.0.2/32"], "zones": [S["zone"]],
             "forward": {"up.test": "up"}},
        ],
    }


def setup():
    vt.binary()
    wd = vt.workdir("firewall")
    S["wd"] = wd
    S["zone"] = vt.write(os.path.join(wd, "local.test.zone"), LOCAL)
    write_lists(LISTS)
    S["up"] = vt.FakeUpstream(upstream).start()
    srv = vt.Vpcdns(wd, None)
    srv.set_config(config(srv))
    S["srv"] = srv.start()


def teardown():
    try:
        vt.teardown_server(S.get("srv"))
    finally:
        if "up" in S:
            S["up"].stop()


def ask(name, qtype=A, src="127.0.0.1"):
    m, _ = vt.udp_query(name, qtype, port=S["srv"].port, src=src)
    check(m is not None, "no reply to %s from %s" % (name, src))
    return m


def answers(m):
    return [(r.type, r.value) for r in m.rrs("answer")]


@suite.case
def block_nxdomain_local_and_forwarded():
    asked = S["up"].asked("x.nx.up.test")
    m = ask("bad.local.test")
    eq(m.rcode_name(), "NXDOMAIN", "blocked local name")
    eq(answers(m), [], "no records")
    m = ask("X.Nx.UP.test")
    eq(m.rcode_name(), "NXDOMAIN", "blocked forwarded name (wildcard, any case)")
    eq(S["up"].asked("x.nx.up.test"), asked, "a blocked name is not forwarded")
    eq(ask("nx.up.test").rcode_name(), "NOERROR", "*.nx.up.test does not cover itself")
    # The other view applies no rule group.
    eq(ask("bad.local.test", src="127.0.0.2").values(A), ["10.0.0.66"], "open view")
    eq(ask("x.nx.up.test", src="127.0.0.2").values(A), ["198.51.100.1"], "open view")


@suite.case
def block_nodata():
    for name in ("nodata.local.test", "nodata.up.test"):
        m = ask(name)
        eq(m.rcode_name(), "NOERROR", "NODATA rcode for %s" % name)
        eq(answers(m), [], "NODATA has no records for %s" % name)
        check(ask(name, src="127.0.0.2").values(A), "open view answers %s" % name)


@suite.case
def block_override():
    for name in ("ov.local.test", "OV.up.test"):
        m = ask(name)
        eq(m.rcode_name(), "NOERROR", "override rcode")
        eq(answers(m), [(CNAME, "sink.local.test."), (A, "10.0.0.99")],
           "override CNAME and the target's answer for %s" % name)
        eq(m.rrs("answer")[0].ttl, 120, "override TTL")
        eq(m.rrs("answer")[0].name.lower(), name.lower() + ".", "CNAME owner")
    # An override target that is forwarded: the upstream answers it.
    m = ask("ovf.local.test")
    eq(answers(m), [(CNAME, "target.up.test."), (A, "198.51.100.1")],
       "override to a forwarded name")
    eq(m.rrs("answer")[0].ttl, 0, "override_ttl defaults to 0")


@suite.case
def alert_answers_and_counts():
    before = S["srv"].stats()["firewall"]
    off = S["srv"].log_size()
    eq(ask("watch.local.test").values(A), ["10.0.0.70"], "alert answers normally")
    eq(ask("watch.up.test").values(A), ["198.51.100.1"], "alert answers normally")
    after = S["srv"].stats()["firewall"]
    eq(after["alert"] - before["alert"], 2, "alerts counted")
    eq(after["block"], before["block"], "no block counted")
    check(S["srv"].wait_log(r"firewall: ALERT watch\.local\.test\. .*rule group main, "
                            r"list alert", since=off), "alert line in the log",
          S["srv"].log_since(off))


def logged(name, src="127.0.0.1", timeout=5.0):
    """The newest query-log record for name from src (JSON), or None."""
    path = os.path.join(S["wd"], "query.log")

    def find():
        try:
            lines = open(path).read().splitlines()
        except OSError:
            return None
        for line in reversed(lines):
            rec = json.loads(line)
            if rec["query_name"].lower() == name.lower() + "." and rec["srcaddr"] == src:
                return rec
        return None
    return vt.wait_until(find, timeout)


@suite.case
def query_log_carries_the_firewall_fields():
    """Route 53's firewall_rule_group_id, firewall_rule_action and
    firewall_domain_list_id, for local, forwarded and CNAME-target
    decisions, and nothing when no rule decided."""
    cases = [
        ("bad.local.test", "127.0.0.1", ("main", "BLOCK", "nx")),
        ("watch.up.test", "127.0.0.1", ("main", "ALERT", "alert")),
        ("allowed.local.test", "127.0.0.1", ("main", "ALLOW", "allow")),
        ("alias.up.test", "127.0.0.1", ("main", "BLOCK", "chain")),
        ("www.local.test", "127.0.0.1", None),
        ("bad.local.test", "127.0.0.2", None),
    ]
    for name, src, want in cases:
        ask(name, src=src)
        rec = logged(name, src)
        check(rec is not None, "no query-log record for %s from %s" % (name, src))
        got = tuple(rec.get(k) for k in ("firewall_rule_group_id", "firewall_rule_action",
                                         "firewall_domain_list_id"))
        eq(got, want or (None, None, None), "firewall fields for %s from %s" % (name, src))


@suite.case
def allow_before_block_by_priority():
    before = S["srv"].stats()["firewall"]
    eq(ask("allowed.local.test").values(A), ["10.0.0.71"], "allow at 10 beats block at 20")
    eq(S["srv"].stats()["firewall"]["allow"] - before["allow"], 1, "allow counted")


@suite.case
def cname_chain_targets():
    # Local chain: the target is blocked, so is the question.
    eq(ask("alias.local.test").rcode_name(), "NXDOMAIN", "local chain target blocked")
    eq(ask("evil.local.test").rcode_name(), "NXDOMAIN", "the target itself")
    # trust_redirections: the target is blocked only when asked for itself.
    eq(answers(ask("talias.local.test")), [(CNAME, "tevil.local.test."), (A, "10.0.0.14")],
       "trusted redirection answered")
    eq(ask("tevil.local.test").rcode_name(), "NXDOMAIN", "trusted rule still blocks the name")
    # Upstream answers, fresh and then from the cache.
    for i in range(2):
        m = ask("alias.up.test")
        eq(m.rcode_name(), "NXDOMAIN", "upstream CNAME target blocked (round %d)" % i)
        eq(answers(m), [], "nothing of the blocked chain leaks (round %d)" % i)
        eq(answers(ask("talias.up.test")),
           [(CNAME, "tevil.up.test."), (A, "198.51.100.66")],
           "trusted upstream redirection (round %d)" % i)
    eq(S["up"].asked("alias.up.test"), 1, "the second answer came from the cache")
    eq(answers(ask("alias.up.test", src="127.0.0.2")),
       [(CNAME, "evil.up.test."), (A, "198.51.100.66")], "open view")
    eq(answers(ask("alias.local.test", src="127.0.0.2")),
       [(CNAME, "evil.local.test."), (A, "10.0.0.13")], "open view, local chain")


@suite.case
def query_type_filter():
    eq(ask("typed.local.test").values(A), ["10.0.0.72"], "rule for AAAA leaves A")
    eq(ask("typed.local.test", AAAA).rcode_name(), "NXDOMAIN", "AAAA blocked")


@suite.case
def bad_list_fails_check_and_reload():
    path = os.path.join(S["wd"], "lists", "nx.txt")
    vt.write(path, "bad.local.test\nfine.test\nnot..a.name\n*.x.*.test\n")
    rc, out, err = vt.check_run([vt.binary(), "--check", "-c", S["srv"].conf_path],
                                env=vt.server_env(S["wd"]))
    check(rc != 0, "--check accepted a bad list", out + err)
    check("%s:3: bad domain name 'not..a.name'" % path in err, "file:line for line 3", err)
    check("%s:4: '*' is allowed only" % path in err, "file:line for line 4", err)
    eq(S["srv"].reload(), False, "reload with a bad list fails")
    eq(ask("bad.local.test").rcode_name(), "NXDOMAIN", "old list still serves")
    eq(ask("fine.test").rcode_name(), "REFUSED", "the new list was not applied")
    # Fixed: the new list is used after the next reload.
    vt.write(path, "www.local.test\n")
    eq(S["srv"].reload(), True, "reload with a good list")
    eq(ask("www.local.test").rcode_name(), "NXDOMAIN", "new list serves")
    eq(ask("bad.local.test").values(A), ["10.0.0.66"], "old entry gone")
    write_lists({"nx": LISTS["nx"]})
    eq(S["srv"].reload(), True, "lists restored")


if __name__ == "__main__":
    suite.main(setup, teardown)
