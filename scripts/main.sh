#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The main job on a fresh Debian 12 machine (as root): build and install dkms-ng, register the bundled
# example module, build and install it for every kernel whose headers are installed, print `dkms status`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
# A kernel to build for: the headers already installed, else the distribution's current ones.
if ! compgen -G "/lib/modules/*/build/Makefile" >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "linux-headers-$(dpkg --print-architecture)"
fi

[[ -x configure ]] || autoreconf -fi
mkdir -p build
cd build
[[ -f Makefile ]] || ../configure --prefix=/usr --sysconfdir=/etc --enable-werror --disable-tests --without-rpm-plugin --without-pacman --without-dpkg
make -j"$(nproc)"
make install
ldconfig
cd ..

# Register the example module (a re-run finds it registered already).
rm -rf /usr/src/dkms-hello-0.1
cp -r examples/dkms-hello-0.1 /usr/src/
dkms status -m dkms-hello | grep -q . || dkms add dkms-hello/0.1

for build in /lib/modules/*/build; do
	[[ -e $build/Makefile ]] || continue
	kver=$(basename "$(dirname "$build")")
	dkms install dkms-hello/0.1 -k "$kver"
done
dkms status
