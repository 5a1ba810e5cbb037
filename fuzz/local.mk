# SPDX-License-Identifier: GPL-2.0-or-later
# fuzz: libFuzzer harnesses, built with configure --enable-fuzzing (CC=clang); run them with
# scripts/fuzz.sh. Rules included from the top Makefile.am (paths relative to the top).
if ENABLE_FUZZING
FUZZ_TARGETS = fuzz/fuzz-vercmp fuzz/fuzz-args fuzz/fuzz-status fuzz/fuzz-conf-channel
if HAVE_TARBALL_C
FUZZ_TARGETS += fuzz/fuzz-tarball-entry
endif
noinst_PROGRAMS = $(FUZZ_TARGETS)
FUZZ_LIBS = libdkms-internal.la
FUZZ_LINK_FLAGS = -fsanitize=fuzzer
fuzz_fuzz_vercmp_SOURCES = fuzz/fuzz-vercmp.c
fuzz_fuzz_vercmp_LDADD = $(FUZZ_LIBS)
fuzz_fuzz_vercmp_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_fuzz_args_SOURCES = fuzz/fuzz-args.c core/cli/args.c core/cli/args.h
fuzz_fuzz_args_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/core/cli
fuzz_fuzz_args_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_fuzz_status_SOURCES = fuzz/fuzz-status.c
fuzz_fuzz_status_LDADD = $(FUZZ_LIBS)
fuzz_fuzz_status_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_fuzz_conf_channel_SOURCES = fuzz/fuzz-conf-channel.c
fuzz_fuzz_conf_channel_LDADD = $(FUZZ_LIBS)
fuzz_fuzz_conf_channel_LDFLAGS = $(FUZZ_LINK_FLAGS)
fuzz_fuzz_tarball_entry_SOURCES = fuzz/fuzz-tarball-entry.c
fuzz_fuzz_tarball_entry_LDADD = $(FUZZ_LIBS)
fuzz_fuzz_tarball_entry_LDFLAGS = $(FUZZ_LINK_FLAGS)
endif

# make fuzz: just the harnesses (nothing without --enable-fuzzing)
fuzz: $(FUZZ_TARGETS)
.PHONY: fuzz
