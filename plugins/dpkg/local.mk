# SPDX-License-Identifier: GPL-2.0-or-later
# plugins/dpkg: rules included from the top Makefile.am (paths relative to the top).
# dkms-dpkg-trigger (libdpkg is static-only: linked with pkg-config --static), the hook installed as
# /etc/kernel/<dir>/dkms for each kernel hook dir, the kernel-install plugin and
# /usr/lib/dkms/common.postinst for dh_dkms packages; all call the handler by its installed path.
# The Debian package (debian/) adds hooks/dpkg/triggers and a postinst that runs the handler.
dpkg_scripts = hooks/dpkg/kernel-hook hooks/dpkg/40-dkms.install hooks/dpkg/common.postinst
dpkg_sources = hooks/dpkg/kernel-hook.in hooks/dpkg/40-dkms.install.in hooks/dpkg/common.postinst.in \
	hooks/dpkg/triggers
dpkg_hookdirs = header_postinst.d postinst.d preinst.d prerm.d postrm.d

if HAVE_DPKG
dpkglibexecdir = $(libexecdir)/dkms
dpkglibexec_PROGRAMS = dkms-dpkg-trigger
dkms_dpkg_trigger_SOURCES = plugins/dpkg/dkms-dpkg.c plugins/dpkg/handler.h plugins/dpkg/reconcile.c \
	plugins/dpkg/postinst.c plugins/dpkg/run.c plugins/dpkg/dpkg-view.c plugins/dpkg/dpkg-view.h
dkms_dpkg_trigger_CFLAGS = $(AM_CFLAGS) $(DPKG_CFLAGS)
dkms_dpkg_trigger_LDADD = libdkms-internal.la $(DPKG_LIBS)

noinst_SCRIPTS = hooks/dpkg/kernel-hook
kernelinstalldir = $(sysconfdir)/kernel/install.d
kernelinstall_SCRIPTS = hooks/dpkg/40-dkms.install
dkmscommondir = $(prefix)/lib/dkms
dkmscommon_SCRIPTS = hooks/dpkg/common.postinst

install-data-local: install-dpkg-hooks
uninstall-local: uninstall-dpkg-hooks
endif

install-dpkg-hooks: hooks/dpkg/kernel-hook
	for d in $(dpkg_hookdirs); do \
		$(MKDIR_P) "$(DESTDIR)$(sysconfdir)/kernel/$$d" && \
		$(INSTALL_SCRIPT) hooks/dpkg/kernel-hook "$(DESTDIR)$(sysconfdir)/kernel/$$d/dkms" || exit 1; \
	done
uninstall-dpkg-hooks:
	for d in $(dpkg_hookdirs); do rm -f "$(DESTDIR)$(sysconfdir)/kernel/$$d/dkms"; done

dpkg_hook_gen = $(AM_V_GEN)$(MKDIR_P) hooks/dpkg && \
	sed -e 's|@dkmslibexecdir[@]|$(libexecdir)/dkms|g' $(srcdir)/$@.in >$@.tmp && \
	chmod +x $@.tmp && mv $@.tmp $@
hooks/dpkg/kernel-hook: $(srcdir)/hooks/dpkg/kernel-hook.in Makefile
	$(dpkg_hook_gen)
hooks/dpkg/40-dkms.install: $(srcdir)/hooks/dpkg/40-dkms.install.in Makefile
	$(dpkg_hook_gen)
hooks/dpkg/common.postinst: $(srcdir)/hooks/dpkg/common.postinst.in Makefile
	$(dpkg_hook_gen)

clean-local: clean-dpkg-hooks
clean-dpkg-hooks:
	rm -f $(dpkg_scripts)
dist-hook: dist-dpkg-hooks
dist-dpkg-hooks:
	$(MKDIR_P) $(distdir)/hooks/dpkg
	for f in $(dpkg_sources); do cp -p $(srcdir)/$$f $(distdir)/$$(dirname $$f)/ || exit 1; done
.PHONY: install-dpkg-hooks uninstall-dpkg-hooks clean-dpkg-hooks dist-dpkg-hooks
