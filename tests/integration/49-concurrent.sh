#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Two autoinstalls of real modules at once, and `dkms status` in a loop meanwhile: the second waits for
# the first (and says for whom), builds nothing twice, both succeed; status never fails, never blocks,
# and every line it prints is a whole state.
source "$(dirname "$0")/lib.sh"
new_trees plain
add_small_modules
tree_args
args=("${TREE_ARGS[@]}")

# status in a loop until told to stop: count runs, keep any failure or malformed line
line_re="^(acpi-call|dm-writeboost|dkms-hello)/[0-9.]+(, 6\.1\.0-5[56]-amd64, $ARCH)?: (added|built|installed)$"
(
	runs=0 bad=0 slow=0
	while [[ ! -e $T/stop ]]; do
		t0=$(date +%s%N)
		if ! out=$("$DKMS" "${args[@]}" status 2>&1); then
			bad=$((bad + 1))
			echo "status failed: $out" >>"$T/status.bad"
		elif [[ -n $out ]] && grep -vqE "$line_re" <<<"$out"; then
			bad=$((bad + 1))
			echo "status printed: $out" >>"$T/status.bad"
		fi
		(($(date +%s%N) - t0 > 1000000000)) && slow=$((slow + 1))
		runs=$((runs + 1))
	done
	echo "$runs $bad $slow" >"$T/status.count"
) &
loop=$!

"$DKMS" "${args[@]}" autoinstall -k "$K1" -k "$K2" >"$T/a.log" 2>&1 &
a=$!
sleep 0.3
"$DKMS" "${args[@]}" autoinstall -k "$K1" -k "$K2" >"$T/b.log" 2>&1 &
b=$!
wait "$a"
rc_a=$?
wait "$b"
rc_b=$?
touch "$T/stop"
wait "$loop"
cat "$T/a.log" "$T/b.log"
read -r runs bad slow <"$T/status.count"
echo "status ran $runs times during the two autoinstalls; $bad bad, $slow slower than 1 s"
[[ -f $T/status.bad ]] && head -20 "$T/status.bad"

check "the first autoinstall succeeds" test "$rc_a" = 0
check "the second autoinstall succeeds" test "$rc_b" = 0
check "the second waited for the first and said so" grep -qE "waiting for pid [0-9]+ \(dkms\), which holds .*/\.lock" "$T/b.log"
check "the second found everything installed and built nothing" bash -c "! grep -q 'Building module' '$T/b.log'"
check "the first built all six" test "$(grep -c 'Building module' "$T/a.log")" = 6
check "status ran many times meanwhile" test "$runs" -ge 10
check "status never failed nor printed a partial state" test "$bad" = 0
check "status was never held up by the lock" test "$slow" = 0
expect_status "acpi-call/1.2.2, $K1, $ARCH: installed
acpi-call/1.2.2, $K2, $ARCH: installed
dkms-hello/0.1, $K1, $ARCH: installed
dkms-hello/0.1, $K2, $ARCH: installed
dm-writeboost/2.2.17, $K1, $ARCH: installed
dm-writeboost/2.2.17, $K2, $ARCH: installed"
for k in "$K1" "$K2"; do
	for f in acpi_call dkms_hello dm-writeboost; do
		check "$f.ko on $k is in place and in modules.dep" grep -q "^updates/dkms/$f.ko:" "$T/lib/modules/$k/modules.dep"
	done
done
check "no journal, no temporary files" test -z "$(ls -A "$T/dkms/.journal" 2>/dev/null; find "$T/lib/modules" "$T/dkms" -name '*.dkms-new' -o -name '*.dkms-tmp.*')"
done_ok
