/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One build: (module, version, kernel, arch) compiled in its own directory,
 * <dkms_tree>/.build/<kver>/<arch>/<m>/<v>/build, a "job tree" that dkms.conf
 * sees as its dkms_tree. The modules are then stripped, signed and
 * compressed into a staging directory renamed into <m>/<v>/<kver>/<arch>, so
 * the registry shows a build complete or not at all (stage.c).
 */
#include "build.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- preparing the build directory ---- */

/* mkdir -p that survives a concurrent job removing the shared parents. */
static int build_mkdir_job(const char *path)
{
	int r = 0;

	for (int tries = 0; tries < 8; tries++) {
		r = dkms_mkdir_p(path, 0755);
		if (r != -ENOENT)
			break;
	}
	return r;
}

/* Remove <jmv> (the source link) and the empty parents up to .build. */
static void build_prune_job_tree(struct build *b)
{
	char *build_root = dkms_path_join(b->ctx->dkms_tree, ".build");
	char *p = dkms_path_join(b->jmv, "source");

	unlink(p);
	free(p);
	p = dkms_strdup(b->jmv);
	while (strlen(p) > strlen(build_root) && rmdir(p) == 0) {
		char *slash = strrchr(p, '/');

		if (!slash)
			break;
		*slash = '\0';
	}
	if (strcmp(p, build_root) == 0)
		rmdir(p);
	free(p);
	free(build_root);
}

static int build_prepare_dir(struct build *b)
{
	struct dkms_ctx *ctx = b->ctx;
	char *link, *what;
	int r;

	r = build_mkdir_job(b->jmv);
	if (r < 0)
		return dkms_err_set(ctx, DKMS_E_FAIL, "%s/%s: cannot create build directory %s: %s", b->m,
				    b->v, b->jmv, strerror(-r));
	r = dkms_rm_rf(b->dir);
	if (r < 0)
		return dkms_err_set(ctx, DKMS_E_FAIL, "%s/%s: cannot remove the old build directory %s: %s",
				    b->m, b->v, b->dir, strerror(-r));
	link = dkms_path_join(b->jmv, "source");
	r = dkms_symlink_atomic(b->src, link);
	if (r < 0)
		r = dkms_err_set(ctx, DKMS_E_FAIL, "%s/%s: cannot create %s: %s", b->m, b->v, link,
				 strerror(-r));
	free(link);
	if (r)
		return r;
	r = dkms_copy_tree(b->src, b->dir);
	if (r < 0)
		return dkms_err_set(ctx, DKMS_E_FAIL, "%s/%s: cannot copy %s to %s: %s; check free space",
				    b->m, b->v, b->src, b->dir, strerror(-r));
	what = dkms_asprintf("%s/%s", b->m, b->v);
	r = dkms_srctree_prune_links(ctx, what, b->dir, b->src);
	free(what);
	return r;
}

static int build_open_log(struct build *b)
{
	char date[128];
	time_t now = time(NULL);
	struct tm tm;

	b->log_fd = open(b->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (b->log_fd < 0)
		return dkms_err_set(b->ctx, DKMS_E_FAIL, "%s/%s: cannot create %s: %s", b->m, b->v, b->log,
				    strerror(errno));
	if (!localtime_r(&now, &tm) || !strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Z %Y", &tm))
		date[0] = '\0';
	dprintf(b->log_fd, "DKMS make.log for %s-%s for kernel %s (%s)\n%s\n", b->m, b->v, b->k->version,
		b->k->arch, date);
	return 0;
}

/* ---- compiling ---- */

static int build_patch(struct build *b)
{
	for (size_t i = 0; i < b->conf->n_patches; i++) {
		const char *p = b->conf->patches[i];
		char *path = dkms_asprintf("%s/patches/%s", b->dir, p);
		int st = 0;

		if (!dkms_valid_relpath(p) || !dkms_is_file(path)) {
			st = dkms_err_set(b->ctx, DKMS_E_KERNEL,
					  "%s/%s: patch %s named in %s cannot be found in %s/patches/", b->m,
					  b->v, p, b->conf->path, b->dir);
		} else {
			const char *argv[] = { "patch", "-p1", "-i", path, NULL };
			struct dkms_cmd cmd = {
				.argv = argv, .cwd = b->dir, .env = NULL, .log_fd = b->log_fd
			};

			dprintf(b->log_fd, "applying patch %s\n", p);
			dkms_log(b->ctx, DKMS_LOG_INFO, "%s/%s: applying patch %s", b->m, b->v, p);
			if (dkms_run(&cmd) != 0)
				st = dkms_err_set(b->ctx, DKMS_E_KERNEL,
						  "%s/%s: patch %s does not apply for kernel %s", b->m, b->v,
						  p, b->k->version);
		}
		free(path);
		if (st)
			return st;
	}
	return 0;
}

static bool build_in_path(const char *prog)
{
	const char *path = getenv("PATH");

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *s = path;; s++) {
		size_t len = strcspn(s, ":");
		char *p = dkms_asprintf("%.*s/%s", len ? (int)len : 1, len ? s : ".", prog);
		bool ok = dkms_is_file(p) && access(p, X_OK) == 0;

		free(p);
		if (ok)
			return true;
		s += len;
		if (!*s)
			return false;
	}
}

/* CC: the compiler that built the kernel (first word of CONFIG_CC_VERSION_TEXT), when it is here. */
static char *build_find_cc(const struct dkms_kernel *k)
{
	char *text = dkms_kernel_config_get(k, "CONFIG_CC_VERSION_TEXT");
	char *sp = text ? strchr(text, ' ') : NULL;
	char *env = NULL;

	if (sp && sp != text) {
		*sp = '\0';
		if (build_in_path(text))
			env = dkms_asprintf("CC=%s", text);
	}
	free(text);
	return env;
}

/* A word for bash: as is when safe, else single-quoted. */
static char *build_quote(const char *s)
{
	static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._+-=,:@%";
	size_t n = 0;
	char *q, *o;

	if (*s && strspn(s, safe) == strlen(s))
		return dkms_strdup(s);
	for (const char *c = s; *c; c++)
		n += *c == '\'' ? 4 : 1;
	q = o = malloc(n + 3);
	if (!q)
		abort();
	*o++ = '\'';
	for (const char *c = s; *c; c++) {
		if (*c == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else {
			*o++ = *c;
		}
	}
	*o++ = '\'';
	*o = '\0';
	return q;
}

static bool build_config_is(const struct dkms_kernel *k, const char *option)
{
	char *v = dkms_kernel_config_get(k, option);
	bool r = v && strcmp(v, "y") == 0;

	free(v);
	return r;
}

/* MAKE, or the default; a leading "make" gets -jN and KERNELRELEASE like dkms does. */
static char *build_make_command(struct build *b)
{
	const char *mf = getenv("MAKEFLAGS");
	char *cmd, *kver = build_quote(b->k->version), *out;

	if (b->conf->make && *b->conf->make) {
		cmd = dkms_strdup(b->conf->make);
	} else {
		char *ksrc = build_quote(b->k->source_dir), *dir = build_quote(b->dir);

		cmd = dkms_asprintf("make -C %s M=%s", ksrc, dir);
		free(ksrc);
		free(dir);
	}
	if (build_config_is(b->k, "CONFIG_CC_IS_CLANG")) {
		out = dkms_asprintf("%s CC=clang", cmd);
		free(cmd);
		cmd = out;
	}
	if (build_config_is(b->k, "CONFIG_LD_IS_LLD")) {
		out = dkms_asprintf("%s LD=ld.lld", cmd);
		free(cmd);
		cmd = out;
	}
	if (strncmp(cmd, "make", 4) == 0 && (cmd[4] == '\0' || isspace((unsigned char)cmd[4]))) {
		/* Under a shared jobserver (MAKEFLAGS from a parent make), -j would leave it. */
		if (mf && (strstr(mf, "--jobserver-auth") || strstr(mf, "--jobserver-fds")))
			out = dkms_asprintf("make KERNELRELEASE=%s%s", kver, cmd + 4);
		else
			out = dkms_asprintf("make -j%d KERNELRELEASE=%s%s", dkms_jobs(b->ctx), kver, cmd + 4);
		free(cmd);
		cmd = out;
	}
	free(kver);
	return cmd;
}

static int build_make(struct build *b)
{
	char *cc = build_find_cc(b->k);
	const char *env[] = { cc, NULL };
	char *cmd;
	int st;

	st = dkms_script_run(b->ctx, "PRE_BUILD", b->dir, b->conf->pre_build, b->log_fd);
	if (st)
		dkms_log(b->ctx, DKMS_LOG_WARN,
			 "%s/%s: the PRE_BUILD script %s returned %d (ignored, see %s)", b->m, b->v,
			 b->conf->pre_build, st, b->log);
	cmd = build_make_command(b);
	dkms_log(b->ctx, b->ctx->opts.verbose ? DKMS_LOG_INFO : DKMS_LOG_DEBUG, "%s/%s: %s%s%s (in %s)", b->m,
		 b->v, cc ? cc : "", cc ? " " : "", cmd, b->dir);
	st = dkms_run_shell(cmd, b->dir, cc ? env : NULL, b->log_fd);
	if (st < 0)
		dprintf(b->log_fd, "dkms: cannot run bash: %s\n", strerror(-st));
	free(cmd);
	free(cc);
	return st;
}

/* B/<location><name>.ko */
char *dkms_build_module_path(struct build *b, const struct dkms_modfile *mf)
{
	return dkms_asprintf("%s/%s%s.ko", b->dir, mf->built_location, mf->built_name);
}

static int build_check_modules(struct build *b)
{
	for (size_t i = 0; i < b->conf->n_mods; i++) {
		const struct dkms_modfile *mf = &b->conf->mods[i];
		char *p;
		bool ok;

		if ((*mf->built_location && !dkms_valid_relpath(mf->built_location)) ||
		    !dkms_valid_name(mf->built_name) || !dkms_valid_name(mf->dest_name))
			return dkms_err_set(b->ctx, DKMS_E_CONF,
					    "%s/%s: bad module name or location \"%s%s\" in %s", b->m, b->v,
					    mf->built_location, mf->built_name, b->conf->path);
		p = dkms_build_module_path(b, mf);
		ok = dkms_is_file(p);
		free(p);
		if (!ok)
			return DKMS_E_NOMODULE;
	}
	return 0;
}

/* ---- after a failure ---- */

/* After a failure: make.log to <kdir>/log/, or make.failed.log beside the log of a complete earlier
 * build, which stays as it was (the job tree it came from is cleaned by the next run). */
static char *build_keep_log(struct build *b)
{
	char *mod = dkms_path_join(b->kdir, "module"), *logdir = dkms_path_join(b->kdir, "log");
	char *dst = dkms_path_join(logdir, dkms_is_dir(mod) ? "make.failed.log" : "make.log");

	if (b->log_fd >= 0) {
		close(b->log_fd);
		b->log_fd = -1;
	}
	if (dkms_mkdir_p(logdir, 0755) < 0 || dkms_copy_file(b->log, dst, 0644) < 0) {
		free(dst);
		dst = dkms_strdup(b->log);
	}
	free(mod);
	free(logdir);
	return dst;
}

static int build_fail_message(struct build *b, int code, const char *log)
{
	struct dkms_ctx *ctx = b->ctx;

	switch (code) {
	case DKMS_E_MAKE:
		return dkms_err_set(ctx, code,
				    "%s/%s: bad return status for module build on kernel: %s (%s); "
				    "consult %s for more information",
				    b->m, b->v, b->k->version, b->k->arch, log);
	case DKMS_E_NOMODULE:
		for (size_t i = 0; i < b->conf->n_mods; i++) {
			char *p = dkms_build_module_path(b, &b->conf->mods[i]);
			bool ok = dkms_is_file(p);

			if (!ok)
				dkms_err_set(ctx, code,
					     "%s/%s: build of %s.ko failed for %s (%s): make did not produce "
					     "%s; check BUILT_MODULE_NAME and BUILT_MODULE_LOCATION in %s, "
					     "or consult %s",
					     b->m, b->v, b->conf->mods[i].built_name, b->k->version,
					     b->k->arch, p, b->conf->path, log);
			free(p);
			if (!ok)
				break;
		}
		return code;
	default: {
		char msg[sizeof(ctx->err)];

		snprintf(msg, sizeof(msg), "%s", ctx->err);
		return dkms_err_set(ctx, code, "%s (log: %s)", msg, log);
	}
	}
}

/* ---- the build ---- */

static int build_check_depends(struct build *b)
{
	for (size_t i = 0; i < b->conf->n_build_depends; i++) {
		const char *dep = b->conf->build_depends[i];
		char *iv = dkms_tree_installed_version(b->ctx, dep, b->k->version, b->k->arch);

		if (!iv)
			return dkms_err_set(b->ctx, DKMS_E_DEPENDS,
					    "%s/%s needs %s installed for kernel %s (%s) first "
					    "(BUILD_DEPENDS in %s); install %s, then build again",
					    b->m, b->v, dep, b->k->version, b->k->arch, b->conf->path, dep);
		free(iv);
	}
	return 0;
}

/* Everything that can refuse a build before anything is written. */
static int build_check(struct build *b)
{
	struct dkms_ctx *ctx = b->ctx;
	char *link = dkms_asprintf("%s/%s/%s/source", ctx->dkms_tree, b->m, b->v), *what;
	char **names = NULL;
	size_t n = 0;
	int r;

	b->src = realpath(link, NULL);
	if (!b->src || !dkms_is_dir(b->src)) {
		r = dkms_err_set(ctx, DKMS_E_USAGE,
				 "%s/%s: the source %s is missing; reinstall the package that "
				 "ships it, or run dkms remove %s/%s --all",
				 b->m, b->v, link, b->m, b->v);
		free(link);
		return r;
	}
	free(link);
	r = dkms_conf_for(ctx, b->m, b->v, b->k, b->job_tree, &b->conf);
	if (r)
		return r;
	r = dkms_conf_check_exclusive(ctx, b->conf, b->k->version, b->k->arch, b->k->config_path);
	if (r)
		return r;
	r = build_check_depends(b);
	if (r)
		return r;
	if (dkms_list_dir(b->src, &names, &n) < 0 || n < 2)
		r = dkms_err_set(ctx, DKMS_E_CONF,
				 "%s/%s: %s does not hold a module source (a binary-only "
				 "package?); build halted",
				 b->m, b->v, b->src);
	dkms_strv_free(names, n);
	if (r)
		return r;
	what = dkms_asprintf("%s/%s", b->m, b->v);
	r = dkms_srctree_check(ctx, what, b->src);
	free(what);
	return r;
}

static int build_run(struct build *b)
{
	int r, st;

	clock_gettime(CLOCK_MONOTONIC, &b->started);
	r = build_prepare_dir(b);
	if (r)
		return r;
	r = build_open_log(b);
	if (r)
		return r;
	r = build_patch(b);
	if (r)
		return r;
	st = build_make(b);
	if (st)
		return DKMS_E_MAKE;
	r = build_check_modules(b);
	if (r)
		return r;
	r = dkms_stage_fill(b);
	if (!r)
		r = dkms_stage_commit(b);
	if (r)
		dkms_rm_rf(b->stage);
	return r;
}

int dkms_build(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kernel *k,
	       char **log_path)
{
	struct build b = { .ctx = ctx, .m = m, .v = v, .k = k, .log_fd = -1 };
	int r;

	if (log_path)
		*log_path = NULL;
	if (!dkms_valid_name(m) || !dkms_valid_name(v) || !dkms_valid_name(k->version) ||
	    !dkms_valid_name(k->arch))
		return dkms_err_set(ctx, DKMS_E_USAGE,
				    "bad module, version, kernel or arch name: \"%s/%s\", %s (%s)", m, v,
				    k->version, k->arch);
	if (!dkms_kernel_has_headers(k))
		return dkms_err_set(ctx, DKMS_E_HEADERS,
				    "%s/%s: no kernel headers for %s (%s) at %s; install "
				    "linux-headers-%s, or point --kernelsourcedir at them",
				    m, v, k->version, k->arch,
				    k->source_dir ? k->source_dir : "/lib/modules/<kver>/build", k->version);

	b.job_tree = dkms_asprintf("%s/.build/%s/%s", ctx->dkms_tree, k->version, k->arch);
	b.jmv = dkms_asprintf("%s/%s/%s", b.job_tree, m, v);
	b.dir = dkms_path_join(b.jmv, "build");
	b.log = dkms_path_join(b.dir, "make.log");
	b.kdir = dkms_tree_kdir(ctx, m, v, k->version, k->arch);
	b.stage = dkms_asprintf("%s/%s/%s/%s/.%s.tmp-%ld", ctx->dkms_tree, m, v, k->version, k->arch,
				(long)getpid());

	r = build_check(&b);
	if (r == DKMS_E_EXCLUDED) {
		dkms_log(ctx, DKMS_LOG_INFO, "%s/%s: skipped for %s (%s): %s", m, v, k->version, k->arch,
			 dkms_ctx_error(ctx));
	} else if (!r) {
		dkms_log(ctx, DKMS_LOG_DEBUG, "building %s/%s for %s (%s) in %s", m, v, k->version, k->arch,
			 b.dir);
		r = build_run(&b);
		if (r && b.log_fd >= 0) {
			char *log = build_keep_log(&b);

			build_fail_message(&b, r, log);
			if (log_path)
				*log_path = log;
			else
				free(log);
		} else if (!r) {
			dkms_rm_rf(b.dir);
			build_prune_job_tree(&b);
			dkms_log(ctx, DKMS_LOG_DEBUG, "built %s/%s for %s (%s)", m, v, k->version, k->arch);
		}
	}
	if (b.log_fd >= 0)
		close(b.log_fd);
	free(b.src);
	free(b.job_tree);
	free(b.jmv);
	free(b.dir);
	free(b.log);
	free(b.kdir);
	free(b.stage);
	return r;
}
