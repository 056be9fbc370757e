/* SPDX-License-Identifier: MIT */
/* test_netset: prefix parsing, and membership against a linear scan of the same prefixes. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "error.h"
#include "netset.h"

static netprefix_t P(const char *text)
{
	netprefix_t p;
	const char *why;
	assert_int_equal(netprefix_parse(text, &p, &why), 0);
	return p;
}

static void parse(void **state)
{
	(void)state;
	netprefix_t p;
	const char *why;
	char buf[NETSET_TEXT_MAX];
	p = P("192.0.2.0/24");
	assert_int_equal(p.family, NET_V4);
	assert_int_equal(p.bits, 24);
	netprefix_text(&p, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.0/24");
	p = P("2001:db8::/56");
	assert_int_equal(p.family, NET_V6);
	netprefix_text(&p, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::/56");
	p = P("10.1.2.3");
	assert_int_equal(p.bits, 32);
	assert_int_equal(P("::1").bits, 128);
	assert_int_equal(P("0.0.0.0/0").bits, 0);
	static const char *const bad[] = {"",
	                                  "/24",
	                                  "192.0.2.0/",
	                                  "192.0.2.0/33",
	                                  "192.0.2.1/24",
	                                  "192.0.2.0/-1",
	                                  "192.0.2.0/ 24",
	                                  "2001:db8::/129",
	                                  "2001:db8::1/64",
	                                  "example.com",
	                                  "192.0.2.0/24/1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(netprefix_parse(bad[i], &p, &why), US_EINVAL);
}

static void membership(void **state)
{
	(void)state;
	netprefix_t list[] = {P("192.0.2.0/24"),    P("198.51.100.7"), P("10.0.0.0/8"),
	                      P("2001:db8:1::/48"), P("::1"),          P("192.0.2.0/24")};
	netset_t *s = netset_new(list, 6);
	assert_non_null(s);
	assert_int_equal(netset_size(s), 5); /* the duplicate kept once */
	uint8_t a[16] = {0};
	inet_pton(AF_INET, "192.0.2.200", a);
	assert_true(netset_contains(s, NET_V4, a));
	inet_pton(AF_INET, "192.0.3.1", a);
	assert_false(netset_contains(s, NET_V4, a));
	inet_pton(AF_INET, "198.51.100.7", a);
	assert_true(netset_contains(s, NET_V4, a));
	inet_pton(AF_INET, "198.51.100.8", a);
	assert_false(netset_contains(s, NET_V4, a));
	inet_pton(AF_INET, "10.255.0.1", a);
	assert_true(netset_contains(s, NET_V4, a));
	inet_pton(AF_INET6, "2001:db8:1:ffff::1", a);
	assert_true(netset_contains(s, NET_V6, a));
	inet_pton(AF_INET6, "2001:db8:2::1", a);
	assert_false(netset_contains(s, NET_V6, a));
	inet_pton(AF_INET6, "::1", a);
	assert_true(netset_contains(s, NET_V6, a));
	/* The same bytes in the other family are another address. */
	assert_false(netset_contains(s, NET_V4, a));
	assert_false(netset_contains(NULL, NET_V4, a));

	netprefix_t add = P("203.0.113.0/24"), del = P("10.0.0.0/8");
	netset_t *t = netset_with(s, &add, &del);
	assert_non_null(t);
	assert_int_equal(netset_size(t), 5);
	assert_true(netset_has(t, &add));
	assert_false(netset_has(t, &del));
	assert_true(netset_has(s, &del)); /* the old set is untouched */
	inet_pton(AF_INET, "10.255.0.1", a);
	assert_false(netset_contains(t, NET_V4, a));
	netset_free(s);
	netset_free(t);
}

/* Random prefixes and addresses: the set says what a scan of the prefixes says. */
static void random_against_scan(void **state)
{
	(void)state;
	srandom(12);
	for (int round = 0; round < 50; round++) {
		netprefix_t list[64];
		size_t n = (size_t)(random() % 64);
		for (size_t i = 0; i < n; i++) {
			netprefix_t *p = &list[i];
			p->family = random() % 2 ? NET_V4 : NET_V6;
			/* Few distinct bytes, so that addresses below do fall in prefixes. */
			for (int j = 0; j < 16; j++)
				p->addr[j] = (uint8_t)(random() % 3);
			p->bits = (uint8_t)(random() % (p->family == NET_V4 ? 33 : 129));
			netprefix_mask(p->family, p->addr, p->bits, p->addr);
		}
		netset_t *s = netset_new(list, n);
		assert_non_null(s);
		for (int k = 0; k < 500; k++) {
			uint8_t fam = random() % 2 ? NET_V4 : NET_V6, a[16];
			for (int j = 0; j < 16; j++)
				a[j] = (uint8_t)(random() % 3);
			bool want = false;
			for (size_t i = 0; i < n; i++)
				want |= netprefix_contains(&list[i], fam, a);
			assert_int_equal(netset_contains(s, fam, a), want);
		}
		netset_free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse),
	    cmocka_unit_test(membership),
	    cmocka_unit_test(random_against_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
