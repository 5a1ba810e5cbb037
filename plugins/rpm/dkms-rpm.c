/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dkms.so, the rpm transaction plugin: kernels that a transaction installs or
 * erases become one libdkms event, run before rpm (or dnf) returns.
 *
 * psm_post notes the kernel-uname-r / kernel-devel-uname-r provides of each
 * element done (an upgrade shows its old package as an erased element).
 * tsm_post forks once, if any kernel was noted: the child chroots into the
 * transaction's root, builds and installs the tracked modules for the new
 * kernels, cleans up after the gone ones (depmod once per kernel), and
 * regenerates the initramfs of a new kernel that already has one: rpm runs
 * tsm_post after the kernel's own scriptlets (kernel-install, dracut), so
 * without it the new modules would miss the initramfs until the next update.
 * Test, build-probs and justdb transactions are left alone, and nothing here
 * ever fails a transaction.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rpm/header.h>
#include <rpm/rpmdb.h>
#include <rpm/rpmds.h>
#include <rpm/rpmio.h>
#include <rpm/rpmte.h>
#include <rpm/rpmts.h>
#ifdef HAVE_RPM_RPMPLUGIN_H
#include <rpm/rpmplugin.h>
#else
#include "rpmplugin-abi.h"
#endif

#include "dkms.h"

enum { K_ADDED = 1, K_ERASED = 2, K_ERASED_DEVEL = 4 };

struct kernel_note {
	char *kver;
	unsigned flags;
};

struct plugin_state {
	struct kernel_note *k;
	size_t n;
	bool skip; /* test, build-probs or justdb transaction */
};

static void state_reset(struct plugin_state *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->k[i].kver);
	free(s->k);
	s->k = NULL;
	s->n = 0;
	s->skip = false;
}

static void state_note(struct plugin_state *s, const char *kver, unsigned flag)
{
	struct kernel_note *k;

	if (!*kver || strchr(kver, '/') || *kver == '.')
		return;
	for (size_t i = 0; i < s->n; i++) {
		if (!strcmp(s->k[i].kver, kver)) {
			s->k[i].flags |= flag;
			return;
		}
	}
	k = realloc(s->k, (s->n + 1) * sizeof(*k));
	if (!k)
		return;
	s->k = k;
	k[s->n].kver = strdup(kver);
	k[s->n].flags = flag;
	if (k[s->n].kver)
		s->n++;
}

static rpmRC dkms_init(rpmPlugin plugin, rpmts ts)
{
	struct plugin_state *s = calloc(1, sizeof(*s));

	if (!s)
		return RPMRC_FAIL;
	rpmPluginSetData(plugin, s);
	return RPMRC_OK;
}

static void dkms_cleanup(rpmPlugin plugin)
{
	struct plugin_state *s = rpmPluginGetData(plugin);

	state_reset(s);
	free(s);
}

static rpmRC dkms_tsm_pre(rpmPlugin plugin, rpmts ts)
{
	struct plugin_state *s = rpmPluginGetData(plugin);

	state_reset(s);
	s->skip = rpmtsFlags(ts) & (RPMTRANS_FLAG_TEST | RPMTRANS_FLAG_BUILD_PROBS | RPMTRANS_FLAG_JUSTDB);
	return RPMRC_OK;
}

static rpmRC dkms_psm_post(rpmPlugin plugin, rpmte te, int res)
{
	struct plugin_state *s = rpmPluginGetData(plugin);
	bool added = rpmteType(te) == TR_ADDED;
	Header h;
	rpmds ds;

	if (s->skip || res != RPMRC_OK || (!added && rpmteType(te) != TR_REMOVED))
		return RPMRC_OK;
	/* rpmteDS() is emptied once the transaction is ordered: the header still has the provides */
	h = rpmteHeader(te);
	ds = h ? rpmdsNew(h, RPMTAG_PROVIDENAME, 0) : NULL;
	while (rpmdsNext(ds) >= 0) {
		const char *name = rpmdsN(ds), *evr = rpmdsEVR(ds);
		bool devel = !strcmp(name, "kernel-devel-uname-r");

		if (!evr || !(rpmdsFlags(ds) & RPMSENSE_EQUAL) || (!devel && strcmp(name, "kernel-uname-r")))
			continue;
		state_note(s, evr, added ? K_ADDED : devel ? K_ERASED_DEVEL : K_ERASED);
	}
	rpmdsFree(ds);
	headerFree(h);
	return RPMRC_OK;
}

/* After the transaction, does a package still provide kernel-uname-r = kver? */
static bool kernel_installed(rpmts ts, const char *kver)
{
	rpmdbMatchIterator mi = rpmtsInitIterator(ts, RPMTAG_PROVIDENAME, "kernel-uname-r", 0);
	bool found;

	if (!mi)
		return false;
	rpmdbSetIteratorRE(mi, RPMTAG_PROVIDEVERSION, RPMMIRE_STRCMP, kver);
	found = rpmdbNextIterator(mi) != NULL;
	rpmdbFreeIterator(mi);
	return found;
}

static void log_line(void *data, enum dkms_log_prio prio, const char *msg)
{
	dprintf(STDERR_FILENO, "dkms: %s%s\n", prio == DKMS_LOG_ERR ? "error: " : "", msg);
}

/* dracut -f --kver kver, when dracut made an initramfs for kver already. */
static void initramfs_update(const char *kver)
{
	static const char *const dracuts[] = { "/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut" };
	char img[4096];
	pid_t pid;

	snprintf(img, sizeof(img), "/boot/initramfs-%s.img", kver);
	if (access(img, F_OK))
		return;
	for (size_t i = 0; i < sizeof(dracuts) / sizeof(dracuts[0]); i++) {
		if (access(dracuts[i], X_OK))
			continue;
		dprintf(STDERR_FILENO, "dkms: regenerating %s with the new modules\n", img);
		pid = fork();
		if (pid == 0) {
			execl(dracuts[i], "dracut", "-f", "--kver", kver, (char *)NULL);
			_exit(127);
		}
		while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return;
	}
}

/* The child: signals and descriptors of its own, the root's trees, the event, a summary. */
static int child_run(const char *root, int out_fd, const struct dkms_event *ev)
{
	struct dkms_ctx *ctx = NULL;
	struct dkms_plan *plan = NULL;
	struct dkms_report *rep = NULL;
	sigset_t none;
	int failed, fd;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (out_fd >= 0) {
		dup2(out_fd, STDOUT_FILENO);
		dup2(out_fd, STDERR_FILENO);
	}
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0)
		dup2(fd, STDIN_FILENO);
	close_range(3, ~0U, 0); /* rpm's database and lock stay with rpm */
	if ((strcmp(root, "/") && chroot(root)) || chdir("/")) {
		dprintf(STDERR_FILENO, "dkms: cannot enter %s: %s; modules not updated\n", root,
			strerror(errno));
		return 1;
	}
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 0);
	if (dkms_ctx_new(NULL, &ctx) && ctx)
		log_line(NULL, DKMS_LOG_WARN, dkms_ctx_error(ctx));
	if (!ctx)
		return 1;
	dkms_ctx_set_log_fn(ctx, log_line, NULL);
	if (dkms_plan_for_event(ctx, ev, &plan)) {
		log_line(NULL, DKMS_LOG_ERR, dkms_ctx_error(ctx));
		dkms_ctx_free(ctx);
		return 1;
	}
	dkms_plan_run(ctx, plan, &rep);
	for (size_t i = 0; rep && i < dkms_report_n_jobs(rep); i++) {
		const struct dkms_job_report *j = dkms_report_job(rep, i);

		if (j->result == DKMS_JOB_FAILED)
			dprintf(STDERR_FILENO, "dkms: FAILED %s/%s for kernel %s (%s)%s%s\n", j->module,
				j->version, j->kver, j->arch, j->log_path ? ", log: " : "",
				j->log_path ? j->log_path : "");
	}
	for (size_t k = 0; rep && k < ev->n_kernels_added; k++) {
		bool installed = false;

		for (size_t i = 0; i < dkms_report_n_jobs(rep); i++) {
			const struct dkms_job_report *j = dkms_report_job(rep, i);

			installed |= j->action == DKMS_ACTION_INSTALL && j->result == DKMS_JOB_DONE &&
				     !strcmp(j->kver, ev->kernels_added[k].version);
		}
		if (installed)
			initramfs_update(ev->kernels_added[k].version);
	}
	failed = rep && dkms_report_n_failed(rep) > 0;
	dkms_report_free(rep);
	dkms_plan_free(plan);
	dkms_ctx_free(ctx);
	return failed;
}

static rpmRC dkms_tsm_post(rpmPlugin plugin, rpmts ts, int res)
{
	struct plugin_state *s = rpmPluginGetData(plugin);
	struct dkms_kref *added = NULL, *removed = NULL;
	struct dkms_event ev = { 0 };
	const char *root = rpmtsRootDir(ts);
	FD_t script = rpmtsScriptFd(ts);
	pid_t pid;

	if (s->skip || !s->n)
		goto out;
	added = calloc(s->n, sizeof(*added));
	removed = calloc(s->n, sizeof(*removed));
	if (!added || !removed)
		goto out;
	ev.kernels_added = added;
	ev.kernels_removed = removed;
	for (size_t i = 0; i < s->n; i++) {
		const struct kernel_note *k = &s->k[i];

		/* kernel-devel going alone leaves the modules of a kernel still installed */
		if (k->flags & K_ADDED)
			added[ev.n_kernels_added++].version = k->kver;
		else if ((k->flags & K_ERASED) || !kernel_installed(ts, k->kver))
			removed[ev.n_kernels_removed++].version = k->kver;
	}
	if (!ev.n_kernels_added && !ev.n_kernels_removed)
		goto out;
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(child_run(root && *root ? root : "/", script ? Fileno(script) : -1, &ev));
	if (pid < 0)
		fprintf(stderr, "dkms: cannot fork: %s; kernel modules not updated\n", strerror(errno));
	while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
out:
	free(added);
	free(removed);
	state_reset(s);
	return RPMRC_OK;
}

struct rpmPluginHooks_s dkms_hooks = {
	.init = dkms_init,
	.cleanup = dkms_cleanup,
	.tsm_pre = dkms_tsm_pre,
	.tsm_post = dkms_tsm_post,
	.psm_post = dkms_psm_post,
};
