/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libdkms: the engine behind the dkms command and the package-manager plugins.
 *
 * The whole public API on one screen: a context that carries every path root
 * and setting, a plan of jobs computed from a request or a package-manager
 * event, a runner that executes the plan, and the status of the tree.
 */
#ifndef DKMS_H
#define DKMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Result codes: 0, or one of these; they are also the exit codes of the
 * dkms command, the ones scripts written for dkms 3.x test for.
 */
enum dkms_err {
	DKMS_OK = 0,
	DKMS_E_FAIL = 1,	 /* anything else (I/O error, out of memory) */
	DKMS_E_EXISTS = 3,	 /* already added / built */
	DKMS_E_USAGE = 4,	 /* bad arguments, missing dkms.conf */
	DKMS_E_KERNEL = 6,	 /* missing kernel dir, failed patch, failed depmod */
	DKMS_E_NOMODULE = 7,	 /* the build did not produce a module */
	DKMS_E_CONF = 8,	 /* bad dkms.conf */
	DKMS_E_MAKE = 10,	 /* make failed */
	DKMS_E_AUTOINSTALL = 11, /* autoinstall had failures */
	DKMS_E_DEPENDS = 13,	 /* BUILD_DEPENDS not installed */
	DKMS_E_HEADERS = 21,	 /* kernel headers missing */
	DKMS_E_EXCLUDED = 77,	 /* skipped by BUILD_EXCLUSIVE */
	DKMS_E_PREINSTALL = 101, /* PRE_INSTALL refused */
};

/*
 * Context: path roots, settings and the log sink. Nothing global: every
 * call takes the context first. NULL path fields take the defaults
 * (framework.conf, then /var/lib/dkms, /usr/src, /lib/modules, /etc/dkms).
 */
struct dkms_ctx;

struct dkms_paths {
	const char *dkms_tree;	       /* --dkmstree */
	const char *source_tree;       /* --sourcetree */
	const char *install_tree;      /* --installtree */
	const char *kernel_source_dir; /* --kernelsourcedir: one kernel only */
	const char *conf_dir;	       /* /etc/dkms: framework.conf, overrides */
	const char *kernel_config;     /* --config: the kernel .config to use */
};

enum dkms_log_prio { DKMS_LOG_ERR, DKMS_LOG_WARN, DKMS_LOG_INFO, DKMS_LOG_DEBUG };
typedef void (*dkms_log_fn)(void *data, enum dkms_log_prio prio, const char *msg);

struct dkms_opts {
	int jobs;		     /* make -j; 0 = number of CPUs */
	bool force;		     /* --force */
	bool force_version_override; /* --force-version-override */
	bool no_depmod;		     /* --no-depmod */
	bool verbose;		     /* --verbose: echo build commands */
	bool strict; /* framework.conf strict=yes: a failed module fails the package-manager operation */
	const char *conf_file;	       /* -c: dkms.conf to use instead of the source's */
	const char *const *directives; /* --directive NAME=value, in order */
	size_t n_directives;
	const char *dest_location; /* overrides DEST_MODULE_LOCATION; NULL = distro */
};

/* On a non-zero return (framework.conf unreadable) *out is still a usable
 * context with the defaults, and dkms_ctx_error() says what was wrong. */
int dkms_ctx_new(const struct dkms_paths *paths, struct dkms_ctx **out);
void dkms_ctx_free(struct dkms_ctx *ctx);
void dkms_ctx_set_log_fn(struct dkms_ctx *ctx, dkms_log_fn fn, void *data);
struct dkms_opts *dkms_ctx_opts(struct dkms_ctx *ctx);
/* The message of the last failed call: file, module, kernel and next step. */
const char *dkms_ctx_error(const struct dkms_ctx *ctx);
const char *dkms_ctx_dkms_tree(const struct dkms_ctx *ctx);
const char *dkms_ctx_source_tree(const struct dkms_ctx *ctx);
const char *dkms_ctx_install_tree(const struct dkms_ctx *ctx);

/*
 * Modules: registering sources, and the module argument forms of the
 * command line (name/version, a directory with dkms.conf, a dkms.conf).
 */
int dkms_module_add(struct dkms_ctx *ctx, const char *source_dir, char **name, char **version);
int dkms_module_resolve(struct dkms_ctx *ctx, const char *arg, char **name, char **version);
/* Newest version registered in the tree for name, or NULL. */
char *dkms_module_newest(struct dkms_ctx *ctx, const char *name);
bool dkms_module_is_added(struct dkms_ctx *ctx, const char *name, const char *version);
/* <source_tree>/<name>-<version> */
char *dkms_module_source_dir(struct dkms_ctx *ctx, const char *name, const char *version);

/* Kernels: a version and an architecture. */
struct dkms_kref {
	const char *version;
	const char *arch; /* NULL: the machine's */
};

/*
 * Tarballs: a module's sources and built modules in one archive, laid out as
 * dkms 3.x's mktarball / ldtarball do, so that either tool reads the other's.
 */
enum {
	DKMS_TARBALL_SOURCE_ONLY = 1 << 0,   /* --source-only: no built modules */
	DKMS_TARBALL_BINARIES_ONLY = 1 << 1, /* --binaries-only: dkms.conf and built modules, no sources */
};
/* Archive m/v's sources and its builds for kernels (n == 0: every build) to
 * path, written atomically; path NULL: <dkms_tree>/<m>/<v>/tarball/<m>-<v>-
 * kernel<kver>-<arch>.dkms.tar.gz. *written (may be NULL): the file made. */
int dkms_tarball_make(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kref *kernels,
		      size_t n, unsigned flags, const char *path, char **written);
/* Check every entry of an untrusted archive, then place its sources in
 * <source_tree>/<m>-<v>, its builds in the dkms tree, and add m/v. Existing
 * sources and builds are kept unless opts.force. name, version may be NULL. */
int dkms_tarball_load(struct dkms_ctx *ctx, const char *path, unsigned flags, char **name, char **version);

/*
 * Plans: jobs computed from a request, printable, then run.
 */
enum dkms_action {
	DKMS_ACTION_BUILD,
	DKMS_ACTION_INSTALL, /* builds first when not built */
	DKMS_ACTION_UNINSTALL,
	DKMS_ACTION_UNBUILD, /* uninstalls first when installed */
	DKMS_ACTION_REMOVE,  /* unbuild, then forget the version if no kernel is left */
};

struct dkms_request {
	enum dkms_action action;
	const char *module;  /* NULL: every module (autoinstall) */
	const char *version; /* NULL with module: newest */
	const struct dkms_kref *kernels;
	size_t n_kernels;
	bool all_kernels; /* --all: every kernel the version is built for */
	bool autoinstall; /* only AUTOINSTALL=yes modules, newest version */
};

/* A package-manager event: kernels and module sources that came or went. */
struct dkms_event {
	const struct dkms_kref *kernels_added;
	size_t n_kernels_added;
	const struct dkms_kref *kernels_removed;
	size_t n_kernels_removed;
};

struct dkms_plan;
int dkms_plan_for_request(struct dkms_ctx *ctx, const struct dkms_request *req, struct dkms_plan **out);
int dkms_plan_for_event(struct dkms_ctx *ctx, const struct dkms_event *ev, struct dkms_plan **out);
/* Install on target what is installed on the template kernel (dkms match); module NULL: every one. */
int dkms_plan_match(struct dkms_ctx *ctx, const char *template_kver, const struct dkms_kref *target,
		    const char *module, struct dkms_plan **out);
/* Move src's jobs to the end of dst, but those dst has already (same module, version, kernel); frees src. */
void dkms_plan_append(struct dkms_plan *dst, struct dkms_plan *src);
size_t dkms_plan_n_jobs(const struct dkms_plan *plan);
void dkms_plan_print(const struct dkms_plan *plan, FILE *out);
void dkms_plan_free(struct dkms_plan *plan);

/*
 * Reports: what running a plan did, per job.
 */
enum dkms_job_result { DKMS_JOB_PENDING, DKMS_JOB_DONE, DKMS_JOB_SKIPPED, DKMS_JOB_FAILED };

struct dkms_job_report {
	const char *module, *version, *kver, *arch;
	enum dkms_action action;
	enum dkms_job_result result;
	int code;	      /* enum dkms_err of the job */
	const char *message;  /* why skipped or failed */
	const char *log_path; /* make.log of a failed build, or NULL */
};

/* Progress while a plan runs: a job started or ended, or a tick every half second while builds run. */
enum dkms_progress_kind { DKMS_PROGRESS_START, DKMS_PROGRESS_END, DKMS_PROGRESS_TICK };

struct dkms_progress {
	enum dkms_progress_kind kind;
	const struct dkms_job_report *job; /* START, END: the job */
	double seconds;			   /* END: how long it took */
	size_t n_done, n_total;
	const struct dkms_job_report *const *running; /* the builds running now */
	const double *running_seconds;		      /* and for how long */
	size_t n_running;
};
typedef void (*dkms_progress_fn)(void *data, const struct dkms_progress *p);
void dkms_ctx_set_progress_fn(struct dkms_ctx *ctx, dkms_progress_fn fn, void *data);

struct dkms_report;
int dkms_plan_run(struct dkms_ctx *ctx, struct dkms_plan *plan, struct dkms_report **out);
size_t dkms_report_n_jobs(const struct dkms_report *rep);
const struct dkms_job_report *dkms_report_job(const struct dkms_report *rep, size_t i);
size_t dkms_report_n_failed(const struct dkms_report *rep);
void dkms_report_free(struct dkms_report *rep);

/*
 * Module signing: the MOK key pair, framework.conf mok_signing_key and
 * mok_certificate (default <dkms_tree>/mok.key and mok.pub).
 */
const char *dkms_ctx_mok_key(const struct dkms_ctx *ctx);
const char *dkms_ctx_mok_cert(const struct dkms_ctx *ctx);
/* Make the pair with OpenSSL (RSA-2048 key mode 0600, DER certificate) when
 * neither exists; *created says whether it did. Half a pair is an error. */
int dkms_sign_generate_mok(struct dkms_ctx *ctx, bool *created);

/*
 * Status: the tree as `dkms status` prints it. No locks, no processes.
 */
enum dkms_state { DKMS_STATE_ADDED, DKMS_STATE_BUILT, DKMS_STATE_INSTALLED, DKMS_STATE_BROKEN };

enum {
	DKMS_STATUS_ORIGINAL_EXISTS = 1 << 0,
	DKMS_STATUS_MISSING_INSTALLED = 1 << 1,
	DKMS_STATUS_DIFFERS = 1 << 2,
};

struct dkms_status {
	char *module, *version, *kver, *arch; /* kver, arch NULL when added/broken */
	enum dkms_state state;
	unsigned flags;
};

struct dkms_status_filter {
	const char *module, *version;
	const struct dkms_kref *kernels;
	size_t n_kernels;
};

int dkms_status_list(struct dkms_ctx *ctx, const struct dkms_status_filter *f, struct dkms_status **out,
		     size_t *n);
/* One line, as dkms prints it, without the newline. Returns a malloc'd string. */
char *dkms_status_format(const struct dkms_status *st);
void dkms_status_list_free(struct dkms_status *list, size_t n);

/*
 * Packages: a registered module as a .deb or .rpm made with dpkg-deb or rpmbuild, either its
 * sources (dkms builds them on the target) or its modules already built for given kernels (one
 * package per kernel, installed without a build). Binaries must be built first (a plan).
 */
enum dkms_pkg_format { DKMS_PKG_DEB, DKMS_PKG_RPM };

struct dkms_pkg_request {
	enum dkms_pkg_format format;
	bool binaries; /* mkbmdeb, mkbmrpm */
	const char *module, *version;
	const struct dkms_kref *kernels; /* binaries: one package each */
	size_t n_kernels;
	const char *output_dir; /* NULL: <dkms_tree>/<m>/<v>/deb or rpm */
	const char *maintainer; /* "Name <address>"; NULL: a placeholder */
};

/* Each package written is logged (INFO) with its path. */
int dkms_pkg_make(struct dkms_ctx *ctx, const struct dkms_pkg_request *req);

#ifdef __cplusplus
}
#endif
#endif
