#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Debian's real *-dkms packages, built and installed for two real kernels in one shared temporary tree
# (each module is built once per kernel), then a real build failure, then removal of everything.
source "$(dirname "$0")/lib.sh"
new_trees

# package -> modules it must install (test-corpus.md; xtables-addons' 23 come from its dkms.conf)
declare -A EXPECT=(
	[acpi-call-dkms]="acpi_call"
	[v4l2loopback-dkms]="v4l2loopback"
	[ddcci-dkms]="ddcci ddcci-backlight"
	[digimend-dkms]="hid-kye hid-uclogic hid-polostar hid-viewsonic"
	[evdi-dkms]="evdi"
	[dm-writeboost-dkms]="dm-writeboost"
	[openvpn-dco-dkms]="ovpn-dco-v2"
	[jool-dkms]="jool jool_common jool_siit"
	[xtables-addons-dkms]=""
)
declare -A MV=()
for pkg in "${!EXPECT[@]}"; do
	dir=$(corpus_src "$pkg")
	expect_rc 0 add "$T/src/$dir"
	MV[$pkg]=$(sed -n 's/^Creating symlink .*\/\([^/]*\)\/\([^/]*\)\/source -> .*/\1\/\2/p' <<<"$OUT")
	[[ -n ${MV[$pkg]} ]] || fail "could not read the module/version that add registered for $pkg"
done
xt_conf=$(ls "$T"/src/xtables-addons-*/dkms.conf)
EXPECT[xtables-addons-dkms]=$(sed -n 's/^BUILT_MODULE_NAME\[[0-9]*\]="\(.*\)"/\1/p' "$xt_conf" | tr '\n' ' ')
check "xtables-addons lists 23 modules" test "$(wc -w <<<"${EXPECT[xtables-addons-dkms]}")" = 23

start=$SECONDS
expect_rc 0 autoinstall -k "$K1" -k "$K2"
echo "autoinstall of ${#EXPECT[@]} modules for 2 kernels: $((SECONDS - start)) s"

status_want=""
for pkg in "${!EXPECT[@]}"; do
	for k in "$K1" "$K2"; do
		for m in ${EXPECT[$pkg]}; do
			f=$T/lib/modules/$k/updates/dkms/$m${SUF[$k]}
			check "$pkg: $m installed for $k" test -f "$f"
			check "$pkg: $m vermagic is $k" test "$(vermagic "$f")" = "$k"
			check "$pkg: $m in modules.dep of $k" grep -q "^updates/dkms/$m${SUF[$k]}:" "$T/lib/modules/$k/modules.dep"
		done
		n_built=$(ls "$T/dkms/${MV[$pkg]}/$k/$ARCH/module" | wc -l)
		check "$pkg: exactly the expected modules built for $k" test "$n_built" = "$(wc -w <<<"${EXPECT[$pkg]}")"
		status_want+="${MV[$pkg]}, $k, $ARCH: installed"$'\n'
	done
done
status_want=$(LC_ALL=C sort <<<"${status_want%$'\n'}")
expect_status "$status_want"

# A real failure: lttng-modules 2.13.9 does not compile against these kernels.
dir=$(corpus_src lttng-modules-dkms)
expect_rc 0 add "$T/src/$dir"
expect_rc 10 build lttng-modules/2.13.9 -k "$K1"
log=$T/dkms/lttng-modules/2.13.9/$K1/$ARCH/log/make.log
expect_out "lttng-modules/2.13.9"
expect_out "$K1"
expect_out "$log"
check "the failed build's log is kept" test -s "$log"
check "a failed build is not 'built'" test ! -e "$T/dkms/lttng-modules/2.13.9/$K1/$ARCH/module"
expect_status "$(LC_ALL=C sort <<<"$status_want"$'\n'"lttng-modules/2.13.9: added")"

for pkg in "${!EXPECT[@]}"; do
	expect_rc 0 remove "${MV[$pkg]}" --all
done
expect_rc 0 remove lttng-modules/2.13.9 --all
expect_status ""
check "nothing left in the dkms tree" test -z "$(ls -A "$T/dkms" | grep -v -e '^mok\.' -e '^\.lock$')"
check "nothing left under updates/dkms" test -z "$(find "$T/lib/modules" -path '*updates/dkms/*')"
for k in "$K1" "$K2"; do
	check "modules.dep of $k lists no dkms module" bash -c "! grep -q updates/dkms '$T/lib/modules/$k/modules.dep'"
done
done_ok
