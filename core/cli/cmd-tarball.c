/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dkms mktarball, ldtarball (and add of an archive). */
#include "config.h"
#include "cmd-tarball.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned tarball_flags(const struct args *a)
{
	return (a->source_only ? DKMS_TARBALL_SOURCE_ONLY : 0) |
	       (a->binaries_only ? DKMS_TARBALL_BINARIES_ONLY : 0);
}

bool cmd_tarball_is_archive(const char *arg)
{
	struct stat st;

	return arg && !args_is_conf_file(arg) && stat(arg, &st) == 0 && S_ISREG(st.st_mode);
}

int cmd_mktarball(struct dkms_ctx *ctx, struct args *a, const struct dkms_kref *k, size_t nk)
{
	char *name = NULL, *version = NULL;
	int r;

	if (!a->module_arg)
		return die_usage("%s", "mktarball needs a module: name/version, or -m name -v version");
	r = dkms_module_resolve(ctx, a->module_arg, &name, &version);
	if (!r && a->version) {
		free(version);
		version = strdup(a->version);
	}
	if (r) {
		fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
	} else if (!version) {
		r = die_usage("%s", "mktarball needs a version: name/version, or -v version");
	} else {
		r = dkms_tarball_make(ctx, name, version, a->all ? NULL : k, a->all ? 0 : nk,
				      tarball_flags(a), a->archive, NULL);
		if (r)
			fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
	}
	free(name);
	free(version);
	return r;
}

int cmd_ldtarball(struct dkms_ctx *ctx, struct args *a)
{
	const char *path = a->archive ? a->archive : a->module_arg;
	char *name = NULL, *version = NULL;
	int r;

	if (!path)
		return die_usage("%s", "ldtarball needs a tarball: dkms ldtarball FILE, or --archive FILE");
	r = dkms_tarball_load(ctx, path, tarball_flags(a), &name, &version);
	if (r)
		fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
	free(name);
	free(version);
	return r;
}
