/* SPDX-License-Identifier: GPL-2.0-or-later */
/* compress.c: xz / zstd / gzip through the libraries, read back by the tools, the libraries and libkmod. */
#include "fixture.h"

#include <lzma.h>
#include <stdint.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

static void setup(void)
{
	fixture_setup("compress", 0);
}

TestSuite(compress, .init = setup, .fini = fixture_teardown);

/* 256 KiB that compress but not to nothing. */
static void write_sample(const char *path, size_t len)
{
	char *buf = malloc(len ? len : 1);
	uint32_t x = 12345;

	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (i % 64 < 40) ? (char)('a' + (i / 64) % 26) : (char)(x >> 24);
	}
	cr_assert_eq(dkms_write_file_atomic(path, buf, len, 0644), 0);
	free(buf);
}

static int run_tool(const char *tool, const char *flag, const char *path)
{
	const char *argv[] = { tool, flag, path, NULL };
	struct dkms_cmd cmd = { .argv = argv, .log_fd = -1 };

	return dkms_run(&cmd);
}

/* Decompress a whole buffer with the library of its format. */
static int lib_decompress(enum dkms_compress c, const char *in, size_t in_len, char **out, size_t *out_len)
{
	size_t cap = 64 << 20;

	*out = malloc(cap);
	cr_assert_not_null(*out);
	if (c == DKMS_COMPRESS_XZ) {
		uint64_t memlimit = UINT64_MAX;
		size_t in_pos = 0, out_pos = 0;

		if (lzma_stream_buffer_decode(&memlimit, 0, NULL, (const uint8_t *)in, &in_pos, in_len,
					      (uint8_t *)*out, &out_pos, cap) != LZMA_OK)
			return -1;
		*out_len = out_pos;
		return in_pos == in_len ? 0 : -1;
	}
	if (c == DKMS_COMPRESS_ZST) {
		size_t r = ZSTD_decompress(*out, cap, in, in_len);

		if (ZSTD_isError(r))
			return -1;
		*out_len = r;
		return 0;
	}
	if (c == DKMS_COMPRESS_GZ) {
		z_stream zs = { 0 };
		int r;

		if (inflateInit2(&zs, 15 + 16) != Z_OK)
			return -1;
		zs.next_in = (Bytef *)in;
		zs.avail_in = (uInt)in_len;
		zs.next_out = (Bytef *)*out;
		zs.avail_out = (uInt)cap;
		r = inflate(&zs, Z_FINISH);
		*out_len = zs.total_out;
		inflateEnd(&zs);
		return r == Z_STREAM_END ? 0 : -1;
	}
	return -1;
}

static const struct {
	enum dkms_compress c;
	const char *suffix, *tool;
	unsigned char magic[4];
} formats[] = {
	{ DKMS_COMPRESS_XZ, ".xz", "xz", { 0xfd, '7', 'z', 'X' } },
	{ DKMS_COMPRESS_ZST, ".zst", "zstd", { 0x28, 0xb5, 0x2f, 0xfd } },
	{ DKMS_COMPRESS_GZ, ".gz", "gzip", { 0x1f, 0x8b, 0x08, 0 } },
};

Test(compress, from_name)
{
	cr_assert_eq(dkms_compress_from_name("a.ko.xz"), DKMS_COMPRESS_XZ);
	cr_assert_eq(dkms_compress_from_name("/x/y/a.ko.zst"), DKMS_COMPRESS_ZST);
	cr_assert_eq(dkms_compress_from_name("a.ko.gz"), DKMS_COMPRESS_GZ);
	cr_assert_eq(dkms_compress_from_name("a.ko"), DKMS_COMPRESS_NONE);
	cr_assert_eq(dkms_compress_from_name("a.zst.ko"), DKMS_COMPRESS_NONE);
	cr_assert_eq(dkms_compress_from_name("xz"), DKMS_COMPRESS_NONE);
	cr_assert_eq(dkms_compress_from_name(""), DKMS_COMPRESS_NONE);
	cr_assert_eq(dkms_compress_from_name(NULL), DKMS_COMPRESS_NONE);
	for (size_t i = 0; i < DKMS_ARRAY_SIZE(formats); i++)
		cr_assert_str_eq(dkms_compress_suffix(formats[i].c), formats[i].suffix);
	cr_assert_str_eq(dkms_compress_suffix(DKMS_COMPRESS_NONE), "");
}

Test(compress, round_trip_tools_and_libraries)
{
	char *src = tpath("data.ko");
	char *orig;
	size_t orig_len;

	write_sample(src, 256 * 1024);
	cr_assert_eq(dkms_read_file(src, &orig, &orig_len), 0);
	for (size_t i = 0; i < DKMS_ARRAY_SIZE(formats); i++) {
		char *dst = dkms_asprintf("%s%s", src, formats[i].suffix);
		char *comp, *back;
		size_t comp_len, back_len;

		cr_assert_eq(dkms_compress_file(formats[i].c, src, dst), 0, "%s", formats[i].suffix);
		cr_assert_eq(dkms_read_file(dst, &comp, &comp_len), 0);
		cr_assert_lt(comp_len, orig_len / 2, "%s: %zu bytes", formats[i].suffix, comp_len);
		cr_assert_eq(memcmp(comp, formats[i].magic, formats[i].c == DKMS_COMPRESS_GZ ? 3 : 4), 0,
			     "%s magic", formats[i].suffix);
		cr_assert_eq(run_tool(formats[i].tool, "-t", dst), 0, "%s -t %s", formats[i].tool, dst);
		cr_assert_eq(lib_decompress(formats[i].c, comp, comp_len, &back, &back_len), 0, "%s",
			     formats[i].suffix);
		cr_assert_eq(back_len, orig_len);
		cr_assert_eq(memcmp(back, orig, orig_len), 0, "%s content", formats[i].suffix);
		if (formats[i].c == DKMS_COMPRESS_XZ)
			/* stream flags: check type 0x01 = CRC32, as the kernel's build writes */
			cr_assert_eq((unsigned char)comp[7], 0x01, "xz check type %#x",
				     (unsigned char)comp[7]);
		free(back);
		free(comp);
		free(dst);
	}
	free(orig);
	free(src);
}

Test(compress, xz_uses_small_dictionary)
{
	char *src = tpath("big.ko"), *dst = tpath("big.ko.xz");
	char *comp;
	size_t comp_len;
	lzma_stream_flags flags;
	lzma_index *idx = NULL;
	lzma_index_iter it;
	uint64_t memlimit = UINT64_MAX;
	size_t pos;

	write_sample(src, 3 << 20);
	cr_assert_eq(dkms_compress_file(DKMS_COMPRESS_XZ, src, dst), 0);
	cr_assert_eq(dkms_read_file(dst, &comp, &comp_len), 0);
	/* the memory the decoder needs shows the dictionary: about 1 MiB, not preset 6's 8 MiB */
	cr_assert_eq(
		lzma_stream_footer_decode(&flags, (const uint8_t *)comp + comp_len - LZMA_STREAM_HEADER_SIZE),
		LZMA_OK);
	pos = comp_len - LZMA_STREAM_HEADER_SIZE - flags.backward_size;
	cr_assert_eq(lzma_index_buffer_decode(&idx, &memlimit, NULL, (const uint8_t *)comp, &pos,
					      comp_len - LZMA_STREAM_HEADER_SIZE),
		     LZMA_OK);
	lzma_index_iter_init(&it, idx);
	cr_assert_eq(lzma_index_iter_next(&it, LZMA_INDEX_ITER_BLOCK), 0);
	{
		/* decode the block header to read the LZMA2 dictionary size */
		const uint8_t *bh = (const uint8_t *)comp + it.block.compressed_file_offset;
		lzma_filter filters[LZMA_FILTERS_MAX + 1];
		lzma_block block = { .version = 0, .check = LZMA_CHECK_CRC32, .filters = filters };

		block.header_size = lzma_block_header_size_decode(bh[0]);
		cr_assert_eq(lzma_block_header_decode(&block, NULL, bh), LZMA_OK);
		cr_assert_eq(filters[0].id, LZMA_FILTER_LZMA2);
		cr_assert_eq(((lzma_options_lzma *)filters[0].options)->dict_size, 1u << 20);
		for (size_t i = 0; filters[i].id != LZMA_VLI_UNKNOWN; i++)
			free(filters[i].options);
	}
	lzma_index_end(idx, NULL);
	free(comp);
	free(src);
	free(dst);
}

Test(compress, none_is_a_copy_and_modes_are_kept)
{
	char *src = tpath("m.ko"), *dst = tpath("out.ko"), *gz = tpath("out.ko.gz");
	struct stat st;

	write_sample(src, 10000);
	cr_assert_eq(chmod(src, 0640), 0);
	cr_assert_eq(dkms_compress_file(DKMS_COMPRESS_NONE, src, dst), 0);
	cr_assert_eq(dkms_files_equal(src, dst), 1);
	cr_assert_eq(stat(dst, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0640);
	cr_assert_eq(dkms_compress_file(DKMS_COMPRESS_GZ, src, gz), 0);
	cr_assert_eq(stat(gz, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0640);
	free(src);
	free(dst);
	free(gz);
}

Test(compress, replaces_dst_and_leaves_no_temp_files)
{
	char *src = tpath("m.ko"), *dst = tpath("m.ko.zst");
	char **names;
	size_t n;

	write_sample(src, 5000);
	cr_assert_eq(dkms_write_file_atomic(dst, "old", 3, 0644), 0);
	cr_assert_eq(dkms_compress_file(DKMS_COMPRESS_ZST, src, dst), 0);
	cr_assert_eq(run_tool("zstd", "-t", dst), 0);
	cr_assert_eq(dkms_list_dir(tmp, &names, &n), 0);
	cr_assert_eq(n, 2, "leftover files in %s", tmp);
	cr_assert_str_eq(names[0], "m.ko");
	cr_assert_str_eq(names[1], "m.ko.zst");
	dkms_strv_free(names, n);
	free(src);
	free(dst);
}

Test(compress, empty_file)
{
	char *src = tpath("empty.ko");

	write_sample(src, 0);
	for (size_t i = 0; i < DKMS_ARRAY_SIZE(formats); i++) {
		char *dst = dkms_asprintf("%s%s", src, formats[i].suffix);
		char *comp, *back;
		size_t comp_len, back_len;

		cr_assert_eq(dkms_compress_file(formats[i].c, src, dst), 0, "%s", formats[i].suffix);
		cr_assert_eq(run_tool(formats[i].tool, "-t", dst), 0, "%s -t", formats[i].tool);
		cr_assert_eq(dkms_read_file(dst, &comp, &comp_len), 0);
		cr_assert_eq(lib_decompress(formats[i].c, comp, comp_len, &back, &back_len), 0);
		cr_assert_eq(back_len, 0);
		free(back);
		free(comp);
		free(dst);
	}
	free(src);
}

Test(compress, errors)
{
	char *src = tpath("m.ko"), *missing = tpath("nope.ko"), *dst = tpath("x.ko.xz");
	char *nodir = tpath("no/such/dir/x.ko.xz");

	write_sample(src, 100);
	cr_assert_eq(dkms_compress_file(DKMS_COMPRESS_XZ, missing, dst), -ENOENT);
	cr_assert_eq(dkms_compress_file(DKMS_COMPRESS_XZ, tmp, dst), -EINVAL);
	cr_assert_eq(dkms_compress_file((enum dkms_compress)42, src, dst), -EINVAL);
	cr_assert_eq(dkms_compress_file(DKMS_COMPRESS_XZ, src, nodir), -ENOENT);
	cr_assert_eq(dkms_compress_file(DKMS_COMPRESS_NONE, src, nodir), -ENOENT);
	cr_assert_not(dkms_exists(dst));
	free(src);
	free(missing);
	free(dst);
	free(nodir);
}

static void check_hello_info(const char *path)
{
	char *v = kmod_info(path, "version");
	char *vermagic = kmod_info(path, "vermagic");

	cr_assert_not_null(v, "%s: no version", path);
	cr_assert_str_eq(v, "1.0", "%s", path);
	cr_assert_not_null(vermagic, "%s: no vermagic", path);
	cr_assert_eq(strncmp(vermagic, HELLO_KVER " ", strlen(HELLO_KVER) + 1), 0, "%s: vermagic %s", path,
		     vermagic);
	free(v);
	free(vermagic);
}

Test(compress, real_module_read_by_libkmod, .timeout = 300)
{
	char *ko = hello_build(tmp);

	check_hello_info(ko);
	for (size_t i = 0; i < DKMS_ARRAY_SIZE(formats); i++) {
		char *dst = dkms_asprintf("%s%s", ko, formats[i].suffix);

		cr_assert_eq(dkms_compress_file(formats[i].c, ko, dst), 0, "%s", dst);
		cr_assert_eq(run_tool(formats[i].tool, "-t", dst), 0, "%s -t %s", formats[i].tool, dst);
		if (formats[i].c == DKMS_COMPRESS_GZ) {
			/* Debian's libkmod 30 is built without zlib (kmod --version: -ZLIB): read the
			 * .ko.gz back through zlib and give libkmod the result. */
			char *comp, *back, *plain = tpath("hello-from-gz.ko");
			size_t comp_len, back_len;

			cr_assert_eq(dkms_read_file(dst, &comp, &comp_len), 0);
			cr_assert_eq(lib_decompress(DKMS_COMPRESS_GZ, comp, comp_len, &back, &back_len), 0);
			cr_assert_eq(dkms_write_file_atomic(plain, back, back_len, 0644), 0);
			cr_assert_eq(dkms_files_equal(plain, ko), 1);
			check_hello_info(plain);
			free(comp);
			free(back);
			free(plain);
		} else {
			check_hello_info(dst);
		}
		free(dst);
	}
	free(ko);
}
