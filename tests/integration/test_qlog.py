"""Query logs, end to end: the Route 53 JSON log read back field by field
for a local answer, a wildcard answer, AAAA, PTR, a forwarded answer and
its cache hit, a forwarded NXDOMAIN, a refused client and a stale answer;
the same queries as CLIENT_QUERY/CLIENT_RESPONSE (and the forwarded ones
as FORWARDER_QUERY/FORWARDER_RESPONSE) in a dnstap file read back with
dnstap-read; the per-query debug line; a ring filled faster than the
writer drains it (the writer blocked on a FIFO nobody reads): every query
is still answered and written + dropped = queries, with exactly the
written ones in the file; SIGUSR2 after a rename writes to a new file;
bad query_log settings are file:line errors.
"""

import json
import os
import re
import signal
import socket
import stat
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, AAAA, PTR, check, eq  # noqa: E402

suite = vt.Suite("qlog")
S = {"servers": [], "fakes": []}
EDE_STALE, EDE_PROHIBITED = 3, 18
KEYS = ["version", "account_id", "region", "vpc_id", "query_timestamp", "query_name",
        "query_type", "query_class", "rcode", "answers", "srcaddr", "srcport",
        "transport", "srcids", "vpcdns"]
VPCDNS_KEYS = ["view", "route", "upstream", "duration_us", "ede", "client_az"]

ZONE = """$ORIGIN example.com.
$TTL 60
@ SOA ns hm 1 3600 600 86400 30
@ A 10.0.0.1
@ AAAA 2001:db8::1
*.w A 10.0.0.9
"""
RZONE = """$ORIGIN 0.0.10.in-addr.arpa.
$TTL 60
@ SOA ns hm 1 3600 600 86400 30
1 PTR host.example.com.
"""


def handler(m, transport):
    if not m.question:
        return None
    name = m.question[0][0].lower()
    if name.startswith("nx."):
        soa = vt.rr_wire("fwd.test", vt.SOA, 60, vt.rdata_soa("ns.fwd.test", "hm.fwd.test"))
        return [vt.build_response(m, rcode=vt.NXDOMAIN, authority=[soa])]
    ttl = 1 if name.startswith("st.") else 60
    return [vt.build_response(m, answers=[vt.rr_wire(m.question[0][0], A, ttl,
                                                     vt.rdata_a("198.51.100.7"))])]


def start_server(name, qlog, args=(), **server):
    srv = vt.Vpcdns(S["wd"], None, name=name, args=args)
    f = S["up"]
    srv.set_config({
        "server": vt.server_block(srv.port, **server),
        "upstreams": {"up": ["127.0.0.1:%d" % f.port]},
        "views": [{"name": "v1", "clients": ["127.0.0.1/32"],
                   "zones": [S["zone"], S["rzone"]], "forward": {".": "up"},
                   "vpc_id": "vpc-0123456789abcdef0", "account_id": "111122223333",
                   "region": "us-east-1",
                   "subnets": [{"cidr": "127.0.0.0/24", "az_id": "use1-az2"}]}],
        "query_log": qlog,
    })
    S["servers"].append(srv)
    return srv.start()


def stop_server(srv):
    S["servers"].remove(srv)
    vt.teardown_server(srv)


def setup():
    vt.binary()
    wd = S["wd"] = vt.workdir("qlog")
    S["zone"] = vt.write(os.path.join(wd, "example.com.zone"), ZONE)
    S["rzone"] = vt.write(os.path.join(wd, "rev.zone"), RZONE)
    S["up"] = vt.FakeUpstream(handler).start()
    S["fakes"].append(S["up"])


def teardown():
    for srv in list(S["servers"]):
        vt.teardown_server(srv)
    for f in S["fakes"]:
        f.stop()


def read_lines(path):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    # the writer may be half way through a line
    return [json.loads(l) for l in text[:text.rfind("\n") + 1].splitlines() if l.strip()]


def wait_lines(path, n, timeout=5.0):
    got = vt.wait_until(lambda: len(read_lines(path)) >= n and read_lines(path), timeout)
    check(got, "%d query-log lines in %s" % (n, path), read_lines(path))
    return got


def qlog_stats(srv):
    return srv.stats()["qlog"]


@suite.case
def route53_json_dnstap_and_debug_lines():
    vt.require_tools("dnstap-read")
    log = os.path.join(S["wd"], "q.log")
    tap = os.path.join(S["wd"], "q.dnstap")
    srv = start_server("main", {"file": "q.log", "dnstap_file": "q.dnstap"},
                       log_level="debug")
    asked = []

    def ask(name, qtype=A, src=None, **kw):
        m = vt.udp_query(name, qtype, port=srv.port, src=src, **kw)[0]
        asked.append((name, qtype, src))
        return m

    eq(ask("example.com").values(A), ["10.0.0.1"], "local answer")
    eq(ask("x.w.example.com").values(A), ["10.0.0.9"], "wildcard answer")
    eq(ask("example.com", AAAA).values(AAAA), ["2001:db8::1"], "AAAA")
    eq(ask("1.0.0.10.in-addr.arpa", PTR).values(PTR), ["host.example.com."], "PTR")
    eq(ask("hit.fwd.test").values(A), ["198.51.100.7"], "forwarded")
    eq(ask("hit.fwd.test").values(A), ["198.51.100.7"], "cache hit")
    eq(ask("nx.fwd.test").rcode_name(), "NXDOMAIN", "forwarded NXDOMAIN")
    eq(ask("example.com", src="127.0.0.9", edns=True).rcode_name(), "REFUSED",
       "client in no view")
    eq(ask("st.fwd.test").values(A), ["198.51.100.7"], "forwarded, TTL 1")
    S["up"].stop()
    time.sleep(1.3)
    m = ask("st.fwd.test", edns=True)
    eq((m.values(A), m.ede_codes()), (["198.51.100.7"], [EDE_STALE]), "stale answer")
    S["up"] = vt.FakeUpstream(handler, port=S["up"].port).start()
    S["fakes"].append(S["up"])

    def ours():   # without the harness's readiness probes
        return [l for l in read_lines(log) if l["query_name"] != "id.server."]
    lines = vt.wait_until(lambda: len(ours()) >= len(asked) and ours())
    eq(len(lines or []), len(asked), "one line per query")
    for l, (name, qtype, src) in zip(lines, asked):
        eq(list(l.keys()), KEYS, "fields of the line for %s" % name)
        eq(list(l["vpcdns"].keys()), VPCDNS_KEYS, "vpcdns fields for %s" % name)
        eq(l["version"], "1.100000", "version")
        eq(l["query_name"], name + ".", "query_name (trailing dot)")
        eq(l["query_type"], {A: "A", AAAA: "AAAA", PTR: "PTR"}[qtype], "query_type")
        eq(l["query_class"], "IN", "query_class")
        eq(l["srcaddr"], src or "127.0.0.1", "srcaddr")
        check(isinstance(l["srcport"], str) and 0 < int(l["srcport"]) < 65536,
              "srcport is a port number as a string", l)
        eq(l["transport"], "UDP", "transport")
        eq(l["srcids"], {}, "srcids when the instance is unknown")
        check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", l["query_timestamp"]),
              "query_timestamp in RFC 3339 UTC", l)
        check(isinstance(l["vpcdns"]["duration_us"], int) and l["vpcdns"]["duration_us"] >= 0,
              "duration_us", l)
        if src is None:
            eq((l["account_id"], l["region"], l["vpc_id"]),
               ("111122223333", "us-east-1", "vpc-0123456789abcdef0"), "view's AWS ids")
            eq((l["vpcdns"]["view"], l["vpcdns"]["client_az"]), ("v1", "use1-az2"),
               "view and client AZ")
    exp = [  # rcode, answers, route, upstream?, ede
        ("NOERROR", [("10.0.0.1", "A")], "local", False, None),
        ("NOERROR", [("10.0.0.9", "A")], "local", False, None),
        ("NOERROR", [("2001:db8::1", "AAAA")], "local", False, None),
        ("NOERROR", [("host.example.com.", "PTR")], "local", False, None),
        ("NOERROR", [("198.51.100.7", "A")], "forward", True, None),
        ("NOERROR", [("198.51.100.7", "A")], "cache", False, None),
        ("NXDOMAIN", [], "forward", True, None),
        ("REFUSED", [], "refused", False, EDE_PROHIBITED),
        ("NOERROR", [("198.51.100.7", "A")], "forward", True, None),
        ("NOERROR", [("198.51.100.7", "A")], "stale", False, EDE_STALE),
    ]
    for l, (rcode, answers, route, has_up, ede) in zip(lines, exp):
        what = "%s (%s)" % (l["query_name"], route)
        eq(l["rcode"], rcode, "rcode of " + what)
        eq([(a["Rdata"], a["Type"]) for a in l["answers"]], answers, "answers of " + what)
        check(all(a["Class"] == "IN" for a in l["answers"]), "answer class", l)
        eq(l["vpcdns"]["route"], route, "route of " + what)
        eq(l["vpcdns"]["upstream"],
           "127.0.0.1:%d" % S["up"].port if has_up else None, "upstream of " + what)
        eq(l["vpcdns"]["ede"], ede, "ede of " + what)
    refused = lines[7]
    eq((refused["vpcdns"]["view"], refused["vpc_id"], refused["account_id"],
        refused["vpcdns"]["client_az"]), (None, None, None, None),
       "a client in no view has no view ids")

    # the debug line, printed by the writer thread
    check(srv.wait_log(r"debug: query: 127\.0\.0\.1#\d+ UDP x\.w\.example\.com\. A "
                       r"view=v1 route=local rcode=NOERROR answers=1"),
          "debug line for the wildcard answer", srv.log()[-2000:])
    check(srv.wait_log(r"debug: query: 127\.0\.0\.9#\d+ UDP example\.com\. A view=- "
                       r"route=refused rcode=REFUSED"),
          "debug line for the refused client", srv.log()[-2000:])
    st = qlog_stats(srv)
    eq(st["dropped"], 0, "records dropped")

    stop_server(srv)   # fstrm writes the dnstap file out when it closes
    rc, out, err = vt.check_run(["dnstap-read", tap])
    eq(rc, 0, "dnstap-read exit status: " + err)
    seen = {}
    for line in out.splitlines():
        m = re.search(r" (CQ|CR|FQ|FR) .* (\S+)/IN/(\S+)$", line)
        if m:
            seen.setdefault((m.group(2).lower().rstrip("."), m.group(3)), []).append(m.group(1))
    tname = {A: "A", AAAA: "AAAA", PTR: "PTR"}
    for name, qtype, src in asked:
        kinds = seen.get((name, tname[qtype]), [])
        check("CQ" in kinds and "CR" in kinds,
              "dnstap CLIENT_QUERY and CLIENT_RESPONSE for %s" % name, out)
    for name in ("hit.fwd.test", "nx.fwd.test", "st.fwd.test"):
        kinds = seen.get((name, "A"), [])
        check("FQ" in kinds and "FR" in kinds,
              "dnstap FORWARDER_QUERY and FORWARDER_RESPONSE for %s" % name, out)
    eq(seen[("hit.fwd.test", "A")].count("CR"), 2, "both hit.fwd.test replies in dnstap")


@suite.case
def full_ring_drops_are_counted_exactly():
    fifo = os.path.join(S["wd"], "blocked.fifo")
    os.mkfifo(fifo)
    # A reader that exists but reads nothing until the flood is over: the
    # writer blocks once the pipe is full, the tiny ring fills behind it.
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        srv = start_server("flood", {"file": fifo, "ring_size": 16}, workers=1)
        n, answered = 3000, 0
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2.0)
        s.connect(("127.0.0.1", srv.port))
        for i in range(n):
            pkt, qid = vt.make_query("example.com", A, qid=i & 0xffff)
            s.send(pkt)
            m = vt.Msg.parse(s.recv(4096))
            if m.id == qid and m.values(A) == ["10.0.0.1"]:
                answered += 1
        s.close()
        eq(answered, n, "queries answered while the log was blocked")
        st = qlog_stats(srv)
        check(st["dropped"] > 0, "records dropped with the writer blocked", st)

        data = b""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                chunk = os.read(rfd, 65536)
                data += chunk
                if chunk:
                    continue
            except BlockingIOError:
                pass
            full = srv.stats()
            q, st = full["query"], full["qlog"]
            if st["written"] + st["dropped"] == q["queries"] and \
                    data.count(b"\n") == st["written"]:
                break
            time.sleep(0.1)
        lines = data.count(b"\n")
        eq(st["written"] + st["dropped"], q["queries"], "written + dropped = queries")
        eq(lines, st["written"], "lines in the log = records written")
        check(all(json.loads(l)["query_name"] in ("example.com.", "id.server.")
                  for l in data.decode().splitlines()), "every line is whole JSON")
        check(srv.wait_log(r"warning: query log: \d+ records dropped", timeout=12),
              "periodic drop warning", srv.log()[-1500:])
        stop_server(srv)
    finally:
        os.close(rfd)


@suite.case
def sigusr2_reopens_after_rename():
    vt.require_tools("dnstap-read")
    log = os.path.join(S["wd"], "rot.jsonl")
    tap = os.path.join(S["wd"], "rot.dnstap")
    srv = start_server("rot", {"file": log, "dnstap_file": tap})
    srv.udp("example.com")
    wait_until_name(log, "example.com.")
    os.rename(log, log + ".1")
    os.rename(tap, tap + ".1")
    off = srv.log_size()
    srv.signal(signal.SIGUSR2)
    check(srv.wait_log(r"query log: files reopened", since=off), "reopen logged",
          srv.log_since(off))
    srv.udp("x.w.example.com")
    wait_until_name(log, "x.w.example.com.")
    names_old = [l["query_name"] for l in read_lines(log + ".1")]
    check("x.w.example.com." not in names_old, "the renamed file got no new line", names_old)
    check("example.com." in names_old, "the renamed file kept the old line", names_old)
    rc, out, _ = vt.check_run(["dnstap-read", tap + ".1"])
    check(rc == 0 and "example.com/IN/A" in out and "x.w.example.com" not in out,
          "the renamed dnstap file is complete and has only the old queries", out)
    stop_server(srv)
    rc, out, _ = vt.check_run(["dnstap-read", tap])
    check(rc == 0 and "x.w.example.com/IN/A" in out, "the new dnstap file", out)


def wait_until_name(path, name):
    check(vt.wait_until(lambda: any(l["query_name"] == name for l in read_lines(path))),
          "%s in %s" % (name, path), read_lines(path))


@suite.case
def filters_and_sampling():
    log = os.path.join(S["wd"], "filt.jsonl")
    srv = start_server("filt", {"file": log, "routes": ["refused"], "rcodes": ["error"]})
    srv.udp("example.com")
    srv.udp("example.com", src="127.0.0.9")
    lines = wait_lines(log, 1)
    time.sleep(0.2)
    lines = read_lines(log)
    eq([(l["srcaddr"], l["rcode"]) for l in lines], [("127.0.0.9", "REFUSED")],
       "only the refused query is logged")
    stop_server(srv)
    log = os.path.join(S["wd"], "sample.jsonl")
    srv = start_server("sample", {"file": log, "sample": 10, "views": ["v1"]})
    for _ in range(100):
        srv.udp("example.com")
    time.sleep(0.3)
    got = [l for l in read_lines(log) if l["query_name"] == "example.com."]
    check(9 <= len(got) <= 11, "1 in 10 of 100 queries logged: %d" % len(got))
    stop_server(srv)


@suite.case
def bad_settings_are_file_line_errors():
    path = vt.write(os.path.join(S["wd"], "bad.yaml"), "\n".join([
        "server:",
        "  listen: [\"127.0.0.1:5399\"]",
        "views:",
        "  - name: v1",
        "    clients: [127.0.0.1/32]",
        "query_log:",
        "  sample: 0",
        "  ring_size: 4",
        "  views: [nope]",
        "  rcodes: [BOGUS]",
        "  routes: [nowhere]",
        "  colour: red",
        ""]))
    rc, out, err = vt.check_run([vt.binary(), "--check", "-c", path])
    text = out + err
    check(rc != 0, "--check fails", text)
    for line, what in ((7, r"query_log\.sample must be"),
                       (8, r"query_log\.ring_size must be between 16"),
                       (9, r"unknown view 'nope'"),
                       (10, r"unknown rcode 'BOGUS'"),
                       (11, r"unknown route 'nowhere'"),
                       (12, r"unknown key 'colour' in query_log"),
                       (6, r"query_log needs an output")):
        check(re.search(r"bad\.yaml:%d: .*%s" % (line, what), text),
              "error at line %d: %s" % (line, what), text)


if __name__ == "__main__":
    suite.main(setup, teardown)
