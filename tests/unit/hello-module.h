/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * For the unit tests that need a real module: build tests/data/hello/ against
 * the installed headers of HELLO_KVER in a temporary directory. Missing
 * headers fail the test with the package to install; nothing is skipped.
 */
#ifndef DKMS_TEST_HELLO_MODULE_H
#define DKMS_TEST_HELLO_MODULE_H

#include "internal.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HELLO_KVER "6.1.0-55-amd64"

/* The source tree's top: $srcdir (set by `make check`), else from __FILE__. */
static char *hello_top_srcdir(void)
{
	const char *env = getenv("srcdir");
	const char *tail = "tests/unit/hello-module.h";
	size_t flen = strlen(__FILE__), tlen = strlen(tail);

	if (env && *env)
		return dkms_strdup(env);
	if (flen >= tlen && strcmp(__FILE__ + flen - tlen, tail) == 0)
		return flen == tlen ? dkms_strdup(".") : dkms_asprintf("%.*s", (int)(flen - tlen), __FILE__);
	return dkms_strdup(".");
}

/* The tail of a build log, for a failure message. */
static char *hello_log_tail(const char *log)
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

/* Build hello.ko in <tmp>/hello and return its path (malloc'd). */
static char *hello_build(const char *tmp)
{
	char *top = hello_top_srcdir();
	char *fixture = dkms_path_join(top, "tests/data/hello");
	char *dir = dkms_path_join(tmp, "hello");
	char *build = dkms_asprintf("/lib/modules/%s/build", HELLO_KVER);
	char *makefile = dkms_path_join(build, "Makefile");
	char *log = dkms_path_join(tmp, "hello-make.log");
	char *mflag = dkms_asprintf("M=%s", dir);
	char *ko = dkms_path_join(dir, "hello.ko");
	int fd, st;

	cr_assert(dkms_is_file(makefile),
		  "kernel headers for %s are missing (%s): install linux-headers-%s to run this test",
		  HELLO_KVER, makefile, HELLO_KVER);
	cr_assert(dkms_is_dir(fixture), "fixture %s not found: run from the build dir or set srcdir",
		  fixture);
	cr_assert_eq(dkms_copy_tree(fixture, dir), 0, "cannot copy %s to %s", fixture, dir);

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

		cr_assert_fail("building %s against %s failed (status %d):\n%s", dir, build, st, tail);
	}
	free(top);
	free(fixture);
	free(dir);
	free(build);
	free(makefile);
	free(log);
	free(mflag);
	return ko;
}

#endif
