/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tarball-check.c, tarball.c, tarball-load.c: what an entry may be, and mktarball / ldtarball round trips
 * over temporary trees, with archives written here by libarchive for the hostile cases. */
#include "fixture.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

static void setup(void)
{
	fixture_setup("tarball", FX_TREES | FX_CTX | FX_NO_DEST);
}

TestSuite(tarball, .init = setup, .fini = fixture_teardown);

/* ---- dkms_tarball_check_entry ---- */

#define MiB (1LL << 20)

static const struct {
	const char *name;
	int type;
	const char *target;
	int64_t size;
	int want;
} cases[] = {
	/* what mktarball writes, with and without "./" */
	{ "./", S_IFDIR, NULL, 0, 0 },
	{ ".", S_IFDIR, NULL, 0, 0 },
	{ "./dkms_main_tree/", S_IFDIR, NULL, 0, 0 },
	{ "./dkms_main_tree/6.1.0-55-amd64/", S_IFDIR, NULL, 0, 0 },
	{ "./dkms_main_tree/6.1.0-55-amd64/x86_64/", S_IFDIR, NULL, 0, 0 },
	{ "./dkms_main_tree/6.1.0-55-amd64/x86_64/module/hello.ko", S_IFREG, NULL, 5000, 0 },
	{ "dkms_main_tree/6.1.0-55-amd64/x86_64/log/make.log", S_IFREG, NULL, 10, 0 },
	{ "./dkms_source_tree/", S_IFDIR, NULL, 0, 0 },
	{ "./dkms_source_tree/dkms.conf", S_IFREG, NULL, 100, 0 },
	{ "dkms_source_tree//src///a.c", S_IFREG, NULL, 1, 0 },
	{ "./dkms_source_tree/./b.c", S_IFREG, NULL, 1, 0 },
	{ "./dkms_source_tree/include/x.h", S_IFLNK, "../common/x.h", 0, 0 },
	{ "./dkms_source_tree/a/b/l", S_IFLNK, "../../c", 0, 0 },
	{ "./dkms_source_tree/l", S_IFLNK, "./sub/./file", 0, 0 },
	{ "./dkms_source_tree/l", S_IFLNK, "dangling", 0, 0 },
	{ "./dkms_binaries_only/", S_IFDIR, NULL, 0, 0 },
	{ "./dkms_binaries_only/dkms.conf", S_IFREG, NULL, 10, 0 },
	{ "./dkms_binaries_only/PACKAGE_NAME", S_IFREG, NULL, 6, 0 },
	{ "./dkms_binaries_only/PACKAGE_VERSION", S_IFREG, NULL, 4, 0 },
	{ "./dkms_source_tree/big.bin", S_IFREG, NULL, 256 * MiB, 0 },
	{ "./dkms_source_tree/caf\xc3\xa9.c", S_IFREG, NULL, 1, 0 },
	{ "./dkms_source_tree/a..b", S_IFREG, NULL, 1, 0 },
	{ "./dkms_source_tree/...", S_IFREG, NULL, 1, 0 },
	/* names */
	{ NULL, S_IFREG, NULL, 0, DKMS_TARBALL_BAD_NAME },
	{ "", S_IFREG, NULL, 0, DKMS_TARBALL_BAD_NAME },
	{ "/etc/passwd", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_ABSOLUTE },
	{ "//dkms_source_tree/a", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_ABSOLUTE },
	{ "/", S_IFDIR, NULL, 0, DKMS_TARBALL_BAD_ABSOLUTE },
	{ "..", S_IFDIR, NULL, 0, DKMS_TARBALL_BAD_DOTDOT },
	{ "../x", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_DOTDOT },
	{ "./dkms_source_tree/../../x", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_DOTDOT },
	{ "dkms_source_tree/a/..", S_IFDIR, NULL, 0, DKMS_TARBALL_BAD_DOTDOT },
	{ "dkms_source_tree/a/../b", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_DOTDOT },
	{ "dkms_source_tree/a\nb", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_CONTROL },
	{ "dkms_source_tree/a\rb", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_CONTROL },
	{ "dkms_source_tree/\x1b[2J", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_CONTROL },
	{ "dkms_source_tree/a\tb", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_CONTROL },
	{ "dkms_source_tree/a\x7f", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_CONTROL },
	/* types and sizes */
	{ "dkms_source_tree/h", DKMS_TARBALL_HARDLINK, "dkms_source_tree/a", 0, DKMS_TARBALL_BAD_HARDLINK },
	{ "dkms_source_tree/null", S_IFCHR, NULL, 0, DKMS_TARBALL_BAD_TYPE },
	{ "dkms_source_tree/sda", S_IFBLK, NULL, 0, DKMS_TARBALL_BAD_TYPE },
	{ "dkms_source_tree/pipe", S_IFIFO, NULL, 0, DKMS_TARBALL_BAD_TYPE },
	{ "dkms_source_tree/sock", S_IFSOCK, NULL, 0, DKMS_TARBALL_BAD_TYPE },
	{ "dkms_source_tree/what", 0, NULL, 0, DKMS_TARBALL_BAD_TYPE },
	{ "dkms_source_tree/big.bin", S_IFREG, NULL, 256 * MiB + 1, DKMS_TARBALL_BAD_SIZE },
	{ "dkms_source_tree/neg", S_IFREG, NULL, -1, DKMS_TARBALL_BAD_SIZE },
	{ "dkms_source_tree/neglink", S_IFLNK, "a", -1,
	  DKMS_TARBALL_BAD_SIZE }, /* found by fuzz-tarball-entry */
	{ "dkms_source_tree/negdir", S_IFDIR, NULL, -7, DKMS_TARBALL_BAD_SIZE },
	/* links */
	{ "dkms_source_tree/pw", S_IFLNK, "/etc/passwd", 0, DKMS_TARBALL_BAD_TARGET },
	{ "dkms_source_tree/up", S_IFLNK, "..", 0, DKMS_TARBALL_BAD_TARGET },
	{ "dkms_source_tree/a/up", S_IFLNK, "../..", 0, DKMS_TARBALL_BAD_TARGET },
	{ "dkms_source_tree/a/up", S_IFLNK, "../x/../../y", 0, DKMS_TARBALL_BAD_TARGET },
	{ "dkms_source_tree/a/b", S_IFLNK, "../../x/../a", 0, DKMS_TARBALL_BAD_TARGET },
	{ "dkms_source_tree/empty", S_IFLNK, "", 0, DKMS_TARBALL_BAD_TARGET },
	{ "dkms_source_tree/none", S_IFLNK, NULL, 0, DKMS_TARBALL_BAD_TARGET },
	{ "dkms_source_tree/nl", S_IFLNK, "a\nb", 0, DKMS_TARBALL_BAD_CONTROL },
	{ "dkms_source_tree", S_IFLNK, "/tmp", 0, DKMS_TARBALL_BAD_SYMLINK },
	{ "dkms_main_tree/6.1/x86_64/module/x.ko", S_IFLNK, "y.ko", 0, DKMS_TARBALL_BAD_SYMLINK },
	{ "dkms_binaries_only/dkms.conf", S_IFLNK, "../dkms_source_tree/dkms.conf", 0,
	  DKMS_TARBALL_BAD_SYMLINK },
	{ "evil", S_IFLNK, "dkms_source_tree", 0, DKMS_TARBALL_BAD_SYMLINK },
	/* layout */
	{ "etc/cron.d/evil", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_LAYOUT },
	{ "README", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_LAYOUT },
	{ "./", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_LAYOUT },
	{ "dkms_source_tree", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_LAYOUT },
	{ "dkms_main_tree", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_LAYOUT },
	{ "dkms_main_tree/6.1.0", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_LAYOUT },
	{ "dkms_main_tree/6.1.0/x86_64", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_LAYOUT },
	{ "dkms_main_tree/source/x86_64/module/x.ko", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_LAYOUT },
	{ "dkms_main_tree/build/x86_64/", S_IFDIR, NULL, 0, DKMS_TARBALL_BAD_LAYOUT },
	{ "dkms_main_tree/.hidden/x86_64/", S_IFDIR, NULL, 0, DKMS_TARBALL_BAD_LAYOUT },
	{ "dkms_main_tree/6.1.0/.x/", S_IFDIR, NULL, 0, DKMS_TARBALL_BAD_LAYOUT },
	{ "dkms_binaries_only/run.sh", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_LAYOUT },
	{ "dkms_binaries_only/sub/", S_IFDIR, NULL, 0, DKMS_TARBALL_BAD_LAYOUT },
	{ "dkms_binaries_only/dkms.conf/x", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_LAYOUT },
	{ "dkms_binaries_only", S_IFREG, NULL, 1, DKMS_TARBALL_BAD_LAYOUT },
};

Test(tarball, check_entry_cases)
{
	for (size_t i = 0; i < DKMS_ARRAY_SIZE(cases); i++) {
		int r = dkms_tarball_check_entry(cases[i].name, cases[i].type, cases[i].target,
						 cases[i].size);

		cr_expect_eq(r, cases[i].want, "case %zu '%s' (-> %s): got %d (%s), want %d", i,
			     cases[i].name ? cases[i].name : "(null)",
			     cases[i].target ? cases[i].target : "-", r, dkms_tarball_reason(r),
			     cases[i].want);
	}
}

Test(tarball, check_entry_long_names)
{
	char name[5000], comp[300];

	memset(comp, 'a', 256);
	comp[256] = '\0';
	snprintf(name, sizeof(name), "dkms_source_tree/%s", comp);
	cr_expect_eq(dkms_tarball_check_entry(name, S_IFREG, NULL, 1), DKMS_TARBALL_BAD_NAME,
		     "component > 255");
	comp[255] = '\0';
	snprintf(name, sizeof(name), "dkms_source_tree/%s", comp);
	cr_expect_eq(dkms_tarball_check_entry(name, S_IFREG, NULL, 1), 0, "component of 255");
	strcpy(name, "dkms_source_tree");
	for (int i = 0; i < 70; i++)
		strcat(name, "/d");
	cr_expect_eq(dkms_tarball_check_entry(name, S_IFDIR, NULL, 0), DKMS_TARBALL_BAD_NAME, "too deep");
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	cr_expect_eq(dkms_tarball_check_entry(name, S_IFREG, NULL, 1), DKMS_TARBALL_BAD_NAME, "too long");
}

Test(tarball, reasons_and_names)
{
	for (int i = 0; i <= DKMS_TARBALL_BAD_LAYOUT; i++)
		cr_expect(strlen(dkms_tarball_reason(i)) > 5, "reason %d", i);
	cr_expect_str_eq(dkms_tarball_reason(-1), "unknown reason");
	cr_expect_str_eq(dkms_tarball_reason(999), "unknown reason");

	const char *in[] = { "./", ".", "./a/./b/", "a//b", "././dkms_source_tree/x" };
	const char *out[] = { "", "", "a/b", "a/b", "dkms_source_tree/x" };

	for (size_t i = 0; i < DKMS_ARRAY_SIZE(in); i++) {
		char *n = dkms_tarball_entry_name(in[i]);

		cr_expect_str_eq(n, out[i], "%s", in[i]);
		free(n);
	}
}

/* ---- archives written here ---- */

struct ent {
	const char *name;
	int type; /* S_IF*, or DKMS_TARBALL_HARDLINK */
	const char *data_or_target;
};

static char *write_archive(const char *rel, const struct ent *e, size_t n)
{
	char *path = tpath(rel);
	struct archive *a = archive_write_new();

	cr_assert(a);
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_gzip(a);
	cr_assert_eq(archive_write_open_filename(a, path), ARCHIVE_OK, "%s", archive_error_string(a));
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		const char *d = e[i].data_or_target;

		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_perm(ae, 0644);
		if (e[i].type == DKMS_TARBALL_HARDLINK) {
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_hardlink(ae, d);
		} else if (e[i].type == S_IFLNK) {
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_symlink(ae, d);
		} else {
			archive_entry_set_filetype(ae, (unsigned)e[i].type);
			if (e[i].type == S_IFREG)
				archive_entry_set_size(ae, d ? (la_int64_t)strlen(d) : 0);
		}
		cr_assert_eq(archive_write_header(a, ae), ARCHIVE_OK, "%s", archive_error_string(a));
		if (e[i].type == S_IFREG && d)
			archive_write_data(a, d, strlen(d));
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
	return path;
}

static const char conf_txt[] = "PACKAGE_NAME=tb\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=tb\n"
			       "DEST_MODULE_LOCATION[0]=/updates\n";

/* No private directory left in the dkms tree (only the writers' lock), nothing in the source tree. */
static void expect_nothing_loaded(void)
{
	char **names = NULL;
	size_t n = 0;
	char *dt = tpath("var/lib/dkms"), *st = tpath("usr/src");

	cr_assert_eq(dkms_list_dir(dt, &names, &n), 0);
	if (n == 1 && !strcmp(names[0], ".lock")) {
		dkms_strv_free(names, n);
		names = NULL;
		n = 0;
	}
	cr_expect_eq(n, 0, "dkms tree not empty: %s", n ? names[0] : "");
	dkms_strv_free(names, n);
	cr_assert_eq(dkms_list_dir(st, &names, &n), 0);
	cr_expect_eq(n, 0, "source tree not empty: %s", n ? names[0] : "");
	dkms_strv_free(names, n);
	free(dt);
	free(st);
}

static void expect_refused(const struct ent *e, size_t n, const char *why)
{
	char *path = write_archive("evil.tar.gz", e, n);
	int r = dkms_tarball_load(ctx, path, 0, NULL, NULL);

	cr_expect_eq(r, DKMS_E_NOMODULE, "%s: %d %s", why, r, dkms_ctx_error(ctx));
	cr_expect(strstr(dkms_ctx_error(ctx), why), "'%s' not in: %s", why, dkms_ctx_error(ctx));
	cr_expect(strstr(dkms_ctx_error(ctx), "evil.tar.gz"), "the message names the archive: %s",
		  dkms_ctx_error(ctx));
	expect_nothing_loaded();
	unlink(path);
	free(path);
}

#define CONF_ENT                                                                                             \
	{                                                                                                    \
		"./dkms_source_tree/dkms.conf", S_IFREG, conf_txt                                            \
	}

Test(tarball, load_refuses_hostile_entries)
{
	expect_refused((struct ent[]){ CONF_ENT, { "/tmp/x", S_IFREG, "x" } }, 2, "absolute path");
	expect_refused((struct ent[]){ CONF_ENT, { "dkms_source_tree/../../x", S_IFREG, "x" } }, 2,
		       "'..' component");
	expect_refused(
		(struct ent[]){ CONF_ENT, { "dkms_source_tree/h", DKMS_TARBALL_HARDLINK, "/etc/passwd" } }, 2,
		"hard link");
	expect_refused((struct ent[]){ CONF_ENT, { "dkms_source_tree/l", S_IFLNK, "/etc" } }, 2,
		       "outside the sources");
	expect_refused((struct ent[]){ CONF_ENT, { "dkms_source_tree/f", S_IFIFO, NULL } }, 2, "fifo");
	expect_refused((struct ent[]){ CONF_ENT, { "lib/modules/x.ko", S_IFREG, "x" } }, 2, "layout");
	/* each link alone stays inside; together they climb out */
	expect_refused((struct ent[]){ CONF_ENT,
				       { "dkms_source_tree/s", S_IFLNK, "." },
				       { "dkms_source_tree/q", S_IFLNK, "s/s/../../etc" } },
		       3, "leads outside the sources");
	/* a loop */
	expect_refused((struct ent[]){ CONF_ENT,
				       { "dkms_source_tree/a", S_IFLNK, "b" },
				       { "dkms_source_tree/b", S_IFLNK, "a/x" } },
		       3, "more than 40");
	/* a file through a link */
	expect_refused((struct ent[]){ CONF_ENT,
				       { "dkms_source_tree/sub", S_IFDIR, NULL },
				       { "dkms_source_tree/d", S_IFLNK, "sub" },
				       { "dkms_source_tree/d/x.c", S_IFREG, "x" } },
		       4, "symlink");
	expect_refused((struct ent[]){ CONF_ENT, { "./dkms_source_tree/dkms.conf", S_IFREG, "y" } }, 2,
		       "appears twice");
	expect_refused((struct ent[]){ { "./dkms_source_tree/Makefile", S_IFREG, "all:\n" } }, 1,
		       "no dkms.conf");
	expect_refused(NULL, 0, "empty");
}

Test(tarball, load_refuses_bad_identity)
{
	/* the name rules of dkms.conf refuse it first: a bad dkms.conf (8), naming the archive */
	struct ent e[] = { { "./dkms_source_tree/dkms.conf", S_IFREG,
			     "PACKAGE_NAME=.hidden\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]="
			     "x\nDEST_MODULE_LOCATION[0]=/extra\n" } };
	char *path = write_archive("evil.tar.gz", e, 1);
	int r = dkms_tarball_load(ctx, path, 0, NULL, NULL);

	cr_expect_eq(r, DKMS_E_CONF, "%d %s", r, dkms_ctx_error(ctx));
	cr_expect(strstr(dkms_ctx_error(ctx), "evil.tar.gz"), "%s", dkms_ctx_error(ctx));
	cr_expect(strstr(dkms_ctx_error(ctx), "PACKAGE_NAME=\".hidden\" is not a valid name"), "%s",
		  dkms_ctx_error(ctx));
	expect_nothing_loaded();
	unlink(path);
	free(path);
}

Test(tarball, load_missing_file)
{
	char *p = tpath("nothere.tar.gz");

	cr_expect_eq(dkms_tarball_load(ctx, p, 0, NULL, NULL), DKMS_E_USAGE);
	cr_expect(strstr(dkms_ctx_error(ctx), "nothere.tar.gz"));
	cr_expect_eq(dkms_tarball_load(ctx, tmp, 0, NULL, NULL), DKMS_E_USAGE, "a directory");
	free(p);
}

/* ---- round trips ---- */

/* tb/1.0 added, with a link inside its sources, and "built" for two kernels. */
static void tb_module(void)
{
	added_conf("tb", "1.0", conf_txt);
	put("usr/src/tb-1.0/tb.c", "int x;\n");
	put("usr/src/tb-1.0/.git/config", "not archived\n");
	link_to("../tb.c", "usr/src/tb-1.0/include/tb.c");
	link_to("include", "usr/src/tb-1.0/inc");	     /* a link to a directory */
	link_to("inc/../tb.c", "usr/src/tb-1.0/via-dir.c");  /* through it, and back: inside */
	link_to("generated.h", "usr/src/tb-1.0/dangling.h"); /* made by the build */
	put("var/lib/dkms/tb/1.0/6.1.0-55-amd64/x86_64/module/tb.ko", "ELF one");
	put("var/lib/dkms/tb/1.0/6.1.0-55-amd64/x86_64/log/make.log", "log one");
	put("var/lib/dkms/tb/1.0/6.1.0-56-amd64/x86_64/module/tb.ko", "ELF two");
}

static void forget_tb(void)
{
	char *d = tpath("var/lib/dkms/tb"), *s = tpath("usr/src/tb-1.0");

	dkms_rm_rf(d);
	dkms_rm_rf(s);
	free(d);
	free(s);
}

static char *tread(const char *rel)
{
	char *p = tpath(rel), *buf = NULL;
	size_t len;

	if (dkms_read_file(p, &buf, &len))
		buf = NULL;
	free(p);
	return buf;
}

#define expect_file(rel, text)                                                                               \
	do {                                                                                                 \
		char *got_ = tread(rel);                                                                     \
		cr_expect(got_ && !strcmp(got_, text), "%s: '%s', want '%s'", rel,                           \
			  got_ ? got_ : "(missing)", text);                                                  \
		free(got_);                                                                                  \
	} while (0)

Test(tarball, round_trip_full)
{
	struct dkms_kref k[] = { { "6.1.0-55-amd64", "x86_64" }, { "6.1.0-56-amd64", "x86_64" } };
	char *written = NULL, *name = NULL, *version = NULL, *copy = tpath("copy.tar.gz");

	tb_module();
	cr_assert_eq(dkms_tarball_make(ctx, "tb", "1.0", k, 2, 0, NULL, &written), 0, "%s",
		     dkms_ctx_error(ctx));
	cr_expect(strstr(written,
			 "/var/lib/dkms/tb/1.0/tarball/"
			 "tb-1.0-kernel6.1.0-55-amd64-x86_64-kernel6.1.0-56-amd64-x86_64.dkms.tar.gz"),
		  "%s", written);
	cr_assert_eq(rename(written, copy), 0);
	forget_tb();

	cr_assert_eq(dkms_tarball_load(ctx, copy, 0, &name, &version), 0, "%s", dkms_ctx_error(ctx));
	cr_expect_str_eq(name, "tb");
	cr_expect_str_eq(version, "1.0");
	cr_expect(dkms_tree_is_added(ctx, "tb", "1.0"));
	expect_file("usr/src/tb-1.0/tb.c", "int x;\n");
	expect_file("usr/src/tb-1.0/include/tb.c", "int x;\n");
	expect_file("usr/src/tb-1.0/via-dir.c", "int x;\n");
	char *dangling = tpath("usr/src/tb-1.0/dangling.h"), target[64] = "";

	cr_expect(readlink(dangling, target, sizeof(target) - 1) > 0 && !strcmp(target, "generated.h"),
		  "a dangling link inside the sources is kept: '%s'", target);
	free(dangling);
	char *dot = tpath("usr/src/tb-1.0/.git");

	cr_expect(!dkms_exists(dot), "dot names at the top of the sources are left out, as dkms does");
	free(dot);
	expect_file("var/lib/dkms/tb/1.0/6.1.0-55-amd64/x86_64/module/tb.ko", "ELF one");
	expect_file("var/lib/dkms/tb/1.0/6.1.0-55-amd64/x86_64/log/make.log", "log one");
	expect_file("var/lib/dkms/tb/1.0/6.1.0-56-amd64/x86_64/module/tb.ko", "ELF two");
	cr_expect(dkms_tree_is_built(ctx, "tb", "1.0", "6.1.0-56-amd64", "x86_64"));

	/* again: already added; --force replaces a changed build */
	cr_expect_eq(dkms_tarball_load(ctx, copy, 0, NULL, NULL), DKMS_E_EXISTS);
	cr_expect(strstr(dkms_ctx_error(ctx), "--force"), "%s", dkms_ctx_error(ctx));
	put("var/lib/dkms/tb/1.0/6.1.0-55-amd64/x86_64/module/tb.ko", "changed");
	dkms_ctx_opts(ctx)->force = true;
	cr_expect_eq(dkms_tarball_load(ctx, copy, 0, NULL, NULL), 0, "%s", dkms_ctx_error(ctx));
	expect_file("var/lib/dkms/tb/1.0/6.1.0-55-amd64/x86_64/module/tb.ko", "ELF one");
	free(written);
	free(name);
	free(version);
	free(copy);
}

Test(tarball, round_trip_binaries_only)
{
	struct dkms_kref k[] = { { "6.1.0-55-amd64", NULL } };
	char *path = tpath("bin.tar.gz"), *written = NULL;
	struct stat st;

	tb_module();
	dkms_ctx_opts(ctx)->force = false;
	/* the machine's arch is the default; make the build there */
	char *kd = dkms_asprintf("var/lib/dkms/tb/1.0/6.1.0-55-amd64/%s/module/tb.ko", ctx->machine_arch);

	put(kd, "ELF native");
	cr_assert_eq(dkms_tarball_make(ctx, "tb", "1.0", k, 1, DKMS_TARBALL_BINARIES_ONLY, path, &written), 0,
		     "%s", dkms_ctx_error(ctx));
	cr_expect_str_eq(written, path);
	forget_tb();
	cr_assert_eq(dkms_tarball_load(ctx, path, 0, NULL, NULL), 0, "%s", dkms_ctx_error(ctx));
	char *src = tpath("var/lib/dkms/tb/1.0/source");

	cr_expect(lstat(src, &st) == 0 && S_ISDIR(st.st_mode), "source is a directory");
	expect_file("var/lib/dkms/tb/1.0/source/dkms.conf", conf_txt);
	expect_file(kd, "ELF native");
	char *usr = tpath("usr/src/tb-1.0");

	cr_expect(!dkms_exists(usr), "no sources placed");
	free(usr);
	free(src);
	free(kd);
	free(written);
	free(path);
}

Test(tarball, make_errors)
{
	struct dkms_kref k[] = { { "9.9.9", "x86_64" } };

	cr_expect_eq(dkms_tarball_make(ctx, "nope", "1", NULL, 0, DKMS_TARBALL_SOURCE_ONLY, NULL, NULL),
		     DKMS_E_EXISTS);
	added_conf("tb", "1.0", conf_txt);
	cr_expect_eq(dkms_tarball_make(ctx, "tb", "1.0", k, 1, 0, NULL, NULL), DKMS_E_KERNEL);
	cr_expect(strstr(dkms_ctx_error(ctx), "9.9.9"), "%s", dkms_ctx_error(ctx));
	cr_expect_eq(dkms_tarball_make(ctx, "tb", "1.0", NULL, 0, 0, NULL, NULL), DKMS_E_KERNEL,
		     "--all, no build");
	cr_expect_eq(dkms_tarball_make(ctx, "tb", "1.0", NULL, 0,
				       DKMS_TARBALL_SOURCE_ONLY | DKMS_TARBALL_BINARIES_ONLY, NULL, NULL),
		     DKMS_E_USAGE);
	/* a link out of the sources: our own ldtarball would refuse it, so mktarball does */
	link_to("/etc/passwd", "usr/src/tb-1.0/pw");
	cr_expect_eq(dkms_tarball_make(ctx, "tb", "1.0", NULL, 0, DKMS_TARBALL_SOURCE_ONLY, NULL, NULL),
		     DKMS_E_FAIL);
	cr_expect(strstr(dkms_ctx_error(ctx), "pw"), "%s", dkms_ctx_error(ctx));
	char *tb = tpath("var/lib/dkms/tb/1.0/tarball");
	char **names = NULL;
	size_t n = 0;

	dkms_list_dir(tb, &names, &n);
	cr_expect_eq(n, 0, "no temporary file left: %s", n ? names[0] : "");
	dkms_strv_free(names, n);
	free(tb);
}

Test(tarball, source_only_keeps_existing_sources)
{
	char *path = tpath("src.tar.gz");

	tb_module();
	cr_assert_eq(dkms_tarball_make(ctx, "tb", "1.0", NULL, 0, DKMS_TARBALL_SOURCE_ONLY, path, NULL), 0);
	char *d = tpath("var/lib/dkms/tb");

	dkms_rm_rf(d); /* forgotten, but the sources stay */
	free(d);
	put("usr/src/tb-1.0/tb.c", "mine\n");
	cr_expect_eq(dkms_tarball_load(ctx, path, 0, NULL, NULL), DKMS_E_EXISTS);
	cr_expect(strstr(dkms_ctx_error(ctx), "usr/src/tb-1.0"), "%s", dkms_ctx_error(ctx));
	expect_file("usr/src/tb-1.0/tb.c", "mine\n");
	dkms_ctx_opts(ctx)->force = true;
	cr_expect_eq(dkms_tarball_load(ctx, path, 0, NULL, NULL), 0, "%s", dkms_ctx_error(ctx));
	expect_file("usr/src/tb-1.0/tb.c", "int x;\n");
	cr_expect(dkms_tree_is_added(ctx, "tb", "1.0"));
	free(path);
}

Test(tarball, existing_build_kept_without_force)
{
	struct dkms_kref k[] = { { "6.1.0-55-amd64", "x86_64" } };
	char *path = tpath("k.tar.gz");
	struct fixture_log log;

	tb_module();
	cr_assert_eq(dkms_tarball_make(ctx, "tb", "1.0", k, 1, 0, path, NULL), 0, "%s", dkms_ctx_error(ctx));
	forget_tb();
	/* a build left in the tree by something else, the version not added: kept, as dkms 3.x keeps it */
	put("var/lib/dkms/tb/1.0/6.1.0-55-amd64/x86_64/module/tb.ko", "left over");
	fixture_log_capture(&log);
	cr_assert_eq(dkms_tarball_load(ctx, path, 0, NULL, NULL), 0, "%s", dkms_ctx_error(ctx));
	expect_file("var/lib/dkms/tb/1.0/6.1.0-55-amd64/x86_64/module/tb.ko", "left over");
	cr_expect(strstr(log.text, "already exists. Skipping"), "%s", log.text);
	cr_expect_eq(log.n_warn, 1, "%s", log.text);
	cr_expect(dkms_tree_is_added(ctx, "tb", "1.0"));
	free(path);
}
