/* SPDX-License-Identifier: MIT */
/* catz: the daemon's catalog zones (RFC 9432): producer catalogs generated from the config. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "catz.h"
#include "ctl.h"
#include "error.h"
#include "log.h"
#include "serial.h"
#include "server.h"
#include "zonefile.h"

int catz_generate(const conf_t *conf, const conf_zone_t *cat, const zone_t *prev, uint32_t now,
                  zone_t **out, char *err, size_t errlen)
{
	int self = (int)(cat - conf->zones);
	size_t n = 0;
	for (size_t i = 0; i < conf->nzones; i++)
		n += conf->zones[i].catalog_zone == self;
	catalog_entry_t *e = n ? calloc(n, sizeof(*e)) : NULL;
	if (n && !e)
		return US_ENOMEM;
	n = 0;
	for (size_t i = 0; i < conf->nzones; i++) {
		const conf_zone_t *m = &conf->zones[i];
		if (m->catalog_zone == self)
			e[n++] = (catalog_entry_t){
			    .name = m->name, .name_len = m->name_len, .group = m->catalog_group};
	}
	zone_t *z = NULL;
	int ret = 0;
	if (prev) {
		/* Built at prev's serial first: the same records are the same version. */
		if ((ret = catalog_build(cat->name, cat->name_len, prev->serial, e, n, &z, err,
		                         errlen)) != 0)
			goto cleanup;
		if (zone_same(z, prev))
			goto cleanup;
		zone_unref(z);
		z = NULL;
	}
	uint32_t serial = now;
	if (prev && serial_cmp(now, prev->serial + 1) < 0)
		serial = prev->serial + 1;
	ret = catalog_build(cat->name, cat->name_len, serial, e, n, &z, err, errlen);
cleanup:
	free(e);
	if (ret == 0)
		*out = z;
	return ret;
}

/* A zone's name as the log lines write zones: without the trailing dot (but the root's). */
static void zone_text(const uint8_t *name, char *buf, size_t len)
{
	int n = dname_to_text(name, buf, len);
	if (n > 1)
		buf[n - 1] = 0;
	else if (n <= 0)
		snprintf(buf, len, "?");
}

/* Text of a unique ID (a label: any bytes) for a log or ctl line, escaped as in a name. */
static void id_text(const catalog_member_t *m, char *buf, size_t len)
{
	uint8_t w[CATALOG_ID_MAX + 2];
	w[0] = m->id_len;
	memcpy(w + 1, m->id, m->id_len);
	w[1 + m->id_len] = 0;
	if (dname_to_text(w, buf, len) <= 0)
		snprintf(buf, len, "?");
	else
		buf[strlen(buf) - 1] = 0; /* the root's dot */
}

static void ctl_one(server_zone_t *z, ctl_reply_t *r, size_t n)
{
	const conf_zone_t *zc = z->conf;
	const zone_t *cur = z->slot->zone;
	catalog_t c;
	char err[256], name[DNAME_TEXT_MAX], id[DNAME_TEXT_MAX], coo[DNAME_TEXT_MAX];
	if (!cur) {
		ctl_fail(r, "%s: no version served yet\n", zc->domain);
		return;
	}
	int ret = catalog_read(cur, 0, &c, err, sizeof(err));
	if (ret) {
		ctl_fail(r, "%s: serial %u is not a catalog: %s\n", zc->domain, cur->serial,
		         ret == US_ENOMEM ? "out of memory" : err);
		return;
	}
	if (r->json) {
		ctl_printf(r, "%s{\"zone\": ", n ? ", " : "");
		ctl_json_str(r, zc->domain);
		ctl_printf(r, ", \"serial\": %u, \"duplicates\": %zu, \"members\": [", cur->serial,
		           c.nduplicates);
	} else {
		ctl_printf(r, "%s serial=%u members=%zu duplicates=%zu\n", zc->domain, cur->serial,
		           c.nmembers, c.nduplicates);
	}
	for (size_t i = 0; i < c.nmembers; i++) {
		const catalog_member_t *m = &c.members[i];
		dname_to_text(m->name, name, sizeof(name));
		id_text(m, id, sizeof(id));
		if (m->coo)
			dname_to_text(m->coo, coo, sizeof(coo));
		if (r->json) {
			ctl_printf(r, "%s{\"zone\": ", i ? ", " : "");
			ctl_json_str(r, name);
			ctl_printf(r, ", \"id\": ");
			ctl_json_str(r, id);
			ctl_printf(r, ", \"group\": ");
			ctl_json_str(r, m->group);
			ctl_printf(r, ", \"coo\": ");
			ctl_json_str(r, m->coo ? coo : NULL);
			ctl_printf(r, "}");
		} else {
			/* Group names are free text: quoted, as zone-status quotes its errors. */
			ctl_printf(r, "  %s id=%s", name, id);
			if (m->group)
				ctl_printf(r, " group=\"%s\"", m->group);
			ctl_printf(r, " coo=%s\n", m->coo ? coo : "none");
		}
	}
	if (r->json)
		ctl_printf(r, "]}");
	catalog_deinit(&c);
}

void catz_ctl(server_t *s, server_zone_t *z, ctl_reply_t *r)
{
	if (r->json) {
		r->structured = true;
		ctl_printf(r, "{\"catalogs\": [");
	}
	size_t n = 0;
	for (size_t i = 0; i < s->conf->nzones; i++) {
		server_zone_t *x = s->zones[i];
		if (z ? x == z : x->conf->catalog_role != CONF_CATALOG_NONE)
			ctl_one(x, r, n++);
	}
	if (r->json)
		ctl_printf(r, "]}\n");
	else if (!n)
		ctl_printf(r, "no catalog zones\n");
}

/* ---- consumer catalogs ---- */

/* A consumer catalog's state: the member list of the version last applied. */
typedef struct catz_cat {
	uint8_t name[DNAME_MAXLEN]; /* the catalog zone, lower-cased wire form */
	size_t name_len;
	bool have;       /* a version was applied */
	uint32_t serial; /* its serial */
	bool broken;     /* broken_serial was found broken and logged */
	uint32_t broken_serial;
	time_t retry_at; /* applying failed (out of memory): not before this */
	catalog_t members;
} catz_cat_t;

struct catz {
	catz_cat_t *cats;
	size_t n;
	bool restored; /* the applied lists kept in the storage were read */
};

/* A member some catalog claims, for deciding who gets each name. */
typedef struct claim {
	const catalog_member_t *m;
	const catz_cat_t *cat;
	int zone; /* the catalog's index in the configuration being built */
} claim_t;

static catz_cat_t *cat_find(struct catz *c, const uint8_t *name, size_t len)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (c->cats[i].name_len == len && memcmp(c->cats[i].name, name, len) == 0)
			return &c->cats[i];
	return NULL;
}

static catz_cat_t *cat_get(server_t *s, const conf_zone_t *zc)
{
	catz_cat_t *cat = cat_find(s->catz, zc->name, zc->name_len);
	if (cat)
		return cat;
	if (!s->catz && !(s->catz = calloc(1, sizeof(*s->catz))))
		return NULL;
	catz_cat_t *nc = realloc(s->catz->cats, (s->catz->n + 1) * sizeof(*nc));
	if (!nc)
		return NULL;
	s->catz->cats = nc;
	cat = &nc[s->catz->n++];
	memset(cat, 0, sizeof(*cat));
	memcpy(cat->name, zc->name, zc->name_len);
	cat->name_len = zc->name_len;
	catalog_init(&cat->members);
	return cat;
}

void catz_free(server_t *s)
{
	if (!s->catz)
		return;
	for (size_t i = 0; i < s->catz->n; i++)
		catalog_deinit(&s->catz->cats[i].members);
	free(s->catz->cats);
	free(s->catz);
	s->catz = NULL;
}

static int cmp_claim(const void *a, const void *b)
{
	const claim_t *x = a, *y = b;
	int c = dname_cmp(x->m->name, y->m->name);
	return c ? c : x->zone - y->zone;
}

/*
 * The zones of a configuration by name, so that a catalog of 100,000 members costs in
 * proportion to them rather than to their square (conf_find_zone walks the list).
 */
typedef struct name_index {
	const conf_t *conf;
	uint32_t *slots; /* zone index + 1, 0 for empty */
	size_t mask;
} name_index_t;

static uint32_t name_hash(const uint8_t *name, size_t len)
{
	return dname_hash(name, len);
}

/* Indexes the first n zones of conf; 0 or US_ENOMEM. */
static int index_build(name_index_t *x, const conf_t *conf, size_t n)
{
	size_t size = 16;
	while (size < 2 * n)
		size *= 2;
	x->conf = conf;
	x->mask = size - 1;
	if (!(x->slots = calloc(size, sizeof(*x->slots))))
		return US_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const conf_zone_t *z = &conf->zones[i];
		size_t j = name_hash(z->name, z->name_len) & x->mask;
		while (x->slots[j])
			j = (j + 1) & x->mask;
		x->slots[j] = (uint32_t)i + 1;
	}
	return 0;
}

static const conf_zone_t *index_find(const name_index_t *x, const uint8_t *name, size_t len)
{
	for (size_t j = name_hash(name, len) & x->mask; x->slots[j]; j = (j + 1) & x->mask) {
		const conf_zone_t *z = &x->conf->zones[x->slots[j] - 1];
		if (z->name_len == len && memcmp(z->name, name, len) == 0)
			return z;
	}
	return NULL;
}

/* The template of consumer catalog zc for member m: the one its group names, else the first. */
static int member_template(const conf_t *conf, const conf_zone_t *zc, const catalog_member_t *m,
                           bool *unknown_group)
{
	*unknown_group = false;
	if (m->group) {
		for (size_t j = 0; j < zc->ncatalog_templates; j++)
			if (strcmp(conf->templates[zc->catalog_templates[j]].id, m->group) == 0)
				return zc->catalog_templates[j];
		*unknown_group = true;
	}
	return zc->catalog_templates[0];
}

/*
 * Adds to next the members of every consumer catalog of next, from each catalog's applied list
 * (cats, by name), leaving out the names in skip (for a reset: the zone goes first). Decides
 * who holds a name several catalogs list: the catalog that holds it now, unless that one's coo
 * hands it to another that lists it too (RFC 9432 4.4.1); a new name goes to the first catalog
 * in the configuration's order. A name the file configures is never a member. Logs each
 * refusal when log is set. 0 or US_ENOMEM.
 */
static int add_members(server_t *s, conf_t *next, const catalog_t *skip, bool log)
{
	char name[DNAME_TEXT_MAX];
	size_t nfile = next->nzones, nclaims = 0, cap = 0;
	claim_t *claims = NULL;
	name_index_t files = {0}, cur = {0};
	int ret = 0;
	for (size_t i = 0; i < nfile; i++) {
		const conf_zone_t *zc = &next->zones[i];
		const catz_cat_t *cat = zc->catalog_role == CONF_CATALOG_CONSUMER
		                            ? cat_find(s->catz, zc->name, zc->name_len)
		                            : NULL;
		if (!cat || !zc->ncatalog_templates)
			continue;
		if (nclaims + cat->members.nmembers > cap) {
			size_t ncap = (nclaims + cat->members.nmembers) * 2;
			claim_t *nc = realloc(claims, ncap * sizeof(*nc));
			if (!nc) {
				ret = US_ENOMEM;
				goto cleanup;
			}
			claims = nc;
			cap = ncap;
		}
		for (size_t j = 0; j < cat->members.nmembers; j++)
			claims[nclaims++] = (claim_t){&cat->members.members[j], cat, (int)i};
	}
	if (nclaims)
		qsort(claims, nclaims, sizeof(*claims), cmp_claim);
	/* Room for every claim at once: next->zones does not move while members are added. */
	conf_zone_t *room =
	    nclaims ? realloc(next->zones, (nfile + nclaims) * sizeof(*room)) : NULL;
	if (nclaims && !room) {
		ret = US_ENOMEM;
		goto cleanup;
	}
	if (room)
		next->zones = room;
	if ((ret = index_build(&files, next, nfile)) != 0 ||
	    (ret = index_build(&cur, s->conf, s->conf->nzones)) != 0)
		goto cleanup;
	for (size_t i = 0, end; i < nclaims; i = end) {
		const catalog_member_t *m = claims[i].m;
		for (end = i + 1; end < nclaims && dname_equal(claims[end].m->name, m->name); end++)
			;
		if (skip && catalog_find(skip, m->name, m->name_len))
			continue;
		zone_text(m->name, name, sizeof(name));
		const conf_zone_t *have = index_find(&files, m->name, m->name_len);
		if (have) {
			/* Each name is decided once: only the file's zones can hold it. */
			if (log)
				log_warning(
				    "zone %s: listed by catalog %s, refused: the configuration "
				    "has this zone (line %d)",
				    name, next->zones[claims[i].zone].domain, have->line);
			continue;
		}
		/* Who holds it now, and whether its coo hands it to one that lists it too. */
		const conf_zone_t *now = index_find(&cur, m->name, m->name_len);
		const uint8_t *owner =
		    now && now->catalog_from >= 0 ? s->conf->zones[now->catalog_from].name : NULL;
		size_t w = i;
		for (size_t j = i; owner && j < end; j++)
			if (dname_equal(claims[j].cat->name, owner))
				w = j;
		if (owner && dname_equal(claims[w].cat->name, owner) && claims[w].m->coo)
			for (size_t j = i; j < end; j++)
				if (dname_equal(claims[j].cat->name, claims[w].m->coo)) {
					w = j;
					break;
				}
		for (size_t j = i; log && j < end; j++)
			if (j != w)
				log_warning(
				    "zone %s: also listed by catalog %s, refused: catalog %s "
				    "has it",
				    name, next->zones[claims[j].zone].domain,
				    next->zones[claims[w].zone].domain);
		const conf_zone_t *cz = &next->zones[claims[w].zone];
		bool unknown;
		int tpl = member_template(next, cz, claims[w].m, &unknown);
		if (unknown && log)
			log_warning("zone %s: group \"%s\" of catalog %s names no template of its "
			            "catalog-template; template %s serves it",
			            name, claims[w].m->group, cz->domain, next->templates[tpl].id);
		conf_zone_t z;
		if ((ret = conf_member_from_template(next, tpl, m->name, m->name_len, &z)) != 0) {
			/* The templates were checked with the configuration: only memory fails. */
			goto cleanup;
		}
		z.catalog_from = claims[w].zone;
		z.catalog_id = malloc(1u + claims[w].m->id_len);
		z.catalog_group = claims[w].m->group ? strdup(claims[w].m->group) : NULL;
		if (!z.catalog_id || (claims[w].m->group && !z.catalog_group)) {
			conf_zone_deinit(&z);
			ret = US_ENOMEM;
			goto cleanup;
		}
		z.catalog_id[0] = claims[w].m->id_len;
		memcpy(z.catalog_id + 1, claims[w].m->id, claims[w].m->id_len);
		/* New to next (the index said so): appended without conf_add_zone's walk. */
		next->zones[next->nzones++] = z;
	}
cleanup:
	free(files.slots);
	free(cur.slots);
	free(claims);
	return ret;
}

int catz_extend(server_t *s, conf_t *next, ctl_reply_t *r)
{
	int ret = add_members(s, next, NULL, true);
	if (ret)
		ctl_fail(r, "reload refused: out of memory for the catalogs' members\n");
	return ret;
}

/* The catalog that brought member zone zc of conf, by name, for a log line. */
static const char *from(const conf_t *conf, const conf_zone_t *zc)
{
	return zc->catalog_from >= 0 ? conf->zones[zc->catalog_from].domain : "?";
}

static void id_str(const uint8_t *id, char *buf, size_t len)
{
	catalog_member_t m = {.id_len = id ? id[0] : 0};
	if (id)
		memcpy(m.id, id + 1, id[0]);
	id_text(&m, buf, len);
}

/* One line per member that comes, goes, moves or changes template; skip: the resets, said
 * already. */
static void log_changes(const server_t *s, const conf_t *next, const catalog_t *skip)
{
	char a[DNAME_TEXT_MAX], b[DNAME_TEXT_MAX];
	const conf_t *cur = s->conf;
	name_index_t in_cur = {0}, in_next = {0};
	if (index_build(&in_cur, cur, cur->nzones) != 0 ||
	    index_build(&in_next, next, next->nzones) != 0) {
		log_warning("catalog: out of memory for the log of the members' changes");
		goto cleanup;
	}
	for (size_t i = 0; i < next->nzones; i++) {
		const conf_zone_t *n = &next->zones[i];
		if (n->catalog_from < 0)
			continue;
		const conf_zone_t *o = index_find(&in_cur, n->name, n->name_len);
		id_str(n->catalog_id, b, sizeof(b));
		if (!o || o->catalog_from < 0) {
			log_info("zone %s: added from catalog %s (member ID %s, template %s)",
			         n->domain, from(next, n), b, next->templates[n->template_].id);
		} else if (!dname_equal(cur->zones[o->catalog_from].name,
		                        next->zones[n->catalog_from].name)) {
			log_info(
			    "zone %s: moves from catalog %s to catalog %s (coo), its data kept",
			    n->domain, from(cur, o), from(next, n));
		} else if (o->template_ >= 0 && n->template_ >= 0 &&
		           strcmp(cur->templates[o->template_].id,
		                  next->templates[n->template_].id)) {
			log_info("zone %s: group %s%s%s in catalog %s: template %s, was %s",
			         n->domain, n->catalog_group ? "\"" : "",
			         n->catalog_group ? n->catalog_group : "none",
			         n->catalog_group ? "\"" : "", from(next, n),
			         next->templates[n->template_].id, cur->templates[o->template_].id);
		}
	}
	for (size_t i = 0; i < cur->nzones; i++) {
		const conf_zone_t *o = &cur->zones[i];
		if (o->catalog_from < 0)
			continue;
		const conf_zone_t *n = index_find(&in_next, o->name, o->name_len);
		id_str(o->catalog_id, a, sizeof(a));
		if (!n && !(skip && catalog_find(skip, o->name, o->name_len)))
			log_info(
			    "zone %s: removed from catalog %s (member ID %s): its data is purged",
			    o->domain, from(cur, o), a);
	}
cleanup:
	free(in_cur.slots);
	free(in_next.slots);
}

/*
 * Applies the file's configuration (s->conf without members) plus the applied members; quiet
 * leaves out the line per member (at start, when every member is "added" again).
 */
static int apply(server_t *s, const catalog_t *skip, bool quiet)
{
	conf_t *next = NULL;
	int ret = conf_copy(s->conf, true, &next);
	if (ret == 0 && (ret = add_members(s, next, skip, !skip)) != 0)
		conf_free(next);
	if (ret)
		return ret;
	if (!quiet)
		log_changes(s, next, skip);
	ctl_reply_t r = {0};
	ret = server_apply_conf(s, next, &r);
	if (ret)
		log_error("catalog: the new zone set was not applied: %s", r.text ? r.text : "");
	free(r.text);
	return ret;
}

/*
 * The applied member list of each consumer catalog is kept in the storage, as a catalog zone
 * file of its own (storage/catalogs/<the name's wire form in hex>.zone), so that a restart
 * serves the members at once, whatever the stored catalog version holds (a broken one, say):
 * a backup must not lose its zones to a restart.
 */
static void applied_path(const server_t *s, const catz_cat_t *cat, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/catalogs/", s->conf->storage);
	for (size_t i = 0; i < cat->name_len && n > 0 && (size_t)n + 3 < len; i++)
		n += snprintf(buf + n, len - (size_t)n, "%02x", cat->name[i]);
	if (n > 0 && (size_t)n + 6 < len)
		snprintf(buf + n, len - (size_t)n, ".zone");
}

static void applied_save(const server_t *s, const catz_cat_t *cat)
{
	char path[PATH_MAX], err[256], name[DNAME_TEXT_MAX];
	const catalog_t *c = &cat->members;
	catalog_entry_t *e = c->nmembers ? calloc(c->nmembers, sizeof(*e)) : NULL;
	zone_t *z = NULL;
	zone_text(cat->name, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/catalogs", s->conf->storage);
	if (mkdir(path, 0750) != 0 && errno != EEXIST) {
		log_warning("catalog %s: cannot keep its members in %s: %s", name, path,
		            strerror(errno));
		free(e);
		return;
	}
	applied_path(s, cat, path, sizeof(path));
	for (size_t i = 0; e && i < c->nmembers; i++)
		e[i] = (catalog_entry_t){.name = c->members[i].name,
		                         .name_len = c->members[i].name_len,
		                         .group = c->members[i].group,
		                         .id = c->members[i].id,
		                         .id_len = c->members[i].id_len};
	if ((c->nmembers && !e) ||
	    catalog_build(cat->name, cat->name_len, cat->serial, e, c->nmembers, &z, err,
	                  sizeof(err)) != 0 ||
	    zonefile_write(z, path, err, sizeof(err)) != 0)
		log_warning("catalog %s: cannot keep its members in the storage: %s; a restart "
		            "takes them from the stored catalog",
		            name, c->nmembers && !e ? "out of memory" : err);
	zone_unref(z);
	free(e);
}

static void ignore_report(void *ctx, const char *file, unsigned long line, bool error,
                          const char *msg)
{
	(void)ctx;
	(void)file;
	(void)line;
	(void)error;
	(void)msg;
}

/* At start: the applied lists from the storage, applied at once. True when applied. */
static bool applied_restore(server_t *s)
{
	char path[PATH_MAX], err[256], name[DNAME_TEXT_MAX];
	bool any = false;
	for (size_t i = 0; i < s->conf->nzones; i++) {
		const conf_zone_t *zc = &s->conf->zones[i];
		catz_cat_t *cat;
		zone_t *z = NULL;
		if (zc->catalog_role != CONF_CATALOG_CONSUMER || !(cat = cat_get(s, zc)))
			continue;
		applied_path(s, cat, path, sizeof(path));
		if (access(path, F_OK) != 0)
			continue;
		catalog_t c;
		if (zonefile_load(cat->name, path, ignore_report, NULL, &z) != 0 ||
		    catalog_read(z, 0, &c, err, sizeof(err)) != 0) {
			log_warning(
			    "catalog %s: the members kept in %s do not read; they come from "
			    "the stored catalog",
			    zc->domain, path);
			zone_unref(z);
			continue;
		}
		zone_text(cat->name, name, sizeof(name));
		log_info("catalog %s: %zu members of serial %u, as applied before the restart",
		         name, c.nmembers, z->serial);
		catalog_deinit(&cat->members);
		cat->members = c;
		cat->have = true;
		cat->serial = z->serial;
		zone_unref(z);
		any = true;
	}
	if (any && apply(s, NULL, true) != 0) {
		log_error("catalog: the members kept in the storage could not be applied");
		return false;
	}
	return any;
}

static int cmp_member_name(const void *a, const void *b)
{
	return dname_cmp(((const catalog_member_t *)a)->name, ((const catalog_member_t *)b)->name);
}

/* What catz_check replaced in a catalog's state, to put back when applying fails. */
typedef struct saved {
	catz_cat_t *cat;
	catalog_t members;
	bool have;
	uint32_t serial;
} saved_t;

/* Collects into resets the members of c whose ID differs from the applied list's. */
static void find_resets(server_t *s, const conf_zone_t *zc, const catz_cat_t *cat,
                        const catalog_t *c, catalog_t *resets)
{
	catalog_change_t *ch = NULL;
	size_t nch = 0;
	if (!cat->have || catalog_diff(&cat->members, c, &ch, &nch) != 0)
		return;
	for (size_t j = 0; j < nch; j++) {
		if (ch[j].kind != CATALOG_RESET)
			continue;
		char name[DNAME_TEXT_MAX], a[DNAME_TEXT_MAX], b[DNAME_TEXT_MAX];
		zone_text(ch[j].new->name, name, sizeof(name));
		id_text(ch[j].old, a, sizeof(a));
		id_text(ch[j].new, b, sizeof(b));
		const conf_zone_t *r =
		    conf_find_zone(s->conf, ch[j].new->name, ch[j].new->name_len);
		if (!r || r->catalog_from < 0 ||
		    !dname_equal(s->conf->zones[r->catalog_from].name, zc->name))
			continue; /* not ours to reset: someone else holds it */
		log_info("zone %s: reset by catalog %s (member ID %s, was %s): dropped and "
		         "transferred afresh",
		         name, zc->domain, b, a);
		catalog_member_t *nm =
		    realloc(resets->members, (resets->nmembers + 1) * sizeof(*nm));
		if (nm) {
			resets->members = nm;
			resets->members[resets->nmembers++] = *ch[j].new;
		}
	}
	free(ch);
}

bool catz_check(server_t *s)
{
	bool changed = false;
	char err[256];
	time_t now = time(NULL);
	catalog_t resets;
	catalog_init(&resets);
	size_t nsaved = 0;
	saved_t *saved = NULL;
	if (!s->catz || !s->catz->restored) {
		bool any = false;
		for (size_t i = 0; i < s->conf->nzones; i++)
			any |= s->conf->zones[i].catalog_role == CONF_CATALOG_CONSUMER;
		if (!any)
			return false;
		if (!s->catz && !(s->catz = calloc(1, sizeof(*s->catz))))
			return false;
		s->catz->restored = true;
		changed = applied_restore(s);
	}
	for (size_t i = 0; i < s->conf->nzones; i++) {
		const conf_zone_t *zc = s->zones[i]->conf;
		const zone_t *cur = s->zones[i]->slot->zone;
		if (zc->catalog_role != CONF_CATALOG_CONSUMER || !cur)
			continue;
		catz_cat_t *cat = cat_get(s, zc);
		if (!cat || (cat->have && cat->serial == cur->serial) ||
		    (cat->broken && cat->broken_serial == cur->serial) || cat->retry_at > now)
			continue;
		catalog_t c;
		int ret = catalog_read(cur, (size_t)zc->catalog_max_members, &c, err, sizeof(err));
		if (ret) {
			if (ret == US_ELIMIT)
				us_errf(err, sizeof(err),
				        "more than catalog-max-members %d members",
				        zc->catalog_max_members);
			log_error("catalog %s: serial %u is not used: %s; its members stay as they "
			          "were",
			          zc->domain, cur->serial,
			          ret == US_ENOMEM ? "out of memory" : err);
			cat->broken = ret != US_ENOMEM;
			cat->broken_serial = cur->serial;
			cat->retry_at = ret == US_ENOMEM ? now + 10 : 0;
			continue;
		}
		saved_t *ns = realloc(saved, (nsaved + 1) * sizeof(*ns));
		if (!ns) {
			catalog_deinit(&c);
			cat->retry_at = now + 10;
			continue;
		}
		saved = ns;
		if (c.nduplicates) {
			char name[DNAME_TEXT_MAX], id[DNAME_TEXT_MAX];
			dname_to_text(c.duplicate.name, name, sizeof(name));
			id_text(&c.duplicate, id, sizeof(id));
			log_warning(
			    "catalog %s: serial %u lists %zu members again under another ID "
			    "(the first: %s as %s); the lowest ID counts",
			    zc->domain, cur->serial, c.nduplicates, name, id);
		}
		find_resets(s, zc, cat, &c, &resets);
		log_info("catalog %s: serial %u, %zu members", zc->domain, cur->serial, c.nmembers);
		saved[nsaved++] = (saved_t){cat, cat->members, cat->have, cat->serial};
		cat->members = c;
		cat->have = true;
		cat->serial = cur->serial;
		cat->broken = false;
	}
	if (!nsaved)
		goto cleanup;
	if (resets.nmembers)
		qsort(resets.members, resets.nmembers, sizeof(*resets.members), cmp_member_name);
	if ((resets.nmembers && apply(s, &resets, false) != 0) || apply(s, NULL, false) != 0) {
		/* The old lists stay, and the new versions are tried again in a while. */
		for (size_t i = 0; i < nsaved; i++) {
			catalog_deinit(&saved[i].cat->members);
			saved[i].cat->members = saved[i].members;
			saved[i].cat->have = saved[i].have;
			saved[i].cat->serial = saved[i].serial;
			saved[i].cat->retry_at = now + 10;
		}
	} else {
		for (size_t i = 0; i < nsaved; i++) {
			catalog_deinit(&saved[i].members);
			applied_save(s, saved[i].cat);
		}
		changed = true;
	}
cleanup:
	free(resets.members);
	free(saved);
	return changed;
}
