/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dkms.conf's directives, as bash left them, validated into a struct dkms_conf: names, module files and
 * locations, MAKE and PATCH for the kernel, BUILD_DEPENDS, scripts, flags. */
#include "conf-values.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const dkms_conf_directive_names[D_COUNT] = {
	"PACKAGE_NAME",
	"PACKAGE_VERSION",
	"BUILT_MODULE_NAME",
	"BUILT_MODULE_LOCATION",
	"DEST_MODULE_NAME",
	"DEST_MODULE_LOCATION",
	"STRIP",
	"MAKE",
	"MAKE_MATCH",
	"PATCH",
	"PATCH_MATCH",
	"CLEAN",
	"PRE_BUILD",
	"POST_BUILD",
	"PRE_INSTALL",
	"POST_INSTALL",
	"POST_ADD",
	"POST_REMOVE",
	"AUTOINSTALL",
	"BUILD_DEPENDS",
	"BUILD_DEPENDS_REBUILD",
	"BUILD_EXCLUSIVE_KERNEL",
	"BUILD_EXCLUSIVE_KERNEL_MIN",
	"BUILD_EXCLUSIVE_KERNEL_MAX",
	"BUILD_EXCLUSIVE_ARCH",
	"BUILD_EXCLUSIVE_CONFIG",
	"NO_WEAK_MODULES",
	"OBSOLETE_BY",
	"REMAKE_INITRD",
	"MODULES_CONF",
	"MODULES_CONF_OBSOLETES",
	"MODULES_CONF_ALIAS_TYPE",
	"MODULES_CONF_OBSOLETE_ONLY",
};

int dkms_conf_err(struct dkms_ctx *ctx, const char *path, const char *fmt, ...)
{
	char msg[1536];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return dkms_err_set(ctx, DKMS_E_CONF, "%s: %s", path, msg);
}

/* A package name or version: part of directory names in every tree, and of command lines. */
#define WORD_MARKS "._+~:@%,=-"
#define WORD_MAX   100
#define WORD_RULE  "letters, digits and ._+~:@%%,=-, beginning with a letter or digit, at most 100"
static bool valid_word(const char *s)
{
	return dkms_valid_word(s, WORD_MARKS, WORD_MAX) && !strstr(s, "..");
}

/* A module name: what the kernel takes (MODULE_NAME_LEN is 56 with the NUL). */
#define MODNAME_MARKS "._+-"
#define MODNAME_MAX   55

#define SHOW(s) DKMS_CONF_SHOW(s)

static bool is_yes(const char *s)
{
	return s && !strcasecmp(s, "yes");
}

/* /kernel..., /updates... or /extra..., without ".." components. */
static bool dest_location_ok(const char *s)
{
	return (!strncmp(s, "/kernel", 7) || !strncmp(s, "/updates", 8) || !strncmp(s, "/extra", 6)) &&
	       dkms_valid_relpath(s + 1);
}

static char *dest_location_norm(const char *s)
{
	char *r = dkms_strdup(s);
	size_t n = strlen(r);

	while (n > 1 && r[n - 1] == '/')
		r[--n] = '\0';
	return r;
}

/* BUILT_MODULE_LOCATION as "" or "dir/", without leading "./". NULL when it is bad. */
static char *built_location_norm(const char *s)
{
	if (!s)
		return dkms_strdup("");
	if (*s == '/' || !dkms_valid_relpath(s))
		return NULL;
	for (;;) {
		if (s[0] == '.' && s[1] == '/')
			s += 2;
		else if (s[0] == '/')
			s++;
		else
			break;
	}
	if (!*s || !strcmp(s, "."))
		return dkms_strdup("");
	return dkms_has_suffix(s, "/") ? dkms_strdup(s) : dkms_asprintf("%s/", s);
}

static bool strip_value(const struct var_values *v, unsigned long idx)
{
	const char *s = dkms_conf_nonempty(dkms_bash_val_at(v, idx));

	if (!s)
		s = dkms_conf_nonempty(dkms_bash_val_at(v, 0));
	return !s || (*s != 'n' && *s != 'N');
}

/* Fill conf->mods from the per-module arrays; their indices are those of BUILT_MODULE_NAME. */
static bool module_name_ok(const char *s)
{
	return dkms_valid_word(s, MODNAME_MARKS, MODNAME_MAX) && !strstr(s, "..") &&
	       !dkms_has_suffix(s, ".ko") && !dkms_has_suffix(s, ".o");
}

static int bad_module_name(struct dkms_ctx *ctx, const struct dkms_conf *c, const char *directive,
			   unsigned long i, const char *name)
{
	char *v = SHOW(name);
	int r = dkms_conf_err(ctx, c->path,
			      "%s[%lu]=\"%s\" is not a module name (letters, digits and " MODNAME_MARKS
			      ", beginning with a letter or digit, at most 55, without .ko)",
			      directive, i, v);

	free(v);
	return r;
}

static int bad_location(struct dkms_ctx *ctx, const struct dkms_conf *c, const char *directive,
			unsigned long i, const char *loc, const char *rule)
{
	char *v = SHOW(loc);
	int r = dkms_conf_err(ctx, c->path, "%s[%lu]=\"%s\" %s", directive, i, v, rule);

	free(v);
	return r;
}

static int conf_set_mods(struct dkms_ctx *ctx, struct dkms_conf *c, const struct var_values *vals)
{
	static const enum directive per_mod[] = {
		D_BUILT_MODULE_LOCATION,
		D_DEST_MODULE_NAME,
		D_DEST_MODULE_LOCATION,
		D_STRIP,
	};
	const struct var_values *names = &vals[D_BUILT_MODULE_NAME];
	const char *override =
		dkms_conf_nonempty(ctx->opts.dest_location) ? ctx->opts.dest_location : ctx->dest_override;
	size_t n = names->n ? names->n : 1;

	for (size_t d = 0; d < DKMS_ARRAY_SIZE(per_mod); d++) {
		const struct var_values *v = &vals[per_mod[d]];

		for (size_t j = 0; j < v->n; j++) {
			unsigned long i = v->e[j].idx;

			if (names->n ? dkms_bash_val_at(names, i) != NULL : i == 0)
				continue;
			if (per_mod[d] != D_STRIP)
				return dkms_conf_err(
					ctx, c->path,
					"%s[%lu] is set but BUILT_MODULE_NAME[%lu] is not; give each module "
					"its BUILT_MODULE_NAME with the same index",
					dkms_conf_directive_names[per_mod[d]], i, i);
			/* dkms does not count STRIP[] as modules: ignored, like there */
			dkms_log(ctx, DKMS_LOG_WARN,
				 "%s: STRIP[%lu] is set but BUILT_MODULE_NAME[%lu] is not; ignored", c->path,
				 i, i);
		}
	}
	c->mods = calloc(n, sizeof(*c->mods));
	if (!c->mods)
		abort();
	c->n_mods = n;
	for (size_t j = 0; j < n; j++) {
		struct dkms_modfile *mf = &c->mods[j];
		unsigned long i = names->n ? names->e[j].idx : 0;
		const char *bn = names->n ? dkms_conf_nonempty(names->e[j].val) : NULL;
		const char *dn = dkms_conf_nonempty(dkms_bash_val_at(&vals[D_DEST_MODULE_NAME], i));
		const char *dl = dkms_conf_nonempty(dkms_bash_val_at(&vals[D_DEST_MODULE_LOCATION], i));
		const char *bl = dkms_conf_nonempty(dkms_bash_val_at(&vals[D_BUILT_MODULE_LOCATION], i));

		if (!bn && n > 1)
			return dkms_conf_err(ctx, c->path,
					     "BUILT_MODULE_NAME[%lu] is empty; name the module it builds", i);
		if (!bn)
			bn = c->name;
		if (!module_name_ok(bn))
			return bad_module_name(ctx, c, "BUILT_MODULE_NAME", i, bn);
		mf->built_name = dkms_strdup(bn);
		mf->built_location = built_location_norm(bl);
		if (!mf->built_location)
			return bad_location(
				ctx, c, "BUILT_MODULE_LOCATION", i, bl,
				"must be a relative path inside the build directory, without '..'");
		if (!dn)
			dn = mf->built_name;
		if (!module_name_ok(dn))
			return bad_module_name(ctx, c, "DEST_MODULE_NAME", i, dn);
		mf->dest_name = dkms_strdup(dn);
		if (dl && !dest_location_ok(dl))
			return bad_location(ctx, c, "DEST_MODULE_LOCATION", i, dl,
					    "must begin with /kernel, /updates or /extra and have no '..'");
		if (!dl && !override)
			return dkms_conf_err(ctx, c->path,
					     "DEST_MODULE_LOCATION[%lu] is not set; add "
					     "DEST_MODULE_LOCATION[%lu]=\"/updates\"",
					     i, i);
		mf->dest_location = dest_location_norm(override ? override : dl);
		mf->strip = strip_value(&vals[D_STRIP], i);
	}
	for (size_t j = 0; j < n; j++) {
		for (size_t k = 0; k < j; k++) {
			if (!strcmp(c->mods[j].dest_name, c->mods[k].dest_name))
				return dkms_conf_err(ctx, c->path,
						     "DEST_MODULE_NAME \"%s\" is used by two modules; "
						     "give each an own DEST_MODULE_NAME",
						     c->mods[j].dest_name);
			if (!strcmp(c->mods[j].built_name, c->mods[k].built_name) &&
			    !strcmp(c->mods[j].built_location, c->mods[k].built_location))
				return dkms_conf_err(ctx, c->path,
						     "BUILT_MODULE_NAME \"%s%s\" is listed twice",
						     c->mods[j].built_location, c->mods[j].built_name);
		}
	}
	return 0;
}

/* MAKE: the last MAKE[i] whose MAKE_MATCH[i] matches, else MAKE[0] without MAKE_MATCH[0]. */
static int conf_set_make(struct dkms_ctx *ctx, struct dkms_conf *c, const struct var_values *vals,
			 const char *kver)
{
	const struct var_values *make = &vals[D_MAKE], *match = &vals[D_MAKE_MATCH];
	const char *chosen = NULL;

	if (!dkms_conf_nonempty(dkms_bash_val_at(match, 0)))
		chosen = dkms_conf_nonempty(dkms_bash_val_at(make, 0));
	for (size_t j = 0; j < make->n; j++) {
		const char *re = dkms_conf_nonempty(dkms_bash_val_at(match, make->e[j].idx));
		int m;

		if (!*make->e[j].val || !re)
			continue;
		m = dkms_regex_match(re, kver);
		if (m < 0)
			return dkms_conf_err(ctx, c->path,
					     "MAKE_MATCH[%lu]=\"%s\" is not a valid regular expression",
					     make->e[j].idx, re);
		if (m)
			chosen = make->e[j].val;
	}
	c->make = dkms_strdup(chosen);
	return 0;
}

static int conf_set_patches(struct dkms_ctx *ctx, struct dkms_conf *c, const struct var_values *vals,
			    const char *kver)
{
	const struct var_values *patch = &vals[D_PATCH];

	for (size_t j = 0; j < patch->n; j++) {
		const char *p = patch->e[j].val,
			   *re = dkms_conf_nonempty(dkms_bash_val_at(&vals[D_PATCH_MATCH], patch->e[j].idx));
		int m = 1;

		if (!*p)
			continue;
		if (!dkms_valid_name(p) || strstr(p, ".."))
			return bad_location(ctx, c, "PATCH", patch->e[j].idx, p,
					    "must name a file in the patches/ directory (no '/' or '..')");
		if (re)
			m = dkms_regex_match(re, kver);
		if (m < 0)
			return dkms_conf_err(ctx, c->path,
					     "PATCH_MATCH[%lu]=\"%s\" is not a valid regular expression",
					     patch->e[j].idx, re);
		if (m)
			dkms_strv_push(&c->patches, &c->n_patches, p);
	}
	return 0;
}

/* BUILD_DEPENDS: every element, split at blanks (dkms joins and splits them the same way). */
static int conf_set_depends(struct dkms_ctx *ctx, struct dkms_conf *c, const struct var_values *v)
{
	for (size_t j = 0; j < v->n; j++) {
		char *copy = dkms_strdup(v->e[j].val), *save = NULL;

		for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
			if (!valid_word(t)) {
				char *tv = SHOW(t);
				int r = dkms_conf_err(ctx, c->path,
						      "BUILD_DEPENDS[%lu] names \"%s\", which is not a "
						      "module name",
						      v->e[j].idx, tv);

				free(tv);
				free(copy);
				return r;
			}
			dkms_strv_push(&c->build_depends, &c->n_build_depends, t);
		}
		free(copy);
	}
	return 0;
}

/* The scripts run from the module source: their first word must be a path inside it. */
static int conf_set_scripts(struct dkms_ctx *ctx, const struct dkms_conf *c, const struct var_values *vals)
{
	static const enum directive scripts[] = {
		D_PRE_BUILD, D_POST_BUILD, D_PRE_INSTALL, D_POST_INSTALL, D_POST_ADD, D_POST_REMOVE,
	};

	for (size_t i = 0; i < DKMS_ARRAY_SIZE(scripts); i++) {
		const char *s = dkms_conf_nonempty(dkms_bash_val_at(&vals[scripts[i]], 0));
		char *first;
		bool ok;
		int r;

		if (!s)
			continue;
		s += strspn(s, " \t\n");
		first = dkms_asprintf("%.*s", (int)strcspn(s, " \t\n"), s);
		ok = !*first || dkms_valid_relpath(first);
		free(first);
		if (ok)
			continue;
		first = SHOW(dkms_bash_val_at(&vals[scripts[i]], 0));
		r = dkms_conf_err(ctx, c->path,
				  "%s=\"%s\" must name a script inside the module source (a relative path "
				  "without '..')",
				  dkms_conf_directive_names[scripts[i]], first);
		free(first);
		return r;
	}
	return 0;
}

static void conf_check_bool(struct dkms_ctx *ctx, const struct dkms_conf *c, const struct var_values *vals,
			    enum directive d)
{
	const char *s = dkms_conf_nonempty(dkms_bash_val_at(&vals[d], 0));

	if (s && strcasecmp(s, "yes") && strcasecmp(s, "no"))
		dkms_log(ctx, DKMS_LOG_WARN, "%s: %s=\"%s\" is neither yes nor no; taken as no", c->path,
			 dkms_conf_directive_names[d], s);
}

static char *scalar(const struct var_values *vals, enum directive d)
{
	return dkms_strdup(dkms_conf_nonempty(dkms_bash_val_at(&vals[d], 0)));
}

int dkms_conf_from_values(struct dkms_ctx *ctx, struct dkms_conf *c, const struct var_values *vals,
			  const char *kver)
{
	int r;

	c->name = scalar(vals, D_PACKAGE_NAME);
	c->version = scalar(vals, D_PACKAGE_VERSION);
	if (!c->name)
		return dkms_conf_err(ctx, c->path,
				     "PACKAGE_NAME is not set; add PACKAGE_NAME=\"<module name>\"");
	if (!c->version)
		return dkms_conf_err(ctx, c->path,
				     "PACKAGE_VERSION is not set; add PACKAGE_VERSION=\"<version>\"");
	if (!strcmp(c->version, "original_module") || !fnmatch("kernel-*-*", c->version, 0)) {
		char *v = SHOW(c->version);

		r = dkms_conf_err(ctx, c->path,
				  "PACKAGE_VERSION=\"%s\" is a name the registry uses for its own entries; "
				  "give a version number",
				  v);
		free(v);
		return r;
	}
	if (!valid_word(c->name) || !valid_word(c->version)) {
		bool name = !valid_word(c->name);
		char *v = SHOW(name ? c->name : c->version);

		r = dkms_conf_err(ctx, c->path, "%s=\"%s\" is not a valid %s (" WORD_RULE ", no '..')",
				  name ? "PACKAGE_NAME" : "PACKAGE_VERSION", v, name ? "name" : "version");
		free(v);
		return r;
	}
	r = conf_set_scripts(ctx, c, vals);
	if (!r)
		r = conf_set_mods(ctx, c, vals);
	if (!r)
		r = conf_set_make(ctx, c, vals, kver);
	if (!r)
		r = conf_set_patches(ctx, c, vals, kver);
	if (!r)
		r = conf_set_depends(ctx, c, &vals[D_BUILD_DEPENDS]);
	if (r)
		return r;
	c->clean = scalar(vals, D_CLEAN);
	c->pre_build = scalar(vals, D_PRE_BUILD);
	c->post_build = scalar(vals, D_POST_BUILD);
	c->pre_install = scalar(vals, D_PRE_INSTALL);
	c->post_install = scalar(vals, D_POST_INSTALL);
	c->post_add = scalar(vals, D_POST_ADD);
	c->post_remove = scalar(vals, D_POST_REMOVE);
	c->excl_kernel = scalar(vals, D_EXCL_KERNEL);
	c->excl_kernel_min = scalar(vals, D_EXCL_KERNEL_MIN);
	c->excl_kernel_max = scalar(vals, D_EXCL_KERNEL_MAX);
	c->excl_arch = scalar(vals, D_EXCL_ARCH);
	c->excl_config = scalar(vals, D_EXCL_CONFIG);
	c->obsolete_by = scalar(vals, D_OBSOLETE_BY);
	c->autoinstall = is_yes(dkms_bash_val_at(&vals[D_AUTOINSTALL], 0));
	c->build_depends_rebuild = is_yes(dkms_bash_val_at(&vals[D_BUILD_DEPENDS_REBUILD], 0));
	c->no_weak_modules = is_yes(dkms_bash_val_at(&vals[D_NO_WEAK_MODULES], 0));
	conf_check_bool(ctx, c, vals, D_AUTOINSTALL);
	conf_check_bool(ctx, c, vals, D_BUILD_DEPENDS_REBUILD);
	conf_check_bool(ctx, c, vals, D_NO_WEAK_MODULES);
	for (int d = D_DEPRECATED; d < D_COUNT; d++)
		if (vals[d].n)
			dkms_log(ctx, DKMS_LOG_WARN, "%s: %s is deprecated and ignored", c->path,
				 dkms_conf_directive_names[d]);
	return 0;
}
