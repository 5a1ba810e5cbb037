/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dkms status and the tree readers over a tree built from the input. The
 * bytes are a tiny program: each op makes a module or version directory, a
 * source link, a built module, an installed link, an original_module
 * directory, an installed file or a modules.dep line, a stray symlink or a
 * file where a directory belongs. Names come from a pool of meaningful
 * ones or from the input. Every link points inside the scratch root, and
 * no op goes through a link, so nothing outside the root can be reached.
 * Then: status (all, and filtered), the module / version / built lists,
 * the installed version and the installed file lookups must not crash, and
 * must name only entries of the tree and paths under its roots.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_OPS	  48
#define MAX_DEPTH 8
#define NAME_LEN  32 /* the longest pool name, and 12 input bytes */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[PATH_MAX], tree[PATH_MAX], src[PATH_MAX], inst[PATH_MAX];
static struct dkms_ctx *ctx;

static void cleanup(void)
{
	dkms_ctx_free(ctx);
	dkms_rm_rf(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : P_tmpdir;

	snprintf(root, sizeof(root), "%s/dkms-fuzz-status.XXXXXX", base);
	if (!mkdtemp(root))
		abort();
	snprintf(tree, sizeof(tree), "%s/t", root);
	snprintf(src, sizeof(src), "%s/s", root);
	snprintf(inst, sizeof(inst), "%s/m", root);
	struct dkms_paths p = { .dkms_tree = tree,
				.source_tree = src,
				.install_tree = inst,
				.conf_dir = "/nonexistent/dkms-fuzz" };
	dkms_ctx_new(&p, &ctx);
	if (!ctx)
		abort();
	atexit(cleanup);
	return 0;
}

struct in {
	const uint8_t *d;
	size_t n, pos;
};

static unsigned byte(struct in *in)
{
	return in->pos < in->n ? in->d[in->pos++] : 0;
}

static const char *const pool[] = {
	"a",
	"b",
	"hello",
	"1.0",
	"1.10",
	"1.9",
	"2.0~rc1",
	"6.1.0-55-amd64",
	"6.1.0-56-amd64",
	"x86_64",
	"source",
	"module",
	"log",
	"original_module",
	"kernel-6.1.0-55-amd64-x86_64",
	"hello.ko",
	".tmp",
	"kernel-x-y",
	"5.x",
	"updates",
	"dkms",
	"extra",
};

/* A name: from the pool, or up to 12 input bytes with '/' and NUL replaced; never "." or "..". */
static void name(struct in *in, char *out)
{
	unsigned b = byte(in);

	if (b < 0xc0) {
		strcpy(out, pool[b % DKMS_ARRAY_SIZE(pool)]);
		return;
	}
	size_t len = 1 + (b & 0x0b);
	for (size_t i = 0; i < len; i++) {
		unsigned c = byte(in);

		out[i] = c == '/' || c == 0 ? '_' : (char)c;
	}
	out[len] = '\0';
	if (!strcmp(out, ".") || !strcmp(out, ".."))
		strcpy(out, "_");
}

/* Make the directories of comps[0..n) under root (never through a link); return an fd of the last. */
static int dir_at(char comps[][NAME_LEN], size_t n)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	for (size_t i = 0; fd >= 0 && i < n; i++) {
		int nfd;

		mkdirat(fd, comps[i], 0755);
		nfd = openat(fd, comps[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = nfd;
	}
	return fd;
}

/* A link target inside root: up to depth "..", then names; or root's absolute path, then names. */
static void target(struct in *in, size_t depth, char *out, size_t size)
{
	unsigned b = byte(in);
	size_t ups = b & 0x80 ? 0 : (b & 7) % (depth + 1), parts = (b >> 3) & 3;
	char part[NAME_LEN];

	out[0] = '\0';
	if (b & 0x80) {
		strncat(out, root, size - strlen(out) - 1);
		strncat(out, "/", size - strlen(out) - 1);
	}
	for (size_t i = 0; i < ups; i++)
		strncat(out, "../", size - strlen(out) - 1);
	for (size_t i = 0; i < parts; i++) {
		unsigned c = byte(in) % 6;

		/* the roots, or a name */
		if (c == 0)
			strcpy(part, "t");
		else if (c == 1)
			strcpy(part, "s");
		else if (c == 2)
			strcpy(part, "m");
		else
			name(in, part);
		strncat(out, part, size - strlen(out) - 1);
		if (i + 1 < parts)
			strncat(out, "/", size - strlen(out) - 1);
	}
	if (!*out)
		strcpy(out, ".");
}

static void put_file(int dfd, const char *file, struct in *in)
{
	char body[8];
	size_t len = byte(in) % sizeof(body);
	int fd = openat(dfd, file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);

	for (size_t i = 0; i < len; i++)
		body[i] = (char)byte(in);
	if (fd >= 0) {
		if (write(fd, body, len) < 0)
			(void)0;
		close(fd);
	}
}

/* A file, named from the input, in the directory made of the first n components. */
static void put_file_under(char comps[][NAME_LEN], size_t n, struct in *in)
{
	char file[NAME_LEN];
	int fd = dir_at(comps, n);

	name(in, file);
	if (fd >= 0) {
		put_file(fd, file, in);
		close(fd);
	}
}

static void run_op(struct in *in)
{
	char c[MAX_DEPTH][NAME_LEN], t[PATH_MAX], line[128];
	unsigned op = byte(in) % 8;
	size_t n = 0;
	int fd;

	strcpy(c[n++], "t");
	switch (op) {
	case 0: /* <m>/<v>/source -> <source_tree>/<m>-<v> (made or not) */
		name(in, c[n++]);
		name(in, c[n++]);
		fd = dir_at(c, n);
		snprintf(t, sizeof(t), "%s/%s-%s", src, c[1], c[2]);
		if (fd >= 0) {
			if (byte(in) & 1)
				mkdir(t, 0755);
			symlinkat(t, fd, "source");
			close(fd);
		}
		break;
	case 1: /* <m>/<v>/<kver>/<arch>/module/<file> */
		for (int i = 0; i < 4; i++)
			name(in, c[n++]);
		strcpy(c[n++], "module");
		put_file_under(c, n, in);
		break;
	case 2: /* <m>/kernel-<kver>-<arch> -> a target */
		name(in, c[n++]);
		fd = dir_at(c, n);
		{
			char k[NAME_LEN], a[NAME_LEN], l[3 * NAME_LEN];

			name(in, k);
			name(in, a);
			snprintf(l, sizeof(l), "kernel-%s-%s", k, a);
			if (byte(in) & 1) {
				char v[NAME_LEN];

				name(in, v);
				snprintf(t, sizeof(t), "%s%s/%s/%s", byte(in) & 1 ? "" : "../", v, k, a);
			} else {
				target(in, n, t, sizeof(t));
			}
			if (fd >= 0)
				symlinkat(t, fd, l);
		}
		if (fd >= 0)
			close(fd);
		break;
	case 3: /* <m>/original_module/<kver>/<arch> */
		name(in, c[n++]);
		strcpy(c[n++], "original_module");
		name(in, c[n++]);
		name(in, c[n++]);
		fd = dir_at(c, n);
		if (fd >= 0)
			close(fd);
		break;
	case 4: /* <install_tree>/<kver>/<dir>/<file> */
		strcpy(c[0], "m");
		name(in, c[n++]);
		for (unsigned i = byte(in) % 3; i; i--)
			name(in, c[n++]);
		put_file_under(c, n, in);
		break;
	case 5: /* <install_tree>/<kver>/modules.dep: a line "<path>:" */
		strcpy(c[0], "m");
		name(in, c[n++]);
		fd = dir_at(c, n);
		target(in, n, t, sizeof(t));
		snprintf(line, sizeof(line), "%s:\n", t);
		if (fd >= 0) {
			int f = openat(fd, "modules.dep",
				       O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);

			if (f >= 0) {
				if (write(f, line, strlen(line)) < 0)
					(void)0;
				close(f);
			}
			close(fd);
		}
		break;
	case 6: /* a link anywhere in the dkms tree */
	case 7: /* a file anywhere in the dkms tree */
		for (unsigned i = byte(in) % 4; i; i--)
			name(in, c[n++]);
		fd = dir_at(c, n);
		name(in, line);
		if (fd >= 0) {
			if (op == 6) {
				target(in, n, t, sizeof(t));
				symlinkat(t, fd, line);
			} else {
				put_file(fd, line, in);
			}
			close(fd);
		}
		break;
	}
}

static void fail(const char *what, const char *a, const char *b)
{
	fprintf(stderr, "status: %s: '%s' '%s'\n", what, a ? a : "(null)", b ? b : "(null)");
	abort();
}

/*
 * A path to a directory of the dkms tree, from names the readers returned:
 * each one entry (no '/', not "." or "..", not one of our dot-names). The
 * status lines (strict) also never carry control characters.
 */
static void check_dir(const char *m, const char *v, const char *k, const char *a, bool strict)
{
	const char *parts[] = { m, v, k, a };
	char p[PATH_MAX * 2];
	struct stat st;

	for (size_t i = 0; i < 4 && parts[i]; i++)
		if (!*parts[i] || strchr(parts[i], '/') || parts[i][0] == '.' ||
		    (strict && !dkms_valid_name(parts[i])))
			fail("returned a name that is not one tree entry", parts[i],
			     i == 0   ? "module"
			     : i == 1 ? "version"
			     : i == 2 ? "kernel"
				      : "arch");
	snprintf(p, sizeof(p), "%s/%s%s%s%s%s%s%s", tree, m, v ? "/" : "", v ? v : "", k ? "/" : "",
		 k ? k : "", a ? "/" : "", a ? a : "");
	if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
		fail("returned an entry that is not a directory of the tree", p, NULL);
}

static void check_installed_file(const char *kver, const char *file)
{
	char *p = dkms_tree_find_installed_file(ctx, kver, file);
	size_t l = strlen(inst);

	if (p && (strncmp(p, inst, l) || p[l] != '/' || strncmp(p + l + 1, kver, strlen(kver)) ||
		  p[l + 1 + strlen(kver)] != '/' || strstr(p, "/../")))
		fail("installed file outside <install_tree>/<kver>", p, file);
	free(p);
}

static void check_status(const struct dkms_status_filter *f)
{
	struct dkms_status *st;
	size_t n;

	if (dkms_status_list(ctx, f, &st, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		char *line = dkms_status_format(&st[i]);

		if (!line)
			abort();
		free(line);
		if (st[i].state == DKMS_STATE_BROKEN)
			check_dir(st[i].module, st[i].version, NULL, NULL, true);
		else
			check_dir(st[i].module, st[i].version, st[i].kver, st[i].arch, true);
		if (!st[i].kver != !st[i].arch)
			fail("kver without arch", st[i].module, st[i].version);
	}
	dkms_status_list_free(st, n);
}

static void check_tree(void)
{
	char **ms, **vs, **ks, **as;
	size_t n_m, n_v, n_k;

	if (dkms_tree_list_modules(ctx, &ms, &n_m))
		return;
	for (size_t i = 0; i < n_m; i++) {
		check_dir(ms[i], NULL, NULL, NULL, false);
		if (dkms_tree_list_versions(ctx, ms[i], &vs, &n_v))
			continue;
		for (size_t j = 0; j < n_v; j++) {
			check_dir(ms[i], vs[j], NULL, NULL, true);
			if (dkms_tree_list_built(ctx, ms[i], vs[j], &ks, &as, &n_k))
				continue;
			for (size_t k = 0; k < n_k; k++) {
				char *iv = dkms_tree_installed_version(ctx, ms[i], ks[k], as[k]);
				char md[PATH_MAX * 2];
				char **files;
				size_t n_f;

				check_dir(ms[i], vs[j], ks[k], as[k], true);
				/* a dangling link still names a version (so it can be cleared): a name, no more */
				if (iv && (!dkms_valid_name(iv) || iv[0] == '.'))
					fail("installed version is not a version name", iv, ms[i]);
				free(iv);
				snprintf(md, sizeof(md), "%s/%s/%s/%s/%s/module", tree, ms[i], vs[j], ks[k],
					 as[k]);
				if (dkms_list_dir(md, &files, &n_f) == 0) {
					for (size_t f = 0; f < n_f; f++)
						check_installed_file(ks[k], files[f]);
					dkms_strv_free(files, n_f);
				}
			}
			dkms_strv_free(ks, n_k);
			dkms_strv_free(as, n_k);
		}
		dkms_strv_free(vs, n_v);
	}
	dkms_strv_free(ms, n_m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size, 0 };
	char mpat[NAME_LEN], vpat[NAME_LEN], kpat[NAME_LEN], apat[NAME_LEN];
	struct dkms_kref k;
	struct dkms_status_filter f = { 0 };

	dkms_rm_rf(tree);
	dkms_rm_rf(src);
	dkms_rm_rf(inst);
	mkdir(tree, 0755);
	mkdir(src, 0755);
	mkdir(inst, 0755);
	for (int i = 0; i < MAX_OPS && in.pos < in.n; i++)
		run_op(&in);
	check_tree();
	check_status(NULL);
	/* a filter from the rest of the input: shell patterns, as -m, -v and -k take them */
	name(&in, mpat);
	name(&in, vpat);
	name(&in, kpat);
	name(&in, apat);
	k.version = kpat;
	k.arch = byte(&in) & 1 ? apat : NULL;
	f.module = byte(&in) & 1 ? mpat : NULL;
	f.version = byte(&in) & 1 ? vpat : NULL;
	f.kernels = &k;
	f.n_kernels = byte(&in) & 1;
	check_status(&f);
	return 0;
}
