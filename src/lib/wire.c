/* SPDX-License-Identifier: MIT */
/* wire: the compressing message writer. */
#include <stdio.h>

#include "wire.h"
#include "dname.h"
#include "error.h"

void wire_writer_init(wire_writer_t *w, uint8_t *buf, size_t limit)
{
	w->pkt = buf;
	w->limit = limit;
	w->len = 0;
	w->ncomp = 0;
	w->comp_next = 0;
	w->comp_wrapped = false;
	w->exact_case = false;
}

/* Drops the remembered positions at or past len, which a rollback took back. */
void wire_forget_after(wire_writer_t *w, size_t len)
{
	int n = 0;
	for (int i = 0; i < w->ncomp; i++) {
		if (w->comp[i] >= len)
			continue;
		w->comp[n] = w->comp[i];
		w->comp_labels[n++] = w->comp_labels[i];
	}
	w->ncomp = n;
}

int wire_put(wire_writer_t *w, const void *data, size_t n)
{
	if (w->len + n > w->limit)
		return US_ETRUNC;
	memcpy(w->pkt + w->len, data, n);
	w->len += n;
	return 0;
}

int wire_put16(wire_writer_t *w, uint16_t v)
{
	if (w->len + 2 > w->limit)
		return US_ETRUNC;
	wire_write16(w->pkt + w->len, v);
	w->len += 2;
	return 0;
}

int wire_put32(wire_writer_t *w, uint32_t v)
{
	if (w->len + 4 > w->limit)
		return US_ETRUNC;
	wire_write32(w->pkt + w->len, v);
	w->len += 4;
	return 0;
}

static inline uint8_t lc(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/*
 * True if the (possibly compressed) name in the packet at off equals the uncompressed suffix,
 * ignoring case unless exact. Only positions we wrote ourselves are followed, so pointers
 * always go back.
 */
static bool suffix_equal(const uint8_t *pkt, size_t off, const uint8_t *suffix, bool exact)
{
	for (;;) {
		uint8_t l = pkt[off];
		while ((l & 0xC0) == 0xC0) {
			off = (size_t)(l & 0x3F) << 8 | pkt[off + 1];
			l = pkt[off];
		}
		if (l != *suffix)
			return false;
		if (l == 0)
			return true;
		if (exact && memcmp(pkt + off + 1, suffix + 1, l) != 0)
			return false;
		for (uint8_t i = 1; !exact && i <= l; i++)
			if (lc(pkt[off + i]) != lc(suffix[i]))
				return false;
		off += l + 1;
		suffix += l + 1;
	}
}

/* Labels of the (possibly compressed, by us) name at off, not counting the root. */
static int labels_at(const uint8_t *pkt, size_t off)
{
	int n = 0;
	for (;;) {
		uint8_t l = pkt[off];
		if ((l & 0xC0) == 0xC0) {
			off = (size_t)(l & 0x3F) << 8 | pkt[off + 1];
			continue;
		}
		if (l == 0)
			return n;
		n++;
		off += l + 1;
	}
}

void wire_remember_name(wire_writer_t *w, size_t off)
{
	const uint8_t *p = w->pkt;
	int labels = labels_at(p, off);
	while (off < 0x4000) {
		uint8_t l = p[off];
		if (l == 0 || (l & 0xC0) == 0xC0)
			return;
		int i = w->ncomp;
		if (i < WIRE_COMP_MAX) {
			w->ncomp++;
		} else {
			i = WIRE_COMP_KEEP + w->comp_next++ % (WIRE_COMP_MAX - WIRE_COMP_KEEP);
			w->comp_wrapped = true;
		}
		w->comp[i] = (uint16_t)off;
		w->comp_labels[i] = (uint8_t)labels--;
		off += l + 1;
	}
}

int wire_put_name(wire_writer_t *w, const uint8_t *name, bool compress)
{
	size_t start = w->len;
	const uint8_t *s = name;

	if (compress) {
		/* Only suffixes of equal label count can match, which keeps this linear in
		 * practice even for names of a hundred labels (a fuzzer found the quadratic). */
		for (int k = dname_labels(name); *s; k--) {
			for (int i = 0; i < w->ncomp; i++) {
				if (w->comp_labels[i] != k ||
				    !suffix_equal(w->pkt, w->comp[i], s, w->exact_case))
					continue;
				size_t n = (size_t)(s - name);
				if (w->len + n + 2 > w->limit)
					return US_ETRUNC;
				memcpy(w->pkt + w->len, name, n);
				w->len += n;
				wire_write16(w->pkt + w->len, (uint16_t)(0xC000 | w->comp[i]));
				w->len += 2;
				wire_remember_name(w, start);
				return 0;
			}
			s += *s + 1;
		}
	}
	size_t n = dname_len(name);
	if (w->len + n > w->limit)
		return US_ETRUNC;
	memcpy(w->pkt + w->len, name, n);
	w->len += n;
	if (compress)
		wire_remember_name(w, start);
	return 0;
}

bool wire_rdata_layout(uint16_t type, wire_rdata_layout_t *l)
{
	*l = (wire_rdata_layout_t){.names = 1};
	switch (type) {
	case WIRE_T_NS:
	case WIRE_T_MD:
	case WIRE_T_MF:
	case WIRE_T_CNAME:
	case WIRE_T_MB:
	case WIRE_T_MG:
	case WIRE_T_MR:
	case WIRE_T_PTR:
		l->compress = true;
		return true;
	case WIRE_T_SOA:
		l->post = 20;
		/* fall through */
	case WIRE_T_MINFO:
		l->names = 2;
		l->compress = true;
		return true;
	case WIRE_T_MX:
		l->pre = 2;
		l->compress = true;
		return true;
	case WIRE_T_DNAME:
		return true;
	case WIRE_T_RP:
		l->names = 2;
		return true;
	case WIRE_T_AFSDB:
	case WIRE_T_RT:
	case WIRE_T_KX:
		l->pre = 2;
		return true;
	case WIRE_T_PX:
		l->pre = 2;
		l->names = 2;
		return true;
	case WIRE_T_SRV:
		l->pre = 6;
		return true;
	case WIRE_T_NAPTR:
		l->pre = 4;
		l->strings = 3;
		return true;
	default:
		return false;
	}
}

/* Writes the names of an RFC 1035 type's rdata compressed and the rest as is. */
static int put_rdata(wire_writer_t *w, uint16_t type, const uint8_t *rd, uint16_t rdlen)
{
	wire_rdata_layout_t l;
	if (!wire_rdata_layout(type, &l) || !l.compress)
		return wire_put(w, rd, rdlen);
	/* Zone data was checked at load, so the names here are well formed. */
	size_t p = l.pre;
	int ret = wire_put(w, rd, l.pre);
	for (size_t i = 0; ret == 0 && i < l.names; i++) {
		ret = wire_put_name(w, rd + p, true);
		p += dname_len(rd + p);
	}
	return ret ? ret : wire_put(w, rd + p, rdlen - p);
}

int wire_put_rr(wire_writer_t *w, const uint8_t *owner, uint16_t type, uint16_t rclass,
                uint32_t ttl, const uint8_t *rdata, uint16_t rdlen)
{
	wire_mark_t m = wire_mark(w);
	int ret = wire_put_name(w, owner, true);
	if (ret == 0 && w->len + 10 > w->limit)
		ret = US_ETRUNC;
	if (ret == 0) {
		uint8_t *p = w->pkt + w->len;
		wire_write16(p, type);
		wire_write16(p + 2, rclass);
		wire_write32(p + 4, ttl);
		w->len += 10;
		size_t rdstart = w->len;
		ret = put_rdata(w, type, rdata, rdlen);
		if (ret == 0)
			wire_write16(p + 8, (uint16_t)(w->len - rdstart));
	}
	if (ret)
		wire_rollback(w, m);
	return ret;
}

const char *wire_rcode_text(uint16_t rcode, char *buf, size_t len)
{
	static const char *const names[] = {
	    "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
	    "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE", "DSOTYPENI",
	};
	if (rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	if (rcode == WIRE_RCODE_BADVERS)
		return "BADVERS";
	if (rcode == 23)
		return "BADCOOKIE";
	snprintf(buf, len, "RCODE%u", rcode);
	return buf;
}
