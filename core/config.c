/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dkms.conf: evaluated by bash (bash.c), its directives validated into a struct dkms_conf, cached. */
#include "bash.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the directives taken from dkms.conf ---- */
enum directive {
	D_PACKAGE_NAME,
	D_PACKAGE_VERSION,
	D_BUILT_MODULE_NAME,
	D_BUILT_MODULE_LOCATION,
	D_DEST_MODULE_NAME,
	D_DEST_MODULE_LOCATION,
	D_STRIP,
	D_MAKE,
	D_MAKE_MATCH,
	D_PATCH,
	D_PATCH_MATCH,
	D_CLEAN,
	D_PRE_BUILD,
	D_POST_BUILD,
	D_PRE_INSTALL,
	D_POST_INSTALL,
	D_POST_ADD,
	D_POST_REMOVE,
	D_AUTOINSTALL,
	D_BUILD_DEPENDS,
	D_BUILD_DEPENDS_REBUILD,
	D_EXCL_KERNEL,
	D_EXCL_KERNEL_MIN,
	D_EXCL_KERNEL_MAX,
	D_EXCL_ARCH,
	D_EXCL_CONFIG,
	D_NO_WEAK_MODULES,
	D_OBSOLETE_BY,
	D_DEPRECATED, /* the rest: accepted with a warning */
	D_REMAKE_INITRD = D_DEPRECATED,
	D_MODULES_CONF,
	D_MODULES_CONF_OBSOLETES,
	D_MODULES_CONF_ALIAS_TYPE,
	D_MODULES_CONF_OBSOLETE_ONLY,
	D_COUNT
};

static const char *const directive_names[D_COUNT] = {
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

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* ---- dkms.conf ---- */

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

/* The largest dkms.conf we evaluate: real ones are a few KiB. */
#define CONF_MAX (1u << 20)

/* A value for a message: one line, bounded. */
#define SHOW(s) dkms_str_printable((s), 80)

static bool has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && !strcmp(s + ls - lx, suffix);
}

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
	return has_suffix(s, "/") ? dkms_strdup(s) : dkms_asprintf("%s/", s);
}

static bool strip_value(const struct var_values *v, unsigned long idx)
{
	const char *s = nonempty(dkms_bash_val_at(v, idx));

	if (!s)
		s = nonempty(dkms_bash_val_at(v, 0));
	return !s || (*s != 'n' && *s != 'N');
}

/* Fill conf->mods from the per-module arrays; their indices are those of BUILT_MODULE_NAME. */
static bool module_name_ok(const char *s)
{
	return dkms_valid_word(s, MODNAME_MARKS, MODNAME_MAX) && !strstr(s, "..") && !has_suffix(s, ".ko") &&
	       !has_suffix(s, ".o");
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
		nonempty(ctx->opts.dest_location) ? ctx->opts.dest_location : ctx->dest_override;
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
					directive_names[per_mod[d]], i, i);
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
		const char *bn = names->n ? nonempty(names->e[j].val) : NULL;
		const char *dn = nonempty(dkms_bash_val_at(&vals[D_DEST_MODULE_NAME], i));
		const char *dl = nonempty(dkms_bash_val_at(&vals[D_DEST_MODULE_LOCATION], i));
		const char *bl = nonempty(dkms_bash_val_at(&vals[D_BUILT_MODULE_LOCATION], i));

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

	if (!nonempty(dkms_bash_val_at(match, 0)))
		chosen = nonempty(dkms_bash_val_at(make, 0));
	for (size_t j = 0; j < make->n; j++) {
		const char *re = nonempty(dkms_bash_val_at(match, make->e[j].idx));
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
			   *re = nonempty(dkms_bash_val_at(&vals[D_PATCH_MATCH], patch->e[j].idx));
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
		const char *s = nonempty(dkms_bash_val_at(&vals[scripts[i]], 0));
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
				  directive_names[scripts[i]], first);
		free(first);
		return r;
	}
	return 0;
}

static void conf_check_bool(struct dkms_ctx *ctx, const struct dkms_conf *c, const struct var_values *vals,
			    enum directive d)
{
	const char *s = nonempty(dkms_bash_val_at(&vals[d], 0));

	if (s && strcasecmp(s, "yes") && strcasecmp(s, "no"))
		dkms_log(ctx, DKMS_LOG_WARN, "%s: %s=\"%s\" is neither yes nor no; taken as no", c->path,
			 directive_names[d], s);
}

static char *scalar(const struct var_values *vals, enum directive d)
{
	return dkms_strdup(nonempty(dkms_bash_val_at(&vals[d], 0)));
}

static int conf_from_values(struct dkms_ctx *ctx, struct dkms_conf *c, const struct var_values *vals,
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
				 directive_names[d]);
	return 0;
}

/* --directive NAME=value or NAME[i]=value: the name part must be a bash variable or element. */
static bool directive_name_ok(const char *s, size_t len)
{
	const char *br = memchr(s, '[', len);

	if (!br)
		return dkms_bash_valid_identifier(s, len);
	if (!dkms_bash_valid_identifier(s, (size_t)(br - s)) || s[len - 1] != ']' || br + 2 > s + len - 1)
		return false;
	for (const char *p = br + 1; p < s + len - 1; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

static char *absolute_path(const char *path)
{
	char *cwd, *r;

	if (path[0] == '/')
		return dkms_strdup(path);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return dkms_strdup(path);
	r = dkms_path_join(cwd, path);
	free(cwd);
	return r;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return dkms_strdup(".");
	if (slash == path)
		return dkms_strdup("/");
	return dkms_asprintf("%.*s", (int)(slash - path), path);
}

/*
 * dkms.conf: $1 conf, $2 conf_dir, $3 kernelver, $4 arch, $5 kernel_source_dir,
 * $6 kernel_config, $7 dkms_tree, $8 source_tree, $9 install_tree, $10 module,
 * $11 module_version, $12 number of directives, then NAME VALUE pairs.
 */
#define SH_CONF_HEAD                                                                                         \
	"__dkms_a=(\"$@\"); builtin set --\n"                                                                \
	"kernelver=${__dkms_a[2]} arch=${__dkms_a[3]} kernel_source_dir=${__dkms_a[4]}\n"                    \
	"kernel_config=${__dkms_a[5]} dkms_tree=${__dkms_a[6]} source_tree=${__dkms_a[7]}\n"                 \
	"install_tree=${__dkms_a[8]}\n"                                                                      \
	"builtin unset module module_version\n"                                                              \
	"[[ ${__dkms_a[9]} ]] && module=${__dkms_a[9]}\n"                                                    \
	"[[ ${__dkms_a[10]} ]] && module_version=${__dkms_a[10]}\n"                                          \
	"__dkms_f=${__dkms_a[0]}\n" SH_SOURCE                                                                \
	"__dkms_m=${PACKAGE_NAME:-${__dkms_a[9]}} __dkms_v=${PACKAGE_VERSION:-${__dkms_a[10]}}\n"            \
	"__dkms_k=${__dkms_a[2]} __dkms_ar=${__dkms_a[3]} __dkms_o=()\n"                                     \
	"if [[ $__dkms_m && $__dkms_m != */* ]]; then\n"                                                     \
	"  __dkms_o+=(\"$__dkms_m\")\n"                                                                      \
	"  [[ $__dkms_v && $__dkms_v != */* ]] && __dkms_o+=(\"$__dkms_m-$__dkms_v\")\n"                     \
	"  if [[ $__dkms_k && $__dkms_k != */* && $__dkms_ar != */* ]]; then\n"                              \
	"    [[ $__dkms_v && $__dkms_v != */* ]] &&\n"                                                       \
	"      __dkms_o+=(\"$__dkms_m-$__dkms_v-$__dkms_k\" \"$__dkms_m-$__dkms_v-$__dkms_k-$__dkms_ar\")\n" \
	"    __dkms_o+=(\"$__dkms_m--$__dkms_k\" \"$__dkms_m--$__dkms_k-$__dkms_ar\")\n"                     \
	"  fi\n"                                                                                             \
	"fi\n"                                                                                               \
	"for __dkms_f in \"${__dkms_o[@]}\"; do\n"                                                           \
	"__dkms_f=${__dkms_a[1]}/$__dkms_f.conf\n" SH_SOURCE "done\n"                                        \
	"__dkms_i=12\n"                                                                                      \
	"for ((__dkms_j = 0; __dkms_j < __dkms_a[11]; __dkms_j++)); do\n"                                    \
	"  builtin printf -v \"${__dkms_a[__dkms_i]}\" '%s' \"${__dkms_a[__dkms_i + 1]}\"\n"                 \
	"  ((__dkms_i += 2))\n"                                                                              \
	"done\n"

/* The positional parameters of SH_CONF_HEAD; pointers into vars, ctx and directives. */
static const char **conf_args(struct dkms_ctx *ctx, const char *path, const struct dkms_conf_vars *vars,
			      const char *ksrc, const char *kconfig, char *n_dir, char **dir_names,
			      size_t *n_args)
{
	const struct dkms_opts *o = &ctx->opts;
	const char **a = calloc(12 + 2 * o->n_directives + 1, sizeof(*a));
	size_t k = 0;

	if (!a)
		abort();
	a[k++] = path;
	a[k++] = ctx->conf_dir ? ctx->conf_dir : "/etc/dkms";
	a[k++] = vars->kernelver ? vars->kernelver : "";
	a[k++] = vars->arch ? vars->arch : "";
	a[k++] = ksrc;
	a[k++] = kconfig;
	a[k++] = vars->dkms_tree ? vars->dkms_tree : ctx->dkms_tree ? ctx->dkms_tree : "";
	a[k++] = ctx->source_tree ? ctx->source_tree : "";
	a[k++] = ctx->install_tree ? ctx->install_tree : "";
	a[k++] = vars->module ? vars->module : "";
	a[k++] = vars->module_version ? vars->module_version : "";
	a[k++] = n_dir;
	for (size_t i = 0; i < o->n_directives; i++) {
		const char *eq = strchr(o->directives[i], '=');

		a[k++] = dir_names[i];
		a[k++] = eq + 1;
	}
	*n_args = k;
	return a;
}

/* Check opts.directives and split their names off; DKMS_E_USAGE on a bad one. */
static int directives_split(struct dkms_ctx *ctx, char ***names)
{
	const struct dkms_opts *o = &ctx->opts;

	*names = calloc(o->n_directives + 1, sizeof(**names));
	if (!*names)
		abort();
	for (size_t i = 0; i < o->n_directives; i++) {
		const char *d = o->directives[i], *eq = d ? strchr(d, '=') : NULL;

		if (!eq || !directive_name_ok(d, (size_t)(eq - d))) {
			char *v = SHOW(d);
			int r = dkms_err_set(ctx, DKMS_E_USAGE,
					     "--directive '%s': expected NAME=value or NAME[index]=value", v);

			free(v);
			return r;
		}
		(*names)[i] = dkms_asprintf("%.*s", (int)(eq - d), d);
		dkms_log(ctx, DKMS_LOG_DEBUG, "DIRECTIVE: %s", d);
	}
	return 0;
}

static int conf_evaluate(struct dkms_ctx *ctx, struct dkms_conf *c, const struct dkms_conf_vars *vars,
			 struct bash_result *res)
{
	const char *kver = vars->kernelver ? vars->kernelver : "";
	char *ksrc = vars->kernel_source_dir
			     ? dkms_strdup(vars->kernel_source_dir)
			     : dkms_asprintf("%s/%s/build",
					     ctx->install_tree ? ctx->install_tree : "/lib/modules", kver);
	char *kconfig =
		vars->kernel_config ? dkms_strdup(vars->kernel_config) : dkms_path_join(ksrc, ".config");
	char *n_dir = dkms_asprintf("%zu", ctx->opts.n_directives);
	char **dir_names = NULL, *script = NULL, *cwd = dir_of(c->path);
	const char **args = NULL;
	size_t n_args;
	int r;

	r = directives_split(ctx, &dir_names);
	if (!r) {
		args = conf_args(ctx, c->path, vars, ksrc, kconfig, n_dir, dir_names, &n_args);
		script = dkms_bash_script_build(SH_CONF_HEAD, directive_names, D_COUNT);
		r = dkms_bash_eval(script, args, n_args, cwd, directive_names, D_COUNT, ctx->conf_timeout,
				   res);
		if (r < 0)
			r = dkms_err_set(ctx, DKMS_E_FAIL, "cannot run %s to read %s: %s", BASH, c->path,
					 strerror(-r));
	}
	if (!r && res->timed_out) {
		r = dkms_conf_err(ctx, res->last_file ? res->last_file : c->path,
				  "did not finish within %u s (an endless loop, or a command that waits?); "
				  "fix the file",
				  ctx->conf_timeout ? ctx->conf_timeout : DKMS_BASH_TIMEOUT);
	} else if (!r && res->overflow) {
		r = dkms_conf_err(ctx, res->last_file ? res->last_file : c->path,
				  "its variables come to more than 64 MiB; fix the file");
	} else if (!r && !res->ended) {
		char *st = dkms_bash_status_text(res->status);

		r = dkms_conf_err(
			ctx, res->last_file ? res->last_file : c->path,
			"bash stopped while reading it (%s), so no directive could be read; fix the file",
			st);
		free(st);
	}
	dkms_strv_free(dir_names, ctx->opts.n_directives);
	free(args);
	free(script);
	free(cwd);
	free(n_dir);
	free(kconfig);
	free(ksrc);
	return r;
}

/* A dkms.conf is a small text file: refuse a huge or binary one before bash reads it. */
static int conf_check_text(struct dkms_ctx *ctx, const char *path, const struct stat *st)
{
	char *buf = NULL;
	size_t len = 0;
	int fd, r;

	if (st->st_size > (off_t)CONF_MAX)
		return dkms_conf_err(ctx, path,
				     "the file is too large (%lld bytes; a dkms.conf may have %u); give the "
				     "path of a dkms.conf",
				     (long long)st->st_size, CONF_MAX);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return dkms_err_set(ctx, DKMS_E_USAGE, "%s: cannot read dkms.conf (%s)", path,
				    strerror(errno));
	r = dkms_read_fd(fd, CONF_MAX, &buf, &len);
	close(fd);
	if (r == -EFBIG)
		r = dkms_conf_err(ctx, path, "the file is too large (a dkms.conf may have %u bytes)",
				  CONF_MAX);
	else if (r < 0)
		r = dkms_err_set(ctx, DKMS_E_USAGE, "%s: cannot read dkms.conf (%s)", path, strerror(-r));
	else if (memchr(buf, '\0', len))
		r = dkms_conf_err(ctx, path,
				  "not a text file (it holds NUL bytes); give the path of a dkms.conf");
	free(buf);
	return r;
}

int dkms_conf_load(struct dkms_ctx *ctx, const char *path, const struct dkms_conf_vars *vars,
		   struct dkms_conf **out)
{
	struct bash_result res = { 0 };
	struct dkms_conf *c;
	struct stat st;
	int r;

	*out = NULL;
	if (!path)
		return dkms_err_set(ctx, DKMS_E_USAGE, "no dkms.conf given");
	if (stat(path, &st) < 0 || access(path, R_OK) < 0)
		return dkms_err_set(ctx, DKMS_E_USAGE,
				    "%s: cannot read dkms.conf (%s); check the module's source "
				    "directory or the -c option",
				    path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return dkms_err_set(ctx, DKMS_E_USAGE, "%s: not a regular file; give the path of a dkms.conf",
				    path);
	if (st.st_size == 0)
		return dkms_conf_err(ctx, path,
				     "the file is empty; it needs at least PACKAGE_NAME and PACKAGE_VERSION");
	r = conf_check_text(ctx, path, &st);
	if (r)
		return r;
	if (nonempty(ctx->opts.dest_location) &&
	    (ctx->opts.dest_location[0] != '/' || !dkms_valid_relpath(ctx->opts.dest_location + 1))) {
		char *v = SHOW(ctx->opts.dest_location);

		r = dkms_err_set(ctx, DKMS_E_USAGE,
				 "DEST_MODULE_LOCATION override \"%s\" must be an absolute "
				 "path under the kernel's module directory, without '..'",
				 v);
		free(v);
		return r;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	c->path = absolute_path(path);
	r = conf_evaluate(ctx, c, vars, &res);
	if (!r)
		r = conf_from_values(ctx, c, res.vals, vars->kernelver ? vars->kernelver : "");
	dkms_bash_result_free(&res, D_COUNT);
	if (r) {
		dkms_conf_free(c);
		return r;
	}
	*out = c;
	return 0;
}

int dkms_conf_from_records(struct dkms_ctx *ctx, const char *path, const char *buf, size_t len,
			   const char *kver, struct dkms_conf **out)
{
	struct bash_result res = { 0 };
	struct dkms_conf *c;
	int r;

	*out = NULL;
	res.vals = calloc(D_COUNT, sizeof(*res.vals));
	c = calloc(1, sizeof(*c));
	if (!res.vals || !c)
		abort();
	c->path = dkms_strdup(path);
	dkms_bash_records_parse(buf, len, directive_names, D_COUNT, &res);
	if (res.ended)
		r = conf_from_values(ctx, c, res.vals, kver);
	else
		r = dkms_conf_err(ctx, path, "the records end before @end");
	dkms_bash_result_free(&res, D_COUNT);
	if (r) {
		dkms_conf_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void dkms_conf_free(struct dkms_conf *conf)
{
	if (!conf)
		return;
	for (size_t i = 0; i < conf->n_mods; i++) {
		free(conf->mods[i].built_name);
		free(conf->mods[i].built_location);
		free(conf->mods[i].dest_name);
		free(conf->mods[i].dest_location);
	}
	free(conf->mods);
	dkms_strv_free(conf->patches, conf->n_patches);
	dkms_strv_free(conf->build_depends, conf->n_build_depends);
	free(conf->path);
	free(conf->name);
	free(conf->version);
	free(conf->make);
	free(conf->pre_build);
	free(conf->post_build);
	free(conf->pre_install);
	free(conf->post_install);
	free(conf->post_add);
	free(conf->post_remove);
	free(conf->clean);
	free(conf->excl_kernel);
	free(conf->excl_kernel_min);
	free(conf->excl_kernel_max);
	free(conf->excl_arch);
	free(conf->excl_config);
	free(conf->obsolete_by);
	free(conf);
}

/* ---- the per-context cache ---- */

enum { KEY_M, KEY_V, KEY_KVER, KEY_ARCH, KEY_TREE, KEY_PATH, KEY_COUNT };

struct conf_cache_entry {
	char *key[KEY_COUNT];
	struct dkms_conf *conf; /* NULL: the conf is bad, err says why */
	char *err;
};

struct dkms_conf_cache {
	struct conf_cache_entry *e;
	size_t n;
};

static bool key_eq(char *const *a, const char *const *b)
{
	for (int i = 0; i < KEY_COUNT; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

int dkms_conf_for(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kernel *k,
		  const char *job_tree, const struct dkms_conf **out)
{
	struct dkms_conf_cache *cache;
	struct conf_cache_entry *e;
	struct dkms_conf *conf = NULL;
	char *path = dkms_tree_conf_path(ctx, m, v);
	const char *tree = job_tree ? job_tree : ctx->dkms_tree;
	const char *key[KEY_COUNT] = { m, v, k->version, k->arch ? k->arch : "", tree ? tree : "", path };
	int r;

	*out = NULL;
	if (!ctx->conf_cache) {
		ctx->conf_cache = calloc(1, sizeof(*ctx->conf_cache));
		if (!ctx->conf_cache)
			abort();
	}
	cache = ctx->conf_cache;
	for (size_t i = 0; i < cache->n; i++) {
		e = &cache->e[i];
		if (!key_eq(e->key, key))
			continue;
		free(path);
		if (!e->conf)
			return dkms_err_set(ctx, DKMS_E_CONF, "%s", e->err);
		*out = e->conf;
		return 0;
	}
	struct dkms_conf_vars vars = {
		.kernelver = k->version,
		.arch = k->arch,
		.kernel_source_dir = k->source_dir,
		.kernel_config = k->config_path,
		.dkms_tree = tree,
		.module = m,
		.module_version = v,
	};

	r = dkms_conf_load(ctx, path, &vars, &conf);
	if (r && r != DKMS_E_CONF) {
		free(path); /* a missing file may appear later: not cached */
		return r;
	}
	e = realloc(cache->e, (cache->n + 1) * sizeof(*cache->e));
	if (!e)
		abort();
	cache->e = e;
	e = &cache->e[cache->n++];
	for (int i = 0; i < KEY_COUNT; i++)
		e->key[i] = dkms_strdup(key[i]);
	free(path);
	e->conf = conf;
	e->err = r ? dkms_strdup(ctx->err) : NULL;
	*out = conf;
	return r;
}

void dkms_conf_cache_free(struct dkms_ctx *ctx)
{
	struct dkms_conf_cache *cache = ctx->conf_cache;

	if (!cache)
		return;
	for (size_t i = 0; i < cache->n; i++) {
		for (int j = 0; j < KEY_COUNT; j++)
			free(cache->e[i].key[j]);
		dkms_conf_free(cache->e[i].conf);
		free(cache->e[i].err);
	}
	free(cache->e);
	free(cache);
	ctx->conf_cache = NULL;
}
