/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One build in progress; shared by build.c and stage.c. */
#ifndef DKMS_BUILD_H
#define DKMS_BUILD_H

#include "internal.h"

#include <time.h>

struct build {
	struct dkms_ctx *ctx;
	const char *m, *v;
	const struct dkms_kernel *k;
	const struct dkms_conf *conf;
	char *src;	/* real path of <dkms_tree>/<m>/<v>/source */
	char *job_tree; /* <dkms_tree>/.build/<kver>/<arch> */
	char *jmv;	/* <job_tree>/<m>/<v> */
	char *dir;	/* <jmv>/build */
	char *log;	/* <dir>/make.log */
	int log_fd;
	char *kdir;		 /* <dkms_tree>/<m>/<v>/<kver>/<arch> */
	char *stage;		 /* <dkms_tree>/<m>/<v>/<kver>/.<arch>.tmp-<pid> */
	struct timespec started; /* CLOCK_MONOTONIC, for log/duration */
};

/* ---- build.c ---- */
/* <dir>/<BUILT_MODULE_LOCATION><BUILT_MODULE_NAME>.ko */
char *dkms_build_module_path(struct build *b, const struct dkms_modfile *mf);

/* ---- stage.c ---- */
/* Strip, sign and compress the modules into b->stage, with the logs; POST_BUILD runs after. */
int dkms_stage_fill(struct build *b);
/* Rename the stage over <kver>/<arch>; an older entry is moved aside, then deleted. */
int dkms_stage_commit(struct build *b);

#endif
