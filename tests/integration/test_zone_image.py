"""The zone image in server.state_dir, end to end: a start saves every
zone to <state_dir>/zones.img; the next start takes each zone whose file
did not change from there ("N zones, N from the zone image, 0 read") and
answers exactly as from the files; a file changed while the server was
down (same size, new address) is read again and answers its new data; a
damaged image (one flipped byte in a record, a cut-off file, another
build's layout) is reported and costs only the speed: every zone is read
from its file and answers right; a reload saves the image again; a
state_dir that is not a folder is a configuration error with its line.
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vdtest as vt  # noqa: E402
from vdtest import A, check, eq  # noqa: E402

suite = vt.Suite("zone_image")
S = {}
NZONES = 20
RACY_WAIT = 1.2   # past the racy window (VD_ZONE_RACY_NS, 1 s)
LOADED_RE = re.compile(r"loaded in \d+ ms: (\d+) zones, (\d+) from the zone image, "
                       r"(\d+) read")
SAVED_RE = r"zone image: (\d+) zones \([0-9.]+ MiB\) saved in \d+ ms at nice (\d+)"


def zone_text(i, last):
    return ("$ORIGIN z%d.image.test.\n$TTL 60\n"
            "@ IN SOA ns hm 1 3600 600 86400 60\n"
            "www IN A 10.3.%d.%d\n"
            "*.wild IN A 10.4.%d.%d\n" % (i, i, last, i, last))


def write_zone(i, last):
    vt.write(os.path.join(S["zdir"], "z%d.image.test.zone" % i), zone_text(i, last))


def make_config(state_dir):
    return {
        "server": dict(vt.server_block(S["srv"].port), state_dir=state_dir),
        "upstreams": {"up": ["127.0.0.1:9"]},
        "views": [{"name": "i", "clients": ["127.0.0.1/32"],
                   "zones": [{"path": S["zdir"] + "/", "fallback": "nxdomain"}],
                   "forward": {".": "up"}}],
    }


def setup():
    vt.binary()
    wd = vt.workdir("zone_image")
    S["wd"] = wd
    S["zdir"] = os.path.join(wd, "zones")
    S["state"] = os.path.join(wd, "state")
    S["img"] = os.path.join(S["state"], "zones.img")
    os.makedirs(S["state"])
    S["last"] = {}
    for i in range(NZONES):
        write_zone(i, 1)
        S["last"][i] = 1
    # Files written within a second of a load are never trusted again
    # without a read (the racy guard): the image would leave them out.
    time.sleep(RACY_WAIT)
    S["srv"] = vt.Vpcdns(wd, "")
    S["srv"].set_config(make_config(S["state"]))


def teardown():
    # The cases stop the server themselves (each exit status is checked
    # there); one a failed case left running is stopped here.
    srv = S.get("srv")
    if srv is not None and srv.alive():
        vt.teardown_server(srv)
    elif srv is not None:
        rep = srv.sanitizer_report()
        srv.sanitizer_checked = True
        check(rep is None, "sanitizer report in %s" % srv.log_path, rep)


def start():
    """Starts the server (stopping one a failed case left running);
    returns ((zones, from image, read) of its load line, log offset)."""
    srv = S["srv"]
    if srv.alive():
        srv.stop()
    off = srv.log_size()
    srv.start(timeout=20)
    m = srv.wait_log(LOADED_RE.pattern, since=off, timeout=10)
    check(m, "no load line; log:\n%s" % srv.log_since(off)[-1500:])
    return tuple(int(x) for x in LOADED_RE.search(srv.log_since(off)).groups()), off


def stop():
    rc, in_time = S["srv"].stop()
    eq((rc, in_time), (0, True), "(exit status, stopped in time)")


def all_answer():
    for i in range(NZONES):
        m = S["srv"].udp("www.z%d.image.test" % i, timeout=1.5)
        check(m is not None, "no answer for zone %d" % i)
        eq(m.values(A), ["10.3.%d.%d" % (i, S["last"][i])], "www in zone %d" % i)
        m = S["srv"].udp("x.wild.z%d.image.test" % i, timeout=1.5)
        eq(m.values(A), ["10.4.%d.%d" % (i, S["last"][i])], "wildcard in zone %d" % i)
    m = S["srv"].udp("nothere.z0.image.test", timeout=1.5)
    eq(m.rcode_name(), "NXDOMAIN", "a name the zone does not have")


def wait_saved(since):
    m = S["srv"].wait_log(SAVED_RE, since=since, timeout=10)
    check(m, "no image saved; log:\n%s" % S["srv"].log_since(since)[-1500:])
    # Below the workers, like a reload's build (the test runs at nice 0).
    base = os.getpriority(os.PRIO_PROCESS, S["srv"].proc.pid)
    eq(int(m.group(2)), min(base + 10, 19), "the save's nice value")
    return int(m.group(1))


@suite.case
def first_start_reads_the_files_and_saves_the_image():
    counts, off = start()
    eq(counts, (NZONES, 0, NZONES), "(zones, from the image, read)")
    eq(wait_saved(off), NZONES, "zones saved")
    check(os.path.getsize(S["img"]) > 0, "no zones.img in the state folder")
    all_answer()
    stop()


@suite.case
def the_next_start_takes_every_zone_from_the_image():
    counts, off = start()
    eq(counts, (NZONES, NZONES, 0), "(zones, from the image, read)")
    all_answer()
    stop()


@suite.case
def a_file_changed_while_down_is_read_again():
    write_zone(7, 2)   # same size: only the identity tells
    S["last"][7] = 2
    time.sleep(RACY_WAIT)
    counts, off = start()
    eq(counts, (NZONES, NZONES - 1, 1), "(zones, from the image, read)")
    all_answer()
    wait_saved(off)
    stop()


def damaged_start(what, damage):
    with open(S["img"], "rb") as f:
        good = f.read()
    with open(S["img"], "wb") as f:
        f.write(damage(good))
    counts, off = start()
    eq(counts[0], NZONES, "zones")
    eq(counts[2], NZONES - counts[1], "read + from the image")
    check(counts[1] < NZONES, "%s: every zone still came from the image" % what)
    log = S["srv"].log_since(off)
    check(re.search(r"warn.*zone image .*zones\.img: (damaged|not a zone image|"
                    r"made by another build)", log),
          "%s: no warning about the image; log:\n%s" % (what, log[-1500:]))
    all_answer()
    # The start saved a good image again.
    wait_saved(off)
    stop()
    counts, off = start()
    eq(counts, (NZONES, NZONES, 0), "%s: the image is whole again" % what)
    stop()


@suite.case
def a_flipped_byte_in_a_record_costs_only_speed():
    def flip(b):
        # 48-byte header, the first record's 16-byte address and sum,
        # then its block (hundreds of bytes): byte 100 of that block.
        at = 48 + 16 + 100
        return b[:at] + bytes([b[at] ^ 0x10]) + b[at + 1:]
    damaged_start("a flipped byte", flip)


@suite.case
def a_cut_off_image_costs_only_speed():
    damaged_start("a cut-off file", lambda b: b[:len(b) // 3])


@suite.case
def another_layout_is_not_used():
    def relayout(b):   # the layout word follows the 8-byte magic
        return b[:8] + bytes([b[8] ^ 0xff]) + b[9:]
    damaged_start("another layout", relayout)


@suite.case
def a_reload_that_reads_files_saves_the_image():
    counts, off = start()
    if counts[2]:
        wait_saved(off)
    t0 = time.monotonic()
    write_zone(11, 3)
    S["last"][11] = 3
    off = S["srv"].log_size()
    check(S["srv"].reload(), "the reload failed")
    racy = time.monotonic() - t0 < 1.0
    saved = wait_saved(off)
    all_answer()
    stop()
    time.sleep(RACY_WAIT)
    counts, off = start()
    if racy:
        # The reload read zone 11 within a second of its writing: a
        # second write in the same timestamp tick could follow unseen, so
        # that zone is left out of the image and read once more.
        eq(saved, NZONES - 1, "zones the reload saved")
        eq(counts, (NZONES, NZONES - 1, 1), "(zones, from the image, read)")
    else:   # a machine too slow to reload within a second
        eq(saved, NZONES, "zones the reload saved")
        eq(counts, (NZONES, NZONES, 0), "(zones, from the image, read)")
    all_answer()
    stop()


@suite.case
def a_state_dir_that_is_not_a_folder_is_an_error():
    path = os.path.join(S["wd"], "not-a-folder")
    vt.write(path, "x\n")
    S["srv"].set_config(make_config(path))
    r = vt.check_run([vt.binary(), "--check", "-c", S["srv"].conf_path])
    check(r[0] != 0, "--check accepted a file as state_dir")
    check(re.search(r"vpcdns\.yaml:\d+: server\.state_dir: cannot use", r[1] + r[2]),
          "no file:line message: %r" % (r[1] + r[2]))
    S["srv"].set_config(make_config(S["state"]))


if __name__ == "__main__":
    suite.main(setup, teardown)
