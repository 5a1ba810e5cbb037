/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dkms ldtarball: load an archive made by dkms mktarball (ours or dkms
 * 3.x's). The archive is untrusted input:
 *  1. it is extracted into a private directory under the dkms tree
 *     (<dkms_tree>/.ldtarball.XXXXXX, 0700, names starting with '.' are
 *     skipped by every reader of the tree), never in place;
 *  2. every entry is checked first (tarball-check.c: names, types, sizes,
 *     layout), then written by libarchive with its SECURE_* flags; a name
 *     seen twice is refused; the whole archive is capped in entries and size;
 *  3. once all of it is out, every symbolic link is resolved inside the
 *     sources, following the other links, and refused if it ever leaves;
 *  4. only then is anything moved into the source tree and the dkms tree
 *     (tarball-place.c).
 * What is not checked: the module's dkms.conf is evaluated by bash, as
 * `dkms add` does with any module source.
 */
#include "internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct loader {
	struct dkms_ctx *ctx;
	const char *path; /* the archive, for messages */
	char *tmp;	  /* <dkms_tree>/.ldtarball.XXXXXX */
	int tmp_fd;
};

/* s for a message: control characters escaped, cut at 200 bytes. */
static char *printable(const char *s)
{
	size_t len = s ? strlen(s) : 0, o = 0;
	char *out = malloc(len * 4 + 8);

	if (!out)
		abort();
	for (size_t i = 0; s && s[i] && o < 200; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			o += (size_t)sprintf(out + o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (s && len && o >= 200)
		o += (size_t)sprintf(out + o, "...");
	out[o] = '\0';
	return out;
}

/* The archive is refused because of one entry. */
static int refuse_entry(struct loader *ld, const char *entry, const char *why)
{
	char *p = printable(entry);
	int r = dkms_err_set(ld->ctx, DKMS_E_NOMODULE,
			     "%s: refused, entry '%s': %s; nothing was loaded. Use a tarball made by "
			     "dkms mktarball, or unpack and check it yourself, then dkms add the sources",
			     ld->path, p, why);

	free(p);
	return r;
}

static int refuse_archive(struct loader *ld, const char *why, const char *detail)
{
	return dkms_err_set(ld->ctx, DKMS_E_NOMODULE,
			    "%s: refused: %s%s%s; nothing was loaded. Give a tarball made by dkms mktarball",
			    ld->path, why, detail ? ": " : "", detail ? detail : "");
}

static struct archive *reader_new(void)
{
	struct archive *in = archive_read_new();

	if (!in)
		abort();
	/* tar only (as dkms's tar -xaf), with the usual compressions */
	archive_read_support_filter_gzip(in);
	archive_read_support_filter_bzip2(in);
	archive_read_support_filter_xz(in);
	archive_read_support_filter_lzma(in);
	archive_read_support_filter_zstd(in);
	archive_read_support_format_tar(in);
	archive_read_support_format_gnutar(in);
	return in;
}

/* One entry, checked, then written under the current directory (the
 * private one). Returns 0, or the error recorded. */
static int extract_entry(struct loader *ld, struct archive *in, struct archive *out, struct archive_entry *e,
			 int64_t *total)
{
	char *pn = archive_entry_pathname(e) ? dkms_strdup(archive_entry_pathname(e)) : NULL;
	int type = archive_entry_hardlink(e) ? DKMS_TARBALL_HARDLINK : (int)archive_entry_filetype(e);
	const char *target = type == S_IFLNK ? archive_entry_symlink(e) : NULL;
	int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	int bad = dkms_tarball_check_entry(pn, type, target, size);
	struct stat st;
	char *name = NULL;
	int r = 0;

	if (!pn) {
		r = refuse_entry(ld, "(unreadable name)", dkms_tarball_reason(DKMS_TARBALL_BAD_NAME));
		goto out;
	}
	if (bad) {
		r = refuse_entry(ld, pn, dkms_tarball_reason(bad));
		goto out;
	}
	if (size > 0)
		*total += size;
	if (*total > DKMS_TARBALL_MAX_TOTAL) {
		r = refuse_entry(ld, pn, "the files add up to more than the 1 GiB limit of a tarball");
		goto out;
	}
	name = dkms_tarball_entry_name(pn);
	if (!name) {
		r = refuse_entry(ld, pn, dkms_tarball_reason(DKMS_TARBALL_BAD_NAME));
		goto out;
	}
	if (!*name)
		goto out; /* "./" */
	if (fstatat(AT_FDCWD, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (type == S_IFDIR && S_ISDIR(st.st_mode))
			goto out; /* a directory made for an earlier entry */
		r = refuse_entry(ld, pn, "the name appears twice in the archive");
		goto out;
	}
	archive_entry_set_pathname(e, name);
	archive_entry_set_perm(e, (archive_entry_perm(e) & 0755) | (type == S_IFDIR ? 0700 : 0600));
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	if (archive_write_header(out, e) < ARCHIVE_WARN) {
		r = refuse_entry(ld, pn, archive_error_string(out));
		goto out;
	}
	if (type == S_IFREG) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int a;

		while ((a = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK) {
			if (archive_write_data_block(out, buf, len, off) < ARCHIVE_WARN) {
				r = dkms_err_set(ld->ctx, DKMS_E_FAIL, "%s: cannot extract '%s' into %s: %s",
						 ld->path, name, ld->tmp, archive_error_string(out));
				goto out;
			}
		}
		if (a != ARCHIVE_EOF) {
			r = refuse_entry(ld, pn, archive_error_string(in));
			goto out;
		}
	}
	if (archive_write_finish_entry(out) < ARCHIVE_WARN)
		r = dkms_err_set(ld->ctx, DKMS_E_FAIL, "%s: cannot extract '%s' into %s: %s", ld->path, name,
				 ld->tmp, archive_error_string(out));
out:
	free(name);
	free(pn);
	return r;
}

static int load_extract(struct loader *ld, int fd)
{
	struct archive *in = reader_new(), *out = archive_write_disk_new();
	int cwd, r = 0;
	size_t count = 0;
	int64_t total = 0;

	if (!out)
		abort();
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
						    ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	if (archive_read_open_fd(in, fd, 65536) != ARCHIVE_OK) {
		r = refuse_archive(ld, "not a tar archive (plain, gzip, xz, bzip2 or zstd)",
				   archive_error_string(in));
		goto done;
	}
	/* libarchive writes relative to the working directory: the private one, meanwhile */
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0 || fchdir(ld->tmp_fd) < 0) {
		r = dkms_err_set(ld->ctx, DKMS_E_FAIL, "cannot enter %s: %s", ld->tmp, strerror(errno));
		if (cwd >= 0)
			close(cwd);
		goto done;
	}
	for (;;) {
		struct archive_entry *e;
		int a = archive_read_next_header(in, &e);

		if (a == ARCHIVE_EOF)
			break;
		if (a < ARCHIVE_WARN) {
			r = refuse_archive(ld, "not a readable tar archive", archive_error_string(in));
			break;
		}
		if (++count > DKMS_TARBALL_MAX_ENTRIES) {
			r = refuse_archive(ld, "more than 100000 entries", NULL);
			break;
		}
		r = extract_entry(ld, in, out, e, &total);
		if (r)
			break;
	}
	if (fchdir(cwd) < 0 && !r)
		r = dkms_err_set(ld->ctx, DKMS_E_FAIL, "cannot return to the working directory: %s",
				 strerror(errno));
	close(cwd);
	if (!r && !count)
		r = refuse_archive(ld, "the archive is empty", NULL);
done:
	archive_write_free(out);
	archive_read_free(in);
	return r;
}

/* Resolve the link at rel (under root; its directories are real ones),
 * following links met on the way, as the kernel would but with root as
 * "/". false when the path ever goes above root, a link is absolute, or
 * there are more than 40 links. A missing component ends the lookup: the
 * rest is resolved by name. */
static bool link_stays_inside(int root, const char *rel)
{
	char **stack = NULL;
	size_t depth = 0;
	char *pending, *slash;
	int hops = 0;
	bool ok = true;

	pending = dkms_strdup(rel);
	slash = strrchr(pending, '/');
	if (slash) {
		char *dir = strndup(pending, (size_t)(slash - pending)), *save = NULL;
		char *base = dkms_strdup(slash + 1);

		if (!dir)
			abort();
		for (char *c = strtok_r(dir, "/", &save); c; c = strtok_r(NULL, "/", &save))
			dkms_strv_push(&stack, &depth, c);
		free(dir);
		free(pending);
		pending = base;
	}
	while (ok && *pending) {
		size_t len = strcspn(pending, "/");
		char *c = strndup(pending, len), *next;
		const char *rest = pending + len;

		if (!c)
			abort();
		while (*rest == '/')
			rest++;
		next = dkms_strdup(rest);
		if (!len || !strcmp(c, ".")) {
			/* nothing */
		} else if (!strcmp(c, "..")) {
			if (!depth)
				ok = false;
			else
				free(stack[--depth]);
		} else {
			char *p = dkms_strdup(c);
			struct stat st;

			for (size_t i = depth; i-- > 0;) {
				char *q = dkms_asprintf("%s/%s", stack[i], p);

				free(p);
				p = q;
			}
			if (fstatat(root, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
				char target[PATH_MAX];
				ssize_t n = readlinkat(root, p, target, sizeof(target) - 1);

				if (n <= 0 || ++hops > 40 || target[0] == '/') {
					ok = false;
				} else {
					target[n] = '\0';
					free(next);
					next = dkms_asprintf("%s/%s", target, rest);
				}
			} else {
				dkms_strv_push(&stack, &depth, c);
			}
			free(p);
		}
		free(c);
		free(pending);
		pending = next;
	}
	free(pending);
	dkms_strv_free(stack, depth);
	return ok;
}

/* Walk what was extracted: only directories, single-link files, and links
 * under dkms_source_tree that stay inside it. rel: a directory under tmp. */
static int load_check_tree(struct loader *ld, int src_root, const char *rel)
{
	int dfd = openat(ld->tmp_fd, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	int r = 0;

	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return dkms_err_set(ld->ctx, DKMS_E_FAIL, "cannot read %s/%s: %s", ld->tmp, rel,
				    strerror(errno));
	}
	for (struct dirent *de; !r && (de = readdir(d));) {
		struct stat st;
		char *child;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		child = rel[0] ? dkms_asprintf("%s/%s", rel, de->d_name) : dkms_strdup(de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			r = dkms_err_set(ld->ctx, DKMS_E_FAIL, "cannot read %s/%s: %s", ld->tmp, child,
					 strerror(errno));
		else if (S_ISDIR(st.st_mode))
			r = load_check_tree(ld, src_root, child);
		else if (S_ISLNK(st.st_mode)) {
			const char *in_src = !strncmp(child, "dkms_source_tree/", 17) ? child + 17 : NULL;

			if (!in_src || src_root < 0)
				r = refuse_entry(ld, child, dkms_tarball_reason(DKMS_TARBALL_BAD_SYMLINK));
			else if (!link_stays_inside(src_root, in_src))
				r = refuse_entry(ld, child,
						 "it is a symbolic link that leads outside the sources "
						 "(through other links, or more than 40 of them)");
		} else if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
			r = refuse_entry(ld, child, dkms_tarball_reason(DKMS_TARBALL_BAD_TYPE));
		}
		free(child);
	}
	closedir(d);
	return r;
}

static int tarball_load(struct dkms_ctx *ctx, const char *path, unsigned flags, char **name, char **version)
{
	struct loader ld = { .ctx = ctx, .path = path, .tmp_fd = -1 };
	struct dkms_conf *conf = NULL;
	char *src_conf = NULL, *bin_conf = NULL, *src_dir = NULL;
	size_t plen = strlen(path);
	struct stat st;
	bool made = false;
	int fd, r, e, src_root = -1;

	if (name)
		*name = NULL;
	if (version)
		*version = NULL;
	if ((flags & DKMS_TARBALL_SOURCE_ONLY) && (flags & DKMS_TARBALL_BINARIES_ONLY))
		return dkms_err_set(ctx, DKMS_E_USAGE,
				    "--source-only and --binaries-only exclude each other");
	if (plen > 4 && !strcmp(path + plen - 4, ".rpm"))
		return dkms_err_set(ctx, DKMS_E_USAGE,
				    "%s: an rpm package; install it with rpm, not ldtarball", path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return dkms_err_set(ctx, DKMS_E_USAGE,
				    "%s: %s; give the path of a tarball made by dkms mktarball", path,
				    strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return dkms_err_set(ctx, DKMS_E_USAGE,
				    "%s is not a file; give a tarball made by dkms mktarball", path);
	}
	e = dkms_mkdir_p(ctx->dkms_tree, 0755);
	if (e) {
		close(fd);
		return dkms_err_set(ctx, DKMS_E_FAIL, "cannot create %s: %s", ctx->dkms_tree, strerror(-e));
	}
	ld.tmp = dkms_asprintf("%s/.ldtarball.XXXXXX", ctx->dkms_tree);
	made = mkdtemp(ld.tmp) != NULL;
	if (!made || (ld.tmp_fd = open(ld.tmp, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = dkms_err_set(ctx, DKMS_E_FAIL,
				 "cannot create a directory in %s: %s; check that it is writable",
				 ctx->dkms_tree, strerror(errno));
		goto out;
	}
	r = load_extract(&ld, fd);
	if (r)
		goto out;
	src_dir = dkms_path_join(ld.tmp, "dkms_source_tree");
	if (dkms_is_dir(src_dir))
		src_root = open(src_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = load_check_tree(&ld, src_root, "");
	if (r)
		goto out;
	src_conf = dkms_path_join(src_dir, "dkms.conf");
	bin_conf = dkms_path_join(ld.tmp, "dkms_binaries_only/dkms.conf");
	bool has_src = dkms_is_file(src_conf);

	if (!has_src && !dkms_is_file(bin_conf)) {
		r = refuse_archive(&ld, "no dkms.conf in dkms_source_tree/ or dkms_binaries_only/",
				   "not a DKMS tarball");
		goto out;
	}
	r = dkms_module_conf_identity(ctx, has_src ? src_conf : bin_conf, &conf);
	if (r) {
		char *why = dkms_strdup(dkms_ctx_error(ctx));

		r = dkms_err_set(ctx, r, "%s: its dkms.conf is not usable, nothing was loaded: %s", path,
				 why);
		free(why);
		goto out;
	}
	if (!dkms_valid_name(conf->name) || !dkms_valid_name(conf->version) || conf->name[0] == '.' ||
	    conf->version[0] == '.') {
		r = refuse_archive(&ld, "its dkms.conf gives an unusable PACKAGE_NAME or PACKAGE_VERSION",
				   NULL);
		goto out;
	}
	r = dkms_tarball_place(ctx, path, ld.tmp, flags, conf, has_src);
	if (!r && name)
		*name = dkms_strdup(conf->name);
	if (!r && version)
		*version = dkms_strdup(conf->version);
out:
	dkms_conf_free(conf);
	if (src_root >= 0)
		close(src_root);
	if (ld.tmp_fd >= 0)
		close(ld.tmp_fd);
	if (made)
		dkms_rm_rf(ld.tmp);
	free(ld.tmp);
	free(src_conf);
	free(bin_conf);
	free(src_dir);
	close(fd);
	return r;
}

int dkms_tarball_load(struct dkms_ctx *ctx, const char *path, unsigned flags, char **name, char **version)
{
	int r = dkms_lock_take(ctx);

	if (r)
		return r;
	r = tarball_load(ctx, path, flags, name, version);
	dkms_lock_drop(ctx);
	return r;
}
