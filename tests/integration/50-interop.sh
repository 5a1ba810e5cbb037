#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# One tree, two implementations: Debian's dkms 3.0.10 builds a tree and ours reads and manages it, and the
# other way round. Debian's dkms runs unpacked from its package, on the same temporary trees, with --no-depmod
# (it would otherwise run depmod on the machine's /lib/modules).
source "$(dirname "$0")/lib.sh"
new_trees plain
DEBIAN_DKMS=$(debian_dkms)
cp -r "$TOP/examples/dkms-hello-0.1" "$T/src/"
M=dkms-hello/0.1

# Debian's tree, read by ours.
deb_dkms add "$M"
[[ $RC == 0 ]] || fail "debian dkms add"
deb_dkms install "$M" -k "$K1" --no-depmod
[[ $RC == 0 ]] || fail "debian dkms install"
deb_dkms build "$M" -k "$K2"
[[ $RC == 0 ]] || fail "debian dkms build"
deb_dkms status
theirs=$OUT
expect_status "$theirs"
check "both say installed for $K1 and built for $K2" grep -qx "dkms-hello/0.1, $K2, $ARCH: built" <<<"$theirs"

# Ours manages it: install on K2, uninstall from K1, then status as both see it.
expect_rc 0 install "$M" -k "$K2"
expect_rc 0 uninstall "$M" -k "$K1"
check "ours removed the file Debian's dkms installed" test ! -e "$T/lib/modules/$K1/updates/dkms/dkms_hello.ko"
d status
ours=$OUT
deb_dkms status
check "Debian's dkms reads our changes the same way" test "$OUT" = "$ours"
check "status after ours" test "$ours" = "dkms-hello/0.1, $K1, $ARCH: built
dkms-hello/0.1, $K2, $ARCH: installed"

# Our tree, managed by Debian's: it uninstalls what we installed and removes it all.
deb_dkms remove "$M" --all --no-depmod
[[ $RC == 0 ]] || fail "debian dkms remove --all"
expect_status ""
check "no module file left" test -z "$(find "$T/lib/modules" -name 'dkms_hello*')"

# Ours builds from scratch, Debian's reads it.
expect_rc 0 add "$M"
expect_rc 0 install "$M" -k "$K1"
expect_rc 0 build "$M" -k "$K2"
d status
ours=$OUT
deb_dkms status
check "Debian's dkms prints our status lines" test "$OUT" = "$ours"
done_ok
