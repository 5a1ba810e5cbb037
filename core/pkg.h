/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Module packages (mkdeb, mkrpm, mkbmdeb, mkbmrpm): what pkg.c, pkg-deb.c and pkg-rpm.c share. */
#ifndef DKMS_PKG_H
#define DKMS_PKG_H

#include "internal.h"

/* Where packaged files go on the target machine: the standard places, whatever trees made them. */
#define DKMS_PKG_DKMS_TREE    "/var/lib/dkms"
#define DKMS_PKG_INSTALL_TREE "/lib/modules"
#define DKMS_PKG_SOURCE_TREE  "/usr/src"

/* One package being made: a staging root laid out as on the target, then the family's tool. */
struct dkms_pkg {
	struct dkms_ctx *ctx;
	const struct dkms_pkg_request *req;
	const char *m, *v;
	const char *kver, *arch; /* binaries: the kernel; NULL for sources */
	char *work;		 /* scratch directory, removed at the end */
	char *root;		 /* <work>/root: the files as installed */
	char *out_dir;
	char *maintainer; /* "Name <address>" */
	char *license;	  /* from MODULE_LICENSE() in the sources, or "unknown" */
	char **files;	  /* binaries: absolute target paths of the module files, */
	size_t n_files;	  /* both under /lib/modules and in the registry */
	char *log_path;	  /* output of the tool */
	int log_fd;
};

/* ---- pkg.c ---- */
/* Run the family's tool with its output in p->log_path; DKMS_E_FAIL naming the log on failure. */
int dkms_pkg_run(struct dkms_pkg *p, const char *const *argv);
/* Regular files under p->root: relative paths (sorted), and their total size in bytes. */
int dkms_pkg_list_root(struct dkms_pkg *p, char ***rel, size_t *n, unsigned long long *bytes);
/* Write <p->root>/<rel> (directories made), mode. */
int dkms_pkg_write(struct dkms_pkg *p, const char *rel, const char *text, mode_t mode);

/* The scripts of binary packages, POSIX sh shared by both families: the variables they use (a
 * malloc'd text), and what to do after install, before removal and after removal (one tab indented). */
char *dkms_pkg_bin_vars(const struct dkms_pkg *p);
extern const char dkms_pkg_bin_post[], dkms_pkg_bin_preun[], dkms_pkg_bin_postun[];

/* ---- pkg-deb.c, pkg-rpm.c: the staged root into one package in p->out_dir ---- */
int dkms_pkg_deb_make(struct dkms_pkg *p);
int dkms_pkg_rpm_make(struct dkms_pkg *p);

#endif
