/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tree.c: the registry on disk, over small trees written by hand in a temporary directory. */
#include "fixture.h"

#include <limits.h>
#include <sys/stat.h>

static void setup(void)
{
	fixture_setup("tree", FX_TREES | FX_CTX | FX_NO_DEST);
}

TestSuite(tree, .init = setup, .fini = fixture_teardown);

static bool texists(const char *rel)
{
	char *p = tpath(rel);
	bool r = dkms_exists(p);

	free(p);
	return r;
}

static char *treadlink(const char *rel)
{
	char buf[PATH_MAX], *p = tpath(rel);
	ssize_t n = readlink(p, buf, sizeof(buf) - 1);

	free(p);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return dkms_strdup(buf);
}

static void built(const char *m, const char *v, const char *kver, const char *arch, const char *file)
{
	char *p = dkms_asprintf("var/lib/dkms/%s/%s/%s/%s/module/%s", m, v, kver, arch, file);

	put(p, "ELF");
	free(p);
}

/* Fail if a dot-name temporary was left next to the given tree dir. */
static void assert_no_dot_entries(const char *rel)
{
	char **names = NULL, *p = tpath(rel);
	size_t n = 0;

	if (dkms_list_dir(p, &names, &n) == 0)
		for (size_t i = 0; i < n; i++)
			cr_assert_neq(names[i][0], '.', "left over: %s/%s", p, names[i]);
	dkms_strv_free(names, n);
	free(p);
}

Test(tree, kdir_and_conf_path)
{
	char *k = dkms_tree_kdir(ctx, "m", "1.0", "6.1.0-1-amd64", "x86_64");
	char *want = dkms_asprintf("%s/var/lib/dkms/m/1.0/6.1.0-1-amd64/x86_64", tmp);

	cr_assert_str_eq(k, want);
	free(k);
	free(want);

	char *c = dkms_tree_conf_path(ctx, "m", "1.0");

	want = dkms_asprintf("%s/var/lib/dkms/m/1.0/source/dkms.conf", tmp);
	cr_assert_str_eq(c, want);
	free(c);
	free(want);

	ctx->opts.conf_file = "/somewhere/dkms.conf";
	c = dkms_tree_conf_path(ctx, "m", "1.0");
	cr_assert_str_eq(c, "/somewhere/dkms.conf");
	free(c);
	ctx->opts.conf_file = NULL;
}

Test(tree, added_states)
{
	added("good", "1");
	cr_assert(dkms_tree_is_added(ctx, "good", "1"));
	cr_assert_not(dkms_tree_is_broken(ctx, "good", "1"));

	/* dangling link: broken, not added */
	link_to("/nonexistent/src", "var/lib/dkms/dangling/1/source");
	cr_assert_not(dkms_tree_is_added(ctx, "dangling", "1"));
	cr_assert(dkms_tree_is_broken(ctx, "dangling", "1"));

	/* link to a file: broken */
	put("usr/src/afile", "x");
	char *f = tpath("usr/src/afile");

	link_to(f, "var/lib/dkms/tofile/1/source");
	free(f);
	cr_assert(dkms_tree_is_broken(ctx, "tofile", "1"));
	cr_assert_not(dkms_tree_is_added(ctx, "tofile", "1"));

	/* link missing while the sources are in the source tree: broken */
	mkdirs("usr/src/nolink-2");
	mkdirs("var/lib/dkms/nolink/2");
	cr_assert(dkms_tree_is_broken(ctx, "nolink", "2"));
	cr_assert_not(dkms_tree_is_added(ctx, "nolink", "2"));

	/* link missing and no sources: neither */
	mkdirs("var/lib/dkms/junk/3/6.1.0-1-amd64");
	cr_assert_not(dkms_tree_is_broken(ctx, "junk", "3"));
	cr_assert_not(dkms_tree_is_added(ctx, "junk", "3"));

	/* a real directory (dkms 3.0.10 binaries-only ldtarball): added */
	put("var/lib/dkms/binonly/4/source/dkms.conf", "PACKAGE_NAME=binonly\n");
	cr_assert(dkms_tree_is_added(ctx, "binonly", "4"));
	cr_assert_not(dkms_tree_is_broken(ctx, "binonly", "4"));

	/* nothing at all, and bad names */
	cr_assert_not(dkms_tree_is_added(ctx, "none", "1"));
	cr_assert_not(dkms_tree_is_broken(ctx, "none", "1"));
	cr_assert_not(dkms_tree_is_added(ctx, "good", ".."));
	cr_assert_not(dkms_tree_is_added(ctx, "", "1"));
	cr_assert_not(dkms_tree_is_added(ctx, "good/1", "source"));
}

Test(tree, built_needs_a_file_in_module)
{
	added("m", "1");
	mkdirs("var/lib/dkms/m/1/6.1.0-1-amd64/x86_64/module");
	cr_assert_not(dkms_tree_is_built(ctx, "m", "1", "6.1.0-1-amd64", "x86_64"));
	put("var/lib/dkms/m/1/6.1.0-1-amd64/x86_64/module/.tmp", "partial");
	cr_assert_not(dkms_tree_is_built(ctx, "m", "1", "6.1.0-1-amd64", "x86_64"));
	mkdirs("var/lib/dkms/m/1/6.1.0-1-amd64/x86_64/module/subdir");
	cr_assert_not(dkms_tree_is_built(ctx, "m", "1", "6.1.0-1-amd64", "x86_64"));
	put("var/lib/dkms/m/1/6.1.0-1-amd64/x86_64/log/make.log", "log");
	cr_assert_not(dkms_tree_is_built(ctx, "m", "1", "6.1.0-1-amd64", "x86_64"));
	built("m", "1", "6.1.0-1-amd64", "x86_64", "m.ko.xz");
	cr_assert(dkms_tree_is_built(ctx, "m", "1", "6.1.0-1-amd64", "x86_64"));
	cr_assert_not(dkms_tree_is_built(ctx, "m", "1", "6.1.0-1-amd64", "i686"));
	cr_assert_not(dkms_tree_is_built(ctx, "m", "1", "6.1.0-2-amd64", "x86_64"));

	/* a symlinked module file (symlink to a regular file) counts */
	put("elsewhere/n.ko", "ELF");
	char *t = tpath("elsewhere/n.ko");

	link_to(t, "var/lib/dkms/m/1/6.1.0-3-amd64/x86_64/module/n.ko");
	free(t);
	cr_assert(dkms_tree_is_built(ctx, "m", "1", "6.1.0-3-amd64", "x86_64"));
}

Test(tree, installed_version_from_links)
{
	added("m", "1.0");
	built("m", "1.0", "6.1.0-1-amd64", "x86_64", "m.ko");
	built("m", "1.0", "6.1.0-2-amd64", "x86_64", "m.ko");
	cr_assert_null(dkms_tree_installed_version(ctx, "m", "6.1.0-1-amd64", "x86_64"));

	/* relative, as dkms 3.0.10 writes it */
	link_to("1.0/6.1.0-1-amd64/x86_64", "var/lib/dkms/m/kernel-6.1.0-1-amd64-x86_64");
	char *v = dkms_tree_installed_version(ctx, "m", "6.1.0-1-amd64", "x86_64");

	cr_assert_str_eq(v, "1.0");
	free(v);

	/* absolute (older dkms) */
	char *abs = dkms_asprintf("%s/var/lib/dkms/m/1.0/6.1.0-2-amd64/x86_64", tmp);

	link_to(abs, "var/lib/dkms/m/kernel-6.1.0-2-amd64-x86_64");
	free(abs);
	v = dkms_tree_installed_version(ctx, "m", "6.1.0-2-amd64", "x86_64");
	cr_assert_str_eq(v, "1.0");
	free(v);

	/* a link to another kernel's dir installs nothing for this one */
	link_to("1.0/6.1.0-1-amd64/x86_64", "var/lib/dkms/m/kernel-6.1.0-9-amd64-x86_64");
	cr_assert_null(dkms_tree_installed_version(ctx, "m", "6.1.0-9-amd64", "x86_64"));

	/* dangling absolute link into the tree is still read, so it can be cleared */
	abs = dkms_asprintf("%s/var/lib/dkms/m/0.9/6.1.0-5-amd64/x86_64", tmp);
	link_to(abs, "var/lib/dkms/m/kernel-6.1.0-5-amd64-x86_64");
	free(abs);
	v = dkms_tree_installed_version(ctx, "m", "6.1.0-5-amd64", "x86_64");
	cr_assert_str_eq(v, "0.9");
	free(v);

	/* a link out of the tree */
	link_to("/usr", "var/lib/dkms/m/kernel-6.1.0-6-amd64-x86_64");
	cr_assert_null(dkms_tree_installed_version(ctx, "m", "6.1.0-6-amd64", "x86_64"));

	/* found by fuzz/fuzz-status: a link to one of our dot-names (a temporary entry) is no version */
	built("m", ".tmp", "6.1.0-7-amd64", "x86_64", "m.ko");
	link_to(".tmp/6.1.0-7-amd64/x86_64", "var/lib/dkms/m/kernel-6.1.0-7-amd64-x86_64");
	cr_assert_null(dkms_tree_installed_version(ctx, "m", "6.1.0-7-amd64", "x86_64"));
	built("n", ".tmp", "6.1.0-7-amd64", "x86_64", "n.ko");
	abs = dkms_asprintf("%s/var/lib/dkms/n/.tmp/6.1.0-7-amd64/x86_64", tmp);
	link_to(abs, "var/lib/dkms/n/kernel-6.1.0-7-amd64-x86_64");
	free(abs);
	cr_assert_null(dkms_tree_installed_version(ctx, "n", "6.1.0-7-amd64", "x86_64"));
}

Test(tree, installed_version_through_symlinked_tree)
{
	struct dkms_paths p = { 0 };
	struct dkms_ctx *c2;
	char *real = tpath("var/lib/dkms"), *alias = tpath("alias"), *cd = tpath("etc/dkms");

	added("m", "2");
	built("m", "2", "6.1.0-1-amd64", "x86_64", "m.ko");
	cr_assert_eq(symlink(real, alias), 0);
	/* absolute link written through the canonical path, read through the alias */
	char *abs = dkms_asprintf("%s/m/2/6.1.0-1-amd64/x86_64", real);

	link_to(abs, "var/lib/dkms/m/kernel-6.1.0-1-amd64-x86_64");
	p.dkms_tree = alias;
	p.conf_dir = cd;
	cr_assert_eq(dkms_ctx_new(&p, &c2), 0);
	char *v = dkms_tree_installed_version(c2, "m", "6.1.0-1-amd64", "x86_64");

	cr_assert_str_eq(v, "2");
	free(v);
	dkms_ctx_free(c2);
	free(abs);
	free(real);
	free(alias);
	free(cd);
}

Test(tree, list_modules_skips_dots_and_files)
{
	char **names;
	size_t n;

	added("zeta", "1");
	added("Alpha", "1");
	added("alpha", "1");
	mkdirs("var/lib/dkms/.build/6.1.0-1-amd64");
	put("var/lib/dkms/mok.key", "key");
	cr_assert_eq(dkms_tree_list_modules(ctx, &names, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(names[0], "Alpha");
	cr_assert_str_eq(names[1], "alpha");
	cr_assert_str_eq(names[2], "zeta");
	dkms_strv_free(names, n);
}

Test(tree, list_modules_missing_tree)
{
	char **names;
	size_t n;
	char *dt = tpath("var/lib/dkms");

	dkms_rm_rf(dt);
	free(dt);
	cr_assert_eq(dkms_tree_list_modules(ctx, &names, &n), 0);
	cr_assert_eq(n, 0);
	dkms_strv_free(names, n);
}

Test(tree, list_versions_sorted_by_version)
{
	char **v;
	size_t n;

	added("m", "1.9");
	added("m", "1.10");
	added("m", "1.2");
	added("m", "0.9-rc1");
	link_to("/nonexistent", "var/lib/dkms/m/2.0/source"); /* broken: listed */
	mkdirs("var/lib/dkms/m/3.0/6.1.0-1-amd64/x86_64");    /* no source: not listed */
	mkdirs("var/lib/dkms/m/.5.0.dkms-add.1");
	mkdirs("var/lib/dkms/m/original_module/6.1.0-1-amd64/x86_64");
	built("m", "1.10", "6.1.0-1-amd64", "x86_64", "m.ko");
	link_to("1.10/6.1.0-1-amd64/x86_64", "var/lib/dkms/m/kernel-6.1.0-1-amd64-x86_64");
	cr_assert_eq(dkms_tree_list_versions(ctx, "m", &v, &n), 0);
	cr_assert_eq(n, 5);
	cr_assert_str_eq(v[0], "0.9-rc1");
	cr_assert_str_eq(v[1], "1.2");
	cr_assert_str_eq(v[2], "1.9");
	cr_assert_str_eq(v[3], "1.10");
	cr_assert_str_eq(v[4], "2.0");
	dkms_strv_free(v, n);

	cr_assert_eq(dkms_tree_list_versions(ctx, "nosuch", &v, &n), 0);
	cr_assert_eq(n, 0);
	dkms_strv_free(v, n);
}

Test(tree, list_built_order_and_filters)
{
	char **k, **a;
	size_t n;

	added("m", "1");
	built("m", "1", "6.1.0-1-amd64", "x86_64", "m.ko");
	built("m", "1", "6.1", "x86_64", "m.ko");
	built("m", "1", "6.1-rt", "x86_64", "m.ko");
	built("m", "1", "10.0.0", "aarch64", "m.ko");
	built("m", "1", "6.1.0-1-amd64", "i686", "m.ko");
	mkdirs("var/lib/dkms/m/1/6.1.0-2-amd64/x86_64/module"); /* empty: not built */
	built("m", "1", "6.1.0-1-amd64", ".hidden", "m.ko");	/* dot arch */
	built("m", "1", "build", "x86_64", "m.ko");		/* not a kernel name */
	built("m", "1", "v6.1", "x86_64", "m.ko");		/* not +([0-9]).* */
	built("m", "1", ".6.1", "x86_64", "m.ko");
	cr_assert_eq(dkms_tree_list_built(ctx, "m", "1", &k, &a, &n), 0);
	cr_assert_eq(n, 5);
	/* byte order of "kver/arch": '-' (0x2d) < '.' < '/' (0x2f) */
	cr_assert_str_eq(k[0], "10.0.0");
	cr_assert_str_eq(a[0], "aarch64");
	cr_assert_str_eq(k[1], "6.1-rt");
	cr_assert_str_eq(k[2], "6.1.0-1-amd64");
	cr_assert_str_eq(a[2], "i686");
	cr_assert_str_eq(k[3], "6.1.0-1-amd64");
	cr_assert_str_eq(a[3], "x86_64");
	cr_assert_str_eq(k[4], "6.1");
	cr_assert_str_eq(a[4], "x86_64");
	dkms_strv_free(k, n);
	dkms_strv_free(a, n);

	cr_assert_eq(dkms_tree_list_built(ctx, "m", "9", &k, &a, &n), 0);
	cr_assert_eq(n, 0);
	dkms_strv_free(k, n);
	dkms_strv_free(a, n);
}

Test(tree, add_creates_absolute_source_link)
{
	char *src = tpath("usr/src/m-1.0");

	mkdirs("usr/src/m-1.0");
	cr_assert_eq(dkms_tree_add(ctx, "m", "1.0", src), 0, "%s", dkms_ctx_error(ctx));
	char *t = treadlink("var/lib/dkms/m/1.0/source");

	cr_assert_str_eq(t, src);
	free(t);
	cr_assert(dkms_tree_is_added(ctx, "m", "1.0"));
	assert_no_dot_entries("var/lib/dkms/m");
	/* no build dir: ours are per job */
	cr_assert_not(texists("var/lib/dkms/m/1.0/build"));

	/* adding the same again is fine */
	cr_assert_eq(dkms_tree_add(ctx, "m", "1.0", src), 0);
	/* the same place under another spelling too */
	char *other = dkms_asprintf("%s/usr/src/../src/m-1.0", tmp);

	cr_assert_eq(dkms_tree_add(ctx, "m", "1.0", other), 0);
	free(other);
	free(src);
}

Test(tree, add_refuses_other_source)
{
	char *src = tpath("usr/src/m-1.0"), *src2 = tpath("elsewhere/m-1.0");

	mkdirs("usr/src/m-1.0");
	mkdirs("elsewhere/m-1.0");
	cr_assert_eq(dkms_tree_add(ctx, "m", "1.0", src), 0);
	cr_assert_eq(dkms_tree_add(ctx, "m", "1.0", src2), DKMS_E_EXISTS);
	cr_assert_not_null(strstr(dkms_ctx_error(ctx), "m/1.0"), "%s", dkms_ctx_error(ctx));
	cr_assert_not_null(strstr(dkms_ctx_error(ctx), src), "%s", dkms_ctx_error(ctx));
	char *t = treadlink("var/lib/dkms/m/1.0/source");

	cr_assert_str_eq(t, src);
	free(t);

	/* a dangling link is broken: refused, left for a person */
	link_to("/nonexistent", "var/lib/dkms/b/1/source");
	cr_assert_eq(dkms_tree_add(ctx, "b", "1", src2), DKMS_E_EXISTS);
	free(src);
	free(src2);
}

Test(tree, add_into_existing_version_dir)
{
	char *src = tpath("usr/src/m-1.0");

	mkdirs("usr/src/m-1.0");
	mkdirs("var/lib/dkms/m/1.0/6.1.0-1-amd64/x86_64/module");
	cr_assert(dkms_tree_is_broken(ctx, "m", "1.0"));
	cr_assert_eq(dkms_tree_add(ctx, "m", "1.0", src), 0, "%s", dkms_ctx_error(ctx));
	cr_assert(dkms_tree_is_added(ctx, "m", "1.0"));
	cr_assert(texists("var/lib/dkms/m/1.0/6.1.0-1-amd64/x86_64/module"));
	assert_no_dot_entries("var/lib/dkms/m/1.0");
	free(src);
}

Test(tree, add_relative_source_and_errors)
{
	char cwd[PATH_MAX];
	char *usr = tpath("usr");

	mkdirs("usr/src/rel-1");
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(usr), 0);
	cr_assert_eq(dkms_tree_add(ctx, "rel", "1", "src/rel-1"), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_eq(chdir(cwd), 0);
	char *t = treadlink("var/lib/dkms/rel/1/source"), *want = tpath("usr/src/rel-1");

	cr_assert_str_eq(t, want);
	free(t);
	free(want);
	free(usr);

	cr_assert_eq(dkms_tree_add(ctx, "x", "1", "/nonexistent/x-1"), DKMS_E_USAGE);
	cr_assert_not(texists("var/lib/dkms/x"));
	cr_assert_eq(dkms_tree_add(ctx, "x/y", "1", "/usr"), DKMS_E_USAGE);
	cr_assert_eq(dkms_tree_add(ctx, "x", "..", "/usr"), DKMS_E_USAGE);
	cr_assert_eq(dkms_tree_add(ctx, "", "1", "/usr"), DKMS_E_USAGE);
	cr_assert_eq(dkms_tree_add(ctx, ".build", "1", "/usr"), DKMS_E_USAGE);
	cr_assert_eq(dkms_tree_add(ctx, "x", "original_module", "/usr"), DKMS_E_USAGE);
	cr_assert_eq(dkms_tree_add(ctx, "x", "kernel-6.1-x86_64", "/usr"), DKMS_E_USAGE);
	cr_assert_not(texists("var/lib/dkms/x"));
}

Test(tree, set_and_clear_installed)
{
	added("m", "1");
	added("m", "2");
	cr_assert_eq(dkms_tree_set_installed(ctx, "m", "1", "6.1.0-1-amd64", "x86_64"), DKMS_E_USAGE);
	cr_assert_not(texists("var/lib/dkms/m/kernel-6.1.0-1-amd64-x86_64"));
	built("m", "1", "6.1.0-1-amd64", "x86_64", "m.ko");
	built("m", "2", "6.1.0-1-amd64", "x86_64", "m.ko");
	cr_assert_eq(dkms_tree_set_installed(ctx, "m", "1", "6.1.0-1-amd64", "x86_64"), 0);
	char *t = treadlink("var/lib/dkms/m/kernel-6.1.0-1-amd64-x86_64");

	cr_assert_str_eq(t, "1/6.1.0-1-amd64/x86_64"); /* exactly what dkms 3.0.10 writes */
	free(t);
	char *v = dkms_tree_installed_version(ctx, "m", "6.1.0-1-amd64", "x86_64");

	cr_assert_str_eq(v, "1");
	free(v);

	/* replaced atomically by another version */
	cr_assert_eq(dkms_tree_set_installed(ctx, "m", "2", "6.1.0-1-amd64", "x86_64"), 0);
	v = dkms_tree_installed_version(ctx, "m", "6.1.0-1-amd64", "x86_64");
	cr_assert_str_eq(v, "2");
	free(v);
	assert_no_dot_entries("var/lib/dkms/m");

	cr_assert_eq(dkms_tree_clear_installed(ctx, "m", "6.1.0-1-amd64", "x86_64"), 0);
	cr_assert_not(texists("var/lib/dkms/m/kernel-6.1.0-1-amd64-x86_64"));
	cr_assert_null(dkms_tree_installed_version(ctx, "m", "6.1.0-1-amd64", "x86_64"));
	/* clearing twice is fine */
	cr_assert_eq(dkms_tree_clear_installed(ctx, "m", "6.1.0-1-amd64", "x86_64"), 0);
	cr_assert_eq(dkms_tree_clear_installed(ctx, "nosuch", "6.1.0-1-amd64", "x86_64"), 0);

	/* something that is not a link is not ours to delete */
	mkdirs("var/lib/dkms/m/kernel-6.1.0-7-amd64-x86_64");
	cr_assert_eq(dkms_tree_clear_installed(ctx, "m", "6.1.0-7-amd64", "x86_64"), DKMS_E_FAIL);
	cr_assert(texists("var/lib/dkms/m/kernel-6.1.0-7-amd64-x86_64"));
	built("m", "1", "6.1.0-7-amd64", "x86_64", "m.ko");
	cr_assert_eq(dkms_tree_set_installed(ctx, "m", "1", "6.1.0-7-amd64", "x86_64"), DKMS_E_FAIL);
}

Test(tree, remove_built_prunes_empty_kernel_dir)
{
	added("m", "1");
	built("m", "1", "6.1.0-1-amd64", "x86_64", "m.ko");
	built("m", "1", "6.1.0-1-amd64", "i686", "m.ko");
	put("var/lib/dkms/m/1/6.1.0-1-amd64/x86_64/log/make.log", "log");
	cr_assert_eq(dkms_tree_remove_built(ctx, "m", "1", "6.1.0-1-amd64", "x86_64"), 0);
	cr_assert_not(texists("var/lib/dkms/m/1/6.1.0-1-amd64/x86_64"));
	cr_assert(texists("var/lib/dkms/m/1/6.1.0-1-amd64/i686"));
	assert_no_dot_entries("var/lib/dkms/m/1/6.1.0-1-amd64");
	cr_assert_eq(dkms_tree_remove_built(ctx, "m", "1", "6.1.0-1-amd64", "i686"), 0);
	cr_assert_not(texists("var/lib/dkms/m/1/6.1.0-1-amd64"));
	cr_assert(dkms_tree_is_added(ctx, "m", "1"));
	/* already gone: fine */
	cr_assert_eq(dkms_tree_remove_built(ctx, "m", "1", "6.1.0-1-amd64", "i686"), 0);
	cr_assert_eq(dkms_tree_remove_built(ctx, "m", "1", "..", "i686"), DKMS_E_USAGE);
}

Test(tree, forget_removes_version_and_empty_module)
{
	added("m", "1");
	added("m", "2");
	built("m", "1", "6.1.0-1-amd64", "x86_64", "m.ko");
	cr_assert_eq(dkms_tree_forget(ctx, "m", "1"), 0);
	cr_assert_not(texists("var/lib/dkms/m/1"));
	cr_assert(texists("var/lib/dkms/m/2/source"));
	cr_assert(texists("usr/src/m-1/dkms.conf")); /* sources are not the tree's */
	assert_no_dot_entries("var/lib/dkms/m");
	cr_assert_eq(dkms_tree_forget(ctx, "m", "2"), 0);
	cr_assert_not(texists("var/lib/dkms/m"));
	assert_no_dot_entries("var/lib/dkms");

	/* original_module keeps <m> */
	added("o", "1");
	mkdirs("var/lib/dkms/o/original_module/6.1.0-1-amd64/x86_64");
	cr_assert_eq(dkms_tree_forget(ctx, "o", "1"), 0);
	cr_assert_not(texists("var/lib/dkms/o/1"));
	cr_assert(texists("var/lib/dkms/o/original_module"));

	/* forgetting what is not there is fine */
	cr_assert_eq(dkms_tree_forget(ctx, "nosuch", "1"), 0);
}

Test(tree, find_installed_file_order)
{
	char *p, *want;

	cr_assert_null(dkms_tree_find_installed_file(ctx, "6.1.0-1-amd64", "m.ko"));

	put("lib/modules/6.1.0-1-amd64/updates/m.ko", "u");
	p = dkms_tree_find_installed_file(ctx, "6.1.0-1-amd64", "m.ko");
	want = tpath("lib/modules/6.1.0-1-amd64/updates/m.ko");
	cr_assert_str_eq(p, want);
	free(p);
	free(want);

	put("lib/modules/6.1.0-1-amd64/extra/m.ko", "e");
	p = dkms_tree_find_installed_file(ctx, "6.1.0-1-amd64", "m.ko");
	cr_assert_not_null(strstr(p, "/6.1.0-1-amd64/extra/m.ko"), "%s", p);
	free(p);

	put("lib/modules/6.1.0-1-amd64/updates/dkms/m.ko", "d");
	p = dkms_tree_find_installed_file(ctx, "6.1.0-1-amd64", "m.ko");
	cr_assert_not_null(strstr(p, "/6.1.0-1-amd64/updates/dkms/m.ko"), "%s", p);
	free(p);

	put("lib/modules/6.1.0-1-amd64/distro/m.ko", "o");
	ctx->dest_override = dkms_strdup("/distro");
	p = dkms_tree_find_installed_file(ctx, "6.1.0-1-amd64", "m.ko");
	cr_assert_not_null(strstr(p, "/6.1.0-1-amd64/distro/m.ko"), "%s", p);
	free(p);

	put("lib/modules/6.1.0-1-amd64/kernel/drivers/x/m.ko", "k");
	ctx->opts.dest_location = "/kernel/drivers/x/";
	p = dkms_tree_find_installed_file(ctx, "6.1.0-1-amd64", "m.ko");
	cr_assert_not_null(strstr(p, "/6.1.0-1-amd64/kernel/drivers/x/m.ko"), "%s", p);
	free(p);
	ctx->opts.dest_location = NULL;

	/* no escaping the install tree */
	cr_assert_null(dkms_tree_find_installed_file(ctx, "..", "m.ko"));
	cr_assert_null(dkms_tree_find_installed_file(ctx, "6.1.0-1-amd64", "../m.ko"));
}

Test(tree, find_installed_file_via_modules_dep)
{
	char *p, *want;

	put("lib/modules/6.1.0-1-amd64/kernel/drivers/net/foo.ko.xz", "k");
	put("lib/modules/6.1.0-1-amd64/kernel/drivers/net/barfoo.ko.xz", "k");
	put("lib/modules/6.1.0-1-amd64/modules.dep", "kernel/drivers/net/barfoo.ko.xz:\n"
						     "kernel/drivers/gone/foo.ko.xz: kernel/lib/x.ko.xz\n"
						     "kernel/drivers/net/foo.ko.xz: kernel/lib/x.ko.xz\n"
						     "kernel/lib/x.ko.xz:\n");
	p = dkms_tree_find_installed_file(ctx, "6.1.0-1-amd64", "foo.ko.xz");
	want = tpath("lib/modules/6.1.0-1-amd64/kernel/drivers/net/foo.ko.xz");
	cr_assert_str_eq(p, want);
	free(p);
	free(want);
	/* only a whole basename matches, and only listed files */
	cr_assert_null(dkms_tree_find_installed_file(ctx, "6.1.0-1-amd64", "oo.ko.xz"));
	cr_assert_null(dkms_tree_find_installed_file(ctx, "6.1.0-1-amd64", "x.ko.xz"));
	/* found by fuzz/fuzz-status: entries out of <install_tree>/<kver> are not ours to read or remove */
	char *abs_in = tpath("lib/modules/6.1.0-1-amd64/kernel/drivers/net/abs.ko");
	char *abs_out = tpath("lib/modules/abs2.ko");
	char *dep = dkms_asprintf("../6.1.0-2-amd64/kernel/up.ko:\n"
				  "kernel/../../6.1.0-2-amd64/kernel/mid.ko:\n"
				  "%s:\n%s:\n",
				  abs_in, abs_out);

	put("lib/modules/6.1.0-2-amd64/kernel/up.ko", "u");
	put("lib/modules/6.1.0-2-amd64/kernel/mid.ko", "m");
	put("lib/modules/6.1.0-1-amd64/kernel/drivers/net/abs.ko", "a");
	put("lib/modules/abs2.ko", "a");
	put("lib/modules/6.1.0-1-amd64/modules.dep", dep);
	cr_assert_null(dkms_tree_find_installed_file(ctx, "6.1.0-1-amd64", "up.ko"));
	cr_assert_null(dkms_tree_find_installed_file(ctx, "6.1.0-1-amd64", "mid.ko"));
	cr_assert_null(dkms_tree_find_installed_file(ctx, "6.1.0-1-amd64", "abs2.ko"));
	p = dkms_tree_find_installed_file(ctx, "6.1.0-1-amd64", "abs.ko"); /* old depmod: absolute */
	cr_assert_str_eq(p, abs_in);
	free(p);
	free(dep);
	free(abs_in);
	free(abs_out);
	/* a directory is checked first */
	put("lib/modules/6.1.0-1-amd64/updates/dkms/foo.ko.xz", "d");
	p = dkms_tree_find_installed_file(ctx, "6.1.0-1-amd64", "foo.ko.xz");
	cr_assert_not_null(strstr(p, "/updates/dkms/foo.ko.xz"), "%s", p);
	free(p);
}

Test(tree, names_with_spaces)
{
	char *src = tpath("usr/src/my mod-1.0 beta");
	char **names, **k, **a;
	size_t n;

	mkdirs("usr/src/my mod-1.0 beta");
	cr_assert_eq(dkms_tree_add(ctx, "my mod", "1.0 beta", src), 0, "%s", dkms_ctx_error(ctx));
	built("my mod", "1.0 beta", "6.1.0-1-amd64", "x86_64", "my mod.ko");
	cr_assert(dkms_tree_is_built(ctx, "my mod", "1.0 beta", "6.1.0-1-amd64", "x86_64"));
	cr_assert_eq(dkms_tree_set_installed(ctx, "my mod", "1.0 beta", "6.1.0-1-amd64", "x86_64"), 0);
	char *v = dkms_tree_installed_version(ctx, "my mod", "6.1.0-1-amd64", "x86_64");

	cr_assert_str_eq(v, "1.0 beta");
	free(v);
	cr_assert_eq(dkms_tree_list_modules(ctx, &names, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(names[0], "my mod");
	dkms_strv_free(names, n);
	cr_assert_eq(dkms_tree_list_versions(ctx, "my mod", &names, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(names[0], "1.0 beta");
	dkms_strv_free(names, n);
	cr_assert_eq(dkms_tree_list_built(ctx, "my mod", "1.0 beta", &k, &a, &n), 0);
	cr_assert_eq(n, 1);
	dkms_strv_free(k, n);
	dkms_strv_free(a, n);
	cr_assert_eq(dkms_tree_clear_installed(ctx, "my mod", "6.1.0-1-amd64", "x86_64"), 0);
	cr_assert_eq(dkms_tree_remove_built(ctx, "my mod", "1.0 beta", "6.1.0-1-amd64", "x86_64"), 0);
	cr_assert_eq(dkms_tree_forget(ctx, "my mod", "1.0 beta"), 0);
	cr_assert_not(texists("var/lib/dkms/my mod"));
	free(src);
}
