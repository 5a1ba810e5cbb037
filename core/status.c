/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dkms status: the tree as lines, read without locks and without running
 * any process (dkms.conf is not evaluated: "built" means module/ holds a
 * file, see tree.c).
 *
 * Order, as dkms 3.x's shell globs give it in the C locale: <m>/<v> paths
 * sorted bytewise as whole strings (so "a-b/1" comes before "a/1", and
 * version "1.10" before "1.9"), then for each, its <kver>/<arch> paths
 * sorted the same way. Filters are shell patterns like upstream's globs
 * (-m 'nv*' works); with several kernels, the whole listing repeats per
 * kernel, as upstream's show_status loops, and a version with nothing
 * built that matches the kernel shows as "added".
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct status_vec {
	struct dkms_status *v;
	size_t n, cap;
};

struct name_vec {
	char **v;
	size_t n;
};

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (!p)
		abort();
	return p;
}

static void status_push(struct status_vec *sv, const char *m, const char *v, const char *kver,
			const char *arch, enum dkms_state state, unsigned flags)
{
	if (sv->n == sv->cap) {
		sv->cap = sv->cap ? 2 * sv->cap : 16;
		sv->v = xrealloc(sv->v, sv->cap * sizeof(*sv->v));
	}
	sv->v[sv->n++] = (struct dkms_status){
		.module = dkms_strdup(m),
		.version = dkms_strdup(v),
		.kver = dkms_strdup(kver),
		.arch = dkms_strdup(arch),
		.state = state,
		.flags = flags,
	};
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* A shell pattern without special characters names one entry. */
static bool is_literal(const char *pat)
{
	return !strpbrk(pat, "*?[\\(");
}

static bool matches(const char *pat, const char *name)
{
	return !pat || !fnmatch(pat, name, FNM_EXTMATCH);
}

/* The default kernel glob of dkms: +([0-9]).* */
static bool looks_like_kver(const char *s)
{
	size_t d = strspn(s, "0123456789");

	return d > 0 && s[d] == '.';
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Directories (links followed) in dir whose names match pat (NULL: any)
 * and accept (NULL: any); dot-names and invalid names (dkms_valid_name)
 * never. Missing dir: empty. Unsorted.
 */
static int list_matching(const char *dir, const char *pat, bool (*accept)(const char *), struct name_vec *out)
{
	struct stat st;
	DIR *d;

	out->v = NULL;
	out->n = 0;
	if (pat && is_literal(pat)) {
		char *p = dkms_path_join(dir, pat);

		if (dkms_valid_name(pat) && pat[0] != '.' && (!accept || accept(pat)) && stat(p, &st) == 0 &&
		    S_ISDIR(st.st_mode))
			dkms_strv_push(&out->v, &out->n, pat);
		free(p);
		return 0;
	}
	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return -errno;
	}
	for (struct dirent *e; (e = readdir(d));) {
		/* names the tree functions refuse (control characters) are not entries, as for a literal */
		if (e->d_name[0] == '.' || !dkms_valid_name(e->d_name) || !matches(pat, e->d_name) ||
		    (accept && !accept(e->d_name)))
			continue;
		if (e->d_type != DT_DIR) {
			if (e->d_type != DT_UNKNOWN && e->d_type != DT_LNK)
				continue;
			if (fstatat(dirfd(d), e->d_name, &st, 0) < 0 || !S_ISDIR(st.st_mode))
				continue;
		}
		dkms_strv_push(&out->v, &out->n, e->d_name);
	}
	closedir(d);
	return 0;
}

static void name_vec_free(struct name_vec *nv)
{
	dkms_strv_free(nv->v, nv->n);
	nv->v = NULL;
	nv->n = 0;
}

/* Upstream skips <m>/kernel-*-* links by name; original_module is never a version. */
static bool version_name(const char *name)
{
	return strcmp(name, "original_module") && fnmatch("kernel-*-*", name, 0);
}

/* Regular files of dir (links followed), dot-names aside, sorted. */
static void list_files(const char *dir, struct name_vec *out)
{
	DIR *d = opendir(dir);
	struct stat st;

	out->v = NULL;
	out->n = 0;
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		if (e->d_type == DT_REG || ((e->d_type == DT_LNK || e->d_type == DT_UNKNOWN) &&
					    fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode)))
			dkms_strv_push(&out->v, &out->n, e->d_name);
	}
	closedir(d);
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_strp);
}

/* MISSING_INSTALLED or DIFFERS for the first built file (in mdir) not installed as built. */
static unsigned installed_flags(struct dkms_ctx *ctx, const char *mdir, const struct name_vec *files,
				const char *kver)
{
	unsigned flags = 0;

	for (size_t i = 0; i < files->n && !flags; i++) {
		char *built = dkms_path_join(mdir, files->v[i]);
		char *inst = dkms_tree_find_installed_file(ctx, kver, files->v[i]);

		if (!inst)
			flags = DKMS_STATUS_MISSING_INSTALLED;
		else if (dkms_files_equal(built, inst) != 1) /* sizes first, then bytes */
			flags = DKMS_STATUS_DIFFERS;
		free(inst);
		free(built);
	}
	return flags;
}

struct built_kernel {
	char *key;	       /* "kver/arch", the order of upstream's glob */
	size_t klen;	       /* strlen(kver) */
	struct name_vec files; /* module/ */
};

static int cmp_built(const void *a, const void *b)
{
	return strcmp(((const struct built_kernel *)a)->key, ((const struct built_kernel *)b)->key);
}

/* The built kernels of m/v matching the kernel filter, sorted. */
static size_t list_built_kernels(struct dkms_ctx *ctx, const char *vdir, const struct dkms_kref *k,
				 struct built_kernel **out)
{
	const char *kpat = k ? nonempty(k->version) : NULL;
	const char *apat = k ? nonempty(k->arch) : NULL;
	struct built_kernel *bk = NULL;
	struct name_vec ks;
	size_t n = 0;
	int e;

	e = list_matching(vdir, kpat, kpat ? NULL : looks_like_kver, &ks);
	if (e)
		dkms_log(ctx, DKMS_LOG_WARN, "cannot read %s: %s", vdir, strerror(-e));
	for (size_t i = 0; i < ks.n; i++) {
		char *kd = dkms_path_join(vdir, ks.v[i]);
		struct name_vec as;

		if (list_matching(kd, apat, NULL, &as) == 0) {
			for (size_t j = 0; j < as.n; j++) {
				char *md = dkms_asprintf("%s/%s/module", kd, as.v[j]);
				struct name_vec files;

				/* built: module/ holds a regular file, as dkms_tree_is_built */
				list_files(md, &files);
				free(md);
				if (!files.n) {
					name_vec_free(&files);
					continue;
				}
				bk = xrealloc(bk, (n + 1) * sizeof(*bk));
				bk[n].key = dkms_asprintf("%s/%s", ks.v[i], as.v[j]);
				bk[n].klen = strlen(ks.v[i]);
				bk[n].files = files;
				n++;
			}
		}
		name_vec_free(&as);
		free(kd);
	}
	name_vec_free(&ks);
	if (n > 1)
		qsort(bk, n, sizeof(*bk), cmp_built);
	*out = bk;
	return n;
}

/* One pass of upstream's module_status_built for m/v; "added" when nothing matches. */
static void status_built(struct dkms_ctx *ctx, struct status_vec *sv, const char *m, const char *v,
			 const struct dkms_kref *k)
{
	char *vdir = dkms_asprintf("%s/%s/%s", ctx->dkms_tree, m, v);
	struct built_kernel *bk;
	size_t n = list_built_kernels(ctx, vdir, k, &bk);

	for (size_t i = 0; i < n; i++) {
		char *kver = bk[i].key, *arch = bk[i].key + bk[i].klen + 1;
		enum dkms_state state = DKMS_STATE_BUILT;
		unsigned flags = 0;
		char *iv, *mdir, *orig;

		kver[bk[i].klen] = '\0';
		orig = dkms_asprintf("%s/%s/original_module/%s/%s", ctx->dkms_tree, m, kver, arch);
		if (dkms_is_dir(orig))
			flags |= DKMS_STATUS_ORIGINAL_EXISTS;
		iv = dkms_tree_installed_version(ctx, m, kver, arch);
		if (iv && !strcmp(iv, v)) {
			state = DKMS_STATE_INSTALLED;
			mdir = dkms_asprintf("%s/%s/%s/module", vdir, kver, arch);
			flags |= installed_flags(ctx, mdir, &bk[i].files, kver);
			free(mdir);
		}
		status_push(sv, m, v, kver, arch, state, flags);
		free(iv);
		free(orig);
		free(bk[i].key);
		name_vec_free(&bk[i].files);
	}
	if (!n)
		status_push(sv, m, v, NULL, NULL, DKMS_STATE_ADDED, 0);
	free(bk);
	free(vdir);
}

/* Every <m>/<v> matching the filter, sorted as "m/v" strings. */
static int list_mv(struct dkms_ctx *ctx, const struct dkms_status_filter *f, struct name_vec *mv)
{
	const char *mpat = f ? nonempty(f->module) : NULL;
	const char *vpat = f ? nonempty(f->version) : NULL;
	struct name_vec ms;
	int r;

	mv->v = NULL;
	mv->n = 0;
	r = list_matching(ctx->dkms_tree, mpat, NULL, &ms);
	if (r) {
		r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot read the dkms tree %s: %s; check its permissions",
				 ctx->dkms_tree, strerror(-r));
		name_vec_free(&ms);
		return r;
	}
	for (size_t i = 0; i < ms.n; i++) {
		char *mdir = dkms_path_join(ctx->dkms_tree, ms.v[i]);
		struct name_vec vs;
		int e = list_matching(mdir, vpat, version_name, &vs);

		if (e)
			dkms_log(ctx, DKMS_LOG_WARN, "cannot read %s: %s", mdir, strerror(-e));
		for (size_t j = 0; j < vs.n; j++) {
			char *key = dkms_asprintf("%s/%s", ms.v[i], vs.v[j]);

			dkms_strv_push(&mv->v, &mv->n, key);
			free(key);
		}
		name_vec_free(&vs);
		free(mdir);
	}
	name_vec_free(&ms);
	if (mv->n > 1)
		qsort(mv->v, mv->n, sizeof(*mv->v), cmp_strp);
	return 0;
}

int dkms_status_list(struct dkms_ctx *ctx, const struct dkms_status_filter *f, struct dkms_status **out,
		     size_t *n)
{
	size_t passes = f && f->n_kernels ? f->n_kernels : 1;
	struct status_vec sv = { 0 };
	struct name_vec mv;
	int r;

	*out = NULL;
	*n = 0;
	r = list_mv(ctx, f, &mv);
	for (size_t p = 0; !r && p < passes; p++) {
		const struct dkms_kref *k = f && f->n_kernels ? &f->kernels[p] : NULL;

		for (size_t i = 0; i < mv.n; i++) {
			/* module names never hold '/': the first one splits */
			char *m = mv.v[i], *slash = strchr(m, '/'), *v = slash + 1;

			*slash = '\0';
			/* added excludes broken; testing it first costs one stat() */
			if (dkms_tree_is_added(ctx, m, v))
				status_built(ctx, &sv, m, v, k);
			else if (dkms_tree_is_broken(ctx, m, v))
				status_push(&sv, m, v, NULL, NULL, DKMS_STATE_BROKEN, 0);
			*slash = '/';
		}
	}
	name_vec_free(&mv);
	if (r) {
		dkms_status_list_free(sv.v, sv.n);
		return r;
	}
	*out = sv.v;
	*n = sv.n;
	return 0;
}

char *dkms_status_format(const struct dkms_status *st)
{
	static const char *const state_names[] = {
		[DKMS_STATE_ADDED] = "added",
		[DKMS_STATE_BUILT] = "built",
		[DKMS_STATE_INSTALLED] = "installed",
		[DKMS_STATE_BROKEN] = "broken",
	};
	const char *state =
		(unsigned)st->state < DKMS_ARRAY_SIZE(state_names) ? state_names[st->state] : "unknown";

	if (st->state == DKMS_STATE_ADDED || st->state == DKMS_STATE_BROKEN || !st->kver || !st->arch)
		return dkms_asprintf("%s/%s: %s", st->module, st->version, state);
	return dkms_asprintf(
		"%s/%s, %s, %s: %s%s%s%s", st->module, st->version, st->kver, st->arch, state,
		st->flags & DKMS_STATUS_ORIGINAL_EXISTS ? " (Original modules exist)" : "",
		st->flags & DKMS_STATUS_MISSING_INSTALLED
			? " (Built modules are missing in the kernel modules folder)"
			: "",
		st->flags & DKMS_STATUS_DIFFERS ? " (Differences between built and installed modules)" : "");
}

void dkms_status_list_free(struct dkms_status *list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++) {
		free(list[i].module);
		free(list[i].version);
		free(list[i].kver);
		free(list[i].arch);
	}
	free(list);
}
