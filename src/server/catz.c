/* SPDX-License-Identifier: MIT */
/* catz: the daemon's catalog zones (RFC 9432): producer catalogs generated from the config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "catz.h"
#include "ctl.h"
#include "error.h"
#include "serial.h"
#include "server.h"

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
			e[n++] = (catalog_entry_t){m->name, m->name_len, m->catalog_group};
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
		server_zone_t *x = &s->zones[i];
		if (z ? x == z : x->conf->catalog_role != CONF_CATALOG_NONE)
			ctl_one(x, r, n++);
	}
	if (r->json)
		ctl_printf(r, "]}\n");
	else if (!n)
		ctl_printf(r, "no catalog zones\n");
}
