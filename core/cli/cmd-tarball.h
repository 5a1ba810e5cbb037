/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dkms mktarball, ldtarball (and add of an archive). */
#ifndef DKMS_CLI_CMD_TARBALL_H
#define DKMS_CLI_CMD_TARBALL_H

#include "args.h"

int cmd_mktarball(struct dkms_ctx *ctx, struct args *a, const struct dkms_kref *k, size_t nk);
/* The archive: --archive, or the positional argument. */
int cmd_ldtarball(struct dkms_ctx *ctx, struct args *a);
/* A positional argument that names an archive, as dkms takes it: an existing
 * file that is not a dkms.conf. */
bool cmd_tarball_is_archive(const char *arg);

#endif
