#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Bad dkms.conf files: each gets a one-line error naming the file and the directive, a non-zero exit,
# and leaves the dkms tree and the source tree as they were.
source "$(dirname "$0")/lib.sh"
new_trees
cp -r "$TOP/examples/dkms-hello-0.1" "$T/src/"
expect_rc 0 install dkms-hello/0.1 -k "$K1"

snapshot() { # the writers' lock file dkms/.lock holds the last writer's pid: it is no change
	(cd "$T" && find dkms src lib ! -path dkms/.lock -printf '%p %y %s %l\n' | grep -v '^src/bad-1.0' | LC_ALL=C sort)
}

n=0
bad() { # exit code, directive the message must name, dkms.conf text (empty: no dkms.conf at all)
	local code=$1 directive=$2 text=$3 before
	n=$((n + 1))
	rm -rf "$T/src/bad-1.0"
	mkdir -p "$T/src/bad-1.0"
	cp "$TOP/examples/dkms-hello-0.1/dkms_hello.c" "$TOP/examples/dkms-hello-0.1/Makefile" "$T/src/bad-1.0/"
	[[ -n $text ]] && printf '%s\n' "$text" >"$T/src/bad-1.0/dkms.conf"
	before=$(snapshot)
	expect_rc "$code" add "$T/src/bad-1.0"
	expect_out "Error!.*$T/src/bad-1.0/dkms.conf"
	[[ -n $directive ]] && expect_out "Error!.*$directive"
	check "case $n: error is one line" test "$(grep -c '^Error!' <<<"$OUT")" = 1
	check "case $n: trees unchanged" test "$(snapshot)" = "$before"
}

conf() { # PACKAGE_NAME PACKAGE_VERSION BUILT_MODULE_NAME DEST_MODULE_LOCATION [extra lines]
	printf 'PACKAGE_NAME=%s\nPACKAGE_VERSION=%s\nBUILT_MODULE_NAME[0]=%s\nDEST_MODULE_LOCATION[0]=%s\n%s' \
		"$1" "$2" "$3" "$4" "${5:-}"
}
ok() { # extra lines on a valid conf
	conf bad 1.0 dkms_hello /extra "$1"
}

bad 4 "" ""
bad 8 "PACKAGE_NAME" $'\n'
bad 8 "PACKAGE_NAME" 'PACKAGE_VERSION=1.0'
bad 8 "PACKAGE_VERSION" 'PACKAGE_NAME=bad'
bad 8 "DEST_MODULE_LOCATION" "$(ok 'DEST_MODULE_LOCATION[1]=/extra')"
bad 8 "BUILT_MODULE_LOCATION" "$(ok 'BUILT_MODULE_LOCATION[3]=sub/')"
bad 8 "MODULE_NAME" "$(ok $'BUILT_MODULE_NAME[1]=dkms_hello\nDEST_MODULE_LOCATION[1]=/extra')"
bad 8 "DEST_MODULE_LOCATION" "$(conf bad 1.0 dkms_hello /usr/lib)"
bad 8 "DEST_MODULE_LOCATION" "$(conf bad 1.0 dkms_hello /extra/../../etc)"
bad 8 "BUILT_MODULE_NAME" "$(conf bad 1.0 ../evil /extra)"
bad 8 "BUILT_MODULE_NAME" "$(conf bad 1.0 "'a b'" /extra)"
bad 8 "DEST_MODULE_NAME" "$(ok 'DEST_MODULE_NAME[0]=a/b')"
bad 8 "PACKAGE_NAME" "$(conf a/b 1.0 dkms_hello /extra)"
bad 8 "PACKAGE_VERSION" "$(conf bad .. dkms_hello /extra)"
bad 8 "PACKAGE_VERSION" "$(ok $'PACKAGE_VERSION=$\'1.0\\nx\'')"
bad 8 "BUILT_MODULE_LOCATION" "$(ok 'BUILT_MODULE_LOCATION[0]=/abs/')"
bad 8 "BUILT_MODULE_LOCATION" "$(ok 'BUILT_MODULE_LOCATION[0]=../up/')"
bad 8 "PATCH" "$(ok 'PATCH[0]=../x.patch')"
bad 8 "" "$(ok 'exit 3')"

# The module that was installed before is untouched by all of this.
expect_status "dkms-hello/0.1, $K1, $ARCH: installed"
done_ok
