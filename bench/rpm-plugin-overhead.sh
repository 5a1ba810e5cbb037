#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What the rpm plugin costs a transaction that touches no kernel: N installs and N erases of a tiny
# unrelated package into a scratch `rpm --root`, with and without dkms.so loaded, interleaved so that
# both see the same machine. Prints the median wall time per transaction of each and the difference
# (target: at most 5 ms), as a line "overhead rpm plugin: D ms ... ok|MISSED". Run as root (rpm --root
# chroots); needs rpm and rpmbuild, not the dkms binary.
#   bench/rpm-plugin-overhead.sh [N]      N defaults to 50
#   DKMS_RPM_PLUGIN=path/to/dkms.so       defaults to build-test/plugins/rpm/.libs/dkms.so
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-50}
plugin=$(realpath "${DKMS_RPM_PLUGIN:-$top/build-test/plugins/rpm/.libs/dkms.so}")
[[ -f $plugin ]] || { echo "no plugin at $plugin: build first, or set DKMS_RPM_PLUGIN" >&2; exit 1; }

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
rpmbuild --quiet --define "_topdir $t/rpmbuild" -bb "$top/tests/data/rpm/dkms-test-noarch.spec" >/dev/null
pkg=$(echo "$t"/rpmbuild/RPMS/noarch/dkms-test-noarch-*.rpm)
mkdir -p "$t/root"
rpm --root "$t/root" --dbpath /var/lib/rpm --initdb 2>/dev/null

with=(--define "__plugindir $(dirname "$plugin")" --define "__transaction_dkms %{__plugindir}/dkms.so")
without=(--define "__transaction_dkms %{nil}")

ms() { # rpm args...: wall time of one rpm run, in microseconds
	local a b
	a=$(date +%s%N)
	rpm --root "$t/root" --dbpath /var/lib/rpm "$@" >/dev/null 2>&1 || { echo "rpm $* failed" >&2; return 1; }
	b=$(date +%s%N)
	echo $(((b - a) / 1000))
}
median() { # microseconds on stdin -> milliseconds, 2 decimals
	sort -n | awk '{v[NR] = $1}
		END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m / 1000}'
}

# make sure the plugin loads: one kernel-less run with it, checked for dlopen errors
if rpm --root "$t/root" --dbpath /var/lib/rpm "${with[@]}" -i "$pkg" 2>&1 | grep -i 'plugin'; then
	echo "the plugin did not load cleanly" >&2
	exit 1
fi
rpm --root "$t/root" --dbpath /var/lib/rpm -e dkms-test-noarch 2>/dev/null

: >"$t/with" && : >"$t/without"
for ((i = 0; i < n; i++)); do
	ms "${without[@]}" -i "$pkg" >>"$t/without"
	ms "${without[@]}" -e dkms-test-noarch >>"$t/without"
	ms "${with[@]}" -i "$pkg" >>"$t/with"
	ms "${with[@]}" -e dkms-test-noarch >>"$t/with"
done

a=$(median <"$t/without")
b=$(median <"$t/with")
d=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b - a}')
ok=$(awk -v d="$d" 'BEGIN {print (d <= 5) ? "ok" : "MISSED"}')
echo "machine: nproc=$(nproc) kernel=$(uname -r) rpm=$(rpm --version | awk '{print $3}') load=$(cut -d' ' -f1 /proc/loadavg)"
printf '%d installs + %d erases of an unrelated package, median ms per transaction:\n' "$n" "$n"
printf '  without the plugin: %s\n  with dkms.so:       %s\n' "$a" "$b"
echo "overhead rpm plugin: $d ms per transaction (target <= 5) $ok"
[[ $ok == ok ]]
