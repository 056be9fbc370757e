/* SPDX-License-Identifier: MIT */
/* test_zonediff: the changeset between two versions, and condensing chains of diffs. */
#include <time.h>

#include "util.h"
#include "error.h"
#include "zonediff.h"

#define HEAD(serial) "$TTL 300\n@ SOA ns h " serial " 1 1 1 1\n@ NS ns\nns A 192.0.2.1\n"

/* Diffs a to b, checks the counts, and that applying the diff to a gives b. */
static void check_diff(zone_t *a, zone_t *b, uint32_t nrm, uint32_t nadd)
{
	arena_t ar;
	arena_init(&ar);
	zone_changeset_t cs;
	assert_int_equal(zonediff_compute(a, b, &ar, &cs), 0);
	assert_int_equal(cs.ndiffs, 1);
	assert_int_equal(cs.from, a->serial);
	assert_int_equal(cs.to, b->serial);
	assert_int_equal(cs.first->nremoved, nrm);
	assert_int_equal(cs.first->nadded, nadd);
	uint32_t n = 0;
	for (const zone_rr_t *r = cs.first->removed; r; r = r->next)
		n++;
	assert_int_equal(n, nrm);
	zone_t *c = NULL;
	char err[256] = "";
	if (a->serial != b->serial) {
		if (zone_apply(a, &cs, NULL, &c, err, sizeof(err)) != 0)
			fail_msg("zone_apply: %s", err);
		assert_true(zone_same(b, c));
		zone_unref(c);
	}
	arena_deinit(&ar);
}

static void differences(void **state)
{
	(void)state;
	zone_t *a = util_zone("example.com", HEAD("1") "www A 192.0.2.10\nwww A 192.0.2.11\n"
	                                               "mail MX 10 mx\nmx A 192.0.2.20\n"
	                                               "gone.deep TXT bye\nttl 60 TXT t\n");
	zone_t *b = util_zone("example.com", HEAD("2") "www A 192.0.2.10\nwww A 192.0.2.12\n"
	                                               "mail MX 10 mx\nmx A 192.0.2.20\n"
	                                               "new TXT hi\nttl 120 TXT t\n");
	assert_non_null(a);
	assert_non_null(b);
	/* www .11 -> .12, gone.deep out, new in, the TTL of ttl TXT as delete + add. */
	check_diff(a, b, 3, 3);
	check_diff(b, a, 3, 3);
	check_diff(a, a, 0, 0);
	zone_t *c = util_zone("example.org", HEAD("2"));
	arena_t ar;
	arena_init(&ar);
	zone_changeset_t cs;
	assert_int_equal(zonediff_compute(a, c, &ar, &cs), US_EINVAL);
	arena_deinit(&ar);
	zone_unref(a);
	zone_unref(b);
	zone_unref(c);
}

/* RRsets past the linear-search size go through the table, and still diff exactly. */
static void large_rrsets(void **state)
{
	(void)state;
	size_t cap = 200000;
	char *ta = malloc(cap), *tb = malloc(cap);
	int la = snprintf(ta, cap, HEAD("1")), lb = snprintf(tb, cap, HEAD("2"));
	for (int i = 0; i < 1000; i++) {
		la += snprintf(ta + la, cap - (size_t)la, "big TXT r%d\n", i);
		if (i % 10 != 3)
			lb += snprintf(tb + lb, cap - (size_t)lb, "big TXT r%d\n", i);
		if (i % 100 == 0)
			lb += snprintf(tb + lb, cap - (size_t)lb, "big TXT n%d\n", i);
	}
	zone_t *a = util_zone("example.com", ta), *b = util_zone("example.com", tb);
	assert_non_null(a);
	assert_non_null(b);
	check_diff(a, b, 100, 10);
	zone_unref(a);
	zone_unref(b);
	free(ta);
	free(tb);
}

/* Linear time: two 200k-record versions differ by 200 records; the time is printed, for the
 * eye (tests never assert times). */
static void large_zone(void **state)
{
	(void)state;
	size_t cap = 200000 * 40;
	char *ta = malloc(cap), *tb = malloc(cap);
	int la = snprintf(ta, cap, HEAD("1")), lb = snprintf(tb, cap, HEAD("2"));
	for (int i = 0; i < 200000; i++) {
		la += snprintf(ta + la, cap - (size_t)la, "h%d A 10.%d.%d.%d\n", i, i >> 16,
		               (i >> 8) & 255, i & 255);
		lb += snprintf(tb + lb, cap - (size_t)lb, "h%d A 10.%d.%d.%d\n", i, i >> 16,
		               (i >> 8) & 255, (i % 1000 == 0 ? i + 1 : i) & 255);
	}
	zone_t *a = util_zone("example.com", ta), *b = util_zone("example.com", tb);
	assert_non_null(a);
	assert_non_null(b);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	arena_t ar;
	arena_init(&ar);
	zone_changeset_t cs;
	assert_int_equal(zonediff_compute(a, b, &ar, &cs), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(cs.first->nremoved, 200);
	assert_int_equal(cs.first->nadded, 200);
	print_message("zonediff of two 200k-record versions: %.1f ms\n",
	              (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	arena_deinit(&ar);
	check_diff(a, b, 200, 200);
	zone_unref(a);
	zone_unref(b);
	free(ta);
	free(tb);
}

static zone_rr_t *rr(arena_t *a, const char *owner, const char *txt, uint32_t ttl)
{
	zone_rr_t *r = arena_alloc(a, sizeof(*r));
	uint8_t *name = arena_alloc(a, DNAME_MAXLEN);
	int n = dname_from_text(owner, name);
	assert_true(n > 0);
	size_t tl = strlen(txt);
	uint8_t *rd = arena_alloc(a, tl + 1);
	rd[0] = (uint8_t)tl;
	memcpy(rd + 1, txt, tl);
	*r = (zone_rr_t){.owner = name,
	                 .rdata = rd,
	                 .ttl = ttl,
	                 .type = WIRE_T_TXT,
	                 .rdlen = (uint16_t)(tl + 1)};
	return r;
}

static zone_rr_t *chain(zone_rr_t *first, ...)
{
	va_list ap;
	va_start(ap, first);
	zone_rr_t *prev = first;
	for (zone_rr_t *r; (r = va_arg(ap, zone_rr_t *));) {
		prev->next = r;
		prev = r;
	}
	va_end(ap);
	return first;
}

static uint32_t count(const zone_rr_t *r)
{
	uint32_t n = 0;
	for (; r; r = r->next)
		n++;
	return n;
}

static void condensing(void **state)
{
	(void)state;
	arena_t a;
	arena_init(&a);
	zone_diff_t d1 = {.from = 1, .to = 2}, d2 = {.from = 2, .to = 3}, d3 = {.from = 3, .to = 4};
	d1.soa_from = rr(&a, "example.com", "soa1", 1);
	d1.soa_to = d2.soa_from = rr(&a, "example.com", "soa2", 1);
	d2.soa_to = d3.soa_from = rr(&a, "example.com", "soa3", 1);
	d3.soa_to = rr(&a, "example.com", "soa4", 1);
	/* x: added then removed; y: removed for good; z: TTL 300 -> 600 -> 300; w: TTL
	 * 300 -> 900; v: removed and added back; u: added for good (owner case differs). */
	d1.added =
	    chain(rr(&a, "x.example.com", "x", 300), rr(&a, "u.example.com", "u", 300), NULL);
	d1.removed = chain(rr(&a, "y.example.com", "y", 300), rr(&a, "z.example.com", "z", 300),
	                   rr(&a, "w.example.com", "w", 300), NULL);
	d2.removed = chain(rr(&a, "X.example.com", "x", 300), rr(&a, "Z.example.com", "z", 600),
	                   rr(&a, "v.example.com", "v", 300), NULL);
	d2.added =
	    chain(rr(&a, "z.example.com", "z", 300), rr(&a, "w.example.com", "w", 900), NULL);
	d3.added = rr(&a, "v.example.com", "v", 300);
	/* z's TTL 600 in between: d1 removes it at 300 and adds it at 600. */
	zone_rr_t *z600 = rr(&a, "z.example.com", "z", 600);
	z600->next = d1.added;
	d1.added = z600;
	d1.nadded = 3;
	d1.nremoved = 3;
	d2.nremoved = 3;
	d2.nadded = 2;
	d3.nadded = 1;
	d1.next = &d2;
	d2.next = &d3;
	zone_changeset_t cs = {.first = &d1, .ndiffs = 3, .from = 1, .to = 4}, out;
	assert_int_equal(zonediff_condense(&cs, &a, &out), 0);
	const zone_diff_t *d = out.first;
	assert_int_equal(out.ndiffs, 1);
	assert_int_equal(d->from, 1);
	assert_int_equal(d->to, 4);
	assert_ptr_equal(d->soa_from, d1.soa_from);
	assert_ptr_equal(d->soa_to, d3.soa_to);
	/* Removed: y, w at 300. Added: w at 900, u; in the order records first came. */
	assert_int_equal(d->nremoved, 2);
	assert_int_equal(d->nadded, 2);
	assert_int_equal(count(d->removed), 2);
	assert_int_equal(count(d->added), 2);
	assert_memory_equal(d->removed->owner, "\1y", 2);
	assert_memory_equal(d->removed->next->owner, "\1w", 2);
	assert_int_equal(d->removed->next->ttl, 300);
	assert_memory_equal(d->added->owner, "\1w", 2);
	assert_int_equal(d->added->ttl, 900);
	assert_memory_equal(d->added->next->owner, "\1u", 2);

	/* Diffs that do not chain, and an empty changeset, are refused. */
	d2.from = 7;
	assert_int_equal(zonediff_condense(&cs, &a, &out), US_EINVAL);
	zone_changeset_t empty = {0};
	assert_int_equal(zonediff_condense(&empty, &a, &out), US_EINVAL);
	arena_deinit(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(differences),
	    cmocka_unit_test(large_rrsets),
	    cmocka_unit_test(large_zone),
	    cmocka_unit_test(condensing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
