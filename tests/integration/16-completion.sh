#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The shell completions on a temporary dkms tree and modules tree: bash's, sourced into a plain
# (non-interactive) bash and called the way readline calls it; zsh's, its helpers alone, then
# through compsys in an interactive zsh on a pseudo-terminal.
source "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/dkms-it.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/dkms/dkms-hello/0.1/$K1/$ARCH/module" "$T/dkms/dkms-hello/0.2" "$T/dkms/other/1.0" \
	"$T/dkms/dkms-hello/original_module" "$T/dkms/.build" "$T/lib/modules/$K1" "$T/lib/modules/$K2" \
	"$T/lib/modules/5.10.0-1-amd64"
ln -s "0.1/$K1/$ARCH" "$T/dkms/dkms-hello/kernel-$K1-$ARCH"
touch "$T/dkms/mok.key" "$T/dkms/mok.pub"
echo 'PACKAGE_NAME=x' >"$T/dkms.conf.sample"

# complete "word word ... cur": COMP_WORDS as bash splits them ('=' is a word of its own), the
# cursor on the last word; prints COMPREPLY sorted, one per line.
complete_bash() {
	bash --norc --noprofile -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_dkms dkms "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$TOP/completion/bash/dkms" "$@"
}

expect_completion() { # expected (lines), words...
	local want=$1 got
	shift
	got=$(complete_bash "$@")
	CHECKS=$((CHECKS + 1))
	[[ $got == "$want" ]] || fail "bash completion of '$*' is:
$got
expected:
$want"
	echo "check: ok: bash completes '$*'"
}

DT=(--dkmstree "$T/dkms")
IT=(--installtree "$T/lib/modules")
expect_completion "status" dkms st
expect_completion "kernel_postinst
kernel_preinst
kernel_prerm" dkms kernel_
expect_completion "generate_mok" dkms -q ge
# every command of `dkms --help`, and nothing else, is offered, by both completions
help_cmds=$("$DKMS" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z_][a-z_]*\) .*/\1/p' | sort)
check "--help lists commands" test -n "$help_cmds"
expect_completion "$help_cmds" dkms ""
for c in $help_cmds; do
	check "zsh offers $c" grep -q "^    '$c:" "$TOP/completion/zsh/_dkms"
done
# every long option of `dkms --help` is offered too
for o in $("$DKMS" --help | grep -o -- '--[a-z][a-z-]*' | grep -vx -- --opt | sort -u); do
	check "bash offers $o" grep -q -- "$o" "$TOP/completion/bash/dkms"
	check "zsh offers $o" grep -q -- "'[^']*$o" "$TOP/completion/zsh/_dkms"
done
# module/version pairs from the tree: not .build, mok.*, original_module or the kernel-* links
expect_completion "dkms-hello
dkms-hello/0.1
dkms-hello/0.2" dkms install "${DT[@]}" dkms-h
expect_completion "dkms-hello
dkms-hello/0.1
dkms-hello/0.2
other
other/1.0" dkms remove "${DT[@]}" ""
expect_completion "dkms-hello
other" dkms build "${DT[@]}" -m ""
expect_completion "0.1
0.2" dkms build "${DT[@]}" -m dkms-hello -v ""
expect_completion "0.1
0.2" dkms build --dkmstree = "$T/dkms" --module = dkms-hello -v ""
expect_completion "0.1
0.2" dkms build --dkmstree="$T/dkms" --module=dkms-hello/0.1 -v 0
# kernels from the modules tree, after -k, --kernelver and --templatekernel, in every form
expect_completion "$K1
$K2" dkms build "${IT[@]}" -k 6.1
expect_completion "$K1
$K2" dkms match "${IT[@]}" --templatekernel = 6
expect_completion "5.10.0-1-amd64
$K1
$K2" dkms match "${IT[@]}" --templatekernel =
expect_completion "--kernelver=$K1
--kernelver=$K2" dkms autoinstall --installtree="$T/lib/modules" --kernelver=6.1
# options, with the ones of the command
expect_completion "--json" dkms status --js
expect_completion "--templatekernel" dkms match --templ
expect_completion "" dkms install --templ
expect_completion "--directive
--dkmstree
--dry-run" dkms remove --d
expect_completion "$ARCH" dkms build -a ""
# files and directories
expect_completion "$T/dkms.conf.sample" dkms build -c "$T/dkms.c"
expect_completion "$T/dkms" dkms status --dkmstree "$T/dk"
check "completion is registered for dkms" \
	bash --norc -c "source '$TOP/completion/bash/dkms'; complete -p dkms | grep -q -- '-F _dkms dkms\$'"

# zsh: the file parses, and its tree helpers list what bash's do (compsys itself is not loaded:
# _describe and _arguments print what they were given).
if command -v zsh >/dev/null; then
	check "zsh completion parses" zsh -n "$TOP/completion/zsh/_dkms"
	zsh_helper() { # helper, words...
		zsh -f -c '
			_arguments() { return 1 }
			_describe() { print -l -- ${(P)4} }
			f=$1 h=$2; shift 2
			source $f
			words=("$@")
			$h | sort' _ "$TOP/completion/zsh/_dkms" "$@"
	}
	got=$(zsh_helper _dkms_pairs dkms status "${DT[@]}" "")
	check "zsh lists the module/version pairs" test "$got" = "dkms-hello
dkms-hello/0.1
dkms-hello/0.2
other
other/1.0"
	got=$(zsh_helper _dkms_versions dkms build "${DT[@]}" -m dkms-hello -v "")
	check "zsh lists the versions of -m" test "$got" = "0.1
0.2"
	got=$(zsh_helper _dkms_kernels dkms build --installtree="$T/lib/modules" -k "")
	check "zsh lists the kernels" test "$got" = "5.10.0-1-amd64
$K1
$K2"
	check "zsh offers the machine's arch" test "$(zsh_helper _dkms_arch dkms build -a "")" = "$ARCH"

	# And through compsys itself: an interactive zsh on a pseudo-terminal, compinit with our
	# directory first in fpath, a line typed and TAB pressed; compadd records what was offered.
	cat >"$T/capture.zsh" <<'EOZ'
zmodload zsh/zpty || exit 2
dir=$1 out=$2 line=$3
zpty z zsh -f -i
zpty -w z "PROMPT='' RPROMPT=''"
zpty -w z "fpath=($dir \$fpath); autoload -U compinit; compinit -u -d $out.dump"
zpty -w z "compadd() {
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd \"\$@\"; return; fi
  local -a hits; builtin compadd -A hits \"\$@\"; local r=\$?
  (( \$#hits )) && print -l -- \$hits >>$out
  builtin compadd \"\$@\"; return r
}"
zpty -w z "print READY"
zpty -r z _ '*READY*'
: >$out
zpty -w -n z "$line"$'\t'
for i in {1..50}; do [[ -s $out ]] && break; sleep 0.1; done
sleep 0.3
zpty -d z
EOZ
	complete_zsh() { # expected (lines), the line typed
		local want=$1 got
		rm -f "$T/zout"
		zsh -f "$T/capture.zsh" "$TOP/completion/zsh" "$T/zout" "$2"
		got=$(sort -u "$T/zout" 2>/dev/null)
		CHECKS=$((CHECKS + 1))
		[[ $got == "$want" ]] || fail "zsh completion of '$2' is:
$got
expected:
$want"
		echo "check: ok: zsh completes '$2'"
	}
	complete_zsh "status" "dkms st"
	complete_zsh "--json" "dkms status --j"
	complete_zsh "kernel_postinst
kernel_preinst
kernel_prerm" "dkms kernel_"
	complete_zsh "dkms-hello
dkms-hello/0.1
dkms-hello/0.2" "dkms install --dkmstree $T/dkms dkms-h"
	complete_zsh "$K1
$K2" "dkms build --installtree $T/lib/modules -k 6.1"
	complete_zsh "0.1
0.2" "dkms build --dkmstree=$T/dkms -m dkms-hello -v "
else
	fail "zsh is not installed (scripts/deps.sh --tests)"
fi
done_ok
