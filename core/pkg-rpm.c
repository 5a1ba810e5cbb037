/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dkms mkrpm and mkbmrpm: the staged root as an .rpm, made by rpmbuild from
 * a generated spec whose %install copies the root.
 *
 * Source package dkms-<name> (noarch, Requires: dkms, the naming of Fedora's
 * and EPEL's DKMS packages): %posttrans adds the module and installs it for
 * every kernel with headers, %preun runs dkms remove --all (posttrans, not
 * post, so that an upgrade or a reinstall, whose old %preun runs after the
 * new %post, ends with the new version installed). Binary package
 * kmod-<name>-<kver> (the kernel's architecture, Requires: kernel-uname-r =
 * <kver>, Provides: kmod-<name>, as kmodtool names them): %post sets the
 * installed link and runs depmod, %preun and %postun undo that. rpmbuild's
 * strip and debuginfo steps are turned off: they would drop the signatures.
 */
#include "pkg.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* RPM versions have no '-'. */
static char *rpm_version(const char *v)
{
	char *s = dkms_strdup(v);

	for (char *c = s; *c; c++)
		if (*c == '-')
			*c = '_';
	return s;
}

/* The changelog's date: SOURCE_DATE_EPOCH when set (reproducible builds), else today. */
static char *rpm_date(void)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	time_t t = sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	return dkms_asprintf("%s %s %02d %04d", days[tm.tm_wday], months[tm.tm_mon], tm.tm_mday,
			     tm.tm_year + 1900);
}

/* The exact kernel: kernel-uname-r = <kver> as Fedora's and RHEL's kernels provide it; a kver that
 * is no RPM version (two '-', as Debian's) falls back to a file of that kernel's package. */
static char *rpm_requires_kernel(const char *kver)
{
	const char *dash = strchr(kver, '-');

	if (!dash || !strchr(dash + 1, '-'))
		return dkms_asprintf("kernel-uname-r = %s", kver);
	return dkms_asprintf("%s/%s/modules.order", DKMS_PKG_INSTALL_TREE, kver);
}

static char *rpm_files(struct dkms_pkg *p)
{
	char *s, *t;

	if (!p->kver)
		return dkms_asprintf("%s/%s-%s\n", DKMS_PKG_SOURCE_TREE, p->m, p->v);
	s = dkms_asprintf("%%dir %s/%s\n%%dir %s/%s/%s\n%s/%s/%s/%s\n", DKMS_PKG_DKMS_TREE, p->m,
			  DKMS_PKG_DKMS_TREE, p->m, p->v, DKMS_PKG_DKMS_TREE, p->m, p->v, p->kver);
	for (size_t i = 0; i < p->n_files; i++) {
		if (strncmp(p->files[i], DKMS_PKG_INSTALL_TREE "/", strlen(DKMS_PKG_INSTALL_TREE "/")))
			continue;
		t = dkms_asprintf("%s%s\n", s, p->files[i]);
		free(s);
		s = t;
	}
	return s;
}

static char *rpm_scripts(struct dkms_pkg *p)
{
	char *vars, *text;

	if (!p->kver)
		return dkms_asprintf("%%posttrans\n"
				     "# register %s/%s and build it for every kernel with headers\n"
				     "dkms add -m '%s' -v '%s' >/dev/null 2>&1 || :\n"
				     "set --\n"
				     "for d in %s/*/build; do\n"
				     "\t[ -d \"$d\" ] || continue\n"
				     "\tk=${d%%/build}\n"
				     "\tset -- \"$@\" -k \"${k##*/}\"\n"
				     "done\n"
				     "if [ $# -gt 0 ]; then\n"
				     "\tdkms install -m '%s' -v '%s' \"$@\" || :\n"
				     "fi\n"
				     "\n"
				     "%%preun\n"
				     "if [ -n \"$(dkms status -m '%s' -v '%s' 2>/dev/null)\" ]; then\n"
				     "\tdkms remove -m '%s' -v '%s' --all || :\n"
				     "fi\n",
				     p->m, p->v, p->m, p->v, DKMS_PKG_INSTALL_TREE, p->m, p->v, p->m, p->v,
				     p->m, p->v);
	vars = dkms_pkg_bin_vars(p);
	text = dkms_asprintf("%%post\n"
			     "%s"
			     "%s"
			     "\n"
			     "%%preun\n"
			     "if [ \"$1\" = 0 ]; then\n" /* erased, not upgraded: the new %post already ran */
			     "%s"
			     "%s"
			     "fi\n"
			     "\n"
			     "%%postun\n"
			     "%s"
			     "%s",
			     vars, dkms_pkg_bin_post, vars, dkms_pkg_bin_preun, vars, dkms_pkg_bin_postun);
	free(vars);
	return text;
}

int dkms_pkg_rpm_make(struct dkms_pkg *p)
{
	char *rv = rpm_version(p->v), *head, *req = p->kver ? rpm_requires_kernel(p->kver) : NULL,
	     *files = rpm_files(p), *scripts = rpm_scripts(p);
	char *spec, *topdir = dkms_path_join(p->work, "rpmbuild"), *specpath = NULL, *def_top, *def_out;
	const char *dirs[] = { "BUILD", "BUILDROOT", "RPMS", "SOURCES", "SPECS", "SRPMS" };
	char *date = rpm_date();
	int r = 0, e;

	if (p->kver)
		head = dkms_asprintf("Name: kmod-%s-%s\n"
				     "Version: %s\n"
				     "Release: 1\n"
				     "Group: System Environment/Kernel\n"
				     "Summary: %s kernel modules for Linux %s\n"
				     "License: %s\n"
				     "Packager: %s\n"
				     "Requires: %s\n"
				     "Provides: kmod-%s = %s-1\n"
				     "AutoReqProv: no\n"
				     "\n"
				     "%%description\n"
				     "The modules of %s %s, built by DKMS\n"
				     "for the kernel %s (%s). They are installed in\n"
				     "%s/%s and registered in %s,\n"
				     "without a build.\n",
				     p->m, p->kver, rv, p->m, p->kver, p->license, p->maintainer, req, p->m,
				     rv, p->m, p->v, p->kver, p->arch, DKMS_PKG_INSTALL_TREE, p->kver,
				     DKMS_PKG_DKMS_TREE);
	else
		head = dkms_asprintf("Name: dkms-%s\n"
				     "Version: %s\n"
				     "Release: 1\n"
				     "Group: System Environment/Kernel\n"
				     "Summary: %s driver in DKMS format\n"
				     "License: %s\n"
				     "Packager: %s\n"
				     "BuildArch: noarch\n"
				     "Requires: dkms\n"
				     "AutoReqProv: no\n"
				     "\n"
				     "%%description\n"
				     "The sources of the %s kernel module, version %s.\n"
				     "When this package is installed, DKMS builds and installs the module\n"
				     "for every kernel with headers, and for each kernel installed later.\n",
				     p->m, rv, p->m, p->license, p->maintainer, p->m, p->v);
	spec = dkms_asprintf("# Made by dkms %s from %s/%s.\n"
			     "%%global debug_package %%{nil}\n"
			     "%%global __os_install_post %%{nil}\n"
			     "%%global _build_id_links none\n"
			     "%s\n"
			     "%%install\n"
			     "cp -a '%s/.' '%%{buildroot}/'\n"
			     "\n"
			     "%s\n"
			     "%%files\n"
			     "%%defattr(-,root,root,-)\n"
			     "%s\n"
			     "%%changelog\n"
			     "* %s %s - %s-1\n"
			     "- Made by dkms %s from %s/%s.\n",
			     p->kver ? "mkbmrpm" : "mkrpm", p->m, p->v, head, p->root, scripts, files, date,
			     p->maintainer, rv, p->kver ? "mkbmrpm" : "mkrpm", p->m, p->v);
	for (size_t i = 0; i < DKMS_ARRAY_SIZE(dirs) && !r; i++) {
		char *d = dkms_path_join(topdir, dirs[i]);

		e = dkms_mkdir_p(d, 0755);
		if (e)
			r = dkms_err_set(p->ctx, DKMS_E_FAIL, "%s/%s: cannot make %s: %s", p->m, p->v, d,
					 strerror(-e));
		free(d);
	}
	specpath = dkms_asprintf("%s/SPECS/%s.spec", topdir, p->m);
	if (!r) {
		e = dkms_write_file_atomic(specpath, spec, strlen(spec), 0644);
		if (e)
			r = dkms_err_set(p->ctx, DKMS_E_FAIL, "%s/%s: cannot write %s: %s", p->m, p->v,
					 specpath, strerror(-e));
	}
	def_top = dkms_asprintf("_topdir %s", topdir);
	def_out = dkms_asprintf("_rpmdir %s", p->out_dir);
	if (!r) {
		const char *argv[] = {
			"rpmbuild", "-bb",
			"--define", def_top,
			"--define", def_out,
			"--define", "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
			"--target", p->kver ? p->arch : "noarch",
			specpath,   NULL
		};

		r = dkms_pkg_run(p, argv);
	}
	if (!r) {
		if (p->kver)
			dkms_log(p->ctx, DKMS_LOG_INFO, "%s/%s: wrote %s/kmod-%s-%s-%s-1.%s.rpm", p->m, p->v,
				 p->out_dir, p->m, p->kver, rv, p->arch);
		else
			dkms_log(p->ctx, DKMS_LOG_INFO, "%s/%s: wrote %s/dkms-%s-%s-1.noarch.rpm", p->m, p->v,
				 p->out_dir, p->m, rv);
	}
	free(def_out);
	free(def_top);
	free(specpath);
	free(spec);
	free(head);
	free(scripts);
	free(files);
	free(topdir);
	free(date);
	free(req);
	free(rv);
	return r;
}
