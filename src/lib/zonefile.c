/* SPDX-License-Identifier: MIT */
/* zonefile: RFC 1035 zone files in (libzscanner) and out (libknot's presentation format). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libknot/rrset-dump.h>
#include <libknot/rrset.h>
#include <libzscanner/scanner.h>

#include "error.h"
#include "wire.h"
#include "zonefile.h"

#define ZONEFILE_MAX_FILES 64
#define ZONEFILE_MAX_DEPTH 8

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

static void on_record(load_ctx_t *l, zs_scanner_t *s)
{
	const char *file = stable_name(l, s->file.name ? s->file.name : "-");
	if (!file) {
		l->ret = US_ENOMEM;
		return;
	}
	l->ret = zone_builder_add(l->b, s->r_owner, s->r_type, s->r_class, s->r_ttl, s->r_data,
	                          (uint16_t)s->r_data_length, file, (unsigned long)s->line_counter);
}

static void syntax_error(load_ctx_t *l, const char *file, unsigned long line, const char *msg)
{
	l->syntax_errors++;
	if (l->report)
		l->report(l->ctx, file, line, true, msg);
}

/* Only regular files: a device such as /dev/zero would be read for ever. */
static bool regular_file(load_ctx_t *l, const char *path, const char *from, unsigned long line)
{
	struct stat st;
	const char *why = "not a regular file";
	errno = 0;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		return true;
	if (errno)
		why = strerror(errno);
	char msg[600];
	/* An $INCLUDE names the file it could not read; the top file is the location itself. */
	snprintf(msg, sizeof(msg), "%s%s%s", from ? path : "", from ? ": " : "", why);
	syntax_error(l, from ? from : path, line, msg);
	return false;
}

/*
 * Parses one file record by record. $INCLUDE is followed here rather than by the scanner, which
 * has no depth limit of its own: a file including itself would recurse until memory runs out.
 */
static void scan_file(load_ctx_t *l, const char *origin, const char *path, uint32_t ttl, int depth)
{
	zs_scanner_t *s = malloc(sizeof(*s));
	if (!s) {
		l->ret = US_ENOMEM;
		return;
	}
	if (zs_init(s, origin, 1, ttl) != 0) {
		free(s);
		l->ret = US_ENOMEM;
		return;
	}
	if (zs_set_input_file(s, path) != 0) {
		syntax_error(l, path, 0, zs_strerror(s->error.code));
		goto out;
	}
	while (!l->ret) {
		zs_parse_record(s);
		const char *file = s->file.name ? s->file.name : path;
		unsigned long line = (unsigned long)s->line_counter;
		if (s->state == ZS_STATE_DATA) {
			on_record(l, s);
		} else if (s->state == ZS_STATE_ERROR) {
			syntax_error(l, file, line, zs_strerror(s->error.code));
			if (s->error.fatal)
				break;
		} else if (s->state == ZS_STATE_INCLUDE) {
			const char *inc = (const char *)s->include_filename;
			if (depth >= ZONEFILE_MAX_DEPTH)
				syntax_error(l, file, line, "$INCLUDE nested too deeply");
			else if (regular_file(l, inc, file, line))
				scan_file(l, (const char *)s->buffer, inc, s->default_ttl,
				          depth + 1);
		} else {
			break; /* ZS_STATE_EOF or ZS_STATE_STOP */
		}
	}
out:
	zs_deinit(s);
	free(s);
}

/* Zone-wide problems have no line of their own; they are the top file's. */
typedef struct report_wrap {
	zone_report_fn report;
	void *ctx;
	const char *path;
} report_wrap_t;

static void wrapped_report(void *ctx, const char *file, unsigned long line, bool error,
                           const char *msg)
{
	report_wrap_t *w = ctx;
	if (w->report)
		w->report(w->ctx, file ? file : w->path, line, error, msg);
}

int zonefile_load(const uint8_t *origin, const char *path, zone_report_fn report, void *ctx,
                  zone_t **out)
{
	char otext[DNAME_TEXT_MAX];
	report_wrap_t wrap = {report, ctx, path};
	load_ctx_t l = {.report = wrapped_report, .ctx = &wrap};
	int ret = US_ENOMEM;
	l.b = zone_builder_new(origin, wrapped_report, &wrap);
	if (!l.b)
		goto cleanup;
	if (!regular_file(&l, path, NULL, 0)) {
		ret = US_ENOENT;
		goto cleanup;
	}
	dname_to_text(origin, otext, sizeof(otext));
	scan_file(&l, otext, path, 3600, 0);
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
	zone_builder_free(l.b);
	for (int i = 0; i < l.nfiles; i++)
		free(l.files[i]);
	return ret;
}

/* ---- out ---- */

typedef struct write_ctx {
	FILE *f;
	char *buf; /* libknot's text buffer, grown by it */
	size_t buflen;
} write_ctx_t;

static int node_cmp(const void *a, const void *b)
{
	return dname_cmp((*(const zone_node_t *const *)a)->name,
	                 (*(const zone_node_t *const *)b)->name);
}

/* Writes the records of rs at node n from offset *off: all of them, or for signatures (whose
 * TTLs differ, zone_rr_ttl) the next one. */
static int write_records(write_ctx_t *w, const zone_node_t *n, const zone_rrset_t *rs,
                         uint32_t *off)
{
	knot_rrset_t rr;
	knot_rrset_init(&rr, (knot_dname_t *)n->name, rs->type, KNOT_CLASS_IN,
	                zone_rr_ttl(n, rs, rs->rdata + *off));
	int ret = 0;
	do {
		ret = knot_rrset_add_rdata(&rr, rs->rdata + *off + 2, wire_read16(rs->rdata + *off),
		                           NULL);
		*off = zone_rr_next(rs, *off);
	} while (ret == 0 && *off && rs->type != WIRE_T_RRSIG);
	if (ret == 0 && knot_rrset_txt_dump(&rr, &w->buf, &w->buflen, &KNOT_DUMP_STYLE_DEFAULT) < 0)
		ret = -1;
	knot_rdataset_clear(&rr.rrs, NULL);
	if (ret)
		return US_ENOMEM;
	return fputs(w->buf, w->f) < 0 ? -errno : 0;
}

static int write_rrset(write_ctx_t *w, const zone_node_t *n, const zone_rrset_t *rs)
{
	int ret = 0;
	uint32_t off = 0;
	do
		ret = write_records(w, n, rs, &off);
	while (ret == 0 && off);
	return ret;
}

static int write_all(write_ctx_t *w, const zone_t *z)
{
	char name[DNAME_TEXT_MAX];
	dname_to_text(z->apex, name, sizeof(name));
	if (fprintf(w->f, "; %s serial %u, %zu records, written by understudy\n", name, z->serial,
	            z->nrecords) < 0)
		return -errno;
	int ret = write_rrset(w, zone_find(z, z->apex, z->apex_len), z->soa);
	uint32_t n = 0, pos = 0;
	while (zone_next_node(z, &pos))
		n++;
	const zone_node_t **nodes = malloc((n + 1) * sizeof(*nodes)); /* and the NULL at the end */
	if (!nodes)
		return US_ENOMEM;
	n = 0;
	for (pos = 0; (nodes[n] = zone_next_node(z, &pos));)
		n++;
	qsort(nodes, n, sizeof(*nodes), node_cmp);
	for (uint32_t i = 0; ret == 0 && i < n; i++)
		for (uint16_t j = 0; ret == 0 && j < nodes[i]->nrrsets; j++)
			if (&nodes[i]->rrsets[j] != z->soa)
				ret = write_rrset(w, nodes[i], &nodes[i]->rrsets[j]);
	free(nodes);
	return ret;
}

int zonefile_write(const zone_t *z, const char *path, char *err, size_t errlen)
{
	char tmp[4096 + 16], dir[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		us_errf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int ret = -errno;
		us_errf(err, errlen, "%s: cannot create a file beside it: %s", path,
		        strerror(errno));
		return ret;
	}
	/* libknot grows the buffer by doubling, so it must not start empty. */
	write_ctx_t w = {.f = fdopen(fd, "w"), .buf = malloc(4096), .buflen = 4096};
	int ret = !w.f ? -errno : !w.buf ? US_ENOMEM : write_all(&w, z);
	if (ret == 0 && fflush(w.f) != 0)
		ret = -errno;
	if (ret == 0 && (fchmod(fd, 0644) != 0 || fsync(fd) != 0))
		ret = -errno;
	if (w.f ? fclose(w.f) != 0 : close(fd) != 0)
		ret = ret ? ret : -errno;
	free(w.buf);
	if (ret == 0 && rename(tmp, path) != 0)
		ret = -errno;
	if (ret) {
		unlink(tmp);
		us_errf(err, errlen, "%s: cannot write: %s", path, us_strerror(ret));
		return ret;
	}
	int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
