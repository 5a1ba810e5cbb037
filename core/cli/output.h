/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the dkms command prints: log lines, the progress view, status lines. */
#ifndef DKMS_CLI_OUTPUT_H
#define DKMS_CLI_OUTPUT_H

#include "dkms.h"

/* Messages to the terminal (errors and warnings on stderr), and progress: a live line on a terminal,
 * a line per finished job otherwise (package-manager logs). */
void out_init(struct dkms_ctx *ctx, bool quiet);
void out_log(void *data, enum dkms_log_prio prio, const char *msg);
void out_finish(void);
/* Print `dkms status` lines, or a JSON array. */
int out_status(struct dkms_ctx *ctx, const struct dkms_status_filter *f, bool json);

#endif
