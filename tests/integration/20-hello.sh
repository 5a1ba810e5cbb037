#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The bundled example module through its whole life on two real kernels, in temporary trees:
# add, build, install (compressed, signed, depmod'ed), status at each step, uninstall, unbuild, remove.
source "$(dirname "$0")/lib.sh"
new_trees
cp -r "$TOP/examples/dkms-hello-0.1" "$T/src/"
M=dkms-hello/0.1

expect_rc 0 add "$M"
check "source link registered" test -L "$T/dkms/dkms-hello/0.1/source"
expect_status "dkms-hello/0.1: added"
expect_rc 3 add "$M"
expect_out "already added"

expect_rc 0 build "$M" -k "$K1"
check "built module kept in the tree (not compressed, as $K1's modules)" \
	test -f "$T/dkms/dkms-hello/0.1/$K1/$ARCH/module/dkms_hello.ko"
check "make.log kept" test -s "$T/dkms/dkms-hello/0.1/$K1/$ARCH/log/make.log"
check "per-job build dir removed after success" test ! -e "$T/dkms/.build/$K1/$ARCH/dkms-hello"
expect_status "dkms-hello/0.1, $K1, $ARCH: built"
expect_rc 0 build "$M" -k "$K1"
expect_out "already built"

expect_rc 0 install "$M" -k "$K1" -k "$K2"
ko1=$T/lib/modules/$K1/updates/dkms/dkms_hello.ko
ko2=$T/lib/modules/$K2/updates/dkms/dkms_hello.ko.xz
check "$K2's modules are xz: so is ours" xz -t "$ko2"
check "installed under updates/dkms for $K1" test -f "$ko1"
check "installed under updates/dkms for $K2" test -f "$ko2"
check "vermagic names $K1" test "$(vermagic "$ko1")" = "6.1.0-55-amd64"
check "vermagic names $K2" test "$(vermagic "$ko2")" = "6.1.0-56-amd64"
check "modinfo reads the version" test "$(modinfo -F version "$ko1")" = "0.1"
check "signed with the DKMS key" test "$(modinfo -F signer "$ko1")" = "DKMS module signing key"
check "signing key is private (0600)" test "$(stat -c %a "$T/dkms/mok.key")" = 600
check "signed for $K2 too, before compression" test "$(modinfo -F signer "$ko2")" = "DKMS module signing key"
check "depmod ran: modules.dep lists it for $K1" grep -q '^updates/dkms/dkms_hello.ko:' "$T/lib/modules/$K1/modules.dep"
check "depmod ran: modules.dep lists it for $K2" grep -q '^updates/dkms/dkms_hello.ko.xz:' "$T/lib/modules/$K2/modules.dep"
check "installed link" test "$(readlink -f "$T/dkms/dkms-hello/kernel-$K1-$ARCH")" = "$(readlink -f "$T/dkms/dkms-hello/0.1/$K1/$ARCH")"
expect_status "dkms-hello/0.1, $K1, $ARCH: installed
dkms-hello/0.1, $K2, $ARCH: installed"
expect_status "dkms-hello/0.1, $K2, $ARCH: installed" -k "$K2"
expect_status "dkms-hello/0.1, $K2, $ARCH: installed" dkms-hello -k "$K2/$ARCH"
expect_status "" -m nothere

# A changed installed file shows in status.
cp "$ko1" "$T/saved.ko"
echo garbage >>"$ko1"
expect_status "dkms-hello/0.1, $K1, $ARCH: installed (Differences between built and installed modules)" -k "$K1"
rm "$ko1"
expect_status "dkms-hello/0.1, $K1, $ARCH: installed (Built modules are missing in the kernel modules folder)" -k "$K1"
cp "$T/saved.ko" "$ko1"

expect_rc 0 uninstall "$M" -k "$K1"
check "uninstall removed the file" test ! -e "$ko1"
check "uninstall ran depmod" bash -c "! grep -q dkms_hello '$T/lib/modules/$K1/modules.dep'"
expect_status "dkms-hello/0.1, $K1, $ARCH: built
dkms-hello/0.1, $K2, $ARCH: installed"

expect_rc 0 unbuild "$M" -k "$K1"
check "unbuild removed the build" test ! -e "$T/dkms/dkms-hello/0.1/$K1"
expect_status "dkms-hello/0.1, $K2, $ARCH: installed"

# kernel_prerm cleans a kernel, kernel_postinst brings it back (autoinstall).
expect_rc 0 kernel_prerm -k "$K2"
check "kernel_prerm removed the module" test ! -e "$ko2"
expect_status "dkms-hello/0.1: added"
expect_rc 0 kernel_postinst -k "$K2"
check "kernel_postinst installed it" test -f "$ko2"
expect_rc 0 autoinstall -k "$K1" -k "$K2"
check "autoinstall installed it for $K1" test -f "$ko1"
expect_status "dkms-hello/0.1, $K1, $ARCH: installed
dkms-hello/0.1, $K2, $ARCH: installed"

# An in-tree module of the same name is kept aside and restored.
expect_rc 0 uninstall "$M" -k "$K1"
mkdir -p "$T/lib/modules/$K1/kernel/drivers/misc"
cp "$T/saved.ko" "$T/lib/modules/$K1/kernel/drivers/misc/dkms_hello.ko"
echo "in-tree build" >>"$T/lib/modules/$K1/kernel/drivers/misc/dkms_hello.ko" # same version, other bytes
depmod -b "$T" "$K1"
expect_rc 6 install "$M" -k "$K1"
expect_out "same or a newer version"
expect_rc 0 install "$M" -k "$K1" --force
check "the in-tree module was moved aside" test ! -e "$T/lib/modules/$K1/kernel/drivers/misc/dkms_hello.ko"
check "original kept in the tree" test -n "$(find "$T/dkms/dkms-hello/original_module/$K1/$ARCH" -name 'dkms_hello.ko*')"
expect_status "dkms-hello/0.1, $K1, $ARCH: installed (Original modules exist)" -k "$K1"
expect_rc 0 uninstall "$M" -k "$K1"
check "original restored on uninstall" test -f "$T/lib/modules/$K1/kernel/drivers/misc/dkms_hello.ko"
rm -rf "$T/lib/modules/$K1/kernel/drivers"
depmod -b "$T" "$K1"

# --no-depmod and --dry-run
expect_rc 0 install "$M" -k "$K1" --no-depmod
check "--no-depmod: modules.dep not updated" bash -c "! grep -q dkms_hello '$T/lib/modules/$K1/modules.dep'"
expect_rc 0 remove "$M" -k "$K1" --dry-run
expect_out "^remove dkms-hello/0.1, $K1, $ARCH"
check "--dry-run changed nothing" test -f "$ko1"

expect_rc 0 remove "$M" --all
check "remove --all: nothing left in the dkms tree" test -z "$(ls -A "$T/dkms" | grep -v -e '^mok\.' -e '^\.lock$')"
check "remove --all: nothing left in /lib/modules" test -z "$(find "$T/lib/modules" -name 'dkms_hello*')"
expect_status ""
done_ok
