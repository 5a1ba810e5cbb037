/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pkg.c, pkg-deb.c, pkg-rpm.c: packages of small hand-made trees, read back with dpkg-deb and rpm. */
#include "fixture.h"

#include <sys/wait.h>

static void setup(void)
{
	fixture_setup("pkg", FX_TREES | FX_CTX | FX_NO_DEST);
}

TestSuite(pkg, .init = setup, .fini = fixture_teardown);

#define CONF                                                                                                 \
	"PACKAGE_NAME=foo_bar\nPACKAGE_VERSION=1.2\nBUILT_MODULE_NAME[0]=foo_bar\n"                          \
	"DEST_MODULE_LOCATION[0]=/extra\nAUTOINSTALL=yes\n"

/* What a shell command prints, without the last newline (malloc'd); its exit status must be 0. */
static char *sh(const char *fmt, ...)
{
	char *cmd, buf[4096];
	size_t len = 0, n;
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	cr_assert(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	f = popen(cmd, "r");
	cr_assert_not_null(f, "%s", cmd);
	while ((n = fread(buf + len, 1, sizeof(buf) - 1 - len, f)) > 0)
		len += n;
	buf[len] = '\0';
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	cr_assert_eq(pclose(f), 0, "%s failed: %s", cmd, buf);
	free(cmd);
	return dkms_strdup(buf);
}

static void assert_sh(const char *want, const char *fmt, const char *arg)
{
	char *got = sh(fmt, arg);

	cr_assert_str_eq(got, want, "%s: got [%s], want [%s]", arg, got, want);
	free(got);
}

static int make(bool binaries, enum dkms_pkg_format fmt, const char *m, const char *v, const char *kver)
{
	struct dkms_kref k = { .version = kver, .arch = "x86_64" };
	char *out = tpath("out");
	struct dkms_pkg_request req = { .format = fmt,
					.binaries = binaries,
					.module = m,
					.version = v,
					.kernels = kver ? &k : NULL,
					.n_kernels = kver ? 1 : 0,
					.output_dir = out,
					.maintainer = "Tester <tester@example.org>" };
	int r = dkms_pkg_make(ctx, &req);

	free(out);
	return r;
}

Test(pkg, refuses_what_is_not_added)
{
	cr_assert_eq(make(false, DKMS_PKG_DEB, "foo_bar", "1.2", NULL), DKMS_E_USAGE);
	cr_assert(strstr(dkms_ctx_error(ctx), "dkms add"), "%s", dkms_ctx_error(ctx));
}

Test(pkg, refuses_names_unfit_for_packages)
{
	added_conf("foo bar", "1.2", CONF);
	cr_assert_eq(make(false, DKMS_PKG_DEB, "foo bar", "1.2", NULL), DKMS_E_USAGE);
	cr_assert_eq(make(false, DKMS_PKG_RPM, "foo_bar", "1.2'", NULL), DKMS_E_USAGE);
}

Test(pkg, binaries_need_a_kernel_and_a_build)
{
	added_conf("foo_bar", "1.2", CONF);
	cr_assert_eq(make(true, DKMS_PKG_DEB, "foo_bar", "1.2", NULL), DKMS_E_USAGE);
	cr_assert_eq(make(true, DKMS_PKG_DEB, "foo_bar", "1.2", HELLO_KVER), DKMS_E_NOMODULE);
	cr_assert(strstr(dkms_ctx_error(ctx), "dkms build foo_bar/1.2 -k " HELLO_KVER), "%s",
		  dkms_ctx_error(ctx));
}

Test(pkg, source_deb)
{
	char *deb = tpath("out/foo-bar-dkms_1.2_all.deb"), *log = tpath("out/foo_bar-1.2.deb.log");

	added_conf("foo_bar", "1.2", CONF);
	put("usr/src/foo_bar-1.2/foo.c", "MODULE_LICENSE(\"Dual MIT/GPL\");\n");
	cr_assert_eq(make(false, DKMS_PKG_DEB, "foo_bar", "1.2", NULL), 0, "%s", dkms_ctx_error(ctx));
	cr_assert(dkms_is_file(deb), "%s", deb);
	cr_assert(!dkms_exists(log), "the log of a success is not kept: %s", log);
	assert_sh("foo-bar-dkms 1.2 all",
		  "dpkg-deb -W --showformat='${Package} ${Version} ${Architecture}' %s", deb);
	assert_sh("dkms (>= 2.1.0.0)", "dpkg-deb -f %s Depends", deb);
	assert_sh("Tester <tester@example.org>", "dpkg-deb -f %s Maintainer", deb);
	assert_sh("./usr/src/foo_bar-1.2/dkms.conf\n./usr/src/foo_bar-1.2/foo.c",
		  "dpkg-deb -c %s | awk '$1 !~ /^d/ {print $6}' | grep usr/src/foo_bar-1.2/", deb);
	assert_sh("(MODULE_LICENSE: Dual MIT/GPL). On Debian systems, the complete text of the GNU General",
		  "dpkg-deb --fsys-tarfile %s | tar -xOf - ./usr/share/doc/foo-bar-dkms/copyright | grep "
		  "LICENSE "
		  "| sed 's/.*(MOD/(MOD/'",
		  deb);
	assert_sh("foo-bar-dkms (1.2) unstable; urgency=medium",
		  "dpkg-deb --fsys-tarfile %s | tar -xOf - ./usr/share/doc/foo-bar-dkms/changelog.gz | gzip "
		  "-dc | "
		  "head -1",
		  deb);
	free(log);
	free(deb);
}

Test(pkg, source_rpm)
{
	char *rpm = tpath("out/dkms-foo_bar-1.2_1-1.noarch.rpm");

	added_conf("foo_bar", "1.2-1", CONF);
	cr_assert_eq(make(false, DKMS_PKG_RPM, "foo_bar", "1.2-1", NULL), 0, "%s", dkms_ctx_error(ctx));
	cr_assert(dkms_is_file(rpm), "%s", rpm);
	assert_sh("dkms-foo_bar 1.2_1 noarch unknown Tester <tester@example.org>",
		  "rpm -qp --qf '%%{NAME} %%{VERSION} %%{ARCH} %%{LICENSE} %%{PACKAGER}' %s 2>/dev/null",
		  rpm);
	assert_sh("/usr/src/foo_bar-1.2-1/dkms.conf", "rpm -qpl %s 2>/dev/null | grep dkms.conf", rpm);
	free(rpm);
}

/* A "built" module (any bytes): the package places it where the conf's DEST_MODULE_LOCATION says. */
Test(pkg, binary_deb_and_rpm)
{
	char *deb = tpath("out/foo-bar-modules-" HELLO_KVER "_1.2_amd64.deb");
	char *rpm = tpath("out/kmod-foo_bar-" HELLO_KVER "-1.2-1.x86_64.rpm");

	added_conf("foo_bar", "1.2", CONF);
	put("var/lib/dkms/foo_bar/1.2/" HELLO_KVER "/x86_64/module/foo_bar.ko", "not really ELF");
	cr_assert_eq(make(true, DKMS_PKG_DEB, "foo_bar", "1.2", HELLO_KVER), 0, "%s", dkms_ctx_error(ctx));
	cr_assert_eq(make(true, DKMS_PKG_RPM, "foo_bar", "1.2", HELLO_KVER), 0, "%s", dkms_ctx_error(ctx));
	assert_sh("linux-image-" HELLO_KVER, "dpkg-deb -f %s Depends", deb);
	assert_sh("./lib/modules/" HELLO_KVER "/extra/foo_bar.ko\n"
		  "./var/lib/dkms/foo_bar/1.2/" HELLO_KVER "/x86_64/dkms.conf\n"
		  "./var/lib/dkms/foo_bar/1.2/" HELLO_KVER "/x86_64/module/foo_bar.ko",
		  "dpkg-deb -c %s | awk '$1 !~ /^d/ {print $6}' | grep -v usr/share/doc", deb);
	assert_sh("AUTOINSTALL=\"no\"",
		  "dpkg-deb --fsys-tarfile %s | tar -xOf - ./var/lib/dkms/foo_bar/1.2/" HELLO_KVER
		  "/x86_64/dkms.conf | tail -1",
		  deb);
	assert_sh("/lib/modules/" HELLO_KVER "/modules.order", "rpm -qpR %s 2>/dev/null | grep ^/lib", rpm);
	assert_sh("/lib/modules/" HELLO_KVER "/extra/foo_bar.ko", "rpm -qpl %s 2>/dev/null | grep ^/lib",
		  rpm);
	free(rpm);
	free(deb);
}
