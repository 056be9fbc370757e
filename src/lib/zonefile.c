/* SPDX-License-Identifier: MIT */
/* zonefile: RFC 1035 zone files in, through libzscanner. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libzscanner/scanner.h>

#include "error.h"
#include "zonefile.h"

#define ZONEFILE_MAX_FILES 64

typedef struct load_ctx {
	zone_builder_t *b;
	zone_report_fn report;
	void *ctx;
	int ret;
	unsigned syntax_errors;
	/* Included scanners are freed when their file ends, so names are kept here. */
	char *files[ZONEFILE_MAX_FILES];
	int nfiles;
} load_ctx_t;

static const char *stable_name(load_ctx_t *l, const char *name)
{
	for (int i = l->nfiles - 1; i >= 0; i--)
		if (strcmp(l->files[i], name) == 0)
			return l->files[i];
	if (l->nfiles == ZONEFILE_MAX_FILES)
		return l->files[l->nfiles - 1];
	char *copy = strdup(name);
	if (!copy)
		return NULL;
	l->files[l->nfiles++] = copy;
	return copy;
}

static void on_record(zs_scanner_t *s)
{
	load_ctx_t *l = s->process.data;
	if (l->ret)
		return;
	const char *file = stable_name(l, s->file.name ? s->file.name : "-");
	if (!file) {
		l->ret = US_ENOMEM;
		s->state = ZS_STATE_STOP;
		return;
	}
	int ret =
	    zone_builder_add(l->b, s->r_owner, s->r_type, s->r_class, s->r_ttl, s->r_data,
	                     (uint16_t)s->r_data_length, file, (unsigned long)s->line_counter);
	if (ret) {
		l->ret = ret;
		s->state = ZS_STATE_STOP;
	}
}

static void on_error(zs_scanner_t *s)
{
	load_ctx_t *l = s->process.data;
	l->syntax_errors++;
	if (l->report)
		l->report(l->ctx, s->file.name ? s->file.name : "-", (unsigned long)s->line_counter,
		          true, zs_strerror(s->error.code));
}

int zonefile_load(const uint8_t *origin, const char *path, zone_report_fn report, void *ctx,
                  zone_t **out)
{
	char otext[DNAME_TEXT_MAX];
	load_ctx_t l = {.report = report, .ctx = ctx};
	int ret = US_ENOMEM;
	zs_scanner_t *s = malloc(sizeof(*s));
	if (!s)
		return US_ENOMEM;
	l.b = zone_builder_new(origin, report, ctx);
	if (!l.b)
		goto cleanup;
	dname_to_text(origin, otext, sizeof(otext));
	if (zs_init(s, otext, 1, 3600) != 0) {
		free(s);
		s = NULL;
		goto cleanup;
	}
	if (zs_set_input_file(s, path) != 0) {
		ret = US_ENOENT;
		if (report)
			report(ctx, path, 0, true, zs_strerror(s->error.code));
		goto cleanup;
	}
	zs_set_processing(s, on_record, on_error, &l);
	zs_parse_all(s);
	if (l.ret) {
		ret = l.ret;
		goto cleanup;
	}
	if (l.syntax_errors) {
		ret = US_ESYNTAX;
		goto cleanup;
	}
	ret = zone_builder_finish(l.b, out);
cleanup:
	if (s) {
		zs_deinit(s);
		free(s);
	}
	zone_builder_free(l.b);
	for (int i = 0; i < l.nfiles; i++)
		free(l.files[i]);
	return ret;
}
