/* SPDX-License-Identifier: MIT */
/* netset: sets of IPv4 and IPv6 prefixes (whitelists, blocklists) with fast membership tests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NETSET_TEXT_MAX 64 /* "ADDR/BITS" of the longest IPv6 address, NUL included */

enum { NET_V4 = 4, NET_V6 = 6 };

/* A prefix: family NET_V4 (4 address bytes used) or NET_V6 (16), bits beyond `bits` zero. */
typedef struct netprefix {
	uint8_t family;
	uint8_t bits;
	uint8_t addr[16];
} netprefix_t;

/*
 * Parses "ADDR/BITS" or "ADDR" (all bits) into out. Strict: decimal bits within the family's
 * length, and no address bits set beyond them (a typo more often than not). Returns 0, or
 * US_EINVAL with *why saying what is wrong.
 */
int netprefix_parse(const char *text, netprefix_t *out, const char **why);

/* Writes "ADDR/BITS" into buf (NETSET_TEXT_MAX bytes). */
void netprefix_text(const netprefix_t *p, char *buf, size_t len);

/* Zeroes the bits of addr (4 or 16 bytes by family) beyond bits, into out. */
void netprefix_mask(uint8_t family, const uint8_t *addr, uint8_t bits, uint8_t *out);

/* True if the address (4 or 16 bytes by family) lies in p. */
bool netprefix_contains(const netprefix_t *p, uint8_t family, const uint8_t *addr);

typedef struct netset netset_t;

/*
 * A set holding prefixes p[0..n) (duplicates kept once). Membership costs one binary search
 * per distinct prefix length in the set, whatever its size. NULL when out of memory. The set
 * is immutable: to change it, make a new one (netset_with) and publish that.
 */
netset_t *netset_new(const netprefix_t *p, size_t n);

/* A new set: s (NULL for empty) plus add (NULL for none) minus del (NULL for none). */
netset_t *netset_with(const netset_t *s, const netprefix_t *add, const netprefix_t *del);

/* Frees s; NULL is a no-op. */
void netset_free(netset_t *s);

/* Number of prefixes in s (0 for NULL). */
size_t netset_size(const netset_t *s);

/* The i-th prefix, in sorted order (IPv4 first, then by length and address). */
const netprefix_t *netset_at(const netset_t *s, size_t i);

/* True if s (NULL is empty) holds an exact copy of p. */
bool netset_has(const netset_t *s, const netprefix_t *p);

/* True if the address (4 or 16 bytes by family) lies in any prefix of s (NULL is empty). */
bool netset_contains(const netset_t *s, uint8_t family, const uint8_t *addr);
