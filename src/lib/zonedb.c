/* SPDX-License-Identifier: MIT */
/* zonedb: the set of zones a server is authoritative for. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "zonedb.h"

zonedb_t *zonedb_new(uint32_t n)
{
	zonedb_t *db = calloc(1, sizeof(*db));
	if (!db)
		return NULL;
	uint32_t size = 16;
	while (size < n * 2)
		size *= 2;
	db->slots = calloc(n ? n : 1, sizeof(zonedb_slot_t));
	db->table = calloc(size, sizeof(uint32_t));
	db->mask = size - 1;
	if (!db->slots || !db->table) {
		zonedb_free(db);
		return NULL;
	}
	db->cap = n;
	return db;
}

void zonedb_free(zonedb_t *db)
{
	if (!db)
		return;
	for (uint32_t i = 0; i < db->nslots; i++)
		zone_unref(db->slots[i].zone);
	free(db->slots);
	free(db->table);
	free(db);
}

static zonedb_slot_t *lookup(const zonedb_t *db, const uint8_t *lname, size_t len)
{
	uint32_t i = dname_hash(lname, len) & db->mask;
	for (;;) {
		uint32_t s = db->table[i];
		if (!s)
			return NULL;
		zonedb_slot_t *slot = &db->slots[s - 1];
		if (slot->apex_len == len && memcmp(slot->apex, lname, len) == 0)
			return slot;
		i = (i + 1) & db->mask;
	}
}

int zonedb_add(zonedb_t *db, const uint8_t *apex, zonedb_slot_t **out)
{
	uint8_t lname[DNAME_MAXLEN];
	size_t len = dname_len(apex);
	dname_lower(lname, apex, len);
	if (lookup(db, lname, len))
		return US_EEXIST;
	if (db->nslots >= db->cap)
		return US_ELIMIT;
	zonedb_slot_t *slot = &db->slots[db->nslots];
	memset(slot, 0, sizeof(*slot));
	memcpy(slot->apex, lname, len);
	slot->apex_len = (uint8_t)len;
	slot->apex_labels = (uint8_t)dname_labels(lname);
	if (slot->apex_labels > db->max_labels)
		db->max_labels = slot->apex_labels;
	uint32_t i = dname_hash(lname, len) & db->mask;
	while (db->table[i])
		i = (i + 1) & db->mask;
	db->table[i] = ++db->nslots;
	*out = slot;
	return 0;
}

zonedb_slot_t *zonedb_find(const zonedb_t *db, const uint8_t *lname, size_t len,
                           const uint8_t *offs, int nlabels, int below_apex)
{
	int first = nlabels - db->max_labels;
	if (first < (below_apex ? 1 : 0))
		first = below_apex ? 1 : 0;
	for (int i = first; i <= nlabels; i++) {
		size_t off = i < nlabels ? offs[i] : len - 1;
		zonedb_slot_t *slot = lookup(db, lname + off, len - off);
		if (slot)
			return slot;
	}
	return NULL;
}
