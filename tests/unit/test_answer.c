/* SPDX-License-Identifier: MIT */
/* test_answer: authoritative answers as a client sees them on the wire. */
#include "util.h"
#include "error.h"

static const char *parent_zone =
    "$TTL 3600\n"
    "@ SOA ns1 hostmaster 7 7200 3600 1209600 300\n"
    "@ NS ns1\n"
    "@ MX 10 mail\n"
    "ns1 A 192.0.2.53\n"
    "ns1 AAAA 2001:db8::53\n"
    "mail A 192.0.2.25\n"
    "www CNAME host\n"
    "host A 192.0.2.80\n"
    "out CNAME elsewhere.example.org.\n"
    "loop1 CNAME loop2\n"
    "loop2 CNAME loop1\n"
    "*.wild TXT \"w\"\n"
    "*.wild2 CNAME host\n"
    "ent.wild A 192.0.2.1\n"
    "a.b.c A 192.0.2.9\n"
    "sub NS ns.sub\n"
    "sub NS ns.other.net.\n"
    "sub DS 12345 8 2 "
    "49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE2BAB6A9A93A37A6E5B3E6DBA\n"
    "ns.sub A 192.0.2.77\n"
    "child NS ns1.child\n"
    "ns1.child A 192.0.2.88\n"
    "dn DNAME example.net.\n"
    "self DNAME x.self\n"
    "ping DNAME pong\n"
    "pong DNAME ping\n"
    "todn CNAME q.dn\n"
    "ldn DNAME a-much-longer-target-label-to-make-names-overflow.example.net.\n"
    "big TXT \"" /* 40 x 40 bytes: more than 512 */
    "0123456789012345678901234567890123456789\"\n"
    "srv SRV 0 0 53 host\n";

/* The same names signed with NSEC, with NSEC3, and with NSEC3 opt-out. */
static const util_rec_t signed_recs[] = {
    {"@", "SOA", "ns1 hostmaster 1 7200 3600 1209600 300"},
    {"@", "NS", "ns1"},
    {"@", "DNSKEY", "257 3 13 AAAA"},
    {"ns1", "A", "192.0.2.53"},
    {"www", "A", "192.0.2.80"},
    {"www", "TXT", "\"www\""},
    {"*.wild", "TXT", "\"w\""},
    {"a.b.ent", "A", "192.0.2.1"},
    {"sub", "NS", "ns.sub"},
    {"ns.sub", "A", "192.0.2.77"},
    {"sec", "NS", "ns.sub"},
    {"sec", "DS", "12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE2BAB6A9A93A37A6E5B3E6DBA"},
    {NULL, NULL, NULL},
};

static zonedb_t *db;
static answer_conf_t conf = {.identity = "ns-test",
                             .version = "v9",
                             .nsid = (const uint8_t *)"n1",
                             .nsid_len = 2,
                             .max_udp = 1232};

static int setup(void **state)
{
	(void)state;
	char text[8192];
	int n = snprintf(text, sizeof(text), "%s", parent_zone);
	for (int i = 1; i < 40; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
		              "big TXT \"%02d34567890123456789012345678901234567890\"\n", i);
	db = zonedb_new(8);
	zonedb_slot_t *s;
	uint8_t name[DNAME_MAXLEN];
	dname_from_text("example.com", name);
	assert_int_equal(zonedb_add(db, name, &s), 0);
	s->zone = util_zone("example.com", text);
	assert_non_null(s->zone);
	dname_from_text("child.example.com", name);
	assert_int_equal(zonedb_add(db, name, &s), 0);
	s->zone = util_zone("child.example.com", "@ 300 SOA ns1 h 3 1 1 1 60\n"
	                                         "@ 300 NS ns1\nns1 300 A 192.0.2.88\n"
	                                         "www 300 A 192.0.2.99\n");
	assert_non_null(s->zone);
	static const struct {
		const char *origin;
		bool nsec3, optout;
	} variants[] = {
	    {"nsec.test", false, false}, {"nsec3.test", true, false}, {"optout.test", true, true}};
	for (size_t i = 0; i < 3; i++) {
		dname_from_text(variants[i].origin, name);
		assert_int_equal(zonedb_add(db, name, &s), 0);
		const char *zt = util_signed_zone(variants[i].origin, signed_recs,
		                                  variants[i].nsec3, variants[i].optout);
		s->zone = util_zone(variants[i].origin, zt);
		if (!s->zone)
			fail_msg("%s: %s\n%s", variants[i].origin, util_last_error, zt);
		assert_non_null(s->zone->dnssec);
	}
	dname_from_text("broken.test", name);
	assert_int_equal(zonedb_add(db, name, &s), 0); /* never loaded */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	zonedb_free(db);
	return 0;
}

static uint8_t resp[WIRE_MAX_MSG];

static size_t ask(const char *name, uint16_t type, int edns, bool tcp, util_msg_t *m)
{
	uint8_t q[512];
	size_t qlen = util_query(q, name, type, WIRE_CLASS_IN, edns, false);
	answer_info_t info;
	size_t len = answer_query(&conf, db, q, qlen, resp, tcp, &info);
	assert_true(len > 0);
	util_parse(resp, len, m);
	assert_int_equal(wire_read16(resp), 0x1234);
	assert_true(m->flags & WIRE_QR);
	return len;
}

static void exact_and_case(void **state)
{
	(void)state;
	util_msg_t m;
	ask("HoSt.Example.COM", WIRE_T_A, 0, false, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_NOERROR);
	assert_true(m.flags & WIRE_AA);
	assert_int_equal(util_count(&m, 0, "host.example.com.", WIRE_T_A), 1);
	/* The question keeps the client's case, and the answer points at it. */
	assert_memory_equal(resp + 12, "\4HoSt\7Example\3COM", 17);
	assert_int_equal(resp[12 + 22], 0xC0);
	assert_int_equal(resp[12 + 23], 12);
}

static void cname_chain_and_loop(void **state)
{
	(void)state;
	util_msg_t m;
	ask("www.example.com", WIRE_T_A, 0, false, &m);
	assert_int_equal(m.count[0], 2);
	assert_string_equal(m.rr[0].target, "host.example.com.");
	assert_int_equal(util_count(&m, 0, "host.example.com.", WIRE_T_A), 1);
	ask("loop1.example.com", WIRE_T_A, 0, false, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_NOERROR);
	assert_int_equal(m.count[0], 2);
	ask("out.example.com", WIRE_T_A, 0, false, &m);
	assert_int_equal(m.count[0], 1);
	assert_int_equal(m.count[1], 0);
	ask("www.example.com", WIRE_T_CNAME, 0, false, &m);
	assert_int_equal(m.count[0], 1);
}

static void negative(void **state)
{
	(void)state;
	util_msg_t m;
	ask("nope.example.com", WIRE_T_A, 0, false, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_NXDOMAIN);
	assert_int_equal(util_count(&m, 1, "example.com.", WIRE_T_SOA), 1);
	assert_int_equal(m.rr[0].ttl, 300); /* min(SOA TTL 3600, MINIMUM 300) */
	/* An empty non-terminal exists: NODATA, not NXDOMAIN. */
	ask("b.c.example.com", WIRE_T_A, 0, false, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_NOERROR);
	assert_int_equal(m.count[0], 0);
	assert_int_equal(util_count(&m, 1, "example.com.", WIRE_T_SOA), 1);
	ask("host.example.com", WIRE_T_AAAA, 0, false, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_NOERROR);
	assert_int_equal(m.count[0], 0);
}

static void wildcards(void **state)
{
	(void)state;
	util_msg_t m;
	ask("Any.Thing.wild.example.com", WIRE_T_TXT, 0, false, &m);
	assert_int_equal(m.count[0], 1);
	assert_string_equal(m.rr[0].owner, "Any.Thing.wild.example.com.");
	ask("x.wild.example.com", WIRE_T_A, 0, false, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_NOERROR);
	assert_int_equal(m.count[0], 0);
	/* ent.wild exists, so the wildcard does not cover names below it (RFC 4592 2.2.1). */
	ask("x.ent.wild.example.com", WIRE_T_TXT, 0, false, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_NXDOMAIN);
	ask("q.wild2.example.com", WIRE_T_A, 0, false, &m);
	assert_int_equal(m.count[0], 2);
	assert_string_equal(m.rr[0].owner, "q.wild2.example.com.");
}

static void referral_and_glue(void **state)
{
	(void)state;
	util_msg_t m;
	ask("www.sub.example.com", WIRE_T_A, 0, false, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_NOERROR);
	assert_false(m.flags & WIRE_AA);
	assert_int_equal(m.count[0], 0);
	assert_int_equal(util_count(&m, 1, "sub.example.com.", WIRE_T_NS), 2);
	assert_int_equal(util_count(&m, 2, "ns.sub.example.com.", WIRE_T_A), 1);
	/* DS is the parent's data at the cut. */
	ask("sub.example.com", WIRE_T_DS, 0, false, &m);
	assert_true(m.flags & WIRE_AA);
	assert_int_equal(util_count(&m, 0, "sub.example.com.", WIRE_T_DS), 1);
}

static void parent_and_child(void **state)
{
	(void)state;
	util_msg_t m;
	ask("www.child.example.com", WIRE_T_A, 0, false, &m);
	assert_true(m.flags & WIRE_AA);
	assert_int_equal(util_count(&m, 0, "www.child.example.com.", WIRE_T_A), 1);
	ask("child.example.com", WIRE_T_SOA, 0, false, &m);
	assert_string_equal(m.rr[0].owner, "child.example.com.");
	/* No DS in the parent: NODATA from the parent side, with the parent's SOA. */
	ask("child.example.com", WIRE_T_DS, 0, false, &m);
	assert_int_equal(util_count(&m, 1, "example.com.", WIRE_T_SOA), 1);
}

static void dname_synthesis(void **state)
{
	(void)state;
	util_msg_t m;
	ask("a.dn.example.com", WIRE_T_A, 0, false, &m);
	assert_int_equal(util_count(&m, 0, "dn.example.com.", WIRE_T_DNAME), 1);
	assert_int_equal(util_count(&m, 0, "a.dn.example.com.", WIRE_T_CNAME), 1);
	assert_string_equal(m.rr[1].target, "a.example.net.");
	/* The substituted name would exceed 255 octets (RFC 6672 2.2): YXDOMAIN. */
	char name[300];
	char label[64];
	memset(label, 'a', 63);
	label[63] = 0;
	snprintf(name, sizeof(name), "%s.%s.%s.%.40s.ldn.example.com", label, label, label, label);
	ask(name, WIRE_T_A, 0, false, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_YXDOMAIN);
	assert_int_equal(util_count(&m, 0, NULL, WIRE_T_DNAME), 1);
	/* The DNAME owner itself is answered from its own data. */
	ask("dn.example.com", WIRE_T_DNAME, 0, false, &m);
	assert_int_equal(m.count[0], 1);
	/* QTYPE=CNAME: the synthesized CNAME is the answer, not a name to follow (RFC 6672 3.2),
	 * below a DNAME as at the end of a CNAME chain. */
	ask("q.ping.example.com", WIRE_T_CNAME, 0, false, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_NOERROR);
	assert_int_equal(m.count[0], 2);
	assert_int_equal(m.count[1], 0);
	assert_string_equal(m.rr[1].target, "q.pong.example.com.");
	ask("todn.example.com", WIRE_T_CNAME, 0, false, &m);
	assert_int_equal(m.count[0], 1);
}

/* A chain that meets a DNAME it has applied already ends there: each RRset goes into the
 * answer once (RFC 2181 5), and the resolver can apply the DNAME again itself. */
static void dname_loops(void **state)
{
	(void)state;
	util_msg_t m;
	ask("q.self.example.com", WIRE_T_A, 0, false, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_NOERROR);
	assert_int_equal(m.count[0], 2);
	assert_int_equal(util_count(&m, 0, "self.example.com.", WIRE_T_DNAME), 1);
	assert_string_equal(m.rr[1].target, "q.x.self.example.com.");
	ask("q.ping.example.com", WIRE_T_A, 0, false, &m);
	assert_int_equal(m.count[0], 4);
	assert_int_equal(util_count(&m, 0, "ping.example.com.", WIRE_T_DNAME), 1);
	assert_int_equal(util_count(&m, 0, "pong.example.com.", WIRE_T_DNAME), 1);
	assert_int_equal(m.flags & WIRE_TC, 0);
}

static void truncation(void **state)
{
	(void)state;
	util_msg_t m;
	size_t len = ask("big.example.com", WIRE_T_TXT, 0, false, &m);
	assert_true(len <= 512);
	assert_true(m.flags & WIRE_TC);
	assert_int_equal(m.count[0], 0);
	len = ask("big.example.com", WIRE_T_TXT, 4096, false, &m);
	assert_true(len <= 1232);
	assert_true(m.flags & WIRE_TC);
	len = ask("big.example.com", WIRE_T_TXT, 0, true, &m);
	assert_false(m.flags & WIRE_TC);
	assert_int_equal(m.count[0], 40);
	/* A client asking for less than 512 still gets 512 (RFC 6891 6.2.5). */
	ask("host.example.com", WIRE_T_A, 100, false, &m);
	assert_int_equal(m.count[0], 1);
}

/* Room kept for a TSIG record comes off the limit; signed queries are flagged for the caller. */
static void room_for_tsig(void **state)
{
	(void)state;
	uint8_t q[512];
	util_msg_t m;
	answer_info_t info;
	size_t qlen = util_query(q, "host.example.com", WIRE_T_A, WIRE_CLASS_IN, 0, false);
	size_t full = answer_query(&conf, db, q, qlen, resp, false, &info);
	assert_false(info.tsig);
	size_t len = answer_query_room(&conf, db, q, qlen, resp, false, 512 - full, &info);
	assert_int_equal(len, full);
	util_parse(resp, len, &m);
	assert_false(m.flags & WIRE_TC);
	len = answer_query_room(&conf, db, q, qlen, resp, false, 512 - full + 1, &info);
	util_parse(resp, len, &m);
	assert_true(m.flags & WIRE_TC);
	assert_int_equal(m.count[0], 0);
	assert_true(len <= full);
	/* Nothing but the question fits: TC, never a write past the limit. */
	len = answer_query_room(&conf, db, q, qlen, resp, false, 600, &info);
	util_parse(resp, len, &m);
	assert_true(m.flags & WIRE_TC);
	assert_int_equal(len, qlen);

	/* A signed query: NOTAUTH BADKEY here, flagged so the server can answer it properly. */
	uint8_t tsig[] = "\3key\0\0\xfa\0\xff\0\0\0\0\0\x1d"
	                 "\13hmac-sha256\0\0\0\0\0\0\1\1\x2c\0\0\x12\x34\0\0\0\0";
	memcpy(q + qlen, tsig, sizeof(tsig) - 1);
	wire_write16(q + WIRE_ARCOUNT, 1);
	len = answer_query(&conf, db, q, qlen + sizeof(tsig) - 1, resp, false, &info);
	util_parse(resp, len, &m);
	assert_true(info.tsig);
	assert_int_equal(m.rcode, WIRE_RCODE_NOTAUTH);
	assert_int_equal(m.rr[m.nrr - 1].type, WIRE_T_TSIG);
}

static void additional(void **state)
{
	(void)state;
	util_msg_t m;
	ask("example.com", WIRE_T_MX, 0, false, &m);
	assert_int_equal(util_count(&m, 2, "mail.example.com.", WIRE_T_A), 1);
	ask("example.com", WIRE_T_NS, 0, false, &m);
	assert_int_equal(util_count(&m, 2, "ns1.example.com.", WIRE_T_A), 1);
	assert_int_equal(util_count(&m, 2, "ns1.example.com.", WIRE_T_AAAA), 1);
	ask("srv.example.com", WIRE_T_SRV, 0, false, &m);
	assert_int_equal(util_count(&m, 2, "host.example.com.", WIRE_T_A), 1);
}

static void refusals_and_errors(void **state)
{
	(void)state;
	util_msg_t m;
	ask("example.org", WIRE_T_A, 0, false, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_REFUSED);
	assert_false(m.flags & WIRE_AA);
	ask("www.broken.test", WIRE_T_A, 0, false, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_SERVFAIL);

	uint8_t q[512];
	answer_info_t info;
	size_t qlen = util_query(q, "example.com", WIRE_T_A, WIRE_CLASS_IN, 1232, false);
	/* EDNS version 1: BADVERS, with an OPT of version 0. */
	q[qlen - 5] = 1;
	size_t len = answer_query(&conf, db, q, qlen, resp, false, &info);
	util_parse(resp, len, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_BADVERS);
	assert_int_equal(util_count(&m, 2, ".", WIRE_T_OPT), 1);
	/* NOTIFY and UPDATE are not queries. */
	qlen = util_query(q, "example.com", WIRE_T_SOA, WIRE_CLASS_IN, 0, false);
	q[2] = 5 << 3;
	len = answer_query(&conf, db, q, qlen, resp, false, &info);
	util_parse(resp, len, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_NOTIMP);
	/* Two questions, trailing garbage, a truncated name: FORMERR. */
	qlen = util_query(q, "example.com", WIRE_T_A, WIRE_CLASS_IN, 0, false);
	q[5] = 2;
	len = answer_query(&conf, db, q, qlen, resp, false, &info);
	util_parse(resp, len, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_FORMERR);
	qlen = util_query(q, "example.com", WIRE_T_A, WIRE_CLASS_IN, 0, false);
	q[qlen++] = 0;
	len = answer_query(&conf, db, q, qlen, resp, false, &info);
	util_parse(resp, len, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_FORMERR);
	len = answer_query(&conf, db, q, 20, resp, false, &info);
	util_parse(resp, len, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_FORMERR);
	/* No answer at all to a response or to a short header. */
	q[2] |= 0x80;
	assert_int_equal(answer_query(&conf, db, q, qlen, resp, false, &info), 0);
	assert_int_equal(answer_query(&conf, db, q, 11, resp, false, &info), 0);
}

static void chaos_and_nsid(void **state)
{
	(void)state;
	uint8_t q[512];
	answer_info_t info;
	util_msg_t m;
	size_t qlen = util_query(q, "VERSION.bind", WIRE_T_TXT, WIRE_CLASS_CH, 0, false);
	size_t len = answer_query(&conf, db, q, qlen, resp, false, &info);
	util_parse(resp, len, &m);
	assert_int_equal(m.count[0], 1);
	assert_int_equal(m.rr[0].rclass, WIRE_CLASS_CH);
	assert_memory_equal(m.rr[0].rdata, "\2v9", 3);
	qlen = util_query(q, "id.server", WIRE_T_TXT, WIRE_CLASS_CH, 0, false);
	len = answer_query(&conf, db, q, qlen, resp, false, &info);
	util_parse(resp, len, &m);
	assert_memory_equal(m.rr[0].rdata, "\7ns-test", 8);
	qlen = util_query(q, "other.bind", WIRE_T_TXT, WIRE_CLASS_CH, 0, false);
	len = answer_query(&conf, db, q, qlen, resp, false, &info);
	util_parse(resp, len, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_REFUSED);

	/* NSID asked for: the OPT carries option 3 with our id. */
	qlen = util_query(q, "host.example.com", WIRE_T_A, WIRE_CLASS_IN, 1232, true);
	const uint8_t nsid_opt[] = {0, 3, 0, 0};
	wire_write16(q + qlen - 2, 4);
	memcpy(q + qlen, nsid_opt, 4);
	qlen += 4;
	len = answer_query(&conf, db, q, qlen, resp, false, &info);
	util_parse(resp, len, &m);
	assert_memory_equal(resp + len - 6, "\0\3\0\2n1", 6);
	assert_true(resp[len - 17 + 7] & 0x80); /* DO copied back */
}

/* Sends a query for the apex SOA with an EDNS EXPIRE option; returns the value answered. */
static long ask_expire(const char *zone)
{
	uint8_t q[512];
	answer_info_t info;
	size_t qlen = util_query(q, zone, WIRE_T_SOA, WIRE_CLASS_IN, 1232, false);
	wire_write16(q + qlen - 2, 4);
	memcpy(q + qlen, "\0\x09\0\0", 4);
	qlen += 4;
	size_t len = answer_query(&conf, db, q, qlen, resp, false, &info);
	util_msg_t m;
	util_parse(resp, len, &m);
	if (memcmp(resp + len - 8, "\0\x09\0\x04", 4) != 0)
		return -1;
	return (long)wire_read32(resp + len - 4);
}

static void edns_expire(void **state)
{
	(void)state;
	/* A primary says its SOA expire; a secondary how long its copy has left (RFC 7314). */
	assert_int_equal(ask_expire("example.com"), 1209600);
	uint8_t name[DNAME_MAXLEN], offs[DNAME_MAXLABELS];
	int len = dname_from_text("child.example.com", name);
	zonedb_slot_t *s =
	    zonedb_find(db, name, (size_t)len, offs, dname_label_offsets(name, offs), 0);
	conf.now = 1000;
	s->expire_at = 1100;
	assert_int_equal(ask_expire("child.example.com"), 100);
	s->expire_at = 900;
	assert_int_equal(ask_expire("child.example.com"), 0);
	s->expire_at = 0;
	conf.now = 0;
	/* Not a zone of ours: no option. */
	assert_int_equal(ask_expire("example.org"), -1);
}

/* The value of EDNS option code in the response's OPT, its length in *olen; NULL if none. */
static const uint8_t *opt_option(const util_msg_t *m, uint16_t code, uint16_t *olen)
{
	for (int i = 0; i < m->nrr; i++) {
		if (m->rr[i].type != WIRE_T_OPT)
			continue;
		const uint8_t *o = m->rr[i].rdata;
		for (size_t p = 0; p + 4 <= m->rr[i].rdlen;) {
			uint16_t c = wire_read16(o + p), l = wire_read16(o + p + 2);
			if (c == code) {
				*olen = l;
				return o + p + 4;
			}
			p += 4 + (size_t)l;
		}
	}
	return NULL;
}

static zonedb_slot_t *slot_of(const char *zone)
{
	uint8_t name[DNAME_MAXLEN], offs[DNAME_MAXLABELS];
	int len = dname_from_text(zone, name);
	return zonedb_find(db, name, (size_t)len, offs, dname_label_offsets(name, offs), 0);
}

/* expire-policy keep-serving: past expiry every answer with EDNS carries EDE 3 (RFC 8914
 * 4.4), EXPIRE says 0, and answers without EDNS are as before. */
/* RFC 7828: over TCP, a query that asks gets the connection's idle timeout; over UDP, or
 * with a timeout in the query, or without the connection's word, nothing. */
static void tcp_keepalive(void **state)
{
	(void)state;
	uint8_t q[512];
	answer_client_t client = {.family = 4, .keepalive = 70};
	size_t n = util_query(q, "www.example.com", WIRE_T_A, WIRE_CLASS_IN, 1232, false);
	wire_write16(q + n - 2, 4);
	wire_write16(q + n, WIRE_EDNS_KEEPALIVE);
	wire_write16(q + n + 2, 0);
	n += 4;
	util_msg_t m;
	answer_info_t info;
	uint16_t olen = 0;
	size_t len = answer_query_from(&conf, db, &client, q, n, resp, true, 0, &info);
	util_parse(resp, len, &m);
	assert_int_equal(m.rcode, 0);
	const uint8_t *o = opt_option(&m, WIRE_EDNS_KEEPALIVE, &olen);
	assert_non_null(o);
	assert_int_equal(olen, 2);
	assert_int_equal(wire_read16(o), 70);
	len = answer_query_from(&conf, db, &client, q, n, resp, false, 0, &info);
	util_parse(resp, len, &m);
	assert_null(opt_option(&m, WIRE_EDNS_KEEPALIVE, &olen));
	len = answer_query_from(&conf, db, NULL, q, n, resp, true, 0, &info);
	util_parse(resp, len, &m);
	assert_null(opt_option(&m, WIRE_EDNS_KEEPALIVE, &olen));
	/* A query may not carry a timeout (RFC 7828 3.2.1): not one we answer with ours. */
	uint8_t q2[512];
	memcpy(q2, q, n);
	wire_write16(q2 + n - 6, 6);
	wire_write16(q2 + n - 2, 2);
	wire_write16(q2 + n, 300);
	len = answer_query_from(&conf, db, &client, q2, n + 2, resp, true, 0, &info);
	util_parse(resp, len, &m);
	assert_int_equal(m.rcode, 0);
	assert_null(opt_option(&m, WIRE_EDNS_KEEPALIVE, &olen));
}

static void stale_answers(void **state)
{
	(void)state;
	zonedb_slot_t *child = slot_of("child.example.com"), *parent = slot_of("example.com");
	util_msg_t m;
	uint16_t olen = 0;
	ask("www.child.example.com", WIRE_T_A, 1232, false, &m);
	assert_null(opt_option(&m, WIRE_EDNS_EDE, &olen));
	child->stale = 1;
	conf.now = 1000;
	child->expire_at = 900;
	ask("www.child.example.com", WIRE_T_A, 1232, false, &m);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(util_count(&m, 0, "www.child.example.com.", WIRE_T_A), 1);
	const uint8_t *ede = opt_option(&m, WIRE_EDNS_EDE, &olen);
	assert_non_null(ede);
	assert_int_equal(olen, 2);
	assert_int_equal(wire_read16(ede), WIRE_EDE_STALE_ANSWER);
	/* Negative answers too, over TCP too. */
	ask("nope.child.example.com", WIRE_T_A, 1232, true, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_NXDOMAIN);
	assert_non_null(opt_option(&m, WIRE_EDNS_EDE, &olen));
	/* Without EDNS there is no OPT to carry it: the answer is as before. */
	ask("www.child.example.com", WIRE_T_A, 0, false, &m);
	assert_int_equal(m.count[2], 0);
	assert_int_equal(util_count(&m, 0, "www.child.example.com.", WIRE_T_A), 1);
	/* EDNS EXPIRE: nothing left to promise, whatever the expiry says. */
	child->expire_at = 5000;
	uint8_t q[512];
	answer_info_t info;
	size_t qlen = util_query(q, "child.example.com", WIRE_T_SOA, WIRE_CLASS_IN, 1232, false);
	wire_write16(q + qlen - 2, 4);
	memcpy(q + qlen, "\0\x09\0\0", 4);
	qlen += 4;
	util_parse(resp, answer_query(&conf, db, q, qlen, resp, false, &info), &m);
	const uint8_t *ex = opt_option(&m, WIRE_EDNS_EXPIRE, &olen);
	assert_non_null(ex);
	assert_int_equal(wire_read32(ex), 0);
	assert_non_null(opt_option(&m, WIRE_EDNS_EDE, &olen));
	/* The other zones are unaffected. */
	ask("host.example.com", WIRE_T_A, 1232, false, &m);
	assert_null(opt_option(&m, WIRE_EDNS_EDE, &olen));
	/* A truncated answer still fits the client's size with the option in it. */
	parent->stale = 1;
	size_t len = ask("big.example.com", WIRE_T_TXT, 1232, false, &m);
	assert_true(len <= 1232);
	assert_true(m.flags & WIRE_TC);
	assert_non_null(opt_option(&m, WIRE_EDNS_EDE, &olen));
	len = ask("big.example.com", WIRE_T_TXT, 512, false, &m);
	assert_true(len <= 512);
	assert_non_null(opt_option(&m, WIRE_EDNS_EDE, &olen));
	parent->stale = 0;
	child->stale = 0;
	child->expire_at = 0;
	conf.now = 0;
}

static void any_is_one_rrset(void **state)
{
	(void)state;
	util_msg_t m;
	ask("example.com", WIRE_T_ANY, 0, true, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_NOERROR);
	assert_true(m.count[0] >= 1);
	for (int i = 1; i < m.count[0]; i++)
		assert_int_equal(m.rr[i].type, m.rr[0].type);
}

static size_t ask_do(const char *name, uint16_t type, bool dobit, util_msg_t *m)
{
	uint8_t q[512];
	size_t qlen = util_query(q, name, type, WIRE_CLASS_IN, 4096, dobit);
	answer_info_t info;
	size_t len = answer_query(&conf, db, q, qlen, resp, true, &info);
	util_parse(resp, len, m);
	return len;
}

/* Every RRset in the answer and authority sections has its RRSIG beside it (the NS of a
 * referral aside: the parent does not sign it). */
static void assert_signed(const util_msg_t *m)
{
	for (int i = 0; i < m->nrr; i++) {
		const util_rr_t *r = &m->rr[i];
		if (r->section == 2 || r->type == WIRE_T_RRSIG ||
		    (r->type == WIRE_T_NS && r->section == 1))
			continue;
		bool found = false;
		for (int j = 0; j < m->nrr; j++)
			found |= m->rr[j].section == r->section && m->rr[j].type == WIRE_T_RRSIG &&
			         strcasecmp(m->rr[j].owner, r->owner) == 0 &&
			         wire_read16(m->rr[j].rdata) == r->type;
		if (!found)
			fail_msg("%s type %u has no RRSIG", r->owner, r->type);
	}
}

static int count_type(const util_msg_t *m, int s, uint16_t type)
{
	return util_count(m, s, NULL, type);
}

static void signed_answers(void **state)
{
	(void)state;
	static const char *zones[] = {"nsec.test", "nsec3.test", "optout.test"};
	char n[256];
	util_msg_t m;
	for (int z = 0; z < 3; z++) {
		const char *zone = zones[z];
		uint16_t deny = z == 0 ? WIRE_T_NSEC : WIRE_T_NSEC3;
		snprintf(n, sizeof(n), "www.%s", zone);
		ask_do(n, WIRE_T_A, false, &m);
		assert_int_equal(m.count[0], 1);
		assert_int_equal(count_type(&m, 0, WIRE_T_RRSIG), 0);
		ask_do(n, WIRE_T_A, true, &m);
		assert_int_equal(count_type(&m, 0, WIRE_T_RRSIG), 1);
		assert_signed(&m);

		/* NXDOMAIN: the name and the wildcard denied (NSEC3: three RRsets at most). */
		snprintf(n, sizeof(n), "nx.%s", zone);
		ask_do(n, WIRE_T_A, true, &m);
		assert_int_equal(m.rcode, WIRE_RCODE_NXDOMAIN);
		assert_true(count_type(&m, 1, deny) >= (z == 0 ? 1 : 2));
		assert_signed(&m);
		ask_do(n, WIRE_T_A, false, &m);
		assert_int_equal(count_type(&m, 1, deny), 0);

		/* NODATA at a name, at an empty non-terminal, at a wildcard. */
		snprintf(n, sizeof(n), "www.%s", zone);
		ask_do(n, WIRE_T_MX, true, &m);
		assert_int_equal(count_type(&m, 1, deny), 1);
		assert_signed(&m);
		snprintf(n, sizeof(n), "b.ent.%s", zone);
		ask_do(n, WIRE_T_A, true, &m);
		assert_int_equal(m.rcode, WIRE_RCODE_NOERROR);
		assert_true(count_type(&m, 1, deny) >= 1);
		assert_signed(&m);
		snprintf(n, sizeof(n), "x.wild.%s", zone);
		ask_do(n, WIRE_T_MX, true, &m);
		/* NSEC: the wildcard's own NSEC also covers x.wild, so it is there once. */
		assert_true(count_type(&m, 1, deny) >= (z == 0 ? 1 : 2));
		assert_signed(&m);

		/* A wildcard answer: the expanded owner, and the proof that it does not exist. */
		snprintf(n, sizeof(n), "x.wild.%s", zone);
		ask_do(n, WIRE_T_TXT, true, &m);
		assert_int_equal(util_count(&m, 0, NULL, WIRE_T_RRSIG), 1);
		assert_int_equal(count_type(&m, 1, deny), 1);
		assert_signed(&m);

		/* Referrals: to a signed child with its DS, to an unsigned one with a proof. */
		snprintf(n, sizeof(n), "www.sec.%s", zone);
		ask_do(n, WIRE_T_A, true, &m);
		assert_false(m.flags & WIRE_AA);
		assert_int_equal(count_type(&m, 1, WIRE_T_DS), 1);
		assert_int_equal(count_type(&m, 1, deny), 0);
		assert_signed(&m);
		snprintf(n, sizeof(n), "www.sub.%s", zone);
		ask_do(n, WIRE_T_A, true, &m);
		assert_int_equal(count_type(&m, 1, WIRE_T_DS), 0);
		assert_int_equal(count_type(&m, 1, deny), z == 2 ? 2 : 1);
		assert_signed(&m);
		snprintf(n, sizeof(n), "sub.%s", zone);
		ask_do(n, WIRE_T_DS, true, &m);
		assert_true(m.flags & WIRE_AA);
		assert_int_equal(count_type(&m, 1, deny), z == 2 ? 2 : 1);
		assert_signed(&m);
	}
	/* An NSEC3 owner is not a name of the zone. */
	ask_do("nx.nsec3.test", WIRE_T_A, true, &m);
	for (int i = 0; i < m.nrr; i++)
		if (m.rr[i].type == WIRE_T_NSEC3) {
			util_msg_t h;
			ask_do(m.rr[i].owner, WIRE_T_NSEC3, true, &h);
			assert_int_equal(h.rcode, WIRE_RCODE_NXDOMAIN);
		}
	/* QTYPE=RRSIG: every signature at the name. */
	ask_do("www.nsec.test", WIRE_T_RRSIG, false, &m);
	assert_int_equal(count_type(&m, 0, WIRE_T_RRSIG), 3);
}

/* A signed RRset never goes without its signatures: TC instead. */
static void signed_truncation(void **state)
{
	(void)state;
	uint8_t q[512];
	answer_info_t info;
	util_msg_t m;
	for (size_t room = 0; room < 400; room += 7) {
		size_t qlen = util_query(q, "nx.nsec3.test", WIRE_T_A, WIRE_CLASS_IN, 4096, true);
		size_t len = answer_query_room(&conf, db, q, qlen, resp, false, room, &info);
		util_parse(resp, len, &m);
		assert_signed(&m);
		qlen = util_query(q, "x.wild.nsec.test", WIRE_T_TXT, WIRE_CLASS_IN, 4096, true);
		len = answer_query_room(&conf, db, q, qlen, resp, false, room + 800, &info);
		util_parse(resp, len, &m);
		assert_signed(&m);
		if (!(m.flags & WIRE_TC))
			assert_int_equal(m.count[0], 2);
	}
}

#ifndef __SANITIZE_ADDRESS__
/* Counting allocator: answering must never allocate. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static unsigned long allocs;
void *malloc(size_t n)
{
	allocs++;
	return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
	allocs++;
	return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
	allocs++;
	return __libc_realloc(p, n);
}

static void no_allocation(void **state)
{
	(void)state;
	const char *names[] = {"host.example.com", "www.example.com",     "x.wild.example.com",
	                       "a.dn.example.com", "www.sub.example.com", "nope.example.com",
	                       "big.example.com",  "example.org"};
	uint8_t q[512];
	answer_info_t info;
	unsigned long before = allocs;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t qlen = util_query(q, names[i], WIRE_T_TXT, WIRE_CLASS_IN, 1232, true);
		assert_true(answer_query(&conf, db, q, qlen, resp, false, &info) > 0);
		assert_true(answer_query(&conf, db, q, qlen, resp, true, &info) > 0);
	}
	/* With DO, from zones signed with NSEC, NSEC3 (a hash per query) and opt-out. */
	static const char *signed_names[] = {"www",     "nx",      "b.ent", "x.wild",
	                                     "www.sub", "www.sec", "sub",   "a.b.c.d"};
	static const char *zones[] = {"nsec.test", "nsec3.test", "optout.test"};
	static const uint16_t types[] = {WIRE_T_A, WIRE_T_TXT, WIRE_T_DS, WIRE_T_RRSIG};
	for (size_t z = 0; z < 3; z++)
		for (size_t i = 0; i < sizeof(signed_names) / sizeof(signed_names[0]); i++)
			for (size_t t = 0; t < 4; t++) {
				char n[256];
				snprintf(n, sizeof(n), "%s.%s", signed_names[i], zones[z]);
				size_t qlen = util_query(q, n, types[t], WIRE_CLASS_IN, 1232, true);
				before = allocs;
				assert_true(answer_query(&conf, db, q, qlen, resp, false, &info) >
				            0);
				assert_true(answer_query(&conf, db, q, qlen, resp, true, &info) >
				            0);
				assert_int_equal(allocs, before);
			}
	/* A stale zone's answers: the same, with EDE 3. */
	zonedb_slot_t *stale = slot_of("child.example.com");
	stale->stale = 1;
	size_t qlen = util_query(q, "www.child.example.com", WIRE_T_A, WIRE_CLASS_IN, 1232, true);
	before = allocs;
	assert_true(answer_query(&conf, db, q, qlen, resp, false, &info) > 0);
	assert_int_equal(allocs, before);
	stale->stale = 0;
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(exact_and_case),    cmocka_unit_test(cname_chain_and_loop),
	    cmocka_unit_test(negative),          cmocka_unit_test(wildcards),
	    cmocka_unit_test(referral_and_glue), cmocka_unit_test(parent_and_child),
	    cmocka_unit_test(dname_synthesis),   cmocka_unit_test(dname_loops),
	    cmocka_unit_test(truncation),        cmocka_unit_test(room_for_tsig),
	    cmocka_unit_test(additional),        cmocka_unit_test(refusals_and_errors),
	    cmocka_unit_test(chaos_and_nsid),    cmocka_unit_test(any_is_one_rrset),
	    cmocka_unit_test(edns_expire),       cmocka_unit_test(signed_answers),
	    cmocka_unit_test(signed_truncation), cmocka_unit_test(stale_answers),
	    cmocka_unit_test(tcp_keepalive),
#ifndef __SANITIZE_ADDRESS__
	    cmocka_unit_test(no_allocation),
#endif
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
