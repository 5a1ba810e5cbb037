/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The registry on disk, laid out exactly like dkms 3.x does it, so that a
 * tree written by either tool is read and managed by the other:
 *
 *   <dkms_tree>/<m>/<v>/source -> <source_tree>/<m>-<v>       added
 *   <dkms_tree>/<m>/<v>/<kver>/<arch>/module/<file>            built
 *   <dkms_tree>/<m>/kernel-<kver>-<arch> -> <v>/<kver>/<arch>  installed
 *   <dkms_tree>/<m>/original_module/<kver>/<arch>/             replaced in-tree module
 *
 * The installed link is relative, as dkms 3.0.10 writes it; absolute links
 * (older dkms) are read too. Names starting with '.' are ours (temporary
 * entries, per-job build trees) and are skipped at every level.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *dkms_tree_kdir(struct dkms_ctx *ctx, const char *m, const char *v, const char *kver, const char *arch)
{
	return dkms_asprintf("%s/%s/%s/%s/%s", ctx->dkms_tree, m, v, kver, arch);
}

char *dkms_tree_conf_path(struct dkms_ctx *ctx, const char *m, const char *v)
{
	if (ctx->opts.conf_file && *ctx->opts.conf_file)
		return dkms_strdup(ctx->opts.conf_file);
	return dkms_asprintf("%s/%s/%s/source/dkms.conf", ctx->dkms_tree, m, v);
}

static bool is_link(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/* A <m>/<v> entry that can never be a version: the installed links and the
 * original_module store (upstream skips "kernel-*-*" by name). */
static bool not_a_version(const char *name)
{
	return name[0] == '.' || !strcmp(name, "original_module") || !fnmatch("kernel-*-*", name, 0);
}

/*
 * Added: <m>/<v>/source is a directory, or a link to one. dkms 3.0.10 also
 * took a dangling link for added; newer upstream (and we) call that broken.
 * A real directory (3.0.10's binaries-only ldtarball) counts as added.
 */
bool dkms_tree_is_added(struct dkms_ctx *ctx, const char *m, const char *v)
{
	char *src;
	bool r;

	if (!dkms_valid_name(m) || !dkms_valid_name(v))
		return false;
	src = dkms_asprintf("%s/%s/%s/source", ctx->dkms_tree, m, v);
	r = dkms_is_dir(src);
	free(src);
	return r;
}

/*
 * Broken, as upstream dkms 3.1+ defines it: <m>/<v> is a directory and
 * either its source link does not lead to a directory (dangling), or the
 * link is missing while <source_tree>/<m>-<v> exists. Such a version needs
 * a person: nothing builds from it.
 */
bool dkms_tree_is_broken(struct dkms_ctx *ctx, const char *m, const char *v)
{
	char *dir, *src, *usr;
	bool r = false;

	if (!dkms_valid_name(m) || !dkms_valid_name(v))
		return false;
	dir = dkms_asprintf("%s/%s/%s", ctx->dkms_tree, m, v);
	src = dkms_path_join(dir, "source");
	if (dkms_is_dir(dir)) {
		if (is_link(src))
			r = !dkms_is_dir(src);
		else if (!dkms_exists(src)) {
			usr = dkms_asprintf("%s/%s-%s", ctx->source_tree, m, v);
			r = dkms_is_dir(usr);
			free(usr);
		}
	}
	free(src);
	free(dir);
	return r;
}

/* Does dir hold at least one regular file (links followed), dot-names aside? */
static bool dir_has_file(const char *dir)
{
	DIR *d = opendir(dir);
	bool r = false;

	if (!d)
		return false;
	for (struct dirent *e; !r && (e = readdir(d));) {
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		if (e->d_type != DT_UNKNOWN && e->d_type != DT_REG && e->d_type != DT_LNK)
			continue;
		r = fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode);
	}
	closedir(d);
	return r;
}

/* Built: <kver>/<arch>/module/ holds a regular file. dkms.conf is not read. */
bool dkms_tree_is_built(struct dkms_ctx *ctx, const char *m, const char *v, const char *kver,
			const char *arch)
{
	char *dir;
	bool r;

	if (!dkms_valid_name(m) || !dkms_valid_name(v) || !dkms_valid_name(kver) || !dkms_valid_name(arch))
		return false;
	dir = dkms_asprintf("%s/%s/%s/%s/%s/module", ctx->dkms_tree, m, v, kver, arch);
	r = dir_has_file(dir);
	free(dir);
	return r;
}

/* "<v>/<kver>/<arch>" -> v, when kver and arch match and v is a valid name, not one of our dot-names. */
static char *version_from_rel(const char *rel, const char *kver, const char *arch)
{
	const char *slash = strchr(rel, '/');
	size_t lk = strlen(kver);
	char *v;

	if (!slash || slash == rel)
		return NULL;
	if (strncmp(slash + 1, kver, lk) || slash[1 + lk] != '/' || strcmp(slash + 2 + lk, arch))
		return NULL;
	v = dkms_asprintf("%.*s", (int)(slash - rel), rel);
	if (!dkms_valid_name(v) || v[0] == '.') {
		free(v);
		return NULL;
	}
	return v;
}

/* path under prefix + "/"? Returns the rest, or NULL. */
static const char *under(const char *path, const char *prefix)
{
	size_t l = strlen(prefix);

	while (l > 1 && prefix[l - 1] == '/')
		l--;
	if (strncmp(path, prefix, l) || path[l] != '/')
		return NULL;
	while (path[l] == '/')
		l++;
	return path + l;
}

/*
 * The version the kernel-<kver>-<arch> link designates. Fast path: the
 * relative "<v>/<kver>/<arch>" that dkms 3.x and we write. Otherwise the
 * link is resolved and compared canonically with <dkms_tree>/<m>; a
 * dangling absolute link into <dkms_tree>/<m>/ is still read by its text,
 * so that it can be cleaned up.
 */
char *dkms_tree_installed_version(struct dkms_ctx *ctx, const char *m, const char *kver, const char *arch)
{
	char target[PATH_MAX], canon[PATH_MAX], canon_m[PATH_MAX];
	char *link, *mdir, *v = NULL;
	const char *rest;
	ssize_t n;

	if (!dkms_valid_name(m) || !dkms_valid_name(kver) || !dkms_valid_name(arch))
		return NULL;
	mdir = dkms_path_join(ctx->dkms_tree, m);
	link = dkms_asprintf("%s/kernel-%s-%s", mdir, kver, arch);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		goto out;
	target[n] = '\0';
	if (target[0] != '/' && (v = version_from_rel(target, kver, arch)))
		goto out;
	if (realpath(link, canon) && realpath(mdir, canon_m)) {
		rest = under(canon, canon_m);
		if (rest)
			v = version_from_rel(rest, kver, arch);
		goto out;
	}
	if (target[0] == '/' && (rest = under(target, mdir)))
		v = version_from_rel(rest, kver, arch);
out:
	free(link);
	free(mdir);
	return v;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_vers(const void *a, const void *b)
{
	int r = dkms_vercmp(*(char *const *)a, *(char *const *)b);

	return r ? r : cmp_strp(a, b);
}

/* List dir, ENOENT as empty; other errors recorded. */
static int list_or_empty(struct dkms_ctx *ctx, const char *dir, char ***names, size_t *n)
{
	int e = dkms_list_dir(dir, names, n);

	if (e == -ENOENT || e == -ENOTDIR)
		return 0;
	if (e)
		return dkms_err_set(ctx, DKMS_E_FAIL, "cannot read %s: %s; check its permissions", dir,
				    strerror(-e));
	return 0;
}

int dkms_tree_list_modules(struct dkms_ctx *ctx, char ***names, size_t *n)
{
	char **all = NULL;
	size_t n_all = 0;
	int r;

	*names = NULL;
	*n = 0;
	r = list_or_empty(ctx, ctx->dkms_tree, &all, &n_all);
	for (size_t i = 0; !r && i < n_all; i++) {
		char *p;

		if (all[i][0] == '.')
			continue;
		p = dkms_path_join(ctx->dkms_tree, all[i]);
		if (dkms_is_dir(p))
			dkms_strv_push(names, n, all[i]);
		free(p);
	}
	dkms_strv_free(all, n_all);
	return r;
}

/* Versions of m that dkms status shows: added or broken; oldest first. */
int dkms_tree_list_versions(struct dkms_ctx *ctx, const char *m, char ***versions, size_t *n)
{
	char **all = NULL, *mdir;
	size_t n_all = 0;
	int r;

	*versions = NULL;
	*n = 0;
	if (!dkms_valid_name(m))
		return 0;
	mdir = dkms_path_join(ctx->dkms_tree, m);
	r = list_or_empty(ctx, mdir, &all, &n_all);
	for (size_t i = 0; !r && i < n_all; i++) {
		if (not_a_version(all[i]))
			continue;
		if (dkms_tree_is_added(ctx, m, all[i]) || dkms_tree_is_broken(ctx, m, all[i]))
			dkms_strv_push(versions, n, all[i]);
	}
	if (*n > 1)
		qsort(*versions, *n, sizeof(**versions), cmp_vers);
	dkms_strv_free(all, n_all);
	free(mdir);
	return r;
}

/* A kernel directory name as upstream's glob +([0-9]).* selects it. */
static bool looks_like_kver(const char *s)
{
	size_t d = strspn(s, "0123456789");

	return d > 0 && s[d] == '.';
}

struct kpair {
	char *key; /* "kver/arch": the order a shell glob gives */
	size_t klen;
};

static int cmp_kpair(const void *a, const void *b)
{
	return strcmp(((const struct kpair *)a)->key, ((const struct kpair *)b)->key);
}

/* Built (kver, arch) pairs of m/v, ordered as dkms's glob <kver>/<arch> orders them (C locale). */
int dkms_tree_list_built(struct dkms_ctx *ctx, const char *m, const char *v, char ***kvers, char ***arches,
			 size_t *n)
{
	char **ks = NULL, *vdir;
	size_t n_ks = 0, n_p = 0, n_a = 0, n_k = 0;
	struct kpair *p = NULL;
	int r;

	*kvers = *arches = NULL;
	*n = 0;
	if (!dkms_valid_name(m) || !dkms_valid_name(v))
		return 0;
	vdir = dkms_asprintf("%s/%s/%s", ctx->dkms_tree, m, v);
	r = list_or_empty(ctx, vdir, &ks, &n_ks);
	for (size_t i = 0; !r && i < n_ks; i++) {
		char **as = NULL, *kdir;
		size_t n_as = 0;

		if (!looks_like_kver(ks[i]))
			continue;
		kdir = dkms_path_join(vdir, ks[i]);
		if (dkms_list_dir(kdir, &as, &n_as) == 0) {
			for (size_t j = 0; j < n_as; j++) {
				if (as[j][0] == '.' || !dkms_tree_is_built(ctx, m, v, ks[i], as[j]))
					continue;
				struct kpair *np = realloc(p, (n_p + 1) * sizeof(*p));

				if (!np)
					abort();
				p = np;
				p[n_p].key = dkms_asprintf("%s/%s", ks[i], as[j]);
				p[n_p].klen = strlen(ks[i]);
				n_p++;
			}
		}
		dkms_strv_free(as, n_as);
		free(kdir);
	}
	if (n_p > 1)
		qsort(p, n_p, sizeof(*p), cmp_kpair);
	for (size_t i = 0; i < n_p; i++) {
		p[i].key[p[i].klen] = '\0';
		dkms_strv_push(kvers, &n_k, p[i].key);
		dkms_strv_push(arches, &n_a, p[i].key + p[i].klen + 1);
		free(p[i].key);
	}
	*n = n_p;
	free(p);
	dkms_strv_free(ks, n_ks);
	free(vdir);
	return r;
}

/* Names the tree can hold and list: dkms_valid_name, and no leading '.' (ours, never listed). */
static int check_names(struct dkms_ctx *ctx, const char *m, const char *v, const char *kver, const char *arch)
{
	const char *names[] = { m, v, kver, arch };

	for (size_t i = 0; i < DKMS_ARRAY_SIZE(names); i++) {
		if (i && !names[i])
			continue;
		if (!dkms_valid_name(names[i]) || names[i][0] == '.')
			return dkms_err_set(ctx, DKMS_E_USAGE,
					    "invalid name '%s' in the dkms tree: it must not be empty, start "
					    "with '.', nor hold '/' or control characters",
					    names[i] ? names[i] : "");
	}
	return 0;
}

/* Is the symlink at link the same place as dir (both resolved)? */
static bool same_place(const char *link, const char *dir)
{
	char a[PATH_MAX], b[PATH_MAX];

	return realpath(link, a) && realpath(dir, b) && !strcmp(a, b);
}

int dkms_tree_add(struct dkms_ctx *ctx, const char *m, const char *v, const char *source_dir)
{
	char abs[PATH_MAX], target[PATH_MAX];
	char *mdir = NULL, *vdir = NULL, *src = NULL, *tmp = NULL, *tmp_src = NULL;
	const char *to = source_dir;
	int r, e;

	r = check_names(ctx, m, v, NULL, NULL);
	if (r)
		return r;
	if (not_a_version(v))
		return dkms_err_set(ctx, DKMS_E_USAGE, "cannot add %s/%s: '%s' is reserved in the dkms tree",
				    m, v, v);
	if (!source_dir || !dkms_is_dir(source_dir))
		return dkms_err_set(ctx, DKMS_E_USAGE, "cannot add %s/%s: source directory %s does not exist",
				    m, v, source_dir ? source_dir : "(none)");
	if (source_dir[0] != '/') {
		if (!realpath(source_dir, abs))
			return dkms_err_set(ctx, DKMS_E_FAIL, "cannot resolve %s: %s", source_dir,
					    strerror(errno));
		to = abs;
	}
	mdir = dkms_path_join(ctx->dkms_tree, m);
	vdir = dkms_path_join(mdir, v);
	src = dkms_path_join(vdir, "source");
	if (dkms_exists(src)) {
		if (same_place(src, to))
			goto out;
		ssize_t n = readlink(src, target, sizeof(target) - 1);

		target[n > 0 ? n : 0] = '\0';
		r = dkms_err_set(
			ctx, DKMS_E_EXISTS,
			"%s/%s is already in the dkms tree with source %s, not %s; remove %s/%s first", m, v,
			n > 0 ? target : src, to, m, v);
		goto out;
	}
	if (dkms_is_dir(vdir)) {
		e = dkms_symlink_atomic(to, src);
		if (e)
			r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot create %s: %s", src, strerror(-e));
		goto out;
	}
	/* a new version appears complete: build <m>/.<v>.dkms-add.<pid>, rename it */
	e = dkms_mkdir_p(mdir, 0755);
	if (e) {
		r = dkms_err_set(ctx, DKMS_E_FAIL,
				 "cannot create %s: %s; check that the dkms tree is writable", mdir,
				 strerror(-e));
		goto out;
	}
	tmp = dkms_asprintf("%s/.%s.dkms-add.%d", mdir, v, (int)getpid());
	tmp_src = dkms_path_join(tmp, "source");
	dkms_rm_rf(tmp);
	e = mkdir(tmp, 0755) < 0 ? -errno : 0;
	if (!e && symlink(to, tmp_src) < 0)
		e = -errno;
	if (!e && rename(tmp, vdir) < 0)
		e = -errno;
	if (e == -EEXIST || e == -ENOTEMPTY) {
		/* someone made <m>/<v> meanwhile: link inside it */
		e = dkms_exists(src) ? (same_place(src, to) ? 0 : -EEXIST) : dkms_symlink_atomic(to, src);
	}
	if (e) {
		dkms_rm_rf(tmp);
		r = dkms_err_set(ctx, e == -EEXIST ? DKMS_E_EXISTS : DKMS_E_FAIL, "cannot create %s: %s", src,
				 strerror(-e));
		goto out;
	}
	dkms_rm_rf(tmp);
	dkms_fsync_dir(mdir);
out:
	free(tmp_src);
	free(tmp);
	free(src);
	free(vdir);
	free(mdir);
	return r;
}

int dkms_tree_set_installed(struct dkms_ctx *ctx, const char *m, const char *v, const char *kver,
			    const char *arch)
{
	char *kdir, *link, *target;
	int r, e;

	r = check_names(ctx, m, v, kver, arch);
	if (r)
		return r;
	kdir = dkms_tree_kdir(ctx, m, v, kver, arch);
	link = dkms_asprintf("%s/%s/kernel-%s-%s", ctx->dkms_tree, m, kver, arch);
	target = dkms_asprintf("%s/%s/%s", v, kver, arch); /* relative, like dkms 3.x */
	if (!dkms_is_dir(kdir)) {
		r = dkms_err_set(ctx, DKMS_E_USAGE,
				 "%s/%s is not built for %s (%s): %s is missing; build it first", m, v, kver,
				 arch, kdir);
	} else if (is_link(link) || !dkms_exists(link)) {
		e = dkms_symlink_atomic(target, link);
		if (e)
			r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot create %s: %s", link, strerror(-e));
	} else {
		r = dkms_err_set(ctx, DKMS_E_FAIL, "%s exists and is not a symlink; remove it by hand", link);
	}
	free(target);
	free(link);
	free(kdir);
	return r;
}

int dkms_tree_clear_installed(struct dkms_ctx *ctx, const char *m, const char *kver, const char *arch)
{
	char *mdir, *link;
	struct stat st;
	int r;

	r = check_names(ctx, m, NULL, kver, arch);
	if (r)
		return r;
	mdir = dkms_path_join(ctx->dkms_tree, m);
	link = dkms_asprintf("%s/kernel-%s-%s", mdir, kver, arch);
	if (lstat(link, &st) < 0) {
		if (errno != ENOENT)
			r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot read %s: %s", link, strerror(errno));
	} else if (!S_ISLNK(st.st_mode)) {
		r = dkms_err_set(ctx, DKMS_E_FAIL, "%s is not a symlink; remove it by hand", link);
	} else if (unlink(link) < 0 && errno != ENOENT) {
		r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot remove %s: %s", link, strerror(errno));
	} else {
		dkms_fsync_dir(mdir);
	}
	free(link);
	free(mdir);
	return r;
}

/* Remove dir/name: first renamed to a dot-name (invisible to every listing,
 * ours and dkms's globs), then deleted, so no half-removed entry shows. */
static int remove_entry(struct dkms_ctx *ctx, const char *dir, const char *name)
{
	char *path = dkms_path_join(dir, name);
	char *tmp = dkms_asprintf("%s/.%s.dkms-rm.%d", dir, name, (int)getpid());
	int r = 0, e;

	dkms_rm_rf(tmp);
	if (rename(path, tmp) < 0) {
		if (errno != ENOENT)
			r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot remove %s: %s", path, strerror(errno));
		goto out;
	}
	dkms_fsync_dir(dir);
	e = dkms_rm_rf(tmp);
	if (e)
		r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot remove %s: %s; delete it by hand", tmp,
				 strerror(-e));
out:
	free(tmp);
	free(path);
	return r;
}

int dkms_tree_remove_built(struct dkms_ctx *ctx, const char *m, const char *v, const char *kver,
			   const char *arch)
{
	char *kdir;
	int r;

	r = check_names(ctx, m, v, kver, arch);
	if (r)
		return r;
	kdir = dkms_asprintf("%s/%s/%s/%s", ctx->dkms_tree, m, v, kver);
	r = remove_entry(ctx, kdir, arch);
	if (!r && rmdir(kdir) == 0) {
		char *vdir = dkms_asprintf("%s/%s/%s", ctx->dkms_tree, m, v);

		dkms_fsync_dir(vdir);
		free(vdir);
	}
	free(kdir);
	return r;
}

int dkms_tree_forget(struct dkms_ctx *ctx, const char *m, const char *v)
{
	char *mdir;
	int r;

	r = check_names(ctx, m, v, NULL, NULL);
	if (r)
		return r;
	mdir = dkms_path_join(ctx->dkms_tree, m);
	r = remove_entry(ctx, mdir, v);
	/* <m> stays while it holds other versions, original_module or links */
	if (!r && rmdir(mdir) == 0)
		dkms_fsync_dir(ctx->dkms_tree);
	free(mdir);
	return r;
}

/*
 * <install_tree>/<kver>/<path> of the modules.dep entry whose basename is file. Old depmods
 * wrote absolute paths: those count under <install_tree>/<kver>/ only. A path with a ".."
 * component never does: the result may be compared with, or removed as, a module of ours.
 */
static char *find_in_modules_dep(struct dkms_ctx *ctx, const char *kver, const char *file)
{
	char *dep = dkms_asprintf("%s/%s/modules.dep", ctx->install_tree, kver);
	char *kdir = dkms_asprintf("%s/%s/", ctx->install_tree, kver);
	char *buf = NULL, *found = NULL;
	size_t flen = strlen(file), klen = strlen(kdir);

	if (dkms_read_file(dep, &buf, NULL) < 0)
		goto out;
	for (char *line = buf; line && *line && !found;) {
		char *nl = strchr(line, '\n');
		char *colon = strchr(line, ':');

		if (nl)
			*nl = '\0';
		if (colon) {
			size_t plen = (size_t)(colon - line);
			const char *base = memrchr(line, '/', plen);

			base = base ? base + 1 : line;
			if ((size_t)(colon - base) == flen && !strncmp(base, file, flen)) {
				char *rel = dkms_asprintf("%.*s", (int)plen, line);
				const char *r = rel[0] != '/'		    ? rel
						: !strncmp(rel, kdir, klen) ? rel + klen
									    : NULL;
				char *p = r && dkms_valid_relpath(r) ? dkms_path_join(kdir, r) : NULL;

				if (p && dkms_is_file(p))
					found = p;
				else
					free(p);
				free(rel);
			}
		}
		line = nl ? nl + 1 : NULL;
	}
out:
	free(buf);
	free(dep);
	free(kdir);
	return found;
}

/*
 * Where a built file of a module is installed for kver. Without reading
 * dkms.conf the destination is not known, so the usual ones are tried in
 * order: --dest / the conf override, the distro override, then the three
 * places distros use; last, the kernel's modules.dep (for a DEST_MODULE_LOCATION
 * under /kernel). No directory walk. Note: modules.dep may name an in-tree
 * module of the same name; a caller comparing bytes then sees a difference.
 */
char *dkms_tree_find_installed_file(struct dkms_ctx *ctx, const char *kver, const char *file)
{
	const char *locs[] = { ctx->opts.dest_location, ctx->dest_override, "/updates/dkms", "/extra",
			       "/updates" };

	if (!dkms_valid_name(kver) || !dkms_valid_name(file))
		return NULL;
	for (size_t i = 0; i < DKMS_ARRAY_SIZE(locs); i++) {
		const char *loc = locs[i] ? locs[i] + strspn(locs[i], "/") : NULL;
		size_t len;
		char *p;

		if (!loc || !*locs[i] || !dkms_valid_relpath(loc))
			continue;
		for (len = strlen(loc); len && loc[len - 1] == '/'; len--)
			;
		if (len)
			p = dkms_asprintf("%s/%s/%.*s/%s", ctx->install_tree, kver, (int)len, loc, file);
		else
			p = dkms_asprintf("%s/%s/%s", ctx->install_tree, kver, file);
		if (dkms_is_file(p))
			return p;
		free(p);
	}
	return find_in_modules_dep(ctx, kver, file);
}
