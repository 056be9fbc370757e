/* SPDX-License-Identifier: MIT */
/* test_cookie: RFC 9018 server cookies against the RFC's examples; checks, ages, rotation. */
#include <arpa/inet.h>

#include "util.h"

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

/* A query for www.example.com with a COOKIE option of len bytes (data), EDNS 1232. */
static size_t cookie_query(uint8_t *q, const uint8_t *data, size_t len)
{
	size_t n = util_query(q, "www.example.com.", WIRE_T_A, WIRE_CLASS_IN, 1232, false);
	wire_write16(q + n - 2, (uint16_t)(4 + len));
	wire_write16(q + n, WIRE_EDNS_COOKIE);
	wire_write16(q + n + 2, (uint16_t)len);
	memcpy(q + n + 4, data, len);
	return n + 4 + len;
}

/* The COOKIE option of a parsed response, or NULL. */
static const uint8_t *reply_cookie(const util_msg_t *m, size_t *len)
{
	for (int i = 0; i < m->nrr; i++) {
		if (m->rr[i].type != WIRE_T_OPT)
			continue;
		for (size_t p = 0; p + 4 <= m->rr[i].rdlen;) {
			uint16_t code = wire_read16(m->rr[i].rdata + p);
			uint16_t l = wire_read16(m->rr[i].rdata + p + 2);
			if (code == WIRE_EDNS_COOKIE) {
				*len = l;
				return m->rr[i].rdata + p + 4;
			}
			p += 4 + (size_t)l;
		}
	}
	return NULL;
}

static void in_answers(void **state)
{
	(void)state;
	zone_t *z = util_zone("example.com.", "@ 300 SOA ns h 1 2 3 4 5\n@ 300 NS ns\n"
	                                      "ns 300 A 192.0.2.1\nwww 300 A 192.0.2.80\n");
	assert_non_null(z);
	zonedb_t *db = zonedb_new(1);
	zonedb_slot_t *slot;
	assert_int_equal(zonedb_add(db, z->apex, &slot), 0);
	slot->zone = z;
	cookie_secrets_t secrets = {0};
	memset(secrets.current, 0x5a, 16);
	answer_conf_t conf = {.max_udp = 1232, .wall = 1700000000, .cookies = &secrets};
	answer_client_t client = {.family = 4};
	inet_pton(AF_INET, "192.0.2.99", client.addr);
	uint8_t q[512], resp[1232], cc[8] = {9, 9, 9, 9, 1, 2, 3, 4}, sc[16];
	util_msg_t m;
	answer_info_t info;
	size_t clen;

	/* A client cookie alone: answered, with our server cookie for this client. */
	size_t qlen = cookie_query(q, cc, 8);
	size_t len = answer_query_from(&conf, db, &client, q, qlen, resp, false, 0, &info);
	util_parse(resp, len, &m);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.count[0], 1);
	assert_int_equal(info.cookie, COOKIE_CLIENT_ONLY);
	const uint8_t *got = reply_cookie(&m, &clen);
	assert_non_null(got);
	assert_int_equal(clen, 24);
	assert_memory_equal(got, cc, 8);
	cookie_make(secrets.current, cc, 4, client.addr, conf.wall, sc);
	assert_memory_equal(got + 8, sc, 16);

	/* Sent back: good, and echoed while fresh. */
	uint8_t both[24];
	memcpy(both, cc, 8);
	memcpy(both + 8, sc, 16);
	qlen = cookie_query(q, both, 24);
	len = answer_query_from(&conf, db, &client, q, qlen, resp, false, 0, &info);
	util_parse(resp, len, &m);
	assert_int_equal(info.cookie, COOKIE_GOOD);
	got = reply_cookie(&m, &clen);
	assert_memory_equal(got, both, 24);

	/* From another address the same cookie is bad: answered all the same, with a new one. */
	answer_client_t other = {.family = 4};
	inet_pton(AF_INET, "192.0.2.100", other.addr);
	len = answer_query_from(&conf, db, &other, q, qlen, resp, false, 0, &info);
	util_parse(resp, len, &m);
	assert_int_equal(info.cookie, COOKIE_BAD);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.count[0], 1);
	got = reply_cookie(&m, &clen);
	assert_memory_not_equal(got + 8, sc, 16);

	/* Malformed lengths: FORMERR (RFC 7873 5.2.2), with an OPT and no cookie. */
	static const size_t bad[] = {0, 7, 9, 15, 41};
	uint8_t junk[48] = {0};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		qlen = cookie_query(q, junk, bad[i]);
		len = answer_query_from(&conf, db, &client, q, qlen, resp, false, 0, &info);
		util_parse(resp, len, &m);
		assert_int_equal(m.rcode, WIRE_RCODE_FORMERR);
		assert_null(reply_cookie(&m, &clen));
	}
	/* Cookies off, or no client known: the option is not looked at. */
	qlen = cookie_query(q, junk, 9);
	conf.cookies = NULL;
	len = answer_query_from(&conf, db, &client, q, qlen, resp, false, 0, &info);
	util_parse(resp, len, &m);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(info.cookie, COOKIE_NONE);
	conf.cookies = &secrets;
	len = answer_query(&conf, db, q, qlen, resp, false, &info);
	util_parse(resp, len, &m);
	assert_int_equal(m.rcode, 0);
	/* The cookie fits a 512-byte reply: the room is kept for it. */
	qlen = cookie_query(q, cc, 8);
	wire_write16(q + qlen - 12 - 8, 512); /* the OPT's UDP size */
	len = answer_query_from(&conf, db, &client, q, qlen, resp, false, 0, &info);
	assert_true(len <= 512);
	util_parse(resp, len, &m);
	assert_non_null(reply_cookie(&m, &clen));
	zonedb_free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rfc9018_examples),
	    cmocka_unit_test(checks),
	    cmocka_unit_test(parse),
	    cmocka_unit_test(in_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
