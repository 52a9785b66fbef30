#!/usr/bin/env bash
# A bounded soak: vpcdns forwarding to nsd with a 2 MiB cache, 20 s of
# dnsperf with a mix of local answers, cache hits, unique names and names
# no upstream serves, while SIGHUP reloads every 2 s. Prints queries lost,
# the resident memory before and after, TCP answers afterwards, the cache
# counters and the reload count; a sanitizer build reports leaks at exit.
#
#   bench/soak.sh [build-dir]      (default: build; try build-asan)
#
# Everything on 127.0.0.1, on free ports; every process is stopped by its PID.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
B=${1:-$here/../build}
vpcdns=$B/vpcdns
bench_init soak nsd dnsperf dig
nsd_port=$(port); vd_port=$(port); dead_port=$(port)
cat > $tmp/z <<Z
\$ORIGIN bench.example.net.
\$TTL 5
@ SOA ns hm 1 3600 600 86400 2
@ NS ns
ns A 127.0.0.1
* A 192.0.2.1
Z
cat > $tmp/nsd.conf <<C
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
zone:
  name: bench.example.net
  zonefile: z
C
nsd -d -c $tmp/nsd.conf 2>/dev/null & N=$!; pids+=("$N")
mkdir -p $tmp/zones
cat > $tmp/zones/l.zone <<Z
\$ORIGIN ec2.us-east-1.amazonaws.com.
\$TTL 60
@ SOA ns hm 1 3600 600 86400 60
@ A 10.0.1.1
@ A 10.0.2.1
* CNAME ec2.us-east-1.amazonaws.com.
Z
cat > $tmp/v.yaml <<C
server:
  listen: ["127.0.0.1:$vd_port"]
  log_level: info
upstreams:
  up: ["127.0.0.1:$nsd_port", "127.0.0.1:$dead_port"]
cache:
  size: 2MiB
views:
  - name: v
    clients: ["127.0.0.0/8"]
    zones: ["zones/l.zone"]
    forward: { ".": up }
    subnets: [{cidr: 10.0.1.0/24, az_id: a1}, {cidr: 127.0.0.1/32, az_id: a1}]
C
ASAN_OPTIONS=detect_leaks=1 "$vpcdns" -c $tmp/v.yaml 2>$tmp/v.log & V=$!; pids+=("$V")
sleep 1
python3 -c "
import random
with open('$tmp/q.txt','w') as f:
  for i in range(300000):
    r = random.random()
    if r < 0.3: f.write('ec2.us-east-1.amazonaws.com A\n')
    elif r < 0.4: f.write('x%d.ec2.us-east-1.amazonaws.com AAAA\n' % random.randrange(100))
    elif r < 0.7: f.write('h%d.bench.example.net A\n' % random.randrange(2000))
    elif r < 0.9: f.write('u%x.bench.example.net A\n' % random.getrandbits(48))
    else: f.write('nx%d.nothere.invalid MX\n' % random.randrange(50))
"
( for i in 1 2 3 4 5 6 7 8; do sleep 2; kill -HUP $V; done ) & pids+=($!)
awk '{print "rss0_kb", $24*4}' /proc/$V/stat
dnsperf -s 127.0.0.1 -p "$vd_port" -d $tmp/q.txt -l 20 -c 8 -q 100 2>&1 | grep -E "completed|lost|per second"
awk '{print "rss1_kb", $24*4}' /proc/$V/stat
tcp_ok=$(for i in $(seq 50); do dig @127.0.0.1 -p "$vd_port" +tcp +short h$i.bench.example.net; done | grep -c 192.0.2.1)
echo "tcp answers: $tcp_ok/50"
kill -USR1 $V; sleep 0.3
kill $V; rc=0; wait $V || rc=$?; echo "vpcdns exit $rc"
kill $N; wait $N 2>/dev/null || true
grep -E "ERROR|Sanitizer|leak|stats: cache|reload: failed" $tmp/v.log | cut -c1-220 | head
echo "reloads: $(grep -c 'reload: generation' $tmp/v.log || true)"
