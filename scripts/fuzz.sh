#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build and run the libFuzzer harnesses of fuzz/ (clang, ASan + UBSan), in build-fuzz/.
#   scripts/fuzz.sh                  build, then run every harness for 60 s
#   scripts/fuzz.sh -t 600 status    run fuzz-status for 10 minutes
#   scripts/fuzz.sh --ci             every harness: its seed corpus, then 25 s of fuzzing;
#                                    one line per harness, exit 1 on any crash
# New inputs go to build-fuzz/corpus/<harness>/ (copy the good ones into fuzz/corpus/<harness>/),
# crashes to build-fuzz/crash/<harness>-*; replay one with build-fuzz/fuzz/fuzz-<harness> FILE.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

ci=false secs=60
while (($#)); do
	case $1 in
	--ci) ci=true secs=${DKMS_FUZZ_SECONDS:-25} ;;
	-t) secs=$2 && shift ;;
	*) break ;;
	esac
	shift
done

b="$top/build-fuzz"
mkdir -p "$b"
[[ -x configure && configure -nt configure.ac ]] || autoreconf -fi >/dev/null 2>&1 || exit 1
if ! (cd "$b" && { [[ -f Makefile ]] || "$top/configure" -q CC=clang --enable-fuzzing --disable-shared \
	--disable-tests --without-rpm-plugin --without-pacman --without-dpkg; } &&
	make -s -j"$(nproc)" fuzz) >"$b/build.log" 2>&1; then
	echo "fuzz: build failed, see $b/build.log:"
	tail -30 "$b/build.log"
	exit 1
fi

harnesses=("$@")
if ((${#harnesses[@]} == 0)); then
	for f in "$b"/fuzz/fuzz-*; do
		[[ -x $f && $f != *.o ]] && harnesses+=("${f##*/fuzz-}")
	done
fi
if ((${#harnesses[@]} == 0)); then
	echo "fuzz: no harness built in $b (configured without --enable-fuzzing? remove $b)"
	exit 1
fi
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
passed=0 failed=0
for h in "${harnesses[@]}"; do
	bin="$b/fuzz/fuzz-$h" seeds="$top/fuzz/corpus/$h" corpus="$b/corpus/$h" log="$b/fuzz-$h.log"
	[[ -x $bin ]] || { echo "fuzz: no harness $h" && exit 1; }
	mkdir -p "$corpus" "$b/crash" "$seeds"
	args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096
		-artifact_prefix="$b/crash/$h-" -print_final_stats=1 "$corpus" "$seeds")
	if $ci; then
		"$bin" "${args[@]}" >"$log" 2>&1
	else
		"$bin" "${args[@]}" 2>&1 | tee "$log"
	fi
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
	if ((rc == 0)); then
		passed=$((passed + 1))
		echo "[fuzz] $h: ok (${runs:-?} runs, ${rate:-?}/s, $cov, corpus $(find "$corpus" "$seeds" -type f | wc -l))"
	else
		failed=$((failed + 1))
		echo "[fuzz] $h: FAILED (exit $rc), log $log:"
		grep -E -A25 '^==[0-9]+==ERROR|runtime error|SUMMARY|^[a-z-]+: ' "$log" | head -40
	fi
done
echo "fuzz: $passed passed, $failed failed"
((failed == 0))
