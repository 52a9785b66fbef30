#!/usr/bin/env bash
# Build, run and test vpcdns on Debian 12. Installs the packages it needs
# (as root, or through sudo) when they are missing.
#
#   ./dev.sh run         build, then serve conf/vpcdns.yaml on 127.0.0.1:5353
#   ./dev.sh test        build, then run every unit and integration test
#   ./dev.sh test-asan   the same with AddressSanitizer and UBSan
#   ./dev.sh test-tsan   unit, worker and reload tests with ThreadSanitizer
#   ./dev.sh package     build for /usr in build-pkg, then the Debian package
#                        (build-pkg/vpcdns_<version>_<arch>.deb) and lintian
#   ./dev.sh bench       build, then run the benchmarks in bench/
#   ./dev.sh fuzz [SECS] clang build with ASan+UBSan in every library, then
#                        each libFuzzer target for SECS seconds (default 45)
set -euo pipefail
cd "$(dirname "$0")"

BUILD_PKGS="build-essential cmake pkg-config libldns-dev libuv1-dev libssl-dev
  libcmocka-dev libyaml-dev libjansson-dev libmicrohttpd-dev libfstrm-dev libprotobuf-c-dev
  protobuf-c-compiler golang-github-dnstap-golang-dnstap-dev libsystemd-dev"
TEST_PKGS="python3 nsd unbound ldnsutils bind9-dnsutils knot-dnsutils dnsperf clang-format
  openssl procps iproute2 curl prometheus systemd dpkg-dev lintian"
# cpack -G DEB computes dependencies with dpkg-shlibdeps (dpkg-dev).
PKG_PKGS="dpkg-dev lintian"
# clang-14 has libFuzzer and the sanitizer runtimes in libclang-rt-14-dev,
# which it only recommends.
FUZZ_PKGS="clang libclang-rt-14-dev"
# Seeds for the packet targets (read only: copied before fuzzing).
FUZZ_CORPUS=../shared/corpus/cznic-dns-fuzzing/packet

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

# Runs every build-fuzz/fuzz/fuzz_* for $1 seconds from a copy of its
# seeds in a temporary folder; one line per target; fails on any crash,
# sanitizer report, leak or timeout, keeping the input that caused it in
# build-fuzz/fuzz-crashes/.
fuzz_all() {
	local secs=$1 work fail=0 bin t seeds rc start runs
	work=$(mktemp -d "${TMPDIR:-/tmp}/vd-fuzz.XXXXXX")
	trap "rm -rf '$work'" EXIT
	for bin in "$PWD"/build-fuzz/fuzz/fuzz_*; do
		t=${bin##*/fuzz_}
		seeds=$FUZZ_CORPUS
		[ "$t" = zone ] && seeds=tests/unit/data/zone
		[ "$t" = fwlist ] && seeds=tests/unit/data/fwlist
		# Targets with seeds of their own in the tree (fuzz/seeds/<target>).
		[ -d "fuzz/seeds/$t" ] && seeds=fuzz/seeds/$t
		mkdir -p "$work/$t/corpus"
		if [ -d "$seeds" ]; then
			cp -r "$seeds"/. "$work/$t/corpus/"
		else
			echo "fuzz_$t: no seed corpus ($seeds not found): starting from an empty one"
		fi
		start=$SECONDS
		rc=0
		(cd "$work/$t" && ASAN_OPTIONS=detect_leaks=1 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			"$bin" -max_total_time="$secs" -timeout=25 -print_final_stats=1 \
			-artifact_prefix="$work/$t/" corpus) >"$work/$t/log" 2>&1 || rc=$?
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log")
		if [ "$rc" -eq 0 ]; then
			printf 'fuzz_%-9s ok      %10s runs in %3d s\n' "$t" "${runs:-?}" $((SECONDS - start))
			continue
		fi
		fail=1
		printf 'fuzz_%-9s FAILED  %10s runs in %3d s (exit %d)\n' "$t" "${runs:-?}" $((SECONDS - start)) "$rc"
		mkdir -p build-fuzz/fuzz-crashes
		cp "$work/$t"/crash-* "$work/$t"/leak-* "$work/$t"/timeout-* "$work/$t"/oom-* \
			build-fuzz/fuzz-crashes/ 2>/dev/null || true
		grep -v '^#[0-9]* *\(NEW\|REDUCE\|pulse\|INITED\|RELOAD\)' "$work/$t/log" | tail -n 60
	done
	[ "$fail" -eq 0 ] || echo "dev.sh: fuzzing found a failure; inputs in build-fuzz/fuzz-crashes/" >&2
	return "$fail"
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
	# tests/tsan.supp: descriptors libuv closes behind TSan's back.
	cd build-tsan &&
		export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/../tests/tsan.supp" &&
		ctest --output-on-failure -j2 -L unit &&
		ctest --output-on-failure -j2 -R '^integration/test_(workers|reload|reload_reuse|http|qlog|ctl|loop)$'
	;;
package)
	deps $BUILD_PKGS $PKG_PKGS
	build build-pkg -DCMAKE_INSTALL_PREFIX=/usr -DVD_TESTS=OFF
	rm -f build-pkg/vpcdns_*.deb
	(cd build-pkg && cpack -G DEB)
	lintian --allow-root --fail-on error build-pkg/vpcdns_*.deb
	ls -l build-pkg/vpcdns_*.deb
	;;
bench)
	deps $BUILD_PKGS $TEST_PKGS
	build build
	bench/run.sh build/vpcdns
	exec bench/qlog.sh build/vpcdns
	;;
fuzz)
	secs=${2:-45}
	if ! [[ $secs =~ ^[1-9][0-9]*$ ]]; then
		echo "dev.sh: fuzz: SECS must be a positive number of seconds" >&2
		exit 2
	fi
	deps $BUILD_PKGS $FUZZ_PKGS
	build build-fuzz -DCMAKE_C_COMPILER=clang -DVD_FUZZ=ON
	(cd build-fuzz && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest -L fuzz --output-on-failure -j2)
	fuzz_all "$secs"
	;;
*)
	sed -n '2,12p' "$0" >&2
	exit 2
	;;
esac
