/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dkms.conf and framework.conf. Both are bash: one bash process sources them
 * and writes back the variables we know on fd 3 as NAME\0INDEX\0VALUE\0
 * records, one per array element (a scalar is index 0), then "@end". The
 * files run with fd 3 closed, stdin on /dev/null and stdout sent to stderr,
 * so nothing they print or start can reach the channel.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define BASH	"/bin/bash"
#define OUT_FD	3
#define OUT_MAX (64u << 20)

/* ---- the directives taken from dkms.conf ---- */
enum directive {
	D_PACKAGE_NAME,
	D_PACKAGE_VERSION,
	D_BUILT_MODULE_NAME,
	D_BUILT_MODULE_LOCATION,
	D_DEST_MODULE_NAME,
	D_DEST_MODULE_LOCATION,
	D_STRIP,
	D_MAKE,
	D_MAKE_MATCH,
	D_PATCH,
	D_PATCH_MATCH,
	D_CLEAN,
	D_PRE_BUILD,
	D_POST_BUILD,
	D_PRE_INSTALL,
	D_POST_INSTALL,
	D_POST_ADD,
	D_POST_REMOVE,
	D_AUTOINSTALL,
	D_BUILD_DEPENDS,
	D_BUILD_DEPENDS_REBUILD,
	D_EXCL_KERNEL,
	D_EXCL_KERNEL_MIN,
	D_EXCL_KERNEL_MAX,
	D_EXCL_ARCH,
	D_EXCL_CONFIG,
	D_NO_WEAK_MODULES,
	D_OBSOLETE_BY,
	D_DEPRECATED, /* the rest: accepted with a warning */
	D_REMAKE_INITRD = D_DEPRECATED,
	D_MODULES_CONF,
	D_MODULES_CONF_OBSOLETES,
	D_MODULES_CONF_ALIAS_TYPE,
	D_MODULES_CONF_OBSOLETE_ONLY,
	D_COUNT
};

static const char *const directive_names[D_COUNT] = {
	"PACKAGE_NAME",
	"PACKAGE_VERSION",
	"BUILT_MODULE_NAME",
	"BUILT_MODULE_LOCATION",
	"DEST_MODULE_NAME",
	"DEST_MODULE_LOCATION",
	"STRIP",
	"MAKE",
	"MAKE_MATCH",
	"PATCH",
	"PATCH_MATCH",
	"CLEAN",
	"PRE_BUILD",
	"POST_BUILD",
	"PRE_INSTALL",
	"POST_INSTALL",
	"POST_ADD",
	"POST_REMOVE",
	"AUTOINSTALL",
	"BUILD_DEPENDS",
	"BUILD_DEPENDS_REBUILD",
	"BUILD_EXCLUSIVE_KERNEL",
	"BUILD_EXCLUSIVE_KERNEL_MIN",
	"BUILD_EXCLUSIVE_KERNEL_MAX",
	"BUILD_EXCLUSIVE_ARCH",
	"BUILD_EXCLUSIVE_CONFIG",
	"NO_WEAK_MODULES",
	"OBSOLETE_BY",
	"REMAKE_INITRD",
	"MODULES_CONF",
	"MODULES_CONF_OBSOLETES",
	"MODULES_CONF_ALIAS_TYPE",
	"MODULES_CONF_OBSOLETE_ONLY",
};

/* The elements of one variable, in index order, as bash lists them. */
struct var_entry {
	unsigned long idx;
	char *val;
};

struct var_values {
	struct var_entry *e;
	size_t n;
};

static void var_values_free(struct var_values *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < v[i].n; j++)
			free(v[i].e[j].val);
		free(v[i].e);
	}
}

static const char *val_at(const struct var_values *v, unsigned long idx)
{
	for (size_t j = 0; j < v->n; j++)
		if (v->e[j].idx == idx)
			return v->e[j].val;
	return NULL;
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* ---- running bash ---- */

/* Source the file named by $__dkms_f when it exists: fd 3 closed, CRLF read as LF. */
#define SH_SOURCE                                                                                            \
	"if [[ -e $__dkms_f ]]; then\n"                                                                      \
	"  [[ $__dkms_f == */* ]] || __dkms_f=./$__dkms_f\n"                                                 \
	"  builtin printf '%s\\0%s\\0%s\\0' @file 0 \"$__dkms_f\" >&3\n"                                     \
	"  __dkms_t=\n"                                                                                      \
	"  IFS= builtin read -r -d '' __dkms_t < \"$__dkms_f\"\n"                                            \
	"  if [[ $__dkms_t == *$'\\r'* ]]; then\n"                                                           \
	"    __dkms_t=${__dkms_t//$'\\r\\n'/$'\\n'}\n"                                                       \
	"    builtin eval \"${__dkms_t%$'\\r'}\" 3>&-\n"                                                     \
	"  else\n"                                                                                           \
	"    builtin source \"$__dkms_f\" 3>&-\n"                                                            \
	"  fi\n"                                                                                             \
	"  builtin set +euo pipefail; IFS=$' \\t\\n'\n"                                                      \
	"fi\n"

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

/*
 * dkms.conf: $1 conf, $2 conf_dir, $3 kernelver, $4 arch, $5 kernel_source_dir,
 * $6 kernel_config, $7 dkms_tree, $8 source_tree, $9 install_tree, $10 module,
 * $11 module_version, $12 number of directives, then NAME VALUE pairs.
 */
#define SH_CONF_HEAD                                                                                         \
	"__dkms_a=(\"$@\"); builtin set --\n"                                                                \
	"kernelver=${__dkms_a[2]} arch=${__dkms_a[3]} kernel_source_dir=${__dkms_a[4]}\n"                    \
	"kernel_config=${__dkms_a[5]} dkms_tree=${__dkms_a[6]} source_tree=${__dkms_a[7]}\n"                 \
	"install_tree=${__dkms_a[8]}\n"                                                                      \
	"builtin unset module module_version\n"                                                              \
	"[[ ${__dkms_a[9]} ]] && module=${__dkms_a[9]}\n"                                                    \
	"[[ ${__dkms_a[10]} ]] && module_version=${__dkms_a[10]}\n"                                          \
	"__dkms_f=${__dkms_a[0]}\n" SH_SOURCE                                                                \
	"__dkms_m=${PACKAGE_NAME:-${__dkms_a[9]}} __dkms_v=${PACKAGE_VERSION:-${__dkms_a[10]}}\n"            \
	"__dkms_k=${__dkms_a[2]} __dkms_ar=${__dkms_a[3]} __dkms_o=()\n"                                     \
	"if [[ $__dkms_m && $__dkms_m != */* ]]; then\n"                                                     \
	"  __dkms_o+=(\"$__dkms_m\")\n"                                                                      \
	"  [[ $__dkms_v && $__dkms_v != */* ]] && __dkms_o+=(\"$__dkms_m-$__dkms_v\")\n"                     \
	"  if [[ $__dkms_k && $__dkms_k != */* && $__dkms_ar != */* ]]; then\n"                              \
	"    [[ $__dkms_v && $__dkms_v != */* ]] &&\n"                                                       \
	"      __dkms_o+=(\"$__dkms_m-$__dkms_v-$__dkms_k\" \"$__dkms_m-$__dkms_v-$__dkms_k-$__dkms_ar\")\n" \
	"    __dkms_o+=(\"$__dkms_m--$__dkms_k\" \"$__dkms_m--$__dkms_k-$__dkms_ar\")\n"                     \
	"  fi\n"                                                                                             \
	"fi\n"                                                                                               \
	"for __dkms_f in \"${__dkms_o[@]}\"; do\n"                                                           \
	"__dkms_f=${__dkms_a[1]}/$__dkms_f.conf\n" SH_SOURCE "done\n"                                        \
	"__dkms_i=12\n"                                                                                      \
	"for ((__dkms_j = 0; __dkms_j < __dkms_a[11]; __dkms_j++)); do\n"                                    \
	"  builtin printf -v \"${__dkms_a[__dkms_i]}\" '%s' \"${__dkms_a[__dkms_i + 1]}\"\n"                 \
	"  ((__dkms_i += 2))\n"                                                                              \
	"done\n"

/* framework.conf and friends: the files are the arguments. */
#define SH_VARS_HEAD                                                                                         \
	"__dkms_a=(\"$@\"); builtin set --\n"                                                                \
	"for __dkms_f in \"${__dkms_a[@]}\"; do\n" SH_SOURCE "done\n"

/* head "unset NAMES\n" SH_EMIT_HEAD NAMES SH_EMIT_TAIL, as one script. */
static char *script_build(const char *head, const char *const *names, size_t n)
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

/* What bash reported: the variables, the last file it started, whether it finished. */
struct bash_result {
	struct var_values *vals; /* one per name */
	char *last_file;
	bool ended;
	int status; /* wait status */
};

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

static void records_parse(const char *buf, size_t len, const char *const *names, size_t n_names,
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
static int bash_eval(const char *script, const char *const *args, size_t n_args, const char *cwd,
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
	records_parse(buf, len, names, n_names, res);
	free(buf);
	return 0;
}

static void bash_result_free(struct bash_result *res, size_t n_names)
{
	if (res->vals)
		var_values_free(res->vals, n_names);
	free(res->vals);
	free(res->last_file);
	res->vals = NULL;
	res->last_file = NULL;
}

static char *status_text(int status)
{
	if (WIFSIGNALED(status))
		return dkms_asprintf("killed by signal %d", WTERMSIG(status));
	return dkms_asprintf("exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static bool valid_identifier(const char *s, size_t len)
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
		if (!valid_identifier(names[i], strlen(names[i])))
			return dkms_err_set(ctx, DKMS_E_FAIL, "cannot read variable '%s': not a bash name",
					    names[i]);
	}
	script = script_build(SH_VARS_HEAD, names, n_names);
	r = bash_eval(script, files, n_files, NULL, names, n_names, &res);
	free(script);
	if (r < 0)
		return dkms_err_set(ctx, DKMS_E_FAIL, "cannot run %s to read %s: %s", BASH,
				    n_files ? files[0] : "(nothing)", strerror(-r));
	if (!res.ended) {
		char *st = status_text(res.status);

		r = dkms_err_set(ctx, DKMS_E_CONF,
				 "%s: bash stopped while reading it (%s); fix or remove the file",
				 res.last_file ? res.last_file
				 : n_files     ? files[0]
					       : "(nothing)",
				 st);
		free(st);
		bash_result_free(&res, n_names);
		return r;
	}
	for (size_t i = 0; i < n_names; i++) {
		const char *v = val_at(&res.vals[i], 0);

		values[i] = v ? dkms_strdup(v) : NULL;
	}
	bash_result_free(&res, n_names);
	return 0;
}

/* ---- dkms.conf ---- */

static int conf_err(struct dkms_ctx *ctx, const char *path, const char *fmt, ...) DKMS_ATTR_PRINTF(3, 4);
static int conf_err(struct dkms_ctx *ctx, const char *path, const char *fmt, ...)
{
	char msg[1536];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return dkms_err_set(ctx, DKMS_E_CONF, "%s: %s", path, msg);
}

/* A module or package name: one path component, no "..", no blanks or control characters. */
static bool valid_word(const char *s)
{
	if (!dkms_valid_name(s) || strstr(s, ".."))
		return false;
	for (; *s; s++)
		if (isspace((unsigned char)*s))
			return false;
	return true;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && !strcmp(s + ls - lx, suffix);
}

static bool is_yes(const char *s)
{
	return s && !strcasecmp(s, "yes");
}

/* /kernel..., /updates... or /extra..., without ".." components. */
static bool dest_location_ok(const char *s)
{
	return (!strncmp(s, "/kernel", 7) || !strncmp(s, "/updates", 8) || !strncmp(s, "/extra", 6)) &&
	       dkms_valid_relpath(s + 1);
}

static char *dest_location_norm(const char *s)
{
	char *r = dkms_strdup(s);
	size_t n = strlen(r);

	while (n > 1 && r[n - 1] == '/')
		r[--n] = '\0';
	return r;
}

/* BUILT_MODULE_LOCATION as "" or "dir/", without leading "./". NULL when it is bad. */
static char *built_location_norm(const char *s)
{
	if (!s)
		return dkms_strdup("");
	if (*s == '/' || !dkms_valid_relpath(s))
		return NULL;
	for (;;) {
		if (s[0] == '.' && s[1] == '/')
			s += 2;
		else if (s[0] == '/')
			s++;
		else
			break;
	}
	if (!*s || !strcmp(s, "."))
		return dkms_strdup("");
	return has_suffix(s, "/") ? dkms_strdup(s) : dkms_asprintf("%s/", s);
}

static bool strip_value(const struct var_values *v, unsigned long idx)
{
	const char *s = nonempty(val_at(v, idx));

	if (!s)
		s = nonempty(val_at(v, 0));
	return !s || (*s != 'n' && *s != 'N');
}

/* Fill conf->mods from the per-module arrays; their indices are those of BUILT_MODULE_NAME. */
static int conf_set_mods(struct dkms_ctx *ctx, struct dkms_conf *c, const struct var_values *vals)
{
	static const enum directive per_mod[] = {
		D_BUILT_MODULE_LOCATION,
		D_DEST_MODULE_NAME,
		D_DEST_MODULE_LOCATION,
		D_STRIP,
	};
	const struct var_values *names = &vals[D_BUILT_MODULE_NAME];
	const char *override =
		nonempty(ctx->opts.dest_location) ? ctx->opts.dest_location : ctx->dest_override;
	size_t n = names->n ? names->n : 1;

	for (size_t d = 0; d < DKMS_ARRAY_SIZE(per_mod); d++) {
		const struct var_values *v = &vals[per_mod[d]];

		for (size_t j = 0; j < v->n; j++) {
			unsigned long i = v->e[j].idx;

			if (names->n ? val_at(names, i) != NULL : i == 0)
				continue;
			if (per_mod[d] != D_STRIP)
				return conf_err(
					ctx, c->path,
					"%s[%lu] is set but BUILT_MODULE_NAME[%lu] is not; give each module "
					"its BUILT_MODULE_NAME with the same index",
					directive_names[per_mod[d]], i, i);
			/* dkms does not count STRIP[] as modules: ignored, like there */
			dkms_log(ctx, DKMS_LOG_WARN,
				 "%s: STRIP[%lu] is set but BUILT_MODULE_NAME[%lu] is not; ignored", c->path,
				 i, i);
		}
	}
	c->mods = calloc(n, sizeof(*c->mods));
	if (!c->mods)
		abort();
	c->n_mods = n;
	for (size_t j = 0; j < n; j++) {
		struct dkms_modfile *mf = &c->mods[j];
		unsigned long i = names->n ? names->e[j].idx : 0;
		const char *bn = names->n ? nonempty(names->e[j].val) : NULL;
		const char *dn = nonempty(val_at(&vals[D_DEST_MODULE_NAME], i));
		const char *dl = nonempty(val_at(&vals[D_DEST_MODULE_LOCATION], i));
		const char *bl = nonempty(val_at(&vals[D_BUILT_MODULE_LOCATION], i));

		if (!bn && n > 1)
			return conf_err(ctx, c->path,
					"BUILT_MODULE_NAME[%lu] is empty; name the module it builds", i);
		if (!bn)
			bn = c->name;
		if (!valid_word(bn) || has_suffix(bn, ".ko") || has_suffix(bn, ".o"))
			return conf_err(
				ctx, c->path,
				"BUILT_MODULE_NAME[%lu]=\"%s\" is not a module name (no '/', '..', blanks, "
				"or .ko/.o suffix)",
				i, bn);
		mf->built_name = dkms_strdup(bn);
		mf->built_location = built_location_norm(bl);
		if (!mf->built_location)
			return conf_err(
				ctx, c->path,
				"BUILT_MODULE_LOCATION[%lu]=\"%s\" must be a relative path inside the build "
				"directory, without '..'",
				i, bl);
		if (!dn)
			dn = mf->built_name;
		if (!valid_word(dn) || has_suffix(dn, ".ko") || has_suffix(dn, ".o"))
			return conf_err(
				ctx, c->path,
				"DEST_MODULE_NAME[%lu]=\"%s\" is not a module name (no '/', '..', blanks, "
				"or .ko/.o suffix)",
				i, dn);
		mf->dest_name = dkms_strdup(dn);
		if (dl && !dest_location_ok(dl))
			return conf_err(ctx, c->path,
					"DEST_MODULE_LOCATION[%lu]=\"%s\" must begin with /kernel, /updates "
					"or /extra "
					"and have no '..'",
					i, dl);
		if (!dl && !override)
			return conf_err(ctx, c->path,
					"DEST_MODULE_LOCATION[%lu] is not set; add "
					"DEST_MODULE_LOCATION[%lu]=\"/updates\"",
					i, i);
		mf->dest_location = dest_location_norm(override ? override : dl);
		mf->strip = strip_value(&vals[D_STRIP], i);
	}
	for (size_t j = 0; j < n; j++) {
		for (size_t k = 0; k < j; k++) {
			if (!strcmp(c->mods[j].dest_name, c->mods[k].dest_name))
				return conf_err(ctx, c->path,
						"DEST_MODULE_NAME \"%s\" is used by two modules; "
						"give each an own DEST_MODULE_NAME",
						c->mods[j].dest_name);
			if (!strcmp(c->mods[j].built_name, c->mods[k].built_name) &&
			    !strcmp(c->mods[j].built_location, c->mods[k].built_location))
				return conf_err(ctx, c->path, "BUILT_MODULE_NAME \"%s%s\" is listed twice",
						c->mods[j].built_location, c->mods[j].built_name);
		}
	}
	return 0;
}

/* MAKE: the last MAKE[i] whose MAKE_MATCH[i] matches, else MAKE[0] without MAKE_MATCH[0]. */
static int conf_set_make(struct dkms_ctx *ctx, struct dkms_conf *c, const struct var_values *vals,
			 const char *kver)
{
	const struct var_values *make = &vals[D_MAKE], *match = &vals[D_MAKE_MATCH];
	const char *chosen = NULL;

	if (!nonempty(val_at(match, 0)))
		chosen = nonempty(val_at(make, 0));
	for (size_t j = 0; j < make->n; j++) {
		const char *re = nonempty(val_at(match, make->e[j].idx));
		int m;

		if (!*make->e[j].val || !re)
			continue;
		m = dkms_regex_match(re, kver);
		if (m < 0)
			return conf_err(ctx, c->path,
					"MAKE_MATCH[%lu]=\"%s\" is not a valid regular expression",
					make->e[j].idx, re);
		if (m)
			chosen = make->e[j].val;
	}
	c->make = dkms_strdup(chosen);
	return 0;
}

static int conf_set_patches(struct dkms_ctx *ctx, struct dkms_conf *c, const struct var_values *vals,
			    const char *kver)
{
	const struct var_values *patch = &vals[D_PATCH];

	for (size_t j = 0; j < patch->n; j++) {
		const char *p = patch->e[j].val,
			   *re = nonempty(val_at(&vals[D_PATCH_MATCH], patch->e[j].idx));
		int m = 1;

		if (!*p)
			continue;
		if (!dkms_valid_name(p) || strstr(p, ".."))
			return conf_err(ctx, c->path,
					"PATCH[%lu]=\"%s\" must name a file in the patches/ directory "
					"(no '/' or '..')",
					patch->e[j].idx, p);
		if (re)
			m = dkms_regex_match(re, kver);
		if (m < 0)
			return conf_err(ctx, c->path,
					"PATCH_MATCH[%lu]=\"%s\" is not a valid regular expression",
					patch->e[j].idx, re);
		if (m)
			dkms_strv_push(&c->patches, &c->n_patches, p);
	}
	return 0;
}

/* BUILD_DEPENDS: every element, split at blanks (dkms joins and splits them the same way). */
static int conf_set_depends(struct dkms_ctx *ctx, struct dkms_conf *c, const struct var_values *v)
{
	for (size_t j = 0; j < v->n; j++) {
		char *copy = dkms_strdup(v->e[j].val), *save = NULL;

		for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
			if (!valid_word(t)) {
				int r = conf_err(ctx, c->path,
						 "BUILD_DEPENDS[%lu] names \"%s\", which is not a "
						 "module name",
						 v->e[j].idx, t);

				free(copy);
				return r;
			}
			dkms_strv_push(&c->build_depends, &c->n_build_depends, t);
		}
		free(copy);
	}
	return 0;
}

static void conf_check_bool(struct dkms_ctx *ctx, const struct dkms_conf *c, const struct var_values *vals,
			    enum directive d)
{
	const char *s = nonempty(val_at(&vals[d], 0));

	if (s && strcasecmp(s, "yes") && strcasecmp(s, "no"))
		dkms_log(ctx, DKMS_LOG_WARN, "%s: %s=\"%s\" is neither yes nor no; taken as no", c->path,
			 directive_names[d], s);
}

static char *scalar(const struct var_values *vals, enum directive d)
{
	return dkms_strdup(nonempty(val_at(&vals[d], 0)));
}

static int conf_from_values(struct dkms_ctx *ctx, struct dkms_conf *c, const struct var_values *vals,
			    const char *kver)
{
	int r;

	c->name = scalar(vals, D_PACKAGE_NAME);
	c->version = scalar(vals, D_PACKAGE_VERSION);
	if (!c->name)
		return conf_err(ctx, c->path, "PACKAGE_NAME is not set; add PACKAGE_NAME=\"<module name>\"");
	if (!c->version)
		return conf_err(ctx, c->path,
				"PACKAGE_VERSION is not set; add PACKAGE_VERSION=\"<version>\"");
	if (!valid_word(c->name))
		return conf_err(ctx, c->path,
				"PACKAGE_NAME=\"%s\" is not a valid name (no '/', '..', blanks)", c->name);
	if (!valid_word(c->version))
		return conf_err(ctx, c->path,
				"PACKAGE_VERSION=\"%s\" is not a valid version (no '/', '..', blanks)",
				c->version);
	r = conf_set_mods(ctx, c, vals);
	if (!r)
		r = conf_set_make(ctx, c, vals, kver);
	if (!r)
		r = conf_set_patches(ctx, c, vals, kver);
	if (!r)
		r = conf_set_depends(ctx, c, &vals[D_BUILD_DEPENDS]);
	if (r)
		return r;
	c->clean = scalar(vals, D_CLEAN);
	c->pre_build = scalar(vals, D_PRE_BUILD);
	c->post_build = scalar(vals, D_POST_BUILD);
	c->pre_install = scalar(vals, D_PRE_INSTALL);
	c->post_install = scalar(vals, D_POST_INSTALL);
	c->post_add = scalar(vals, D_POST_ADD);
	c->post_remove = scalar(vals, D_POST_REMOVE);
	c->excl_kernel = scalar(vals, D_EXCL_KERNEL);
	c->excl_kernel_min = scalar(vals, D_EXCL_KERNEL_MIN);
	c->excl_kernel_max = scalar(vals, D_EXCL_KERNEL_MAX);
	c->excl_arch = scalar(vals, D_EXCL_ARCH);
	c->excl_config = scalar(vals, D_EXCL_CONFIG);
	c->obsolete_by = scalar(vals, D_OBSOLETE_BY);
	c->autoinstall = is_yes(val_at(&vals[D_AUTOINSTALL], 0));
	c->build_depends_rebuild = is_yes(val_at(&vals[D_BUILD_DEPENDS_REBUILD], 0));
	c->no_weak_modules = is_yes(val_at(&vals[D_NO_WEAK_MODULES], 0));
	conf_check_bool(ctx, c, vals, D_AUTOINSTALL);
	conf_check_bool(ctx, c, vals, D_BUILD_DEPENDS_REBUILD);
	conf_check_bool(ctx, c, vals, D_NO_WEAK_MODULES);
	for (int d = D_DEPRECATED; d < D_COUNT; d++)
		if (vals[d].n)
			dkms_log(ctx, DKMS_LOG_WARN, "%s: %s is deprecated and ignored", c->path,
				 directive_names[d]);
	return 0;
}

/* --directive NAME=value or NAME[i]=value: the name part must be a bash variable or element. */
static bool directive_name_ok(const char *s, size_t len)
{
	const char *br = memchr(s, '[', len);

	if (!br)
		return valid_identifier(s, len);
	if (!valid_identifier(s, (size_t)(br - s)) || s[len - 1] != ']' || br + 2 > s + len - 1)
		return false;
	for (const char *p = br + 1; p < s + len - 1; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

static char *absolute_path(const char *path)
{
	char *cwd, *r;

	if (path[0] == '/')
		return dkms_strdup(path);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return dkms_strdup(path);
	r = dkms_path_join(cwd, path);
	free(cwd);
	return r;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return dkms_strdup(".");
	if (slash == path)
		return dkms_strdup("/");
	return dkms_asprintf("%.*s", (int)(slash - path), path);
}

/* The positional parameters of SH_CONF_HEAD; pointers into vars, ctx and directives. */
static const char **conf_args(struct dkms_ctx *ctx, const char *path, const struct dkms_conf_vars *vars,
			      const char *ksrc, const char *kconfig, char *n_dir, char **dir_names,
			      size_t *n_args)
{
	const struct dkms_opts *o = &ctx->opts;
	const char **a = calloc(12 + 2 * o->n_directives + 1, sizeof(*a));
	size_t k = 0;

	if (!a)
		abort();
	a[k++] = path;
	a[k++] = ctx->conf_dir ? ctx->conf_dir : "/etc/dkms";
	a[k++] = vars->kernelver ? vars->kernelver : "";
	a[k++] = vars->arch ? vars->arch : "";
	a[k++] = ksrc;
	a[k++] = kconfig;
	a[k++] = vars->dkms_tree ? vars->dkms_tree : ctx->dkms_tree ? ctx->dkms_tree : "";
	a[k++] = ctx->source_tree ? ctx->source_tree : "";
	a[k++] = ctx->install_tree ? ctx->install_tree : "";
	a[k++] = vars->module ? vars->module : "";
	a[k++] = vars->module_version ? vars->module_version : "";
	a[k++] = n_dir;
	for (size_t i = 0; i < o->n_directives; i++) {
		const char *eq = strchr(o->directives[i], '=');

		a[k++] = dir_names[i];
		a[k++] = eq + 1;
	}
	*n_args = k;
	return a;
}

/* Check opts.directives and split their names off; DKMS_E_USAGE on a bad one. */
static int directives_split(struct dkms_ctx *ctx, char ***names)
{
	const struct dkms_opts *o = &ctx->opts;

	*names = calloc(o->n_directives + 1, sizeof(**names));
	if (!*names)
		abort();
	for (size_t i = 0; i < o->n_directives; i++) {
		const char *d = o->directives[i], *eq = d ? strchr(d, '=') : NULL;

		if (!eq || !directive_name_ok(d, (size_t)(eq - d)))
			return dkms_err_set(ctx, DKMS_E_USAGE,
					    "--directive '%s': expected NAME=value or NAME[index]=value",
					    d ? d : "");
		(*names)[i] = dkms_asprintf("%.*s", (int)(eq - d), d);
		dkms_log(ctx, DKMS_LOG_DEBUG, "DIRECTIVE: %s", d);
	}
	return 0;
}

static int conf_evaluate(struct dkms_ctx *ctx, struct dkms_conf *c, const struct dkms_conf_vars *vars,
			 struct bash_result *res)
{
	const char *kver = vars->kernelver ? vars->kernelver : "";
	char *ksrc = vars->kernel_source_dir
			     ? dkms_strdup(vars->kernel_source_dir)
			     : dkms_asprintf("%s/%s/build",
					     ctx->install_tree ? ctx->install_tree : "/lib/modules", kver);
	char *kconfig =
		vars->kernel_config ? dkms_strdup(vars->kernel_config) : dkms_path_join(ksrc, ".config");
	char *n_dir = dkms_asprintf("%zu", ctx->opts.n_directives);
	char **dir_names = NULL, *script = NULL, *cwd = dir_of(c->path);
	const char **args = NULL;
	size_t n_args;
	int r;

	r = directives_split(ctx, &dir_names);
	if (!r) {
		args = conf_args(ctx, c->path, vars, ksrc, kconfig, n_dir, dir_names, &n_args);
		script = script_build(SH_CONF_HEAD, directive_names, D_COUNT);
		r = bash_eval(script, args, n_args, cwd, directive_names, D_COUNT, res);
		if (r < 0)
			r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot run %s to read %s: %s", BASH, c->path,
					 strerror(-r));
	}
	if (!r && !res->ended) {
		char *st = status_text(res->status);

		r = conf_err(
			ctx, res->last_file ? res->last_file : c->path,
			"bash stopped while reading it (%s), so no directive could be read; fix the file",
			st);
		free(st);
	}
	dkms_strv_free(dir_names, ctx->opts.n_directives);
	free(args);
	free(script);
	free(cwd);
	free(n_dir);
	free(kconfig);
	free(ksrc);
	return r;
}

int dkms_conf_load(struct dkms_ctx *ctx, const char *path, const struct dkms_conf_vars *vars,
		   struct dkms_conf **out)
{
	struct bash_result res = { 0 };
	struct dkms_conf *c;
	struct stat st;
	int r;

	*out = NULL;
	if (!path)
		return dkms_err_set(ctx, DKMS_E_USAGE, "no dkms.conf given");
	if (stat(path, &st) < 0 || access(path, R_OK) < 0)
		return dkms_err_set(ctx, DKMS_E_USAGE,
				    "%s: cannot read dkms.conf (%s); check the module's source "
				    "directory or the -c option",
				    path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return dkms_err_set(ctx, DKMS_E_USAGE, "%s: not a regular file; give the path of a dkms.conf",
				    path);
	if (st.st_size == 0)
		return conf_err(ctx, path,
				"the file is empty; it needs at least PACKAGE_NAME and PACKAGE_VERSION");
	if (nonempty(ctx->opts.dest_location) &&
	    (ctx->opts.dest_location[0] != '/' || !dkms_valid_relpath(ctx->opts.dest_location + 1)))
		return dkms_err_set(ctx, DKMS_E_USAGE,
				    "DEST_MODULE_LOCATION override \"%s\" must be an absolute "
				    "path under the kernel's module directory, without '..'",
				    ctx->opts.dest_location);
	c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	c->path = absolute_path(path);
	r = conf_evaluate(ctx, c, vars, &res);
	if (!r)
		r = conf_from_values(ctx, c, res.vals, vars->kernelver ? vars->kernelver : "");
	bash_result_free(&res, D_COUNT);
	if (r) {
		dkms_conf_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void dkms_conf_free(struct dkms_conf *conf)
{
	if (!conf)
		return;
	for (size_t i = 0; i < conf->n_mods; i++) {
		free(conf->mods[i].built_name);
		free(conf->mods[i].built_location);
		free(conf->mods[i].dest_name);
		free(conf->mods[i].dest_location);
	}
	free(conf->mods);
	dkms_strv_free(conf->patches, conf->n_patches);
	dkms_strv_free(conf->build_depends, conf->n_build_depends);
	free(conf->path);
	free(conf->name);
	free(conf->version);
	free(conf->make);
	free(conf->pre_build);
	free(conf->post_build);
	free(conf->pre_install);
	free(conf->post_install);
	free(conf->post_add);
	free(conf->post_remove);
	free(conf->clean);
	free(conf->excl_kernel);
	free(conf->excl_kernel_min);
	free(conf->excl_kernel_max);
	free(conf->excl_arch);
	free(conf->excl_config);
	free(conf->obsolete_by);
	free(conf);
}

/* ---- the per-context cache ---- */

enum { KEY_M, KEY_V, KEY_KVER, KEY_ARCH, KEY_TREE, KEY_PATH, KEY_COUNT };

struct conf_cache_entry {
	char *key[KEY_COUNT];
	struct dkms_conf *conf; /* NULL: the conf is bad, err says why */
	char *err;
};

struct dkms_conf_cache {
	struct conf_cache_entry *e;
	size_t n;
};

static bool key_eq(char *const *a, const char *const *b)
{
	for (int i = 0; i < KEY_COUNT; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

int dkms_conf_for(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kernel *k,
		  const char *job_tree, const struct dkms_conf **out)
{
	struct dkms_conf_cache *cache;
	struct conf_cache_entry *e;
	struct dkms_conf *conf = NULL;
	char *path = dkms_tree_conf_path(ctx, m, v);
	const char *tree = job_tree ? job_tree : ctx->dkms_tree;
	const char *key[KEY_COUNT] = { m, v, k->version, k->arch ? k->arch : "", tree ? tree : "", path };
	int r;

	*out = NULL;
	if (!ctx->conf_cache) {
		ctx->conf_cache = calloc(1, sizeof(*ctx->conf_cache));
		if (!ctx->conf_cache)
			abort();
	}
	cache = ctx->conf_cache;
	for (size_t i = 0; i < cache->n; i++) {
		e = &cache->e[i];
		if (!key_eq(e->key, key))
			continue;
		free(path);
		if (!e->conf)
			return dkms_err_set(ctx, DKMS_E_CONF, "%s", e->err);
		*out = e->conf;
		return 0;
	}
	struct dkms_conf_vars vars = {
		.kernelver = k->version,
		.arch = k->arch,
		.kernel_source_dir = k->source_dir,
		.kernel_config = k->config_path,
		.dkms_tree = tree,
		.module = m,
		.module_version = v,
	};

	r = dkms_conf_load(ctx, path, &vars, &conf);
	if (r && r != DKMS_E_CONF) {
		free(path); /* a missing file may appear later: not cached */
		return r;
	}
	e = realloc(cache->e, (cache->n + 1) * sizeof(*cache->e));
	if (!e)
		abort();
	cache->e = e;
	e = &cache->e[cache->n++];
	for (int i = 0; i < KEY_COUNT; i++)
		e->key[i] = dkms_strdup(key[i]);
	free(path);
	e->conf = conf;
	e->err = r ? dkms_strdup(ctx->err) : NULL;
	*out = conf;
	return r;
}

void dkms_conf_cache_free(struct dkms_ctx *ctx)
{
	struct dkms_conf_cache *cache = ctx->conf_cache;

	if (!cache)
		return;
	for (size_t i = 0; i < cache->n; i++) {
		for (int j = 0; j < KEY_COUNT; j++)
			free(cache->e[i].key[j]);
		dkms_conf_free(cache->e[i].conf);
		free(cache->e[i].err);
	}
	free(cache->e);
	free(cache);
	ctx->conf_cache = NULL;
}

/* ---- BUILD_EXCLUSIVE ---- */

/* Is option set to y or m in the .config text? */
static bool kconfig_set(const char *text, const char *option)
{
	size_t len = strlen(option);

	for (const char *line = text; line && *line;) {
		if (!strncmp(line, option, len) && line[len] == '=' &&
		    (line[len + 1] == 'y' || line[len + 1] == 'm'))
			return true;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

static int excluded(struct dkms_ctx *ctx, const struct dkms_conf *c, const char *kver, const char *arch,
		    const char *fmt, ...) DKMS_ATTR_PRINTF(5, 6);
static int excluded(struct dkms_ctx *ctx, const struct dkms_conf *c, const char *kver, const char *arch,
		    const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return dkms_err_set(ctx, DKMS_E_EXCLUDED, "%s/%s is not built for kernel %s (%s): %s (%s)", c->name,
			    c->version, kver, arch, why, c->path);
}

static int check_regex(struct dkms_ctx *ctx, const struct dkms_conf *c, const char *directive, const char *re,
		       const char *s, const char *kver, const char *arch)
{
	int m = dkms_regex_match(re, s);

	if (m < 0)
		return conf_err(ctx, c->path, "%s=\"%s\" is not a valid regular expression", directive, re);
	if (!m)
		return excluded(ctx, c, kver, arch, "%s=\"%s\" does not match %s", directive, re, s);
	return 0;
}

static int check_config(struct dkms_ctx *ctx, const struct dkms_conf *c, const char *kver, const char *arch,
			const char *config_path)
{
	char *text = NULL, *copy, *save = NULL;
	int r = 0;

	if (!config_path || dkms_read_file(config_path, &text, NULL) < 0) {
		dkms_log(ctx, DKMS_LOG_DEBUG,
			 "%s/%s: no kernel .config for %s, BUILD_EXCLUSIVE_CONFIG not checked", c->name,
			 c->version, kver);
		return 0;
	}
	copy = dkms_strdup(c->excl_config);
	for (char *t = strtok_r(copy, " \t\n", &save); t && !r; t = strtok_r(NULL, " \t\n", &save)) {
		bool neg = *t == '!';

		if (kconfig_set(text, t + neg) == neg)
			r = excluded(ctx, c, kver, arch, "BUILD_EXCLUSIVE_CONFIG=\"%s\" needs %s %s in %s",
				     c->excl_config, t + neg, neg ? "unset" : "set to y or m", config_path);
	}
	free(copy);
	free(text);
	return r;
}

int dkms_conf_check_exclusive(struct dkms_ctx *ctx, const struct dkms_conf *conf, const char *kver,
			      const char *arch, const char *config_path)
{
	/* upstream dkms: OBSOLETE_BY is the highest kernel unless BUILD_EXCLUSIVE_KERNEL_MAX says */
	const char *max = conf->excl_kernel_max ? conf->excl_kernel_max : conf->obsolete_by;
	const char *max_name = conf->excl_kernel_max ? "BUILD_EXCLUSIVE_KERNEL_MAX" : "OBSOLETE_BY";
	int r = 0;

	if (!arch)
		arch = ctx->machine_arch ? ctx->machine_arch : "";
	if (conf->excl_kernel)
		r = check_regex(ctx, conf, "BUILD_EXCLUSIVE_KERNEL", conf->excl_kernel, kver, kver, arch);
	/* like upstream's VER() string comparison: the whole kernel release against the bound */
	if (!r && conf->excl_kernel_min && dkms_vercmp(kver, conf->excl_kernel_min) < 0)
		r = excluded(ctx, conf, kver, arch,
			     "the kernel is older than BUILD_EXCLUSIVE_KERNEL_MIN=\"%s\"",
			     conf->excl_kernel_min);
	if (!r && max && dkms_vercmp(kver, max) > 0)
		r = excluded(ctx, conf, kver, arch, "the kernel is newer than %s=\"%s\"", max_name, max);
	if (!r && conf->excl_arch)
		r = check_regex(ctx, conf, "BUILD_EXCLUSIVE_ARCH", conf->excl_arch, arch, kver, arch);
	if (!r && conf->excl_config)
		r = check_config(ctx, conf, kver, arch, config_path);
	return r;
}
