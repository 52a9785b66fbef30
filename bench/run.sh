#!/usr/bin/env bash
# Throughput of vpcdns against Unbound in the same run, on loopback.
#
#   bench/run.sh [path/to/vpcdns]
#
# Starts nsd (authoritative for bench.example.net, with a wildcard so every name
# exists), Unbound as a forwarding cache to it (one thread, no DNSSEC
# validation), and vpcdns forwarding to it (one loop), then runs dnsperf
# against each for the workloads below and prints queries per second and
# the vpcdns/Unbound ratio:
#   hit    a few hundred names, asked over and over (cache hits)
#   miss   every name unique (each query goes upstream)
#   local  vpcdns: a name from its local zone data; Unbound: local-data
# Everything listens on 127.0.0.1; each dnsperf run is bounded in time
# (BENCH_SECONDS, default 10) and every process is stopped by its PID.
# On a machine with two or more CPUs the server under test runs on the last
# CPU, and dnsperf and nsd on the first, and each figure is the median of BENCH_RUNS runs
# (default 3), alternating between the two servers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vpcdns=${1:-$here/../build/vpcdns}
secs=${BENCH_SECONDS:-10}
runs=${BENCH_RUNS:-3}
ncpu=$(nproc)
srv_pin=(); cli_pin=()
if [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
	srv_pin=(taskset -c $((ncpu - 1)))
	cli_pin=(taskset -c 0)
fi
clients=${BENCH_CLIENTS:-8}
for t in nsd unbound dnsperf; do
	command -v "$t" >/dev/null || { echo "bench: $t is not installed" >&2; exit 1; }
done
[ -x "$vpcdns" ] || { echo "bench: no vpcdns binary at $vpcdns" >&2; exit 1; }

tmp=$(mktemp -d /tmp/vpcdns-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nsd_port=$(port); ub_port=$(port); vd_port=$(port)

# ---- upstream: nsd ----------------------------------------------------------
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

# ---- Unbound: forwarding cache ---------------------------------------------
cat > "$tmp/unbound.conf" <<CONF
server:
  interface: 127.0.0.1@$ub_port
  port: $ub_port
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
ub_pid=$!

# ---- vpcdns -----------------------------------------------------------------
mkdir -p "$tmp/zones"
cat > "$tmp/zones/ec2.zone" <<ZONE
\$ORIGIN ec2.us-east-1.amazonaws.com.
\$TTL 60
@ SOA vpcdns.invalid. hm.vpcdns.invalid. 1 3600 600 86400 60
@ A 10.20.1.15
@ A 10.20.2.15
ZONE
cat > "$tmp/vpcdns.yaml" <<CONF
server:
  listen: ["127.0.0.1:$vd_port"]
  log_level: warn
upstreams:
  bench: ["127.0.0.1:$nsd_port"]
cache:
  size: 256MiB
views:
  - name: bench
    clients: ["127.0.0.0/8"]
    zones: ["zones/ec2.zone"]
    forward: { ".": bench }
CONF
"${srv_pin[@]}" "$vpcdns" -c "$tmp/vpcdns.yaml" 2>"$tmp/vpcdns.log" & pids+=($!)
vd_pid=$!

wait_up() {
	for _ in $(seq 50); do
		dig @127.0.0.1 -p "$1" +time=1 +tries=1 +short ns.bench.example.net >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "bench: server on port $1 did not start" >&2
	exit 1
}
wait_up "$nsd_port"; wait_up "$ub_port"; wait_up "$vd_port"

# ---- query files ------------------------------------------------------------
python3 - "$tmp" <<'PY'
import sys, random
tmp = sys.argv[1]
random.seed(1)
with open(f"{tmp}/hit.txt", "w") as f:
    for i in range(500):
        f.write(f"h{i}.bench.example.net A\n")
with open(f"{tmp}/miss.txt", "w") as f:
    for i in range(2_000_000):
        f.write(f"m{random.getrandbits(60):x}.bench.example.net A\n")
with open(f"{tmp}/local.txt", "w") as f:
    f.write("ec2.us-east-1.amazonaws.com A\n")
PY

# One dnsperf run; prints "qps cpu_us_per_query" (the server's own CPU time
# per answered query, from /proc: independent of how fast dnsperf is).
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() {   # port pid file
	local t0 t1 out
	t0=$(ticks "$2")
	out=$("${cli_pin[@]}" dnsperf -s 127.0.0.1 -p "$1" -d "$3" -l "$secs" -c "$clients" -q 200 2>&1)
	t1=$(ticks "$2")
	awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
		/Queries completed/ {n = $3}
		/Queries per second/ {q = int($4)}
		END {printf "%d %.1f\n", q, n ? t * 1e6 / hz / n : 0}' <<<"$out"
}
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
warm() { dnsperf -s 127.0.0.1 -p "$1" -d "$2" -n 2 -c 1 >/dev/null 2>&1 || true; }

printf '%-7s %12s %12s %7s   %13s %13s %7s\n' workload vpcdns_qps unbound_qps ratio \
	vpcdns_us/q unbound_us/q ratio
for w in hit miss local; do
	if [ "$w" = hit ]; then warm "$vd_port" "$tmp/hit.txt"; warm "$ub_port" "$tmp/hit.txt"; fi
	vq=(); uq=(); vc=(); uc=()
	for _ in $(seq "$runs"); do
		read -r q c < <(run "$vd_port" "$vd_pid" "$tmp/$w.txt"); vq+=("$q"); vc+=("$c")
		read -r q c < <(run "$ub_port" "$ub_pid" "$tmp/$w.txt"); uq+=("$q"); uc+=("$c")
	done
	v=$(median "${vq[@]}"); u=$(median "${uq[@]}")
	vcpu=$(median "${vc[@]}"); ucpu=$(median "${uc[@]}")
	python3 - "$w" "$v" "$u" "$vcpu" "$ucpu" <<'PY'
import sys
w, v, u, vc, uc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
r = f"{v / u:.2f}" if u else "n/a"
# CPU ratio: how many times less CPU vpcdns spends per query than Unbound.
rc = f"{uc / vc:.2f}" if vc else "n/a"
print(f"{w:<7} {v:>12} {u:>12} {r:>7}   {vc:>13.1f} {uc:>13.1f} {rc:>7}")
PY
done
echo "qps ratio: vpcdns/Unbound (higher is better); CPU ratio: Unbound us/q over vpcdns us/q (higher is better)"
