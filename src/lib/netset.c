/* SPDX-License-Identifier: MIT */
/* netset: prefixes sorted by family, length and address; one binary search per length. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "netset.h"

/* A run of prefixes of one family and length in the sorted array. */
typedef struct netset_group {
	uint8_t family, bits;
	uint32_t start, count;
} netset_group_t;

struct netset {
	size_t n;
	netprefix_t *p;
	size_t ngroups;
	netset_group_t groups[]; /* longest prefixes first within a family: more specific */
};

static size_t addr_len(uint8_t family)
{
	return family == NET_V4 ? 4 : 16;
}

void netprefix_mask(uint8_t family, const uint8_t *addr, uint8_t bits, uint8_t *out)
{
	size_t len = addr_len(family);
	for (size_t i = 0; i < len; i++) {
		unsigned have = bits > 8 * i ? bits - 8 * (unsigned)i : 0;
		out[i] = have >= 8 ? addr[i] : (uint8_t)(addr[i] & (0xFF00 >> have));
	}
	if (len < 16)
		memset(out + len, 0, 16 - len);
}

int netprefix_parse(const char *text, netprefix_t *out, const char **why)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	netprefix_t p = {0};
	*why = "expected ADDR or ADDR/BITS";
	if (alen == 0 || alen >= sizeof(buf))
		return US_EINVAL;
	memcpy(buf, text, alen);
	buf[alen] = 0;
	if (inet_pton(AF_INET, buf, p.addr) == 1)
		p.family = NET_V4;
	else if (inet_pton(AF_INET6, buf, p.addr) == 1)
		p.family = NET_V6;
	else
		return US_EINVAL;
	unsigned max = p.family == NET_V4 ? 32 : 128, bits = max;
	if (slash) {
		const char *d = slash + 1;
		size_t i = 0;
		bits = 0;
		for (; d[i] >= '0' && d[i] <= '9' && i < 4; i++)
			bits = bits * 10 + (unsigned)(d[i] - '0');
		if (i == 0 || d[i])
			return US_EINVAL;
	}
	if (bits > max) {
		*why = "prefix length too long for the address family";
		return US_EINVAL;
	}
	p.bits = (uint8_t)bits;
	uint8_t masked[16];
	netprefix_mask(p.family, p.addr, p.bits, masked);
	if (memcmp(masked, p.addr, 16) != 0) {
		*why = "address has bits set beyond the prefix length";
		return US_EINVAL;
	}
	*out = p;
	return 0;
}

void netprefix_text(const netprefix_t *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	inet_ntop(p->family == NET_V4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->bits);
}

bool netprefix_contains(const netprefix_t *p, uint8_t family, const uint8_t *addr)
{
	uint8_t m[16];
	if (p->family != family)
		return false;
	netprefix_mask(family, addr, p->bits, m);
	return memcmp(m, p->addr, addr_len(family)) == 0;
}

/* Sort order: family, then longer prefixes first, then address. */
static int cmp_prefix(const void *a, const void *b)
{
	const netprefix_t *x = a, *y = b;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->bits != y->bits)
		return x->bits > y->bits ? -1 : 1;
	return memcmp(x->addr, y->addr, 16);
}

netset_t *netset_new(const netprefix_t *in, size_t n)
{
	netprefix_t *p = malloc((n ? n : 1) * sizeof(*p));
	if (!p)
		return NULL;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		p[m] = in[i];
		/* Canonical: the masked address, zero padding for IPv4. */
		netprefix_mask(in[i].family, in[i].addr, in[i].bits, p[m].addr);
		m++;
	}
	qsort(p, m, sizeof(*p), cmp_prefix);
	size_t k = 0, ngroups = 0;
	for (size_t i = 0; i < m; i++) {
		if (k && cmp_prefix(&p[k - 1], &p[i]) == 0)
			continue;
		if (!k || p[k - 1].family != p[i].family || p[k - 1].bits != p[i].bits)
			ngroups++;
		p[k++] = p[i];
	}
	netset_t *s = malloc(sizeof(*s) + ngroups * sizeof(netset_group_t));
	if (!s) {
		free(p);
		return NULL;
	}
	s->n = k;
	s->p = p;
	s->ngroups = 0;
	for (size_t i = 0; i < k; i++) {
		netset_group_t *g = s->ngroups ? &s->groups[s->ngroups - 1] : NULL;
		if (!g || g->family != p[i].family || g->bits != p[i].bits) {
			g = &s->groups[s->ngroups++];
			*g = (netset_group_t){p[i].family, p[i].bits, (uint32_t)i, 0};
		}
		g->count++;
	}
	return s;
}

netset_t *netset_with(const netset_t *s, const netprefix_t *add, const netprefix_t *del)
{
	size_t n = netset_size(s);
	netprefix_t *tmp = malloc((n + 1) * sizeof(*tmp));
	if (!tmp)
		return NULL;
	size_t m = 0;
	netprefix_t d;
	if (del)
		netprefix_mask(del->family, del->addr, del->bits, d.addr);
	for (size_t i = 0; i < n; i++) {
		const netprefix_t *p = &s->p[i];
		if (del && p->family == del->family && p->bits == del->bits &&
		    memcmp(p->addr, d.addr, 16) == 0)
			continue;
		tmp[m++] = *p;
	}
	if (add)
		tmp[m++] = *add;
	netset_t *out = netset_new(tmp, m);
	free(tmp);
	return out;
}

void netset_free(netset_t *s)
{
	if (!s)
		return;
	free(s->p);
	free(s);
}

size_t netset_size(const netset_t *s)
{
	return s ? s->n : 0;
}

const netprefix_t *netset_at(const netset_t *s, size_t i)
{
	return &s->p[i];
}

static bool group_has(const netset_t *s, const netset_group_t *g, const uint8_t *masked)
{
	size_t lo = g->start, hi = (size_t)g->start + g->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(s->p[mid].addr, masked, 16);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool netset_has(const netset_t *s, const netprefix_t *p)
{
	uint8_t m[16];
	if (!s)
		return false;
	netprefix_mask(p->family, p->addr, p->bits, m);
	for (size_t i = 0; i < s->ngroups; i++)
		if (s->groups[i].family == p->family && s->groups[i].bits == p->bits)
			return group_has(s, &s->groups[i], m);
	return false;
}

bool netset_contains(const netset_t *s, uint8_t family, const uint8_t *addr)
{
	if (!s)
		return false;
	for (size_t i = 0; i < s->ngroups; i++) {
		const netset_group_t *g = &s->groups[i];
		uint8_t m[16];
		if (g->family != family)
			continue;
		netprefix_mask(family, addr, g->bits, m);
		if (group_has(s, g, m))
			return true;
	}
	return false;
}
