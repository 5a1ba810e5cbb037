/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Version ordering (the one `sort -V` uses) and regex matching. */
#include "internal.h"

#include <ctype.h>
#include <regex.h>
#include <string.h>

/* Weight of a non-digit character: letters first, '~' before everything. */
static int char_order(unsigned char c)
{
	if (isdigit(c))
		return 0;
	if (isalpha(c))
		return c;
	if (c == '~')
		return -1;
	return c ? c + 256 : 0;
}

/* Debian's version comparison over [a, a+alen) and [b, b+blen). */
static int verrevcmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, j = 0;

	while (i < alen || j < blen) {
		int first_diff = 0;

		while ((i < alen && !isdigit((unsigned char)a[i])) ||
		       (j < blen && !isdigit((unsigned char)b[j]))) {
			int ac = i < alen ? char_order((unsigned char)a[i]) : 0;
			int bc = j < blen ? char_order((unsigned char)b[j]) : 0;

			if (ac != bc)
				return ac - bc;
			i++;
			j++;
		}
		while (i < alen && a[i] == '0')
			i++;
		while (j < blen && b[j] == '0')
			j++;
		while (i < alen && j < blen && isdigit((unsigned char)a[i]) && isdigit((unsigned char)b[j])) {
			if (!first_diff)
				first_diff = a[i] - b[j];
			i++;
			j++;
		}
		if (i < alen && isdigit((unsigned char)a[i]))
			return 1;
		if (j < blen && isdigit((unsigned char)b[j]))
			return -1;
		if (first_diff)
			return first_diff;
	}
	return 0;
}

/* Length of s without a trailing file suffix: (\.[A-Za-z~][A-Za-z0-9~]*)*$ */
static size_t strip_suffix_len(const char *s, size_t len)
{
	size_t end = len;
	size_t i = len;

	/* scan backwards over suffix groups */
	for (;;) {
		size_t k = i;

		while (k > 0 && (isalnum((unsigned char)s[k - 1]) || s[k - 1] == '~'))
			k--;
		if (k == 0 || k == i || s[k - 1] != '.' || !(isalpha((unsigned char)s[k]) || s[k] == '~'))
			break;
		if (k - 1 == 0)
			break;
		i = k - 1;
		end = i;
	}
	return end;
}

int dkms_vercmp(const char *a, const char *b)
{
	size_t alen, blen, ap, bp;
	int r;

	if (!strcmp(a, b))
		return 0;
	if (!*a)
		return -1;
	if (!*b)
		return 1;
	if (!strcmp(a, "."))
		return -1;
	if (!strcmp(b, "."))
		return 1;
	if (!strcmp(a, ".."))
		return -1;
	if (!strcmp(b, ".."))
		return 1;
	if (a[0] == '.' && b[0] != '.')
		return -1;
	if (a[0] != '.' && b[0] == '.')
		return 1;
	if (a[0] == '.' && b[0] == '.') {
		a++;
		b++;
	}
	alen = strlen(a);
	blen = strlen(b);
	ap = strip_suffix_len(a, alen);
	bp = strip_suffix_len(b, blen);
	if (ap == bp && !strncmp(a, b, ap))
		r = verrevcmp(a, alen, b, blen);
	else
		r = verrevcmp(a, ap, b, bp);
	if (!r)
		r = verrevcmp(a, alen, b, blen);
	return r ? (r < 0 ? -1 : 1) : (strcmp(a, b) < 0 ? -1 : strcmp(a, b) > 0);
}

int dkms_regex_match(const char *re, const char *s)
{
	regex_t rx;
	int r;

	if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
		return -1;
	r = regexec(&rx, s, 0, NULL, 0) == 0;
	regfree(&rx);
	return r;
}
