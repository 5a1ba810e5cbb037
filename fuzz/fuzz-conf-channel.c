/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dkms.conf channel without bash: the input is what bash would write on
 * fd 3 (NAME\0INDEX\0VALUE\0 records ending with "@end\0" "0\0" "\0"). It is
 * parsed and validated as dkms_conf_load does, twice: with the conf's own
 * DEST_MODULE_LOCATION and with a distribution override. Whatever is
 * accepted must keep every path the conf names inside its directory: the
 * build tree, the kernel's module tree, the patches/ directory; and its
 * BUILD_EXCLUSIVE_* directives are then checked against a kernel and a
 * small .config (exclusive.c).
 */
#include "bash.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KVER "6.1.0-55-amd64"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dkms_ctx *ctx;
static char kconfig[] = "/tmp/dkms-fuzz-kconfig.XXXXXX";

static void cleanup(void)
{
	unlink(kconfig);
	dkms_ctx_free(ctx);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char text[] = "CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_D=\"x\\\"y\"\n";
	int fd = mkstemp(kconfig);

	if (fd < 0 || write(fd, text, sizeof(text) - 1) != (ssize_t)(sizeof(text) - 1))
		abort();
	close(fd);
	atexit(cleanup);
	/* no framework.conf: no bash at all */
	struct dkms_paths p = { .conf_dir = "/nonexistent/dkms-fuzz", .dkms_tree = "/nonexistent/tree" };

	dkms_ctx_new(&p, &ctx);
	return 0;
}

static void check(bool ok, const char *what, const char *value)
{
	if (!ok) {
		fprintf(stderr, "conf-channel: accepted a bad %s: '%s'\n", what, value ? value : "(null)");
		abort();
	}
}

static bool word_ok(const char *s)
{
	return dkms_valid_name(s) && !strstr(s, "..") && !strpbrk(s, " \t\n");
}

static void check_conf(const struct dkms_conf *c)
{
	check(word_ok(c->name), "PACKAGE_NAME", c->name);
	check(word_ok(c->version), "PACKAGE_VERSION", c->version);
	check(c->n_mods > 0, "module list", "(empty)");
	for (size_t i = 0; i < c->n_mods; i++) {
		const struct dkms_modfile *m = &c->mods[i];
		size_t bl = strlen(m->built_location);

		check(word_ok(m->built_name), "BUILT_MODULE_NAME", m->built_name);
		check(word_ok(m->dest_name), "DEST_MODULE_NAME", m->dest_name);
		check(!bl || (dkms_valid_relpath(m->built_location) && m->built_location[bl - 1] == '/'),
		      "BUILT_MODULE_LOCATION", m->built_location);
		check(m->dest_location[0] == '/' && dkms_valid_relpath(m->dest_location + 1),
		      "DEST_MODULE_LOCATION", m->dest_location);
		for (size_t k = 0; k < i; k++)
			check(strcmp(m->dest_name, c->mods[k].dest_name), "duplicate DEST_MODULE_NAME",
			      m->dest_name);
	}
	/* a file of patches/: blanks are fine, no way out of the directory */
	for (size_t i = 0; i < c->n_patches; i++)
		check(dkms_valid_name(c->patches[i]) && !strstr(c->patches[i], ".."), "PATCH", c->patches[i]);
	for (size_t i = 0; i < c->n_build_depends; i++)
		check(word_ok(c->build_depends[i]), "BUILD_DEPENDS", c->build_depends[i]);
}

/*
 * MAKE_MATCH and PATCH_MATCH go to glibc's regcomp, which expands bounded
 * repetitions: "a{999}{999}" takes gigabytes, there and in the bash =~ that
 * dkms uses. Not ours to fix: inputs with two '{' are skipped.
 */
static bool nested_bounds(const uint8_t *d, size_t n)
{
	const uint8_t *b = memchr(d, '{', n);

	return b && memchr(b + 1, '{', n - (size_t)(b + 1 - d));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes: ASan sees any read past the channel's end */
	char *buf;
	struct dkms_conf *c;

	if (nested_bounds(data, size))
		return 0;
	buf = malloc(size ? size : 1);
	if (!buf || !ctx)
		return 0;
	memcpy(buf, data, size);
	for (int pass = 0; pass < 2; pass++) {
		free(ctx->dest_override);
		ctx->dest_override = pass ? strdup("/updates/dkms") : NULL;
		if (dkms_conf_from_records(ctx, "/fuzz/dkms.conf", buf, size, KVER, &c) == 0) {
			int r;

			check_conf(c);
			r = dkms_conf_check_exclusive(ctx, c, KVER, pass ? "x86_64" : NULL, kconfig);
			if (r != 0 && r != DKMS_E_EXCLUDED && r != DKMS_E_CONF)
				abort();
			dkms_conf_free(c);
		}
	}
	free(buf);
	return 0;
}
