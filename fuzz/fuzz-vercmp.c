/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dkms_vercmp: the input is up to three strings separated by NULs. Beyond
 * "does not crash", the order must be one a sort can use: reflexive,
 * antisymmetric, equal only for equal strings, transitive; and on plain
 * dotted numbers ("1.10.2") it must agree with a component-wise reference.
 */
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

static void fail(const char *what, const char *a, const char *b, int r)
{
	fprintf(stderr, "vercmp: %s: a='%s' b='%s' -> %d\n", what, a, b, r);
	abort();
}

/* Digits and single dots, no leading or trailing dot: "1", "1.10.02". */
static bool dotted_numeric(const char *s)
{
	if (!*s || *s == '.')
		return false;
	for (const char *p = s; *p; p++) {
		if (*p == '.' && (p[1] == '.' || !p[1]))
			return false;
		if (*p != '.' && (*p < '0' || *p > '9'))
			return false;
	}
	return true;
}

/* Components compared as numbers (any length), more components is newer, then bytewise. */
static int ref_cmp(const char *a, const char *b)
{
	const char *pa = a, *pb = b;

	while (*pa && *pb) {
		size_t la, lb;

		while (*pa == '0' && pa[1] >= '0' && pa[1] <= '9')
			pa++;
		while (*pb == '0' && pb[1] >= '0' && pb[1] <= '9')
			pb++;
		la = strspn(pa, "0123456789");
		lb = strspn(pb, "0123456789");
		if (la != lb)
			return la < lb ? -1 : 1;
		int r = memcmp(pa, pb, la);

		if (r)
			return sign(r);
		pa += la;
		pb += lb;
		if (*pa == '.')
			pa++;
		if (*pb == '.')
			pb++;
	}
	if (*pa || *pb)
		return *pa ? 1 : -1;
	return sign(strcmp(a, b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 3), *s[3];
	size_t off = 0;
	int ab, ba, bc, ac;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	memset(buf + size, 0, 3);
	for (int i = 0; i < 3; i++) {
		s[i] = buf + off;
		off += strlen(s[i]) + 1;
		if (off > size)
			off = size + 1 + (size_t)i; /* the remaining strings are empty */
	}
	ab = dkms_vercmp(s[0], s[1]);
	ba = dkms_vercmp(s[1], s[0]);
	if (dkms_vercmp(s[0], s[0]) != 0)
		fail("not reflexive", s[0], s[0], dkms_vercmp(s[0], s[0]));
	if (sign(ab) != -sign(ba))
		fail("not antisymmetric", s[0], s[1], ab);
	if (!ab != !strcmp(s[0], s[1]))
		fail("equal but different strings", s[0], s[1], ab);
	if (dotted_numeric(s[0]) && dotted_numeric(s[1]) && sign(ab) != ref_cmp(s[0], s[1]))
		fail("disagrees with the dotted-number reference", s[0], s[1], ab);
	bc = dkms_vercmp(s[1], s[2]);
	ac = dkms_vercmp(s[0], s[2]);
	if (ab < 0 && bc < 0 && ac >= 0)
		fail("not transitive (a<b<c, a>=c; c follows)", s[0], s[1], ac);
	if (ab > 0 && bc > 0 && ac <= 0)
		fail("not transitive (a>b>c, a<=c; c follows)", s[0], s[1], ac);
	free(buf);
	return 0;
}
