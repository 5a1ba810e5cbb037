/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The runner: executes a plan. Builds run in child processes, as many at a
 * time as the jobserver gives slots, each one as soon as its BUILD_DEPENDS
 * are installed; everything that touches the registry links or the install
 * tree runs here, one step at a time (job.c). A failed job fails only its
 * dependants. At the end, one depmod per kernel touched.
 */
#include "jobserver.h"
#include "plan.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum phase { PHASE_PENDING, PHASE_WAIT_SLOT, PHASE_BUILDING, PHASE_FINISHED };

/* A child's messages: a record is a type byte, a priority byte, a 32-bit length and the payload. */
enum { REC_LOG = 'L', REC_RESULT = 'R' };

struct child {
	size_t job;
	pid_t pid;
	int fd;
	bool implicit;
	double start;
	char *buf;
	size_t len, cap;
	bool have_result;
	int code;
	char *log_path, *message;
};

struct runner {
	struct dkms_ctx *ctx;
	struct dkms_plan *plan;
	struct kernel_set ks;
	struct dkms_jobserver js;
	enum phase *phase;
	struct dkms_kernel **kernel; /* per job, borrowed from ks */
	size_t *kidx;
	double *start;
	double *cost; /* estimated seconds of each job's build (estimate.c) */
	struct child *run;
	size_t n_run;
	size_t n_done;
	int first_fail, first_skip;
	size_t n_failed;
	double last_tick;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(struct runner *r, enum dkms_progress_kind kind, struct dkms_job *j, double seconds)
{
	struct dkms_ctx *ctx = r->ctx;
	const struct dkms_job_report *running[64];
	double running_s[64];
	size_t n = 0;
	double t = now();

	if (!ctx->progress_fn)
		return;
	for (size_t i = 0; i < r->n_run && n < DKMS_ARRAY_SIZE(running); i++, n++) {
		running[n] = &r->plan->jobs[r->run[i].job].rep;
		running_s[n] = t - r->run[i].start;
	}
	struct dkms_progress p = {
		.kind = kind,
		.job = j ? &j->rep : NULL,
		.seconds = seconds,
		.n_done = r->n_done,
		.n_total = r->plan->n_jobs,
		.running = running,
		.running_seconds = running_s,
		.n_running = n,
	};

	ctx->progress_fn(ctx->progress_data, &p);
}

static void finish(struct runner *r, size_t i, int code, bool skipped)
{
	struct dkms_job *j = &r->plan->jobs[i];

	if (code == DKMS_E_EXCLUDED) {
		dkms_job_finish(r->ctx, j, DKMS_JOB_SKIPPED, code, r->ctx->err);
		if (!r->first_skip)
			r->first_skip = code;
	} else if (code) {
		dkms_job_finish(r->ctx, j, DKMS_JOB_FAILED, code, r->ctx->err);
		r->n_failed++;
		if (!r->first_fail)
			r->first_fail = code;
	} else {
		dkms_job_finish(r->ctx, j, skipped ? DKMS_JOB_SKIPPED : DKMS_JOB_DONE, 0, NULL);
	}
	r->phase[i] = PHASE_FINISHED;
	r->n_done++;
	progress(r, DKMS_PROGRESS_END, j, now() - r->start[i]);
}

/* 1: all dependencies done; 0: some still to come; -1: one failed (the error is recorded). */
static int deps_state(struct runner *r, size_t i)
{
	struct dkms_job *j = &r->plan->jobs[i];

	for (size_t d = 0; d < j->n_deps; d++) {
		size_t di = j->deps[d];
		struct dkms_job *dep = &r->plan->jobs[di];

		if (r->phase[di] != PHASE_FINISHED)
			return 0;
		if (dep->rep.result != DKMS_JOB_DONE) {
			dkms_err_set(r->ctx, DKMS_E_DEPENDS,
				     "%s/%s was not built for kernel %s (%s): its BUILD_DEPENDS %s/%s did "
				     "not install",
				     j->module, j->version, j->kver, j->arch, dep->module, dep->version);
			return -1;
		}
	}
	return 1;
}

static void begin(struct runner *r, size_t i)
{
	struct dkms_job *j = &r->plan->jobs[i];
	bool touched = false, needs_build = false, skipped = false;
	int code;

	j->rep.module = j->module;
	j->rep.version = j->version;
	j->rep.kver = j->kver;
	j->rep.arch = j->arch;
	j->rep.action = j->action;
	r->start[i] = now();
	r->ctx->err[0] = '\0';
	progress(r, DKMS_PROGRESS_START, j, 0);
	if (deps_state(r, i) < 0) {
		finish(r, i, DKMS_E_DEPENDS, false);
		return;
	}
	code = j->kver ? dkms_kernels_get(r->ctx, &r->ks, j->kver, j->arch, &r->kernel[i], &r->kidx[i]) : 0;
	if (!code)
		code = dkms_job_begin(r->ctx, r->plan, j, r->kernel[i], &touched, &needs_build, &skipped);
	if (touched)
		r->ks.touched[r->kidx[i]] = true;
	if (!code && needs_build) {
		r->phase[i] = PHASE_WAIT_SLOT;
		r->cost[i] = dkms_build_estimate(r->ctx, j->module, j->version, j->arch);
		return;
	}
	finish(r, i, code, skipped);
}

/* ---- the build child ---- */

static void rec_write(int fd, char type, int prio, const char *a, size_t alen)
{
	unsigned char head[6] = { (unsigned char)type, (unsigned char)prio };
	uint32_t len = (uint32_t)alen;

	memcpy(head + 2, &len, sizeof(len));
	if (write(fd, head, sizeof(head)) != (ssize_t)sizeof(head) || write(fd, a, alen) != (ssize_t)alen)
		_exit(DKMS_E_FAIL);
}

static void child_log(void *data, enum dkms_log_prio prio, const char *msg)
{
	rec_write(*(int *)data, REC_LOG, (int)prio, msg, strlen(msg));
}

static void child_on_orphan(int sig)
{
	(void)sig;
	kill(0, SIGKILL);
}

/* A build dies with its planner: makes left running after a crash would race with the next run,
 * which cleans and reuses the job trees. The child leads a process group of its own and, told by
 * the kernel that the planner is gone, takes the whole group down. */
static void child_tie(pid_t planner)
{
	struct sigaction sa = { .sa_handler = child_on_orphan };

	setpgid(0, 0);
	sigaction(SIGTERM, &sa, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != planner)
		kill(0, SIGKILL);
}

static _Noreturn void child_main(struct runner *r, size_t i, int fd, pid_t planner)
{
	struct dkms_job *j = &r->plan->jobs[i];
	struct dkms_ctx *ctx = r->ctx;
	char *log_path = NULL, *rec;
	size_t len;
	int code;

	child_tie(planner);
	dkms_lock_forget(ctx);
	setenv("MAKEFLAGS", r->js.makeflags, 1);
	ctx->log_fn = child_log;
	ctx->log_data = &fd;
	ctx->progress_fn = NULL;
	ctx->err[0] = '\0';
	code = dkms_build(ctx, j->module, j->version, r->kernel[i], &log_path);
	len = (size_t)snprintf(NULL, 0, "%d", code) + 1 + (log_path ? strlen(log_path) : 0) + 1 +
	      strlen(ctx->err) + 1;
	rec = malloc(len);
	if (!rec)
		_exit(DKMS_E_FAIL);
	int n = sprintf(rec, "%d", code) + 1;

	n += sprintf(rec + n, "%s", log_path ? log_path : "") + 1;
	sprintf(rec + n, "%s", ctx->err);
	rec_write(fd, REC_RESULT, 0, rec, len);
	/* _exit frees nothing: say what we own, so that a leak checker sees no loss here */
	free(rec);
	free(log_path);
	_exit(0);
}

static int start_build(struct runner *r, size_t i, bool implicit)
{
	struct dkms_job *j = &r->plan->jobs[i];
	struct child *c;
	int fds[2];
	pid_t pid, planner = getpid();

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	dkms_log(r->ctx, DKMS_LOG_INFO, "Building module %s/%s for kernel %s (%s)", j->module, j->version,
		 j->kver, j->arch);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int e = -errno;

		close(fds[0]);
		close(fds[1]);
		return e;
	}
	if (pid == 0) {
		close(fds[0]);
		child_main(r, i, fds[1], planner);
	}
	close(fds[1]);
	r->run = realloc(r->run, (r->n_run + 1) * sizeof(*r->run));
	if (!r->run)
		abort();
	c = &r->run[r->n_run++];
	memset(c, 0, sizeof(*c));
	c->job = i;
	c->pid = pid;
	c->fd = fds[0];
	c->implicit = implicit;
	c->start = now();
	r->start[i] = c->start; /* a job's reported time is its build and install, not its wait for a slot */
	r->phase[i] = PHASE_BUILDING;
	return 0;
}

/* Complete records in the child's buffer: relay its log lines, keep its result. */
static void child_parse(struct runner *r, struct child *c)
{
	size_t off = 0;

	while (c->len - off >= 6) {
		uint32_t len;

		memcpy(&len, c->buf + off + 2, sizeof(len));
		if (c->len - off - 6 < len)
			break;
		char type = c->buf[off];
		int prio = (unsigned char)c->buf[off + 1];
		char *p = malloc((size_t)len + 1);

		if (!p)
			abort();
		memcpy(p, c->buf + off + 6, len);
		p[len] = '\0';

		if (type == REC_LOG && r->ctx->log_fn) {
			r->ctx->log_fn(r->ctx->log_data, (enum dkms_log_prio)prio, p);
		} else if (type == REC_RESULT) {
			/* "code\0log_path\0message" */
			char *logp = p + strlen(p) + 1;
			char *msg = logp < p + len ? logp + strlen(logp) + 1 : p + len;

			c->have_result = true;
			c->code = atoi(p);
			c->log_path = logp < p + len && *logp ? dkms_strdup(logp) : NULL;
			c->message = msg < p + len ? dkms_strdup(msg) : NULL;
		}
		free(p);
		off += 6 + len;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
}

/* The child closed its end: reap it, then install what it built. */
static void child_done(struct runner *r, size_t ci)
{
	struct child c = r->run[ci];
	struct dkms_job *j = &r->plan->jobs[c.job];
	bool touched = false;
	int status = 0, code;

	while (waitpid(c.pid, &status, 0) < 0 && errno == EINTR)
		;
	close(c.fd);
	r->run[ci] = r->run[--r->n_run];
	dkms_jobserver_release(&r->js, c.implicit);
	if (c.have_result) {
		code = c.code;
		snprintf(r->ctx->err, sizeof(r->ctx->err), "%s", c.message ? c.message : "");
	} else {
		code = dkms_err_set(r->ctx, DKMS_E_FAIL, "the build of %s/%s for kernel %s (%s) died (%s %d)",
				    j->module, j->version, j->kver, j->arch,
				    WIFSIGNALED(status) ? "signal" : "exit status",
				    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	}
	free(j->log_path);
	j->log_path = c.log_path;
	if (!code) {
		dkms_log(r->ctx, DKMS_LOG_DEBUG, "Built %s/%s for kernel %s in %.1f s", j->module, j->version,
			 j->kver, now() - c.start);
		code = dkms_job_after_build(r->ctx, j, r->kernel[c.job], &touched);
	}
	if (touched)
		r->ks.touched[r->kidx[c.job]] = true;
	finish(r, c.job, code, false);
	free(c.buf);
	free(c.message);
}

/* Wait for output of the running builds, at most until the next progress tick. */
static void wait_children(struct runner *r)
{
	struct pollfd *pfd = calloc(r->n_run + 1, sizeof(*pfd));
	size_t np = r->n_run;

	if (!pfd)
		abort();
	for (size_t i = 0; i < r->n_run; i++) {
		pfd[i].fd = r->run[i].fd;
		pfd[i].events = POLLIN;
	}
	/* builds waiting for a slot: wake up as soon as a make gives a token back */
	for (size_t j = 0; j < r->plan->n_jobs && r->js.poll_fd >= 0; j++) {
		if (r->phase[j] == PHASE_WAIT_SLOT) {
			pfd[np].fd = r->js.poll_fd;
			pfd[np++].events = POLLIN;
			break;
		}
	}
	int n = poll(pfd, np, 500);

	for (size_t i = r->n_run; n > 0 && i-- > 0;) {
		struct child *c = &r->run[i];

		if (!pfd[i].revents)
			continue;
		if (c->cap - c->len < 4096) {
			c->cap = c->cap ? c->cap * 2 : 8192;
			c->buf = realloc(c->buf, c->cap);
			if (!c->buf)
				abort();
		}
		ssize_t got = read(c->fd, c->buf + c->len, c->cap - c->len);

		if (got > 0) {
			c->len += (size_t)got;
			child_parse(r, c);
		} else if (got == 0 || errno != EINTR) {
			child_done(r, i);
		}
	}
	free(pfd);
	if (r->n_run && now() - r->last_tick >= 0.5) {
		r->last_tick = now();
		progress(r, DKMS_PROGRESS_TICK, NULL, 0);
	}
}

/* Start what can start: jobs whose dependencies are done, builds that get a slot. */
static bool schedule(struct runner *r)
{
	bool moved = false;

	for (size_t i = 0; i < r->plan->n_jobs; i++) {
		if (r->phase[i] == PHASE_PENDING && deps_state(r, i) != 0) {
			begin(r, i);
			moved = true;
		}
	}
	for (;;) {
		bool implicit;
		size_t i = r->plan->n_jobs;

		/* the longest waiting build first: a long one started last would run alone at the end */
		for (size_t w = 0; w < r->plan->n_jobs; w++)
			if (r->phase[w] == PHASE_WAIT_SLOT &&
			    (i == r->plan->n_jobs || r->cost[w] > r->cost[i]))
				i = w;
		if (i == r->plan->n_jobs || !dkms_jobserver_acquire(&r->js, &implicit))
			break;
		int e = start_build(r, i, implicit);

		if (e) {
			dkms_jobserver_release(&r->js, implicit);
			dkms_err_set(r->ctx, DKMS_E_FAIL, "cannot start the build of %s/%s: %s",
				     r->plan->jobs[i].module, r->plan->jobs[i].version, strerror(-e));
			finish(r, i, DKMS_E_FAIL, false);
		}
		moved = true;
	}
	return moved;
}

int dkms_plan_run(struct dkms_ctx *ctx, struct dkms_plan *plan, struct dkms_report **out)
{
	struct dkms_report *rep = calloc(1, sizeof(*rep));
	struct runner r = { .ctx = ctx, .plan = plan };
	size_t n = plan->n_jobs;
	int e;

	if (!rep)
		return DKMS_E_FAIL;
	rep->plan = plan;
	e = dkms_lock_take(ctx);
	if (e) {
		free(rep);
		return e;
	}
	e = dkms_jobserver_init(&r.js, dkms_jobs(ctx));
	if (e) {
		free(rep);
		dkms_lock_drop(ctx);
		return dkms_err_set(ctx, DKMS_E_FAIL, "cannot set up the make jobserver: %s", strerror(-e));
	}
	r.phase = calloc(n + 1, sizeof(*r.phase));
	r.kernel = calloc(n + 1, sizeof(*r.kernel));
	r.kidx = calloc(n + 1, sizeof(*r.kidx));
	r.start = calloc(n + 1, sizeof(*r.start));
	r.cost = calloc(n + 1, sizeof(*r.cost));
	if (!r.phase || !r.kernel || !r.kidx || !r.start || !r.cost)
		abort();
	r.last_tick = now();
	while (r.n_done < n) {
		while (schedule(&r))
			;
		if (!r.n_run && r.n_done < n) {
			/* nothing runs and nothing can start: cannot happen with acyclic deps; fail the rest */
			for (size_t i = 0; i < n; i++) {
				if (r.phase[i] == PHASE_FINISHED)
					continue;
				dkms_err_set(ctx, DKMS_E_DEPENDS,
					     "%s/%s: its BUILD_DEPENDS never became ready",
					     plan->jobs[i].module, plan->jobs[i].version);
				finish(&r, i, DKMS_E_DEPENDS, false);
			}
			break;
		}
		if (r.n_run)
			wait_children(&r);
	}
	for (size_t i = 0; i < r.ks.n; i++) {
		if (!r.ks.touched[i])
			continue;
		int d = dkms_depmod(ctx, r.ks.k[i]);

		if (d) {
			dkms_log(ctx, DKMS_LOG_ERR, "%s", ctx->err);
			if (!r.first_fail)
				r.first_fail = d;
		}
	}
	rep->n_failed = r.n_failed;
	dkms_lock_drop(ctx);
	dkms_kernels_free(&r.ks);
	dkms_jobserver_free(&r.js);
	free(r.phase);
	free(r.kernel);
	free(r.kidx);
	free(r.start);
	free(r.cost);
	free(r.run);
	*out = rep;
	if (r.first_fail)
		return plan->autoinstall ? DKMS_E_AUTOINSTALL : r.first_fail;
	return plan->autoinstall ? 0 : r.first_skip;
}

size_t dkms_report_n_jobs(const struct dkms_report *rep)
{
	return rep->plan->n_jobs;
}

const struct dkms_job_report *dkms_report_job(const struct dkms_report *rep, size_t i)
{
	return &rep->plan->jobs[i].rep;
}

size_t dkms_report_n_failed(const struct dkms_report *rep)
{
	return rep->n_failed;
}

void dkms_report_free(struct dkms_report *rep)
{
	free(rep);
}
