/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Running a plan for dkms-dpkg-trigger: the trigger, the kernel hooks and
 * common.postinst all end here. Failed jobs are counted and named for the
 * summary; kernels that got a module have their initramfs updated at the end.
 */
#include "plan.h" /* dkms_plan_add_job: a trigger's plan without the installs it would only repeat */
#include "handler.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- running a plan ---- */

/* After a kernel's modules went: the directories DKMS made, and the kernel's own when empty. */
static void kernel_dirs_remove(struct dkms_ctx *ctx, const char *kver)
{
	static const char *const sub[] = { "updates/dkms", "updates", "extra", "" };

	for (size_t i = 0; i < DKMS_ARRAY_SIZE(sub); i++) {
		char *p = dkms_asprintf("%s/%s/%s", dkms_ctx_install_tree(ctx), kver, sub[i]);

		rmdir(p);
		free(p);
	}
}

/* A build that failed before for this kernel (its make.log kept, no module): not retried by a trigger. */
static bool failed_before(struct dkms_ctx *ctx, const struct dkms_job *j)
{
	char *kdir = dkms_tree_kdir(ctx, j->module, j->version, j->kver, j->arch);
	char *log = dkms_path_join(kdir, "log/make.log"), *mod = dkms_path_join(kdir, "module");
	bool r = dkms_is_file(log) && !dkms_is_dir(mod);

	free(kdir);
	free(log);
	free(mod);
	return r;
}

/* BUILD_EXCLUSIVE rules the kernel out (the conf is cached from planning). */
static bool excluded(struct dkms_ctx *ctx, const struct dkms_job *j)
{
	struct dkms_kernel *k;
	const struct dkms_conf *conf;
	bool r = false;

	if (dkms_kernel_open(ctx, j->kver, j->arch, &k))
		return false;
	if (!dkms_conf_for(ctx, j->module, j->version, k, NULL, &conf))
		r = dkms_conf_check_exclusive(ctx, conf, k->version, k->arch, k->config_path) ==
		    DKMS_E_EXCLUDED;
	dkms_kernel_free(k);
	return r;
}

/* The plan without the installs a trigger would only repeat: those that failed before (said once)
 * and those BUILD_EXCLUSIVE skips; kernels in retry (named by a hook) keep them all. */
static struct dkms_plan *plan_drop_known(struct dkms_ctx *ctx, struct dkms_plan *plan, char *const *retry,
					 size_t n_retry)
{
	struct dkms_plan *out = calloc(1, sizeof(*out));
	size_t *map = calloc(plan->n_jobs + 1, sizeof(*map)), n_dropped = 0;

	if (!out || !map)
		abort();
	out->autoinstall = plan->autoinstall;
	for (size_t i = 0; i < plan->n_jobs; i++) {
		const struct dkms_job *j = &plan->jobs[i];

		bool known = j->action == DKMS_ACTION_INSTALL && j->kver &&
			     !dkms_strv_contains(retry, n_retry, j->kver);

		map[i] = SIZE_MAX;
		if (known && excluded(ctx, j))
			continue;
		if (known && failed_before(ctx, j)) {
			printf("%s %s/%s for %s",
			       n_dropped++ ? ","
					   : "dkms: failed before, not retried here "
					     "(`dkms autoinstall -k KVER` retries):",
			       j->module, j->version, j->kver);
			continue;
		}
		map[i] = dkms_plan_add_job(out, j->action, j->module, j->version, j->kver, j->arch);
		for (size_t d = 0; d < j->n_deps; d++)
			if (map[j->deps[d]] != SIZE_MAX)
				dkms_plan_add_dep(out, map[i], map[j->deps[d]]);
	}
	if (n_dropped)
		printf("\n");
	free(map);
	dkms_plan_free(plan);
	return out;
}

void plan_run(struct handler *h, struct dkms_plan *plan)
{
	struct dkms_report *rep = NULL;
	char **kvers = NULL;
	size_t n_kvers = 0;

	for (size_t i = 0; i < plan->n_jobs; i++)
		if (plan->jobs[i].kver)
			dkms_strv_push_unique(&kvers, &n_kvers, plan->jobs[i].kver);
	if (plan->n_jobs) {
		printf("dkms: one plan, %zu job(s), for kernel(s)", plan->n_jobs);
		for (size_t i = 0; i < n_kvers; i++)
			printf("%s %s", i ? "," : "", kvers[i]);
		printf(":\n");
		dkms_plan_print(plan, stdout);
		fflush(stdout);
		dkms_plan_run(h->ctx, plan, &rep);
	}
	for (size_t i = 0; rep && i < dkms_report_n_jobs(rep); i++) {
		const struct dkms_job_report *j = dkms_report_job(rep, i);

		if (j->result == DKMS_JOB_DONE && j->action == DKMS_ACTION_INSTALL && j->kver)
			dkms_strv_push_unique(&h->initramfs, &h->n_initramfs, j->kver);
		if (j->result == DKMS_JOB_FAILED) {
			/* the core logged why; the summary names the log */
			char *line = dkms_asprintf("%s/%s for %s: %s", j->module, j->version,
						   j->kver ? j->kver : "-",
						   j->log_path	? j->log_path
						   : j->message ? j->message
								: "failed");

			dkms_strv_push(&h->failures, &h->n_failures, line);
			free(line);
			h->failed++;
		}
	}
	dkms_report_free(rep);
	dkms_plan_free(plan);
	dkms_strv_free(kvers, n_kvers);
}

void event_run(struct handler *h, char *const *added, size_t n_added, char *const *removed, size_t n_removed,
	       char *const *retry, size_t n_retry)
{
	struct dkms_kref *k = calloc(n_added + n_removed + 1, sizeof(*k));
	struct dkms_event ev = { .kernels_added = k,
				 .n_kernels_added = n_added,
				 .kernels_removed = k + n_added,
				 .n_kernels_removed = n_removed };
	struct dkms_plan *plan;

	if (!k)
		abort();
	for (size_t i = 0; i < n_added; i++)
		k[i].version = added[i];
	for (size_t i = 0; i < n_removed; i++)
		k[n_added + i].version = removed[i];
	if (dkms_plan_for_event(h->ctx, &ev, &plan)) {
		dkms_log(h->ctx, DKMS_LOG_ERR, "%s", dkms_ctx_error(h->ctx));
		h->failed++;
	} else {
		plan_run(h, plan_drop_known(h->ctx, plan, retry, n_retry));
	}
	for (size_t i = 0; i < n_removed; i++)
		kernel_dirs_remove(h->ctx, removed[i]);
	free(k);
}

/* ---- the initramfs of kernels that got modules ---- */

static bool newest_initrd(const char *kver)
{
	char **names = NULL;
	size_t n = 0;
	bool newest = true;

	if (dkms_list_dir("/boot", &names, &n) < 0)
		return true;
	for (size_t i = 0; i < n && newest; i++)
		if (!strncmp(names[i], "initrd.img-", 11) && dkms_vercmp(names[i] + 11, kver) > 0)
			newest = false;
	dkms_strv_free(names, n);
	return newest;
}

void initramfs_update(struct handler *h)
{
	for (size_t i = 0; i < h->n_initramfs; i++) {
		const char *kver = h->initramfs[i];
		char *initrd = dkms_asprintf("/boot/initrd.img-%s", kver);
		const char *trig[] = { "dpkg-trigger", "--no-await", "update-initramfs", NULL };
		const char *upd[] = { "update-initramfs", "-u", "-k", kver, NULL };
		int r = -1;

		if (!dkms_is_file(initrd)) {
			free(initrd);
			continue;
		}
		/* initramfs-tools' trigger runs update-initramfs -u: the newest kernel only */
		if (h->in_dpkg && newest_initrd(kver))
			r = dkms_run(&(struct dkms_cmd){ .argv = trig, .log_fd = STDOUT_FILENO });
		if (!r)
			printf("dkms: %s gets the new modules: update-initramfs trigger activated\n", initrd);
		else if ((r = dkms_run(&(struct dkms_cmd){ .argv = upd, .log_fd = STDOUT_FILENO })) != 0)
			dkms_log(h->ctx, DKMS_LOG_WARN,
				 "update-initramfs -u -k %s %s; %s may lack the new modules until it is "
				 "updated",
				 kver, r == 127 ? "is not available" : "failed", initrd);
		free(initrd);
	}
	fflush(stdout);
}
