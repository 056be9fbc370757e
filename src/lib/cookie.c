/* SPDX-License-Identifier: MIT */
/* cookie: RFC 9018 server cookies, made and checked without allocating. */
#include <string.h>

#include "cookie.h"
#include "error.h"

int cookie_parse(const uint8_t *data, size_t len, const uint8_t **cc, const uint8_t **sc,
                 size_t *sclen)
{
	if (len != COOKIE_CLIENT_LEN && (len < COOKIE_CLIENT_LEN + COOKIE_SERVER_MIN ||
	                                 len > COOKIE_CLIENT_LEN + COOKIE_SERVER_MAX))
		return US_EMALF;
	*cc = data;
	*sc = data + COOKIE_CLIENT_LEN;
	*sclen = len - COOKIE_CLIENT_LEN;
	return 0;
}

static uint64_t cookie_hash(const uint8_t secret[COOKIE_SECRET_LEN],
                            const uint8_t cc[COOKIE_CLIENT_LEN], const uint8_t head[8],
                            uint8_t family, const uint8_t *addr)
{
	siphash_t h;
	siphash_init(&h, secret);
	siphash_update(&h, cc, COOKIE_CLIENT_LEN);
	siphash_update(&h, head, 8);
	siphash_update(&h, addr, family == 4 ? 4 : 16);
	return siphash_final(&h);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void cookie_make(const uint8_t secret[COOKIE_SECRET_LEN], const uint8_t cc[COOKIE_CLIENT_LEN],
                 uint8_t family, const uint8_t *addr, uint32_t now, uint8_t out[COOKIE_SERVER_LEN])
{
	out[0] = COOKIE_VERSION;
	out[1] = out[2] = out[3] = 0;
	out[4] = (uint8_t)(now >> 24);
	out[5] = (uint8_t)(now >> 16);
	out[6] = (uint8_t)(now >> 8);
	out[7] = (uint8_t)now;
	/* The hash goes out as the reference SipHash writes it, little-endian, as BIND and
	 * Knot DNS do. */
	put_le64(out + 8, cookie_hash(secret, cc, out, family, addr));
}

/* Compares without an early exit, so timing tells nothing about the expected hash. */
static bool same8(const uint8_t *a, const uint8_t *b)
{
	uint8_t d = 0;
	for (int i = 0; i < 8; i++)
		d |= (uint8_t)(a[i] ^ b[i]);
	return d == 0;
}

cookie_state_t cookie_check(const cookie_secrets_t *secrets, const uint8_t cc[COOKIE_CLIENT_LEN],
                            const uint8_t *sc, size_t sclen, uint8_t family, const uint8_t *addr,
                            uint32_t now, bool *reuse)
{
	*reuse = false;
	if (sclen == 0)
		return COOKIE_CLIENT_ONLY;
	if (sclen != COOKIE_SERVER_LEN || sc[0] != COOKIE_VERSION || sc[1] || sc[2] || sc[3])
		return COOKIE_BAD;
	uint32_t ts = (uint32_t)sc[4] << 24 | (uint32_t)sc[5] << 16 | (uint32_t)sc[6] << 8 | sc[7];
	/* Serial arithmetic on 32-bit time (RFC 9018 4.3), so 2106 is no cliff. */
	int32_t age = (int32_t)(now - ts);
	if (age > COOKIE_LIFETIME || age < -COOKIE_FUTURE)
		return COOKIE_BAD;
	uint8_t want[8];
	put_le64(want, cookie_hash(secrets->current, cc, sc, family, addr));
	if (same8(want, sc + 8)) {
		*reuse = age >= 0 && age < COOKIE_REFRESH;
		return COOKIE_GOOD;
	}
	if (!secrets->has_previous)
		return COOKIE_BAD;
	put_le64(want, cookie_hash(secrets->previous, cc, sc, family, addr));
	return same8(want, sc + 8) ? COOKIE_GOOD : COOKIE_BAD;
}
