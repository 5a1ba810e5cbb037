/* SPDX-License-Identifier: GPL-2.0-or-later */
/* srctree.c: the bounds of a module source, and which of its links stay inside it. */
#include "fixture.h"

#include <limits.h>
#include <sys/stat.h>

static struct fixture_log logged;

static void setup(void)
{
	fixture_setup("srctree", FX_TREES | FX_CTX);
	fixture_log_capture(&logged);
	put("root/a.c", "int a;\n");
	mkdirs("root/d/e");
	put("outside/secret", "secret\n");
}

TestSuite(srctree, .init = setup, .fini = fixture_teardown);

/* Is <tmp>/root/<rel> a link that stays inside <tmp>/root? */
static bool inside(const char *rel)
{
	char *root = tpath("root"), *p = dkms_path_join(root, rel), real[PATH_MAX];
	bool r;

	cr_assert_not_null(realpath(root, real));
	r = dkms_srctree_link_inside(p, real, NULL);
	free(p);
	free(root);
	return r;
}

Test(srctree, links_inside)
{
	link_to("a.c", "root/in");
	link_to("../a.c", "root/d/up-in");
	link_to("..", "root/d/up");
	link_to("e/not-yet.h", "root/d/generated"); /* dangling, but would be created inside */
	cr_assert(inside("in"));
	cr_assert(inside("d/up-in"));
	cr_assert(inside("d/up"));
	cr_assert(inside("d/generated"));
}

Test(srctree, links_outside)
{
	char *secret = tpath("outside/secret");

	link_to(secret, "root/abs");
	link_to("../outside/secret", "root/rel");
	link_to("../../share/doc/x/README.gz", "root/README.gz"); /* iptables-netflow's */
	link_to("../outside/new", "root/dangling-out");
	link_to("loop2", "root/loop1");
	link_to("loop1", "root/loop2");
	link_to("self", "root/self");
	link_to("..", "root/parent");
	/* lexically inside, physically the parent of root: d/up is root, d/up/.. its parent */
	link_to("d/up/..", "root/trick");
	link_to("..", "root/d/up");
	cr_assert(!inside("abs"));
	cr_assert(!inside("rel"));
	cr_assert(!inside("README.gz"));
	cr_assert(!inside("dangling-out"));
	cr_assert(!inside("loop1"));
	cr_assert(!inside("self"));
	cr_assert(!inside("parent"));
	cr_assert(!inside("trick"));
	free(secret);
}

Test(srctree, prune_keeps_inside_removes_outside)
{
	char *copy = tpath("root"), *p;

	link_to("a.c", "root/in");
	link_to("../outside/secret", "root/d/out");
	link_to("loop", "root/loop");
	link_to("../../nowhere/x", "root/dangling");
	cr_assert_eq(dkms_srctree_prune_links(ctx, "m/1", copy, NULL), 0, "%s", dkms_ctx_error(ctx));
	p = tpath("root/in");
	cr_assert(dkms_exists(p));
	free(p);
	p = tpath("root/d/out");
	cr_assert(!dkms_exists(p));
	free(p);
	p = tpath("root/loop");
	cr_assert(!dkms_exists(p));
	free(p);
	p = tpath("root/dangling");
	cr_assert(!dkms_exists(p));
	free(p);
	cr_assert_eq(logged.n_warn, 3, "%s", logged.text);
	cr_assert_not_null(strstr(logged.text, "m/1: "), "%s", logged.text);
	cr_assert_not_null(strstr(logged.text, "/d/out is a symbolic link to ../outside/secret"), "%s",
			   logged.text);
	cr_assert_not_null(strstr(logged.text, "left out of the build"), "%s", logged.text);
	free(copy);
}

Test(srctree, size_bound)
{
	char *root = tpath("root"), *big = tpath("root/d/sparse.bin");
	int fd = open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	cr_assert_eq(dkms_srctree_check(ctx, "m/1", root), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)DKMS_SOURCE_MAX_BYTES + 1), 0); /* sparse: no disk used */
	close(fd);
	cr_assert_eq(dkms_srctree_check(ctx, "m/1", root), DKMS_E_CONF);
	cr_assert_not_null(strstr(dkms_ctx_error(ctx), "larger than 512 MiB"), "%s", dkms_ctx_error(ctx));
	cr_assert_not_null(strstr(dkms_ctx_error(ctx), big), "%s", dkms_ctx_error(ctx));
	free(big);
	free(root);
}

Test(srctree, depth_bound)
{
	char *root = tpath("root"), *p = dkms_strdup(root);

	for (unsigned i = 0; i <= DKMS_SOURCE_MAX_DEPTH + 1; i++) {
		char *q = dkms_path_join(p, "n");

		free(p);
		p = q;
	}
	cr_assert_eq(dkms_mkdir_p(p, 0755), 0);
	cr_assert_eq(dkms_srctree_check(ctx, "m/1", root), DKMS_E_CONF);
	cr_assert_not_null(strstr(dkms_ctx_error(ctx), "nested"), "%s", dkms_ctx_error(ctx));
	free(p);
	free(root);
}

Test(srctree, fifos_and_devices_are_not_copied)
{
	char *src = tpath("root"), *dst = tpath("copy"), *fifo = tpath("root/fifo"), *p;

	cr_assert_eq(mkfifo(fifo, 0644), 0);
	cr_assert_eq(dkms_srctree_check(ctx, "m/1", src), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_eq(dkms_copy_tree(src, dst), 0); /* does not block on the fifo */
	p = tpath("copy/fifo");
	cr_assert(!dkms_exists(p));
	free(p);
	p = tpath("copy/a.c");
	cr_assert(dkms_is_file(p));
	free(p);
	free(fifo);
	free(src);
	free(dst);
}
