/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dkms mkdeb and mkbmdeb: the staged root as a .deb, made by dpkg-deb.
 *
 * Source package <name>-dkms (Architecture: all, Depends: dkms): its postinst
 * calls /usr/lib/dkms/common.postinst as the packages of dh_dkms do, its prerm
 * runs dkms remove --all. Binary package <name>-modules-<kver> (the kernel's
 * architecture, Depends: linux-image-<kver>, Provides: <name>-modules, as
 * dkms 2.x's mkbmdeb named them): its postinst sets the installed link in
 * /var/lib/dkms and runs depmod; prerm and postrm undo that.
 */
#include "pkg.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Debian package names: lower case, '-' for '_'. */
static char *deb_name(const char *m)
{
	char *s = dkms_strdup(m);

	for (char *c = s; *c; c++)
		*c = *c == '_' ? '-' : (char)tolower((unsigned char)*c);
	return s;
}

/* dpkg's architecture names for the kernel's. */
static const char *deb_arch(const char *arch)
{
	static const char *const map[][2] = {
		{ "x86_64", "amd64" }, { "i386", "i386" },	     { "i586", "i386" },
		{ "i686", "i386" },    { "aarch64", "arm64" },	     { "ppc64le", "ppc64el" },
		{ "armv7l", "armhf" }, { "loongarch64", "loong64" },
	};

	for (size_t i = 0; i < DKMS_ARRAY_SIZE(map); i++)
		if (!strcmp(arch, map[i][0]))
			return map[i][1];
	return arch;
}

/* The date for the changelog: SOURCE_DATE_EPOCH when set (reproducible builds), else now. */
static char *deb_date(void)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	time_t t = sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&t, &tm);
	return dkms_asprintf("%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
			     months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* /usr/share/doc/<pkg>/copyright and changelog.gz (a native package: the version has no revision). */
static int deb_docs(struct dkms_pkg *p, const char *pkg, const char *what)
{
	char *date = deb_date(), *cl, *plain, *gz, *copyright;
	int r, e;

	copyright = dkms_asprintf(
		"This package was made by dkms %s from the module %s, version %s.\n"
		"\n"
		"Copyright by the authors of %s: see its source files, which say under which\n"
		"licence it is distributed (MODULE_LICENSE: %s).%s\n",
		what, p->m, p->v, p->m, p->license,
		strstr(p->license, "GPL")
			? " On Debian systems, the complete text of the GNU General\n"
			  "Public License version 2 can be found in /usr/share/common-licenses/GPL-2."
			: "");
	cl = dkms_asprintf("%s (%s) unstable; urgency=medium\n"
			   "\n"
			   "  * Made by dkms %s from %s/%s.\n"
			   "\n"
			   " -- %s  %s\n",
			   pkg, p->v, what, p->m, p->v, p->maintainer, date);
	plain = dkms_asprintf("usr/share/doc/%s/changelog", pkg);
	gz = dkms_asprintf("%s/%s.gz", p->root, plain);
	r = dkms_pkg_write(p, plain + 0, cl, 0644);
	if (!r) {
		char *src = dkms_path_join(p->root, plain);

		e = dkms_compress_file(DKMS_COMPRESS_GZ, src, gz);
		if (!e)
			unlink(src);
		else
			r = dkms_err_set(p->ctx, DKMS_E_FAIL, "%s/%s: cannot write %s: %s", p->m, p->v, gz,
					 strerror(-e));
		free(src);
	}
	free(plain);
	plain = dkms_asprintf("usr/share/doc/%s/copyright", pkg);
	if (!r)
		r = dkms_pkg_write(p, plain, copyright, 0644);
	free(plain);
	free(gz);
	free(cl);
	free(copyright);
	free(date);
	return r;
}

/* DEBIAN/md5sums of the staged files. */
static int deb_md5sums(struct dkms_pkg *p, char *const *rel, size_t n)
{
	size_t cap = 64 * n + 1, len = 0;
	char *text = malloc(cap);
	int r = 0;

	if (!text)
		abort();
	text[0] = '\0';
	for (size_t i = 0; i < n && !r; i++) {
		char *path = dkms_path_join(p->root, rel[i]), *buf = NULL;
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		size_t blen = 0;
		char *line;

		if (dkms_read_file(path, &buf, &blen) ||
		    !EVP_Digest(buf, blen, md, &mdlen, EVP_md5(), NULL) || mdlen != 16) {
			r = dkms_err_set(p->ctx, DKMS_E_FAIL, "%s/%s: cannot read %s", p->m, p->v, path);
		} else {
			line = dkms_asprintf(
				"%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x  %s\n",
				md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10],
				md[11], md[12], md[13], md[14], md[15], rel[i]);
			if (len + strlen(line) + 1 > cap) {
				cap = 2 * (len + strlen(line) + 1);
				text = realloc(text, cap);
				if (!text)
					abort();
			}
			memcpy(text + len, line, strlen(line) + 1);
			len += strlen(line);
			free(line);
		}
		free(buf);
		free(path);
	}
	if (!r)
		r = dkms_pkg_write(p, "DEBIAN/md5sums", text, 0644);
	free(text);
	return r;
}

static int deb_scripts_source(struct dkms_pkg *p, const char *pkg)
{
	char *postinst, *prerm;
	int r;

	postinst = dkms_asprintf(
		"#!/bin/sh\n"
		"# Made by dkms mkdeb: register %s/%s and build it for every kernel with headers,\n"
		"# through /usr/lib/dkms/common.postinst as the packages of dh_dkms do.\n"
		"set -e\n"
		"DKMS_NAME=%s\n"
		"DKMS_PACKAGE_NAME=%s\n"
		"DKMS_VERSION=%s\n"
		"case \"$1\" in\n"
		"configure)\n"
		"\tif [ ! -x /usr/lib/dkms/common.postinst ]; then\n"
		"\t\techo \"$DKMS_NAME: /usr/lib/dkms/common.postinst is missing: install dkms\" >&2\n"
		"\t\texit 1\n"
		"\tfi\n"
		"\t/usr/lib/dkms/common.postinst \"$DKMS_NAME\" \"$DKMS_VERSION\" "
		"\"/usr/share/$DKMS_PACKAGE_NAME\" \"\" "
		"\"$2\"\n"
		"\t;;\n"
		"esac\n"
		"exit 0\n",
		p->m, p->v, p->m, pkg, p->v);
	prerm = dkms_asprintf("#!/bin/sh\n"
			      "# Made by dkms mkdeb: unregister %s/%s from every kernel.\n"
			      "set -e\n"
			      "DKMS_NAME=%s\n"
			      "DKMS_VERSION=%s\n"
			      "case \"$1\" in\n"
			      "remove | upgrade | deconfigure)\n"
			      "\tif [ -n \"$(dkms status -m \"$DKMS_NAME\" -v \"$DKMS_VERSION\")\" ]; then\n"
			      "\t\tdkms remove -m \"$DKMS_NAME\" -v \"$DKMS_VERSION\" --all\n"
			      "\tfi\n"
			      "\t;;\n"
			      "esac\n"
			      "exit 0\n",
			      p->m, p->v, p->m, p->v);
	r = dkms_pkg_write(p, "DEBIAN/postinst", postinst, 0755);
	if (!r)
		r = dkms_pkg_write(p, "DEBIAN/prerm", prerm, 0755);
	free(prerm);
	free(postinst);
	return r;
}

static int deb_scripts_binary(struct dkms_pkg *p)
{
	char *vars = dkms_pkg_bin_vars(p), *postinst, *prerm, *postrm;
	int r;

	postinst = dkms_asprintf(
		"#!/bin/sh\n"
		"# Made by dkms mkbmdeb: the modules are in place; mark them installed for dkms\n"
		"# and tell depmod (when the kernel is installed: it has a modules.dep).\n"
		"set -e\n"
		"%s"
		"case \"$1\" in\n"
		"configure)\n"
		"%s"
		"\t;;\n"
		"esac\n"
		"exit 0\n",
		vars, dkms_pkg_bin_post);
	prerm = dkms_asprintf("#!/bin/sh\n"
			      "# Made by dkms mkbmdeb: the modules go; so does their installed link.\n"
			      "set -e\n"
			      "%s"
			      "case \"$1\" in\n"
			      "remove | upgrade | deconfigure)\n"
			      "%s"
			      "\t;;\n"
			      "esac\n"
			      "exit 0\n",
			      vars, dkms_pkg_bin_preun);
	postrm = dkms_asprintf("#!/bin/sh\n"
			       "# Made by dkms mkbmdeb: the modules are gone; tell depmod.\n"
			       "set -e\n"
			       "%s"
			       "case \"$1\" in\n"
			       "remove | purge)\n"
			       "%s"
			       "\t;;\n"
			       "esac\n"
			       "exit 0\n",
			       vars, dkms_pkg_bin_postun);
	r = dkms_pkg_write(p, "DEBIAN/postinst", postinst, 0755);
	if (!r)
		r = dkms_pkg_write(p, "DEBIAN/prerm", prerm, 0755);
	if (!r)
		r = dkms_pkg_write(p, "DEBIAN/postrm", postrm, 0755);
	free(postrm);
	free(prerm);
	free(postinst);
	free(vars);
	return r;
}

int dkms_pkg_deb_make(struct dkms_pkg *p)
{
	char *name = deb_name(p->m), *pkg, *control = NULL, *deb = NULL, **rel = NULL;
	const char *arch = p->kver ? deb_arch(p->arch) : "all";
	unsigned long long bytes = 0;
	size_t n = 0;
	int r;

	pkg = p->kver ? dkms_asprintf("%s-modules-%s", name, p->kver) : dkms_asprintf("%s-dkms", name);
	r = deb_docs(p, pkg, p->kver ? "mkbmdeb" : "mkdeb");
	if (!r)
		r = dkms_pkg_list_root(p, &rel, &n, &bytes);
	if (r)
		goto out;
	if (p->kver)
		control = dkms_asprintf("Package: %s\n"
					"Version: %s\n"
					"Architecture: %s\n"
					"Maintainer: %s\n"
					"Installed-Size: %llu\n"
					"Depends: linux-image-%s\n"
					"Provides: %s-modules\n"
					"Section: kernel\n"
					"Priority: optional\n"
					"Description: %s kernel modules for Linux %s\n"
					" The modules of %s %s, built by DKMS\n"
					" for the kernel %s (%s). They are installed in\n"
					" %s/%s and registered in %s,\n"
					" without a build.\n",
					pkg, p->v, arch, p->maintainer, (bytes + 1023) / 1024, p->kver, name,
					p->m, p->kver, p->m, p->v, p->kver, p->arch, DKMS_PKG_INSTALL_TREE,
					p->kver, DKMS_PKG_DKMS_TREE);
	else
		control = dkms_asprintf(
			"Package: %s\n"
			"Version: %s\n"
			"Architecture: all\n"
			"Maintainer: %s\n"
			"Installed-Size: %llu\n"
			"Depends: dkms (>= 2.1.0.0)\n"
			"Section: kernel\n"
			"Priority: optional\n"
			"Description: %s driver in DKMS format\n"
			" The sources of the %s kernel module, version %s.\n"
			" When this package is installed, DKMS builds and installs the module\n"
			" for every kernel with headers, and for each kernel installed later.\n",
			pkg, p->v, p->maintainer, (bytes + 1023) / 1024, p->m, p->m, p->v);
	r = deb_md5sums(p, rel, n);
	if (!r)
		r = dkms_pkg_write(p, "DEBIAN/control", control, 0644);
	if (!r)
		r = p->kver ? deb_scripts_binary(p) : deb_scripts_source(p, pkg);
	if (!r) {
		const char *argv[] = { "dpkg-deb", "--root-owner-group", "--build", p->root, NULL, NULL };

		deb = dkms_asprintf("%s/%s_%s_%s.deb", p->out_dir, pkg, p->v, arch);
		argv[4] = deb;
		r = dkms_pkg_run(p, argv);
	}
	if (!r)
		dkms_log(p->ctx, DKMS_LOG_INFO, "%s/%s: wrote %s", p->m, p->v, deb);
out:
	dkms_strv_free(rel, n);
	free(deb);
	free(control);
	free(pkg);
	free(name);
	return r;
}
