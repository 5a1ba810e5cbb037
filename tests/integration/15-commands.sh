#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Two commands on their own: generate_mok (the signing key pair only, made in-process with OpenSSL)
# and match (install on one real kernel what is installed on another), in temporary trees.
source "$(dirname "$0")/lib.sh"
new_trees

# ---- generate_mok ----
key=$T/dkms/mok.key
pub=$T/dkms/mok.pub
expect_rc 0 generate_mok
expect_out "^Signing key: $key\$"
expect_out "^Public certificate \(MOK\): $pub\$"
check "the key was made" test -s "$key"
check "the certificate was made" test -s "$pub"
check "openssl reads the DER certificate" \
	bash -c "openssl x509 -inform DER -in '$pub' -noout -subject | grep -q 'CN *= *DKMS module signing key'"
check "the certificate is for code signing" \
	bash -c "openssl x509 -inform DER -in '$pub' -noout -ext extendedKeyUsage | grep -q 'Code Signing'"
check "the key is an RSA-2048 private key" \
	bash -c "openssl pkey -in '$key' -noout -text | grep -q 'Private-Key: (2048 bit'"
check "key and certificate belong together" test "$(openssl pkey -in "$key" -pubout | sha256sum)" = \
	"$(openssl x509 -inform DER -in "$pub" -noout -pubkey | sha256sum)"
check "the key is private (0600)" test "$(stat -c %a "$key")" = 600
sums=$(sha256sum "$key" "$pub")
expect_rc 0 generate_mok
expect_out "exist already: keeping them"
check "a second run keeps both files" test "$(sha256sum "$key" "$pub")" = "$sums"
expect_rc 0 -q generate_mok
check "-q prints nothing" test -z "$OUT"

# Half a pair is never overwritten: the certificate may be enrolled.
keysum=$(sha256sum "$key" | cut -d" " -f1)
mv "$pub" "$T/pub.saved"
expect_rc 1 generate_mok
expect_out "certificate $pub is missing"
check "the key is kept" test "$(sha256sum "$key" | cut -d" " -f1)" = "$keysum"
check "no new certificate" test ! -e "$pub"
mv "$T/pub.saved" "$pub"

# Paths from framework.conf (mok_signing_key, mok_certificate), made with their directories.
printf 'mok_signing_key=%s\nmok_certificate=%s\n' "$T/keys/my.key" "$T/keys/my.der" >"$T/etc/framework.conf"
expect_rc 0 generate_mok
expect_out "^Signing key: $T/keys/my.key\$"
check "framework.conf key made" test "$(stat -c %a "$T/keys/my.key")" = 600
check "framework.conf certificate made" openssl x509 -inform DER -in "$T/keys/my.der" -noout
rm "$T/etc/framework.conf"
# A module argument or -k means nothing to generate_mok: it needs no headers.
expect_rc 0 generate_mok -k 9.9.9-nothere

# ---- match ----
cp -r "$TOP/examples/dkms-hello-0.1" "$T/src/"
M=dkms-hello/0.1
expect_rc 0 install "$M" -k "$K1"
ko1=$T/lib/modules/$K1/updates/dkms/dkms_hello.ko
ko2=$T/lib/modules/$K2/updates/dkms/dkms_hello${SUF[$K2]}
check "installed on $K1" test -f "$ko1"
check "not on $K2 yet" test ! -e "$ko2"

# Usage errors first: nothing may change.
expect_rc 4 match -k "$K2"
expect_out "templatekernel"
expect_rc 4 match --templatekernel "$K1" -k "$K2" -k "$K1"
expect_out "templatekernel"
expect_rc 4 match --templatekernel "$K1" -k "$K1"
expect_out "are the same"
expect_rc 4 match --templatekernel
expect_out "needs a value"
expect_rc 3 match --templatekernel "$K1" -k "$K2" nothere
expect_out "nothere is not located in the DKMS tree"
check "usage errors installed nothing" test ! -e "$ko2"

expect_rc 0 match --templatekernel "$K1" -k "$K2" --dry-run
expect_out "^install dkms-hello/0.1, $K2, $ARCH"
check "--dry-run installed nothing" test ! -e "$ko2"

expect_rc 0 match --templatekernel="$K1" -k "$K2"
expect_out "^Matching modules in kernel: $K2 \($ARCH\)"
expect_out "^to the configuration of kernel: $K1"
check "match installed it on $K2" test -f "$ko2"
check "built against $K2's headers" test "$(vermagic "$ko2")" = "$K2"
check "modinfo reads the version" test "$(modinfo -F version "$ko2")" = "0.1"
check "depmod ran for $K2" grep -q "^updates/dkms/dkms_hello${SUF[$K2]}:" "$T/lib/modules/$K2/modules.dep"
expect_status "dkms-hello/0.1, $K1, $ARCH: installed
dkms-hello/0.1, $K2, $ARCH: installed"

# Matching again changes nothing; a template with nothing installed has nothing to do.
before=$(sha256sum "$ko2")
expect_rc 0 match --templatekernel "$K1" -k "$K2"
check "match again: same module file" test "$(sha256sum "$ko2")" = "$before"
expect_rc 0 uninstall "$M" -k "$K1"
expect_rc 0 match --templatekernel "$K1" -k "$K2"
expect_out "nothing to be done"
# With a module argument, only that module is matched: a second module on the template stays put.
# (tests/data/hello renamed: $K2 has an in-tree hello.ko.xz)
mkdir -p "$T/src/hello2-1.0"
cp "$TOP/tests/data/hello/hello.c" "$T/src/hello2-1.0/hello2.c"
echo 'obj-m := hello2.o' >"$T/src/hello2-1.0/Makefile"
printf 'PACKAGE_NAME=hello2\nPACKAGE_VERSION=1.0\n' >"$T/src/hello2-1.0/dkms.conf"
expect_rc 0 remove "$M" -k "$K2"
expect_rc 0 install "$M" -k "$K1"
expect_rc 0 install hello2/1.0 -k "$K1"
expect_rc 0 match --templatekernel "$K1" -k "$K2" dkms-hello
check "match with a module installed it on $K2" test -f "$ko2"
check "and not the other module" test -z "$(find "$T/lib/modules/$K2/updates" -name 'hello2.ko*')"
expect_status "dkms-hello/0.1, $K1, $ARCH: installed
dkms-hello/0.1, $K2, $ARCH: installed
hello2/1.0, $K1, $ARCH: installed"
# Without one, every module installed on the template is.
expect_rc 0 match --templatekernel "$K1" -k "$K2"
check "match installed the other module on $K2" test -f "$T/lib/modules/$K2/updates/dkms/hello2${SUF[$K2]}"
expect_status "hello2/1.0, $K1, $ARCH: installed
hello2/1.0, $K2, $ARCH: installed" hello2
done_ok
