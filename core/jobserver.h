/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A GNU make jobserver shared by all the builds of a run (see jobserver.c). */
#ifndef DKMS_JOBSERVER_H
#define DKMS_JOBSERVER_H

#include "internal.h"

struct dkms_jobserver {
	int rfd, wfd;	     /* the pipe make reads and writes tokens on */
	int poll_fd;	     /* our non-blocking view of rfd, or -1 */
	bool own;	     /* we made the pipe (not inherited from a parent make) */
	bool implicit_taken; /* the slot every jobserver client has without a token */
	int held;	     /* tokens we read for running builds */
	char *makeflags;     /* MAKEFLAGS for the builds */
};

/* A jobserver for `jobs` parallel jobs, or the one named in MAKEFLAGS. 0 / -errno. */
int dkms_jobserver_init(struct dkms_jobserver *js, int jobs);
/* A slot for one more build, without waiting; *implicit says which kind to give back. */
bool dkms_jobserver_acquire(struct dkms_jobserver *js, bool *implicit);
void dkms_jobserver_release(struct dkms_jobserver *js, bool implicit);
void dkms_jobserver_free(struct dkms_jobserver *js);

#endif
