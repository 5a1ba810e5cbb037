#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the bench/ scripts: private trees for both implementations, Debian's dkms 3.0.10 unpacked from
# its package, the real module packages, load checks, timing and medians.
# Nothing here touches the machine's /var/lib/dkms, /etc/dkms or /lib/modules.
set -uo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$BENCH/.." && pwd)
# Our dkms binary: DKMS=/path/to/dkms, else the first built one found.
if [[ -z ${DKMS:-} ]]; then
	for c in "$TOP/build/dkms" /tmp/build-bench/dkms; do
		[[ -x $c ]] && DKMS=$c && break
	done
fi
DKMS=${DKMS:-$TOP/build/dkms}
KVER=${KVER:-6.1.0-55-amd64}
ARCH=$(uname -m)
NPROC=$(nproc)
CACHE=${DKMS_TEST_CACHE:-/var/cache/dkms-ng-tests}
# Wait for the 1-minute load average to fall below LOAD_MAX before a timed run, at most LOAD_WAIT seconds.
LOAD_MAX=${LOAD_MAX:-0.5}
LOAD_WAIT=${LOAD_WAIT:-240}

die() {
	echo "bench: $*" >&2
	exit 1
}

[[ -x $DKMS ]] || die "no dkms binary at $DKMS: build one (see bench/README.md) and set DKMS=/path/to/dkms"

# Fresh trees for one implementation under $1: dkms/, src/, etc/, lib/modules/<kver>/build -> real headers.
# More kernels may follow; one without installed headers gets an empty directory (enough for status).
bench_trees() { # dir kver...
	local t=$1 k
	shift
	mkdir -p "$t/dkms" "$t/src" "$t/etc"
	for k in "$@"; do
		mkdir -p "$t/lib/modules/$k/kernel"
		touch "$t/lib/modules/$k/"{modules.order,modules.builtin,modules.builtin.modinfo}
		[[ -d /usr/src/linux-headers-$k ]] &&
			ln -s "/usr/src/linux-headers-$k" "$t/lib/modules/$k/build"
		depmod -b "$t" "$k" 2>/dev/null || die "depmod -b $t $k"
	done
}

# One signing key for both implementations (made as Debian's dkms makes it), so that neither run times
# key generation and both sign with the same key.
bench_mok() { # dir to copy mok.key/mok.pub into...
	local key=$CACHE/bench-mok.key cert=$CACHE/bench-mok.pub d
	if [[ ! -s $key || ! -s $cert ]]; then
		mkdir -p "$CACHE"
		openssl req -new -x509 -nodes -days 36500 -subj "/CN=DKMS bench module signing key" \
			-newkey rsa:2048 -keyout "$key" -outform DER -out "$cert" >/dev/null 2>&1 ||
			die "openssl could not make a signing key"
	fi
	for d in "$@"; do
		install -m 0600 "$key" "$d/mok.key"
		install -m 0644 "$cert" "$d/mok.pub"
	done
}

# Debian's dkms 3.0.10, unpacked (not installed), its fixed /etc/dkms replaced by <dir>/etc/debian whose
# framework.conf points the signing key into <dir>/dkms and sets parallel_jobs to the CPU count (its default,
# made explicit). Prints the path of the runnable script.
debian_dkms() { # dir
	local t=$1 deb dir=$CACHE/dkms-3.0.10
	if [[ ! -x $dir/usr/sbin/dkms ]]; then
		mkdir -p "$CACHE"
		deb=$(ls "$CACHE"/dkms_3.0.10*.deb 2>/dev/null | head -1)
		if [[ -z $deb ]]; then
			(cd "$CACHE" && apt-get download -q dkms=3.0.10-8+deb12u1 >/dev/null 2>&1) ||
				die "apt-get download dkms"
			deb=$(ls "$CACHE"/dkms_3.0.10*.deb | head -1)
		fi
		rm -rf "$dir"
		dpkg-deb -x "$deb" "$dir" || die "dpkg-deb -x $deb"
	fi
	mkdir -p "$t/etc/debian"
	printf 'mok_signing_key=%s\nmok_certificate=%s\nparallel_jobs=%s\n' \
		"$t/dkms/mok.key" "$t/dkms/mok.pub" "$NPROC" >"$t/etc/debian/framework.conf"
	sed "s|/etc/dkms|$t/etc/debian|g" "$dir/usr/sbin/dkms" >"$t/dkms-debian"
	chmod +x "$t/dkms-debian"
	echo "$t/dkms-debian"
}

# Our dkms and Debian's, each on the trees under its directory. Output goes where the caller sends it.
# ours_cmd / theirs_cmd set CMD to the command line (for /usr/bin/time, which runs no shell function).
ours_cmd() { # dir
	CMD=("$DKMS" --dkmstree "$1/dkms" --sourcetree "$1/src" --installtree "$1/lib/modules"
		--confdir "$1/etc")
}
theirs_cmd() { # dir
	CMD=("$1/dkms-debian" --dkmstree "$1/dkms" --sourcetree "$1/src" --installtree "$1/lib/modules")
}
ours() { # dir args...
	local CMD
	ours_cmd "$1"
	shift
	"${CMD[@]}" "$@"
}
theirs() { # dir args...
	local CMD
	theirs_cmd "$1"
	shift
	"${CMD[@]}" "$@"
}

# The .deb of a *-dkms package in the shared cache, downloaded once.
pkg_deb() { # package
	local p=$1 deb
	deb=$(ls "$CACHE/${p}"_*.deb 2>/dev/null | head -1)
	if [[ -z $deb ]]; then
		mkdir -p "$CACHE"
		(cd "$CACHE" && apt-get download -q "$p" >/dev/null 2>&1) || die "apt-get download $p"
		deb=$(ls "$CACHE/${p}"_*.deb | head -1)
	fi
	echo "$deb"
}

# Unpack a *-dkms package's sources into <src>; prints the <name>-<version> directories it holds.
pkg_src() { # package srcdir
	local deb tmp s
	deb=$(pkg_deb "$1") || exit 1
	tmp=$(mktemp -d)
	dpkg-deb -x "$deb" "$tmp" || die "dpkg-deb -x $deb"
	for s in "$tmp"/usr/src/*/; do
		s=${s%/}
		[[ -f $s/dkms.conf ]] || continue
		cp -a "$s" "$2/"
		basename "$s"
	done
	rm -rf "$tmp"
}

load1() {
	cut -d' ' -f1 /proc/loadavg
}

# Wait (at most LOAD_WAIT s) for the 1-minute load to drop below LOAD_MAX; prints the load we start at.
wait_load() {
	local waited=0
	while awk -v l="$(load1)" -v m="$LOAD_MAX" 'BEGIN { exit !(l >= m) }' && ((waited < LOAD_WAIT)); do
		sleep 5
		waited=$((waited + 5))
	done
	echo "$(load1)"
}

# Run a command under /usr/bin/time; sets WALL, UTIME, STIME (seconds; of the whole process tree that the
# command waited for) and RC. The command's own output goes to $TIMED_OUT (default /dev/null).
timed() {
	local tf
	tf=$(mktemp)
	/usr/bin/time -f '%e %U %S' -o "$tf" "$@" >"${TIMED_OUT:-/dev/null}" 2>&1
	RC=$?
	read -r WALL UTIME STIME < <(tail -1 "$tf")
	rm -f "$tf"
}

# Wall-clock seconds of one command, from bash's own microsecond clock (no fork around the command: for the
# short runs where /usr/bin/time's 10 ms resolution is too coarse). Sets WALL and RC.
timed_us() {
	local t0 t1
	t0=$EPOCHREALTIME
	"$@" >"${TIMED_OUT:-/dev/null}" 2>&1
	RC=$?
	t1=$EPOCHREALTIME
	WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
}

median() { # numbers...
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) printf "%.4f\n", v[(NR + 1) / 2]
		else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() { # a b: a/b
	awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.4f\n", a / b }'
}

# "ok" or "MISSED" for value <= target.
verdict() { # value target
	awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "ok" : "MISSED" }'
}

machine() {
	local cpu
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	echo "machine: nproc=$NPROC cpu=\"$cpu\"" \
		"kernel=$(uname -r) date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "ours: $DKMS ($("$DKMS" --version 2>&1 | tail -1))"
}

# A hand-made tree where every module is added, built and installed for every kernel given, without any
# build: sources with a dkms.conf naming the module, <m>/<v>/<kver>/<arch>/{module,log}, the
# kernel-<kver>-<arch> link, and the same module file in lib/modules/<kver>/updates/dkms.
# Modules are bench-mod01... version 1.0.
fake_tree() { # dir count kver...
	local t=$1 n=$2 i m k b
	shift 2
	bench_trees "$t" "$@"
	for ((i = 1; i <= n; i++)); do
		printf -v m 'bench-mod%02d' "$i"
		mkdir -p "$t/src/$m-1.0"
		cat >"$t/src/$m-1.0/dkms.conf" <<EOC
PACKAGE_NAME="$m"
PACKAGE_VERSION="1.0"
BUILT_MODULE_NAME[0]="$m"
DEST_MODULE_LOCATION[0]="/updates/dkms"
MAKE[0]="make -C \${kernel_source_dir} M=\${dkms_tree}/$m/1.0/build modules"
CLEAN="make -C \${kernel_source_dir} M=\${dkms_tree}/$m/1.0/build clean"
AUTOINSTALL="yes"
EOC
		printf 'obj-m := %s.o\n' "$m" >"$t/src/$m-1.0/Makefile"
		mkdir -p "$t/dkms/$m/1.0"
		ln -s "$t/src/$m-1.0" "$t/dkms/$m/1.0/source"
		for k in "$@"; do
			b=$t/dkms/$m/1.0/$k/$ARCH
			mkdir -p "$b/module" "$b/log" "$t/lib/modules/$k/updates/dkms"
			# Not a loadable module: status and the no-op path only look at names and contents.
			printf 'bench module %s for %s\n' "$m" "$k" >"$b/module/$m.ko"
			echo "fabricated by bench/lib.sh" >"$b/log/make.log"
			cp "$b/module/$m.ko" "$t/lib/modules/$k/updates/dkms/$m.ko"
			ln -s "1.0/$k/$ARCH" "$t/dkms/$m/kernel-$k-$ARCH"
		done
	done
}

# CPU-seconds spent by the whole machine so far (user+nice+system+irq+softirq+steal of /proc/stat); the
# difference over a run, minus the run's own CPU-seconds, is what other processes took meanwhile.
machine_cpu() {
	awk -v hz="$(getconf CLK_TCK)" \
		'$1 == "cpu" { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat
}
