/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Module sources: registering them, and naming them on the command line. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read PACKAGE_NAME/VERSION of a conf, evaluated for the running kernel. */
int dkms_module_conf_identity(struct dkms_ctx *ctx, const char *conf_path, struct dkms_conf **out)
{
	struct dkms_kernel *k = NULL;
	int r = dkms_kernel_open(ctx, ctx->running_kernel, NULL, &k);

	if (r)
		return r;
	struct dkms_conf_vars vars = {
		.kernelver = k->version,
		.arch = k->arch,
		.kernel_source_dir = k->source_dir,
		.kernel_config = k->config_path,
		.dkms_tree = ctx->dkms_tree,
	};

	r = dkms_conf_load(ctx, conf_path, &vars, out);
	dkms_kernel_free(k);
	return r;
}

void dkms_module_run_script(struct dkms_ctx *ctx, const char *m, const char *v, const char *what,
			    const char *script)
{
	char *src, *cmd;
	int r;

	if (!script || !*script)
		return;
	if (!dkms_valid_relpath(script)) {
		dkms_log(ctx, DKMS_LOG_WARN,
			 "The %s script of %s/%s (%s) is not a path inside the sources; not run", what, m, v,
			 script);
		return;
	}
	src = dkms_asprintf("%s/%s/%s/source", ctx->dkms_tree, m, v);
	cmd = dkms_asprintf("exec ./%s", script);
	dkms_log(ctx, DKMS_LOG_INFO, "Running the %s script for %s/%s", what, m, v);
	r = dkms_run_shell(cmd, src, NULL, 2);
	if (r)
		dkms_log(ctx, DKMS_LOG_WARN, "The %s script of %s/%s (%s) exited with %d", what, m, v, script,
			 r);
	free(cmd);
	free(src);
}

/* The dkms.conf of a source must be its own: not a link to a file elsewhere. */
static int module_conf_inside(struct dkms_ctx *ctx, const char *src, const char *conf_path)
{
	char real[PATH_MAX];
	size_t n = strlen(src);

	if (!realpath(conf_path, real))
		return dkms_err_set(ctx, DKMS_E_USAGE, "%s: %s", conf_path, strerror(errno));
	if (strncmp(real, src, n) == 0 && real[n] == '/')
		return 0;
	return dkms_err_set(ctx, DKMS_E_CONF,
			    "%s is a symbolic link to %s, outside the module source; put the dkms.conf "
			    "itself in %s",
			    conf_path, real, src);
}

static int module_add(struct dkms_ctx *ctx, const char *source_dir, char **name, char **version)
{
	char real[PATH_MAX];
	struct dkms_conf *conf = NULL;
	char *conf_path, *dest = NULL;
	int r;

	if (!realpath(source_dir, real))
		return dkms_err_set(ctx, DKMS_E_USAGE, "%s: %s; give a directory holding dkms.conf",
				    source_dir, strerror(errno));
	conf_path =
		ctx->opts.conf_file ? dkms_strdup(ctx->opts.conf_file) : dkms_path_join(real, "dkms.conf");
	if (!dkms_is_file(conf_path)) {
		r = dkms_err_set(ctx, DKMS_E_USAGE, "%s: %s; a module source needs one", conf_path,
				 dkms_exists(conf_path) ? "not a regular file" : "missing dkms.conf");
		goto out;
	}
	if (!ctx->opts.conf_file) {
		r = module_conf_inside(ctx, real, conf_path);
		if (r)
			goto out;
	}
	r = dkms_module_conf_identity(ctx, conf_path, &conf);
	if (r)
		goto out;

	dest = dkms_asprintf("%s/%s-%s", ctx->source_tree, conf->name, conf->version);
	if (dkms_tree_is_added(ctx, conf->name, conf->version)) {
		r = dkms_err_set(ctx, DKMS_E_EXISTS,
				 "%s/%s is already added (%s/%s/%s/source); remove it first to add it again",
				 conf->name, conf->version, ctx->dkms_tree, conf->name, conf->version);
		goto out;
	}
	{
		char *what = dkms_asprintf("%s/%s", conf->name, conf->version);

		r = dkms_srctree_check(ctx, what, real);
		free(what);
		if (r)
			goto out;
	}
	if (strcmp(real, dest)) {
		/* the sources live elsewhere: copy them to <source_tree>/<m>-<v> */
		char *tmp = dkms_asprintf("%s/.%s-%s.dkms-add.%d", ctx->source_tree, conf->name,
					  conf->version, (int)getpid());

		if (dkms_exists(dest) && !ctx->opts.force) {
			r = dkms_err_set(ctx, DKMS_E_EXISTS,
					 "%s already exists and is not %s; use --force to replace it", dest,
					 real);
			free(tmp);
			goto out;
		}
		dkms_rm_rf(tmp);
		int e = dkms_mkdir_p(ctx->source_tree, 0755);

		if (!e)
			e = dkms_copy_tree(real, tmp);
		if (!e && dkms_exists(dest))
			e = dkms_rm_rf(dest);
		if (!e && rename(tmp, dest) < 0)
			e = -errno;
		if (e) {
			dkms_rm_rf(tmp);
			r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot copy %s to %s: %s", real, dest,
					 strerror(-e));
			free(tmp);
			goto out;
		}
		free(tmp);
	}
	r = dkms_tree_add(ctx, conf->name, conf->version, dest);
	if (r)
		goto out;
	dkms_log(ctx, DKMS_LOG_INFO, "Creating symlink %s/%s/%s/source -> %s", ctx->dkms_tree, conf->name,
		 conf->version, dest);
	dkms_module_run_script(ctx, conf->name, conf->version, "post_add", conf->post_add);
	if (name)
		*name = dkms_strdup(conf->name);
	if (version)
		*version = dkms_strdup(conf->version);
out:
	dkms_conf_free(conf);
	free(conf_path);
	free(dest);
	return r;
}

int dkms_module_add(struct dkms_ctx *ctx, const char *source_dir, char **name, char **version)
{
	int r = dkms_lock_take(ctx);

	if (r)
		return r;
	r = module_add(ctx, source_dir, name, version);
	dkms_lock_drop(ctx);
	return r;
}

char *dkms_module_newest(struct dkms_ctx *ctx, const char *name)
{
	char **v = NULL;
	size_t n = 0;
	char *r = NULL;

	if (dkms_tree_list_versions(ctx, name, &v, &n) == 0 && n)
		r = dkms_strdup(v[n - 1]);
	dkms_strv_free(v, n);
	return r;
}

/* A module name or version named on the command line: one path component, not an option. */
static bool module_arg_ok(const char *s)
{
	return dkms_valid_name(s) && s[0] != '-' && strlen(s) <= NAME_MAX;
}

int dkms_module_resolve(struct dkms_ctx *ctx, const char *arg, char **name, char **version)
{
	char *conf_path = NULL;
	struct dkms_conf *conf = NULL;
	int r = 0;

	*name = *version = NULL;
	if (dkms_is_dir(arg))
		conf_path = dkms_path_join(arg, "dkms.conf");
	else if (dkms_is_file(arg))
		conf_path = dkms_strdup(arg);
	if (conf_path) {
		if (!dkms_is_file(conf_path)) {
			r = dkms_err_set(ctx, DKMS_E_USAGE, "%s: %s", conf_path,
					 dkms_exists(conf_path) ? "not a regular file" : "missing dkms.conf");
		} else if (!(r = dkms_module_conf_identity(ctx, conf_path, &conf))) {
			*name = dkms_strdup(conf->name);
			*version = dkms_strdup(conf->version);
		}
		dkms_conf_free(conf);
		free(conf_path);
		return r;
	}
	const char *slash = strchr(arg, '/');

	if (slash) {
		*name = dkms_asprintf("%.*s", (int)(slash - arg), arg);
		*version = dkms_strdup(slash + 1);
	} else {
		*name = dkms_strdup(arg);
	}
	if (!module_arg_ok(*name) || (*version && !module_arg_ok(*version))) {
		char *v = dkms_str_printable(arg, 80);

		r = dkms_err_set(ctx, DKMS_E_USAGE,
				 "invalid module argument '%s': use name/version, a directory "
				 "holding dkms.conf, or a dkms.conf",
				 v);
		free(v);
		free(*name);
		free(*version);
		*name = *version = NULL;
	}
	return r;
}

bool dkms_module_is_added(struct dkms_ctx *ctx, const char *name, const char *version)
{
	return dkms_tree_is_added(ctx, name, version);
}

char *dkms_module_source_dir(struct dkms_ctx *ctx, const char *name, const char *version)
{
	return dkms_asprintf("%s/%s-%s", ctx->source_tree, name, version);
}
