/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers shared by every layer: strings, paths, files, processes. */
#include "internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void *dkms_oom(void)
{
	fputs("dkms: out of memory\n", stderr);
	abort();
}

char *dkms_strdup(const char *s)
{
	char *r;

	if (!s)
		return NULL;
	r = strdup(s);
	return r ? r : dkms_oom();
}

char *dkms_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *r;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&r, fmt, ap);
	va_end(ap);
	return n < 0 ? dkms_oom() : r;
}

char *dkms_path_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (!*b)
		return dkms_asprintf("%.*s", (int)la, a);
	if (la == 1 && a[0] == '/')
		return dkms_asprintf("/%s", b);
	return dkms_asprintf("%.*s/%s", (int)la, a, b);
}

void dkms_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int dkms_strv_push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(**v));

	if (!nv)
		dkms_oom();
	nv[*n] = dkms_strdup(s);
	nv[*n + 1] = NULL;
	*v = nv;
	(*n)++;
	return 0;
}

bool dkms_strv_contains(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

int dkms_strv_push_unique(char ***v, size_t *n, const char *s)
{
	if (dkms_strv_contains(*v, *n, s))
		return 0;
	return dkms_strv_push(v, n, s);
}

bool dkms_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool dkms_is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool dkms_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int dkms_mkdir_p(const char *path, mode_t mode)
{
	char *p = dkms_strdup(path);
	int r = 0;

	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			r = -errno;
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	if (!r && !dkms_is_dir(path))
		r = -ENOTDIR;
	free(p);
	return r;
}

static int rm_rf_at(int dfd, const char *name)
{
	struct stat st;
	int r = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;

	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);

	if (!d) {
		close(fd);
		return -errno;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		int rr = rm_rf_at(fd, e->d_name);

		if (rr && !r)
			r = rr;
	}
	closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && !r)
		r = -errno;
	return r;
}

int dkms_rm_rf(const char *path)
{
	return rm_rf_at(AT_FDCWD, path);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* A temporary name next to path, so that rename() is atomic. */
static char *temp_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	int dlen = slash ? (int)(slash - path) : 0;
	const char *base = slash ? slash + 1 : path;

	if (!slash)
		return dkms_asprintf(".%s.dkms-tmp.%d", base, (int)getpid());
	return dkms_asprintf("%.*s/.%s.dkms-tmp.%d", dlen, path, base, (int)getpid());
}

int dkms_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0 && errno != EINVAL)
		r = -errno;
	close(fd);
	return r;
}

static int fsync_parent(const char *path)
{
	char *d = dkms_strdup(path);
	char *slash = strrchr(d, '/');
	int r;

	if (slash == d)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(d, ".");
	r = dkms_fsync_dir(d);
	free(d);
	return r;
}

/* Write what fill() produces into a temp file, fsync it, rename it over path. */
static int write_atomic(const char *path, mode_t mode, int (*fill)(int fd, void *data), void *data)
{
	char *tmp = temp_name(path);
	int fd, r;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		r = -errno;
		free(tmp);
		return r;
	}
	r = fill(fd, data);
	if (!r && fchmod(fd, mode) < 0)
		r = -errno;
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	else
		fsync_parent(path);
	free(tmp);
	return r;
}

struct buf_src {
	const void *buf;
	size_t len;
};

static int fill_buf(int fd, void *data)
{
	struct buf_src *b = data;

	return write_all(fd, b->buf, b->len);
}

int dkms_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
	struct buf_src b = { buf, len };

	return write_atomic(path, mode, fill_buf, &b);
}

static int fill_copy(int fd, void *data)
{
	int in = *(int *)data;
	char buf[65536];

	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		int r = write_all(fd, buf, (size_t)n);

		if (r)
			return r;
	}
}

int dkms_copy_file(const char *src, const char *dst, mode_t mode)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	int r;

	if (in < 0)
		return -errno;
	r = write_atomic(dst, mode, fill_copy, &in);
	close(in);
	return r;
}

int dkms_read_fd(int fd, size_t max, char **buf, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	int r = 0;

	if (!b)
		dkms_oom();
	for (;;) {
		if (cap - n < 1024) {
			cap *= 2;
			b = realloc(b, cap);
			if (!b)
				dkms_oom();
		}
		ssize_t got = read(fd, b + n, cap - n - 1);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			r = -errno;
		else if (got > 0 && n + (size_t)got > max)
			r = -EFBIG;
		if (got <= 0 || r)
			break;
		n += (size_t)got;
	}
	b[n] = '\0';
	*buf = b;
	if (len)
		*len = n;
	return r;
}

int dkms_read_file(const char *path, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = dkms_read_fd(fd, SIZE_MAX, buf, len);
	close(fd);
	if (r) {
		free(*buf);
		*buf = NULL;
	}
	return r;
}

int dkms_symlink_atomic(const char *target, const char *linkpath)
{
	char *tmp = temp_name(linkpath);
	int r = 0;

	unlink(tmp);
	if (symlink(target, tmp) < 0)
		r = -errno;
	else if (rename(tmp, linkpath) < 0) {
		r = -errno;
		unlink(tmp);
	}
	if (!r)
		fsync_parent(linkpath);
	free(tmp);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dkms_list_dir(const char *dir, char ***names, size_t *n)
{
	DIR *d = opendir(dir);
	char **v = NULL;
	size_t c = 0;

	*names = NULL;
	*n = 0;
	if (!d)
		return -errno;
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		dkms_strv_push(&v, &c, e->d_name);
	}
	closedir(d);
	if (c)
		qsort(v, c, sizeof(*v), cmp_str);
	*names = v;
	*n = c;
	return 0;
}

int dkms_files_equal(const char *a, const char *b)
{
	int fa = open(a, O_RDONLY | O_CLOEXEC), fb = -1;
	struct stat sa, sb;
	int r = 1;

	if (fa < 0)
		return -errno;
	fb = open(b, O_RDONLY | O_CLOEXEC);
	if (fb < 0) {
		r = -errno;
		goto out;
	}
	if (fstat(fa, &sa) < 0 || fstat(fb, &sb) < 0) {
		r = -errno;
		goto out;
	}
	if (sa.st_size != sb.st_size) {
		r = 0;
		goto out;
	}
	for (;;) {
		char ba[32768], bb[32768];
		ssize_t na = read(fa, ba, sizeof(ba));

		if (na < 0) {
			r = -errno;
			break;
		}
		if (na == 0)
			break;
		ssize_t got = 0;

		while (got < na) {
			ssize_t nb = read(fb, bb + got, (size_t)(na - got));

			if (nb <= 0) {
				r = nb < 0 ? -errno : 0;
				goto out;
			}
			got += nb;
		}
		if (memcmp(ba, bb, (size_t)na)) {
			r = 0;
			break;
		}
	}
out:
	close(fa);
	if (fb >= 0)
		close(fb);
	return r;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

bool dkms_valid_name(const char *s)
{
	return s && *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..") && !has_control(s);
}

bool dkms_has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && !strcmp(s + ls - lx, suffix);
}

bool dkms_valid_relpath(const char *s)
{
	if (!s || *s == '/' || has_control(s))
		return false;
	for (const char *p = s; *p;) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += len;
		while (*p == '/')
			p++;
	}
	return true;
}

bool dkms_valid_word(const char *s, const char *extra, size_t max)
{
	size_t n = 0;

	if (!s || !(isalnum((unsigned char)*s) || *s == '_'))
		return false;
	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];

		if (n >= max || c >= 0x80 || !(isalnum(c) || c == '_' || strchr(extra, c)))
			return false;
	}
	return true;
}

char *dkms_str_printable(const char *s, size_t max)
{
	char *r = malloc(max * 4 + 4), *o = r;
	size_t n = 0;

	if (!r)
		dkms_oom();
	for (; s && s[n] && n < max; n++) {
		unsigned char c = (unsigned char)s[n];

		if (c == '\\')
			o = stpcpy(o, "\\\\");
		else if (c >= 0x20 && c < 0x7f)
			*o++ = (char)c;
		else
			o += sprintf(o, "\\x%02x", c);
	}
	strcpy(o, s && s[n] ? "..." : "");
	return r;
}

int dkms_copy_file_to(const char *src, const char *dst, mode_t mode, bool sync)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	int out, r;

	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (out < 0) {
		r = -errno;
		close(in);
		return r;
	}
	r = fill_copy(out, &in);
	if (!r && fchmod(out, mode) < 0)
		r = -errno;
	if (!r && sync && fsync(out) < 0)
		r = -errno;
	if (close(out) < 0 && !r)
		r = -errno;
	close(in);
	return r;
}

/* A copy into a scratch tree (build dirs): no temp name, no fsync. */
static int copy_plain(const char *src, const char *dst, mode_t mode)
{
	return dkms_copy_file_to(src, dst, mode, false);
}

static int copy_tree_at(const char *src, const char *dst)
{
	struct stat st;
	int r = 0;

	if (lstat(src, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof(target) - 1);

		if (n < 0)
			return -errno;
		target[n] = '\0';
		return symlink(target, dst) < 0 ? -errno : 0;
	}
	if (S_ISREG(st.st_mode))
		return copy_plain(src, dst, st.st_mode & 07777);
	if (!S_ISDIR(st.st_mode))
		return 0; /* devices, fifos, sockets: not part of a module source */
	if (mkdir(dst, (st.st_mode & 07777) | 0700) < 0 && errno != EEXIST)
		return -errno;

	char **names;
	size_t n;

	r = dkms_list_dir(src, &names, &n);
	if (r)
		return r;
	for (size_t i = 0; i < n && !r; i++) {
		char *s = dkms_path_join(src, names[i]);
		char *d = dkms_path_join(dst, names[i]);

		r = copy_tree_at(s, d);
		free(s);
		free(d);
	}
	dkms_strv_free(names, n);
	return r;
}

int dkms_copy_tree(const char *src, const char *dst)
{
	return copy_tree_at(src, dst);
}

static void child_exec(const struct dkms_cmd *cmd)
{
	sigset_t none;
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (devnull >= 0)
		dup2(devnull, STDIN_FILENO);
	int out = cmd->log_fd >= 0 ? cmd->log_fd : devnull;

	if (out >= 0) {
		dup2(out, STDOUT_FILENO);
		dup2(out, STDERR_FILENO);
	}
	if (cmd->cwd && chdir(cmd->cwd) < 0) {
		dprintf(STDERR_FILENO, "dkms: cannot enter %s: %s\n", cmd->cwd, strerror(errno));
		_exit(127);
	}
	for (const char *const *e = cmd->env; e && *e; e++)
		putenv((char *)*e);
	execvp(cmd->argv[0], (char *const *)cmd->argv);
	dprintf(STDERR_FILENO, "dkms: cannot run %s: %s\n", cmd->argv[0], strerror(errno));
	_exit(127);
}

int dkms_run(const struct dkms_cmd *cmd)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_exec(cmd);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int dkms_run_shell(const char *script, const char *cwd, const char *const *env, int log_fd)
{
	const char *argv[] = { "/bin/bash", "-c", script, NULL };
	struct dkms_cmd cmd = { .argv = argv, .cwd = cwd, .env = env, .log_fd = log_fd };

	return dkms_run(&cmd);
}
