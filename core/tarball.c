/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dkms mktarball: a module's sources and builds in one archive, with
 * libarchive, in the layout of dkms 3.x (see tarball-check.c):
 *   ./dkms_main_tree/<kver>/<arch>/{module,log}/...
 *   ./dkms_source_tree/...                        (unless binaries only)
 *   ./dkms_binaries_only/{PACKAGE_NAME,PACKAGE_VERSION,dkms.conf}
 * Every entry written passes the checks ldtarball applies, so that what we
 * make we also load. The archive appears complete or not at all.
 */
#include "internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct writer {
	struct dkms_ctx *ctx;
	struct archive *a;
	const char *archive_path; /* for messages */
};

/* Compression from the file name, as tar -a does; unknown: none. */
static int writer_set_filter(struct archive *a, const char *name)
{
	static const struct {
		const char *suffix;
		int (*add)(struct archive *);
	} filters[] = {
		{ ".gz", archive_write_add_filter_gzip },   { ".tgz", archive_write_add_filter_gzip },
		{ ".xz", archive_write_add_filter_xz },	    { ".txz", archive_write_add_filter_xz },
		{ ".bz2", archive_write_add_filter_bzip2 }, { ".tbz2", archive_write_add_filter_bzip2 },
		{ ".zst", archive_write_add_filter_zstd },  { ".tzst", archive_write_add_filter_zstd },
		{ ".lzma", archive_write_add_filter_lzma },
	};
	size_t len = strlen(name);

	for (size_t i = 0; i < DKMS_ARRAY_SIZE(filters); i++) {
		size_t sl = strlen(filters[i].suffix);

		if (len > sl && !strcmp(name + len - sl, filters[i].suffix))
			return filters[i].add(a);
	}
	return archive_write_add_filter_none(a);
}

/* Refuse what our ldtarball would refuse. */
static int writer_check(struct writer *w, const char *arcname, int type, const char *target, int64_t size,
			const char *disk_path)
{
	int bad = dkms_tarball_check_entry(arcname, type, target, size);

	if (!bad)
		return 0;
	return dkms_err_set(
		w->ctx, DKMS_E_FAIL,
		"%s cannot go into a tarball: %s (as %s%s%s); ldtarball would refuse the archive, "
		"so fix the file (for a link, replace it with a copy)",
		disk_path, dkms_tarball_reason(bad), arcname, target ? " -> " : "", target ? target : "");
}

static int writer_header(struct writer *w, struct archive_entry *e, const char *disk_path)
{
	if (archive_write_header(w->a, e) < ARCHIVE_OK)
		return dkms_err_set(w->ctx, DKMS_E_FAIL, "cannot write %s into %s: %s", disk_path,
				    w->archive_path, archive_error_string(w->a));
	return 0;
}

static struct archive_entry *writer_entry(const char *arcname, const struct stat *st, mode_t type)
{
	struct archive_entry *e = archive_entry_new();

	if (!e)
		abort();
	archive_entry_copy_stat(e, st);
	archive_entry_set_pathname(e, arcname);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, (st->st_mode & 0755) | (type == S_IFDIR ? 0700 : 0600));
	/* owned by root, whoever made it: tar run as root keeps owners */
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_uname(e, "root");
	archive_entry_set_gname(e, "root");
	archive_entry_set_nlink(e, 1);
	return e;
}

/* A directory entry of our own (no file behind it). */
static int writer_add_dir(struct writer *w, const char *arcname)
{
	struct stat st = { .st_mode = S_IFDIR | 0755, .st_mtime = time(NULL) };
	struct archive_entry *e = writer_entry(arcname, &st, S_IFDIR);
	int r = writer_header(w, e, arcname);

	archive_entry_free(e);
	return r;
}

static int writer_add_data(struct writer *w, const char *arcname, const void *buf, size_t len)
{
	struct stat st = { .st_mode = S_IFREG | 0644, .st_size = (off_t)len, .st_mtime = time(NULL) };
	struct archive_entry *e = writer_entry(arcname, &st, S_IFREG);
	int r = writer_header(w, e, arcname);

	if (!r && len && archive_write_data(w->a, buf, len) != (la_ssize_t)len)
		r = dkms_err_set(w->ctx, DKMS_E_FAIL, "cannot write %s into %s: %s", arcname, w->archive_path,
				 archive_error_string(w->a));
	archive_entry_free(e);
	return r;
}

static int writer_add_file(struct writer *w, const char *path, const char *arcname, const struct stat *st)
{
	struct archive_entry *e;
	char buf[65536];
	int fd, r;
	ssize_t n;
	int64_t left = st->st_size;

	r = writer_check(w, arcname, S_IFREG, NULL, st->st_size, path);
	if (r)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return dkms_err_set(w->ctx, DKMS_E_FAIL, "cannot read %s: %s", path, strerror(errno));
	e = writer_entry(arcname, st, S_IFREG);
	r = writer_header(w, e, path);
	while (!r && left > 0 && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = dkms_err_set(w->ctx, DKMS_E_FAIL, "cannot read %s: %s", path, strerror(errno));
			break;
		}
		if (n > left)
			n = (ssize_t)left; /* grew meanwhile: the header said st_size */
		if (archive_write_data(w->a, buf, (size_t)n) != n)
			r = dkms_err_set(w->ctx, DKMS_E_FAIL, "cannot write %s into %s: %s", path,
					 w->archive_path, archive_error_string(w->a));
		left -= n;
	}
	/* shrank meanwhile: libarchive pads the entry to its size */
	archive_entry_free(e);
	close(fd);
	return r;
}

/* path (a file, link or directory, recursively) as arcname. Dot names at
 * the top of a directory given with skip_dot are left out, as dkms's
 * copy of the directory through a shell glob does. */
static int writer_add_tree(struct writer *w, const char *path, const char *arcname, bool skip_dot)
{
	struct stat st;
	int r;

	if (lstat(path, &st) < 0)
		return dkms_err_set(w->ctx, DKMS_E_FAIL, "cannot read %s: %s", path, strerror(errno));
	if (S_ISREG(st.st_mode))
		return writer_add_file(w, path, arcname, &st);
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		struct archive_entry *e;

		if (n < 0)
			return dkms_err_set(w->ctx, DKMS_E_FAIL, "cannot read link %s: %s", path,
					    strerror(errno));
		target[n] = '\0';
		r = writer_check(w, arcname, S_IFLNK, target, 0, path);
		if (r)
			return r;
		e = writer_entry(arcname, &st, S_IFLNK);
		archive_entry_set_size(e, 0);
		archive_entry_set_symlink(e, target);
		r = writer_header(w, e, path);
		archive_entry_free(e);
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		dkms_log(w->ctx, DKMS_LOG_WARN,
			 "%s is not a file, link or directory; left out of the tarball", path);
		return 0;
	}
	r = writer_check(w, arcname, S_IFDIR, NULL, 0, path);
	if (r)
		return r;
	struct archive_entry *e = writer_entry(arcname, &st, S_IFDIR);

	archive_entry_set_size(e, 0);
	r = writer_header(w, e, path);
	archive_entry_free(e);

	char **names = NULL;
	size_t n = 0;
	int err = r ? 0 : dkms_list_dir(path, &names, &n);

	if (err)
		r = dkms_err_set(w->ctx, DKMS_E_FAIL, "cannot list %s: %s", path, strerror(-err));
	for (size_t i = 0; i < n && !r; i++) {
		if (skip_dot && names[i][0] == '.')
			continue;
		char *p = dkms_path_join(path, names[i]);
		char *an = dkms_asprintf("%s/%s", arcname, names[i]);

		r = writer_add_tree(w, p, an, false);
		free(p);
		free(an);
	}
	dkms_strv_free(names, n);
	return r;
}

/* The kernels to archive: the given ones, built, or every build. */
static int tarball_kernels(struct dkms_ctx *ctx, const char *m, const char *v,
			   const struct dkms_kref *kernels, size_t n, char ***kvers, char ***arches,
			   size_t *count)
{
	int r = 0;

	*kvers = *arches = NULL;
	*count = 0;
	if (!n) {
		if (dkms_tree_list_built(ctx, m, v, kvers, arches, count))
			return dkms_err_set(ctx, DKMS_E_FAIL, "cannot list the builds of %s/%s", m, v);
		if (!*count)
			return dkms_err_set(ctx, DKMS_E_KERNEL,
					    "%s/%s is not built for any kernel; build it first (dkms build), "
					    "or make a source tarball (--source-only)",
					    m, v);
		return 0;
	}
	for (size_t i = 0; i < n && !r; i++) {
		const char *arch = kernels[i].arch ? kernels[i].arch : ctx->machine_arch;
		char *kdir;

		if (!dkms_valid_name(kernels[i].version) || !dkms_valid_name(arch)) {
			r = dkms_err_set(ctx, DKMS_E_USAGE, "invalid kernel '%s' or arch '%s'",
					 kernels[i].version, arch);
			break;
		}
		kdir = dkms_tree_kdir(ctx, m, v, kernels[i].version, arch);
		if (!dkms_is_dir(kdir))
			r = dkms_err_set(ctx, DKMS_E_KERNEL,
					 "no modules of %s/%s built for %s (%s) in %s; build them first "
					 "(dkms build %s/%s -k %s), or use --source-only",
					 m, v, kernels[i].version, arch, kdir, m, v, kernels[i].version);
		free(kdir);
		if (!r) {
			size_t nk = *count;

			dkms_strv_push(kvers, &nk, kernels[i].version);
			dkms_strv_push(arches, count, arch);
		}
	}
	return r;
}

/* <dkms_tree>/<m>/<v>/tarball/<m>-<v>-kernel<k>-<a>[-kernel...].dkms.tar.gz,
 * or "source-only", or "manykernels" past 200 characters, as dkms names it. */
static char *tarball_default_name(const char *m, const char *v, char **kvers, char **arches, size_t n)
{
	char *list = dkms_strdup(n ? "" : "source-only"), *name;

	for (size_t i = 0; i < n; i++) {
		char *l = dkms_asprintf("%s%skernel%s-%s", list, i ? "-" : "", kvers[i], arches[i]);

		free(list);
		list = l;
	}
	if (strlen(list) >= 200) {
		free(list);
		list = dkms_strdup("manykernels");
	}
	name = dkms_asprintf("%s-%s-%s.dkms.tar.gz", m, v, list);
	free(list);
	return name;
}

static int tarball_write(struct dkms_ctx *ctx, struct writer *w, const char *m, const char *v, char **kvers,
			 char **arches, size_t n, unsigned flags)
{
	char *src = dkms_asprintf("%s/%s/%s/source", ctx->dkms_tree, m, v);
	int r = writer_add_dir(w, "./");

	if (!r)
		r = writer_add_dir(w, "./dkms_main_tree");
	for (size_t i = 0; i < n && !r; i++) {
		char *kdir = dkms_tree_kdir(ctx, m, v, kvers[i], arches[i]);
		char *kname = dkms_asprintf("./dkms_main_tree/%s", kvers[i]);
		char *aname = dkms_asprintf("%s/%s", kname, arches[i]);

		dkms_log(ctx, DKMS_LOG_INFO, "Marking modules for %s (%s) for archiving...", kvers[i],
			 arches[i]);
		if (i == 0 || strcmp(kvers[i], kvers[i - 1]))
			r = writer_add_dir(w, kname);
		if (!r)
			r = writer_add_tree(w, kdir, aname, true);
		free(aname);
		free(kname);
		free(kdir);
	}
	if (!r && (flags & DKMS_TARBALL_BINARIES_ONLY)) {
		char *conf = dkms_tree_conf_path(ctx, m, v), *buf = NULL, *s;
		size_t len = 0;
		int e = dkms_read_file(conf, &buf, &len);

		if (e)
			r = dkms_err_set(ctx, DKMS_E_USAGE,
					 "cannot read %s: %s; a binaries-only tarball holds it", conf,
					 strerror(-e));
		if (!r)
			r = writer_add_dir(w, "./dkms_binaries_only");
		if (!r) {
			s = dkms_asprintf("%s\n", m);
			r = writer_add_data(w, "./dkms_binaries_only/PACKAGE_NAME", s, strlen(s));
			free(s);
		}
		if (!r) {
			s = dkms_asprintf("%s\n", v);
			r = writer_add_data(w, "./dkms_binaries_only/PACKAGE_VERSION", s, strlen(s));
			free(s);
		}
		if (!r)
			r = writer_add_data(w, "./dkms_binaries_only/dkms.conf", buf, len);
		free(buf);
		free(conf);
	} else if (!r) {
		char real[PATH_MAX];

		dkms_log(ctx, DKMS_LOG_INFO, "Marking %s for archiving...", src);
		if (!realpath(src, real))
			r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot read the sources of %s/%s (%s): %s", m, v,
					 src, strerror(errno));
		else
			r = writer_add_tree(w, real, "./dkms_source_tree", true);
	}
	free(src);
	return r;
}

int dkms_tarball_make(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kref *kernels,
		      size_t n, unsigned flags, const char *path, char **written)
{
	char **kvers = NULL, **arches = NULL;
	size_t count = 0;
	char *dir = NULL, *name = NULL, *final = NULL, *tmp = NULL;
	struct writer w = { .ctx = ctx };
	int fd = -1, r, e;

	if (written)
		*written = NULL;
	if ((flags & DKMS_TARBALL_SOURCE_ONLY) && (flags & DKMS_TARBALL_BINARIES_ONLY))
		return dkms_err_set(ctx, DKMS_E_USAGE,
				    "--source-only and --binaries-only exclude each other");
	if (!dkms_tree_is_added(ctx, m, v))
		return dkms_err_set(
			ctx, DKMS_E_EXISTS,
			"The module/version combo: %s-%s is not located in the DKMS tree %s; add it first", m,
			v, ctx->dkms_tree);
	if (!(flags & DKMS_TARBALL_SOURCE_ONLY)) {
		r = tarball_kernels(ctx, m, v, kernels, n, &kvers, &arches, &count);
		if (r)
			goto out;
	}
	if (path && *path) {
		const char *slash = strrchr(path, '/');

		/* as dkms: a bare name goes into the default directory */
		name = dkms_strdup(slash ? slash + 1 : path);
		dir = slash ? (slash == path ? dkms_strdup("/") : strndup(path, (size_t)(slash - path)))
			    : dkms_asprintf("%s/%s/%s/tarball", ctx->dkms_tree, m, v);
		if (!dir)
			abort();
		if (!*name) {
			r = dkms_err_set(ctx, DKMS_E_USAGE,
					 "--archive %s names a directory; give a file name", path);
			goto out;
		}
	} else {
		name = tarball_default_name(m, v, kvers, arches, count);
		dir = dkms_asprintf("%s/%s/%s/tarball", ctx->dkms_tree, m, v);
	}
	final = dkms_path_join(dir, name);
	e = dkms_mkdir_p(dir, 0755);
	if (e) {
		r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot create %s: %s; check that it is writable", dir,
				 strerror(-e));
		goto out;
	}
	tmp = dkms_asprintf("%s/.%s.XXXXXX", dir, name);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = dkms_err_set(ctx, DKMS_E_FAIL,
				 "cannot create a file in %s: %s; check that it is writable", dir,
				 strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	fchmod(fd, 0644);
	w.archive_path = final;
	w.a = archive_write_new();
	if (!w.a)
		abort();
	if (archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
	    writer_set_filter(w.a, name) != ARCHIVE_OK || archive_write_open_fd(w.a, fd) != ARCHIVE_OK) {
		r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot write %s: %s", final, archive_error_string(w.a));
		goto out;
	}
	r = tarball_write(ctx, &w, m, v, kvers, arches, count, flags);
	if (!r && archive_write_close(w.a) != ARCHIVE_OK)
		r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot write %s: %s", final, archive_error_string(w.a));
	if (!r && fsync(fd) < 0)
		r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot write %s: %s", final, strerror(errno));
	if (!r && rename(tmp, final) < 0)
		r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot create %s: %s", final, strerror(errno));
	if (!r) {
		dkms_fsync_dir(dir);
		dkms_log(ctx, DKMS_LOG_INFO, "Tarball location: %s", final);
		if (written)
			*written = dkms_strdup(final);
	}
out:
	if (w.a)
		archive_write_free(w.a);
	if (fd >= 0)
		close(fd);
	if (r && tmp)
		unlink(tmp);
	dkms_strv_free(kvers, count);
	dkms_strv_free(arches, count);
	free(tmp);
	free(final);
	free(name);
	free(dir);
	return r;
}
