#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the Arch Linux package of the tree, dkms-ng-<version>-<rel>-<arch>.pkg.tar.*, into OUTDIR
# (default: .) and print its path:
#   scripts/build-arch.sh [OUTDIR]
# It makes the release tarball (scripts/dist.sh; or takes the one DIST_TARBALL names) and runs makepkg
# on packaging/arch/PKGBUILD in a scratch directory. makepkg refuses to run as root: run as root, the
# build runs as BUILD_USER (default: nobody). On a non-Arch system (Debian: makepkg, fakeroot,
# libarchive-tools, libalpm-dev, see scripts/deps.sh) the Arch dependencies cannot be checked: --nodeps.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
source "$top/scripts/pkglib.sh"
out=$(realpath -m "${1:-.}")
work=$(mktemp -d /tmp/dkms-arch.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/build" "$work/pkg" "$work/home"
for tool in makepkg fakeroot bsdtar; do
	command -v "$tool" >/dev/null || {
		echo "$tool is not installed (Debian: scripts/deps.sh --tests)" >&2
		exit 1
	}
done

tarball=${DIST_TARBALL:-$("$top/scripts/dist.sh" "$work")}
version=$(source "$top/packaging/arch/PKGBUILD" && echo "$pkgver")
[[ $(basename "$tarball") == "dkms-ng-$version.tar.gz" ]] || {
	echo "packaging/arch/PKGBUILD is version $version, the tarball is $(basename "$tarball"): update pkgver" >&2
	exit 1
}
cp "$top/packaging/arch/PKGBUILD" "$work/build/"
[[ -f $work/build/$(basename "$tarball") ]] || cp "$tarball" "$work/build/"

run=()
if ((EUID == 0)); then
	user=${BUILD_USER:-nobody}
	chown -R "$user:" "$work" || chown -R "$user" "$work"
	chmod 755 "$work"
	run=(runuser -u "$user" --)
fi
echo "building the Arch package in $work/build (log: $out/dkms-ng-makepkg.log)" >&2
pkg_logged "$out/dkms-ng-makepkg.log" "${run[@]}" env -C "$work/build" HOME="$work/home" \
	BUILDDIR="$work/build/work" PKGDEST="$work/pkg" SRCDEST="$work/build" \
	MAKEFLAGS="-j$(nproc)" makepkg --nodeps --noconfirm --noprogressbar --cleanbuild --force
for pkg in "$work"/pkg/*.pkg.tar.*; do
	cp "$pkg" "$out/"
	echo "$out/$(basename "$pkg")"
done
