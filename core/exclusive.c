/* SPDX-License-Identifier: GPL-2.0-or-later */
/* BUILD_EXCLUSIVE_*: whether a dkms.conf lets its module be built for a kernel. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Is option set to y or m in the .config text? */
static bool kconfig_set(const char *text, const char *option)
{
	size_t len = strlen(option);

	for (const char *line = text; line && *line;) {
		if (!strncmp(line, option, len) && line[len] == '=' &&
		    (line[len + 1] == 'y' || line[len + 1] == 'm'))
			return true;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

static int excluded(struct dkms_ctx *ctx, const struct dkms_conf *c, const char *kver, const char *arch,
		    const char *fmt, ...) DKMS_ATTR_PRINTF(5, 6);
static int excluded(struct dkms_ctx *ctx, const struct dkms_conf *c, const char *kver, const char *arch,
		    const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return dkms_err_set(ctx, DKMS_E_EXCLUDED, "%s/%s is not built for kernel %s (%s): %s (%s)", c->name,
			    c->version, kver, arch, why, c->path);
}

static int check_regex(struct dkms_ctx *ctx, const struct dkms_conf *c, const char *directive, const char *re,
		       const char *s, const char *kver, const char *arch)
{
	int m = dkms_regex_match(re, s);

	if (m < 0)
		return dkms_conf_err(ctx, c->path, "%s=\"%s\" is not a valid regular expression", directive,
				     re);
	if (!m)
		return excluded(ctx, c, kver, arch, "%s=\"%s\" does not match %s", directive, re, s);
	return 0;
}

static int check_config(struct dkms_ctx *ctx, const struct dkms_conf *c, const char *kver, const char *arch,
			const char *config_path)
{
	char *text = NULL, *copy, *save = NULL;
	int r = 0;

	if (!config_path || dkms_read_file(config_path, &text, NULL) < 0) {
		dkms_log(ctx, DKMS_LOG_DEBUG,
			 "%s/%s: no kernel .config for %s, BUILD_EXCLUSIVE_CONFIG not checked", c->name,
			 c->version, kver);
		return 0;
	}
	copy = dkms_strdup(c->excl_config);
	for (char *t = strtok_r(copy, " \t\n", &save); t && !r; t = strtok_r(NULL, " \t\n", &save)) {
		bool neg = *t == '!';

		if (kconfig_set(text, t + neg) == neg)
			r = excluded(ctx, c, kver, arch, "BUILD_EXCLUSIVE_CONFIG=\"%s\" needs %s %s in %s",
				     c->excl_config, t + neg, neg ? "unset" : "set to y or m", config_path);
	}
	free(copy);
	free(text);
	return r;
}

int dkms_conf_check_exclusive(struct dkms_ctx *ctx, const struct dkms_conf *conf, const char *kver,
			      const char *arch, const char *config_path)
{
	/* upstream dkms: OBSOLETE_BY is the highest kernel unless BUILD_EXCLUSIVE_KERNEL_MAX says */
	const char *max = conf->excl_kernel_max ? conf->excl_kernel_max : conf->obsolete_by;
	const char *max_name = conf->excl_kernel_max ? "BUILD_EXCLUSIVE_KERNEL_MAX" : "OBSOLETE_BY";
	int r = 0;

	if (!arch)
		arch = ctx->machine_arch ? ctx->machine_arch : "";
	if (conf->excl_kernel)
		r = check_regex(ctx, conf, "BUILD_EXCLUSIVE_KERNEL", conf->excl_kernel, kver, kver, arch);
	/* like upstream's VER() string comparison: the whole kernel release against the bound */
	if (!r && conf->excl_kernel_min && dkms_vercmp(kver, conf->excl_kernel_min) < 0)
		r = excluded(ctx, conf, kver, arch,
			     "the kernel is older than BUILD_EXCLUSIVE_KERNEL_MIN=\"%s\"",
			     conf->excl_kernel_min);
	if (!r && max && dkms_vercmp(kver, max) > 0)
		r = excluded(ctx, conf, kver, arch, "the kernel is newer than %s=\"%s\"", max_name, max);
	if (!r && conf->excl_arch)
		r = check_regex(ctx, conf, "BUILD_EXCLUSIVE_ARCH", conf->excl_arch, arch, kver, arch);
	if (!r && conf->excl_config)
		r = check_config(ctx, conf, kver, arch, config_path);
	return r;
}
