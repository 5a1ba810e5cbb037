/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One target kernel: where its headers and .config are, where its modules
 * go, how its modules are compressed and signed.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A kernel release is at most 64 characters (struct utsname). */
#define KERNEL_RELEASE_MAX 64

/* How many directory entries the compression probe may look at. */
#define KERNEL_PROBE_MAX_ENTRIES 4096
#define KERNEL_PROBE_MAX_DEPTH	 8

const char *dkms_compress_suffix(enum dkms_compress c)
{
	switch (c) {
	case DKMS_COMPRESS_GZ:
		return ".gz";
	case DKMS_COMPRESS_XZ:
		return ".xz";
	case DKMS_COMPRESS_ZST:
		return ".zst";
	case DKMS_COMPRESS_NONE:
	default:
		return "";
	}
}

/*
 * Value of option in the text of a .config, or NULL. "CONFIG_X=value" gives
 * value; a double-quoted string loses its quotes and backslash escapes;
 * "# CONFIG_X is not set" gives NULL, like a missing line.
 */
static char *kernel_config_lookup(const char *buf, const char *option)
{
	size_t olen = strlen(option);
	const char *line = buf;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (len > olen && strncmp(line, option, olen) == 0 && line[olen] == '=') {
			const char *v = line + olen + 1;
			size_t vlen = len - olen - 1;
			char *out, *o;

			while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
				v++;
				vlen -= 2;
			}
			out = o = malloc(vlen + 1);
			if (!out)
				abort();
			for (size_t i = 0; i < vlen; i++) {
				if (v[i] == '\\' && i + 1 < vlen)
					i++;
				*o++ = v[i];
			}
			*o = '\0';
			return out;
		}
		line = end ? end + 1 : NULL;
	}
	return NULL;
}

/* "X" and "CONFIG_X" both name CONFIG_X. */
static char *kernel_config_name(const char *option)
{
	if (strncmp(option, "CONFIG_", 7) == 0)
		return dkms_strdup(option);
	return dkms_asprintf("CONFIG_%s", option);
}

char *dkms_kernel_config_get(const struct dkms_kernel *k, const char *option)
{
	char *buf = NULL, *name, *val;
	size_t len;

	if (!k || !k->config_path || !option || !*option)
		return NULL;
	if (dkms_read_file(k->config_path, &buf, &len) < 0)
		return NULL;
	name = kernel_config_name(option);
	val = kernel_config_lookup(buf, name);
	free(name);
	free(buf);
	return val;
}

static enum dkms_compress kernel_compress_from_config(const char *cfg)
{
	static const struct {
		const char *option;
		enum dkms_compress c;
	} map[] = {
		{ "CONFIG_MODULE_COMPRESS_ZSTD", DKMS_COMPRESS_ZST },
		{ "CONFIG_MODULE_COMPRESS_XZ", DKMS_COMPRESS_XZ },
		{ "CONFIG_MODULE_COMPRESS_GZIP", DKMS_COMPRESS_GZ },
	};

	for (size_t i = 0; i < DKMS_ARRAY_SIZE(map); i++) {
		char *v = kernel_config_lookup(cfg, map[i].option);
		bool on = v && strcmp(v, "y") == 0;

		free(v);
		if (on)
			return map[i].c;
	}
	return DKMS_COMPRESS_NONE;
}

/* A module file name: "<x>.ko" or "<x>.ko.<suffix>". Sets *c. */
static bool kernel_is_module_name(const char *name, enum dkms_compress *c)
{
	const char *ko = strstr(name, ".ko");

	while (ko) {
		const char *rest = ko + 3;

		if (*rest == '\0') {
			*c = DKMS_COMPRESS_NONE;
			return true;
		}
		if (strcmp(rest, ".gz") == 0 || strcmp(rest, ".xz") == 0 || strcmp(rest, ".zst") == 0) {
			*c = dkms_compress_from_name(name);
			return true;
		}
		ko = strstr(ko + 1, ".ko");
	}
	return false;
}

/*
 * Depth-first look for the first module file under dir: files of a
 * directory before its subdirectories, at most *budget entries in all.
 * Returns true when found.
 */
static bool kernel_probe_dir(const char *dir, int depth, int *budget, enum dkms_compress *c)
{
	DIR *d;
	struct dirent *de;
	char **subdirs = NULL;
	size_t n_subdirs = 0;
	bool found = false;

	if (depth > KERNEL_PROBE_MAX_DEPTH || *budget <= 0)
		return false;
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && *budget > 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		(*budget)--;
		if (de->d_type == DT_DIR) {
			dkms_strv_push(&subdirs, &n_subdirs, de->d_name);
		} else if (de->d_type == DT_REG || de->d_type == DT_LNK || de->d_type == DT_UNKNOWN) {
			enum dkms_compress cc;

			if (kernel_is_module_name(de->d_name, &cc)) {
				*c = cc;
				found = true;
			} else if (de->d_type == DT_UNKNOWN) {
				char *p = dkms_path_join(dir, de->d_name);

				if (dkms_is_dir(p))
					dkms_strv_push(&subdirs, &n_subdirs, de->d_name);
				free(p);
			}
		}
	}
	closedir(d);
	for (size_t i = 0; !found && i < n_subdirs; i++) {
		char *p = dkms_path_join(dir, subdirs[i]);

		found = kernel_probe_dir(p, depth + 1, budget, c);
		free(p);
	}
	dkms_strv_free(subdirs, n_subdirs);
	return found;
}

static char *kernel_find_source_dir(struct dkms_ctx *ctx, const char *kver)
{
	const char *sub[] = { "build", "source" };
	char *kdir, *p;

	if (ctx->kernel_source_dir)
		return dkms_strdup(ctx->kernel_source_dir);
	kdir = dkms_path_join(ctx->install_tree, kver);
	for (size_t i = 0; i < DKMS_ARRAY_SIZE(sub); i++) {
		p = dkms_path_join(kdir, sub[i]);
		if (dkms_is_dir(p)) {
			free(kdir);
			return p;
		}
		free(p);
	}
	p = dkms_asprintf("/usr/src/linux-headers-%s", kver);
	if (dkms_is_dir(p)) {
		free(kdir);
		return p;
	}
	free(p);
	/* Nothing there: name the usual place, so messages point at it. */
	p = dkms_path_join(kdir, "build");
	free(kdir);
	return p;
}

static char *kernel_find_config(const char *source_dir, const char *kver)
{
	char *p = dkms_path_join(source_dir, ".config");

	if (dkms_is_file(p))
		return p;
	free(p);
	p = dkms_asprintf("/boot/config-%s", kver);
	if (dkms_is_file(p))
		return p;
	free(p);
	return NULL;
}

int dkms_kernel_open(struct dkms_ctx *ctx, const char *kver, const char *arch, struct dkms_kernel **out)
{
	struct dkms_kernel *k;
	char *cfg = NULL, *probe;
	size_t len;
	int budget = KERNEL_PROBE_MAX_ENTRIES, r;

	*out = NULL;
	if (!arch)
		arch = ctx->machine_arch;
	if (!kver || !dkms_valid_name(kver) || strlen(kver) > KERNEL_RELEASE_MAX || kver[0] == '-') {
		char *v = dkms_str_printable(kver ? kver : "(null)", 80);

		r = dkms_err_set(ctx, DKMS_E_USAGE,
				 "invalid kernel version '%s'%s: give a name like $(uname -r)", v,
				 kver && strlen(kver) > KERNEL_RELEASE_MAX ? " (too long)" : "");
		free(v);
		return r;
	}
	if (!arch || !dkms_valid_name(arch) || strlen(arch) > KERNEL_RELEASE_MAX || arch[0] == '-') {
		char *v = dkms_str_printable(arch ? arch : "(null)", 80);

		r = dkms_err_set(ctx, DKMS_E_USAGE,
				 "invalid architecture '%s' for kernel %s: give one like x86_64", v, kver);
		free(v);
		return r;
	}

	k = calloc(1, sizeof(*k));
	if (!k)
		abort();
	k->version = dkms_strdup(kver);
	k->arch = dkms_strdup(arch);
	k->source_dir = kernel_find_source_dir(ctx, kver);
	k->config_path = ctx->kernel_config ? dkms_strdup(ctx->kernel_config)
					    : kernel_find_config(k->source_dir, kver);
	k->modules_dir = dkms_path_join(ctx->install_tree, kver);

	if (k->config_path) {
		r = dkms_read_file(k->config_path, &cfg, &len);
		if (r < 0) {
			dkms_log(ctx, DKMS_LOG_WARN, "cannot read kernel config %s for kernel %s: %s",
				 k->config_path, kver, strerror(-r));
			cfg = NULL;
		}
	}

	probe = dkms_path_join(k->modules_dir, "kernel");
	if (!kernel_probe_dir(probe, 0, &budget, &k->compress))
		k->compress = cfg ? kernel_compress_from_config(cfg) : DKMS_COMPRESS_NONE;
	free(probe);

	if (cfg) {
		char *sig = kernel_config_lookup(cfg, "CONFIG_MODULE_SIG");

		if (sig && strcmp(sig, "y") == 0) {
			k->sig_hash = kernel_config_lookup(cfg, "CONFIG_MODULE_SIG_HASH");
			if (k->sig_hash && !*k->sig_hash) {
				free(k->sig_hash);
				k->sig_hash = NULL;
			}
		}
		free(sig);
		free(cfg);
	}
	dkms_log(ctx, DKMS_LOG_DEBUG, "kernel %s/%s: headers %s, config %s, modules %s%s, signing %s", kver,
		 arch, k->source_dir, k->config_path ? k->config_path : "(none)", k->modules_dir,
		 dkms_compress_suffix(k->compress), k->sig_hash ? k->sig_hash : "off");
	*out = k;
	return 0;
}

void dkms_kernel_free(struct dkms_kernel *k)
{
	if (!k)
		return;
	free(k->version);
	free(k->arch);
	free(k->source_dir);
	free(k->config_path);
	free(k->modules_dir);
	free(k->sig_hash);
	free(k);
}

static bool kernel_has_file(const char *dir, const char *name)
{
	char *p;
	bool r;

	if (!dir)
		return false;
	p = dkms_path_join(dir, name);
	r = dkms_is_file(p);
	free(p);
	return r;
}

bool dkms_kernel_has_headers(const struct dkms_kernel *k)
{
	return k && (kernel_has_file(k->source_dir, "Makefile") || kernel_has_file(k->source_dir, ".config"));
}

bool dkms_kernel_has_modules_dep(const struct dkms_kernel *k)
{
	return k && kernel_has_file(k->modules_dir, "modules.dep");
}

static int kernel_vercmp_qsort(const void *a, const void *b)
{
	return dkms_vercmp(*(char *const *)a, *(char *const *)b);
}

int dkms_kernel_list_installed(struct dkms_ctx *ctx, char ***kvers, size_t *n)
{
	char **names = NULL;
	size_t n_names = 0;
	int r;

	*kvers = NULL;
	*n = 0;
	r = dkms_list_dir(ctx->install_tree, &names, &n_names);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return dkms_err_set(ctx, DKMS_E_FAIL, "cannot list kernels in %s: %s", ctx->install_tree,
				    strerror(-r));
	for (size_t i = 0; i < n_names; i++) {
		char *kdir, *build;
		bool ok;

		if (names[i][0] == '.')
			continue;
		kdir = dkms_path_join(ctx->install_tree, names[i]);
		build = dkms_path_join(kdir, "build");
		ok = dkms_is_dir(build);
		free(build);
		free(kdir);
		if (ok)
			dkms_strv_push(kvers, n, names[i]);
	}
	dkms_strv_free(names, n_names);
	if (*n > 1)
		qsort(*kvers, *n, sizeof(**kvers), kernel_vercmp_qsort);
	return 0;
}
