/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Module compression with the libraries, in the formats the kernel and
 * libkmod read: xz (CRC32 check, 1 MiB dictionary, as the kernel's own
 * build does), zstd and gzip. Modules are small: whole-buffer calls.
 */
#include "internal.h"

#include <errno.h>
#include <lzma.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define COMPRESS_ZSTD_LEVEL 19
#define COMPRESS_XZ_DICT    (1u << 20)

static int compress_xz(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	lzma_options_lzma opt;
	lzma_filter filters[2];
	size_t cap = lzma_stream_buffer_bound(len), pos = 0;
	lzma_ret ret;

	if (lzma_lzma_preset(&opt, LZMA_PRESET_DEFAULT))
		return -EINVAL;
	opt.dict_size = COMPRESS_XZ_DICT;
	filters[0] = (lzma_filter){ .id = LZMA_FILTER_LZMA2, .options = &opt };
	filters[1] = (lzma_filter){ .id = LZMA_VLI_UNKNOWN, .options = NULL };
	*out = malloc(cap ? cap : 1);
	if (!*out)
		return -ENOMEM;
	ret = lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, NULL, in, len, *out, &pos, cap);
	if (ret != LZMA_OK) {
		free(*out);
		*out = NULL;
		return ret == LZMA_MEM_ERROR ? -ENOMEM : -EIO;
	}
	*out_len = pos;
	return 0;
}

static int compress_zstd(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	size_t cap = ZSTD_compressBound(len), r;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();

	if (!cctx)
		return -ENOMEM;
	*out = malloc(cap ? cap : 1);
	if (!*out) {
		ZSTD_freeCCtx(cctx);
		return -ENOMEM;
	}
	r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, COMPRESS_ZSTD_LEVEL);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(r))
		r = ZSTD_compress2(cctx, *out, cap, in, len);
	ZSTD_freeCCtx(cctx);
	if (ZSTD_isError(r)) {
		free(*out);
		*out = NULL;
		return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? -ENOMEM : -EIO;
	}
	*out_len = r;
	return 0;
}

static int compress_gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	z_stream zs = { 0 };
	uLong cap;
	int r;

	if (len > UINT32_MAX)
		return -EFBIG;
	/* windowBits 15 + 16: a gzip header and trailer, as gzip -9 writes. */
	if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&zs, (uLong)len);
	*out = malloc(cap);
	if (!*out) {
		deflateEnd(&zs);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = *out;
	zs.avail_out = (uInt)cap;
	r = deflate(&zs, Z_FINISH);
	*out_len = zs.total_out;
	deflateEnd(&zs);
	if (r != Z_STREAM_END) {
		free(*out);
		*out = NULL;
		return -EIO;
	}
	return 0;
}

int dkms_compress_file(enum dkms_compress c, const char *src, const char *dst)
{
	struct stat st;
	char *in = NULL;
	uint8_t *out = NULL;
	size_t len = 0, out_len = 0;
	mode_t mode;
	int r;

	if (stat(src, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	mode = st.st_mode & 07777;
	if (c == DKMS_COMPRESS_NONE)
		return dkms_copy_file(src, dst, mode);

	r = dkms_read_file(src, &in, &len);
	if (r < 0)
		return r;
	switch (c) {
	case DKMS_COMPRESS_XZ:
		r = compress_xz((const uint8_t *)in, len, &out, &out_len);
		break;
	case DKMS_COMPRESS_ZST:
		r = compress_zstd((const uint8_t *)in, len, &out, &out_len);
		break;
	case DKMS_COMPRESS_GZ:
		r = compress_gzip((const uint8_t *)in, len, &out, &out_len);
		break;
	default:
		r = -EINVAL;
		break;
	}
	free(in);
	if (r == 0)
		r = dkms_write_file_atomic(dst, out, out_len, mode);
	free(out);
	return r;
}

enum dkms_compress dkms_compress_from_name(const char *filename)
{
	if (filename && dkms_has_suffix(filename, ".gz"))
		return DKMS_COMPRESS_GZ;
	if (filename && dkms_has_suffix(filename, ".xz"))
		return DKMS_COMPRESS_XZ;
	if (filename && dkms_has_suffix(filename, ".zst"))
		return DKMS_COMPRESS_ZST;
	return DKMS_COMPRESS_NONE;
}
