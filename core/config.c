/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dkms.conf: evaluated by bash (bash.c), its directives validated (conf-values.c), cached. */
#include "conf-values.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* --directive NAME=value or NAME[i]=value: the name part must be a bash variable or element. */
static bool directive_name_ok(const char *s, size_t len)
{
	const char *br = memchr(s, '[', len);

	if (!br)
		return dkms_bash_valid_identifier(s, len);
	if (!dkms_bash_valid_identifier(s, (size_t)(br - s)) || s[len - 1] != ']' || br + 2 > s + len - 1)
		return false;
	for (const char *p = br + 1; p < s + len - 1; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

static char *absolute_path(const char *path)
{
	char *cwd, *r;

	if (path[0] == '/')
		return dkms_strdup(path);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return dkms_strdup(path);
	r = dkms_path_join(cwd, path);
	free(cwd);
	return r;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return dkms_strdup(".");
	if (slash == path)
		return dkms_strdup("/");
	return dkms_asprintf("%.*s", (int)(slash - path), path);
}

/*
 * dkms.conf: $1 conf, $2 conf_dir, $3 kernelver, $4 arch, $5 kernel_source_dir,
 * $6 kernel_config, $7 dkms_tree, $8 source_tree, $9 install_tree, $10 module,
 * $11 module_version, $12 number of directives, then NAME VALUE pairs.
 */
#define SH_CONF_HEAD                                                                                         \
	"__dkms_a=(\"$@\"); builtin set --\n"                                                                \
	"kernelver=${__dkms_a[2]} arch=${__dkms_a[3]} kernel_source_dir=${__dkms_a[4]}\n"                    \
	"kernel_config=${__dkms_a[5]} dkms_tree=${__dkms_a[6]} source_tree=${__dkms_a[7]}\n"                 \
	"install_tree=${__dkms_a[8]}\n"                                                                      \
	"builtin unset module module_version\n"                                                              \
	"[[ ${__dkms_a[9]} ]] && module=${__dkms_a[9]}\n"                                                    \
	"[[ ${__dkms_a[10]} ]] && module_version=${__dkms_a[10]}\n"                                          \
	"__dkms_f=${__dkms_a[0]}\n" SH_SOURCE                                                                \
	"__dkms_m=${PACKAGE_NAME:-${__dkms_a[9]}} __dkms_v=${PACKAGE_VERSION:-${__dkms_a[10]}}\n"            \
	"__dkms_k=${__dkms_a[2]} __dkms_ar=${__dkms_a[3]} __dkms_o=()\n"                                     \
	"if [[ $__dkms_m && $__dkms_m != */* ]]; then\n"                                                     \
	"  __dkms_o+=(\"$__dkms_m\")\n"                                                                      \
	"  [[ $__dkms_v && $__dkms_v != */* ]] && __dkms_o+=(\"$__dkms_m-$__dkms_v\")\n"                     \
	"  if [[ $__dkms_k && $__dkms_k != */* && $__dkms_ar != */* ]]; then\n"                              \
	"    [[ $__dkms_v && $__dkms_v != */* ]] &&\n"                                                       \
	"      __dkms_o+=(\"$__dkms_m-$__dkms_v-$__dkms_k\" \"$__dkms_m-$__dkms_v-$__dkms_k-$__dkms_ar\")\n" \
	"    __dkms_o+=(\"$__dkms_m--$__dkms_k\" \"$__dkms_m--$__dkms_k-$__dkms_ar\")\n"                     \
	"  fi\n"                                                                                             \
	"fi\n"                                                                                               \
	"for __dkms_f in \"${__dkms_o[@]}\"; do\n"                                                           \
	"__dkms_f=${__dkms_a[1]}/$__dkms_f.conf\n" SH_SOURCE "done\n"                                        \
	"__dkms_i=12\n"                                                                                      \
	"for ((__dkms_j = 0; __dkms_j < __dkms_a[11]; __dkms_j++)); do\n"                                    \
	"  builtin printf -v \"${__dkms_a[__dkms_i]}\" '%s' \"${__dkms_a[__dkms_i + 1]}\"\n"                 \
	"  ((__dkms_i += 2))\n"                                                                              \
	"done\n"

/* The positional parameters of SH_CONF_HEAD; pointers into vars, ctx and directives. */
static const char **conf_args(struct dkms_ctx *ctx, const char *path, const struct dkms_conf_vars *vars,
			      const char *ksrc, const char *kconfig, char *n_dir, char **dir_names,
			      size_t *n_args)
{
	const struct dkms_opts *o = &ctx->opts;
	const char **a = calloc(12 + 2 * o->n_directives + 1, sizeof(*a));
	size_t k = 0;

	if (!a)
		abort();
	a[k++] = path;
	a[k++] = ctx->conf_dir ? ctx->conf_dir : "/etc/dkms";
	a[k++] = vars->kernelver ? vars->kernelver : "";
	a[k++] = vars->arch ? vars->arch : "";
	a[k++] = ksrc;
	a[k++] = kconfig;
	a[k++] = vars->dkms_tree ? vars->dkms_tree : ctx->dkms_tree ? ctx->dkms_tree : "";
	a[k++] = ctx->source_tree ? ctx->source_tree : "";
	a[k++] = ctx->install_tree ? ctx->install_tree : "";
	a[k++] = vars->module ? vars->module : "";
	a[k++] = vars->module_version ? vars->module_version : "";
	a[k++] = n_dir;
	for (size_t i = 0; i < o->n_directives; i++) {
		const char *eq = strchr(o->directives[i], '=');

		a[k++] = dir_names[i];
		a[k++] = eq + 1;
	}
	*n_args = k;
	return a;
}

/* Check opts.directives and split their names off; DKMS_E_USAGE on a bad one. */
static int directives_split(struct dkms_ctx *ctx, char ***names)
{
	const struct dkms_opts *o = &ctx->opts;

	*names = calloc(o->n_directives + 1, sizeof(**names));
	if (!*names)
		abort();
	for (size_t i = 0; i < o->n_directives; i++) {
		const char *d = o->directives[i], *eq = d ? strchr(d, '=') : NULL;

		if (!eq || !directive_name_ok(d, (size_t)(eq - d))) {
			char *v = DKMS_CONF_SHOW(d);
			int r = dkms_err_set(ctx, DKMS_E_USAGE,
					     "--directive '%s': expected NAME=value or NAME[index]=value", v);

			free(v);
			return r;
		}
		(*names)[i] = dkms_asprintf("%.*s", (int)(eq - d), d);
		dkms_log(ctx, DKMS_LOG_DEBUG, "DIRECTIVE: %s", d);
	}
	return 0;
}

static int conf_evaluate(struct dkms_ctx *ctx, struct dkms_conf *c, const struct dkms_conf_vars *vars,
			 struct bash_result *res)
{
	const char *kver = vars->kernelver ? vars->kernelver : "";
	char *ksrc = vars->kernel_source_dir
			     ? dkms_strdup(vars->kernel_source_dir)
			     : dkms_asprintf("%s/%s/build",
					     ctx->install_tree ? ctx->install_tree : "/lib/modules", kver);
	char *kconfig =
		vars->kernel_config ? dkms_strdup(vars->kernel_config) : dkms_path_join(ksrc, ".config");
	char *n_dir = dkms_asprintf("%zu", ctx->opts.n_directives);
	char **dir_names = NULL, *script = NULL, *cwd = dir_of(c->path);
	const char **args = NULL;
	size_t n_args;
	int r;

	r = directives_split(ctx, &dir_names);
	if (!r) {
		args = conf_args(ctx, c->path, vars, ksrc, kconfig, n_dir, dir_names, &n_args);
		script = dkms_bash_script_build(SH_CONF_HEAD, dkms_conf_directive_names, D_COUNT);
		r = dkms_bash_eval(script, args, n_args, cwd, dkms_conf_directive_names, D_COUNT,
				   ctx->conf_timeout, res);
		if (r < 0)
			r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot run %s to read %s: %s", BASH, c->path,
					 strerror(-r));
	}
	if (!r && res->timed_out) {
		r = dkms_conf_err(ctx, res->last_file ? res->last_file : c->path,
				  "did not finish within %u s (an endless loop, or a command that waits?); "
				  "fix the file",
				  ctx->conf_timeout ? ctx->conf_timeout : DKMS_BASH_TIMEOUT);
	} else if (!r && res->overflow) {
		r = dkms_conf_err(ctx, res->last_file ? res->last_file : c->path,
				  "its variables come to more than 64 MiB; fix the file");
	} else if (!r && !res->ended) {
		char *st = dkms_bash_status_text(res->status);

		r = dkms_conf_err(
			ctx, res->last_file ? res->last_file : c->path,
			"bash stopped while reading it (%s), so no directive could be read; fix the file",
			st);
		free(st);
	}
	dkms_strv_free(dir_names, ctx->opts.n_directives);
	free(args);
	free(script);
	free(cwd);
	free(n_dir);
	free(kconfig);
	free(ksrc);
	return r;
}

/* A dkms.conf is a small text file: refuse a huge or binary one before bash reads it. */
static int conf_check_text(struct dkms_ctx *ctx, const char *path, const struct stat *st)
{
	char *buf = NULL;
	size_t len = 0;
	int fd, r;

	if (st->st_size > (off_t)DKMS_CONF_MAX)
		return dkms_conf_err(ctx, path,
				     "the file is too large (%lld bytes; a dkms.conf may have %u); give the "
				     "path of a dkms.conf",
				     (long long)st->st_size, DKMS_CONF_MAX);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return dkms_err_set(ctx, DKMS_E_USAGE, "%s: cannot read dkms.conf (%s)", path,
				    strerror(errno));
	r = dkms_read_fd(fd, DKMS_CONF_MAX, &buf, &len);
	close(fd);
	if (r == -EFBIG)
		r = dkms_conf_err(ctx, path, "the file is too large (a dkms.conf may have %u bytes)",
				  DKMS_CONF_MAX);
	else if (r < 0)
		r = dkms_err_set(ctx, DKMS_E_USAGE, "%s: cannot read dkms.conf (%s)", path, strerror(-r));
	else if (memchr(buf, '\0', len))
		r = dkms_conf_err(ctx, path,
				  "not a text file (it holds NUL bytes); give the path of a dkms.conf");
	free(buf);
	return r;
}

int dkms_conf_load(struct dkms_ctx *ctx, const char *path, const struct dkms_conf_vars *vars,
		   struct dkms_conf **out)
{
	struct bash_result res = { 0 };
	struct dkms_conf *c;
	struct stat st;
	int r;

	*out = NULL;
	if (!path)
		return dkms_err_set(ctx, DKMS_E_USAGE, "no dkms.conf given");
	if (stat(path, &st) < 0 || access(path, R_OK) < 0)
		return dkms_err_set(ctx, DKMS_E_USAGE,
				    "%s: cannot read dkms.conf (%s); check the module's source "
				    "directory or the -c option",
				    path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return dkms_err_set(ctx, DKMS_E_USAGE, "%s: not a regular file; give the path of a dkms.conf",
				    path);
	if (st.st_size == 0)
		return dkms_conf_err(ctx, path,
				     "the file is empty; it needs at least PACKAGE_NAME and PACKAGE_VERSION");
	r = conf_check_text(ctx, path, &st);
	if (r)
		return r;
	if (dkms_conf_nonempty(ctx->opts.dest_location) &&
	    (ctx->opts.dest_location[0] != '/' || !dkms_valid_relpath(ctx->opts.dest_location + 1))) {
		char *v = DKMS_CONF_SHOW(ctx->opts.dest_location);

		r = dkms_err_set(ctx, DKMS_E_USAGE,
				 "DEST_MODULE_LOCATION override \"%s\" must be an absolute "
				 "path under the kernel's module directory, without '..'",
				 v);
		free(v);
		return r;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	c->path = absolute_path(path);
	r = conf_evaluate(ctx, c, vars, &res);
	if (!r)
		r = dkms_conf_from_values(ctx, c, res.vals, vars->kernelver ? vars->kernelver : "");
	dkms_bash_result_free(&res, D_COUNT);
	if (r) {
		dkms_conf_free(c);
		return r;
	}
	*out = c;
	return 0;
}

int dkms_conf_from_records(struct dkms_ctx *ctx, const char *path, const char *buf, size_t len,
			   const char *kver, struct dkms_conf **out)
{
	struct bash_result res = { 0 };
	struct dkms_conf *c;
	int r;

	*out = NULL;
	res.vals = calloc(D_COUNT, sizeof(*res.vals));
	c = calloc(1, sizeof(*c));
	if (!res.vals || !c)
		abort();
	c->path = dkms_strdup(path);
	dkms_bash_records_parse(buf, len, dkms_conf_directive_names, D_COUNT, &res);
	if (res.ended)
		r = dkms_conf_from_values(ctx, c, res.vals, kver);
	else
		r = dkms_conf_err(ctx, path, "the records end before @end");
	dkms_bash_result_free(&res, D_COUNT);
	if (r) {
		dkms_conf_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void dkms_conf_free(struct dkms_conf *conf)
{
	if (!conf)
		return;
	for (size_t i = 0; i < conf->n_mods; i++) {
		free(conf->mods[i].built_name);
		free(conf->mods[i].built_location);
		free(conf->mods[i].dest_name);
		free(conf->mods[i].dest_location);
	}
	free(conf->mods);
	dkms_strv_free(conf->patches, conf->n_patches);
	dkms_strv_free(conf->build_depends, conf->n_build_depends);
	free(conf->path);
	free(conf->name);
	free(conf->version);
	free(conf->make);
	free(conf->pre_build);
	free(conf->post_build);
	free(conf->pre_install);
	free(conf->post_install);
	free(conf->post_add);
	free(conf->post_remove);
	free(conf->clean);
	free(conf->excl_kernel);
	free(conf->excl_kernel_min);
	free(conf->excl_kernel_max);
	free(conf->excl_arch);
	free(conf->excl_config);
	free(conf->obsolete_by);
	free(conf);
}

/* ---- the per-context cache ---- */

enum { KEY_M, KEY_V, KEY_KVER, KEY_ARCH, KEY_TREE, KEY_PATH, KEY_COUNT };

struct conf_cache_entry {
	char *key[KEY_COUNT];
	struct dkms_conf *conf; /* NULL: the conf is bad, err says why */
	char *err;
};

struct dkms_conf_cache {
	struct conf_cache_entry *e;
	size_t n;
};

static bool key_eq(char *const *a, const char *const *b)
{
	for (int i = 0; i < KEY_COUNT; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

int dkms_conf_for(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kernel *k,
		  const char *job_tree, const struct dkms_conf **out)
{
	struct dkms_conf_cache *cache;
	struct conf_cache_entry *e;
	struct dkms_conf *conf = NULL;
	char *path = dkms_tree_conf_path(ctx, m, v);
	const char *tree = job_tree ? job_tree : ctx->dkms_tree;
	const char *key[KEY_COUNT] = { m, v, k->version, k->arch ? k->arch : "", tree ? tree : "", path };
	int r;

	*out = NULL;
	if (!ctx->conf_cache) {
		ctx->conf_cache = calloc(1, sizeof(*ctx->conf_cache));
		if (!ctx->conf_cache)
			abort();
	}
	cache = ctx->conf_cache;
	for (size_t i = 0; i < cache->n; i++) {
		e = &cache->e[i];
		if (!key_eq(e->key, key))
			continue;
		free(path);
		if (!e->conf)
			return dkms_err_set(ctx, DKMS_E_CONF, "%s", e->err);
		*out = e->conf;
		return 0;
	}
	struct dkms_conf_vars vars = {
		.kernelver = k->version,
		.arch = k->arch,
		.kernel_source_dir = k->source_dir,
		.kernel_config = k->config_path,
		.dkms_tree = tree,
		.module = m,
		.module_version = v,
	};

	r = dkms_conf_load(ctx, path, &vars, &conf);
	if (r && r != DKMS_E_CONF) {
		free(path); /* a missing file may appear later: not cached */
		return r;
	}
	e = realloc(cache->e, (cache->n + 1) * sizeof(*cache->e));
	if (!e)
		abort();
	cache->e = e;
	e = &cache->e[cache->n++];
	for (int i = 0; i < KEY_COUNT; i++)
		e->key[i] = dkms_strdup(key[i]);
	free(path);
	e->conf = conf;
	e->err = r ? dkms_strdup(ctx->err) : NULL;
	*out = conf;
	return r;
}

void dkms_conf_cache_free(struct dkms_ctx *ctx)
{
	struct dkms_conf_cache *cache = ctx->conf_cache;

	if (!cache)
		return;
	for (size_t i = 0; i < cache->n; i++) {
		for (int j = 0; j < KEY_COUNT; j++)
			free(cache->e[i].key[j]);
		dkms_conf_free(cache->e[i].conf);
		free(cache->e[i].err);
	}
	free(cache->e);
	free(cache);
	ctx->conf_cache = NULL;
}
