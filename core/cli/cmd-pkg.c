/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dkms mkdeb, mkrpm (the sources) and mkbmdeb, mkbmrpm (the modules built for
 * each -k kernel, or with --all each kernel they are built for; built first
 * through the normal plan when they are not).
 * The maintainer of the packages comes from DEBFULLNAME and DEBEMAIL, as for
 * Debian's tools.
 */
#include "config.h"
#include "cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *pkg_maintainer(void)
{
	const char *name = getenv("DEBFULLNAME"), *mail = getenv("DEBEMAIL");
	char *s;

	if (!mail || !*mail)
		return NULL;
	if (strchr(mail, '<'))
		return strdup(mail); /* "Name <address>" in DEBEMAIL, as dch accepts */
	if (asprintf(&s, "%s <%s>", name && *name ? name : "DKMS", mail) < 0)
		abort();
	return s;
}

/* --all: every kernel the version is built for, from the tree. */
static int pkg_built_kernels(struct dkms_ctx *ctx, const char *name, const char *version,
			     struct dkms_status **st, size_t *n, struct dkms_kref **k, size_t *nk)
{
	struct dkms_status_filter f = { .module = name, .version = version };
	int r = dkms_status_list(ctx, &f, st, n);

	*k = calloc(*n ? *n : 1, sizeof(**k));
	if (!*k)
		abort();
	*nk = 0;
	for (size_t i = 0; !r && i < *n; i++)
		if ((*st)[i].kver && !strcmp((*st)[i].version, version) &&
		    ((*st)[i].state == DKMS_STATE_BUILT || (*st)[i].state == DKMS_STATE_INSTALLED))
			(*k)[(*nk)++] = (struct dkms_kref){ .version = (*st)[i].kver, .arch = (*st)[i].arch };
	if (!r && !*nk)
		r = die_usage("%s/%s is built for no kernel: give kernels with -k", name, version);
	else if (r)
		fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
	return r;
}

int cmd_pkg(struct dkms_ctx *ctx, struct args *a, const struct dkms_kref *k, size_t nk)
{
	struct dkms_status *st = NULL;
	struct dkms_kref *all = NULL;
	size_t n_st = 0;
	bool deb = a->cmd == CMD_MKDEB || a->cmd == CMD_MKBMDEB;
	bool bin = a->cmd == CMD_MKBMDEB || a->cmd == CMD_MKBMRPM;
	char *name = NULL, *version = NULL, *maint = NULL;
	struct dkms_plan *plan;
	int r;

	if (!a->module_arg)
		return die_usage("%s", "this command needs a module (-m name -v version, or name/version)");
	if (args_is_source_arg(a->module_arg)) {
		r = dkms_module_add(ctx, a->module_arg, &name, &version);
		if (r == DKMS_E_EXISTS)
			r = dkms_module_resolve(ctx, a->module_arg, &name, &version);
	} else {
		r = dkms_module_resolve(ctx, a->module_arg, &name, &version);
	}
	if (!r && a->version) {
		free(version);
		version = strdup(a->version);
	}
	if (!r && !version && !(version = dkms_module_newest(ctx, name)))
		r = die_usage("%s is not in the DKMS tree %s: run dkms add first", name,
			      dkms_ctx_dkms_tree(ctx));
	else if (r)
		fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
	if (r)
		goto out;
	if (bin && a->all) {
		r = pkg_built_kernels(ctx, name, version, &st, &n_st, &all, &nk);
		if (r)
			goto out;
		k = all;
	}
	if (bin) {
		struct dkms_request req = { .action = DKMS_ACTION_BUILD,
					    .module = name,
					    .version = version,
					    .kernels = k,
					    .n_kernels = nk };

		r = dkms_plan_for_request(ctx, &req, &plan);
		if (r)
			fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
		else
			r = run_plan(ctx, plan, a->dry_run);
		if (r || a->dry_run)
			goto out;
	} else if (a->dry_run) {
		goto out;
	}
	maint = pkg_maintainer();
	r = dkms_pkg_make(ctx, &(struct dkms_pkg_request){ .format = deb ? DKMS_PKG_DEB : DKMS_PKG_RPM,
							   .binaries = bin,
							   .module = name,
							   .version = version,
							   .kernels = k,
							   .n_kernels = nk,
							   .output_dir = a->output_dir,
							   .maintainer = maint });
	if (r)
		fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
out:
	dkms_status_list_free(st, n_st);
	free(all);
	free(maint);
	free(name);
	free(version);
	return r;
}
