#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# mktarball and ldtarball: the example module built on real kernels, archived (full, --source-only,
# --binaries-only), removed and loaded back; tarballs exchanged with Debian's dkms 3.0.10 both ways; and
# hostile tarballs, each refused with its reason, leaving every tree as it was.
source "$(dirname "$0")/lib.sh"
new_trees plain
DEBIAN_DKMS=$(debian_dkms)
cp -r "$TOP/examples/dkms-hello-0.1" "$T/src/"
M=dkms-hello/0.1
TB=$T/dkms/dkms-hello/0.1/tarball
KO1=$T/dkms/dkms-hello/0.1/$K1/$ARCH/module/dkms_hello.ko

listing() { bsdtar -tf "$1" | sed 's|^\./||; s|/$||' | sort; }
# (the writers' lock file dkms/.lock holds the last writer's pid: it is no change)
tree_state() { find "$T" -path "$T/out" -prune -o ! -path "$T/dkms/.lock" -printf '%p %y %s %l\n' | sort; }

expect_rc 0 add "$M"
expect_rc 0 build "$M" -k "$K1"
expect_rc 0 build "$M" -k "$K2"
d status
built=$OUT
cp "$KO1" "$T/built-$K1.ko"

# ---- mktarball ----
expect_rc 0 mktarball "$M" -k "$K1" -k "$K2"
full=$TB/dkms-hello-0.1-kernel$K1-$ARCH-kernel$K2-$ARCH.dkms.tar.gz
expect_out "Tarball location: $full"
check "default name and place, as dkms 3.0.10 names it" test -f "$full"
check "gzip-compressed" gzip -t "$full"
l=$(listing "$full")
for e in "dkms_main_tree/$K1/$ARCH/module/dkms_hello.ko" "dkms_main_tree/$K2/$ARCH/log/make.log" \
	dkms_source_tree/dkms.conf dkms_source_tree/dkms_hello.c dkms_source_tree/Makefile; do
	check "full tarball holds $e" grep -qx "$e" <<<"$l"
done
check "no binaries-only marker in a full tarball" bash -c "! grep -q dkms_binaries_only <<<'$l'"
check "no temporary file left next to it" test "$(ls -A "$TB")" = "$(basename "$full")"

mkdir -p "$T/out"
expect_rc 0 mktarball "$M" --all --archive "$T/out/all.tar.xz"
check "--archive with a directory: written there" test -f "$T/out/all.tar.xz"
check "compression follows the name (.xz)" xz -t "$T/out/all.tar.xz"
check "--all archives every build" test "$(listing "$T/out/all.tar.xz" | grep -c '/module/dkms_hello.ko$')" = 2

expect_rc 0 mktarball "$M" --source-only --archive src-only.tar.gz
check "--archive with a bare name: into the default directory, as dkms does" test -f "$TB/src-only.tar.gz"
mv "$TB/src-only.tar.gz" "$T/out/"
l=$(listing "$T/out/src-only.tar.gz")
check "--source-only: the sources" grep -qx dkms_source_tree/dkms_hello.c <<<"$l"
check "--source-only: no build" bash -c "! grep -q '\.ko$' <<<'$l'"
expect_rc 0 mktarball "$M" --source-only
check "--source-only default name" test -f "$TB/dkms-hello-0.1-source-only.dkms.tar.gz"

expect_rc 0 mktarball "$M" -k "$K1" --binaries-only --archive "$T/out/bin.tar.gz"
l=$(listing "$T/out/bin.tar.gz")
check "--binaries-only: the module" grep -qx "dkms_main_tree/$K1/$ARCH/module/dkms_hello.ko" <<<"$l"
check "--binaries-only: dkms.conf in dkms_binaries_only" grep -qx dkms_binaries_only/dkms.conf <<<"$l"
check "--binaries-only: no sources" bash -c "! grep -q dkms_source_tree <<<'$l'"
check "--binaries-only: PACKAGE_NAME" test "$(bsdtar -xOf "$T/out/bin.tar.gz" ./dkms_binaries_only/PACKAGE_NAME)" = dkms-hello
check "--binaries-only: PACKAGE_VERSION" test "$(bsdtar -xOf "$T/out/bin.tar.gz" ./dkms_binaries_only/PACKAGE_VERSION)" = 0.1

expect_rc 0 mktarball "$M" -k "$K1" --archive "$T/out/k1.tar.gz"
expect_rc 6 mktarball "$M" -k 6.1.0-99-amd64
expect_out "no modules of dkms-hello/0.1 built for 6.1.0-99-amd64"
expect_rc 3 mktarball nosuch/1.0
expect_rc 4 mktarball "$M" --source-only --binaries-only
cp "$full" "$T/out/full.tar.gz"

# ---- ldtarball: back from each kind ----
remove_all() {
	d remove "$M" --all
	rm -rf "$T/src/dkms-hello-0.1"
	expect_status ""
}
remove_all
expect_rc 0 ldtarball "$T/out/full.tar.gz"
expect_status "$built"
check "sources back in the source tree" test -f "$T/src/dkms-hello-0.1/dkms_hello.c"
check "registered as a link, as dkms add does" test -L "$T/dkms/dkms-hello/0.1/source"
check "the built module is the one archived" cmp "$KO1" "$T/built-$K1.ko"
check "no private directory left in the dkms tree" test -z "$(find "$T/dkms" -maxdepth 1 -name '.ldtarball*')"
expect_rc 3 ldtarball "$T/out/full.tar.gz"
expect_out "already added.*--force"
echo tampered >>"$KO1"
expect_rc 0 ldtarball --force --archive "$T/out/full.tar.gz"
check "--force replaced the build" cmp "$KO1" "$T/built-$K1.ko"
expect_status "$built"

remove_all
expect_rc 0 ldtarball "$T/out/bin.tar.gz"
expect_status "dkms-hello/0.1, $K1, $ARCH: built"
check "binaries only: source is a directory holding dkms.conf (as dkms 3.0.10)" \
	test "$(ls "$T/dkms/dkms-hello/0.1/source")" = dkms.conf
check "binaries only: no sources placed" test ! -e "$T/src/dkms-hello-0.1"
expect_rc 0 install "$M" -k "$K1"
check "installed without building" bash -c "! grep -q Building <<<'$OUT'"
check "the installed module is the archived one" cmp "$T/lib/modules/$K1/updates/dkms/dkms_hello.ko" "$T/built-$K1.ko"
expect_status "dkms-hello/0.1, $K1, $ARCH: installed"

remove_all
expect_rc 0 ldtarball "$T/out/src-only.tar.gz"
expect_status "dkms-hello/0.1: added"
remove_all
expect_rc 0 add "$T/out/k1.tar.gz"
expect_out "Loading tarball for dkms-hello-0.1"
expect_status "dkms-hello/0.1, $K1, $ARCH: built"
remove_all
expect_rc 0 ldtarball --source-only "$T/out/k1.tar.gz"
expect_status "dkms-hello/0.1: added"
remove_all
expect_rc 0 ldtarball --binaries-only "$T/out/k1.tar.gz"
expect_status "dkms-hello/0.1, $K1, $ARCH: built"
check "--binaries-only load of a full tarball: no sources placed" test ! -e "$T/src/dkms-hello-0.1"
check "--binaries-only load: source holds the dkms.conf" test "$(ls "$T/dkms/dkms-hello/0.1/source")" = dkms.conf
remove_all

# ---- with Debian's dkms 3.0.10 ----
cp -r "$TOP/examples/dkms-hello-0.1" "$T/src/"
deb_dkms add "$M"
[[ $RC == 0 ]] || fail "debian dkms add"
deb_dkms build "$M" -k "$K1"
[[ $RC == 0 ]] || fail "debian dkms build"
deb_dkms mktarball "$M" -k "$K1"
[[ $RC == 0 ]] || fail "debian dkms mktarball"
theirs=$TB/dkms-hello-0.1-kernel$K1-$ARCH.dkms.tar.gz
check "Debian's default tarball name is ours" test -f "$theirs"
cp "$theirs" "$T/out/theirs.tar.gz"
deb_dkms mktarball "$M" -k "$K1" --binaries-only --archive "$T/out/theirs-bin.tar.gz"
[[ $RC == 0 ]] || fail "debian dkms mktarball --binaries-only"
remove_all
expect_rc 0 ldtarball "$T/out/theirs.tar.gz"
expect_status "dkms-hello/0.1, $K1, $ARCH: built"
check "their sources loaded" test -f "$T/src/dkms-hello-0.1/dkms_hello.c"
remove_all
expect_rc 0 ldtarball "$T/out/theirs-bin.tar.gz"
expect_status "dkms-hello/0.1, $K1, $ARCH: built"
remove_all

deb_dkms ldtarball "$T/out/k1.tar.gz"
[[ $RC == 0 ]] || fail "Debian's dkms does not load our tarball"
deb_dkms status
check "Debian's dkms loads our tarball: built for $K1" test "$OUT" = "dkms-hello/0.1, $K1, $ARCH: built"
expect_status "dkms-hello/0.1, $K1, $ARCH: built"
check "the module Debian's dkms loaded from ours is the archived one" cmp "$KO1" "$T/built-$K1.ko"
deb_dkms remove "$M" --all --no-depmod
rm -rf "$T/src/dkms-hello-0.1"
# (dkms 3.0.10 exits 1 after loading a binaries-only tarball with no sources on the machine: its
# `load_tarball && add_module` ends on the false test that skips add_module. Its status is what counts.)
deb_dkms ldtarball "$T/out/bin.tar.gz"
deb_dkms status
check "Debian's dkms loads our binaries-only tarball" test "$OUT" = "dkms-hello/0.1, $K1, $ARCH: built"
remove_all

# ---- hostile tarballs ----
mkdir -p "$T/evil" "$T/sentinel"
echo untouched >"$T/sentinel/file"
python3 - "$T/evil" "$T/src/../sentinel" <<'EOF' || fail "making the hostile tarballs"
import io, os, sys, tarfile
out, sentinel = sys.argv[1], sys.argv[2]
conf = b'PACKAGE_NAME=evil\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=evil\nAUTOINSTALL=yes\n'

def make(name, entries, mode='w:gz'):
    with tarfile.open(os.path.join(out, name), mode, format=tarfile.GNU_FORMAT) as t:
        for e in entries:
            kind, path = e[0], e[1]
            ti = tarfile.TarInfo(path)
            data = None
            if kind == 'file':
                data = e[2] if len(e) > 2 else b'x\n'
                ti.size = len(data)
            elif kind == 'dir':
                ti.type = tarfile.DIRTYPE
            elif kind == 'sym':
                ti.type, ti.linkname = tarfile.SYMTYPE, e[2]
            elif kind == 'hard':
                ti.type, ti.linkname = tarfile.LNKTYPE, e[2]
            elif kind == 'chr':
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
            elif kind == 'fifo':
                ti.type = tarfile.FIFOTYPE
            t.addfile(ti, io.BytesIO(data) if data is not None else None)

ok = [('file', './dkms_source_tree/dkms.conf', conf)]
make('absolute.tar.gz', ok + [('file', sentinel + '/planted')])
make('dotdot.tar.gz', ok + [('file', './dkms_source_tree/../../../sentinel/planted')])
make('symlink-out.tar.gz', ok + [('sym', './dkms_source_tree/up', '../../..')])
make('symlink-abs.tar.gz', ok + [('sym', './dkms_source_tree/pw', '/etc/shadow')])
make('symlink-chain.tar.gz', ok + [('sym', './dkms_source_tree/s', '.'),
                                   ('sym', './dkms_source_tree/q', 's/s/s/../../../sentinel')])
make('through-link.tar.gz', ok + [('dir', './dkms_source_tree/sub'), ('sym', './dkms_source_tree/d', 'sub'),
                                  ('file', './dkms_source_tree/d/x.c')])
make('hardlink.tar.gz', ok + [('hard', './dkms_source_tree/h', 'etc/passwd')])
make('device.tar.gz', ok + [('chr', './dkms_source_tree/null')])
make('fifo.tar.gz', ok + [('fifo', './dkms_source_tree/pipe')])
make('newline.tar.gz', ok + [('file', './dkms_source_tree/a\nb.c')])
make('escape.tar.gz', ok + [('file', './dkms_source_tree/\x1b[2Jx.c')])
make('layout.tar.gz', ok + [('file', './etc/cron.d/evil')])
make('kver-source.tar.gz', ok + [('file', './dkms_main_tree/source/x86_64/module/evil.ko')])
make('binonly-extra.tar.gz', [('file', './dkms_binaries_only/dkms.conf', conf),
                              ('file', './dkms_binaries_only/run.sh')])
make('duplicate.tar.gz', ok + [('file', './dkms_source_tree/a.c'), ('sym', './dkms_source_tree/a.c', 'dkms.conf')])
make('noconf.tar.gz', [('file', './dkms_source_tree/Makefile')])
make('empty.tar.gz', [])
# a 300 MiB file: the header is enough, it is refused before any data is read
with open(os.path.join(out, 'huge.tar'), 'wb') as f:
    ti = tarfile.TarInfo('./dkms_source_tree/huge.bin')
    ti.size = 300 << 20
    f.write(ti.tobuf(tarfile.GNU_FORMAT))
    f.write(b'\0' * 1024)
# more entries than the limit (directories named again and again: cheap to read)
with tarfile.open(os.path.join(out, 'many.tar.gz'), 'w:gz', format=tarfile.GNU_FORMAT) as t:
    ti = tarfile.TarInfo('./dkms_source_tree')
    ti.type = tarfile.DIRTYPE
    for _ in range(100001):
        t.addfile(ti)
# five sparse files of 250 MiB (GNU sparse headers, holes only): past the 1 GiB limit for all files,
# and nothing but holes written on the way
def sparse_header(name, realsize):
    def octal(n, width):
        return (b'%0*o' % (width - 1, n)) + b'\0'
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.GNUTYPE_SPARSE
    buf = bytearray(ti.tobuf(tarfile.GNU_FORMAT))
    buf[386:398] = octal(realsize, 12)  # one region at the end, of 0 bytes
    buf[398:410] = octal(0, 12)
    buf[483:495] = octal(realsize, 12)  # the real size
    buf[148:156] = b' ' * 8
    buf[148:156] = b'%06o\0 ' % sum(buf[:512])
    return bytes(buf[:512])
with open(os.path.join(out, 'total.tar'), 'wb') as f:
    ti = tarfile.TarInfo('./dkms_source_tree/dkms.conf')
    ti.size = len(conf)
    f.write(ti.tobuf(tarfile.GNU_FORMAT) + conf + b'\0' * (512 - len(conf)))
    for i in range(5):
        f.write(sparse_header('./dkms_source_tree/hole%d' % i, 250 << 20))
    f.write(b'\0' * 1024)
# a good tarball cut in the middle
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w:gz', format=tarfile.GNU_FORMAT) as t:
    for i in range(20):
        data = os.urandom(4096)
        ti = tarfile.TarInfo('./dkms_source_tree/f%d.c' % i)
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
with open(os.path.join(out, 'truncated.tar.gz'), 'wb') as f:
    f.write(buf.getvalue()[:len(buf.getvalue()) // 2])
with open(os.path.join(out, 'notatar.tar.gz'), 'wb') as f:
    f.write(b'PK\x03\x04 this is not a tarball\n' * 10)
EOF
ls "$T/evil"
declare -A WHY=(
	[absolute]="absolute path"
	[dotdot]="'\.\.' component"
	[symlink-out]="symbolic link whose target is absolute, empty or outside"
	[symlink-abs]="symbolic link whose target is absolute, empty or outside"
	[symlink-chain]="leads outside the sources"
	[through-link]="entry 'dkms_source_tree/d/x.c'.*[Ss]ymlink|entry './dkms_source_tree/d/x.c'"
	[hardlink]="hard link"
	[device]="device, fifo, socket"
	[fifo]="device, fifo, socket"
	[newline]="control character"
	[escape]="control character"
	[layout]="not part of a DKMS tarball's layout"
	[kver-source]="not part of a DKMS tarball's layout"
	[binonly-extra]="not part of a DKMS tarball's layout"
	[duplicate]="appears twice"
	[noconf]="no dkms.conf in dkms_source_tree/ or dkms_binaries_only/"
	[empty]="the archive is empty"
	[huge]="256 MiB limit"
	[many]="more than 100000 entries"
	[notatar]="not a (readable )?tar archive"
	[total]="hole4': the files add up to more than the 1 GiB limit"
	[truncated]="[Tt]runcated|not a readable tar archive"
)
before=$(tree_state)
for f in "$T"/evil/*; do
	n=$(basename "$f")
	n=${n%%.tar*}
	[[ -n ${WHY[$n]:-} ]] || fail "no expected reason for $n"
	expect_rc 7 ldtarball "$f"
	expect_out "^Error! .*$(basename "$f"): refused"
	expect_out "${WHY[$n]}"
	expect_out "nothing was loaded"
	check "$n: no tree changed" test "$(tree_state)" = "$before"
done
check "22 hostile tarballs tried" test "$(ls "$T/evil" | wc -l)" = 22
check "sentinel untouched" test "$(cat "$T/sentinel/file")" = untouched
check "nothing planted next to it" test ! -e "$T/sentinel/planted"
check "nothing planted at the top of the temporary tree" test ! -e "$T/planted"
expect_status ""
expect_rc 4 ldtarball "$T/out/nothere.tar.gz"
expect_rc 4 ldtarball
done_ok
