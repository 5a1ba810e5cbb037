# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# Sourced by scripts/build-{deb,rpm,arch}.sh and scripts/dist.sh: what the package builds share.

# The version the tree declares (AC_INIT in configure.ac).
pkg_tree_version() { # top
	sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$1/configure.ac"
}

# Copy the tree at $1 into $2 as git would commit it: tracked and untracked-but-not-ignored files
# that exist (no build directories, no generated autotools files); the whole tree when not in git.
pkg_copy_tree() { # top, destination
	local top=$1 dest=$2
	mkdir -p "$dest"
	if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$top" ls-files -z -co --exclude-standard | (
			cd "$top" || exit 1
			while IFS= read -r -d '' f; do
				[[ -e $f || -L $f ]] && printf '%s\0' "$f"
			done
		) | tar -C "$top" --null --no-recursion -T - -cf - | tar -C "$dest" -xf -
	else
		tar -C "$top" --exclude=./build --exclude='./build-*' --exclude=./autom4te.cache -cf - . |
			tar -C "$dest" -xf -
	fi
}

# Run a build step with its output in a log; on failure show the log's tail and stop.
pkg_logged() { # log, command...
	local log=$1
	shift
	if ! "$@" >"$log" 2>&1; then
		tail -30 "$log" >&2
		echo "failed: $*; the whole log is $log" >&2
		exit 1
	fi
}
