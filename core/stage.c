/* SPDX-License-Identifier: GPL-2.0-or-later */
/* After make: modules stripped, signed, compressed into a stage that is renamed into the registry. */
#include "build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int build_fsync_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Strip, sign and compress one module into <stage>/module. */
static int build_stage_module(struct build *b, const struct dkms_modfile *mf, bool sign)
{
	const char *suffix = dkms_compress_suffix(b->k->compress);
	char *src = dkms_build_module_path(b, mf);
	char *tmp = dkms_asprintf("%s/module/.%s.ko.tmp", b->stage, mf->dest_name);
	char *dst = dkms_asprintf("%s/module/%s.ko%s", b->stage, mf->dest_name, suffix);
	int r;

	if (dkms_exists(dst)) {
		r = dkms_err_set(b->ctx, DKMS_E_CONF,
				 "%s/%s: two modules are installed as %s.ko in %s; give each "
				 "its own DEST_MODULE_NAME",
				 b->m, b->v, mf->dest_name, b->conf->path);
		goto out;
	}
	r = dkms_copy_file(src, tmp, 0644);
	if (r < 0) {
		r = dkms_err_set(b->ctx, DKMS_E_FAIL, "%s/%s: cannot copy %s to %s: %s", b->m, b->v, src, tmp,
				 strerror(-r));
		goto out;
	}
	if (mf->strip) {
		const char *argv[] = { "strip", "-g", tmp, NULL };
		struct dkms_cmd cmd = { .argv = argv, .cwd = NULL, .env = NULL, .log_fd = b->log_fd };
		int st = dkms_run(&cmd);

		if (st)
			dkms_log(b->ctx, DKMS_LOG_WARN,
				 "%s/%s: strip -g %s.ko failed (status %d): left unstripped", b->m, b->v,
				 mf->built_name, st);
	}
	if (sign)
		dkms_sign_module(b->ctx, b->k, tmp); /* warns on failure */
	if (b->k->compress == DKMS_COMPRESS_NONE) {
		r = build_fsync_file(tmp);
		if (!r && rename(tmp, dst) < 0)
			r = -errno;
	} else {
		r = dkms_compress_file(b->k->compress, tmp, dst);
		unlink(tmp);
	}
	if (r < 0)
		r = dkms_err_set(b->ctx, DKMS_E_FAIL, "%s/%s: cannot write %s: %s", b->m, b->v, dst,
				 strerror(-r));
out:
	if (r)
		unlink(tmp);
	free(src);
	free(tmp);
	free(dst);
	return r;
}

/* Stages and set-aside entries an interrupted build of this (kver, arch) left behind. */
static void build_clean_stale(struct build *b)
{
	char *parent = dkms_strdup(b->stage), *tmp = dkms_asprintf(".%s.tmp-", b->k->arch);
	char *old = dkms_asprintf(".%s.old-", b->k->arch);
	char **names = NULL;
	size_t n = 0;

	*strrchr(parent, '/') = '\0';
	if (dkms_list_dir(parent, &names, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (strncmp(names[i], tmp, strlen(tmp)) == 0 ||
			    strncmp(names[i], old, strlen(old)) == 0) {
				char *p = dkms_path_join(parent, names[i]);

				dkms_log(b->ctx, DKMS_LOG_DEBUG, "removing %s, left by an interrupted build",
					 p);
				dkms_rm_rf(p);
				free(p);
			}
		}
	}
	dkms_strv_free(names, n);
	free(parent);
	free(tmp);
	free(old);
}

int dkms_stage_fill(struct build *b)
{
	char *mod = dkms_path_join(b->stage, "module"), *logdir = dkms_path_join(b->stage, "log");
	bool sign = false;
	int r;

	build_clean_stale(b);
	r = dkms_mkdir_p(mod, 0755);
	if (!r)
		r = dkms_mkdir_p(logdir, 0755);
	if (r < 0) {
		r = dkms_err_set(b->ctx, DKMS_E_FAIL, "%s/%s: cannot create %s: %s", b->m, b->v, b->stage,
				 strerror(-r));
		goto out;
	}
	if (b->k->sig_hash) {
		sign = dkms_sign_ensure_mok(b->ctx) == 0;
		if (!sign)
			dkms_log(b->ctx, DKMS_LOG_WARN, "%s; %s/%s stays unsigned", dkms_ctx_error(b->ctx),
				 b->m, b->v);
	}
	for (size_t i = 0; i < b->conf->n_mods && !r; i++)
		r = build_stage_module(b, &b->conf->mods[i], sign);
	if (r)
		goto out;
	/* dkms runs POST_BUILD once the modules are saved; what it does to them is not kept */
	r = dkms_script_run(b->ctx, "POST_BUILD", b->dir, b->conf->post_build, b->log_fd);
	if (r)
		dkms_log(b->ctx, DKMS_LOG_WARN,
			 "%s/%s: the POST_BUILD script %s returned %d (ignored, see make.log)", b->m, b->v,
			 b->conf->post_build, r);
	r = 0;
	if (b->k->config_path && dkms_is_file(b->k->config_path)) {
		const char *base = strrchr(b->k->config_path, '/');
		char *dst = dkms_path_join(logdir, base ? base + 1 : b->k->config_path);

		dkms_copy_file(b->k->config_path, dst, 0644); /* a copy for reference, like dkms */
		free(dst);
	}
	{
		/* how long this build took: the next plan starts the longest builds first (estimate.c) */
		struct timespec now;
		char *dst = dkms_path_join(logdir, "duration"), text[32];
		int len;

		clock_gettime(CLOCK_MONOTONIC, &now);
		len = snprintf(text, sizeof(text), "%.1f\n",
			       (double)(now.tv_sec - b->started.tv_sec) +
				       (double)(now.tv_nsec - b->started.tv_nsec) / 1e9);
		dkms_write_file_atomic(dst, text, (size_t)len, 0644);
		free(dst);
	}
	{
		char *dst = dkms_path_join(logdir, "make.log");

		r = dkms_copy_file(b->log, dst, 0644);
		if (r < 0)
			r = dkms_err_set(b->ctx, DKMS_E_FAIL, "%s/%s: cannot write %s: %s", b->m, b->v, dst,
					 strerror(-r));
		free(dst);
	}
	if (!r) {
		dkms_fsync_dir(mod);
		dkms_fsync_dir(logdir);
		dkms_fsync_dir(b->stage);
	}
out:
	free(mod);
	free(logdir);
	return r;
}

/* Rename the stage over <kver>/<arch>; an older entry is moved aside, then deleted. */
int dkms_stage_commit(struct build *b)
{
	char *parent = dkms_strdup(b->kdir), *old = NULL;
	int r = 0;

	*strrchr(parent, '/') = '\0';
	/* one atomic swap: no moment without the entry (an installed link to it must never dangle) */
	if (dkms_exists(b->kdir) && renameat2(AT_FDCWD, b->stage, AT_FDCWD, b->kdir, RENAME_EXCHANGE) == 0) {
		dkms_fsync_dir(parent);
		dkms_rm_rf(b->stage); /* now the older entry */
		free(parent);
		return 0;
	}
	if (dkms_exists(b->kdir)) {
		old = dkms_asprintf("%s/.%s.old-%ld", parent, b->k->arch, (long)getpid());
		dkms_rm_rf(old);
		if (rename(b->kdir, old) < 0)
			r = -errno;
	}
	if (!r && rename(b->stage, b->kdir) < 0) {
		r = -errno;
		if (old)
			rename(old, b->kdir);
	}
	if (r < 0) {
		r = dkms_err_set(b->ctx, DKMS_E_FAIL, "%s/%s: cannot move %s to %s: %s", b->m, b->v, b->stage,
				 b->kdir, strerror(-r));
	} else {
		dkms_fsync_dir(parent);
		if (old)
			dkms_rm_rf(old);
	}
	free(old);
	free(parent);
	return r;
}
