/* SPDX-License-Identifier: MIT */
/* test_fleet: lag, sync, propagation and health from what the copies of a zone answered. */
#include "util.h"
#include "fleet.h"

static void newest_by_serial_arithmetic(void **state)
{
	(void)state;
	fleet_serials_t h = {0};
	fleet_seen(&h, 4294967295u, 1000);
	assert_int_equal(h.newest, 4294967295u);
	fleet_seen(&h, 2, 2000); /* after the wrap: newer (RFC 1982) */
	assert_int_equal(h.newest, 2);
	fleet_seen(&h, 4294967290u, 3000); /* older: remembered, not the newest */
	assert_int_equal(h.newest, 2);
	assert_int_equal(fleet_first_seen(&h, 2), 2000);
	fleet_seen(&h, 2, 9000); /* seen again: the first sighting stays */
	assert_int_equal(fleet_first_seen(&h, 2), 2000);
	assert_int_equal(fleet_first_seen(&h, 77), 0);
	/* The history is bounded: the oldest sightings go. */
	for (uint32_t s = 10; s < 10 + FLEET_HISTORY; s++)
		fleet_seen(&h, s, 10000 + s);
	assert_int_equal(fleet_first_seen(&h, 2), 0);
	assert_int_equal(fleet_first_seen(&h, 10), 10010);
	assert_int_equal(h.newest, 10 + FLEET_HISTORY - 1);
}

static void lag_sync_and_propagation(void **state)
{
	(void)state;
	fleet_serials_t h = {0};
	fleet_obs_t a, b;
	fleet_obs_init(&a);
	fleet_obs_init(&b);
	/* Never answered: not in sync, no lag known, behind since the newest appeared. */
	fleet_seen(&h, 5, 1000);
	assert_false(fleet_in_sync(&h, &a));
	assert_int_equal(fleet_lag(&h, &a), 0);
	assert_int_equal(fleet_behind_ms(&h, &a, 1500), 500);
	/* A first answer says nothing of propagation. */
	assert_false(fleet_answered(&h, &a, 5, 3, 2000));
	assert_true(fleet_in_sync(&h, &a));
	assert_int_equal(a.propagation_ms, -1);
	assert_int_equal(fleet_behind_ms(&h, &a, 2000), 0);
	assert_false(fleet_answered(&h, &b, 5, 4, 2000));

	/* Serial 6 is published at 10000; a is checked at 10250 and has it. */
	fleet_seen(&h, 6, 10000);
	assert_false(fleet_in_sync(&h, &a));
	assert_int_equal(fleet_lag(&h, &a), 1);
	assert_true(fleet_answered(&h, &a, 6, 2, 10250));
	assert_int_equal(a.propagation_ms, 250);
	assert_true(fleet_in_sync(&h, &a));
	/* b is not (frozen): behind by 1 since 10000, then 7 comes, it stays at 5: lag 2. */
	assert_false(fleet_answered(&h, &b, 5, 2, 10300));
	assert_int_equal(fleet_lag(&h, &b), 1);
	assert_int_equal(fleet_behind_ms(&h, &b, 15000), 5000);
	fleet_seen(&h, 7, 20000);
	fleet_failed(&b, "timeout", 21000);
	assert_false(fleet_in_sync(&h, &b));
	assert_int_equal(fleet_lag(&h, &b), 2); /* from the last serial it answered */
	assert_string_equal(b.error, "timeout");
	assert_int_equal(fleet_behind_ms(&h, &b, 25000), 15000);
	/* Thawed: it answers 7 and has caught up, 40 s after 7 was first seen. */
	assert_true(fleet_answered(&h, &b, 7, 2, 60000));
	assert_int_equal(b.propagation_ms, 40000);
	assert_null(b.error);
	assert_int_equal(fleet_lag(&h, &b), 0);
	/* In sync, then its check fails: not in sync, no lag, behind since the failure. */
	fleet_answered(&h, &a, 7, 2, 60000);
	fleet_failed(&a, "REFUSED", 61000);
	assert_false(fleet_in_sync(&h, &a));
	assert_int_equal(fleet_lag(&h, &a), 0);
	assert_int_equal(fleet_behind_ms(&h, &a, 62000), 1000);
	/* A server with a serial far ahead has the newest; one more than 2^31 ahead is behind. */
	assert_true(fleet_answered(&h, &a, 1000007, 1, 70000)); /* first to have it */
	assert_int_equal(a.propagation_ms, 0);
	assert_int_equal(fleet_lag(&h, &b), 1000000);
	assert_false(fleet_answered(&h, &b, 1000007u + 2147483649u, 1, 70000));
	assert_int_equal(h.newest, 1000007);
}

static void verdicts(void **state)
{
	(void)state;
	char why[200];
	fleet_zone_facts_t f = {.secondary = true, .serving = true};
	assert_int_equal(fleet_verdict(&f, why, sizeof(why)), FLEET_OK);
	assert_string_equal(why, "");
	f.failures = FLEET_FAILURES_DEGRADED - 1;
	assert_int_equal(fleet_verdict(&f, why, sizeof(why)), FLEET_OK);
	f.failures = FLEET_FAILURES_DEGRADED;
	f.lagging = 2;
	assert_int_equal(fleet_verdict(&f, why, sizeof(why)), FLEET_DEGRADED);
	assert_string_equal(why, "refreshes failing, a server of the zone lags");
	f.stale = true;
	assert_int_equal(fleet_verdict(&f, why, sizeof(why)), FLEET_DEGRADED);
	assert_non_null(strstr(why, "serving past expiry"));
	f = (fleet_zone_facts_t){.secondary = true, .expired = true};
	assert_int_equal(fleet_verdict(&f, why, sizeof(why)), FLEET_FAIL);
	assert_string_equal(why, "expired");
	f = (fleet_zone_facts_t){.secondary = false, .serving = false};
	assert_int_equal(fleet_verdict(&f, why, sizeof(why)), FLEET_FAIL);
	assert_string_equal(why, "not loaded");
	/* A primary's refreshes are not a thing; a short buffer is cut, not overrun. */
	f = (fleet_zone_facts_t){.serving = true, .failures = 9, .held = true};
	assert_int_equal(fleet_verdict(&f, why, 8), FLEET_DEGRADED);
	assert_int_equal(strlen(why), 7);
	assert_string_equal(fleet_health_name(FLEET_DEGRADED), "degraded");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(newest_by_serial_arithmetic),
	    cmocka_unit_test(lag_sync_and_propagation),
	    cmocka_unit_test(verdicts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
