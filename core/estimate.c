/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How long a build will take, to start the longest first: with N slots, a
 * long build started last runs alone at the end while the other cores idle.
 *
 * Every build leaves its time in <m>/<v>/<kver>/<arch>/log/duration. On a
 * kernel upgrade each module was built before for the old kernel: its time
 * there is the estimate (this version's, else another version's). A module
 * never built here is estimated from the size of its C sources.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The longest recorded build of m/v for arch on any kernel, or -1. */
static double estimate_recorded(struct dkms_ctx *ctx, const char *m, const char *v, const char *arch)
{
	char *vdir = dkms_asprintf("%s/%s/%s", ctx->dkms_tree, m, v);
	char **kvers = NULL;
	size_t n = 0;
	double best = -1;

	if (dkms_list_dir(vdir, &kvers, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			char *p = dkms_asprintf("%s/%s/%s/log/duration", vdir, kvers[i], arch), *text = NULL;

			if (kvers[i][0] != '.' && dkms_read_file(p, &text, NULL) == 0) {
				double d = strtod(text, NULL);

				if (d > best && d < 86400)
					best = d;
			}
			free(text);
			free(p);
		}
	}
	dkms_strv_free(kvers, n);
	free(vdir);
	return best;
}

/* Bytes of *.c under dir, a few levels deep, bounded. */
static void estimate_sources(const char *dir, int depth, size_t *bytes, size_t *files)
{
	char **names = NULL;
	size_t n = 0;

	if (dkms_list_dir(dir, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n && *files < 4096; i++) {
		char *p = dkms_path_join(dir, names[i]);
		size_t len = strlen(names[i]);
		struct stat st;

		if (names[i][0] != '.' && lstat(p, &st) == 0) {
			if (S_ISDIR(st.st_mode) && depth > 0) {
				estimate_sources(p, depth - 1, bytes, files);
			} else if (S_ISREG(st.st_mode) && len > 2 && !strcmp(names[i] + len - 2, ".c")) {
				*bytes += (size_t)st.st_size;
				(*files)++;
			}
		}
		free(p);
	}
	dkms_strv_free(names, n);
}

double dkms_build_estimate(struct dkms_ctx *ctx, const char *m, const char *v, const char *arch)
{
	char *mdir, *src, **versions = NULL;
	size_t n = 0, bytes = 0, files = 0;
	double d = estimate_recorded(ctx, m, v, arch);

	if (d >= 0)
		return d;
	/* another version's time is a better guess than the sources' size */
	mdir = dkms_path_join(ctx->dkms_tree, m);
	if (dkms_list_dir(mdir, &versions, &n) == 0)
		for (size_t i = n; i-- > 0 && d < 0;)
			if (versions[i][0] != '.' && strcmp(versions[i], v) != 0)
				d = estimate_recorded(ctx, m, versions[i], arch);
	dkms_strv_free(versions, n);
	free(mdir);
	if (d >= 0)
		return d;
	/* about 25 KB of C a second on one core of a small machine: only the order matters */
	src = dkms_asprintf("%s/%s/%s/source", ctx->dkms_tree, m, v);
	estimate_sources(src, 4, &bytes, &files);
	free(src);
	return 0.5 + (double)bytes / 25000.0;
}
