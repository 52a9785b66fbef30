"""Who may ask for explanations and what they are shown: a zone file is
named relative to server.directory (or by its file name when it lies
outside it), never by an absolute path, over CH TXT and vpcdnsctl
explain alike; explain: true lets every client of the view ask but names
upstream groups without their servers' addresses; a list of prefixes
lets only those clients ask (others get REFUSED, as with false) and
shows them the addresses; without the key only loopback clients may ask.
"""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, CH, TXT, check, eq  # noqa: E402

suite = vt.Suite("explain_access")
S = {}

ZONE = """$ORIGIN z.test.
$TTL 60
@ IN SOA ns.z.test. hm.z.test. 1 3600 600 86400 60
ns IN A 192.0.2.53
www IN A 192.0.2.1
"""
OUTSIDE = """$ORIGIN o.test.
$TTL 60
@ IN SOA ns.o.test. hm.o.test. 1 3600 600 86400 60
www IN A 192.0.2.2
"""

OPEN, LISTED, OTHER, OFF, DEFAULT = "127.0.1.1", "127.0.2.1", "127.0.2.2", "127.0.4.1", "127.0.3.1"


def upstream(m, transport):
    if not m.question:
        return None
    name = m.question[0][0]
    return [vt.build_response(m, answers=[vt.rr_wire(name, A, 300, vt.rdata_a("198.51.100.7"))])]


def view(name, clients, **extra):
    v = {"name": name, "clients": clients, "zones": [S["zone"], S["outside"]],
         "forward": {"fwd.test": "up"}}
    v.update(extra)
    return v


def setup():
    vt.binary()
    vt.ctl_binary()
    vt.require_tools("dig")
    wd = S["wd"] = vt.workdir("explain_access")
    top = vt.workdir("explain_access_outside")
    S["zone"] = vt.write(os.path.join(wd, "data", "zones", "z.test.zone"), ZONE)
    S["outside"] = vt.write(os.path.join(top, "o.test.zone"), OUTSIDE)
    S["up"] = vt.FakeUpstream(upstream).start()
    S["port"] = vt.free_port()
    S["srv"] = vt.Vpcdns(wd, {
        "server": vt.server_block(S["port"], directory="data"),
        "upstreams": {"up": ["127.0.0.1:%d" % S["up"].port]},
        "views": [view("open", ["127.0.1.0/24"], explain=True),
                  view("listed", ["127.0.2.0/24"], explain=["127.0.2.1/32", "10.9.0.0/16"]),
                  view("dflt", ["127.0.3.0/24"]),
                  view("off", ["127.0.4.0/24"], explain=False)],
    }, port=S["port"]).start()


def teardown():
    vt.teardown_server(S.get("srv"))
    if "up" in S:
        S["up"].stop()


def ask(src, name):
    m = vt.udp_query(name, TXT, qclass=CH, port=S["port"], src=src)[0]
    check(m is not None, "no reply to CH TXT %s from %s" % (name, src))
    return m


def lines(src, name):
    m = ask(src, name)
    eq(m.rcode_name(), "NOERROR", "explain %s from %s" % (name, src))
    return [b"".join(r.value).decode() for r in m.rrs("answer", TXT)]


def no_absolute_path(text, what):
    check(S["wd"] not in text and not re.search(r"\(/|\s/[a-z]", text),
          "%s shows an absolute path" % what, text)


@suite.case
def zone_files_are_relative_to_directory():
    text = "\n".join(lines(DEFAULT, "www.z.test"))
    check(re.search(r"zone z\.test\.? \(zones/z\.test\.zone\): answer", text),
          "the zone file relative to server.directory", text)
    no_absolute_path(text, "explain")
    text = "\n".join(lines(DEFAULT, "www.o.test"))
    check(re.search(r"zone o\.test\.? \(o\.test\.zone\): answer", text),
          "a zone file outside server.directory by its file name", text)
    no_absolute_path(text, "explain")


@suite.case
def vpcdnsctl_explain_shows_no_absolute_path():
    rc, out, err = S["srv"].ctl("explain", "www.z.test", "--client", OFF)
    eq(rc, 0, "vpcdnsctl explain exit status (stderr %r)" % err)
    check("zones/z.test.zone" in out, "vpcdnsctl explain names the zone file", out)
    no_absolute_path(out, "vpcdnsctl explain")
    rc, out, err = S["srv"].ctl("explain", "www.z.test", "--client", OTHER)
    eq(rc, 0, "vpcdnsctl explain for an unlisted client (stderr %r)" % err)
    check("view listed;" in out and "the client itself gets REFUSED" in out,
          "vpcdnsctl explain says an unlisted client is refused", out)
    rc, out, err = S["srv"].ctl("explain", "www.z.test", "--client", LISTED)
    check("REFUSED" not in out, "no refusal note for a listed client", out)


@suite.case
def only_listed_clients_may_ask():
    text = "\n".join(lines(LISTED, "www.z.test"))
    check("view listed;" in text, "a listed client gets the explanation", text)
    m = ask(OTHER, "www.z.test")
    eq(m.rcode_name(), "REFUSED", "explain from a client of the view not in its list")
    eq(m.answer, [], "no explain records for an unlisted client")
    m = ask(OFF, "www.z.test")
    eq(m.rcode_name(), "REFUSED", "explain: false")
    # the unlisted client is still served
    m = vt.udp_query("www.z.test", A, port=S["port"], src=OTHER)[0]
    eq(m.values(A), ["192.0.2.1"], "an unlisted client's ordinary query")


@suite.case
def upstream_addresses_only_for_listed_clients():
    server = "127.0.0.1:%d" % S["up"].port
    listed = "\n".join(lines(LISTED, "x.fwd.test"))
    check(re.search(r"forward rule 'fwd\.test\.?' -> upstream group 'up' \(%s\)"
                    % re.escape(server), listed), "a listed client sees the servers", listed)
    dflt = "\n".join(lines(DEFAULT, "x.fwd.test"))
    check(server in dflt, "the default list (loopback) sees the servers", dflt)
    opened = "\n".join(lines(OPEN, "x.fwd.test"))
    check(re.search(r"upstream group 'up'", opened), "explain: true names the group", opened)
    check(server not in opened and "127.0.0.1" not in opened,
          "explain: true does not show the servers' addresses", opened)


@suite.case
def check_rejects_a_bad_explain_list():
    path = os.path.join(S["wd"], "bad.yaml")
    vt.write(path, vt.to_yaml({
        "server": {"listen": ["127.0.0.1:%d" % vt.free_port()]},
        "views": [{"name": "v", "clients": ["127.0.0.0/8"],
                   "explain": ["127.0.0.1/8"]}]}) + "\n")
    rc, out, err = vt.check_run([vt.binary(), "--check", "-c", path])
    eq(rc, 1, "--check exit status for a bad explain prefix")
    check(re.search(r"bad\.yaml:\d+: views\[0\]\.explain: bad CIDR '127\.0\.0\.1/8'", err),
          "file:line for the bad prefix", err)


if __name__ == "__main__":
    suite.main(setup, teardown)
