#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the integration scenarios: temporary trees, the real kernels and module packages, assertions.
# Each scenario is a bash script that sources this file, calls its checks, and exits non-zero on the
# first failed check (set -e semantics are not used: every check says what it expected).
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DKMS=${DKMS:-$TOP/build-test/dkms}
KERNELS=(6.1.0-55-amd64 6.1.0-56-amd64)
K1=${KERNELS[0]}
K2=${KERNELS[1]}
ARCH=$(uname -m)
# Real module packages from Debian's archive, downloaded once and shared by every run.
CACHE=${DKMS_TEST_CACHE:-/var/cache/dkms-ng-tests}
CHECKS=0

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

check() { # description; then the command to run
	local what=$1
	shift
	CHECKS=$((CHECKS + 1))
	if "$@"; then
		echo "check: ok: $what"
	else
		fail "$what (command: $*)"
	fi
}

# The options that point dkms at the scenario's trees, in TREE_ARGS (for runs made without d()).
tree_args() {
	TREE_ARGS=(--dkmstree "$T/dkms" --sourcetree "$T/src" --installtree "$T/lib/modules" --confdir "$T/etc")
}

# Run the dkms under test on the scenario's trees. Output in $OUT, exit code in $RC.
d() {
	tree_args
	OUT=$("$DKMS" "${TREE_ARGS[@]}" "$@" 2>&1)
	RC=$?
	printf '$ dkms %s  [exit %d]\n%s\n' "$*" "$RC" "$OUT"
}

expect_rc() { # code, dkms args...
	local want=$1
	shift
	d "$@"
	CHECKS=$((CHECKS + 1))
	[[ $RC == "$want" ]] || fail "dkms $* exited $RC, expected $want"
	echo "check: ok: dkms $* exits $want"
}

expect_out() { # regex (grep -E) that must match the last output
	CHECKS=$((CHECKS + 1))
	grep -qE -- "$1" <<<"$OUT" || fail "output of the last command does not match /$1/"
	echo "check: ok: output matches /$1/"
}

expect_status() { # exact expected `dkms status` output (lines), status args...
	local want=$1
	shift
	d status "$@"
	CHECKS=$((CHECKS + 1))
	[[ $RC == 0 && $OUT == "$want" ]] || fail "status $* is:
$OUT
expected:
$want"
	echo "check: ok: status $* as expected"
}

# Debian 12's 6.1 kernels do not compress modules (CONFIG_MODULE_COMPRESS_NONE); the second test kernel
# gets one xz-compressed in-tree module, so that it exercises "compression follows the kernel's modules".
declare -A SUF=([$K1]=.ko [$K2]=.ko.xz)

# A real in-tree-like module for K2: tests/data/hello built against K2's headers, xz-compressed; cached.
intree_module() {
	local ko=$CACHE/hello-$K2.ko.xz tmp
	if [[ ! -s $ko ]]; then
		mkdir -p "$CACHE"
		tmp=$(mktemp -d)
		cp "$TOP/tests/data/hello/"* "$tmp/"
		make -s -C "/lib/modules/$K2/build" M="$tmp" modules >/dev/null 2>&1 || fail "building tests/data/hello for $K2"
		xz --check=crc32 -c "$tmp/hello.ko" >"$ko.tmp" && mv "$ko.tmp" "$ko"
		rm -rf "$tmp"
	fi
	echo "$ko"
}

# A fresh set of trees: T/dkms, T/src, T/etc, T/lib/modules/<kver>/build -> real headers, and a
# modules.dep so that the tree looks like a kernel with its image installed.
# `new_trees plain`: no compressed in-tree module for K2 (Debian's dkms 3.0.10 decides compression from the
# machine's /lib/modules/<kver>/modules.dep whatever --installtree says, so side-by-side runs use plain trees).
new_trees() {
	T=$(mktemp -d /tmp/dkms-it.XXXXXX)
	trap 'rm -rf "$T"' EXIT
	mkdir -p "$T/dkms" "$T/src" "$T/etc"
	for k in "${KERNELS[@]}"; do
		[[ -d /usr/src/linux-headers-$k ]] || fail "kernel headers for $k are not installed (scripts/deps.sh --tests)"
		mkdir -p "$T/lib/modules/$k/kernel"
		touch "$T/lib/modules/$k/"{modules.order,modules.builtin,modules.builtin.modinfo}
		ln -s "/usr/src/linux-headers-$k" "$T/lib/modules/$k/build"
	done
	if [[ ${1:-} == plain ]]; then
		SUF[$K2]=.ko
	else
		mkdir -p "$T/lib/modules/$K2/kernel/drivers/misc"
		cp "$(intree_module)" "$T/lib/modules/$K2/kernel/drivers/misc/hello.ko.xz"
	fi
	for k in "${KERNELS[@]}"; do
		depmod -b "$T" "$k" || fail "depmod -b $T $k"
	done
}

# Unpack a real *-dkms package's sources into T/src; prints <name>-<version>.
corpus_src() { # package
	local pkg=$1 deb dir
	mkdir -p "$CACHE"
	deb=$(ls "$CACHE/${pkg}"_*.deb 2>/dev/null | head -1)
	if [[ -z $deb ]]; then
		(cd "$CACHE" && apt-get download -q "$pkg" >/dev/null 2>&1) || fail "apt-get download $pkg"
		deb=$(ls "$CACHE/${pkg}"_*.deb | head -1)
	fi
	dir=$(mktemp -d)
	dpkg-deb -x "$deb" "$dir" || fail "dpkg-deb -x $deb"
	for s in "$dir"/usr/src/*/; do
		s=${s%/}
		cp -a "$s" "$T/src/"
		basename "$s"
	done
	rm -rf "$dir"
}

# Three modules that build in seconds, added: two real Debian packages and the example module.
# Their names in SMALL_MODS.
add_small_modules() {
	local s
	cp -a "$TOP/examples/dkms-hello-0.1" "$T/src/"
	for s in "$(corpus_src acpi-call-dkms)" "$(corpus_src dm-writeboost-dkms)" dkms-hello-0.1; do
		expect_rc 0 add "$T/src/$s"
	done
	SMALL_MODS=(acpi-call dm-writeboost dkms-hello)
}

# Debian's own dkms 3.0.10, unpacked (not installed), for side-by-side runs; after new_trees.
debian_dkms() {
	local deb dir=$CACHE/dkms-3.0.10
	if [[ ! -x $dir/usr/sbin/dkms ]]; then
		mkdir -p "$CACHE"
		deb=$(ls "$CACHE"/dkms_3.0.10*.deb 2>/dev/null | head -1)
		if [[ -z $deb ]]; then
			(cd "$CACHE" && apt-get download -q dkms=3.0.10-8+deb12u1 >/dev/null 2>&1) || fail "apt-get download dkms"
			deb=$(ls "$CACHE"/dkms_3.0.10*.deb | head -1)
		fi
		rm -rf "$dir"
		dpkg-deb -x "$deb" "$dir" || fail "dpkg-deb -x $deb"
	fi
	# Its /etc/dkms is fixed in the script: give it the scenario's own, so that its framework.conf puts
	# the signing key in the scenario's tree instead of the machine's /var/lib/dkms.
	mkdir -p "$T/etc/debian"
	printf 'mok_signing_key=%s\nmok_certificate=%s\n' "$T/dkms/mok.key" "$T/dkms/mok.pub" \
		>"$T/etc/debian/framework.conf"
	sed "s|/etc/dkms|$T/etc/debian|g" "$dir/usr/sbin/dkms" >"$T/debian-dkms"
	chmod +x "$T/debian-dkms"
	echo "$T/debian-dkms"
}

# Run Debian's dkms on the scenario's trees.
deb_dkms() {
	OUT=$("$DEBIAN_DKMS" --dkmstree "$T/dkms" --sourcetree "$T/src" --installtree "$T/lib/modules" "$@" 2>&1)
	RC=$?
	printf '$ debian-dkms %s  [exit %d]\n%s\n' "$*" "$RC" "$OUT"
}

# The vermagic of a module file (compressed or not), through modinfo.
vermagic() {
	modinfo -F vermagic "$1" | awk '{print $1}'
}

done_ok() {
	echo "$CHECKS checks passed"
}
