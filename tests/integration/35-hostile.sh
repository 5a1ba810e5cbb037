#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Hostile input: dkms.conf files, module sources and command lines that try to reach outside the trees,
# hang the engine or fill the disk. Each case runs one command on temporary trees next to a sentinel
# directory and asserts the exit code (the error class of dkms --help), a one-line error that names the
# file, directive or argument, that the trees hold no half-made entry, and that nothing outside the trees
# changed: the sentinel, the trees' parent directory, the machine's /lib/modules, /usr/src, /var/lib/dkms
# and /etc/dkms, and no file named *PWNED* (every escape attempt below aims at such a name) in /tmp.
# (Hostile tarballs are in 55-tarball.sh.)
source "$(dirname "$0")/lib.sh"

# The machine's trees are snapshotted: hold off the scenarios that change them (under flock on
# /tmp/system.lock) meanwhile, unless one of our callers already holds that lock.
LOCK=${DKMS_SYSTEM_LOCK:-/tmp/system.lock}
lock_held_above() {
	local ino holder p
	ino=$(stat -c %i "$LOCK" 2>/dev/null) || return 1
	for holder in $(awk -v ino="$ino" '$2 == "FLOCK" { split($6, f, ":"); if (f[3] == ino) print $5 }' /proc/locks); do
		for ((p = PPID; p > 1; p = $(ps -o ppid= -p "$p" 2>/dev/null || echo 1))); do
			[[ $p == "$holder" ]] && return 0
		done
	done
	return 1
}
if [[ -z ${DKMS_HOSTILE_LOCKED:-} ]] && ! lock_held_above; then
	DKMS_HOSTILE_LOCKED=1 exec flock -s "$LOCK" "$BASH" "$0" "$@"
fi

new_trees plain
S=$T/sentinel # outside every tree: nothing may appear or change here
IN=$T/in      # the cases' inputs
mkdir -p "$S" "$IN"
echo "secret" >"$S/secret"
mkdir -p "$S/dir"
# framework.conf of the scenario: a short bound on evaluating a dkms.conf, so the hanging cases are quick
echo 'conf_timeout=3' >"$T/etc/framework.conf"

# Every command is bounded: a hang is a failure, not a stuck suite.
REAL_DKMS=$DKMS
printf '#!/bin/sh\nexec timeout -k 5 100 %q "$@"\n' "$REAL_DKMS" >"$T/dkms-bounded"
chmod +x "$T/dkms-bounded"
DKMS=$T/dkms-bounded

outside() {
	{
		find "$T" -mindepth 1 -maxdepth 1 -printf '%p %y\n'
		find "$T" -maxdepth 1 ! -name dkms ! -name src ! -name lib ! -name etc ! -name in \
			-printf '%p %y %s %T@\n'
		find "$S" -printf '%p %y %s %T@ %l\n'
		find /lib/modules /usr/src /var/lib/dkms /etc/dkms -printf '%p %y %s %T@\n' 2>/dev/null
		find /tmp -maxdepth 3 -name '*PWNED*' 2>/dev/null
	} | LC_ALL=C sort | md5sum
}
trees() { # the writers' lock file dkms/.lock is made once and stays: it is no change
	(cd "$T" && find dkms src lib etc in ! -path dkms/.lock -printf '%p %y %s %l\n' | LC_ALL=C sort)
}

n=0
# case code regex dkms-args...: regex (grep -E) must match the one "Error!" line (code 0: any line).
case_() {
	local code=$1 re=$2 o t
	shift 2
	n=$((n + 1))
	echo "---- case $n"
	o=$(outside)
	t=$(trees)
	expect_rc "$code" "$@"
	if [[ $code != 0 ]]; then
		expect_out "^Error!.*$re"
		check "case $n: the error is one line" test "$(grep -c '^Error!' <<<"$OUT")" = 1
		if [[ -z ${MAKE_RAN:-} ]]; then
			check "case $n: the trees are as they were" test "$(trees)" = "$t"
		else # a failed make keeps its build directory and log for inspection, nothing half-made
			check "case $n: no half-made entry in the trees" \
				test -z "$(cd "$T" && find dkms src lib -name '*.tmp-*' -o -name '*dkms-tmp*' -o -name '*.dkms-add.*' -o -name '*.dkms-new' -o -name .journal)"
		fi
	else
		expect_out "$re"
	fi
	check "case $n: nothing outside the trees changed" test "$(outside)" = "$o"
}

# A module source in $IN/<dir> from a dkms.conf text; prints the directory.
src_conf() { # dir, dkms.conf text
	rm -rf "${IN:?}/$1"
	mkdir -p "$IN/$1"
	cp "$TOP/examples/dkms-hello-0.1/dkms_hello.c" "$TOP/examples/dkms-hello-0.1/Makefile" "$IN/$1/"
	printf '%s\n' "$2" >"$IN/$1/dkms.conf"
	echo "$IN/$1"
}
conf() { # PACKAGE_NAME PACKAGE_VERSION BUILT_MODULE_NAME DEST_MODULE_LOCATION [extra lines]
	printf 'PACKAGE_NAME=%s\nPACKAGE_VERSION=%s\nBUILT_MODULE_NAME[0]=%s\nDEST_MODULE_LOCATION[0]=%s\n%s' \
		"$1" "$2" "$3" "$4" "${5:-}"
}
ok() { conf hostile 1.0 dkms_hello /extra "$1"; }
# add of a bad conf: exit 8, the error names the conf and the directive
bad_conf() { # directive regex, conf text
	local dir
	dir=$(src_conf "c$((n + 1))" "$2")
	case_ 8 "$dir/dkms.conf.*$1" add "$dir"
}

# ---- dkms.conf: names and versions ----
bad_conf 'PACKAGE_NAME' "$(conf '../sentinel/PWNED' 1.0 dkms_hello /extra)"
bad_conf 'PACKAGE_NAME' "$(conf '..' 1.0 dkms_hello /extra)"
bad_conf 'PACKAGE_NAME' "$(conf "\$'a\\nPWNED'" 1.0 dkms_hello /extra)"
bad_conf 'PACKAGE_NAME' "$(conf "\$'a\\tb'" 1.0 dkms_hello /extra)"
bad_conf 'PACKAGE_NAME' "$(conf "''" 1.0 dkms_hello /extra)"
bad_conf 'PACKAGE_NAME' "$(conf '-rf' 1.0 dkms_hello /extra)"
bad_conf 'PACKAGE_NAME' "$(conf "$(printf 'x%.0s' {1..4200})" 1.0 dkms_hello /extra)"
bad_conf 'PACKAGE_NAME' "$(conf "\$'caf\\xe9\\xff'" 1.0 dkms_hello /extra)"
bad_conf 'PACKAGE_NAME' "$(conf "'a;touch PWNED'" 1.0 dkms_hello /extra)"
bad_conf 'PACKAGE_VERSION' "$(conf hostile '../../sentinel/PWNED' dkms_hello /extra)"
bad_conf 'PACKAGE_VERSION' "$(conf hostile "\$'1\\nPWNED'" dkms_hello /extra)"
bad_conf 'PACKAGE_VERSION' "$(conf hostile '-1' dkms_hello /extra)"
bad_conf 'PACKAGE_VERSION' "$(conf hostile "$(printf '1%.0s' {1..4200})" dkms_hello /extra)"
bad_conf 'PACKAGE_VERSION' "$(conf hostile "\$'1\\x80'" dkms_hello /extra)"
bad_conf 'PACKAGE_VERSION="original_module".*registry' "$(conf hostile original_module dkms_hello /extra)"
bad_conf 'PACKAGE_VERSION="kernel-6.1.0-55-amd64-x86_64".*registry' \
	"$(conf hostile kernel-6.1.0-55-amd64-x86_64 dkms_hello /extra)"

# ---- dkms.conf: module names and locations ----
bad_conf 'BUILT_MODULE_NAME' "$(conf hostile 1.0 '../../sentinel/PWNED' /extra)"
bad_conf 'BUILT_MODULE_NAME' "$(conf hostile 1.0 '..' /extra)"
bad_conf 'BUILT_MODULE_NAME' "$(conf hostile 1.0 "\$'a\\nb'" /extra)"
bad_conf 'BUILT_MODULE_NAME' "$(conf hostile 1.0 'dkms_hello.ko' /extra)"
bad_conf 'BUILT_MODULE_NAME' "$(conf hostile 1.0 '-dkms_hello' /extra)"
bad_conf 'DEST_MODULE_NAME' "$(ok 'DEST_MODULE_NAME[0]=../../../sentinel/PWNED')"
bad_conf 'DEST_MODULE_NAME' "$(ok "DEST_MODULE_NAME[0]=\$'x\\ny'")"
bad_conf 'DEST_MODULE_NAME' "$(ok 'DEST_MODULE_NAME[0]=x.ko')"
bad_conf 'BUILT_MODULE_LOCATION' "$(ok "BUILT_MODULE_LOCATION[0]=../../sentinel/")"
bad_conf 'BUILT_MODULE_LOCATION' "$(ok "BUILT_MODULE_LOCATION[0]=$S/")"
bad_conf 'BUILT_MODULE_LOCATION' "$(ok "BUILT_MODULE_LOCATION[0]=\$'sub\\n/'")"
bad_conf 'DEST_MODULE_LOCATION' "$(conf hostile 1.0 dkms_hello '/extra/../../../sentinel')"
bad_conf 'DEST_MODULE_LOCATION' "$(conf hostile 1.0 dkms_hello "$S")"
bad_conf 'DEST_MODULE_LOCATION' "$(conf hostile 1.0 dkms_hello "\$'/updates/\\nx'")"
bad_conf 'PATCH' "$(ok 'PATCH[0]=../../sentinel/secret')"
bad_conf 'PATCH' "$(ok "PATCH[0]=$S/secret")"
bad_conf 'PRE_BUILD' "$(ok 'PRE_BUILD=../../sentinel/PWNED.sh')"
bad_conf 'POST_INSTALL' "$(ok "POST_INSTALL=$S/PWNED.sh")"
bad_conf 'POST_ADD' "$(ok 'POST_ADD="../PWNED.sh arg"')"

# ---- dkms.conf: the file itself ----
dir=$(src_conf "c$((n + 1))" "$(ok 'while :; do :; done')")
start=$SECONDS
case_ 8 "$dir/dkms.conf.*did not finish.*3 s" add "$dir"
check "case $n: the endless conf was stopped after the bound" test $((SECONDS - start)) -lt 20

dir=$(src_conf "c$((n + 1))" "$(ok 'yes "spam spam spam spam"')")
start=$SECONDS
case_ 8 "$dir/dkms.conf.*did not finish" add "$dir"
check "case $n: the endless printer was stopped" test $((SECONDS - start)) -lt 20

# (short sleeps: a regression holds the output pipe, and the suite, only that long)
dir=$(src_conf "c$((n + 1))" "$(ok 'sleep 42.4242 & (exec -a dkms-hostile-bg sleep 42.4243) 2>&1 >/dev/null &')")
start=$SECONDS
case_ 0 'Creating symlink' add "$dir"
check "case $n: did not wait for the background jobs" test $((SECONDS - start)) -lt 20
check "case $n: no process of the conf is left" bash -c '! pgrep -f "slee[p] 42.4242|^dkms-hostile-b[g]"'
expect_rc 0 remove hostile/1.0 --all
rm -rf "$T/src/hostile-1.0"

# a conf that prints 5 MB and is otherwise fine: added, and only the first 64 KiB of its output shown
dir=$(src_conf "c$((n + 1))" "$(ok 'head -c 5000000 /dev/zero | tr "\\0" x')")
case_ 0 'the rest of this output is dropped' add "$dir"
check "case $n: the output passed on is bounded" test "${#OUT}" -lt 100000
expect_rc 0 remove hostile/1.0 --all
rm -rf "$T/src/hostile-1.0"

dir=$(src_conf "c$((n + 1))" "")
head -c 3000 /dev/urandom >"$dir/dkms.conf"
printf '\0\0\0' >>"$dir/dkms.conf"
case_ 8 "$dir/dkms.conf.*not a text file" add "$dir"

dir=$(src_conf "c$((n + 1))" "")
{ ok ''; yes '# padding padding padding padding padding padding' | head -c 2M; } >"$dir/dkms.conf"
truncate -s 100M "$dir/dkms.conf"
case_ 8 "$dir/dkms.conf.*too large" add "$dir"

dir=$(src_conf "c$((n + 1))" "")
ok '' >"$S/target.conf"
ln -sf "$S/target.conf" "$dir/dkms.conf"
case_ 8 "$dir/dkms.conf.*symbolic link.*outside" add "$dir"

dir=$(src_conf "c$((n + 1))" "")
rm "$dir/dkms.conf"
mkfifo "$dir/dkms.conf"
case_ 4 "$dir/dkms.conf: not a regular file" add "$dir"

# ---- module sources ----
# A module that "builds" fast: a real hello.ko for $K2 copied by MAKE.
xz -dc "$(intree_module)" >"$T/hello.bin"
prebuilt() { # dir
	local d
	d=$(src_conf "$1" "$(conf hostile 1.0 hello /extra $'MAKE[0]="cp hello.bin hello.ko"\nCLEAN=true')")
	cp "$T/hello.bin" "$d/hello.bin"
	echo "$d"
}

dir=$(prebuilt s1)
truncate -s 2G "$dir/sparse.bin"
case_ 8 "$dir.*larger than" add "$dir"

dir=$(prebuilt s2)
for i in $(seq 1 50); do mkdir "$dir/d$i" && : >"$dir/d$i/f"; done
ln -s "$S/secret" "$dir/evil.h"                   # to a file outside: make would read or write it
ln -s ../../../sentinel/PWNED "$dir/dangling"     # dangling, outside
ln -s loop1 "$dir/loop2" && ln -s loop2 "$dir/loop1" # a loop
ln -s "$S/dir" "$dir/outdir"                      # a directory outside
ln -s d1/f "$dir/inside"                          # fine: kept
sed -i 's|^MAKE.*|MAKE[0]="test -e inside \&\& echo PWNED >evil.h \&\& echo PWNED >outdir/PWNED; echo PWNED >dangling; cp hello.bin hello.ko"|' "$dir/dkms.conf"
expect_rc 0 add "$dir"
case_ 0 "evil.h.*outside the module source.*left out" build hostile/1.0 -k "$K2"
# (loop2 -> loop1 may stay: once loop1 is gone it is a dangling link whose file would be made inside)
for l in evil.h dangling loop1 outdir; do
	expect_out "Warning.*hostile/1.0.*/$l.*left out"
done
check "case $n: the module was built" test -f "$T/dkms/hostile/1.0/$K2/$ARCH/module/hello.ko"
check "case $n: the file outside is intact" test "$(cat "$S/secret")" = "secret"

dir=$T/src/hostile-1.0
mkfifo "$dir/fifo"
mknod "$dir/null" c 1 3
expect_rc 0 unbuild hostile/1.0 -k "$K2"
sed -i 's|^MAKE.*|MAKE[0]="test ! -e fifo \&\& test ! -e null \&\& cp hello.bin hello.ko"|' "$dir/dkms.conf"
case_ 0 "" build hostile/1.0 -k "$K2"
check "case $n: built without the fifo and the device" test -f "$T/dkms/hostile/1.0/$K2/$ARCH/module/hello.ko"

# The destination (Debian's /updates/dkms) through a symlink in the install tree that leads outside it
ln -s "$S/dir" "$T/lib/modules/$K2/updates"
case_ 6 "/updates/dkms.*outside $T/lib/modules/$K2" install hostile/1.0 -k "$K2"
rm "$T/lib/modules/$K2/updates"
expect_rc 0 remove hostile/1.0 --all
rm -rf "$T/src/hostile-1.0"

# BUILT_MODULE_LOCATION through a link of the source to a directory outside: the module there is not taken
dir=$(prebuilt s3)
cp "$T/hello.bin" "$S/dir/hello.ko"
ln -s "$S/dir" "$dir/out"
sed -i 's|^MAKE.*|MAKE[0]="true"\nBUILT_MODULE_LOCATION[0]=out/|' "$dir/dkms.conf"
expect_rc 0 add "$dir"
MAKE_RAN=1 case_ 7 "hostile/1.0.*out/hello.ko" build hostile/1.0 -k "$K2"
expect_out "Warning.*hostile/1.0.*/out is a symbolic link.*left out"
check "case $n: nothing was built" test ! -e "$T/dkms/hostile/1.0/$K2/$ARCH/module"
check "case $n: the kept build directory has no link out" test ! -e "$T/dkms/.build/$K2/$ARCH/hostile/1.0/build/out"
expect_rc 0 remove hostile/1.0 --all
rm -rf "$T/src/hostile-1.0"

# ---- the command line ----
expect_rc 0 add "$TOP/examples/dkms-hello-0.1"
case_ 4 "'\.\./\.\./sentinel'" build -m ../../sentinel -k "$K1"
case_ 4 "'dkms-hello/\.\./\.\./\.\./sentinel'" remove dkms-hello/../../../sentinel --all
case_ 4 "version '\.\./\.\./\.\./sentinel'" remove -m dkms-hello -v ../../../sentinel --all
case_ 4 "version '-1'" remove -m dkms-hello -v -1 --all
case_ 4 "$S/dir/dkms.conf: missing dkms.conf" build -m "$S/dir" -k "$K1"
case_ 4 "kernel '/\.\.' \(-k\)" build dkms-hello/0.1 -k /..
case_ 4 "kernel '\.\./\.\./sentinel' \(-k\)" build dkms-hello/0.1 -k ../../sentinel
case_ 4 "kernel '6.1.0-55-amd64/\.\.' \(-k\)" build dkms-hello/0.1 -k "$K1/.."
case_ 4 "kernel '6.1\\\\x0aPWNED' \(-k\)" build dkms-hello/0.1 -k $'6.1\nPWNED'
case_ 4 "kernel '' \(-k\)" build dkms-hello/0.1 -k ''
case_ 4 "kernel 'kkkk+\.\.\.' \(-k\)" build dkms-hello/0.1 -k "$(printf 'k%.0s' {1..5000})"
case_ 4 "architecture '\.\./PWNED'" build dkms-hello/0.1 -k "$K1" -a ../PWNED
case_ 4 "Unknown option: --frobnicate" build dkms-hello/0.1 --frobnicate
case_ 4 "option -k needs a value" build dkms-hello/0.1 -k
case_ 4 "more than one command \('install'\)" build install dkms-hello/0.1
case_ 4 "-j needs a number" build dkms-hello/0.1 -j 99999999999999999999999
case_ 4 "-j needs a number" build dkms-hello/0.1 -j ''
case_ 4 "--dkmstree 'rel/tree'.*absolute" status --dkmstree rel/tree
case_ 4 "--sourcetree '\.\./src'.*absolute" status --sourcetree ../src
case_ 4 "--installtree 'lib/modules'.*absolute" install dkms-hello/0.1 -k "$K1" --installtree lib/modules
case_ 0 "" status --dkmstree "$T/nowhere"
check "case $n: a --dkmstree that does not exist is not created by status" test ! -e "$T/nowhere"
case_ 4 "--directive 'PACKAGE_NAME'" build dkms-hello/0.1 -k "$K1" --force --directive PACKAGE_NAME
case_ 4 "--directive 'A-B=1'" build dkms-hello/0.1 -k "$K1" --force --directive A-B=1
case_ 8 "PACKAGE_NAME" build dkms-hello/0.1 -k "$K1" --force --directive 'PACKAGE_NAME=../../sentinel/PWNED'
case_ 8 "PACKAGE_VERSION=\"0.1\\\\x0aPWNED\"" build dkms-hello/0.1 -k "$K1" --force --directive $'PACKAGE_VERSION=0.1\nPWNED'
case_ 4 "kernel '\.\./\.\./sentinel' \(--templatekernel\)" match --templatekernel ../../sentinel -k "$K1"
mkfifo "$S/fifo.conf"
case_ 4 "$S/fifo.conf: not a regular file" add "$IN/c1" -c "$S/fifo.conf"
head -c 2000 /dev/urandom >"$S/binary"
printf '\0' >>"$S/binary"
case_ 8 "$S/binary.*not a text file" add "$IN/c1" -c "$S/binary"
case_ 4 "module argument 'dkms-hello\\\\x0aPWNED/0.1'" build $'dkms-hello\nPWNED/0.1' -k "$K1"
case_ 4 "module argument 'mmmm+\.\.\.'" status "$(printf 'm%.0s' {1..5000})"

# Nothing of all this touched the module that was there.
expect_status "dkms-hello/0.1: added"
echo "$n hostile cases"
done_ok
