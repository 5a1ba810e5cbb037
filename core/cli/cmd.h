/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The commands of the dkms command line that live outside dkms.c. */
#ifndef DKMS_CLI_CMD_H
#define DKMS_CLI_CMD_H

#include "args.h"

/* dkms.c: run a plan, or print it with --dry-run; report the failed jobs; frees the plan. */
int run_plan(struct dkms_ctx *ctx, struct dkms_plan *plan, bool dry_run);
/* cmd-pkg.c: mkdeb, mkrpm, mkbmdeb, mkbmrpm. */
int cmd_pkg(struct dkms_ctx *ctx, struct args *a, const struct dkms_kref *k, size_t nk);

#endif
