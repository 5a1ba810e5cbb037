/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The journal: a record, fsync'd, of each install or uninstall before it
 * changes the install tree, and of each kernel whose depmod is due.
 *
 *   <dkms_tree>/.journal/op@<m>@<kver>@<arch>      "op install\nmodule m\n..." lines
 *   <dkms_tree>/.journal/depmod@<kver>@<arch>      depmod is due for that kernel
 *
 * A record disappears when its work is done. The next writer (under the lock)
 * finds the ones a crash left and makes each module complete or absent
 * (dkms_install_recover), then runs the depmods still due.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_DIR ".journal"

static char *journal_dir(struct dkms_ctx *ctx)
{
	return dkms_path_join(ctx->dkms_tree, JOURNAL_DIR);
}

/* <dkms_tree>/.journal/<name> */
static char *journal_path(struct dkms_ctx *ctx, const char *name)
{
	char *dir = journal_dir(ctx), *path = dkms_path_join(dir, name);

	free(dir);
	return path;
}

static int journal_write(struct dkms_ctx *ctx, const char *path, const char *text)
{
	char *dir = journal_dir(ctx);
	int r = dkms_mkdir_p(dir, 0755);

	if (!r)
		r = dkms_write_file_atomic(path, text, strlen(text), 0644);
	if (r < 0)
		r = dkms_err_set(ctx, DKMS_E_FAIL,
				 "cannot write the journal record %s: %s; check free space in %s", path,
				 strerror(-r), ctx->dkms_tree);
	free(dir);
	return r;
}

static void journal_unlink(const char *path)
{
	char *dir = dkms_strdup(path);

	if (unlink(path) == 0) {
		*strrchr(dir, '/') = '\0';
		dkms_fsync_dir(dir);
		rmdir(dir); /* when it was the last record */
	}
	free(dir);
}

static char *depmod_path(struct dkms_ctx *ctx, const struct dkms_kernel *k)
{
	char *name = dkms_asprintf("depmod@%s@%s", k->version, k->arch), *path = journal_path(ctx, name);

	free(name);
	return path;
}

int dkms_journal_begin(struct dkms_ctx *ctx, const char *op, const char *m, const char *v, const char *prev,
		       const struct dkms_kernel *k, char *const *staged, size_t n_staged, char **entry)
{
	char *name, *text;
	size_t len;
	FILE *f;
	int r = 0;

	*entry = NULL;
	if (!ctx->opts.no_depmod) {
		/* one mark per kernel, however many modules a run installs there */
		char *depmod = depmod_path(ctx, k);

		if (!dkms_exists(depmod))
			r = journal_write(ctx, depmod, k->version);
		free(depmod);
		if (r)
			return r;
	}
	f = open_memstream(&text, &len);
	if (!f)
		abort();
	fprintf(f, "op %s\nmodule %s\nversion %s\nkernel %s\narch %s\n", op, m, v, k->version, k->arch);
	if (prev)
		fprintf(f, "previous %s\n", prev);
	for (size_t i = 0; i < n_staged; i++)
		fprintf(f, "staged %s\n", staged[i]);
	fclose(f);
	name = dkms_asprintf("op@%s@%s@%s", m, k->version, k->arch);
	*entry = journal_path(ctx, name);
	r = journal_write(ctx, *entry, text);
	if (r) {
		free(*entry);
		*entry = NULL;
	}
	free(name);
	free(text);
	return r;
}

void dkms_journal_end(struct dkms_ctx *ctx, char *entry)
{
	(void)ctx;
	if (!entry)
		return;
	journal_unlink(entry);
	free(entry);
}

void dkms_journal_depmod_done(struct dkms_ctx *ctx, const struct dkms_kernel *k)
{
	char *path = depmod_path(ctx, k);

	journal_unlink(path);
	free(path);
}

/* ---- recovery ---- */

/* Does name end in <mark><digits>? */
static bool journal_pid_suffix(const char *name, const char *mark)
{
	const char *k = strstr(name, mark);

	if (!k)
		return false;
	k += strlen(mark);
	return *k && strspn(k, "0123456789") == strlen(k);
}

/* Is name one of our temporary names: ".<name>.dkms-tmp.<pid>", ".<file>.dkms-new", or a build's
 * stage and the entry it replaces, ".<arch>.tmp-<pid>" and ".<arch>.old-<pid>"? */
static bool journal_is_temp(const char *name)
{
	size_t len = strlen(name);

	if (name[0] != '.')
		return false;
	return journal_pid_suffix(name, ".dkms-tmp.") || journal_pid_suffix(name, ".tmp-") ||
	       journal_pid_suffix(name, ".old-") || (len > 9 && dkms_has_suffix(name, ".dkms-new"));
}

/* Delete temporary files and directories a killed writer left in dir and below (depth levels). */
static void journal_sweep(struct dkms_ctx *ctx, const char *dir, int depth)
{
	char **names = NULL;
	size_t n = 0;

	if (dkms_list_dir(dir, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char *p = dkms_path_join(dir, names[i]);

		if (journal_is_temp(names[i])) {
			if (dkms_rm_rf(p) == 0)
				dkms_log(ctx, DKMS_LOG_INFO, "removed the unfinished %s", p);
		} else if (depth > 0 && names[i][0] != '.' && dkms_is_dir(p)) {
			struct stat st;

			if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
				journal_sweep(ctx, p, depth - 1);
		}
		free(p);
	}
	dkms_strv_free(names, n);
}

struct record {
	char *op, *module, *version, *kernel, *arch, *previous;
	char **staged;
	size_t n_staged;
};

static void record_free(struct record *rec)
{
	free(rec->op);
	free(rec->module);
	free(rec->version);
	free(rec->kernel);
	free(rec->arch);
	free(rec->previous);
	dkms_strv_free(rec->staged, rec->n_staged);
}

/* Parse "key value" lines; a record that is not whole (a crash while it was written cannot
 * leave one: it is renamed into place) or names something invalid is refused. */
static bool record_parse(char *text, struct record *rec)
{
	for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		char *sp, **field = NULL;

		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		sp = strchr(line, ' ');
		if (!sp)
			return false;
		*sp++ = '\0';
		if (!strcmp(line, "staged")) {
			/* only our own temporary names: .<file>.dkms-new */
			const char *base = strrchr(sp, '/');

			if (sp[0] != '/' || !base || base[1] != '.' || strstr(sp, "/../") ||
			    !dkms_has_suffix(sp, ".dkms-new"))
				return false;
			dkms_strv_push(&rec->staged, &rec->n_staged, sp);
			continue;
		}
		if (!strcmp(line, "op"))
			field = &rec->op;
		else if (!strcmp(line, "module"))
			field = &rec->module;
		else if (!strcmp(line, "version"))
			field = &rec->version;
		else if (!strcmp(line, "kernel"))
			field = &rec->kernel;
		else if (!strcmp(line, "arch"))
			field = &rec->arch;
		else if (!strcmp(line, "previous"))
			field = &rec->previous;
		if (!field || *field || !dkms_valid_name(sp))
			return false;
		*field = dkms_strdup(sp);
	}
	return rec->op && rec->module && rec->version && rec->kernel && rec->arch &&
	       (!strcmp(rec->op, "install") || !strcmp(rec->op, "uninstall"));
}

static int recover_op(struct dkms_ctx *ctx, const char *path)
{
	struct record rec = { 0 };
	struct dkms_kernel *k = NULL;
	char *text = NULL;
	int r;

	r = dkms_read_file(path, &text, NULL);
	if (r < 0 || !record_parse(text, &rec)) {
		dkms_log(ctx, DKMS_LOG_WARN, "ignoring the unreadable journal record %s", path);
		free(text);
		record_free(&rec);
		journal_unlink(path);
		return 0;
	}
	dkms_log(ctx, DKMS_LOG_WARN, "dkms was interrupted while it %s %s/%s for kernel %s (%s): repairing",
		 !strcmp(rec.op, "install") ? "installed" : "uninstalled", rec.module, rec.version,
		 rec.kernel, rec.arch);
	r = dkms_kernel_open(ctx, rec.kernel, rec.arch, &k);
	if (!r) {
		char *mdir = dkms_path_join(ctx->dkms_tree, rec.module);

		journal_sweep(ctx, mdir, 0); /* a half-made kernel-<kver>-<arch> link */
		journal_sweep(ctx, k->modules_dir, 2);
		free(mdir);
	}
	if (!r)
		r = dkms_install_recover(ctx, rec.op, rec.module, rec.version, rec.previous, k, rec.staged,
					 rec.n_staged);
	if (!r)
		journal_unlink(path);
	dkms_kernel_free(k);
	free(text);
	record_free(&rec);
	return r;
}

static int recover_depmod(struct dkms_ctx *ctx, const char *path, const char *name)
{
	char *kver = dkms_strdup(name + strlen("depmod@")), *arch = strrchr(kver, '@');
	struct dkms_kernel *k = NULL;
	int r = 0;

	if (!arch || !dkms_valid_name(arch + 1)) {
		journal_unlink(path);
		free(kver);
		return 0;
	}
	*arch++ = '\0';
	if (dkms_valid_name(kver))
		r = dkms_kernel_open(ctx, kver, arch, &k);
	if (k)
		r = dkms_depmod(ctx, k); /* clears the mark */
	else
		journal_unlink(path);
	dkms_kernel_free(k);
	free(kver);
	return r;
}

int dkms_journal_recover(struct dkms_ctx *ctx)
{
	char *dir = journal_dir(ctx), *build = dkms_path_join(ctx->dkms_tree, ".build");
	char **names = NULL;
	size_t n = 0;
	int r = 0;

	/* job trees of builds that never finished: nobody else builds while we hold the lock */
	if (dkms_exists(build) && dkms_rm_rf(build) < 0)
		dkms_log(ctx, DKMS_LOG_WARN, "cannot clean %s", build);
	free(build);
	journal_sweep(ctx, ctx->dkms_tree, 3); /* <m>/<v>/<kver>/<arch> */
	if (dkms_list_dir(dir, &names, &n) < 0)
		goto out;
	/* first the operations, which mark depmod as due, then depmod */
	for (int pass = 0; pass < 2 && !r; pass++) {
		for (size_t i = 0; i < n && !r; i++) {
			char *path = dkms_path_join(dir, names[i]);

			if (pass == 0 && !strncmp(names[i], "op@", 3))
				r = recover_op(ctx, path);
			else if (pass == 1 && !strncmp(names[i], "depmod@", 7))
				r = recover_depmod(ctx, path, names[i]);
			else if (pass == 0 && names[i][0] == '.')
				unlink(path); /* a record that was never renamed into place */
			free(path);
		}
		if (pass == 0) {
			dkms_strv_free(names, n);
			names = NULL;
			n = 0;
			if (dkms_list_dir(dir, &names, &n) < 0)
				break;
		}
	}
out:
	rmdir(dir); /* when nothing is left in it */
	dkms_strv_free(names, n);
	free(dir);
	return r;
}
