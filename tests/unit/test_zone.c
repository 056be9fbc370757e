/* SPDX-License-Identifier: MIT */
/* test_zone: zone building, the checks an operator expects, and lookups. */
#include <pthread.h>

#include "util.h"
#include "error.h"
#include "zonedb.h"

#define HEAD "$TTL 300\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\n"

/* Expects text to fail with an error reported on line. */
static void expect_error(const char *text, unsigned long line, const char *what)
{
	zone_t *z = util_zone("example.com", text);
	assert_null(z);
	assert_true(util_errors > 0);
	char want[32];
	snprintf(want, sizeof(want), "%lu: ", line);
	if (strncmp(util_last_error, want, strlen(want)) != 0 || !strstr(util_last_error, what))
		fail_msg("wanted line %lu '%s', got '%s'", line, what, util_last_error);
}

static void valid_zone(void **state)
{
	(void)state;
	zone_t *z = util_zone("example.com", HEAD "a.b.c A 192.0.2.2\nA.B.C A 192.0.2.2\n"
	                                          "$ORIGIN sub.example.com.\nx TXT hi\n");
	assert_non_null(z);
	assert_int_equal(z->serial, 1);
	assert_int_equal(z->nrecords, 5); /* the duplicate A is dropped */
	uint8_t n[DNAME_MAXLEN];
	int len = dname_from_text("b.c.example.com", n);
	const zone_node_t *ent = zone_find(z, n, (size_t)len);
	assert_non_null(ent);
	assert_int_equal(ent->nrrsets, 0);
	len = dname_from_text("x.sub.example.com", n);
	assert_non_null(zone_find(z, n, (size_t)len));
	zone_free(z);
}

static void checks(void **state)
{
	(void)state;
	expect_error("$TTL 300\n@ NS ns\nns A 192.0.2.1\n", 0, "no SOA");
	expect_error("$TTL 300\n@ SOA ns h 1 1 1 1 1\n", 0, "no NS");
	expect_error(HEAD "@ SOA ns h 2 1 1 1 1\n", 2, "more than one SOA");
	expect_error(HEAD "www A 192.0.2.1\nwww CNAME x\n", 6, "CNAME and other data");
	expect_error(HEAD "www CNAME x\nwww CNAME y\n", 5, "more than one CNAME");
	expect_error(HEAD "x.example.org. A 192.0.2.1\n", 5, "outside the zone");
	expect_error(HEAD "d DNAME example.net.\nx.d A 192.0.2.1\n", 6, "below a DNAME");
	expect_error(HEAD "@ NS ns2\n", 3, "no address records");
	expect_error(HEAD "x SOA ns h 1 1 1 1 1\n", 5, "outside the apex");
	expect_error(HEAD "x A 1.2.3\n", 5, "");
	expect_error(HEAD "x CH A 192.0.2.1\n", 5, "");
}

static void occluded_is_a_warning(void **state)
{
	(void)state;
	zone_t *z = util_zone("example.com", HEAD "sub NS ns.sub\nns.sub A 192.0.2.3\n"
	                                          "x.sub TXT hidden\n");
	assert_non_null(z);
	zone_free(z);
	/* A delegation without its glue still loads, as in knotd, nsd and named. */
	z = util_zone("example.com", HEAD "sub NS ns.sub\n");
	assert_non_null(z);
	uint8_t n[DNAME_MAXLEN], offs[DNAME_MAXLABELS];
	int len = dname_from_text("deep.x.sub.example.com", n);
	zone_lookup_t lk;
	zone_lookup(z, n, (size_t)len, offs, dname_label_offsets(n, offs), &lk);
	assert_null(lk.node);
	assert_non_null(lk.cut);
	assert_memory_equal(lk.cut->name, "\3sub\7example\3com", 17);
	zone_free(z);
}

static void include_reports_its_file(void **state)
{
	(void)state;
	char inc[] = "/tmp/us-unit-inc-XXXXXX";
	int fd = mkstemp(inc);
	assert_true(fd >= 0);
	const char *bad = "ok A 192.0.2.1\nbad A not-an-address\n";
	assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
	close(fd);
	char text[256];
	snprintf(text, sizeof(text), HEAD "$INCLUDE %s\n", inc);
	assert_null(util_zone("example.com", text));
	unlink(inc);
	assert_true(util_errors > 0);
}

static void include_is_bounded(void **state)
{
	(void)state;
	char self[] = "/tmp/us-unit-self-XXXXXX";
	int fd = mkstemp(self);
	assert_true(fd >= 0);
	char text[256];
	int n = snprintf(text, sizeof(text), HEAD "$INCLUDE %s\n", self);
	assert_int_equal(write(fd, text, (size_t)n), n);
	close(fd);
	/* A file that includes itself stops at the depth limit instead of eating all memory. */
	uint8_t o[DNAME_MAXLEN];
	dname_from_text("example.com", o);
	zone_t *z = NULL;
	util_errors = 0;
	assert_int_equal(zonefile_load(o, self, util_report, NULL, &z), US_ESYNTAX);
	assert_non_null(strstr(util_last_error, "nested too deeply"));
	unlink(self);
	assert_null(util_zone("example.com", HEAD "$INCLUDE /dev/zero\n"));
	assert_non_null(strstr(util_last_error, "not a regular file"));
	assert_int_equal(zonefile_load(o, "/dev/zero", util_report, NULL, &z), US_ENOENT);
}

static void *ref_unref_many(void *arg)
{
	zone_t *z = arg;
	for (int i = 0; i < 100000; i++) {
		zone_ref(z);
		zone_unref(z);
	}
	return NULL;
}

/* A pinned version outlives its publication; the last reference frees it (ASan checks). */
static void references(void **state)
{
	(void)state;
	zone_t *z = util_zone("example.com", HEAD);
	assert_non_null(z);
	assert_int_equal(z->refs, 1);
	zone_ref(z);
	assert_int_equal(z->refs, 2);
	zone_unref(z); /* the publisher lets go... */
	assert_int_equal(z->refs, 1);
	assert_int_equal(z->serial, 1); /* ...and the pinned reader still reads it */
	zone_unref(z);
	zone_unref(NULL);

	/* Readers on other threads pinning and unpinning never free it under its owner. */
	z = util_zone("example.com", HEAD);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, ref_unref_many, z), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(z->refs, 1);

	/* The zone table drops its own reference only: a pinned version stays. */
	zonedb_t *db = zonedb_new(1);
	zonedb_slot_t *slot;
	assert_int_equal(zonedb_add(db, z->apex, &slot), 0);
	slot->zone = z;
	zone_ref(z);
	zonedb_free(db);
	assert_int_equal(z->refs, 1);
	assert_int_equal(z->nrecords, 3);
	zone_unref(z);
}

static void same_contents(void **state)
{
	(void)state;
	zone_t *a = util_zone("example.com", HEAD "x A 192.0.2.2\ny TXT hi\n");
	zone_t *b = util_zone("example.com", HEAD "y TXT hi\nx A 192.0.2.2\n");
	zone_t *c = util_zone("example.com", HEAD "x 60 A 192.0.2.2\ny TXT hi\n");
	zone_t *d = util_zone("example.com", HEAD "x A 192.0.2.2\ny TXT hi\ny TXT ho\n");
	assert_true(a && b && c && d);
	assert_true(zone_same(a, b));
	assert_false(zone_same(a, c)); /* a TTL differs */
	assert_false(zone_same(a, d));
	assert_false(zone_same(d, a));
	zone_free(a);
	zone_free(b);
	zone_free(c);
	zone_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(valid_zone),
	    cmocka_unit_test(checks),
	    cmocka_unit_test(occluded_is_a_warning),
	    cmocka_unit_test(include_reports_its_file),
	    cmocka_unit_test(include_is_bounded),
	    cmocka_unit_test(same_contents),
	    cmocka_unit_test(references),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
