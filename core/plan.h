/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The plan: jobs in an order that respects BUILD_DEPENDS; shared by plan.c and run.c. */
#ifndef DKMS_PLAN_H
#define DKMS_PLAN_H

#include "internal.h"

struct dkms_job {
	enum dkms_action action;
	char *module, *version;
	char *kver, *arch; /* NULL for a REMOVE that only forgets the version */
	size_t *deps;	   /* jobs (indices) that must be done first */
	size_t n_deps;
	struct dkms_job_report rep;
	char *message, *log_path; /* owned storage behind rep */
};

struct dkms_plan {
	struct dkms_job *jobs;
	size_t n_jobs;
	bool autoinstall;     /* failures make the run return DKMS_E_AUTOINSTALL */
	bool explicit_build;  /* `dkms build`: an already built module is skipped with a note */
	struct dkms_ctx *ctx; /* whose writer lock the plan holds, or NULL */
};

struct dkms_report {
	struct dkms_plan *plan; /* borrowed */
	size_t n_failed;
};

/* Kernels opened during a run, each with a flag for depmod (job.c). */
struct kernel_set {
	struct dkms_kernel **k;
	bool *touched;
	size_t n;
};
int dkms_kernels_get(struct dkms_ctx *ctx, struct kernel_set *ks, const char *kver, const char *arch,
		     struct dkms_kernel **out, size_t *idx);
void dkms_kernels_free(struct kernel_set *ks);

/* The steps of one job that run in the planning process (job.c). k is NULL for a job without kernel.
 * begin does everything that needs no build and says whether a build is needed; after_build installs. */
int dkms_job_begin(struct dkms_ctx *ctx, struct dkms_plan *plan, struct dkms_job *j, struct dkms_kernel *k,
		   bool *touched, bool *needs_build, bool *skipped);
int dkms_job_after_build(struct dkms_ctx *ctx, struct dkms_job *j, struct dkms_kernel *k, bool *touched);
void dkms_job_finish(struct dkms_ctx *ctx, struct dkms_job *j, enum dkms_job_result res, int code,
		     const char *msg);

/* Append a job; returns its index. */
size_t dkms_plan_add_job(struct dkms_plan *plan, enum dkms_action action, const char *m, const char *v,
			 const char *kver, const char *arch);
void dkms_plan_add_dep(struct dkms_plan *plan, size_t job, size_t dep);
const char *dkms_action_name(enum dkms_action a);

#endif
