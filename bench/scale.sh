#!/usr/bin/env bash
# Scale: VIEWS views (one per VPC), each with ENDPOINTS interface endpoints
# of its own (one zone file per endpoint, two AZ addresses each, plus the
# VPC's vpce zone with two addresses per endpoint), like the peers' scale
# test of 1000 views x 200 endpoints; the same data for Unbound (one view:
# per VPC, view-first: no, a static local-zone per service with its
# local-data, access-control-view for the VPC's client CIDRs). Measures,
# for each server:
#   - start-up time to the first answer (a first start, then vpcdns
#     restarted from the zone image the first start saved in its
#     server.state_dir), resident memory, peak (VmHWM);
#   - local-answer throughput (vdload, closed loop, from 127.0.0.1, which
#     both servers put in view 0);
#   - reloads under load: vdload at RELOAD_QPS (20000) q/s asking view 0's
#     names while one zone file changes (one address), then while every
#     file changes (touched, and the same address changed again) and the
#     server reloads (vpcdns: SIGHUP; Unbound: unbound-control reload):
#     the time from the signal until dig (every 20 ms) sees the new
#     address, and the queries lost;
# and for vpcdns the time of --check and of a reload with nothing changed
# (its own log line). Then the same at SMALL_VIEWS x SMALL_ENDPOINTS
# (50 x 100) for the local throughput (ratio of the large to the small:
# how flat the query path stays with the number of views) and the queries
# lost in a reload under load. Prints one table with both servers and the
# ratios, and a line per target of issue 13 ("met" / "NOT met").
#
#   bench/scale.sh [path/to/vpcdns]       (vdload beside it)
#   VIEWS=1000 ENDPOINTS=200 SMALL_VIEWS=50 SMALL_ENDPOINTS=100 by default;
#   BENCH_SECONDS (10): each throughput run, the median of BENCH_RUNS (3)
#   taken (one 10 s run varies by 3 % here); RELOAD_QPS (20000).
#   DATASET_DIR=/path keeps the generated zone files and Unbound views
#   there between runs (201,000 files take ~30 s to write); without it
#   they go in the temporary folder and are removed.
#
# Everything on 127.0.0.1; every process is stopped by its PID. With two
# or more CPUs the servers run on the last CPU, vdload on the first.
set -euo pipefail
bench_tag=scale
. "$(dirname "$0")/lib.sh"
vpcdns=${1:-$here/../build/vpcdns}
vdload=$(cd "$(dirname "$vpcdns")" && pwd)/vdload
views=${VIEWS:-1000}
endpoints=${ENDPOINTS:-200}
sviews=${SMALL_VIEWS:-50}
sendpoints=${SMALL_ENDPOINTS:-100}
secs=${BENCH_SECONDS:-10}
runs=${BENCH_RUNS:-3}
rqps=${RELOAD_QPS:-20000}
restore=()
bench_init scale unbound unbound-control dig
bench_need_bin "$vdload"
data=${DATASET_DIR:-$tmp/data}
# Run at exit once the servers are stopped: the one file the reloads change
# gets its first address back, so a kept dataset starts every run the same.
bench_cleanup_more() {
	local f
	for f in "${restore[@]}"; do
		sed -i -E 's/(A )10\.9\.9\.[0-9]+("?)$/\110.0.0.8\2/' "$f" 2>/dev/null || true
	done
}
res=$tmp/results
: > "$res"
record() { echo "$1 $2" >> "$res"; }
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{$(now) - $1:.2f}')"; }
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$1/status"; }
hwm() { awk '/VmHWM/ {print int($2/1024)}' "/proc/$1/status"; }

# ---- dataset ------------------------------------------------------------------
# dir/vpcN/zones/*.zone for vpcdns; dir/unbound-view0.conf (view 0, which
# the reloads change) and dir/unbound-views.conf (the others) for Unbound;
# dir/view0.txt: view 0's names, the query file.
gen() {   # dir views endpoints
	[ -f "$1/.complete" ] && return 0
	rm -rf "$1"; mkdir -p "$1"
	echo "generating $2 x $3 in $1 ..." >&2
	python3 - "$1" "$2" "$3" <<'PY'
import os, sys
d0, views, eps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ub_rest = open(f"{d0}/unbound-views.conf", "w")
names = []
for v in range(views):
    d = f"{d0}/vpc{v}/zones"
    os.makedirs(d)
    a, b = divmod(v, 250)
    vpce = ["$ORIGIN us-east-1.vpce.amazonaws.com.\n$TTL 60\n"
            "@ SOA vpcdns.invalid. hm.vpcdns.invalid. 1 3600 600 86400 60\n"]
    ub = [f'view:\n  name: "vpc{v}"\n  view-first: no\n'
          '  local-zone: "us-east-1.vpce.amazonaws.com." static\n']
    for e in range(eps):
        svc = f"svc{e}"
        ip1, ip2 = f"10.{a}.{b}.{e % 250 + 1}", f"10.{a + 100}.{b}.{e % 250 + 1}"
        with open(f"{d}/{svc}.us-east-1.amazonaws.com.zone", "w") as f:
            f.write(f"$ORIGIN {svc}.us-east-1.amazonaws.com.\n$TTL 60\n"
                    "@ SOA vpcdns.invalid. hm.vpcdns.invalid. 1 3600 600 86400 60\n"
                    f"@ A {ip1}\n@ A {ip2}\n")
        name = f"vpce-{v:08x}{e:09x}-abcd1234.{svc}"
        vpce.append(f"{name} A {ip1}\n{name} A {ip2}\n")
        fq = f"{svc}.us-east-1.amazonaws.com."
        ub.append(f'  local-zone: "{fq}" static\n'
                  f'  local-data: "{fq} 60 IN A {ip1}"\n'
                  f'  local-data: "{fq} 60 IN A {ip2}"\n'
                  f'  local-data: "{name}.us-east-1.vpce.amazonaws.com. 60 IN A {ip1}"\n'
                  f'  local-data: "{name}.us-east-1.vpce.amazonaws.com. 60 IN A {ip2}"\n')
        if v == 0:
            names.append(f"{fq} A\n{name}.us-east-1.vpce.amazonaws.com. A\n")
    with open(f"{d}/us-east-1.vpce.amazonaws.com.zone", "w") as f:
        f.write("".join(vpce))
    if v == 0:
        with open(f"{d0}/unbound-view0.conf", "w") as f:
            f.write("".join(ub))
    else:
        ub_rest.write("".join(ub))
ub_rest.close()
with open(f"{d0}/view0.txt", "w") as f:
    f.write("".join(names))
PY
	touch "$1/.complete"
}

# ---- configurations -------------------------------------------------------------
confs() {   # dir views tag vd_port ub_port
	python3 - "$1" "$2" "$tmp/$3" "$4" "$5" <<'PY'
import os, sys
d0, views, out, vport, uport = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
os.makedirs(out + ".state", exist_ok=True)
conf = [f'server:\n  listen: ["127.0.0.1:{vport}"]\n  log_level: info\n'
        f'  state_dir: "{out}.state"\n',
        'upstreams:\n  up: ["127.0.0.1:9"]\n', 'views:\n']
acl = []
for v in range(views):
    a, b = divmod(v, 250)
    conf.append(f'  - name: vpc{v}\n    clients: ["10.{a}.{b}.0/24", "10.{a + 100}.{b}.0/24"'
                + (', "127.0.0.1/32"' if v == 0 else '') + ']\n'
                f'    zones: ["{d0}/vpc{v}/zones/"]\n    forward: {{".": up}}\n'
                f'    subnets: [{{cidr: 10.{a}.{b}.0/24, az_id: use1-az1}},'
                f' {{cidr: 10.{a + 100}.{b}.0/24, az_id: use1-az2}}]\n')
    acl.append(f'  access-control-view: 10.{a}.{b}.0/24 "vpc{v}"\n'
               f'  access-control-view: 10.{a + 100}.{b}.0/24 "vpc{v}"\n')
with open(f"{out}.yaml", "w") as f:
    f.write("".join(conf))
with open(f"{out}.unbound.conf", "w") as f:
    f.write(f"""server:
  interface: 127.0.0.1@{uport}
  port: {uport}
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{out}.ub"
  pidfile: "{out}.unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  num-threads: 1
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  access-control: 10.0.0.0/8 allow
  access-control-view: 127.0.0.1/32 "vpc0"
{"".join(acl)}remote-control:
  control-enable: yes
  control-use-cert: no
  control-interface: "{out}.ub.ctl"
include: "{d0}/unbound-view0.conf"
include: "{d0}/unbound-views.conf"
""")
PY
	mkdir -p "$tmp/$3.ub"
}

first_answer() {   # port pid name: waits until name is answered
	until dig @127.0.0.1 -p "$1" +time=1 +tries=1 +short "$3" 2>/dev/null | grep -q '^[0-9]'; do
		kill -0 "$2" 2>/dev/null || { echo "scale: server $2 exited" >&2; return 1; }
		sleep 0.05
	done
}

# Local throughput, closed loop: prints the median qps of $runs runs.
tput() {   # port queries
	local i
	for ((i = 0; i < runs; i++)); do
		"${cli_pin[@]}" "$vdload" -s 127.0.0.1 -b 127.0.0.1 -p "$1" -d "$2" -l "$secs" -o 256 |
			sed -E 's/.*qps=([0-9]+).*/\1/'
	done | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}

serial=0
# Changes svc7's first address in view 0 (both servers' copies) to a new
# one, left in $changed.
change_one() {   # dir
	serial=$((serial + 1))
	local new=10.9.9.$serial
	changed=$new
	sed -i -E "s/^@ A 10\.(0\.0\.8|9\.9\.[0-9]+)$/@ A $new/" "$1/vpc0/zones/svc7.us-east-1.amazonaws.com.zone"
	sed -i -E "s/(svc7\.us-east-1\.amazonaws\.com\. 60 IN A )10\.(0\.0\.8|9\.9\.[0-9]+)\"/\1$new\"/" "$1/unbound-view0.conf"
}

# A reload under load: vdload at $rqps q/s from 127.0.0.1; writes
# "seconds_to_new_data lost sent" to $tmp/rul.
reload_under_load() {   # port pid queries new-address reload-command...
	local port=$1 spid=$2 q=$3 new=$4 lp t0 t out; shift 4
	"${cli_pin[@]}" "$vdload" -s 127.0.0.1 -b 127.0.0.1 -p "$port" -d "$q" -l 600 -Q "$rqps" \
		> "$tmp/load.out" & lp=$!; pids+=("$lp")
	sleep 1
	t0=$(now)
	"$@" >/dev/null
	t=timeout
	for _ in $(seq 30000); do
		if dig @127.0.0.1 -p "$port" -b 127.0.0.1 +time=1 +tries=1 +short \
			svc7.us-east-1.amazonaws.com 2>/dev/null | grep -qx "$new"; then
			t=$(since "$t0"); break
		fi
		kill -0 "$spid" || break
		sleep 0.02
	done
	sleep 1
	kill -TERM "$lp"; wait "$lp" || true
	out=$(cat "$tmp/load.out")
	echo "$t $(sed -E 's/.*lost=([0-9]+).*/\1/' <<<"$out") $(sed -E 's/sent=([0-9]+).*/\1/' <<<"$out")" \
		> "$tmp/rul"
}

# vpcdns's own reload time from its log line (after offset).
vd_reload_log() {   # log offset
	local s
	for _ in $(seq 2400); do
		s=$(tail -c +$(($2 + 1)) "$1" | grep -o 'reload: \(generation\|failed\).*' || true)
		[ -n "$s" ] && { sed 's/reload: generation [0-9]* loaded from [^ ]* //' <<<"$s" | head -1; return; }
		sleep 0.05
	done
	echo "no reload line"
}

# Everything for one dataset and both servers.
measure() {   # tag dir views endpoints full(yes|no)
	local tag=$1 dir=$2 nv=$3 ne=$4 full=$5 vp up vpid upid t0 new off
	vp=$(port); up=$(port)
	confs "$dir" "$nv" "$tag" "$vp" "$up"
	echo "== $tag: $nv views x $ne endpoints ($((nv * (ne + 1))) zone files)" >&2
	if [ "$full" = yes ]; then
		t0=$(now)
		"$vpcdns" --check -c "$tmp/$tag.yaml" >/dev/null
		record "$tag.vd.check_s" "$(since "$t0")"
	fi
	# vpcdns
	t0=$(now)
	"${srv_pin[@]}" "$vpcdns" -c "$tmp/$tag.yaml" 2>"$tmp/$tag.vd.log" & vpid=$!; pids+=("$vpid")
	first_answer "$vp" "$vpid" svc1.us-east-1.amazonaws.com
	record "$tag.vd.start_s" "$(since "$t0")"
	if [ "$full" = yes ]; then
		# Once the start has saved its zone image: a restart, which
		# takes every unchanged zone from it (server.state_dir).
		for _ in $(seq 600); do
			grep -q "zone image: .* saved" "$tmp/$tag.vd.log" && break
			sleep 0.1
		done
		kill "$vpid"; wait "$vpid" || true
		t0=$(now)
		"${srv_pin[@]}" "$vpcdns" -c "$tmp/$tag.yaml" 2>>"$tmp/$tag.vd.log" & vpid=$!; pids+=("$vpid")
		first_answer "$vp" "$vpid" svc1.us-east-1.amazonaws.com
		record "$tag.vd.restart_s" "$(since "$t0")"
		record "$tag.vd.restart_log" "\"$(grep -o 'loaded in [0-9]* ms: .* read' "$tmp/$tag.vd.log" | tail -1)\""
	fi
	record "$tag.vd.rss_mib" "$(rss "$vpid")"
	record "$tag.vd.tput" "$(tput "$vp" "$dir/view0.txt")"
	if [ "$full" = yes ]; then
		off=$(wc -c < "$tmp/$tag.vd.log")
		kill -HUP "$vpid"
		record "$tag.vd.reload0" "\"$(vd_reload_log "$tmp/$tag.vd.log" "$off")\""
	fi
	change_one "$dir"; new=$changed
	off=$(wc -c < "$tmp/$tag.vd.log")
	reload_under_load "$vp" "$vpid" "$dir/view0.txt" "$new" kill -HUP "$vpid"
	read -r t l s < "$tmp/rul"
	record "$tag.vd.reload1_s" "$t"; record "$tag.vd.reload1_lost" "$l"; record "$tag.vd.reload1_sent" "$s"
	[ "$full" = yes ] && record "$tag.vd.reload1_log" "\"$(vd_reload_log "$tmp/$tag.vd.log" "$off")\""
	if [ "$full" = yes ]; then
		change_one "$dir"; new=$changed
		find "$dir" -name '*.zone' -exec touch {} +
		off=$(wc -c < "$tmp/$tag.vd.log")
		reload_under_load "$vp" "$vpid" "$dir/view0.txt" "$new" kill -HUP "$vpid"
		read -r t l s < "$tmp/rul"
		record "$tag.vd.reloadall_s" "$t"; record "$tag.vd.reloadall_lost" "$l"
		record "$tag.vd.reloadall_sent" "$s"
		record "$tag.vd.reloadall_log" "\"$(vd_reload_log "$tmp/$tag.vd.log" "$off")\""
	fi
	record "$tag.vd.hwm_mib" "$(hwm "$vpid")"
	kill "$vpid"; wait "$vpid" || true
	# Unbound
	t0=$(now)
	"${srv_pin[@]}" unbound -d -c "$tmp/$tag.unbound.conf" 2>"$tmp/$tag.ub.log" & upid=$!; pids+=("$upid")
	first_answer "$up" "$upid" svc1.us-east-1.amazonaws.com
	record "$tag.ub.start_s" "$(since "$t0")"
	record "$tag.ub.rss_mib" "$(rss "$upid")"
	record "$tag.ub.tput" "$(tput "$up" "$dir/view0.txt")"
	change_one "$dir"; new=$changed
	reload_under_load "$up" "$upid" "$dir/view0.txt" "$new" \
		unbound-control -c "$tmp/$tag.unbound.conf" reload
	read -r t l s < "$tmp/rul"
	record "$tag.ub.reload1_s" "$t"; record "$tag.ub.reload1_lost" "$l"; record "$tag.ub.reload1_sent" "$s"
	if [ "$full" = yes ]; then
		# Unbound reads everything on every reload: all changed = one changed.
		change_one "$dir"; new=$changed
		reload_under_load "$up" "$upid" "$dir/view0.txt" "$new" \
			unbound-control -c "$tmp/$tag.unbound.conf" reload
		read -r t l s < "$tmp/rul"
		record "$tag.ub.reloadall_s" "$t"; record "$tag.ub.reloadall_lost" "$l"
		record "$tag.ub.reloadall_sent" "$s"
	fi
	record "$tag.ub.hwm_mib" "$(hwm "$upid")"
	kill "$upid"; wait "$upid" || true
}

big=$data/${views}x${endpoints}
small=$data/${sviews}x${sendpoints}
gen "$big" "$views" "$endpoints"
gen "$small" "$sviews" "$sendpoints"
restore=("$big/vpc0/zones/svc7.us-east-1.amazonaws.com.zone" "$big/unbound-view0.conf"
	"$small/vpc0/zones/svc7.us-east-1.amazonaws.com.zone" "$small/unbound-view0.conf")
sleep 1.1 # past the racy window: a load may trust every file (docs/architecture.md)
measure big "$big" "$views" "$endpoints" yes
measure small "$small" "$sviews" "$sendpoints" no

python3 - "$res" "$views" "$endpoints" "$sviews" "$sendpoints" "$rqps" <<'PY'
import sys, shlex
res, V, E, SV, SE, rq = sys.argv[1], *sys.argv[2:]
r = {}
for line in open(res):
    k, v = line.rstrip("\n").split(" ", 1)
    r[k] = v.strip('"')
def num(k):
    try:
        return float(r[k])
    except (KeyError, ValueError):
        return None
def fmt(x, d=0):
    return "-" if x is None else f"{x:.{d}f}"
def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"
rows = [
    (f"start-up to first answer (s) {V}x{E}", "big.%s.start_s", 2),
    (f"restart from the zone image (s)", "big.%s.restart_s", 2),
    (f"resident memory (MiB)", "big.%s.rss_mib", 0),
    (f"peak memory VmHWM (MiB)", "big.%s.hwm_mib", 0),
    (f"local qps, {V} views", "big.%s.tput", 0),
    (f"local qps, {SV} views", "small.%s.tput", 0),
    (f"reload one file: s to new data", "big.%s.reload1_s", 2),
    (f"reload one file: lost at {rq} q/s", "big.%s.reload1_lost", 0),
    (f"reload all files: s to new data", "big.%s.reloadall_s", 2),
    (f"reload all files: lost at {rq} q/s", "big.%s.reloadall_lost", 0),
    (f"reload {SV}x{SE}: lost at {rq} q/s", "small.%s.reload1_lost", 0),
]
print()
print(f"{'measure':<44} {'vpcdns':>10} {'unbound':>10} {'vd/ub':>7}")
for label, key, d in rows:
    v, u = num(key % "vd"), num(key % "ub")
    print(f"{label:<44} {fmt(v, d):>10} {fmt(u, d):>10} {ratio(v, u):>7}")
sent = lambda k: fmt(num(k))
print(f"(queries sent in the reload runs, vpcdns/Unbound: one {sent('big.vd.reload1_sent')}/{sent('big.ub.reload1_sent')}, "
      f"all {sent('big.vd.reloadall_sent')}/{sent('big.ub.reloadall_sent')}, "
      f"{SV}x{SE} {sent('small.vd.reload1_sent')}/{sent('small.ub.reload1_sent')}; "
      "Unbound re-reads everything on every reload)")
print(f"vpcdns --check: {r.get('big.vd.check_s', '-')} s")
print(f"vpcdns restart (its log): {r.get('big.vd.restart_log', '-')}")
for k, nm in (("reload0", "nothing changed"), ("reload1_log", "one file changed"),
              ("reloadall_log", "all files changed")):
    print(f"vpcdns reload, {nm} (its log): {r.get('big.vd.' + k, '-')}")
print()
def target(text, ok):
    print(f"target {text}: {'NOT met' if not ok else 'met'}")
st, rss, hwm = num("big.vd.start_s"), num("big.vd.rss_mib"), num("big.vd.hwm_mib")
rst = num("big.vd.restart_s")
target(f"first answer <= 1 s, first start without an image ({fmt(st, 2)} s)",
       st is not None and st <= 1)
target(f"first answer <= 1 s, restart from the zone image ({fmt(rst, 2)} s)",
       rst is not None and rst <= 1)
target(f"RSS <= 100 MB ({fmt(rss)} MiB = {fmt(rss * 1.048576 if rss else None)} MB)",
       rss is not None and rss * 1.048576 <= 100)
target(f"peak <= 1.25x steady ({fmt(hwm)} / {fmt(rss)} MiB = {ratio(hwm, rss)}x)",
       hwm is not None and rss and hwm <= 1.25 * rss)
r1, ra = num("big.vd.reload1_s"), num("big.vd.reloadall_s")
target(f"one-file reload <= 0.3 s ({fmt(r1, 2)} s to new data)", r1 is not None and r1 <= 0.3)
target(f"all-files reload <= 1.5 s ({fmt(ra, 2)} s to new data)", ra is not None and ra <= 1.5)
lb = [num("big.vd.reload1_lost"), num("big.vd.reloadall_lost")]
target(f"zero lost in a reload under {rq} q/s at {V}x{E} ({fmt(lb[0])} one, {fmt(lb[1])} all)",
       lb == [0, 0])
ls = num("small.vd.reload1_lost")
target(f"zero lost in a reload under {rq} q/s at {SV}x{SE} ({fmt(ls)})", ls == 0)
tb, ts = num("big.vd.tput"), num("small.vd.tput")
target(f"local qps at {V} views >= 98% of {SV} views ({ratio(tb, ts)})",
       tb is not None and ts and tb >= 0.98 * ts)
PY
