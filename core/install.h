/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One install or uninstall of m/v for a kernel; shared by install.c, modinfo.c and original.c. */
#ifndef DKMS_INSTALL_H
#define DKMS_INSTALL_H

#include "internal.h"

struct kmod_ctx;

struct install_mod {
	const struct dkms_modfile *mf;
	char *built;	/* <kdir>/module/<file> */
	char *file;	/* <dest_name>.ko[.xz...] */
	char *dest_dir; /* <install_tree>/<kver><dest_location> */
	char *orig;	/* in-tree module to back up, or NULL */
	bool skip;	/* refused by the version check */
	char *stage;	/* <dest_dir>/.<file>.dkms-new: the copy written before anything is replaced */
	char *placed;	/* what we wrote */
	char *saved;	/* where orig went */
};

struct install {
	struct dkms_ctx *ctx;
	const char *m, *v;
	const struct dkms_kernel *k;
	const struct dkms_conf *conf;
	struct kmod_ctx *kmod;
	char *kdir;
	char *odir; /* <dkms_tree>/<m>/original_module/<kver>/<arch> */
	struct install_mod *mods;
	size_t n_mods;
};

/* ---- install.c ---- */
/* <install_tree>/<kver><loc>, without a trailing '/'. */
char *dkms_install_dest_dir(struct install *in, const char *loc);
/* DEST_MODULE_LOCATION of the module installed as name, or NULL. */
const char *dkms_install_conf_location(struct install *in, const char *name);

/* ---- modinfo.c: module files, and the copies the kernel already has ---- */
/* .ko, .ko.xz, .ko.zst, .ko.gz */
extern const char *const dkms_modinfo_suffixes[4];
struct kmod_ctx *dkms_modinfo_kmod_new(struct dkms_ctx *ctx, const struct dkms_kernel *k);
/* Name of a module file without .ko[.xz...], NULL when not a module file. */
char *dkms_modinfo_name(const char *file);
/* Is the installed file ours: the same bytes, or (like dkms) the same version? */
bool dkms_modinfo_is_ours(struct install *in, const char *installed, const char *built);
/* dkms's check_version_sanity: sets im->skip, and im->orig when an in-tree module is replaced. */
void dkms_modinfo_check_version(struct install *in, struct install_mod *im);

/* ---- original.c: the in-tree modules an install replaces ---- */
/* The stored original of name, or NULL. */
char *dkms_original_find(struct install *in, const char *name);
/* Move im->orig to original_module/; sets im->saved. */
int dkms_original_save(struct install *in, struct install_mod *im);
/* Put im->saved back (a failed install). */
void dkms_original_undo(struct install *in, struct install_mod *im);
/* Put all the saved originals back (uninstall). */
void dkms_original_restore(struct install *in);

#endif
