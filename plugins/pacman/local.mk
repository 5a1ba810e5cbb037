# SPDX-License-Identifier: GPL-2.0-or-later
# plugins/pacman: rules included from the top Makefile.am (paths relative to the top).
