/* SPDX-License-Identifier: MIT */
/* test_tsig: RFC 8945 signing and verification, streams, errors, dnspython vectors, fuzzing. */
#include "util.h"
#include "error.h"
#include "tsig.h"
#include "tsig_vectors.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define NOW   TSIG_VEC_NOW
#define FUDGE 300
#define CAP   4096

static uint8_t secrets[TSIG_ALG_COUNT][64];

static void make_key(tsig_key_t *k, tsig_alg_t alg, const char *name)
{
	for (size_t i = 0; i < sizeof(secrets[alg]); i++)
		secrets[alg][i] = (uint8_t)(i * 7 + alg);
	assert_int_equal(tsig_key_init(k, name, alg, secrets[alg], tsig_alg_mac_len(alg)), 0);
}

/* A query for name/A, with EDNS so the TSIG is not alone in the additional section. */
static size_t make_query(uint8_t *buf, const char *name)
{
	return util_query(buf, name, WIRE_T_A, WIRE_CLASS_IN, 1232, false);
}

/* The answer to a query from make_query (without its TSIG): one A record, no EDNS. */
static size_t make_response(uint8_t *buf, const uint8_t *q)
{
	size_t qend = WIRE_HDR_LEN + dname_len(q + WIRE_HDR_LEN) + 4;
	memcpy(buf, q, qend);
	wire_write16(buf + WIRE_FLAGS, WIRE_QR | WIRE_AA);
	wire_write16(buf + WIRE_ANCOUNT, 1);
	wire_write16(buf + WIRE_NSCOUNT, 0);
	wire_write16(buf + WIRE_ARCOUNT, 0);
	static const uint8_t rr[] = {0xC0, 12, 0, 1, 0, 1, 0, 0, 0x0E, 0x10, 0, 4, 192, 0, 2, 1};
	memcpy(buf + qend, rr, sizeof(rr));
	return qend + sizeof(rr);
}

static size_t sign(const tsig_key_t *k, uint8_t *buf, size_t len, const uint8_t *prior,
                   size_t prior_len, bool timers_only, uint64_t now, uint8_t *mac, size_t *mac_len)
{
	size_t out = 0;
	assert_int_equal(tsig_sign(k, buf, len, CAP, prior, prior_len, timers_only, now, FUDGE,
	                           &out, mac, mac_len),
	                 0);
	return out;
}

/* Verifies one message in a fresh context; returns the result, the TSIG error in *err. */
static int verify1(const tsig_key_t *k, const uint8_t *req_mac, size_t req_mac_len,
                   const uint8_t *msg, size_t len, uint64_t now, uint16_t *err)
{
	tsig_verify_t v;
	size_t stripped = 0;
	tsig_verify_init(&v, k, req_mac, req_mac_len);
	int ret = tsig_verify_msg(&v, msg, len, now, err, &stripped);
	if (ret == 0)
		assert_int_equal(tsig_verify_done(&v), 0);
	tsig_verify_deinit(&v);
	return ret;
}

static void key_init_and_find(void **state)
{
	(void)state;
	static const uint8_t s[4] = {1, 2, 3, 4};
	tsig_key_t keys[3];
	assert_int_equal(tsig_key_init(&keys[0], "Key.Example", TSIG_HMAC_SHA256, s, 4), 0);
	assert_int_equal(keys[0].name_len, 13);
	assert_memory_equal(keys[0].name, "\3key\7example", 13);
	assert_int_equal(tsig_key_init(&keys[1], "other.", TSIG_HMAC_MD5, s, 4), 0);
	assert_int_equal(tsig_key_init(&keys[2], "xfr.example.", TSIG_HMAC_SHA512, s, 0), 0);
	assert_int_equal(tsig_key_init(&keys[2], "a..b", TSIG_HMAC_SHA1, s, 4), US_ENAME);
	assert_int_equal(tsig_key_init(&keys[2], "a.b", (tsig_alg_t)6, s, 4), US_EINVAL);
	assert_int_equal(tsig_key_init(&keys[2], "a.b", (tsig_alg_t)-1, s, 4), US_EINVAL);
	assert_memory_equal(keys[2].name, "\3xfr\7example", 13); /* unchanged by failures */

	assert_ptr_equal(tsig_key_find(keys, 3, (const uint8_t *)"\3KEY\7exaMPLE"), &keys[0]);
	assert_ptr_equal(tsig_key_find(keys, 3, (const uint8_t *)"\3xfr\7example"), &keys[2]);
	assert_null(tsig_key_find(keys, 3, (const uint8_t *)"\3key\3com"));
	assert_null(tsig_key_find(keys, 0, (const uint8_t *)"\3key\7example"));

	static const size_t lens[] = {16, 20, 28, 32, 48, 64};
	for (int a = 0; a < TSIG_ALG_COUNT; a++) {
		size_t n = 0;
		const uint8_t *name = tsig_alg_name((tsig_alg_t)a, &n);
		assert_int_equal(n, dname_len(name));
		assert_int_equal(tsig_alg_from_name(name), a);
		assert_int_equal(tsig_alg_mac_len((tsig_alg_t)a), lens[a]);
	}
	assert_int_equal(tsig_alg_from_name((const uint8_t *)"\13HMAC-SHA256"), TSIG_HMAC_SHA256);
	assert_int_equal(tsig_alg_from_name((const uint8_t *)"\10HMAC-MD5\7SIG-ALG\3REG\3INT"),
	                 TSIG_HMAC_MD5);
	assert_int_equal(tsig_alg_from_name((const uint8_t *)"\17hmac-sha256-128"), -1);
	assert_int_equal(tsig_alg_from_name((const uint8_t *)"\10hmac-md5"), -1);
	assert_int_equal(tsig_alg_mac_len((tsig_alg_t)6), 0);
}

static void round_trip_all_algorithms(void **state)
{
	(void)state;
	for (int a = 0; a < TSIG_ALG_COUNT; a++) {
		tsig_key_t k;
		make_key(&k, (tsig_alg_t)a, "Understudy-Key.Example.");
		uint8_t q[CAP], orig[CAP], r[CAP], mac[TSIG_MAC_MAX], rmac[TSIG_MAC_MAX];
		size_t qlen = make_query(q, "www.example.com"), mac_len = 0, rmac_len = 0;
		memcpy(orig, q, qlen);
		size_t slen = sign(&k, q, qlen, NULL, 0, false, NOW, mac, &mac_len);
		assert_int_equal(slen, qlen + tsig_space(&k));
		assert_int_equal(mac_len, tsig_alg_mac_len(k.alg));
		assert_int_equal(wire_read16(q + WIRE_ARCOUNT), 2);

		/* The server finds the key by the TSIG's owner, then checks the request. */
		tsig_rr_t rr;
		assert_int_equal(tsig_find(q, slen, &rr), 1);
		assert_int_equal(rr.start, qlen);
		assert_int_equal(rr.alg, a);
		assert_true(rr.time_signed == NOW);
		assert_int_equal(rr.fudge, FUDGE);
		assert_int_equal(rr.orig_id, 0x1234);
		assert_int_equal(rr.error, 0);
		assert_int_equal(rr.other_len, 0);
		assert_int_equal(rr.mac_len, mac_len);
		assert_memory_equal(rr.mac, mac, mac_len);
		assert_ptr_equal(tsig_key_find(&k, 1, rr.owner), &k);

		tsig_verify_t v;
		uint16_t err = 99;
		size_t stripped = 0;
		tsig_verify_init(&v, &k, NULL, 0);
		assert_int_equal(tsig_verify_msg(&v, q, slen, NOW + 10, &err, &stripped), 0);
		assert_int_equal(err, 0);
		assert_int_equal(stripped, qlen);
		assert_int_equal(tsig_verify_done(&v), 0);
		assert_int_equal(v.mac_len, mac_len);
		assert_memory_equal(v.mac, mac, mac_len);
		tsig_verify_deinit(&v);

		/* Stripping gives back the message as it was before signing, whatever its ID now.
		 */
		uint8_t copy[CAP];
		memcpy(copy, q, slen);
		wire_write16(copy + WIRE_ID, 0xBEEF);
		assert_int_equal(verify1(&k, NULL, 0, copy, slen, NOW, &err), 0);
		size_t out = 0;
		assert_int_equal(tsig_strip(copy, slen, &out), 1);
		assert_int_equal(out, qlen);
		assert_memory_equal(copy, orig, qlen);
		assert_int_equal(tsig_strip(copy, out, &out), 0);
		assert_int_equal(out, qlen);

		/* The response covers the request's MAC; the client checks it with that. */
		size_t rlen = make_response(r, orig);
		size_t srlen = sign(&k, r, rlen, mac, mac_len, false, NOW + 1, rmac, &rmac_len);
		assert_int_equal(verify1(&k, mac, mac_len, r, srlen, NOW, &err), 0);
		assert_int_equal(verify1(&k, NULL, 0, r, srlen, NOW, &err), US_ETSIG);
		assert_int_equal(err, TSIG_ERR_BADSIG);
		uint8_t other[TSIG_MAC_MAX];
		memcpy(other, mac, mac_len);
		other[0] ^= 1;
		assert_int_equal(verify1(&k, other, mac_len, r, srlen, NOW, &err), US_ETSIG);
		assert_int_equal(err, TSIG_ERR_BADSIG);
	}
}

static void empty_secret(void **state)
{
	(void)state;
	tsig_key_t k;
	assert_int_equal(tsig_key_init(&k, "empty.", TSIG_HMAC_SHA256, NULL, 0), 0);
	uint8_t q[CAP], mac[TSIG_MAC_MAX];
	size_t mac_len, qlen = make_query(q, "example.com");
	size_t slen = sign(&k, q, qlen, NULL, 0, false, NOW, mac, &mac_len);
	uint16_t err;
	assert_int_equal(verify1(&k, NULL, 0, q, slen, NOW, &err), 0);
	tsig_key_t k2;
	assert_int_equal(tsig_key_init(&k2, "empty.", TSIG_HMAC_SHA256, (const uint8_t *)"x", 1),
	                 0);
	assert_int_equal(verify1(&k2, NULL, 0, q, slen, NOW, &err), US_ETSIG);
	assert_int_equal(err, TSIG_ERR_BADSIG);
}

static void sign_errors(void **state)
{
	(void)state;
	tsig_key_t k;
	make_key(&k, TSIG_HMAC_SHA256, "key.");
	uint8_t q[CAP], before[CAP];
	size_t qlen = make_query(q, "example.com"), out = 7, ml = 3;
	uint8_t mac[TSIG_MAC_MAX];
	memset(q + qlen, 0xAA, CAP - qlen);
	memcpy(before, q, CAP);
	size_t need = qlen + tsig_space(&k);
	assert_int_equal(
	    tsig_sign(&k, q, qlen, need - 1, NULL, 0, false, NOW, FUDGE, &out, mac, &ml),
	    US_ETRUNC);
	assert_memory_equal(q, before, CAP);
	assert_int_equal(out, 7);
	assert_int_equal(tsig_sign(&k, q, 11, CAP, NULL, 0, false, NOW, FUDGE, &out, mac, &ml),
	                 US_EINVAL);
	wire_write16(q + WIRE_ARCOUNT, 0xFFFF);
	assert_int_equal(tsig_sign(&k, q, qlen, CAP, NULL, 0, false, NOW, FUDGE, &out, mac, &ml),
	                 US_EINVAL);
	wire_write16(q + WIRE_ARCOUNT, 1);
	assert_int_equal(tsig_sign(&k, q, qlen, need, NULL, 0, false, NOW, FUDGE, &out, mac, &ml),
	                 0);
	assert_int_equal(out, need);
	/* Nothing may go past 65535 bytes, whatever the buffer. */
	static uint8_t big[70000];
	memcpy(big, before, qlen);
	assert_int_equal(
	    tsig_sign(&k, big, 65535 - 10, sizeof(big), NULL, 0, false, NOW, FUDGE, &out, mac, &ml),
	    US_ETRUNC);
}

static void tamper_every_byte(void **state)
{
	(void)state;
	tsig_key_t k;
	make_key(&k, TSIG_HMAC_SHA256, "understudy-key.");
	uint8_t q[CAP], r[CAP], qmac[TSIG_MAC_MAX];
	size_t qmac_len, qlen = make_query(q, "www.example.com");
	sign(&k, q, qlen, NULL, 0, false, NOW, qmac, &qmac_len);
	size_t rlen = make_response(r, q);
	size_t srlen = sign(&k, r, rlen, qmac, qmac_len, false, NOW, NULL, NULL);
	tsig_rr_t rr;
	assert_int_equal(tsig_find(r, srlen, &rr), 1);
	size_t ttl = rr.start + rr.owner_len + 4; /* the TSIG's TTL: neither checked nor signed */
	int badsig = 0;
	static const uint8_t flips[] = {0x01, 0x80, 0xFF};
	for (size_t p = 0; p < srlen; p++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			uint8_t m[CAP];
			memcpy(m, r, srlen);
			m[p] ^= flips[f];
			uint16_t err = 0;
			int ret = verify1(&k, qmac, qmac_len, m, srlen, NOW, &err);
			if (p < 2 || (p >= ttl && p < ttl + 4)) {
				/* The ID travels in the original ID, as forwarders change it;
				 * the TTL is fixed at 0 in the digest. */
				assert_int_equal(ret, 0);
				continue;
			}
			if (ret == US_ETSIG && err == TSIG_ERR_BADSIG)
				badsig++;
			else if (p < rr.start)
				assert_int_equal(ret, US_EMALF);
			else /* or no TSIG any more (its type), or another key (its names) */
				assert_true(
				    ret == US_EMALF ||
				    (ret == US_ETSIG && (err == 0 || err == TSIG_ERR_BADKEY)));
		}
	}
	assert_true(badsig > (int)srlen); /* most flips leave a parseable, wrongly signed message */
	/* One byte short or one more: malformed either way. */
	uint16_t err;
	assert_int_equal(verify1(&k, qmac, qmac_len, r, srlen - 1, NOW, &err), US_EMALF);
	r[srlen] = 0;
	assert_int_equal(verify1(&k, qmac, qmac_len, r, srlen + 1, NOW, &err), US_EMALF);
}

static void bad_key(void **state)
{
	(void)state;
	tsig_key_t k, other_name, other_alg, other_secret;
	make_key(&k, TSIG_HMAC_SHA256, "understudy-key.");
	make_key(&other_name, TSIG_HMAC_SHA256, "someone-else.");
	make_key(&other_alg, TSIG_HMAC_SHA384, "understudy-key.");
	static const uint8_t s2[32] = {42};
	assert_int_equal(tsig_key_init(&other_secret, "understudy-key", TSIG_HMAC_SHA256, s2, 32),
	                 0);
	uint8_t q[CAP], mac[TSIG_MAC_MAX];
	size_t mac_len, qlen = make_query(q, "example.com");
	size_t slen = sign(&k, q, qlen, NULL, 0, false, NOW, mac, &mac_len);
	uint16_t err;
	assert_int_equal(verify1(&other_name, NULL, 0, q, slen, NOW, &err), US_ETSIG);
	assert_int_equal(err, TSIG_ERR_BADKEY);
	assert_int_equal(verify1(&other_alg, NULL, 0, q, slen, NOW, &err), US_ETSIG);
	assert_int_equal(err, TSIG_ERR_BADKEY);
	assert_int_equal(verify1(&other_secret, NULL, 0, q, slen, NOW, &err), US_ETSIG);
	assert_int_equal(err, TSIG_ERR_BADSIG);

	/* The unsigned BADKEY and BADSIG answers (5.3.2) echo the request; a client reads them
	 * as the server's complaint, not as a bad signature of its own. */
	tsig_rr_t rr;
	assert_int_equal(tsig_find(q, slen, &rr), 1);
	static const uint16_t errs[] = {TSIG_ERR_BADKEY, TSIG_ERR_BADSIG};
	for (int i = 0; i < 2; i++) {
		uint8_t r[CAP];
		size_t rlen = make_response(r, q), out = 0;
		wire_write16(r + WIRE_ANCOUNT, 0);
		rlen -= 16;
		wire_write16(r + WIRE_FLAGS, WIRE_QR | 9);
		assert_int_equal(tsig_answer_error(NULL, &rr, errs[i], r, rlen, CAP, NOW + 5, &out),
		                 0);
		tsig_rr_t e;
		assert_int_equal(tsig_find(r, out, &e), 1);
		assert_int_equal(e.mac_len, 0);
		assert_int_equal(e.error, errs[i]);
		assert_true(e.time_signed == NOW);
		assert_int_equal(e.fudge, FUDGE);
		assert_int_equal(e.orig_id, 0x1234);
		assert_true(dname_equal(e.owner, k.name));
		assert_int_equal(e.alg, TSIG_HMAC_SHA256);

		tsig_verify_t v;
		size_t stripped;
		tsig_verify_init(&v, &k, mac, mac_len);
		assert_int_equal(tsig_verify_msg(&v, r, out, NOW, &err, &stripped), US_ETSIG);
		assert_int_equal(err, 0);
		assert_int_equal(v.peer_error, errs[i]);
		assert_int_equal(tsig_verify_done(&v), US_ETSIG);
		tsig_verify_deinit(&v);
	}
	uint8_t r[CAP];
	size_t out;
	assert_int_equal(tsig_answer_error(NULL, &rr, TSIG_ERR_BADTIME, r, 12, CAP, NOW, &out),
	                 US_EINVAL);
	assert_int_equal(tsig_answer_error(&k, &rr, 5, r, 12, CAP, NOW, &out), US_EINVAL);
}

static void bad_time(void **state)
{
	(void)state;
	tsig_key_t k;
	make_key(&k, TSIG_HMAC_SHA256, "understudy-key.");
	uint8_t q[CAP], mac[TSIG_MAC_MAX];
	size_t mac_len, qlen = make_query(q, "example.com");
	size_t slen = sign(&k, q, qlen, NULL, 0, false, NOW, mac, &mac_len);
	uint16_t err;
	assert_int_equal(verify1(&k, NULL, 0, q, slen, NOW + FUDGE, &err), 0);
	assert_int_equal(verify1(&k, NULL, 0, q, slen, NOW - FUDGE, &err), 0);
	assert_int_equal(verify1(&k, NULL, 0, q, slen, NOW + FUDGE + 1, &err), US_ETSIG);
	assert_int_equal(err, TSIG_ERR_BADTIME);
	assert_int_equal(verify1(&k, NULL, 0, q, slen, NOW - FUDGE - 1, &err), US_ETSIG);
	assert_int_equal(err, TSIG_ERR_BADTIME);
	assert_int_equal(verify1(&k, NULL, 0, q, slen, 0, &err), US_ETSIG);
	assert_int_equal(err, TSIG_ERR_BADTIME);

	/* The MAC is checked first: a message with a bad MAC is BADSIG at any time. */
	uint8_t bad[CAP];
	memcpy(bad, q, slen);
	bad[slen - 7] ^= 1;
	assert_int_equal(verify1(&k, NULL, 0, bad, slen, NOW + 1000, &err), US_ETSIG);
	assert_int_equal(err, TSIG_ERR_BADSIG);

	/* A zero fudge allows exactly the signing second. */
	uint8_t z[CAP];
	size_t zlen = make_query(z, "example.com"), out;
	assert_int_equal(tsig_sign(&k, z, zlen, CAP, NULL, 0, false, NOW, 0, &out, NULL, NULL), 0);
	assert_int_equal(verify1(&k, NULL, 0, z, out, NOW, &err), 0);
	assert_int_equal(verify1(&k, NULL, 0, z, out, NOW + 1, &err), US_ETSIG);
	assert_int_equal(err, TSIG_ERR_BADTIME);

	/* The server answers BADTIME signed, with its own time in Other Data. */
	uint64_t server_now = NOW + 1000;
	tsig_verify_t v;
	size_t stripped;
	tsig_verify_init(&v, &k, NULL, 0);
	assert_int_equal(tsig_verify_msg(&v, q, slen, server_now, &err, &stripped), US_ETSIG);
	assert_int_equal(err, TSIG_ERR_BADTIME);
	uint8_t r[CAP];
	size_t rlen = make_response(r, q) - 16;
	wire_write16(r + WIRE_ANCOUNT, 0);
	wire_write16(r + WIRE_FLAGS, WIRE_QR | 9);
	assert_int_equal(tsig_answer_error(&k, &v.rr, err, r, rlen, CAP, server_now, &out), 0);
	tsig_verify_deinit(&v);
	tsig_rr_t e;
	assert_int_equal(tsig_find(r, out, &e), 1);
	assert_int_equal(e.error, TSIG_ERR_BADTIME);
	assert_true(e.time_signed == NOW);
	assert_int_equal(e.other_len, 6);
	assert_true(((uint64_t)wire_read16(e.other) << 32 | wire_read32(e.other + 2)) ==
	            server_now);
	assert_int_equal(e.mac_len, 32);

	/* The client checks its MAC, then reports the server's complaint. */
	tsig_verify_init(&v, &k, mac, mac_len);
	assert_int_equal(tsig_verify_msg(&v, r, out, NOW, &err, &stripped), US_ETSIG);
	assert_int_equal(err, 0);
	assert_int_equal(v.peer_error, TSIG_ERR_BADTIME);
	assert_memory_equal(v.mac, e.mac, 32); /* only set once the MAC matched */
	tsig_verify_deinit(&v);
	r[WIRE_HDR_LEN + 1] ^= 1; /* forged: then it is our BADSIG */
	tsig_verify_init(&v, &k, mac, mac_len);
	assert_int_equal(tsig_verify_msg(&v, r, out, NOW, &err, &stripped), US_ETSIG);
	assert_int_equal(err, TSIG_ERR_BADSIG);
	tsig_verify_deinit(&v);
}

/* Rewrites the MAC of the signed message m to its first n bytes (n may exceed it: padding). */
static size_t set_mac_len(uint8_t *m, size_t len, size_t n)
{
	tsig_rr_t rr;
	assert_int_equal(tsig_find(m, len, &rr), 1);
	size_t macpos = (size_t)(rr.mac - m), old = rr.mac_len;
	size_t rdpos = rr.start + rr.owner_len + 8; /* the owner is uncompressed here */
	memmove(m + macpos + n, m + macpos + old, len - macpos - old);
	if (n > old)
		memset(m + macpos + old, 0x5A, n - old);
	wire_write16(m + macpos - 2, (uint16_t)n);
	wire_write16(m + rdpos, (uint16_t)(wire_read16(m + rdpos) + n - old));
	return len + n - old;
}

static void truncated_macs(void **state)
{
	(void)state;
	/* Per algorithm: the shortest MAC 5.2.2.1 allows, max(10, half the hash). */
	static const size_t min[] = {10, 10, 14, 16, 24, 32};
	for (int a = 0; a < TSIG_ALG_COUNT; a++) {
		tsig_key_t k;
		make_key(&k, (tsig_alg_t)a, "trunc.example.");
		size_t full = tsig_alg_mac_len(k.alg);
		uint8_t q[CAP], mac[TSIG_MAC_MAX];
		size_t mac_len, qlen = make_query(q, "example.com");
		size_t slen = sign(&k, q, qlen, NULL, 0, false, NOW, mac, &mac_len);
		struct {
			size_t len;
			int ret;
		} cases[] = {{full, 0},       {min[a], 0},
		             {min[a] + 1, 0}, {min[a] - 1, US_EMALF},
		             {0, US_EMALF},   {full + 1, US_EMALF}};
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			uint8_t m[CAP];
			memcpy(m, q, slen);
			size_t mlen = set_mac_len(m, slen, cases[c].len);
			uint16_t err = 99;
			assert_int_equal(verify1(&k, NULL, 0, m, mlen, NOW, &err), cases[c].ret);
			assert_int_equal(err, 0);
		}
		/* A local policy above the minimum turns allowed truncations into BADTRUNC. */
		uint8_t m[CAP];
		memcpy(m, q, slen);
		size_t mlen = set_mac_len(m, slen, min[a]);
		tsig_verify_t v;
		uint16_t err;
		size_t stripped;
		tsig_verify_init(&v, &k, NULL, 0);
		assert_int_equal(v.min_mac_len, min[a]);
		v.min_mac_len = full;
		assert_int_equal(tsig_verify_msg(&v, m, mlen, NOW, &err, &stripped), US_ETSIG);
		assert_int_equal(err, TSIG_ERR_BADTRUNC);
		tsig_verify_deinit(&v);
		/* A truncated MAC is still checked, over the bytes it has. */
		m[(size_t)(v.rr.mac - m)] ^= 1;
		assert_int_equal(verify1(&k, NULL, 0, m, mlen, NOW, &err), US_ETSIG);
		assert_int_equal(err, TSIG_ERR_BADSIG);
	}

	/* A response builds on the truncated request MAC as it was sent. */
	tsig_key_t k;
	make_key(&k, TSIG_HMAC_SHA256, "trunc.example.");
	uint8_t q[CAP], r[CAP];
	size_t qlen = make_query(q, "example.com");
	size_t slen = sign(&k, q, qlen, NULL, 0, false, NOW, NULL, NULL);
	slen = set_mac_len(q, slen, 16);
	tsig_verify_t v;
	uint16_t err;
	size_t stripped, out;
	tsig_verify_init(&v, &k, NULL, 0);
	assert_int_equal(tsig_verify_msg(&v, q, slen, NOW, &err, &stripped), 0);
	assert_int_equal(v.mac_len, 16);
	size_t rlen = make_response(r, q);
	size_t srlen = sign(&k, r, rlen, v.mac, v.mac_len, false, NOW, NULL, NULL);
	assert_int_equal(verify1(&k, v.mac, 16, r, srlen, NOW, &err), 0);
	/* BADTRUNC is answered signed. */
	tsig_verify_deinit(&v);
	tsig_verify_init(&v, &k, NULL, 0);
	v.min_mac_len = 32;
	assert_int_equal(tsig_verify_msg(&v, q, slen, NOW, &err, &stripped), US_ETSIG);
	assert_int_equal(err, TSIG_ERR_BADTRUNC);
	rlen = make_response(r, q) - 16;
	wire_write16(r + WIRE_ANCOUNT, 0);
	wire_write16(r + WIRE_FLAGS, WIRE_QR | 9);
	assert_int_equal(tsig_answer_error(&k, &v.rr, err, r, rlen, CAP, NOW, &out), 0);
	uint8_t reqmac[16];
	memcpy(reqmac, v.rr.mac, 16);
	tsig_verify_deinit(&v);
	tsig_verify_init(&v, &k, reqmac, 16);
	assert_int_equal(tsig_verify_msg(&v, r, out, NOW, &err, &stripped), US_ETSIG);
	assert_int_equal(err, 0);
	assert_int_equal(v.peer_error, TSIG_ERR_BADTRUNC);
	assert_int_equal(v.mac_len, 32);
	tsig_verify_deinit(&v);
}

/*
 * A second, independent signer for streams, straight from RFC 8945 4.3.1 and 5.3.1 on top of
 * EVP_MAC: each signed message's MAC covers the prior MAC, every unsigned message since, the
 * message itself and the timers (all variables for the first). It lays out the TSIG RR with
 * tsig_sign and then writes its own MAC over the one tsig_sign computed.
 */
typedef struct ref_signer {
	const tsig_key_t *key;
	EVP_MAC_CTX *ctx;
	uint8_t prior[TSIG_MAC_MAX];
	size_t prior_len;
	bool open, first;
} ref_signer_t;

static void ref_open(ref_signer_t *s)
{
	if (s->open)
		return;
	static const char *digests[] = {"MD5", "SHA1", "SHA224", "SHA256", "SHA384", "SHA512"};
	OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	                                                   (char *)digests[s->key->alg], 0),
	                  OSSL_PARAM_construct_end()};
	assert_true(EVP_MAC_init(s->ctx, s->key->secret, s->key->secret_len, p));
	if (s->prior_len) {
		uint8_t l[2];
		wire_write16(l, (uint16_t)s->prior_len);
		assert_true(EVP_MAC_update(s->ctx, l, 2));
		assert_true(EVP_MAC_update(s->ctx, s->prior, s->prior_len));
	}
	s->open = true;
}

static void ref_init(ref_signer_t *s, const tsig_key_t *k, const uint8_t *req_mac, size_t n)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	assert_non_null(mac);
	s->ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	s->key = k;
	memcpy(s->prior, req_mac, n);
	s->prior_len = n;
	s->open = false;
	s->first = true;
}

/* Adds a message to the stream: signed (returns the new length) or not. */
static size_t ref_add(ref_signer_t *s, uint8_t *m, size_t len, bool do_sign, uint64_t now)
{
	ref_open(s);
	if (!do_sign) {
		assert_true(EVP_MAC_update(s->ctx, m, len));
		return len;
	}
	assert_true(EVP_MAC_update(s->ctx, m, len));
	uint8_t var[512];
	size_t n = 0;
	if (s->first) {
		memcpy(var, s->key->name, s->key->name_len);
		n = s->key->name_len;
		memcpy(var + n, "\0\xff\0\0\0\0", 6);
		n += 6;
		size_t al;
		const uint8_t *an = tsig_alg_name(s->key->alg, &al);
		memcpy(var + n, an, al);
		n += al;
	}
	wire_write16(var + n, (uint16_t)(now >> 32));
	wire_write32(var + n + 2, (uint32_t)now);
	wire_write16(var + n + 6, FUDGE);
	n += 8;
	if (s->first) {
		memset(var + n, 0, 4);
		n += 4;
	}
	assert_true(EVP_MAC_update(s->ctx, var, n));
	uint8_t mac[TSIG_MAC_MAX];
	size_t mac_len = 0;
	assert_true(EVP_MAC_final(s->ctx, mac, &mac_len, sizeof(mac)));
	size_t out = sign(s->key, m, len, NULL, 0, false, now, NULL, NULL);
	memcpy(m + out - 6 - mac_len, mac, mac_len);
	memcpy(s->prior, mac, mac_len);
	s->prior_len = mac_len;
	s->open = false;
	s->first = false;
	return out;
}

static void ref_deinit(ref_signer_t *s)
{
	EVP_MAC_CTX_free(s->ctx);
}

/* Message n of a transfer: one TXT record, the question only in the first. */
static size_t stream_msg(uint8_t *buf, const uint8_t *q, int n)
{
	size_t qend = WIRE_HDR_LEN + dname_len(q + WIRE_HDR_LEN) + 4;
	size_t len = n == 0 ? qend : WIRE_HDR_LEN;
	memcpy(buf, q, len);
	wire_write16(buf + WIRE_FLAGS, WIRE_QR | WIRE_AA);
	wire_write16(buf + WIRE_QDCOUNT, n == 0);
	wire_write16(buf + WIRE_ANCOUNT, 1);
	wire_write16(buf + WIRE_NSCOUNT, 0);
	wire_write16(buf + WIRE_ARCOUNT, 0);
	static const uint8_t rr[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0,   0,   16,  0,
	                             1, 0,   0,   1,   0,   0,   5,   4,   'p', 'a', 'r', 't'};
	memcpy(buf + len, rr, sizeof(rr));
	len += sizeof(rr);
	buf[len - 9] = (uint8_t)(n >> 8); /* the TTL's low bytes: every message differs */
	buf[len - 8] = (uint8_t)n;
	return len;
}

/*
 * Builds the stream described by layout ('S' signed, 'U' unsigned) answering a signed AXFR
 * request, and verifies it. Returns the index of the first message that fails, or -1 if all
 * pass; *done gets tsig_verify_done's verdict. skip and swap (index or -1) drop one message or
 * exchange it with the next, on the receiving side.
 */
static int run_stream(const char *layout, int skip, int swap, int *done)
{
	tsig_key_t k;
	make_key(&k, TSIG_HMAC_SHA256, "xfr.example.");
	uint8_t q[CAP], qmac[TSIG_MAC_MAX];
	size_t qmac_len, qlen = util_query(q, "example.com", WIRE_T_AXFR, WIRE_CLASS_IN, 0, false);
	sign(&k, q, qlen, NULL, 0, false, NOW, qmac, &qmac_len);

	size_t n = strlen(layout);
	uint8_t(*msgs)[256] = calloc(n, 256);
	size_t *lens = calloc(n, sizeof(size_t));
	ref_signer_t s;
	ref_init(&s, &k, qmac, qmac_len);
	for (size_t i = 0; i < n; i++) {
		size_t len = stream_msg(msgs[i], q, (int)i);
		lens[i] = ref_add(&s, msgs[i], len, layout[i] == 'S', NOW + i / 10);
	}
	ref_deinit(&s);
	if (swap >= 0) {
		uint8_t tmp[256];
		size_t tl = lens[swap];
		memcpy(tmp, msgs[swap], 256);
		memcpy(msgs[swap], msgs[swap + 1], 256);
		lens[swap] = lens[swap + 1];
		memcpy(msgs[swap + 1], tmp, 256);
		lens[swap + 1] = tl;
	}

	tsig_verify_t v;
	tsig_verify_init(&v, &k, qmac, qmac_len);
	int failed = -1;
	for (size_t i = 0; i < n; i++) {
		if ((int)i == skip)
			continue;
		uint16_t err = 99;
		size_t stripped = 0;
		int ret = tsig_verify_msg(&v, msgs[i], lens[i], NOW, &err, &stripped);
		if (ret < 0) {
			failed = (int)i;
			/* A dead stream stays dead. */
			assert_int_equal(
			    tsig_verify_msg(&v, msgs[i], lens[i], NOW, &err, &stripped), US_ETSIG);
			break;
		}
		assert_int_equal(err, 0);
		bool was_signed = wire_read16(msgs[i] + WIRE_ARCOUNT) == 1;
		assert_int_equal(ret, was_signed ? 0 : TSIG_UNSIGNED);
		assert_int_equal(stripped, was_signed ? lens[i] - tsig_space(&k) : lens[i]);
	}
	*done = tsig_verify_done(&v);
	tsig_verify_deinit(&v);
	free(msgs);
	free(lens);
	return failed;
}

static void streams(void **state)
{
	(void)state;
	char layout[256];
	int done;
	assert_int_equal(run_stream("S", -1, -1, &done), -1);
	assert_int_equal(done, 0);
	assert_int_equal(run_stream("SUUUUUS", -1, -1, &done), -1);
	assert_int_equal(done, 0);
	assert_int_equal(run_stream("SSUSUUSS", -1, -1, &done), -1);
	assert_int_equal(done, 0);

	/* 99 unsigned in a row are allowed, the 100th is not. */
	memset(layout, 0, sizeof(layout));
	layout[0] = 'S';
	memset(layout + 1, 'U', 99);
	layout[100] = 'S';
	assert_int_equal(run_stream(layout, -1, -1, &done), -1);
	assert_int_equal(done, 0);
	layout[100] = 'U';
	layout[101] = 'S';
	assert_int_equal(run_stream(layout, -1, -1, &done), 100);
	assert_int_equal(done, US_ETSIG);

	/* It must start and end signed. */
	assert_int_equal(run_stream("SUUU", -1, -1, &done), -1);
	assert_int_equal(done, US_ETSIG);
	assert_int_equal(run_stream("SUS", -1, -1, &done), -1);
	assert_int_equal(done, 0);
	assert_int_equal(run_stream("USS", -1, -1, &done), 0);
	assert_int_equal(done, US_ETSIG);

	/* A message lost or out of order breaks the next MAC. */
	assert_int_equal(run_stream("SUUUS", 2, -1, &done), 4);
	assert_int_equal(run_stream("SUUUS", -1, 1, &done), 4);
	assert_int_equal(run_stream("SSS", 1, -1, &done), 2);
	assert_int_equal(run_stream("SSS", -1, 1, &done), 1);

	/* An empty stream is not a verified one. */
	tsig_key_t k;
	make_key(&k, TSIG_HMAC_SHA256, "xfr.example.");
	tsig_verify_t v;
	tsig_verify_init(&v, &k, NULL, 0);
	assert_int_equal(tsig_verify_done(&v), US_ETSIG);
	tsig_verify_deinit(&v);
	tsig_verify_deinit(&v);
}

/* tsig_sign chaining with timers_only matches the reference signer, for every algorithm. */
static void stream_signing_matches_reference(void **state)
{
	(void)state;
	for (int a = 0; a < TSIG_ALG_COUNT; a++) {
		tsig_key_t k;
		make_key(&k, (tsig_alg_t)a, "xfr.example.");
		uint8_t q[CAP], qmac[TSIG_MAC_MAX], mac[TSIG_MAC_MAX];
		size_t qmac_len, mac_len;
		size_t qlen = util_query(q, "example.com", WIRE_T_AXFR, WIRE_CLASS_IN, 0, false);
		sign(&k, q, qlen, NULL, 0, false, NOW, qmac, &qmac_len);
		ref_signer_t s;
		ref_init(&s, &k, qmac, qmac_len);
		memcpy(mac, qmac, qmac_len);
		mac_len = qmac_len;
		tsig_verify_t v;
		tsig_verify_init(&v, &k, qmac, qmac_len);
		for (int i = 0; i < 5; i++) {
			uint8_t m1[256], m2[256];
			size_t len = stream_msg(m1, q, i);
			memcpy(m2, m1, len);
			size_t l1 = ref_add(&s, m1, len, true, NOW + (uint64_t)i);
			size_t l2 = sign(&k, m2, len, mac, mac_len, i > 0, NOW + (uint64_t)i, mac,
			                 &mac_len);
			assert_int_equal(l1, l2);
			assert_memory_equal(m1, m2, l1);
			uint16_t err;
			size_t stripped;
			assert_int_equal(tsig_verify_msg(&v, m2, l2, NOW, &err, &stripped), 0);
		}
		assert_int_equal(tsig_verify_done(&v), 0);
		tsig_verify_deinit(&v);
		ref_deinit(&s);
	}
}

static void hostile_layouts(void **state)
{
	(void)state;
	tsig_key_t k;
	make_key(&k, TSIG_HMAC_SHA256, "understudy-key.");
	uint8_t q[CAP], m[CAP];
	size_t qlen = make_query(q, "example.com");
	size_t slen = sign(&k, q, qlen, NULL, 0, false, NOW, NULL, NULL);
	tsig_rr_t rr;
	/* TSIG not last: put it first in the additional section. */
	uint8_t opt[11];
	memcpy(opt, q + qlen - 11, 11);
	memcpy(m, q, qlen - 11);
	memcpy(m + qlen - 11, q + qlen, slen - qlen);
	memcpy(m + slen - 11, opt, 11);
	assert_int_equal(tsig_find(m, slen, &rr), US_EMALF);
	/* In the answer section. */
	memcpy(m, q, slen);
	wire_write16(m + WIRE_ANCOUNT, 2);
	wire_write16(m + WIRE_ARCOUNT, 0);
	assert_int_equal(tsig_find(m, slen, &rr), US_EMALF);
	/* Two of them. */
	memcpy(m, q, slen);
	memcpy(m + slen, q + qlen, slen - qlen);
	wire_write16(m + WIRE_ARCOUNT, 3);
	assert_int_equal(tsig_find(m, slen + slen - qlen, &rr), US_EMALF);
	/* Class IN. */
	memcpy(m, q, slen);
	wire_write16(m + qlen + k.name_len + 2, WIRE_CLASS_IN);
	assert_int_equal(tsig_find(m, slen, &rr), US_EMALF);
	/* Rdata one byte longer than its fields. */
	memcpy(m, q, slen);
	m[slen] = 0;
	wire_write16(m + qlen + k.name_len + 8,
	             (uint16_t)(wire_read16(m + qlen + k.name_len + 8) + 1));
	assert_int_equal(tsig_find(m, slen + 1, &rr), US_EMALF);
	/* A compressed algorithm name is not one. */
	memcpy(m, q, slen);
	m[qlen + k.name_len + 10] = 0xC0;
	assert_int_equal(tsig_find(m, slen, &rr), US_EMALF);
	/* Headers alone, and less. */
	assert_int_equal(tsig_find(q, 12, &rr), US_EMALF);
	memset(m, 0, 12);
	assert_int_equal(tsig_find(m, 12, &rr), 0);
	assert_int_equal(tsig_find(m, 11, &rr), US_EMALF);
	uint16_t err;
	assert_int_equal(verify1(&k, NULL, 0, m, 12, NOW, &err), US_ETSIG); /* unsigned */
	assert_int_equal(err, 0);
	assert_int_equal(verify1(&k, NULL, 0, m, 0, NOW, &err), US_EMALF);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* Random damage to signed messages never crashes, reads out of bounds or verifies. */
static void hostile_mutations(void **state)
{
	(void)state;
	tsig_key_t k;
	make_key(&k, TSIG_HMAC_SHA256, "understudy-key.");
	uint8_t seeds[3][CAP], mac[TSIG_MAC_MAX];
	size_t seed_len[3], mac_len;
	seed_len[0] = make_query(seeds[0], "www.example.com");
	seed_len[0] = sign(&k, seeds[0], seed_len[0], NULL, 0, false, NOW, mac, &mac_len);
	seed_len[1] = make_response(seeds[1], seeds[0]);
	seed_len[1] = sign(&k, seeds[1], seed_len[1], mac, mac_len, false, NOW, NULL, NULL);
	memcpy(seeds[2], tsig_hmac_sha224_query, sizeof(tsig_hmac_sha224_query));
	seed_len[2] = sizeof(tsig_hmac_sha224_query);

	int valid = 0;
	for (int it = 0; it < 20000; it++) {
		int which = (int)(rng() % 3);
		size_t len = seed_len[which];
		/* An exact-size heap copy, so ASan sees any read past the end. */
		uint8_t *m = malloc(CAP);
		memcpy(m, seeds[which], len);
		int nmut = 1 + (int)(rng() % 4);
		for (int j = 0; j < nmut && len > 0; j++) {
			switch (rng() % 6) {
			case 0:
			case 1:
				m[rng() % len] ^= (uint8_t)(1 + rng() % 255);
				break;
			case 2:
				m[rng() % len] = (uint8_t)rng();
				break;
			case 3:
				len = rng() % (len + 1);
				break;
			case 4:
				if (len + 8 < CAP) {
					size_t at = rng() % (len + 1);
					memmove(m + at + 8, m + at, len - at);
					for (int b = 0; b < 8; b++)
						m[at + b] = (uint8_t)rng();
					len += 8;
				}
				break;
			case 5:
				if (len >= 12)
					wire_write16(m + 4 + 2 * (rng() % 4),
					             (uint16_t)(rng() % 5));
				break;
			}
		}
		uint8_t *exact = malloc(len ? len : 1);
		memcpy(exact, m, len);
		tsig_rr_t rr;
		int f = tsig_find(exact, len, &rr);
		assert_true(f == 0 || f == 1 || f == US_EMALF);
		if (f == 1)
			assert_true(rr.start < len && rr.mac + rr.mac_len <= exact + len &&
			            rr.other + rr.other_len == exact + len);
		uint16_t err;
		size_t stripped = 0;
		tsig_verify_t v;
		tsig_verify_init(&v, &k, which == 1 ? mac : NULL, which == 1 ? mac_len : 0);
		int ret = tsig_verify_msg(&v, exact, len, NOW, &err, &stripped);
		assert_true(ret == 0 || ret == US_EMALF || ret == US_ETSIG);
		if (ret == 0) {
			valid++; /* only a change to the ID or the TSIG's TTL can leave it valid */
			assert_true(stripped < len);
		}
		/* Fed as a later message of a stream too, to reach the unsigned path. */
		ret = tsig_verify_msg(&v, exact, len, NOW, &err, &stripped);
		assert_true(ret == US_ETSIG || ret == US_EMALF || ret == 0 || ret == TSIG_UNSIGNED);
		tsig_verify_deinit(&v);
		size_t out;
		int s = tsig_strip(exact, len, &out);
		assert_true(s == f);
		assert_true(out <= len || s < 0);
		free(exact);
		free(m);
	}
	assert_true(valid < 20000 / 10);
}

/* dnspython-signed messages verify in C, and C signs the same bytes dnspython did. */
static void dnspython_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(tsig_vecs) / sizeof(tsig_vecs[0]); i++) {
		const tsig_vec_t *tv = &tsig_vecs[i];
		tsig_key_t k;
		assert_int_equal(tsig_key_init(&k, tv->key_name, (tsig_alg_t)tv->alg, tv->secret,
		                               tv->secret_len),
		                 0);
		tsig_verify_t v;
		uint16_t err;
		size_t qstripped, rstripped;
		tsig_verify_init(&v, &k, NULL, 0);
		assert_int_equal(
		    tsig_verify_msg(&v, tv->query, tv->query_len, TSIG_VEC_NOW, &err, &qstripped),
		    0);
		uint8_t qmac[TSIG_MAC_MAX];
		size_t qmac_len = v.mac_len;
		memcpy(qmac, v.mac, qmac_len);
		tsig_verify_deinit(&v);
		assert_int_equal(
		    verify1(&k, NULL, 0, tv->query, tv->query_len, TSIG_VEC_NOW + 301, &err),
		    US_ETSIG);
		assert_int_equal(err, TSIG_ERR_BADTIME);
		tsig_verify_init(&v, &k, qmac, qmac_len);
		assert_int_equal(tsig_verify_msg(&v, tv->response, tv->response_len, TSIG_VEC_NOW,
		                                 &err, &rstripped),
		                 0);
		tsig_verify_deinit(&v);

		/* Signed again in C, from the stripped bytes: the same MAC, and the same bytes
		 * when dnspython wrote the names as we do (lower case, owner uncompressed). */
		bool same_bytes = tv->alg != TSIG_HMAC_MD5 && tv->alg != TSIG_HMAC_SHA224 &&
		                  tv->alg != TSIG_HMAC_SHA384;
		const uint8_t *orig[2] = {tv->query, tv->response};
		size_t olen[2] = {tv->query_len, tv->response_len};
		for (int j = 0; j < 2; j++) {
			uint8_t m[CAP], mac[TSIG_MAC_MAX];
			size_t len, mac_len;
			memcpy(m, orig[j], olen[j]);
			assert_int_equal(tsig_strip(m, olen[j], &len), 1);
			assert_int_equal(len, j ? rstripped : qstripped);
			size_t out = sign(&k, m, len, j ? qmac : NULL, j ? qmac_len : 0, false,
			                  TSIG_VEC_NOW, mac, &mac_len);
			tsig_rr_t rr;
			assert_int_equal(tsig_find(orig[j], olen[j], &rr), 1);
			assert_int_equal(rr.mac_len, mac_len);
			assert_memory_equal(rr.mac, mac, mac_len);
			if (same_bytes) {
				assert_int_equal(out, olen[j]);
				assert_memory_equal(m, orig[j], out);
			}
		}
	}

	/* The transfer: signed, three unsigned, signed, signed. */
	tsig_key_t k;
	const tsig_vec_t *tv = &tsig_vecs[TSIG_HMAC_SHA256];
	assert_int_equal(
	    tsig_key_init(&k, tv->key_name, TSIG_HMAC_SHA256, tv->secret, tv->secret_len), 0);
	tsig_rr_t rq;
	assert_int_equal(tsig_find(stream_query, sizeof(stream_query), &rq), 1);
	uint16_t err;
	assert_int_equal(verify1(&k, NULL, 0, stream_query, sizeof(stream_query), NOW, &err), 0);
	tsig_verify_t v;
	tsig_verify_init(&v, &k, rq.mac, rq.mac_len);
	ref_signer_t s;
	ref_init(&s, &k, rq.mac, rq.mac_len);
	uint8_t prev_mac[TSIG_MAC_MAX];
	for (size_t i = 0; i < sizeof(stream_msgs) / sizeof(stream_msgs[0]); i++) {
		const tsig_vec_msg_t *sm = &stream_msgs[i];
		size_t stripped;
		int ret = tsig_verify_msg(&v, sm->wire, sm->len, NOW, &err, &stripped);
		assert_int_equal(ret, sm->is_signed ? 0 : TSIG_UNSIGNED);
		/* The reference signer reproduces every MAC from the stripped messages. */
		uint8_t m[CAP];
		size_t len;
		memcpy(m, sm->wire, sm->len);
		assert_int_equal(tsig_strip(m, sm->len, &len), sm->is_signed);
		size_t out = ref_add(&s, m, len, sm->is_signed, NOW);
		assert_int_equal(out, sm->len);
		assert_memory_equal(m, sm->wire, out);
		/* tsig_sign reproduces the last one, signed right after a signed one. */
		if (i == 5) {
			memcpy(m, sm->wire, sm->len);
			assert_int_equal(tsig_strip(m, sm->len, &len), 1);
			out = sign(&k, m, len, prev_mac, 32, true, NOW, NULL, NULL);
			assert_int_equal(out, sm->len);
			assert_memory_equal(m, sm->wire, out);
		}
		memcpy(prev_mac, v.mac, 32);
	}
	assert_int_equal(tsig_verify_done(&v), 0);
	tsig_verify_deinit(&v);
	ref_deinit(&s);

	/* BADTIME: C rejects dnspython's request at the vector's server time, and answers it
	 * with the very bytes dnspython produced for that answer; and reads dnspython's. */
	tsig_verify_init(&v, &k, NULL, 0);
	size_t stripped;
	assert_int_equal(tsig_verify_msg(&v, badtime_query, sizeof(badtime_query),
	                                 TSIG_VEC_BADTIME_NOW, &err, &stripped),
	                 US_ETSIG);
	assert_int_equal(err, TSIG_ERR_BADTIME);
	uint8_t m[CAP];
	size_t len, out;
	memcpy(m, badtime_response, sizeof(badtime_response));
	assert_int_equal(tsig_strip(m, sizeof(badtime_response), &len), 1);
	assert_int_equal(tsig_answer_error(&k, &v.rr, err, m, len, CAP, TSIG_VEC_BADTIME_NOW, &out),
	                 0);
	assert_int_equal(out, sizeof(badtime_response));
	assert_memory_equal(m, badtime_response, out);
	uint8_t reqmac[32];
	memcpy(reqmac, v.rr.mac, 32);
	tsig_verify_deinit(&v);
	tsig_verify_init(&v, &k, reqmac, 32);
	assert_int_equal(
	    tsig_verify_msg(&v, badtime_response, sizeof(badtime_response), NOW, &err, &stripped),
	    US_ETSIG);
	assert_int_equal(err, 0);
	assert_int_equal(v.peer_error, TSIG_ERR_BADTIME);
	tsig_verify_deinit(&v);
}

/*
 * With TSIG_DUMP=FILE, writes messages signed in C for `tsig_vectors.py --check FILE`, which
 * has dnspython verify them.
 */
static void hex(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

static void dump_line(FILE *f, const char *kind, const tsig_vec_t *tv, uint64_t now,
                      const uint8_t *m, size_t len, const uint8_t *req_mac, size_t req_mac_len)
{
	static const char *names[] = {"TSIG_HMAC_MD5",    "TSIG_HMAC_SHA1",   "TSIG_HMAC_SHA224",
	                              "TSIG_HMAC_SHA256", "TSIG_HMAC_SHA384", "TSIG_HMAC_SHA512"};
	fprintf(f, "%s %s %s ", kind, tv->key_name, names[tv->alg]);
	hex(f, tv->secret, tv->secret_len);
	fprintf(f, " %llu ", (unsigned long long)now);
	hex(f, m, len);
	if (req_mac_len) {
		fputc(' ', f);
		hex(f, req_mac, req_mac_len);
	}
	fputc('\n', f);
}

static void dump_for_dnspython(void **state)
{
	(void)state;
	const char *path = getenv("TSIG_DUMP");
	if (!path)
		return; /* the check needs dnspython, which unit tests do not run */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < sizeof(tsig_vecs) / sizeof(tsig_vecs[0]); i++) {
		const tsig_vec_t *tv = &tsig_vecs[i];
		tsig_key_t k;
		assert_int_equal(tsig_key_init(&k, tv->key_name, (tsig_alg_t)tv->alg, tv->secret,
		                               tv->secret_len),
		                 0);
		uint8_t q[CAP], r[CAP], qmac[TSIG_MAC_MAX], mac[TSIG_MAC_MAX];
		size_t qmac_len, mac_len;
		size_t qlen = make_query(q, "www.example.com");
		size_t rlen = make_response(r, q);
		qlen = sign(&k, q, qlen, NULL, 0, false, NOW + i, qmac, &qmac_len);
		dump_line(f, "query", tv, NOW + i, q, qlen, NULL, 0);
		rlen = sign(&k, r, rlen, qmac, qmac_len, false, NOW + i, NULL, NULL);
		dump_line(f, "response", tv, NOW + i, r, rlen, qmac, qmac_len);
		/* A stream signed message by message, as our transfers out will be. */
		memcpy(mac, qmac, qmac_len);
		mac_len = qmac_len;
		for (int n = 0; n < 4; n++) {
			uint8_t m[256];
			size_t len = stream_msg(m, q, n);
			len = sign(&k, m, len, mac, mac_len, n > 0, NOW + i, mac, &mac_len);
			dump_line(f, n ? "stream-next" : "stream-first", tv, NOW + i, m, len, qmac,
			          qmac_len);
		}
		/* Our BADTIME answer to the query. */
		tsig_rr_t rr;
		assert_int_equal(tsig_find(q, qlen, &rr), 1);
		rlen = make_response(r, q) - 16;
		wire_write16(r + WIRE_ANCOUNT, 0);
		wire_write16(r + WIRE_FLAGS, WIRE_QR | 9);
		assert_int_equal(
		    tsig_answer_error(&k, &rr, TSIG_ERR_BADTIME, r, rlen, CAP, NOW + 5000, &rlen),
		    0);
		dump_line(f, "badtime", tv, NOW + i, r, rlen, qmac, qmac_len);
	}
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(key_init_and_find), cmocka_unit_test(round_trip_all_algorithms),
	    cmocka_unit_test(empty_secret),      cmocka_unit_test(sign_errors),
	    cmocka_unit_test(tamper_every_byte), cmocka_unit_test(bad_key),
	    cmocka_unit_test(bad_time),          cmocka_unit_test(truncated_macs),
	    cmocka_unit_test(streams),           cmocka_unit_test(stream_signing_matches_reference),
	    cmocka_unit_test(hostile_layouts),   cmocka_unit_test(hostile_mutations),
	    cmocka_unit_test(dnspython_vectors), cmocka_unit_test(dump_for_dnspython),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
