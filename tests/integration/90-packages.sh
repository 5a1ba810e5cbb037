#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The packages of the three families, built from the tree by their one command (scripts/build-deb.sh,
# scripts/build-rpm.sh, scripts/build-arch.sh; one `make dist` tarball for the last two), each installed
# by its own package manager into a sandbox root with its database there: `dpkg --root` (unpacked and
# configured: the postinst and a /usr/src trigger run chrooted in the root), `rpm --root` (then the
# packaged plugin is loaded by librpm in a transaction), `pacman --root` (then pacman parses the packaged
# hooks). The files must be where each package manager and the kernel tooling read them, and the
# programs must run from the root.
# Files the tree may not have yet (dkms.conf.5, completions, framework.conf, the systemd unit,
# libdkms.pc) are expected when the tree's build rules install them.
source "$(dirname "$0")/lib.sh"

((EUID == 0)) || fail "this scenario needs root (dpkg, rpm and pacman on sandbox roots; makepkg runs as nobody)"
for tool in dpkg-buildpackage dpkg rpmbuild rpm makepkg fakeroot bsdtar pacman ldd; do
	command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/deps.sh --tests)"
done

T=$(mktemp -d /tmp/dkms-packages.XXXXXX)
trap 'rm -rf "$T"' EXIT
OUTD=$T/out
VERSION=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$TOP/configure.ac")
[[ -n $VERSION ]] || fail "no version in AC_INIT of configure.ac"

# ---- what the tree installs besides the command, the library and the front ends ----
# An item is expected when the build rules (configure.ac, Makefile.am, *.mk) name it.
mapfile -t RULES < <(cd "$TOP" && { echo configure.ac; echo Makefile.am; find . -name '*.mk' \
	-not -path './build*' -not -path './.git/*' -printf '%P\n'; })
rules_have() { (cd "$TOP" && grep -qsF -e "$1" "${RULES[@]}"); }
want() { # item: 0 when the tree installs it
	case $1 in
	conf5) compgen -G "$TOP/man/dkms.conf.5*" >/dev/null ;;
	bash) rules_have bash-completion || rules_have bash_completion ;;
	zsh) rules_have zsh ;;
	framework) rules_have framework.conf ;;
	unit) rules_have dkms-autoinstall.service ;;
	pc) rules_have libdkms.pc ;;
	esac
}
for item in conf5 bash zsh framework unit pc; do
	want $item && echo "the tree installs: $item" || echo "the tree does not install (yet): $item"
done

# a file in the root; man pages as the package left them (compressed or not)
has_file() { [[ -f $1 ]]; }
has_man() { compgen -G "$1*" >/dev/null; }
# every ELF program and library in the root finds its libraries (the root's own first)
libs_resolve() { # root, libdir in the root
	local root=$1 libdir=$2 f bad=0
	while IFS= read -r f; do
		[[ $(head -c4 "$f") == $'\x7fELF' ]] || continue
		if LD_LIBRARY_PATH=$root$libdir ldd "$f" 2>&1 | grep -q 'not found'; then
			echo "unresolved libraries in $f:" >&2
			LD_LIBRARY_PATH=$root$libdir ldd "$f" | grep 'not found' >&2
			bad=1
		fi
	done < <(find "$root" -type f -perm -u+x)
	return $bad
}
runs_version() { # root, libdir, program path in the root
	local v
	v=$(LD_LIBRARY_PATH=$1$2 "$1$3" --version 2>&1) || return 1
	echo "$3 --version: $v"
	[[ -n $v ]]
}

# ---- build: each package once ----
start=$SECONDS
TARBALL=$("$TOP/scripts/dist.sh" "$OUTD") || fail "scripts/dist.sh (make dist) failed"
check "make dist gives dkms-ng-$VERSION.tar.gz" test "$TARBALL" == "$OUTD/dkms-ng-$VERSION.tar.gz" -a -s "$TARBALL"
check "the tarball carries the RPM spec and the PKGBUILD" \
	bash -c "tar tzf '$TARBALL' | grep -qx 'dkms-ng-$VERSION/packaging/rpm/dkms-ng.spec' &&
		tar tzf '$TARBALL' | grep -qx 'dkms-ng-$VERSION/packaging/arch/PKGBUILD'"
echo "dist: $((SECONDS - start)) s"

start=$SECONDS
OUT=$("$TOP/scripts/build-deb.sh" "$OUTD") || fail "scripts/build-deb.sh failed: $OUT"
DEB=$(grep '/dkms-ng_[^/]*\.deb$' <<<"$OUT")
check "build-deb.sh prints the package it built" test -f "$DEB"
check "the Debian package is version $VERSION" test "$(dpkg-deb -f "$DEB" Version)" == "$VERSION"
echo "deb: $((SECONDS - start)) s"

start=$SECONDS
OUT=$(DIST_TARBALL=$TARBALL "$TOP/scripts/build-rpm.sh" "$OUTD") || fail "scripts/build-rpm.sh failed: $OUT"
RPM=$(grep "/dkms-ng-$VERSION-[^/]*\.rpm$" <<<"$OUT")
RPM_DEVEL=$(grep "/dkms-ng-devel-$VERSION-[^/]*\.rpm$" <<<"$OUT")
check "build-rpm.sh prints dkms-ng and dkms-ng-devel of version $VERSION" test -f "$RPM" -a -f "$RPM_DEVEL"
echo "rpm: $((SECONDS - start)) s"

start=$SECONDS
OUT=$(DIST_TARBALL=$TARBALL "$TOP/scripts/build-arch.sh" "$OUTD") || fail "scripts/build-arch.sh failed: $OUT"
PKG=$(grep "/dkms-ng-$VERSION-[^/]*\.pkg\.tar\.[a-z0-9]*$" <<<"$OUT")
check "build-arch.sh prints the package of version $VERSION it built" test -f "$PKG"
echo "arch: $((SECONDS - start)) s"

# ---- Debian: dpkg --root, the database in the root ----
R=$T/deb
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers"
touch "$R/var/lib/dpkg/status" "$R/var/lib/dpkg/available"
DPKG=(dpkg --root="$R" --log=/dev/null)
dq() { dpkg-query --admindir="$R/var/lib/dpkg" "$@"; }
is_conffile() { # path [x]: a configured conffile of dkms-ng, with its checksum (and executable)
	[[ -f $R$1 && (${2:-} != x || -x $R$1) ]] && dq -W -f '${Conffiles}\n' dkms-ng | grep -qx " $1 [0-9a-f]\{32\}"
}
# What dkms-ng depends on, provided by one empty package (the first of alternatives, at the least version
# asked): dpkg then unpacks, configures and runs triggers as on a machine, not forced.
mini_deb() { # directory, name, extra control fields
	mkdir -p "$1/DEBIAN"
	printf 'Package: %s\nVersion: 1.0\nArchitecture: all\nMaintainer: test <test@localhost>\n%sDescription: test\n' \
		"$2" "$3" >"$1/DEBIAN/control"
	dpkg-deb -b "$1" "$1.deb" >/dev/null
}
PROVIDES=$(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed 's/|.*//; s/^ *//; s/ *$//; s/(>= *\([^)]*\))/(= \1)/' |
	paste -sd, | sed 's/,/, /g')
mini_deb "$T/base" sandbox-base "Provides: $PROVIDES
" || fail "building a package that provides $PROVIDES"
# Maintainer scripts run chrooted into the root: it gets a shell, and before configuring, the libraries
# of the package's programs (the postinst runs the trigger handler, which finds no kernel nor module).
copy_with_libs() { # root, programs...
	local root=$1 f l
	shift
	for f in "$@"; do
		for l in $(ldd "$f" | grep -o '/[^ ]*'); do
			cp --parents -L -n "$l" "$root/" || return 1
		done
	done
}
mkdir -p "$R/bin" "$R/dev" && cp /bin/dash "$R/bin/sh" && copy_with_libs "$R" /bin/dash &&
	mknod -m 666 "$R/dev/null" c 1 3 || fail "giving $R a shell and /dev/null"
check "dpkg --root installs a package providing dkms-ng's dependencies" "${DPKG[@]}" -i "$T/base.deb"
check "dpkg --root unpacks the Debian package" "${DPKG[@]}" --unpack "$DEB"
check "dpkg's database in the root has dkms-ng unpacked, providing dkms (= 3.0.10)" \
	test "$(dq -W -f '${Status} ${Provides}' dkms-ng)" == "install ok unpacked dkms (= 3.0.10)"
check "/usr/sbin/dkms runs from the root" runs_version "$R" "" /usr/sbin/dkms
check "the programs of the Debian package find their libraries" libs_resolve "$R" ""
copy_with_libs "$R" $(find "$R/usr" -type f -perm -u+x -exec sh -c 'head -c4 "$1" | grep -q ELF' _ {} \; -print) ||
	fail "copying the libraries of the package's programs into $R"
check "dpkg --root configures it: the postinst runs the handler in the root" "${DPKG[@]}" --configure dkms-ng
check "dkms-ng is installed in the root's database" test "$(dq -W -f '${Status}' dkms-ng)" == "install ok installed"
for d in header_postinst.d postinst.d preinst.d prerm.d postrm.d; do
	check "kernel hook /etc/kernel/$d/dkms is an executable dpkg conffile" \
		is_conffile "/etc/kernel/$d/dkms" x
done
HANDLER=$(grep -o '/[^ "]*/dkms-dpkg-trigger' "$R/etc/kernel/postinst.d/dkms" | head -1)
check "the kernel hook calls the trigger handler, which is in the package ($HANDLER)" \
	test -n "$HANDLER" -a -x "$R$HANDLER"
check "the postinst runs the same handler" grep -qF "$HANDLER" "$R/var/lib/dpkg/info/dkms-ng.postinst"
check "kernel-install plugin /etc/kernel/install.d/40-dkms.install is an executable conffile" \
	is_conffile /etc/kernel/install.d/40-dkms.install x
check "dh_dkms's /usr/lib/dkms/common.postinst is executable" test -x "$R/usr/lib/dkms/common.postinst"
for t in /lib/modules /usr/lib/modules /usr/src; do
	check "dpkg registered the file trigger interest in $t" \
		grep -qx "$t dkms-ng/noawait" "$R/var/lib/dpkg/triggers/File"
done
check "dpkg registered the explicit trigger dkms-autoinstall" \
	grep -qx 'dkms-ng/noawait' "$R/var/lib/dpkg/triggers/dkms-autoinstall"
# a package that ships a module source activates the trigger; processing it runs the postinst again
mkdir -p "$T/modsrc/usr/src/dkms-pkg-test-1.0"
echo "not a module" >"$T/modsrc/usr/src/dkms-pkg-test-1.0/README"
mini_deb "$T/modsrc" dkms-pkg-test "" || fail "dpkg-deb -b of a test package"
check "dpkg --root unpacks a package with a file in /usr/src (triggers deferred)" \
	"${DPKG[@]}" --no-triggers --unpack "$T/modsrc.deb"
trigger_pending() { # trigger name
	[[ $(dq -W -f '${Status}' dkms-ng) == "install ok triggers-pending" ]] &&
		dq -W -f '${Triggers-Pending}' dkms-ng | grep -qw -- "$1"
}
check "that activated dkms-ng's trigger on /usr/src" trigger_pending /usr/src
OUT=$("${DPKG[@]}" --configure -a 2>&1)
RC=$?
echo "$OUT"
check "dpkg --root processes the trigger (postinst triggered)" \
	test $RC == 0 -a -n "$(grep -x 'Processing triggers for dkms-ng ([^)]*) \.\.\.' <<<"$OUT")"
check "no trigger left pending" test "$(dq -W -f '${Status}' dkms-ng)" == "install ok installed"
check "dkms.8 in /usr/share/man/man8" has_man "$R/usr/share/man/man8/dkms.8"
check "no library or header: the engine is linked in" \
	bash -c "! dpkg-query --admindir='$R/var/lib/dpkg' -L dkms-ng | grep -E 'libdkms|/usr/include/|\.la$|\.a$'"
if want conf5; then check "dkms.conf.5 in /usr/share/man/man5" has_man "$R/usr/share/man/man5/dkms.conf.5"; fi
if want bash; then
	check "bash completion in /usr/share/bash-completion/completions" \
		has_file "$R/usr/share/bash-completion/completions/dkms"
fi
if want zsh; then check "zsh completion in /usr/share/zsh/vendor-completions" has_file "$R/usr/share/zsh/vendor-completions/_dkms"; fi
if want framework; then
	check "/etc/dkms/framework.conf is a dpkg conffile" is_conffile /etc/dkms/framework.conf
fi
if want unit; then
	check "dkms-autoinstall.service where systemd reads units" \
		bash -c "test -f '$R/lib/systemd/system/dkms-autoinstall.service' ||
			test -f '$R/usr/lib/systemd/system/dkms-autoinstall.service'"
fi
check "the package owns /var/lib/dkms" bash -c "dpkg-query --admindir='$R/var/lib/dpkg' -L dkms-ng | grep -qx /var/lib/dkms"

# ---- RPM: rpm --root, the database in the root ----
R=$T/rpm
mkdir -p "$R"
RPMQ=(rpm --root "$R" --dbpath /var/lib/rpm)
# no scriptlets (the root has no shell) and no plugins of this machine
check "rpm --root installs dkms-ng and dkms-ng-devel" \
	"${RPMQ[@]}" --nodeps --noscripts --noplugins -i "$RPM" "$RPM_DEVEL"
check "rpm's database in the root: dkms-ng $VERSION provides dkms = 3.0.10" \
	bash -c "test \"\$($(printf '%q ' "${RPMQ[@]}") -q --whatprovides dkms --qf '%{name} %{version}')\" == 'dkms-ng $VERSION' &&
		$(printf '%q ' "${RPMQ[@]}") -q --provides dkms-ng | grep -qx 'dkms = 3.0.10'"
check "dkms-ng obsoletes older dkms" bash -c "rpm -qp --obsoletes '$RPM' | grep -q '^dkms < '"
LIBDIR=$(rpm --eval '%{_libdir}')
PLUGINDIR=$(rpm --eval '%{__plugindir}')
MACROSDIR=$(rpm --eval '%{_rpmconfigdir}')/macros.d
check "/usr/sbin/dkms runs from the root (LD_LIBRARY_PATH=$LIBDIR)" runs_version "$R" "$LIBDIR" /usr/sbin/dkms
check "the programs and plugin of the RPM packages find their libraries" libs_resolve "$R" "$LIBDIR"
check "the plugin is in rpm's plugin dir ($PLUGINDIR/dkms.so)" test -f "$R$PLUGINDIR/dkms.so"
check "the macros file is in the macros.d rpm reads ($MACROSDIR)" test -f "$R$MACROSDIR/macros.transaction_dkms"
check "the macros file names the packaged plugin" \
	test "$(rpm --load "$R$MACROSDIR/macros.transaction_dkms" --eval '%{__transaction_dkms}')" == "$PLUGINDIR/dkms.so"
# librpm loads the packaged plugin through the packaged macros in a real transaction (another root)
mkdir -p "$T/rpm2"
OUT=$(rpm -vv --root "$T/rpm2" --dbpath /var/lib/rpm --nodeps --noscripts --define "__plugindir $R$PLUGINDIR" \
	--load "$R$MACROSDIR/macros.transaction_dkms" -i "$RPM_DEVEL" 2>&1)
RC=$?
check "rpm loads the packaged plugin into a transaction and calls it" \
	test $RC == 0 -a -n "$(grep 'calling hook init in dkms plugin' <<<"$OUT")"
check "dkms.8 in /usr/share/man/man8" has_man "$R/usr/share/man/man8/dkms.8"
check "libdkms.so.0 in $LIBDIR, dkms.h and the libdkms.so link in -devel" \
	bash -c "test -e '$R$LIBDIR/libdkms.so.0' && rpm -qlp '$RPM_DEVEL' | grep -qx /usr/include/dkms.h &&
		rpm -qlp '$RPM_DEVEL' | grep -qx '$LIBDIR/libdkms.so'"
check "the package owns /var/lib/dkms" bash -c "rpm -qlp '$RPM' | grep -qx /var/lib/dkms"
check "no libtool archives" bash -c "! rpm -qlp '$RPM' '$RPM_DEVEL' | grep '\.la$'"
if want conf5; then check "dkms.conf.5 in /usr/share/man/man5" has_man "$R/usr/share/man/man5/dkms.conf.5"; fi
if want bash; then
	check "bash completion in /usr/share/bash-completion/completions" \
		has_file "$R/usr/share/bash-completion/completions/dkms"
fi
if want zsh; then check "zsh completion in /usr/share/zsh/site-functions" has_file "$R/usr/share/zsh/site-functions/_dkms"; fi
if want framework; then
	check "/etc/dkms/framework.conf is %config(noreplace)" \
		bash -c "test -f '$R/etc/dkms/framework.conf' && rpm -qp --configfiles '$RPM' | grep -qx /etc/dkms/framework.conf &&
			test \"\$(rpm -qp --qf '[%{filenames} %{fileflags:fflags}\n]' '$RPM' | grep '^/etc/dkms/framework.conf ')\" \
				== '/etc/dkms/framework.conf cn'"
fi
if want unit; then
	check "dkms-autoinstall.service in /usr/lib/systemd/system" \
		has_file "$R/usr/lib/systemd/system/dkms-autoinstall.service"
fi
if want pc; then check "libdkms.pc in $LIBDIR/pkgconfig, in -devel" \
	bash -c "test -f '$R$LIBDIR/pkgconfig/libdkms.pc' && rpm -qlp '$RPM_DEVEL' | grep -qx '$LIBDIR/pkgconfig/libdkms.pc'"; fi

# ---- Arch: pacman --root, the database in the root ----
R=$T/arch
mkdir -p "$R/var/lib/pacman" "$R/var/cache/pacman/pkg" "$R/etc/pacman.d/hooks"
printf '[options]\nArchitecture = auto\nSigLevel = Never\nLocalFileSigLevel = Never\n' >"$T/pacman.conf"
PAC=(pacman --root "$R" --dbpath "$R/var/lib/pacman/" --config "$T/pacman.conf" --hookdir "$R/etc/pacman.d/hooks/"
	--cachedir "$R/var/cache/pacman/pkg" --logfile "$T/pacman.log" --noconfirm)
check "pacman --root installs the Arch package" "${PAC[@]}" --noscriptlet --nodeps --nodeps -U "$PKG"
check "pacman's database in the root: dkms-ng $VERSION provides dkms=3.0.10" \
	bash -c "$(printf '%q ' "${PAC[@]}") -Qi dkms-ng | grep -qx 'Provides *: dkms=3.0.10' &&
		$(printf '%q ' "${PAC[@]}") -Q dkms-ng | grep -q '^dkms-ng $VERSION-'"
check "/usr/bin/dkms runs from the root (Arch has no /usr/sbin)" runs_version "$R" /usr/lib /usr/bin/dkms
check "the programs of the Arch package find their libraries" libs_resolve "$R" /usr/lib
check "nothing in bin, sbin, lib, lib64 or usr/sbin (links to usr/bin, usr/lib on Arch)" \
	bash -c "! $(printf '%q ' "${PAC[@]}") -Qlq dkms-ng | grep -E '^$R/(bin|sbin|lib|lib64|usr/sbin|usr/lib64)/'"
for h in 70-dkms-install.hook 70-dkms-remove.hook; do
	EXEC=$(sed -n 's/^Exec = \([^ ]*\).*/\1/p' "$R/usr/share/libalpm/hooks/$h")
	check "$h in /usr/share/libalpm/hooks calls a program of the package ($EXEC)" \
		test -f "$R/usr/share/libalpm/hooks/$h" -a -n "$EXEC" -a -x "$R$EXEC"
done
# pacman reads the packaged hooks in the next transaction (reinstalling), and finds them valid
OUT=$("${PAC[@]}" --debug --noscriptlet --nodeps --nodeps -U "$PKG" 2>&1)
RC=$?
check "pacman parses both packaged hooks without complaint" \
	bash -c "test $RC == 0 && grep -q 'parsing hook file $R/usr/share/libalpm/hooks/70-dkms-install.hook' <<<\"\$1\" &&
		grep -q 'parsing hook file $R/usr/share/libalpm/hooks/70-dkms-remove.hook' <<<\"\$1\" &&
		! grep -iE '^(error|warning).*hook' <<<\"\$1\"" _ "$OUT"
check "dkms.8 in /usr/share/man/man8" has_man "$R/usr/share/man/man8/dkms.8"
check "libdkms.so.0 in /usr/lib, dkms.h in /usr/include" test -e "$R/usr/lib/libdkms.so.0" -a -f "$R/usr/include/dkms.h"
check "the package owns /var/lib/dkms" bash -c "$(printf '%q ' "${PAC[@]}") -Qlq dkms-ng | grep -qx '$R/var/lib/dkms/'"
if want conf5; then check "dkms.conf.5 in /usr/share/man/man5" has_man "$R/usr/share/man/man5/dkms.conf.5"; fi
if want bash; then
	check "bash completion in /usr/share/bash-completion/completions" \
		has_file "$R/usr/share/bash-completion/completions/dkms"
fi
if want zsh; then check "zsh completion in /usr/share/zsh/site-functions" has_file "$R/usr/share/zsh/site-functions/_dkms"; fi
if want framework; then
	check "/etc/dkms/framework.conf is a backup file" \
		bash -c "test -f '$R/etc/dkms/framework.conf' && $(printf '%q ' "${PAC[@]}") -Qii dkms-ng |
			grep -qF '$R/etc/dkms/framework.conf'"
fi
if want unit; then
	check "dkms-autoinstall.service in /usr/lib/systemd/system" \
		has_file "$R/usr/lib/systemd/system/dkms-autoinstall.service"
fi
if want pc; then check "libdkms.pc in /usr/lib/pkgconfig" has_file "$R/usr/lib/pkgconfig/libdkms.pc"; fi

echo "all $CHECKS checks passed"
