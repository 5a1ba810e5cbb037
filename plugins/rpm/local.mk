# SPDX-License-Identifier: GPL-2.0-or-later
# plugins/rpm: rules included from the top Makefile.am (paths relative to the top).
# dkms.so, loaded by librpm from %{__plugindir}; the engine is linked in, so that the plugin
# needs no libdkms at run time. Only the hook table is exported. No -shared: a --disable-shared
# build (the sanitizer one) then makes a harmless static archive instead of failing.
if HAVE_RPM
rpmplugin_LTLIBRARIES = plugins/rpm/dkms.la
plugins_rpm_dkms_la_SOURCES = plugins/rpm/dkms-rpm.c plugins/rpm/rpmplugin-abi.h
plugins_rpm_dkms_la_CFLAGS = $(AM_CFLAGS) $(RPM_CFLAGS)
plugins_rpm_dkms_la_LIBADD = libdkms-internal.la $(RPM_LIBS)
plugins_rpm_dkms_la_LDFLAGS = -module -avoid-version -export-symbols-regex '^dkms_hooks$$'
dist_rpmmacros_DATA = hooks/rpm/macros.transaction_dkms
endif

# the RPM package of the project (scripts/build-rpm.sh builds it from the tarball)
dist_noinst_DATA = packaging/rpm/dkms-ng.spec
