/* SPDX-License-Identifier: MIT */
/* notify: NOTIFY messages in (RFC 1996), answered by the workers, handed to the zone manager. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "log.h"
#include "notify.h"
#include "tsig.h"
#include "wire.h"

static void addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		port = ntohs(s6->sin6_port);
	}
	snprintf(buf, len, "%s@%u", a, port);
}

size_t notify_answer(server_t *s, const uint8_t *q, size_t qlen,
                     const struct sockaddr_storage *addr, uint8_t *resp)
{
	if (qlen < WIRE_HDR_LEN || (wire_read16(q + WIRE_FLAGS) & WIRE_QR))
		return 0;
	memset(resp, 0, WIRE_HDR_LEN);
	memcpy(resp, q, 2);
	uint16_t flags = WIRE_QR | (uint16_t)(WIRE_OPCODE_NOTIFY << 11);
	size_t len = WIRE_HDR_LEN;
	uint8_t rcode = WIRE_RCODE_FORMERR;
	tsig_verify_t v = {0};
	tsig_rr_t rr;
	uint16_t terr = 0;
	int key = -1;

	uint8_t name[DNAME_MAXLEN], lname[DNAME_MAXLEN], offs[DNAME_MAXLABELS];
	size_t nlen, pos = WIRE_HDR_LEN;
	if (wire_read16(q + WIRE_QDCOUNT) != 1 || dname_unpack(q, qlen, &pos, name, &nlen) < 0 ||
	    pos + 4 > qlen || wire_read16(q + pos + 2) != WIRE_CLASS_IN)
		goto out;
	/* The question, uncompressed, is echoed (RFC 1996 3.7). */
	memcpy(resp + len, name, nlen);
	memcpy(resp + len + nlen, q + pos, 4);
	len += nlen + 4;
	wire_write16(resp + WIRE_QDCOUNT, 1);

	dname_lower(lname, name, nlen);
	int nl = dname_label_offsets(lname, offs);
	const zonedb_slot_t *slot = zonedb_find(s->db, lname, nlen, offs, nl, 0);
	char from[80], zname[DNAME_TEXT_MAX];
	addr_text(addr, from, sizeof(from));
	dname_to_text(lname, zname, sizeof(zname));
	if (!slot || slot->apex_len != nlen) {
		rcode = WIRE_RCODE_NOTAUTH;
		log_notice("NOTIFY for %s from %s: not a zone of ours", zname, from);
		goto out;
	}
	server_zone_t *z = slot->user;
	snprintf(zname, sizeof(zname), "%s", z->conf->domain); /* as the other log lines say it */
	key =
	    acl_check_tsig(s->keys, s->conf->nkeys, q, qlen, (uint64_t)time(NULL), &v, &rr, &terr);
	if (key == ACL_TSIG_MALFORMED)
		goto out;
	if (key == ACL_TSIG_BAD) {
		rcode = WIRE_RCODE_NOTAUTH;
		log_warning("NOTIFY for %s from %s: TSIG error %s", zname, from,
		            tsig_error_name(terr));
		goto out;
	}
	if (!acl_allows(s->conf, z->conf, addr, key, CONF_ACTION_NOTIFY)) {
		rcode = WIRE_RCODE_REFUSED;
		log_warning("NOTIFY for %s from %s: refused by the zone's rules", zname, from);
		goto out;
	}
	flags |= WIRE_AA;
	rcode = WIRE_RCODE_NOERROR;
	log_info("NOTIFY for %s from %s", zname, from);
	atomic_store(&z->notified, true);
	server_wake(s);
out:
	wire_write16(resp + WIRE_FLAGS, (uint16_t)(flags | rcode));
	size_t out = len;
	if (key == ACL_TSIG_BAD) {
		/* Unsigned for BADKEY and BADSIG, signed for BADTIME (RFC 8945 5.3.2). */
		const tsig_key_t *k = v.key;
		if (tsig_answer_error(k, &rr, terr, resp, len, 512, (uint64_t)time(NULL), &out))
			out = len;
	} else if (key >= 0) {
		uint8_t mac[TSIG_MAC_MAX];
		size_t mac_len;
		if (tsig_sign(&s->keys[key], resp, len, 512, v.mac, v.mac_len, false,
		              (uint64_t)time(NULL), TSIG_FUDGE_DEFAULT, &out, mac, &mac_len))
			out = len;
	}
	tsig_verify_deinit(&v);
	return out;
}
