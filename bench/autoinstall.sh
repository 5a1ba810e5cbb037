#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Benchmark 1 (and 4): `autoinstall -k <new kernel>` of real modules from Debian's *-dkms packages, Debian's
# dkms 3.0.10 and ours on separate trees with the same sources, in one run, alternating which goes first.
# Prints wall and user+sys CPU seconds of each run, the medians, the ratio ours/theirs (target <= 0.78) and
# our wall time against our CPU-seconds / cores (target within 10%). During each autoinstall a sampler reads
# VmHWM of every dkms process of that run (our engine and its forks, before they exec make) every 50 ms:
# the peak RSS of our engine, compilers excluded (target <= 16 MiB).
#
# Usage: bench/autoinstall.sh [-n RUNS] [--upgrade PREV] [--probe] [--keep]
#   -n RUNS   timed runs of each implementation (default 1; each takes about 1.5-2 min per implementation)
#   --upgrade PREV  a kernel upgrade: first (untimed) both build and install every module for kernel PREV,
#             then each timed run is the autoinstall for $KVER, the newly installed kernel; between runs
#             both trees lose their $KVER builds again. Without it, every module is only added.
#   --probe   build every candidate package once with our dkms and say which build for $KVER, then exit
#   --keep    keep the trees (printed) instead of deleting them
# Environment: DKMS (our binary), KVER (default 6.1.0-55-amd64), PKGS (packages to use instead of the
# default list), CANDIDATES (packages for --probe), LOAD_MAX / LOAD_WAIT (see lib.sh).
source "$(dirname "$0")/lib.sh"

# The packages that build for 6.1.0-55-amd64 with both implementations (found with --probe; see RESULTS.md).
DEFAULT_PKGS="acpi-call-dkms v4l2loopback-dkms ddcci-dkms digimend-dkms evdi-dkms dm-writeboost-dkms
openvpn-dco-dkms jool-dkms xtables-addons-dkms bbswitch-dkms gost-crypto-dkms vpoll-dkms apfs-dkms
nat-rtsp-dkms rapiddisk-dkms rtpengine-kernel-dkms tp-smapi-dkms xtrx-dkms adv-17v35x-dkms langford-dkms
falcosecurity-scap-dkms"
# Every candidate tried by --probe.
CANDIDATES=${CANDIDATES:-"acpi-call-dkms v4l2loopback-dkms ddcci-dkms digimend-dkms evdi-dkms dm-writeboost-dkms
openvpn-dco-dkms jool-dkms xtables-addons-dkms bbswitch-dkms dahdi-dkms gost-crypto-dkms iptables-netflow-dkms
librem-ec-acpi-dkms vpoll-dkms lime-forensics-dkms apfs-dkms nat-rtsp-dkms openrazer-driver-dkms
rapiddisk-dkms rtpengine-kernel-dkms tp-smapi-dkms west-chamber-dkms xtrx-dkms adv-17v35x-dkms langford-dkms
falcosecurity-scap-dkms"}

RUNS=1
PROBE=
KEEP=
PREV=
while (($#)); do
	case $1 in
	-n) RUNS=$2; shift ;;
	--upgrade) PREV=$2; shift ;;
	--probe) PROBE=1 ;;
	--keep) KEEP=1 ;;
	*) die "usage: $0 [-n RUNS] [--upgrade PREV] [--probe] [--keep]" ;;
	esac
	shift
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "-n wants a positive number"
[[ -d /usr/src/linux-headers-$KVER ]] || die "kernel headers for $KVER are not installed"
[[ -z $PREV || -d /usr/src/linux-headers-$PREV ]] || die "kernel headers for $PREV are not installed"
[[ $PREV != "$KVER" ]] || die "--upgrade wants another kernel than $KVER"

W=$(mktemp -d /tmp/dkms-bench-ai.XXXXXX)
if [[ -n $KEEP ]]; then
	trap 'echo "trees kept in $W"' EXIT
else
	trap 'rm -rf "$W"' EXIT
fi

# The module file names installed for KVER under a tree (sorted, one per line).
installed_kos() { # dir
	installed_kos_k "$1" "$KVER"
}
installed_kos_k() { # dir kver
	(cd "$1/lib/modules/$2" 2>/dev/null &&
		find . -name '*.ko*' -path '*/updates/*' | sed 's|.*/||' | sort)
}

# --probe: every candidate, one at a time, with our dkms; prints one line per package and keeps the logs.
probe() {
	local p t dirs d out rc n
	for p in $CANDIDATES; do
		t=$W/probe/$p
		bench_trees "$t" "$KVER"
		bench_mok "$t/dkms"
		dirs=$(pkg_src "$p" "$t/src") || exit 1
		for d in $dirs; do
			if ! ours "$t" add "$t/src/$d" >"$t/add.log" 2>&1; then
				echo "probe: $p: add $d failed: $(tail -1 "$t/add.log")"
				continue 2
			fi
		done
		ours "$t" autoinstall -k "$KVER" >"$t/out.log" 2>&1
		rc=$?
		n=$(installed_kos "$t" | wc -l)
		if ((rc == 0 && n > 0)); then
			echo "probe: $p: ok ($dirs: $n module files: $(installed_kos "$t" | tr '\n' ' '))"
		elif ((rc == 0)); then
			echo "probe: $p: not installed by autoinstall ($dirs: no AUTOINSTALL=yes in its dkms.conf?)"
		else
			out=$(grep -v '^ *$' "$t/out.log" | tail -3 | tr '\n' ' ')
			echo "probe: $p: FAILED ($dirs) exit $rc, $n module files; $out"
			for d in "$t"/dkms/*/*/"$KVER"/*/log/make.log "$t"/dkms/.build/*/*/*/*/make.log; do
				[[ -f $d ]] || continue
				echo "  log $d: $(grep -m3 -E 'error|Error' "$d" | tr '\n' ' ' | cut -c1-400)"
			done
		fi
	done
}

# The trees of run N: $W/runN, or $W/run1 for every run of an upgrade.
rundir() { # run
	if [[ -n $PREV ]]; then echo "$W/run1"; else echo "$W/run$1"; fi
}

# A fresh pair of trees with the same sources, every module added: $W/run$1/{ours,theirs}.
prepare() { # run
	local r=$(rundir "$1") p d
	rm -rf "$r"
	for side in ours theirs; do
		bench_trees "$r/$side" "$KVER" $PREV
	done
	debian_dkms "$r/theirs" >/dev/null
	bench_mok "$r/ours/dkms" "$r/theirs/dkms"
	for p in $PKGS; do
		for d in $(pkg_src "$p" "$r/ours/src"); do
			cp -a "$r/ours/src/$d" "$r/theirs/src/"
			ours "$r/ours" add "$r/ours/src/$d" >>"$r/add.log" 2>&1 ||
				die "ours: add $d failed (see $r/add.log)"
			theirs "$r/theirs" add "$r/theirs/src/$d" >>"$r/add.log" 2>&1 ||
				die "Debian's dkms: add $d failed (see $r/add.log)"
			MODS+=" $d"
		done
	done
	[[ -n $PREV ]] || return 0
	echo "upgrade: building and installing every module for $PREV first (untimed)"
	ours "$r/ours" autoinstall -k "$PREV" >"$r/prev-ours.log" 2>&1 ||
		die "ours: autoinstall -k $PREV failed (see $r/prev-ours.log)"
	theirs "$r/theirs" autoinstall -k "$PREV" >"$r/prev-theirs.log" 2>&1 ||
		die "Debian's dkms: autoinstall -k $PREV failed (see $r/prev-theirs.log)"
	[[ $(installed_kos_k "$r/ours" "$PREV") == "$(installed_kos_k "$r/theirs" "$PREV")" ]] ||
		die "the two installed different modules for $PREV"
}

# Upgrade mode: both trees back to "$KVER newly installed": its builds, links and modules gone.
reset_kver() { # run
	local t
	for t in "$(rundir "$1")/ours" "$(rundir "$1")/theirs"; do
		rm -rf "$t"/dkms/*/*/"$KVER" "$t"/dkms/*/kernel-"$KVER"-* "$t/dkms/.build" \
			"$t/lib/modules/$KVER/updates"
		depmod -b "$t" "$KVER" 2>/dev/null
	done
}

# Background sampler: every 50 ms, the VmHWM (KiB) of each process named $2 whose command line names the
# tree $1; keeps the largest in $3. Builtins only, so a pass costs about a millisecond of CPU.
rss_sampler() { # tree comm outfile stopfile
	local tree=$1 comm=$2 out=$3 stop=$4 max=0 d c k v n=0
	local -a args
	while [[ -e $stop ]]; do
		for d in /proc/[0-9]*; do
			read -r c <"$d/comm" || continue
			[[ $c == "$comm" ]] || continue
			mapfile -d '' args <"$d/cmdline" || continue
			[[ " ${args[*]} " == *"$tree/dkms "* ]] || continue
			while read -r k v _; do
				[[ $k == VmHWM: ]] && ((v > max)) && max=$v && break
			done <"$d/status"
		done 2>/dev/null
		n=$((n + 1))
		sleep 0.05
	done
	echo "$max $n" >"$out"
}

# One timed autoinstall of one implementation; appends to the result arrays.
run_one() { # run side
	local r side=$2 t load comm stop rss
	r=$(rundir "$1")
	t=$r/$2
	load=$(wait_load)
	comm=dkms
	[[ $side == theirs ]] && comm=dkms-debian
	stop=$r/$side.sampling
	touch "$stop"
	rss_sampler "$t" "$comm" "$r/$side.rss" "$stop" &
	local spid=$! m0 m1
	m0=$(machine_cpu)
	if [[ $side == ours ]]; then
		ours_cmd "$t"
		TIMED_OUT=$r/ours.out timed env DKMS_REPORT_RSS=1 "${CMD[@]}" \
			autoinstall -k "$KVER" -j "$NPROC"
	else
		theirs_cmd "$t"
		TIMED_OUT=$r/theirs.out timed "${CMD[@]}" autoinstall -k "$KVER" --no-depmod
	fi
	m1=$(machine_cpu)
	rm -f "$stop"
	wait "$spid"
	read -r rss _ <"$r/$side.rss"
	local cpu n others
	cpu=$(awk -v u="$UTIME" -v s="$STIME" 'BEGIN { printf "%.2f", u + s }')
	others=$(awk -v a="$m0" -v b="$m1" -v c="$cpu" \
		'BEGIN { o = b - a - c; printf "%.1f", o < 0 ? 0 : o }')
	n=$(installed_kos "$t" | wc -l)
	printf 'run %d %-6s load=%s wall=%6.2fs cpu=%7.2fs (user %.2f sys %.2f)' \
		"$1" "$side" "$load" "$WALL" "$cpu" "$UTIME" "$STIME"
	printf ' other-processes-cpu=%.1fs exit=%d installed=%d .ko' "$others" "$RC" "$n"
	if [[ $side == ours ]]; then
		local self
		self=$(sed -n 's/^dkms: peak RSS of this process: \([0-9]*\) KiB/\1/p' "$r/ours.out" |
			tail -1)
		printf ' engine-peak-rss=%sKiB sampled-max-VmHWM=%sKiB' "${self:-?}" "$rss"
		OURS_WALL+=("$WALL") OURS_CPU+=("$cpu") OURS_RSS+=("$rss") OURS_SELF+=("${self:-0}")
	else
		printf ' sampled-max-VmHWM(bash)=%sKiB' "$rss"
		THEIRS_WALL+=("$WALL") THEIRS_CPU+=("$cpu")
	fi
	echo
	LOADS+=("$load")
	((RC == 0)) || echo "warning: $side autoinstall exited $RC (output: $r/$side.out)"
}

if [[ -n $PROBE ]]; then
	KEEP=1
	trap 'echo "probe trees and logs kept in $W"' EXIT
	probe
	exit 0
fi

PKGS=${PKGS:-$DEFAULT_PKGS}
OURS_WALL=() OURS_CPU=() OURS_RSS=() OURS_SELF=() THEIRS_WALL=() THEIRS_CPU=() LOADS=()
machine
echo "kernel: $KVER, runs: $RUNS, parallel jobs: $NPROC (ours -j $NPROC; Debian's parallel_jobs=$NPROC)"
[[ -n $PREV ]] && echo "scenario: upgrade from $PREV (every module built and installed there) to $KVER"
for ((i = 1; i <= RUNS; i++)); do
	if [[ -n $PREV && $i -gt 1 ]]; then
		# one prepared pair serves every run (its links are absolute: it stays where it is)
		reset_kver "$i"
	else
		MODS=
		prepare "$i"
	fi
	((i == 1)) && echo "modules ($(wc -w <<<"$MODS")):$MODS"
	if ((i % 2)); then order="theirs ours"; else order="ours theirs"; fi
	for side in $order; do
		run_one "$i" "$side"
	done
	a=$(installed_kos "$(rundir "$i")/ours")
	b=$(installed_kos "$(rundir "$i")/theirs")
	if [[ $a != "$b" ]]; then
		echo "warning: run $i: the installed module files differ:"
		diff <(echo "$b") <(echo "$a") | sed 's/^/  /'
	fi
	[[ -n $KEEP || -n $PREV ]] || rm -rf "$W/run$i"
done

ow=$(median "${OURS_WALL[@]}")
tw=$(median "${THEIRS_WALL[@]}")
oc=$(median "${OURS_CPU[@]}")
tc=$(median "${THEIRS_CPU[@]}")
bound=$(awk -v c="$oc" -v n="$NPROC" 'BEGIN { printf "%.2f", c / n }')
r1=$(ratio "$ow" "$tw")
r2=$(ratio "$ow" "$bound")
rss=$(printf '%s\n' "${OURS_RSS[@]}" "${OURS_SELF[@]}" | sort -n | tail -1)
echo "median wall: ours ${ow}s, theirs ${tw}s; median CPU (user+sys): ours ${oc}s, theirs ${tc}s"
echo "loads at start of the timed runs: ${LOADS[*]}"
echo "ratio wall ours/theirs: $r1 (target <= 0.78: $(verdict "$r1" 0.78))"
echo "ratio wall ours / (ours CPU-seconds / $NPROC cores = ${bound}s): $r2" \
	"(target <= 1.10: $(verdict "$r2" 1.10))"
echo "peak RSS of our engine (max VmHWM of dkms processes, compilers excluded): ${rss} KiB" \
	"= $(awk -v k="$rss" 'BEGIN { printf "%.2f", k / 1024 }') MiB" \
	"(target <= 16 MiB: $(verdict "$rss" 16384))"
