/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The dkms command line: commands, options, usage. */
#ifndef DKMS_CLI_ARGS_H
#define DKMS_CLI_ARGS_H

#include "dkms.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

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
	CMD_GENERATE_MOK,
	CMD_MKTARBALL,
	CMD_LDTARBALL,
	CMD_MKDEB,
	CMD_MKRPM,
	CMD_MKBMDEB,
	CMD_MKBMRPM,
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
	const char *archive;		 /* --archive */
	bool source_only, binaries_only; /* --source-only, --binaries-only */
	const char *output_dir;		 /* --output-dir: mkdeb, mkrpm, mkbmdeb, mkbmrpm */
	struct dkms_paths paths;
	struct dkms_opts opts;
	bool opts_jobs_set;
	bool all, quiet, dry_run, json;
	bool help, version_flag; /* -h, -V: print and exit 0 */
};

/* Parse argv into a (zeroed by the caller). Returns 0, or DKMS_E_USAGE after
 * printing why on stderr. -h and -V set a->help / a->version_flag. */
int args_parse(int argc, char **argv, struct args *a);
void args_free(struct args *a);
void args_usage(FILE *out);
/* "Error! <message>" and a pointer to --help on stderr; returns DKMS_E_USAGE. */
int die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* MODULE given as a directory holding dkms.conf, or as a dkms.conf file. */
bool args_is_source_dir(const char *arg);
bool args_is_conf_file(const char *arg);
bool args_is_source_arg(const char *arg);

#endif
