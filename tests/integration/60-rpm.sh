#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The rpm transaction plugin (plugins/rpm, dkms.so) in real `rpm --root R` transactions: fake Fedora
# kernel-core and kernel-devel packages (kernel-devel carries a real Debian headers tree) come and go,
# and the example module registered in R follows them before rpm returns; an unrelated package and
# `rpm --test` cost the plugin nothing.
# R is a chroot: the host's /usr/* (but /usr/src) bind-mounted read-only, everything the packages write
# (/lib/modules, /usr/src, /var/lib/dkms, /boot) real directories in R. All of it runs in a private mount
# namespace, so that no mount outlives the test.
# $DKMS_RPM_PLUGIN: the dkms.so under test (default: build-test's); $DKMS: the dkms that registers modules.
if [[ -z ${DKMS_RPM_NS:-} ]]; then
	DKMS_RPM_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"

PLUGIN=${DKMS_RPM_PLUGIN:-$TOP/build-test/plugins/rpm/.libs/dkms.so}
[[ -f $PLUGIN ]] || fail "no rpm plugin at $PLUGIN (build with librpm-dev, or set DKMS_RPM_PLUGIN)"
command -v rpmbuild >/dev/null || fail "rpmbuild missing (scripts/deps.sh --tests installs rpm)"
PLUGIN=$(realpath "$PLUGIN")
DKMS=$(realpath "$DKMS")
KA=6.1.0-55.fake.$ARCH # rpm versions allow one '-': Fedora-like names for the Debian trees of K1, K2
KB=6.1.0-56.fake.$ARCH

# Everything on a tmpfs of its own: rpm writes ~20000 header files per kernel-devel, slow on a real disk.
T=$(mktemp -d /tmp/dkms-it.XXXXXX)
R=$T/root
cleanup() { # unmount first: rm -rf must never reach through a bind mount
	local m
	for m in $(findmnt -rn -o TARGET | grep "^$T/" | sort -r) $T; do
		umount -l "$m"
	done
	if findmnt -rn -o TARGET | grep -q "^$T"; then
		echo "mounts left under $T: not removing it" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
mount -t tmpfs -o size=2g,mode=0755 tmpfs "$T" || fail "mount tmpfs on $T"

# ---- packages ----
pkgs() { # kver (Fedora-like), Debian kernel version of the headers
	local kver=$1 deb=$2 kbuild
	kbuild=/usr/lib/linux-kbuild-$(cut -d. -f1,2 <<<"$deb")
	for s in kernel-core kernel-devel; do
		rpmbuild --quiet --define "_topdir $T/rpmbuild" --define "_binary_payload w1.zstdio" \
			--define "kver $kver" --define "hdr /usr/src/linux-headers-$deb" \
			--define "hdr_common /usr/src/linux-headers-${deb%-*}-common" --define "kbuild $kbuild" \
			-bb "$TOP/tests/data/rpm/$s.spec" >"$T/rpmbuild.log" 2>&1 || {
			cat "$T/rpmbuild.log"
			fail "rpmbuild $s.spec for $kver"
		}
	done
}
pkgs "$KA" "$K1"
pkgs "$KB" "$K2"
rpmbuild --quiet --define "_topdir $T/rpmbuild" -bb "$TOP/tests/data/rpm/dkms-test-noarch.spec" \
	>/dev/null 2>&1 || fail "rpmbuild dkms-test-noarch.spec"
P=$T/rpmbuild/RPMS
CORE_A=$P/$ARCH/kernel-core-$KA.$ARCH.rpm
DEVEL_A=$P/$ARCH/kernel-devel-$KA.$ARCH.rpm
CORE_B=$P/$ARCH/kernel-core-$KB.$ARCH.rpm
DEVEL_B=$P/$ARCH/kernel-devel-$KB.$ARCH.rpm
NOARCH=$P/noarch/dkms-test-noarch-1.0-1.noarch.rpm
for p in "$CORE_A" "$DEVEL_A" "$CORE_B" "$DEVEL_B" "$NOARCH"; do
	check "rpmbuild made $(basename "$p")" test -f "$p"
done
check "kernel-devel provides kernel-devel-uname-r" \
	grep -qx "kernel-devel-uname-r = $KA" <<<"$(rpm -qp --provides "$DEVEL_A")"

# ---- the root ----
mkdir -p "$R"/{usr/src,lib/modules,sbin,etc,var/lib/dkms,var/lib/rpm,tmp,dev,proc,boot,root,opt}
chmod 1777 "$R/tmp"
for d in /usr/*/; do
	d=${d%/}
	[[ $d == /usr/src ]] && continue
	mkdir -p "$R$d"
	mount --bind -o ro "$d" "$R$d" || fail "mount --bind $d"
done
ln -s usr/bin "$R/bin"
ln -s usr/lib64 "$R/lib64"
for e in /usr/lib/*; do # /lib and /sbin stay real: packages write /lib/modules, the test a fake dracut
	[[ $e == /usr/lib/modules ]] || ln -s "$e" "$R/lib/${e#/usr/lib/}"
done
for e in /usr/sbin/*; do
	ln -s "$e" "$R/sbin/${e#/usr/sbin/}"
done
cp -a /etc/alternatives /etc/passwd /etc/group /etc/os-release /etc/ld.so.cache "$R/etc/"
mknod -m 666 "$R/dev/null" c 1 3
mknod -m 666 "$R/dev/zero" c 1 5
mknod -m 666 "$R/dev/urandom" c 1 9
mount -t proc proc "$R/proc"
mkdir -p "$R$(dirname "$DKMS")"
mount --bind -o ro "$(dirname "$DKMS")" "$R$(dirname "$DKMS")"
check "the root's /usr is read-only" bash -c "! touch '$R/usr/bin/.dkms-test' 2>/dev/null"
# dracut "already ran" for the kernels: the plugin must regenerate their initramfs
printf '#!/bin/sh\necho "$@" >>/tmp/dracut.args\n' >"$R/sbin/dracut"
chmod +x "$R/sbin/dracut"
touch "$R/boot/initramfs-$KA.img" "$R/boot/initramfs-$KB.img"

# dkms, inside the root
c() {
	OUT=$(chroot "$R" "$DKMS" "$@" 2>&1)
	RC=$?
	printf '$ (R) dkms %s  [exit %d]\n%s\n' "$*" "$RC" "$OUT"
}
# rpm on the root, with (r) or without (r0) the plugin under test
PLUG=(--define "__plugindir $(dirname "$PLUGIN")" --define "__transaction_dkms %{__plugindir}/dkms.so")
r0() {
	OUT=$(rpm --root "$R" --dbpath /var/lib/rpm --nodeps "$@" 2>&1)
	RC=$?
	printf '$ rpm %s  [exit %d]\n%s\n' "$*" "$RC" "$OUT"
}
r() {
	r0 "${PLUG[@]}" "$@"
}
nomatch() { # regex: the last output has no such line
	! grep -qE -- "$1" <<<"$OUT"
}
snapshot() {
	(cd "$R" && find var/lib/dkms lib/modules usr/src boot -printf '%p %y %s %T@\n' | LC_ALL=C sort)
}
ko() { # kver: the installed module's path
	echo "$R/lib/modules/$1/updates/dkms/dkms_hello.ko"
}

rpm --root "$R" --dbpath /var/lib/rpm --initdb || fail "rpm --initdb"
cp -r "$TOP/examples/dkms-hello-0.1" "$R/usr/src/"
c add dkms-hello/0.1
check "dkms add inside the root" test "$RC" = 0
c status
check "module added" test "$OUT" = "dkms-hello/0.1: added"

# ---- transactions without kernels cost nothing ----
before=$(snapshot)
r -ivh --test "$CORE_A" "$DEVEL_A"
check "rpm --test with kernels succeeds" test "$RC" = 0
check "rpm --test: the plugin says nothing" nomatch ^dkms:
check "rpm --test: nothing changed" test "$(snapshot)" = "$before"
r -ivh "$NOARCH"
check "unrelated package installs" test "$RC" = 0
check "unrelated install: the plugin says nothing" nomatch ^dkms:
r -e dkms-test-noarch
check "unrelated erase: the plugin says nothing" nomatch ^dkms:
check "unrelated package: nothing changed" test "$(snapshot)" = "$before"
if command -v strace >/dev/null; then
	strace -f -qq -o "$T/strace" -e trace=fork,vfork,clone,clone3,%file \
		rpm --root "$R" --dbpath /var/lib/rpm "${PLUG[@]}" -i "$NOARCH" >/dev/null 2>&1
	check "the plugin was loaded" grep -q 'dkms.so' "$T/strace"
	check "unrelated package: no fork" bash -c "! grep -qE '^[0-9]+ +(fork|vfork|clone)' '$T/strace'"
	check "unrelated package: no look at the dkms tree" bash -c "! grep -qE 'var/lib/dkms|/etc/dkms' '$T/strace'"
	r0 -e dkms-test-noarch
fi

# ---- kernel-devel after its kernel (the gap kernel-install leaves): modules built before rpm returns ----
r0 -ivh "$CORE_A"
check "kernel-core installed without the plugin" test "$RC" = 0 -a -f "$R/lib/modules/$KA/modules.dep"
mkdir -p "$R/usr/src/dkms-broken-1.0"
printf 'PACKAGE_NAME=dkms-broken\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=dkms_broken\n%s\n' \
	'DEST_MODULE_LOCATION[0]=/extra' 'AUTOINSTALL=yes' >"$R/usr/src/dkms-broken-1.0/dkms.conf"
# shellcheck disable=SC2016 # a make function, for make
printf '%s\n' '$(error deliberate build failure)' >"$R/usr/src/dkms-broken-1.0/Makefile"
c add dkms-broken/1.0
r -ivh "$DEVEL_A"
check "kernel-devel installs (a failed module does not fail rpm)" test "$RC" = 0
check "the module is installed for $KA when rpm returns" test -f "$(ko "$KA")"
check "modinfo reads it: vermagic $KA" test "$(vermagic "$(ko "$KA")")" = "$KA"
check "modules.dep lists it" grep -q '^updates/dkms/dkms_hello.ko:' "$R/lib/modules/$KA/modules.dep"
check "the plugin printed its build" grep -q "^dkms: Building module dkms-hello/0.1 for kernel $KA" <<<"$OUT"
check "one summary line for the failed module, with its log" \
	grep -qE "^dkms: FAILED dkms-broken/1.0 for kernel $KA \($ARCH\), log: /var/lib/dkms/.*make.log" <<<"$OUT"
check "the log is there" test -f "$R$(grep -o '/var/lib/dkms/[^ ]*make.log' <<<"$OUT" | head -1)"
check "dracut ran once for $KA" test "$(cat "$R/tmp/dracut.args")" = "-f --kver $KA"
c status dkms-hello
check "status: installed" test "$OUT" = "dkms-hello/0.1, $KA, $ARCH: installed"
check "the signing key was made inside the root" test -f "$R/var/lib/dkms/mok.key"

# erasing kernel-devel alone keeps the modules of the kernel still installed; installing it again is a no-op
r -e kernel-devel
check "kernel-devel erased" test "$RC" = 0 -a ! -e "$R/usr/src/kernels/$KA"
check "the module stays for the installed kernel" test -f "$(ko "$KA")"
c remove dkms-broken/1.0 --all
r -ivh "$DEVEL_A"
check "kernel-devel again: nothing to do" test "$RC" = 0 -a -f "$(ko "$KA")"
check "kernel-devel again: no build" nomatch Building

# ---- erasing the kernel cleans up ----
r -e kernel-devel kernel-core
check "kernel erased" test "$RC" = 0
check "nothing left in /lib/modules" test -z "$(find "$R/lib/modules" -name 'dkms_hello*')"
check "nothing left of $KA in the dkms tree" test ! -e "$R/var/lib/dkms/dkms-hello/0.1/$KA"
c status
check "status: added again" test "$OUT" = "dkms-hello/0.1: added"

# ---- kernel and headers in one transaction, then an upgrade (the old kernel is an erased element) ----
: >"$R/tmp/dracut.args"
r -ivh "$CORE_A" "$DEVEL_A"
check "kernel-core + kernel-devel install" test "$RC" = 0 -a -f "$(ko "$KA")"
check "modules.dep lists it" grep -q '^updates/dkms/dkms_hello.ko:' "$R/lib/modules/$KA/modules.dep"
r -Uvh "$CORE_B" "$DEVEL_B"
check "upgrade to $KB" test "$RC" = 0
check "installed for $KB" test -f "$(ko "$KB")"
check "modules.dep of $KB lists it" grep -q '^updates/dkms/dkms_hello.ko:' "$R/lib/modules/$KB/modules.dep"
check "gone for $KA" test ! -e "$(ko "$KA")" -a ! -e "$R/var/lib/dkms/dkms-hello/0.1/$KA"
check "dracut ran for $KA then $KB" test "$(cat "$R/tmp/dracut.args")" = "-f --kver $KA
-f --kver $KB"
c status
check "status: installed for $KB only" test "$OUT" = "dkms-hello/0.1, $KB, $ARCH: installed"

# --noplugins, and %__transaction_dkms %{nil}, turn it off
r -e --noplugins kernel-devel kernel-core
check "--noplugins: the module stays" test "$RC" = 0 -a -f "$(ko "$KB")"
r0 -ivh --define "__plugindir $(dirname "$PLUGIN")" --define "__transaction_dkms %{nil}" "$CORE_B" "$DEVEL_B"
check "%__transaction_dkms %{nil}: the plugin is not loaded" nomatch ^dkms:

# the kernel goes, its headers stay: cleaned up; headers without a kernel (a build host): built, then cleaned
r -e kernel-core
check "kernel-core erased alone: cleaned up" test "$RC" = 0 -a ! -e "$(ko "$KB")"
check "kernel-core erased alone: no build left" test ! -e "$R/var/lib/dkms/dkms-hello/0.1/$KB"
r -e kernel-devel
check "then kernel-devel: nothing to do" nomatch ^dkms:
r -ivh "$DEVEL_B"
check "kernel-devel without its kernel: built and installed" test "$RC" = 0 -a -f "$(ko "$KB")"
r -e kernel-devel
check "erasing it cleans up" test "$RC" = 0 -a ! -e "$R/var/lib/dkms/dkms-hello/0.1/$KB"
check "nothing left in /lib/modules" test -z "$(find "$R/lib/modules" -name 'dkms_hello*')"
c status
check "status: added" test "$OUT" = "dkms-hello/0.1: added"
done_ok
