// SPDX-License-Identifier: GPL-2.0-or-later
/* plan.c: which jobs a request or an event makes, and their BUILD_DEPENDS order. */
#include "fixture.h"
#include "plan.h"

/* A module source with a dkms.conf, registered in the tree. */
static void add_module(const char *m, const char *v, const char *extra)
{
	char *src = dkms_asprintf("%s/usr/src/%s-%s", tmp, m, v);
	char *conf = dkms_asprintf("%s/dkms.conf", src);
	char *text = dkms_asprintf("PACKAGE_NAME=%s\nPACKAGE_VERSION=%s\nBUILT_MODULE_NAME[0]=%s\n"
				   "DEST_MODULE_LOCATION[0]=/extra\n%s\n",
				   m, v, m, extra);

	cr_assert_eq(dkms_mkdir_p(src, 0755), 0);
	cr_assert_eq(dkms_write_file_atomic(conf, text, strlen(text), 0644), 0);
	cr_assert_eq(dkms_tree_add(ctx, m, v, src), 0, "%s", dkms_ctx_error(ctx));
	free(src);
	free(conf);
	free(text);
}

/* Mark m/v built and installed for a kernel, the way the tree records it. */
static void fake_installed(const char *m, const char *v, const char *kver)
{
	char *mod = dkms_asprintf("%s/var/lib/dkms/%s/%s/%s/x86_64/module", tmp, m, v, kver);
	char *ko = dkms_asprintf("%s/%s.ko", mod, m);

	cr_assert_eq(dkms_mkdir_p(mod, 0755), 0);
	cr_assert_eq(dkms_write_file_atomic(ko, "x", 1, 0644), 0);
	cr_assert_eq(dkms_tree_set_installed(ctx, m, v, kver, "x86_64"), 0);
	free(mod);
	free(ko);
}

static void setup(void)
{
	fixture_setup("plan", FX_DKMS_TREE | FX_CONF_DIR | FX_CTX);
}

TestSuite(plan, .init = setup, .fini = fixture_teardown);

static ssize_t job_index(const struct dkms_plan *plan, const char *m)
{
	for (size_t i = 0; i < plan->n_jobs; i++)
		if (!strcmp(plan->jobs[i].module, m))
			return (ssize_t)i;
	return -1;
}

static struct dkms_plan *autoinstall(const char *kver)
{
	struct dkms_kref k = { .version = kver, .arch = "x86_64" };
	struct dkms_request req = {
		.action = DKMS_ACTION_INSTALL, .kernels = &k, .n_kernels = 1, .autoinstall = true
	};
	struct dkms_plan *plan = NULL;

	cr_assert_eq(dkms_plan_for_request(ctx, &req, &plan), 0, "%s", dkms_ctx_error(ctx));
	return plan;
}

Test(plan, build_depends_chain_orders_jobs)
{
	/* names chosen so that alphabetical order is the wrong order */
	add_module("aaa", "1.0", "AUTOINSTALL=yes\nBUILD_DEPENDS[0]=mmm");
	add_module("mmm", "1.0", "AUTOINSTALL=yes\nBUILD_DEPENDS[0]=zzz");
	add_module("zzz", "1.0", "AUTOINSTALL=yes");
	struct dkms_plan *plan = autoinstall("6.1.0-55-amd64");

	cr_assert_eq(plan->n_jobs, 3);
	ssize_t a = job_index(plan, "aaa"), m = job_index(plan, "mmm"), z = job_index(plan, "zzz");

	cr_assert(z < m && m < a, "order zzz, mmm, aaa (got %zd %zd %zd)", z, m, a);
	cr_assert_eq(plan->jobs[a].n_deps, 1);
	cr_assert_eq(plan->jobs[a].deps[0], (size_t)m);
	cr_assert_eq(plan->jobs[m].deps[0], (size_t)z);
	dkms_plan_free(plan);
}

Test(plan, autoinstall_takes_newest_autoinstall_version_only)
{
	add_module("foo", "1.0", "AUTOINSTALL=yes");
	add_module("foo", "1.10", "AUTOINSTALL=yes");
	add_module("foo", "1.9", "AUTOINSTALL=yes");
	add_module("manual", "1.0", "");
	struct dkms_plan *plan = autoinstall("6.1.0-55-amd64");

	cr_assert_eq(plan->n_jobs, 1);
	cr_assert_str_eq(plan->jobs[0].module, "foo");
	cr_assert_str_eq(plan->jobs[0].version, "1.10");
	cr_assert_eq(plan->jobs[0].action, DKMS_ACTION_INSTALL);
	dkms_plan_free(plan);
}

Test(plan, autoinstall_skips_installed_modules)
{
	add_module("foo", "1.0", "AUTOINSTALL=yes");
	add_module("bar", "1.0", "AUTOINSTALL=yes\nBUILD_DEPENDS[0]=foo");
	fake_installed("foo", "1.0", "6.1.0-55-amd64");
	struct dkms_plan *plan = autoinstall("6.1.0-55-amd64");

	cr_assert_eq(plan->n_jobs, 1);
	cr_assert_str_eq(plan->jobs[0].module, "bar");
	cr_assert_eq(plan->jobs[0].n_deps, 0, "an installed dependency is no job");
	dkms_plan_free(plan);

	plan = autoinstall("6.1.0-56-amd64");
	cr_assert_eq(plan->n_jobs, 2, "nothing is installed for the other kernel");
	dkms_plan_free(plan);
}

Test(plan, no_autoinstall_file_disables)
{
	add_module("foo", "1.0", "AUTOINSTALL=yes");
	dkms_ctx_free(ctx);
	ctx = NULL;
	put("etc/dkms/no-autoinstall", "");
	fixture_ctx_new();
	struct dkms_plan *plan = autoinstall("6.1.0-55-amd64");

	cr_assert_eq(plan->n_jobs, 0);
	dkms_plan_free(plan);
}

Test(plan, event_removes_then_adds)
{
	add_module("foo", "1.0", "AUTOINSTALL=yes");
	fake_installed("foo", "1.0", "6.1.0-55-amd64");
	struct dkms_kref gone = { "6.1.0-55-amd64", "x86_64" }, came = { "6.1.0-56-amd64", "x86_64" };
	struct dkms_event ev = {
		.kernels_added = &came, .n_kernels_added = 1, .kernels_removed = &gone, .n_kernels_removed = 1
	};
	struct dkms_plan *plan;

	cr_assert_eq(dkms_plan_for_event(ctx, &ev, &plan), 0);
	cr_assert_eq(plan->n_jobs, 2);
	cr_assert_eq(plan->jobs[0].action, DKMS_ACTION_UNBUILD);
	cr_assert_str_eq(plan->jobs[0].kver, "6.1.0-55-amd64");
	cr_assert_eq(plan->jobs[1].action, DKMS_ACTION_INSTALL);
	cr_assert_str_eq(plan->jobs[1].kver, "6.1.0-56-amd64");
	dkms_plan_free(plan);
}

Test(plan, remove_all_lists_every_built_kernel_then_forgets)
{
	add_module("foo", "1.0", "");
	fake_installed("foo", "1.0", "6.1.0-55-amd64");
	fake_installed("foo", "1.0", "6.1.0-56-amd64");
	struct dkms_request req = {
		.action = DKMS_ACTION_REMOVE, .module = "foo", .version = "1.0", .all_kernels = true
	};
	struct dkms_plan *plan;

	cr_assert_eq(dkms_plan_for_request(ctx, &req, &plan), 0);
	cr_assert_eq(plan->n_jobs, 3);
	cr_assert_str_eq(plan->jobs[0].kver, "6.1.0-55-amd64");
	cr_assert_str_eq(plan->jobs[1].kver, "6.1.0-56-amd64");
	cr_assert_null(plan->jobs[2].kver, "the last job forgets the version");
	dkms_plan_free(plan);
}

Test(plan, module_without_version_needs_a_single_version)
{
	add_module("foo", "1.0", "");
	add_module("foo", "2.0", "");
	struct dkms_kref k = { "6.1.0-55-amd64", "x86_64" };
	struct dkms_request req = {
		.action = DKMS_ACTION_BUILD, .module = "foo", .kernels = &k, .n_kernels = 1
	};
	struct dkms_plan *plan = NULL;

	cr_assert_eq(dkms_plan_for_request(ctx, &req, &plan), DKMS_E_USAGE);
	cr_assert_not_null(strstr(dkms_ctx_error(ctx), "several versions"));
	req.module = "unknown";
	cr_assert_eq(dkms_plan_for_request(ctx, &req, &plan), DKMS_E_USAGE);
	cr_assert_not_null(strstr(dkms_ctx_error(ctx), "not in the DKMS tree"));
}

Test(plan, print_is_readable)
{
	add_module("aaa", "1.0", "AUTOINSTALL=yes\nBUILD_DEPENDS[0]=zzz");
	add_module("zzz", "1.0", "AUTOINSTALL=yes");
	struct dkms_plan *plan = autoinstall("6.1.0-55-amd64");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	dkms_plan_print(plan, f);
	fclose(f);
	cr_assert_str_eq(buf, "install zzz/1.0, 6.1.0-55-amd64, x86_64\n"
			      "install aaa/1.0, 6.1.0-55-amd64, x86_64 (after zzz)\n");
	free(buf);
	dkms_plan_free(plan);
}

Test(plan, event_for_a_kernel_without_headers_plans_nothing)
{
	add_module("foo", "1.0", "AUTOINSTALL=yes");
	struct dkms_kref came = { "6.1.0-99-amd64", "x86_64" };
	struct dkms_event ev = { .kernels_added = &came, .n_kernels_added = 1 };
	struct dkms_plan *plan;

	cr_assert_eq(dkms_plan_for_event(ctx, &ev, &plan), 0);
	cr_assert_eq(plan->n_jobs, 0, "no headers yet: no job, not a failure");
	dkms_plan_free(plan);
}
