#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the Debian package of the tree, dkms-ng_<version>_<arch>.deb, into OUTDIR (default: .):
#   scripts/build-deb.sh [OUTDIR]
# It runs `dpkg-buildpackage -us -uc -b` on a scratch copy of the tree (tracked and new files, no
# build directories), so the tree stays clean. Build dependencies: debian/control (scripts/deps.sh
# --tests installs them). Install the result with `apt-get install ./dkms-ng_*.deb`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-.}")
work=$(mktemp -d /tmp/dkms-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$out"

if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	# what git would commit: tracked and untracked-but-not-ignored files that exist
	git -C "$top" ls-files -z -co --exclude-standard | (
		cd "$top"
		while IFS= read -r -d '' f; do
			[[ -e $f || -L $f ]] && printf '%s\0' "$f"
		done
	) | tar -C "$top" --null --no-recursion -T - -cf - | tar -C "$work/src" -xf -
else
	tar -C "$top" --exclude=./build --exclude='./build-*' --exclude=./autom4te.cache -cf - . |
		tar -C "$work/src" -xf -
fi

echo "building the Debian package in $work/src (log: $out/dkms-ng-build.log)"
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
