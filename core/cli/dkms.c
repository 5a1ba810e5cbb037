/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dkms: the command line, a drop-in for dkms 3.x, on top of libdkms. */
#include "config.h"
#include "dkms.h"
#include "output.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

enum cmd {
	CMD_NONE,
	CMD_ADD,
	CMD_BUILD,
	CMD_INSTALL,
	CMD_UNINSTALL,
	CMD_UNBUILD,
	CMD_REMOVE,
	CMD_STATUS,
	CMD_AUTOINSTALL,
	CMD_MATCH,
	CMD_KERNEL_PREINST,
	CMD_KERNEL_POSTINST,
	CMD_KERNEL_PRERM,
};

static const struct {
	const char *name;
	enum cmd cmd;
} commands[] = {
	{ "add", CMD_ADD },
	{ "build", CMD_BUILD },
	{ "install", CMD_INSTALL },
	{ "uninstall", CMD_UNINSTALL },
	{ "unbuild", CMD_UNBUILD },
	{ "remove", CMD_REMOVE },
	{ "status", CMD_STATUS },
	{ "autoinstall", CMD_AUTOINSTALL },
	{ "match", CMD_MATCH },
	{ "kernel_preinst", CMD_KERNEL_PREINST },
	{ "kernel_postinst", CMD_KERNEL_POSTINST },
	{ "kernel_prerm", CMD_KERNEL_PRERM },
};

struct args {
	enum cmd cmd;
	const char *module_arg; /* -m, or a positional module/version, dir or dkms.conf */
	const char *version;	/* -v */
	const char **kernels;	/* -k, as given (kver or kver/arch) */
	size_t n_kernels;
	const char **arches; /* -a */
	size_t n_arches;
	const char **directives;
	size_t n_directives;
	const char *template_kernel;
	struct dkms_paths paths;
	struct dkms_opts opts;
	bool opts_jobs_set;
	bool all, quiet, dry_run, json;
};

static void usage(FILE *out)
{
	fputs("Usage: dkms COMMAND [MODULE] [OPTIONS]\n"
	      "\n"
	      "Commands:\n"
	      "  add [MODULE]          register module sources (MODULE: name/version, a directory\n"
	      "                        holding dkms.conf, or a dkms.conf file)\n"
	      "  build MODULE          build for the kernels given with -k (default: running kernel)\n"
	      "  install MODULE        build if needed, then install into the kernel modules tree\n"
	      "  uninstall MODULE      remove the installed modules, restore originals; keep the build\n"
	      "  unbuild MODULE        uninstall, then delete the build for those kernels\n"
	      "  remove MODULE         unbuild for the kernels given (or --all) and forget the version\n"
	      "                        when no kernel is left\n"
	      "  status [MODULE]       show what is added, built and installed\n"
	      "  autoinstall           install every AUTOINSTALL module missing on the kernel(s)\n"
	      "  match                 install on -k what is installed on --templatekernel\n"
	      "  kernel_postinst -k K  autoinstall for a newly installed kernel\n"
	      "  kernel_prerm -k K     unbuild everything built for a kernel being removed\n"
	      "  kernel_preinst -k K   unbuild the AUTOINSTALL modules of a kernel being reinstalled\n"
	      "\n"
	      "Options (--opt=value and --opt value both work):\n"
	      "  -m MODULE[/VERSION]   module name (and version)\n"
	      "  -v VERSION            module version\n"
	      "  -k KVER[/ARCH]        kernel version (repeatable)\n"
	      "  -a, --arch ARCH       architecture for the matching -k\n"
	      "  -c FILE               use FILE instead of the module's dkms.conf\n"
	      "  --all                 every kernel the module is built for (remove, unbuild, uninstall)\n"
	      "  --force               rebuild / reinstall even when already done\n"
	      "  --force-version-override  install over a newer in-kernel module\n"
	      "  --directive NAME=VAL  override a dkms.conf directive (repeatable)\n"
	      "  --templatekernel K    the kernel to copy from (match)\n"
	      "  --config FILE         the kernel .config to use\n"
	      "  --kernelsourcedir DIR kernel headers to build against\n"
	      "  --dkmstree DIR        registry (default /var/lib/dkms)\n"
	      "  --sourcetree DIR      module sources (default /usr/src)\n"
	      "  --installtree DIR     kernel modules (default /lib/modules)\n"
	      "  --confdir DIR         configuration (default /etc/dkms)\n"
	      "  --no-depmod           do not run depmod\n"
	      "  -j N                  parallel make jobs (default: number of CPUs)\n"
	      "  --dry-run             print the plan and do nothing\n"
	      "  --json                status: print a JSON array\n"
	      "  -q, --quiet           print errors only\n"
	      "  --verbose             print more\n"
	      "  -V, --version         print the version\n"
	      "  -h, --help            print this help\n"
	      "\n"
	      "Exit codes: 0 ok, 3 already added, 4 bad arguments or missing dkms.conf, 6 missing kernel\n"
	      "directory, failed patch or depmod, 7 built module missing, 8 bad dkms.conf, 10 make failed,\n"
	      "11 autoinstall had failures, 13 missing BUILD_DEPENDS, 21 kernel headers missing,\n"
	      "77 skipped by BUILD_EXCLUSIVE, 101 PRE_INSTALL refused. See dkms(8).\n",
	      out);
}

static bool quiet;
static bool verbose_rss; /* DKMS_REPORT_RSS=1: print the peak RSS (for bench/) */

/* A directory holding dkms.conf. */
static bool is_source_dir(const char *arg)
{
	char *conf;
	bool r;

	if (asprintf(&conf, "%s/dkms.conf", arg) < 0)
		abort();
	r = access(conf, F_OK) == 0;
	free(conf);
	return r;
}

/* A path to a dkms.conf (any file whose name ends in dkms.conf). */
static bool is_conf_file(const char *arg)
{
	size_t len = strlen(arg);

	return len >= 9 && !strcmp(arg + len - 9, "dkms.conf") && access(arg, F_OK) == 0;
}

static bool is_source_arg(const char *arg)
{
	return is_source_dir(arg) || is_conf_file(arg);
}

__attribute__((format(printf, 1, 2))) static int die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("Error! ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nRun 'dkms --help' for usage.\n", stderr);
	return DKMS_E_USAGE;
}

static void push(const char ***v, size_t *n, const char *s)
{
	*v = realloc(*v, (*n + 1) * sizeof(**v));
	if (!*v)
		abort();
	(*v)[(*n)++] = s;
}

/* --name=value, --name value, -x value. Returns the value or NULL (and advances *i). */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	const char *a = argv[*i];
	size_t len = strlen(name);

	if (!strncmp(a, name, len) && a[len] == '=')
		return a + len + 1;
	if (*i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const char *const with_value[] = {
		"-m",
		"--module",
		"-v",
		"-k",
		"--kernelver",
		"-a",
		"--arch",
		"-c",
		"--templatekernel",
		"--directive",
		"--config",
		"--archive",
		"--kernelsourcedir",
		"--dkmstree",
		"--sourcetree",
		"--installtree",
		"--confdir",
		"-j",
	};

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *opt = NULL;

		if (arg[0] == '-' && arg[1]) {
			for (size_t w = 0; w < sizeof(with_value) / sizeof(*with_value); w++) {
				size_t len = strlen(with_value[w]);

				if (!strncmp(arg, with_value[w], len) &&
				    (arg[len] == '\0' || arg[len] == '=')) {
					opt = with_value[w];
					break;
				}
			}
		}
		if (opt) {
			const char *val = opt_value(argc, argv, &i, opt);

			if (!val)
				return die_usage("option %s needs a value", opt);
			if (!strcmp(opt, "-m") || !strcmp(opt, "--module"))
				a->module_arg = val;
			else if (!strcmp(opt, "-v"))
				a->version = val;
			else if (!strcmp(opt, "-k") || !strcmp(opt, "--kernelver"))
				push(&a->kernels, &a->n_kernels, val);
			else if (!strcmp(opt, "-a") || !strcmp(opt, "--arch"))
				push(&a->arches, &a->n_arches, val);
			else if (!strcmp(opt, "-c"))
				a->opts.conf_file = val;
			else if (!strcmp(opt, "--templatekernel"))
				a->template_kernel = val;
			else if (!strcmp(opt, "--directive"))
				push(&a->directives, &a->n_directives, val);
			else if (!strcmp(opt, "--config"))
				a->paths.kernel_config = val;
			else if (!strcmp(opt, "--archive"))
				return die_usage("%s: tarballs are not supported yet (mktarball/ldtarball)",
						 opt);
			else if (!strcmp(opt, "--kernelsourcedir"))
				a->paths.kernel_source_dir = val;
			else if (!strcmp(opt, "--dkmstree"))
				a->paths.dkms_tree = val;
			else if (!strcmp(opt, "--sourcetree"))
				a->paths.source_tree = val;
			else if (!strcmp(opt, "--installtree"))
				a->paths.install_tree = val;
			else if (!strcmp(opt, "--confdir"))
				a->paths.conf_dir = val;
			else if (!strcmp(opt, "-j")) {
				char *end;
				long j = strtol(val, &end, 10);

				if (*end || j < 0 || j > 4096)
					return die_usage("-j needs a number, not '%s'", val);
				a->opts.jobs = (int)j;
				a->opts_jobs_set = true;
			}
			continue;
		}
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(arg, "-V") || !strcmp(arg, "--version")) {
			printf("dkms-%s\n", PACKAGE_VERSION);
			exit(0);
		} else if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) {
			a->quiet = true;
		} else if (!strcmp(arg, "--force")) {
			a->opts.force = true;
		} else if (!strcmp(arg, "--force-version-override")) {
			a->opts.force_version_override = true;
		} else if (!strcmp(arg, "--all")) {
			a->all = true;
		} else if (!strcmp(arg, "--verbose")) {
			a->opts.verbose = true;
		} else if (!strcmp(arg, "--no-depmod")) {
			a->opts.no_depmod = true;
		} else if (!strcmp(arg, "--dry-run")) {
			a->dry_run = true;
		} else if (!strcmp(arg, "--json")) {
			a->json = true;
		} else if (!strcmp(arg, "--symlink-modules") || !strcmp(arg, "--modprobe-on-install") ||
			   !strcmp(arg, "--no-initrd") || !strcmp(arg, "--no-clean-kernel") ||
			   !strcmp(arg, "--no-prepare-kernel") || !strcmp(arg, "--rpm_safe_upgrade") ||
			   !strcmp(arg, "--binaries-only") || !strcmp(arg, "--source-only")) {
			fprintf(stderr, "Warning: %s is accepted and ignored by this dkms.\n", arg);
		} else if (arg[0] == '-' && arg[1]) {
			fprintf(stderr, "Error! Unknown option: %s\n", arg);
			usage(stderr);
			return DKMS_E_USAGE;
		} else {
			enum cmd c = CMD_NONE;

			for (size_t k = 0; k < sizeof(commands) / sizeof(*commands); k++)
				if (!strcmp(arg, commands[k].name))
					c = commands[k].cmd;
			if (c != CMD_NONE && a->cmd == CMD_NONE)
				a->cmd = c;
			else if (c != CMD_NONE)
				return die_usage("cannot specify more than one command ('%s')", arg);
			else if (!a->module_arg)
				a->module_arg = arg;
			else
				return die_usage("do not know how to handle '%s'", arg);
		}
	}
	return 0;
}

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
		char *s = strdup(a->kernels[i]);
		char *slash = strchr(s, '/');

		if (slash) {
			*slash = '\0';
			k[i].arch = slash + 1;
		} else if (a->n_arches) {
			k[i].arch = a->arches[a->n_arches == 1 ? 0 : i];
		}
		k[i].version = s;
		a->kernels[i] = s; /* freed with the args */
	}
	*out = k;
	*n = count;
	return 0;
}

static int run_plan(struct dkms_ctx *ctx, struct dkms_plan *plan, bool dry_run)
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
	if (is_source_arg(a->module_arg) && (action == DKMS_ACTION_BUILD || action == DKMS_ACTION_INSTALL)) {
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
	int r;

	if (!a->template_kernel || nk != 1)
		return die_usage("%s", "match needs --templatekernel and exactly one -k");
	r = dkms_plan_match(ctx, a->template_kernel, &k[0], &plan);
	if (r) {
		fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
		return r;
	}
	return run_plan(ctx, plan, a->dry_run);
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	struct dkms_ctx *ctx = NULL;
	struct dkms_kref *k = NULL;
	char *running = NULL;
	size_t nk = 0;
	int r;

	r = parse_args(argc, argv, &a);
	if (r)
		return r;
	quiet = a.quiet;
	verbose_rss = getenv("DKMS_REPORT_RSS") != NULL;
	if (a.cmd == CMD_NONE) {
		usage(stderr);
		return DKMS_E_USAGE;
	}
	r = make_kernels(&a, a.cmd != CMD_STATUS && a.cmd != CMD_ADD && !a.all, &k, &nk, &running);
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

		if (!src) {
			r = die_usage("%s", "add needs a module: name/version, a directory or a dkms.conf");
			break;
		}
		if (!is_source_arg(src)) {
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
		} else if (is_conf_file(src)) {
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
	case CMD_NONE:
		break;
	}
out:
	dkms_ctx_free(ctx);
	for (size_t i = 0; i < a.n_kernels; i++)
		free((char *)a.kernels[i]);
	free(a.kernels);
	free(a.arches);
	free(a.directives);
	free(k);
	free(running);
	return r;
}
