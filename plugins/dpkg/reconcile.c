/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reconcile, what dkms-dpkg-trigger does for the dkms-autoinstall trigger and
 * after a configure: the dpkg database against the tree, in one plan; and the
 * kernels that hooks inside dpkg leave to it.
 */
#include "handler.h"
#include "dpkg-view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PENDING_DIR ".dpkg-kernels" /* <dkms_tree>/.dpkg-kernels/<kver>: kernels left to the trigger */

/* ---- kernels the hooks left to the trigger ---- */

static char *pending_path(struct dkms_ctx *ctx, const char *kver)
{
	return dkms_asprintf("%s/%s%s%s", dkms_ctx_dkms_tree(ctx), PENDING_DIR, kver ? "/" : "",
			     kver ? kver : "");
}

int pending_add(struct dkms_ctx *ctx, const char *kver)
{
	char *dir = pending_path(ctx, NULL), *p = pending_path(ctx, kver);
	int r = dkms_mkdir_p(dir, 0755);

	if (!r)
		r = dkms_write_file_atomic(p, "", 0, 0644);
	free(dir);
	free(p);
	return r;
}

void pending_remove(struct dkms_ctx *ctx, char *const *kvers, size_t n)
{
	char *dir = pending_path(ctx, NULL);

	for (size_t i = 0; i < n; i++) {
		char *p = pending_path(ctx, kvers[i]);

		unlink(p);
		free(p);
	}
	rmdir(dir);
	free(dir);
}

/* ---- reconcile: the trigger ---- */

/* Module sources that configured packages ship and nobody added. Returns how many were added. */
static size_t sources_add(struct handler *h, const struct dkms_dpkg_view *v)
{
	size_t added = 0;

	for (size_t i = 0; i < v->n_sources; i++) {
		const struct dkms_dpkg_source *s = &v->sources[i];
		char *dir = dkms_path_join("/usr/src", s->dir), *conf = dkms_path_join(dir, "dkms.conf");
		char *m = NULL, *ver = NULL;

		/* an unconfigured package's postinst (common.postinst) adds its own source */
		if (!s->configured || !dkms_is_file(conf) || dkms_module_resolve(h->ctx, dir, &m, &ver) ||
		    dkms_module_is_added(h->ctx, m, ver))
			goto next;
		free(m);
		free(ver);
		m = ver = NULL;
		if (dkms_module_add(h->ctx, dir, &m, &ver)) {
			dkms_log(h->ctx, DKMS_LOG_ERR, "package %s: %s", s->pkg, dkms_ctx_error(h->ctx));
			h->failed++;
		} else {
			printf("dkms: added %s/%s from package %s\n", m, ver, s->pkg);
			added++;
		}
	next:
		free(m);
		free(ver);
		free(dir);
		free(conf);
	}
	return added;
}

/* Kernels the tree has a directory for (<m>/<v>/<kver>: built, or a failed build's log). */
static void tree_kernels(struct dkms_ctx *ctx, char ***out, size_t *n)
{
	char **mods = NULL;
	size_t n_mods = 0;

	if (dkms_tree_list_modules(ctx, &mods, &n_mods) < 0)
		return;
	for (size_t i = 0; i < n_mods; i++) {
		char **vers = NULL;
		size_t n_vers = 0;

		if (dkms_tree_list_versions(ctx, mods[i], &vers, &n_vers) < 0)
			continue;
		for (size_t v = 0; v < n_vers; v++) {
			char *vdir = dkms_asprintf("%s/%s/%s", dkms_ctx_dkms_tree(ctx), mods[i], vers[v]);
			char **names = NULL;
			size_t n_names = 0;

			if (dkms_list_dir(vdir, &names, &n_names) == 0)
				for (size_t e = 0; e < n_names; e++) {
					char *p = dkms_path_join(vdir, names[e]);

					if (names[e][0] != '.' && strcmp(names[e], "source") &&
					    strcmp(names[e], "build") && dkms_is_dir(p))
						dkms_strv_push_unique(out, n, names[e]);
					free(p);
				}
			dkms_strv_free(names, n_names);
			free(vdir);
		}
		dkms_strv_free(vers, n_vers);
	}
	dkms_strv_free(mods, n_mods);
}

/* Kernels in the tree that no package ships any more and whose headers and image are gone. */
static void kernels_gone(struct handler *h, const struct dkms_dpkg_view *v, char ***out, size_t *n)
{
	char **kvers = NULL;
	size_t n_kvers = 0;

	tree_kernels(h->ctx, &kvers, &n_kvers);
	for (size_t i = 0; i < n_kvers; i++) {
		const struct dkms_dpkg_kernel *k = dkms_dpkg_view_kernel(v, kvers[i]);

		if ((k && (k->headers || k->image)) || kernel_has_headers(h->ctx, kvers[i]) ||
		    kernel_has_image(h->ctx, kvers[i]))
			continue;
		printf("dkms: kernel %s is gone (no headers, no image): removing its modules\n", kvers[i]);
		dkms_strv_push(out, n, kvers[i]);
	}
	dkms_strv_free(kvers, n_kvers);
}

void reconcile(struct handler *h)
{
	struct dkms_dpkg_view view = { 0 };
	char **named = NULL, **added = NULL, **gone = NULL, *err = NULL;
	size_t n_named = 0, n_added = 0, n_gone = 0;
	bool have_view = dkms_dpkg_view_read(&view, &err) == 0;
	char *pending = pending_path(h->ctx, NULL);

	if (dkms_list_dir(pending, &named, &n_named) < 0)
		n_named = 0;
	free(pending);
	if (!have_view)
		dkms_log(h->ctx, DKMS_LOG_WARN,
			 "cannot read the dpkg database (%s): building only for the kernels the hooks named, "
			 "removing nothing",
			 err);
	for (size_t i = 0; i < n_named; i++)
		if (kernel_has_headers(h->ctx, named[i]))
			dkms_strv_push_unique(&added, &n_added, named[i]);
	for (size_t i = 0; i < view.n_kernels; i++)
		if (view.kernels[i].headers_configured && kernel_has_headers(h->ctx, view.kernels[i].kver))
			dkms_strv_push_unique(&added, &n_added, view.kernels[i].kver);
	if (have_view && sources_add(h, &view)) {
		/* new sources go on every kernel with headers */
		char **all = NULL;
		size_t n_all = 0;

		if (dkms_kernel_list_installed(h->ctx, &all, &n_all) == 0)
			for (size_t i = 0; i < n_all; i++)
				if (kernel_has_headers(h->ctx, all[i]))
					dkms_strv_push_unique(&added, &n_added, all[i]);
		dkms_strv_free(all, n_all);
	}
	if (have_view)
		kernels_gone(h, &view, &gone, &n_gone);
	event_run(h, added, n_added, gone, n_gone, named, n_named);
	pending_remove(h->ctx, named, n_named);
	dkms_strv_free(named, n_named);
	dkms_strv_free(added, n_added);
	dkms_strv_free(gone, n_gone);
	dkms_dpkg_view_free(&view);
	free(err);
}
