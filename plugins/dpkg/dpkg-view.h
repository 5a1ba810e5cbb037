/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the dpkg database says about kernels and module sources (read with libdpkg, no lock). */
#ifndef DKMS_DPKG_VIEW_H
#define DKMS_DPKG_VIEW_H

#include <stdbool.h>
#include <stddef.h>

struct dkms_dpkg_kernel {
	char *kver;
	char *headers; /* the package that ships /lib/modules/<kver>/build, or NULL */
	char *image;   /* the package that ships /boot/vmlinuz-<kver> or its modules.order, or NULL */
	bool headers_configured; /* its postinst (and the header hooks) ran */
};

struct dkms_dpkg_source {
	char *dir; /* <module>-<version>, under /usr/src */
	char *pkg;
	bool configured;
};

/* Packages whose files are on disk (unpacked or later) and own a kernel or a module source. */
struct dkms_dpkg_view {
	struct dkms_dpkg_kernel *kernels;
	size_t n_kernels;
	struct dkms_dpkg_source *sources;
	size_t n_sources;
};

/* 0, or -1 with *err (malloc'd) saying what libdpkg reported; no libdpkg error ends the process. */
int dkms_dpkg_view_read(struct dkms_dpkg_view *v, char **err);
void dkms_dpkg_view_free(struct dkms_dpkg_view *v);
const struct dkms_dpkg_kernel *dkms_dpkg_view_kernel(const struct dkms_dpkg_view *v, const char *kver);

#endif
