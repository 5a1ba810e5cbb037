/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The context: path roots, settings from framework.conf, errors and logging. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#define DEFAULT_CONF_DIR "/etc/dkms"

/* framework.conf variables we take, in this order. */
enum {
	FW_DKMS_TREE,
	FW_SOURCE_TREE,
	FW_INSTALL_TREE,
	FW_SIGN_FILE,
	FW_MOK_KEY,
	FW_MOK_CERT,
	FW_PARALLEL_JOBS,
	FW_VERBOSE,
	FW_STRICT,
	FW_CONF_TIMEOUT,
	FW_COUNT,
};

static const char *const fw_names[FW_COUNT] = {
	[FW_DKMS_TREE] = "dkms_tree",
	[FW_SOURCE_TREE] = "source_tree",
	[FW_INSTALL_TREE] = "install_tree",
	[FW_SIGN_FILE] = "sign_file",
	[FW_MOK_KEY] = "mok_signing_key",
	[FW_MOK_CERT] = "mok_certificate",
	[FW_PARALLEL_JOBS] = "parallel_jobs",
	[FW_VERBOSE] = "verbose",
	[FW_STRICT] = "strict",
	[FW_CONF_TIMEOUT] = "conf_timeout",
};

int dkms_err_set(struct dkms_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
	va_end(ap);
	return code;
}

void dkms_log(struct dkms_ctx *ctx, enum dkms_log_prio prio, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	if (!ctx->log_fn)
		return;
	if (prio == DKMS_LOG_DEBUG && !ctx->opts.verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ctx->log_fn(ctx->log_data, prio, buf);
}

int dkms_jobs(const struct dkms_ctx *ctx)
{
	long n;

	if (ctx->opts.jobs > 0)
		return ctx->opts.jobs;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* A file worth a bash process: anything but blank lines and comments. */
static bool file_has_settings(const char *path)
{
	char *buf;
	bool any = false;

	if (dkms_read_file(path, &buf, NULL) < 0)
		return false;
	for (char *line = buf; line && *line && !any;) {
		char *nl = strchr(line, '\n');

		line += strspn(line, " \t\r");
		if (*line && *line != '#' && *line != '\n')
			any = true;
		line = nl ? nl + 1 : NULL;
	}
	free(buf);
	return any;
}

static int read_framework_conf(struct dkms_ctx *ctx, char **values)
{
	char *dotd = dkms_path_join(ctx->conf_dir, "framework.conf.d");
	char **files = NULL, **names = NULL;
	size_t n_files = 0, n_names = 0;
	bool any = false;
	int r = 0;

	dkms_strv_push(&files, &n_files, "");
	free(files[0]);
	files[0] = dkms_path_join(ctx->conf_dir, "framework.conf");
	if (dkms_list_dir(dotd, &names, &n_names) == 0) {
		for (size_t i = 0; i < n_names; i++) {
			size_t len = strlen(names[i]);

			if (len > 5 && !strcmp(names[i] + len - 5, ".conf")) {
				char *p = dkms_path_join(dotd, names[i]);

				dkms_strv_push(&files, &n_files, p);
				free(p);
			}
		}
	}
	for (size_t i = 0; i < n_files && !any; i++)
		any = file_has_settings(files[i]);
	if (any)
		r = dkms_bash_read_vars(ctx, (const char *const *)files, n_files, fw_names, FW_COUNT, values);
	dkms_strv_free(files, n_files);
	dkms_strv_free(names, n_names);
	free(dotd);
	return r;
}

/* The value of KEY= in an os-release text, unquoted, or NULL. */
static char *os_release_get(const char *text, const char *key)
{
	size_t klen = strlen(key);

	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (len > klen && !strncmp(line, key, klen) && line[klen] == '=') {
			const char *v = line + klen + 1;
			size_t vlen = len - klen - 1;

			if (vlen >= 2 && (v[0] == '"' || v[0] == '\'') && v[vlen - 1] == v[0]) {
				v++;
				vlen -= 2;
			}
			return dkms_asprintf("%.*s", (int)vlen, v);
		}
		line = nl ? nl + 1 : NULL;
	}
	return NULL;
}

/* DEST_MODULE_LOCATION as the distribution wants it (os-release ID, then ID_LIKE). */
static char *distro_dest(void)
{
	static const struct {
		const char *prefix, *dest;
	} map[] = {
		{ "debian", "/updates/dkms" }, { "ubuntu", "/updates/dkms" }, { "arch", "/updates/dkms" },
		{ "fedora", "/extra" },	       { "rhel", "/extra" },	      { "ovm", "/extra" },
		{ "sles", "/updates" },	       { "suse", "/updates" },	      { "opensuse", "/updates" },
	};
	static const char *const keys[] = { "ID", "ID_LIKE" };
	char *dest = NULL, *buf;

	if (strcmp(DISTRO_DEST, "auto"))
		return *DISTRO_DEST ? dkms_strdup(DISTRO_DEST) : NULL;
	if (dkms_read_file("/etc/os-release", &buf, NULL) < 0 &&
	    dkms_read_file("/usr/lib/os-release", &buf, NULL) < 0)
		return NULL;
	for (size_t k = 0; k < DKMS_ARRAY_SIZE(keys) && !dest; k++) {
		char *ids = os_release_get(buf, keys[k]), *save = NULL;

		for (char *tok = ids ? strtok_r(ids, " ", &save) : NULL; tok && !dest;
		     tok = strtok_r(NULL, " ", &save))
			for (size_t i = 0; i < DKMS_ARRAY_SIZE(map) && !dest; i++)
				if (!strncmp(tok, map[i].prefix, strlen(map[i].prefix)))
					dest = dkms_strdup(map[i].dest);
		free(ids);
	}
	free(buf);
	return dest;
}

static char *pick(const char *explicit_value, char *from_conf, const char *fallback)
{
	if (explicit_value && *explicit_value)
		return dkms_strdup(explicit_value);
	if (from_conf && *from_conf)
		return dkms_strdup(from_conf);
	return fallback ? dkms_strdup(fallback) : NULL;
}

int dkms_ctx_new(const struct dkms_paths *paths, struct dkms_ctx **out)
{
	struct dkms_paths none = { 0 };
	struct dkms_ctx *ctx = calloc(1, sizeof(*ctx));
	char *fw[FW_COUNT] = { 0 };
	struct utsname u;
	int r;

	if (!ctx)
		return DKMS_E_FAIL;
	ctx->lock_fd = -1;
	if (!paths)
		paths = &none;
	ctx->conf_dir = dkms_strdup(paths->conf_dir ? paths->conf_dir : DEFAULT_CONF_DIR);
	if (uname(&u) == 0) {
		ctx->machine_arch = dkms_strdup(u.machine);
		ctx->running_kernel = dkms_strdup(u.release);
	} else {
		ctx->machine_arch = dkms_strdup("unknown");
		ctx->running_kernel = dkms_strdup("unknown");
	}
	/* a broken framework.conf is reported but the defaults still apply */
	r = read_framework_conf(ctx, fw);
	ctx->dkms_tree = pick(paths->dkms_tree, fw[FW_DKMS_TREE], "/var/lib/dkms");
	ctx->source_tree = pick(paths->source_tree, fw[FW_SOURCE_TREE], "/usr/src");
	ctx->install_tree = pick(paths->install_tree, fw[FW_INSTALL_TREE], "/lib/modules");
	ctx->kernel_source_dir = pick(paths->kernel_source_dir, NULL, NULL);
	ctx->kernel_config = pick(paths->kernel_config, NULL, NULL);
	ctx->sign_file = pick(NULL, fw[FW_SIGN_FILE], NULL);
	ctx->mok_key = fw[FW_MOK_KEY] && *fw[FW_MOK_KEY] ? dkms_strdup(fw[FW_MOK_KEY])
							 : dkms_path_join(ctx->dkms_tree, "mok.key");
	ctx->mok_cert = fw[FW_MOK_CERT] && *fw[FW_MOK_CERT] ? dkms_strdup(fw[FW_MOK_CERT])
							    : dkms_path_join(ctx->dkms_tree, "mok.pub");
	if (fw[FW_PARALLEL_JOBS])
		ctx->opts.jobs = atoi(fw[FW_PARALLEL_JOBS]);
	if (fw[FW_CONF_TIMEOUT]) {
		char *end;
		unsigned long t = strtoul(fw[FW_CONF_TIMEOUT], &end, 10);

		if (!*end && t > 0 && t <= 3600)
			ctx->conf_timeout = (unsigned)t;
	}
	ctx->opts.verbose = fw[FW_VERBOSE] && *fw[FW_VERBOSE];
	ctx->opts.strict = fw[FW_STRICT] && *fw[FW_STRICT] && strcmp(fw[FW_STRICT], "no") &&
			   strcmp(fw[FW_STRICT], "0") && strcmp(fw[FW_STRICT], "false");
	ctx->dest_override = distro_dest();

	char *noauto = dkms_path_join(ctx->conf_dir, "no-autoinstall");

	ctx->no_autoinstall = dkms_exists(noauto);
	free(noauto);
	for (int i = 0; i < FW_COUNT; i++)
		free(fw[i]);
	*out = ctx;
	return r;
}

void dkms_ctx_free(struct dkms_ctx *ctx)
{
	if (!ctx)
		return;
	if (ctx->lock_fd >= 0)
		close(ctx->lock_fd);
	dkms_conf_cache_free(ctx);
	free(ctx->dkms_tree);
	free(ctx->source_tree);
	free(ctx->install_tree);
	free(ctx->kernel_source_dir);
	free(ctx->kernel_config);
	free(ctx->conf_dir);
	free(ctx->machine_arch);
	free(ctx->running_kernel);
	free(ctx->dest_override);
	free(ctx->sign_file);
	free(ctx->mok_key);
	free(ctx->mok_cert);
	free(ctx);
}

void dkms_ctx_set_log_fn(struct dkms_ctx *ctx, dkms_log_fn fn, void *data)
{
	ctx->log_fn = fn;
	ctx->log_data = data;
}

void dkms_ctx_set_progress_fn(struct dkms_ctx *ctx, dkms_progress_fn fn, void *data)
{
	ctx->progress_fn = fn;
	ctx->progress_data = data;
}

struct dkms_opts *dkms_ctx_opts(struct dkms_ctx *ctx)
{
	return &ctx->opts;
}

const char *dkms_ctx_error(const struct dkms_ctx *ctx)
{
	return ctx->err;
}

const char *dkms_ctx_dkms_tree(const struct dkms_ctx *ctx)
{
	return ctx->dkms_tree;
}

const char *dkms_ctx_source_tree(const struct dkms_ctx *ctx)
{
	return ctx->source_tree;
}

const char *dkms_ctx_install_tree(const struct dkms_ctx *ctx)
{
	return ctx->install_tree;
}

const char *dkms_ctx_mok_key(const struct dkms_ctx *ctx)
{
	return ctx->mok_key;
}

const char *dkms_ctx_mok_cert(const struct dkms_ctx *ctx)
{
	return ctx->mok_cert;
}
