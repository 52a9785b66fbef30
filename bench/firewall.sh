#!/usr/bin/env bash
# The DNS firewall's cost, on loopback.
#
#   bench/firewall.sh [path/to/vpcdns]
#
# Generates a domain list of BENCH_NAMES names (default 1,000,000: nine in
# ten exact, one in ten "*." wildcards), times `vpcdns --check` on a
# configuration that reads it, and prints the server's resident memory
# with and without the list. Then runs dnsperf for a local answer (a name
# the list does not hold, so every query is inspected and passes) against
# two servers, one whose view applies a rule group using the list and one
# without, and prints queries per second for each and the ratio. Each
# dnsperf run is bounded by BENCH_SECONDS (default 10); each figure is the
# median of BENCH_RUNS runs (default 3), alternating between the servers.
# Everything listens on 127.0.0.1 and every process is stopped by its PID.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vpcdns=${1:-$here/../build/vpcdns}
secs=${BENCH_SECONDS:-10}
runs=${BENCH_RUNS:-3}
names=${BENCH_NAMES:-1000000}
clients=${BENCH_CLIENTS:-8}
bench_init fwbench dnsperf

python3 - "$tmp" "$names" <<'PY'
import sys, random
tmp, n = sys.argv[1], int(sys.argv[2])
random.seed(1)
with open(f"{tmp}/threats.txt", "w") as f:
    f.write("# generated threat list\n")
    for i in range(n):
        name = f"{random.getrandbits(48):x}.bad{i % 1000}.example"
        f.write(("*." if i % 10 == 0 else "") + name + "\n")
PY
mkdir -p "$tmp/zones"
cat > "$tmp/zones/local.zone" <<ZONE
\$ORIGIN svc.a.b.c.d.example.
\$TTL 60
@ SOA vpcdns.invalid. hm.vpcdns.invalid. 1 3600 600 86400 60
www A 10.20.1.15
ZONE
conf() {   # port firewall(yes|no)
	cat <<CONF
server:
  listen: ["127.0.0.1:$1"]
  log_level: warn
  directory: $tmp
firewall:
  lists: {threats: threats.txt}
  rule_groups:
    main:
      - {priority: 100, list: threats, action: block, block_response: nxdomain}
views:
  - name: bench
    clients: ["127.0.0.0/8"]
    zones: ["zones/local.zone"]
CONF
	[ "$2" = yes ] && echo "    firewall: [main]"
	return 0
}
on_port=$(port); off_port=$(port)
conf "$on_port" yes > "$tmp/on.yaml"
conf "$off_port" no > "$tmp/off.yaml"
# The "off" server has no firewall section at all: its memory is the base.
sed -i '/^firewall:/,/^views:/{/^views:/!d}' "$tmp/off.yaml"

start=$(date +%s.%N)
"$vpcdns" --check -c "$tmp/on.yaml" >/dev/null
end=$(date +%s.%N)
printf 'list: %d names (%s bytes); --check %.2f s\n' "$names" \
	"$(stat -c %s "$tmp/threats.txt")" "$(echo "$end - $start" | bc)"

"${srv_pin[@]}" "$vpcdns" -c "$tmp/on.yaml" 2>"$tmp/on.log" & pids+=($!); on_pid=$!
"${srv_pin[@]}" "$vpcdns" -c "$tmp/off.yaml" 2>"$tmp/off.log" & pids+=($!); off_pid=$!
wait_answer "$on_port" www.svc.a.b.c.d.example
wait_answer "$off_port" www.svc.a.b.c.d.example
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
printf 'resident memory: %d MiB with the list, %d MiB without (%.1f MiB for the list)\n' \
	$(($(rss $on_pid) / 1024)) $(($(rss $off_pid) / 1024)) \
	"$(echo "($(rss $on_pid) - $(rss $off_pid)) / 1024" | bc -l)"
[ "$(dig @127.0.0.1 -p "$on_port" +short \
	"$(sed -n 3p "$tmp/threats.txt")")" = "" ] || { echo "bench: the list does not block" >&2; exit 1; }

echo "www.svc.a.b.c.d.example A" > "$tmp/local.txt"
qps() {
	"${cli_pin[@]}" dnsperf -s 127.0.0.1 -p "$1" -d "$tmp/local.txt" -l "$secs" -c "$clients" \
		-q 200 2>&1 | awk '/Queries per second/ {print int($4)}'
}
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
on=(); off=()
for _ in $(seq "$runs"); do
	on+=("$(qps "$on_port")")
	off+=("$(qps "$off_port")")
done
a=$(median "${on[@]}"); b=$(median "${off[@]}")
printf 'local answers: %d qps with the firewall (no match), %d qps without; ratio %.3f\n' \
	"$a" "$b" "$(echo "$a / $b" | bc -l)"
