#!/usr/bin/env bash
# Scale: VIEWS views (one per VPC), each with ENDPOINTS interface endpoints
# of its own (one zone file per endpoint, two AZ addresses each, plus the
# VPC's vpce zone and subnets), like the peers' scale test of 1000 views x
# 200 endpoints. Prints the time vpcdns --check takes, the startup time
# and resident memory of the daemon, the time of a reload, and answers a
# few queries to show the data is there, then the time of a reload with no
# zone file changed, with one changed and with every one changed (touched).
# Everything on 127.0.0.1.
#
#   bench/scale.sh [path/to/vpcdns]     VIEWS=1000 ENDPOINTS=200 by default
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vpcdns=${1:-$here/../build/vpcdns}
views=${VIEWS:-1000}
endpoints=${ENDPOINTS:-200}
tmp=$(mktemp -d /tmp/vpcdns-scale.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

python3 - "$tmp" "$views" "$endpoints" "$port" <<'PY'
import os, sys
tmp, views, eps, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
conf = [f'server:\n  listen: ["127.0.0.1:{port}"]\n  log_level: warn\n',
        'upstreams:\n  up: ["127.0.0.1:9"]\n', 'views:\n']
for v in range(views):
    d = f"{tmp}/vpc{v}"
    os.makedirs(f"{d}/zones")
    a, b = divmod(v, 250)
    vpce = [f"$ORIGIN us-east-1.vpce.amazonaws.com.\n$TTL 60\n"
            "@ SOA vpcdns.invalid. hm.vpcdns.invalid. 1 3600 600 86400 60\n"]
    for e in range(eps):
        svc = f"svc{e}"
        ip1, ip2 = f"10.{a}.{b}.{e % 250 + 1}", f"10.{a + 100}.{b}.{e % 250 + 1}"
        with open(f"{d}/zones/{svc}.us-east-1.amazonaws.com.zone", "w") as f:
            f.write(f"$ORIGIN {svc}.us-east-1.amazonaws.com.\n$TTL 60\n"
                    "@ SOA vpcdns.invalid. hm.vpcdns.invalid. 1 3600 600 86400 60\n"
                    f"@ A {ip1}\n@ A {ip2}\n")
        name = f"vpce-{v:08x}{e:09x}-abcd1234.{svc}"
        vpce.append(f"{name} A {ip1}\n{name} A {ip2}\n")
    with open(f"{d}/zones/us-east-1.vpce.amazonaws.com.zone", "w") as f:
        f.write("".join(vpce))
    conf.append(f'  - name: vpc{v}\n    clients: ["10.{a}.{b}.0/24", "10.{a + 100}.{b}.0/24"'
                + (', "127.0.0.1/32"' if v == 0 else '') + ']\n'
                f'    zones: ["vpc{v}/zones/"]\n    forward: {{".": up}}\n'
                f'    subnets: [{{cidr: 10.{a}.{b}.0/24, az_id: use1-az1}},'
                f' {{cidr: 10.{a + 100}.{b}.0/24, az_id: use1-az2}}]\n')
with open(f"{tmp}/vpcdns.yaml", "w") as f:
    f.write("".join(conf))
PY
echo "views=$views endpoints/view=$endpoints zone files=$((views * (endpoints + 1)))"
sleep 1.1 # past the racy window: a load may trust every file (docs/architecture.md)
t0=$(date +%s.%N)
"$vpcdns" --check -c "$tmp/vpcdns.yaml" >/dev/null
t1=$(date +%s.%N)
echo "check: $(python3 -c "print(f'{$t1-$t0:.1f}')") s"
t0=$(date +%s.%N)
"$vpcdns" -c "$tmp/vpcdns.yaml" 2>"$tmp/log" & pid=$!
until dig @127.0.0.1 -p "$port" +time=1 +tries=1 +short svc1.us-east-1.amazonaws.com 2>/dev/null | grep -q .; do
	sleep 0.1
	kill -0 $pid || { cat "$tmp/log"; exit 1; }
done
t1=$(date +%s.%N)
echo "startup to first answer: $(python3 -c "print(f'{$t1-$t0:.1f}')") s"
echo "resident memory: $(awk '/VmRSS/ {print int($2/1024)}' /proc/$pid/status) MiB"
dig @127.0.0.1 -p "$port" +short svc7.us-east-1.amazonaws.com | tr '\n' ' '; echo
sed -i 's/log_level: warn/log_level: info/' "$tmp/vpcdns.yaml"

# CPU seconds (user + system) the daemon has used so far.
cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' /proc/$pid/stat; }

# One SIGHUP; prints the daemon's reload line under the label $1. The
# time is the daemon's own, from the signal to the new data installed;
# the CPU time it used meanwhile is steadier on a busy machine.
reload() {
	local off c0
	off=$(wc -c < "$tmp/log")
	c0=$(cpu)
	kill -HUP $pid
	until tail -c +$((off + 1)) "$tmp/log" | grep -q "reload: \(generation\|failed\)"; do sleep 0.05; done
	printf '%-32s %s, cpu %s s\n' "$1:" "$(tail -c +$((off + 1)) "$tmp/log" | grep -o 'reload: \(generation\|failed\).*' | sed 's/reload: generation [0-9]* loaded from [^ ]* //')" \
		"$(python3 -c "print(f'{$(cpu) - $c0:.2f}')")"
}

# No zone file changed (the config file did: log_level).
reload "reload, no zone file changed"
echo "resident memory after reload: $(awk '/VmRSS/ {print int($2/1024)}' /proc/$pid/status) MiB"
# One zone file rewritten with a new address, then every file touched
# (same content, new mtime: each must be read again).
one="$tmp/vpc0/zones/svc7.us-east-1.amazonaws.com.zone"
sed -i 's/^@ A 10\.0\.0\.8$/@ A 10.9.9.9/' "$one"
reload "reload, one zone file changed"
dig @127.0.0.1 -p "$port" +short svc7.us-east-1.amazonaws.com | grep -q '^10\.9\.9\.9$' ||
	{ echo "the changed zone's new address is not served"; exit 1; }
find "$tmp" -name '*.zone' -exec touch {} +
reload "reload, every zone file changed"
echo "peak memory (VmHWM): $(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status) MiB"
