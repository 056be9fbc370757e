/* SPDX-License-Identifier: MIT */
/* catz: the daemon's catalog zones (RFC 9432): producer catalogs generated from the config. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "zone.h"

/*
 * Generates the version of producer catalog cat (a zone of conf with catalog-role producer)
 * from the zones of conf that name it in catalog-zone. prev is the version served or stored
 * before (NULL: none). When the generated records equal prev's, the version keeps prev's
 * serial, so nothing propagates; otherwise its serial is the later of prev's + 1 and now
 * (Unix seconds; RFC 1982), so the consumers see a newer serial even after the storage was
 * lost. Returns 0 with *out owning the new version, or a negative US_E* code with a reason in
 * err.
 */
int catz_generate(const conf_t *conf, const conf_zone_t *cat, const zone_t *prev, uint32_t now,
                  zone_t **out, char *err, size_t errlen);

struct server;
struct server_zone;
struct ctl_reply;

/*
 * `ctl catalog [ZONE]`: the members of the named zone's served version read as a catalog, or
 * with no zone those of every producer catalog: per catalog its serial and member count, then
 * each member with its unique ID, group and coo. A zone that is not a whole catalog fails with
 * the reason. Zone manager thread.
 */
void catz_ctl(struct server *s, struct server_zone *z, struct ctl_reply *r);

/* ---- consumer catalogs ---- */

/*
 * Looks at every consumer catalog's served version and, when one has a new serial, reads it
 * and applies the members it lists through server_apply_conf: added members become secondary
 * zones built from the catalog's templates (the member's group names the template, the first
 * serves the others), removed ones go with their stored data, a new member ID drops the zone
 * and transfers it afresh, a member a coo property hands over moves catalog, and a name the
 * configuration or another catalog already holds is refused; each logged. A broken catalog
 * changes nothing and is logged once per serial. Zone manager thread, from its loop, outside
 * any walk of the zones (it swaps them). True when the zone set changed.
 */
bool catz_check(struct server *s);

/*
 * server_t.extend_conf for ctl reload: adds to next (a configuration just read from the file)
 * the members the consumer catalogs brought, as last applied, rebuilt from next's templates.
 * 0 or US_ENOMEM (the reload is then refused).
 */
int catz_extend(struct server *s, conf_t *next, struct ctl_reply *r);

/* Frees the consumer state (at exit). */
void catz_free(struct server *s);
