#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Debian package on the REAL system (root; real dpkg, apt and archive packages; about 3 minutes):
# build the project's .deb (scripts/build-deb.sh) and install it; apt-get install two *-dkms packages;
# apt-get install the headers and image of a kernel not yet present: every module is built, installed
# and in its modules.dep when apt-get returns; dpkg -P of that kernel takes its modules away; a module
# that fails to build (lttng-modules-dkms) does not fail apt and leaves the others installed; removing
# a *-dkms package removes its module everywhere, reinstalling brings it back; two headers packages in
# one apt-get install are built in one plan.
# Restores the system on exit: purges every package it installed (kernels first, while the project's
# package still handles their removal, then the project's package) and puts back an unowned
# /usr/sbin/dkms (a `make install`). Packages that apt had to upgrade as dependencies stay upgraded.
# $DKMS_DEB: a dkms-ng .deb to use instead of building one.
source "$(dirname "$0")/lib.sh"

KN=6.1.0-54-amd64  # a kernel not yet installed (lib.sh's kernels are 55 and 56)
KN2=6.1.0-53-amd64 # a second one, for the one-plan check
declare -A KO=([acpi-call]=acpi_call [dm-writeboost]=dm-writeboost)
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q -o Dpkg::Use-Pty=0 --no-install-recommends)

((EUID == 0)) || fail "run as root: this test installs packages on the machine"
for p in dkms dkms-ng "linux-headers-$KN" "linux-image-$KN" "linux-headers-$KN2"; do
	[[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) == ii* ]] &&
		fail "$p is installed: this test installs and purges it, remove it first"
done
for k in "${KERNELS[@]}"; do
	[[ -d /usr/src/linux-headers-$k ]] || fail "kernel headers for $k are not installed (scripts/deps.sh --tests)"
done

T=$(mktemp -d /tmp/dkms-it.XXXXXX)
# installed, or removed with its configuration kept
installed() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" || $1 == "rc" { print $2 }' | sort; }
installed >"$T/before"
[[ -e /usr/sbin/dkms ]] && ! dpkg -S /usr/sbin/dkms >/dev/null 2>&1 && cp -a /usr/sbin/dkms "$T/dkms.orig"

cleanup() {
	local new
	echo "== restoring the system"
	dpkg --configure -a >/dev/null 2>&1
	new=$(comm -13 "$T/before" <(installed) | grep -vx dkms-ng)
	# kernels and module packages while dkms-ng still runs their hooks and triggers, then dkms-ng
	[[ -n $new ]] && "${APT[@]}" purge $new >"$T/purge.log" 2>&1
	dpkg -P dkms-ng >>"$T/purge.log" 2>&1
	[[ -e $T/dkms.orig ]] && cp -a "$T/dkms.orig" /usr/sbin/dkms
	for k in "$KN" "$KN2"; do # a safety net: nothing should be left
		if compgen -G "/var/lib/dkms/*/*/$k" >/dev/null; then
			echo "leftovers for $k in /var/lib/dkms: removing them" >&2
			dkms kernel_prerm -k "$k" >/dev/null 2>&1
		fi
		rmdir "/lib/modules/$k/updates/dkms" "/lib/modules/$k/updates" "/lib/modules/$k" 2>/dev/null
	done
	new=$(comm -13 "$T/before" <(installed))
	[[ -n $new ]] && echo "still installed after the purge: $new (see $T/purge.log)" >&2 && return
	rm -rf "$T"
}
trap cleanup EXIT

apt_ok() { # what, apt-get args...: must exit 0; output in $OUT
	local what=$1
	shift
	OUT=$("${APT[@]}" "$@" 2>&1)
	RC=$?
	printf '$ apt-get %s  [exit %d]\n%s\n' "$*" "$RC" "$(grep -v '^(Reading database' <<<"$OUT")"
	CHECKS=$((CHECKS + 1))
	((RC == 0)) || fail "$what: apt-get $* exited $RC"
	echo "check: ok: $what"
}

dpkg_ok() { # what, dpkg args...
	local what=$1
	shift
	OUT=$(dpkg "$@" 2>&1)
	RC=$?
	printf '$ dpkg %s  [exit %d]\n%s\n' "$*" "$RC" "$(grep -v '^(Reading database' <<<"$OUT")"
	CHECKS=$((CHECKS + 1))
	((RC == 0)) || fail "$what: dpkg $* exited $RC"
	echo "check: ok: $what"
}

# module installed for a kernel: registered and its file in /lib/modules/<kver>/updates/dkms
on_kernel() { # module, kver
	[[ $(dkms status -m "$1" -k "$2") == *": installed"* ]] && [[ -f /lib/modules/$2/updates/dkms/${KO[$1]}.ko ]]
}
off_kernel() { # module, kver
	! dkms status -m "$1" -k "$2" | grep -qF ", $2," && [[ ! -e /lib/modules/$2/updates/dkms/${KO[$1]}.ko ]]
}
in_modules_dep() { # module, kver
	grep -q "^updates/dkms/${KO[$1]}.ko:" "/lib/modules/$2/modules.dep"
}
nothing_of() { # kver: no module, no tree entry, no /lib/modules dir left
	! dkms status -k "$1" | grep -qF ", $1," && ! compgen -G "/var/lib/dkms/*/*/$1" >/dev/null &&
		! compgen -G "/var/lib/dkms/*/kernel-$1-*" >/dev/null && [[ ! -e /lib/modules/$1 ]]
}

# ---- the package ----
if [[ -n ${DKMS_DEB:-} ]]; then
	DEB=$DKMS_DEB
else
	DEB=$("$TOP/scripts/build-deb.sh" "$T/deb" | grep '/dkms-ng_[^/]*\.deb$')
fi
check "the .deb was built" test -f "$DEB"
check "the .deb provides, conflicts with and replaces dkms" \
	bash -c "dpkg-deb -f '$DEB' Provides Conflicts Replaces | grep -c '^[A-Za-z]*: dkms' | grep -qx 3"
apt_ok "the project's package installs" install "$(realpath "$DEB")"
check "it owns /usr/sbin/dkms" bash -c 'dpkg -S /usr/sbin/dkms | grep -q "^dkms-ng:"'
check "it ships common.postinst and the kernel hooks" test -x /usr/lib/dkms/common.postinst -a \
	-x /etc/kernel/header_postinst.d/dkms -a -x /etc/kernel/prerm.d/dkms -a -x /etc/kernel/install.d/40-dkms.install

# ---- two dh_dkms packages: built for every kernel with headers ----
apt_ok "acpi-call-dkms and dm-writeboost-dkms install" install acpi-call-dkms dm-writeboost-dkms
for m in acpi-call dm-writeboost; do
	for k in "${KERNELS[@]}"; do
		check "$m installed on $k" on_kernel "$m" "$k"
	done
done

# ---- a new kernel: headers and image in one apt run ----
apt_ok "linux-headers-$KN and linux-image-$KN install" install "linux-headers-$KN" "linux-image-$KN"
for m in acpi-call dm-writeboost; do
	check "$m installed on $KN when apt-get returns" on_kernel "$m" "$KN"
	check "$m in modules.dep of $KN" in_modules_dep "$m" "$KN"
done
check "the hooks left $KN to the trigger" grep -q "^dkms: kernel $KN: built when dpkg processes triggers" <<<"$OUT"
check "which built it in one plan" grep -q "^dkms: one plan, .* for kernel(s) $KN:" <<<"$OUT"
check "the initramfs of $KN gets the modules" grep -q "initrd.img-$KN gets the new modules" <<<"$OUT"
ours=$(grep -n 'Processing triggers for dkms-ng' <<<"$OUT" | tail -1 | cut -d: -f1)
theirs=$(grep -n 'Processing triggers for initramfs-tools' <<<"$OUT" | tail -1 | cut -d: -f1)
check "initramfs-tools' trigger runs after ours" test "${theirs:-0}" -gt "${ours:-0}"
check "no kernel left pending" test ! -e /var/lib/dkms/.dpkg-kernels

# ---- the kernel goes ----
dpkg_ok "dpkg -P of $KN's image and headers" -P "linux-image-$KN" "linux-headers-$KN"
check "nothing of $KN is left in the tree or /lib/modules" nothing_of "$KN"
for k in "${KERNELS[@]}"; do
	check "acpi-call still installed on $k" on_kernel acpi-call "$k"
done

# ---- a module that fails to build ----
apt_ok "lttng-modules-dkms installs although its build fails" install lttng-modules-dkms
check "the failure is reported with its log" grep -q "lttng-modules/2.13.9 for $K1: /var/lib/dkms/.*/make.log" <<<"$OUT"
check "the policy is said" grep -q "the package operation goes on" <<<"$OUT"
check "the trigger does not retry it" grep -q "failed before, not retried here" <<<"$OUT"
check "its make.log is kept" test -s "/var/lib/dkms/lttng-modules/2.13.9/$K1/$ARCH/log/make.log"
for m in acpi-call dm-writeboost; do
	for k in "${KERNELS[@]}"; do
		check "$m still installed on $k" on_kernel "$m" "$k"
	done
done

# ---- a kernel hook run by hand retries it; strict mode makes the failure fatal ----
hook() { # kver: the header_postinst.d hook, as a headers package runs it (outside dpkg: builds now)
	OUT=$(/etc/kernel/header_postinst.d/dkms "$1" 2>&1)
	RC=$?
	printf '$ /etc/kernel/header_postinst.d/dkms %s  [exit %d]\n%s\n' "$1" "$RC" "$OUT"
}
hook "$K1"
check "the hook retries lttng-modules on $K1" grep -q "install lttng-modules/2.13.9 for $K1: FAILED" <<<"$OUT"
check "and exits 0" test "$RC" = 0
STRICT_CONF=/etc/dkms/framework.conf.d/80-dpkg-system-test.conf
[[ -d /etc/dkms ]] || STRICT_DIRS=(/etc/dkms/framework.conf.d /etc/dkms)
[[ -d /etc/dkms/framework.conf.d ]] || STRICT_DIRS=(/etc/dkms/framework.conf.d "${STRICT_DIRS[@]}")
mkdir -p /etc/dkms/framework.conf.d
echo strict=yes >"$STRICT_CONF"
hook "$K1"
rm -f "$STRICT_CONF"
rmdir "${STRICT_DIRS[@]}" 2>/dev/null
check "with strict=yes in framework.conf.d, it exits 1" test "$RC" = 1
check "and says so" grep -q "strict mode" <<<"$OUT"

# ---- a module package goes and comes back ----
apt_ok "acpi-call-dkms removes" remove acpi-call-dkms
check "acpi-call is gone from the tree" bash -c '! dkms status -m acpi-call | grep -q .'
for k in "${KERNELS[@]}"; do
	check "acpi-call is gone from $k" off_kernel acpi-call "$k"
done
apt_ok "acpi-call-dkms reinstalls" install acpi-call-dkms
for k in "${KERNELS[@]}"; do
	check "acpi-call is back on $k" on_kernel acpi-call "$k"
done

# ---- two kernels in one apt run: one plan ----
apt_ok "two headers packages install in one apt run (lttng fails on both)" \
	install "linux-headers-$KN2" "linux-headers-$KN"
check "one plan for both kernels" grep -q "^dkms: one plan, .* for kernel(s) $KN2, $KN:" <<<"$OUT"
check "and only one" test "$(grep -c '^dkms: one plan' <<<"$OUT")" = 1
for m in acpi-call dm-writeboost; do
	for k in "$KN2" "$KN"; do
		check "$m installed on $k" on_kernel "$m" "$k"
	done
done
dpkg_ok "dpkg -P of both headers packages" -P "linux-headers-$KN2" "linux-headers-$KN"
for k in "$KN2" "$KN"; do
	check "nothing of $k is left" nothing_of "$k"
done

done_ok
