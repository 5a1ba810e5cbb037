/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the files of libdkms share. Conventions:
 *  - functions that can fail return 0 or an enum dkms_err (> 0), after
 *    recording a one-line message with dkms_err_set(); low-level helpers in
 *    util.c return 0 or -errno and record nothing;
 *  - whoever creates, frees; strings returned by non-const functions are
 *    malloc'd;
 *  - nothing prints: messages go through dkms_log().
 */
#ifndef DKMS_INTERNAL_H
#define DKMS_INTERNAL_H

#include "dkms.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DKMS_ATTR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define DKMS_ARRAY_SIZE(a)     (sizeof(a) / sizeof((a)[0]))

struct dkms_conf_cache;
struct dkms_kernel;

struct dkms_ctx {
	char *dkms_tree;	 /* /var/lib/dkms */
	char *source_tree;	 /* /usr/src */
	char *install_tree;	 /* /lib/modules */
	char *kernel_source_dir; /* --kernelsourcedir, or NULL */
	char *conf_dir;		 /* /etc/dkms */
	char *kernel_config;	 /* --config, or NULL */
	char *machine_arch;	 /* uname -m */
	char *running_kernel;	 /* uname -r */
	char *dest_override;	 /* distro DEST_MODULE_LOCATION, NULL = keep the conf's */
	char *sign_file;	 /* framework.conf sign_file, or NULL: look it up */
	char *mok_key;		 /* <dkms_tree>/mok.key unless framework.conf says */
	char *mok_cert;		 /* <dkms_tree>/mok.pub */
	bool no_autoinstall;	 /* <conf_dir>/no-autoinstall exists */
	unsigned conf_timeout;	 /* framework.conf conf_timeout: seconds for a dkms.conf; 0 = default */
	struct dkms_opts opts;
	dkms_log_fn log_fn;
	void *log_data;
	dkms_progress_fn progress_fn;
	void *progress_data;
	char err[2048];
	struct dkms_conf_cache *conf_cache;
	int lock_fd;	/* <dkms_tree>/.lock while this context writes, else -1 */
	int lock_depth; /* nested dkms_lock_take() calls */
};

/* ---- srctree.c: a module source before it is copied ---- */
#define DKMS_SOURCE_MAX_BYTES	(512u << 20) /* regular files, apparent size */
#define DKMS_SOURCE_MAX_ENTRIES 100000u
#define DKMS_SOURCE_MAX_DEPTH	64u
/* Refuse (DKMS_E_CONF) a source over the bounds above; what names it in messages ("m/v"). */
int dkms_srctree_check(struct dkms_ctx *ctx, const char *what, const char *dir);
/* Does the symlink resolve inside root (or also), or, dangling, would it create its file in root? */
bool dkms_srctree_link_inside(const char *link, const char *root, const char *also);
/* Remove, with a warning each, the links of copy that do not stay inside it (or lead into orig). */
int dkms_srctree_prune_links(struct dkms_ctx *ctx, const char *what, const char *copy, const char *orig);

/* ---- ctx.c: errors and logging ---- */
int dkms_err_set(struct dkms_ctx *ctx, int code, const char *fmt, ...) DKMS_ATTR_PRINTF(3, 4);
void dkms_log(struct dkms_ctx *ctx, enum dkms_log_prio prio, const char *fmt, ...) DKMS_ATTR_PRINTF(3, 4);
int dkms_jobs(const struct dkms_ctx *ctx); /* opts.jobs or the CPU count */

/* ---- util.c: strings, paths, files, processes (return 0 / -errno) ---- */
char *dkms_strdup(const char *s);				  /* aborts on ENOMEM */
char *dkms_asprintf(const char *fmt, ...) DKMS_ATTR_PRINTF(1, 2); /* aborts on ENOMEM */
char *dkms_path_join(const char *a, const char *b);		  /* a "/" b, no doubled '/' */
void dkms_strv_free(char **v, size_t n);
int dkms_strv_push(char ***v, size_t *n, const char *s); /* copies s */
bool dkms_strv_contains(char *const *v, size_t n, const char *s);
int dkms_strv_push_unique(char ***v, size_t *n, const char *s); /* push unless already there */
bool dkms_is_dir(const char *path);
bool dkms_is_file(const char *path);
bool dkms_exists(const char *path); /* lstat */
int dkms_mkdir_p(const char *path, mode_t mode);
int dkms_rm_rf(const char *path);				   /* no error if missing */
int dkms_copy_file(const char *src, const char *dst, mode_t mode); /* dst via temp + fsync + rename */
/* src to dst itself (no temp name: dst is one), fsync'd when sync. */
int dkms_copy_file_to(const char *src, const char *dst, mode_t mode, bool sync);
int dkms_copy_tree(const char *src, const char *dst); /* like cp -a, symlinks kept; no fsync: scratch trees */
int dkms_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode);
int dkms_read_file(const char *path, char **buf, size_t *len); /* NUL-terminated */
/* Read fd to EOF (NUL-terminated); -EFBIG past max bytes, with what was read so far in *buf. */
int dkms_read_fd(int fd, size_t max, char **buf, size_t *len);
int dkms_symlink_atomic(const char *target, const char *linkpath); /* temp link + rename */
int dkms_fsync_dir(const char *dir);
int dkms_list_dir(const char *dir, char ***names, size_t *n); /* sorted, no . and .. */
int dkms_files_equal(const char *a, const char *b);	      /* 1 equal, 0 differ, -errno */
bool dkms_valid_name(const char *s);	/* non-empty, no '/', not "." or "..", no control chars */
bool dkms_valid_relpath(const char *s); /* relative, no ".." component, no control chars */
bool dkms_has_suffix(const char *s, const char *suffix);
/* 1..max characters, the first a letter, digit or '_', the others too or in extra; ASCII only. */
bool dkms_valid_word(const char *s, const char *extra, size_t max);
/* s for a one-line message: at most max characters, others shown as \xNN, "..." when cut (malloc'd). */
char *dkms_str_printable(const char *s, size_t max);

/* Run a command. argv[0] is looked up in PATH. cwd may be NULL. env entries
 * "NAME=value" are added to the environment. stdin is /dev/null; stdout and
 * stderr go to log_fd when >= 0, else to /dev/null. Returns the exit status
 * (0..255), 128+signal, or -errno when it could not start. */
struct dkms_cmd {
	const char *const *argv;
	const char *cwd;
	const char *const *env;
	int log_fd;
};
int dkms_run(const struct dkms_cmd *cmd);
/* bash -c script, same rules. */
int dkms_run_shell(const char *script, const char *cwd, const char *const *env, int log_fd);

/* ---- version.c ---- */
/* Compare like `sort -V` (GNU filevercmp): <0, 0, >0. */
int dkms_vercmp(const char *a, const char *b);
/* Does POSIX extended regex re match s? Returns 1, 0, or -1 for a bad regex. */
int dkms_regex_match(const char *re, const char *s);

/* ---- config.c: dkms.conf, evaluated by bash (bash.c) ---- */
struct dkms_modfile {
	char *built_name;     /* BUILT_MODULE_NAME, no suffix */
	char *built_location; /* BUILT_MODULE_LOCATION, relative, "" or ending in '/' */
	char *dest_name;      /* DEST_MODULE_NAME, default built_name */
	char *dest_location;  /* DEST_MODULE_LOCATION after the distro override, starts with '/' */
	bool strip;	      /* STRIP[i], default STRIP[0], default yes */
};

struct dkms_conf {
	char *path;    /* the dkms.conf read */
	char *name;    /* PACKAGE_NAME */
	char *version; /* PACKAGE_VERSION */
	struct dkms_modfile *mods;
	size_t n_mods;
	char *make;	/* MAKE chosen for the kernel by MAKE_MATCH, NULL = default */
	char **patches; /* PATCH[i] whose PATCH_MATCH[i] matches the kernel */
	size_t n_patches;
	char *pre_build, *post_build, *pre_install, *post_install, *post_add, *post_remove;
	char *clean; /* accepted, not run */
	bool autoinstall;
	char **build_depends;
	size_t n_build_depends;
	bool build_depends_rebuild;
	char *excl_kernel, *excl_kernel_min, *excl_kernel_max, *excl_arch, *excl_config;
	bool no_weak_modules;
	char *obsolete_by;
};

/* The variables in scope while dkms.conf runs. */
struct dkms_conf_vars {
	const char *kernelver;
	const char *arch;
	const char *kernel_source_dir;
	const char *kernel_config; /* may be NULL */
	const char *dkms_tree;	   /* for a build: the job's own tree (see build.c) */
	const char *module;	   /* may be NULL before the name is known */
	const char *module_version;
};

/* Evaluate path (and the /etc/dkms overrides, and opts.directives), validate.
 * On error: DKMS_E_USAGE when the file is missing, DKMS_E_CONF when it is bad,
 * with a message naming the file and the directive. */
int dkms_conf_load(struct dkms_ctx *ctx, const char *path, const struct dkms_conf_vars *vars,
		   struct dkms_conf **out);
void dkms_conf_free(struct dkms_conf *conf);
/* The conf of m/v for kernel k (dkms_tree_conf_path, vars from k), cached in
 * the context per (m, v, kver, arch, job_tree): the pointer stays owned by
 * ctx. job_tree: the dkms_tree seen by the conf, NULL = ctx->dkms_tree. */
int dkms_conf_for(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kernel *k,
		  const char *job_tree, const struct dkms_conf **out);
void dkms_conf_cache_free(struct dkms_ctx *ctx);
/* DKMS_E_CONF, recorded as "<path>: <message>" (config.c, exclusive.c). */
int dkms_conf_err(struct dkms_ctx *ctx, const char *path, const char *fmt, ...) DKMS_ATTR_PRINTF(3, 4);

/* ---- exclusive.c: BUILD_EXCLUSIVE_* against one kernel ---- */
/* 0 when the kernel matches every BUILD_EXCLUSIVE_* directive, else
 * DKMS_E_EXCLUDED with the reason recorded. config_path: kernel .config or NULL. */
int dkms_conf_check_exclusive(struct dkms_ctx *ctx, const struct dkms_conf *conf, const char *kver,
			      const char *arch, const char *config_path);

/* ---- bash.c: bash files evaluated, variables read back over a channel ---- */
/* Source bash files in order and read back the named variables (scalars).
 * values[i] is NULL when names[i] was not set. Used for framework.conf. */
int dkms_bash_read_vars(struct dkms_ctx *ctx, const char *const *files, size_t n_files,
			const char *const *names, size_t n_names, char **values);

/* ---- kernel.c: one target kernel ---- */
enum dkms_compress { DKMS_COMPRESS_NONE, DKMS_COMPRESS_GZ, DKMS_COMPRESS_XZ, DKMS_COMPRESS_ZST };

struct dkms_kernel {
	char *version;
	char *arch;
	char *source_dir; /* headers: --kernelsourcedir, <install_tree>/<kver>/build, /usr/src/linux-headers-<kver> */
	char *config_path;	     /* <source_dir>/.config, /boot/config-<kver>, or NULL */
	char *modules_dir;	     /* <install_tree>/<kver> */
	enum dkms_compress compress; /* what the kernel's modules use */
	char *sig_hash;		     /* CONFIG_MODULE_SIG_HASH, or NULL: no signing */
};

int dkms_kernel_open(struct dkms_ctx *ctx, const char *kver, const char *arch, struct dkms_kernel **out);
void dkms_kernel_free(struct dkms_kernel *k);
bool dkms_kernel_has_headers(const struct dkms_kernel *k);
bool dkms_kernel_has_modules_dep(const struct dkms_kernel *k);
/* Value of a CONFIG_ option in the kernel .config ("y", "m", a string without quotes), or NULL. */
char *dkms_kernel_config_get(const struct dkms_kernel *k, const char *option);
const char *dkms_compress_suffix(enum dkms_compress c); /* "", ".gz", ".xz", ".zst" */
/* Kernels with headers under the install tree (for --all-kernels style work). */
int dkms_kernel_list_installed(struct dkms_ctx *ctx, char ***kvers, size_t *n);

/* ---- compress.c ---- */
int dkms_compress_file(enum dkms_compress c, const char *src, const char *dst); /* 0 / -errno; dst atomic */
enum dkms_compress dkms_compress_from_name(const char *filename);		/* by suffix */

/* ---- sign.c ---- */
/* Create ctx->mok_key (0600) and ctx->mok_cert (DER) with OpenSSL when missing. */
int dkms_sign_ensure_mok(struct dkms_ctx *ctx);
/* Sign ko in place with the kernel's sign-file and hash. Failure: warning, returns the code. */
int dkms_sign_module(struct dkms_ctx *ctx, const struct dkms_kernel *k, const char *ko);

/* ---- tree.c: the registry on disk ---- */
/* <dkms_tree>/<m>/<v>/<kver>/<arch> */
char *dkms_tree_kdir(struct dkms_ctx *ctx, const char *m, const char *v, const char *kver, const char *arch);
bool dkms_tree_is_added(struct dkms_ctx *ctx, const char *m, const char *v);
bool dkms_tree_is_built(struct dkms_ctx *ctx, const char *m, const char *v, const char *kver,
			const char *arch);
/* Version installed for (m, kver, arch) from the kernel-<kver>-<arch> link, or NULL. */
char *dkms_tree_installed_version(struct dkms_ctx *ctx, const char *m, const char *kver, const char *arch);
int dkms_tree_list_modules(struct dkms_ctx *ctx, char ***names, size_t *n);
/* Versions shown by status (added or broken), sorted by dkms_vercmp. */
int dkms_tree_list_versions(struct dkms_ctx *ctx, const char *m, char ***versions, size_t *n);
/* Source link dangling, or missing while <source_tree>/<m>-<v> exists (as upstream 3.1+). */
bool dkms_tree_is_broken(struct dkms_ctx *ctx, const char *m, const char *v);
/* Built (kver, arch) pairs of m/v: kvers[i], arches[i]. */
int dkms_tree_list_built(struct dkms_ctx *ctx, const char *m, const char *v, char ***kvers, char ***arches,
			 size_t *n);
/* Register source_dir as <m>/<v>/source (a symlink). */
int dkms_tree_add(struct dkms_ctx *ctx, const char *m, const char *v, const char *source_dir);
int dkms_tree_set_installed(struct dkms_ctx *ctx, const char *m, const char *v, const char *kver,
			    const char *arch);
int dkms_tree_clear_installed(struct dkms_ctx *ctx, const char *m, const char *kver, const char *arch);
/* Remove <m>/<v>/<kver>/<arch> (and empty parents). */
int dkms_tree_remove_built(struct dkms_ctx *ctx, const char *m, const char *v, const char *kver,
			   const char *arch);
/* Remove <m>/<v> and <m> when empty. */
int dkms_tree_forget(struct dkms_ctx *ctx, const char *m, const char *v);
/* Where an installed module file of m/v lives: "<install_tree>/<kver><loc>/<file>", or NULL. */
char *dkms_tree_find_installed_file(struct dkms_ctx *ctx, const char *kver, const char *file);
/* Path of the conf to read for m/v: opts.conf_file or <m>/<v>/source/dkms.conf. */
char *dkms_tree_conf_path(struct dkms_ctx *ctx, const char *m, const char *v);

/* ---- module.c ---- */
/* Evaluate a dkms.conf for the running kernel, for its PACKAGE_NAME/VERSION. */
int dkms_module_conf_identity(struct dkms_ctx *ctx, const char *conf_path, struct dkms_conf **out);
/* Run a POST_ADD / POST_REMOVE / PRE_INSTALL style script, a path relative to the
 * source dir of m/v, in that dir; a failure is logged as a warning. */
void dkms_module_run_script(struct dkms_ctx *ctx, const char *m, const char *v, const char *what,
			    const char *script);

/* ---- build.c: one (module, version, kernel, arch) build ---- */
/* Build m/v for k into <m>/<v>/<kver>/<arch>/{module,log}. The tree entry
 * appears only complete. On failure the log stays at *log_path (malloc'd). */
int dkms_build(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kernel *k,
	       char **log_path);

/* ---- estimate.c ---- */
/* Seconds a build of m/v for arch should take: its recorded time on another kernel, another
 * version's, or a guess from the size of its C sources. Used to start the longest builds first. */
double dkms_build_estimate(struct dkms_ctx *ctx, const char *m, const char *v, const char *arch);

/* ---- script.c: the PRE_/POST_ scripts of dkms.conf (build.c, install.c) ---- */
/* Run a dkms.conf script (PRE_BUILD, POST_INSTALL...) as dkms does: its first
 * word is a path relative to dir, run in dir when executable (else a warning
 * and 0). Output to log_fd, or to the log when log_fd < 0. Returns the exit
 * status, or -errno when it could not start. what: "PRE_BUILD"... */
int dkms_script_run(struct dkms_ctx *ctx, const char *what, const char *dir, const char *script, int log_fd);

/* ---- install.c ---- */
/* Place the built modules of m/v for k, with version sanity and original-module
 * backup; set the installed link. No depmod. */
int dkms_install(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kernel *k);
/* Remove them, restore originals, clear the link. No depmod. */
int dkms_uninstall(struct dkms_ctx *ctx, const char *m, const char *v, const struct dkms_kernel *k);
/* After a crash during an install or uninstall of m/v (replacing prev) for k: leave m on k either
 * complete (the link, and every file of that version in place) or absent (its files gone,
 * originals back). staged: temporary files to delete. */
int dkms_install_recover(struct dkms_ctx *ctx, const char *op, const char *m, const char *v, const char *prev,
			 const struct dkms_kernel *k, char *const *staged, size_t n_staged);

/* ---- lock.c: one writer per dkms tree (flock on <dkms_tree>/.lock) ---- */
/* Wait for the lock (saying who holds it), then recover what an interrupted
 * writer left (dkms_journal_recover). Nested calls count. */
int dkms_lock_take(struct dkms_ctx *ctx);
void dkms_lock_drop(struct dkms_ctx *ctx);
/* In a forked child: close the lock without releasing the parent's. */
void dkms_lock_forget(struct dkms_ctx *ctx);

/* ---- journal.c: changes to the install tree in flight, in <dkms_tree>/.journal ---- */
/* Record an install or uninstall of m/v (replacing prev, may be NULL) for k
 * before it touches the install tree, with the temporary files it will
 * write; and that k needs depmod. *entry: the record, for dkms_journal_end. */
int dkms_journal_begin(struct dkms_ctx *ctx, const char *op, const char *m, const char *v, const char *prev,
		       const struct dkms_kernel *k, char *const *staged, size_t n_staged, char **entry);
void dkms_journal_end(struct dkms_ctx *ctx, char *entry); /* frees entry */
/* depmod ran (or was not needed) for k: forget its pending mark. */
void dkms_journal_depmod_done(struct dkms_ctx *ctx, const struct dkms_kernel *k);
/* Finish or undo every recorded operation, then run the pending depmods. Lock held. */
int dkms_journal_recover(struct dkms_ctx *ctx);

/* ---- tarball-check.c: what an ldtarball archive entry may be (pure, for fuzzing) ---- */
#define DKMS_TARBALL_MAX_FILE	 (256LL << 20) /* one file */
#define DKMS_TARBALL_MAX_TOTAL	 (1LL << 30)   /* all files */
#define DKMS_TARBALL_MAX_ENTRIES 100000
#define DKMS_TARBALL_HARDLINK	 1 /* the type of a hard-link entry (not an S_IF* value) */
enum dkms_tarball_bad {
	DKMS_TARBALL_ENTRY_OK = 0,
	DKMS_TARBALL_BAD_NAME,
	DKMS_TARBALL_BAD_CONTROL,
	DKMS_TARBALL_BAD_ABSOLUTE,
	DKMS_TARBALL_BAD_DOTDOT,
	DKMS_TARBALL_BAD_HARDLINK,
	DKMS_TARBALL_BAD_TYPE,
	DKMS_TARBALL_BAD_SYMLINK,
	DKMS_TARBALL_BAD_TARGET,
	DKMS_TARBALL_BAD_SIZE,
	DKMS_TARBALL_BAD_LAYOUT,
};
/* 0, or why the entry is refused (enum dkms_tarball_bad). type: S_IFREG,
 * S_IFDIR, S_IFLNK (others refused) or DKMS_TARBALL_HARDLINK; linktarget:
 * the symlink target or NULL. */
int dkms_tarball_check_entry(const char *pathname, int type, const char *linktarget, int64_t size);
const char *dkms_tarball_reason(int code);
/* The name without "./", "." and empty components ("" for the top), or NULL. */
char *dkms_tarball_entry_name(const char *pathname);
/* tarball-place.c: move what ldtarball extracted into dir (and checked) into place. */
int dkms_tarball_place(struct dkms_ctx *ctx, const char *archive, const char *dir, unsigned flags,
		       const struct dkms_conf *conf, bool has_src);

/* ---- depmod.c ---- */
/* depmod -a kver (skipped without modules.dep); DKMS_E_KERNEL on failure. */
int dkms_depmod(struct dkms_ctx *ctx, const struct dkms_kernel *k);

#endif
