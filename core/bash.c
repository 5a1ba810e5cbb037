/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dkms.conf and framework.conf. Both are bash: one bash process sources them
 * and writes back the variables we know on fd 3 as NAME\0INDEX\0VALUE\0
 * records, one per array element (a scalar is index 0), then "@end". The
 * files run with fd 3 closed, stdin on /dev/null and stdout sent to stderr,
 * so nothing they print or start can reach the channel.
 */
#include "bash.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define OUT_FD	3
#define OUT_MAX (64u << 20)

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

/* Start bash -c script with args, output channel on fd 3. Returns the pid or -errno. */
static pid_t bash_spawn(const char *script, const char *const *args, size_t n_args, const char *cwd,
			int out_fd)
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
	if (fcntl(STDERR_FILENO, F_GETFD) >= 0) {
		posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
	} else {
		posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	}
	posix_spawn_file_actions_adddup2(&fa, out_fd, OUT_FD);
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
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
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

/* Run script with args; res->vals gets one entry per name. 0 or -errno (bash did not start). */
int dkms_bash_eval(const char *script, const char *const *args, size_t n_args, const char *cwd,
		   const char *const *names, size_t n_names, struct bash_result *res)
{
	int pfd[2], rfd, wfd;
	char *buf = NULL;
	size_t len = 0;
	pid_t pid;
	int r;

	memset(res, 0, sizeof(*res));
	res->vals = calloc(n_names ? n_names : 1, sizeof(*res->vals));
	if (!res->vals)
		abort();
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	/* above fd 3, so that the dup2 in the child always clears close-on-exec */
	rfd = fcntl(pfd[0], F_DUPFD_CLOEXEC, 10);
	wfd = fcntl(pfd[1], F_DUPFD_CLOEXEC, 10);
	close(pfd[0]);
	close(pfd[1]);
	if (rfd < 0 || wfd < 0) {
		r = -errno;
		if (rfd >= 0)
			close(rfd);
		if (wfd >= 0)
			close(wfd);
		return r;
	}
	pid = bash_spawn(script, args, n_args, cwd, wfd);
	close(wfd);
	if (pid < 0) {
		close(rfd);
		return (int)pid;
	}
	dkms_read_fd(rfd, OUT_MAX, &buf, &len); /* past OUT_MAX: cut, and bash gets SIGPIPE */
	close(rfd);
	while (waitpid(pid, &res->status, 0) < 0 && errno == EINTR)
		;
	dkms_bash_records_parse(buf, len, names, n_names, res);
	free(buf);
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
	r = dkms_bash_eval(script, files, n_files, NULL, names, n_names, &res);
	free(script);
	if (r < 0)
		return dkms_err_set(ctx, DKMS_E_FAIL, "cannot run %s to read %s: %s", BASH,
				    n_files ? files[0] : "(nothing)", strerror(-r));
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
