/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One job's steps that run in the planning process: everything but the build itself. */
#include "plan.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int dkms_kernels_get(struct dkms_ctx *ctx, struct kernel_set *ks, const char *kver, const char *arch,
		     struct dkms_kernel **out, size_t *idx)
{
	for (size_t i = 0; i < ks->n; i++) {
		if (!strcmp(ks->k[i]->version, kver) && !strcmp(ks->k[i]->arch, arch)) {
			*out = ks->k[i];
			*idx = i;
			return 0;
		}
	}
	struct dkms_kernel *k;
	int r = dkms_kernel_open(ctx, kver, arch, &k);

	if (r)
		return r;
	ks->k = realloc(ks->k, (ks->n + 1) * sizeof(*ks->k));
	ks->touched = realloc(ks->touched, (ks->n + 1) * sizeof(*ks->touched));
	if (!ks->k || !ks->touched)
		abort();
	ks->k[ks->n] = k;
	ks->touched[ks->n] = false;
	*idx = ks->n++;
	*out = k;
	return 0;
}

void dkms_kernels_free(struct kernel_set *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		dkms_kernel_free(ks->k[i]);
	free(ks->k);
	free(ks->touched);
}

void dkms_job_finish(struct dkms_ctx *ctx, struct dkms_job *j, enum dkms_job_result res, int code,
		     const char *msg)
{
	j->rep.result = res;
	j->rep.code = code;
	if (msg && *msg) {
		free(j->message);
		j->message = dkms_strdup(msg);
	}
	j->rep.message = j->message;
	j->rep.log_path = j->log_path;
	if (res == DKMS_JOB_FAILED)
		dkms_log(ctx, DKMS_LOG_ERR, "%s", msg);
	else if (res == DKMS_JOB_SKIPPED && msg && *msg)
		dkms_log(ctx, DKMS_LOG_WARN, "%s", msg);
}

/* `build` adds a module whose sources sit in the source tree. */
static int ensure_added(struct dkms_ctx *ctx, const char *m, const char *v)
{
	char *src;
	int r;

	if (dkms_tree_is_added(ctx, m, v))
		return 0;
	src = dkms_asprintf("%s/%s-%s", ctx->source_tree, m, v);
	if (!dkms_is_dir(src)) {
		r = dkms_err_set(ctx, DKMS_E_USAGE,
				 "%s/%s is not in the DKMS tree and %s does not exist; install its sources "
				 "there first",
				 m, v, src);
	} else {
		r = dkms_module_add(ctx, src, NULL, NULL);
	}
	free(src);
	return r;
}

static int do_uninstall(struct dkms_ctx *ctx, struct dkms_job *j, struct dkms_kernel *k, bool *changed)
{
	char *cur = dkms_tree_installed_version(ctx, j->module, k->version, k->arch);
	bool installed = cur && !strcmp(cur, j->version);
	int r = 0;

	free(cur);
	*changed = false;
	if (!installed) {
		if (j->action == DKMS_ACTION_UNINSTALL)
			dkms_log(ctx, DKMS_LOG_INFO,
				 "Module %s/%s is not installed for kernel %s (%s). Skipping...", j->module,
				 j->version, k->version, k->arch);
		return 0;
	}
	dkms_log(ctx, DKMS_LOG_INFO, "Uninstalling module %s/%s from kernel %s (%s)", j->module, j->version,
		 k->version, k->arch);
	r = dkms_uninstall(ctx, j->module, j->version, k);
	*changed = r == 0;
	return r;
}

/* Failed builds keep their job dir for inspection: <dkms_tree>/.build/<kver>/<arch>/<m>/<v>. */
static void forget_job_dir(struct dkms_ctx *ctx, const char *m, const char *v, const char *kver,
			   const char *arch)
{
	char *job = dkms_asprintf("%s/.build/%s/%s/%s/%s", ctx->dkms_tree, kver, arch, m, v);
	char *slash;

	dkms_rm_rf(job);
	/* and the parents that are now empty, up to .build itself */
	for (int up = 0; up < 4 && (slash = strrchr(job, '/')); up++) {
		*slash = '\0';
		if (rmdir(job) < 0)
			break;
	}
	free(job);
}

static void forget_job_dirs(struct dkms_ctx *ctx, const char *m, const char *v)
{
	char *top = dkms_path_join(ctx->dkms_tree, ".build");
	char **kv = NULL;
	size_t n_kv = 0;

	if (dkms_list_dir(top, &kv, &n_kv) == 0) {
		for (size_t i = 0; i < n_kv; i++) {
			char *kdir = dkms_path_join(top, kv[i]);
			char **ar = NULL;
			size_t n_ar = 0;

			if (dkms_list_dir(kdir, &ar, &n_ar) == 0)
				for (size_t a = 0; a < n_ar; a++)
					forget_job_dir(ctx, m, v, kv[i], ar[a]);
			dkms_strv_free(ar, n_ar);
			free(kdir);
		}
	}
	dkms_strv_free(kv, n_kv);
	free(top);
}

/* POST_REMOVE, with the conf read for the running kernel as dkms does. */
static void run_post_remove(struct dkms_ctx *ctx, const char *m, const char *v)
{
	struct dkms_kernel *k = NULL;
	const struct dkms_conf *conf;

	if (!dkms_tree_is_added(ctx, m, v) || dkms_kernel_open(ctx, ctx->running_kernel, NULL, &k))
		return;
	if (dkms_conf_for(ctx, m, v, k, NULL, &conf) == 0)
		dkms_module_run_script(ctx, m, v, "post_remove", conf->post_remove);
	dkms_kernel_free(k);
}

/* Forget m/v once no kernel is built for it. */
static int maybe_forget(struct dkms_ctx *ctx, const char *m, const char *v)
{
	char **kv = NULL, **ar = NULL;
	size_t n = 0;

	char *vdir = dkms_asprintf("%s/%s/%s", ctx->dkms_tree, m, v);
	bool present = dkms_exists(vdir);

	free(vdir);
	if (!present)
		return 0;
	if (dkms_tree_list_built(ctx, m, v, &kv, &ar, &n) == 0 && n) {
		dkms_strv_free(kv, n);
		dkms_strv_free(ar, n);
		return 0;
	}
	run_post_remove(ctx, m, v);
	dkms_log(ctx, DKMS_LOG_INFO, "Deleting module %s/%s completely from the DKMS tree.", m, v);
	forget_job_dirs(ctx, m, v);
	return dkms_tree_forget(ctx, m, v);
}

/* Before a build: decide what the job needs, and do what needs no build. */
int dkms_job_begin(struct dkms_ctx *ctx, struct dkms_plan *plan, struct dkms_job *j, struct dkms_kernel *k,
		   bool *touched, bool *needs_build, bool *skipped)
{
	bool built, changed = false;
	int r = 0;

	*needs_build = *skipped = *touched = false;
	if (!k)
		return maybe_forget(ctx, j->module, j->version);
	switch (j->action) {
	case DKMS_ACTION_INSTALL: {
		char *cur = dkms_tree_installed_version(ctx, j->module, k->version, k->arch);
		bool same = cur && !strcmp(cur, j->version);

		free(cur);
		if (same && dkms_tree_is_built(ctx, j->module, j->version, k->version, k->arch) &&
		    !ctx->opts.force) {
			dkms_log(
				ctx, DKMS_LOG_INFO,
				"Module %s/%s already installed on kernel %s (%s), skip. You may override by "
				"specifying --force.",
				j->module, j->version, k->version, k->arch);
			return 0;
		}
	}
		/* fall through */
	case DKMS_ACTION_BUILD:
		r = ensure_added(ctx, j->module, j->version);
		if (r)
			return r;
		built = dkms_tree_is_built(ctx, j->module, j->version, k->version, k->arch);
		if (!built || ctx->opts.force) {
			*needs_build = true;
			return 0;
		}
		if (j->action == DKMS_ACTION_INSTALL)
			return dkms_job_after_build(ctx, j, k, touched);
		if (plan->explicit_build) {
			dkms_log(ctx, DKMS_LOG_INFO,
				 "Module %s/%s already built for kernel %s (%s), skip. You may override by "
				 "specifying --force.",
				 j->module, j->version, k->version, k->arch);
			*skipped = true;
		}
		return 0;
	case DKMS_ACTION_UNINSTALL:
		r = do_uninstall(ctx, j, k, &changed);
		break;
	case DKMS_ACTION_UNBUILD:
	case DKMS_ACTION_REMOVE: {
		r = do_uninstall(ctx, j, k, &changed);
		if (r)
			break;
		char *kdir = dkms_tree_kdir(ctx, j->module, j->version, k->version, k->arch);
		bool present = dkms_exists(kdir);

		free(kdir);
		forget_job_dir(ctx, j->module, j->version, k->version, k->arch); /* a failed build's */
		if (present)
			r = dkms_tree_remove_built(ctx, j->module, j->version, k->version, k->arch);
		else
			dkms_log(ctx, DKMS_LOG_INFO,
				 "Module %s/%s is not built for kernel %s (%s). Skipping...", j->module,
				 j->version, k->version, k->arch);
		if (!r && j->action == DKMS_ACTION_REMOVE)
			r = maybe_forget(ctx, j->module, j->version);
		break;
	}
	}
	*touched = changed;
	return r;
}

/* After a build: install when the job asks for it. */
int dkms_job_after_build(struct dkms_ctx *ctx, struct dkms_job *j, struct dkms_kernel *k, bool *touched)
{
	int r;

	*touched = false;
	if (j->action != DKMS_ACTION_INSTALL)
		return 0;
	dkms_log(ctx, DKMS_LOG_INFO, "Installing module %s/%s for kernel %s (%s)", j->module, j->version,
		 k->version, k->arch);
	r = dkms_install(ctx, j->module, j->version, k);
	*touched = r == 0;
	return r;
}
