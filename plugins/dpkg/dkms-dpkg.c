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
 */
#include "plan.h" /* dkms_plan_add_job: a trigger's plan without the installs it would only repeat */
#include "dpkg-view.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TRIGGER_NAME "dkms-autoinstall"
#define PENDING_DIR  ".dpkg-kernels" /* <dkms_tree>/.dpkg-kernels/<kver>: kernels left to the trigger */

struct handler {
	struct dkms_ctx *ctx;
	bool in_dpkg;	 /* run from a maintainer script: DPKG_MAINTSCRIPT_PACKAGE */
	size_t failed;	 /* jobs that failed, and errors */
	char **failures; /* "<module>/<version> for <kver>: <log>", for the summary */
	size_t n_failures;
	char **initramfs; /* kernels that got a module */
	size_t n_initramfs;
};

static void strv_add_unique(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i], s))
			return;
	dkms_strv_push(v, n, s);
}

static bool strv_has(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

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

/* strict=yes in framework.conf (or framework.conf.d/ *.conf): failed modules fail the dpkg run. */
static bool strict_configured(struct dkms_ctx *ctx)
{
	static const char *const names[] = { "strict" };
	char *conf = dkms_path_join(ctx->conf_dir, "framework.conf");
	char *dotd = dkms_path_join(ctx->conf_dir, "framework.conf.d");
	char **files = NULL, **d = NULL, *value = NULL;
	size_t n_files = 0, n_d = 0;
	bool strict = false;

	if (dkms_is_file(conf))
		dkms_strv_push(&files, &n_files, conf);
	if (dkms_list_dir(dotd, &d, &n_d) == 0)
		for (size_t i = 0; i < n_d; i++) {
			size_t len = strlen(d[i]);
			char *p = dkms_path_join(dotd, d[i]);

			if (len > 5 && !strcmp(d[i] + len - 5, ".conf") && dkms_is_file(p))
				dkms_strv_push(&files, &n_files, p);
			free(p);
		}
	if (n_files && dkms_bash_read_vars(ctx, (const char *const *)files, n_files, names, 1, &value))
		dkms_log(ctx, DKMS_LOG_WARN, "%s", dkms_ctx_error(ctx));
	strict = value && *value && strcmp(value, "no") && strcmp(value, "0") && strcmp(value, "false");
	free(value);
	dkms_strv_free(files, n_files);
	dkms_strv_free(d, n_d);
	free(conf);
	free(dotd);
	return strict;
}

static bool kernel_has_headers(struct dkms_ctx *ctx, const char *kver)
{
	struct dkms_kernel *k;
	bool r;

	if (dkms_kernel_open(ctx, kver, NULL, &k))
		return false;
	r = dkms_kernel_has_headers(k);
	dkms_kernel_free(k);
	return r;
}

static bool kernel_has_image(struct dkms_ctx *ctx, const char *kver)
{
	char *order = dkms_asprintf("%s/%s/modules.order", dkms_ctx_install_tree(ctx), kver);
	char *image = dkms_asprintf("/boot/vmlinuz-%s", kver);
	bool r = dkms_is_file(order) || dkms_is_file(image);

	free(order);
	free(image);
	return r;
}

/* After a kernel's modules went: the directories DKMS made, and the kernel's own when empty. */
static void kernel_dirs_remove(struct dkms_ctx *ctx, const char *kver)
{
	static const char *const sub[] = { "updates/dkms", "updates", "extra", "" };

	for (size_t i = 0; i < DKMS_ARRAY_SIZE(sub); i++) {
		char *p = dkms_asprintf("%s/%s/%s", dkms_ctx_install_tree(ctx), kver, sub[i]);

		rmdir(p);
		free(p);
	}
}

/* ---- kernels the hooks left to the trigger ---- */

static char *pending_path(struct dkms_ctx *ctx, const char *kver)
{
	return dkms_asprintf("%s/%s%s%s", dkms_ctx_dkms_tree(ctx), PENDING_DIR, kver ? "/" : "",
			     kver ? kver : "");
}

static int pending_add(struct dkms_ctx *ctx, const char *kver)
{
	char *dir = pending_path(ctx, NULL), *p = pending_path(ctx, kver);
	int r = dkms_mkdir_p(dir, 0755);

	if (!r)
		r = dkms_write_file_atomic(p, "", 0, 0644);
	free(dir);
	free(p);
	return r;
}

static void pending_remove(struct dkms_ctx *ctx, char *const *kvers, size_t n)
{
	char *dir = pending_path(ctx, NULL);

	for (size_t i = 0; i < n; i++) {
		char *p = pending_path(ctx, kvers[i]);

		unlink(p);
		free(p);
	}
	rmdir(dir);
	free(dir);
}

/* ---- running a plan ---- */

/* A build that failed before for this kernel (its make.log kept, no module): not retried by a trigger. */
static bool failed_before(struct dkms_ctx *ctx, const struct dkms_job *j)
{
	char *kdir = dkms_tree_kdir(ctx, j->module, j->version, j->kver, j->arch);
	char *log = dkms_path_join(kdir, "log/make.log"), *mod = dkms_path_join(kdir, "module");
	bool r = dkms_is_file(log) && !dkms_is_dir(mod);

	free(kdir);
	free(log);
	free(mod);
	return r;
}

/* BUILD_EXCLUSIVE rules the kernel out (the conf is cached from planning). */
static bool excluded(struct dkms_ctx *ctx, const struct dkms_job *j)
{
	struct dkms_kernel *k;
	const struct dkms_conf *conf;
	bool r = false;

	if (dkms_kernel_open(ctx, j->kver, j->arch, &k))
		return false;
	if (!dkms_conf_for(ctx, j->module, j->version, k, NULL, &conf))
		r = dkms_conf_check_exclusive(ctx, conf, k->version, k->arch, k->config_path) ==
		    DKMS_E_EXCLUDED;
	dkms_kernel_free(k);
	return r;
}

/* The plan without the installs a trigger would only repeat: those that failed before (said once)
 * and those BUILD_EXCLUSIVE skips; kernels in retry (named by a hook) keep them all. */
static struct dkms_plan *plan_drop_known(struct dkms_ctx *ctx, struct dkms_plan *plan, char *const *retry,
					 size_t n_retry)
{
	struct dkms_plan *out = calloc(1, sizeof(*out));
	size_t *map = calloc(plan->n_jobs + 1, sizeof(*map)), n_dropped = 0;

	if (!out || !map)
		abort();
	out->autoinstall = plan->autoinstall;
	for (size_t i = 0; i < plan->n_jobs; i++) {
		const struct dkms_job *j = &plan->jobs[i];

		bool known =
			j->action == DKMS_ACTION_INSTALL && j->kver && !strv_has(retry, n_retry, j->kver);

		map[i] = SIZE_MAX;
		if (known && excluded(ctx, j))
			continue;
		if (known && failed_before(ctx, j)) {
			printf("%s %s/%s for %s",
			       n_dropped++ ? ","
					   : "dkms: failed before, not retried here "
					     "(`dkms autoinstall -k KVER` retries):",
			       j->module, j->version, j->kver);
			continue;
		}
		map[i] = dkms_plan_add_job(out, j->action, j->module, j->version, j->kver, j->arch);
		for (size_t d = 0; d < j->n_deps; d++)
			if (map[j->deps[d]] != SIZE_MAX)
				dkms_plan_add_dep(out, map[i], map[j->deps[d]]);
	}
	if (n_dropped)
		printf("\n");
	free(map);
	dkms_plan_free(plan);
	return out;
}

static void plan_run(struct handler *h, struct dkms_plan *plan)
{
	struct dkms_report *rep = NULL;
	char **kvers = NULL;
	size_t n_kvers = 0;

	for (size_t i = 0; i < plan->n_jobs; i++)
		if (plan->jobs[i].kver)
			strv_add_unique(&kvers, &n_kvers, plan->jobs[i].kver);
	if (plan->n_jobs) {
		printf("dkms: one plan, %zu job(s), for kernel(s)", plan->n_jobs);
		for (size_t i = 0; i < n_kvers; i++)
			printf("%s %s", i ? "," : "", kvers[i]);
		printf(":\n");
		dkms_plan_print(plan, stdout);
		fflush(stdout);
		dkms_plan_run(h->ctx, plan, &rep);
	}
	for (size_t i = 0; rep && i < dkms_report_n_jobs(rep); i++) {
		const struct dkms_job_report *j = dkms_report_job(rep, i);

		if (j->result == DKMS_JOB_DONE && j->action == DKMS_ACTION_INSTALL && j->kver)
			strv_add_unique(&h->initramfs, &h->n_initramfs, j->kver);
		if (j->result == DKMS_JOB_FAILED) {
			/* the core logged why; the summary names the log */
			char *line = dkms_asprintf("%s/%s for %s: %s", j->module, j->version,
						   j->kver ? j->kver : "-",
						   j->log_path	? j->log_path
						   : j->message ? j->message
								: "failed");

			dkms_strv_push(&h->failures, &h->n_failures, line);
			free(line);
			h->failed++;
		}
	}
	dkms_report_free(rep);
	dkms_plan_free(plan);
	dkms_strv_free(kvers, n_kvers);
}

static void event_run(struct handler *h, char *const *added, size_t n_added, char *const *removed,
		      size_t n_removed, char *const *retry, size_t n_retry)
{
	struct dkms_kref *k = calloc(n_added + n_removed + 1, sizeof(*k));
	struct dkms_event ev = { .kernels_added = k,
				 .n_kernels_added = n_added,
				 .kernels_removed = k + n_added,
				 .n_kernels_removed = n_removed };
	struct dkms_plan *plan;

	if (!k)
		abort();
	for (size_t i = 0; i < n_added; i++)
		k[i].version = added[i];
	for (size_t i = 0; i < n_removed; i++)
		k[n_added + i].version = removed[i];
	if (dkms_plan_for_event(h->ctx, &ev, &plan)) {
		dkms_log(h->ctx, DKMS_LOG_ERR, "%s", dkms_ctx_error(h->ctx));
		h->failed++;
	} else {
		plan_run(h, plan_drop_known(h->ctx, plan, retry, n_retry));
	}
	for (size_t i = 0; i < n_removed; i++)
		kernel_dirs_remove(h->ctx, removed[i]);
	free(k);
}

/* ---- the initramfs of kernels that got modules ---- */

static bool newest_initrd(const char *kver)
{
	char **names = NULL;
	size_t n = 0;
	bool newest = true;

	if (dkms_list_dir("/boot", &names, &n) < 0)
		return true;
	for (size_t i = 0; i < n && newest; i++)
		if (!strncmp(names[i], "initrd.img-", 11) && dkms_vercmp(names[i] + 11, kver) > 0)
			newest = false;
	dkms_strv_free(names, n);
	return newest;
}

static void initramfs_update(struct handler *h)
{
	for (size_t i = 0; i < h->n_initramfs; i++) {
		const char *kver = h->initramfs[i];
		char *initrd = dkms_asprintf("/boot/initrd.img-%s", kver);
		const char *trig[] = { "dpkg-trigger", "--no-await", "update-initramfs", NULL };
		const char *upd[] = { "update-initramfs", "-u", "-k", kver, NULL };
		int r = -1;

		if (!dkms_is_file(initrd)) {
			free(initrd);
			continue;
		}
		/* initramfs-tools' trigger runs update-initramfs -u: the newest kernel only */
		if (h->in_dpkg && newest_initrd(kver))
			r = dkms_run(&(struct dkms_cmd){ .argv = trig, .log_fd = STDOUT_FILENO });
		if (!r)
			printf("dkms: %s gets the new modules: update-initramfs trigger activated\n", initrd);
		else if ((r = dkms_run(&(struct dkms_cmd){ .argv = upd, .log_fd = STDOUT_FILENO })) != 0)
			dkms_log(h->ctx, DKMS_LOG_WARN,
				 "update-initramfs -u -k %s %s; %s may lack the new modules until it is "
				 "updated",
				 kver, r == 127 ? "is not available" : "failed", initrd);
		free(initrd);
	}
	fflush(stdout);
}

/* ---- reconcile: the trigger ---- */

/* Module sources that configured packages ship and nobody added. Returns how many were added. */
static size_t sources_add(struct handler *h, const struct dkms_dpkg_view *v)
{
	size_t added = 0;

	for (size_t i = 0; i < v->n_sources; i++) {
		const struct dkms_dpkg_source *s = &v->sources[i];
		char *dir = dkms_path_join("/usr/src", s->dir), *conf = dkms_path_join(dir, "dkms.conf");
		char *m = NULL, *ver = NULL;

		/* an unconfigured package's postinst (common.postinst) adds its own source */
		if (!s->configured || !dkms_is_file(conf) || dkms_module_resolve(h->ctx, dir, &m, &ver) ||
		    dkms_module_is_added(h->ctx, m, ver))
			goto next;
		free(m);
		free(ver);
		m = ver = NULL;
		if (dkms_module_add(h->ctx, dir, &m, &ver)) {
			dkms_log(h->ctx, DKMS_LOG_ERR, "package %s: %s", s->pkg, dkms_ctx_error(h->ctx));
			h->failed++;
		} else {
			printf("dkms: added %s/%s from package %s\n", m, ver, s->pkg);
			added++;
		}
	next:
		free(m);
		free(ver);
		free(dir);
		free(conf);
	}
	return added;
}

/* Kernels the tree has a directory for (<m>/<v>/<kver>: built, or a failed build's log). */
static void tree_kernels(struct dkms_ctx *ctx, char ***out, size_t *n)
{
	char **mods = NULL;
	size_t n_mods = 0;

	if (dkms_tree_list_modules(ctx, &mods, &n_mods) < 0)
		return;
	for (size_t i = 0; i < n_mods; i++) {
		char **vers = NULL;
		size_t n_vers = 0;

		if (dkms_tree_list_versions(ctx, mods[i], &vers, &n_vers) < 0)
			continue;
		for (size_t v = 0; v < n_vers; v++) {
			char *vdir = dkms_asprintf("%s/%s/%s", dkms_ctx_dkms_tree(ctx), mods[i], vers[v]);
			char **names = NULL;
			size_t n_names = 0;

			if (dkms_list_dir(vdir, &names, &n_names) == 0)
				for (size_t e = 0; e < n_names; e++) {
					char *p = dkms_path_join(vdir, names[e]);

					if (names[e][0] != '.' && strcmp(names[e], "source") &&
					    strcmp(names[e], "build") && dkms_is_dir(p))
						strv_add_unique(out, n, names[e]);
					free(p);
				}
			dkms_strv_free(names, n_names);
			free(vdir);
		}
		dkms_strv_free(vers, n_vers);
	}
	dkms_strv_free(mods, n_mods);
}

/* Kernels in the tree that no package ships any more and whose headers and image are gone. */
static void kernels_gone(struct handler *h, const struct dkms_dpkg_view *v, char ***out, size_t *n)
{
	char **kvers = NULL;
	size_t n_kvers = 0;

	tree_kernels(h->ctx, &kvers, &n_kvers);
	for (size_t i = 0; i < n_kvers; i++) {
		const struct dkms_dpkg_kernel *k = dkms_dpkg_view_kernel(v, kvers[i]);

		if ((k && (k->headers || k->image)) || kernel_has_headers(h->ctx, kvers[i]) ||
		    kernel_has_image(h->ctx, kvers[i]))
			continue;
		printf("dkms: kernel %s is gone (no headers, no image): removing its modules\n", kvers[i]);
		dkms_strv_push(out, n, kvers[i]);
	}
	dkms_strv_free(kvers, n_kvers);
}

static void reconcile(struct handler *h)
{
	struct dkms_dpkg_view view = { 0 };
	char **named = NULL, **added = NULL, **gone = NULL, *err = NULL;
	size_t n_named = 0, n_added = 0, n_gone = 0;
	bool have_view = dkms_dpkg_view_read(&view, &err) == 0;
	char *pending = pending_path(h->ctx, NULL);

	if (dkms_list_dir(pending, &named, &n_named) < 0)
		n_named = 0;
	free(pending);
	if (!have_view)
		dkms_log(h->ctx, DKMS_LOG_WARN,
			 "cannot read the dpkg database (%s): building only for the kernels the hooks named, "
			 "removing nothing",
			 err);
	for (size_t i = 0; i < n_named; i++)
		if (kernel_has_headers(h->ctx, named[i]))
			strv_add_unique(&added, &n_added, named[i]);
	for (size_t i = 0; i < view.n_kernels; i++)
		if (view.kernels[i].headers_configured && kernel_has_headers(h->ctx, view.kernels[i].kver))
			strv_add_unique(&added, &n_added, view.kernels[i].kver);
	if (have_view && sources_add(h, &view)) {
		/* new sources go on every kernel with headers */
		char **all = NULL;
		size_t n_all = 0;

		if (dkms_kernel_list_installed(h->ctx, &all, &n_all) == 0)
			for (size_t i = 0; i < n_all; i++)
				if (kernel_has_headers(h->ctx, all[i]))
					strv_add_unique(&added, &n_added, all[i]);
		dkms_strv_free(all, n_all);
	}
	if (have_view)
		kernels_gone(h, &view, &gone, &n_gone);
	event_run(h, added, n_added, gone, n_gone, named, n_named);
	pending_remove(h->ctx, named, n_named);
	dkms_strv_free(named, n_named);
	dkms_strv_free(added, n_added);
	dkms_strv_free(gone, n_gone);
	dkms_dpkg_view_free(&view);
	free(err);
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

/* ---- common.postinst of dh_dkms packages ---- */

static int module_postinst(struct handler *h, char **argv, int argc)
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
	strict = strict || strict_configured(h.ctx);

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
