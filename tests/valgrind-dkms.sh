#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# dkms under valgrind memcheck, for the integration tests:
#   DKMS=$PWD/tests/valgrind-dkms.sh bash tests/integration/20-hello.sh
# Runs $DKMS_VALGRIND_BIN (default build-test/dkms: a plain build, not the ASan one, which valgrind
# cannot run). A libtool wrapper (a --enable-shared build) is run through libtool --mode=execute.
# Children (bash, make) are not traced. Errors and definite leaks make dkms exit 99; valgrind's report
# goes to $DKMS_VALGRIND_LOGDIR/vg.<pid>.log (default /tmp/dkms-valgrind), not into dkms's output.
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${DKMS_VALGRIND_BIN:-$top/build-test/dkms}
logdir=${DKMS_VALGRIND_LOGDIR:-/tmp/dkms-valgrind}
mkdir -p "$logdir"
vg=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
	--show-leak-kinds=definite --track-fds=no --trace-children=no --num-callers=30
	"--log-file=$logdir/vg.%p.log")
if grep -q 'libtool wrapper' "$bin" 2>/dev/null; then
	exec "$(dirname "$bin")/libtool" --mode=execute "${vg[@]}" "$bin" "$@"
fi
exec "${vg[@]}" "$bin" "$@"
