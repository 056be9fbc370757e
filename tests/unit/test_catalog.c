/* SPDX-License-Identifier: MIT */
/* test_catalog: catalog zones read into members, their diffs, and the catalogs we produce. */
#include "util.h"
#include "catalog.h"
#include "error.h"

#define CATZ "$TTL 0\n@ SOA invalid. invalid. 1 3600 600 2147483646 0\n@ NS invalid.\n"
#define V2   "version TXT \"2\"\n"

static char err[512];

/* Reads catalog text for catalog.example; returns what catalog_read returned. */
static int read_text(const char *text, catalog_t *c)
{
	zone_t *z = util_zone("catalog.example", text);
	if (!z)
		fail_msg("zone does not load: %s", util_last_error);
	err[0] = 0;
	int ret = catalog_read(z, 0, c, err, sizeof(err));
	zone_unref(z);
	return ret;
}

static const catalog_member_t *find(const catalog_t *c, const char *name)
{
	uint8_t w[DNAME_MAXLEN];
	int len = dname_from_text(name, w);
	assert_true(len > 0);
	dname_lower(w, w, (size_t)len);
	return catalog_find(c, w, (size_t)len);
}

static void members_and_properties(void **state)
{
	(void)state;
	catalog_t c;
	assert_int_equal(read_text(CATZ V2 "m1.zones PTR Example.COM.\n"
	                                   "group.m1.zones TXT \"blue\"\n"
	                                   "m2.zones PTR example.net.\n"
	                                   "coo.m2.zones PTR other.catalog.\n"
	                                   "m3.zones PTR example.org.\n"
	                                   "group.m3.zones TXT \"zz\"\n"
	                                   "group.m3.zones TXT \"aa\"\n"
	                                   "ext.m3.zones TXT \"ignored\"\n"
	                                   "unknown.property TXT \"ignored\"\n"
	                                   "zones TXT \"ignored too\"\n",
	                           &c),
	                 0);
	assert_int_equal(c.nmembers, 3);
	assert_int_equal(c.nduplicates, 0);
	const catalog_member_t *m = find(&c, "example.com");
	assert_non_null(m);
	assert_string_equal(m->id, "m1");
	assert_string_equal(m->group, "blue");
	assert_null(m->coo);
	/* The name is lower-cased: the consumer matches it against its zones so. */
	assert_memory_equal(m->name,
	                    "\x07"
	                    "example\x03"
	                    "com",
	                    13);
	m = find(&c, "example.net");
	assert_non_null(m);
	assert_null(m->group);
	assert_non_null(m->coo);
	assert_true(dname_equal(m->coo, (const uint8_t *)"\x05other\x07"
	                                                 "catalog"));
	/* Two groups: the lowest picks, whatever the order, and the count says there were two. */
	m = find(&c, "example.org");
	assert_string_equal(m->group, "aa");
	assert_int_equal(m->ngroups, 2);
	assert_null(find(&c, "example.info"));
	catalog_deinit(&c);
}

static void broken_catalogs(void **state)
{
	(void)state;
	catalog_t c;
	/* No version, another version, two versions: not processed at all (RFC 9432 4.2). */
	assert_int_equal(read_text(CATZ "m1.zones PTR example.com.\n", &c), US_EZONE);
	assert_non_null(strstr(err, "no version"));
	assert_int_equal(read_text(CATZ "version TXT \"1\"\nm1.zones PTR example.com.\n", &c),
	                 US_EZONE);
	assert_non_null(strstr(err, "version property is 1"));
	assert_int_equal(read_text(CATZ "version TXT \"2\"\nversion TXT \"3\"\n", &c), US_EZONE);
	assert_non_null(strstr(err, "several"));
	assert_int_equal(read_text(CATZ "version TXT \"2\" \"x\"\n", &c), 0);
	catalog_deinit(&c);
	assert_int_equal(read_text(CATZ "version TXT \"\"\n", &c), US_EZONE);
	/* Two PTRs for one member, two coo PTRs: broken (4.1, 4.4.1). */
	assert_int_equal(
	    read_text(CATZ V2 "m1.zones PTR a.example.\nm1.zones PTR b.example.\n", &c), US_EZONE);
	assert_non_null(strstr(err, "2 PTR records"));
	assert_int_equal(read_text(CATZ V2 "m1.zones PTR a.example.\ncoo.m1.zones PTR x.\n"
	                                   "coo.m1.zones PTR y.\n",
	                           &c),
	                 US_EZONE);
	assert_non_null(strstr(err, "coo."));
}

static void odd_but_readable(void **state)
{
	(void)state;
	catalog_t c;
	/* Wrong types where members go are not members; a member deeper down is not one; the
	 * catalog listing itself is left out; a name under two IDs is kept once, the lower. */
	assert_int_equal(read_text(CATZ V2 "t1.zones TXT \"example.com.\"\n"
	                                   "a1.zones A 192.0.2.1\n"
	                                   "x.deep.zones PTR deep.example.\n"
	                                   "self.zones PTR catalog.example.\n"
	                                   "b.zones PTR dup.example.\n"
	                                   "a.zones PTR DUP.example.\n"
	                                   "c.zones PTR dup.example.\n"
	                                   "coo.nomember.zones PTR x.\n"
	                                   "group.m.zones TXT \"" /* group with no member */
	                                   "g\"\n",
	                           &c),
	                 0);
	assert_int_equal(c.nmembers, 1);
	assert_string_equal(c.members[0].id, "a");
	assert_int_equal(c.nduplicates, 2);
	assert_string_equal(c.duplicate.id, "b");
	catalog_deinit(&c);
	/* An empty catalog is a catalog. */
	assert_int_equal(read_text(CATZ V2, &c), 0);
	assert_int_equal(c.nmembers, 0);
	catalog_deinit(&c);
}

static void member_limit(void **state)
{
	(void)state;
	char *text = malloc(200000);
	int len = snprintf(text, 200000, CATZ V2);
	for (int i = 0; i < 2000; i++)
		len += snprintf(text + len, 200000 - (size_t)len, "m%d.zones PTR z%d.example.\n", i,
		                i);
	zone_t *z = util_zone("catalog.example", text);
	assert_non_null(z);
	catalog_t c;
	assert_int_equal(catalog_read(z, 1999, &c, err, sizeof(err)), US_ELIMIT);
	assert_non_null(strstr(err, "more than 1999"));
	assert_int_equal(catalog_read(z, 2000, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nmembers, 2000);
	for (size_t i = 1; i < c.nmembers; i++)
		assert_true(dname_cmp(c.members[i - 1].name, c.members[i].name) < 0);
	catalog_deinit(&c);
	zone_unref(z);
	free(text);
}

static void diffs(void **state)
{
	(void)state;
	catalog_t a, b, empty;
	catalog_init(&empty);
	assert_int_equal(read_text(CATZ V2 "k.zones PTR kept.example.\n"
	                                   "g.zones PTR regroup.example.\n"
	                                   "group.g.zones TXT \"one\"\n"
	                                   "r.zones PTR reset.example.\n"
	                                   "x.zones PTR gone.example.\n"
	                                   "coo.x.zones PTR new.catalog.\n"
	                                   "m.zones PTR moving.example.\n",
	                           &a),
	                 0);
	assert_int_equal(read_text(CATZ V2 "k.zones PTR kept.example.\n"
	                                   "g.zones PTR regroup.example.\n"
	                                   "group.g.zones TXT \"two\"\n"
	                                   "r2.zones PTR reset.example.\n"
	                                   "n.zones PTR added.example.\n"
	                                   "m.zones PTR moving.example.\n"
	                                   "coo.m.zones PTR new.catalog.\n",
	                           &b),
	                 0);
	catalog_change_t *ch;
	size_t n;
	assert_int_equal(catalog_diff(&a, &b, &ch, &n), 0);
	/* In name order: added, gone, moving (coo), regroup, reset. */
	assert_int_equal(n, 5);
	assert_int_equal(ch[0].kind, CATALOG_ADDED);
	assert_null(ch[0].old);
	assert_string_equal(ch[0].new->id, "n");
	assert_int_equal(ch[1].kind, CATALOG_REMOVED);
	assert_null(ch[1].new);
	assert_non_null(ch[1].old->coo);
	assert_int_equal(ch[2].kind, CATALOG_CHANGED);
	assert_non_null(ch[2].new->coo);
	assert_int_equal(ch[3].kind, CATALOG_CHANGED);
	assert_string_equal(ch[3].new->group, "two");
	assert_int_equal(ch[4].kind, CATALOG_RESET);
	assert_string_equal(ch[4].old->id, "r");
	assert_string_equal(ch[4].new->id, "r2");
	free(ch);
	assert_int_equal(catalog_diff(&a, &a, &ch, &n), 0);
	assert_int_equal(n, 0);
	free(ch);
	assert_int_equal(catalog_diff(&empty, &b, &ch, &n), 0);
	assert_int_equal(n, b.nmembers);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ch[i].kind, CATALOG_ADDED);
	free(ch);
	assert_int_equal(catalog_diff(&a, &empty, &ch, &n), 0);
	assert_int_equal(n, a.nmembers);
	free(ch);
	catalog_deinit(&a);
	catalog_deinit(&b);
}

static void produced_catalog_reads_back(void **state)
{
	(void)state;
	uint8_t apex[DNAME_MAXLEN], m1[DNAME_MAXLEN], m2[DNAME_MAXLEN];
	int al = dname_from_text("catalog.example", apex);
	int l1 = dname_from_text("Example.COM", m1), l2 = dname_from_text("example.net", m2);
	catalog_entry_t e[2] = {{.name = m1, .name_len = (size_t)l1, .group = "blue"},
	                        {.name = m2, .name_len = (size_t)l2}};
	zone_t *z = NULL;
	assert_int_equal(catalog_build(apex, (size_t)al, 42, e, 2, &z, err, sizeof(err)), 0);
	assert_int_equal(z->serial, 42);
	catalog_t c;
	assert_int_equal(catalog_read(z, 0, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nmembers, 2);
	const catalog_member_t *m = find(&c, "example.com");
	assert_string_equal(m->group, "blue");
	/* The ID is the member's hash, case aside: the same on every run and every producer. */
	char id[17];
	catalog_member_id((const uint8_t *)"\x07"
	                                   "EXAMPLE\x03"
	                                   "com",
	                  13, id);
	assert_string_equal(m->id, id);
	assert_int_equal(strlen(id), 16);
	catalog_member_id(m2, (size_t)l2, id);
	assert_string_not_equal(m->id, id);
	assert_null(find(&c, "example.net")->group);
	catalog_deinit(&c);
	/* Same entries, same records. */
	zone_t *z2 = NULL;
	assert_int_equal(catalog_build(apex, (size_t)al, 42, e, 2, &z2, err, sizeof(err)), 0);
	assert_true(zone_same(z, z2));
	zone_unref(z2);
	zone_unref(z);
	/* A member twice is refused, by name. */
	catalog_entry_t d[2] = {{.name = m1, .name_len = (size_t)l1},
	                        {.name = m1, .name_len = (size_t)l1}};
	assert_int_equal(catalog_build(apex, (size_t)al, 1, d, 2, &z, err, sizeof(err)), US_EEXIST);
	assert_non_null(strstr(err, "same member"));
	/* Given IDs are kept as they are, a NUL byte and all; two alike are refused. */
	catalog_entry_t g[2] = {{.name = m1, .name_len = (size_t)l1, .id = "a\0b", .id_len = 3},
	                        {.name = m2, .name_len = (size_t)l2, .id = "a\0c", .id_len = 3}};
	assert_int_equal(catalog_build(apex, (size_t)al, 9, g, 2, &z, err, sizeof(err)), 0);
	assert_int_equal(catalog_read(z, 0, &c, err, sizeof(err)), 0);
	m = find(&c, "example.com");
	assert_int_equal(m->id_len, 3);
	assert_memory_equal(m->id, "a\0b", 3);
	assert_memory_equal(find(&c, "example.net")->id, "a\0c", 3);
	catalog_deinit(&c);
	zone_unref(z);
	g[1].id = "a\0b";
	assert_int_equal(catalog_build(apex, (size_t)al, 9, g, 2, &z, err, sizeof(err)), US_EEXIST);
	assert_non_null(strstr(err, "have the same unique ID"));
	/* An empty catalog builds. */
	assert_int_equal(catalog_build(apex, (size_t)al, 1, NULL, 0, &z, err, sizeof(err)), 0);
	assert_int_equal(z->nrecords, 3);
	zone_unref(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(members_and_properties),
	    cmocka_unit_test(broken_catalogs),
	    cmocka_unit_test(odd_but_readable),
	    cmocka_unit_test(member_limit),
	    cmocka_unit_test(diffs),
	    cmocka_unit_test(produced_catalog_reads_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
