/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rpm plugin hook table, for librpm releases that install no
 * <rpm/rpmplugin.h> (before 4.20). The layout has been the same since 4.18:
 * twelve hooks in a fixed order, each taking the plugin handle first, every
 * one but cleanup returning an rpmRC. A plugin NAME.so exports the table as
 * NAME_hooks. Used only when configure did not find the system's header.
 */
#ifndef DKMS_RPMPLUGIN_ABI_H
#define DKMS_RPMPLUGIN_ABI_H

#include <sys/types.h>

#include <rpm/rpmfi.h>
#include <rpm/rpmtypes.h>

struct rpmPluginHooks_s {
	/* loading and unloading */
	rpmRC (*init)(rpmPlugin plugin, rpmts ts);
	void (*cleanup)(rpmPlugin plugin);
	/* once per transaction (host side) */
	rpmRC (*tsm_pre)(rpmPlugin plugin, rpmts ts);
	rpmRC (*tsm_post)(rpmPlugin plugin, rpmts ts, int res);
	/* once per element (inside the root) */
	rpmRC (*psm_pre)(rpmPlugin plugin, rpmte te);
	rpmRC (*psm_post)(rpmPlugin plugin, rpmte te, int res);
	/* around scriptlets */
	rpmRC (*scriptlet_pre)(rpmPlugin plugin, const char *name, int type);
	rpmRC (*scriptlet_fork_post)(rpmPlugin plugin, const char *path, int type);
	rpmRC (*scriptlet_post)(rpmPlugin plugin, const char *name, int type, int res);
	/* around each file; the last argument is a file operation (rpmFlags) */
	rpmRC (*fsm_file_pre)(rpmPlugin plugin, rpmfi fi, const char *path, mode_t mode, rpmFlags op);
	rpmRC (*fsm_file_post)(rpmPlugin plugin, rpmfi fi, const char *path, mode_t mode, rpmFlags op,
			       int res);
	rpmRC (*fsm_file_prepare)(rpmPlugin plugin, rpmfi fi, int fd, const char *path, const char *dest,
				  mode_t mode, rpmFlags op);
};

/* Exported by librpm: per-plugin private data. */
void *rpmPluginGetData(rpmPlugin plugin);
void rpmPluginSetData(rpmPlugin plugin, void *data);

#endif
