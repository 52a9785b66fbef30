#!/usr/bin/env bash
# The cost of query logs on local answers, in one run, on loopback.
#
#   bench/qlog.sh [path/to/vpcdns]
#
# Starts vpcdns three times (query log off; Route 53 JSON to a file; dnstap
# to a file) and Unbound twice (local-data; without and with log-replies to
# a file), all answering the same local name, then runs dnsperf against
# each in turn (BENCH_RUNS rounds, default 3, alternating; each run
# BENCH_SECONDS, default 5) and prints the median queries per second and
# the ratio to the same server with logging off. Then, because the
# throughput of a saturated server on a shared machine moves with whatever
# else runs there, it offers each server the same fixed rate (BENCH_RATE,
# default 40000 queries per second, below what either saturates at) and
# prints the CPU time the server process spent per answered query (all
# its threads, the query-log writer included, from
# /proc/PID/task/*/schedstat) and its ratio: the throughput the log would
# keep if the server were CPU-bound. Every process listens on
# 127.0.0.1 and is stopped by its PID; the servers run on the last CPU and
# dnsperf on the first when there are two or more. The log files are
# removed with the temporary folder.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vpcdns=${1:-$here/../build/vpcdns}
secs=${BENCH_SECONDS:-5}
runs=${BENCH_RUNS:-3}
clients=${BENCH_CLIENTS:-8}
rate=${BENCH_RATE:-40000}
bench_init bench-qlog unbound dnsperf

mkdir -p "$tmp/zones"
cat > "$tmp/zones/ec2.zone" <<ZONE
\$ORIGIN ec2.us-east-1.amazonaws.com.
\$TTL 60
@ SOA vpcdns.invalid. hm.vpcdns.invalid. 1 3600 600 86400 60
@ A 10.20.1.15
@ A 10.20.2.15
ZONE
echo "ec2.us-east-1.amazonaws.com A" > "$tmp/local.txt"

declare -A port_of pid_of
start_vpcdns() {   # name, extra YAML
	local p; p=$(port)
	cat > "$tmp/$1.yaml" <<CONF
server:
  listen: ["127.0.0.1:$p"]
  log_level: warn
views:
  - name: bench
    clients: ["127.0.0.0/8"]
    zones: ["zones/ec2.zone"]
    vpc_id: vpc-0123456789abcdef0
    account_id: "111122223333"
    region: us-east-1
$2
CONF
	"${srv_pin[@]}" "$vpcdns" -c "$tmp/$1.yaml" 2>"$tmp/$1.log" & pids+=($!)
	port_of[$1]=$p; pid_of[$1]=$!
}
start_unbound() {   # name, log-replies yes|no
	local p; p=$(port)
	cat > "$tmp/$1.conf" <<CONF
server:
  interface: 127.0.0.1@$p
  port: $p
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$tmp"
  pidfile: "$tmp/$1.pid"
  use-syslog: no
  logfile: "$tmp/$1.log"
  log-replies: $2
  verbosity: 0
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  local-zone: "ec2.us-east-1.amazonaws.com." static
  local-data: "ec2.us-east-1.amazonaws.com. 60 IN A 10.20.1.15"
  local-data: "ec2.us-east-1.amazonaws.com. 60 IN A 10.20.2.15"
CONF
	"${srv_pin[@]}" unbound -d -c "$tmp/$1.conf" 2>"$tmp/$1.err" & pids+=($!)
	port_of[$1]=$p; pid_of[$1]=$!
}
start_vpcdns vd_off ""
start_vpcdns vd_json "query_log: {file: q.json}"
start_vpcdns vd_dnstap "query_log: {dnstap_file: q.dnstap}"
start_unbound ub_off no
start_unbound ub_log yes
names=(vd_off vd_json vd_dnstap ub_off ub_log)
for n in "${names[@]}"; do wait_answer "${port_of[$n]}" ec2.us-east-1.amazonaws.com "$n"; done

run() {   # port
	"${cli_pin[@]}" dnsperf -s 127.0.0.1 -p "$1" -d "$tmp/local.txt" -l "$secs" \
		-c "$clients" -q 200 2>&1 | awk '/Queries per second/ {print int($4)}'
}
cpu_ns() {   # pid: CPU time of all its threads so far, in ns
	cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f\n", s}'
}
cpu_run() {   # name: ns of CPU per completed query at the fixed rate
	local c0 c1 done
	c0=$(cpu_ns "${pid_of[$1]}")
	done=$("${cli_pin[@]}" dnsperf -s 127.0.0.1 -p "${port_of[$1]}" -d "$tmp/local.txt" \
		-l "$secs" -c "$clients" -q 200 -Q "$rate" 2>&1 |
		awk '/Queries completed/ {print $3}')
	c1=$(cpu_ns "${pid_of[$1]}")
	echo $(((c1 - c0) / (done > 0 ? done : 1)))
}
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
declare -A res
for _ in $(seq "$runs"); do
	for n in "${names[@]}"; do res[$n]+="$(run "${port_of[$n]}") "; done
done
declare -A med
for n in "${names[@]}"; do med[$n]=$(median ${res[$n]}); done
printf '%-34s %10s %8s\n' "local answers" qps vs_off
line() { python3 -c 'import sys; q, o = int(sys.argv[2]), int(sys.argv[3]); print(f"{sys.argv[1]:<34} {q:>10} {q / o if o else 0:>8.2f}")' "$@"; }
line "vpcdns, query log off" "${med[vd_off]}" "${med[vd_off]}"
line "vpcdns, Route 53 JSON to a file" "${med[vd_json]}" "${med[vd_off]}"
line "vpcdns, dnstap to a file" "${med[vd_dnstap]}" "${med[vd_off]}"
line "unbound, log-replies off" "${med[ub_off]}" "${med[ub_off]}"
line "unbound, log-replies to a file" "${med[ub_log]}" "${med[ub_off]}"
declare -A cres
for _ in $(seq "$runs"); do
	for n in "${names[@]}"; do cres[$n]+="$(cpu_run "$n") "; done
done
declare -A cmed
for n in "${names[@]}"; do cmed[$n]=$(median ${cres[$n]}); done
printf '\n%-34s %10s %8s\n' "CPU per query at $rate q/s" ns off/on
cline() { python3 -c 'import sys; c, o = int(sys.argv[2]), int(sys.argv[3]); print(f"{sys.argv[1]:<34} {c:>10} {o / c if c else 0:>8.2f}")' "$@"; }
cline "vpcdns, query log off" "${cmed[vd_off]}" "${cmed[vd_off]}"
cline "vpcdns, Route 53 JSON to a file" "${cmed[vd_json]}" "${cmed[vd_off]}"
cline "vpcdns, dnstap to a file" "${cmed[vd_dnstap]}" "${cmed[vd_off]}"
cline "unbound, log-replies off" "${cmed[ub_off]}" "${cmed[ub_off]}"
cline "unbound, log-replies to a file" "${cmed[ub_log]}" "${cmed[ub_off]}"
for n in vd_json vd_dnstap; do
	grep -h "records dropped" "$tmp/$n.log" | tail -1 || true
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "vs_off: throughput with the log on over the same server with it off (target for JSON: >= 0.80)"
echo "off/on: CPU per query with the log off over the same with it on"
