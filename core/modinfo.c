/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Module files: metadata through libkmod (no modinfo fork), the kernel's own copies, version sanity. */
#include "install.h"

#include <libkmod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const dkms_modinfo_suffixes[4] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz" };

/* ---- module metadata through libkmod ---- */

static void install_kmod_log(void *data, int prio, const char *file, int line, const char *fn,
			     const char *fmt, va_list args)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, args);
	msg[strcspn(msg, "\n")] = '\0';
	dkms_log(data, DKMS_LOG_DEBUG, "libkmod: %s", msg);
}

struct kmod_ctx *dkms_modinfo_kmod_new(struct dkms_ctx *ctx, const struct dkms_kernel *k)
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
char *dkms_modinfo_name(const char *file)
{
	for (size_t i = DKMS_ARRAY_SIZE(dkms_modinfo_suffixes); i-- > 0;) {
		size_t fl = strlen(file), sl = strlen(dkms_modinfo_suffixes[i]);

		if (fl > sl && strcmp(file + fl - sl, dkms_modinfo_suffixes[i]) == 0)
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

/* Is the installed file ours: the same bytes, or (like dkms) the same version? */
bool dkms_modinfo_is_ours(struct install *in, const char *installed, const char *built)
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
				char *mn = dkms_modinfo_name(p);

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
			char *mn = dkms_modinfo_name(names[i]);
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

	for (size_t i = 0; i < DKMS_ARRAY_SIZE(dkms_modinfo_suffixes); i++) {
		char *p = dkms_asprintf("%s/%s%s", im->dest_dir, name, dkms_modinfo_suffixes[i]);

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

/* dkms's check_version_sanity: refuse to replace a newer or equal module without --force. */
void dkms_modinfo_check_version(struct install *in, struct install_mod *im)
{
	struct dkms_ctx *ctx = in->ctx;
	const char *name = im->mf->dest_name;
	char **found = NULL, *kver = NULL, *ksrc = NULL, *dver = NULL, *dsrc = NULL;
	size_t n = 0;

	install_find_existing(in, im, name, &found, &n);
	for (size_t i = 0; i < n && !im->orig; i++) {
		char *saved = dkms_original_find(in, name);

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
