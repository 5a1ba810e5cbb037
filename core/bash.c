/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dkms.conf and framework.conf. Both are bash: one bash process sources them
 * and writes back the variables we know on fd 3 as NAME\0INDEX\0VALUE\0
 * records, one per array element (a scalar is index 0), then "@end". The
 * files run with fd 3 closed, stdin on /dev/null and stdout and stderr on a
 * pipe of which the first 64 KiB are passed on to our stderr, so nothing they
 * print or start can reach the channel. The evaluation is bounded in time
 * (DKMS_BASH_TIMEOUT, or the caller's): bash runs in a process group of its
 * own, killed when it is over, with whatever it left running in the background.
 */
#include "bash.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define OUT_FD	 3
#define OUT_MAX	 (64u << 20)
#define OUT_SHOW (64u << 10) /* of what the files print, passed on to stderr */

static void var_values_free(struct var_values *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < v[i].n; j++)
			free(v[i].e[j].val);
		free(v[i].e);
	}
}

const char *dkms_bash_val_at(const struct var_values *v, unsigned long idx)
{
	for (size_t j = 0; j < v->n; j++)
		if (v->e[j].idx == idx)
			return v->e[j].val;
	return NULL;
}

/* ---- running bash ---- */

/* Every element of every variable listed between these two, then @end. */
#define SH_EMIT_HEAD "{\nfor __dkms_n in "
#define SH_EMIT_TAIL                                                                                         \
	"; do\n"                                                                                             \
	"  builtin unset -n __dkms_r\n"                                                                      \
	"  builtin declare -n __dkms_r=$__dkms_n\n"                                                          \
	"  for __dkms_i in \"${!__dkms_r[@]}\"; do\n"                                                        \
	"    builtin printf '%s\\0%s\\0%s\\0' \"$__dkms_n\" \"$__dkms_i\" \"${__dkms_r[$__dkms_i]}\"\n"      \
	"  done\n"                                                                                           \
	"done\n"                                                                                             \
	"builtin printf '%s\\0%s\\0%s\\0' @end 0 ''\n"                                                       \
	"} >&3\n"

/* framework.conf and friends: the files are the arguments. */
#define SH_VARS_HEAD                                                                                         \
	"__dkms_a=(\"$@\"); builtin set --\n"                                                                \
	"for __dkms_f in \"${__dkms_a[@]}\"; do\n" SH_SOURCE "done\n"

/* head "unset NAMES\n" SH_EMIT_HEAD NAMES SH_EMIT_TAIL, as one script. */
char *dkms_bash_script_build(const char *head, const char *const *names, size_t n)
{
	size_t len = strlen(head) + strlen(SH_EMIT_HEAD) + strlen(SH_EMIT_TAIL) + 32;
	char *s, *p;

	for (size_t i = 0; i < n; i++)
		len += 2 * (strlen(names[i]) + 1);
	s = malloc(len);
	if (!s)
		abort();
	p = stpcpy(s, "builtin unset");
	for (size_t i = 0; i < n; i++)
		p = stpcpy(stpcpy(p, " "), names[i]);
	p = stpcpy(stpcpy(p, "\n"), head);
	p = stpcpy(p, SH_EMIT_HEAD);
	for (size_t i = 0; i < n; i++)
		p = stpcpy(stpcpy(p, " "), names[i]);
	stpcpy(p, SH_EMIT_TAIL);
	return s;
}

static bool env_keep(const char *e)
{
	static const char *const drop[] = {
		"BASH_ENV=", "ENV=",	    "SHELLOPTS=",	"BASHOPTS=",
		"CDPATH=",   "GLOBIGNORE=", "POSIXLY_CORRECT=", "BASH_FUNC_",
	};

	for (size_t i = 0; i < DKMS_ARRAY_SIZE(drop); i++)
		if (!strncmp(e, drop[i], strlen(drop[i])))
			return false;
	return true;
}

/* Start bash -c script with args in a process group of its own: output channel on fd 3, stdout and
 * stderr on out_fd. Returns the pid or -errno. */
static pid_t bash_spawn(const char *script, const char *const *args, size_t n_args, const char *cwd,
			int chan_fd, int out_fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	size_t n_env = 0, k = 0;
	const char **argv, **envp;
	pid_t pid;
	int r;

	for (char **e = environ; e && *e; e++)
		n_env++;
	argv = calloc(n_args + 5, sizeof(*argv)); /* bash -c script $0 args... NULL */
	envp = calloc(n_env + 1, sizeof(*envp));
	if (!argv || !envp)
		abort();
	argv[0] = BASH;
	argv[1] = "-c";
	argv[2] = script;
	argv[3] = "dkms-conf";
	for (size_t i = 0; i < n_args; i++)
		argv[4 + i] = args[i];
	for (char **e = environ; e && *e; e++)
		if (env_keep(*e))
			envp[k++] = *e;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out_fd, STDERR_FILENO);
	posix_spawn_file_actions_adddup2(&fa, chan_fd, OUT_FD);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	posix_spawn_file_actions_addclosefrom_np(&fa, OUT_FD + 1);
#endif
	if (cwd)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGCHLD);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	r = posix_spawn(&pid, BASH, &fa, &at, (char *const *)argv, (char *const *)envp);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	free(argv);
	free(envp);
	return r ? -r : pid;
}

static int record_add(struct var_values *v, const char *idx, const char *val)
{
	char *end;
	unsigned long i;

	if (!isdigit((unsigned char)*idx))
		return 0; /* an associative array: not ours */
	errno = 0;
	i = strtoul(idx, &end, 10);
	if (*end || errno)
		return 0;
	struct var_entry *ne = realloc(v->e, (v->n + 1) * sizeof(*v->e));

	if (!ne)
		abort();
	v->e = ne;
	v->e[v->n].idx = i;
	v->e[v->n].val = dkms_strdup(val);
	v->n++;
	return 0;
}

void dkms_bash_records_parse(const char *buf, size_t len, const char *const *names, size_t n_names,
			     struct bash_result *res)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *f[3];

		for (int i = 0; i < 3; i++) {
			const char *z = memchr(p, '\0', (size_t)(end - p));

			if (!z)
				return; /* a truncated record: bash died mid-write */
			f[i] = p;
			p = z + 1;
		}
		if (!strcmp(f[0], "@file")) {
			free(res->last_file);
			res->last_file = dkms_strdup(f[2]);
		} else if (!strcmp(f[0], "@end")) {
			res->ended = true;
		} else {
			for (size_t i = 0; i < n_names; i++)
				if (!strcmp(f[0], names[i]))
					record_add(&res->vals[i], f[1], f[2]);
		}
	}
}

/* ---- one evaluation: the channel and the output read under a deadline ---- */

struct bash_io {
	int chan, out; /* read ends; -1 once at EOF */
	char *buf;     /* the channel */
	size_t len, cap;
	size_t shown;	/* bytes of output passed on to our stderr */
	bool to_stderr; /* is our stderr open */
	bool cut;
};

static int64_t bash_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read what the channel has; past OUT_MAX it is cut (and records_parse sees no @end). */
static void bash_read_chan(struct bash_io *io)
{
	char tmp[65536];
	ssize_t n = read(io->chan, tmp, sizeof(tmp));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(io->chan);
		io->chan = -1;
		return;
	}
	if (io->len + (size_t)n > OUT_MAX) {
		io->cut = true;
		return;
	}
	if (io->len + (size_t)n + 1 > io->cap) {
		io->cap = (io->len + (size_t)n + 1) * 2;
		io->buf = realloc(io->buf, io->cap);
		if (!io->buf)
			abort();
	}
	memcpy(io->buf + io->len, tmp, (size_t)n);
	io->len += (size_t)n;
}

/* Pass the first OUT_SHOW bytes of what the files print on to our stderr; drop the rest. */
static void bash_read_out(struct bash_io *io)
{
	char tmp[16384];
	ssize_t n = read(io->out, tmp, sizeof(tmp));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(io->out);
		io->out = -1;
		return;
	}
	if (io->to_stderr && io->shown < OUT_SHOW) {
		size_t k = (size_t)n < OUT_SHOW - io->shown ? (size_t)n : OUT_SHOW - io->shown;

		if (write(STDERR_FILENO, tmp, k) < 0)
			io->to_stderr = false;
		io->shown += k;
		if (io->shown == OUT_SHOW && io->to_stderr)
			dprintf(STDERR_FILENO, "\n[dkms: the rest of this output is dropped]\n");
	}
}

/*
 * Until bash exits or the deadline (then -ETIME). Not until the channel's EOF: a subshell the files
 * leave in the background holds bash's saved copy of fd 3. Then, whatever bash exited or not, its
 * process group is killed, so that nothing the files started outlives the evaluation.
 */
static int bash_pump(struct bash_io *io, pid_t pid, int64_t deadline, int *status)
{
	/* readable when bash exits; without it (kernels before 5.3), a look every 50 ms */
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	bool reaped = false;
	int r = 0;

	for (;;) {
		struct pollfd p[3] = { { .fd = io->chan, .events = POLLIN },
				       { .fd = io->out, .events = POLLIN },
				       { .fd = pidfd, .events = POLLIN } };
		int64_t left = deadline - bash_now_ms();
		pid_t w;

		if (left <= 0) {
			r = -ETIME;
			break;
		}
		if (pidfd < 0 && left > 50)
			left = 50;
		if (poll(p, 3, (int)(left > 60000 ? 60000 : left)) > 0) {
			if (io->chan >= 0 && p[0].revents)
				bash_read_chan(io);
			if (io->out >= 0 && p[1].revents)
				bash_read_out(io);
		}
		w = waitpid(pid, status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR)) {
			reaped = true;
			break;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	/* what bash wrote before it exited is in the pipe: read it all */
	for (size_t before = SIZE_MAX; io->chan >= 0 && io->len != before;) {
		before = io->len;
		bash_read_chan(io);
	}
	kill(-pid, SIGKILL);
	if (!reaped)
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
	return r;
}

/* A pipe whose ends are above fd 3 (so that the dup2s in the child clear close-on-exec). */
static int bash_pipe(int *rfd, int *wfd)
{
	int p[2], r = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	*rfd = fcntl(p[0], F_DUPFD_CLOEXEC, 10);
	*wfd = fcntl(p[1], F_DUPFD_CLOEXEC, 10);
	if (*rfd < 0 || *wfd < 0)
		r = -errno;
	close(p[0]);
	close(p[1]);
	if (r) {
		if (*rfd >= 0)
			close(*rfd);
		if (*wfd >= 0)
			close(*wfd);
	}
	return r;
}

/* Run script with args; res->vals gets one entry per name. 0 or -errno (bash did not start). */
int dkms_bash_eval(const char *script, const char *const *args, size_t n_args, const char *cwd,
		   const char *const *names, size_t n_names, unsigned timeout_s, struct bash_result *res)
{
	struct bash_io io = { .chan = -1, .out = -1 };
	int cw = -1, ow = -1, r;
	int64_t deadline;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	res->vals = calloc(n_names ? n_names : 1, sizeof(*res->vals));
	if (!res->vals)
		abort();
	r = bash_pipe(&io.chan, &cw);
	if (!r)
		r = bash_pipe(&io.out, &ow);
	if (r) {
		if (io.chan >= 0) {
			close(io.chan);
			close(cw);
		}
		return r;
	}
	io.to_stderr = fcntl(STDERR_FILENO, F_GETFD) >= 0;
	fcntl(io.chan, F_SETFL, O_NONBLOCK);
	fcntl(io.out, F_SETFL, O_NONBLOCK);
	pid = bash_spawn(script, args, n_args, cwd, cw, ow);
	close(cw);
	close(ow);
	if (pid < 0) {
		close(io.chan);
		close(io.out);
		return (int)pid;
	}
	deadline = bash_now_ms() + (int64_t)(timeout_s ? timeout_s : DKMS_BASH_TIMEOUT) * 1000;
	res->timed_out = bash_pump(&io, pid, deadline, &res->status) == -ETIME;
	if (io.out >= 0) {
		bash_read_out(&io); /* what is already there; background writers are gone */
		close(io.out);
	}
	if (io.chan >= 0)
		close(io.chan);
	if (io.buf)
		dkms_bash_records_parse(io.buf, io.len, names, n_names, res);
	res->overflow = io.cut;
	if (res->timed_out || res->overflow)
		res->ended = false;
	free(io.buf);
	return 0;
}

void dkms_bash_result_free(struct bash_result *res, size_t n_names)
{
	if (res->vals)
		var_values_free(res->vals, n_names);
	free(res->vals);
	free(res->last_file);
	res->vals = NULL;
	res->last_file = NULL;
}

char *dkms_bash_status_text(int status)
{
	if (WIFSIGNALED(status))
		return dkms_asprintf("killed by signal %d", WTERMSIG(status));
	return dkms_asprintf("exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

bool dkms_bash_valid_identifier(const char *s, size_t len)
{
	if (!len || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

int dkms_bash_read_vars(struct dkms_ctx *ctx, const char *const *files, size_t n_files,
			const char *const *names, size_t n_names, char **values)
{
	struct bash_result res;
	char *script;
	int r;

	for (size_t i = 0; i < n_names; i++) {
		values[i] = NULL;
		if (!dkms_bash_valid_identifier(names[i], strlen(names[i])))
			return dkms_err_set(ctx, DKMS_E_FAIL, "cannot read variable '%s': not a bash name",
					    names[i]);
	}
	script = dkms_bash_script_build(SH_VARS_HEAD, names, n_names);
	r = dkms_bash_eval(script, files, n_files, NULL, names, n_names, 0, &res);
	free(script);
	if (r < 0)
		return dkms_err_set(ctx, DKMS_E_FAIL, "cannot run %s to read %s: %s", BASH,
				    n_files ? files[0] : "(nothing)", strerror(-r));
	if (res.timed_out) {
		r = dkms_err_set(
			ctx, DKMS_E_CONF,
			"%s: did not finish within %u s (an endless loop, or a command that waits?); "
			"fix or remove the file",
			res.last_file ? res.last_file
			: n_files     ? files[0]
				      : "(nothing)",
			DKMS_BASH_TIMEOUT);
		dkms_bash_result_free(&res, n_names);
		return r;
	}
	if (!res.ended) {
		char *st = dkms_bash_status_text(res.status);

		r = dkms_err_set(ctx, DKMS_E_CONF,
				 "%s: bash stopped while reading it (%s); fix or remove the file",
				 res.last_file ? res.last_file
				 : n_files     ? files[0]
					       : "(nothing)",
				 st);
		free(st);
		dkms_bash_result_free(&res, n_names);
		return r;
	}
	for (size_t i = 0; i < n_names; i++) {
		const char *v = dkms_bash_val_at(&res.vals[i], 0);

		values[i] = v ? dkms_strdup(v) : NULL;
	}
	dkms_bash_result_free(&res, n_names);
	return 0;
}
