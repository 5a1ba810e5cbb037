# SPDX-License-Identifier: GPL-2.0-or-later
# plugins/pacman: rules included from the top Makefile.am (paths relative to the top).
# The alpm hook handler, and the .hook files that call it by its installed path.
# Override alpmhookdir on the make command line when datadir is not /usr/share.
pacman_hooks = hooks/pacman/70-dkms-install.hook hooks/pacman/70-dkms-remove.hook
pacman_hooks_in = hooks/pacman/70-dkms-install.hook.in hooks/pacman/70-dkms-remove.hook.in
# the Arch package of the project (scripts/build-arch.sh builds it from the tarball); after plugins/rpm
dist_noinst_DATA += packaging/arch/PKGBUILD

if HAVE_ALPM
alpmlibexecdir = $(libexecdir)/dkms
alpmlibexec_PROGRAMS = dkms-alpm-hook
dkms_alpm_hook_SOURCES = plugins/pacman/dkms-alpm.c
dkms_alpm_hook_CFLAGS = $(AM_CFLAGS) $(ALPM_CFLAGS)
dkms_alpm_hook_LDADD = libdkms-internal.la $(ALPM_LIBS)

alpmhookdir = $(datadir)/libalpm/hooks
alpmhook_DATA = $(pacman_hooks)
endif

pacman_hook_gen = $(AM_V_GEN)$(MKDIR_P) hooks/pacman && \
	sed -e 's|@dkmslibexecdir[@]|$(libexecdir)/dkms|g' $(srcdir)/$@.in >$@.tmp && mv $@.tmp $@
hooks/pacman/70-dkms-install.hook: $(srcdir)/hooks/pacman/70-dkms-install.hook.in Makefile
	$(pacman_hook_gen)
hooks/pacman/70-dkms-remove.hook: $(srcdir)/hooks/pacman/70-dkms-remove.hook.in Makefile
	$(pacman_hook_gen)

clean-local: clean-pacman-hooks
clean-pacman-hooks:
	rm -f $(pacman_hooks)
dist-hook: dist-pacman-hooks
dist-pacman-hooks:
	$(MKDIR_P) $(distdir)/hooks/pacman
	for f in $(pacman_hooks_in); do cp -p $(srcdir)/$$f $(distdir)/hooks/pacman/ || exit 1; done
.PHONY: clean-pacman-hooks dist-pacman-hooks
