/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the unit tests share: a temporary directory per test and a context
 * over the usual tree layout inside it, helpers that write files, links and
 * source entries under it, a log capture, and a real module built from
 * tests/data/hello/ for the tests that need one.
 *
 * Each test binary is one file and Criterion runs each test in its own
 * process, so the fixture is file-scope state: `tmp` (the directory) and
 * `ctx` (the context, NULL until fixture_setup() makes one). A suite calls
 * fixture_setup() from its .init and fixture_teardown() from its .fini.
 */
#ifndef DKMS_TEST_FIXTURE_H
#define DKMS_TEST_FIXTURE_H

#include "internal.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <libkmod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The real kernel whose headers are installed (Debian 12). */
#define HELLO_KVER "6.1.0-55-amd64"

static char tmp[64];
static struct dkms_ctx *ctx;

/* ---- the temporary tree and the context ---- */

/* What fixture_setup() makes, besides the directory. */
enum fixture_flags {
	FX_DKMS_TREE = 1 << 0,	  /* create <tmp>/var/lib/dkms */
	FX_SOURCE_TREE = 1 << 1,  /* create <tmp>/usr/src */
	FX_INSTALL_TREE = 1 << 2, /* create <tmp>/lib/modules */
	FX_CONF_DIR = 1 << 3,	  /* create <tmp>/etc/dkms */
	FX_TREES = FX_DKMS_TREE | FX_SOURCE_TREE | FX_INSTALL_TREE | FX_CONF_DIR,
	FX_CTX = 1 << 4,     /* a context over the four (created or not) */
	FX_NO_DEST = 1 << 5, /* and without the distribution's DEST_MODULE_LOCATION override */
};

/* <tmp>/<rel>, malloc'd. */
static inline char *tpath(const char *rel)
{
	return dkms_path_join(tmp, rel);
}

static inline void mkdirs(const char *rel)
{
	char *p = tpath(rel);

	cr_assert_eq(dkms_mkdir_p(p, 0755), 0, "%s", p);
	free(p);
}

/* A new context into ctx over <tmp>'s dkms tree, source tree, install tree and conf dir. */
static inline void fixture_ctx_new(void)
{
	struct dkms_paths p = { 0 };
	char *dt = tpath("var/lib/dkms"), *st = tpath("usr/src"), *it = tpath("lib/modules");
	char *cd = tpath("etc/dkms");

	p.dkms_tree = dt;
	p.source_tree = st;
	p.install_tree = it;
	p.conf_dir = cd;
	cr_assert_eq(dkms_ctx_new(&p, &ctx), 0, "cannot make a context over %s", tmp);
	free(dt);
	free(st);
	free(it);
	free(cd);
}

/* A fresh /tmp/dkms-test-<name>-XXXXXX in tmp, and what flags ask for in it. */
static inline void fixture_setup(const char *name, unsigned flags)
{
	int n = snprintf(tmp, sizeof(tmp), "/tmp/dkms-test-%s-XXXXXX", name);

	cr_assert(n > 0 && (size_t)n < sizeof(tmp), "suite name too long: %s", name);
	cr_assert_not_null(mkdtemp(tmp));
	if (flags & FX_DKMS_TREE)
		mkdirs("var/lib/dkms");
	if (flags & FX_SOURCE_TREE)
		mkdirs("usr/src");
	if (flags & FX_INSTALL_TREE)
		mkdirs("lib/modules");
	if (flags & FX_CONF_DIR)
		mkdirs("etc/dkms");
	if (!(flags & FX_CTX))
		return;
	fixture_ctx_new();
	if (flags & FX_NO_DEST) {
		free(ctx->dest_override);
		ctx->dest_override = NULL;
	}
}

static inline void fixture_teardown(void)
{
	dkms_ctx_free(ctx);
	ctx = NULL;
	dkms_rm_rf(tmp);
}

/* ---- files under tmp ---- */

/* Write text to <tmp>/<rel>, creating directories; returns the path (malloc'd). */
static inline char *put_path(const char *rel, const char *text)
{
	char *p = tpath(rel), *d = dkms_strdup(p);

	*strrchr(d, '/') = '\0';
	cr_assert_eq(dkms_mkdir_p(d, 0755), 0, "%s", d);
	cr_assert_eq(dkms_write_file_atomic(p, text, strlen(text), 0644), 0, "%s", p);
	free(d);
	return p;
}

/* Write text to <tmp>/<rel>, creating directories. */
static inline void put(const char *rel, const char *text)
{
	free(put_path(rel, text));
}

/* <tmp>/<rel> -> target (verbatim), creating directories. */
static inline void link_to(const char *target, const char *rel)
{
	char *p = tpath(rel), *d = dkms_strdup(p);

	*strrchr(d, '/') = '\0';
	cr_assert_eq(dkms_mkdir_p(d, 0755), 0, "%s", d);
	cr_assert_eq(symlink(target, p), 0, "%s: %s", p, strerror(errno));
	free(d);
	free(p);
}

/* A module source under usr/src with this dkms.conf, and its source link, as dkms add leaves them. */
static inline void added_conf(const char *m, const char *v, const char *conf)
{
	char *src = dkms_asprintf("usr/src/%s-%s/dkms.conf", m, v);
	char *abs = dkms_asprintf("%s/usr/src/%s-%s", tmp, m, v);
	char *lnk = dkms_asprintf("var/lib/dkms/%s/%s/source", m, v);

	put(src, conf);
	link_to(abs, lnk);
	free(src);
	free(abs);
	free(lnk);
}

static inline void added(const char *m, const char *v)
{
	added_conf(m, v, "PACKAGE_NAME=x\n");
}

/* ---- the log ---- */

struct fixture_log {
	char text[16384]; /* "<prio>:<message>\n" per message */
	int n_warn;
};

static inline void fixture_log_cb(void *data, enum dkms_log_prio prio, const char *msg)
{
	struct fixture_log *l = data;
	size_t len = strlen(l->text);

	if (prio == DKMS_LOG_WARN)
		l->n_warn++;
	snprintf(l->text + len, sizeof(l->text) - len, "%d:%s\n", (int)prio, msg);
}

/* Empty l and send ctx's messages to it. */
static inline void fixture_log_capture(struct fixture_log *l)
{
	memset(l, 0, sizeof(*l));
	dkms_ctx_set_log_fn(ctx, fixture_log_cb, l);
}

/* ---- the source tree and a real module ---- */

/* The source tree's top: $srcdir (set by `make check`), else from __FILE__. */
static inline char *fixture_top_srcdir(void)
{
	const char *env = getenv("srcdir");
	const char *tail = "tests/unit/fixture.h";
	size_t flen = strlen(__FILE__), tlen = strlen(tail);

	if (env && *env)
		return dkms_strdup(env);
	if (flen >= tlen && strcmp(__FILE__ + flen - tlen, tail) == 0)
		return flen == tlen ? dkms_strdup(".") : dkms_asprintf("%.*s", (int)(flen - tlen), __FILE__);
	return dkms_strdup(".");
}

/* The tail of a build log, for a failure message. */
static inline char *hello_log_tail(const char *log)
{
	char *buf = NULL;
	size_t len = 0;

	if (dkms_read_file(log, &buf, &len) < 0)
		return dkms_strdup("(no log)");
	if (len > 1500) {
		char *t = dkms_strdup(buf + len - 1500);

		free(buf);
		return t;
	}
	return buf;
}

/*
 * Build tests/data/hello/ against the installed headers of HELLO_KVER in
 * <dir>/hello and return the path of hello.ko (malloc'd). Missing headers
 * fail the test with the package to install; nothing is skipped.
 */
static inline char *hello_build(const char *dir)
{
	char *top = fixture_top_srcdir();
	char *fixture = dkms_path_join(top, "tests/data/hello");
	char *hdir = dkms_path_join(dir, "hello");
	char *build = dkms_asprintf("/lib/modules/%s/build", HELLO_KVER);
	char *makefile = dkms_path_join(build, "Makefile");
	char *log = dkms_path_join(dir, "hello-make.log");
	char *mflag = dkms_asprintf("M=%s", hdir);
	char *ko = dkms_path_join(hdir, "hello.ko");
	int fd, st;

	cr_assert(dkms_is_file(makefile),
		  "kernel headers for %s are missing (%s): install linux-headers-%s to run this test",
		  HELLO_KVER, makefile, HELLO_KVER);
	cr_assert(dkms_is_dir(fixture), "fixture %s not found: run from the build dir or set srcdir",
		  fixture);
	cr_assert_eq(dkms_copy_tree(fixture, hdir), 0, "cannot copy %s to %s", fixture, hdir);

	/* a make of our own, not a sub-make of `make check` */
	unsetenv("MAKEFLAGS");
	unsetenv("MFLAGS");
	unsetenv("MAKELEVEL");
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0, "cannot create %s", log);
	{
		const char *argv[] = { "make", "-C", build, mflag, "modules", NULL };
		struct dkms_cmd cmd = { .argv = argv, .log_fd = fd };

		st = dkms_run(&cmd);
	}
	close(fd);
	if (st != 0 || !dkms_is_file(ko)) {
		char *tail = hello_log_tail(log);

		cr_assert_fail("building %s against %s failed (status %d):\n%s", hdir, build, st, tail);
	}
	free(top);
	free(fixture);
	free(hdir);
	free(build);
	free(makefile);
	free(log);
	free(mflag);
	return ko;
}

/* libkmod's view of a module file: the value of key, or NULL. */
static inline char *kmod_info(const char *path, const char *key)
{
	struct kmod_ctx *kctx = kmod_new(NULL, NULL);
	struct kmod_module *mod = NULL;
	struct kmod_list *info = NULL, *l;
	char *val = NULL;

	cr_assert_not_null(kctx);
	cr_assert_eq(kmod_module_new_from_path(kctx, path, &mod), 0, "kmod cannot open %s", path);
	cr_assert_geq(kmod_module_get_info(mod, &info), 0, "kmod cannot read %s", path);
	kmod_list_foreach(l, info)
	{
		if (!val && strcmp(kmod_module_info_get_key(l), key) == 0)
			val = dkms_strdup(kmod_module_info_get_value(l));
	}
	kmod_module_info_free_list(info);
	kmod_module_unref(mod);
	kmod_unref(kctx);
	return val;
}

#endif
