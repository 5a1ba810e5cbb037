/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dkms install and uninstall: built modules placed in <install_tree>/<kver>, and taken out again. */
#include "install.h"

#include <errno.h>
#include <fcntl.h>
#include <libkmod.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* <install_tree>/<kver><loc>, without a trailing '/'. */
char *dkms_install_dest_dir(struct install *in, const char *loc)
{
	size_t len = strlen(loc);

	while (len > 1 && loc[len - 1] == '/')
		len--;
	return dkms_asprintf("%s%.*s", in->k->modules_dir, (int)len, loc);
}

/* Does dir (or, while it does not exist yet, its nearest parent) resolve inside the kernel's modules dir? */
static bool install_dir_inside(struct install *in, const char *dir)
{
	char root[PATH_MAX], real[PATH_MAX];
	char *p = dkms_strdup(dir);
	bool ok = false;
	size_t n;

	if (!realpath(in->k->modules_dir, root)) {
		free(p);
		return false;
	}
	n = strlen(root);
	for (;;) {
		char *slash;

		if (realpath(p, real)) {
			ok = strncmp(real, root, n) == 0 && (real[n] == '/' || real[n] == '\0');
			break;
		}
		slash = strrchr(p, '/');
		if (errno != ENOENT || !slash || slash == p)
			break;
		*slash = '\0';
	}
	free(p);
	return ok;
}

/* ---- placing files ---- */

static void install_prune(struct install *in, const char *dir);
static int install_uninstall(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kernel *k,
			     bool journal);

/* Write the module under its temporary name: a full disk fails here, before anything is replaced. */
static int install_stage(struct install *in, struct install_mod *im)
{
	int r = dkms_mkdir_p(im->dest_dir, 0755);

	if (!r)
		r = dkms_copy_file_to(im->built, im->stage, 0644, true);
	if (r < 0) {
		unlink(im->stage);
		install_prune(in, im->dest_dir);
		return dkms_err_set(in->ctx, DKMS_E_FAIL,
				    "%s/%s: cannot write %s in %s: %s; nothing was changed for kernel %s: "
				    "free some space in %s and run dkms install again",
				    in->m, in->v, im->file, im->dest_dir, strerror(-r), in->k->version,
				    in->k->modules_dir);
	}
	return 0;
}

/* Rename the written module into place. */
static int install_commit(struct install *in, struct install_mod *im)
{
	char *name = dkms_modinfo_name(im->file);
	char *dst = dkms_path_join(im->dest_dir, im->file);
	int r = 0;

	if (rename(im->stage, dst) < 0) {
		r = dkms_err_set(in->ctx, DKMS_E_FAIL, "%s/%s: cannot rename %s to %s: %s", in->m, in->v,
				 im->stage, dst, strerror(errno));
		free(dst);
	} else {
		dkms_log(in->ctx, DKMS_LOG_INFO, "%s/%s: installed %s in %s/", in->m, in->v, im->file,
			 im->dest_dir);
		im->placed = dst;
		/* the same module with another compression would shadow or duplicate ours */
		for (size_t i = 0; i < DKMS_ARRAY_SIZE(dkms_modinfo_suffixes); i++) {
			char *other = dkms_asprintf("%s/%s%s", im->dest_dir, name, dkms_modinfo_suffixes[i]);

			if (strcmp(other, dst) != 0 && unlink(other) == 0)
				dkms_log(in->ctx, DKMS_LOG_INFO, "%s/%s: removed %s", in->m, in->v, other);
			free(other);
		}
		dkms_fsync_dir(im->dest_dir);
	}
	free(name);
	return r;
}

/* Undo a half-done install: remove what was placed or staged, put originals back. */
static void install_rollback(struct install *in)
{
	for (size_t i = in->n_mods; i-- > 0;) {
		struct install_mod *im = &in->mods[i];

		if (im->stage)
			unlink(im->stage);
		if (im->placed)
			unlink(im->placed);
		dkms_original_undo(in, im);
		if (im->dest_dir)
			install_prune(in, im->dest_dir);
	}
	rmdir(in->odir);
}

/* ---- install ---- */

static char *install_find_built(const char *moddir, const char *name)
{
	for (size_t i = 0; i < DKMS_ARRAY_SIZE(dkms_modinfo_suffixes); i++) {
		char *p = dkms_asprintf("%s/%s%s", moddir, name, dkms_modinfo_suffixes[i]);

		if (dkms_is_file(p))
			return p;
		free(p);
	}
	return NULL;
}

static void install_free(struct install *in)
{
	for (size_t i = 0; i < in->n_mods; i++) {
		free(in->mods[i].built);
		free(in->mods[i].dest_dir);
		free(in->mods[i].orig);
		free(in->mods[i].placed);
		free(in->mods[i].saved);
		free(in->mods[i].stage);
	}
	free(in->mods);
	if (in->kmod)
		kmod_unref(in->kmod);
	free(in->kdir);
	free(in->odir);
}

static int install_init(struct install *in, struct dkms_ctx *ctx, const char *m, const char *v,
			const struct dkms_kernel *k, bool need_conf)
{
	char *conf_path;
	int r;

	*in = (struct install){ .ctx = ctx, .m = m, .v = v, .k = k };
	if (!dkms_valid_name(m) || !dkms_valid_name(v) || !dkms_valid_name(k->version) ||
	    !dkms_valid_name(k->arch))
		return dkms_err_set(ctx, DKMS_E_USAGE,
				    "bad module, version, kernel or arch name: \"%s/%s\", %s (%s)", m, v,
				    k->version, k->arch);
	in->kdir = dkms_tree_kdir(ctx, m, v, k->version, k->arch);
	in->odir = dkms_asprintf("%s/%s/original_module/%s/%s", ctx->dkms_tree, m, k->version, k->arch);
	in->kmod = dkms_modinfo_kmod_new(ctx, k);
	conf_path = dkms_tree_conf_path(ctx, m, v);
	if (!dkms_is_file(conf_path)) {
		r = need_conf ? dkms_err_set(ctx, DKMS_E_USAGE,
					     "%s/%s: %s is missing (the source is gone?); "
					     "reinstall the package that ships %s/%s, or run dkms remove "
					     "%s/%s --all",
					     m, v, conf_path, m, v, m, v)
			      : 0;
		free(conf_path);
		return r;
	}
	free(conf_path);
	r = dkms_conf_for(ctx, m, v, k, NULL, &in->conf);
	if (r && !need_conf) {
		dkms_log(ctx, DKMS_LOG_WARN, "%s", dkms_ctx_error(ctx));
		in->conf = NULL;
		r = 0;
	}
	return r;
}

static int install_prepare_mods(struct install *in)
{
	char *moddir = dkms_path_join(in->kdir, "module");
	int r = 0;

	in->mods = calloc(in->conf->n_mods ? in->conf->n_mods : 1, sizeof(*in->mods));
	if (!in->mods)
		abort();
	for (size_t i = 0; i < in->conf->n_mods && !r; i++) {
		struct install_mod *im = &in->mods[i];
		const struct dkms_modfile *mf = &in->conf->mods[i];

		in->n_mods++;
		im->mf = mf;
		if (!dkms_valid_name(mf->dest_name) || mf->dest_location[0] != '/' ||
		    (mf->dest_location[1] && !dkms_valid_relpath(mf->dest_location + 1))) {
			r = dkms_err_set(in->ctx, DKMS_E_CONF,
					 "%s/%s: bad DEST_MODULE_NAME or DEST_MODULE_LOCATION "
					 "\"%s\", \"%s\" in %s",
					 in->m, in->v, mf->dest_name, mf->dest_location, in->conf->path);
			break;
		}
		im->built = install_find_built(moddir, mf->dest_name);
		if (!im->built) {
			r = dkms_err_set(in->ctx, DKMS_E_NOMODULE,
					 "%s/%s: %s/%s.ko is missing for kernel %s (%s); "
					 "rebuild it with dkms build --force %s/%s -k %s",
					 in->m, in->v, moddir, mf->dest_name, in->k->version, in->k->arch,
					 in->m, in->v, in->k->version);
			break;
		}
		im->file = strrchr(im->built, '/') + 1;
		im->dest_dir = dkms_install_dest_dir(in, mf->dest_location);
		if (!install_dir_inside(in, im->dest_dir)) {
			r = dkms_err_set(in->ctx, DKMS_E_KERNEL,
					 "%s/%s: %s (DEST_MODULE_LOCATION \"%s\") leads outside %s through a "
					 "symbolic link; installation for kernel %s refused: remove the link",
					 in->m, in->v, im->dest_dir, mf->dest_location, in->k->modules_dir,
					 in->k->version);
			break;
		}
		im->stage = dkms_asprintf("%s/.%s.dkms-new", im->dest_dir, im->file);
	}
	free(moddir);
	return r;
}

int dkms_install(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kernel *k)
{
	struct install in;
	char *iv = NULL, *srcdir = NULL, *entry = NULL;
	size_t n_ok = 0;
	int r, st;

	r = install_init(&in, ctx, m, v, k, true);
	if (r)
		goto out;
	if (!dkms_is_dir(k->modules_dir)) {
		r = dkms_err_set(ctx, DKMS_E_KERNEL,
				 "%s/%s: %s does not exist: kernel %s is not installed; install "
				 "it first, or use dkms build only",
				 m, v, k->modules_dir, k->version);
		goto out;
	}
	if (!dkms_tree_is_built(ctx, m, v, k->version, k->arch)) {
		r = dkms_err_set(ctx, DKMS_E_FAIL,
				 "%s/%s is not built for kernel %s (%s): %s/module is missing; run "
				 "dkms build %s/%s -k %s first",
				 m, v, k->version, k->arch, in.kdir, m, v, k->version);
		goto out;
	}
	if (!in.conf->n_mods) {
		r = dkms_err_set(ctx, DKMS_E_CONF, "%s/%s: %s names no module to install", m, v,
				 in.conf->path);
		goto out;
	}

	/* PRE_INSTALL may refuse: ask before anything changes */
	srcdir = dkms_asprintf("%s/%s/%s/source", ctx->dkms_tree, m, v);
	st = dkms_script_run(ctx, "PRE_INSTALL", srcdir, in.conf->pre_install, -1);
	if (st && !ctx->opts.force) {
		r = dkms_err_set(ctx, DKMS_E_PREINSTALL,
				 "%s/%s: the PRE_INSTALL script %s refused the installation "
				 "for kernel %s (status %d); use --force to override",
				 m, v, in.conf->pre_install, k->version, st);
		goto out;
	}

	r = install_prepare_mods(&in);
	if (r)
		goto out;
	/* Record the operation, then write every module under a temporary name: a full disk or an
	 * error here leaves the installed version as it was. */
	iv = dkms_tree_installed_version(ctx, m, k->version, k->arch);
	{
		char **staged = calloc(in.n_mods + 1, sizeof(*staged));

		if (!staged)
			abort();
		for (size_t i = 0; i < in.n_mods; i++)
			staged[i] = in.mods[i].stage;
		r = dkms_journal_begin(ctx, "install", m, v, iv, k, staged, in.n_mods, &entry);
		free(staged);
	}
	for (size_t i = 0; i < in.n_mods && !r; i++)
		r = install_stage(&in, &in.mods[i]);
	if (r)
		goto fail;

	/* One version per kernel: the one there now (or this one, again) goes first. */
	if (iv) {
		dkms_log(ctx, DKMS_LOG_INFO, "%s/%s is installed for %s (%s): replacing it", m, iv,
			 k->version, k->arch);
		r = install_uninstall(ctx, m, iv, k, false);
		if (r)
			goto fail;
	}

	/* version sanity against what the kernel has without us */
	for (size_t i = 0; i < in.n_mods; i++) {
		dkms_modinfo_check_version(&in, &in.mods[i]);
		n_ok += !in.mods[i].skip;
	}
	if (!n_ok) {
		r = dkms_err_set(ctx, DKMS_E_KERNEL,
				 "%s/%s: installation for kernel %s (%s) aborted: the kernel "
				 "already has the same or a newer version of %s%s; use --force to replace it",
				 m, v, k->version, k->arch, in.mods[0].file,
				 in.n_mods > 1 ? " and the others" : "");
		goto fail;
	}

	for (size_t i = 0; i < in.n_mods && !r; i++) {
		struct install_mod *im = &in.mods[i];

		if (im->skip) {
			unlink(im->stage);
			continue;
		}
		if (im->orig)
			r = dkms_original_save(&in, im);
		if (!r)
			r = install_commit(&in, im);
	}
	if (!r)
		r = dkms_tree_set_installed(ctx, m, v, k->version, k->arch);
	if (r)
		goto fail;
	dkms_journal_end(ctx, entry);
	entry = NULL;
	st = dkms_script_run(ctx, "POST_INSTALL", srcdir, in.conf->post_install, -1);
	if (st)
		dkms_log(ctx, DKMS_LOG_WARN, "%s/%s: the POST_INSTALL script %s returned %d (ignored)", m, v,
			 in.conf->post_install, st);
out:
	free(iv);
	free(srcdir);
	install_free(&in);
	return r;
fail:
	install_rollback(&in);
	dkms_journal_end(ctx, entry);
	goto out;
}

/* ---- uninstall ---- */

/* rmdir dir and its parents while empty, up to (not including) the kernel's modules dir. */
static void install_prune(struct install *in, const char *dir)
{
	char *p = dkms_strdup(dir);
	size_t stop = strlen(in->k->modules_dir);

	while (strlen(p) > stop && rmdir(p) == 0) {
		char *slash = strrchr(p, '/');

		if (!slash)
			break;
		*slash = '\0';
	}
	free(p);
}

const char *dkms_install_conf_location(struct install *in, const char *name)
{
	for (size_t i = 0; in->conf && i < in->conf->n_mods; i++)
		if (strcmp(in->conf->mods[i].dest_name, name) == 0)
			return in->conf->mods[i].dest_location;
	return NULL;
}

static void install_remove_file(struct install *in, const char *file)
{
	char *name = dkms_modinfo_name(file), *built = dkms_asprintf("%s/module/%s", in->kdir, file);
	const char *loc = name ? dkms_install_conf_location(in, name) : NULL;
	bool found = false;

	char *dir = loc ? dkms_install_dest_dir(in, loc) : NULL;

	if (dir && !install_dir_inside(in, dir)) {
		dkms_log(in->ctx, DKMS_LOG_WARN,
			 "%s/%s: %s leads outside %s through a symbolic link: not looked in", in->m, in->v,
			 dir, in->k->modules_dir);
		free(dir);
		dir = NULL;
	}

	for (size_t i = 0; dir && i < DKMS_ARRAY_SIZE(dkms_modinfo_suffixes); i++) {
		char *p = dkms_asprintf("%s/%s%s", dir, name, dkms_modinfo_suffixes[i]);

		if (dkms_is_file(p)) {
			found = true;
			if (!dkms_modinfo_is_ours(in, p, built)) {
				dkms_log(in->ctx, DKMS_LOG_WARN,
					 "%s/%s: %s differs from the module built for %s: "
					 "left in place",
					 in->m, in->v, p, in->k->version);
			} else if (unlink(p) == 0) {
				dkms_log(in->ctx, DKMS_LOG_INFO, "%s/%s: removed %s", in->m, in->v, p);
				install_prune(in, dir);
			}
		}
		free(p);
	}
	if (!found) {
		char *p = dkms_tree_find_installed_file(in->ctx, in->k->version, file);

		if (p && dkms_modinfo_is_ours(in, p, built) && unlink(p) == 0) {
			dkms_log(in->ctx, DKMS_LOG_INFO, "%s/%s: removed %s", in->m, in->v, p);
			*strrchr(p, '/') = '\0';
			install_prune(in, p);
		} else if (!p) {
			dkms_log(in->ctx, DKMS_LOG_DEBUG, "%s/%s: %s is not in %s: nothing to remove", in->m,
				 in->v, file, in->k->modules_dir);
		}
		free(p);
	}
	free(dir);
	free(name);
	free(built);
}

/* Remove every installed file of in's version that is still ours, put the originals back. */
static void install_remove_all(struct install *in)
{
	char *moddir = dkms_path_join(in->kdir, "module");
	char **files = NULL;
	size_t n = 0;

	if (dkms_list_dir(moddir, &files, &n) == 0)
		for (size_t i = 0; i < n; i++)
			if (files[i][0] != '.')
				install_remove_file(in, files[i]);
	free(moddir);
	dkms_strv_free(files, n);
	dkms_original_restore(in);
}

/* Uninstall m/v for k; journal: record it first (not when install.c replaces a version, whose
 * record covers it). */
static int install_uninstall(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kernel *k,
			     bool journal)
{
	struct install in;
	char *iv, *entry = NULL;
	int r;

	r = install_init(&in, ctx, m, v, k, false);
	if (r)
		goto out;
	iv = dkms_tree_installed_version(ctx, m, k->version, k->arch);
	if (!iv || strcmp(iv, v) != 0) {
		dkms_log(ctx, DKMS_LOG_INFO,
			 "%s/%s is not installed for kernel %s (%s)%s%s: nothing to uninstall", m, v,
			 k->version, k->arch, iv ? "; the installed version is " : "", iv ? iv : "");
		free(iv);
		goto out;
	}
	free(iv);
	if (journal) {
		r = dkms_journal_begin(ctx, "uninstall", m, v, NULL, k, NULL, 0, &entry);
		if (r)
			goto out;
	}
	install_remove_all(&in);
	/* the link goes last: while it is there, a crash leaves a record that finishes the work */
	r = dkms_tree_clear_installed(ctx, m, k->version, k->arch);
	if (!r)
		dkms_journal_end(ctx, entry);
	else
		free(entry);
out:
	install_free(&in);
	return r;
}

int dkms_uninstall(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kernel *k)
{
	return install_uninstall(ctx, m, v, k, true);
}

/* ---- recovery after a crash ---- */

/* Is every module file of m/v for k in place, with the bytes built? */
static bool install_is_complete(struct dkms_ctx *ctx, const char *m, const char *v,
				const struct dkms_kernel *k)
{
	struct install in;
	char *moddir;
	char **files = NULL;
	size_t n = 0;
	bool ok;

	if (install_init(&in, ctx, m, v, k, false)) {
		install_free(&in);
		return false;
	}
	moddir = dkms_path_join(in.kdir, "module");
	ok = dkms_list_dir(moddir, &files, &n) == 0 && n > 0;
	for (size_t i = 0; i < n && ok; i++) {
		char *name = dkms_modinfo_name(files[i]), *built = dkms_path_join(moddir, files[i]);
		const char *loc = name ? dkms_install_conf_location(&in, name) : NULL;
		char *dir = loc ? dkms_install_dest_dir(&in, loc) : NULL;
		char *p = dir ? dkms_path_join(dir, files[i])
			      : dkms_tree_find_installed_file(ctx, k->version, files[i]);

		if (files[i][0] != '.')
			ok = p && dkms_files_equal(p, built) == 1;
		free(p);
		free(dir);
		free(built);
		free(name);
	}
	dkms_strv_free(files, n);
	free(moddir);
	install_free(&in);
	return ok;
}

/* Remove the files of m/v for k that are in place without being registered, put originals back. */
static void install_scrub(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kernel *k)
{
	struct install in;

	if (!install_init(&in, ctx, m, v, k, false))
		install_remove_all(&in);
	install_free(&in);
}

int dkms_install_recover(struct dkms_ctx *ctx, const char *op, const char *m, const char *v, const char *prev,
			 const struct dkms_kernel *k, char *const *staged, size_t n_staged)
{
	char *cur;
	int r = 0;

	for (size_t i = 0; i < n_staged; i++)
		if (unlink(staged[i]) == 0)
			dkms_log(ctx, DKMS_LOG_INFO, "removed the unfinished %s", staged[i]);
	cur = dkms_tree_installed_version(ctx, m, k->version, k->arch);
	if (cur && install_is_complete(ctx, m, cur, k) &&
	    ((!strcmp(op, "install") && (!strcmp(cur, v) || (prev && !strcmp(cur, prev)))))) {
		/* the new version made it, or the old one was not touched yet */
		dkms_log(ctx, DKMS_LOG_INFO, "%s/%s is installed for kernel %s and complete", m, cur,
			 k->version);
		free(cur);
		return 0;
	}
	/* anything else is made absent; the next autoinstall installs it again */
	if (cur)
		r = install_uninstall(ctx, m, cur, k, false);
	if (!r && strcmp(op, "install") == 0)
		install_scrub(ctx, m, v, k);
	if (!r)
		dkms_log(ctx, DKMS_LOG_WARN,
			 "%s is no longer installed for kernel %s (%s); run dkms autoinstall -k %s", m,
			 k->version, k->arch, k->version);
	free(cur);
	return r;
}
