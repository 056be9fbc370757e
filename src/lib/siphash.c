/* SPDX-License-Identifier: MIT */
/* siphash: SipHash-2-4, written from the paper (https://131002.net/siphash/siphash.pdf). */
#include <string.h>

#include "siphash.h"

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t load64le(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

#define SIPROUND(h)                                                                                \
	do {                                                                                       \
		h->v0 += h->v1;                                                                    \
		h->v1 = rotl(h->v1, 13);                                                           \
		h->v1 ^= h->v0;                                                                    \
		h->v0 = rotl(h->v0, 32);                                                           \
		h->v2 += h->v3;                                                                    \
		h->v3 = rotl(h->v3, 16);                                                           \
		h->v3 ^= h->v2;                                                                    \
		h->v0 += h->v3;                                                                    \
		h->v3 = rotl(h->v3, 21);                                                           \
		h->v3 ^= h->v0;                                                                    \
		h->v2 += h->v1;                                                                    \
		h->v1 = rotl(h->v1, 17);                                                           \
		h->v1 ^= h->v2;                                                                    \
		h->v2 = rotl(h->v2, 32);                                                           \
	} while (0)

static inline void compress(siphash_t *h, uint64_t m)
{
	h->v3 ^= m;
	SIPROUND(h);
	SIPROUND(h);
	h->v0 ^= m;
}

void siphash_init(siphash_t *h, const uint8_t key[SIPHASH_KEY_LEN])
{
	uint64_t k0 = load64le(key), k1 = load64le(key + 8);
	h->v0 = k0 ^ 0x736f6d6570736575ULL;
	h->v1 = k1 ^ 0x646f72616e646f6dULL;
	h->v2 = k0 ^ 0x6c7967656e657261ULL;
	h->v3 = k1 ^ 0x7465646279746573ULL;
	h->tail = 0;
	h->len = 0;
}

void siphash_update(siphash_t *h, const void *data, size_t n)
{
	const uint8_t *p = data;
	size_t fill = h->len & 7;
	h->len += n;
	/* Complete a partial word first. */
	while (fill && n) {
		h->tail |= (uint64_t)*p++ << (8 * fill);
		n--;
		if (++fill == 8) {
			compress(h, h->tail);
			h->tail = 0;
			fill = 0;
		}
	}
	for (; n >= 8; n -= 8, p += 8)
		compress(h, load64le(p));
	for (size_t i = 0; i < n; i++)
		h->tail |= (uint64_t)p[i] << (8 * (fill + i));
}

uint64_t siphash_final(siphash_t *h)
{
	compress(h, h->tail | (uint64_t)(h->len & 0xff) << 56);
	h->v2 ^= 0xff;
	SIPROUND(h);
	SIPROUND(h);
	SIPROUND(h);
	SIPROUND(h);
	return h->v0 ^ h->v1 ^ h->v2 ^ h->v3;
}

uint64_t siphash24(const uint8_t key[SIPHASH_KEY_LEN], const void *data, size_t n)
{
	siphash_t h;
	siphash_init(&h, key);
	siphash_update(&h, data, n);
	return siphash_final(&h);
}

uint64_t siphash13(const uint8_t key[SIPHASH_KEY_LEN], const void *data, size_t n)
{
	const uint8_t *p = data;
	uint64_t k0 = load64le(key), k1 = load64le(key + 8);
	siphash_t st = {.v0 = k0 ^ 0x736f6d6570736575ULL,
	                .v1 = k1 ^ 0x646f72616e646f6dULL,
	                .v2 = k0 ^ 0x6c7967656e657261ULL,
	                .v3 = k1 ^ 0x7465646279746573ULL};
	siphash_t *h = &st;
	size_t left = n;
	for (; left >= 8; left -= 8, p += 8) {
		uint64_t m = load64le(p);
		h->v3 ^= m;
		SIPROUND(h);
		h->v0 ^= m;
	}
	uint64_t m = (uint64_t)(n & 0xff) << 56;
	for (size_t i = 0; i < left; i++)
		m |= (uint64_t)p[i] << (8 * i);
	h->v3 ^= m;
	SIPROUND(h);
	h->v0 ^= m;
	h->v2 ^= 0xff;
	SIPROUND(h);
	SIPROUND(h);
	SIPROUND(h);
	return h->v0 ^ h->v1 ^ h->v2 ^ h->v3;
}
