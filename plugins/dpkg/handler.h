/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the files of dkms-dpkg-trigger share: the handler's state and the steps each entry point calls. */
#ifndef DKMS_DPKG_HANDLER_H
#define DKMS_DPKG_HANDLER_H

#include "internal.h"

#include <stdbool.h>
#include <stddef.h>

struct handler {
	struct dkms_ctx *ctx;
	bool in_dpkg;	 /* run from a maintainer script: DPKG_MAINTSCRIPT_PACKAGE */
	size_t failed;	 /* jobs that failed, and errors */
	char **failures; /* "<module>/<version> for <kver>: <log>", for the summary */
	size_t n_failures;
	char **initramfs; /* kernels that got a module */
	size_t n_initramfs;
};

/* ---- dkms-dpkg.c: main, output, the kernels on disk, the kernel hooks ---- */
bool kernel_has_headers(struct dkms_ctx *ctx, const char *kver);
bool kernel_has_image(struct dkms_ctx *ctx, const char *kver); /* modules.order or /boot/vmlinuz-<kver> */

/* ---- run.c: running a plan; failures and kernels that got modules are noted in h ---- */
void plan_run(struct handler *h, struct dkms_plan *plan); /* frees plan */
/* One plan for kernels added and removed; kernels in retry get again what failed before. */
void event_run(struct handler *h, char *const *added, size_t n_added, char *const *removed, size_t n_removed,
	       char *const *retry, size_t n_retry);
void initramfs_update(struct handler *h); /* for h->initramfs, at the end */

/* ---- reconcile.c: the trigger, and the kernels the hooks leave to it ---- */
void reconcile(struct handler *h);
int pending_add(struct dkms_ctx *ctx, const char *kver); /* 0 / -errno */
void pending_remove(struct dkms_ctx *ctx, char *const *kvers, size_t n);

/* ---- postinst.c: common.postinst of dh_dkms packages ---- */
int module_postinst(struct handler *h, char **argv, int argc); /* argv: NAME VERSION [DIR [ARCH [OLD]]] */

#endif
