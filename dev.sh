#!/usr/bin/env bash
# Build, run and test vpcdns on Debian 12. Installs the packages it needs
# (as root, or through sudo) when they are missing.
#
#   ./dev.sh run         build, then serve conf/vpcdns.yaml on 127.0.0.1:5353
#   ./dev.sh test        build, then run every unit and integration test
#   ./dev.sh test-asan   the same with AddressSanitizer and UBSan
#   ./dev.sh test-tsan   unit, worker and reload tests with ThreadSanitizer
#   ./dev.sh bench       build, then run the benchmarks in bench/
set -euo pipefail
cd "$(dirname "$0")"

BUILD_PKGS="build-essential cmake pkg-config libldns-dev libuv1-dev libssl-dev
  libcmocka-dev libyaml-dev libjansson-dev"
TEST_PKGS="python3 nsd unbound ldnsutils bind9-dnsutils knot-dnsutils dnsperf
  openssl procps iproute2"

deps() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "dev.sh: installing ${missing[*]}" >&2
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
	local dir=$1; shift
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)"
}

cmd=${1:-}
case "$cmd" in
run)
	deps $BUILD_PKGS
	build build
	exec build/vpcdns -c conf/vpcdns.yaml
	;;
test)
	deps $BUILD_PKGS $TEST_PKGS
	build build
	cd build && ctest --output-on-failure -j2
	;;
test-asan)
	deps $BUILD_PKGS $TEST_PKGS
	build build-asan -DVD_SANITIZE=ON
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j2
	;;
test-tsan)
	# A race report fails the unit test (halt_on_error) or, from the
	# server, the integration test (vdtest.py reads its log).
	deps $BUILD_PKGS $TEST_PKGS
	build build-tsan -DVD_TSAN=ON
	cd build-tsan && export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 &&
		ctest --output-on-failure -j2 -L unit &&
		ctest --output-on-failure -j2 -R '^integration/test_(workers|reload)$'
	;;
bench)
	deps $BUILD_PKGS $TEST_PKGS
	build build
	exec bench/run.sh build/vpcdns
	;;
*)
	sed -n '2,10p' "$0" >&2
	exit 2
	;;
esac
