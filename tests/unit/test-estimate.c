/* SPDX-License-Identifier: GPL-2.0-or-later */
/* estimate.c: how long a build should take, from the times earlier builds recorded, else the sources. */
#include "fixture.h"

#define ARCH "x86_64"

static void setup(void)
{
	fixture_setup("estimate", FX_TREES | FX_CTX | FX_NO_DEST);
}

TestSuite(estimate, .init = setup, .fini = fixture_teardown);

/* A build of m/v for kver that took seconds (text as the build writes it). */
static void built(const char *m, const char *v, const char *kver, const char *seconds)
{
	char *rel = dkms_asprintf("var/lib/dkms/%s/%s/%s/" ARCH "/log/duration", m, v, kver);

	put(rel, seconds);
	free(rel);
}

/* C sources of n bytes in m-v's source dir. */
static void source_of(const char *m, const char *v, const char *file, size_t n)
{
	char *rel = dkms_asprintf("usr/src/%s-%s/%s", m, v, file), *text = malloc(n + 1);

	cr_assert(text);
	memset(text, ' ', n);
	text[n] = '\0';
	put(rel, text);
	free(text);
	free(rel);
}

Test(estimate, recorded_time_on_another_kernel)
{
	added("big", "1.0");
	built("big", "1.0", "6.1.0-54-amd64", "12.5\n");
	built("big", "1.0", "6.1.0-53-amd64", "10.0\n");
	cr_expect_float_eq(dkms_build_estimate(ctx, "big", "1.0", ARCH), 12.5, 1e-9, "the longest recorded");
}

Test(estimate, another_versions_time)
{
	added("m", "2.0");
	built("m", "1.0", "6.1.0-54-amd64", "7.0\n");
	cr_expect_float_eq(dkms_build_estimate(ctx, "m", "2.0", ARCH), 7.0, 1e-9);
}

Test(estimate, records_for_another_arch_do_not_count)
{
	char *rel = dkms_strdup("var/lib/dkms/m/1.0/6.1.0-54-amd64/aarch64/log/duration");

	added("m", "1.0");
	put(rel, "99\n");
	free(rel);
	cr_expect_lt(dkms_build_estimate(ctx, "m", "1.0", ARCH), 99.0);
}

Test(estimate, bad_records_are_ignored)
{
	added("m", "1.0");
	built("m", "1.0", "6.1.0-54-amd64", "garbage\n");
	built("m", "1.0", "6.1.0-53-amd64", "1e9\n");
	cr_expect_lt(dkms_build_estimate(ctx, "m", "1.0", ARCH), 1.0, "garbage reads as 0, 1e9 s is refused");
}

Test(estimate, without_records_larger_sources_take_longer)
{
	added("small", "1.0");
	added("large", "1.0");
	source_of("small", "1.0", "a.c", 1000);
	source_of("large", "1.0", "a.c", 100000);
	source_of("large", "1.0", "sub/b.c", 100000);
	source_of("large", "1.0", "README", 900000); /* only C counts */
	double s = dkms_build_estimate(ctx, "small", "1.0", ARCH);
	double l = dkms_build_estimate(ctx, "large", "1.0", ARCH);

	cr_expect_gt(l, s, "large %f, small %f", l, s);
	cr_expect_lt(l, 60.0);
}
