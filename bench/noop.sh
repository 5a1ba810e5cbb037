#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Benchmark 3: the no-op path, `kernel_postinst -k K` when every module is already installed for K (the tree
# of bench/status.sh: 20 modules x 3 kernels, all installed). Median of RUNS runs of ours (target <= 20 ms),
# and, for comparison, Debian's dkms 3.0.10 doing what its /etc/kernel/postinst.d/dkms hook does for a new
# kernel (`autoinstall -k K`; 3.0.10 has no kernel_postinst command).
#
# Usage: bench/noop.sh [-n RUNS] [-r THEIR_RUNS] [-m MODULES]   (defaults: 50, 10, 20)
# Environment: DKMS (our binary), LOAD_MAX / LOAD_WAIT (see lib.sh).
source "$(dirname "$0")/lib.sh"

RUNS=50
TRUNS=10
NMOD=20
while (($#)); do
	case $1 in
	-n) RUNS=$2; shift ;;
	-r) TRUNS=$2; shift ;;
	-m) NMOD=$2; shift ;;
	*) die "usage: $0 [-n RUNS] [-r THEIR_RUNS] [-m MODULES]" ;;
	esac
	shift
done
KERNELS=(6.1.0-55-amd64 6.1.0-56-amd64 6.1.0-54-amd64)
K=${KERNELS[0]}

W=$(mktemp -d /tmp/dkms-bench-noop.XXXXXX)
trap 'rm -rf "$W"' EXIT
fake_tree "$W/ours" "$NMOD" "${KERNELS[@]}"
fake_tree "$W/theirs" "$NMOD" "${KERNELS[@]}"
debian_dkms "$W/theirs" >/dev/null

machine
# Snapshot of each tree: a no-op must change nothing (modules.dep included: no depmod when nothing changed
# is not required, so only the dkms tree and the module files are compared).
snap() { # dir
	(cd "$1" && find dkms lib/modules -path '*/build' -prune -o -newer "$W/stamp" -print | sort)
}
touch "$W/stamp"
sleep 1
ours "$W/ours" kernel_postinst -k "$K" >"$W/ours.out" 2>&1 ||
	die "ours: kernel_postinst -k $K failed: $(cat "$W/ours.out")"
theirs "$W/theirs" autoinstall -k "$K" --no-depmod >"$W/theirs.out" 2>&1 ||
	die "Debian's dkms: autoinstall -k $K failed: $(cat "$W/theirs.out")"
echo "ours printed: $(tr '\n' ' ' <"$W/ours.out")"
echo "theirs printed: $(tr '\n' ' ' <"$W/theirs.out")"
echo "files changed by ours: $(snap "$W/ours" | grep -v 'modules\.' | tr '\n' ' ')"
echo "files changed by theirs: $(snap "$W/theirs" | grep -v 'modules\.' | tr '\n' ' ')"

load=$(wait_load)
echo "load before the runs: $load"
OURS=() THEIRS=()
ours_cmd "$W/ours"
for ((i = 1; i <= RUNS; i++)); do
	timed_us "${CMD[@]}" kernel_postinst -k "$K"
	((RC == 0)) || die "ours: kernel_postinst exited $RC"
	OURS+=("$WALL")
done
theirs_cmd "$W/theirs"
for ((i = 1; i <= TRUNS; i++)); do
	timed_us "${CMD[@]}" autoinstall -k "$K" --no-depmod
	THEIRS+=("$WALL")
done
echo "load after the runs: $(load1)"
o=$(median "${OURS[@]}")
t=$(median "${THEIRS[@]}")
oms=$(awk -v s="$o" 'BEGIN { printf "%.2f", s * 1000 }')
echo "ours   kernel_postinst (ms): $(printf '%s\n' "${OURS[@]}" | awk '{ printf "%.1f ", $1 * 1000 }')"
echo "theirs autoinstall     (ms): $(printf '%s\n' "${THEIRS[@]}" | awk '{ printf "%.0f ", $1 * 1000 }')"
tms=$(awk -v s="$t" 'BEGIN { printf "%.1f", s * 1000 }')
echo "median no-op: ours ${oms} ms ($RUNS runs), theirs ${tms} ms ($TRUNS runs)"
echo "ratio no-op ours/theirs: $(ratio "$o" "$t")"
echo "no-op ours: ${oms} ms (target <= 20 ms: $(verdict "$oms" 20))"
