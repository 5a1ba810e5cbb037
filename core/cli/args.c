/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The dkms command line: the command table, options, usage. */
#include "config.h"
#include "args.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	{ "generate_mok", CMD_GENERATE_MOK },
	{ "mktarball", CMD_MKTARBALL },
	{ "ldtarball", CMD_LDTARBALL },
	{ "mkdeb", CMD_MKDEB },
	{ "mkrpm", CMD_MKRPM },
	{ "mkbmdeb", CMD_MKBMDEB },
	{ "mkbmrpm", CMD_MKBMRPM },
};

void args_usage(FILE *out)
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
	      "  match [MODULE]        install on -k what is installed on --templatekernel\n"
	      "  kernel_postinst -k K  autoinstall for a newly installed kernel\n"
	      "  kernel_prerm -k K     unbuild everything built for a kernel being removed\n"
	      "  kernel_preinst -k K   unbuild the AUTOINSTALL modules of a kernel being reinstalled\n"
	      "  generate_mok          create the module signing key and certificate (MOK) if missing\n"
	      "  mktarball MODULE      archive the sources and the builds for -k (or --all) kernels\n"
	      "  ldtarball FILE        check and load a tarball made by mktarball, then add the module\n"
	      "  mkdeb MODULE          a .deb of the sources, <name>-dkms (dpkg-deb)\n"
	      "  mkrpm MODULE          an .rpm of the sources, dkms-<name> (rpmbuild)\n"
	      "  mkbmdeb MODULE -k K   a .deb of the modules built for each -k, <name>-modules-<K>\n"
	      "  mkbmrpm MODULE -k K   an .rpm of the modules built for each -k, kmod-<name>-<K>\n"
	      "\n"
	      "Options (--opt=value and --opt value both work):\n"
	      "  -m MODULE[/VERSION]   module name (and version)\n"
	      "  -v VERSION            module version\n"
	      "  -k KVER[/ARCH]        kernel version (repeatable)\n"
	      "  -a, --arch ARCH       architecture for the matching -k\n"
	      "  -c FILE               use FILE instead of the module's dkms.conf\n"
	      "  --all                 every kernel the module is built for (remove, unbuild, uninstall,\n"
	      "                        mkbmdeb, mkbmrpm)\n"
	      "  --force               rebuild / reinstall even when already done\n"
	      "  --force-version-override  install over a newer in-kernel module\n"
	      "  --directive NAME=VAL  override a dkms.conf directive (repeatable)\n"
	      "  --templatekernel K    the kernel to copy from (match)\n"
	      "  --archive FILE        the tarball to write (mktarball) or to load (ldtarball, add)\n"
	      "  --source-only         mktarball: sources only; ldtarball: do not load builds\n"
	      "  --binaries-only       mktarball: builds and dkms.conf only; ldtarball: do not load sources\n"
	      "  --config FILE         the kernel .config to use\n"
	      "  --kernelsourcedir DIR kernel headers to build against\n"
	      "  --dkmstree DIR        registry (default /var/lib/dkms)\n"
	      "  --sourcetree DIR      module sources (default /usr/src)\n"
	      "  --installtree DIR     kernel modules (default /lib/modules)\n"
	      "  --output-dir DIR      where mk* commands write packages (default\n"
	      "                        <dkmstree>/<name>/<version>/deb or rpm)\n"
	      "  --confdir DIR         configuration (default /etc/dkms)\n"
	      "  --no-depmod           do not run depmod\n"
	      "  -j N                  parallel make jobs (default: number of CPUs)\n"
	      "  --dry-run             print the plan and do nothing\n"
	      "  --json                status: print a JSON array\n"
	      "  -q, --quiet           print errors only\n"
	      "  --verbose             print more\n"
	      "  -V, --version         print dkms-3.0.10 (the dkms followed) and our own version\n"
	      "  -h, --help            print this help\n"
	      "\n"
	      "Exit codes: 0 ok, 3 already added, 4 bad arguments or missing dkms.conf, 6 missing kernel\n"
	      "directory, failed patch or depmod, 7 built module missing, 8 bad dkms.conf, 10 make failed,\n"
	      "11 autoinstall had failures, 13 missing BUILD_DEPENDS, 21 kernel headers missing,\n"
	      "77 skipped by BUILD_EXCLUSIVE, 101 PRE_INSTALL refused. See dkms(8).\n",
	      out);
}

/* A directory holding dkms.conf. */
bool args_is_source_dir(const char *arg)
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
bool args_is_conf_file(const char *arg)
{
	size_t len = strlen(arg);

	return len >= 9 && !strcmp(arg + len - 9, "dkms.conf") && access(arg, F_OK) == 0;
}

bool args_is_source_arg(const char *arg)
{
	return args_is_source_dir(arg) || args_is_conf_file(arg);
}

int die_usage(const char *fmt, ...)
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

/* s for a one-line message, at most 80 characters, control and non-ASCII bytes as \xNN. */
static const char *args_show(const char *s, char *buf, size_t size)
{
	size_t o = 0, i = 0;

	for (; s[i] && i < 80 && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
	}
	snprintf(buf + o, size - o, "%s", s[i] ? "..." : "");
	return buf;
}

/* One component of a -k: a kernel release or an arch. */
static bool args_kernel_part_ok(const char *s, size_t len)
{
	if (!len || len > 64 || s[0] == '-' || (len == 1 && s[0] == '.') ||
	    (len == 2 && !strncmp(s, "..", 2)))
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '/')
			return false;
	return true;
}

/* KVER or KVER/ARCH */
static bool args_kernel_ok(const char *s)
{
	const char *slash = strchr(s, '/');

	if (!slash)
		return args_kernel_part_ok(s, strlen(s));
	return args_kernel_part_ok(s, (size_t)(slash - s)) &&
	       args_kernel_part_ok(slash + 1, strlen(slash + 1));
}

/* What the options name must make sense before any of it is used in a path. */
static int args_check(const struct args *a)
{
	const struct {
		const char *opt, *val;
	} trees[] = {
		{ "--dkmstree", a->paths.dkms_tree },
		{ "--sourcetree", a->paths.source_tree },
		{ "--installtree", a->paths.install_tree },
		{ "--confdir", a->paths.conf_dir },
	};
	const char *v = a->version;
	char buf[512];

	if (v && (!*v || *v == '-' || strchr(v, '/') || !strcmp(v, ".") || !strcmp(v, "..") ||
		  strlen(v) > 255 || strcspn(v, "\t\n\r\v\f") != strlen(v)))
		return die_usage("invalid version '%s' (-v): give one like 1.0, as in the module's dkms.conf",
				 args_show(v, buf, sizeof(buf)));
	for (size_t i = 0; i < a->n_kernels; i++)
		if (!args_kernel_ok(a->kernels[i]))
			return die_usage(
				"invalid kernel '%s' (-k): give KVER or KVER/ARCH, KVER like $(uname -r)",
				args_show(a->kernels[i], buf, sizeof(buf)));
	if (a->template_kernel && !args_kernel_part_ok(a->template_kernel, strlen(a->template_kernel)))
		return die_usage("invalid kernel '%s' (--templatekernel): give one like $(uname -r)",
				 args_show(a->template_kernel, buf, sizeof(buf)));
	for (size_t i = 0; i < sizeof(trees) / sizeof(*trees); i++)
		if (trees[i].val && trees[i].val[0] != '/')
			return die_usage("%s '%s': give an absolute path", trees[i].opt,
					 args_show(trees[i].val, buf, sizeof(buf)));
	return 0;
}

int args_parse(int argc, char **argv, struct args *a)
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
		"--output-dir",
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
				push(&a->kernels, &a->n_kernels, strdup(val)); /* split in place later */
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
				a->archive = val;
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
			else if (!strcmp(opt, "--output-dir"))
				a->output_dir = val;
			else if (!strcmp(opt, "-j")) {
				char *end;
				long j = strtol(val, &end, 10);

				if (!*val || *end || j < 0 || j > 4096)
					return die_usage("-j needs a number, not '%s'", val);
				a->opts.jobs = (int)j;
				a->opts_jobs_set = true;
			}
			continue;
		}
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			a->help = true;
			return 0;
		} else if (!strcmp(arg, "-V") || !strcmp(arg, "--version")) {
			a->version_flag = true;
			return 0;
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
		} else if (!strcmp(arg, "--source-only")) {
			a->source_only = true;
		} else if (!strcmp(arg, "--binaries-only")) {
			a->binaries_only = true;
		} else if (!strcmp(arg, "--symlink-modules") || !strcmp(arg, "--modprobe-on-install") ||
			   !strcmp(arg, "--no-initrd") || !strcmp(arg, "--no-clean-kernel") ||
			   !strcmp(arg, "--no-prepare-kernel") || !strcmp(arg, "--rpm_safe_upgrade")) {
			fprintf(stderr, "Warning: %s is accepted and ignored by this dkms.\n", arg);
		} else if (arg[0] == '-' && arg[1]) {
			fprintf(stderr, "Error! Unknown option: %s\n", arg);
			args_usage(stderr);
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
	if (a->source_only && a->binaries_only)
		return die_usage("%s", "--source-only and --binaries-only exclude each other");
	return args_check(a);
}

void args_free(struct args *a)
{
	for (size_t i = 0; i < a->n_kernels; i++)
		free((char *)a->kernels[i]);
	free(a->kernels);
	free(a->arches);
	free(a->directives);
}
