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
	bool autoinstall;    /* failures make the run return DKMS_E_AUTOINSTALL */
	bool explicit_build; /* `dkms build`: an already built module is skipped with a note */
};

struct dkms_report {
	struct dkms_plan *plan; /* borrowed */
	size_t n_failed;
};

/* Append a job; returns its index. */
size_t dkms_plan_add_job(struct dkms_plan *plan, enum dkms_action action, const char *m, const char *v,
			 const char *kver, const char *arch);
void dkms_plan_add_dep(struct dkms_plan *plan, size_t job, size_t dep);
const char *dkms_action_name(enum dkms_action a);

#endif
