/* SPDX-License-Identifier: MIT */
/* dname: domain names in uncompressed wire form: parsing, text, case, comparison. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "dname.h"
#include "error.h"

static const uint8_t lower_tab[256] = {
#define L(c)   (uint8_t)((c) >= 'A' && (c) <= 'Z' ? (c) + 32 : (c))
#define L4(c)  L(c), L(c + 1), L(c + 2), L(c + 3)
#define L16(c) L4(c), L4(c + 4), L4(c + 8), L4(c + 12)
#define L64(c) L16(c), L16(c + 16), L16(c + 32), L16(c + 48)
    L64(0), L64(64), L64(128), L64(192)
#undef L64
#undef L16
#undef L4
#undef L
};

static inline uint8_t lc(uint8_t c)
{
	return lower_tab[c];
}

int dname_unpack(const uint8_t *pkt, size_t pktlen, size_t *pos, uint8_t *out, size_t *outlen)
{
	size_t p = *pos, len = 0, end = 0;
	size_t lowest = p; /* pointers must go strictly below every position visited so far */
	bool jumped = false;

	for (;;) {
		if (p >= pktlen)
			return US_EMALF;
		uint8_t l = pkt[p];
		if ((l & 0xC0) == 0xC0) {
			if (p + 1 >= pktlen)
				return US_EMALF;
			size_t target = ((size_t)(l & 0x3F) << 8) | pkt[p + 1];
			if (target >= lowest)
				return US_ECOMPRESS;
			if (!jumped)
				end = p + 2;
			jumped = true;
			lowest = target;
			p = target;
			continue;
		}
		if (l & 0xC0)
			return US_EMALF;
		if (p + 1 + l > pktlen || len + 1 + l > DNAME_MAXLEN)
			return US_EMALF;
		memcpy(out + len, pkt + p, 1 + (size_t)l);
		len += 1 + (size_t)l;
		p += 1 + (size_t)l;
		if (l == 0)
			break;
	}
	*outlen = len;
	*pos = jumped ? end : p;
	return 0;
}

size_t dname_len(const uint8_t *name)
{
	const uint8_t *p = name;
	while (*p)
		p += *p + 1;
	return (size_t)(p - name) + 1;
}

int dname_check(const uint8_t *buf, size_t len)
{
	size_t p = 0;
	while (p < len) {
		uint8_t l = buf[p];
		if (l > 63 || p + 1 + l > len || p + 1 + l > DNAME_MAXLEN)
			return US_EMALF;
		p += 1 + (size_t)l;
		if (l == 0)
			return (int)p;
	}
	return US_EMALF;
}

void dname_lower(uint8_t *dst, const uint8_t *name, size_t len)
{
	/* Length bytes are < 64 and so unchanged by the table, which lets this be one loop. */
	for (size_t i = 0; i < len; i++)
		dst[i] = lc(name[i]);
}

int dname_labels(const uint8_t *name)
{
	int n = 0;
	while (*name) {
		name += *name + 1;
		n++;
	}
	return n;
}

int dname_label_offsets(const uint8_t *name, uint8_t offs[DNAME_MAXLABELS])
{
	int n = 0;
	size_t p = 0;
	while (name[p]) {
		offs[n++] = (uint8_t)p;
		p += name[p] + 1;
	}
	return n;
}

bool dname_equal(const uint8_t *a, const uint8_t *b)
{
	for (;;) {
		uint8_t l = *a;
		if (l != *b)
			return false;
		if (l == 0)
			return true;
		for (uint8_t i = 1; i <= l; i++)
			if (lc(a[i]) != lc(b[i]))
				return false;
		a += l + 1;
		b += l + 1;
	}
}

bool dname_is_sub(const uint8_t *name, const uint8_t *parent)
{
	int nl = dname_labels(name), pl = dname_labels(parent);
	if (nl < pl)
		return false;
	for (int i = nl - pl; i > 0; i--)
		name += *name + 1;
	return dname_equal(name, parent);
}

int dname_cmp(const uint8_t *a, const uint8_t *b)
{
	uint8_t ao[DNAME_MAXLABELS], bo[DNAME_MAXLABELS];
	int an = dname_label_offsets(a, ao), bn = dname_label_offsets(b, bo);
	while (an > 0 && bn > 0) {
		const uint8_t *la = a + ao[--an], *lb = b + bo[--bn];
		uint8_t n = la[0] < lb[0] ? la[0] : lb[0];
		for (uint8_t i = 1; i <= n; i++) {
			int d = (int)lc(la[i]) - (int)lc(lb[i]);
			if (d)
				return d;
		}
		if (la[0] != lb[0])
			return (int)la[0] - (int)lb[0];
	}
	return an - bn;
}

uint32_t dname_hash(const uint8_t *name, size_t len)
{
	/* Eight bytes a step, each mixed by a multiply: names are 20-30 bytes, so a byte loop
	 * was a tenth of the answer path. */
	uint64_t h = 0x9E3779B97F4A7C15u ^ len;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, name + i, 8);
		h = (h ^ w) * 0xBF58476D1CE4E5B9u;
		h ^= h >> 31;
	}
	uint64_t w = 0;
	memcpy(&w, name + i, len - i);
	h = (h ^ w) * 0x94D049BB133111EBu;
	h ^= h >> 29;
	return (uint32_t)(h ^ (h >> 32));
}

int dname_to_text(const uint8_t *name, char *buf, size_t len)
{
	size_t o = 0;
	if (*name == 0) {
		if (len < 2)
			return US_ETRUNC;
		buf[0] = '.';
		buf[1] = 0;
		return 1;
	}
	while (*name) {
		uint8_t l = *name++;
		for (uint8_t i = 0; i < l; i++) {
			uint8_t c = name[i];
			bool special = c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' ||
			               c == ';' || c == '@' || c == '$';
			bool octal = c <= ' ' || c >= 0x7f;
			size_t need = octal ? 4 : special ? 2 : 1;
			if (o + need + 1 > len) /* room for the NUL too */
				return US_ETRUNC;
			if (octal) {
				o += (size_t)snprintf(buf + o, len - o, "\\%03u", c);
			} else {
				if (special)
					buf[o++] = '\\';
				buf[o++] = (char)c;
			}
		}
		if (o + 2 > len)
			return US_ETRUNC;
		buf[o++] = '.';
		name += l;
	}
	buf[o] = 0;
	return (int)o;
}

int dname_from_text(const char *text, uint8_t *out)
{
	size_t o = 0;
	const char *p = text;
	if (strcmp(text, ".") == 0 || *text == 0) {
		out[0] = 0;
		return 1;
	}
	while (*p) {
		size_t lpos = o++;
		while (*p && *p != '.') {
			int c = (unsigned char)*p++;
			if (c == '\\') {
				if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
				    isdigit((unsigned char)p[2])) {
					c = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
					p += 3;
				} else if (*p) {
					c = (unsigned char)*p++;
				} else {
					return US_ENAME;
				}
			}
			/* Room must stay for the root label. */
			if (c > 255 || o - lpos - 1 >= 63 || o >= DNAME_MAXLEN - 1)
				return US_ENAME;
			out[o++] = (uint8_t)c;
		}
		if (o - lpos - 1 == 0)
			return US_ENAME;
		out[lpos] = (uint8_t)(o - lpos - 1);
		if (*p == '.')
			p++;
	}
	out[o++] = 0;
	return (int)o;
}
