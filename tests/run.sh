#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The whole test suite, on Debian 12 as root:
#   1. installs what the tests need (scripts/deps.sh --tests),
#   2. builds with -Werror and runs the Criterion unit tests,
#   3. checks the source tarball with make distcheck (build, check, install, uninstall in a scratch prefix),
#   4. builds again with AddressSanitizer + UndefinedBehaviorSanitizer and runs the unit tests,
#   5. runs the integration scenarios (tests/integration/*.sh) with the sanitized dkms, on temporary
#      trees against the real Debian kernel headers and real *-dkms module packages,
#   6. runs a few of them again with the -Werror build's dkms under valgrind memcheck,
#   7. runs each libFuzzer harness of fuzz/ for a bounded time (scripts/fuzz.sh --ci, clang).
# Ends with "N passed, N failed" and a non-zero exit when anything failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

scripts/deps.sh --tests || exit 1
[[ -x configure && configure -nt configure.ac ]] || autoreconf -fi || exit 1

jobs=$(nproc)
passed=0 failed=0
failures=()

build() { # dir, extra configure args...
	local dir=$1
	shift
	mkdir -p "$dir"
	(cd "$dir" && { [[ -f Makefile ]] || "$top/configure" -q --enable-werror --disable-shared "$@"; } &&
		make -s -j"$jobs" && make -s -j"$jobs" check TESTS=) >"$dir/build.log" 2>&1 || {
		echo "build in $dir failed:"
		tail -40 "$dir/build.log"
		exit 1
	}
}

# One result of a step that started at $start: counted, printed, and a failure's log tail shown.
tally() { # exit-status tag name failure-label log
	if (($1 == 0)); then
		passed=$((passed + 1))
		echo "[$2] $3: ok ($((SECONDS - start)) s)"
	else
		failed=$((failed + 1))
		failures+=("$4")
		echo "[$2] $3: FAILED ($((SECONDS - start)) s), log $5:"
		tail -40 "$5"
	fi
}

unit() { # dir, label
	local dir=$1 label=$2 t out
	for t in "$dir"/tests/unit/test-*; do
		[[ -x $t && $t != *.o ]] || continue
		out=$(cd "$dir" && srcdir="$top" "$t" --jobs 1 2>&1)
		local rc=$?
		local syn=$(grep -o 'Tested: [0-9]* | Passing: [0-9]* | Failing: [0-9]* | Crashing: [0-9]*' <<<"$out")
		local ok=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$syn")
		local bad=$(($(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$syn") + $(sed -n 's/.*Crashing: \([0-9]*\)/\1/p' <<<"$syn")))
		passed=$((passed + ${ok:-0}))
		if ((rc != 0 || bad > 0)) || [[ -z $syn ]]; then
			failed=$((failed + (bad > 0 ? bad : 1)))
			failures+=("$label $(basename "$t")")
			echo "$out" | grep -v '^\[----\]' | tail -30
		fi
		echo "[$label] $(basename "$t"): ${syn:-no result (exit $rc)}"
	done
}

echo "== build (-Werror)"
build "$top/build-test" --enable-shared
echo "== unit tests"
unit "$top/build-test" unit

echo "== make distcheck"
start=$SECONDS
make -C "$top/build-test" -s -j"$jobs" distcheck >"$top/build-test/distcheck.log" 2>&1
tally $? dist distcheck "make distcheck" "$top/build-test/distcheck.log"

echo "== build (ASan + UBSan)"
san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1"
build "$top/build-asan" CFLAGS="$san" LDFLAGS="-fsanitize=address,undefined"
export ASAN_OPTIONS=abort_on_error=0:halt_on_error=1:detect_leaks=1:exitcode=99
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=98
echo "== unit tests under sanitizers"
unit "$top/build-asan" asan

echo "== integration tests (sanitized dkms)"
export DKMS="$top/build-asan/dkms"
# The package-manager front ends are loaded by (or run from) uninstrumented programs: the -Werror build's.
export DKMS_RPM_PLUGIN="$top/build-test/plugins/rpm/.libs/dkms.so"
# The alpm hook handler runs chrooted into the pacman root: a static program, the sanitized one.
export DKMS_ALPM_HOOK="$top/build-asan/dkms-alpm-hook"
for t in tests/integration/[0-9]*.sh; do
	name=$(basename "$t" .sh)
	log="$top/build-asan/$name.log"
	start=$SECONDS
	bash "$t" >"$log" 2>&1
	tally $? integration "$name" "integration $name" "$log"
done

echo "== integration tests under valgrind memcheck (the -Werror build's dkms)"
# Errors and definite leaks, in dkms and its forked build children (not in bash or make).
for name in 10-cli 20-hello 30-bad-conf 45-parallel; do
	vgdir="$top/build-test/valgrind/$name"
	rm -rf "$vgdir"
	mkdir -p "$vgdir"
	start=$SECONDS
	DKMS="$top/tests/valgrind-dkms.sh" DKMS_VALGRIND_BIN="$top/build-test/dkms" DKMS_VALGRIND_LOGDIR="$vgdir" \
		bash "tests/integration/$name.sh" >"$vgdir.log" 2>&1
	rc=$?
	# Debian 12's valgrind 3.19 does not know pidfd_open (434, Linux 5.3), which bash.c calls (with a
	# fallback when it fails): its "unhandled syscall" notice is not a memcheck report.
	reports=
	for r in $(find "$vgdir" -type f -size +0); do
		sed -Ei '/^--[0-9]+-- (WARNING: unhandled amd64-linux syscall: 434|You may be able to write your own handler\.|Read the file README_MISSING_SYSCALL_OR_IOCTL\.|Nevertheless we consider this a bug\.  Please report|it at http:\/\/valgrind\.org\/support\/bug_reports\.html\.)$/d' "$r"
		[[ -s $r ]] && reports+=" $r"
	done
	runs=$(find "$vgdir" -type f | wc -l)
	if ((rc == 0 && runs > 0)) && [[ -z $reports ]]; then
		passed=$((passed + 1))
		echo "[valgrind] $name: ok ($((SECONDS - start)) s, $runs runs)"
	else
		failed=$((failed + 1))
		failures+=("valgrind $name")
		echo "[valgrind] $name: FAILED (exit $rc, $((SECONDS - start)) s, $runs runs), log $vgdir.log"
		tail -20 "$vgdir.log"
		for r in $reports; do head -40 "$r"; done
	fi
done

echo "== fuzzing (scripts/fuzz.sh --ci: each harness's seed corpus, then a bounded run)"
fuzz_out=$(scripts/fuzz.sh --ci 2>&1)
fuzz_rc=$?
echo "$fuzz_out"
fuzz_ok=$(grep -c '^\[fuzz\] .*: ok' <<<"$fuzz_out")
fuzz_bad=$(grep -c '^\[fuzz\] .*: FAILED' <<<"$fuzz_out")
((fuzz_rc != 0 && fuzz_bad == 0)) && fuzz_bad=1 # the build failed
passed=$((passed + fuzz_ok))
failed=$((failed + fuzz_bad))
((fuzz_bad == 0)) || failures+=("fuzz ($fuzz_bad)")

echo
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
((failed == 0))
