/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ldtarball, second half: an archive extracted into a private directory and
 * checked all through (tarball-load.c) is moved into place: its sources to
 * <source_tree>/<m>-<v> and registered as dkms add does, its builds to
 * <dkms_tree>/<m>/<v>/<kver>/<arch>. By rename (a copy across file
 * systems); what exists is kept unless --force, as dkms 3.x keeps builds.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct place {
	struct dkms_ctx *ctx;
	const char *path; /* the archive, for messages */
	const char *tmp;  /* where it was extracted */
};

/* Move from to to (keeping a backup of what was at to in *backup), or copy
 * when they are on different file systems. */
static int load_place(struct place *ld, const char *from, const char *to, char **backup)
{
	const char *slash = strrchr(to, '/');
	char *dir = strndup(to, slash ? (size_t)(slash - to) : 0);
	const char *base = slash ? slash + 1 : to;
	int e = 0;

	if (!dir)
		abort();
	*backup = NULL;
	if (dkms_exists(to)) {
		*backup = dkms_asprintf("%s/.%s.ldtarball-old.%d", dir, base, (int)getpid());
		dkms_rm_rf(*backup);
		if (rename(to, *backup) < 0) {
			e = -errno;
			free(*backup);
			*backup = NULL;
		}
	}
	if (!e && rename(from, to) < 0) {
		e = -errno;
		if (e == -EXDEV) {
			char *staged = dkms_asprintf("%s/.%s.ldtarball.%d", dir, base, (int)getpid());

			dkms_rm_rf(staged);
			e = dkms_copy_tree(from, staged);
			if (!e && rename(staged, to) < 0)
				e = -errno;
			if (e)
				dkms_rm_rf(staged);
			free(staged);
		}
		if (e && *backup) {
			rename(*backup, to);
			free(*backup);
			*backup = NULL;
		}
	}
	if (!e)
		dkms_fsync_dir(dir);
	free(dir);
	if (e)
		return dkms_err_set(ld->ctx, DKMS_E_FAIL,
				    "%s: cannot move %s to %s: %s; check that it is writable", ld->path, from,
				    to, strerror(-e));
	return 0;
}

static void load_unplace(const char *to, char **backup)
{
	dkms_rm_rf(to);
	if (*backup)
		rename(*backup, to);
	free(*backup);
	*backup = NULL;
}

static void load_drop_backup(char **backup)
{
	if (*backup)
		dkms_rm_rf(*backup);
	free(*backup);
	*backup = NULL;
}

/* The builds in dkms_main_tree/<kver>/<arch>: into the dkms tree. */
static int load_builds(struct place *ld, const char *m, const char *v)
{
	struct dkms_ctx *ctx = ld->ctx;
	char *main_tree = dkms_path_join(ld->tmp, "dkms_main_tree");
	char **kvers = NULL;
	size_t nk = 0;
	int r = 0;

	if (dkms_is_dir(main_tree) && dkms_list_dir(main_tree, &kvers, &nk))
		r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot read %s", main_tree);
	for (size_t i = 0; i < nk && !r; i++) {
		char *kd = dkms_path_join(main_tree, kvers[i]);
		char **arches = NULL;
		size_t na = 0;

		if (dkms_list_dir(kd, &arches, &na))
			r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot read %s", kd);
		for (size_t j = 0; j < na && !r; j++) {
			char *from = dkms_path_join(kd, arches[j]);
			char *to = dkms_tree_kdir(ctx, m, v, kvers[i], arches[j]);
			char *parent = dkms_asprintf("%s/%s/%s/%s", ctx->dkms_tree, m, v, kvers[i]);
			char *backup = NULL, *inst;

			if (dkms_exists(to) && !ctx->opts.force) {
				dkms_log(ctx, DKMS_LOG_WARN,
					 "%s already exists. Skipping (--force replaces it)...", to);
			} else {
				dkms_log(ctx, DKMS_LOG_INFO, "Loading %s...", to);
				int e = dkms_mkdir_p(parent, 0755);

				r = e ? dkms_err_set(ctx, DKMS_E_FAIL, "cannot create %s: %s", parent,
						     strerror(-e))
				      : load_place(ld, from, to, &backup);
				load_drop_backup(&backup);
				inst = r ? NULL : dkms_tree_installed_version(ctx, m, kvers[i], arches[j]);
				if (inst && !strcmp(inst, v))
					dkms_log(ctx, DKMS_LOG_WARN,
						 "%s/%s is installed for %s (%s) from the build just "
						 "replaced; "
						 "dkms install --force %s/%s -k %s/%s installs the new one",
						 m, v, kvers[i], arches[j], m, v, kvers[i], arches[j]);
				free(inst);
			}
			free(parent);
			free(to);
			free(from);
		}
		dkms_strv_free(arches, na);
		free(kd);
	}
	dkms_strv_free(kvers, nk);
	free(main_tree);
	return r;
}

/* A binaries-only tarball (or --binaries-only) and no sources on the machine:
 * <m>/<v>/source is a directory holding only conf, as dkms 3.x makes it. */
static int load_stub(struct place *ld, const char *conf, const char *m, const char *v)
{
	char *stub = dkms_path_join(ld->tmp, ".stub");
	char *stub_conf = dkms_path_join(stub, "dkms.conf");
	char *vdir = dkms_asprintf("%s/%s/%s", ld->ctx->dkms_tree, m, v);
	char *to = dkms_path_join(vdir, "source"), *backup = NULL;
	int r = 0, e;

	e = mkdir(stub, 0755) < 0 ? -errno : 0;
	if (!e)
		e = rename(conf, stub_conf) < 0 ? -errno : 0;
	if (!e)
		e = dkms_mkdir_p(vdir, 0755);
	if (e)
		r = dkms_err_set(ld->ctx, DKMS_E_FAIL, "cannot create %s: %s", to, strerror(-e));
	else
		r = load_place(ld, stub, to, &backup);
	load_drop_backup(&backup);
	if (!r)
		dkms_log(ld->ctx, DKMS_LOG_INFO, "Creating %s with the dkms.conf of the tarball", to);
	free(to);
	free(vdir);
	free(stub_conf);
	free(stub);
	return r;
}

/* Where the sources of m/v are registered (the link target), is it dest? */
static bool registered_at(struct dkms_ctx *ctx, const char *m, const char *v, const char *dest)
{
	char *src = dkms_asprintf("%s/%s/%s/source", ctx->dkms_tree, m, v);
	char a[PATH_MAX], b[PATH_MAX];
	bool r = realpath(src, a) && realpath(dest, b) && !strcmp(a, b);

	free(src);
	return r;
}

static bool source_is_stub(struct dkms_ctx *ctx, const char *m, const char *v)
{
	char *src = dkms_asprintf("%s/%s/%s/source", ctx->dkms_tree, m, v);
	struct stat st;
	bool r = lstat(src, &st) == 0 && S_ISDIR(st.st_mode);

	free(src);
	return r;
}

int dkms_tarball_place(struct dkms_ctx *ctx, const char *archive, const char *dir, unsigned flags,
		       const struct dkms_conf *conf, bool has_src)
{
	struct place pl = { .ctx = ctx, .path = archive, .tmp = dir }, *ld = &pl;
	const char *m = conf->name, *v = conf->version;
	bool force = ctx->opts.force;
	bool added = dkms_tree_is_added(ctx, m, v);
	bool load_src = has_src && !(flags & DKMS_TARBALL_BINARIES_ONLY);
	char *dest = dkms_module_source_dir(ctx, m, v);
	char *from = dkms_path_join(ld->tmp, "dkms_source_tree");
	char *backup = NULL;
	int r = 0, e;

	if (added && !force) {
		r = dkms_err_set(
			ctx, DKMS_E_EXISTS,
			"%s: %s/%s is already added; remove it first (dkms remove %s/%s --all), or use "
			"--force to replace its sources and builds",
			ld->path, m, v, m, v);
		goto out;
	}
	if (load_src && dkms_exists(dest) && !force) {
		r = dkms_err_set(
			ctx, DKMS_E_EXISTS,
			"%s: the sources of %s/%s would go to %s, which exists; move it away, or use "
			"--force to replace it",
			ld->path, m, v, dest);
		goto out;
	}
	if (load_src && added && !source_is_stub(ctx, m, v) && !registered_at(ctx, m, v, dest)) {
		r = dkms_err_set(
			ctx, DKMS_E_EXISTS,
			"%s: %s/%s is added with sources elsewhere than %s; remove it first (dkms remove "
			"%s/%s --all)",
			ld->path, m, v, dest, m, v);
		goto out;
	}
	dkms_log(ctx, DKMS_LOG_INFO, "Loading tarball for %s-%s", m, v);
	if (load_src) {
		e = dkms_mkdir_p(ctx->source_tree, 0755);
		r = e ? dkms_err_set(ctx, DKMS_E_FAIL, "cannot create %s: %s", ctx->source_tree, strerror(-e))
		      : load_place(ld, from, dest, &backup);
		if (r)
			goto out;
	}
	if (!added) {
		if (load_src || dkms_is_dir(dest)) {
			/* as dkms add: the link, then POST_ADD */
			r = dkms_tree_add(ctx, m, v, dest);
			if (!r) {
				dkms_log(ctx, DKMS_LOG_INFO, "Creating symlink %s/%s/%s/source -> %s",
					 ctx->dkms_tree, m, v, dest);
				dkms_module_run_script(ctx, m, v, "post_add", conf->post_add);
			}
		} else {
			r = load_stub(ld, conf->path, m, v);
		}
	} else if (load_src && source_is_stub(ctx, m, v)) {
		char *src = dkms_asprintf("%s/%s/%s/source", ctx->dkms_tree, m, v);

		dkms_rm_rf(src);
		free(src);
		r = dkms_tree_add(ctx, m, v, dest);
	}
	if (r) {
		if (load_src)
			load_unplace(dest, &backup);
		goto out;
	}
	load_drop_backup(&backup);
	if (!(flags & DKMS_TARBALL_SOURCE_ONLY))
		r = load_builds(ld, m, v);
out:
	free(backup);
	free(from);
	free(dest);
	return r;
}
