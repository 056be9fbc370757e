/* SPDX-License-Identifier: MIT */
/* fuzz_catalog: any records in a catalog zone read into members (RFC 9432): bounded, sorted,
 * each name once, the diffs consistent, and a catalog produced from them reads back the same. */
#include <string.h>

#include "catalog.h"
#include "error.h"
#include "fuzz.h"

#define MAX_MEMBERS 64

static const uint8_t apex[] = "\x07"
                              "catalog\x07"
                              "example";
#define APEX_LEN 17

/*
 * The input: a flags byte (bit 0: add version TXT "2"), then records, each a prefix length,
 * that many bytes of labels put before the apex, a type selector (0 PTR, 1 TXT, 2 A, else the
 * type itself), an rdata length and the rdata. Records the builder refuses fail the build, as a
 * transfer with them would.
 */
static void report(void *ctx, const char *file, unsigned long line, bool error, const char *msg)
{
	(void)ctx;
	(void)file;
	(void)line;
	(void)error;
	(void)msg;
}

static zone_t *build(const uint8_t *data, size_t size)
{
	zone_builder_t *b = zone_builder_new(apex, report, NULL);
	if (!b)
		return NULL;
	static const uint8_t soa[] = "\x07"
	                             "invalid\x00\x07"
	                             "invalid\x00"
	                             "\x00\x00\x00\x01\x00\x00\x0e\x10\x00\x00\x02\x58"
	                             "\x7f\xff\xff\xfe\x00\x00\x00\x00";
	static const uint8_t ns[] = "\x07"
	                            "invalid";
	zone_builder_add(b, apex, 6, 1, 0, soa, sizeof(soa) - 1, "fuzz", 0);
	zone_builder_add(b, apex, 2, 1, 0, ns, sizeof(ns), "fuzz", 0);
	if (size && (data[0] & 1)) {
		uint8_t v[DNAME_MAXLEN] = "\x07"
		                          "version";
		memcpy(v + 8, apex, APEX_LEN);
		zone_builder_add(b, v, 16, 1, 0,
		                 (const uint8_t *)"\x01"
		                                  "2",
		                 2, "fuzz", 0);
	}
	size_t p = 1;
	while (p < size) {
		size_t pl = data[p++];
		if (p + pl + 2 > size || pl + APEX_LEN > DNAME_MAXLEN)
			break;
		uint8_t owner[DNAME_MAXLEN];
		memcpy(owner, data + p, pl);
		memcpy(owner + pl, apex, APEX_LEN);
		p += pl;
		uint8_t sel = data[p++];
		uint16_t type = sel == 0 ? 12 : sel == 1 ? 16 : sel == 2 ? 1 : sel;
		size_t rl = data[p++];
		if (p + rl > size)
			rl = size - p;
		if (dname_check(owner, pl + APEX_LEN) == (int)(pl + APEX_LEN))
			zone_builder_add(b, owner, type, 1, 0, data + p, (uint16_t)rl, "fuzz", 0);
		p += rl;
	}
	zone_t *z = NULL;
	if (zone_builder_finish(b, &z) != 0)
		z = NULL;
	zone_builder_free(b);
	return z;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	zone_t *z = build(data, size);
	if (!z)
		return 0;
	char err[256];
	catalog_t c;
	int ret = catalog_read(z, MAX_MEMBERS, &c, err, sizeof(err));
	FUZZ_CHECK(ret == 0 || ret == US_EZONE || ret == US_ELIMIT || ret == US_ENOMEM,
	           "catalog_read returned %d", ret);
	if (ret) {
		FUZZ_CHECK(err[0], "failed without a reason");
		zone_unref(z);
		return 0;
	}
	FUZZ_CHECK(c.nmembers <= MAX_MEMBERS, "%zu members", c.nmembers);
	for (size_t i = 0; i < c.nmembers; i++) {
		const catalog_member_t *m = &c.members[i];
		FUZZ_CHECK(dname_check(m->name, m->name_len) == m->name_len, "member %zu name", i);
		for (size_t k = 0; k < m->name_len; k++)
			FUZZ_CHECK(m->name[k] < 'A' || m->name[k] > 'Z',
			           "member name not lower-cased");
		FUZZ_CHECK(!dname_equal(m->name, z->apex), "the catalog is its own member");
		FUZZ_CHECK(m->id_len && !m->id[m->id_len], "id");
		FUZZ_CHECK(i == 0 || dname_cmp(c.members[i - 1].name, m->name) < 0,
		           "members not sorted or not unique at %zu", i);
		FUZZ_CHECK(catalog_find(&c, m->name, m->name_len) == m, "catalog_find");
		FUZZ_CHECK(!m->group || strlen(m->group) <= CATALOG_GROUP_MAX, "group");
	}
	catalog_change_t *ch;
	size_t n;
	catalog_t empty;
	catalog_init(&empty);
	if (catalog_diff(&c, &c, &ch, &n) == 0) {
		FUZZ_CHECK(n == 0, "%zu changes from a catalog to itself", n);
		free(ch);
	}
	if (catalog_diff(&empty, &c, &ch, &n) == 0) {
		FUZZ_CHECK(n == c.nmembers, "%zu additions for %zu members", n, c.nmembers);
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(ch[i].kind == CATALOG_ADDED && ch[i].new == &c.members[i],
			           "add");
		free(ch);
	}

	/* What we read, produced again and read back: the same names and groups. */
	catalog_entry_t e[MAX_MEMBERS];
	/* Every other one under its own ID, the others under ours. */
	for (size_t i = 0; i < c.nmembers; i++)
		e[i] = (catalog_entry_t){.name = c.members[i].name,
		                         .name_len = c.members[i].name_len,
		                         .group = c.members[i].group,
		                         .id = i % 2 ? c.members[i].id : NULL,
		                         .id_len = i % 2 ? c.members[i].id_len : 0};
	zone_t *z2 = NULL;
	ret = catalog_build(apex, APEX_LEN, 7, e, c.nmembers, &z2, err, sizeof(err));
	FUZZ_CHECK(ret == 0 || ret == US_EINVAL || ret == US_ENOMEM, "catalog_build: %d %s", ret,
	           err);
	if (ret == 0) {
		catalog_t c2;
		FUZZ_CHECK(catalog_read(z2, MAX_MEMBERS, &c2, err, sizeof(err)) == 0,
		           "our own catalog does not read: %s", err);
		FUZZ_CHECK(c2.nmembers == c.nmembers, "%zu members read back of %zu", c2.nmembers,
		           c.nmembers);
		for (size_t i = 0; i < c.nmembers; i++) {
			const catalog_member_t *a = &c.members[i], *b = &c2.members[i];
			FUZZ_CHECK(dname_equal(a->name, b->name), "member %zu name", i);
			FUZZ_CHECK(i % 2 == 0 || (a->id_len == b->id_len &&
			                          memcmp(a->id, b->id, a->id_len) == 0),
			           "member %zu kept its ID", i);
			FUZZ_CHECK((!a->group && !b->group) ||
			               (a->group && b->group && strcmp(a->group, b->group) == 0),
			           "member %zu group", i);
		}
		catalog_deinit(&c2);
		zone_unref(z2);
	}
	catalog_deinit(&c);
	zone_unref(z);
	return 0;
}
