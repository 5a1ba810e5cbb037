/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The in-tree modules an install replaces: kept in original_module/<kver>/<arch>, put back later. */
#include "install.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Copy src to dst (atomically), then delete src. */
static int install_move(const char *src, const char *dst)
{
	int r = dkms_copy_file(src, dst, 0644);

	if (!r && unlink(src) < 0)
		r = -errno;
	return r;
}

/* The stored original of name, or NULL. */
char *dkms_original_find(struct install *in, const char *name)
{
	for (size_t i = 0; i < DKMS_ARRAY_SIZE(dkms_modinfo_suffixes); i++) {
		char *p = dkms_asprintf("%s/%s%s", in->odir, name, dkms_modinfo_suffixes[i]);

		if (dkms_is_file(p))
			return p;
		free(p);
	}
	return NULL;
}

/* Save the in-tree module im->orig in original_module/, with its location beside it. */
int dkms_original_save(struct install *in, struct install_mod *im)
{
	const char *base = strrchr(im->orig, '/') + 1;
	char *dst = dkms_path_join(in->odir, base);
	char *loc_file = dkms_asprintf("%s/.%s.location", in->odir, base);
	char *loc = dkms_asprintf("%.*s\n", (int)(base - 1 - im->orig - strlen(in->k->modules_dir)),
				  im->orig + strlen(in->k->modules_dir));
	int r = dkms_mkdir_p(in->odir, 0755);

	if (!r)
		r = dkms_write_file_atomic(loc_file, loc, strlen(loc), 0644);
	if (!r)
		r = install_move(im->orig, dst);
	if (r < 0) {
		unlink(loc_file);
		r = dkms_err_set(in->ctx, DKMS_E_FAIL, "%s/%s: cannot save the original module %s in %s: %s",
				 in->m, in->v, im->orig, in->odir, strerror(-r));
	} else {
		dkms_log(in->ctx, DKMS_LOG_INFO, "%s/%s: original module %s saved in %s", in->m, in->v,
			 im->orig, in->odir);
		im->saved = dst;
		dst = NULL;
	}
	free(dst);
	free(loc_file);
	free(loc);
	return r;
}

/* Put im->saved back where it came from (a failed install). */
void dkms_original_undo(struct install *in, struct install_mod *im)
{
	if (im->saved && install_move(im->saved, im->orig) == 0) {
		char *loc = dkms_asprintf("%s/.%s.location", in->odir, strrchr(im->saved, '/') + 1);

		unlink(loc);
		free(loc);
	}
}

/* Put the saved originals back where they came from. */
void dkms_original_restore(struct install *in)
{
	char **names = NULL;
	size_t n = 0;

	if (dkms_list_dir(in->odir, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char *src = dkms_path_join(in->odir, names[i]);
		char *loc_file = dkms_asprintf("%s/.%s.location", in->odir, names[i]);
		char *name = dkms_modinfo_name(names[i]), *loc = NULL, *dir = NULL, *dst = NULL;
		const char *cl;

		if (names[i][0] == '.' || !name || !dkms_is_file(src))
			goto next;
		if (dkms_read_file(loc_file, &loc, NULL) == 0)
			loc[strcspn(loc, "\n")] = '\0';
		if (!loc || loc[0] != '/' || !dkms_valid_relpath(loc + 1)) {
			cl = dkms_install_conf_location(in, name);
			free(loc);
			loc = dkms_strdup(cl ? cl : "/extra");
		}
		dir = dkms_install_dest_dir(in, loc);
		dst = dkms_path_join(dir, names[i]);
		if (dkms_exists(dst)) {
			dkms_log(in->ctx, DKMS_LOG_INFO,
				 "%s/%s: %s is back already (a kernel package update?): the "
				 "saved copy is dropped",
				 in->m, in->v, dst);
			unlink(src);
		} else if (dkms_mkdir_p(dir, 0755) < 0 || install_move(src, dst) < 0) {
			dkms_log(in->ctx, DKMS_LOG_WARN,
				 "%s/%s: cannot restore the original module %s to %s; copy "
				 "it back by hand",
				 in->m, in->v, src, dst);
			goto next;
		} else {
			dkms_log(in->ctx, DKMS_LOG_INFO, "%s/%s: original module restored to %s", in->m,
				 in->v, dst);
		}
		unlink(loc_file);
	next:
		free(src);
		free(loc_file);
		free(name);
		free(loc);
		free(dir);
		free(dst);
	}
	dkms_strv_free(names, n);
	/* original_module/<kver>/<arch>, then <kver> and original_module when empty */
	{
		char *p = dkms_strdup(in->odir);

		for (int up = 0; up < 3 && rmdir(p) == 0; up++)
			*strrchr(p, '/') = '\0';
		free(p);
	}
}
