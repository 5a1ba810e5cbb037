#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The command line: help, version, argument forms and the exit codes scripts test for.
source "$(dirname "$0")/lib.sh"
new_trees

expect_rc 0 --help
expect_out "Usage: dkms COMMAND"
expect_out "kernel_postinst"
expect_rc 0 -V
# scripts read the first line as dkms's own version: the release this is a drop-in for
check "-V: first line is dkms-<the dkms version followed>" test "$(head -1 <<<"$OUT")" = "dkms-3.0.10"
expect_out "^dkms-ng [0-9.]+, a drop-in for dkms 3.0.10$"
expect_rc 4 --no-such-option
expect_rc 4
expect_rc 4 build
expect_rc 4 add build install
expect_rc 0 status
check "status on an empty tree prints nothing" test -z "$OUT"

cp -r "$TOP/examples/dkms-hello-0.1" "$T/src/"
# The argument forms: a directory, a dkms.conf, name/version, -m/-v, --opt=value.
expect_rc 0 add "$T/src/dkms-hello-0.1"
expect_rc 0 remove dkms-hello/0.1 --all
expect_rc 0 add "$T/src/dkms-hello-0.1/dkms.conf"
expect_rc 0 remove -m dkms-hello -v 0.1 --all
expect_rc 0 add -m dkms-hello/0.1
expect_status "dkms-hello/0.1: added" --module=dkms-hello
expect_status "dkms-hello/0.1: added" -m dkms-hello -v 0.1
expect_status "" -m dkms-hello -v 0.2
expect_rc 3 remove dkms-hello/0.2 --all
expect_out "not located in the DKMS tree"

# Sources outside the source tree are copied in.
mkdir -p "$T/elsewhere"
cp -r "$TOP/examples/dkms-hello-0.1" "$T/elsewhere/hello"
sed -i 's/PACKAGE_VERSION="0.1"/PACKAGE_VERSION="0.2"/' "$T/elsewhere/hello/dkms.conf"
expect_rc 0 add "$T/elsewhere/hello"
check "copied to the source tree" test -f "$T/src/dkms-hello-0.2/dkms.conf"
expect_status "dkms-hello/0.1: added
dkms-hello/0.2: added"
expect_rc 4 build dkms-hello -k "$K1"
expect_out "several versions"

# Missing headers: exit 21, nothing built.
expect_rc 21 build dkms-hello/0.1 -k 9.9.9-nothere
expect_out "9.9.9-nothere"
check "nothing recorded for the missing kernel" test ! -e "$T/dkms/dkms-hello/0.1/9.9.9-nothere/$ARCH/module"

# BUILD_EXCLUSIVE: skipped with 77, not a failure.
cp -r "$T/src/dkms-hello-0.1" "$T/src/dkms-hello-0.3"
sed -i 's/PACKAGE_VERSION="0.1"/PACKAGE_VERSION="0.3"/' "$T/src/dkms-hello-0.3/dkms.conf"
echo 'BUILD_EXCLUSIVE_KERNEL="^5\."' >>"$T/src/dkms-hello-0.3/dkms.conf"
expect_rc 0 add dkms-hello/0.3
expect_rc 77 build dkms-hello/0.3 -k "$K1"
expect_out "BUILD_EXCLUSIVE"
check "excluded module not built" test ! -e "$T/dkms/dkms-hello/0.3/$K1/$ARCH/module"

# --directive overrides the conf.
expect_rc 77 build dkms-hello/0.1 -k "$K1" --directive 'BUILD_EXCLUSIVE_ARCH=^arm'
# /etc/dkms/no-autoinstall disables autoinstall.
touch "$T/etc/no-autoinstall"
expect_rc 0 autoinstall -k "$K1"
check "no-autoinstall honoured" test ! -e "$T/dkms/dkms-hello/0.3/$K1"
rm "$T/etc/no-autoinstall"
done_ok
