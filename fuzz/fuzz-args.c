/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dkms command line: the input split at NULs is argv[1..]. args_parse
 * must not crash or leak, and whatever it keeps must point into argv (or be
 * its own copy, the -k values).
 */
#include "args.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 64

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * args_parse prints its usage errors with stdio. Point the stdio stream
 * at /dev/null, not fd 2: libFuzzer's own output and the sanitizer
 * reports (written to fd 2) stay visible.
 */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE *null = fopen("/dev/null", "w");

	if (null)
		stderr = null;
	return 0;
}

static bool in_argv(const char *p, int argc, char **argv)
{
	if (!p)
		return true;
	for (int i = 1; i < argc; i++)
		if (p >= argv[i] && p <= argv[i] + strlen(argv[i]))
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	size_t off = 0;
	struct args a;
	int r;

	argv[argc++] = strdup("dkms");
	while (off < size && argc <= MAX_ARGS) {
		const uint8_t *z = memchr(data + off, 0, size - off);
		size_t len = z ? (size_t)(z - (data + off)) : size - off;

		argv[argc] = malloc(len + 1); /* one block each: ASan sees reads past an argument */
		if (!argv[argc])
			abort();
		memcpy(argv[argc], data + off, len);
		argv[argc++][len] = '\0';
		off += len + 1;
	}
	argv[argc] = NULL;

	memset(&a, 0, sizeof(a));
	r = args_parse(argc, argv, &a);
	if (r != 0 && r != DKMS_E_USAGE)
		abort();
	if (!in_argv(a.module_arg, argc, argv) || !in_argv(a.version, argc, argv) ||
	    !in_argv(a.template_kernel, argc, argv) || !in_argv(a.opts.conf_file, argc, argv) ||
	    !in_argv(a.paths.dkms_tree, argc, argv) || !in_argv(a.paths.source_tree, argc, argv) ||
	    !in_argv(a.paths.install_tree, argc, argv) || !in_argv(a.paths.conf_dir, argc, argv) ||
	    !in_argv(a.paths.kernel_config, argc, argv) || !in_argv(a.paths.kernel_source_dir, argc, argv))
		abort();
	for (size_t i = 0; i < a.n_arches; i++)
		if (!in_argv(a.arches[i], argc, argv))
			abort();
	for (size_t i = 0; i < a.n_directives; i++)
		if (!in_argv(a.directives[i], argc, argv))
			abort();
	if (a.n_kernels + a.n_arches + a.n_directives > (size_t)argc)
		abort();
	if (r == 0 && a.opts_jobs_set && (a.opts.jobs < 0 || a.opts.jobs > 4096))
		abort();
	args_free(&a);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return 0;
}
