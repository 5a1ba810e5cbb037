#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Where the autoinstall time goes (ours only, untimed by /usr/bin/time): one `autoinstall -k $KVER -j N` of the
# packages of bench/autoinstall.sh, each output line prefixed with the seconds since the start, and a count of
# compiler processes (cc1, as, ld, objtool, modpost) every 0.2 s: how often 0, 1, 2... cores were compiling.
#
# Usage: bench/timeline.sh   (environment: DKMS, KVER, PKGS as for autoinstall.sh)
source "$(dirname "$0")/lib.sh"

PKGS=${PKGS:-$(sed -n '/^DEFAULT_PKGS="/,/"$/p' "$BENCH/autoinstall.sh" | tr -d '"' | sed 's/^DEFAULT_PKGS=//')}
W=$(mktemp -d /tmp/dkms-bench-tl.XXXXXX)
trap 'rm -rf "$W"' EXIT
t=$W/ours
bench_trees "$t" "$KVER"
bench_mok "$t/dkms"
for p in $PKGS; do
	for d in $(pkg_src "$p" "$t/src"); do
		ours "$t" add "$t/src/$d" >/dev/null 2>&1 || die "add $d failed"
	done
done
machine
echo "load at start: $(wait_load)"
(
	while [[ ! -e $W/done ]]; do
		n=0
		for d in /proc/[0-9]*; do
			read -r c <"$d/comm" || continue
			case $c in cc1 | as | ld | objtool | modpost) n=$((n + 1)) ;; esac
		done 2>/dev/null
		echo "$n"
		sleep 0.2
	done >"$W/busy"
) &
t0=$EPOCHREALTIME
ours "$t" autoinstall -k "$KVER" -j "$NPROC" 2>&1 | while IFS= read -r l; do
	printf '%6.2f %s\n' "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" "$l"
done | grep -E 'Building module|\] .*: (done|FAILED|skipped)|depmod'
touch "$W/done"
wait
echo "wall: $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }') s"
echo "compiler processes running (samples every 0.2 s):"
sort -n "$W/busy" | uniq -c | awk -v n="$(wc -l <"$W/busy")" '{ printf "  %d: %d samples (%.0f%%)\n", $2, $1, 100 * $1 / n }'
