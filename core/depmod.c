/* SPDX-License-Identifier: GPL-2.0-or-later */
/* depmod -a for a kernel, also when the install tree is not /lib/modules. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int dkms_depmod(struct dkms_ctx *ctx, const struct dkms_kernel *k)
{
	const char *tree = ctx->install_tree, *suffix = "/lib/modules";
	size_t tl = strlen(tree), sl = strlen(suffix);
	char *base = NULL, *tmp = NULL, *sysmap = NULL, out[512] = "";
	const char *argv[8];
	int argc = 0, fd, st, r = 0;

	if (ctx->opts.no_depmod || !dkms_kernel_has_modules_dep(k)) {
		dkms_log(ctx, DKMS_LOG_DEBUG, "depmod %s skipped (%s)", k->version,
			 ctx->opts.no_depmod ? "--no-depmod" : "no modules.dep: the kernel is not installed");
		if (!ctx->opts.no_depmod)
			dkms_journal_depmod_done(ctx, k);
		return 0;
	}
	while (tl > 1 && tree[tl - 1] == '/')
		tl--;
	argv[argc++] = "depmod";
	argv[argc++] = "-a";
	if (tl == sl && strncmp(tree, suffix, sl) == 0) {
		sysmap = dkms_asprintf("/boot/System.map-%s", k->version);
		if (dkms_is_file(sysmap)) {
			argv[argc++] = "-F";
			argv[argc++] = sysmap;
		}
	} else if (tl > sl && strncmp(tree + tl - sl, suffix, sl) == 0) {
		base = dkms_asprintf("%.*s", (int)(tl - sl), tree);
	} else {
		/* depmod -b wants <basedir>/lib/modules/<kver>: give it one through a symlink */
		char *real = realpath(tree, NULL), *lib;

		const char *td = getenv("TMPDIR");

		tmp = dkms_asprintf("%s/dkms-depmod-XXXXXX", td && *td == '/' ? td : "/tmp");
		if (!real || !mkdtemp(tmp)) {
			r = dkms_err_set(ctx, DKMS_E_KERNEL,
					 "depmod for kernel %s: cannot prepare a base directory for "
					 "install tree %s: %s",
					 k->version, tree, strerror(errno));
			free(real);
			free(tmp);
			return r;
		}
		lib = dkms_path_join(tmp, "lib");
		mkdir(lib, 0755);
		free(lib);
		lib = dkms_path_join(tmp, "lib/modules");
		if (symlink(real, lib) < 0)
			r = -errno;
		free(lib);
		free(real);
		base = dkms_strdup(tmp);
	}
	if (base) {
		argv[argc++] = "-b";
		argv[argc++] = base;
	}
	argv[argc++] = k->version;
	argv[argc] = NULL;

	fd = memfd_create("dkms-depmod", MFD_CLOEXEC);
	{
		struct dkms_cmd cmd = { .argv = argv, .cwd = NULL, .env = NULL, .log_fd = fd };

		dkms_log(ctx, DKMS_LOG_INFO, "running depmod for %s%s%s", k->version, base ? " in " : "",
			 base ? base : "");
		st = r ? r : dkms_run(&cmd);
	}
	if (st && fd >= 0 && lseek(fd, 0, SEEK_SET) == 0) {
		ssize_t len = read(fd, out, sizeof(out) - 1);

		out[len > 0 ? len : 0] = '\0';
		out[strcspn(out, "\n")] = '\0';
	}
	if (fd >= 0)
		close(fd);
	if (st)
		r = dkms_err_set(ctx, DKMS_E_KERNEL,
				 "depmod failed for kernel %s (status %d)%s%s; run depmod -a %s "
				 "by hand to see why",
				 k->version, st, out[0] ? ": " : "", out, k->version);
	else
		dkms_journal_depmod_done(ctx, k);
	if (tmp) {
		dkms_rm_rf(tmp);
		free(tmp);
	}
	free(base);
	free(sysmap);
	return r;
}
