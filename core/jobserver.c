/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One GNU make jobserver for every build of a run. Each running build holds
 * a slot: the first one the implicit slot, every further one a token read
 * from the pipe; the makes inside the builds take and give back the other
 * tokens themselves. So the compilers of all builds together never exceed N.
 * When our caller is itself under a make jobserver (MAKEFLAGS), we join it.
 */
#include "jobserver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "--jobserver-auth=R,W" (make >= 4.2) or "--jobserver-fds=R,W" in MAKEFLAGS, when both fds are open. */
static bool parse_inherited(const char *mf, int *r, int *w)
{
	static const char *const keys[] = { "--jobserver-auth=", "--jobserver-fds=" };

	for (size_t i = 0; mf && i < DKMS_ARRAY_SIZE(keys); i++) {
		const char *p = strstr(mf, keys[i]);

		if (p && sscanf(p + strlen(keys[i]), "%d,%d", r, w) == 2 && *r >= 0 && *w >= 0 &&
		    fcntl(*r, F_GETFD) >= 0 && fcntl(*w, F_GETFD) >= 0)
			return true;
	}
	return false;
}

/* Our own non-blocking view of the read end, so that make's reads stay blocking. */
static int open_nonblocking(int fd)
{
	char path[64];
	int nfd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	return nfd;
}

int dkms_jobserver_init(struct dkms_jobserver *js, int jobs)
{
	const char *mf = getenv("MAKEFLAGS");
	int fds[2];

	memset(js, 0, sizeof(*js));
	js->rfd = js->wfd = js->poll_fd = -1;
	if (parse_inherited(mf, &js->rfd, &js->wfd)) {
		js->makeflags = dkms_strdup(mf);
	} else {
		if (jobs < 1)
			jobs = 1;
		if (pipe(fds) < 0)
			return -errno;
		js->rfd = fds[0];
		js->wfd = fds[1];
		js->own = true;
		for (int i = 1; i < jobs; i++)
			if (write(js->wfd, "+", 1) != 1)
				break;
		js->makeflags = dkms_asprintf("%s%s-j%d --jobserver-auth=%d,%d", mf ? mf : "",
					      mf && *mf ? " " : "", jobs, js->rfd, js->wfd);
	}
	js->poll_fd = open_nonblocking(js->rfd);
	return 0;
}

bool dkms_jobserver_acquire(struct dkms_jobserver *js, bool *implicit)
{
	char c;

	if (!js->implicit_taken) {
		js->implicit_taken = true;
		*implicit = true;
		return true;
	}
	*implicit = false;
	if (js->poll_fd < 0)
		return false; /* no /proc: one build at a time */
	if (read(js->poll_fd, &c, 1) != 1)
		return false;
	js->held++;
	return true;
}

void dkms_jobserver_release(struct dkms_jobserver *js, bool implicit)
{
	if (implicit) {
		js->implicit_taken = false;
		return;
	}
	while (write(js->wfd, "+", 1) < 0 && errno == EINTR)
		;
	js->held--;
}

void dkms_jobserver_free(struct dkms_jobserver *js)
{
	while (js->held > 0)
		dkms_jobserver_release(js, false);
	if (js->poll_fd >= 0)
		close(js->poll_fd);
	if (js->own) {
		close(js->rfd);
		close(js->wfd);
	}
	free(js->makeflags);
	memset(js, 0, sizeof(*js));
	js->rfd = js->wfd = js->poll_fd = -1;
}
