/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One writer at a time per dkms tree: an flock() on <dkms_tree>/.lock.
 *
 * The kernel drops an flock when the last descriptor of its open file goes
 * away, so a writer killed by any signal leaves no stale lock behind; the
 * file itself stays and only names the last holder. Readers (status) never
 * take it: every change they can see is made by a rename.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define LOCK_FILE ".lock"

/* The holder named in the lock file, "pid N (comm)", for the waiting message. */
static void lock_holder(int fd, char *buf, size_t size)
{
	char text[64] = "", comm[64] = "", *path;
	ssize_t len = pread(fd, text, sizeof(text) - 1, 0);
	long pid = len > 0 ? strtol(text, NULL, 10) : 0;
	FILE *f;

	snprintf(buf, size, "another dkms");
	if (pid <= 0)
		return;
	path = dkms_asprintf("/proc/%ld/comm", pid);
	f = fopen(path, "re");
	if (f && fgets(comm, sizeof(comm), f))
		comm[strcspn(comm, "\n")] = '\0';
	if (f)
		fclose(f);
	free(path);
	snprintf(buf, size, "pid %ld%s%s%s", pid, comm[0] ? " (" : "", comm, comm[0] ? ")" : "");
}

static int lock_open(struct dkms_ctx *ctx, char **path)
{
	int r = dkms_mkdir_p(ctx->dkms_tree, 0755), fd;

	*path = dkms_path_join(ctx->dkms_tree, LOCK_FILE);
	if (r < 0)
		return dkms_err_set(ctx, DKMS_E_FAIL, "cannot create the dkms tree %s: %s", ctx->dkms_tree,
				    strerror(-r));
	fd = open(*path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return dkms_err_set(ctx, DKMS_E_FAIL,
				    "cannot open the lock %s: %s; is %s writable (run as root)?", *path,
				    strerror(errno), ctx->dkms_tree);
	ctx->lock_fd = fd;
	return 0;
}

int dkms_lock_take(struct dkms_ctx *ctx)
{
	char *path = NULL, holder[128], pid[32];
	int r, len;

	if (ctx->lock_depth++)
		return 0;
	r = lock_open(ctx, &path);
	if (r)
		goto fail;
	if (flock(ctx->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK) {
			r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot lock %s: %s", path, strerror(errno));
			goto fail;
		}
		lock_holder(ctx->lock_fd, holder, sizeof(holder));
		dkms_log(ctx, DKMS_LOG_WARN, "waiting for %s, which holds %s", holder, path);
		while (flock(ctx->lock_fd, LOCK_EX) < 0) {
			if (errno == EINTR)
				continue;
			r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot lock %s: %s", path, strerror(errno));
			goto fail;
		}
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(ctx->lock_fd, 0) == 0 && pwrite(ctx->lock_fd, pid, (size_t)len, 0) != len)
		dkms_log(ctx, DKMS_LOG_DEBUG, "cannot write the pid into %s", path);
	free(path);
	/* an earlier writer that died half-way: finish or undo its work first */
	r = dkms_journal_recover(ctx);
	if (r)
		dkms_lock_drop(ctx);
	return r;
fail:
	free(path);
	if (ctx->lock_fd >= 0)
		close(ctx->lock_fd);
	ctx->lock_fd = -1;
	ctx->lock_depth = 0;
	return r;
}

void dkms_lock_drop(struct dkms_ctx *ctx)
{
	if (!ctx->lock_depth || --ctx->lock_depth)
		return;
	if (ctx->lock_fd >= 0)
		close(ctx->lock_fd); /* releases the flock */
	ctx->lock_fd = -1;
}

void dkms_lock_forget(struct dkms_ctx *ctx)
{
	/* in a forked child: the parent keeps the lock; this copy must not outlive it */
	if (ctx->lock_fd >= 0)
		close(ctx->lock_fd);
	ctx->lock_fd = -1;
	ctx->lock_depth = 0;
}
