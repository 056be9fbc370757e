/* SPDX-License-Identifier: MIT */
/* fuzz_packet: any bytes as a query, answered over UDP and TCP from rich zones; checks replies. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "answer.h"
#include "dname.h"
#include "error.h"
#include "fuzz.h"
#include "fuzz_answer.h"
#include "fuzz_signed.h"
#include "wire.h"
#include "xfr.h"
#include "zone.h"
#include "zonedb.h"
#include "zonefile.h"

#define MAX_UDP 1232

static const answer_conf_t conf = {
    .identity = "fuzz",
    .version = "v",
    .nsid = (const uint8_t *)"n",
    .nsid_len = 1,
    .max_udp = MAX_UDP,
};

/* ---- the zones ---- */

/*
 * One record in presentation-like form: owner relative to the zone ("@" for the apex), type,
 * and rdata whose layout depends on the type (names in rdata are absolute).
 */
typedef struct rec {
	const char *owner;
	uint16_t type;
	const char *rdata;
} rec_t;

#define T(x) WIRE_T_##x

static const rec_t example_com[] = {
    {"@", T(SOA), "ns1.example.com. hostmaster.example.com. 2024010101 3600 900 604800 300"},
    {"@", T(NS), "ns1.example.com."},
    {"@", T(NS), "ns2.example.com."},
    {"@", T(MX), "10 mail.example.com."},
    {"@", T(TXT), "v=spf1 -all"},
    {"ns1", T(A), "192.0.2.1"},
    {"ns1", T(AAAA), "2001:db8::1"},
    {"ns2", T(A), "192.0.2.2"},
    {"www", T(A), "192.0.2.10"},
    {"www", T(A), "192.0.2.11"},
    {"www", T(AAAA), "2001:db8::10"},
    {"MiXeD.CaSe", T(A), "192.0.2.12"},
    {"a\\.b", T(TXT), "label with a dot"},
    {"\\000\\255bin", T(A), "192.0.2.13"},
    {"mail", T(A), "192.0.2.20"},
    {"mail2", T(AAAA), "2001:db8::20"},
    /* MX targets: in zone, in zone without addresses, another zone, the child zone, a CNAME. */
    {"mx", T(MX), "10 mail.example.com."},
    {"mx", T(MX), "20 mail2.example.com."},
    {"mx", T(MX), "30 mx.example.net."},
    {"mx", T(MX), "40 www.child.example.com."},
    {"mx", T(MX), "50 c1.example.com."},
    {"mx", T(MX), "60 MAIL.EXAMPLE.COM."},
    {"_sip._tcp", T(SRV), "0 5 5060 sip.example.com."},
    {"_sip._tcp", T(SRV), "1 5 5061 sip2.example.com."},
    {"_sip._tcp", T(SRV), "2 5 5062 ns.sub.example.com."},
    {"sip", T(A), "192.0.2.30"},
    {"sip", T(AAAA), "2001:db8::30"},
    {"sip2", T(TXT), "no address here"},
    /* CNAME chains: finite, a loop, a self-loop, out of the zone, into a cut and a DNAME. */
    {"c1", T(CNAME), "c2.example.com."},
    {"c2", T(CNAME), "c3.example.com."},
    {"c3", T(CNAME), "www.example.com."},
    {"loop1", T(CNAME), "loop2.example.com."},
    {"loop2", T(CNAME), "loop1.example.com."},
    {"self", T(CNAME), "self.example.com."},
    {"ext", T(CNAME), "www.example.net."},
    {"tochild", T(CNAME), "www.child.example.com."},
    {"todeleg", T(CNAME), "host.sub.example.com."},
    {"todname", T(CNAME), "x.dn.example.com."},
    {"tonx", T(CNAME), "nothere.example.com."},
    {"towild", T(CNAME), "foo.wild.example.com."},
    {"toent", T(CNAME), "c.ent.example.com."},
    /* Wildcards: plain, a CNAME, one that loops back into itself. */
    {"*.wild", T(A), "192.0.2.40"},
    {"*.wild", T(TXT), "wildcard"},
    {"*.wild", T(MX), "10 mail.example.com."},
    {"real.wild", T(A), "192.0.2.41"},
    {"*.cw", T(CNAME), "c1.example.com."},
    {"*.wloop", T(CNAME), "again.wloop.example.com."},
    /* DNAME: to another zone, to the child, growing until YXDOMAIN, to itself. */
    {"dn", T(DNAME), "example.net."},
    {"dnc", T(DNAME), "child.example.com."},
    {"grow", T(DNAME), "x.grow.example.com."},
    {"dnself", T(DNAME), "dnself.example.com."},
    {"long", T(DNAME),
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb."
     "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc."
     "example.com."},
    /* Delegations with glue, a DS on the parent side, occluded data below a cut. */
    {"sub", T(NS), "ns.sub.example.com."},
    {"sub", T(NS), "ns.elsewhere.example.net."},
    {"sub", T(NS), "ns1.example.com."},
    {"sub", T(DS),
     "\x30\x39\x08\x02"
     "0123456789abcdef0123456789abcdef"},
    {"ns.sub", T(A), "192.0.2.50"},
    {"ns.sub", T(AAAA), "2001:db8::50"},
    {"hidden.sub", T(A), "192.0.2.51"},
    {"child", T(NS), "ns.child.example.com."},
    {"child", T(DS),
     "\x30\x3a\x08\x02"
     "fedcba9876543210fedcba9876543210"},
    {"ns.child", T(A), "192.0.2.60"},
    /* An empty non-terminal chain above a name. */
    {"a.b.c.ent", T(A), "192.0.2.70"},
    /* A name of 255 bytes in wire form. */
    {"l1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     "l2aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     "l3aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     "l4aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     T(A), "192.0.2.80"},
    {NULL, 0, NULL},
};

static const rec_t child_example_com[] = {
    {"@", T(SOA), "ns.child.example.com. h.child.example.com. 7 3600 900 604800 60"},
    {"@", T(NS), "ns.child.example.com."},
    {"ns", T(A), "192.0.2.60"},
    {"www", T(A), "192.0.2.61"},
    {"www", T(AAAA), "2001:db8::61"},
    {"up", T(CNAME), "www.example.com."},
    {"*.w", T(TXT), "child wildcard"},
    {"deleg", T(NS), "ns.deleg.child.example.com."},
    {"ns.deleg", T(AAAA), "2001:db8::62"},
    {NULL, 0, NULL},
};

/* A zone that is only a DNAME at its apex. */
static const rec_t example_net[] = {
    {"@", T(SOA), "ns1.example.com. h.example.net. 3 3600 900 604800 3600"},
    {"@", T(NS), "ns1.example.com."},
    {"@", T(DNAME), "example.com."},
    {NULL, 0, NULL},
};

static void on_report(void *ctx, const char *file, unsigned long line, bool error, const char *msg)
{
	(void)ctx;
	if (error) {
		fprintf(stderr, "fuzz_packet: %s:%lu: %s\n", file ? file : "-", line, msg);
		abort();
	}
}

/* rdata under construction */
typedef struct rd {
	uint8_t b[4096];
	size_t n;
} rd_t;

static void rd_name(rd_t *r, const char *text)
{
	int n = dname_from_text(text, r->b + r->n);
	FUZZ_CHECK(n > 0, "bad name %s", text);
	r->n += (size_t)n;
}

static void rd_u16(rd_t *r, unsigned long v)
{
	wire_write16(r->b + r->n, (uint16_t)v);
	r->n += 2;
}

static void rd_u32(rd_t *r, unsigned long v)
{
	wire_write32(r->b + r->n, (uint32_t)v);
	r->n += 4;
}

/* Turns the rdata text of a record into wire form. */
static void rd_parse(rd_t *r, uint16_t type, const char *text)
{
	char a[256], b[256];
	unsigned long v[5];
	r->n = 0;
	switch (type) {
	case T(A):
		FUZZ_CHECK(inet_pton(AF_INET, text, r->b) == 1, "bad A %s", text);
		r->n = 4;
		break;
	case T(AAAA):
		FUZZ_CHECK(inet_pton(AF_INET6, text, r->b) == 1, "bad AAAA %s", text);
		r->n = 16;
		break;
	case T(NS):
	case T(CNAME):
	case T(DNAME):
		rd_name(r, text);
		break;
	case T(MX):
		FUZZ_CHECK(sscanf(text, "%lu %255s", &v[0], a) == 2, "bad MX %s", text);
		rd_u16(r, v[0]);
		rd_name(r, a);
		break;
	case T(SRV):
		FUZZ_CHECK(sscanf(text, "%lu %lu %lu %255s", &v[0], &v[1], &v[2], a) == 4,
		           "bad SRV %s", text);
		rd_u16(r, v[0]);
		rd_u16(r, v[1]);
		rd_u16(r, v[2]);
		rd_name(r, a);
		break;
	case T(SOA):
		FUZZ_CHECK(sscanf(text, "%255s %255s %lu %lu %lu %lu %lu", a, b, &v[0], &v[1],
		                  &v[2], &v[3], &v[4]) == 7,
		           "bad SOA %s", text);
		rd_name(r, a);
		rd_name(r, b);
		for (int i = 0; i < 5; i++)
			rd_u32(r, v[i]);
		break;
	case T(TXT): {
		size_t n = strlen(text);
		r->b[0] = (uint8_t)n;
		memcpy(r->b + 1, text, n);
		r->n = n + 1;
		break;
	}
	default: /* raw bytes */
		r->n = strlen(text);
		memcpy(r->b, text, r->n);
		break;
	}
}

static void add(zone_builder_t *b, const char *origin, const char *owner, uint16_t type,
                const rd_t *r, unsigned long line)
{
	char text[DNAME_TEXT_MAX];
	uint8_t o[DNAME_MAXLEN];
	if (strcmp(owner, "@") == 0)
		snprintf(text, sizeof(text), "%s", origin);
	else
		snprintf(text, sizeof(text), "%s.%s", owner, origin);
	FUZZ_CHECK(dname_from_text(text, o) > 0, "bad owner %s", text);
	FUZZ_CHECK(zone_builder_add(b, o, type, WIRE_CLASS_IN, 3600, r->b, (uint16_t)r->n,
	                            "fuzz_packet", line) == 0,
	           "cannot add %s", text);
}

static zone_t *build(const char *origin, const rec_t *recs)
{
	uint8_t apex[DNAME_MAXLEN];
	FUZZ_CHECK(dname_from_text(origin, apex) > 0, "bad origin %s", origin);
	zone_builder_t *b = zone_builder_new(apex, on_report, NULL);
	FUZZ_CHECK(b, "out of memory");
	rd_t r;
	unsigned long line = 1;
	for (const rec_t *x = recs; x->owner; x++) {
		rd_parse(&r, x->type, x->rdata);
		add(b, origin, x->owner, x->type, &r, line++);
	}
	if (strcmp(origin, "example.com.") == 0) {
		char owner[64], txt[256];
		/* An RRset too big for any UDP answer: 40 TXT records of 200 bytes. */
		for (int i = 0; i < 40; i++) {
			snprintf(txt, sizeof(txt), "%03d", i);
			memset(txt + 3, 'x' + i % 3, 197);
			txt[200] = 0;
			rd_parse(&r, T(TXT), txt);
			add(b, origin, "bigtxt", T(TXT), &r, line++);
		}
		/* 120 addresses at one name. */
		for (int i = 0; i < 120; i++) {
			snprintf(txt, sizeof(txt), "198.51.100.%d", i);
			rd_parse(&r, T(A), txt);
			add(b, origin, "many", T(A), &r, line++);
		}
		/* A delegation whose glue cannot all fit in 512 bytes. */
		for (int i = 0; i < 13; i++) {
			snprintf(txt, sizeof(txt),
			         "a-rather-long-server-name-%02d.bigdeleg.example.com.", i);
			rd_parse(&r, T(NS), txt);
			add(b, origin, "bigdeleg", T(NS), &r, line++);
			snprintf(owner, sizeof(owner), "a-rather-long-server-name-%02d.bigdeleg",
			         i);
			snprintf(txt, sizeof(txt), "203.0.113.%d", i);
			rd_parse(&r, T(A), txt);
			add(b, origin, owner, T(A), &r, line++);
			snprintf(txt, sizeof(txt), "2001:db8:113::%d", i);
			rd_parse(&r, T(AAAA), txt);
			add(b, origin, owner, T(AAAA), &r, line++);
		}
		/* More mail exchangers than there is room for their addresses over UDP. */
		for (int i = 0; i < 16; i++) {
			snprintf(txt, sizeof(txt), "%d h%02d.mxh.example.com.", i, i);
			rd_parse(&r, T(MX), txt);
			add(b, origin, "mxbig", T(MX), &r, line++);
			snprintf(owner, sizeof(owner), "h%02d.mxh", i);
			snprintf(txt, sizeof(txt), "198.51.100.%d", 200 + i);
			rd_parse(&r, T(A), txt);
			add(b, origin, owner, T(A), &r, line++);
			snprintf(txt, sizeof(txt), "2001:db8:100::%d", i);
			rd_parse(&r, T(AAAA), txt);
			add(b, origin, owner, T(AAAA), &r, line++);
		}
		/* A chain longer than the server follows. */
		for (int i = 0; i < 24; i++) {
			snprintf(owner, sizeof(owner), "chain%d", i);
			snprintf(txt, sizeof(txt), "chain%d.example.com.", i + 1);
			rd_parse(&r, T(CNAME), txt);
			add(b, origin, owner, T(CNAME), &r, line++);
		}
		rd_parse(&r, T(A), "192.0.2.99");
		add(b, origin, "chain24", T(A), &r, line++);
	}
	zone_t *z = NULL;
	FUZZ_CHECK(zone_builder_finish(b, &z) == 0 && z, "zone %s does not build", origin);
	zone_builder_free(b);
	return z;
}

static zonedb_t *db;
static uint8_t *tcp_buf, *udp_buf;

/* A signed zone from its text (fuzz_signed.h), through the zone file loader as served. */
static zone_t *load_signed(const uint8_t *apex, const char *text)
{
	char path[] = "/tmp/fuzz-signed-XXXXXX";
	int fd = mkstemp(path);
	FUZZ_CHECK(fd >= 0, "mkstemp");
	size_t len = strlen(text);
	FUZZ_CHECK(write(fd, text, len) == (ssize_t)len, "write");
	close(fd);
	zone_t *z = NULL;
	int ret = zonefile_load(apex, path, on_report, NULL, &z);
	unlink(path);
	FUZZ_CHECK(ret == 0 && z && z->dnssec, "signed zone does not load: %d", ret);
	return z;
}

static void init(void)
{
	static const struct {
		const char *origin;
		const rec_t *recs;
	} zones[] = {
	    {"example.com.", example_com},
	    {"child.example.com.", child_example_com},
	    {"example.net.", example_net},
	};
	size_t nsigned = sizeof(fuzz_signed_zones) / sizeof(fuzz_signed_zones[0]);
	db = zonedb_new(3 + nsigned);
	FUZZ_CHECK(db, "out of memory");
	for (size_t i = 0; i < nsigned; i++) {
		uint8_t apex[DNAME_MAXLEN];
		zonedb_slot_t *slot;
		FUZZ_CHECK(dname_from_text(fuzz_signed_zones[i][0], apex) > 0, "bad origin");
		FUZZ_CHECK(zonedb_add(db, apex, &slot) == 0, "zonedb_add");
		slot->zone = load_signed(apex, fuzz_signed_zones[i][1]);
	}
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		uint8_t apex[DNAME_MAXLEN];
		zonedb_slot_t *slot;
		FUZZ_CHECK(dname_from_text(zones[i].origin, apex) > 0, "bad origin");
		FUZZ_CHECK(zonedb_add(db, apex, &slot) == 0, "zonedb_add %s", zones[i].origin);
		slot->zone = build(zones[i].origin, zones[i].recs);
	}
	/* Exactly what the API promises to write into, so a write past it is caught. */
	tcp_buf = malloc(WIRE_MAX_MSG);
	udp_buf = malloc(MAX_UDP);
	FUZZ_CHECK(tcp_buf && udp_buf, "out of memory");
}

/*
 * Reads the input as a transfer request too; one that parses gets its refusal rendered and,
 * for a zone apex of ours, the whole response stream, every message walked and checked.
 */
static void transfer_out(const uint8_t *q, size_t qlen)
{
	xfr_request_t req;
	int ret = xfr_request_parse(q, qlen, &req);
	FUZZ_CHECK(ret == 0 || ret == XFR_NOT_REQUEST || ret == US_EMALF, "parse: %d", ret);
	if (ret == XFR_NOT_REQUEST)
		return;
	/* The workers only parse what the quick look lets through. */
	FUZZ_CHECK(xfr_maybe_request(q, qlen), "a transfer request the quick look misses");
	FUZZ_CHECK(req.qtype == WIRE_T_AXFR || req.qtype == WIRE_T_IXFR, "qtype %u", req.qtype);
	fuzz_msg_t m;
	int n = xfr_out_error(&req, WIRE_RCODE_BADVERS, 0, udp_buf, WIRE_MAX_UDP_STD);
	FUZZ_CHECK(n > 0, "xfr_out_error: %d", n);
	fuzz_walk_response(udp_buf, (size_t)n, &m);
	FUZZ_CHECK(m.qd == 1 && m.an == 0 && m.nopt == req.edns, "refusal: %u %u %d", m.qd, m.an,
	           m.nopt);
	uint8_t offs[DNAME_MAXLABELS];
	int nl = dname_label_offsets(req.lname, offs);
	const zonedb_slot_t *slot = zonedb_find(db, req.lname, req.lname_len, offs, nl, 0);
	if (ret || !slot || slot->apex_len != req.lname_len)
		return;
	const zone_t *z = zonedb_zone(slot);
	xfr_out_opts_t opts = {.soa_only = req.qtype == WIRE_T_IXFR && req.serial == z->serial,
	                       .edns_udp = MAX_UDP,
	                       .expire = true,
	                       .expire_val = 60,
	                       .reserve = 300,
	                       .target = 1 + q[qlen - 1] * 64u};
	xfr_out_t x;
	xfr_out_init(&x, z, &req, &opts);
	uint64_t records = 0;
	for (ret = XFR_MORE; ret == XFR_MORE;) {
		size_t len;
		ret = xfr_out_next(&x, tcp_buf, WIRE_MAX_MSG, &len);
		FUZZ_CHECK(ret == XFR_MORE || ret == XFR_DONE, "xfr_out_next: %d", ret);
		FUZZ_CHECK(len + opts.reserve <= WIRE_MAX_MSG, "message of %zu bytes", len);
		fuzz_walk_response(tcp_buf, len, &m);
		FUZZ_CHECK(m.qd == (x.messages == 1) && m.an > 0 && m.nopt == req.edns,
		           "message %" PRIu64 ": %u %u %d", x.messages, m.qd, m.an, m.nopt);
		records += m.an;
	}
	FUZZ_CHECK(records == (opts.soa_only ? 1 : z->nrecords + 1), "%" PRIu64 " records",
	           records);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!db)
		init();
	fuzz_answer(&conf, db, data, size, udp_buf, tcp_buf);
	transfer_out(data, size);
	return 0;
}
