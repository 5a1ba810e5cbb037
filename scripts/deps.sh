#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Install what building and testing dkms-ng needs on Debian 12 (run as root).
#   scripts/deps.sh           build dependencies only
#   scripts/deps.sh --tests   also the test dependencies (Criterion, real kernel headers, kmod tools,
#                             clang with libFuzzer for scripts/fuzz.sh, valgrind)
set -euo pipefail

build_pkgs=(autoconf automake libtool pkg-config make gcc bash patch kmod binutils
	libkmod-dev liblzma-dev libzstd-dev zlib1g-dev libssl-dev openssl
	librpm-dev libalpm-dev libarchive-dev libcurl4-openssl-dev libgpgme-dev libdpkg-dev)
# The kernels the integration tests build against (see tests/integration/lib.sh).
test_kernels=(6.1.0-55-amd64 6.1.0-56-amd64)
test_pkgs=(libcriterion-dev xz-utils zstd gzip bc flex bison dpkg-dev groff-base man-db
	rpm pacman-package-manager makepkg libarchive-tools strace debhelper lintian rpmlint
	zsh systemd clang libclang-rt-dev valgrind)

pkgs=("${build_pkgs[@]}")
if [[ ${1:-} == --tests ]]; then
	pkgs+=("${test_pkgs[@]}")
	for k in "${test_kernels[@]}"; do
		pkgs+=("linux-headers-$k")
	done
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
