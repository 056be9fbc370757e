/* SPDX-License-Identifier: MIT */
/* test_guard: what the change guard sees in a new version: removals, apex NS and DNSKEY. */
#include "util.h"
#include "error.h"
#include "guard.h"
#include "zonediff.h"

#define SOA(n) "$TTL 300\n@ SOA ns1 h " #n " 1 1 1 1\n"

static const char base[] = SOA(1) "@ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\nns2 A 192.0.2.2\n"
                                  "@ DNSKEY 257 3 13 AAAA\n@ DNSKEY 256 3 13 BBBB\n"
                                  "a TXT \"a\"\nb TXT \"b\"\nc TXT \"c\"\nd TXT \"d\"\n";

/* Judges new text against base, both ways (whole and through a changeset): they agree. */
static guard_change_t judge(const char *text)
{
	zone_t *old = util_zone("example.com", base), *nz = util_zone("example.com", text);
	assert_non_null(old);
	if (!nz)
		fail_msg("%s", util_last_error);
	arena_t a;
	arena_init(&a);
	guard_change_t whole, via;
	assert_int_equal(guard_judge(old, nz, NULL, &a, &whole), 0);
	zone_changeset_t cs;
	assert_int_equal(zonediff_compute(old, nz, &a, &cs), 0);
	assert_int_equal(guard_judge(old, nz, &cs, &a, &via), 0);
	assert_int_equal(whole.removed, via.removed);
	assert_int_equal(whole.ns_replaced, via.ns_replaced);
	assert_int_equal(whole.dnskey_replaced, via.dnskey_replaced);
	assert_int_equal(whole.records, 11); /* the SOA too */
	arena_deinit(&a);
	zone_unref(old);
	zone_unref(nz);
	return whole;
}

static void removals(void **state)
{
	(void)state;
	char why[160];
	/* Half the TXT records go, and one comes: 2 of 11 removed. */
	guard_change_t c = judge(SOA(2) "@ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\nns2 A 192.0.2.2\n"
	                                "@ DNSKEY 257 3 13 AAAA\n@ DNSKEY 256 3 13 BBBB\n"
	                                "a TXT \"a\"\nb TXT \"b\"\ne TXT \"e\"\n");
	assert_int_equal(c.removed, 2);
	assert_false(c.ns_replaced || c.dnskey_replaced);
	assert_false(guard_holds(&c, 19, true, why, sizeof(why)));
	assert_true(guard_holds(&c, 18, true, why, sizeof(why)));
	assert_non_null(strstr(why, "removes 2 of 11 records (18%"));
	assert_false(guard_holds(&c, 0, true, why, sizeof(why))); /* no limit */
	/* A TTL change removes nothing. */
	c = judge(SOA(2) "@ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\nns2 A 192.0.2.2\n"
	                 "@ DNSKEY 257 3 13 AAAA\n@ DNSKEY 256 3 13 BBBB\n"
	                 "a 60 TXT \"a\"\nb 60 TXT \"b\"\nc 60 TXT \"c\"\nd 60 TXT \"d\"\n");
	assert_int_equal(c.removed, 0);
}

static void apex_sets(void **state)
{
	(void)state;
	char why[160];
	/* One NS of two kept (in other case): no replacement. */
	guard_change_t c = judge(SOA(2) "@ NS NS1\n@ NS ns3\nns1 A 192.0.2.1\nns3 A 192.0.2.3\n"
	                                "@ DNSKEY 257 3 13 AAAA\n@ DNSKEY 256 3 13 BBBB\n"
	                                "a TXT \"a\"\nb TXT \"b\"\nc TXT \"c\"\nd TXT \"d\"\n");
	assert_false(c.ns_replaced);
	/* Every NS new: held, with guard-apex, whatever the share. */
	c = judge(SOA(2) "@ NS ns3\nns3 A 192.0.2.3\n"
	                 "@ DNSKEY 257 3 13 AAAA\n@ DNSKEY 256 3 13 BBBB\n"
	                 "a TXT \"a\"\nb TXT \"b\"\nc TXT \"c\"\nd TXT \"d\"\n");
	assert_true(c.ns_replaced);
	assert_true(guard_holds(&c, 0, true, why, sizeof(why)));
	assert_non_null(strstr(why, "apex NS"));
	assert_false(guard_holds(&c, 0, false, why, sizeof(why)));
	/* A key rollover keeps one key: fine; all keys gone, or all new: held. */
	c = judge(SOA(2) "@ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\nns2 A 192.0.2.2\n"
	                 "@ DNSKEY 257 3 13 AAAA\n@ DNSKEY 256 3 13 CCCC\n"
	                 "a TXT \"a\"\nb TXT \"b\"\nc TXT \"c\"\nd TXT \"d\"\n");
	assert_false(c.dnskey_replaced);
	c = judge(SOA(2) "@ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\nns2 A 192.0.2.2\n"
	                 "a TXT \"a\"\nb TXT \"b\"\nc TXT \"c\"\nd TXT \"d\"\n");
	assert_true(c.dnskey_replaced);
	assert_true(guard_holds(&c, 0, true, why, sizeof(why)));
	assert_non_null(strstr(why, "DNSKEY"));
	c = judge(SOA(2) "@ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\nns2 A 192.0.2.2\n"
	                 "@ DNSKEY 257 3 13 DDDD\n"
	                 "a TXT \"a\"\nb TXT \"b\"\nc TXT \"c\"\nd TXT \"d\"\n");
	assert_true(c.dnskey_replaced);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(removals),
	    cmocka_unit_test(apex_sets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
