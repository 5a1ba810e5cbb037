/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dkms-alpm-hook: the handler behind the pacman .hook files.
 *
 *   dkms-alpm-hook [--root DIR] [--dbpath DIR] [--strict] [--verbose] install|remove  < targets
 *
 * pacman passes the matched targets on stdin (NeedsTargets), relative to the
 * root: usr/lib/modules/<kver>/build/include/ and usr/lib/modules/<kver>/modules.order
 * (a kernel's headers or image), usr/src/<module>-<version>/dkms.conf (a module
 * source). "install" runs after the transaction: a new kernel gets every
 * AUTOINSTALL module, a new module source is added and installed on every
 * kernel with headers. "remove" runs before it: what goes away is uninstalled
 * first. The handler only translates: it hands one plan to libdkms, which builds
 * in parallel and runs depmod once per kernel. A module that fails is reported
 * and the handler still exits 0 (1 with --strict).
 */
#include "internal.h" /* dkms_strv_*, dkms_list_dir */

#include <alpm.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum target_kind { TARGET_NONE, TARGET_IMAGE, TARGET_HEADERS, TARGET_SOURCE };

/* What a path names: a kernel image or headers (*key = kver), a module source (*key = <m>-<v>). */
static enum target_kind target_parse(const char *path, char **key)
{
	const char *p, *slash;

	*key = NULL;
	path += strspn(path, "/");
	if (!strncmp(path, "usr/lib/modules/", 16)) {
		p = path + 16;
		slash = strchr(p, '/');
		if (!slash || slash == p)
			return TARGET_NONE;
		if (!strcmp(slash, "/modules.order")) {
			*key = dkms_asprintf("%.*s", (int)(slash - p), p);
			return TARGET_IMAGE;
		}
		if (!strcmp(slash, "/build/include/") || !strcmp(slash, "/build/include")) {
			*key = dkms_asprintf("%.*s", (int)(slash - p), p);
			return TARGET_HEADERS;
		}
	} else if (!strncmp(path, "usr/src/", 8)) {
		p = path + 8;
		slash = strchr(p, '/');
		if (slash && slash != p && !strcmp(slash, "/dkms.conf")) {
			*key = dkms_asprintf("%.*s", (int)(slash - p), p);
			return TARGET_SOURCE;
		}
	}
	return TARGET_NONE;
}

/* The local database's view: which package owns each kernel image, headers tree and module source. */
struct owner {
	char *key, *name, *version;
};

struct owners {
	struct owner *v;
	size_t n;
};

static void owners_add(struct owners *o, const char *key, alpm_pkg_t *pkg)
{
	o->v = realloc(o->v, (o->n + 1) * sizeof(*o->v));
	if (!o->v)
		abort();
	o->v[o->n++] = (struct owner){ dkms_strdup(key), dkms_strdup(alpm_pkg_get_name(pkg)),
				       dkms_strdup(alpm_pkg_get_version(pkg)) };
}

static const struct owner *owners_find(const struct owners *o, const char *key)
{
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->v[i].key, key))
			return &o->v[i];
	return NULL;
}

static void owners_free(struct owners *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->v[i].key);
		free(o->v[i].name);
		free(o->v[i].version);
	}
	free(o->v);
}

struct alpm_view {
	struct owners images, headers, sources;
};

static void view_read(struct dkms_ctx *ctx, const char *root, const char *dbpath, struct alpm_view *v)
{
	alpm_errno_t err = 0;
	alpm_handle_t *h = alpm_initialize(root, dbpath, &err);
	struct owners *kind[] = {
		[TARGET_IMAGE] = &v->images, [TARGET_HEADERS] = &v->headers, [TARGET_SOURCE] = &v->sources
	};

	if (!h) {
		dkms_log(ctx, DKMS_LOG_WARN,
			 "cannot read the pacman database %s: %s; going by the files alone", dbpath,
			 alpm_strerror(err));
		return;
	}
	for (alpm_list_t *i = alpm_db_get_pkgcache(alpm_get_localdb(h)); i; i = alpm_list_next(i)) {
		alpm_filelist_t *files = alpm_pkg_get_files(i->data);

		for (size_t f = 0; files && f < files->count; f++) {
			char *key;
			enum target_kind t = target_parse(files->files[f].name, &key);

			if (t != TARGET_NONE)
				owners_add(kind[t], key, i->data);
			free(key);
		}
	}
	alpm_release(h);
}

static void view_free(struct alpm_view *v)
{
	owners_free(&v->images);
	owners_free(&v->headers);
	owners_free(&v->sources);
}

static bool has_headers(struct dkms_ctx *ctx, const char *kver)
{
	char *inc = dkms_asprintf("%s/%s/build/include", dkms_ctx_install_tree(ctx), kver);
	bool r = dkms_is_dir(inc);

	free(inc);
	return r;
}

/* Every kernel with headers: the database's headers packages, and any kernel tree found on disk. */
static void kernels_with_headers(struct dkms_ctx *ctx, const struct alpm_view *v, char ***out, size_t *n)
{
	char **names = NULL;
	size_t n_names = 0;

	for (size_t i = 0; i < v->headers.n; i++)
		if (has_headers(ctx, v->headers.v[i].key))
			dkms_strv_push_unique(out, n, v->headers.v[i].key);
	if (dkms_list_dir(dkms_ctx_install_tree(ctx), &names, &n_names) < 0)
		return;
	for (size_t i = 0; i < n_names; i++)
		if (has_headers(ctx, names[i]))
			dkms_strv_push_unique(out, n, names[i]);
	dkms_strv_free(names, n_names);
}

static size_t plan_add_request(struct dkms_ctx *ctx, struct dkms_plan *plan, const struct dkms_request *req)
{
	struct dkms_plan *p;

	if (dkms_plan_for_request(ctx, req, &p)) {
		dkms_log(ctx, DKMS_LOG_ERR, "%s", dkms_ctx_error(ctx));
		return 1;
	}
	dkms_plan_append(plan, p);
	return 0;
}

/* A module source came: add it (unless known), then install it on every kernel with headers. */
static size_t source_came(struct dkms_ctx *ctx, struct dkms_plan *plan, const struct alpm_view *v,
			  const char *dir, const struct dkms_kref *kernels, size_t n_kernels)
{
	char *src = dkms_path_join(dkms_ctx_source_tree(ctx), dir), *m = NULL, *ver = NULL;
	const struct owner *pkg = owners_find(&v->sources, dir);
	size_t failed = 0;
	int r = dkms_module_add(ctx, src, &m, &ver);

	if (r == DKMS_E_EXISTS)
		r = dkms_module_resolve(ctx, src, &m, &ver);
	if (r) {
		dkms_log(ctx, DKMS_LOG_ERR, "package %s: %s", pkg ? pkg->name : "?", dkms_ctx_error(ctx));
		failed = 1;
	} else if (!n_kernels) {
		dkms_log(ctx, DKMS_LOG_INFO, "%s/%s added; no kernel has headers, it will build when one has",
			 m, ver);
	} else {
		struct dkms_request req = { .action = DKMS_ACTION_INSTALL,
					    .module = m,
					    .version = ver,
					    .kernels = kernels,
					    .n_kernels = n_kernels };

		failed = plan_add_request(ctx, plan, &req);
	}
	free(src);
	free(m);
	free(ver);
	return failed;
}

/* A module source goes: remove that version from every kernel and from the tree. */
static size_t source_goes(struct dkms_ctx *ctx, struct dkms_plan *plan, const char *dir)
{
	char *src = dkms_path_join(dkms_ctx_source_tree(ctx), dir), *m = NULL, *ver = NULL;
	const char *dash = strrchr(dir, '-');
	size_t failed = 0;

	if (dkms_module_resolve(ctx, src, &m, &ver) && dash && dash != dir) {
		/* an unreadable dkms.conf: go by the directory name, <m>-<v> */
		m = dkms_asprintf("%.*s", (int)(dash - dir), dir);
		ver = dkms_strdup(dash + 1);
	}
	if (m && ver && dkms_module_is_added(ctx, m, ver)) {
		struct dkms_request req = {
			.action = DKMS_ACTION_REMOVE, .module = m, .version = ver, .all_kernels = true
		};

		failed = plan_add_request(ctx, plan, &req);
	}
	free(src);
	free(m);
	free(ver);
	return failed;
}

struct targets {
	char **kernels, **sources;
	size_t n_kernels, n_sources;
};

static void targets_read(struct dkms_ctx *ctx, FILE *in, struct targets *t)
{
	char *line = NULL, *key;
	size_t cap = 0;

	while (getline(&line, &cap, in) >= 0) {
		line[strcspn(line, "\n")] = '\0';
		switch (target_parse(line, &key)) {
		case TARGET_IMAGE:
		case TARGET_HEADERS:
			dkms_strv_push_unique(&t->kernels, &t->n_kernels, key);
			break;
		case TARGET_SOURCE:
			dkms_strv_push_unique(&t->sources, &t->n_sources, key);
			break;
		case TARGET_NONE:
			if (*line)
				dkms_log(ctx, DKMS_LOG_DEBUG, "target %s: not ours, ignored", line);
			break;
		}
		free(key);
	}
	free(line);
}

/* One plan for the whole transaction; returns the number of failures met while planning. */
static size_t plan_make(struct dkms_ctx *ctx, bool install, const struct targets *t,
			const struct alpm_view *v, struct dkms_plan **out)
{
	char **all = NULL;
	size_t n_all = 0, n = 0, failed = 0;
	struct dkms_kref *k;
	struct dkms_event ev = { 0 };

	if (install)
		kernels_with_headers(ctx, v, &all, &n_all);
	k = calloc(t->n_kernels + n_all + 1, sizeof(*k));
	if (!k)
		abort();
	for (size_t i = 0; i < t->n_kernels; i++) {
		const struct owner *img = owners_find(&v->images, t->kernels[i]);

		if (install && !has_headers(ctx, t->kernels[i]) && img)
			dkms_log(ctx, DKMS_LOG_INFO,
				 "kernel %s (%s %s) has no headers, so no DKMS modules: install %s-headers",
				 t->kernels[i], img->name, img->version, img->name);
		else if (install && !has_headers(ctx, t->kernels[i]))
			dkms_log(ctx, DKMS_LOG_INFO,
				 "kernel %s has no headers, so no DKMS modules: install its headers package",
				 t->kernels[i]);
		else
			k[n++] = (struct dkms_kref){ .version = t->kernels[i] };
	}
	if (install) {
		ev.kernels_added = k;
		ev.n_kernels_added = n;
	} else {
		ev.kernels_removed = k;
		ev.n_kernels_removed = n;
	}
	if (dkms_plan_for_event(ctx, &ev, out)) {
		dkms_log(ctx, DKMS_LOG_ERR, "%s", dkms_ctx_error(ctx));
		struct dkms_event none = { 0 };

		if (dkms_plan_for_event(ctx, &none, out)) /* an empty plan, to append the module work to */
			abort();
		failed++;
	}
	for (size_t i = 0; i < n_all; i++)
		k[i] = (struct dkms_kref){ .version = all[i] };
	for (size_t i = 0; i < t->n_sources; i++)
		failed += install ? source_came(ctx, *out, v, t->sources[i], k, n_all)
				  : source_goes(ctx, *out, t->sources[i]);
	free(k);
	dkms_strv_free(all, n_all);
	return failed;
}

static size_t report(const struct dkms_report *rep, const struct alpm_view *v)
{
	size_t failed = dkms_report_n_failed(rep);

	if (!failed)
		return 0;
	printf("==> DKMS: %zu of %zu jobs failed; the transaction goes on without them:\n", failed,
	       dkms_report_n_jobs(rep));
	for (size_t i = 0; i < dkms_report_n_jobs(rep); i++) {
		const struct dkms_job_report *j = dkms_report_job(rep, i);
		char *dir = dkms_asprintf("%s-%s", j->module, j->version);
		const struct owner *pkg = owners_find(&v->sources, dir);

		if (j->result == DKMS_JOB_FAILED)
			printf("  %s/%s%s%s%s, kernel %s (%s): %s%s\n", j->module, j->version,
			       pkg ? " (package " : "", pkg ? pkg->name : "", pkg ? ")" : "",
			       j->kver ? j->kver : "-", j->arch ? j->arch : "-",
			       j->log_path ? "failed, log: " : "",
			       j->log_path  ? j->log_path
			       : j->message ? j->message
					    : "failed");
		free(dir);
	}
	fflush(stdout);
	return failed;
}

/* pacman shows what a hook prints; debug lines come only with --verbose (the core filters them). */
static void log_line(void *data, enum dkms_log_prio prio, const char *msg)
{
	(void)data;
	printf("%s%s\n", prio == DKMS_LOG_ERR ? "error: " : prio == DKMS_LOG_WARN ? "warning: " : "", msg);
	fflush(stdout);
}

static int usage(void)
{
	fputs("usage: dkms-alpm-hook [--root DIR] [--dbpath DIR] [--strict] [--verbose] install|remove\n"
	      "  reads the targets of a pacman hook (NeedsTargets) on stdin\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "root", required_argument, NULL, 'r' },
					      { "dbpath", required_argument, NULL, 'b' },
					      { "strict", no_argument, NULL, 's' },
					      { "verbose", no_argument, NULL, 'v' },
					      { NULL, 0, NULL, 0 } };
	const char *root = "/", *dbpath = NULL;
	bool strict = false, verbose = false, install;
	struct targets t = { 0 };
	struct alpm_view view = { 0 };
	struct dkms_plan *plan = NULL;
	struct dkms_report *rep = NULL;
	struct dkms_ctx *ctx = NULL;
	size_t failed;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'r')
			root = optarg;
		else if (c == 'b')
			dbpath = optarg;
		else if (c == 's')
			strict = true;
		else if (c == 'v')
			verbose = true;
		else
			return usage();
	}
	if (optind + 1 != argc || (strcmp(argv[optind], "install") && strcmp(argv[optind], "remove")))
		return usage();
	install = !strcmp(argv[optind], "install");

	/* Hooks run chrooted into pacman's root; --root is for running by hand on a mounted system. */
	bool rooted = strcmp(root, "/") != 0;
	char *dirs[] = { dkms_path_join(root, "usr/lib/modules"), dkms_path_join(root, "var/lib/dkms"),
			 dkms_path_join(root, "usr/src"), dkms_path_join(root, "etc/dkms"),
			 dbpath ? dkms_strdup(dbpath) : dkms_path_join(root, "var/lib/pacman") };
	struct dkms_paths paths = { .install_tree = dirs[0],
				    .dkms_tree = rooted ? dirs[1] : NULL,
				    .source_tree = rooted ? dirs[2] : NULL,
				    .conf_dir = rooted ? dirs[3] : NULL };

	if (dkms_ctx_new(&paths, &ctx) && ctx)
		printf("warning: %s\n", dkms_ctx_error(ctx));
	if (!ctx)
		return 1;
	dkms_ctx_set_log_fn(ctx, log_line, NULL);
	dkms_ctx_opts(ctx)->verbose |= verbose;
	strict = strict || dkms_ctx_opts(ctx)->strict; /* framework.conf strict=yes */

	targets_read(ctx, stdin, &t);
	view_read(ctx, root, dirs[4], &view);
	failed = plan_make(ctx, install, &t, &view, &plan);
	if (dkms_plan_n_jobs(plan)) {
		printf("==> DKMS: %zu job(s):\n", dkms_plan_n_jobs(plan));
		dkms_plan_print(plan, stdout);
		fflush(stdout);
		dkms_plan_run(ctx, plan, &rep);
		if (rep)
			failed += report(rep, &view);
	}
	dkms_report_free(rep);
	dkms_plan_free(plan);
	dkms_strv_free(t.kernels, t.n_kernels);
	dkms_strv_free(t.sources, t.n_sources);
	view_free(&view);
	dkms_ctx_free(ctx);
	for (size_t i = 0; i < DKMS_ARRAY_SIZE(dirs); i++)
		free(dirs[i]);
	return strict && failed ? 1 : 0;
}
