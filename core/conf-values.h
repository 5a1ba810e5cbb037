/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The directives of dkms.conf: their names, and their values (as bash left them) validated into a
 * struct dkms_conf. Shared by config.c, which evaluates the file, and conf-values.c. */
#ifndef DKMS_CONF_VALUES_H
#define DKMS_CONF_VALUES_H

#include "bash.h"

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

extern const char *const dkms_conf_directive_names[D_COUNT];

/* The largest dkms.conf evaluated: real ones are a few KiB. */
#define DKMS_CONF_MAX (1u << 20)

/* A value for a message: one line, bounded (malloc'd). */
#define DKMS_CONF_SHOW(s) dkms_str_printable((s), 80)

static inline const char *dkms_conf_nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* Fill c (its path set) from the values of the directives; kver picks MAKE[] and PATCH[] by their
 * _MATCH. DKMS_E_CONF with a message naming the file and the directive. */
int dkms_conf_from_values(struct dkms_ctx *ctx, struct dkms_conf *c, const struct var_values *vals,
			  const char *kver);

#endif
