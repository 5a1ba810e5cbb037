#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What `make install` puts on a system, staged with DESTDIR: every file at its agreed path, the
# manual pages clean for groff, the framework.conf sample complete and free (no bash while it is
# all comments), the systemd unit valid for systemd-analyze, and libdkms usable by a program
# built with `pkg-config --cflags --libs libdkms`.
source "$(dirname "$0")/lib.sh"
BUILD=${DKMS_BUILD:-$TOP/build-test}
[[ -f $BUILD/Makefile ]] || fail "no configured build in $BUILD (set DKMS_BUILD)"
T=$(mktemp -d /tmp/dkms-it.XXXXXX)
trap 'rm -rf "$T"' EXIT
S=$T/stage

printf 'print-%%:\n\t@echo $($*)\n' >"$T/print.mk"
var() { make -s --no-print-directory -C "$BUILD" -f Makefile -f "$T/print.mk" "print-$1"; }
check "make install DESTDIR=... succeeds" make -s -C "$BUILD" install DESTDIR="$S" >"$T/install.log" 2>&1
sbindir=$(var sbindir) libdir=$(var libdir) includedir=$(var includedir) sysconfdir=$(var sysconfdir)
mandir=$(var mandir) bashdir=$(var bashcompletiondir) zshdir=$(var zshcompletiondir)
unitdir=$(var systemdsystemunitdir)
echo "sbindir=$sbindir libdir=$libdir sysconfdir=$sysconfdir unitdir=$unitdir bash=$bashdir zsh=$zshdir"

for f in "$sbindir/dkms" "$includedir/dkms.h" "$libdir/pkgconfig/libdkms.pc" "$sysconfdir/dkms/framework.conf" \
	"$mandir/man8/dkms.8" "$mandir/man5/dkms.conf.5" "$bashdir/dkms" "$zshdir/_dkms" \
	"$unitdir/dkms-autoinstall.service"; do
	check "installed: $f" test -s "$S$f"
done
check "installed: libdkms in $libdir" bash -c "ls '$S$libdir'/libdkms.so* '$S$libdir'/libdkms.a 2>/dev/null | grep -q ."
check "the bash completion installed is the source's" cmp "$TOP/completion/bash/dkms" "$S$bashdir/dkms"
check "the zsh completion installed is the source's" cmp "$TOP/completion/zsh/_dkms" "$S$zshdir/_dkms"

# ---- manual pages ----
for m in "$S$mandir/man8/dkms.8" "$S$mandir/man5/dkms.conf.5"; do
	check "groff -ww finds nothing in $(basename "$m")" test -z "$(groff -ww -man -z "$m" 2>&1)"
done
check "dkms.8 refers to dkms.conf(5)" bash -c "MANWIDTH=200 man -l '$S$mandir/man8/dkms.8' 2>/dev/null | grep -q 'dkms.conf(5)'"
# every directive the engine reads (conf-values.c) is described in dkms.conf(5)
directives=$(sed -n '/^const char \*const dkms_conf_directive_names/,/^};/p' "$TOP/core/conf-values.c" | grep -o '"[A-Z_]*"' | tr -d '"')
check "conf-values.c has directives" test "$(wc -w <<<"$directives")" -gt 20
for d in $directives; do
	CHECKS=$((CHECKS + 1))
	grep -qE "^\.(B|BI|BR) .*\b$d\b" "$TOP/man/dkms.conf.5" || fail "dkms.conf(5) does not describe $d"
done
echo "check: ok: dkms.conf(5) describes all $(wc -w <<<"$directives") directives"
# its example is a dkms.conf that dkms accepts
mkdir -p "$T/dkms" "$T/src/mydriver-1.2" "$T/etc"
sed -n '/^\.SH EXAMPLE/,/^\.SH/p' "$S$mandir/man5/dkms.conf.5" | sed -n '/^\.nf/,/^\.fi/p' | sed '1d;$d' |
	sed 's/\\-/-/g; s/\\e/\\/g' >"$T/src/mydriver-1.2/dkms.conf"
cat "$T/src/mydriver-1.2/dkms.conf"
expect_rc 0 add mydriver/1.2
expect_status "mydriver/1.2: added"

# ---- framework.conf ----
fw=$S$sysconfdir/dkms/framework.conf
check "framework.conf is all comments" test -z "$(grep -v '^[[:space:]]*#' "$fw" | grep -v '^[[:space:]]*$')"
settings=$(sed -n '/^static const char \*const fw_names/,/^};/p' "$TOP/core/ctx.c" | grep -o '= "[a-z_]*"' | tr -d '="' | tr -d ' ')
check "ctx.c reads settings" test "$(wc -w <<<"$settings")" -ge 9
for v in $settings; do
	CHECKS=$((CHECKS + 1))
	grep -q "^# $v=" "$fw" || fail "framework.conf does not show $v"
done
echo "check: ok: framework.conf shows all $(wc -w <<<"$settings") settings ctx.c reads"
mkdir -p "$T/conf"
cp "$fw" "$T/conf/framework.conf"
execs() { # how many programs other than itself dkms starts for `status` with the conf dir $1
	strace -f -qq -e trace=execve -o "$T/trace" "$DKMS" --confdir "$1" --dkmstree "$T/dkms" status >/dev/null 2>&1
	grep 'execve(' "$T/trace" | grep -vc "execve(\"$DKMS\""
}
check "with the sample, dkms status starts no program (no bash)" test "$(execs "$T/conf")" = 0
sed -i 's/^# \([a-z_]*=\)/\1/' "$T/conf/framework.conf"
check "uncommented, the sample is read with bash" test "$(execs "$T/conf")" -gt 0
OUT=$("$DKMS" --confdir "$T/conf" --dkmstree "$T/dkms" status 2>&1)
check "uncommented, the defaults are accepted without a warning" test "$OUT" = "mydriver/1.2: added"

# ---- systemd unit ----
unit=$S$unitdir/dkms-autoinstall.service
check "the unit runs the installed dkms autoinstall for the booted kernel" \
	grep -qx "ExecStart=$sbindir/dkms autoinstall -k %v" "$unit"
check "the unit is a oneshot" grep -qx "Type=oneshot" "$unit"
check "the unit needs the booted kernel's headers" grep -qx "ConditionPathExists=/lib/modules/%v/build" "$unit"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is not installed (scripts/deps.sh --tests)"
# verify checks that ExecStart exists: point it at the dkms under test
sed "s|^ExecStart=$sbindir/dkms|ExecStart=$DKMS|" "$unit" >"$T/dkms-autoinstall.service"
out=$(systemd-analyze verify "$T/dkms-autoinstall.service" 2>&1)
check "systemd-analyze verify accepts the unit${out:+: $out}" test -z "$out"

# ---- pkg-config and the library ----
export PKG_CONFIG_SYSROOT_DIR=$S PKG_CONFIG_LIBDIR=$S$libdir/pkgconfig:/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/share/pkgconfig
static=
ls "$S$libdir"/libdkms.so >/dev/null 2>&1 || static=--static # a --disable-shared build
flags=$(pkg-config --cflags --libs $static libdkms)
echo "pkg-config: $flags"
check "pkg-config points into the staged tree" grep -q -- "-I$S$includedir" <<<"$flags"
cat >"$T/prog.c" <<'EOC'
#include <dkms.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	struct dkms_paths p = { .dkms_tree = argv[1], .conf_dir = argv[2] };
	struct dkms_ctx *ctx;
	struct dkms_status *st;
	size_t n;

	(void)argc;
	if (dkms_ctx_new(&p, &ctx))
		return 2;
	if (dkms_status_list(ctx, NULL, &st, &n))
		return 3;
	for (size_t i = 0; i < n; i++) {
		char *line = dkms_status_format(&st[i]);

		printf("%s\n", line);
		free(line);
	}
	dkms_status_list_free(st, n);
	printf("tree %s\n", dkms_ctx_dkms_tree(ctx));
	dkms_ctx_free(ctx);
	return 0;
}
EOC
sed -i 's/#include <stdio.h>/#include <stdio.h>\n#include <stdlib.h>/' "$T/prog.c"
# shellcheck disable=SC2086
check "a program builds against libdkms with pkg-config's flags" cc -Wall -Werror -o "$T/prog" "$T/prog.c" $flags
OUT=$(LD_LIBRARY_PATH=$S$libdir "$T/prog" "$T/dkms" "$T/etc" 2>&1)
echo "$OUT"
check "and runs: status of the tree through the library" test "$OUT" = "mydriver/1.2: added
tree $T/dkms"

# framework.conf belongs to the admin once edited: a new install keeps it, uninstall leaves it
echo "parallel_jobs=3" >>"$S$sysconfdir/dkms/framework.conf"
check "make install again succeeds" make -s -C "$BUILD" install DESTDIR="$S" >"$T/install.log" 2>&1
check "an edited framework.conf survives make install" grep -qx "parallel_jobs=3" "$S$sysconfdir/dkms/framework.conf"
check "make uninstall DESTDIR=... succeeds" make -s -C "$BUILD" uninstall DESTDIR="$S" >"$T/install.log" 2>&1
check "uninstall leaves only the edited framework.conf" test "$(find "$S" -type f -o -type l)" = "$S$sysconfdir/dkms/framework.conf"
done_ok
