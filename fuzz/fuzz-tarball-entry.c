/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The tarball entry check (core/tarball.c, ldtarball): one archive entry
 * from the input, "type byte, size (8 bytes), pathname\0linktarget". Built
 * only once core/tarball.c exists (configure's HAVE_TARBALL_C).
 *
 * Written against the prototype agreed before core/tarball.c was merged:
 *   int dkms_tarball_check_entry(const char *pathname, int type,
 *                                const char *linktarget, int64_t size);
 * 0 = the entry may be extracted; type = the file type bits of the mode
 * (libarchive's AE_IF* are the S_IF* values). What an accepted entry must
 * satisfy, whatever else the check decides: a relative path without a ".."
 * component, a regular file, directory or symlink, a size that is not
 * negative, and a link whose target stays inside the archive's directory.
 * Review these against tarball.c when it lands.
 */
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int dkms_tarball_check_entry(const char *pathname, int type, const char *linktarget, int64_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *path, const char *link)
{
	fprintf(stderr, "tarball-entry: accepted %s: '%s' -> '%s'\n", what, path, link ? link : "(none)");
	abort();
}

/* Depth of a relative path's components, -1 when a ".." climbs above its start. */
static int depth_of(const char *p, int depth)
{
	while (*p) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return -1;
		} else if (len && !(len == 1 && p[0] == '.')) {
			depth++;
		}
		p += len;
		p += strspn(p, "/");
	}
	return depth;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* 1: a hard link (DKMS_TARBALL_HARDLINK), which must be refused */
	static const int types[] = { S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK, 0, 1 };
	char *buf, *path, *link = NULL;
	int64_t esize;
	int type;

	if (size < 9)
		return 0;
	type = data[0] < 0xf0 ? types[data[0] % DKMS_ARRAY_SIZE(types)] : (int)data[0] << 12;
	memcpy(&esize, data + 1, sizeof(esize));
	buf = malloc(size - 9 + 2);
	if (!buf)
		return 0;
	memcpy(buf, data + 9, size - 9);
	buf[size - 9] = buf[size - 8] = '\0';
	path = buf;
	if (strlen(path) < size - 9)
		link = path + strlen(path) + 1;
	if (type != S_IFLNK && link && !*link)
		link = NULL;

	if (dkms_tarball_check_entry(path, type, link, esize) == 0) {
		if (!*path || path[0] == '/' || depth_of(path, 0) < 0 || !dkms_valid_relpath(path))
			fail("a path outside the archive", path, link);
		if (type != S_IFREG && type != S_IFDIR && type != S_IFLNK)
			fail("a device, fifo or socket", path, link);
		if (esize < 0)
			fail("a negative size", path, link);
		if (type == S_IFLNK) {
			/* the link's directory: the path's depth less its last component */
			int d = depth_of(path, 0) - 1;

			if (!link || !*link || link[0] == '/' || d < 0 || depth_of(link, d) < 0)
				fail("a link out of the archive", path, link);
		}
	}
	free(buf);
	return 0;
}
