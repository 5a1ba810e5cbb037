// SPDX-License-Identifier: GPL-2.0-or-later
/* util.c: paths, files, atomic writes, processes, name validation. */
#include "fixture.h"

#include <sys/stat.h>

static void setup(void)
{
	fixture_setup("util", 0);
}

TestSuite(util, .init = setup, .fini = fixture_teardown);

Test(util, path_join)
{
	char *p = dkms_path_join("/a/", "/b");

	cr_assert_str_eq(p, "/a/b");
	free(p);
	p = dkms_path_join("/", "x");
	cr_assert_str_eq(p, "/x");
	free(p);
	p = dkms_path_join("a", "");
	cr_assert_str_eq(p, "a");
	free(p);
}

Test(util, strv_contains_and_push_unique)
{
	char **v = NULL;
	size_t n = 0;

	cr_assert(!dkms_strv_contains(v, n, "a"), "empty");
	dkms_strv_push_unique(&v, &n, "a");
	dkms_strv_push_unique(&v, &n, "b");
	dkms_strv_push_unique(&v, &n, "a");
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0], "a");
	cr_assert_str_eq(v[1], "b");
	cr_assert_null(v[2]);
	cr_assert(dkms_strv_contains(v, n, "b"));
	cr_assert(!dkms_strv_contains(v, n, "c"));
	dkms_strv_free(v, n);
}

Test(util, mkdir_p_and_rm_rf)
{
	char *deep = tpath("a/b/c/d");
	char *top = tpath("a");
	char *link = tpath("a/b/link");

	cr_assert_eq(dkms_mkdir_p(deep, 0755), 0);
	cr_assert(dkms_is_dir(deep));
	cr_assert_eq(dkms_mkdir_p(deep, 0755), 0, "exists: not an error");
	cr_assert_eq(symlink("/etc", link), 0);
	cr_assert_eq(dkms_rm_rf(top), 0);
	cr_assert(!dkms_exists(top));
	cr_assert(dkms_is_dir("/etc"), "rm_rf does not follow symlinks");
	cr_assert_eq(dkms_rm_rf(top), 0, "missing: not an error");
	free(deep);
	free(top);
	free(link);
}

Test(util, write_atomic_read_back)
{
	char *f = tpath("file");
	char *buf;
	size_t len;
	struct stat st;

	cr_assert_eq(dkms_write_file_atomic(f, "hello\0world", 11, 0600), 0);
	cr_assert_eq(dkms_read_file(f, &buf, &len), 0);
	cr_assert_eq(len, 11);
	cr_assert_eq(memcmp(buf, "hello\0world", 11), 0);
	cr_assert_eq(stat(f, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	free(buf);

	char **names;
	size_t n;

	cr_assert_eq(dkms_list_dir(tmp, &names, &n), 0);
	cr_assert_eq(n, 1, "no temp file left behind");
	dkms_strv_free(names, n);
	free(f);
}

Test(util, copy_and_compare)
{
	char *a = tpath("a"), *b = tpath("b"), *c = tpath("c");

	cr_assert_eq(dkms_write_file_atomic(a, "same", 4, 0644), 0);
	cr_assert_eq(dkms_copy_file(a, b, 0644), 0);
	cr_assert_eq(dkms_files_equal(a, b), 1);
	cr_assert_eq(dkms_write_file_atomic(c, "diff", 4, 0644), 0);
	cr_assert_eq(dkms_files_equal(a, c), 0);
	cr_assert_lt(dkms_files_equal(a, "/nonexistent/x"), 0);
	free(a);
	free(b);
	free(c);
}

Test(util, copy_tree_keeps_links)
{
	char *src = tpath("src"), *sub = tpath("src/sub"), *f = tpath("src/sub/f"), *l = tpath("src/l"),
	     *dst = tpath("dst");
	char *df = tpath("dst/sub/f"), *dl = tpath("dst/l");
	char target[64];
	ssize_t n;

	cr_assert_eq(dkms_mkdir_p(sub, 0755), 0);
	cr_assert_eq(dkms_write_file_atomic(f, "x", 1, 0755), 0);
	cr_assert_eq(symlink("sub/f", l), 0);
	cr_assert_eq(dkms_copy_tree(src, dst), 0);
	cr_assert(dkms_is_file(df));
	cr_assert_eq(access(df, X_OK), 0, "mode kept");
	n = readlink(dl, target, sizeof(target) - 1);
	cr_assert_gt(n, 0);
	target[n] = '\0';
	cr_assert_str_eq(target, "sub/f");
	free(src);
	free(sub);
	free(f);
	free(l);
	free(dst);
	free(df);
	free(dl);
}

Test(util, symlink_atomic_replaces)
{
	char *l = tpath("link");
	char target[64];
	ssize_t n;

	cr_assert_eq(dkms_symlink_atomic("one", l), 0);
	cr_assert_eq(dkms_symlink_atomic("two", l), 0);
	n = readlink(l, target, sizeof(target) - 1);
	cr_assert_eq(n, 3);
	target[n] = '\0';
	cr_assert_str_eq(target, "two");
	free(l);
}

Test(util, names)
{
	cr_assert(dkms_valid_name("v4l2loopback"));
	cr_assert(dkms_valid_name("1.12.0+dfsg"));
	cr_assert(!dkms_valid_name(""));
	cr_assert(!dkms_valid_name(".."));
	cr_assert(!dkms_valid_name("."));
	cr_assert(!dkms_valid_name("a/b"));
	cr_assert(!dkms_valid_name("a\nb"));
	cr_assert(!dkms_valid_name(NULL));
}

Test(util, words)
{
	const char *ver = "._+~:@%,=-";

	cr_assert(dkms_valid_word("v4l2loopback", ver, 100));
	cr_assert(dkms_valid_word("1:2.11.1.0.20170917~dfsg", ver, 100));
	cr_assert(dkms_valid_word("_x", ver, 100));
	cr_assert(dkms_valid_word("abc", ver, 3));
	cr_assert(!dkms_valid_word("abcd", ver, 3), "longer than max");
	cr_assert(!dkms_valid_word("", ver, 100));
	cr_assert(!dkms_valid_word(NULL, ver, 100));
	cr_assert(!dkms_valid_word("-rf", ver, 100), "leading '-'");
	cr_assert(!dkms_valid_word(".build", ver, 100), "leading '.'");
	cr_assert(!dkms_valid_word("a/b", ver, 100));
	cr_assert(!dkms_valid_word("a b", ver, 100));
	cr_assert(!dkms_valid_word("a\tb", ver, 100));
	cr_assert(!dkms_valid_word("a\nb", ver, 100));
	cr_assert(!dkms_valid_word("a;b", ver, 100));
	cr_assert(!dkms_valid_word("a$b", ver, 100));
	cr_assert(!dkms_valid_word("caf\xc3\xa9", ver, 100), "not ASCII");
	cr_assert(!dkms_valid_word("a\xff", ver, 100));
	cr_assert(!dkms_valid_word("a~b", "_-", 100), "not in extra");
}

Test(util, printable)
{
	char *s;

	s = dkms_str_printable("plain-1.0", 64);
	cr_assert_str_eq(s, "plain-1.0");
	free(s);
	s = dkms_str_printable("a\nb\t\xff\\", 64);
	cr_assert_str_eq(s, "a\\x0ab\\x09\\xff\\\\");
	free(s);
	s = dkms_str_printable("abcdef", 3);
	cr_assert_str_eq(s, "abc...");
	free(s);
	s = dkms_str_printable("\n\n\n", 3);
	cr_assert_str_eq(s, "\\x0a\\x0a\\x0a");
	free(s);
	s = dkms_str_printable(NULL, 3);
	cr_assert_str_eq(s, "");
	free(s);
}

Test(util, relpaths)
{
	cr_assert(dkms_valid_relpath(""));
	cr_assert(dkms_valid_relpath("src/mod/common/"));
	cr_assert(dkms_valid_relpath("a..b/c"));
	cr_assert(!dkms_valid_relpath("/abs"));
	cr_assert(!dkms_valid_relpath("../up"));
	cr_assert(!dkms_valid_relpath("a/../b"));
	cr_assert(!dkms_valid_relpath("a/.."));
	cr_assert(!dkms_valid_relpath("a\tb"));
}

Test(util, run_exit_status_and_log)
{
	char *log = tpath("log");
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char *buf;
	const char *env[] = { "DKMS_TEST_VALUE=a b", NULL };

	cr_assert_geq(fd, 0);
	cr_assert_eq(dkms_run_shell("echo \"$DKMS_TEST_VALUE\"; pwd; exit 7", tmp, env, fd), 7);
	close(fd);
	cr_assert_eq(dkms_read_file(log, &buf, NULL), 0);
	char *want = dkms_asprintf("a b\n%s\n", tmp);

	cr_assert_str_eq(buf, want);
	free(want);
	free(buf);
	free(log);

	const char *argv[] = { "dkms-no-such-program", NULL };
	struct dkms_cmd cmd = { .argv = argv, .log_fd = -1 };

	cr_assert_eq(dkms_run(&cmd), 127);
}

Test(util, run_reports_signals)
{
	cr_assert_eq(dkms_run_shell("kill -TERM $$", NULL, NULL, -1), 128 + 15);
}

Test(util, read_fd_bounded)
{
	int p[2];
	char *buf;
	size_t len;

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(write(p[1], "0123456789", 10), 10);
	close(p[1]);
	cr_assert_eq(dkms_read_fd(p[0], 4, &buf, &len), -EFBIG, "past the bound: an error");
	cr_assert_eq(len, 0, "nothing of a read that crosses the bound is kept");
	free(buf);
	close(p[0]);

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(write(p[1], "abc", 3), 3);
	close(p[1]);
	cr_assert_eq(dkms_read_fd(p[0], 3, &buf, &len), 0);
	cr_assert_str_eq(buf, "abc");
	free(buf);
	close(p[0]);
}

Test(util, has_suffix)
{
	cr_expect(dkms_has_suffix("a.ko", ".ko"));
	cr_expect(dkms_has_suffix(".ko", ".ko"));
	cr_expect(dkms_has_suffix("x", ""));
	cr_expect(!dkms_has_suffix("ko", ".ko"), "shorter than the suffix");
	cr_expect(!dkms_has_suffix("/.a", ".dkms-new"), "shorter than the suffix");
	cr_expect(!dkms_has_suffix("a.ko.xz", ".ko"));
}
