/* SPDX-License-Identifier: MIT */
/* test_cookie: RFC 9018 server cookies against the RFC's examples; checks, ages, rotation. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cookie.h"
#include "error.h"

static void hex(const char *s, uint8_t *out)
{
	for (size_t i = 0; s[2 * i]; i++) {
		unsigned v;
		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* RFC 9018 appendix A.1 and A.2: 198.51.100.100, secret e5e973e5a6b2a43f48e7dc849e37bfcf. */
static void rfc9018_examples(void **state)
{
	(void)state;
	uint8_t secret[16], cc[8], ip[4], out[16], want[16];
	hex("e5e973e5a6b2a43f48e7dc849e37bfcf", secret);
	hex("2464c4abcf10c957", cc);
	inet_pton(AF_INET, "198.51.100.100", ip);
	/* A.1: Wed Jun 5 10:53:05 UTC 2019. */
	cookie_make(secret, cc, 4, ip, 1559731985, out);
	hex("010000005cf79f111f8130c3eee29480", want);
	assert_memory_equal(out, want, 16);
	/* A.2: forty minutes later the cookie is still good, but old enough to be renewed. */
	cookie_secrets_t s = {0};
	memcpy(s.current, secret, 16);
	bool reuse = true;
	assert_int_equal(cookie_check(&s, cc, want, 16, 4, ip, 1559731985 + 2400, &reuse),
	                 COOKIE_GOOD);
	assert_false(reuse);
	cookie_make(secret, cc, 4, ip, 1559734385, out);
	hex("010000005cf7a871d4a564a1442aca77", want);
	assert_memory_equal(out, want, 16);
}

static void checks(void **state)
{
	(void)state;
	cookie_secrets_t s = {0};
	memset(s.current, 0x11, 16);
	uint8_t cc[8] = {1, 2, 3, 4, 5, 6, 7, 8}, ip[16] = {0}, other[16] = {0}, sc[16];
	inet_pton(AF_INET6, "2001:db8::53", ip);
	inet_pton(AF_INET6, "2001:db8::54", other);
	uint32_t now = 1700000000;
	bool reuse;
	cookie_make(s.current, cc, 6, ip, now, sc);
	assert_int_equal(cookie_check(&s, cc, sc, 16, 6, ip, now, &reuse), COOKIE_GOOD);
	assert_true(reuse);
	assert_int_equal(cookie_check(&s, cc, sc, 0, 6, ip, now, &reuse), COOKIE_CLIENT_ONLY);
	/* Another address, another client cookie, a flipped bit: not ours. */
	assert_int_equal(cookie_check(&s, cc, sc, 16, 6, other, now, &reuse), COOKIE_BAD);
	uint8_t cc2[8] = {8, 7, 6, 5, 4, 3, 2, 1};
	assert_int_equal(cookie_check(&s, cc2, sc, 16, 6, ip, now, &reuse), COOKIE_BAD);
	sc[15] ^= 1;
	assert_int_equal(cookie_check(&s, cc, sc, 16, 6, ip, now, &reuse), COOKIE_BAD);
	sc[15] ^= 1;
	/* Ages: an hour is the most, five minutes ahead is allowed. */
	assert_int_equal(cookie_check(&s, cc, sc, 16, 6, ip, now + 3600, &reuse), COOKIE_GOOD);
	assert_int_equal(cookie_check(&s, cc, sc, 16, 6, ip, now + 3601, &reuse), COOKIE_BAD);
	assert_int_equal(cookie_check(&s, cc, sc, 16, 6, ip, now - 300, &reuse), COOKIE_GOOD);
	assert_false(reuse); /* from the future: replaced by one of our own time */
	assert_int_equal(cookie_check(&s, cc, sc, 16, 6, ip, now - 301, &reuse), COOKIE_BAD);
	/* Other lengths and versions are not RFC 9018 cookies. */
	assert_int_equal(cookie_check(&s, cc, sc, 8, 6, ip, now, &reuse), COOKIE_BAD);
	sc[0] = 2;
	assert_int_equal(cookie_check(&s, cc, sc, 16, 6, ip, now, &reuse), COOKIE_BAD);
	sc[0] = 1;
	/* Rotation: the old secret's cookies stay good, and are renewed. */
	cookie_secrets_t r = {.has_previous = true};
	memset(r.current, 0x22, 16);
	memcpy(r.previous, s.current, 16);
	assert_int_equal(cookie_check(&r, cc, sc, 16, 6, ip, now, &reuse), COOKIE_GOOD);
	assert_false(reuse);
	r.has_previous = false;
	assert_int_equal(cookie_check(&r, cc, sc, 16, 6, ip, now, &reuse), COOKIE_BAD);
}

static void parse(void **state)
{
	(void)state;
	uint8_t data[48] = {0};
	const uint8_t *cc, *sc;
	size_t sclen;
	for (size_t len = 0; len <= 48; len++) {
		int ret = cookie_parse(data, len, &cc, &sc, &sclen);
		bool ok = len == 8 || (len >= 16 && len <= 40);
		assert_int_equal(ret, ok ? 0 : US_EMALF);
		if (ok)
			assert_int_equal(sclen, len - 8);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rfc9018_examples),
	    cmocka_unit_test(checks),
	    cmocka_unit_test(parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
