/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config.c: dkms.conf and framework.conf evaluated by bash. The confs are the
 * fixtures of tests/data/conf/ (bad ones in bad/, a kernel .config in kernel/);
 * the trees and /etc/dkms overrides live in a temporary directory.
 */
#include "fixture.h"
#include "bash.h"

#include <limits.h>
#include <time.h>

#define KVER "6.1.0-55-amd64"
#define ARCH "x86_64"

static char *data;  /* <top_srcdir>/tests/data/conf, absolute */
static char *empty; /* a kernel source dir without .config */
static struct fixture_log logged;

/* Absolute path of a fixture, relative to tests/data/conf. */
static char *fx(const char *rel)
{
	return dkms_path_join(data, rel);
}

static void setup(void)
{
	char *top = fixture_top_srcdir(), *rel = dkms_path_join(top, "tests/data/conf"), real[PATH_MAX];

	cr_assert_not_null(realpath(rel, real), "fixtures not found at %s", rel);
	data = dkms_strdup(real);
	free(rel);
	free(top);
	fixture_setup("config", FX_TREES | FX_CTX | FX_NO_DEST);
	empty = tpath("kernel-empty");
	cr_assert_eq(dkms_mkdir_p(empty, 0755), 0);
	free(ctx->machine_arch);
	ctx->machine_arch = dkms_strdup(ARCH);
	fixture_log_capture(&logged);
}

static void teardown(void)
{
	fixture_teardown();
	free(data);
	free(empty);
}

TestSuite(config, .init = setup, .fini = teardown);

/* Load a fixture for kver with the usual variables; asserts success. */
static struct dkms_conf *load_k(const char *rel, const char *kver, const char *ksrc)
{
	struct dkms_conf_vars vars = {
		.kernelver = kver,
		.arch = ARCH,
		.kernel_source_dir = ksrc ? ksrc : empty,
	};
	struct dkms_conf *c = NULL;
	char *p = fx(rel);
	int r = dkms_conf_load(ctx, p, &vars, &c);

	cr_assert_eq(r, 0, "%s: %d: %s", p, r, dkms_ctx_error(ctx));
	cr_assert_not_null(c);
	cr_assert_str_eq(c->path, p);
	free(p);
	return c;
}

static struct dkms_conf *load(const char *rel)
{
	return load_k(rel, KVER, NULL);
}

/* Load a fixture that must fail with code; returns the message. */
static const char *load_fail(const char *path, int code)
{
	struct dkms_conf_vars vars = { .kernelver = KVER, .arch = ARCH, .kernel_source_dir = empty };
	struct dkms_conf *c = (struct dkms_conf *)1;
	int r = dkms_conf_load(ctx, path, &vars, &c);

	cr_assert_eq(r, code, "%s: got %d (%s), want %d", path, r, dkms_ctx_error(ctx), code);
	cr_assert_null(c);
	return dkms_ctx_error(ctx);
}

/* Load a conf at an absolute path that must succeed. */
static struct dkms_conf *load_path(const char *path)
{
	struct dkms_conf_vars vars = { .kernelver = KVER, .arch = ARCH, .kernel_source_dir = empty };
	struct dkms_conf *c = NULL;

	cr_assert_eq(dkms_conf_load(ctx, path, &vars, &c), 0, "%s: %s", path, dkms_ctx_error(ctx));
	return c;
}

static void assert_has(const char *hay, const char *needle)
{
	cr_assert_not_null(strstr(hay, needle), "\"%s\" not in \"%s\"", needle, hay);
}

/* Send this test's stderr to <tmp>/stderr (each test is its own process). */
static void stderr_capture(void)
{
	char *p = tpath("stderr");
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	cr_assert_geq(fd, 0, "%s", p);
	cr_assert_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	free(p);
}

/* What the test wrote on stderr since stderr_capture(), malloc'd. */
static char *stderr_text(void)
{
	char *p = tpath("stderr"), *text = NULL;

	cr_assert_eq(dkms_read_file(p, &text, NULL), 0, "%s", p);
	free(p);
	return text;
}

/* ---- shapes of dkms.conf ---- */

Test(config, scalars)
{
	struct dkms_conf *c = load("scalar.conf");
	char *make = dkms_asprintf("make all KERNEL_TREE=%s V=1", empty);

	cr_assert_str_eq(c->name, "plain");
	cr_assert_str_eq(c->version, "0.9.1");
	cr_assert_eq(c->n_mods, 1);
	cr_assert_str_eq(c->mods[0].built_name, "plain-mod");
	cr_assert_str_eq(c->mods[0].built_location, "");
	cr_assert_str_eq(c->mods[0].dest_name, "plain-mod");
	cr_assert_str_eq(c->mods[0].dest_location, "/kernel/drivers/md");
	cr_assert(c->mods[0].strip);
	cr_assert_str_eq(c->make, make);
	cr_assert_str_eq(c->clean, "make clean");
	cr_assert(c->autoinstall);
	cr_assert_str_eq(c->excl_kernel_min, "3.9");
	cr_assert_null(c->excl_kernel);
	cr_assert_null(c->excl_kernel_max);
	cr_assert_null(c->pre_build);
	cr_assert_eq(c->n_patches, 0);
	cr_assert_eq(c->n_build_depends, 0);
	free(make);
	dkms_conf_free(c);
}

Test(config, arrays_every_directive)
{
	struct dkms_conf *c = load("multi.conf");

	cr_assert_str_eq(c->name, "multi");
	cr_assert_str_eq(c->version, "2.1");
	cr_assert_eq(c->n_mods, 3);
	cr_assert_str_eq(c->mods[0].built_name, "core");
	cr_assert_str_eq(c->mods[0].built_location, "src/core/");
	cr_assert_str_eq(c->mods[0].dest_name, "core");
	cr_assert_str_eq(c->mods[0].dest_location, "/kernel/drivers/misc");
	cr_assert_str_eq(c->mods[1].built_name, "helper");
	cr_assert_str_eq(c->mods[1].built_location, "src/helper/");
	cr_assert_str_eq(c->mods[1].dest_name, "multi_helper");
	cr_assert_str_eq(c->mods[1].dest_location, "/extra");
	cr_assert_str_eq(c->mods[2].built_name, "glue");
	cr_assert_str_eq(c->mods[2].built_location, "");
	cr_assert_str_eq(c->mods[2].dest_location, "/updates");
	cr_assert_null(c->make);
	cr_assert(c->autoinstall);
	cr_assert_eq(c->n_build_depends, 3);
	cr_assert_str_eq(c->build_depends[0], "base-mod");
	cr_assert_str_eq(c->build_depends[1], "other-one");
	cr_assert_str_eq(c->build_depends[2], "third");
	cr_assert(c->build_depends_rebuild);
	cr_assert_str_eq(c->pre_build, "scripts/pre-build.sh");
	cr_assert_str_eq(c->post_build, "scripts/post-build.sh");
	cr_assert_str_eq(c->pre_install, "scripts/check.sh");
	cr_assert_str_eq(c->post_install, "scripts/post-install.sh");
	cr_assert_str_eq(c->post_add, "scripts/added.sh");
	cr_assert_str_eq(c->post_remove, "scripts/removed.sh");
	cr_assert_str_eq(c->clean, "make clean");
	cr_assert(c->no_weak_modules);
	cr_assert_str_eq(c->obsolete_by, "9.0");
	dkms_conf_free(c);
}

Test(config, strip_defaults_to_strip0)
{
	struct dkms_conf *c = load("multi.conf");

	cr_assert_not(c->mods[0].strip, "STRIP[0]=no");
	cr_assert_not(c->mods[1].strip, "STRIP[1] unset takes STRIP[0]");
	cr_assert(c->mods[2].strip, "STRIP[2]=Yes");
	dkms_conf_free(c);
}

Test(config, strip_beyond_the_modules_ignored)
{
	struct dkms_conf *c = load("strip-extra.conf");

	cr_assert_eq(c->n_mods, 1);
	cr_assert_not(c->mods[0].strip);
	assert_has(logged.text, "STRIP[1]");
	cr_assert_eq(logged.n_warn, 1);
	dkms_conf_free(c);
}

Test(config, deprecated_directive_warns)
{
	struct dkms_conf *c = load("multi.conf");

	assert_has(logged.text, "REMAKE_INITRD is deprecated");
	cr_assert_null(strstr(logged.text, "HELPER_VARIABLE"));
	dkms_conf_free(c);
}

Test(config, defaults_from_package_name)
{
	struct dkms_conf *c = load("defaults.conf");

	cr_assert_eq(c->n_mods, 1);
	cr_assert_str_eq(c->mods[0].built_name, "lonely");
	cr_assert_str_eq(c->mods[0].built_location, "");
	cr_assert_str_eq(c->mods[0].dest_name, "lonely");
	cr_assert_str_eq(c->mods[0].dest_location, "/extra");
	cr_assert(c->mods[0].strip);
	cr_assert_not(c->autoinstall);
	cr_assert_null(c->make);
	dkms_conf_free(c);
}

Test(config, counter_without_kernel_config)
{
	struct dkms_conf *c = load("counter.conf");
	char *make = dkms_asprintf("make -C %s M=%s/counted/3.0/build modules", empty, ctx->dkms_tree);

	cr_assert_eq(c->n_mods, 3);
	cr_assert_str_eq(c->mods[0].built_name, "counted-alpha");
	cr_assert_str_eq(c->mods[1].built_name, "counted-beta");
	cr_assert_str_eq(c->mods[2].built_name, "counted-gamma");
	for (size_t i = 0; i < 3; i++) {
		cr_assert_str_eq(c->mods[i].built_location, "src/");
		cr_assert_str_eq(c->mods[i].dest_location, "/extra");
	}
	cr_assert_str_eq(c->make, make);
	free(make);
	dkms_conf_free(c);
}

Test(config, counter_sources_kernel_config)
{
	char *kdir = fx("kernel");
	struct dkms_conf *c = load_k("counter.conf", KVER, kdir);

	cr_assert_eq(c->n_mods, 4);
	cr_assert_str_eq(c->mods[3].built_name, "counted-wide");
	cr_assert_str_eq(c->mods[3].built_location, "src/wide/");
	cr_assert_str_eq(c->mods[3].dest_location, "/extra/wide");
	free(kdir);
	dkms_conf_free(c);
}

Test(config, kconfig_grep_with_config)
{
	char *kdir = fx("kernel");
	struct dkms_conf *c = load_k("kconfig.conf", KVER, kdir);

	/* CONFIG_I2C=m: no arch exclusion; CONFIG_USB_HID unset: the kernel regex */
	cr_assert_null(c->excl_arch);
	cr_assert_str_eq(c->excl_kernel, "REQUIRES CONFIG_USB_HID");
	cr_assert_eq(dkms_conf_check_exclusive(ctx, c, KVER, ARCH, NULL), DKMS_E_EXCLUDED);
	assert_has(dkms_ctx_error(ctx), "BUILD_EXCLUSIVE_KERNEL");
	free(kdir);
	dkms_conf_free(c);
}

Test(config, kconfig_grep_without_config)
{
	stderr_capture();

	struct dkms_conf *c = load("kconfig.conf");
	char *err = stderr_text();

	/* grep fails, echo >&2 talks, the arch regex excludes everything */
	cr_assert_str_eq(c->name, "probe");
	cr_assert_str_eq(c->excl_arch, "^do_not_build$");
	cr_assert_null(c->excl_kernel);
	cr_assert_eq(dkms_conf_check_exclusive(ctx, c, KVER, ARCH, NULL), DKMS_E_EXCLUDED);
	assert_has(dkms_ctx_error(ctx), "BUILD_EXCLUSIVE_ARCH");
	assert_has(dkms_ctx_error(ctx), "probe/0.4");
	assert_has(dkms_ctx_error(ctx), KVER);
	assert_has(err, "I2C disabled in this kernel");
	free(err);
	dkms_conf_free(c);
}

Test(config, noisy_output_is_not_read)
{
	stderr_capture();

	struct dkms_conf *c = load("noisy.conf");
	char *err = stderr_text();

	/* stdout and stderr of the conf both end on our stderr, never in the channel */
	assert_has(err, "conf says hello on stdout");
	assert_has(err, "conf says hello on stderr");
	assert_has(err, "PACKAGE_NAME"); /* the forged record, up to its first NUL */
	free(err);

	cr_assert_str_eq(c->name, "noisy");
	cr_assert_str_eq(c->version, "1");
	cr_assert_eq(c->n_mods, 1);
	cr_assert_str_eq(c->mods[0].built_name, "noisy");
	dkms_conf_free(c);
}

Test(config, make_match_last_wins)
{
	struct dkms_conf *c = load_k("make-match.conf", KVER, NULL);

	/* MAKE[1] (^6\.) and MAKE[3] (^6\.1\..*-amd64$) match: the last one wins */
	cr_assert_str_eq(c->make, "make debian-6.1");
	dkms_conf_free(c);
	c = load_k("make-match.conf", "5.10.0-30-amd64", NULL);
	cr_assert_str_eq(c->make, "make old-kernel");
	dkms_conf_free(c);
	c = load_k("make-match.conf", "7.0.0", NULL);
	cr_assert_str_eq(c->make, "make default");
	dkms_conf_free(c);
}

Test(config, make_multiline_with_and)
{
	struct dkms_conf *c = load_k("make-match.conf", "6.5.0-1-generic", NULL);
	char *want = dkms_asprintf("make -C %s M=%s/matcher/1.0/build/one modules       && "
				   "make -C %s M=%s/matcher/1.0/build/two modules",
				   empty, ctx->dkms_tree, empty, ctx->dkms_tree);

	cr_assert_str_eq(c->make, want);
	free(want);
	dkms_conf_free(c);
}

Test(config, make_match_only_falls_back_to_default)
{
	struct dkms_conf *c = load_k("make-match-only.conf", "5.4.0-1", NULL);

	cr_assert_str_eq(c->make, "make for-five");
	dkms_conf_free(c);
	c = load_k("make-match-only.conf", KVER, NULL);
	cr_assert_null(c->make, "MAKE[0] has a MAKE_MATCH[0] that fails: the default make");
	dkms_conf_free(c);
}

Test(config, patch_match)
{
	struct dkms_conf *c = load_k("patch.conf", KVER, NULL);

	cr_assert_eq(c->n_patches, 2);
	cr_assert_str_eq(c->patches[0], "fix-build.patch");
	cr_assert_str_eq(c->patches[1], "only-for-6.1.patch");
	dkms_conf_free(c);
	c = load_k("patch.conf", "5.15.0-1", NULL);
	cr_assert_eq(c->n_patches, 2);
	cr_assert_str_eq(c->patches[0], "fix-build.patch");
	cr_assert_str_eq(c->patches[1], "only-for-5.patch");
	dkms_conf_free(c);
	c = load_k("patch.conf", "6.10.0", NULL);
	cr_assert_eq(c->n_patches, 1);
	cr_assert_str_eq(c->patches[0], "fix-build.patch");
	dkms_conf_free(c);
}

Test(config, crlf)
{
	struct dkms_conf *c = load("crlf.conf");

	cr_assert_str_eq(c->name, "windows");
	cr_assert_str_eq(c->version, "1.2");
	cr_assert_str_eq(c->mods[0].built_name, "winmod");
	cr_assert_str_eq(c->mods[0].dest_location, "/extra");
	cr_assert(c->autoinstall);
	cr_assert_str_eq(c->make, "make KVER=" KVER);
	dkms_conf_free(c);
}

Test(config, quoting_read_back_exactly)
{
	struct dkms_conf *c = load("quoting.conf");

	cr_assert_str_eq(c->make, "make CFLAGS=\"-DNAME=\\\"quoted\\\"\" 'EXTRA=a b'\nmake second-line");
	cr_assert_str_eq(c->post_build, "echo $(touch /nonexistent-dkms-test) `id` ; PACKAGE_NAME=evil");
	cr_assert_str_eq(c->pre_build, "  leading and trailing spaces  ");
	cr_assert_str_eq(c->clean, "tab\there\nnewline and a \\ backslash");
	cr_assert_str_eq(c->name, "quoted");
	cr_assert_not(dkms_exists("/nonexistent-dkms-test"));
	dkms_conf_free(c);
}

Test(config, relative_path_made_absolute)
{
	char *want = fx("defaults.conf"), old[PATH_MAX];
	struct dkms_conf_vars vars = { .kernelver = KVER, .arch = ARCH, .kernel_source_dir = empty };
	struct dkms_conf *c = NULL;

	cr_assert_not_null(getcwd(old, sizeof(old)));
	cr_assert_eq(chdir(data), 0);
	cr_assert_eq(dkms_conf_load(ctx, "defaults.conf", &vars, &c), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_eq(chdir(old), 0);
	cr_assert_str_eq(c->path, want);
	free(want);
	dkms_conf_free(c);
}

/* ---- variables in scope ---- */

Test(config, variables_in_scope)
{
	char *kdir = fx("kernel"), *kcfg = fx("kernel/.config");
	char *jt = tpath("var/lib/dkms/.build/" KVER "/" ARCH);
	struct dkms_conf_vars vars = {
		.kernelver = KVER,
		.arch = ARCH,
		.kernel_source_dir = kdir,
		.kernel_config = kcfg,
		.dkms_tree = jt,
		.module = "scope",
		.module_version = "7",
	};
	struct dkms_conf *c = NULL;
	char *p = fx("vars.conf");
	char *pb = dkms_asprintf(KVER "|" ARCH "|%s|%s|%s|%s|%s", kdir, kcfg, jt, ctx->source_tree,
				 ctx->install_tree);
	char *pi = dkms_asprintf("scope|7|%s", data);
	char *make = dkms_asprintf("make -C %s M=%s/scope/7/build", kdir, jt);

	cr_assert_eq(dkms_conf_load(ctx, p, &vars, &c), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_str_eq(c->post_build, pb);
	cr_assert_str_eq(c->post_install, pi);
	cr_assert_str_eq(c->make, make);
	dkms_conf_free(c);
	free(p);
	free(pb);
	free(pi);
	free(make);
	free(kdir);
	free(kcfg);
	free(jt);
}

Test(config, variables_defaults)
{
	/* no kernel_source_dir: <install_tree>/<kver>/build; no dkms_tree: the context's */
	struct dkms_conf_vars vars = { .kernelver = KVER, .arch = ARCH };
	struct dkms_conf *c = NULL;
	char *p = fx("vars.conf");
	char *ksrc = dkms_asprintf("%s/%s/build", ctx->install_tree, KVER);
	char *pb = dkms_asprintf(KVER "|" ARCH "|%s|%s/.config|%s|%s|%s", ksrc, ksrc, ctx->dkms_tree,
				 ctx->source_tree, ctx->install_tree);
	char *pi = dkms_asprintf("unset|unset|%s", data);

	cr_assert_eq(dkms_conf_load(ctx, p, &vars, &c), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_str_eq(c->post_build, pb);
	cr_assert_str_eq(c->post_install, pi, "module and module_version are unset when not known");
	dkms_conf_free(c);
	free(p);
	free(ksrc);
	free(pb);
	free(pi);
}

Test(config, environment_cannot_inject)
{
	char *evil = put_path("evil.sh", "PACKAGE_NAME=evil\n");

	setenv("BASH_ENV", evil, 1);
	setenv("ENV", evil, 1);
	setenv("PACKAGE_NAME", "fromenv", 1);
	setenv("BUILT_MODULE_NAME", "fromenv", 1);

	struct dkms_conf *c = load("defaults.conf");

	cr_assert_str_eq(c->name, "lonely");
	cr_assert_str_eq(c->mods[0].built_name, "lonely");
	dkms_conf_free(c);
	free(evil);
}

Test(config, stdin_closed_and_background_jobs_do_not_block)
{
	char *p = put_path("bg/dkms.conf",
			   "read -r line\nPACKAGE_NAME=bg\nPACKAGE_VERSION=\"${line:-none}\"\n"
			   "sleep 5 &\nBUILT_MODULE_NAME[0]=bg\nDEST_MODULE_LOCATION[0]=/extra\n");
	struct dkms_conf_vars vars = { .kernelver = KVER, .arch = ARCH, .kernel_source_dir = empty };
	struct dkms_conf *c = NULL;
	time_t t0 = time(NULL);

	cr_assert_eq(dkms_conf_load(ctx, p, &vars, &c), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_lt(time(NULL) - t0, 3, "waited for the background job");
	cr_assert_str_eq(c->version, "none");
	dkms_conf_free(c);
	free(p);
}

Test(config, conf_cannot_write_the_channel)
{
	char *p = put_path("fd3/dkms.conf",
			   "printf 'PACKAGE_NAME\\0000\\000forged\\000' >&3\n"
			   "PACKAGE_NAME=fd3\nPACKAGE_VERSION=1\nDEST_MODULE_LOCATION=/extra\n");
	struct dkms_conf_vars vars = { .kernelver = KVER, .arch = ARCH, .kernel_source_dir = empty };
	struct dkms_conf *c = NULL;
	char *err;

	stderr_capture();
	cr_assert_eq(dkms_conf_load(ctx, p, &vars, &c), 0, "%s", dkms_ctx_error(ctx));
	err = stderr_text();
	assert_has(err, "Bad file descriptor");
	free(err);
	cr_assert_str_eq(c->name, "fd3");
	dkms_conf_free(c);
	free(p);
}

Test(config, endless_conf_is_stopped_at_the_bound)
{
	char *p = put_path("loop/dkms.conf", "PACKAGE_NAME=loop\nPACKAGE_VERSION=1\nwhile :; do :; done\n");
	time_t t0 = time(NULL);
	const char *msg;

	ctx->conf_timeout = 1;
	msg = load_fail(p, DKMS_E_CONF);
	cr_assert_lt(time(NULL) - t0, 5, "the loop ran past its bound");
	assert_has(msg, p);
	assert_has(msg, "did not finish within 1 s");
	free(p);
}

Test(config, background_jobs_do_not_outlive_the_evaluation)
{
	char *mark = tpath("late"),
	     *text = dkms_asprintf("PACKAGE_NAME=bg\nPACKAGE_VERSION=1\n"
				   "BUILT_MODULE_NAME[0]=bg\nDEST_MODULE_LOCATION[0]=/extra\n"
				   "(sleep 1; : >%s) &\n",
				   mark);
	char *p = put_path("bgkill/dkms.conf", text);
	struct dkms_conf *c = load_path(p);

	sleep(2);
	cr_assert(!dkms_exists(mark), "a background job of the conf was still running");
	dkms_conf_free(c);
	free(text);
	free(mark);
	free(p);
}

Test(config, oversized_variables_refused)
{
	char *p = put_path("big/dkms.conf", "PACKAGE_NAME=big\nPACKAGE_VERSION=1\n"
					    "MAKE=$(head -c 70000000 /dev/zero | tr '\\0' x)\n");
	const char *msg = load_fail(p, DKMS_E_CONF);

	assert_has(msg, p);
	assert_has(msg, "more than 64 MiB");
	free(p);
}

Test(config, output_passed_on_is_bounded)
{
	char *p = put_path("chatty/dkms.conf", "PACKAGE_NAME=chatty\nPACKAGE_VERSION=1\n"
					       "BUILT_MODULE_NAME[0]=chatty\nDEST_MODULE_LOCATION[0]=/extra\n"
					       "head -c 3000000 /dev/zero | tr '\\0' x\n");
	struct dkms_conf *c;
	char *err;

	stderr_capture();
	c = load_path(p);
	err = stderr_text();
	cr_assert_lt(strlen(err), 70000, "%zu bytes of output passed on", strlen(err));
	assert_has(err, "the rest of this output is dropped");
	dkms_conf_free(c);
	free(err);
	free(p);
}

/* ---- hostile values: refused with a one-line message naming the directive ---- */

/* A conf from text that must fail with DKMS_E_CONF; its message names needle and is one line. */
static void hostile(const char *text, const char *needle)
{
	char *p = put_path("hostile/dkms.conf", text);
	const char *msg = load_fail(p, DKMS_E_CONF);

	assert_has(msg, p);
	assert_has(msg, needle);
	cr_assert_null(strchr(msg, '\n'), "a message on two lines: %s", msg);
	cr_assert_lt(strlen(msg), 600, "an overlong message: %s", msg);
	free(p);
}

#define MOD "\nBUILT_MODULE_NAME[0]=m\nDEST_MODULE_LOCATION[0]=/extra\n"

Test(config, hostile_names_and_versions)
{
	hostile("PACKAGE_NAME=-rf\nPACKAGE_VERSION=1" MOD, "PACKAGE_NAME=\"-rf\"");
	hostile("PACKAGE_NAME=.build\nPACKAGE_VERSION=1" MOD, "PACKAGE_NAME=\".build\"");
	hostile("PACKAGE_NAME=$'a\\tb'\nPACKAGE_VERSION=1" MOD, "PACKAGE_NAME=\"a\\x09b\"");
	hostile("PACKAGE_NAME=$'a\\nb'\nPACKAGE_VERSION=1" MOD, "PACKAGE_NAME=\"a\\x0ab\"");
	hostile("PACKAGE_NAME=$'caf\\xe9'\nPACKAGE_VERSION=1" MOD, "PACKAGE_NAME=\"caf\\xe9\"");
	hostile("PACKAGE_NAME='a;b'\nPACKAGE_VERSION=1" MOD, "PACKAGE_NAME=\"a;b\"");
	hostile("PACKAGE_NAME=$(printf 'x%.0s' {1..4200})\nPACKAGE_VERSION=1" MOD, "PACKAGE_NAME=\"xxxx");
	hostile("PACKAGE_NAME=ok\nPACKAGE_VERSION=-1" MOD, "PACKAGE_VERSION=\"-1\"");
	hostile("PACKAGE_NAME=ok\nPACKAGE_VERSION=1..2" MOD, "PACKAGE_VERSION=\"1..2\"");
	hostile("PACKAGE_NAME=ok\nPACKAGE_VERSION=$(printf '1%.0s' {1..101})" MOD, "PACKAGE_VERSION");
	hostile("PACKAGE_NAME=ok\nPACKAGE_VERSION=original_module" MOD,
		"PACKAGE_VERSION=\"original_module\"");
	hostile("PACKAGE_NAME=ok\nPACKAGE_VERSION=kernel-6.1-x86_64" MOD, "registry uses");
}

Test(config, real_names_and_versions_pass)
{
	char *p = put_path("real/dkms.conf", "PACKAGE_NAME=lime-forensics\nPACKAGE_VERSION="
					     "0.0.1+git20190320.5ae3a3e-3.2~1:x" MOD);
	struct dkms_conf *c = load_path(p);

	cr_assert_str_eq(c->version, "0.0.1+git20190320.5ae3a3e-3.2~1:x");
	dkms_conf_free(c);
	free(p);
}

Test(config, hostile_module_names)
{
	const char *head = "PACKAGE_NAME=ok\nPACKAGE_VERSION=1\nDEST_MODULE_LOCATION[0]=/extra\n";
	char *t;

	t = dkms_asprintf("%sBUILT_MODULE_NAME[0]=-m\n", head);
	hostile(t, "BUILT_MODULE_NAME[0]=\"-m\"");
	free(t);
	t = dkms_asprintf("%sBUILT_MODULE_NAME[0]=$(printf 'm%%.0s' {1..56})\n", head);
	hostile(t, "BUILT_MODULE_NAME[0]");
	free(t);
	t = dkms_asprintf("%sBUILT_MODULE_NAME[0]=m\nDEST_MODULE_NAME[0]=$'x\\ny'\n", head);
	hostile(t, "DEST_MODULE_NAME[0]=\"x\\x0ay\"");
	free(t);
	t = dkms_asprintf("%sBUILT_MODULE_NAME[0]=m\nDEST_MODULE_LOCATION[0]=$'/updates/\\nx'\n", head);
	hostile(t, "DEST_MODULE_LOCATION[0]=\"/updates/\\x0ax\"");
	free(t);
}

Test(config, hostile_scripts)
{
	hostile("PACKAGE_NAME=ok\nPACKAGE_VERSION=1\nPRE_BUILD=../evil.sh" MOD, "PRE_BUILD=\"../evil.sh\"");
	hostile("PACKAGE_NAME=ok\nPACKAGE_VERSION=1\nPOST_INSTALL='/bin/sh -c x'" MOD,
		"POST_INSTALL=\"/bin/sh -c x\"");
	hostile("PACKAGE_NAME=ok\nPACKAGE_VERSION=1\nPOST_ADD='a/../../x'" MOD, "POST_ADD");
	hostile("PACKAGE_NAME=ok\nPACKAGE_VERSION=1\nPOST_REMOVE=' ../x'" MOD, "POST_REMOVE");
}

Test(config, scripts_inside_the_source_pass)
{
	char *p = put_path("scripts/dkms.conf",
			   "PACKAGE_NAME=ok\nPACKAGE_VERSION=1\n"
			   "PRE_BUILD='./configure --prefix=/usr'\nPOST_INSTALL=x/post.sh" MOD);
	struct dkms_conf *c = load_path(p);

	cr_assert_str_eq(c->pre_build, "./configure --prefix=/usr");
	dkms_conf_free(c);
	free(p);
}

Test(config, binary_conf_refused)
{
	char *p = tpath("bin/dkms.conf");
	const char bytes[] = "PACKAGE_NAME=x\n\0\0\x7f"
			     "ELF\n";

	mkdirs("bin");
	cr_assert_eq(dkms_write_file_atomic(p, bytes, sizeof(bytes), 0644), 0);
	assert_has(load_fail(p, DKMS_E_CONF), "not a text file");
	free(p);
}

Test(config, huge_conf_refused_unread)
{
	char *p = put_path("huge/dkms.conf", "PACKAGE_NAME=x\n");

	cr_assert_eq(truncate(p, 100 << 20), 0);
	assert_has(load_fail(p, DKMS_E_CONF), "too large");
	free(p);
}

/* ---- distro and command-line overrides of DEST_MODULE_LOCATION ---- */

Test(config, distro_dest_override)
{
	ctx->dest_override = dkms_strdup("/updates/dkms");

	struct dkms_conf *c = load("multi.conf");

	for (size_t i = 0; i < c->n_mods; i++)
		cr_assert_str_eq(c->mods[i].dest_location, "/updates/dkms");
	dkms_conf_free(c);

	/* without any DEST_MODULE_LOCATION, the override is enough */
	char *p = fx("bad/no-dest.conf");
	struct dkms_conf_vars vars = { .kernelver = KVER, .arch = ARCH, .kernel_source_dir = empty };

	cr_assert_eq(dkms_conf_load(ctx, p, &vars, &c), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_str_eq(c->mods[0].dest_location, "/updates/dkms");
	dkms_conf_free(c);
	free(p);
}

Test(config, opts_dest_location_wins)
{
	ctx->dest_override = dkms_strdup("/updates/dkms");
	ctx->opts.dest_location = "/kernel/custom/";

	struct dkms_conf *c = load("multi.conf");

	for (size_t i = 0; i < c->n_mods; i++)
		cr_assert_str_eq(c->mods[i].dest_location, "/kernel/custom");
	dkms_conf_free(c);

	char *p = fx("defaults.conf");

	ctx->opts.dest_location = "relative/dir";
	assert_has(load_fail(p, DKMS_E_USAGE), "relative/dir");
	ctx->opts.dest_location = "/updates/../../etc";
	assert_has(load_fail(p, DKMS_E_USAGE), "DEST_MODULE_LOCATION");
	ctx->opts.dest_location = NULL;
	free(p);
}

/* ---- /etc/dkms overrides ---- */

static void put_override(const char *name, const char *text)
{
	char *rel = dkms_asprintf("etc/dkms/%s", name);

	put(rel, text);
	free(rel);
}

Test(config, override_files_in_order)
{
	static const char *const names[] = {
		"lonely.conf",
		"lonely-1.conf",
		"lonely-1-" KVER ".conf",
		"lonely-1-" KVER "-" ARCH ".conf",
		"lonely--" KVER ".conf",
		"lonely--" KVER "-" ARCH ".conf",
	};

	for (size_t i = 0; i < DKMS_ARRAY_SIZE(names); i++) {
		char *text = dkms_asprintf("CLEAN=\"$CLEAN %zu\"\nPRE_BUILD=\"%s\"\n", i, names[i]);

		put_override(names[i], text);
		free(text);
	}
	/* another kernel, another arch, another version, another module: not read */
	put_override("lonely-2.conf", "CLEAN=wrong\n");
	put_override("lonely-1-5.10.0.conf", "CLEAN=wrong\n");
	put_override("lonely--" KVER "-aarch64.conf", "CLEAN=wrong\n");
	put_override("other.conf", "CLEAN=wrong\n");

	struct dkms_conf *c = load("defaults.conf");

	cr_assert_str_eq(c->clean, " 0 1 2 3 4 5");
	cr_assert_str_eq(c->pre_build, "lonely--" KVER "-" ARCH ".conf");
	dkms_conf_free(c);
}

Test(config, override_changes_directives)
{
	put_override("multi-2.1.conf",
		     "DEST_MODULE_LOCATION[1]=/updates/override\nSTRIP[0]=yes\nMAKE='make over'\n");

	struct dkms_conf *c = load("multi.conf");

	cr_assert_str_eq(c->mods[0].dest_location, "/kernel/drivers/misc");
	cr_assert_str_eq(c->mods[1].dest_location, "/updates/override");
	cr_assert(c->mods[0].strip);
	cr_assert(c->mods[1].strip);
	cr_assert_str_eq(c->make, "make over");
	dkms_conf_free(c);
}

Test(config, override_exits_names_the_override)
{
	put_override("lonely-1.conf", "exit 2\n");

	char *p = fx("defaults.conf"), *ov = tpath("etc/dkms/lonely-1.conf");
	const char *msg = load_fail(p, DKMS_E_CONF);

	assert_has(msg, ov);
	assert_has(msg, "exit status 2");
	free(p);
	free(ov);
}

/* ---- --directive ---- */

Test(config, directives_after_overrides)
{
	static const char *const dirs[] = {
		"MAKE[0]=make 'from directive' \"quoted\"",
		"BUILT_MODULE_NAME[1]=second",
		"DEST_MODULE_LOCATION[1]=/updates",
		"PACKAGE_VERSION=2.0",
		"CLEAN=a=b",
	};

	put_override("picky.conf", "MAKE[0]='make from override'\nCLEAN=override\n");
	ctx->opts.directives = dirs;
	ctx->opts.n_directives = DKMS_ARRAY_SIZE(dirs);

	struct dkms_conf *c = load("exclusive.conf");

	cr_assert_str_eq(c->make, "make 'from directive' \"quoted\"");
	cr_assert_str_eq(c->version, "2.0");
	cr_assert_str_eq(c->clean, "a=b");
	cr_assert_eq(c->n_mods, 2);
	cr_assert_str_eq(c->mods[1].built_name, "second");
	cr_assert_str_eq(c->mods[1].dest_location, "/updates");
	dkms_conf_free(c);
	ctx->opts.directives = NULL;
	ctx->opts.n_directives = 0;
}

Test(config, directive_bad_names_rejected)
{
	static const char *const bad[] = {
		"1BAD=x", "NAME[x]=y", "noequals", "A;B=c", "=value", "NAME[]=v", "NAME[1=v", "$(id)=x",
	};
	char *p = fx("exclusive.conf");

	for (size_t i = 0; i < DKMS_ARRAY_SIZE(bad); i++) {
		ctx->opts.directives = &bad[i];
		ctx->opts.n_directives = 1;
		assert_has(load_fail(p, DKMS_E_USAGE), "--directive");
		assert_has(dkms_ctx_error(ctx), bad[i]);
	}
	ctx->opts.directives = NULL;
	ctx->opts.n_directives = 0;
	free(p);
}

Test(config, directive_can_make_a_conf_bad)
{
	static const char *const dirs[] = { "BUILD_DEPENDS=ok ../bad" };
	char *p = fx("exclusive.conf");

	ctx->opts.directives = dirs;
	ctx->opts.n_directives = 1;
	assert_has(load_fail(p, DKMS_E_CONF), "BUILD_DEPENDS[0]");
	ctx->opts.directives = NULL;
	ctx->opts.n_directives = 0;
	free(p);
}

Test(config, bool_directive_warns)
{
	static const char *const dirs[] = { "AUTOINSTALL=maybe" };

	ctx->opts.directives = dirs;
	ctx->opts.n_directives = 1;

	struct dkms_conf *c = load("exclusive.conf");

	cr_assert_not(c->autoinstall);
	assert_has(logged.text, "AUTOINSTALL=\"maybe\"");
	dkms_conf_free(c);
	ctx->opts.directives = NULL;
	ctx->opts.n_directives = 0;
}

/* ---- failures ---- */

Test(config, conf_that_exits)
{
	char *p = fx("exits.conf");
	const char *msg = load_fail(p, DKMS_E_CONF);

	assert_has(msg, p);
	assert_has(msg, "exit status 3");
	free(p);
}

Test(config, missing_file_is_usage)
{
	char *p = tpath("nowhere/dkms.conf");

	assert_has(load_fail(p, DKMS_E_USAGE), p);
	free(p);
	assert_has(load_fail(tmp, DKMS_E_USAGE), tmp); /* a directory */
}

static void bad_case(const char *file, const char *directive)
{
	char *rel = dkms_path_join("bad", file), *p = fx(rel);
	const char *msg = load_fail(p, DKMS_E_CONF);

	assert_has(msg, p);
	assert_has(msg, directive);
	free(rel);
	free(p);
}

#define BAD_CASE(name, file, directive)                                                                      \
	Test(config, bad_##name)                                                                             \
	{                                                                                                    \
		bad_case(file, directive);                                                                   \
	}

BAD_CASE(bad_regex, "bad-regex.conf", "MAKE_MATCH[1]")
BAD_CASE(built_abs, "built-abs.conf", "BUILT_MODULE_LOCATION[0]")
BAD_CASE(built_dotdot, "built-dotdot.conf", "BUILT_MODULE_LOCATION[0]")
BAD_CASE(built_name_ko, "built-name-ko.conf", "BUILT_MODULE_NAME[0]")
BAD_CASE(built_name_slash, "built-name-slash.conf", "BUILT_MODULE_NAME[0]")
BAD_CASE(dest_dotdot, "dest-dotdot.conf", "DEST_MODULE_LOCATION[0]")
BAD_CASE(dest_name_control, "dest-name-control.conf", "DEST_MODULE_NAME[0]")
BAD_CASE(dest_outside, "dest-outside.conf", "DEST_MODULE_LOCATION[0]")
BAD_CASE(dup_dest, "dup-dest.conf", "DEST_MODULE_NAME \"same\"")
BAD_CASE(empty, "empty.conf", "PACKAGE_NAME")
BAD_CASE(mismatch_noname, "mismatch-noname.conf", "DEST_MODULE_LOCATION[1]")
BAD_CASE(mismatch, "mismatch.conf", "DEST_MODULE_LOCATION[2]")
BAD_CASE(name_slash, "name-slash.conf", "PACKAGE_NAME")
BAD_CASE(name_space, "name-space.conf", "PACKAGE_NAME")
BAD_CASE(no_dest, "no-dest.conf", "DEST_MODULE_LOCATION[0]")
BAD_CASE(no_name, "no-name.conf", "PACKAGE_NAME")
BAD_CASE(no_version, "no-version.conf", "PACKAGE_VERSION")
BAD_CASE(patch_dotdot, "patch-dotdot.conf", "PATCH[0]")
BAD_CASE(version_dotdot, "version-dotdot.conf", "PACKAGE_VERSION")

Test(config, every_bad_fixture_is_covered)
{
	char **names = NULL, *dir = fx("bad");
	size_t n = 0;

	cr_assert_eq(dkms_list_dir(dir, &names, &n), 0);
	cr_assert_eq(n, 19, "a new bad/ fixture needs its Test(config, bad_...)");
	for (size_t i = 0; i < n; i++) {
		char *rel = dkms_path_join("bad", names[i]), *p = fx(rel);

		assert_has(load_fail(p, DKMS_E_CONF), p);
		free(rel);
		free(p);
	}
	dkms_strv_free(names, n);
	free(dir);
}

/* ---- BUILD_EXCLUSIVE ---- */

/* exclusive.conf with one directive NAME=value. */
static struct dkms_conf *load_excl(const char *directive)
{
	const char *dirs[] = { directive };
	struct dkms_conf *c;

	ctx->opts.directives = dirs;
	ctx->opts.n_directives = 1;
	c = load("exclusive.conf");
	ctx->opts.directives = NULL;
	ctx->opts.n_directives = 0;
	return c;
}

static void assert_excluded(const struct dkms_conf *c, const char *kver, const char *arch, const char *cfg,
			    const char *reason)
{
	int r = dkms_conf_check_exclusive(ctx, c, kver, arch, cfg);

	cr_assert_eq(r, DKMS_E_EXCLUDED, "%s %s: got %d (%s)", kver, arch ? arch : "-", r,
		     dkms_ctx_error(ctx));
	assert_has(dkms_ctx_error(ctx), reason);
	assert_has(dkms_ctx_error(ctx), kver);
	assert_has(dkms_ctx_error(ctx), "picky/1");
}

static void assert_included(const struct dkms_conf *c, const char *kver, const char *arch, const char *cfg)
{
	int r = dkms_conf_check_exclusive(ctx, c, kver, arch, cfg);

	cr_assert_eq(r, 0, "%s %s: got %d (%s)", kver, arch ? arch : "-", r, dkms_ctx_error(ctx));
}

Test(config, exclusive_none)
{
	struct dkms_conf *c = load("exclusive.conf");

	assert_included(c, KVER, ARCH, NULL);
	assert_included(c, "2.6.32", "mips", NULL);
	dkms_conf_free(c);
}

Test(config, exclusive_kernel_regex)
{
	struct dkms_conf *c = load_excl("BUILD_EXCLUSIVE_KERNEL=^6\\.1\\.");

	assert_included(c, KVER, ARCH, NULL);
	assert_excluded(c, "5.10.0-30-amd64", ARCH, NULL, "BUILD_EXCLUSIVE_KERNEL");
	assert_excluded(c, "6.10.0", ARCH, NULL, "does not match");
	dkms_conf_free(c);
}

Test(config, exclusive_kernel_regex_invalid)
{
	struct dkms_conf *c = load_excl("BUILD_EXCLUSIVE_KERNEL=^6\\.(1");

	cr_assert_eq(dkms_conf_check_exclusive(ctx, c, KVER, ARCH, NULL), DKMS_E_CONF);
	assert_has(dkms_ctx_error(ctx), c->path);
	assert_has(dkms_ctx_error(ctx), "BUILD_EXCLUSIVE_KERNEL");
	dkms_conf_free(c);
}

Test(config, exclusive_kernel_min)
{
	struct dkms_conf *c = load_excl("BUILD_EXCLUSIVE_KERNEL_MIN=6.1.0-56");

	assert_included(c, "6.1.0-56-amd64", ARCH, NULL);
	assert_included(c, "6.2", ARCH, NULL);
	assert_excluded(c, KVER, ARCH, NULL, "BUILD_EXCLUSIVE_KERNEL_MIN");
	assert_excluded(c, "5.10.0", ARCH, NULL, "older");
	dkms_conf_free(c);
}

Test(config, exclusive_kernel_max)
{
	struct dkms_conf *c = load_excl("BUILD_EXCLUSIVE_KERNEL_MAX=6.1.0-55-amd64");

	assert_included(c, KVER, ARCH, NULL);
	assert_included(c, "5.10.0", ARCH, NULL);
	assert_excluded(c, "6.1.0-56-amd64", ARCH, NULL, "BUILD_EXCLUSIVE_KERNEL_MAX");
	assert_excluded(c, "6.10.0", ARCH, NULL, "newer");
	dkms_conf_free(c);
}

Test(config, exclusive_obsolete_by)
{
	struct dkms_conf *c = load_excl("OBSOLETE_BY=6.1.0");

	assert_included(c, "6.0.5", ARCH, NULL);
	assert_excluded(c, "6.2.0", ARCH, NULL, "OBSOLETE_BY");
	dkms_conf_free(c);
}

Test(config, exclusive_arch)
{
	struct dkms_conf *c = load_excl("BUILD_EXCLUSIVE_ARCH=^(x86_64|aarch64)$");

	assert_included(c, KVER, "x86_64", NULL);
	assert_included(c, KVER, "aarch64", NULL);
	assert_included(c, KVER, NULL, NULL); /* the machine's */
	assert_excluded(c, KVER, "armv7l", NULL, "BUILD_EXCLUSIVE_ARCH");
	assert_has(dkms_ctx_error(ctx), "armv7l");
	dkms_conf_free(c);
	free(ctx->machine_arch);
	ctx->machine_arch = dkms_strdup("ppc64le");
	c = load_excl("BUILD_EXCLUSIVE_ARCH=^(x86_64|aarch64)$");
	assert_excluded(c, KVER, NULL, NULL, "ppc64le");
	dkms_conf_free(c);
}

Test(config, exclusive_config)
{
	char *cfg = fx("kernel/.config");
	struct dkms_conf *c = load_excl("BUILD_EXCLUSIVE_CONFIG=CONFIG_I2C CONFIG_ACPI !CONFIG_USB_HID");

	assert_included(c, KVER, ARCH, cfg);
	dkms_conf_free(c);

	c = load_excl("BUILD_EXCLUSIVE_CONFIG=CONFIG_ACPI CONFIG_USB_HID");
	assert_excluded(c, KVER, ARCH, cfg, "CONFIG_USB_HID set");
	assert_has(dkms_ctx_error(ctx), cfg);
	assert_included(c, KVER, ARCH, NULL); /* no .config: not checked */
	dkms_conf_free(c);

	c = load_excl("BUILD_EXCLUSIVE_CONFIG=!CONFIG_ACPI");
	assert_excluded(c, KVER, ARCH, cfg, "CONFIG_ACPI unset");
	dkms_conf_free(c);
	free(cfg);
}

Test(config, exclusive_config_exact_names)
{
	char *cfg = fx("kernel/.config");
	/* CONFIG_ACPI_EXTRA=y must not make CONFIG_ACPI_EXT set; CONFIG_LOCALVERSION="" is not y/m */
	struct dkms_conf *c =
		load_excl("BUILD_EXCLUSIVE_CONFIG=!CONFIG_ACPI_EXT !CONFIG_LOCALVERSION CONFIG_64BIT");

	assert_included(c, KVER, ARCH, cfg);
	dkms_conf_free(c);
	c = load_excl("BUILD_EXCLUSIVE_CONFIG=CONFIG_64BI");
	assert_excluded(c, KVER, ARCH, cfg, "CONFIG_64BI ");
	dkms_conf_free(c);
	free(cfg);
}

/* ---- framework-style files ---- */

Test(config, bash_read_vars_order_and_missing)
{
	char *a = put_path("fw/framework.conf", "dkms_tree=\"/a/tree\"\nsource_tree=/a/src\n# comment\n");
	char *b = put_path("fw/framework.conf.d/b.conf",
			   "dkms_tree='/b/tree with space'\nparallel_jobs=$((2*3))\n");
	char *missing = tpath("fw/framework.conf.d/missing.conf");
	const char *files[] = { a, missing, b };
	const char *names[] = { "dkms_tree", "source_tree", "install_tree", "parallel_jobs" };
	char *values[4];

	cr_assert_eq(dkms_bash_read_vars(ctx, files, 3, names, 4, values), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_str_eq(values[0], "/b/tree with space");
	cr_assert_str_eq(values[1], "/a/src");
	cr_assert_null(values[2]);
	cr_assert_str_eq(values[3], "6");
	for (int i = 0; i < 4; i++)
		free(values[i]);
	free(a);
	free(b);
	free(missing);
}

Test(config, bash_read_vars_crlf_and_shell_options)
{
	/* the first file leaves set -eu behind; the second must still be read whole */
	char *a = put_path("fw/a.conf", "set -eu\r\nsign_file=\"/usr/bin/sign\"\r\n");
	char *b = put_path("fw/b.conf", "echo \"$undefined_var\" >&2\nfalse\nmok_key=/k\n");
	const char *files[] = { a, b };
	const char *names[] = { "sign_file", "mok_key" };
	char *values[2];

	cr_assert_eq(dkms_bash_read_vars(ctx, files, 2, names, 2, values), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_str_eq(values[0], "/usr/bin/sign");
	cr_assert_str_eq(values[1], "/k");
	free(values[0]);
	free(values[1]);
	free(a);
	free(b);
}

Test(config, bash_read_vars_errors)
{
	char *a = put_path("fw/quits.conf", "dkms_tree=/x\nexit 1\n");
	const char *files[] = { a };
	const char *good[] = { "dkms_tree" };
	const char *bad[] = { "not-a-name" };
	char *values[1];

	cr_assert_eq(dkms_bash_read_vars(ctx, files, 1, good, 1, values), DKMS_E_CONF);
	assert_has(dkms_ctx_error(ctx), a);
	cr_assert_null(values[0]);
	cr_assert_eq(dkms_bash_read_vars(ctx, files, 1, bad, 1, values), DKMS_E_FAIL);
	assert_has(dkms_ctx_error(ctx), "not-a-name");
	free(a);
}

Test(config, bash_read_vars_no_files)
{
	const char *names[] = { "dkms_tree" };
	char *values[1];

	cr_assert_eq(dkms_bash_read_vars(ctx, NULL, 0, names, 1, values), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_null(values[0]);
}

/* ---- dkms_conf_for and its cache ---- */

/* <dkms_tree>/<m>/<v>/source -> <source_tree>/<m>-<v> holding a copy of a fixture. */
static void added_from(const char *m, const char *v, const char *fixture)
{
	char *src = fx(fixture), *text = NULL;

	cr_assert_eq(dkms_read_file(src, &text, NULL), 0, "%s", src);
	added_conf(m, v, text);
	free(src);
	free(text);
}

static struct dkms_kernel kernel_of(const char *kver)
{
	struct dkms_kernel k = {
		.version = (char *)kver,
		.arch = (char *)ARCH,
		.source_dir = empty,
		.config_path = NULL,
	};

	return k;
}

Test(config, conf_for_caches)
{
	struct dkms_kernel k = kernel_of(KVER), k2 = kernel_of("6.1.0-56-amd64");
	const struct dkms_conf *a = NULL, *b = NULL, *j = NULL, *o = NULL;
	char *jt = tpath("var/lib/dkms/.build/" KVER "/" ARCH);
	char *want;

	added_from("scope", "7", "vars.conf");
	cr_assert_eq(dkms_conf_for(ctx, "scope", "7", &k, NULL, &a), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_eq(dkms_conf_for(ctx, "scope", "7", &k, NULL, &b), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_eq(a, b, "second call must return the cached conf");
	cr_assert_str_eq(a->name, "scope");
	want = dkms_asprintf("scope|7|%s/usr/src/scope-7", tmp);
	cr_assert_str_eq(a->post_install, want);
	free(want);
	want = dkms_asprintf("make -C %s M=%s/scope/7/build", empty, ctx->dkms_tree);
	cr_assert_str_eq(a->make, want);
	free(want);

	cr_assert_eq(dkms_conf_for(ctx, "scope", "7", &k, jt, &j), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_neq(j, a, "another job tree is another evaluation");
	want = dkms_asprintf("make -C %s M=%s/scope/7/build", empty, jt);
	cr_assert_str_eq(j->make, want);
	free(want);
	cr_assert_eq(dkms_conf_for(ctx, "scope", "7", &k, jt, &b), 0);
	cr_assert_eq(j, b);

	cr_assert_eq(dkms_conf_for(ctx, "scope", "7", &k2, NULL, &o), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_neq(o, a, "another kernel is another evaluation");
	assert_has(o->post_build, "6.1.0-56-amd64|");
	free(jt);
}

Test(config, conf_for_bad_conf_cached_missing_not)
{
	struct dkms_kernel k = kernel_of(KVER);
	const struct dkms_conf *c = (const struct dkms_conf *)1;
	char *first;

	added_from("nowhere", "1", "bad/no-dest.conf");
	cr_assert_eq(dkms_conf_for(ctx, "nowhere", "1", &k, NULL, &c), DKMS_E_CONF);
	cr_assert_null(c);
	first = dkms_strdup(dkms_ctx_error(ctx));
	assert_has(first, "DEST_MODULE_LOCATION[0]");
	dkms_err_set(ctx, 1, "something else");
	cr_assert_eq(dkms_conf_for(ctx, "nowhere", "1", &k, NULL, &c), DKMS_E_CONF);
	cr_assert_str_eq(dkms_ctx_error(ctx), first, "the cached error is given again");
	free(first);

	/* a missing conf is DKMS_E_USAGE and not remembered */
	cr_assert_eq(dkms_conf_for(ctx, "later", "1", &k, NULL, &c), DKMS_E_USAGE);
	added_from("later", "1", "defaults.conf");
	cr_assert_eq(dkms_conf_for(ctx, "later", "1", &k, NULL, &c), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_str_eq(c->name, "lonely");
}

Test(config, conf_for_uses_opts_conf_file)
{
	struct dkms_kernel k = kernel_of(KVER);
	const struct dkms_conf *c = NULL;
	char *p = fx("patch.conf");

	ctx->opts.conf_file = p;
	cr_assert_eq(dkms_conf_for(ctx, "patched", "5", &k, NULL, &c), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_str_eq(c->path, p);
	cr_assert_eq(c->n_patches, 2);
	ctx->opts.conf_file = NULL;
	dkms_conf_cache_free(ctx);
	cr_assert_null(ctx->conf_cache);
	free(p);
}

/* The channel alone (what the fuzzer feeds): records parsed and validated without bash. */
static int from_records(const char *buf, size_t len, struct dkms_conf **c)
{
	return dkms_conf_from_records(ctx, "/x/dkms.conf", buf, len, KVER, c);
}

#define REC(n, i, v) n "\0" i "\0" v "\0"
#define BASE                                                                                                 \
	REC("@file", "0", "/x/dkms.conf")                                                                    \
	REC("PACKAGE_NAME", "0", "hello")                                                                    \
	REC("PACKAGE_VERSION", "0", "1.0") REC("DEST_MODULE_LOCATION", "0", "/updates")

Test(config, conf_from_records)
{
	static const char ok[] = BASE REC("BUILT_MODULE_NAME", "0", "hello") REC("MAKE", "0", "make all")
		REC("MAKE", "x", "assoc: ignored") REC("BUILD_DEPENDS", "0", "a b") REC("@end", "0", "");
	static const char cut[] = BASE REC("@end", "0", "");
	static const char bad[] = BASE REC("BUILT_MODULE_LOCATION", "0", "../up") REC("@end", "0", "");
	struct dkms_conf *c;

	cr_assert_eq(from_records(ok, sizeof(ok) - 1, &c), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_str_eq(c->name, "hello");
	cr_assert_str_eq(c->version, "1.0");
	cr_assert_eq(c->n_mods, 1);
	cr_assert_str_eq(c->mods[0].dest_location, "/updates");
	cr_assert_str_eq(c->make, "make all");
	cr_assert_eq(c->n_build_depends, 2);
	dkms_conf_free(c);
	/* no @end: bash died while writing; a record cut short is dropped */
	cr_assert_eq(from_records(cut, sizeof(cut) - 1 - 8, &c), DKMS_E_CONF);
	cr_assert_null(c);
	cr_assert_eq(from_records(ok, sizeof(ok) - 3, &c), DKMS_E_CONF);
	cr_assert_eq(from_records(bad, sizeof(bad) - 1, &c), DKMS_E_CONF);
	cr_assert_not_null(strstr(dkms_ctx_error(ctx), "BUILT_MODULE_LOCATION[0]=\"../up\""), "%s",
			   dkms_ctx_error(ctx));
}
