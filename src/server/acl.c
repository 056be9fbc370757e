/* SPDX-License-Identifier: MIT */
/* acl: who may transfer a zone from us or NOTIFY us about it, and the TSIG that says who. */
#include <netinet/in.h>
#include <string.h>

#include "acl.h"

/* The address bytes of ss, with IPv4-mapped IPv6 seen as IPv4; their length or 0. */
static size_t addr_bytes(const struct sockaddr_storage *ss, int *family, const uint8_t **out)
{
	if (ss->ss_family == AF_INET) {
		*family = AF_INET;
		*out = (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
		return 4;
	}
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			*family = AF_INET;
			*out = a->s6_addr + 12;
			return 4;
		}
		*family = AF_INET6;
		*out = a->s6_addr;
		return 16;
	}
	return 0;
}

bool acl_prefix_match(const conf_prefix_t *p, const struct sockaddr_storage *addr)
{
	int family;
	const uint8_t *a;
	if (!addr_bytes(addr, &family, &a) || family != p->family)
		return false;
	unsigned full = p->bits / 8, rest = p->bits % 8;
	if (memcmp(a, p->addr, full) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xFF << (8 - rest));
	return (a[full] & mask) == (p->addr[full] & mask);
}

static bool same_host(const conf_addr_t *c, const struct sockaddr_storage *addr)
{
	int f1 = 0, f2 = 0;
	const uint8_t *a1 = NULL, *a2 = NULL;
	size_t n1 = addr_bytes(&c->ss, &f1, &a1), n2 = addr_bytes(addr, &f2, &a2);
	return n1 && n1 == n2 && f1 == f2 && memcmp(a1, a2, n1) == 0;
}

int acl_primary_of(const conf_t *conf, const conf_zone_t *z, const struct sockaddr_storage *addr)
{
	for (size_t i = 0; i < z->nprimaries; i++) {
		const conf_remote_t *p = &conf->remotes[z->primaries[i]];
		for (size_t j = 0; j < p->naddr; j++)
			if (same_host(&p->addr[j], addr))
				return (int)i;
	}
	return -1;
}

bool acl_allows(const conf_t *conf, const conf_zone_t *z, const struct sockaddr_storage *addr,
                int key, int action)
{
	for (size_t i = 0; i < z->nacl; i++) {
		const conf_acl_t *r = &conf->acls[z->acl[i]];
		if (!(r->actions & action) || r->key != key)
			continue;
		bool in = r->nprefix == 0;
		for (size_t j = 0; j < r->nprefix && !in; j++)
			in = acl_prefix_match(&r->prefix[j], addr);
		if (in)
			return !r->deny;
	}
	if (action != CONF_ACTION_NOTIFY || z->role != CONF_ROLE_SECONDARY)
		return false;
	for (size_t i = 0; i < z->nprimaries; i++) {
		const conf_remote_t *p = &conf->remotes[z->primaries[i]];
		for (size_t j = 0; j < p->naddr; j++)
			if (same_host(&p->addr[j], addr) && p->key == key)
				return true;
	}
	return false;
}

int acl_check_tsig(const tsig_key_t *keys, size_t nkeys, const uint8_t *q, size_t qlen,
                   uint64_t now, tsig_verify_t *v, tsig_rr_t *rr, uint16_t *terr)
{
	int found = tsig_find(q, qlen, rr);
	if (found <= 0)
		return found < 0 ? ACL_TSIG_MALFORMED : ACL_TSIG_NONE;
	const tsig_key_t *k = tsig_key_find(keys, nkeys, rr->owner);
	if (!k) {
		*terr = TSIG_ERR_BADKEY;
		return ACL_TSIG_BAD;
	}
	size_t stripped;
	tsig_verify_init(v, k, NULL, 0);
	if (tsig_verify_msg(v, q, qlen, now, terr, &stripped) != 0)
		return ACL_TSIG_BAD;
	return (int)(k - keys);
}
