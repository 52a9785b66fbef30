# shellcheck shell=bash disable=SC2034,SC2154
# The set-up the benchmark scripts share; sourced, not run.
#
#   . "$(dirname "$0")/lib.sh"
#   vpcdns=${1:-$here/../build/vpcdns}
#   bench_init NAME tool...
#
# Sourcing sets here (this folder). bench_init checks that every tool named
# is installed and that $vpcdns is executable, and sets ncpu, srv_pin and
# cli_pin (with two or more CPUs and taskset: the last CPU for servers, the
# first for clients; empty otherwise), tmp (a new folder,
# /tmp/vpcdns-NAME.XXXXXX) and pids (empty). At exit every PID in pids is
# stopped and waited for, then bench_cleanup_more runs if the script
# defines it, then tmp is removed. Messages start with "$bench_tag:"
# (default "bench").
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench_tag=${bench_tag:-bench}

bench_die() { echo "$bench_tag: $*" >&2; exit 1; }

bench_init() {   # NAME tool...
	local name=$1 t; shift
	ncpu=$(nproc)
	srv_pin=(); cli_pin=()
	if [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
		srv_pin=(taskset -c $((ncpu - 1)))
		cli_pin=(taskset -c 0)
	fi
	for t in "$@"; do
		command -v "$t" >/dev/null || bench_die "$t is not installed"
	done
	[ -x "$vpcdns" ] || bench_die "no vpcdns binary at $vpcdns"
	tmp=$(mktemp -d "/tmp/vpcdns-$name.XXXXXX")
	pids=()
	trap bench_cleanup EXIT
}

bench_need_bin() {   # path...: each must be executable
	local b
	for b in "$@"; do
		[ -x "$b" ] || bench_die "no binary at $b"
	done
}

bench_cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if declare -F bench_cleanup_more >/dev/null; then bench_cleanup_more; fi
	rm -rf "$tmp"
}

# A port on 127.0.0.1 free for both UDP and TCP.
port() {
	python3 -c '
import socket
while True:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    p = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break'
}

# Waits (up to 30 s) until the server on 127.0.0.1 port PORT answers NAME
# with an address (dig prints its time-out message on stdout too, so any
# output is not enough); exits the script if it never does.
wait_answer() {   # PORT NAME [WHO, for the message]
	local _
	for _ in $(seq 300); do
		dig @127.0.0.1 -p "$1" +time=1 +tries=1 +short "$2" 2>/dev/null |
			grep -q '^[0-9]' && return 0
		sleep 0.1
	done
	bench_die "${3:-server on port $1} did not start"
}
