/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kernel.c: headers, config, compression and signing of a kernel, over fake and real trees. */
#include "fixture.h"

#include <sys/stat.h>
#include <sys/utsname.h>

#define REAL_KVER "6.1.0-55-amd64"

static void setup(void)
{
	fixture_setup("kernel", FX_INSTALL_TREE | FX_CONF_DIR | FX_CTX);
}

TestSuite(kernel, .init = setup, .fini = fixture_teardown);

static const char fake_config[] = "#\n# Automatically generated file; DO NOT EDIT.\n#\n"
				  "CONFIG_MODULES=y\n"
				  "CONFIG_MODULE_SIG=y\n"
				  "# CONFIG_MODULE_SIG_FORCE is not set\n"
				  "CONFIG_MODULE_SIG_HASH=\"sha512\"\n"
				  "# CONFIG_MODULE_COMPRESS_NONE is not set\n"
				  "CONFIG_MODULE_COMPRESS_ZSTD=y\n"
				  "CONFIG_LOCALVERSION=\"-a \\\"quoted\\\" \\\\ value\"\n"
				  "CONFIG_NR_CPUS=64\r\n"
				  "CONFIG_EMPTY=\n";

static struct dkms_kernel *open_ok(const char *kver, const char *arch)
{
	struct dkms_kernel *k = NULL;

	cr_assert_eq(dkms_kernel_open(ctx, kver, arch, &k), 0, "%s: %s", kver, dkms_ctx_error(ctx));
	cr_assert_not_null(k);
	return k;
}

Test(kernel, fake_tree_with_build_dir)
{
	struct dkms_kernel *k;
	char *build = tpath("lib/modules/5.10.0-1-test/build");
	char *mdir = tpath("lib/modules/5.10.0-1-test");
	char *cfg = tpath("lib/modules/5.10.0-1-test/build/.config");

	put("lib/modules/5.10.0-1-test/build/Makefile", "# kernel\n");
	put("lib/modules/5.10.0-1-test/build/.config", fake_config);
	k = open_ok("5.10.0-1-test", "aarch64");
	cr_assert_str_eq(k->version, "5.10.0-1-test");
	cr_assert_str_eq(k->arch, "aarch64");
	cr_assert_str_eq(k->source_dir, build);
	cr_assert_str_eq(k->config_path, cfg);
	cr_assert_str_eq(k->modules_dir, mdir);
	cr_assert_eq(k->compress, DKMS_COMPRESS_ZST, "no modules: from CONFIG_MODULE_COMPRESS_ZSTD");
	cr_assert_str_eq(k->sig_hash, "sha512");
	cr_assert(dkms_kernel_has_headers(k));
	cr_assert_not(dkms_kernel_has_modules_dep(k));
	put("lib/modules/5.10.0-1-test/modules.dep", "");
	cr_assert(dkms_kernel_has_modules_dep(k));
	dkms_kernel_free(k);
	free(build);
	free(mdir);
	free(cfg);
}

Test(kernel, config_get)
{
	struct dkms_kernel *k;
	char *v;

	put("lib/modules/5.10.0-1-test/build/.config", fake_config);
	k = open_ok("5.10.0-1-test", NULL);
	v = dkms_kernel_config_get(k, "CONFIG_MODULE_SIG");
	cr_assert_str_eq(v, "y");
	free(v);
	v = dkms_kernel_config_get(k, "MODULE_SIG");
	cr_assert_str_eq(v, "y", "the CONFIG_ prefix is optional");
	free(v);
	v = dkms_kernel_config_get(k, "CONFIG_MODULE_SIG_HASH");
	cr_assert_str_eq(v, "sha512");
	free(v);
	v = dkms_kernel_config_get(k, "CONFIG_LOCALVERSION");
	cr_assert_str_eq(v, "-a \"quoted\" \\ value");
	free(v);
	v = dkms_kernel_config_get(k, "CONFIG_NR_CPUS");
	cr_assert_str_eq(v, "64", "CRLF line");
	free(v);
	v = dkms_kernel_config_get(k, "CONFIG_EMPTY");
	cr_assert_str_eq(v, "");
	free(v);
	cr_assert_null(dkms_kernel_config_get(k, "CONFIG_MODULE_SIG_FORCE"), "is not set");
	cr_assert_null(dkms_kernel_config_get(k, "CONFIG_MODULE_SI"), "prefix of a name");
	cr_assert_null(dkms_kernel_config_get(k, "CONFIG_NOPE"));
	cr_assert_null(dkms_kernel_config_get(k, ""));
	dkms_kernel_free(k);
}

Test(kernel, no_config_no_signing_no_compression)
{
	struct dkms_kernel *k;

	put("lib/modules/5.10.0-2-test/build/Makefile", "# kernel\n");
	k = open_ok("5.10.0-2-test", NULL);
	cr_assert_null(k->config_path);
	cr_assert_null(k->sig_hash);
	cr_assert_eq(k->compress, DKMS_COMPRESS_NONE);
	cr_assert_null(dkms_kernel_config_get(k, "CONFIG_MODULES"));
	cr_assert(dkms_kernel_has_headers(k), "a Makefile is enough");
	dkms_kernel_free(k);
}

Test(kernel, sig_hash_needs_module_sig)
{
	struct dkms_kernel *k;

	put("lib/modules/5.10.0-3-test/build/.config", "# CONFIG_MODULE_SIG is not set\n"
						       "CONFIG_MODULE_SIG_HASH=\"sha256\"\n"
						       "CONFIG_MODULE_COMPRESS_XZ=y\n");
	k = open_ok("5.10.0-3-test", NULL);
	cr_assert_null(k->sig_hash);
	cr_assert_eq(k->compress, DKMS_COMPRESS_XZ);
	cr_assert(dkms_kernel_has_headers(k), "a .config is enough");
	dkms_kernel_free(k);

	put("lib/modules/5.10.0-4-test/build/.config",
	    "CONFIG_MODULE_SIG=y\nCONFIG_MODULE_COMPRESS_GZIP=y\n");
	k = open_ok("5.10.0-4-test", NULL);
	cr_assert_null(k->sig_hash, "CONFIG_MODULE_SIG without a hash");
	cr_assert_eq(k->compress, DKMS_COMPRESS_GZ);
	dkms_kernel_free(k);
}

Test(kernel, compression_follows_installed_modules)
{
	struct dkms_kernel *k;

	put("lib/modules/5.10.0-5-test/build/.config", fake_config);
	put("lib/modules/5.10.0-5-test/kernel/README", "not a module\n");
	put("lib/modules/5.10.0-5-test/kernel/arch/x86/crypto/aes.ko.xz", "x");
	k = open_ok("5.10.0-5-test", NULL);
	cr_assert_eq(k->compress, DKMS_COMPRESS_XZ, "the modules win over CONFIG_MODULE_COMPRESS_ZSTD");
	dkms_kernel_free(k);

	put("lib/modules/5.10.0-6-test/build/.config", fake_config);
	put("lib/modules/5.10.0-6-test/kernel/drivers/net/e1000.ko", "x");
	k = open_ok("5.10.0-6-test", NULL);
	cr_assert_eq(k->compress, DKMS_COMPRESS_NONE);
	dkms_kernel_free(k);

	put("lib/modules/5.10.0-7-test/kernel/fs/ext4.ko.gz", "x");
	k = open_ok("5.10.0-7-test", NULL);
	cr_assert_eq(k->compress, DKMS_COMPRESS_GZ);
	dkms_kernel_free(k);

	put("lib/modules/5.10.0-8-test/kernel/fs/a.kobj", "x");
	put("lib/modules/5.10.0-8-test/kernel/fs/b.ko.zst", "x");
	k = open_ok("5.10.0-8-test", NULL);
	cr_assert_eq(k->compress, DKMS_COMPRESS_ZST);
	dkms_kernel_free(k);
}

Test(kernel, compression_probe_is_bounded)
{
	struct dkms_kernel *k;

	/* thousands of other files before the first module: give up and use the config */
	put("lib/modules/5.10.0-9-test/build/.config", fake_config);
	for (int i = 0; i < 5000; i++) {
		char rel[128];

		snprintf(rel, sizeof(rel), "lib/modules/5.10.0-9-test/kernel/f%04d.txt", i);
		put(rel, "");
	}
	put("lib/modules/5.10.0-9-test/kernel/sub/m.ko.gz", "x");
	k = open_ok("5.10.0-9-test", NULL);
	cr_assert_eq(k->compress, DKMS_COMPRESS_ZST);
	dkms_kernel_free(k);
}

Test(kernel, source_dir_order)
{
	struct dkms_kernel *k;
	char *src = tpath("lib/modules/5.10.0-10-test/source");
	char *build = tpath("lib/modules/5.10.0-11-test/build");
	char *ksd = tpath("elsewhere");

	/* no build: source */
	put("lib/modules/5.10.0-10-test/source/Makefile", "");
	k = open_ok("5.10.0-10-test", NULL);
	cr_assert_str_eq(k->source_dir, src);
	cr_assert_null(k->config_path);
	dkms_kernel_free(k);

	/* nothing at all: the usual place is named, without headers and without failing */
	k = open_ok("5.10.0-11-test", NULL);
	cr_assert_str_eq(k->source_dir, build);
	cr_assert_not(dkms_kernel_has_headers(k));
	cr_assert_null(k->config_path);
	cr_assert_null(k->sig_hash);
	cr_assert_eq(k->compress, DKMS_COMPRESS_NONE);
	dkms_kernel_free(k);

	/* --kernelsourcedir wins */
	put("lib/modules/5.10.0-10-test/build/Makefile", "");
	put("elsewhere/.config", "CONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_HASH=\"sha384\"\n");
	ctx->kernel_source_dir = dkms_strdup(ksd);
	k = open_ok("5.10.0-10-test", NULL);
	cr_assert_str_eq(k->source_dir, ksd);
	cr_assert_str_eq(k->sig_hash, "sha384");
	dkms_kernel_free(k);
	free(src);
	free(build);
	free(ksd);
}

Test(kernel, build_symlink)
{
	struct dkms_kernel *k;
	char *hdr = tpath("usr/src/linux-headers-5.10.0-12-test");
	char *link = tpath("lib/modules/5.10.0-12-test/build");
	char *mdir = tpath("lib/modules/5.10.0-12-test");

	put("usr/src/linux-headers-5.10.0-12-test/Makefile", "");
	cr_assert_eq(dkms_mkdir_p(mdir, 0755), 0);
	cr_assert_eq(symlink(hdr, link), 0);
	k = open_ok("5.10.0-12-test", NULL);
	cr_assert_str_eq(k->source_dir, link);
	cr_assert(dkms_kernel_has_headers(k));
	dkms_kernel_free(k);
	free(hdr);
	free(link);
	free(mdir);
}

Test(kernel, arch_and_bad_names)
{
	struct dkms_kernel *k = (void *)1;
	struct utsname u;

	cr_assert_eq(uname(&u), 0);
	k = open_ok("5.10.0-1-test", NULL);
	cr_assert_str_eq(k->arch, u.machine);
	dkms_kernel_free(k);
	k = (void *)1;
	cr_assert_eq(dkms_kernel_open(ctx, "../etc", NULL, &k), DKMS_E_USAGE);
	cr_assert_null(k);
	cr_assert_neq(strstr(dkms_ctx_error(ctx), "../etc"), NULL, "%s", dkms_ctx_error(ctx));
	cr_assert_eq(dkms_kernel_open(ctx, "", NULL, &k), DKMS_E_USAGE);
	cr_assert_eq(dkms_kernel_open(ctx, "5.10", "x/y", &k), DKMS_E_USAGE);
	dkms_kernel_free(NULL);
}

Test(kernel, suffixes)
{
	cr_assert_str_eq(dkms_compress_suffix(DKMS_COMPRESS_NONE), "");
	cr_assert_str_eq(dkms_compress_suffix(DKMS_COMPRESS_GZ), ".gz");
	cr_assert_str_eq(dkms_compress_suffix(DKMS_COMPRESS_XZ), ".xz");
	cr_assert_str_eq(dkms_compress_suffix(DKMS_COMPRESS_ZST), ".zst");
}

Test(kernel, list_installed)
{
	char **kv;
	size_t n;
	char *hdr = tpath("usr/src/linux-headers-6.1.0-10-amd64");
	char *dangling = tpath("usr/src/gone");

	put("lib/modules/6.1.0-9-amd64/build/Makefile", "");
	put("usr/src/linux-headers-6.1.0-10-amd64/Makefile", "");
	put("lib/modules/6.1.0-11-amd64/kernel/a.ko", ""); /* no headers */
	put("lib/modules/6.1.0-2-amd64/build/Makefile", "");
	put("lib/modules/.hidden/build/Makefile", "");
	put("lib/modules/stray-file", "");
	{
		char *l10 = tpath("lib/modules/6.1.0-10-amd64/build");
		char *l12 = tpath("lib/modules/6.1.0-12-amd64/build");
		char *d12 = tpath("lib/modules/6.1.0-12-amd64");

		cr_assert_eq(dkms_mkdir_p(d12, 0755), 0);
		*strrchr(l10, '/') = '\0';
		cr_assert_eq(dkms_mkdir_p(l10, 0755), 0);
		strcat(l10, "/build");
		cr_assert_eq(symlink(hdr, l10), 0);
		cr_assert_eq(symlink(dangling, l12), 0);
		free(l10);
		free(l12);
		free(d12);
	}
	cr_assert_eq(dkms_kernel_list_installed(ctx, &kv, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(kv[0], "6.1.0-2-amd64");
	cr_assert_str_eq(kv[1], "6.1.0-9-amd64");
	cr_assert_str_eq(kv[2], "6.1.0-10-amd64");
	dkms_strv_free(kv, n);
	free(hdr);
	free(dangling);
}

Test(kernel, list_installed_missing_tree)
{
	char **kv = (void *)1;
	size_t n = 7;
	char *it = tpath("lib/modules");

	cr_assert_eq(dkms_rm_rf(it), 0);
	cr_assert_eq(dkms_kernel_list_installed(ctx, &kv, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(kv);
	free(it);
}

/* The machine's real headers (Debian 12): /lib/modules/<kver>/build. */
Test(kernel, real_headers)
{
	struct dkms_kernel *k;
	char *mk = dkms_asprintf("/lib/modules/%s/build/Makefile", REAL_KVER);

	cr_assert(dkms_is_file(mk), "kernel headers for %s missing (%s): install linux-headers-%s", REAL_KVER,
		  mk, REAL_KVER);
	free(ctx->install_tree);
	ctx->install_tree = dkms_strdup("/lib/modules");
	k = open_ok(REAL_KVER, "x86_64");
	cr_assert_str_eq(k->source_dir, "/lib/modules/" REAL_KVER "/build");
	cr_assert_str_eq(k->config_path, "/lib/modules/" REAL_KVER "/build/.config");
	cr_assert_str_eq(k->modules_dir, "/lib/modules/" REAL_KVER);
	cr_assert(dkms_kernel_has_headers(k));
	cr_assert_str_eq(k->sig_hash, "sha256");
	cr_assert_eq(k->compress, DKMS_COMPRESS_NONE, "Debian 6.1: CONFIG_MODULE_COMPRESS_NONE, no modules");
	{
		char *v = dkms_kernel_config_get(k, "CONFIG_MODULES");

		cr_assert_str_eq(v, "y");
		free(v);
	}
	dkms_kernel_free(k);
	free(mk);
}

/* Without <install_tree>/<kver>: Debian's /usr/src/linux-headers-<kver>. */
Test(kernel, real_headers_fallback)
{
	struct dkms_kernel *k;

	cr_assert(dkms_is_dir("/usr/src/linux-headers-" REAL_KVER), "install linux-headers-" REAL_KVER);
	k = open_ok(REAL_KVER, NULL);
	cr_assert_str_eq(k->source_dir, "/usr/src/linux-headers-" REAL_KVER);
	cr_assert(dkms_kernel_has_headers(k));
	cr_assert_str_eq(k->sig_hash, "sha256");
	cr_assert_not(dkms_kernel_has_modules_dep(k));
	dkms_kernel_free(k);
}

Test(kernel, hostile_names_refused_on_one_line)
{
	static const char *const bad[] = {
		"",    "..",	 "a/b",
		"-rf", "6.1\nx", "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
	};
	struct dkms_kernel *k = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cr_assert_eq(dkms_kernel_open(ctx, bad[i], "x86_64", &k), DKMS_E_USAGE, "'%s' accepted",
			     bad[i]);
		cr_assert_null(k);
		cr_assert_null(strchr(dkms_ctx_error(ctx), '\n'), "%s", dkms_ctx_error(ctx));
	}
	cr_assert_eq(dkms_kernel_open(ctx, HELLO_KVER, "../x", &k), DKMS_E_USAGE);
	cr_assert_eq(dkms_kernel_open(ctx, HELLO_KVER, "-m32", &k), DKMS_E_USAGE);
}

Test(kernel, module_arguments_refused_on_one_line)
{
	static const char *const bad[] = { "a/../../x", "../x", "-rf", "-rf/1", "a\nb/1", "a/-1", "a/" };
	char *n, *v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cr_assert_eq(dkms_module_resolve(ctx, bad[i], &n, &v), DKMS_E_USAGE, "'%s' accepted", bad[i]);
		cr_assert_null(strchr(dkms_ctx_error(ctx), '\n'), "%s", dkms_ctx_error(ctx));
	}
	cr_assert_eq(dkms_module_resolve(ctx, "dkms-hello/0.1", &n, &v), 0);
	cr_assert_str_eq(n, "dkms-hello");
	cr_assert_str_eq(v, "0.1");
	free(n);
	free(v);
}
