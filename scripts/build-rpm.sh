#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the RPM packages of the tree (dkms-ng and dkms-ng-devel) into OUTDIR (default: .) and print
# their paths:
#   scripts/build-rpm.sh [OUTDIR]
# It makes the release tarball (scripts/dist.sh; or takes the one DIST_TARBALL names) and runs
# `rpmbuild -bb packaging/rpm/dkms-ng.spec` with a private _topdir, so nothing goes to ~/rpmbuild.
# On a non-RPM system (Debian: `rpm`, librpm-dev and the libraries of debian/control's Build-Depends,
# see scripts/deps.sh) the BuildRequires are not in the rpm database: rpmbuild runs with --nodeps.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
source "$top/scripts/pkglib.sh"
out=$(realpath -m "${1:-.}")
spec=$top/packaging/rpm/dkms-ng.spec
work=$(mktemp -d /tmp/dkms-rpm.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/SOURCES"
command -v rpmbuild >/dev/null || {
	echo "rpmbuild is not installed (Debian: apt-get install rpm)" >&2
	exit 1
}

tarball=${DIST_TARBALL:-$("$top/scripts/dist.sh" "$work/SOURCES")}
version=$(rpmspec -q --srpm --qf '%{version}\n' "$spec")
[[ $(basename "$tarball") == "dkms-ng-$version.tar.gz" ]] || {
	echo "$spec is version $version, the tarball is $(basename "$tarball"): update Version: in the spec" >&2
	exit 1
}
[[ -f $work/SOURCES/$(basename "$tarball") ]] || cp "$tarball" "$work/SOURCES/"

echo "building the RPM packages in $work (log: $out/dkms-ng-rpmbuild.log)" >&2
pkg_logged "$out/dkms-ng-rpmbuild.log" rpmbuild -bb --nodeps --define "_topdir $work" \
	--define "_smp_mflags -j$(nproc)" "$spec"
for rpm in "$work"/RPMS/*/*.rpm; do
	cp "$rpm" "$out/"
	echo "$out/$(basename "$rpm")"
done
