/* SPDX-License-Identifier: GPL-2.0-or-later */
/* status.c: dkms status lines over small trees written by hand in a temporary directory. */
#include "fixture.h"

#include <sys/stat.h>

#define K1 "6.1.0-55-amd64"
#define K2 "6.1.0-56-amd64"

static void setup(void)
{
	fixture_setup("status", FX_TREES | FX_CTX | FX_NO_DEST);
}

TestSuite(status, .init = setup, .fini = fixture_teardown);

static void built(const char *m, const char *v, const char *kver, const char *arch, const char *file,
		  const char *bytes)
{
	char *p = dkms_asprintf("var/lib/dkms/%s/%s/%s/%s/module/%s", m, v, kver, arch, file);

	put(p, bytes);
	free(p);
}

/* The installed link, relative as dkms writes it. */
static void installed(const char *m, const char *v, const char *kver, const char *arch)
{
	char *t = dkms_asprintf("%s/%s/%s", v, kver, arch);
	char *l = dkms_asprintf("var/lib/dkms/%s/kernel-%s-%s", m, kver, arch);

	link_to(t, l);
	free(t);
	free(l);
}

/* The module file as placed in the install tree. */
static void placed(const char *kver, const char *loc, const char *file, const char *bytes)
{
	char *p = dkms_asprintf("lib/modules/%s%s/%s", kver, loc, file);

	put(p, bytes);
	free(p);
}

/* All status lines joined by '\n'. */
static char *lines(const struct dkms_status_filter *f)
{
	struct dkms_status *st;
	size_t n;
	char *out = dkms_strdup("");

	cr_assert_eq(dkms_status_list(ctx, f, &st, &n), 0, "%s", dkms_ctx_error(ctx));
	for (size_t i = 0; i < n; i++) {
		char *l = dkms_status_format(&st[i]);
		char *j = dkms_asprintf("%s%s\n", out, l);

		free(l);
		free(out);
		out = j;
	}
	dkms_status_list_free(st, n);
	return out;
}

static void expect(const struct dkms_status_filter *f, const char *want)
{
	char *got = lines(f);

	cr_assert_str_eq(got, want, "got:\n%s\nwant:\n%s", got, want);
	free(got);
}

Test(status, empty_and_missing_tree)
{
	expect(NULL, "");
	char *dt = tpath("var/lib/dkms");

	dkms_rm_rf(dt);
	free(dt);
	expect(NULL, "");
}

Test(status, each_state)
{
	added("added", "1.0");
	added("built", "2.0");
	built("built", "2.0", K1, "x86_64", "built.ko", "B");
	added("inst", "3.0");
	built("inst", "3.0", K1, "x86_64", "inst.ko", "I");
	installed("inst", "3.0", K1, "x86_64");
	placed(K1, "/updates/dkms", "inst.ko", "I");
	link_to("/nonexistent/broken-4.0", "var/lib/dkms/broken/4.0/source");
	expect(NULL, "added/1.0: added\n"
		     "broken/4.0: broken\n"
		     "built/2.0, " K1 ", x86_64: built\n"
		     "inst/3.0, " K1 ", x86_64: installed\n");
}

Test(status, structured_fields)
{
	struct dkms_status *st;
	size_t n;

	added("m", "1");
	built("m", "1", K1, "x86_64", "m.ko", "x");
	cr_assert_eq(dkms_status_list(ctx, NULL, &st, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(st[0].module, "m");
	cr_assert_str_eq(st[0].version, "1");
	cr_assert_str_eq(st[0].kver, K1);
	cr_assert_str_eq(st[0].arch, "x86_64");
	cr_assert_eq(st[0].state, DKMS_STATE_BUILT);
	cr_assert_eq(st[0].flags, 0);
	dkms_status_list_free(st, n);

	dkms_rm_rf(tmp);
	added("a", "1");
	cr_assert_eq(dkms_status_list(ctx, NULL, &st, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(st[0].state, DKMS_STATE_ADDED);
	cr_assert_null(st[0].kver);
	cr_assert_null(st[0].arch);
	dkms_status_list_free(st, n);
}

Test(status, format_of_every_flag)
{
	struct dkms_status s = { .module = "m", .version = "1", .kver = K1, .arch = "x86_64" };
	char *l;

	s.state = DKMS_STATE_INSTALLED;
	s.flags = DKMS_STATUS_ORIGINAL_EXISTS | DKMS_STATUS_MISSING_INSTALLED | DKMS_STATUS_DIFFERS;
	l = dkms_status_format(&s);
	cr_assert_str_eq(l, "m/1, " K1 ", x86_64: installed (Original modules exist)"
			    " (Built modules are missing in the kernel modules folder)"
			    " (Differences between built and installed modules)");
	free(l);
	s.state = DKMS_STATE_BUILT;
	s.flags = 0;
	l = dkms_status_format(&s);
	cr_assert_str_eq(l, "m/1, " K1 ", x86_64: built");
	free(l);
	s.state = DKMS_STATE_ADDED;
	s.kver = s.arch = NULL;
	l = dkms_status_format(&s);
	cr_assert_str_eq(l, "m/1: added");
	free(l);
	s.state = DKMS_STATE_BROKEN;
	l = dkms_status_format(&s);
	cr_assert_str_eq(l, "m/1: broken");
	free(l);
}

Test(status, empty_module_dir_is_added)
{
	added("m", "1");
	mkdirs("var/lib/dkms/m/1/" K1 "/x86_64/module");
	put("var/lib/dkms/m/1/" K1 "/x86_64/log/make.log", "failed");
	expect(NULL, "m/1: added\n");
}

Test(status, original_modules_flag_on_built_and_installed)
{
	added("m", "1");
	built("m", "1", K1, "x86_64", "m.ko", "x");
	built("m", "1", K2, "x86_64", "m.ko", "x");
	installed("m", "1", K2, "x86_64");
	placed(K2, "/updates/dkms", "m.ko", "x");
	mkdirs("var/lib/dkms/m/original_module/" K1 "/x86_64");
	mkdirs("var/lib/dkms/m/original_module/" K2 "/x86_64");
	expect(NULL, "m/1, " K1 ", x86_64: built (Original modules exist)\n"
		     "m/1, " K2 ", x86_64: installed (Original modules exist)\n");
}

Test(status, missing_and_differs_flags)
{
	added("miss", "1");
	built("miss", "1", K1, "x86_64", "miss.ko", "x");
	installed("miss", "1", K1, "x86_64");
	added("diff", "1");
	built("diff", "1", K1, "x86_64", "diff.ko", "built bytes");
	installed("diff", "1", K1, "x86_64");
	placed(K1, "/updates/dkms", "diff.ko", "other bytes");
	added("size", "1");
	built("size", "1", K1, "x86_64", "size.ko", "short");
	installed("size", "1", K1, "x86_64");
	placed(K1, "/extra", "size.ko", "longer bytes");
	/* first problem wins, as upstream breaks out of its loop */
	added("two", "1");
	built("two", "1", K1, "x86_64", "a.ko", "A");
	built("two", "1", K1, "x86_64", "b.ko", "B");
	installed("two", "1", K1, "x86_64");
	placed(K1, "/updates", "a.ko", "not A");
	mkdirs("var/lib/dkms/two/original_module/" K1 "/x86_64");
	expect(NULL,
	       "diff/1, " K1 ", x86_64: installed (Differences between built and installed modules)\n"
	       "miss/1, " K1 ", x86_64: installed (Built modules are missing in the kernel modules folder)\n"
	       "size/1, " K1 ", x86_64: installed (Differences between built and installed modules)\n"
	       "two/1, " K1 ", x86_64: installed (Original modules exist)"
	       " (Differences between built and installed modules)\n");
}

Test(status, built_not_installed_has_no_install_flags)
{
	added("m", "1");
	built("m", "1", K1, "x86_64", "m.ko", "x");
	placed(K1, "/updates/dkms", "m.ko", "different");
	expect(NULL, "m/1, " K1 ", x86_64: built\n");
}

Test(status, installed_found_via_modules_dep_and_dest)
{
	added("m", "1");
	built("m", "1", K1, "x86_64", "m.ko.xz", "X");
	installed("m", "1", K1, "x86_64");
	placed(K1, "/kernel/drivers/misc", "m.ko.xz", "X");
	put("lib/modules/" K1 "/modules.dep", "kernel/drivers/misc/m.ko.xz:\n");
	expect(NULL, "m/1, " K1 ", x86_64: installed\n");

	added("n", "1");
	built("n", "1", K2, "x86_64", "n.ko", "N");
	installed("n", "1", K2, "x86_64");
	placed(K2, "/custom/place", "n.ko", "N");
	expect(NULL,
	       "m/1, " K1 ", x86_64: installed\n"
	       "n/1, " K2 ", x86_64: installed (Built modules are missing in the kernel modules folder)\n");
	ctx->dest_override = dkms_strdup("/custom/place");
	expect(NULL, "m/1, " K1 ", x86_64: installed\n"
		     "n/1, " K2 ", x86_64: installed\n");
}

Test(status, installed_link_forms)
{
	added("m", "1");
	added("m", "2");
	built("m", "1", K1, "x86_64", "m.ko", "1");
	built("m", "2", K1, "x86_64", "m.ko", "2");
	built("m", "1", K2, "x86_64", "m.ko", "1");
	built("m", "2", K2, "x86_64", "m.ko", "2");
	placed(K1, "/updates/dkms", "m.ko", "2");
	placed(K2, "/updates/dkms", "m.ko", "1");
	/* relative link to version 2 on K1; absolute link to version 1 on K2 */
	installed("m", "2", K1, "x86_64");
	char *abs = dkms_asprintf("%s/var/lib/dkms/m/1/" K2 "/x86_64", tmp);

	link_to(abs, "var/lib/dkms/m/kernel-" K2 "-x86_64");
	free(abs);
	expect(NULL, "m/1, " K1 ", x86_64: built\n"
		     "m/1, " K2 ", x86_64: installed\n"
		     "m/2, " K1 ", x86_64: installed\n"
		     "m/2, " K2 ", x86_64: built\n");
}

Test(status, sort_order_is_glob_order)
{
	added("alpha", "1");
	added("Zeta", "1");
	added("a-b", "1");
	added("a", "1");
	added("a", "1.9");
	added("a", "1.10");
	added("a", "1-rc");
	built("a", "1", "6.1", "x86_64", "a.ko", "x");
	built("a", "1", "6.1-rt", "x86_64", "a.ko", "x");
	built("a", "1", "10.0", "x86_64", "a.ko", "x");
	built("a", "1", "6.1", "aarch64", "a.ko", "x");
	/* "a-b/1" < "a/1" because '-' < '/'; uppercase first; "1.10" < "1.9" */
	expect(NULL, "Zeta/1: added\n"
		     "a-b/1: added\n"
		     "a/1, 10.0, x86_64: built\n"
		     "a/1, 6.1-rt, x86_64: built\n"
		     "a/1, 6.1, aarch64: built\n"
		     "a/1, 6.1, x86_64: built\n"
		     "a/1-rc: added\n"
		     "a/1.10: added\n"
		     "a/1.9: added\n"
		     "alpha/1: added\n");
}

Test(status, skipped_entries)
{
	added("m", "1");
	built("m", "1", K1, "x86_64", "m.ko", "x");
	installed("m", "1", K1, "x86_64");
	placed(K1, "/updates/dkms", "m.ko", "x");
	/* ours, dot-names at every level */
	added(".build", "1");
	mkdirs("var/lib/dkms/.build/" K1 "/x86_64/m/1/build");
	added("m", ".hidden");
	built("m", "1", ".tmp", "x86_64", "m.ko", "x");
	built("m", "1", K2, ".x86_64.dkms-rm.1", "m.ko", "x");
	put("var/lib/dkms/m/1/" K1 "/x86_64/module/.m.ko.dkms-tmp.1", "partial");
	/* not kernels: build dir, log, non-numeric names */
	built("m", "1", "build", "x86_64", "m.ko", "x");
	built("m", "1", "linux", "x86_64", "m.ko", "x");
	/* not versions: original_module, junk without a source */
	mkdirs("var/lib/dkms/m/original_module/" K2 "/x86_64");
	mkdirs("var/lib/dkms/m/9/" K1 "/x86_64/module");
	/* files at the top */
	put("var/lib/dkms/mok.key", "k");
	put("var/lib/dkms/mok.pub", "p");
	expect(NULL, "m/1, " K1 ", x86_64: installed\n");
}

/* Found by fuzz/fuzz-status: a kernel or arch directory whose name holds control characters
 * showed in status (and on the terminal) with a pattern filter, though dkms_tree_is_built refuses it. */
Test(status, names_with_control_characters_are_not_entries)
{
	added("m", "1");
	built("m", "1", K1, "x86_64", "m.ko", "x");
	built("m", "1", "6.1.0\033[2J", "x86_64", "m.ko", "x");
	built("m", "1", K2, "x86\001", "m.ko", "x");
	added("m\002", "1");
	added("m", "2\n");
	expect(NULL, "m/1, " K1 ", x86_64: built\n");
	expect(&(struct dkms_status_filter){ .module = "m*",
					     .version = "*",
					     .kernels = &(struct dkms_kref){ .version = "*", .arch = "*" },
					     .n_kernels = 1 },
	       "m/1, " K1 ", x86_64: built\n");
}

Test(status, filters)
{
	struct dkms_kref k1 = { K1, NULL }, k1a = { K1, "i686" }, k2 = { K2, NULL };
	struct dkms_kref two[] = { { K2, NULL }, { K1, "x86_64" } };

	added("foo", "1");
	added("foo", "2");
	added("foobar", "1");
	added("other", "1");
	link_to("/nonexistent", "var/lib/dkms/zbroken/1/source");
	built("foo", "1", K1, "x86_64", "foo.ko", "x");
	built("foo", "1", K1, "i686", "foo.ko", "x");
	built("foo", "2", K2, "x86_64", "foo.ko", "x");

	expect(&(struct dkms_status_filter){ .module = "foo" }, "foo/1, " K1 ", i686: built\n"
								"foo/1, " K1 ", x86_64: built\n"
								"foo/2, " K2 ", x86_64: built\n");
	expect(&(struct dkms_status_filter){ .module = "foo", .version = "2" },
	       "foo/2, " K2 ", x86_64: built\n");
	expect(&(struct dkms_status_filter){ .module = "foo", .version = "3" }, "");
	expect(&(struct dkms_status_filter){ .module = "nosuch" }, "");
	expect(&(struct dkms_status_filter){ .module = "", .version = "" }, "foo/1, " K1 ", i686: built\n"
									    "foo/1, " K1 ", x86_64: built\n"
									    "foo/2, " K2 ", x86_64: built\n"
									    "foobar/1: added\n"
									    "other/1: added\n"
									    "zbroken/1: broken\n");
	/* a pattern, as upstream's glob takes it */
	expect(&(struct dkms_status_filter){ .module = "foo*", .version = "1" },
	       "foo/1, " K1 ", i686: built\n"
	       "foo/1, " K1 ", x86_64: built\n"
	       "foobar/1: added\n");
	/* a kernel: versions with nothing built for it show as added */
	expect(&(struct dkms_status_filter){ .module = "foo", .kernels = &k1, .n_kernels = 1 },
	       "foo/1, " K1 ", i686: built\n"
	       "foo/1, " K1 ", x86_64: built\n"
	       "foo/2: added\n");
	expect(&(struct dkms_status_filter){ .module = "foo", .kernels = &k1a, .n_kernels = 1 },
	       "foo/1, " K1 ", i686: built\n"
	       "foo/2: added\n");
	expect(&(struct dkms_status_filter){ .kernels = &k2, .n_kernels = 1 },
	       "foo/1: added\n"
	       "foo/2, " K2 ", x86_64: built\n"
	       "foobar/1: added\n"
	       "other/1: added\n"
	       "zbroken/1: broken\n");
	/* several kernels: the listing repeats per kernel, in the order given */
	expect(&(struct dkms_status_filter){ .module = "foo", .kernels = two, .n_kernels = 2 },
	       "foo/1: added\n"
	       "foo/2, " K2 ", x86_64: built\n"
	       "foo/1, " K1 ", x86_64: built\n"
	       "foo/2: added\n");
	/* no escaping the tree through a filter */
	expect(&(struct dkms_status_filter){ .module = "../dkms/foo" }, "");
	expect(&(struct dkms_status_filter){ .module = "foo", .version = "../foo/1" }, "");
}

Test(status, literal_kernel_filter_needs_no_numeric_name)
{
	struct dkms_kref k = { "custom", "x86_64" };

	added("m", "1");
	built("m", "1", "custom", "x86_64", "m.ko", "x");
	expect(NULL, "m/1: added\n");
	expect(&(struct dkms_status_filter){ .kernels = &k, .n_kernels = 1 }, "m/1, custom, x86_64: built\n");
}

Test(status, broken_forms)
{
	struct dkms_kref k1 = { K1, NULL }, k2 = { K2, NULL };
	struct dkms_kref two[] = { k1, k2 };

	/* dangling link */
	link_to("/nonexistent/a-1", "var/lib/dkms/a/1/source");
	/* link missing, sources present */
	mkdirs("usr/src/b-1");
	mkdirs("var/lib/dkms/b/1/" K1 "/x86_64/module");
	/* link missing, no sources: not shown at all */
	mkdirs("var/lib/dkms/c/1/" K1 "/x86_64/module");
	expect(NULL, "a/1: broken\n"
		     "b/1: broken\n");
	/* repeated per kernel, like upstream */
	expect(&(struct dkms_status_filter){ .module = "a", .kernels = two, .n_kernels = 2 },
	       "a/1: broken\n"
	       "a/1: broken\n");
}

Test(status, names_with_spaces)
{
	added("my mod", "1.0 beta");
	built("my mod", "1.0 beta", K1, "x86_64", "my mod.ko", "x");
	installed("my mod", "1.0 beta", K1, "x86_64");
	placed(K1, "/updates/dkms", "my mod.ko", "x");
	added("my mod", "2 0");
	expect(NULL, "my mod/1.0 beta, " K1 ", x86_64: installed\n"
		     "my mod/2 0: added\n");
	expect(&(struct dkms_status_filter){ .module = "my mod", .version = "2 0" }, "my mod/2 0: added\n");
}

Test(status, through_symlinked_dkms_tree)
{
	struct dkms_paths p = { 0 };
	struct dkms_ctx *saved = ctx;
	char *real = tpath("var/lib/dkms"), *alias = tpath("alias"), *it = tpath("lib/modules");
	char *cd = tpath("etc/dkms");

	added("m", "1");
	built("m", "1", K1, "x86_64", "m.ko", "x");
	placed(K1, "/updates/dkms", "m.ko", "x");
	char *abs = dkms_asprintf("%s/m/1/" K1 "/x86_64", real);

	link_to(abs, "var/lib/dkms/m/kernel-" K1 "-x86_64");
	cr_assert_eq(symlink(real, alias), 0);
	p.dkms_tree = alias;
	p.install_tree = it;
	p.conf_dir = cd;
	cr_assert_eq(dkms_ctx_new(&p, &ctx), 0);
	expect(NULL, "m/1, " K1 ", x86_64: installed\n");
	dkms_ctx_free(ctx);
	ctx = saved;
	free(abs);
	free(real);
	free(alias);
	free(it);
	free(cd);
}

Test(status, many_modules_fast)
{
	struct dkms_status *st;
	size_t n;
	char name[32];

	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "mod%03d", i);
		added(name, "1.0");
		char *f = dkms_asprintf("%s.ko", name);

		built(name, "1.0", K1, "x86_64", f, "x");
		installed(name, "1.0", K1, "x86_64");
		placed(K1, "/updates/dkms", f, "x");
		free(f);
	}
	cr_assert_eq(dkms_status_list(ctx, NULL, &st, &n), 0);
	cr_assert_eq(n, 200);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(st[i].state, DKMS_STATE_INSTALLED);
	cr_assert_str_eq(st[0].module, "mod000");
	cr_assert_str_eq(st[199].module, "mod199");
	dkms_status_list_free(st, n);
}
