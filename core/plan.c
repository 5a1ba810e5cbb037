/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Plans: decide which (module, version, kernel, arch) jobs a request needs. Pure: reads the tree only. */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

const char *dkms_action_name(enum dkms_action a)
{
	switch (a) {
	case DKMS_ACTION_BUILD:
		return "build";
	case DKMS_ACTION_INSTALL:
		return "install";
	case DKMS_ACTION_UNINSTALL:
		return "uninstall";
	case DKMS_ACTION_UNBUILD:
		return "unbuild";
	case DKMS_ACTION_REMOVE:
		return "remove";
	}
	return "?";
}

size_t dkms_plan_add_job(struct dkms_plan *plan, enum dkms_action action, const char *m, const char *v,
			 const char *kver, const char *arch)
{
	struct dkms_job *j;

	plan->jobs = realloc(plan->jobs, (plan->n_jobs + 1) * sizeof(*plan->jobs));
	if (!plan->jobs)
		abort();
	j = &plan->jobs[plan->n_jobs];
	memset(j, 0, sizeof(*j));
	j->action = action;
	j->module = dkms_strdup(m);
	j->version = dkms_strdup(v);
	j->kver = dkms_strdup(kver);
	j->arch = dkms_strdup(arch);
	return plan->n_jobs++;
}

void dkms_plan_add_dep(struct dkms_plan *plan, size_t job, size_t dep)
{
	struct dkms_job *j = &plan->jobs[job];

	j->deps = realloc(j->deps, (j->n_deps + 1) * sizeof(*j->deps));
	if (!j->deps)
		abort();
	j->deps[j->n_deps++] = dep;
}

static const char *arch_of(struct dkms_ctx *ctx, const struct dkms_kref *k)
{
	return k->arch && *k->arch ? k->arch : ctx->machine_arch;
}

/* An autoinstall candidate: a module to install for one kernel, with what it needs. */
struct candidate {
	char *module, *version;
	char **depends;
	size_t n_depends;
	size_t job;
	bool placed;
};

static void candidates_free(struct candidate *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].module);
		free(c[i].version);
		dkms_strv_free(c[i].depends, c[i].n_depends);
	}
	free(c);
}

/* Is any version of m installed for the kernel? */
static bool installed_any(struct dkms_ctx *ctx, const char *m, const char *kver, const char *arch)
{
	char *v = dkms_tree_installed_version(ctx, m, kver, arch);
	bool r = v != NULL;

	free(v);
	return r;
}

/* The newest version of m with AUTOINSTALL=yes for kernel k, or NULL. */
static int newest_autoinstall(struct dkms_ctx *ctx, const char *m, const struct dkms_kernel *k,
			      struct candidate *out)
{
	char **versions = NULL;
	size_t n = 0;
	int r = dkms_tree_list_versions(ctx, m, &versions, &n);

	if (r < 0)
		return 0;
	for (size_t i = n; i-- > 0;) {
		const struct dkms_conf *conf;

		if (!dkms_tree_is_added(ctx, m, versions[i]))
			continue;
		if (dkms_conf_for(ctx, m, versions[i], k, NULL, &conf)) {
			dkms_log(ctx, DKMS_LOG_WARN, "%s", ctx->err);
			continue;
		}
		if (!conf->autoinstall)
			continue;
		out->module = dkms_strdup(m);
		out->version = dkms_strdup(versions[i]);
		for (size_t d = 0; d < conf->n_build_depends; d++)
			dkms_strv_push(&out->depends, &out->n_depends, conf->build_depends[d]);
		dkms_strv_free(versions, n);
		return 1;
	}
	dkms_strv_free(versions, n);
	return 0;
}

static ssize_t find_candidate(struct candidate *c, size_t n, const char *m)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(c[i].module, m))
			return (ssize_t)i;
	return -1;
}

/*
 * Autoinstall for one kernel: every module not installed there, newest
 * AUTOINSTALL version, in BUILD_DEPENDS order (a dependency cycle is broken
 * in name order; the build then reports the missing dependency).
 */
static int plan_autoinstall_kernel(struct dkms_ctx *ctx, struct dkms_plan *plan, const char *only_module,
				   const struct dkms_kref *kr)
{
	const char *arch = arch_of(ctx, kr);
	struct dkms_kernel *k = NULL;
	struct candidate *c = NULL;
	char **mods = NULL;
	size_t n_mods = 0, n_c = 0;
	int r;

	r = dkms_kernel_open(ctx, kr->version, arch, &k);
	if (r)
		return r;
	if (dkms_tree_list_modules(ctx, &mods, &n_mods) < 0)
		n_mods = 0;
	for (size_t i = 0; i < n_mods; i++) {
		struct candidate cand = { 0 };

		if (only_module && strcmp(only_module, mods[i]))
			continue;
		if (installed_any(ctx, mods[i], kr->version, arch))
			continue;
		if (newest_autoinstall(ctx, mods[i], k, &cand) <= 0)
			continue;
		c = realloc(c, (n_c + 1) * sizeof(*c));
		if (!c)
			abort();
		c[n_c++] = cand;
	}
	/* Place candidates whose dependencies are placed or not candidates. */
	for (size_t placed = 0; placed < n_c;) {
		size_t before = placed;

		for (size_t i = 0; i < n_c; i++) {
			bool ready = true;

			if (c[i].placed)
				continue;
			for (size_t d = 0; d < c[i].n_depends && ready; d++) {
				ssize_t di = find_candidate(c, n_c, c[i].depends[d]);

				ready = di < 0 || c[di].placed;
			}
			if (!ready)
				continue;
			c[i].job = dkms_plan_add_job(plan, DKMS_ACTION_INSTALL, c[i].module, c[i].version,
						     kr->version, arch);
			for (size_t d = 0; d < c[i].n_depends; d++) {
				ssize_t di = find_candidate(c, n_c, c[i].depends[d]);

				if (di >= 0)
					dkms_plan_add_dep(plan, c[i].job, c[di].job);
			}
			c[i].placed = true;
			placed++;
		}
		if (placed == before) {
			/* a cycle: place the first unplaced one, its build will say what is missing */
			for (size_t i = 0; i < n_c; i++) {
				if (c[i].placed)
					continue;
				dkms_log(ctx, DKMS_LOG_WARN,
					 "BUILD_DEPENDS of %s/%s form a cycle for kernel %s", c[i].module,
					 c[i].version, kr->version);
				c[i].job = dkms_plan_add_job(plan, DKMS_ACTION_INSTALL, c[i].module,
							     c[i].version, kr->version, arch);
				c[i].placed = true;
				placed++;
				break;
			}
		}
	}
	candidates_free(c, n_c);
	dkms_strv_free(mods, n_mods);
	dkms_kernel_free(k);
	return 0;
}

/* Everything built for a kernel (kernel_prerm), or only AUTOINSTALL modules (kernel_preinst). */
static int plan_unbuild_kernel(struct dkms_ctx *ctx, struct dkms_plan *plan, const char *only_module,
			       const struct dkms_kref *kr, bool autoinstall_only)
{
	const char *arch = arch_of(ctx, kr);
	struct dkms_kernel *k = NULL;
	char **mods = NULL;
	size_t n_mods = 0;
	int r = 0;

	if (autoinstall_only && (r = dkms_kernel_open(ctx, kr->version, arch, &k)))
		return r;
	if (dkms_tree_list_modules(ctx, &mods, &n_mods) < 0)
		n_mods = 0;
	for (size_t i = 0; i < n_mods; i++) {
		char **versions = NULL;
		size_t n_v = 0;

		if (only_module && strcmp(only_module, mods[i]))
			continue;
		if (dkms_tree_list_versions(ctx, mods[i], &versions, &n_v) < 0)
			continue;
		for (size_t v = 0; v < n_v; v++) {
			const struct dkms_conf *conf;
			char *kdir = dkms_tree_kdir(ctx, mods[i], versions[v], kr->version, arch);
			bool present = dkms_is_dir(kdir);

			free(kdir);
			if (!present)
				continue;
			if (autoinstall_only &&
			    (dkms_conf_for(ctx, mods[i], versions[v], k, NULL, &conf) || !conf->autoinstall))
				continue;
			dkms_plan_add_job(plan, DKMS_ACTION_UNBUILD, mods[i], versions[v], kr->version, arch);
		}
		dkms_strv_free(versions, n_v);
	}
	dkms_strv_free(mods, n_mods);
	dkms_kernel_free(k);
	return 0;
}

/* One module/version, on the given kernels or on every kernel it is built for. */
static int plan_module(struct dkms_ctx *ctx, struct dkms_plan *plan, const struct dkms_request *req,
		       const char *version)
{
	if (req->all_kernels) {
		char **kv = NULL, **ar = NULL;
		size_t n = 0;

		if (dkms_tree_list_built(ctx, req->module, version, &kv, &ar, &n) < 0)
			n = 0;
		for (size_t i = 0; i < n; i++)
			dkms_plan_add_job(plan, req->action, req->module, version, kv[i], ar[i]);
		if (req->action == DKMS_ACTION_REMOVE)
			dkms_plan_add_job(plan, req->action, req->module, version, NULL, NULL);
		dkms_strv_free(kv, n);
		dkms_strv_free(ar, n);
		return 0;
	}
	for (size_t i = 0; i < req->n_kernels; i++)
		dkms_plan_add_job(plan, req->action, req->module, version, req->kernels[i].version,
				  arch_of(ctx, &req->kernels[i]));
	return 0;
}

/* A plan holds the tree's writer lock from its making (on a tree that an interrupted run has
 * been repaired in) until it is freed, so that what it decided still holds when it runs. */
static struct dkms_plan *plan_new(struct dkms_ctx *ctx, int *err)
{
	struct dkms_plan *plan = calloc(1, sizeof(*plan));

	if (!plan) {
		*err = DKMS_E_FAIL;
		return NULL;
	}
	*err = dkms_lock_take(ctx);
	if (*err) {
		free(plan);
		return NULL;
	}
	plan->ctx = ctx;
	return plan;
}

int dkms_plan_for_request(struct dkms_ctx *ctx, const struct dkms_request *req, struct dkms_plan **out)
{
	int r = 0;
	struct dkms_plan *plan = plan_new(ctx, &r);

	if (!plan)
		return r;
	plan->autoinstall = req->autoinstall;
	plan->explicit_build = req->action == DKMS_ACTION_BUILD;
	if (req->autoinstall && req->action == DKMS_ACTION_INSTALL) {
		if (ctx->no_autoinstall) {
			dkms_log(ctx, DKMS_LOG_INFO,
				 "Automatic installation is disabled by %s/no-autoinstall", ctx->conf_dir);
		} else {
			for (size_t i = 0; i < req->n_kernels && !r; i++)
				r = plan_autoinstall_kernel(ctx, plan, req->module, &req->kernels[i]);
		}
	} else if (!req->module) {
		for (size_t i = 0; i < req->n_kernels && !r; i++)
			r = plan_unbuild_kernel(ctx, plan, NULL, &req->kernels[i], req->autoinstall);
	} else {
		char *version = req->version ? dkms_strdup(req->version) : NULL;

		if (!version) {
			char **versions = NULL;
			size_t n = 0;

			if (dkms_tree_list_versions(ctx, req->module, &versions, &n) < 0 || n == 0)
				r = dkms_err_set(
					ctx, DKMS_E_USAGE,
					"module %s is not in the DKMS tree %s; add it first (dkms add)",
					req->module, ctx->dkms_tree);
			else if (n > 1)
				r = dkms_err_set(ctx, DKMS_E_USAGE,
						 "module %s has several versions in the tree; say which one "
						 "(-v or %s/<version>)",
						 req->module, req->module);
			else
				version = dkms_strdup(versions[0]);
			dkms_strv_free(versions, n);
		}
		if (!r)
			r = plan_module(ctx, plan, req, version);
		free(version);
	}
	if (r) {
		dkms_plan_free(plan);
		return r;
	}
	*out = plan;
	return 0;
}

static bool kernel_has_headers(struct dkms_ctx *ctx, const struct dkms_kref *kr)
{
	struct dkms_kernel *k = NULL;
	bool r = dkms_kernel_open(ctx, kr->version, arch_of(ctx, kr), &k) == 0 && dkms_kernel_has_headers(k);

	dkms_kernel_free(k);
	return r;
}

int dkms_plan_for_event(struct dkms_ctx *ctx, const struct dkms_event *ev, struct dkms_plan **out)
{
	int r = 0;
	struct dkms_plan *plan = plan_new(ctx, &r);

	if (!plan)
		return r;
	plan->autoinstall = true;
	for (size_t i = 0; i < ev->n_kernels_removed && !r; i++)
		r = plan_unbuild_kernel(ctx, plan, NULL, &ev->kernels_removed[i], false);
	for (size_t i = 0; i < ev->n_kernels_added && !r && !ctx->no_autoinstall; i++) {
		/* a kernel whose headers come later (another package, another transaction): nothing yet */
		if (!kernel_has_headers(ctx, &ev->kernels_added[i])) {
			dkms_log(ctx, DKMS_LOG_INFO,
				 "No kernel headers for %s yet: its modules will be built when they are "
				 "installed",
				 ev->kernels_added[i].version);
			continue;
		}
		r = plan_autoinstall_kernel(ctx, plan, NULL, &ev->kernels_added[i]);
	}
	if (r) {
		dkms_plan_free(plan);
		return r;
	}
	*out = plan;
	return 0;
}

int dkms_plan_match(struct dkms_ctx *ctx, const char *template_kver, const struct dkms_kref *target,
		    const char *module, struct dkms_plan **out)
{
	const char *arch = arch_of(ctx, target);
	char **mods = NULL;
	size_t n_mods = 0;
	int r = 0;
	struct dkms_plan *plan = plan_new(ctx, &r);

	if (!plan)
		return r;
	if (dkms_tree_list_modules(ctx, &mods, &n_mods) < 0)
		n_mods = 0;
	for (size_t i = 0; i < n_mods; i++) {
		char *v;

		if (module && strcmp(module, mods[i]))
			continue;
		v = dkms_tree_installed_version(ctx, mods[i], template_kver, arch);
		if (v)
			dkms_plan_add_job(plan, DKMS_ACTION_INSTALL, mods[i], v, target->version, arch);
		free(v);
	}
	dkms_strv_free(mods, n_mods);
	*out = plan;
	return 0;
}

static bool same_job(const struct dkms_job *a, const struct dkms_job *b)
{
	if (strcmp(a->module, b->module) || strcmp(a->version, b->version))
		return false;
	if (!a->kver || !b->kver)
		return a->kver == b->kver;
	return !strcmp(a->kver, b->kver) && !strcmp(a->arch, b->arch);
}

void dkms_plan_append(struct dkms_plan *plan, struct dkms_plan *src)
{
	size_t *map = calloc(src->n_jobs + 1, sizeof(*map));

	if (!map)
		abort();
	for (size_t i = 0; i < src->n_jobs; i++) {
		const struct dkms_job *j = &src->jobs[i];
		size_t d = 0;

		while (d < plan->n_jobs && !same_job(&plan->jobs[d], j))
			d++;
		if (d == plan->n_jobs)
			d = dkms_plan_add_job(plan, j->action, j->module, j->version, j->kver, j->arch);
		map[i] = d;
		for (size_t k = 0; k < j->n_deps; k++)
			if (j->deps[k] < i)
				dkms_plan_add_dep(plan, d, map[j->deps[k]]);
	}
	plan->autoinstall |= src->autoinstall;
	free(map);
	dkms_plan_free(src);
}

size_t dkms_plan_n_jobs(const struct dkms_plan *plan)
{
	return plan->n_jobs;
}

void dkms_plan_print(const struct dkms_plan *plan, FILE *out)
{
	for (size_t i = 0; i < plan->n_jobs; i++) {
		const struct dkms_job *j = &plan->jobs[i];

		if (j->kver)
			fprintf(out, "%s %s/%s, %s, %s", dkms_action_name(j->action), j->module, j->version,
				j->kver, j->arch);
		else
			fprintf(out, "%s %s/%s", dkms_action_name(j->action), j->module, j->version);
		for (size_t d = 0; d < j->n_deps; d++)
			fprintf(out, "%s%s", d ? ", " : " (after ", plan->jobs[j->deps[d]].module);
		fputs(j->n_deps ? ")\n" : "\n", out);
	}
}

void dkms_plan_free(struct dkms_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n_jobs; i++) {
		struct dkms_job *j = &plan->jobs[i];

		free(j->module);
		free(j->version);
		free(j->kver);
		free(j->arch);
		free(j->deps);
		free(j->message);
		free(j->log_path);
	}
	free(plan->jobs);
	if (plan->ctx)
		dkms_lock_drop(plan->ctx);
	free(plan);
}
