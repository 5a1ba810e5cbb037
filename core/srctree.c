/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A module source before it is copied: bounded in size, and its symbolic links kept from leading
 * out of the copy.
 *
 * The policy on links: a link is copied as it is (never followed), then, in the build directory,
 * every link that does not resolve inside the copy (or to an existing file of the registered
 * source) is removed with a warning: a link to a file outside, a dangling link whose target would
 * be created outside, a loop. So make can neither read nor write outside the trees through a link
 * of the source, and a package with a stray link (iptables-netflow's README.gz ->
 * ../../share/doc/...) still builds; a module that needed the file fails in make, after the
 * warning that says why.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct srctree_count {
	unsigned long long bytes;
	unsigned long entries;
	unsigned long long big_size;
	char *big_path;
};

static int srctree_walk(const char *dir, unsigned depth, struct srctree_count *c)
{
	char **names = NULL;
	size_t n = 0;
	int r;

	if (depth > DKMS_SOURCE_MAX_DEPTH)
		return -ELOOP;
	r = dkms_list_dir(dir, &names, &n);
	for (size_t i = 0; i < n && !r; i++) {
		char *p = dkms_path_join(dir, names[i]);
		struct stat st;

		if (++c->entries > DKMS_SOURCE_MAX_ENTRIES) {
			r = -EMLINK;
		} else if (lstat(p, &st) < 0) {
			r = errno == ENOENT ? 0 : -errno;
		} else if (S_ISDIR(st.st_mode)) {
			r = srctree_walk(p, depth + 1, c);
		} else if (S_ISREG(st.st_mode)) {
			c->bytes += (unsigned long long)st.st_size;
			if ((unsigned long long)st.st_size > c->big_size) {
				c->big_size = (unsigned long long)st.st_size;
				free(c->big_path);
				c->big_path = dkms_strdup(p);
			}
			if (c->bytes > DKMS_SOURCE_MAX_BYTES)
				r = -EFBIG;
		}
		free(p);
	}
	dkms_strv_free(names, n);
	return r;
}

int dkms_srctree_check(struct dkms_ctx *ctx, const char *what, const char *dir)
{
	struct srctree_count c = { 0 };
	int r = srctree_walk(dir, 0, &c);

	if (r == -EFBIG)
		r = dkms_err_set(ctx, DKMS_E_CONF,
				 "%s: the sources in %s are larger than %u MiB (%s alone has %llu bytes); "
				 "remove what the build does not need",
				 what, dir, DKMS_SOURCE_MAX_BYTES >> 20, c.big_path, c.big_size);
	else if (r == -EMLINK)
		r = dkms_err_set(ctx, DKMS_E_CONF,
				 "%s: the sources in %s hold more than %u files and directories; "
				 "remove what the build does not need",
				 what, dir, DKMS_SOURCE_MAX_ENTRIES);
	else if (r == -ELOOP)
		r = dkms_err_set(ctx, DKMS_E_CONF,
				 "%s: the sources in %s are nested more than %u directories deep", what, dir,
				 DKMS_SOURCE_MAX_DEPTH);
	else if (r < 0)
		r = dkms_err_set(ctx, DKMS_E_FAIL, "%s: cannot read the sources in %s: %s", what, dir,
				 strerror(-r));
	free(c.big_path);
	return r;
}

static bool srctree_under(const char *path, const char *root)
{
	size_t n = strlen(root);

	return root[0] && strncmp(path, root, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

bool dkms_srctree_link_inside(const char *link, const char *root, const char *also)
{
	char real[PATH_MAX], target[PATH_MAX];
	const char *slash, *base;
	char *full, *parent;
	ssize_t len;
	bool in;

	if (realpath(link, real))
		return srctree_under(real, root) || (also && srctree_under(real, also));
	if (errno != ENOENT)
		return false; /* a loop, or too long */
	/* dangling: where would a file written through it be created? */
	len = readlink(link, target, sizeof(target) - 1);
	if (len <= 0)
		return false;
	target[len] = '\0';
	slash = strrchr(link, '/');
	full = target[0] == '/' || !slash ? dkms_strdup(target)
					  : dkms_asprintf("%.*s/%s", (int)(slash - link), link, target);
	while (strlen(full) > 1 && full[strlen(full) - 1] == '/')
		full[strlen(full) - 1] = '\0';
	slash = strrchr(full, '/');
	base = slash ? slash + 1 : full;
	parent = slash ? dkms_asprintf("%.*s", slash == full ? 1 : (int)(slash - full), full)
		       : dkms_strdup(".");
	in = strcmp(base, "..") && strcmp(base, ".") && realpath(parent, real) && srctree_under(real, root);
	free(parent);
	free(full);
	return in;
}

static int srctree_prune(struct dkms_ctx *ctx, const char *what, const char *dir, const char *rel,
			 const char *root, const char *orig)
{
	char **names = NULL;
	size_t n = 0;
	int r = dkms_list_dir(dir, &names, &n);

	for (size_t i = 0; i < n && !r; i++) {
		char *p = dkms_path_join(dir, names[i]);
		char *crel = *rel ? dkms_asprintf("%s/%s", rel, names[i]) : dkms_strdup(names[i]);
		struct stat st;

		if (lstat(p, &st) < 0) {
			r = errno == ENOENT ? 0 : -errno;
		} else if (S_ISDIR(st.st_mode)) {
			r = srctree_prune(ctx, what, p, crel, root, orig);
		} else if (S_ISLNK(st.st_mode) && !dkms_srctree_link_inside(p, root, orig)) {
			char target[PATH_MAX];
			ssize_t len = readlink(p, target, sizeof(target) - 1);
			char *t = dkms_str_printable(len > 0 ? (target[len] = '\0', target) : "?", 200);
			char *l = dkms_str_printable(crel, 200);

			dkms_log(ctx, DKMS_LOG_WARN,
				 "%s: %s/%s is a symbolic link to %s, which leads outside the module source "
				 "or nowhere: left out of the build",
				 what, orig ? orig : root, l, t);
			free(t);
			free(l);
			if (unlink(p) < 0)
				r = -errno;
		}
		free(crel);
		free(p);
	}
	dkms_strv_free(names, n);
	return r;
}

int dkms_srctree_prune_links(struct dkms_ctx *ctx, const char *what, const char *copy, const char *orig)
{
	char root[PATH_MAX], src[PATH_MAX];
	int r;

	if (!realpath(copy, root))
		return dkms_err_set(ctx, DKMS_E_FAIL, "%s: cannot resolve %s: %s", what, copy,
				    strerror(errno));
	r = srctree_prune(ctx, what, root, "", root, orig && realpath(orig, src) ? src : NULL);
	if (r < 0)
		r = dkms_err_set(ctx, DKMS_E_FAIL, "%s: cannot check the links of %s: %s", what, copy,
				 strerror(-r));
	return r;
}
