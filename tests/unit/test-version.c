// SPDX-License-Identifier: GPL-2.0-or-later
/* version.c: ordering like `sort -V`, and regex matching. */
#include <criterion/criterion.h>

#include "internal.h"

static void assert_order(const char *lo, const char *hi)
{
	cr_assert_lt(dkms_vercmp(lo, hi), 0, "%s < %s", lo, hi);
	cr_assert_gt(dkms_vercmp(hi, lo), 0, "%s > %s", hi, lo);
}

Test(version, equal)
{
	cr_assert_eq(dkms_vercmp("1.2.3", "1.2.3"), 0);
	cr_assert_eq(dkms_vercmp("", ""), 0);
}

Test(version, numeric_parts_compare_as_numbers)
{
	assert_order("1.2", "1.10");
	assert_order("2.9", "2.10");
	assert_order("0.9.9", "0.10");
	assert_order("1.12.0", "1.12.0+dfsg");
	assert_order("6.1.0-55-amd64", "6.1.0-56-amd64");
	assert_order("6.1.0-9-amd64", "6.1.0-10-amd64");
	assert_order("6.1.0-56-amd64", "6.12.38+deb12-amd64");
}

Test(version, tilde_sorts_before_everything)
{
	assert_order("1.0~rc1", "1.0");
	assert_order("1.0~rc1", "1.0~rc2");
}

Test(version, leading_zeros_ignored_for_order)
{
	cr_assert_lt(dkms_vercmp("1.01", "1.2"), 0);
	/* equal numerically, still a total order */
	cr_assert_neq(dkms_vercmp("1.01", "1.1"), 0);
}

Test(version, empty_sorts_first)
{
	assert_order("", "0");
}

Test(version, letters_after_numbers)
{
	assert_order("1.0", "1.0a");
	assert_order("1.0a", "1.0b");
}

Test(version, matches_sort_V_on_real_versions)
{
	/* ordered as GNU sort -V orders them */
	static const char *const v[] = {
		"0.0+git20231103", "0.4.2",  "0.12.7", "1.2.2", "1.12.0+dfsg",
		"2.2.17",	   "2.13.9", "3.23",   "4.1.9", "11",
	};
	for (size_t i = 0; i + 1 < sizeof(v) / sizeof(*v); i++)
		assert_order(v[i], v[i + 1]);
}

Test(regex, extended_syntax)
{
	cr_assert_eq(dkms_regex_match("^6\\.1\\.", "6.1.0-55-amd64"), 1);
	cr_assert_eq(dkms_regex_match("^5\\.", "6.1.0-55-amd64"), 0);
	cr_assert_eq(dkms_regex_match("(x86_64|i.86)", "x86_64"), 1);
	cr_assert_eq(dkms_regex_match(".*", ""), 1);
}

Test(regex, bad_regex_is_reported)
{
	cr_assert_eq(dkms_regex_match("(", "x"), -1);
}
