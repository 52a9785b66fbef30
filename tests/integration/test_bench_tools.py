"""The benchmark tools of bench/ (behaviour, never speed): the trivial
responder answers a query with one A record, its ID and question; vdload
at a fixed low rate against it for about a second gets every query
answered (answered == sent, lost == 0) and sends about the rate asked;
against a port where nothing answers every query is lost (lost == sent);
a query file with an unknown type is refused with its file and line.
"""

import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("bench_tools")
S = {}


def tool(name):
    return os.path.join(os.path.dirname(os.path.abspath(vt.binary())), name)


def setup():
    for t in ("vdload", "trivial"):
        if not os.access(tool(t), os.X_OK):
            raise vt.SkipTest("%s is not built" % t)
    wd = vt.workdir("bench")
    S["wd"] = wd
    S["queries"] = vt.write(os.path.join(wd, "q.txt"), "".join(
        "h%d.bench.example.net A\n" % i for i in range(100)) + "x.example.net AAAA\n")
    S["port"] = vt.free_port()
    S["trivial"] = vt.start_process([tool("trivial"), "-p", str(S["port"])],
                                    os.path.join(wd, "trivial.log"))
    ok = vt.wait_until(lambda: _try_query(S["port"]), timeout=5)
    check(ok, "trivial did not answer")


def _try_query(port):
    try:
        return vt.udp_query("probe.example.net", A, port=port, timeout=0.5)[0]
    except Exception:
        return None


def vdload(*args, timeout=30):
    r = subprocess.run([tool("vdload"), "-d", S["queries"], "-s", "127.0.0.1"]
                       + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    return r


def fields(line):
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split())}


@suite.case
def trivial_answers_with_one_a_record():
    m, _ = vt.udp_query("www.example.org", A, port=S["port"])
    check(m is not None, "an answer")
    eq(m.rcode, vt.NOERROR, "rcode")
    check(m.flags & vt.F_QR, "QR set")
    eq(m.question[0][0].lower().rstrip("."), "www.example.org", "question name")
    eq(m.values(A), ["192.0.2.1"], "answer")


@suite.case
def fixed_rate_all_answered():
    # A generous timeout: a stall of the busy test machine is no loss.
    r = vdload("-p", S["port"], "-l", "1", "-Q", "500", "-t", "5")
    eq(r.returncode, 0, "vdload exit code (stderr: %s)" % r.stderr)
    f = fields(r.stdout.strip())
    check(f["sent"] > 0, "something was sent", r.stdout)
    eq(f["answered"], f["sent"], "answered == sent (%s)" % r.stdout.strip())
    eq(f["lost"], 0, "lost")
    eq(f["rcode_err"], 0, "answers with an error rcode")
    # The pacing: never more than the rate asked (one query of slack); a
    # stall of the busy test machine may leave it short, never over.
    check(100 <= f["sent"] <= 501, "sent at most the rate asked", r.stdout)
    check(f["p50_us"] <= f["p99_us"] <= f["max_us"], "percentiles ordered", r.stdout)


@suite.case
def closed_loop_all_answered():
    r = vdload("-p", S["port"], "-l", "0.5", "-o", "16", "-k", "2", "-t", "5")
    eq(r.returncode, 0, "vdload exit code (stderr: %s)" % r.stderr)
    f = fields(r.stdout.strip())
    check(f["sent"] > 16, "more than one window sent", r.stdout)
    eq(f["answered"], f["sent"], "answered == sent (%s)" % r.stdout.strip())
    eq(f["lost"], 0, "lost")


@suite.case
def nothing_answers_all_lost():
    silent = vt.free_port()
    r = vdload("-p", silent, "-l", "1", "-Q", "200", "-t", "0.3")
    eq(r.returncode, 0, "vdload exit code (stderr: %s)" % r.stderr)
    f = fields(r.stdout.strip())
    check(f["sent"] > 0, "something was sent", r.stdout)
    eq(f["lost"], f["sent"], "lost == sent")
    eq(f["answered"], 0, "answered")


@suite.case
def bad_query_file_names_file_and_line():
    bad = vt.write(os.path.join(S["wd"], "bad.txt"), "a.example.net A\nb.example.net BOGUS\n")
    r = subprocess.run([tool("vdload"), "-d", bad, "-p", str(S["port"]), "-l", "1"],
                       capture_output=True, text=True, timeout=10)
    eq(r.returncode, 1, "exit code")
    check("bad.txt:2: unknown type BOGUS" in r.stderr, "file:line in the error", r.stderr)
    eq(r.stdout, "", "no result line")


def teardown():
    code, clean = vt.stop_process(S["trivial"])
    check(clean and code == 0, "trivial stopped cleanly on SIGTERM", code)


if __name__ == "__main__":
    suite.main(setup, teardown)
