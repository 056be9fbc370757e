/* SPDX-License-Identifier: MIT */
/* siphash: SipHash-2-4 (Aumasson and Bernstein), the keyed hash of RFC 9018 cookies and RRL. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16

/* An incremental SipHash-2-4 state on the stack: no allocation, ever. */
typedef struct siphash {
	uint64_t v0, v1, v2, v3;
	uint64_t tail; /* bytes not yet hashed, little-endian */
	size_t len;    /* bytes fed so far */
} siphash_t;

/* Starts a hash with the 16-byte key (the reference's byte order: k0 = key[0..8) LE). */
void siphash_init(siphash_t *h, const uint8_t key[SIPHASH_KEY_LEN]);

/* Feeds n bytes. */
void siphash_update(siphash_t *h, const void *data, size_t n);

/* The 64-bit result; the reference implementation writes it out little-endian. */
uint64_t siphash_final(siphash_t *h);

/* One-shot SipHash-2-4 of data[0..n). */
uint64_t siphash24(const uint8_t key[SIPHASH_KEY_LEN], const void *data, size_t n);

/*
 * One-shot SipHash-1-3 of data[0..n): the same keyed function with one compression and three
 * finalisation rounds, as hash tables use it (Rust's HashMap, Python's): still a PRF the client
 * cannot aim collisions at without the key, at about half the cost of 2-4 on short inputs.
 */
uint64_t siphash13(const uint8_t key[SIPHASH_KEY_LEN], const void *data, size_t n);
