/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Installing built modules into <install_tree>/<kver>: version sanity
 * against what the kernel already has (libkmod, no modinfo fork), backup
 * of a replaced in-tree module, atomic placement; uninstalling; depmod.
 */
#include "internal.h"

#include <errno.h>
#include <libkmod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const install_suffixes[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz" };

struct install_mod {
	const struct dkms_modfile *mf;
	char *built;	/* <kdir>/module/<file> */
	char *file;	/* <dest_name>.ko[.xz...] */
	char *dest_dir; /* <install_tree>/<kver><dest_location> */
	char *orig;	/* in-tree module to back up, or NULL */
	bool skip;	/* refused by the version check */
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

/* ---- module metadata through libkmod ---- */

static void install_kmod_log(void *data, int prio, const char *file, int line, const char *fn,
			     const char *fmt, va_list args)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, args);
	msg[strcspn(msg, "\n")] = '\0';
	dkms_log(data, DKMS_LOG_DEBUG, "libkmod: %s", msg);
}

static struct kmod_ctx *install_kmod_new(struct dkms_ctx *ctx, const struct dkms_kernel *k)
{
	const char *no_config[] = { NULL };
	struct kmod_ctx *kc = kmod_new(k->modules_dir, no_config);

	if (kc)
		kmod_set_log_fn(kc, install_kmod_log, ctx);
	return kc;
}

/* "version" and "srcversion" of a module file (NULL when absent). */
static void install_modinfo(struct kmod_ctx *kc, const char *path, char **version, char **srcversion)
{
	struct kmod_module *mod = NULL;
	struct kmod_list *info = NULL, *l;

	*version = *srcversion = NULL;
	if (!kc || kmod_module_new_from_path(kc, path, &mod) < 0)
		return;
	if (kmod_module_get_info(mod, &info) >= 0) {
		kmod_list_foreach(l, info)
		{
			const char *key = kmod_module_info_get_key(l), *val = kmod_module_info_get_value(l);

			if (!val)
				continue;
			if (!*version && strcmp(key, "version") == 0)
				*version = dkms_strdup(val);
			else if (!*srcversion && strcmp(key, "srcversion") == 0)
				*srcversion = dkms_strdup(val);
		}
		kmod_module_info_free_list(info);
	}
	/* unref now: a second module of the same name from another path would get -EEXIST */
	kmod_module_unref(mod);
}

static bool install_streq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Name of a module file without .ko[.xz...], NULL when not a module file. */
static char *install_mod_name(const char *file)
{
	for (size_t i = DKMS_ARRAY_SIZE(install_suffixes); i-- > 0;) {
		size_t fl = strlen(file), sl = strlen(install_suffixes[i]);

		if (fl > sl && strcmp(file + fl - sl, install_suffixes[i]) == 0)
			return dkms_asprintf("%.*s", (int)(fl - sl), file);
	}
	return NULL;
}

/* Same module name as the kernel sees it ('-' and '_' alike)? */
static bool install_name_eq(const char *a, size_t alen, const char *b)
{
	if (alen != strlen(b))
		return false;
	for (size_t i = 0; i < alen; i++) {
		char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];

		if (x != y)
			return false;
	}
	return true;
}

/* <install_tree>/<kver><loc>, without a trailing '/'. */
static char *install_dest_dir(struct install *in, const char *loc)
{
	size_t len = strlen(loc);

	while (len > 1 && loc[len - 1] == '/')
		len--;
	return dkms_asprintf("%s%.*s", in->k->modules_dir, (int)len, loc);
}

/* ---- finding what the kernel already has ---- */

static void install_add_unique(char ***v, size_t *n, const char *path)
{
	struct stat a, b;

	if (stat(path, &a) < 0 || !S_ISREG(a.st_mode))
		return;
	for (size_t i = 0; i < *n; i++)
		if (stat((*v)[i], &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return;
	dkms_strv_push(v, n, path);
}

/* Paths of modules.dep entries named name (the text file, when there is no modules.dep.bin). */
static void install_scan_modules_dep(const char *modules_dir, const char *name, char ***v, size_t *n)
{
	char *dep = dkms_path_join(modules_dir, "modules.dep"), *buf = NULL;

	if (dkms_read_file(dep, &buf, NULL) == 0) {
		for (char *line = buf; line && *line;) {
			char *nl = strchr(line, '\n'), *colon = strchr(line, ':');

			if (nl)
				*nl = '\0';
			if (colon) {
				char *p;

				*colon = '\0';
				p = strrchr(line, '/');
				p = p ? p + 1 : line;
				char *mn = install_mod_name(p);

				if (mn && install_name_eq(mn, strlen(mn), name)) {
					char *full = line[0] == '/' ? dkms_strdup(line)
								    : dkms_path_join(modules_dir, line);

					install_add_unique(v, n, full);
					free(full);
				}
				free(mn);
			}
			line = nl ? nl + 1 : NULL;
		}
	}
	free(buf);
	free(dep);
}

/* Modules named name under <base>/<rel>, the slow way. */
static void install_walk(const char *base, const char *rel, const char *name, int depth, char ***v, size_t *n)
{
	char *dir = dkms_path_join(base, rel);
	char **names = NULL;
	size_t nn = 0;

	if (depth < 16 && dkms_list_dir(dir, &names, &nn) == 0) {
		for (size_t i = 0; i < nn; i++) {
			char *crel = dkms_path_join(rel, names[i]), *p = dkms_path_join(base, crel);
			char *mn = install_mod_name(names[i]);
			struct stat st;

			if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
				install_walk(base, crel, name, depth + 1, v, n);
			else if (mn && install_name_eq(mn, strlen(mn), name))
				install_add_unique(v, n, p);
			free(mn);
			free(p);
			free(crel);
		}
	}
	dkms_strv_free(names, nn);
	free(dir);
}

/*
 * Modules named like ours the kernel tree has: in the destination directory,
 * and where depmod's index puts that name (libkmod lookup, or modules.dep; a
 * walk of kernel/ when the index names a file that is gone).
 * Files identical to ours are our own and left out.
 */
static void install_find_existing(struct install *in, struct install_mod *im, const char *name, char ***v,
				  size_t *n)
{
	struct kmod_module *mod = NULL;
	char *bin;

	for (size_t i = 0; i < DKMS_ARRAY_SIZE(install_suffixes); i++) {
		char *p = dkms_asprintf("%s/%s%s", im->dest_dir, name, install_suffixes[i]);

		install_add_unique(v, n, p);
		free(p);
	}
	bin = dkms_path_join(in->k->modules_dir, "modules.dep.bin");
	if (in->kmod && dkms_is_file(bin) && kmod_module_new_from_name(in->kmod, name, &mod) == 0) {
		const char *p = kmod_module_get_path(mod);

		/* an index older than the files (a module moved since depmod): look for it */
		if (p && !dkms_is_file(p))
			install_walk(in->k->modules_dir, "kernel", name, 0, v, n);
		else if (p)
			install_add_unique(v, n, p);
		kmod_module_unref(mod);
	} else if (!dkms_is_file(bin)) {
		install_scan_modules_dep(in->k->modules_dir, name, v, n);
	}
	free(bin);
	for (size_t i = 0; i < *n;) {
		if (dkms_files_equal((*v)[i], im->built) == 1) {
			free((*v)[i]);
			memmove(&(*v)[i], &(*v)[i + 1], (*n - i) * sizeof(**v)); /* moves the NULL too */
			(*n)--;
		} else {
			i++;
		}
	}
}

static bool install_under_kernel(struct install *in, const char *path)
{
	char *kernel = dkms_path_join(in->k->modules_dir, "kernel");
	size_t len = strlen(kernel);
	bool r = strncmp(path, kernel, len) == 0 && path[len] == '/';

	free(kernel);
	return r;
}

/* The stored original of name, or NULL. */
static char *install_saved_original(struct install *in, const char *name)
{
	for (size_t i = 0; i < DKMS_ARRAY_SIZE(install_suffixes); i++) {
		char *p = dkms_asprintf("%s/%s%s", in->odir, name, install_suffixes[i]);

		if (dkms_is_file(p))
			return p;
		free(p);
	}
	return NULL;
}

/* dkms's check_version_sanity: refuse to replace a newer or equal module without --force. */
static void install_check_version(struct install *in, struct install_mod *im)
{
	struct dkms_ctx *ctx = in->ctx;
	const char *name = im->mf->dest_name;
	char **found = NULL, *kver = NULL, *ksrc = NULL, *dver = NULL, *dsrc = NULL;
	size_t n = 0;

	install_find_existing(in, im, name, &found, &n);
	for (size_t i = 0; i < n && !im->orig; i++) {
		char *saved = install_saved_original(in, name);

		if (install_under_kernel(in, found[i]) && !saved)
			im->orig = dkms_strdup(found[i]);
		free(saved);
	}
	if (!n || ctx->opts.force_version_override)
		goto out;
	if (n > 1) {
		dkms_log(ctx, DKMS_LOG_WARN,
			 "%s/%s: %zu modules named %s in %s (%s, %s...): no version sanity check", in->m,
			 in->v, n, name, in->k->modules_dir, found[0], found[1]);
		goto out;
	}
	install_modinfo(in->kmod, found[0], &kver, &ksrc);
	install_modinfo(in->kmod, im->built, &dver, &dsrc);
	if (install_streq(kver, dver)) {
		if (!ctx->opts.force) {
			dkms_log(ctx, DKMS_LOG_WARN,
				 "%s/%s: module version %s of %s %s what kernel %s already has in "
				 "%s: not installed; use --force to replace it",
				 in->m, in->v, dver ? dver : "(none)", im->file,
				 install_streq(ksrc, dsrc) ? "exactly matches" : "is the version of",
				 in->k->version, found[0]);
			im->skip = true;
		}
	} else if (kver && dver && dkms_vercmp(kver, dver) > 0 && !ctx->opts.force) {
		dkms_log(ctx, DKMS_LOG_WARN,
			 "%s/%s: module version %s of %s is not newer than what kernel %s "
			 "already has (%s in %s): not installed; use --force to replace it",
			 in->m, in->v, dver, im->file, in->k->version, kver, found[0]);
		im->skip = true;
	}
out:
	free(kver);
	free(ksrc);
	free(dver);
	free(dsrc);
	dkms_strv_free(found, n);
}

/* ---- moving files ---- */

/* Copy src to dst (atomically), then delete src. */
static int install_move(const char *src, const char *dst)
{
	int r = dkms_copy_file(src, dst, 0644);

	if (!r && unlink(src) < 0)
		r = -errno;
	return r;
}

/* Save the in-tree module im->orig in original_module/, with its location beside it. */
static int install_save_original(struct install *in, struct install_mod *im)
{
	const char *base = strrchr(im->orig, '/') + 1;
	char *dst = dkms_path_join(in->odir, base);
	char *loc_file = dkms_asprintf("%s/.%s.location", in->odir, base);
	char *loc = dkms_asprintf("%.*s\n", (int)(base - 1 - im->orig - strlen(in->k->modules_dir)),
				  im->orig + strlen(in->k->modules_dir));
	int r = dkms_mkdir_p(in->odir, 0755);

	if (!r)
		r = dkms_write_file_atomic(loc_file, loc, strlen(loc), 0644);
	if (!r)
		r = install_move(im->orig, dst);
	if (r < 0) {
		unlink(loc_file);
		r = dkms_err_set(in->ctx, DKMS_E_FAIL, "%s/%s: cannot save the original module %s in %s: %s",
				 in->m, in->v, im->orig, in->odir, strerror(-r));
	} else {
		dkms_log(in->ctx, DKMS_LOG_INFO, "%s/%s: original module %s saved in %s", in->m, in->v,
			 im->orig, in->odir);
		im->saved = dst;
		dst = NULL;
	}
	free(dst);
	free(loc_file);
	free(loc);
	return r;
}

static int install_place(struct install *in, struct install_mod *im)
{
	char *name = install_mod_name(im->file);
	char *dst = dkms_path_join(im->dest_dir, im->file);
	int r = dkms_mkdir_p(im->dest_dir, 0755);

	if (!r)
		r = dkms_copy_file(im->built, dst, 0644);
	if (r < 0) {
		r = dkms_err_set(in->ctx, DKMS_E_FAIL,
				 "%s/%s: cannot install %s as %s: %s; check free space in %s", in->m, in->v,
				 im->built, dst, strerror(-r), in->k->modules_dir);
		free(dst);
	} else {
		dkms_log(in->ctx, DKMS_LOG_INFO, "%s/%s: installed %s in %s/", in->m, in->v, im->file,
			 im->dest_dir);
		im->placed = dst;
		/* the same module with another compression would shadow or duplicate ours */
		for (size_t i = 0; i < DKMS_ARRAY_SIZE(install_suffixes); i++) {
			char *other = dkms_asprintf("%s/%s%s", im->dest_dir, name, install_suffixes[i]);

			if (strcmp(other, dst) != 0 && unlink(other) == 0)
				dkms_log(in->ctx, DKMS_LOG_INFO, "%s/%s: removed %s", in->m, in->v, other);
			free(other);
		}
	}
	free(name);
	return r;
}

/* Undo a half-done install: remove what was placed, put originals back. */
static void install_rollback(struct install *in)
{
	for (size_t i = in->n_mods; i-- > 0;) {
		struct install_mod *im = &in->mods[i];

		if (im->placed)
			unlink(im->placed);
		if (im->saved && install_move(im->saved, im->orig) == 0) {
			char *loc = dkms_asprintf("%s/.%s.location", in->odir, strrchr(im->saved, '/') + 1);

			unlink(loc);
			free(loc);
		}
	}
	rmdir(in->odir);
}

/* ---- install ---- */

static char *install_find_built(const char *moddir, const char *name)
{
	for (size_t i = 0; i < DKMS_ARRAY_SIZE(install_suffixes); i++) {
		char *p = dkms_asprintf("%s/%s%s", moddir, name, install_suffixes[i]);

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
	in->kmod = install_kmod_new(ctx, k);
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
		im->dest_dir = install_dest_dir(in, mf->dest_location);
		install_check_version(in, im);
	}
	free(moddir);
	return r;
}

int dkms_install(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kernel *k)
{
	struct install in;
	char *iv = NULL, *srcdir = NULL;
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

	/* One version per kernel: the one there now (or this one, again) goes first. */
	iv = dkms_tree_installed_version(ctx, m, k->version, k->arch);
	if (iv) {
		dkms_log(ctx, DKMS_LOG_INFO, "%s/%s is installed for %s (%s): uninstalling it first", m, iv,
			 k->version, k->arch);
		r = dkms_uninstall(ctx, m, iv, k);
		if (r)
			goto out;
	}

	/* version sanity against what the kernel has without us */
	r = install_prepare_mods(&in);
	if (r)
		goto out;
	for (size_t i = 0; i < in.n_mods; i++)
		n_ok += !in.mods[i].skip;
	if (!n_ok) {
		r = dkms_err_set(ctx, DKMS_E_KERNEL,
				 "%s/%s: installation for kernel %s (%s) aborted: the kernel "
				 "already has the same or a newer version of %s%s; use --force to replace it",
				 m, v, k->version, k->arch, in.mods[0].file,
				 in.n_mods > 1 ? " and the others" : "");
		goto out;
	}

	for (size_t i = 0; i < in.n_mods && !r; i++) {
		struct install_mod *im = &in.mods[i];

		if (im->skip)
			continue;
		if (im->orig)
			r = install_save_original(&in, im);
		if (!r)
			r = install_place(&in, im);
	}
	if (!r)
		r = dkms_tree_set_installed(ctx, m, v, k->version, k->arch);
	if (r) {
		install_rollback(&in);
		goto out;
	}
	st = dkms_script_run(ctx, "POST_INSTALL", srcdir, in.conf->post_install, -1);
	if (st)
		dkms_log(ctx, DKMS_LOG_WARN, "%s/%s: the POST_INSTALL script %s returned %d (ignored)", m, v,
			 in.conf->post_install, st);
out:
	free(iv);
	free(srcdir);
	install_free(&in);
	return r;
}

/* ---- uninstall ---- */

/* Is the installed file ours: the same bytes, or (like dkms) the same version? */
static bool install_is_ours(struct install *in, const char *installed, const char *built)
{
	char *iv, *is, *bv, *bs;
	bool r;

	if (dkms_files_equal(installed, built) == 1)
		return true;
	install_modinfo(in->kmod, installed, &iv, &is);
	install_modinfo(in->kmod, built, &bv, &bs);
	r = install_streq(iv, bv);
	free(iv);
	free(is);
	free(bv);
	free(bs);
	return r;
}

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

static const char *install_conf_location(struct install *in, const char *name)
{
	for (size_t i = 0; in->conf && i < in->conf->n_mods; i++)
		if (strcmp(in->conf->mods[i].dest_name, name) == 0)
			return in->conf->mods[i].dest_location;
	return NULL;
}

static void install_remove_file(struct install *in, const char *file)
{
	char *name = install_mod_name(file), *built = dkms_asprintf("%s/module/%s", in->kdir, file);
	const char *loc = name ? install_conf_location(in, name) : NULL;
	bool found = false;

	char *dir = loc ? install_dest_dir(in, loc) : NULL;

	for (size_t i = 0; dir && i < DKMS_ARRAY_SIZE(install_suffixes); i++) {
		char *p = dkms_asprintf("%s/%s%s", dir, name, install_suffixes[i]);

		if (dkms_is_file(p)) {
			found = true;
			if (!install_is_ours(in, p, built)) {
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

		if (p && install_is_ours(in, p, built) && unlink(p) == 0) {
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

/* Put the saved originals back where they came from. */
static void install_restore_originals(struct install *in)
{
	char **names = NULL;
	size_t n = 0;

	if (dkms_list_dir(in->odir, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char *src = dkms_path_join(in->odir, names[i]);
		char *loc_file = dkms_asprintf("%s/.%s.location", in->odir, names[i]);
		char *name = install_mod_name(names[i]), *loc = NULL, *dir = NULL, *dst = NULL;
		const char *cl;

		if (names[i][0] == '.' || !name || !dkms_is_file(src))
			goto next;
		if (dkms_read_file(loc_file, &loc, NULL) == 0)
			loc[strcspn(loc, "\n")] = '\0';
		if (!loc || loc[0] != '/' || !dkms_valid_relpath(loc + 1)) {
			cl = install_conf_location(in, name);
			free(loc);
			loc = dkms_strdup(cl ? cl : "/extra");
		}
		dir = install_dest_dir(in, loc);
		dst = dkms_path_join(dir, names[i]);
		if (dkms_exists(dst)) {
			dkms_log(in->ctx, DKMS_LOG_INFO,
				 "%s/%s: %s is back already (a kernel package update?): the "
				 "saved copy is dropped",
				 in->m, in->v, dst);
			unlink(src);
		} else if (dkms_mkdir_p(dir, 0755) < 0 || install_move(src, dst) < 0) {
			dkms_log(in->ctx, DKMS_LOG_WARN,
				 "%s/%s: cannot restore the original module %s to %s; copy "
				 "it back by hand",
				 in->m, in->v, src, dst);
			goto next;
		} else {
			dkms_log(in->ctx, DKMS_LOG_INFO, "%s/%s: original module restored to %s", in->m,
				 in->v, dst);
		}
		unlink(loc_file);
	next:
		free(src);
		free(loc_file);
		free(name);
		free(loc);
		free(dir);
		free(dst);
	}
	dkms_strv_free(names, n);
	/* original_module/<kver>/<arch>, then <kver> and original_module when empty */
	{
		char *p = dkms_strdup(in->odir);

		for (int up = 0; up < 3 && rmdir(p) == 0; up++)
			*strrchr(p, '/') = '\0';
		free(p);
	}
}

int dkms_uninstall(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kernel *k)
{
	struct install in;
	char *iv, *moddir;
	char **files = NULL;
	size_t n = 0;
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
	moddir = dkms_path_join(in.kdir, "module");
	if (dkms_list_dir(moddir, &files, &n) == 0)
		for (size_t i = 0; i < n; i++)
			if (files[i][0] != '.')
				install_remove_file(&in, files[i]);
	free(moddir);
	dkms_strv_free(files, n);
	install_restore_originals(&in);
	r = dkms_tree_clear_installed(ctx, m, k->version, k->arch);
out:
	install_free(&in);
	return r;
}

/* ---- depmod ---- */

int dkms_depmod(struct dkms_ctx *ctx, const struct dkms_kernel *k)
{
	const char *tree = ctx->install_tree, *suffix = "/lib/modules";
	size_t tl = strlen(tree), sl = strlen(suffix);
	char *base = NULL, *tmp = NULL, *sysmap = NULL, out[512] = "";
	const char *argv[8];
	int argc = 0, fd, st, r = 0;

	if (ctx->opts.no_depmod || !dkms_kernel_has_modules_dep(k)) {
		dkms_log(ctx, DKMS_LOG_DEBUG, "depmod %s skipped (%s)", k->version,
			 ctx->opts.no_depmod ? "--no-depmod" : "no modules.dep: the kernel is not installed");
		return 0;
	}
	while (tl > 1 && tree[tl - 1] == '/')
		tl--;
	argv[argc++] = "depmod";
	argv[argc++] = "-a";
	if (tl == sl && strncmp(tree, suffix, sl) == 0) {
		sysmap = dkms_asprintf("/boot/System.map-%s", k->version);
		if (dkms_is_file(sysmap)) {
			argv[argc++] = "-F";
			argv[argc++] = sysmap;
		}
	} else if (tl > sl && strncmp(tree + tl - sl, suffix, sl) == 0) {
		base = dkms_asprintf("%.*s", (int)(tl - sl), tree);
	} else {
		/* depmod -b wants <basedir>/lib/modules/<kver>: give it one through a symlink */
		char *real = realpath(tree, NULL), *lib;

		const char *td = getenv("TMPDIR");

		tmp = dkms_asprintf("%s/dkms-depmod-XXXXXX", td && *td == '/' ? td : "/tmp");
		if (!real || !mkdtemp(tmp)) {
			r = dkms_err_set(ctx, DKMS_E_KERNEL,
					 "depmod for kernel %s: cannot prepare a base directory for "
					 "install tree %s: %s",
					 k->version, tree, strerror(errno));
			free(real);
			free(tmp);
			return r;
		}
		lib = dkms_path_join(tmp, "lib");
		mkdir(lib, 0755);
		free(lib);
		lib = dkms_path_join(tmp, "lib/modules");
		if (symlink(real, lib) < 0)
			r = -errno;
		free(lib);
		free(real);
		base = dkms_strdup(tmp);
	}
	if (base) {
		argv[argc++] = "-b";
		argv[argc++] = base;
	}
	argv[argc++] = k->version;
	argv[argc] = NULL;

	fd = memfd_create("dkms-depmod", MFD_CLOEXEC);
	{
		struct dkms_cmd cmd = { .argv = argv, .cwd = NULL, .env = NULL, .log_fd = fd };

		dkms_log(ctx, DKMS_LOG_INFO, "running depmod for %s%s%s", k->version, base ? " in " : "",
			 base ? base : "");
		st = r ? r : dkms_run(&cmd);
	}
	if (st && fd >= 0 && lseek(fd, 0, SEEK_SET) == 0) {
		ssize_t len = read(fd, out, sizeof(out) - 1);

		out[len > 0 ? len : 0] = '\0';
		out[strcspn(out, "\n")] = '\0';
	}
	if (fd >= 0)
		close(fd);
	if (st)
		r = dkms_err_set(ctx, DKMS_E_KERNEL,
				 "depmod failed for kernel %s (status %d)%s%s; run depmod -a %s "
				 "by hand to see why",
				 k->version, st, out[0] ? ": " : "", out, k->version);
	if (tmp) {
		dkms_rm_rf(tmp);
		free(tmp);
	}
	free(base);
	free(sysmap);
	return r;
}
