/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the dkms command prints: log lines, the progress view, status lines. */
#include "output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static struct {
	bool quiet;
	bool tty;	/* stdout is a terminal: draw a live line */
	bool drawn;	/* the live line is on screen */
	char line[512]; /* its text */
} out;

static void live_clear(void)
{
	if (out.drawn) {
		fputs("\r\033[K", stdout);
		out.drawn = false;
	}
}

static void live_draw(void)
{
	if (out.tty && out.line[0]) {
		fputs(out.line, stdout);
		out.drawn = true;
	}
	fflush(stdout);
}

void out_log(void *data, enum dkms_log_prio prio, const char *msg)
{
	(void)data;
	if (prio != DKMS_LOG_ERR && out.quiet)
		return;
	live_clear();
	if (prio == DKMS_LOG_ERR)
		fprintf(stderr, "Error! %s\n", msg);
	else if (prio == DKMS_LOG_WARN)
		fprintf(stderr, "Warning: %s\n", msg);
	else
		printf("%s\n", msg);
	fflush(stderr);
	live_draw();
}

static int term_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col < sizeof(out.line) ? ws.ws_col : (int)sizeof(out.line) - 1;
	return 80;
}

static const char *kernel_short(const char *kver)
{
	return kver ? kver : "-";
}

static void on_progress(void *data, const struct dkms_progress *p)
{
	(void)data;
	if (out.quiet)
		return;
	if (!out.tty) {
		/* package-manager logs: a line per finished build or install */
		const struct dkms_job_report *j = p->job;

		if (p->kind != DKMS_PROGRESS_END || !j || p->seconds < 0.05)
			return;
		printf("[%zu/%zu] %s/%s, %s, %s: %s (%.1f s)\n", p->n_done, p->n_total, j->module, j->version,
		       kernel_short(j->kver), j->arch ? j->arch : "-",
		       j->result == DKMS_JOB_DONE      ? "done"
		       : j->result == DKMS_JOB_SKIPPED ? "skipped"
						       : "FAILED",
		       p->seconds);
		fflush(stdout);
		return;
	}
	int width = term_width(), n;

	n = snprintf(out.line, sizeof(out.line), "[%zu/%zu]", p->n_done, p->n_total);
	for (size_t i = 0; i < p->n_running && n < width; i++)
		n += snprintf(out.line + n, sizeof(out.line) - (size_t)n, "%s %s (%s) %.0fs",
			      i ? "," : " building", p->running[i]->module, kernel_short(p->running[i]->kver),
			      p->running_seconds[i]);
	if (n >= width)
		snprintf(out.line + width - 4, sizeof(out.line) - (size_t)width + 4, "...");
	live_clear();
	live_draw();
}

void out_init(struct dkms_ctx *ctx, bool quiet)
{
	out.quiet = quiet;
	out.tty = isatty(STDOUT_FILENO) && getenv("TERM") && strcmp(getenv("TERM"), "dumb");
	dkms_ctx_set_log_fn(ctx, out_log, NULL);
	dkms_ctx_set_progress_fn(ctx, on_progress, NULL);
}

void out_finish(void)
{
	out.line[0] = '\0';
	live_clear();
	fflush(stdout);
}

static void json_string(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_entry(const struct dkms_status *st, bool first)
{
	static const char *const states[] = {
		[DKMS_STATE_ADDED] = "added",
		[DKMS_STATE_BUILT] = "built",
		[DKMS_STATE_INSTALLED] = "installed",
		[DKMS_STATE_BROKEN] = "broken",
	};
	static const struct {
		unsigned flag;
		const char *name;
	} flags[] = {
		{ DKMS_STATUS_ORIGINAL_EXISTS, "original_modules_exist" },
		{ DKMS_STATUS_MISSING_INSTALLED, "built_modules_missing" },
		{ DKMS_STATUS_DIFFERS, "built_and_installed_differ" },
	};

	fputs(first ? "[\n  {\"module\": " : ",\n  {\"module\": ", stdout);
	json_string(st->module);
	fputs(", \"version\": ", stdout);
	json_string(st->version);
	if (st->kver) {
		fputs(", \"kernel\": ", stdout);
		json_string(st->kver);
		fputs(", \"arch\": ", stdout);
		json_string(st->arch);
	}
	printf(", \"state\": \"%s\", \"flags\": [", states[st->state]);
	for (size_t i = 0, n = 0; i < sizeof(flags) / sizeof(*flags); i++)
		if (st->flags & flags[i].flag)
			printf("%s\"%s\"", n++ ? ", " : "", flags[i].name);
	fputs("]}", stdout);
}

int out_status(struct dkms_ctx *ctx, const struct dkms_status_filter *f, bool json)
{
	struct dkms_status *st;
	size_t n;
	int r = dkms_status_list(ctx, f, &st, &n);

	if (r) {
		fprintf(stderr, "Error! %s\n", dkms_ctx_error(ctx));
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		if (json) {
			json_entry(&st[i], i == 0);
			continue;
		}
		char *line = dkms_status_format(&st[i]);

		puts(line);
		free(line);
	}
	if (json)
		puts(n ? "\n]" : "[]");
	dkms_status_list_free(st, n);
	return 0;
}
