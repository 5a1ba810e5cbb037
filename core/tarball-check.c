/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What an entry of a tarball given to ldtarball may be. Pure functions of
 * the entry's header, no I/O, so that a fuzzer can call them directly.
 *
 * The layout is the one dkms 3.x's mktarball writes (names may start with
 * "./"):
 *   dkms_main_tree/<kver>/<arch>/...     built modules and logs
 *   dkms_source_tree/...                 the module sources
 *   dkms_binaries_only/{dkms.conf,PACKAGE_NAME,PACKAGE_VERSION}
 * Anything else, and any name or link that could lead out of the directory
 * the archive is extracted into, is refused.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_NAME      4096 /* a whole entry name or link target */
#define MAX_COMPONENT 255  /* one component */

static const char *const reasons[] = {
	[DKMS_TARBALL_ENTRY_OK] = "acceptable",
	[DKMS_TARBALL_BAD_NAME] = "the name is empty or too long",
	[DKMS_TARBALL_BAD_CONTROL] =
		"the name or link target holds a control character (newline, tab, escape...)",
	[DKMS_TARBALL_BAD_ABSOLUTE] = "the name is an absolute path",
	[DKMS_TARBALL_BAD_DOTDOT] = "the name has a '..' component",
	[DKMS_TARBALL_BAD_HARDLINK] = "it is a hard link",
	[DKMS_TARBALL_BAD_TYPE] = "it is a device, fifo, socket or of an unknown type",
	[DKMS_TARBALL_BAD_SYMLINK] = "it is a symbolic link outside dkms_source_tree/",
	[DKMS_TARBALL_BAD_TARGET] =
		"it is a symbolic link whose target is absolute, empty or outside the sources",
	[DKMS_TARBALL_BAD_SIZE] = "its size is negative or above the 256 MiB limit for one file",
	[DKMS_TARBALL_BAD_LAYOUT] =
		"it is not part of a DKMS tarball's layout (dkms_main_tree/<kernel>/<arch>/, "
		"dkms_source_tree/, dkms_binaries_only/)",
};

const char *dkms_tarball_reason(int code)
{
	if (code < 0 || (size_t)code >= DKMS_ARRAY_SIZE(reasons) || !reasons[code])
		return "unknown reason";
	return reasons[code];
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Split a relative name into components, dropping empty and "." ones. *n
 * is the count; the components point into the returned buffer. */
static char *split(const char *name, const char **comp, size_t max, size_t *n)
{
	char *buf = dkms_strdup(name), *save = NULL;

	*n = 0;
	for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (*n == max) {
			*n = max + 1; /* too deep */
			break;
		}
		comp[(*n)++] = c;
	}
	return buf;
}

char *dkms_tarball_entry_name(const char *pathname)
{
	const char *comp[MAX_NAME / 2 + 1];
	size_t n, len = 0;
	char *buf, *out;

	if (!pathname || strlen(pathname) > MAX_NAME)
		return NULL;
	buf = split(pathname, comp, DKMS_ARRAY_SIZE(comp) - 1, &n);
	out = calloc(1, strlen(pathname) + 1);
	if (!out)
		abort();
	for (size_t i = 0; i < n && i < DKMS_ARRAY_SIZE(comp) - 1; i++) {
		if (i)
			out[len++] = '/';
		strcpy(out + len, comp[i]);
		len += strlen(comp[i]);
	}
	free(buf);
	return out;
}

/* A kernel version or arch directory of dkms_main_tree: it becomes a
 * directory under <dkms_tree>/<m>/<v>/, so none of the names used there. */
static bool good_kernel_dir(const char *s)
{
	static const char *const reserved[] = { "source", "build", "tarball", "log", "module" };

	if (s[0] == '.' || strlen(s) > MAX_COMPONENT)
		return false;
	for (size_t i = 0; i < DKMS_ARRAY_SIZE(reserved); i++)
		if (!strcmp(s, reserved[i]))
			return false;
	return true;
}

/* Resolving target from the link's directory (depth components below
 * dkms_source_tree), does the path ever go above dkms_source_tree? */
static bool target_stays_inside(const char *target, size_t depth)
{
	const char *p = target;

	while (*p) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (depth == 0)
				return false;
			depth--;
		} else if (len && !(len == 1 && p[0] == '.')) {
			depth++;
		}
		p += len;
		while (*p == '/')
			p++;
	}
	return true;
}

int dkms_tarball_check_entry(const char *pathname, int type, const char *linktarget, int64_t size)
{
	const char *comp[64];
	size_t n, plen;
	char *buf;
	int r = DKMS_TARBALL_ENTRY_OK;

	if (!pathname || !*pathname || (plen = strlen(pathname)) > MAX_NAME)
		return DKMS_TARBALL_BAD_NAME;
	if (has_control(pathname))
		return DKMS_TARBALL_BAD_CONTROL;
	if (pathname[0] == '/')
		return DKMS_TARBALL_BAD_ABSOLUTE;
	if (!dkms_valid_relpath(pathname))
		return DKMS_TARBALL_BAD_DOTDOT;
	if (type == DKMS_TARBALL_HARDLINK)
		return DKMS_TARBALL_BAD_HARDLINK;
	if (type != S_IFREG && type != S_IFDIR && type != S_IFLNK)
		return DKMS_TARBALL_BAD_TYPE;
	if (size < 0 || (type == S_IFREG && size > DKMS_TARBALL_MAX_FILE))
		return DKMS_TARBALL_BAD_SIZE;

	buf = split(pathname, comp, DKMS_ARRAY_SIZE(comp), &n);
	if (n > DKMS_ARRAY_SIZE(comp)) {
		r = DKMS_TARBALL_BAD_NAME; /* deeper than any module source */
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (strlen(comp[i]) > MAX_COMPONENT) {
			r = DKMS_TARBALL_BAD_NAME;
			goto out;
		}
	if (type == S_IFLNK) {
		if (n < 2 || strcmp(comp[0], "dkms_source_tree")) {
			r = DKMS_TARBALL_BAD_SYMLINK;
		} else if (!linktarget || !*linktarget || strlen(linktarget) > MAX_NAME ||
			   linktarget[0] == '/') {
			r = DKMS_TARBALL_BAD_TARGET;
		} else if (has_control(linktarget)) {
			r = DKMS_TARBALL_BAD_CONTROL;
		} else if (!target_stays_inside(linktarget, n - 2)) {
			r = DKMS_TARBALL_BAD_TARGET;
		}
		goto out;
	}
	/* the layout */
	if (n == 0) {
		r = type == S_IFDIR ? 0 : DKMS_TARBALL_BAD_LAYOUT; /* "./" itself */
	} else if (!strcmp(comp[0], "dkms_source_tree")) {
		r = n > 1 || type == S_IFDIR ? 0 : DKMS_TARBALL_BAD_LAYOUT;
	} else if (!strcmp(comp[0], "dkms_binaries_only")) {
		if (n == 1)
			r = type == S_IFDIR ? 0 : DKMS_TARBALL_BAD_LAYOUT;
		else if (n == 2 && type == S_IFREG &&
			 (!strcmp(comp[1], "dkms.conf") || !strcmp(comp[1], "PACKAGE_NAME") ||
			  !strcmp(comp[1], "PACKAGE_VERSION")))
			r = 0;
		else
			r = DKMS_TARBALL_BAD_LAYOUT;
	} else if (!strcmp(comp[0], "dkms_main_tree")) {
		/* dkms_main_tree/<kver>/<arch> are directories; files below them */
		if (n <= 3 && type != S_IFDIR)
			r = DKMS_TARBALL_BAD_LAYOUT;
		else if ((n >= 2 && !good_kernel_dir(comp[1])) || (n >= 3 && !good_kernel_dir(comp[2])))
			r = DKMS_TARBALL_BAD_LAYOUT;
	} else {
		r = DKMS_TARBALL_BAD_LAYOUT;
	}
out:
	free(buf);
	return r;
}
