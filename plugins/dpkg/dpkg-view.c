/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dpkg database through libdpkg, read-only: which packages ship a kernel's
 * headers (/lib/modules/<kver>/build), its image (/boot/vmlinuz-<kver>,
 * /lib/modules/<kver>/modules.order) or a DKMS module source
 * (/usr/src/<module>-<version>/dkms.conf), and whether each is configured.
 * A read-only open takes no lock, so this works while dpkg runs our trigger.
 * libdpkg reports errors by longjmp to the error context pushed here, never
 * by exiting.
 */
#define LIBDPKG_VOLATILE_API 1
#include "dpkg-view.h"

#include "internal.h"

#include <dpkg/db-fsys.h>
#include <dpkg/dpkg-db.h>
#include <dpkg/dpkg.h>
#include <dpkg/ehandle.h>
#include <dpkg/progname.h>

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum path_kind { PATH_NONE, PATH_HEADERS, PATH_IMAGE, PATH_SOURCE };

/* "<prefix><key><suffix>" with a non-empty key without '/': *key (malloc'd). */
static bool path_match(const char *path, const char *prefix, const char *suffix, char **key)
{
	size_t lp = strlen(prefix), ls = strlen(suffix), len = strlen(path);

	if (len <= lp + ls || strncmp(path, prefix, lp) || strcmp(path + len - ls, suffix))
		return false;
	if (memchr(path + lp, '/', len - lp - ls))
		return false;
	*key = strndup(path + lp, len - lp - ls);
	if (!*key)
		abort();
	return true;
}

static enum path_kind path_classify(const char *path, char **key)
{
	if (path_match(path, "/lib/modules/", "/build", key) ||
	    path_match(path, "/usr/lib/modules/", "/build", key))
		return PATH_HEADERS;
	if (path_match(path, "/boot/vmlinuz-", "", key) ||
	    path_match(path, "/lib/modules/", "/modules.order", key) ||
	    path_match(path, "/usr/lib/modules/", "/modules.order", key))
		return PATH_IMAGE;
	if (path_match(path, "/usr/src/", "/dkms.conf", key))
		return PATH_SOURCE;
	return PATH_NONE;
}

static struct dkms_dpkg_kernel *view_kernel_get(struct dkms_dpkg_view *v, const char *kver)
{
	struct dkms_dpkg_kernel *k = (struct dkms_dpkg_kernel *)dkms_dpkg_view_kernel(v, kver);

	if (k)
		return k;
	v->kernels = realloc(v->kernels, (v->n_kernels + 1) * sizeof(*v->kernels));
	if (!v->kernels)
		abort();
	k = &v->kernels[v->n_kernels++];
	*k = (struct dkms_dpkg_kernel){ .kver = dkms_strdup(kver) };
	return k;
}

static void view_note(struct dkms_dpkg_view *v, enum path_kind kind, const char *key, const char *pkg,
		      bool configured)
{
	struct dkms_dpkg_kernel *k;

	switch (kind) {
	case PATH_HEADERS:
		k = view_kernel_get(v, key);
		if (!k->headers || (configured && !k->headers_configured)) {
			free(k->headers);
			k->headers = dkms_strdup(pkg);
			k->headers_configured = configured;
		}
		break;
	case PATH_IMAGE:
		k = view_kernel_get(v, key);
		if (!k->image)
			k->image = dkms_strdup(pkg);
		break;
	case PATH_SOURCE:
		v->sources = realloc(v->sources, (v->n_sources + 1) * sizeof(*v->sources));
		if (!v->sources)
			abort();
		v->sources[v->n_sources++] = (struct dkms_dpkg_source){ .dir = dkms_strdup(key),
									.pkg = dkms_strdup(pkg),
									.configured = configured };
		break;
	case PATH_NONE:
		break;
	}
}

/* Everything that may call ohshit(); runs under the error context of dkms_dpkg_view_read. */
static void view_scan(struct dkms_dpkg_view *v)
{
	struct pkg_hash_iter *iter;
	struct pkginfo *pkg;

	modstatdb_open(msdbrw_readonly);
	ensure_allinstfiles_available_quiet();
	iter = pkg_hash_iter_new();
	while ((pkg = pkg_hash_iter_next_pkg(iter))) {
		/* files on disk: from unpacked on; configured: its postinst ran */
		bool configured = pkg->status >= PKG_STAT_TRIGGERSAWAITED;

		if (pkg->status < PKG_STAT_HALFINSTALLED)
			continue;
		for (struct fsys_namenode_list *f = pkg->files; f; f = f->next) {
			char *key = NULL;
			enum path_kind kind = path_classify(f->namenode->name, &key);

			if (kind != PATH_NONE)
				view_note(v, kind, key, pkg_name(pkg, pnaw_nonambig), configured);
			free(key);
		}
	}
	pkg_hash_iter_free(iter);
	modstatdb_shutdown();
}

static char view_err[1024];

static void view_error(const char *emsg, const void *data)
{
	(void)data;
	snprintf(view_err, sizeof(view_err), "%s", emsg);
	view_err[strcspn(view_err, "\n")] = '\0';
}

int dkms_dpkg_view_read(struct dkms_dpkg_view *v, char **err)
{
	jmp_buf jump;

	memset(v, 0, sizeof(*v));
	*err = NULL;
	view_err[0] = '\0';
	dpkg_set_progname("dkms-dpkg-trigger");
	if (setjmp(jump)) {
		pop_error_context(ehflag_bombout);
		dkms_dpkg_view_free(v);
		*err = dkms_strdup(view_err[0] ? view_err : "libdpkg failed without a message");
		return -1;
	}
	push_error_context_jump(&jump, view_error, NULL);
	view_scan(v);
	pop_error_context(ehflag_normaltidy);
	return 0;
}

void dkms_dpkg_view_free(struct dkms_dpkg_view *v)
{
	for (size_t i = 0; i < v->n_kernels; i++) {
		free(v->kernels[i].kver);
		free(v->kernels[i].headers);
		free(v->kernels[i].image);
	}
	for (size_t i = 0; i < v->n_sources; i++) {
		free(v->sources[i].dir);
		free(v->sources[i].pkg);
	}
	free(v->kernels);
	free(v->sources);
	memset(v, 0, sizeof(*v));
}

const struct dkms_dpkg_kernel *dkms_dpkg_view_kernel(const struct dkms_dpkg_view *v, const char *kver)
{
	for (size_t i = 0; i < v->n_kernels; i++)
		if (!strcmp(v->kernels[i].kver, kver))
			return &v->kernels[i];
	return NULL;
}
