#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Make the release tarball of the tree, dkms-ng-<version>.tar.gz, into OUTDIR (default: .) and print
# its path:
#   scripts/dist.sh [OUTDIR]
# It runs autoreconf, configure and `make dist` on a scratch copy of the tree (tracked and new files),
# so the tree stays clean and the tarball holds exactly what `make dist` distributes. The RPM and
# Arch packages are built from this tarball (scripts/build-rpm.sh, scripts/build-arch.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
source "$top/scripts/pkglib.sh"
out=$(realpath -m "${1:-.}")
work=$(mktemp -d /tmp/dkms-dist.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

pkg_copy_tree "$top" "$work/src"
log=$out/dkms-ng-dist.log
# only `make dist` runs: the optional front ends are not looked for, their sources are distributed anyway
pkg_logged "$log" bash -c "cd '$work/src' && autoreconf -fi && mkdir build && cd build &&
	../configure -q --disable-tests --without-rpm-plugin --without-pacman --without-dpkg && make dist"
tarball=$(echo "$work"/src/build/dkms-ng-*.tar.gz)
[[ -f $tarball ]] || {
	echo "make dist made no dkms-ng-*.tar.gz (log: $log)" >&2
	exit 1
}
cp "$tarball" "$out/"
echo "$out/$(basename "$tarball")"
