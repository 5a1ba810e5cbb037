/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The bash evaluation channel (see bash.c); shared by bash.c and config.c. */
#ifndef DKMS_BASH_H
#define DKMS_BASH_H

#include "internal.h"

#define BASH "/bin/bash"

/* Source the file named by $__dkms_f when it exists: fd 3 closed, CRLF read as LF. */
#define SH_SOURCE                                                                                            \
	"if [[ -e $__dkms_f ]]; then\n"                                                                      \
	"  [[ $__dkms_f == */* ]] || __dkms_f=./$__dkms_f\n"                                                 \
	"  builtin printf '%s\\0%s\\0%s\\0' @file 0 \"$__dkms_f\" >&3\n"                                     \
	"  __dkms_t=\n"                                                                                      \
	"  IFS= builtin read -r -d '' __dkms_t < \"$__dkms_f\"\n"                                            \
	"  if [[ $__dkms_t == *$'\\r'* ]]; then\n"                                                           \
	"    __dkms_t=${__dkms_t//$'\\r\\n'/$'\\n'}\n"                                                       \
	"    builtin eval \"${__dkms_t%$'\\r'}\" 3>&-\n"                                                     \
	"  else\n"                                                                                           \
	"    builtin source \"$__dkms_f\" 3>&-\n"                                                            \
	"  fi\n"                                                                                             \
	"  builtin set +euo pipefail; IFS=$' \\t\\n'\n"                                                      \
	"fi\n"

/* The elements of one variable, in index order, as bash lists them. */
struct var_entry {
	unsigned long idx;
	char *val;
};

struct var_values {
	struct var_entry *e;
	size_t n;
};

/* What bash reported: the variables, the last file it started, whether it finished. */
struct bash_result {
	struct var_values *vals; /* one per name */
	char *last_file;
	bool ended;
	int status;	/* wait status */
	bool timed_out; /* killed at the deadline */
	bool overflow;	/* the variables came to more than 64 MiB: cut */
};

/* Seconds a dkms.conf or framework.conf may take, unless framework.conf's conf_timeout says. */
#define DKMS_BASH_TIMEOUT 30

/* The NAME\0INDEX\0VALUE\0 records of buf[0..len) into res, whose vals (n_names, zeroed) the caller
 * allocates; "@file" sets last_file, "@end" ended. A truncated last record is dropped. No bash runs:
 * dkms_bash_eval uses it on what bash wrote, the fuzzer (fuzz/) on anything. */
void dkms_bash_records_parse(const char *buf, size_t len, const char *const *names, size_t n_names,
			     struct bash_result *res);
/* A dkms.conf from such records, validated as dkms_conf_load does once bash has run (config.c). */
int dkms_conf_from_records(struct dkms_ctx *ctx, const char *path, const char *buf, size_t len,
			   const char *kver, struct dkms_conf **out);
/* Element idx of a variable, or NULL. */
const char *dkms_bash_val_at(const struct var_values *v, unsigned long idx);
/* "builtin unset NAMES", head, then the code that writes every element of NAMES and @end on fd 3. */
char *dkms_bash_script_build(const char *head, const char *const *names, size_t n);
/* Run script with args for at most timeout_s seconds (0: DKMS_BASH_TIMEOUT); res->vals gets one entry
 * per name. 0 or -errno (bash did not start). */
int dkms_bash_eval(const char *script, const char *const *args, size_t n_args, const char *cwd,
		   const char *const *names, size_t n_names, unsigned timeout_s, struct bash_result *res);
void dkms_bash_result_free(struct bash_result *res, size_t n_names);
/* "exit status N" or "killed by signal N" (malloc'd). */
char *dkms_bash_status_text(int status);
/* Is s[0..len) a bash variable name? */
bool dkms_bash_valid_identifier(const char *s, size_t len);

#endif
