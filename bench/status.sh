#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Benchmark 2: `dkms status` over 20 modules x 3 kernels, all installed (a hand-made tree: registry layout,
# module files, sources with a dkms.conf; no build). Debian's dkms 3.0.10 and ours each on its own copy of
# the same tree; both must print the same lines. Median wall time of RUNS runs each, alternating; ratio
# ours/theirs (target <= 0.01).
#
# Usage: bench/status.sh [-n RUNS] [-m MODULES]   (defaults: 10 runs, 20 modules)
# Environment: DKMS (our binary), LOAD_MAX / LOAD_WAIT (see lib.sh).
source "$(dirname "$0")/lib.sh"

RUNS=10
NMOD=20
while (($#)); do
	case $1 in
	-n) RUNS=$2; shift ;;
	-m) NMOD=$2; shift ;;
	*) die "usage: $0 [-n RUNS] [-m MODULES]" ;;
	esac
	shift
done
# Two kernels with real headers and one without (status needs no headers).
KERNELS=(6.1.0-55-amd64 6.1.0-56-amd64 6.1.0-54-amd64)

W=$(mktemp -d /tmp/dkms-bench-st.XXXXXX)
trap 'rm -rf "$W"' EXIT
fake_tree "$W/ours" "$NMOD" "${KERNELS[@]}"
fake_tree "$W/theirs" "$NMOD" "${KERNELS[@]}"
debian_dkms "$W/theirs" >/dev/null

machine
a=$(ours "$W/ours" status 2>&1)
b=$(theirs "$W/theirs" status 2>&1)
# The trees differ only in their paths; status prints none.
[[ $a == "$b" ]] || {
	diff <(echo "$b") <(echo "$a")
	die "the two implementations print different status lines (above: < Debian's, > ours)"
}
n=$(grep -c ': installed$' <<<"$a")
((n == NMOD * ${#KERNELS[@]})) || die "expected $((NMOD * ${#KERNELS[@]})) installed lines, got $n"
echo "status: $NMOD modules x ${#KERNELS[@]} kernels, both print the same $n lines, e.g.: $(head -1 <<<"$a")"

load=$(wait_load)
echo "load before the runs: $load"
OURS=() THEIRS=()
for ((i = 1; i <= RUNS; i++)); do
	ours_cmd "$W/ours"
	timed_us "${CMD[@]}" status
	OURS+=("$WALL")
	theirs_cmd "$W/theirs"
	timed_us "${CMD[@]}" status
	THEIRS+=("$WALL")
done
echo "load after the runs: $(load1)"
echo "ours   (s): ${OURS[*]}"
echo "theirs (s): ${THEIRS[*]}"
o=$(median "${OURS[@]}")
t=$(median "${THEIRS[@]}")
r=$(ratio "$o" "$t")
echo "median status: ours $(awk -v s="$o" 'BEGIN { printf "%.2f", s * 1000 }') ms," \
	"theirs $(awk -v s="$t" 'BEGIN { printf "%.1f", s * 1000 }') ms"
echo "ratio status ours/theirs: $r (target <= 0.01: $(verdict "$r" 0.01))"
