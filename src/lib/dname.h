/* SPDX-License-Identifier: MIT */
/* dname: domain names in uncompressed wire form: parsing, text, case, comparison. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNAME_MAXLEN    255
#define DNAME_MAXLABELS 128
#define DNAME_TEXT_MAX  1024 /* worst case: every byte escaped as \DDD, plus dots */

/*
 * Reads a possibly compressed name from pkt at *pos into out (DNAME_MAXLEN bytes), in wire
 * form, case kept. On success stores the name's length in *outlen, advances *pos past the
 * name's bytes at its original position and returns 0. Fails with US_EMALF (truncated, bad
 * label type, too long) or US_ECOMPRESS (pointer not strictly backwards, so loops cannot occur).
 */
int dname_unpack(const uint8_t *pkt, size_t pktlen, size_t *pos, uint8_t *out, size_t *outlen);

/* Length of a well-formed uncompressed wire name, root label included. */
size_t dname_len(const uint8_t *name);

/*
 * Checks that buf[0..len) starts with a well-formed uncompressed name and returns that name's
 * length (the bytes after it are not looked at), or US_EMALF.
 */
int dname_check(const uint8_t *buf, size_t len);

/* Copies name to dst (may equal name) with ASCII letters lower-cased. */
void dname_lower(uint8_t *dst, const uint8_t *name, size_t len);

/* Number of labels, not counting the root. */
int dname_labels(const uint8_t *name);

/*
 * Fills offs with the offset of each label (offs[0] = 0 for the leftmost) and returns the label
 * count, not counting the root.
 */
int dname_label_offsets(const uint8_t *name, uint8_t offs[DNAME_MAXLABELS]);

/* True if a and b are equal ignoring ASCII case. */
bool dname_equal(const uint8_t *a, const uint8_t *b);

/* True if name equals parent or lies below it, ignoring ASCII case. */
bool dname_is_sub(const uint8_t *name, const uint8_t *parent);

/* RFC 4034 6.1 canonical order; <0, 0, >0. Case-insensitive. */
int dname_cmp(const uint8_t *a, const uint8_t *b);

/* Hash of an already lower-cased name. */
uint32_t dname_hash(const uint8_t *name, size_t len);

/*
 * Writes the presentation form of name into buf with a trailing dot, escaping as RFC 1035 5.1.
 * Returns the text length, or US_ETRUNC if it does not fit in len bytes (NUL included).
 */
int dname_to_text(const uint8_t *name, char *buf, size_t len);

/*
 * Parses an absolute presentation-form name (trailing dot optional; "." or "" is the root;
 * \X and \DDD escapes) into out (DNAME_MAXLEN bytes). Returns the wire length or US_ENAME.
 */
int dname_from_text(const char *text, uint8_t *out);
