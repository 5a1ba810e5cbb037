/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The scripts of dkms.conf (PRE_BUILD, POST_BUILD, PRE_INSTALL, POST_INSTALL), run as dkms does. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Split on blanks, the way bash splits an unquoted $run. */
static void script_split(const char *s, char ***v, size_t *n)
{
	while (*s) {
		size_t len;
		char *w;

		s += strspn(s, " \t\n");
		len = strcspn(s, " \t\n");
		if (!len)
			break;
		w = dkms_asprintf("%.*s", (int)len, s);
		dkms_strv_push(v, n, w);
		free(w);
		s += len;
	}
}

/* Hand what a command wrote to fd (at most 64 KiB of it) to the log, line by line. */
static void script_log_output(struct dkms_ctx *ctx, int fd, const char *what)
{
	size_t cap = 65536, have = 0;
	char *buf = malloc(cap + 1), *line, *nl;
	ssize_t n;

	if (!buf || lseek(fd, 0, SEEK_SET) < 0) {
		free(buf);
		return;
	}
	while (have < cap && ((n = read(fd, buf + have, cap - have)) > 0 || (n < 0 && errno == EINTR)))
		have += n > 0 ? (size_t)n : 0;
	buf[have] = '\0';
	for (line = buf; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		dkms_log(ctx, DKMS_LOG_INFO, "%s: %s", what, line);
		if (!nl)
			break;
	}
	free(buf);
}

int dkms_script_run(struct dkms_ctx *ctx, const char *what, const char *dir, const char *script, int log_fd)
{
	char **argv = NULL;
	size_t argc = 0;
	char *path;
	int fd = log_fd, st;

	if (!script || !*script)
		return 0;
	script_split(script, &argv, &argc);
	if (!argc)
		return 0;
	path = dkms_path_join(dir, argv[0]);
	if (!dkms_is_file(path) || access(path, X_OK) < 0) {
		dkms_log(ctx, DKMS_LOG_WARN, "the %s script %s is not executable: not run", what, path);
		free(path);
		dkms_strv_free(argv, argc);
		return 0;
	}
	free(argv[0]);
	argv[0] = path; /* argv stays NULL-terminated (dkms_strv_push) */
	if (log_fd < 0)
		fd = memfd_create("dkms-script", MFD_CLOEXEC);
	else
		dprintf(log_fd, "Running the %s script: %s\n", what, script);
	dkms_log(ctx, DKMS_LOG_INFO, "running the %s script %s", what, script);
	{
		struct dkms_cmd cmd = {
			.argv = (const char *const *)argv, .cwd = dir, .env = NULL, .log_fd = fd
		};

		st = dkms_run(&cmd);
	}
	if (log_fd < 0 && fd >= 0) {
		script_log_output(ctx, fd, what);
		close(fd);
	}
	dkms_strv_free(argv, argc);
	return st;
}
