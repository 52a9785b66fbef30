#!/usr/bin/env bash
# Throughput and latency of vpcdns against Unbound and against the trivial
# responder (bench/trivial.c, the ceiling of any server here), in the same
# run, on loopback.
#
#   bench/run.sh [path/to/vpcdns]        (vdload and trivial beside it)
#
# Starts nsd (authoritative for bench.example.net, a wildcard so every name
# exists), Unbound as a forwarding cache to it (one thread, no DNSSEC
# validation), vpcdns forwarding to it (one worker), trivial, and vpcdns
# variants: with the Route 53 JSON query log to a file, with the metrics
# HTTP listener, with the rate limiter (a limit never reached), and with
# two workers. Workloads:
#   local  ec2.us-east-1.amazonaws.com: vpcdns zone, Unbound local-data
#   hit    500 names asked over and over (cache hits)
#   miss   every name unique (each query goes upstream)
# Throughput: vdload, closed loop (BENCH_OUTSTANDING, default 256, over 4
# sockets), for local and hit, where dnsperf itself is slower than the
# servers; dnsperf for miss, where it is the standard. Latency: vdload at a
# fixed 10k q/s (BENCH_RATE), p50/p99, for each workload and both servers.
# Every load run lasts BENCH_SECONDS (default 10); each figure is the
# median of BENCH_RUNS runs (default 3), alternating between the servers.
# With two or more CPUs the servers run on the last CPU, the load client
# and nsd on the first. Two workers cannot have a CPU each with the client
# pinned apart on a two-CPU machine, so that line compares one worker
# pinned (client pinned) with two workers and the client all unpinned.
# Everything on 127.0.0.1; every process is stopped by its PID. Prints one
# table and one line per target of issue 13 ("met" / "NOT met").
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vpcdns=${1:-$here/../build/vpcdns}
bindir=$(cd "$(dirname "$vpcdns")" && pwd)
vdload=$bindir/vdload
trivial=$bindir/trivial
secs=${BENCH_SECONDS:-10}
runs=${BENCH_RUNS:-3}
rate=${BENCH_RATE:-10000}
outst=${BENCH_OUTSTANDING:-256}
clients=${BENCH_CLIENTS:-8}
bench_init bench nsd unbound dnsperf dig
bench_need_bin "$vdload" "$trivial"

declare -A port_of pid_of

# ---- upstream: nsd ----------------------------------------------------------
nsd_port=$(port)
cat > "$tmp/bench.example.net.zone" <<ZONE
\$ORIGIN bench.example.net.
\$TTL 3600
@ SOA ns hm 1 3600 600 86400 300
@ NS ns
ns A 127.0.0.1
* A 192.0.2.1
ZONE
cat > "$tmp/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$nsd_port
  port: $nsd_port
  zonesdir: "$tmp"
  pidfile: "$tmp/nsd.pid"
  database: ""
  zonelistfile: "$tmp/zone.list"
  xfrdfile: "$tmp/xfrd.state"
  username: ""
  verbosity: 0
  server-count: 1
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
zone:
  name: bench.example.net
  zonefile: bench.example.net.zone
CONF
"${cli_pin[@]}" nsd -d -c "$tmp/nsd.conf" 2>"$tmp/nsd.log" & pids+=($!)
port_of[nsd]=$nsd_port; pid_of[nsd]=$!

# ---- Unbound: forwarding cache ---------------------------------------------
p=$(port)
cat > "$tmp/unbound.conf" <<CONF
server:
  interface: 127.0.0.1@$p
  port: $p
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$tmp"
  pidfile: "$tmp/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "iterator"
  qname-minimisation: no
  msg-cache-size: 64m
  rrset-cache-size: 128m
  local-zone: "ec2.us-east-1.amazonaws.com." static
  local-data: "ec2.us-east-1.amazonaws.com. 60 IN A 10.20.1.15"
  local-data: "ec2.us-east-1.amazonaws.com. 60 IN A 10.20.2.15"
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@$nsd_port
CONF
"${srv_pin[@]}" unbound -d -c "$tmp/unbound.conf" 2>"$tmp/unbound.log" & pids+=($!)
port_of[ub]=$p; pid_of[ub]=$!

# ---- vpcdns and its variants -----------------------------------------------
mkdir -p "$tmp/zones"
cat > "$tmp/zones/ec2.zone" <<ZONE
\$ORIGIN ec2.us-east-1.amazonaws.com.
\$TTL 60
@ SOA vpcdns.invalid. hm.vpcdns.invalid. 1 3600 600 86400 60
@ A 10.20.1.15
@ A 10.20.2.15
ZONE
start_vpcdns() {   # name, extra server lines, extra top-level YAML, pin (yes|no)
	local p; p=$(port)
	cat > "$tmp/$1.yaml" <<CONF
server:
  listen: ["127.0.0.1:$p"]
  log_level: warn
$2
upstreams:
  bench: ["127.0.0.1:$nsd_port"]
cache:
  size: 256MiB
views:
  - name: bench
    clients: ["127.0.0.0/8"]
    zones: ["zones/ec2.zone"]
    forward: { ".": bench }
    vpc_id: vpc-0123456789abcdef0
    account_id: "111122223333"
    region: us-east-1
$3
CONF
	if [ "$4" = yes ]; then
		"${srv_pin[@]}" "$vpcdns" -c "$tmp/$1.yaml" 2>"$tmp/$1.log" & pids+=($!)
	else
		"$vpcdns" -c "$tmp/$1.yaml" 2>"$tmp/$1.log" & pids+=($!)
	fi
	port_of[$1]=$p; pid_of[$1]=$!
}
start_vpcdns vd "" "" yes
start_vpcdns vd_qlog "" "query_log: {file: q.json}" yes
start_vpcdns vd_http "" "http: {listen: [\"127.0.0.1:$(port)\"]}" yes
start_vpcdns vd_rl "  rate_limit: {qps: 1000000, burst: 1000000}" "" yes
start_vpcdns vd_w2 "  workers: 2" "" no
p=$(port)
"${srv_pin[@]}" "$trivial" -p "$p" 2>"$tmp/trivial.log" & pids+=($!)
port_of[triv]=$p; pid_of[triv]=$!

for n in nsd ub vd vd_qlog vd_http vd_rl vd_w2 triv; do
	wait_answer "${port_of[$n]}" ns.bench.example.net "$n on port ${port_of[$n]}"
done

# ---- query files ------------------------------------------------------------
# A miss file per server and run (dnsperf and vdload read from the top each
# time; a name asked twice would be a cache hit).
python3 - "$tmp" "$runs" "$secs" "$rate" <<'PY'
import sys, random
tmp, runs, secs, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
random.seed(1)
with open(f"{tmp}/hit.txt", "w") as f:
    for i in range(500):
        f.write(f"h{i}.bench.example.net A\n")
with open(f"{tmp}/local.txt", "w") as f:
    f.write("ec2.us-east-1.amazonaws.com A\n")
def miss(path, n):
    with open(path, "w") as f:
        f.write("".join(f"m{random.getrandbits(60):x}.bench.example.net A\n" for _ in range(n)))
for s in ("vd", "ub"):
    for r in range(runs):
        miss(f"{tmp}/miss-{s}-{r}.txt", int(60000 * secs))
        miss(f"{tmp}/misslat-{s}-{r}.txt", int(rate * secs * 1.1) + 1000)
PY

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# One load run against server $1 with vdload (args after the file); prints
# "qps p50_us p99_us lost cpu_us_per_answer" (the server's own CPU time).
vd_run() {   # name file pin(yes|no) vdload-args...
	local name=$1 file=$2 pin=$3 t0 t1 out c=(); shift 3
	[ "$pin" = yes ] && c=("${cli_pin[@]}")
	t0=$(ticks "${pid_of[$name]}")
	out=$("${c[@]}" "$vdload" -s 127.0.0.1 -p "${port_of[$name]}" -d "$file" -l "$secs" "$@")
	t1=$(ticks "${pid_of[$name]}")
	: > "$tmp/q.json" 2>/dev/null || true # the query log, kept small
	awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		printf "%d %d %d %d %.2f\n", f["qps"], f["p50_us"], f["p99_us"], f["lost"],
			f["answered"] ? t * 1e6 / hz / f["answered"] : 0 }' <<<"$out"
}
# One dnsperf run; prints the same five fields (latencies not measured: 0).
dp_run() {   # name file
	local t0 t1 out
	t0=$(ticks "${pid_of[$1]}")
	out=$("${cli_pin[@]}" dnsperf -s 127.0.0.1 -p "${port_of[$1]}" -d "$2" -l "$secs" \
		-c "$clients" -q 500 2>&1)
	t1=$(ticks "${pid_of[$1]}")
	awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
		/Queries completed/ {n = $3}
		/Queries lost/ {l = $3}
		/Queries per second/ {q = int($4)}
		END {printf "%d 0 0 %d %.2f\n", q, l, n ? t * 1e6 / hz / n : 0}' <<<"$out"
}
warm() { "$vdload" -s 127.0.0.1 -p "${port_of[$1]}" -d "$tmp/hit.txt" -l 0.5 -Q 2000 >/dev/null; }
for n in ub vd vd_qlog vd_http vd_rl vd_w2; do warm "$n"; done

res="$tmp/results"
: > "$res"
record() { echo "$1 $2" >> "$res"; }   # key "qps p50 p99 lost cpu"
for r in $(seq 0 $((runs - 1))); do
	echo "run $((r + 1))/$runs ..." >&2
	for w in local hit; do
		for n in vd ub triv; do
			record "$w.$n" "$(vd_run $n "$tmp/$w.txt" yes -o "$outst")"
		done
		for n in vd ub; do
			record "$w.lat.$n" "$(vd_run $n "$tmp/$w.txt" yes -Q "$rate")"
		done
	done
	for n in vd ub; do
		record "miss.$n" "$(dp_run $n "$tmp/miss-$n-$r.txt")"
		record "miss.lat.$n" "$(vd_run $n "$tmp/misslat-$n-$r.txt" yes -Q "$rate")"
	done
	for n in vd_qlog vd_http vd_rl; do
		record "local.$n" "$(vd_run $n "$tmp/local.txt" yes -o "$outst")"
	done
	record "local.vd_w2" "$(vd_run vd_w2 "$tmp/local.txt" no -o "$outst")"
done

python3 - "$res" "$rate" "$ncpu" <<'PY'
import sys, statistics
res, rate, ncpu = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runs = {}
for line in open(res):
    k, *v = line.split()
    runs.setdefault(k, []).append([float(x) for x in v])
def med(k, i):
    return statistics.median(r[i] for r in runs[k]) if k in runs else 0.0
QPS, P50, P99, LOST, CPU = range(5)
def ratio(a, b):
    return f"{a / b:.2f}" if b else "n/a"
print()
print(f"{'measure':<40} {'vpcdns':>9} {'unbound':>9} {'vd/ub':>6} {'trivial':>9} {'vd/triv':>8}")
for w in ("local", "hit", "miss"):
    v, u = med(f"{w}.vd", QPS), med(f"{w}.ub", QPS)
    t = med(f"{w}.triv", QPS) if w != "miss" else 0
    tool = "dnsperf" if w == "miss" else "vdload"
    tt = f"{t:>9.0f} {100 * v / t:>7.1f}%" if t else f"{'-':>9} {'-':>8}"
    print(f"{w + ' qps (' + tool + ')':<40} {v:>9.0f} {u:>9.0f} {ratio(v, u):>6} {tt}")
for w in ("local", "hit", "miss"):
    v, u = med(f"{w}.vd", CPU), med(f"{w}.ub", CPU)
    print(f"{w + ' server CPU us/answer':<40} {v:>9.2f} {u:>9.2f} {ratio(v, u):>6}")
for w in ("local", "hit", "miss"):
    for i, nm in ((P50, "p50"), (P99, "p99")):
        v, u = med(f"{w}.lat.vd", i), med(f"{w}.lat.ub", i)
        print(f"{w + f' {nm} us at {rate} q/s':<40} {v:>9.0f} {u:>9.0f} {ratio(v, u):>6}")
    lv, lu = med(f"{w}.lat.vd", LOST), med(f"{w}.lat.ub", LOST)
    print(f"{w + f' lost at {rate} q/s':<40} {lv:>9.0f} {lu:>9.0f}")
base = med("local.vd", QPS)
print()
print(f"{'vpcdns local qps, feature on':<40} {'qps':>9} {'vs off':>9}")
for k, nm in (("vd_qlog", "query log (Route 53 JSON file)"),
              ("vd_http", "metrics (HTTP listener)"),
              ("vd_rl", "rate limiter (limit not reached)")):
    v = med(f"local.{k}", QPS)
    print(f"{nm:<40} {v:>9.0f} {ratio(v, base):>9}")
w2 = med("local.vd_w2", QPS)
print(f"{'1 worker on CPU ' + str(ncpu - 1) + ', client on CPU 0':<40} {base:>9.0f} {'1.00':>9}")
print(f"{'2 workers, server and client unpinned':<40} {w2:>9.0f} {ratio(w2, base):>9}")
print()
def target(text, ok):
    print(f"target {text}: {'met' if ok else 'NOT met'}")
for w in ("local", "hit"):
    v, t = med(f"{w}.vd", QPS), med(f"{w}.triv", QPS)
    target(f"{w} >= 95% of trivial ({100 * v / t:.1f}%)" if t else f"{w} vs trivial", t and v >= 0.95 * t)
v, u = med("miss.vd", QPS), med("miss.ub", QPS)
target(f"miss >= 1.3x Unbound ({ratio(v, u)}x)", u and v >= 1.3 * u)
for w in ("local", "hit", "miss"):
    v, u = med(f"{w}.lat.vd", P99), med(f"{w}.lat.ub", P99)
    target(f"{w} p99 at {rate} q/s no worse than Unbound ({v:.0f} vs {u:.0f} us)", v <= u)
PY
