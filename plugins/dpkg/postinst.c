/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dkms-dpkg-trigger module NAME VERSION ...: what /usr/lib/dkms/common.postinst runs for dh_dkms packages. */
#include "handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int module_postinst(struct handler *h, char **argv, int argc)
{
	const char *name = argv[0], *version = argv[1], *arch = argc > 3 && *argv[3] ? argv[3] : NULL;
	char *src = dkms_asprintf("%s/%s-%s", dkms_ctx_source_tree(h->ctx), name, version);
	char **kvers = NULL, *m = NULL, *v = NULL;
	size_t n_kvers = 0, n = 0;
	struct dkms_kref *k = NULL;
	struct dkms_plan *plan;

	if (arch && !strcmp(arch, "amd64"))
		arch = "x86_64";
	if (h->ctx->no_autoinstall) {
		printf("dkms: automatic installation is disabled (%s/no-autoinstall): %s/%s not built\n",
		       h->ctx->conf_dir, name, version);
		goto out;
	}
	if (!dkms_is_dir(src)) {
		dkms_log(h->ctx, DKMS_LOG_ERR,
			 "%s/%s: no source at %s (binary-only DKMS tarballs are not supported)", name,
			 version, src);
		h->failed++;
		goto out;
	}
	if (dkms_module_is_added(h->ctx, name, version)) {
		/* the same version again (a reinstall, a new package revision): rebuild from its files */
		struct dkms_request req = {
			.action = DKMS_ACTION_REMOVE, .module = name, .version = version, .all_kernels = true
		};

		printf("dkms: removing the old %s/%s first\n", name, version);
		if (dkms_plan_for_request(h->ctx, &req, &plan) == 0)
			plan_run(h, plan);
	}
	if (dkms_module_add(h->ctx, src, &m, &v)) {
		dkms_log(h->ctx, DKMS_LOG_ERR, "%s", dkms_ctx_error(h->ctx));
		h->failed++;
		goto out;
	}
	if (dkms_kernel_list_installed(h->ctx, &kvers, &n_kvers))
		dkms_log(h->ctx, DKMS_LOG_WARN, "%s", dkms_ctx_error(h->ctx));
	k = calloc(n_kvers + 1, sizeof(*k));
	if (!k)
		abort();
	for (size_t i = 0; i < n_kvers; i++)
		if (kernel_has_headers(h->ctx, kvers[i]))
			k[n++] = (struct dkms_kref){ .version = kvers[i], .arch = arch };
	if (!n) {
		printf("dkms: %s/%s added; no kernel has headers: it is built when one gets them\n", m, v);
	} else {
		struct dkms_request req = {
			.action = DKMS_ACTION_INSTALL, .module = m, .version = v, .kernels = k, .n_kernels = n
		};

		if (dkms_plan_for_request(h->ctx, &req, &plan)) {
			dkms_log(h->ctx, DKMS_LOG_ERR, "%s", dkms_ctx_error(h->ctx));
			h->failed++;
		} else {
			plan_run(h, plan);
		}
	}
out:
	free(k);
	dkms_strv_free(kvers, n_kvers);
	free(src);
	free(m);
	free(v);
	return 0;
}
