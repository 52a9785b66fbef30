"""The command line: --version, --help, unknown options, and --check, which
must accept the shipped conf/vpcdns.yaml and reject each kind of bad input
(unknown key, wrong type, bad CIDR, bad listen address or duration,
unknown upstream group, duplicate view name, the same CIDR in two views,
YAML syntax, a missing, malformed or SOA-less zone file, a record outside
its zone) with a non-zero exit and a "file:line: reason" message naming
the right line. Also: errors found in one pass are all reported, --check
binds no port, and serving a bad config fails fast.
"""

import os
import re
import socket
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import check, eq  # noqa: E402

suite = vt.Suite("check")
S = {}

GOOD_ZONE = """$ORIGIN ok.test.
$TTL 60
@ IN SOA ns.ok.test. hostmaster.ok.test. 1 3600 600 86400 60
@ IN NS ns
ns IN A 192.0.2.53
www IN A 192.0.2.1
"""

# Line numbers matter: the tests below name them.
BASE = """server:
  listen: ["127.0.0.1:@PORT@"]
  identity: check
  log_level: info
upstreams:
  up: ["127.0.0.1:5301", "127.0.0.1:5302"]
views:
  - name: a
    clients: ["10.0.0.0/8", "127.0.0.1/32"]
    zones: ["@ZONE@"]
    forward:
      ".": up
  - name: b
    clients: ["10.1.0.0/16"]
    zones: ["@ZONE@"]
    forward:
      "corp.example.": up
"""


def setup():
    vt.binary()
    S["wd"] = vt.workdir("check")
    S["zone"] = vt.write(os.path.join(S["wd"], "ok.test.zone"), GOOD_ZONE)
    S["env"] = vt.server_env(S["wd"])
    S["n"] = 0


def run(*args):
    return vt.check_run([vt.binary()] + list(args), env=S["env"], timeout=30)


def conf(text, name=None):
    S["n"] += 1
    name = name or "check%d.yaml" % S["n"]
    text = text.replace("@ZONE@", S.get("zone_override", S["zone"]))
    text = text.replace("@PORT@", str(S.get("port", 5399)))
    return vt.write(os.path.join(S["wd"], name), text)


def edit(line_no, new_line, text=BASE):
    lines = text.split("\n")
    lines[line_no - 1] = new_line
    return "\n".join(lines)


def expect_error(path, line, *words):
    rc, out, err = run("--check", "-c", path)
    check(rc != 0, "--check accepted a bad config (exit 0)", err)
    base = re.escape(os.path.basename(path))
    if line is not None:
        check(re.search(r"%s:%d\b" % (base, line), err),
              "error does not name %s:%d" % (os.path.basename(path), line), err)
    for w in words:
        check(w.lower() in err.lower(), "error does not mention %r" % w, err)
    return err


@suite.case
def version_and_help():
    rc, out, err = run("--version")
    eq(rc, 0, "--version exit")
    check(re.search(r"\d+\.\d+", out + err), "no version number", out + err)
    rc, out, err = run("--help")
    eq(rc, 0, "--help exit")
    check("-c" in out + err and "--check" in out + err, "help lacks -c/--check", out + err)
    rc, out, err = run("--no-such-option")
    check(rc != 0, "unknown option accepted")


@suite.case
def default_paths_in_help():
    rc, out, err = run("--help")
    m = re.search(r"configuration +(/\S+/vpcdns\.yaml)\n", out)
    check(m, "help shows no default configuration path", out)
    check(re.search(r"control socket +/\S+/vpcdns\.sock\n", out), "no control socket path", out)
    check(re.search(r"state directory +/\S+/vpcdns\n", out), "no state directory", out)
    # Without -c, the default file is the one read.
    default = m.group(1)
    if os.path.exists(default):
        raise vt.SkipTest("%s exists on this machine" % default)
    rc, out, err = run("--check")
    check(rc != 0, "--check without -c passed with no %s" % default)
    check(default in err, "error does not name %s" % default, err)


@suite.case
def shipped_config_is_valid():
    path = os.path.join(vt.source_dir(), "conf", "vpcdns.yaml")
    check(os.path.isfile(path), "no shipped config at %s" % path)
    rc, out, err = run("--check", "-c", path)
    eq(rc, 0, "--check of conf/vpcdns.yaml exit (stderr: %s)" % err.strip()[-800:])


@suite.case
def valid_config_passes_without_binding():
    p = vt.free_port()
    S["port"] = p
    path = conf(BASE)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", p))   # the listen port is taken: --check must not care
    try:
        rc, out, err = run("--check", "-c", path)
    finally:
        s.close()
        S.pop("port")
    eq(rc, 0, "--check of a valid config (stderr: %s)" % err.strip()[-800:])


@suite.case
def missing_config_file():
    path = os.path.join(S["wd"], "does-not-exist.yaml")
    rc, out, err = run("--check", "-c", path)
    check(rc != 0, "missing config accepted")
    check("does-not-exist.yaml" in err, "error does not name the file", err)


@suite.case
def unknown_key():
    expect_error(conf(edit(4, "  bogus_key: 1")), 4, "bogus_key")
    expect_error(conf(edit(12, '      ".": up\n    colour: blue')), 13, "colour")


@suite.case
def wrong_types():
    expect_error(conf(edit(4, '  tcp_max_connections: "lots"')), 4)
    expect_error(conf(edit(4, "  upstream_timeout: fast")), 4)
    expect_error(conf(edit(9, '    clients: "10.0.0.0/8"')), 9)
    expect_error(conf(edit(4, "  hide_version: maybe")), 4)


@suite.case
def bad_cidrs():
    for bad in ("10.0.0.1/8", "10.0.0.0/33", "banana", "2001:db8::/129"):
        expect_error(conf(edit(9, '    clients: ["%s"]' % bad)), 9)


@suite.case
def bad_listen_address():
    expect_error(conf(edit(2, '  listen: ["127.0.0.1:99999"]')), 2)
    expect_error(conf(edit(2, '  listen: ["not an address"]')), 2)


@suite.case
def unknown_upstream_group():
    expect_error(conf(edit(12, '      ".": nosuchgroup')), 12, "nosuchgroup")


@suite.case
def bad_upstream_address():
    expect_error(conf(edit(6, '  up: ["127.0.0.1:5301", "nowhere:x"]')), 6)


@suite.case
def duplicate_view_name():
    expect_error(conf(edit(13, "  - name: a")), 13)


@suite.case
def same_cidr_in_two_views():
    expect_error(conf(edit(14, '    clients: ["10.0.0.0/8"]')), 14)


@suite.case
def yaml_syntax_error():
    expect_error(conf(edit(3, '  identity: "unterminated')), None)
    rc, out, err = run("--check", "-c", conf(edit(9, "    clients: [10.0.0.0/8")))
    check(rc != 0, "unterminated flow sequence accepted")
    check(re.search(r"check\d+\.yaml:\d+", err), "syntax error without file:line", err)


@suite.case
def several_errors_in_one_pass():
    text = edit(9, '    clients: ["10.0.0.1/8"]', edit(4, "  bogus_key: 1"))
    err = expect_error(conf(text), 4)
    check(re.search(r"check\d+\.yaml:9\b", err), "second error (line 9) not reported", err)


@suite.case
def bad_zone_record():
    z = vt.write(os.path.join(S["wd"], "badrec.zone"),
                 GOOD_ZONE.replace("ns IN A 192.0.2.53", "ns IN A 192.0.2.53\nbad IN A 300.1.1.1"))
    S["zone_override"] = z
    try:
        err = expect_error(conf(BASE), None)
        check(re.search(r"badrec\.zone:6\b", err), "error does not name badrec.zone:6", err)
    finally:
        S.pop("zone_override")


@suite.case
def zone_without_soa():
    z = vt.write(os.path.join(S["wd"], "nosoa.zone"),
                 "$ORIGIN nosoa.test.\n$TTL 60\nwww IN A 192.0.2.1\n")
    S["zone_override"] = z
    try:
        err = expect_error(conf(BASE), None)
        check("nosoa.zone" in err, "error does not name the zone file", err)
    finally:
        S.pop("zone_override")


@suite.case
def record_outside_zone():
    z = vt.write(os.path.join(S["wd"], "outside.zone"),
                 GOOD_ZONE + "www.elsewhere.example. IN A 192.0.2.9\n")
    S["zone_override"] = z
    try:
        err = expect_error(conf(BASE), None)
        check(re.search(r"outside\.zone:7\b", err), "error does not name outside.zone:7", err)
    finally:
        S.pop("zone_override")


@suite.case
def missing_zone_file():
    S["zone_override"] = os.path.join(S["wd"], "nope", "missing.zone")
    try:
        err = expect_error(conf(BASE), None)
        check("missing.zone" in err, "error does not name the missing file", err)
    finally:
        S.pop("zone_override")


@suite.case
def duplicate_listen_address():
    expect_error(conf(edit(2, '  listen: ["127.0.0.1:5399", "127.0.0.1:5399"]')), 2)


@suite.case
def forwarding_to_ourselves():
    expect_error(conf(edit(6, '  up: ["127.0.0.1:5301", "127.0.0.1:@PORT@"]')), 6)


@suite.case
def bad_forward_name():
    expect_error(conf(edit(12, '      "a..b.": up')), 12)


@suite.case
def two_zones_same_apex_in_a_view():
    other = vt.write(os.path.join(S["wd"], "other", "ok.test.zone"),
                     GOOD_ZONE.replace("192.0.2.1", "192.0.2.2"))
    expect_error(conf(edit(10, '    zones: ["@ZONE@", "%s"]' % other)), 10)


@suite.case
def system_upstream_without_nameservers():
    empty = vt.write(os.path.join(S["wd"], "empty-resolv.conf"), "# nothing here\n")
    env = S["env"]
    S["env"] = dict(env, VPCDNS_RESOLV_CONF=empty)
    try:
        err = expect_error(conf(edit(6, '  up: ["system"]')), 6)
        check("empty-resolv.conf" in err, "error does not name the resolv.conf used", err)
    finally:
        S["env"] = env


@suite.case
def serving_a_bad_config_fails_fast():
    path = conf(edit(4, "  bogus_key: 1"))
    log = os.path.join(S["wd"], "serve-bad.log")
    p = vt.start_process([vt.binary(), "-c", path], log, env=S["env"])
    rc, in_time = None, True
    try:
        p.wait(5)
        rc = p.returncode
    except Exception:
        in_time = False
    finally:
        if p.poll() is None:
            vt.stop_process(p)
    check(in_time, "vpcdns kept running with a bad config")
    check(rc != 0, "vpcdns exited 0 with a bad config")
    text = open(log).read()
    check(re.search(r"check\d+\.yaml:4\b", text), "startup error lacks file:line", text)


@suite.case
def verbose_logs_debug_whatever_the_config_says():
    """-v wins over server.log_level: info, and a debug line per view and
    upstream server says what the loaded generation holds."""
    for args, want in (([], False), (["-v"], True)):
        srv = vt.Vpcdns(S["wd"], BASE.replace("@ZONE@", S["zone"]),
                        name="verbose%d" % len(args), args=args)
        srv.start()
        try:
            text = srv.log()
            view = re.search(r"debug: generation 1: view a: 2 client prefixes, 1 zones", text)
            up = re.search(r"debug: generation 1: upstream group up server 127\.0\.0\.1:5302",
                           text)
            check(bool(view) == want and bool(up) == want,
                  "debug lines %s with args %s" % ("missing" if want else "present", args),
                  text)
        finally:
            srv.stop()


def expect_warnings(path, *patterns):
    """--check passes (exit 0) and prints exactly the warnings matching
    patterns, each as file:line: warning: ..."""
    rc, out, err = run("--check", "-c", path)
    eq(rc, 0, "--check exit status with warnings only (stderr: %s)" % err.strip()[-800:])
    warns = [l for l in err.splitlines() if ": warning: " in l]
    eq(len(warns), len(patterns), "number of warnings: %r" % warns)
    base = re.escape(os.path.basename(path))
    for w, p in zip(warns, patterns):
        check(re.search(r"(^|/)%s:%s" % (base, p), w), "warning %r does not match %r" % (w, p))
    check("ok (" in out, "--check still says ok", out)


@suite.case
def open_resolver_is_a_warning():
    wide = edit(9, '    clients: ["0.0.0.0/0", "::/0"]')
    expect_warnings(conf(edit(2, '  listen: ["0.0.0.0:@PORT@"]', wide)),
                    r"9: warning: view a is for every IPv4 address \(0\.0\.0\.0/0\) "
                    r"and listens on 0\.0\.0\.0:\d+: an open resolver",
                    r"9: warning: view a is for every IPv6 address \(::/0\)")
    expect_warnings(conf(edit(2, '  listen: ["127.0.0.1:@PORT@", "10.0.0.1:@PORT@"]', wide)),
                    r"9: warning: .*listens on 10\.0\.0\.1:\d+", r"9: warning: ")
    # only on loopback: nobody else can reach it
    expect_warnings(conf(edit(2, '  listen: ["127.0.0.1:@PORT@", "[::1]:@PORT@"]', wide)))
    # a wildcard listener without a catch-all view
    expect_warnings(conf(edit(2, '  listen: ["0.0.0.0:@PORT@"]')))


@suite.case
def upstream_at_our_own_address_is_a_warning():
    S["port"] = 5390
    try:
        text = edit(2, '  listen: ["0.0.0.0:5390"]')
        expect_warnings(conf(edit(6, '  up: ["127.0.0.1:5390", "192.0.2.1:5390"]', text)),
                        r"6: warning: upstreams\.up: '127\.0\.0\.1:5390' is an address "
                        r"of this host and we listen on 0\.0\.0\.0:5390")
        # "::" also receives IPv4
        text = edit(2, '  listen: ["[::]:5390"]')
        expect_warnings(conf(edit(6, '  up: ["127.0.0.1:5390", "[::1]:5391"]', text)),
                        r"6: warning: upstreams\.up: '127\.0\.0\.1:5390'")
        # another port, or a listener on one address, is no loop
        text = edit(2, '  listen: ["0.0.0.0:5390"]')
        expect_warnings(conf(edit(6, '  up: ["127.0.0.1:5391"]', text)))
        text = edit(2, '  listen: ["127.0.0.2:5390"]')
        expect_warnings(conf(edit(6, '  up: ["127.0.0.1:5390"]', text)))
    finally:
        S.pop("port")


if __name__ == "__main__":
    suite.main(setup)
