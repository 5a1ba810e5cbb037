#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Module packages, then the REAL system (root; dpkg; about 4 minutes):
#  1. in temporary trees, a real module (Debian's v4l2loopback-dkms sources) is made into a source
#     .deb and .rpm (mkdeb, mkrpm) and into binary packages for two real kernels (mkbmdeb, mkbmrpm:
#     built once per kernel through the plan, shared by both); each is inspected with dpkg-deb or rpm,
#     checked with lintian and rpmlint, and the .rpms are installed in a sandbox root (rpm --root);
#  2. under `flock /tmp/system.lock`: the source .deb is installed with dpkg on the machine (with the
#     project's dkms-ng package, built by scripts/build-deb.sh, unless dkms or dkms-ng is already
#     there): its postinst builds and installs the module for both kernels, dpkg -r removes it
#     everywhere; then the binary .deb of the first kernel is installed: the signed module lands in
#     /lib/modules/<kver>/updates/dkms without a build, depmod knows it and `dkms status` says
#     installed; the second kernel's package installs next to it; dpkg -r takes each away.
# Restores the system on exit: removes the packages it installed and puts back an unowned
# /usr/sbin/dkms, removes what it created under /var/lib/dkms, /usr/src and /lib/modules.
# $DKMS_DEB: a dkms-ng .deb to use instead of building one.
#
# lintian tags that cannot be avoided: copyright-without-copyright-notice (W: the holders of a
# module's copyright are not known from dkms.conf; the copyright file points to the sources).
# rpmlint errors that cannot be avoided: no-signature (signing is the distributor's step),
# statically-linked-binary and missing-PT_GNU_STACK-section for the .ko files in /var/lib/dkms
# (kernel modules are relocatable objects; rpmlint already exempts them under /lib/modules), and
# no-binary for a kernel whose modules are compressed (rpmlint does not look into .ko.xz).
source "$(dirname "$0")/lib.sh"

((EUID == 0)) || fail "run as root: this test installs packages on the machine"
export DEBIAN_FRONTEND=noninteractive
# The maintainer of the packages (lintian rejects the placeholder address).
export DEBFULLNAME="dkms-ng tests" DEBEMAIL="dkms-ng-tests@example.org"
for tool in lintian rpmlint; do
	command -v $tool >/dev/null || fail "$tool is not installed (scripts/deps.sh --tests)"
done

new_trees # K2 has xz-compressed modules: so does its binary package
dir=$(corpus_src v4l2loopback-dkms)
M=v4l2loopback V=0.12.7
[[ $dir == "$M-$V" ]] || fail "v4l2loopback-dkms unpacked as $dir, expected $M-$V"
expect_rc 0 add "$T/src/$dir"

# ---- mkdeb ----
expect_rc 0 mkdeb "$M/$V"
SRC_DEB=$T/dkms/$M/$V/deb/${M}-dkms_${V}_all.deb
expect_out "wrote $SRC_DEB"
check "mkdeb wrote the .deb in the module's tree" test -f "$SRC_DEB"
field() { dpkg-deb -f "$1" "$2"; }
check "source .deb: Package $M-dkms" test "$(field "$SRC_DEB" Package)" = "$M-dkms"
check "source .deb: Version $V" test "$(field "$SRC_DEB" Version)" = "$V"
check "source .deb: Architecture all" test "$(field "$SRC_DEB" Architecture)" = all
check "source .deb: Depends on dkms" bash -c "dpkg-deb -f '$SRC_DEB' Depends | grep -qE '^dkms( |$)'"
check "source .deb: maintainer from DEBFULLNAME/DEBEMAIL" test "$(field "$SRC_DEB" Maintainer)" = "dkms-ng tests <dkms-ng-tests@example.org>"
contents() { dpkg-deb -c "$1" | awk '{print $6}'; }
for f in dkms.conf Makefile v4l2loopback.c v4l2loopback_formats.h; do
	check "source .deb ships /usr/src/$M-$V/$f" bash -c "dpkg-deb -c '$SRC_DEB' | awk '{print \$6}' | grep -qx './usr/src/$M-$V/$f'"
done
check "the shipped dkms.conf is the registered one" bash -c \
	"cmp <(dpkg-deb --fsys-tarfile '$SRC_DEB' | tar -xOf - ./usr/src/$M-$V/dkms.conf) '$T/src/$dir/dkms.conf'"
CTL=$T/ctl-src
dpkg-deb -e "$SRC_DEB" "$CTL"
check "source postinst calls common.postinst as dh_dkms does" \
	grep -q '^	/usr/lib/dkms/common.postinst "$DKMS_NAME" "$DKMS_VERSION" "/usr/share/$DKMS_PACKAGE_NAME" "" "$2"$' "$CTL/postinst"
check "source prerm runs dkms remove --all" grep -q 'dkms remove -m "$DKMS_NAME" -v "$DKMS_VERSION" --all' "$CTL/prerm"
check "md5sums cover the files" bash -c "cd '$CTL' && grep -c usr/src/ md5sums | grep -qx 4"
lint() { # package file: lintian output without E: lines
	local out
	out=$(lintian --pedantic "$1" 2>&1 | grep -v 'running with root privileges')
	printf '$ lintian %s\n%s\n' "$(basename "$1")" "$out"
	! grep -q '^E:' <<<"$out"
}
check "lintian: no error in the source .deb" lint "$SRC_DEB"

# ---- mkbmdeb: builds first, for both kernels ----
OUTD=$T/out
expect_rc 0 mkbmdeb "$M/$V" -k "$K1" -k "$K2" --output-dir "$OUTD"
expect_out "Building module $M/$V for kernel $K1"
expect_out "Building module $M/$V for kernel $K2"
declare -A BM
for k in "$K1" "$K2"; do
	BM[$k]=$OUTD/$M-modules-${k}_${V}_amd64.deb
	deb=${BM[$k]}
	ko=$M${SUF[$k]}
	check "mkbmdeb wrote the .deb for $k in --output-dir" test -f "$deb"
	check "binary .deb for $k: Package $M-modules-$k" test "$(field "$deb" Package)" = "$M-modules-$k"
	check "binary .deb for $k: Depends on linux-image-$k" test "$(field "$deb" Depends)" = "linux-image-$k"
	check "binary .deb for $k: Architecture amd64" test "$(field "$deb" Architecture)" = amd64
	check "binary .deb for $k: Provides $M-modules" test "$(field "$deb" Provides)" = "$M-modules"
	check "binary .deb for $k ships the module in /lib/modules" \
		bash -c "dpkg-deb -c '$deb' | awk '{print \$6}' | grep -qx './lib/modules/$k/updates/dkms/$ko'"
	check "binary .deb for $k ships the registry entry" \
		bash -c "dpkg-deb -c '$deb' | awk '{print \$6}' | grep -qx './var/lib/dkms/$M/$V/$k/$ARCH/module/$ko'"
	check "binary .deb for $k ships no sources" bash -c "! dpkg-deb -c '$deb' | grep -q usr/src"
	check "binary .deb for $k ships the module's dkms.conf, AUTOINSTALL off" bash -c \
		"dpkg-deb --fsys-tarfile '$deb' | tar -xOf - ./var/lib/dkms/$M/$V/$k/$ARCH/dkms.conf | tail -1 | grep -qx 'AUTOINSTALL=\"no\"'"
	x=$T/x-$k
	dpkg-deb -x "$deb" "$x"
	check "the packaged module of $k is the built one" cmp "$x/lib/modules/$k/updates/dkms/$ko" "$T/dkms/$M/$V/$k/$ARCH/module/$ko"
	check "the packaged module of $k has vermagic $k" test "$(vermagic "$x/lib/modules/$k/updates/dkms/$ko")" = "$k"
	check "the packaged module of $k is still signed" test "$(modinfo -F signer "$x/lib/modules/$k/updates/dkms/$ko")" = "DKMS module signing key"
	check "lintian: no error in the binary .deb of $k" lint "$deb"
done
check "$K2's package keeps its modules' compression (xz)" xz -t "$x/lib/modules/$K2/updates/dkms/$M.ko.xz"
dpkg-deb -e "${BM[$K1]}" "$T/ctl-bin"
check "binary postinst sets the installed link" grep -q 'ln -sfn "$DKMS_VERSION/$KVER/$ARCH" "$TREE/kernel-$KVER-$ARCH"' "$T/ctl-bin/postinst"
check "binary postinst and postrm run depmod" bash -c "grep -q 'depmod -a \"\$KVER\"' '$T/ctl-bin/postinst' && grep -q 'depmod -a \"\$KVER\"' '$T/ctl-bin/postrm'"
expect_rc 0 mkbmdeb "$M/$V" -k "$K1" --output-dir "$OUTD"
expect_out "already built"
check "a second mkbmdeb does not build again" bash -c "! grep -q 'Building module' <<<\"\$0\"" "$OUT"
expect_rc 21 mkbmdeb "$M/$V" -k 6.1.0-0-nothere --output-dir "$OUTD"
expect_rc 0 mkbmdeb "$M/$V" --all --output-dir "$T/out-all"
check "mkbmdeb --all: one package per built kernel" test "$(ls "$T/out-all"/*.deb | wc -l)" = 2
check "mkbmdeb --all: the same packages" cmp <(dpkg-deb -c "$T/out-all/$M-modules-${K2}_${V}_amd64.deb" | awk '{print $6}') <(dpkg-deb -c "${BM[$K2]}" | awk '{print $6}')

# ---- mkrpm, mkbmrpm ----
expect_rc 0 mkrpm "$M/$V"
SRC_RPM=$T/dkms/$M/$V/rpm/dkms-$M-$V-1.noarch.rpm
check "mkrpm wrote dkms-$M-$V-1.noarch.rpm" test -f "$SRC_RPM"
expect_rc 0 mkbmrpm "$M/$V" -k "$K1" -k "$K2" --output-dir "$OUTD"
check "mkbmrpm did not build again" bash -c "! grep -q 'Building module' <<<\"\$0\"" "$OUT"
rq() { rpm -qp "$@" 2>/dev/null; }
check "source .rpm: name dkms-$M" test "$(rq --qf '%{NAME} %{VERSION} %{ARCH}' "$SRC_RPM")" = "dkms-$M $V noarch"
check "source .rpm: Requires dkms" bash -c "rpm -qpR '$SRC_RPM' 2>/dev/null | grep -qx dkms"
check "source .rpm: licence from MODULE_LICENSE" test "$(rq --qf '%{LICENSE}' "$SRC_RPM")" = GPL
check "source .rpm: lists /usr/src/$M-$V/dkms.conf" bash -c "rpm -qpl '$SRC_RPM' 2>/dev/null | grep -qx /usr/src/$M-$V/dkms.conf"
check "source .rpm: %posttrans installs for every kernel with headers" \
	bash -c "rpm -qp --scripts '$SRC_RPM' 2>/dev/null | grep -q \"dkms install -m '$M' -v '$V' \\\"\\\$@\\\"\""
check "source .rpm: %preun runs dkms remove --all" bash -c "rpm -qp --scripts '$SRC_RPM' 2>/dev/null | grep -q \"dkms remove -m '$M' -v '$V' --all\""
for k in "$K1" "$K2"; do
	rpmf=$OUTD/kmod-$M-$k-$V-1.$ARCH.rpm
	check "mkbmrpm wrote kmod-$M-$k" test -f "$rpmf"
	check "binary .rpm of $k: Requires that kernel's modules.order (kver $k is no RPM version)" \
		bash -c "rpm -qpR '$rpmf' 2>/dev/null | grep -qx /lib/modules/$k/modules.order"
	check "binary .rpm of $k: Provides kmod-$M = $V-1" bash -c "rpm -qp --provides '$rpmf' 2>/dev/null | grep -qx 'kmod-$M = $V-1'"
	check "binary .rpm of $k: lists the module" bash -c "rpm -qpl '$rpmf' 2>/dev/null | grep -qx /lib/modules/$k/updates/dkms/$M${SUF[$k]}"
done
RROOT=$T/rpmroot
mkdir -p "$RROOT"
check "the .rpms install in a sandbox root (rpm --root --nodeps --noscripts)" \
	rpm --root="$RROOT" --dbpath=/var/lib/rpm --nodeps --noscripts -i "$SRC_RPM" "$OUTD/kmod-$M-$K1-$V-1.$ARCH.rpm" "$OUTD/kmod-$M-$K2-$V-1.$ARCH.rpm"
check "sandbox: sources landed" cmp "$RROOT/usr/src/$M-$V/dkms.conf" "$T/src/$dir/dkms.conf"
for k in "$K1" "$K2"; do
	check "sandbox: the module of $k landed, signed" test "$(modinfo -F signer "$RROOT/lib/modules/$k/updates/dkms/$M${SUF[$k]}")" = "DKMS module signing key"
	check "sandbox: registry entry of $k landed" cmp "$RROOT/var/lib/dkms/$M/$V/$k/$ARCH/module/$M${SUF[$k]}" "$T/dkms/$M/$V/$k/$ARCH/module/$M${SUF[$k]}"
done
check "sandbox: rpm -e removes them all" rpm --root="$RROOT" --dbpath=/var/lib/rpm --noscripts -e "dkms-$M" "kmod-$M-$K1" "kmod-$M-$K2"
check "sandbox: nothing left" test -z "$(find "$RROOT/usr/src" "$RROOT/lib" "$RROOT/var/lib/dkms" -type f 2>/dev/null)"
rpmlint_ok() { # only the unavoidable errors (see the top of this file)
	local out
	out=$(rpmlint "$@" 2>&1)
	printf '$ rpmlint\n%s\n' "$out"
	! grep ': E: ' <<<"$out" | grep -vE ': E: no-signature$' | grep -vE "^kmod-$M-$K2\.$ARCH: E: no-binary$" |
		grep -vE ": E: (statically-linked-binary|missing-PT_GNU_STACK-section) /var/lib/dkms/$M/$V/[^/]*/$ARCH/module/" | grep -q .
}
check "rpmlint: no error but the unavoidable ones" rpmlint_ok "$SRC_RPM" "$OUTD"/kmod-*.rpm

# ---- the real system, under the lock ----
exec {LOCK}>/tmp/system.lock
echo "waiting for /tmp/system.lock"
flock "$LOCK"
echo "holding /tmp/system.lock"
SRC_PKG=$M-dkms BIN_PKG=$M-modules-$K1 BIN_PKG2=$M-modules-$K2
for p in "$SRC_PKG" "$BIN_PKG" "$BIN_PKG2"; do
	[[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) == [ir]* ]] && fail "$p is installed: remove it first"
done
[[ -e /var/lib/dkms/$M || -e /usr/src/$M-$V ]] && fail "$M is already in /var/lib/dkms or /usr/src: remove it first"
S=$T/system
mkdir -p "$S"
installed_pkgs() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" || $1 == "rc" { print $2 }' | sort; }
installed_pkgs >"$S/before"
[[ -e /usr/sbin/dkms ]] && ! dpkg -S /usr/sbin/dkms >/dev/null 2>&1 && cp -a /usr/sbin/dkms "$S/dkms.orig"
depfiles() { ls "/lib/modules/$K1"/modules.* 2>/dev/null; }
depfiles >"$S/depfiles.before"
OURS_DKMS=no
restore() {
	echo "== restoring the system"
	dpkg --configure -a >/dev/null 2>&1
	for p in "$BIN_PKG" "$BIN_PKG2" "$SRC_PKG"; do
		dpkg-query -W "$p" >/dev/null 2>&1 && dpkg --force-depends -P "$p" >>"$S/restore.log" 2>&1
	done
	if [[ $OURS_DKMS == yes ]]; then
		dpkg -P dkms-ng >>"$S/restore.log" 2>&1
		[[ -e $S/dkms.orig ]] && cp -a "$S/dkms.orig" /usr/sbin/dkms
	fi
	# a safety net: nothing of the module should be left
	rm -rf "/var/lib/dkms/$M" "/usr/src/$M-$V" /var/lib/dkms/.build/*/*/"$M"
	for k in "${KERNELS[@]}"; do
		rm -f "/lib/modules/$k/updates/dkms/$M".ko*
	done
	comm -13 "$S/depfiles.before" <(depfiles) | xargs -r rm -f
	local new
	new=$(comm -13 "$S/before" <(installed_pkgs))
	[[ -n $new ]] && echo "still installed after the restore: $new (see $S/restore.log)" >&2 && trap 'rm -rf "$T"' EXIT && return
	rm -rf "$T"
}
trap restore EXIT

dpkg_do() { # dpkg args...: output in $OUT, exit code in $RC
	OUT=$(dpkg "$@" 2>&1)
	RC=$?
	printf '$ dpkg %s  [exit %d]\n%s\n' "$*" "$RC" "$(grep -v '^(Reading database' <<<"$OUT")"
}

# dkms on the machine: Debian's or ours, as found; else the project's package, installed for this test.
if dpkg-query -W -f='${db:Status-Abbrev}' dkms dkms-ng 2>/dev/null | grep -q '^ii'; then
	echo "a dkms package is installed: used as it is"
else
	if [[ -n ${DKMS_DEB:-} ]]; then
		DEB=$DKMS_DEB
	else
		DEB=$("$TOP/scripts/build-deb.sh" "$S/deb" | grep '/dkms-ng_[^/]*\.deb$')
	fi
	check "the project's .deb is there" test -f "$DEB"
	OURS_DKMS=yes
	OUT=$(apt-get -y -q -o Dpkg::Use-Pty=0 --no-install-recommends install "$(realpath "$DEB")" 2>&1)
	RC=$?
	check "the project's dkms-ng package installs (apt-get exit $RC)" test "$RC" = 0
fi
check "/usr/lib/dkms/common.postinst is there" test -x /usr/lib/dkms/common.postinst

# The source package: built and installed for every kernel with headers, by its postinst.
dpkg_do -i "$SRC_DEB"
check "dpkg -i of the source .deb succeeds" test "$RC" = 0
check "its sources are in /usr/src" test -f "/usr/src/$M-$V/dkms.conf"
for k in "${KERNELS[@]}"; do
	ko=/lib/modules/$k/updates/dkms/$M.ko
	check "postinst installed $M for $k" test -f "$ko"
	check "its vermagic is $k" test "$(vermagic "$ko")" = "$k"
	check "status: installed on $k" bash -c "dkms status -m $M -k $k | grep -qx '$M/$V, $k, $ARCH: installed'"
done
dpkg_do -r "$SRC_PKG"
check "dpkg -r of the source package succeeds" test "$RC" = 0
for k in "${KERNELS[@]}"; do
	check "prerm removed $M from $k" test ! -e "/lib/modules/$k/updates/dkms/$M.ko"
done
check "status lists no $M any more" test -z "$(dkms status -m $M)"
check "nothing of $M in /var/lib/dkms" test ! -e "/var/lib/dkms/$M"
check "its sources are gone" test ! -e "/usr/src/$M-$V"

# The binary package of K1: no build. depmod needs the kernel's modules.dep (the image is not installed
# here, only its headers): make one for the test, removed on exit.
[[ -e /lib/modules/$K1/modules.dep ]] || depmod -a "$K1"
check "a modules.dep for $K1" test -e "/lib/modules/$K1/modules.dep"
# linux-image-$K1 is not installed (only its headers): --force-depends
dpkg_do --force-depends -i "${BM[$K1]}"
check "dpkg -i of the binary .deb succeeds" test "$RC" = 0
check "dpkg says the kernel image is missing (the exact kernel package)" grep -q "depends on linux-image-$K1" <<<"$OUT"
ko=/lib/modules/$K1/updates/dkms/$M.ko
check "the module is in /lib/modules/$K1/updates/dkms" test -f "$ko"
check "it is signed" test "$(modinfo -F signer "$ko")" = "DKMS module signing key"
check "it is the packaged file" cmp "$ko" "$T/dkms/$M/$V/$K1/$ARCH/module/$M.ko"
check "depmod ran: modules.dep of $K1 lists it" grep -q "^updates/dkms/$M.ko:" "/lib/modules/$K1/modules.dep"
check "postinst registered the version with its dkms.conf (no sources)" test -f "/var/lib/dkms/$M/$V/source/dkms.conf" -a ! -L "/var/lib/dkms/$M/$V/source"
check "status: installed on $K1, and only there" test "$(dkms status -m $M)" = "$M/$V, $K1, $ARCH: installed"
check "no build happened: no make.log" test ! -e "/var/lib/dkms/$M/$V/$K1/$ARCH/log"
check "no build happened: no build directory" bash -c "! compgen -G '/var/lib/dkms/.build/*/*/$M' >/dev/null"
check "no build happened: nothing said it built" bash -c "! grep -qi 'building' <<<\"\$0\"" "$OUT"
check "nothing for $K2" test ! -e "/lib/modules/$K2/updates/dkms/$M${SUF[$K2]}"
# The package of the second kernel next to it: no file in common; each goes with its own package.
dpkg_do --force-depends -i "${BM[$K2]}"
check "dpkg -i of the binary .deb of $K2 too succeeds" test "$RC" = 0
check "status: installed on both" test "$(dkms status -m $M)" = "$M/$V, $K1, $ARCH: installed
$M/$V, $K2, $ARCH: installed"
dpkg_do -r "$BIN_PKG"
check "dpkg -r of the binary package of $K1 succeeds" test "$RC" = 0
check "the module is gone from $K1" test ! -e "$ko"
check "depmod ran: modules.dep of $K1 does not list it" bash -c "! grep -q '$M.ko' '/lib/modules/$K1/modules.dep'"
check "status: still installed on $K2 only" test "$(dkms status -m $M)" = "$M/$V, $K2, $ARCH: installed"
check "the module of $K2 is still there" test -f "/lib/modules/$K2/updates/dkms/$M${SUF[$K2]}"
dpkg_do -r "$BIN_PKG2"
check "dpkg -r of the binary package of $K2 succeeds" test "$RC" = 0
check "the module is gone from $K2" test ! -e "/lib/modules/$K2/updates/dkms/$M${SUF[$K2]}"
check "status lists no $M any more" test -z "$(dkms status -m $M)"
check "nothing of $M left in /var/lib/dkms" test ! -e "/var/lib/dkms/$M"
done_ok
