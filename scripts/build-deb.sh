#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the Debian package of the tree, dkms-ng_<version>_<arch>.deb, into OUTDIR (default: .):
#   scripts/build-deb.sh [OUTDIR]
# It runs `dpkg-buildpackage -us -uc -b` on a scratch copy of the tree (tracked and new files, no
# build directories), so the tree stays clean. Build dependencies: debian/control (scripts/deps.sh
# --tests installs them). Install the result with `apt-get install ./dkms-ng_*.deb`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
source "$top/scripts/pkglib.sh"
out=$(realpath -m "${1:-.}")
work=$(mktemp -d /tmp/dkms-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

pkg_copy_tree "$top" "$work/src"

echo "building the Debian package in $work/src (log: $out/dkms-ng-build.log)" >&2
if ! (cd "$work/src" && DEB_BUILD_OPTIONS="parallel=$(nproc) nocheck" dpkg-buildpackage -us -uc -b) \
	>"$out/dkms-ng-build.log" 2>&1; then
	tail -30 "$out/dkms-ng-build.log"
	echo "dpkg-buildpackage failed; the whole log is $out/dkms-ng-build.log" >&2
	exit 1
fi
for deb in "$work"/*.deb; do
	cp "$deb" "$out/"
	echo "$out/$(basename "$deb")"
done
