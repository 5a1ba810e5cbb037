/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dkms mkdeb, mkrpm, mkbmdeb, mkbmrpm: a registered module as a package.
 *
 * The files are staged in a scratch root as the target will have them, then
 * pkg-deb.c or pkg-rpm.c writes the package text (control, spec) and runs
 * the family's own tool on that root. A source package carries
 * /usr/src/<m>-<v> and scripts that hand it to dkms on the target; a binary
 * package carries, for one kernel, the built (signed, compressed) modules in
 * /lib/modules/<kver><DEST_MODULE_LOCATION> and the same files in the
 * registry, /var/lib/dkms/<m>/<v>/<kver>/<arch>/module, with scripts that
 * only set the installed link and run depmod: no build, no dkms needed.
 */
#include "pkg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Names and versions go into file names and scripts: keep to the characters both families allow. */
static bool pkg_safe_word(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+~-", *s))
			return false;
	return true;
}

int dkms_pkg_write(struct dkms_pkg *p, const char *rel, const char *text, mode_t mode)
{
	char *path = dkms_path_join(p->root, rel), *slash;
	int e;

	slash = strrchr(path, '/');
	*slash = '\0';
	e = dkms_mkdir_p(path, 0755);
	*slash = '/';
	if (!e)
		e = dkms_write_file_atomic(path, text, strlen(text), mode);
	if (e)
		dkms_err_set(p->ctx, DKMS_E_FAIL, "%s/%s: cannot write %s: %s", p->m, p->v, path,
			     strerror(-e));
	free(path);
	return e ? DKMS_E_FAIL : 0;
}

int dkms_pkg_run(struct dkms_pkg *p, const char *const *argv)
{
	struct dkms_cmd cmd = { .argv = argv, .cwd = p->work, .log_fd = p->log_fd };
	int st = dkms_run(&cmd);

	if (st == 0)
		return 0;
	if (st < 0)
		return dkms_err_set(p->ctx, DKMS_E_FAIL, "%s/%s: cannot run %s: %s; install it", p->m, p->v,
				    argv[0], strerror(-st));
	if (st == 127)
		return dkms_err_set(p->ctx, DKMS_E_FAIL,
				    "%s/%s: %s could not be run (is it installed?); see %s", p->m, p->v,
				    argv[0], p->log_path);
	return dkms_err_set(p->ctx, DKMS_E_FAIL, "%s/%s: %s failed (exit %d); see %s", p->m, p->v, argv[0],
			    st, p->log_path);
}

static int list_walk(const char *base, const char *rel, char ***v, size_t *n, unsigned long long *bytes)
{
	char *dir = rel ? dkms_path_join(base, rel) : dkms_strdup(base), **names = NULL;
	size_t nn = 0;
	int e = dkms_list_dir(dir, &names, &nn);

	for (size_t i = 0; i < nn && !e; i++) {
		char *r = rel ? dkms_path_join(rel, names[i]) : dkms_strdup(names[i]);
		char *full = dkms_path_join(base, r);
		struct stat st;

		if (lstat(full, &st) < 0)
			e = -errno;
		else if (S_ISDIR(st.st_mode))
			e = list_walk(base, r, v, n, bytes);
		else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
			*bytes += (unsigned long long)st.st_size;
			e = dkms_strv_push(v, n, r);
		}
		free(full);
		free(r);
	}
	dkms_strv_free(names, nn);
	free(dir);
	return e;
}

int dkms_pkg_list_root(struct dkms_pkg *p, char ***rel, size_t *n, unsigned long long *bytes)
{
	int e;

	*rel = NULL;
	*n = 0;
	*bytes = 0;
	e = list_walk(p->root, NULL, rel, n, bytes);
	if (e) {
		dkms_strv_free(*rel, *n);
		*rel = NULL;
		*n = 0;
		return dkms_err_set(p->ctx, DKMS_E_FAIL, "%s/%s: cannot read %s: %s", p->m, p->v, p->root,
				    strerror(-e));
	}
	return 0;
}

/* MODULE_LICENSE("...") of the first C file that has one, for the package's licence field. */
static char *pkg_find_license(const char *dir, int depth)
{
	char **names = NULL, *found = NULL;
	size_t n = 0;

	if (depth > 3 || dkms_list_dir(dir, &names, &n))
		return NULL;
	for (size_t i = 0; i < n && !found; i++) {
		char *path = dkms_path_join(dir, names[i]), *buf = NULL, *at;
		size_t len = strlen(names[i]), blen;

		if (dkms_is_dir(path) && names[i][0] != '.') {
			found = pkg_find_license(path, depth + 1);
		} else if (len > 2 && !strcmp(names[i] + len - 2, ".c") &&
			   !dkms_read_file(path, &buf, &blen) && (at = strstr(buf, "MODULE_LICENSE(\""))) {
			at += strlen("MODULE_LICENSE(\"");
			len = strcspn(at, "\"\n");
			if (len && len < 64)
				found = dkms_asprintf("%.*s", (int)len, at);
		}
		free(buf);
		free(path);
	}
	dkms_strv_free(names, n);
	return found;
}

/* /usr/src/<m>-<v>: the registered sources, as they are (symlinks kept). */
static int pkg_stage_source(struct dkms_pkg *p, const char *srcdir)
{
	char *parent = dkms_asprintf("%s%s", p->root, DKMS_PKG_SOURCE_TREE);
	char *dst = dkms_asprintf("%s/%s-%s", parent, p->m, p->v);
	int e = dkms_mkdir_p(parent, 0755);

	if (!e)
		e = dkms_copy_tree(srcdir, dst);
	if (e)
		dkms_err_set(p->ctx, DKMS_E_FAIL, "%s/%s: cannot copy %s to %s: %s", p->m, p->v, srcdir, dst,
			     strerror(-e));
	free(dst);
	free(parent);
	return e ? DKMS_E_FAIL : 0;
}

/* DEST_MODULE_LOCATION of the module file name (dest name + suffix), "/updates/dkms" if unknown. */
static const char *pkg_dest_location(const struct dkms_conf *conf, const char *file)
{
	size_t len;

	for (size_t i = 0; i < conf->n_mods; i++) {
		len = strlen(conf->mods[i].dest_name);
		if (!strncmp(file, conf->mods[i].dest_name, len) && !strncmp(file + len, ".ko", 3))
			return conf->mods[i].dest_location;
	}
	return "/updates/dkms";
}

static int pkg_stage_file(struct dkms_pkg *p, const char *src, const char *dir, const char *file)
{
	char *full = dkms_asprintf("%s%s", p->root, dir), *dst = dkms_path_join(full, file);
	int e = dkms_mkdir_p(full, 0755);

	if (!e)
		e = dkms_copy_file(src, dst, 0644);
	if (e)
		dkms_err_set(p->ctx, DKMS_E_FAIL, "%s/%s: cannot copy %s to %s: %s", p->m, p->v, src, dst,
			     strerror(-e));
	else
		dkms_strv_push(&p->files, &p->n_files, dst + strlen(p->root));
	free(dst);
	free(full);
	return e ? DKMS_E_FAIL : 0;
}

/*
 * The registry on the target needs a dkms.conf for the version to count as added (dkms status,
 * remove): the package carries the module's, with AUTOINSTALL off (no sources to build for
 * other kernels), next to the modules of its kernel; the postinst copies it to <v>/source/ when
 * no sources are registered, and the prerm removes that copy with the last kernel's link.
 */
char *dkms_pkg_bin_vars(const struct dkms_pkg *p)
{
	return dkms_asprintf("DKMS_NAME=%s\n"
			     "DKMS_VERSION=%s\n"
			     "KVER=%s\n"
			     "ARCH=%s\n"
			     "TREE=%s/$DKMS_NAME\n"
			     "MODULES=%s/$KVER\n",
			     p->m, p->v, p->kver, p->arch, DKMS_PKG_DKMS_TREE, DKMS_PKG_INSTALL_TREE);
}

const char dkms_pkg_bin_post[] =
	"\tln -sfn \"$DKMS_VERSION/$KVER/$ARCH\" \"$TREE/kernel-$KVER-$ARCH\"\n"
	"\tif [ ! -e \"$TREE/$DKMS_VERSION/source/dkms.conf\" ]; then\n"
	"\t\tmkdir -p \"$TREE/$DKMS_VERSION/source\"\n"
	"\t\tcp \"$TREE/$DKMS_VERSION/$KVER/$ARCH/dkms.conf\" \"$TREE/$DKMS_VERSION/source/dkms.conf\"\n"
	"\tfi\n"
	"\tif [ -e \"$MODULES/modules.dep\" ]; then\n"
	"\t\tdepmod -a \"$KVER\"\n"
	"\tfi\n";

const char dkms_pkg_bin_preun[] =
	"\tif [ \"$(readlink \"$TREE/kernel-$KVER-$ARCH\" || true)\" = \"$DKMS_VERSION/$KVER/$ARCH\" ]; "
	"then\n"
	"\t\trm -f \"$TREE/kernel-$KVER-$ARCH\"\n"
	"\tfi\n"
	"\tif [ -d \"$TREE/$DKMS_VERSION/source\" ] && [ ! -L \"$TREE/$DKMS_VERSION/source\" ]; then\n"
	"\t\tleft=\n"
	"\t\tfor l in \"$TREE\"/kernel-*; do\n"
	"\t\t\tcase \"$(readlink \"$l\" || true)\" in \"$DKMS_VERSION\"/*) left=yes ;; esac\n"
	"\t\tdone\n"
	"\t\tif [ -z \"$left\" ]; then\n"
	"\t\t\trm -rf \"$TREE/$DKMS_VERSION/source\"\n"
	"\t\tfi\n"
	"\tfi\n";

const char dkms_pkg_bin_postun[] = "\tif [ -e \"$MODULES/modules.dep\" ]; then\n"
				   "\t\tdepmod -a \"$KVER\"\n"
				   "\tfi\n";

static int pkg_stage_conf(struct dkms_pkg *p, const char *dir)
{
	char *conf = dkms_tree_conf_path(p->ctx, p->m, p->v), *text = NULL, *all, *rel;
	size_t len = 0;
	int e = dkms_read_file(conf, &text, &len), r;

	if (e) {
		r = dkms_err_set(p->ctx, DKMS_E_USAGE, "%s/%s: cannot read %s: %s", p->m, p->v, conf,
				 strerror(-e));
		free(conf);
		return r;
	}
	all = dkms_asprintf("%s%s# dkms mk%s: the modules built for %s, without their sources\n"
			    "AUTOINSTALL=\"no\"\n",
			    text, len && text[len - 1] != '\n' ? "\n" : "",
			    p->req->format == DKMS_PKG_DEB ? "bmdeb" : "bmrpm", p->kver);
	rel = dkms_asprintf("%s/dkms.conf", dir + 1);
	r = dkms_pkg_write(p, rel, all, 0644);
	free(rel);
	free(all);
	free(text);
	free(conf);
	return r;
}

/* The built modules of one kernel, in /lib/modules and in the registry. */
static int pkg_stage_binaries(struct dkms_pkg *p)
{
	struct dkms_kernel *k = NULL;
	const struct dkms_conf *conf;
	char *kdir = NULL, *moddir = NULL, *regdir = NULL, **names = NULL;
	size_t n = 0;
	int r;

	r = dkms_kernel_open(p->ctx, p->kver, p->arch, &k);
	if (r)
		return r;
	kdir = dkms_tree_kdir(p->ctx, p->m, p->v, k->version, k->arch);
	moddir = dkms_path_join(kdir, "module");
	if (!dkms_tree_is_built(p->ctx, p->m, p->v, k->version, k->arch) ||
	    dkms_list_dir(moddir, &names, &n) || !n) {
		r = dkms_err_set(p->ctx, DKMS_E_NOMODULE,
				 "%s/%s is not built for kernel %s (%s): %s holds no module; run dkms build "
				 "%s/%s -k %s first",
				 p->m, p->v, k->version, k->arch, moddir, p->m, p->v, k->version);
		goto out;
	}
	r = dkms_conf_for(p->ctx, p->m, p->v, k, NULL, &conf);
	if (r)
		goto out;
	regdir = dkms_asprintf("%s/%s/%s/%s/%s", DKMS_PKG_DKMS_TREE, p->m, p->v, k->version, k->arch);
	r = pkg_stage_conf(p, regdir);
	free(regdir);
	regdir = dkms_asprintf("%s/%s/%s/%s/%s/module", DKMS_PKG_DKMS_TREE, p->m, p->v, k->version, k->arch);
	for (size_t i = 0; i < n && !r; i++) {
		char *src = dkms_path_join(moddir, names[i]);
		char *dest = dkms_asprintf("%s/%s%s", DKMS_PKG_INSTALL_TREE, k->version,
					   pkg_dest_location(conf, names[i]));

		if (!pkg_safe_word(names[i]))
			r = dkms_err_set(p->ctx, DKMS_E_FAIL,
					 "%s/%s: %s: a module file name to avoid in a package", p->m, p->v,
					 src);
		if (!r)
			r = pkg_stage_file(p, src, dest, names[i]);
		if (!r)
			r = pkg_stage_file(p, src, regdir, names[i]);
		free(dest);
		free(src);
	}
out:
	dkms_strv_free(names, n);
	free(regdir);
	free(moddir);
	free(kdir);
	dkms_kernel_free(k);
	return r;
}

static void pkg_clear(struct dkms_pkg *p)
{
	if (p->log_fd >= 0)
		close(p->log_fd);
	if (p->work)
		dkms_rm_rf(p->work);
	dkms_strv_free(p->files, p->n_files);
	free(p->work);
	free(p->root);
	free(p->log_path);
	free(p->license);
}

/* One package: a fresh scratch root, staged, then made by the family's tool. */
static int pkg_make_one(struct dkms_pkg *p, const char *srcdir)
{
	char tmpl[] = "/tmp/dkms-pkg.XXXXXX";
	int r;

	if (!mkdtemp(tmpl))
		return dkms_err_set(p->ctx, DKMS_E_FAIL, "%s/%s: cannot make a scratch directory in /tmp: %s",
				    p->m, p->v, strerror(errno));
	p->work = dkms_strdup(tmpl);
	p->root = dkms_path_join(p->work, "root");
	p->log_path = dkms_asprintf("%s/%s-%s%s%s.%s.log", p->out_dir, p->m, p->v, p->kver ? "-" : "",
				    p->kver ? p->kver : "", p->req->format == DKMS_PKG_DEB ? "deb" : "rpm");
	p->log_fd = open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (p->log_fd < 0) {
		r = dkms_err_set(p->ctx, DKMS_E_FAIL, "%s/%s: cannot write %s: %s", p->m, p->v, p->log_path,
				 strerror(errno));
		goto out;
	}
	p->license = srcdir ? pkg_find_license(srcdir, 0) : NULL;
	if (!p->license)
		p->license = dkms_strdup("unknown");
	r = p->kver ? pkg_stage_binaries(p) : pkg_stage_source(p, srcdir);
	if (!r)
		r = p->req->format == DKMS_PKG_DEB ? dkms_pkg_deb_make(p) : dkms_pkg_rpm_make(p);
	if (!r)
		unlink(p->log_path); /* kept only to explain a failure */
out:
	pkg_clear(p);
	*p = (struct dkms_pkg){ .ctx = p->ctx,
				.req = p->req,
				.m = p->m,
				.v = p->v,
				.out_dir = p->out_dir,
				.maintainer = p->maintainer,
				.log_fd = -1 };
	return r;
}

int dkms_pkg_make(struct dkms_ctx *ctx, const struct dkms_pkg_request *req)
{
	struct dkms_pkg p = { .ctx = ctx, .req = req, .m = req->module, .v = req->version, .log_fd = -1 };
	char *srclink = NULL, *srcdir = NULL;
	const char *kind = req->format == DKMS_PKG_DEB ? "deb" : "rpm";
	int r = 0, e;

	if (!pkg_safe_word(req->module) || !pkg_safe_word(req->version))
		return dkms_err_set(
			ctx, DKMS_E_USAGE,
			"%s/%s: a module name or version for a package uses only letters, digits and "
			"._+~-",
			req->module ? req->module : "", req->version ? req->version : "");
	if (!dkms_tree_is_added(ctx, req->module, req->version))
		return dkms_err_set(ctx, DKMS_E_USAGE, "%s/%s is not in the DKMS tree %s; run dkms add first",
				    req->module, req->version, ctx->dkms_tree);
	if (req->binaries && !req->n_kernels)
		return dkms_err_set(ctx, DKMS_E_USAGE, "%s/%s: binary packages need kernels (-k)",
				    req->module, req->version);
	for (size_t i = 0; req->binaries && i < req->n_kernels; i++)
		if (!pkg_safe_word(req->kernels[i].version) ||
		    (req->kernels[i].arch && !pkg_safe_word(req->kernels[i].arch)))
			return dkms_err_set(ctx, DKMS_E_USAGE, "%s/%s: kernel %s: not a name for a package",
					    req->module, req->version, req->kernels[i].version);
	srclink = dkms_asprintf("%s/%s/%s/source", ctx->dkms_tree, req->module, req->version);
	srcdir = realpath(srclink, NULL); /* binaries: for the licence only */
	if (!req->binaries) {
		if (!srcdir || !dkms_is_dir(srcdir)) {
			r = dkms_err_set(ctx, DKMS_E_USAGE,
					 "%s/%s: its sources %s are missing; add them again", req->module,
					 req->version, srclink);
			goto out;
		}
	}
	p.out_dir = req->output_dir
			    ? dkms_strdup(req->output_dir)
			    : dkms_asprintf("%s/%s/%s/%s", ctx->dkms_tree, req->module, req->version, kind);
	e = dkms_mkdir_p(p.out_dir, 0755);
	if (e) {
		r = dkms_err_set(ctx, DKMS_E_FAIL, "%s/%s: cannot make the output directory %s: %s",
				 req->module, req->version, p.out_dir, strerror(-e));
		goto out;
	}
	p.maintainer = dkms_strdup(req->maintainer ? req->maintainer : "DKMS <dkms@localhost.localdomain>");
	if (!req->binaries)
		r = pkg_make_one(&p, srcdir);
	for (size_t i = 0; req->binaries && i < req->n_kernels && !r; i++) {
		p.kver = req->kernels[i].version;
		p.arch = req->kernels[i].arch ? req->kernels[i].arch : ctx->machine_arch;
		r = pkg_make_one(&p, srcdir);
	}
out:
	free(p.out_dir);
	free(p.maintainer);
	free(srcdir);
	free(srclink);
	return r;
}
