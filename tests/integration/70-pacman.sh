#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# pacman: the alpm hooks and their handler, in a pacman sandbox (--root R) with hand-made packages: a kernel
# and headers pair per test kernel (the real Debian header trees, placed at usr/lib/modules/<kver>/build as
# Arch does), module packages with real sources (dkms-hello, Debian's v4l2loopback) and one that does not
# compile. Hooks run chrooted into R: R gets the machine's /usr through an overlay (its /usr/lib/modules and
# /usr/src replaced by empty directories the packages fill), and the handler under test at the path the
# built .hook files name.
source "$(dirname "$0")/lib.sh"

HANDLER=${DKMS_ALPM_HOOK:-$(dirname "$DKMS")/dkms-alpm-hook}
HOOKS=$(dirname "$HANDLER")/hooks/pacman
((EUID == 0)) || fail "this scenario needs root (chroot, mounts)"
for tool in pacman bsdtar zstd depmod modinfo; do
	command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/deps.sh --tests)"
done
[[ -x $HANDLER ]] || fail "no alpm hook handler at $HANDLER (was libalpm found by configure?)"
[[ -f $HOOKS/70-dkms-install.hook && -f $HOOKS/70-dkms-remove.hook ]] || fail "no built .hook files in $HOOKS"
EXEC=$(sed -n 's/^Exec = \([^ ]*\) .*/\1/p' "$HOOKS/70-dkms-install.hook")
[[ $EXEC == /* ]] || fail "70-dkms-install.hook has no absolute Exec path"
# dkms status runs inside the sandbox, where a libtool wrapper script cannot find its library
[[ $(head -c4 "$DKMS") == $'\x7fELF' ]] || fail "$DKMS is not a program (a libtool wrapper?): configure --disable-shared"

# ---- the sandbox ----
T=$(mktemp -d /tmp/dkms-it.XXXXXX)
R=$T/root
MOUNTS=()
cleanup() {
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}"
	done
	if grep -q " $T/" /proc/mounts; then
		echo "something is still mounted under $T: not removing it" >&2
		return
	fi
	rm -rf "$T"
}
trap cleanup EXIT
mount_or_fail() { # target, mount args...
	local target=$1
	shift
	mount "$@" "$target" || fail "mount $* $target"
	MOUNTS+=("$target")
}

mkdir -p "$R"/{usr,etc/pacman.d/hooks,tmp,dev,proc,var/lib/pacman,var/cache/pacman/pkg} \
	"$T"/{upper,work,modules,src,pkgs,stage,scratch}
chmod 1777 "$R/tmp"
for d in bin lib lib64 sbin; do ln -s "usr/$d" "$R/$d"; done
mknod -m 666 "$R/dev/null" c 1 3 && mknod -m 666 "$R/dev/zero" c 1 5 &&
	mknod -m 666 "$R/dev/urandom" c 1 9 || fail "mknod in $R/dev"
cp -a /etc/alternatives "$R/etc/" && cp /etc/passwd /etc/group /etc/ld.so.cache "$R/etc/" &&
	ln -s ../usr/lib/os-release "$R/etc/os-release" || fail "populating $R/etc"
mount_or_fail "$R/usr" -t overlay overlay -o "lowerdir=/usr,upperdir=$T/upper,workdir=$T/work"
mount_or_fail "$R/usr/lib/modules" --bind "$T/modules"
mount_or_fail "$R/usr/src" --bind "$T/src"
mount_or_fail "$R/proc" -t proc proc # the sanitizers read /proc/self/maps
mkdir -p "$R/usr/share/libalpm/hooks" "$R$(dirname "$EXEC")"
cp "$HOOKS"/*.hook "$R/usr/share/libalpm/hooks/"
cp "$HANDLER" "$R$EXEC"
cp "$DKMS" "$R/usr/local/sbin/dkms-under-test"

cat >"$T/pacman.conf" <<EOF
[options]
DBPath = $R/var/lib/pacman/
CacheDir = $R/var/cache/pacman/pkg/
LogFile = $T/pacman.log
GPGDir = $T/gnupg/
HookDir = $R/etc/pacman.d/hooks/
Architecture = x86_64
SigLevel = Never
LocalFileSigLevel = Never
EOF

# pacman on the sandbox; output in $OUT, exit code in $RC
pm() {
	OUT=$(pacman --root "$R" --dbpath "$R/var/lib/pacman/" --config "$T/pacman.conf" --noconfirm \
		--noprogressbar "$@" 2>&1)
	RC=$?
	printf '$ pacman %s  [exit %d]\n%s\n' "$*" "$RC" "$OUT"
}
expect_pm() { # pacman args...: must exit 0
	pm "$@"
	CHECKS=$((CHECKS + 1))
	[[ $RC == 0 ]] || fail "pacman $* exited $RC"
	echo "check: ok: pacman $* exits 0"
	CHECKS=$((CHECKS + 1))
	! grep -qE 'failed to execute correctly|Sanitizer|runtime error:' <<<"$OUT" || fail "a hook failed or crashed"
	echo "check: ok: the hooks ran cleanly"
}

# dkms status as the sandbox sees it (its registry links point into its own /usr/src)
expect_rstatus() { # expected lines
	CHECKS=$((CHECKS + 1))
	OUT=$(chroot "$R" /usr/local/sbin/dkms-under-test status 2>&1)
	RC=$?
	printf '$ dkms status (in %s)  [exit %d]\n%s\n' "$R" "$RC" "$OUT"
	[[ $RC == 0 && $OUT == "$1" ]] || fail "status is:
$OUT
expected:
$1"
	echo "check: ok: status as expected"
}

# ---- packages: .PKGINFO + files, bsdtar | zstd ----
make_pkg() { # name, version, staged root; prints the package path
	local name=$1 ver=$2 stage=$3 out=$T/pkgs/$1-$2-x86_64.pkg.tar.zst
	cat >"$stage/.PKGINFO" <<EOF
pkgname = $name
pkgbase = $name
pkgver = $ver
pkgdesc = dkms-ng test package
url = https://example.invalid/
builddate = $(date +%s)
packager = dkms-ng tests
size = $(du -sb "$stage" | cut -f1)
arch = x86_64
license = GPL
EOF
	(cd "$stage" && bsdtar -cf - .PKGINFO usr | zstd -q -T0 >"$out") || fail "packing $name"
	echo "$out"
}

# A kernel image package: usr/lib/modules/<kver> with modules.order and what depmod makes of it.
kernel_pkg() { # name, kver
	local name=$1 k=$2 s=$T/stage/$1
	mkdir -p "$T/scratch/$name/lib/modules/$k/kernel" "$s/usr/lib/modules"
	touch "$T/scratch/$name/lib/modules/$k/"{modules.order,modules.builtin,modules.builtin.modinfo}
	depmod -b "$T/scratch/$name" "$k" || fail "depmod -b for the $name package"
	echo "$name" >"$T/scratch/$name/lib/modules/$k/pkgbase"
	mv "$T/scratch/$name/lib/modules/$k" "$s/usr/lib/modules/"
	make_pkg "$name" "${k%%-*}-1" "$s"
}

# A headers package: Debian's header tree for kver (its -amd64 part merged over the -common one, symlinks
# into /usr/lib/linux-kbuild-* followed) at usr/lib/modules/<kver>/build. Cached: it takes a while.
headers_pkg() { # name, kver
	local name=$1 k=$2 s=$T/stage/$1 cached=$CACHE/pacman-v1/$1-$2.pkg.tar.zst b
	if [[ ! -s $cached ]]; then
		b=$s/usr/lib/modules/$k/build
		mkdir -p "$b" "$CACHE/pacman-v1"
		cp -rL "/usr/src/linux-headers-$k/." "$b/" &&
			cp -rL "/usr/src/linux-headers-${k%-*}-common/." "$b/" || fail "copying the headers of $k"
		cp "$(make_pkg "$name" "${k%%-*}-1" "$s")" "$cached.tmp" && mv "$cached.tmp" "$cached"
	fi
	cp "$cached" "$T/pkgs/" && echo "$T/pkgs/$(basename "$cached")"
}

source_pkg() { # name, source dir (holding dkms.conf), version
	local s=$T/stage/$1-$3
	mkdir -p "$s/usr/src"
	cp -r "$2" "$s/usr/src/" || fail "copying $2"
	make_pkg "$1" "$3-1" "$s"
}

K1_IMG=$(kernel_pkg linux "$K1") && K1_HDR=$(headers_pkg linux-headers "$K1") &&
	K2_IMG=$(kernel_pkg linux-lts "$K2") && K2_HDR=$(headers_pkg linux-lts-headers "$K2") ||
	fail "making the kernel packages"
HELLO=$(source_pkg dkms-hello "$TOP/examples/dkms-hello-0.1" 0.1) || fail "packing dkms-hello"
mkdir -p "$T/scratch/hello2" && cp -r "$TOP/examples/dkms-hello-0.1" "$T/scratch/hello2/dkms-hello-0.2" &&
	sed -i 's/0\.1/0.2/' "$T/scratch/hello2/dkms-hello-0.2/dkms.conf" "$T/scratch/hello2/dkms-hello-0.2/dkms_hello.c"
HELLO2=$(source_pkg dkms-hello "$T/scratch/hello2/dkms-hello-0.2" 0.2) || fail "packing dkms-hello 0.2"
BROKEN=$(source_pkg dkms-broken "$TOP/tests/data/pacman/dkms-broken-1.0" 1.0) || fail "packing dkms-broken"
T_SAVED=$T
T=$T/scratch # corpus_src unpacks into $T/src
mkdir -p "$T/src"
V4L=$(corpus_src v4l2loopback-dkms) || fail "unpacking v4l2loopback-dkms"
T=$T_SAVED
V4L_M=${V4L%-*} V4L_V=${V4L##*-}
V4L_PKG=$(source_pkg v4l2loopback-dkms "$T/scratch/src/$V4L" "$V4L_V") || fail "packing $V4L"

mods() { echo "$R/usr/lib/modules/$1"; }
ko() { # kver, module file name without suffix: the installed file, or nothing
	compgen -G "$(mods "$1")/updates/dkms/$2.ko*" | head -1
}

# ---- a module package before any kernel: added, nothing built ----
expect_pm -U "$HELLO"
expect_rstatus "dkms-hello/0.1: added"

# ---- a kernel and its headers: the tracked module is built and installed before pacman returns ----
expect_pm -U "$K1_IMG" "$K1_HDR"
expect_out "Installing DKMS modules"
check "dkms_hello installed for $K1" test -n "$(ko "$K1" dkms_hello)"
check "modinfo reads it, vermagic $K1" test "$(vermagic "$(ko "$K1" dkms_hello)")" = "$K1"
check "modules.dep of $K1 lists it" grep -q '^updates/dkms/dkms_hello.ko' "$(mods "$K1")/modules.dep"
expect_rstatus "dkms-hello/0.1, $K1, $ARCH: installed"

expect_pm -U "$K2_IMG" "$K2_HDR"
check "dkms_hello installed for $K2" test -n "$(ko "$K2" dkms_hello)"
check "modules.dep of $K2 lists it" grep -q '^updates/dkms/dkms_hello.ko' "$(mods "$K2")/modules.dep"
expect_rstatus "dkms-hello/0.1, $K1, $ARCH: installed
dkms-hello/0.1, $K2, $ARCH: installed"

# ---- a module package with real sources: built for every kernel ----
expect_pm -U "$V4L_PKG"
for k in "$K1" "$K2"; do
	check "$V4L_M installed for $k" test -n "$(ko "$k" "$V4L_M")"
	check "$V4L_M: vermagic $k" test "$(vermagic "$(ko "$k" "$V4L_M")")" = "$k"
	check "$V4L_M: modinfo reads its name" test "$(modinfo -F name "$(ko "$k" "$V4L_M")")" = "$V4L_M"
	check "modules.dep of $k lists $V4L_M" grep -q "^updates/dkms/$V4L_M.ko" "$(mods "$k")/modules.dep"
done
expect_rstatus "dkms-hello/0.1, $K1, $ARCH: installed
dkms-hello/0.1, $K2, $ARCH: installed
$V4L_M/$V4L_V, $K1, $ARCH: installed
$V4L_M/$V4L_V, $K2, $ARCH: installed"

# ---- a module that does not compile: pacman completes, the failure is shown with its log ----
expect_pm -U "$BROKEN"
expect_out "dkms-broken/1.0 \(package dkms-broken\), kernel $K1 \($ARCH\): failed, log: /"
expect_out "dkms-broken/1.0 \(package dkms-broken\), kernel $K2 \($ARCH\): failed, log: /"
LOGP=$(sed -n 's/^ *dkms-broken.*failed, log: \(\/.*make\.log\)$/\1/p' <<<"$OUT" | head -1)
check "the failure names its make.log, which is in the sandbox" test -s "$R$LOGP"
check "the log shows the compiler error" grep -q this_is_not_declared "$R$LOGP"
check "nothing installed for dkms-broken" test -z "$(ko "$K1" dkms_broken)"
expect_rstatus "dkms-broken/1.0: added
dkms-hello/0.1, $K1, $ARCH: installed
dkms-hello/0.1, $K2, $ARCH: installed
$V4L_M/$V4L_V, $K1, $ARCH: installed
$V4L_M/$V4L_V, $K2, $ARCH: installed"

# ---- a module package upgrade: the old version leaves every kernel, the new one comes ----
expect_pm -U "$HELLO2"
for k in "$K1" "$K2"; do
	check "dkms_hello 0.2 installed for $k" test "$(modinfo -F version "$(ko "$k" dkms_hello)")" = 0.2
done
check "0.1 is gone from the registry" test ! -e "$R/var/lib/dkms/dkms-hello/0.1"
expect_rstatus "dkms-broken/1.0: added
dkms-hello/0.2, $K1, $ARCH: installed
dkms-hello/0.2, $K2, $ARCH: installed
$V4L_M/$V4L_V, $K1, $ARCH: installed
$V4L_M/$V4L_V, $K2, $ARCH: installed"

# ---- removing a kernel: its modules are cleaned before its files go ----
expect_pm -R linux-lts linux-lts-headers
check "nothing left of $K2 in /usr/lib/modules" test ! -e "$(mods "$K2")"
# (a failed build's scratch directory under .build/ is the core's business, not checked here)
check "nothing left of $K2 in the registry" test -z "$(find "$R/var/lib/dkms" -path "*/$K2*" -not -path "*/.build/*")"
expect_rstatus "dkms-broken/1.0: added
dkms-hello/0.2, $K1, $ARCH: installed
$V4L_M/$V4L_V, $K1, $ARCH: installed"

# ---- a kernel without its headers: nothing to build, and the handler says what to install ----
expect_pm -U "$K2_IMG"
expect_out "kernel $K2 \(linux-lts [^)]*\) has no headers, so no DKMS modules: install linux-lts-headers"
check "nothing built for $K2" test ! -e "$(mods "$K2")/updates"
expect_pm -R linux-lts

# ---- removing a module package: removed from every kernel and from the registry ----
expect_pm -R v4l2loopback-dkms
check "$V4L_M removed from $K1" test -z "$(ko "$K1" "$V4L_M")"
check "modules.dep of $K1 no longer lists it" bash -c "! grep -q '$V4L_M' '$(mods "$K1")/modules.dep'"
check "$V4L_M gone from the registry" test ! -e "$R/var/lib/dkms/$V4L_M"
expect_pm -R dkms-broken
check "dkms-broken gone from the registry" test ! -e "$R/var/lib/dkms/dkms-broken"
expect_rstatus "dkms-hello/0.2, $K1, $ARCH: installed"

# ---- reinstalling the kernel (an upgrade onto the same paths): modules out before, back in after ----
expect_pm -U "$K1_IMG" "$K1_HDR"
expect_out "Removing DKMS modules"
check "dkms_hello installed again for $K1" test -n "$(ko "$K1" dkms_hello)"
check "modules.dep of $K1 lists it" grep -q '^updates/dkms/dkms_hello.ko' "$(mods "$K1")/modules.dep"
expect_rstatus "dkms-hello/0.2, $K1, $ARCH: installed"
done_ok
