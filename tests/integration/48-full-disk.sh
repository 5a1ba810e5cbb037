#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A full disk: the kernel modules tree, then the dkms tree, each on a small tmpfs that is filled up.
# Installing or building a new version fails with a clear message, and the version installed before is
# still installed and intact: its file, its registry link, modules.dep, and nothing temporary left.
source "$(dirname "$0")/lib.sh"
new_trees plain
MNT=()
cleanup() {
	local m
	for m in "${MNT[@]}"; do umount "$m" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

# Put dir on a tmpfs of the given size, keeping its contents.
on_tmpfs() { # dir size
	mv "$1" "$1.orig"
	mkdir "$1"
	mount -t tmpfs -o "size=$2" dkms-test "$1" || fail "cannot mount a tmpfs on $1"
	MNT+=("$1")
	cp -a "$1.orig/." "$1/"
	rm -rf "$1.orig"
}
# Leave less than the given number of KiB free on the filesystem of dir.
fill() { # dir kib
	local free
	free=$(df -k --output=avail "$1" | tail -1)
	((free > $2)) && fallocate -l $(((free - $2) * 1024)) "$1/.filler" 2>/dev/null ||
		dd if=/dev/zero of="$1/.filler" bs=1k count=$((free - $2)) 2>/dev/null
	sync
}
unfill() { rm -f "$1/.filler"; }

# Two versions of the example module; 0.2 prints another string, so the files differ.
for v in 0.1 0.2; do
	cp -a "$TOP/examples/dkms-hello-0.1" "$T/src/dkms-hello-$v"
	sed -i "s/^PACKAGE_VERSION=.*/PACKAGE_VERSION=\"$v\"/" "$T/src/dkms-hello-$v/dkms.conf"
	sed -i "s/^MODULE_VERSION(.*/MODULE_VERSION(\"$v\");/" "$T/src/dkms-hello-$v/dkms_hello.c"
	expect_rc 0 add "$T/src/dkms-hello-$v"
done
on_tmpfs "$T/lib" 8m
expect_rc 0 install dkms-hello/0.1 -k "$K1"
KO=$T/lib/modules/$K1/updates/dkms/dkms_hello.ko
BUILT1=$T/dkms/dkms-hello/0.1/$K1/$ARCH/module/dkms_hello.ko
cp "$KO" "$T/ko-0.1"

intact() { # what the user checks: 0.1 installed, same bytes, in modules.dep; nothing temporary
	local out
	out=$("$DKMS" --dkmstree "$T/dkms" --sourcetree "$T/src" --installtree "$T/lib/modules" status dkms-hello -k "$K1")
	grep -qx "dkms-hello/0.1, $K1, $ARCH: installed" <<<"$out" || { echo "status: $out" >&2; return 1; }
	cmp -s "$KO" "$T/ko-0.1" && cmp -s "$KO" "$BUILT1" || return 1
	[[ $(modinfo -F version "$KO") == 0.1 ]] || return 1
	grep -q '^updates/dkms/dkms_hello.ko:' "$T/lib/modules/$K1/modules.dep" || return 1
	[[ -z $(find "$T/lib/modules" "$T/dkms" -name '*.dkms-new' -o -name '*.dkms-tmp.*') ]] || return 1
	[[ ! -e $T/dkms/.journal/op@dkms-hello@$K1@$ARCH ]]
}
check "0.1 installed" intact

# 1. The modules tree is full: 0.2 builds, but cannot be written next to 0.1.
expect_rc 0 build dkms-hello/0.2 -k "$K1"
fill "$T/lib" 2
expect_rc 1 install dkms-hello/0.2 -k "$K1"
expect_out "cannot write dkms_hello.ko in .*/updates/dkms: No space left on device; nothing was changed for kernel $K1: free some space in .*/lib/modules/$K1"
check "full modules tree: 0.1 is still installed and intact" intact
unfill "$T/lib"
expect_rc 0 install dkms-hello/0.2 -k "$K1"
check "with space again, 0.2 is installed" test "$(modinfo -F version "$KO")" = 0.2
expect_rc 0 install dkms-hello/0.1 -k "$K1" --force
check "back to 0.1" intact

# 2. The dkms tree is full: rebuilding 0.2 fails; 0.1 stays installed, 0.1's build is untouched.
expect_rc 0 unbuild dkms-hello/0.2 -k "$K1"
on_tmpfs "$T/dkms" 16m
fill "$T/dkms" 64
expect_rc 10 install dkms-hello/0.2 -k "$K1"
expect_out "dkms-hello/0.2: bad return status for module build on kernel: $K1 .*; consult .*/log/make.log"
check "the build log says why" grep -q "No space left on device" "$T/dkms/dkms-hello/0.2/$K1/$ARCH/log/make.log"
check "full dkms tree: 0.1 is still installed and intact" intact
check "0.1's build is untouched" cmp -s "$BUILT1" "$T/ko-0.1"
unfill "$T/dkms"
expect_rc 0 install dkms-hello/0.2 -k "$K1"
check "with space again, 0.2 is installed" test "$(modinfo -F version "$KO")" = 0.2

# 3. A failed rebuild of the installed version itself (--force, sources broken since): the build and the
# installed module stay; the failure's log sits beside the earlier build's.
cp "$KO" "$T/ko-0.2"
BUILT2=$T/dkms/dkms-hello/0.2/$K1/$ARCH/module/dkms_hello.ko
echo "this is not C" >>"$T/src/dkms-hello-0.2/dkms_hello.c"
expect_rc 10 install dkms-hello/0.2 -k "$K1" --force
expect_out "consult .*/dkms-hello/0.2/$K1/$ARCH/log/make.failed.log"
check "the installed 0.2 is untouched" cmp -s "$KO" "$T/ko-0.2"
check "its build is untouched" cmp -s "$BUILT2" "$T/ko-0.2"
check "the failure's log is kept" grep -q "this is not C\|error" "$T/dkms/dkms-hello/0.2/$K1/$ARCH/log/make.failed.log"
expect_status "dkms-hello/0.1, $K1, $ARCH: built
dkms-hello/0.2, $K1, $ARCH: installed" dkms-hello
done_ok
