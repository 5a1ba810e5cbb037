/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dkms: the command line, a drop-in for dkms 3.x, on top of libdkms. */
#include "config.h"
#include "dkms.h"
#include "args.h"
#include "cmd-tarball.h"
#include "cmd.h"
#include "output.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>
static bool quiet;
static bool verbose_rss; /* DKMS_REPORT_RSS=1: print the peak RSS (for bench/) */

/* Turn -k/-a into kernel references; default: the running kernel. */
static int make_kernels(struct args *a, bool default_running, struct dkms_kref **out, size_t *n,
			char **running)
{
	struct dkms_kref *k;
	size_t count = a->n_kernels;

	*out = NULL;
	*n = 0;
	if (a->n_arches > 1 && a->n_arches != a->n_kernels)
		return die_usage("%s", "give one -a per -k when more than one arch is given");
	if (!count && !default_running)
		return 0;
	if (a->all && count)
		return die_usage("%s", "cannot give a kernel version (-k) together with --all");
	k = calloc(count ? count : 1, sizeof(*k));
	if (!k)
		abort();
	if (!count) {
		struct utsname u;

		uname(&u);
		*running = strdup(u.release);
		k[0].version = *running;
		k[0].arch = a->n_arches ? a->arches[0] : NULL;
		count = 1;
	}
	for (size_t i = 0; i < a->n_kernels; i++) {
		char *s = (char *)a->kernels[i]; /* our copy (args_parse) */
		char *slash = strchr(s, '/');

		if (slash) {
			*slash = '\0';
			k[i].arch = slash + 1;
		} else if (a->n_arches) {
			k[i].arch = a->arches[a->n_arches == 1 ? 0 : i];
		}
		k[i].version = s;
	}
	*out = k;
	*n = count;
	return 0;
}

int run_plan(struct dkms_ctx *ctx, struct dkms_plan *plan, bool dry_run)
{
	struct dkms_report *rep = NULL;
	int r;

	if (dry_run) {
		dkms_plan_print(plan, stdout);
		dkms_plan_free(plan);
		return 0;
	}
	r = dkms_plan_run(ctx, plan, &rep);
	out_finish();
	if (rep && dkms_report_n_failed(rep) > 1 && !quiet) {
		/* a summary at the end: the errors scrolled by among the other jobs' lines */
		fprintf(stderr, "dkms: %zu of %zu jobs failed:\n", dkms_report_n_failed(rep),
			dkms_report_n_jobs(rep));
		for (size_t i = 0; i < dkms_report_n_jobs(rep); i++) {
			const struct dkms_job_report *j = dkms_report_job(rep, i);

			if (j->result != DKMS_JOB_FAILED)
				continue;
			fprintf(stderr, "  %s/%s, %s, %s: ", j->module, j->version, j->kver ? j->kver : "-",
				j->arch ? j->arch : "-");
			if (j->log_path)
				fprintf(stderr, "see %s\n", j->log_path);
			else
				fprintf(stderr, "%s\n", j->message ? j->message : "failed");
		}
	}
	if (verbose_rss) {
		struct rusage ru;

		getrusage(RUSAGE_SELF, &ru);
		fprintf(stderr, "dkms: peak RSS of this process: %ld KiB\n", ru.ru_maxrss);
	}
	dkms_report_free(rep);
	dkms_plan_free(plan);
	return r;
}

static int cmd_module(struct dkms_ctx *ctx, struct args *a, enum dkms_action action,
		      const struct dkms_kref *k, size_t nk)
{
	struct dkms_request req = { .action = action, .kernels = k, .n_kernels = nk, .all_kernels = a->all };
	struct dkms_plan *plan;
	char *name = NULL, *version = NULL;
	int r;

	if (!a->module_arg)
		return die_usage("%s", "this command needs a module (-m name -v version, or name/version)");
	if (args_is_source_arg(a->module_arg) &&
	    (action == DKMS_ACTION_BUILD || action == DKMS_ACTION_INSTALL)) {
		/* a source directory or dkms.conf: add it first, as dkms does */
		r = dkms_module_add(ctx, a->module_arg, &name, &version);
		if (r == DKMS_E_EXISTS)
			r = dkms_module_resolve(ctx, a->module_arg, &name, &version);
	} else {
		r = dkms_module_resolve(ctx, a->module_arg, &name, &version);
	}
	if (r) {
		fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
		return r;
	}
	if (a->version) {
		free(version);
		version = strdup(a->version);
	}
	req.module = name;
	req.version = version;
	if (action != DKMS_ACTION_BUILD && action != DKMS_ACTION_INSTALL && version &&
	    !dkms_module_is_added(ctx, name, version)) {
		fprintf(stderr,
			"Error! The module/version combo: %s-%s is not located in the DKMS tree %s.\n", name,
			version, dkms_ctx_dkms_tree(ctx));
		r = DKMS_E_EXISTS;
		goto out;
	}
	r = dkms_plan_for_request(ctx, &req, &plan);
	if (r) {
		fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
		goto out;
	}
	r = run_plan(ctx, plan, a->dry_run);
out:
	free(name);
	free(version);
	return r;
}

static int cmd_kernels(struct dkms_ctx *ctx, struct args *a, enum dkms_action action, bool autoinstall,
		       const struct dkms_kref *k, size_t nk)
{
	struct dkms_request req = {
		.action = action, .kernels = k, .n_kernels = nk, .autoinstall = autoinstall
	};
	struct dkms_plan *plan;
	char *name = NULL, *version = NULL;
	int r;

	if (a->module_arg) {
		r = dkms_module_resolve(ctx, a->module_arg, &name, &version);
		if (r) {
			fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
			return r;
		}
		req.module = name;
	}
	r = dkms_plan_for_request(ctx, &req, &plan);
	if (r)
		fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
	else
		r = run_plan(ctx, plan, a->dry_run);
	free(name);
	free(version);
	return r;
}

static int cmd_match(struct dkms_ctx *ctx, struct args *a, const struct dkms_kref *k, size_t nk)
{
	struct dkms_plan *plan;
	char *name = NULL, *version = NULL;
	const char *arch;
	int r;

	if (!a->template_kernel || nk != 1)
		return die_usage("%s",
				 "match needs --templatekernel K1 and one -k K2 (and optionally a module): "
				 "dkms match --templatekernel K1 -k K2 [MODULE]");
	if (!strcmp(a->template_kernel, k[0].version))
		return die_usage("the templatekernel and the kernel to match are the same: %s", k[0].version);
	if (a->module_arg) {
		r = dkms_module_resolve(ctx, a->module_arg, &name, &version);
		if (r) {
			fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
			return r;
		}
		free(version);
		version = dkms_module_newest(ctx, name);
		if (!version) {
			fprintf(stderr, "Error! The module: %s is not located in the DKMS tree %s.\n", name,
				dkms_ctx_dkms_tree(ctx));
			free(name);
			return DKMS_E_EXISTS;
		}
	}
	r = dkms_plan_match(ctx, a->template_kernel, &k[0], name, &plan);
	free(name);
	free(version);
	if (r) {
		fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
		return r;
	}
	if (!quiet && !a->dry_run) {
		struct utsname u;

		arch = k[0].arch ? k[0].arch : uname(&u) == 0 ? u.machine : "unknown";
		printf("Matching modules in kernel: %s (%s)\n", k[0].version, arch);
		printf("to the configuration of kernel: %s (%s)\n", a->template_kernel, arch);
		if (!dkms_plan_n_jobs(plan))
			printf("There is nothing to be done for this match.\n");
		fflush(stdout);
	}
	return run_plan(ctx, plan, a->dry_run);
}

/* generate_mok: the key pair only, made in-process; an existing pair is kept. */
static int cmd_generate_mok(struct dkms_ctx *ctx)
{
	bool created = false;
	int r;

	if (!quiet) {
		printf("Signing key: %s\n", dkms_ctx_mok_key(ctx));
		printf("Public certificate (MOK): %s\n", dkms_ctx_mok_cert(ctx));
		fflush(stdout);
	}
	r = dkms_sign_generate_mok(ctx, &created);
	if (r) {
		fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
		return r;
	}
	if (!created && !quiet)
		printf("The signing key and certificate exist already: keeping them.\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	struct dkms_ctx *ctx = NULL;
	struct dkms_kref *k = NULL;
	char *running = NULL;
	size_t nk = 0;
	int r;

	r = args_parse(argc, argv, &a);
	if (r || a.help || a.version_flag) {
		if (a.help)
			args_usage(stdout);
		else if (a.version_flag)
			printf("dkms-%s\n%s %s, a drop-in for dkms %s\n", DKMS_COMPAT_VERSION, PACKAGE_NAME,
			       PACKAGE_VERSION, DKMS_COMPAT_VERSION);
		args_free(&a);
		return r;
	}
	quiet = a.quiet;
	verbose_rss = getenv("DKMS_REPORT_RSS") != NULL;
	if (a.cmd == CMD_NONE) {
		args_usage(stderr);
		args_free(&a);
		return DKMS_E_USAGE;
	}
	r = make_kernels(&a, a.cmd != CMD_STATUS && a.cmd != CMD_ADD && a.cmd != CMD_GENERATE_MOK && !a.all,
			 &k, &nk, &running);
	if (r)
		goto out;
	r = dkms_ctx_new(&a.paths, &ctx);
	if (r)
		fprintf(stderr, "Warning: %s\n", dkms_ctx_error(ctx));
	out_init(ctx, a.quiet);
	{
		struct dkms_opts *o = dkms_ctx_opts(ctx);
		int jobs = o->jobs;
		bool verbose = o->verbose;

		*o = a.opts;
		if (!a.opts_jobs_set)
			o->jobs = jobs;
		o->verbose = a.opts.verbose || verbose;
		o->directives = a.directives;
		o->n_directives = a.n_directives;
	}

	switch (a.cmd) {
	case CMD_ADD: {
		char *name = NULL, *version = NULL;
		const char *src = a.module_arg;
		char *guess = NULL;

		if (a.archive || (src && !args_is_source_arg(src) && cmd_tarball_is_archive(src))) {
			r = cmd_ldtarball(ctx, &a); /* add of an archive loads it, as dkms does */
			break;
		}
		if (!src) {
			r = die_usage("%s", "add needs a module: name/version, a directory or a dkms.conf");
			break;
		}
		if (!args_is_source_arg(src)) {
			char *n = NULL, *v = NULL;

			r = dkms_module_resolve(ctx, src, &n, &v);
			if (r)
				fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
			if (!r && a.version) {
				free(v);
				v = strdup(a.version);
			}
			if (!r && !v)
				r = die_usage("%s", "add needs a version: name/version or -v");
			if (!r)
				guess = dkms_module_source_dir(ctx, n, v);
			free(n);
			free(v);
			if (r)
				break;
			src = guess;
		} else if (args_is_conf_file(src)) {
			char *slash = strrchr(src, '/');

			guess = slash ? strndup(src, (size_t)(slash - src)) : strdup(".");
			src = guess;
		}
		r = dkms_module_add(ctx, src, &name, &version);
		if (r)
			fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
		free(guess);
		free(name);
		free(version);
		break;
	}
	case CMD_BUILD:
		r = cmd_module(ctx, &a, DKMS_ACTION_BUILD, k, nk);
		break;
	case CMD_INSTALL:
		r = cmd_module(ctx, &a, DKMS_ACTION_INSTALL, k, nk);
		break;
	case CMD_UNINSTALL:
		r = cmd_module(ctx, &a, DKMS_ACTION_UNINSTALL, k, nk);
		break;
	case CMD_UNBUILD:
		r = cmd_module(ctx, &a, DKMS_ACTION_UNBUILD, k, nk);
		break;
	case CMD_REMOVE:
		r = cmd_module(ctx, &a, DKMS_ACTION_REMOVE, k, nk);
		break;
	case CMD_STATUS: {
		char *name = NULL, *version = NULL;

		if (a.module_arg && dkms_module_resolve(ctx, a.module_arg, &name, &version)) {
			fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
			r = DKMS_E_USAGE;
			break;
		}
		struct dkms_status_filter f = { .module = name,
						.version = a.version ? a.version : version,
						.kernels = k,
						.n_kernels = nk };

		r = out_status(ctx, &f, a.json);
		free(name);
		free(version);
		break;
	}
	case CMD_AUTOINSTALL:
	case CMD_KERNEL_POSTINST:
		r = cmd_kernels(ctx, &a, DKMS_ACTION_INSTALL, true, k, nk);
		break;
	case CMD_KERNEL_PRERM:
		r = cmd_kernels(ctx, &a, DKMS_ACTION_UNBUILD, false, k, nk);
		break;
	case CMD_KERNEL_PREINST:
		r = cmd_kernels(ctx, &a, DKMS_ACTION_UNBUILD, true, k, nk);
		break;
	case CMD_MATCH:
		r = cmd_match(ctx, &a, k, nk);
		break;
	case CMD_GENERATE_MOK:
		r = cmd_generate_mok(ctx);
		break;
	case CMD_MKTARBALL:
		r = cmd_mktarball(ctx, &a, k, nk);
		break;
	case CMD_LDTARBALL:
		r = cmd_ldtarball(ctx, &a);
		break;
	case CMD_MKDEB:
	case CMD_MKRPM:
	case CMD_MKBMDEB:
	case CMD_MKBMRPM:
		r = cmd_pkg(ctx, &a, k, nk);
		break;
	case CMD_NONE:
		break;
	}
out:
	dkms_ctx_free(ctx);
	args_free(&a);
	free(k);
	free(running);
	return r;
}
