#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The parallel runner on real kernel builds: every compiler of every build counts against one make
# jobserver (-j N), builds of different modules overlap, BUILD_DEPENDS order holds, and a failing module
# stops only what depends on it.
source "$(dirname "$0")/lib.sh"
new_trees

# A compiler wrapper that records how many compilers run at once, and which modules overlap.
REALCC=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "/lib/modules/$K1/build/.config")
command -v "$REALCC" >/dev/null || fail "the compiler of $K1 ($REALCC) is not installed"
COUNT=$T/count
mkdir -p "$COUNT"
cat >"$T/cc" <<EOS
#!/bin/bash
mod=\$(printf '%s\n' "\$@" | sed -n 's|.*/par\([a-z]\)/[0-9.]*/build/.*|\1|p' | head -1)
{
	flock 9
	n=\$((\$(cat $COUNT/cur 2>/dev/null || echo 0) + 1))
	echo \$n >$COUNT/cur
	((n > \$(cat $COUNT/max 2>/dev/null || echo 0))) && echo \$n >$COUNT/max
	[[ -n \$mod ]] && echo "\$mod" >>$COUNT/running && sort -u $COUNT/running | tr -d '\n' >>$COUNT/overlaps && echo >>$COUNT/overlaps
} 9>$COUNT/lock
$REALCC "\$@"
rc=\$?
{
	flock 9
	echo \$((\$(cat $COUNT/cur) - 1)) >$COUNT/cur
	[[ -n \$mod ]] && { grep -vx "\$mod" $COUNT/running >$COUNT/running.new || true; mv $COUNT/running.new $COUNT/running; }
} 9>$COUNT/lock
exit \$rc
EOS
chmod +x "$T/cc"

# Module sources: par<x>-1.0 with six source files; extra dkms.conf lines as the second argument.
module() {
	local m=par$1 dir=$T/src/par$1-1.0 i
	mkdir -p "$dir"
	{
		echo "obj-m := $m.o"
		echo -n "$m-objs :="
		for i in 1 2 3 4 5 6; do echo -n " part$i.o"; done
		echo
	} >"$dir/Makefile"
	for i in 1 2 3 4 5 6; do
		printf '#include <linux/module.h>\nint %s_part%d(void);\nint %s_part%d(void) { return %d; }\n' \
			"$m" "$i" "$m" "$i" "$i" >"$dir/part$i.c"
	done
	printf 'MODULE_LICENSE("GPL");\n' >>"$dir/part1.c"
	cat >"$dir/dkms.conf" <<EOC
PACKAGE_NAME=$m
PACKAGE_VERSION=1.0
BUILT_MODULE_NAME[0]=$m
DEST_MODULE_LOCATION[0]=/extra
MAKE[0]="make -C \${kernel_source_dir} M=\${dkms_tree}/$m/1.0/build CC=$T/cc modules"
AUTOINSTALL=yes
${2:-}
EOC
	expect_rc 0 add "$dir"
}

module a
module b
module c
module d


expect_rc 0 autoinstall -k "$K1" -j 2
for m in a b c d; do
	check "par$m installed" test -f "$T/lib/modules/$K1/updates/dkms/par$m.ko"
done
max=$(cat "$COUNT/max")
check "with -j 2, at most 2 compilers ran at once (saw $max)" test "$max" -le 2
check "with -j 2, the builds did use 2 slots (saw $max)" test "$max" -eq 2
check "builds of different modules overlapped" grep -qE '^[a-d][a-d]' "$COUNT/overlaps"

expect_rc 0 kernel_prerm -k "$K1"
rm -f "$COUNT"/*
expect_rc 0 autoinstall -k "$K1" -j 1
max=$(cat "$COUNT/max")
check "with -j 1, one compiler at a time (saw $max)" test "$max" -eq 1

# Every build records its time; a later plan starts the builds that took longest first. Here the
# recorded times of K1's builds are set by hand, so the order on K2 is known: c, a, d, b.
for m in a b c d; do
	check "par$m's build time is recorded" grep -qE '^[0-9]+\.[0-9]$' "$T/dkms/par$m/1.0/$K1/$ARCH/log/duration"
done
echo 20.0 >"$T/dkms/para/1.0/$K1/$ARCH/log/duration"
echo 5.0 >"$T/dkms/parb/1.0/$K1/$ARCH/log/duration"
echo 30.0 >"$T/dkms/parc/1.0/$K1/$ARCH/log/duration"
echo 10.0 >"$T/dkms/pard/1.0/$K1/$ARCH/log/duration"
expect_rc 0 autoinstall -k "$K2" -j 1
check "on the next kernel, the longest builds start first" test \
	"$(sed -n 's/^Building module par\([a-d]\).*/\1/p' <<<"$OUT" | tr -d '\n')" = cadb
expect_rc 0 kernel_prerm -k "$K2"

# MAKEFLAGS from a parent make is respected: its jobserver (two slots here) is the one used.
expect_rc 0 kernel_prerm -k "$K1"
rm -f "$COUNT"/*
cat >"$T/outer.mk" <<EOM
all:
	+@$DKMS --dkmstree $T/dkms --sourcetree $T/src --installtree $T/lib/modules --confdir $T/etc autoinstall -k $K1 -j 8
EOM
check "dkms under make -j2 runs" make -s -j2 -f "$T/outer.mk"
max=$(cat "$COUNT/max")
check "under a parent make -j2, at most 2 compilers despite -j 8 (saw $max)" test "$max" -le 2

# BUILD_DEPENDS under parallelism: e -> f -> g, with h independent; and a broken module with a dependant.
expect_rc 0 kernel_prerm -k "$K1"
for m in a b c d; do expect_rc 0 remove "par$m/1.0" --all; done
module e 'BUILD_DEPENDS[0]=parf'
module f 'BUILD_DEPENDS[0]=parg'
module g
module h
module x 'PRE_BUILD="break.sh"'
printf '#!/bin/sh\necho "this is not C" >>part2.c\n' >"$T/src/parx-1.0/break.sh"
chmod +x "$T/src/parx-1.0/break.sh"
module y 'BUILD_DEPENDS[0]=parx'
expect_rc 11 autoinstall -k "$K1" -j 2
order=$OUT
line() { grep -n "$1" <<<"$order" | head -1 | cut -d: -f1; }
check "parg installed before parf started" test "$(line 'Installing module parg/')" -lt "$(line 'Building module parf/')"
check "parf installed before pare started" test "$(line 'Installing module parf/')" -lt "$(line 'Building module pare/')"
for m in e f g h; do
	check "par$m installed" test -f "$T/lib/modules/$K1/updates/dkms/par$m.ko"
done
check "the broken module is not installed" test ! -e "$T/lib/modules/$K1/updates/dkms/parx.ko"
check "its dependant was not built" test ! -e "$T/dkms/pary/1.0/$K1"
expect_out "parx/1.0.*make.log"
expect_out "pary/1.0.*BUILD_DEPENDS"
expect_status "pare/1.0, $K1, $ARCH: installed
parf/1.0, $K1, $ARCH: installed
parg/1.0, $K1, $ARCH: installed
parh/1.0, $K1, $ARCH: installed
parx/1.0: added
pary/1.0: added"
check "one depmod for the kernel: modules.dep lists all four" test "$(grep -c '^updates/dkms/par' "$T/lib/modules/$K1/modules.dep")" = 4
done_ok
