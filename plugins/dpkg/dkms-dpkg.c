/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dkms-dpkg-trigger: what dpkg runs for DKMS (the package's postinst, the
 * /etc/kernel hooks and /usr/lib/dkms/common.postinst call it).
 *
 *   dkms-dpkg-trigger [--strict] [--verbose] reconcile
 *	After a configure or a trigger (interest-noawait /lib/modules, /usr/lib/modules,
 *	/usr/src, dkms-autoinstall): compare the dpkg database with the tree and
 *	build, in ONE plan, what is missing: the kernels the hooks named, kernels
 *	whose configured headers package lacks AUTOINSTALL modules, module sources a
 *	package shipped without adding them; unbuild what belongs to kernels whose
 *	headers and image are gone.
 *   dkms-dpkg-trigger [...] kernel HOOK KVER [IMAGE]
 *	HOOK is the /etc/kernel directory the hook runs from: header_postinst.d,
 *	postinst.d (inside dpkg: noted and left to the trigger, so that every
 *	kernel of an apt run is built in one plan; outside: built now), preinst.d
 *	(a reinstalled image: unbuild its AUTOINSTALL modules), prerm.d and postrm.d
 *	(the kernel goes: its modules go, unless its headers stay).
 *   dkms-dpkg-trigger [...] module NAME VERSION [DIR [ARCH [OLD-VERSION]]]
 *	The common.postinst of dh_dkms packages: (re)add /usr/src/NAME-VERSION, then
 *	build and install it for every kernel with headers.
 *
 * A module that fails is reported (stderr, its make.log) and the dpkg run goes
 * on: exit 0, unless strict mode (--strict, or strict=yes in framework.conf).
 * Modules installed for a kernel with an initramfs reach it: initramfs-tools'
 * update-initramfs trigger inside dpkg, update-initramfs -u -k otherwise.
 *
 * This file: arguments, output, the kernel hooks. reconcile.c: the trigger.
 * postinst.c: common.postinst. run.c: running a plan, the initramfs.
 * dpkg-view.c: the dpkg database. handler.h: what they share.
 */
#include "handler.h"
#include "plan.h" /* dkms_action_name */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TRIGGER_NAME "dkms-autoinstall"

/* ---- output: info on stdout, problems on stderr, one line per finished job ---- */

static void log_line(void *data, enum dkms_log_prio prio, const char *msg)
{
	(void)data;
	if (prio <= DKMS_LOG_WARN) {
		fflush(stdout);
		fprintf(stderr, "dkms: %s: %s\n", prio == DKMS_LOG_ERR ? "error" : "warning", msg);
	} else {
		printf("%s\n", msg);
		fflush(stdout);
	}
}

static void progress_line(void *data, const struct dkms_progress *p)
{
	static const char *const result[] = { [DKMS_JOB_PENDING] = "?",
					      [DKMS_JOB_DONE] = "done",
					      [DKMS_JOB_SKIPPED] = "skipped",
					      [DKMS_JOB_FAILED] = "FAILED" };
	const struct dkms_job_report *j = p->job;

	(void)data;
	if (p->kind != DKMS_PROGRESS_END)
		return;
	printf("dkms: [%zu/%zu] %s %s/%s%s%s: %s (%.1f s)\n", p->n_done, p->n_total,
	       dkms_action_name(j->action), j->module, j->version, j->kver ? " for " : "",
	       j->kver ? j->kver : "", result[j->result], p->seconds);
	fflush(stdout);
}

/* ---- settings and the kernels on disk ---- */

bool kernel_has_headers(struct dkms_ctx *ctx, const char *kver)
{
	struct dkms_kernel *k;
	bool r;

	if (dkms_kernel_open(ctx, kver, NULL, &k))
		return false;
	r = dkms_kernel_has_headers(k);
	dkms_kernel_free(k);
	return r;
}

bool kernel_has_image(struct dkms_ctx *ctx, const char *kver)
{
	char *order = dkms_asprintf("%s/%s/modules.order", dkms_ctx_install_tree(ctx), kver);
	char *image = dkms_asprintf("/boot/vmlinuz-%s", kver);
	bool r = dkms_is_file(order) || dkms_is_file(image);

	free(order);
	free(image);
	return r;
}

/* ---- kernel hooks ---- */

/* Inside dpkg: note the kernel and activate our trigger, so that all kernels of the run share a plan. */
static bool kernel_defer(struct handler *h, const char *kver)
{
	const char *argv[] = { "dpkg-trigger", "--no-await", TRIGGER_NAME, NULL };
	char *k = (char *)kver;

	if (pending_add(h->ctx, kver) == 0 &&
	    dkms_run(&(struct dkms_cmd){ .argv = argv, .log_fd = STDERR_FILENO }) == 0) {
		printf("dkms: kernel %s: built when dpkg processes triggers, in one plan with every kernel "
		       "of this run\n",
		       kver);
		return true;
	}
	pending_remove(h->ctx, &k, 1);
	return false;
}

/* hook: "postinst.d" or "postinst" */
static bool hook_is(const char *hook, const char *name)
{
	size_t len = strcspn(hook, ".");

	return len == strlen(name) && !strncmp(hook, name, len);
}

static int kernel_hook(struct handler *h, const char *hook, const char *kver)
{
	char *k = (char *)kver;

	if (!dkms_valid_name(kver)) {
		fprintf(stderr, "dkms: invalid kernel version '%s'\n", kver);
		return 2;
	}
	if (hook_is(hook, "header_postinst") || hook_is(hook, "postinst")) {
		if (!kernel_has_headers(h->ctx, kver))
			printf("dkms: kernel %s has no headers: install linux-headers-%s to build DKMS "
			       "modules for it\n",
			       kver, kver);
		else if (!h->in_dpkg || !kernel_defer(h, kver))
			event_run(h, &k, 1, NULL, 0, &k, 1);
	} else if (hook_is(hook, "preinst")) {
		/* the image is reinstalled or upgraded: rebuild its AUTOINSTALL modules in postinst */
		struct dkms_kref kr = { .version = kver };
		struct dkms_request req = {
			.action = DKMS_ACTION_UNBUILD, .kernels = &kr, .n_kernels = 1, .autoinstall = true
		};
		struct dkms_plan *plan;

		if (!kernel_has_image(h->ctx, kver))
			return 0;
		if (dkms_plan_for_request(h->ctx, &req, &plan)) {
			dkms_log(h->ctx, DKMS_LOG_ERR, "%s", dkms_ctx_error(h->ctx));
			h->failed++;
		} else {
			plan_run(h, plan);
		}
	} else if (hook_is(hook, "prerm")) {
		/* the image goes; modules built for the headers stay until the headers go (the trigger) */
		if (kernel_has_headers(h->ctx, kver))
			printf("dkms: kernel %s keeps its headers, so it keeps its DKMS modules\n", kver);
		else
			event_run(h, NULL, 0, &k, 1, NULL, 0);
	} else if (hook_is(hook, "postrm")) {
		/* leftovers, when nothing of the kernel is left */
		if (!kernel_has_headers(h->ctx, kver) && !kernel_has_image(h->ctx, kver))
			event_run(h, NULL, 0, &k, 1, NULL, 0);
	} else {
		fprintf(stderr, "dkms: unknown kernel hook '%s'\n", hook);
		return 2;
	}
	return 0;
}

static int usage(void)
{
	fputs("usage: dkms-dpkg-trigger [--strict] [--verbose] reconcile\n"
	      "       dkms-dpkg-trigger [--strict] [--verbose] kernel HOOK KVER [IMAGE]\n"
	      "       dkms-dpkg-trigger [--strict] [--verbose] module NAME VERSION [DIR [ARCH "
	      "[OLD-VERSION]]]\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "strict", no_argument, NULL, 's' },
					      { "verbose", no_argument, NULL, 'v' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *pkg = getenv("DPKG_MAINTSCRIPT_PACKAGE");
	struct handler h = { .in_dpkg = pkg && *pkg };
	bool strict = false, verbose = false;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == 's')
			strict = true;
		else if (c == 'v')
			verbose = true;
		else
			return usage();
	}
	argv += optind;
	argc -= optind;
	if (argc < 1)
		return usage();
	if (dkms_ctx_new(&(struct dkms_paths){ 0 }, &h.ctx) && h.ctx)
		fprintf(stderr, "dkms: warning: %s\n", dkms_ctx_error(h.ctx));
	if (!h.ctx)
		return 1;
	dkms_ctx_set_log_fn(h.ctx, log_line, NULL);
	dkms_ctx_set_progress_fn(h.ctx, progress_line, NULL);
	dkms_ctx_opts(h.ctx)->verbose |= verbose;
	strict = strict || dkms_ctx_opts(h.ctx)->strict;

	if (!strcmp(argv[0], "reconcile") && argc == 1)
		reconcile(&h);
	else if (!strcmp(argv[0], "kernel") && (argc == 3 || argc == 4))
		r = kernel_hook(&h, argv[1], argv[2]);
	else if (!strcmp(argv[0], "module") && argc >= 3 && argc <= 6)
		r = module_postinst(&h, argv + 1, argc - 1);
	else
		r = usage();
	initramfs_update(&h);
	if (h.failed) {
		fflush(stdout);
		fprintf(stderr, "dkms: %zu failure(s); %s\n", h.failed,
			strict ? "strict mode: the package operation fails"
			       : "the package operation goes on (strict=yes in /etc/dkms/framework.conf "
				 "makes "
				 "this fatal)");
		for (size_t i = 0; i < h.n_failures; i++)
			fprintf(stderr, "dkms:   %s\n", h.failures[i]);
	}
	dkms_strv_free(h.failures, h.n_failures);
	dkms_strv_free(h.initramfs, h.n_initramfs);
	dkms_ctx_free(h.ctx);
	return r ? r : strict && h.failed ? 1 : 0;
}
