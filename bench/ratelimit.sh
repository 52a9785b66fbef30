#!/usr/bin/env bash
# The rate limiter's cost: local-answer throughput of vpcdns with
# server.rate_limit on (a limit high enough never to trigger) over the
# figure with it off, in the same run with the same load generator.
#
#   bench/ratelimit.sh [path/to/vpcdns]
#
# Starts two vpcdns instances on 127.0.0.1 answering one name from a local
# zone, one without rate_limit and one with qps and burst of 1000000, and
# runs dnsperf against each in turn (BENCH_RUNS runs each, default 5,
# alternating; each bounded by BENCH_SECONDS, default 10). Prints the
# median queries per second of each and their ratio (on/off; the goal is
# at least 0.95). With two or more CPUs the servers run on the last CPU and
# dnsperf on the first. Every process is stopped by its PID.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vpcdns=${1:-$here/../build/vpcdns}
secs=${BENCH_SECONDS:-10}
runs=${BENCH_RUNS:-5}
clients=${BENCH_CLIENTS:-8}
bench_init bench-rl dnsperf dig
off_port=$(port); on_port=$(port)

mkdir -p "$tmp/zones"
cat > "$tmp/zones/ec2.zone" <<ZONE
\$ORIGIN ec2.us-east-1.amazonaws.com.
\$TTL 60
@ SOA vpcdns.invalid. hm.vpcdns.invalid. 1 3600 600 86400 60
@ A 10.20.1.15
@ A 10.20.2.15
ZONE
conf() {   # name port extra-server-lines
	cat > "$tmp/$1.yaml" <<CONF
server:
  listen: ["127.0.0.1:$2"]
  log_level: info
$3
views:
  - name: bench
    clients: ["127.0.0.0/8"]
    zones: ["zones/ec2.zone"]
CONF
}
conf off "$off_port" ""
conf on "$on_port" "  rate_limit: {qps: 1000000, burst: 1000000}"
"${srv_pin[@]}" "$vpcdns" -c "$tmp/off.yaml" 2>"$tmp/off.log" & pids+=($!)
off_pid=$!
"${srv_pin[@]}" "$vpcdns" -c "$tmp/on.yaml" 2>"$tmp/on.log" & pids+=($!)
on_pid=$!

wait_answer "$off_port" ec2.us-east-1.amazonaws.com
wait_answer "$on_port" ec2.us-east-1.amazonaws.com
echo "ec2.us-east-1.amazonaws.com A" > "$tmp/local.txt"

run() {   # port
	"${cli_pin[@]}" dnsperf -s 127.0.0.1 -p "$1" -d "$tmp/local.txt" -l "$secs" \
		-c "$clients" -q 200 2>&1 | awk '/Queries per second/ {print int($4)}'
}
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

offq=(); onq=()
for i in $(seq "$runs"); do
	# alternate which goes first, so drift in the machine's load is shared
	if [ $((i % 2)) -eq 1 ]; then
		offq+=("$(run "$off_port")"); onq+=("$(run "$on_port")")
	else
		onq+=("$(run "$on_port")"); offq+=("$(run "$off_port")")
	fi
done
off=$(median "${offq[@]}"); on=$(median "${onq[@]}")
# The limiter must not have triggered: the stats line says so.
kill -USR1 "$on_pid"; sleep 0.5
limited=$(grep -o 'stats: ratelimit limited=[0-9]*' "$tmp/on.log" | tail -1 | cut -d= -f2 || true)
echo "runs off: ${offq[*]}"
echo "runs on:  ${onq[*]}"
python3 - "$off" "$on" "${limited:-?}" <<'PY'
import sys
off, on, limited = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
print(f"local qps  limiter off {off}  limiter on {on}  ratio on/off {on / off:.3f}"
      f"  (limited queries: {limited})")
PY
