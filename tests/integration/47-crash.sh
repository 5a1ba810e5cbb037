#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# kill -9 at 50 moments of an autoinstall of real modules on two kernels: 10 aimed at builds, 10 at the
# moment an install has begun, 30 at random moments of an autoinstall with nothing to build (installs,
# depmod). After each kill: no lock is left held, status still reads the tree, and every module that is
# not complete is covered by a journal record. The next autoinstall then completes, and every module is
# fully installed: its files in updates/dkms identical to the build, the registry link, modules.dep;
# no temporary file anywhere.
source "$(dirname "$0")/lib.sh"
new_trees plain
KILLS=${DKMS_CRASH_KILLS:-50}
BUILD_KILLS=10         # of those, while builds run
AIMED_INSTALL_KILLS=10 # then these, the moment an install has begun; the rest at random moments

add_small_modules
MODS=("${SMALL_MODS[@]}")
tree_args
args=("${TREE_ARGS[@]}")
autoinstall=("$DKMS" "${args[@]}" autoinstall -k "$K1" -k "$K2" -j 2)

# A module is placed on k: the link, and every built file in place with the same bytes;
# complete: placed, and in modules.dep.
placed() { # module kernel [dep]
	local m=$1 k=$2 v f
	[[ -L $T/dkms/$m/kernel-$k-$ARCH ]] || return 1
	v=$(readlink "$T/dkms/$m/kernel-$k-$ARCH" | cut -d/ -f1)
	for f in "$T/dkms/$m/$v/$k/$ARCH/module/"*.ko*; do
		[[ -f $f ]] || return 1
		cmp -s "$f" "$T/lib/modules/$k/updates/dkms/${f##*/}" || return 1
		[[ -z ${3:-} ]] || grep -q "^updates/dkms/${f##*/}:" "$T/lib/modules/$k/modules.dep" || return 1
	done
}
complete() { placed "$1" "$2" dep; }

# A module is absent on k: no link, and none of its files in updates/dkms.
absent() { # module kernel
	local m=$1 k=$2 f
	[[ ! -e $T/dkms/$m/kernel-$k-$ARCH ]] || return 1
	for f in "$T"/dkms/"$m"/*/"$k/$ARCH/module/"*.ko*; do
		[[ -f $f ]] || continue
		[[ ! -e $T/lib/modules/$k/updates/dkms/${f##*/} ]] || return 1
	done
}

state_after_kill() { # iteration
	local i=$1 m k bad=0
	# the lock went with the killed process (its build children die with it)
	for _ in $(seq 50); do
		flock -n "$T/dkms/.lock" true && break
		sleep 0.1
	done
	flock -n "$T/dkms/.lock" true || fail "kill $i: the lock is still held 5 s after kill -9"
	"$DKMS" "${args[@]}" status >/dev/null 2>"$T/status.err" || fail "kill $i: status failed: $(cat "$T/status.err")"
	[[ ! -s $T/status.err ]] || fail "kill $i: status complained: $(cat "$T/status.err")"
	for m in "${MODS[@]}"; do
		for k in "$K1" "$K2"; do
			complete "$m" "$k" && continue
			absent "$m" "$k" && continue
			placed "$m" "$k" && [[ -f $T/dkms/.journal/depmod@$k@$ARCH ]] && continue
			[[ -f $T/dkms/.journal/op@$m@$k@$ARCH ]] && continue
			echo "kill $i: $m on $k is half-installed and no journal record covers it" >&2
			ls -la "$T/lib/modules/$k/updates/dkms" "$T/dkms/$m" >&2
			bad=1
		done
	done
	((bad == 0))
}

state_after_recovery() { # iteration
	local i=$1 m k
	for m in "${MODS[@]}"; do
		for k in "$K1" "$K2"; do
			complete "$m" "$k" || fail "kill $i: after the next autoinstall, $m is not complete on $k"
		done
	done
	local temps
	temps=$(find "$T/lib/modules" "$T/dkms" -name '*.dkms-new' -o -name '*.dkms-tmp.*' -o -name '.*.tmp-[0-9]*' \
		-o -name '.*.old-[0-9]*' -o -name '.ldtarball.*')
	[[ -z $temps ]] || fail "kill $i: temporary files left: $temps"
	[[ ! -e $T/dkms/.journal ]] || fail "kill $i: journal records left: $(ls "$T/dkms/.journal")"
}

# A run with nothing to build: how long installs and depmod take, to aim the kills.
expect_rc 0 autoinstall -k "$K1" -k "$K2"
for m in "${MODS[@]}"; do for k in "$K1" "$K2"; do check "$m complete on $k" complete "$m" "$k"; done; done
uninstall_all() {
	local m k
	for m in "${MODS[@]}"; do for k in "$K1" "$K2"; do
		"$DKMS" "${args[@]}" uninstall "$m" -k "$k" >/dev/null 2>&1 || fail "uninstall $m -k $k"
	done; done
}
uninstall_all
t0=$(date +%s%N)
"${autoinstall[@]}" >/dev/null 2>&1 || fail "autoinstall after uninstall"
install_ms=$((($(date +%s%N) - t0) / 1000000))
echo "an install-only autoinstall takes $install_ms ms"

killed_during_build=0 left_op=0 left_depmod=0
for ((i = 1; i <= KILLS; i++)); do
	if ((i <= BUILD_KILLS)); then
		# rebuild one module on both kernels: kill somewhere in its build or the installs after it
		m=${MODS[$((RANDOM % ${#MODS[@]}))]}
		for k in "$K1" "$K2"; do
			"$DKMS" "${args[@]}" unbuild "$m" -k "$k" >/dev/null 2>&1 || fail "unbuild $m -k $k"
		done
		delay_ms=$((RANDOM % 700))
	else
		uninstall_all
		delay_ms=$((RANDOM % (install_ms + 50)))
	fi
	setsid "${autoinstall[@]}" >"$T/run.log" 2>&1 &
	pid=$!
	if ((i <= BUILD_KILLS)); then
		# aim at the build: wait until its job tree appears, then kill within the next 0.7 s
		for ((w = 0; w < 300; w++)); do
			compgen -G "$T/dkms/.build/*/*/$m" >/dev/null && break
			sleep 0.1
		done
	elif ((i <= BUILD_KILLS + AIMED_INSTALL_KILLS)); then
		# aim at an install: watch (busily, for at most 5 s) for its journal record, then kill at once
		delay_ms=0
		t_end=$((SECONDS + 5))
		until compgen -G "$T/dkms/.journal/op@*" >/dev/null || ((SECONDS > t_end)); do :; done
	fi
	sleep "$(printf '0.%03d' $((delay_ms % 1000)))"
	sleep $((delay_ms / 1000))
	building=0
	compgen -G "$T/dkms/.build/*/*/*" >/dev/null && building=1 # sampled just before the kill
	if kill -9 "$pid" 2>/dev/null; then
		((i <= BUILD_KILLS && building)) && killed_during_build=$((killed_during_build + 1))
	fi
	wait "$pid" 2>/dev/null
	check "kill $i at $delay_ms ms: lock free, status reads, nothing half-made outside the journal" state_after_kill "$i"
	compgen -G "$T/dkms/.journal/op@*" >/dev/null && left_op=$((left_op + 1))
	compgen -G "$T/dkms/.journal/depmod@*" >/dev/null && left_depmod=$((left_depmod + 1))
	"${autoinstall[@]}" >"$T/recover.log" 2>&1 || fail "kill $i: the next autoinstall failed: $(cat "$T/recover.log")"
	check "kill $i: the next autoinstall completes every module" state_after_recovery "$i"
done
echo "kills that landed while a build was running: $killed_during_build of $BUILD_KILLS"
echo "kills that left an install/uninstall record: $left_op; a depmod due: $left_depmod"
check "some kills landed during builds" test "$killed_during_build" -gt 0
check "some kills landed in the middle of an install" test "$left_op" -gt 0
done_ok
