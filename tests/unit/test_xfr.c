/* SPDX-License-Identifier: MIT */
/* test_xfr: transfer requests, the SOA check, AXFR/IXFR decoding, changesets and zone_apply. */
#include <inttypes.h>
#include <libzscanner/scanner.h>

#include "util.h"
#include "error.h"
#include "serial.h"
#include "xfr.h"
#include "zonediff.h"
#include "xfr_vectors.h"

#define QID    0x1234
#define APEX   "\7example\3com"
#define MSGMAX 24
#define PAD    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* ---- a tiny response builder: records come from zone-file text through libzscanner ---- */

typedef struct tmsg {
	uint8_t buf[16384];
	wire_writer_t w;
	uint16_t an, ar;
} tmsg_t;

typedef struct tstream {
	tmsg_t m[MSGMAX];
	int n;
	uint16_t qtype;
} tstream_t;

static tstream_t *ts_new(uint16_t qtype)
{
	tstream_t *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->qtype = qtype;
	return s;
}

static tmsg_t *ts_cur(tstream_t *s)
{
	assert_true(s->n > 0);
	return &s->m[s->n - 1];
}

static void ts_header(tmsg_t *m)
{
	wire_write16(m->buf + WIRE_ANCOUNT, m->an);
	wire_write16(m->buf + WIRE_ARCOUNT, m->ar);
}

/* Starts a message, with or without the question. */
static void ts_msg(tstream_t *s, bool question)
{
	assert_true(s->n < MSGMAX);
	tmsg_t *m = &s->m[s->n++];
	memset(m->buf, 0, WIRE_HDR_LEN);
	wire_writer_init(&m->w, m->buf, sizeof(m->buf));
	m->an = m->ar = 0;
	wire_write16(m->buf + WIRE_ID, QID);
	wire_write16(m->buf + WIRE_FLAGS, WIRE_QR | WIRE_AA);
	wire_write16(m->buf + WIRE_QDCOUNT, question);
	m->w.len = WIRE_HDR_LEN;
	if (question) {
		assert_int_equal(wire_put_name(&m->w, (const uint8_t *)APEX, true), 0);
		assert_int_equal(wire_put16(&m->w, s->qtype), 0);
		assert_int_equal(wire_put16(&m->w, WIRE_CLASS_IN), 0);
	}
}

static void on_scanned(zs_scanner_t *sc)
{
	tmsg_t *m = sc->process.data;
	assert_int_equal(wire_put_rr(&m->w, sc->r_owner, sc->r_type, sc->r_class, sc->r_ttl,
	                             sc->r_data, (uint16_t)sc->r_data_length),
	                 0);
	m->an++;
	ts_header(m);
}

static void on_scan_error(zs_scanner_t *sc)
{
	fail_msg("test record does not parse: %s", zs_strerror(sc->error.code));
}

/* Appends the records in zone-file text (origin example.com, TTL 300) to the answer section. */
static void ts_add(tstream_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void ts_add(tstream_t *s, const char *fmt, ...)
{
	char text[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	zs_scanner_t *sc = malloc(sizeof(*sc));
	assert_non_null(sc);
	assert_int_equal(zs_init(sc, "example.com.", 1, 300), 0);
	assert_int_equal(zs_set_input_string(sc, text, strlen(text)), 0);
	assert_int_equal(zs_set_processing(sc, on_scanned, on_scan_error, ts_cur(s)), 0);
	assert_int_equal(zs_parse_all(sc), 0);
	zs_deinit(sc);
	free(sc);
}

/* The SOA of the test zones, at serial. */
static void ts_soa(tstream_t *s, uint32_t serial)
{
	ts_add(s, "@ 3600 SOA ns1 hostmaster %u 7200 3600 1209600 300\n", serial);
}

/* Appends one record with rdata given as raw bytes (to carry compression pointers). */
static void ts_rawc(tstream_t *s, const char *owner, uint16_t type, uint16_t rclass, const void *rd,
                    uint16_t rdlen)
{
	tmsg_t *m = ts_cur(s);
	uint8_t name[DNAME_MAXLEN];
	assert_true(dname_from_text(owner, name) > 0);
	assert_int_equal(wire_put_name(&m->w, name, true), 0);
	assert_int_equal(wire_put16(&m->w, type), 0);
	assert_int_equal(wire_put16(&m->w, rclass), 0);
	assert_int_equal(wire_put32(&m->w, 300), 0);
	assert_int_equal(wire_put16(&m->w, rdlen), 0);
	assert_int_equal(wire_put(&m->w, rd, rdlen), 0);
	m->an++;
	ts_header(m);
}

static void ts_raw(tstream_t *s, const char *owner, uint16_t type, const void *rd, uint16_t rdlen)
{
	ts_rawc(s, owner, type, WIRE_CLASS_IN, rd, rdlen);
}

/* Appends an OPT record with the given option bytes to the additional section. */
static void ts_opt(tstream_t *s, const void *opts, uint16_t len, uint8_t ext_rcode)
{
	tmsg_t *m = ts_cur(s);
	uint8_t opt[11] = {0, 0, WIRE_T_OPT, 4, 0xd0, ext_rcode, 0, 0, 0};
	wire_write16(opt + 9, len);
	assert_int_equal(wire_put(&m->w, opt, sizeof(opt)), 0);
	assert_int_equal(wire_put(&m->w, opts, len), 0);
	m->ar++;
	ts_header(m);
}

static void ts_expire(tstream_t *s, uint32_t value)
{
	uint8_t o[8] = {0, XFR_EDNS_EXPIRE, 0, 4};
	wire_write32(o + 4, value);
	ts_opt(s, o, sizeof(o), 0);
}

/* Feeds every message; all but the last must return XFR_MORE. Returns the last's result. */
static int ts_feed(xfr_in_t *x, const tstream_t *s)
{
	int ret = XFR_MORE;
	for (int i = 0; i < s->n; i++) {
		ret = xfr_in_feed(x, s->m[i].buf, s->m[i].w.len);
		if (i + 1 < s->n && ret != XFR_MORE)
			fail_msg("message %d of %d: %d (%s)", i + 1, s->n, ret, xfr_in_error(x));
	}
	return ret;
}

/* Feeds a stream framed by 2-byte lengths; returns the last result, or XFR_MORE. */
static int feed_framed(xfr_in_t *x, const uint8_t *d, size_t len)
{
	int ret = XFR_MORE;
	while (len >= 2 && ret == XFR_MORE) {
		size_t n = wire_read16(d);
		assert_true(n + 2 <= len);
		ret = xfr_in_feed(x, d + 2, n);
		d += 2 + n;
		len -= 2 + n;
	}
	return ret;
}

static xfr_in_t *axfr_in(void)
{
	xfr_in_t *x = xfr_in_new((const uint8_t *)APEX, WIRE_T_AXFR, 0, NULL, QID);
	assert_non_null(x);
	return x;
}

static xfr_in_t *ixfr_in(uint32_t serial)
{
	xfr_in_t *x = xfr_in_new((const uint8_t *)APEX, WIRE_T_IXFR, serial, NULL, QID);
	assert_non_null(x);
	return x;
}

/* Expects the stream to fail with code and a message containing what. */
static void expect_fail(xfr_in_t *x, const tstream_t *s, int code, const char *what)
{
	int ret = XFR_MORE;
	for (int i = 0; i < s->n && ret == XFR_MORE; i++)
		ret = xfr_in_feed(x, s->m[i].buf, s->m[i].w.len);
	if (ret == XFR_MORE)
		ret = xfr_in_eof(x);
	if (ret != code || !strstr(xfr_in_error(x), what))
		fail_msg("wanted %d '%s', got %d '%s'", code, what, ret, xfr_in_error(x));
	assert_null(xfr_in_result(x));
	/* The error sticks. */
	assert_int_equal(xfr_in_feed(x, s->m[0].buf, s->m[0].w.len), code);
	assert_int_equal(xfr_in_eof(x), code);
	xfr_in_free(x);
	free((void *)s);
}

/* ---- comparing zones: every record, and the answers a client would get ---- */

static int has_rr(void *ctx, const uint8_t *owner, uint16_t type, uint32_t ttl,
                  const uint8_t *rdata, uint16_t rdlen)
{
	const zone_t *z = ctx;
	char t[DNAME_TEXT_MAX];
	dname_to_text(owner, t, sizeof(t));
	const zone_node_t *n = zone_find(z, owner, dname_len(owner));
	const zone_rrset_t *rs = n ? zone_node_rrset(n, type) : NULL;
	if (!rs)
		fail_msg("no type %u RRset at %s", type, t);
	if (rs->ttl != ttl)
		fail_msg("type %u at %s: TTL %u, wanted %u", type, t, rs->ttl, ttl);
	for (uint32_t off = 0;;) {
		if (wire_read16(rs->rdata + off) == rdlen &&
		    memcmp(rs->rdata + off + 2, rdata, rdlen) == 0)
			return 0;
		off = zone_rr_next(rs, off);
		if (!off)
			break;
	}
	fail_msg("type %u at %s: a record is missing", type, t);
	return 1;
}

static size_t answer(const zone_t *z, const char *name, uint16_t type, uint8_t *resp)
{
	zonedb_t *db = zonedb_new(1);
	zonedb_slot_t *slot;
	assert_int_equal(zonedb_add(db, z->apex, &slot), 0);
	slot->zone = (zone_t *)z;
	static const answer_conf_t conf = {.max_udp = 1232};
	uint8_t q[512];
	answer_info_t info;
	size_t qlen = util_query(q, name, type, WIRE_CLASS_IN, 1232, false);
	size_t n = answer_query(&conf, db, q, qlen, resp, true, &info);
	slot->zone = NULL;
	zonedb_free(db);
	return n;
}

static void assert_zone_equal(const zone_t *got, const zone_t *want)
{
	assert_int_equal(got->serial, want->serial);
	assert_int_equal(got->nrecords, want->nrecords);
	assert_int_equal(zone_foreach_rr(got, has_rr, (void *)want), 0);
	assert_int_equal(zone_foreach_rr(want, has_rr, (void *)got), 0);
	static const struct {
		const char *name;
		uint16_t type;
	} qs[] = {
	    {"example.com", WIRE_T_SOA},   {"example.com", WIRE_T_NS}, {"example.com", WIRE_T_MX},
	    {"www.example.com", WIRE_T_A}, {"mail.example.com", 28},   {"a.example.com", 16},
	    {"x.sub.example.com", 1},      {"nope.example.com", 1},    {"d.e.example.com", 1},
	};
	static uint8_t r1[WIRE_MAX_MSG], r2[WIRE_MAX_MSG];
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		size_t n1 = answer(got, qs[i].name, qs[i].type, r1);
		size_t n2 = answer(want, qs[i].name, qs[i].type, r2);
		assert_int_equal(n1, n2);
		assert_memory_equal(r1, r2, n1);
	}
}

static zone_t *zone_text(const char *text)
{
	zone_t *z = util_zone("example.com", text);
	if (!z)
		fail_msg("test zone does not load: %s", util_last_error);
	return z;
}

/* ---- requests and the SOA check ---- */

static void requests(void **state)
{
	(void)state;
	uint8_t buf[512];
	util_msg_t m;
	int n = xfr_build_soa_query(buf, sizeof(buf), 0xbeef, (const uint8_t *)"\7EXAMPLE\3com");
	assert_true(n > 0);
	util_parse(buf, (size_t)n, &m);
	assert_int_equal(wire_read16(buf), 0xbeef);
	assert_int_equal(m.flags, 0);
	assert_int_equal(wire_read16(buf + WIRE_QDCOUNT), 1);
	assert_int_equal(wire_read16(buf + (size_t)n - 19 - 4), WIRE_T_SOA);
	assert_int_equal(m.count[2], 1);
	assert_int_equal(m.rr[0].type, WIRE_T_OPT);
	/* EXPIRE and ZONEVERSION, both empty in a query. */
	assert_int_equal(m.rr[0].rdlen, 8);
	assert_memory_equal(m.rr[0].rdata, "\0\11\0\0\0\x13\0\0", 8);

	n = xfr_build_axfr(buf, sizeof(buf), 1, (const uint8_t *)APEX);
	assert_true(n > 0);
	util_parse(buf, (size_t)n, &m);
	assert_int_equal(wire_read16(buf + WIRE_HDR_LEN + 13), WIRE_T_AXFR);
	assert_int_equal(m.nrr, 1);
	assert_int_equal(m.rr[0].type, WIRE_T_OPT);

	n = xfr_build_ixfr(buf, sizeof(buf), 2, (const uint8_t *)APEX, 2024010101);
	assert_true(n > 0);
	util_parse(buf, (size_t)n, &m);
	assert_int_equal(wire_read16(buf + WIRE_HDR_LEN + 13), WIRE_T_IXFR);
	assert_int_equal(m.count[1], 1);
	assert_int_equal(m.rr[0].section, 1);
	assert_int_equal(m.rr[0].type, WIRE_T_SOA);
	assert_string_equal(m.rr[0].owner, "example.com.");
	assert_int_equal(m.rr[0].rdlen, 22);
	assert_int_equal(wire_read32(m.rr[0].rdata + 2), 2024010101);
	assert_int_equal(m.rr[1].type, WIRE_T_OPT);
	/* The OPT comes last, so a TSIG can follow it; a short buffer is refused whole. */
	assert_int_equal(xfr_build_ixfr(buf, (size_t)n - 1, 2, (const uint8_t *)APEX, 1),
	                 US_ETRUNC);
	assert_int_equal(xfr_build_axfr(buf, 20, 2, (const uint8_t *)APEX), US_ETRUNC);
}

static void soa_response(void **state)
{
	(void)state;
	xfr_soa_answer_t a = {0};
	char err[XFR_ERRLEN];
	const uint8_t *apex = (const uint8_t *)APEX;
	tstream_t *s = ts_new(WIRE_T_SOA);
	ts_msg(s, true);
	ts_add(s, "@ NS ns1\n");
	ts_soa(s, 77);
	tmsg_t *m = ts_cur(s);
	assert_int_equal(xfr_parse_soa_response(m->buf, m->w.len, QID, apex, &a, err, sizeof(err)),
	                 0);
	assert_int_equal(a.serial, 77);
	assert_false(a.expire_present);
	assert_false(a.version_present);
	assert_true(a.aa);
	ts_expire(s, 86400);
	assert_int_equal(xfr_parse_soa_response(m->buf, m->w.len, QID, apex, &a, err, sizeof(err)),
	                 0);
	assert_true(a.expire_present);
	assert_int_equal(a.expire, 86400);

	/* Each check, on a copy of the good response. */
	uint8_t bad[1024];
	size_t len = m->w.len;
	struct {
		size_t off;
		uint8_t val;
		int ret;
		const char *what;
	} cases[] = {
	    {1, 0x35, US_EMALF, "ID"},
	    {2, 0x04, US_EMALF, "QR"},
	    {2, 0xa4, US_EMALF, "opcode"},
	    {2, 0x80, US_ENOENT, "AA"},
	    {2, 0x86, US_ETRUNC, "TC"},
	    {3, 0x05, XFR_ERCODE, "REFUSED"},
	    {3, 0x09, XFR_ERCODE, "NOTAUTH"},
	    {WIRE_HDR_LEN + 14, 1, US_EMALF, "question"},
	    {WIRE_HDR_LEN + 1, 'x', US_EMALF, "question"},
	    {7, 1, US_EMALF, "after the last record"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad, m->buf, len);
		bad[cases[i].off] = cases[i].val;
		err[0] = 0;
		int ret = xfr_parse_soa_response(bad, len, QID, apex, &a, err, sizeof(err));
		if (ret != cases[i].ret || !strstr(err, cases[i].what))
			fail_msg("case %zu: got %d '%s'", i, ret, err);
		if (ret == XFR_ERCODE)
			assert_int_equal(a.rcode, cases[i].val & 0xF);
	}
	assert_int_equal(xfr_parse_soa_response(m->buf, 11, QID, apex, &a, err, sizeof(err)),
	                 US_EMALF);
	/* An answer without the SOA, and an SOA of another zone: a server for another zone. */
	free(s);
	s = ts_new(WIRE_T_SOA);
	ts_msg(s, true);
	ts_add(s, "@ NS ns1\nsub SOA ns1 h 5 1 1 1 1\n");
	m = ts_cur(s);
	a.serial = 77;
	assert_int_equal(xfr_parse_soa_response(m->buf, m->w.len, QID, apex, &a, err, sizeof(err)),
	                 US_ENOENT);
	assert_non_null(strstr(err, "no SOA"));
	assert_true(a.aa);
	assert_int_equal(a.serial, 77); /* the serial is written only on success */
	/* A bad EXPIRE length. */
	free(s);
	s = ts_new(WIRE_T_SOA);
	ts_msg(s, true);
	ts_soa(s, 5);
	ts_opt(s, "\0\11\0\0", 4, 0);
	m = ts_cur(s);
	assert_int_equal(xfr_parse_soa_response(m->buf, m->w.len, QID, apex, &a, err, sizeof(err)),
	                 US_EMALF);
	assert_non_null(strstr(err, "EXPIRE"));
	/* ZONEVERSION (RFC 9660): label count 2, type SOA-SERIAL; a type we cannot read is
	 * passed over. */
	free(s);
	s = ts_new(WIRE_T_SOA);
	ts_msg(s, true);
	ts_soa(s, 5);
	ts_opt(s, "\0\x13\0\6\2\0\0\0\0\5", 10, 0);
	m = ts_cur(s);
	assert_int_equal(xfr_parse_soa_response(m->buf, m->w.len, QID, apex, &a, err, sizeof(err)),
	                 0);
	assert_true(a.version_present);
	assert_int_equal(a.version, 5);
	free(s);
	s = ts_new(WIRE_T_SOA);
	ts_msg(s, true);
	ts_soa(s, 5);
	ts_opt(s, "\0\x13\0\3\2\7\1", 7, 0);
	m = ts_cur(s);
	assert_int_equal(xfr_parse_soa_response(m->buf, m->w.len, QID, apex, &a, err, sizeof(err)),
	                 0);
	assert_false(a.version_present);
	free(s);
}

/* ---- AXFR ---- */

#define ZONE_TEXT                                                                                  \
	"$TTL 300\n"                                                                               \
	"@ 3600 SOA ns1 hostmaster %u 7200 3600 1209600 300\n"                                     \
	"@ NS ns1\n"                                                                               \
	"@ MX 10 mail\n"                                                                           \
	"ns1 A 192.0.2.53\n"                                                                       \
	"www A 192.0.2.80\n"                                                                       \
	"mail A 192.0.2.25\n"                                                                      \
	"a TXT \"a\"\n"                                                                            \
	"b TXT \"b\"\n"

static void axfr_multi_message(void **state)
{
	(void)state;
	char text[2048];
	snprintf(text, sizeof(text),
	         ZONE_TEXT "sub NS ns.sub\nns.sub A 192.0.2.9\n*.wild CNAME www\n"
	                   "srv SRV 0 1 53 www\nMiXeD.Case TXT \"kept\"\n",
	         9);
	zone_t *want = zone_text(text);

	tstream_t *s = ts_new(WIRE_T_AXFR);
	ts_msg(s, true);
	ts_soa(s, 9);
	ts_add(s, "@ NS ns1\n@ MX 10 mail\nns1 A 192.0.2.53\n");
	ts_expire(s, 604800);
	ts_msg(s, false); /* later messages may leave the question out ... */
	ts_add(s, "www A 192.0.2.80\nmail A 192.0.2.25\na TXT a\nsub NS ns.sub\n");
	ts_msg(s, true); /* ... or repeat it */
	ts_add(s, "ns.sub A 192.0.2.9\n*.wild CNAME www\nb TXT b\nsrv SRV 0 1 53 www\n");
	ts_add(s, "MiXeD.Case TXT kept\nwww A 192.0.2.80\n"); /* a duplicate is dropped */
	ts_msg(s, false);
	ts_soa(s, 9);

	xfr_in_t *x = axfr_in();
	assert_null(xfr_in_result(x));
	assert_int_equal(ts_feed(x, s), XFR_DONE);
	const xfr_result_t *r = xfr_in_result(x);
	assert_non_null(r);
	assert_int_equal(r->kind, XFR_FULL);
	assert_int_equal(r->serial, 9);
	assert_true(r->expire_present);
	assert_int_equal(r->expire, 604800);
	assert_int_equal(r->messages, 4);
	assert_int_equal(r->records, 15);
	assert_string_equal(xfr_in_error(x), "");
	assert_non_null(r->zone);
	zone_t *z = xfr_in_take_zone(x);
	assert_non_null(z);
	assert_null(xfr_in_take_zone(x));
	assert_null(r->zone);
	assert_int_equal(xfr_in_eof(x), 0);
	xfr_in_free(x);
	assert_zone_equal(z, want);
	zone_unref(z);
	zone_unref(want);
	free(s);
}

static void axfr_dnspython(void **state)
{
	(void)state;
	xfr_in_t *x = axfr_in();
	assert_int_equal(feed_framed(x, xfr_vec_axfr, sizeof(xfr_vec_axfr)), XFR_DONE);
	const xfr_result_t *r = xfr_in_result(x);
	assert_int_equal(r->kind, XFR_FULL);
	assert_int_equal(r->serial, 1);
	assert_true(r->expire_present);
	assert_int_equal(r->expire, 3600);
	zone_t *want = zone_text(xfr_vec_base_zone);
	assert_zone_equal(r->zone, want);
	zone_unref(want);
	/* The zone not taken goes with the decoder. */
	xfr_in_free(x);
}

static void axfr_one_message_each(void **state)
{
	(void)state;
	/* BIND's one-answer format: a message per record. */
	tstream_t *s = ts_new(WIRE_T_AXFR);
	const char *recs[] = {"@ NS ns1\n", "ns1 A 192.0.2.53\n", "www A 192.0.2.80\n"};
	ts_msg(s, true);
	ts_soa(s, 3);
	for (int i = 0; i < 3; i++) {
		ts_msg(s, false);
		ts_add(s, "%s", recs[i]);
	}
	ts_msg(s, false);
	ts_soa(s, 3);
	xfr_in_t *x = axfr_in();
	assert_int_equal(ts_feed(x, s), XFR_DONE);
	assert_int_equal(xfr_in_result(x)->kind, XFR_FULL);
	assert_int_equal(xfr_in_result(x)->zone->nrecords, 4);
	xfr_in_free(x);
	free(s);
}

static void axfr_out_of_zone(void **state)
{
	(void)state;
	tstream_t *s = ts_new(WIRE_T_AXFR);
	ts_msg(s, true);
	ts_soa(s, 1);
	ts_add(s, "@ NS ns1\nns1 A 192.0.2.1\nevil.example.org. A 192.0.2.66\n");
	ts_soa(s, 1);
	expect_fail(axfr_in(), s, US_EZONE, "evil.example.org. type 1 is outside the zone");

	/* The apex's parent is outside too, and so is a sibling sharing a suffix. */
	s = ts_new(WIRE_T_AXFR);
	ts_msg(s, true);
	ts_soa(s, 1);
	ts_add(s, "notexample.com. A 192.0.2.66\n");
	expect_fail(axfr_in(), s, US_EZONE, "notexample.com. type 1 is outside");
}

static void axfr_truncated(void **state)
{
	(void)state;
	/* No final SOA: more is needed, and the caller's EOF makes it an error. */
	tstream_t *s = ts_new(WIRE_T_AXFR);
	ts_msg(s, true);
	ts_soa(s, 1);
	ts_add(s, "@ NS ns1\nns1 A 192.0.2.1\n");
	ts_msg(s, false);
	ts_add(s, "www A 192.0.2.2\n");
	xfr_in_t *x = axfr_in();
	assert_int_equal(ts_feed(x, s), XFR_MORE);
	assert_null(xfr_in_result(x));
	assert_int_equal(xfr_in_eof(x), US_EMALF);
	assert_non_null(strstr(xfr_in_error(x), "ended early, after 4 records"));
	xfr_in_free(x);

	/* Nothing at all. */
	x = axfr_in();
	assert_int_equal(xfr_in_eof(x), US_EMALF);
	assert_non_null(strstr(xfr_in_error(x), "before the first record"));
	xfr_in_free(x);

	/* A message cut short at every possible length. */
	tmsg_t *m = &s->m[0];
	for (size_t len = 0; len < m->w.len; len++) {
		x = axfr_in();
		int ret = xfr_in_feed(x, m->buf, len);
		assert_true(ret == US_EMALF);
		xfr_in_free(x);
	}
	free(s);
}

/* One AXFR stream with a defect, for the table below. */
static tstream_t *axfr_with(int defect)
{
	tstream_t *s = ts_new(WIRE_T_AXFR);
	ts_msg(s, defect != 1);
	if (defect == 2)
		ts_add(s, "@ NS ns1\n");
	ts_soa(s, 5);
	ts_add(s, "@ NS ns1\nns1 A 192.0.2.1\n");
	if (defect == 3)
		ts_rawc(s, "x.example.com", WIRE_T_TXT, WIRE_CLASS_CH, "\5chaos", 6);
	if (defect == 4)
		ts_add(s, "x.y SOA ns1 h 1 1 1 1 1\n");
	if (defect == 5)
		ts_add(s, "x CNAME a\nx A 192.0.2.3\n");
	if (defect == 6)
		ts_raw(s, "x.example.com", WIRE_T_TSIG, "", 0);
	if (defect == 7)
		ts_raw(s, "x.example.com", WIRE_T_A, "\1\2\3", 3);
	if (defect == 8)
		ts_raw(s, "x.example.com", WIRE_T_MX, "\0\1\377\377", 4); /* forward pointer */
	if (defect == 9)
		ts_raw(s, "example.com", WIRE_T_SOA, "\0\0\0\0\0\0", 6);
	ts_msg(s, defect == 10);
	if (defect == 10) {
		s->m[s->n - 1].w.len -= 4;
		assert_int_equal(wire_put16(&s->m[s->n - 1].w, WIRE_T_IXFR), 0);
		assert_int_equal(wire_put16(&s->m[s->n - 1].w, WIRE_CLASS_IN), 0);
	}
	ts_soa(s, defect == 11 ? 6 : 5);
	if (defect == 12)
		ts_add(s, "late A 192.0.2.1\n");
	if (defect == 13)
		ts_soa(s, 5);
	if (defect == 14) {
		ts_opt(s, "", 0, 0);
		ts_opt(s, "", 0, 0);
	}
	if (defect == 15)
		ts_opt(s, "\0\11\0\1\0", 5, 0);
	if (defect == 16)
		ts_opt(s, "\0\11\0\4\0", 5, 0);
	if (defect == 17)
		ts_opt(s, "", 0, 1); /* extended RCODE 16: BADVERS */
	return s;
}

static void axfr_bad_streams(void **state)
{
	(void)state;
	expect_fail(axfr_in(), axfr_with(1), US_EMALF, "no question");
	expect_fail(axfr_in(), axfr_with(2), US_EMALF, "first record (example.com. type 2)");
	expect_fail(axfr_in(), axfr_with(3), US_EZONE, "x.example.com. type 16 has class 3");
	expect_fail(axfr_in(), axfr_with(4), US_EZONE, "SOA record at x.y.example.com.");
	expect_fail(axfr_in(), axfr_with(5), US_EZONE, "fails a check: record 4: CNAME and other");
	expect_fail(axfr_in(), axfr_with(6), US_EMALF, "type 250, which cannot be in a zone");
	expect_fail(axfr_in(), axfr_with(7), US_EZONE, "fails a check: record 4: malformed rdata");
	expect_fail(axfr_in(), axfr_with(8), US_EMALF, "record 4 (x.example.com. type 15)");
	expect_fail(axfr_in(), axfr_with(9), US_EMALF, "malformed SOA record (record 4)");
	expect_fail(axfr_in(), axfr_with(10), US_EMALF, "question (example.com. type 251");
	expect_fail(axfr_in(), axfr_with(11), US_EMALF, "serial 6 follows the first SOA's 5");
	expect_fail(axfr_in(), axfr_with(12), US_EMALF, "records after the final SOA");
	expect_fail(axfr_in(), axfr_with(13), US_EMALF, "records after the final SOA");
	expect_fail(axfr_in(), axfr_with(14), US_EMALF, "misplaced OPT");
	expect_fail(axfr_in(), axfr_with(15), US_EMALF, "EXPIRE option of 1 bytes");
	expect_fail(axfr_in(), axfr_with(16), US_EMALF, "malformed OPT");

	/* An extended RCODE in the last message. */
	xfr_in_t *x = axfr_in();
	tstream_t *s = axfr_with(17);
	assert_int_equal(ts_feed(x, s), XFR_ERCODE);
	assert_int_equal(xfr_in_rcode(x), WIRE_RCODE_BADVERS);
	assert_non_null(strstr(xfr_in_error(x), "BADVERS"));
	xfr_in_free(x);
	free(s);

	/* The zone checks run on what came: no NS at the apex. */
	s = ts_new(WIRE_T_AXFR);
	ts_msg(s, true);
	ts_soa(s, 1);
	ts_add(s, "www A 192.0.2.1\n");
	ts_soa(s, 1);
	expect_fail(axfr_in(), s, US_EZONE, "fails a check: no NS records");

	/* Header problems, in the first or a later message. */
	static const struct {
		size_t off;
		uint8_t val;
		int ret;
		const char *what;
	} cases[] = {
	    {1, 0x35, US_EMALF, "ID 4661 does not match the query's 4660"},
	    {2, 0x04, US_EMALF, "QR clear"},
	    {2, 0x94, US_EMALF, "opcode 2"},
	    {2, 0x86, US_EMALF, "truncated"},
	    {3, 0x05, XFR_ERCODE, "answered REFUSED"},
	    {3, 0x01, XFR_ERCODE, "answered FORMERR"},
	    {3, 0x0e, XFR_ERCODE, "answered RCODE14"},
	    {5, 0x02, US_EMALF, "2 questions"},
	};
	for (int later = 0; later < 2; later++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			s = axfr_with(0);
			s->m[later].buf[cases[i].off] = cases[i].val;
			x = axfr_in();
			int ret = XFR_MORE;
			for (int j = 0; j < s->n && ret == XFR_MORE; j++)
				ret = xfr_in_feed(x, s->m[j].buf, s->m[j].w.len);
			if (ret != cases[i].ret || !strstr(xfr_in_error(x), cases[i].what))
				fail_msg("case %zu in message %d: got %d '%s'", i, later + 1, ret,
				         xfr_in_error(x));
			assert_int_equal(xfr_in_rcode(x), ret == XFR_ERCODE ? cases[i].val : 0);
			xfr_in_free(x);
			free(s);
		}
	}

	/* A message after the end. */
	s = axfr_with(0);
	x = axfr_in();
	assert_int_equal(ts_feed(x, s), XFR_DONE);
	assert_int_equal(xfr_in_feed(x, s->m[1].buf, s->m[1].w.len), US_EMALF);
	assert_non_null(strstr(xfr_in_error(x), "after the end"));
	assert_null(xfr_in_result(x));
	assert_null(xfr_in_take_zone(x));
	xfr_in_free(x);
	free(s);

	/* A first message without records. */
	s = ts_new(WIRE_T_AXFR);
	ts_msg(s, true);
	expect_fail(axfr_in(), s, US_EMALF, "no records");

	/* A qtype that is no transfer. */
	assert_null(xfr_in_new((const uint8_t *)APEX, WIRE_T_SOA, 0, NULL, QID));
	xfr_in_free(NULL);
}

static void decompression(void **state)
{
	(void)state;
	tstream_t *s = ts_new(WIRE_T_AXFR);
	ts_msg(s, true);
	ts_soa(s, 2); /* the SOA's names are compressed by the writer */
	ts_add(s, "@ NS ns1\nns1 A 192.0.2.1\n");
	/* Names in rdata pointing at the question's "example.com" (offset 12). */
	ts_raw(s, "srv.example.com", WIRE_T_SRV, "\0\1\0\2\0\3\3www\300\14", 12);
	ts_raw(s, "mx.example.com", WIRE_T_MX, "\0\12\300\14", 4);
	ts_raw(s, "rp.example.com", 17, "\1a\300\14\1b\300\14", 8);
	ts_raw(s, "naptr.example.com", 35, "\0\1\0\2\1u\3E2U\0\300\14", 13);
	ts_raw(s, "kx.example.com", 36, "\0\5\3kx1\300\14", 8);
	ts_soa(s, 2);
	xfr_in_t *x = axfr_in();
	assert_int_equal(ts_feed(x, s), XFR_DONE);
	const zone_t *z = xfr_in_result(x)->zone;
	zone_t *want =
	    zone_text("@ 3600 SOA ns1 hostmaster 2 7200 3600 1209600 300\n@ 300 NS ns1\n"
	              "ns1 300 A 192.0.2.1\nsrv 300 SRV 1 2 3 www\nmx 300 MX 10 @\n"
	              "rp 300 RP a b\nnaptr 300 NAPTR 1 2 u E2U \"\" @\nkx 300 KX 5 kx1\n");
	assert_zone_equal(z, want);
	zone_unref(want);
	xfr_in_free(x);
	free(s);
}

/* ---- IXFR ---- */

static const char *const final4 = "$TTL 300\n"
                                  "@ 3600 SOA ns1 hostmaster 4 7200 3600 1209600 300\n"
                                  "@ NS ns1\n"
                                  "@ MX 10 mail\n"
                                  "ns1 A 192.0.2.53\n"
                                  "www 600 A 192.0.2.80\n"
                                  "mail A 192.0.2.26\n"
                                  "a TXT \"a again\"\n"
                                  "b TXT \"b\"\n"
                                  "c TXT \"c\"\n"
                                  "d.e A 192.0.2.4\n";

static zone_t *base_zone(uint32_t serial)
{
	char text[1024];
	snprintf(text, sizeof(text), ZONE_TEXT, serial);
	return zone_text(text);
}

/* 1 -> 2 -> 3 -> 4 in three sequences, split over messages mid-sequence. */
static tstream_t *ixfr_three(void)
{
	tstream_t *s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 4);
	ts_soa(s, 1);
	ts_add(s, "www A 192.0.2.80\n");
	ts_soa(s, 2);
	ts_add(s, "www A 192.0.2.81\n");
	ts_soa(s, 2);
	ts_add(s, "a TXT a\n");
	ts_expire(s, 1000);
	ts_msg(s, false);
	ts_soa(s, 3);
	ts_add(s, "c TXT c\nd.e A 192.0.2.4\n");
	ts_soa(s, 3);
	ts_add(s, "WWW A 192.0.2.81\nmail A 192.0.2.25\n");
	ts_msg(s, true);
	ts_soa(s, 4);
	ts_add(s, "www 600 A 192.0.2.80\nmail A 192.0.2.26\na TXT \"a again\"\n");
	ts_soa(s, 4);
	return s;
}

static void ixfr_three_sequences(void **state)
{
	(void)state;
	zone_t *old = base_zone(1), *copy = base_zone(1), *want = zone_text(final4);
	tstream_t *s = ixfr_three();
	xfr_in_t *x = ixfr_in(1);
	assert_int_equal(ts_feed(x, s), XFR_DONE);
	const xfr_result_t *r = xfr_in_result(x);
	assert_int_equal(r->kind, XFR_INCREMENTAL);
	assert_int_equal(r->serial, 4);
	assert_int_equal(r->expire, 1000);
	assert_null(r->zone);
	const xfr_changeset_t *cs = r->changeset;
	assert_int_equal(cs->ndiffs, 3);
	assert_int_equal(cs->from, 1);
	assert_int_equal(cs->to, 4);
	const zone_diff_t *d = cs->first;
	assert_int_equal(d->from, 1);
	assert_int_equal(d->to, 2);
	assert_int_equal(d->nremoved, 1);
	assert_int_equal(d->nadded, 1);
	assert_int_equal(d->removed->type, WIRE_T_A);
	assert_memory_equal(d->removed->rdata, "\300\0\2\120", 4);
	assert_null(d->removed->next);
	d = d->next;
	assert_int_equal(d->nremoved, 1);
	assert_int_equal(d->nadded, 2);
	assert_memory_equal(d->added->next->owner, "\1d\1e\7example\3com", 17);
	d = d->next;
	assert_int_equal(d->from, 3);
	assert_int_equal(d->to, 4);
	assert_int_equal(d->nremoved, 2);
	assert_int_equal(d->nadded, 3);
	assert_memory_equal(d->removed->owner, "\3WWW", 4); /* case as received */
	assert_int_equal(d->added->ttl, 600);
	assert_int_equal(wire_read32(d->soa_to->rdata + d->soa_to->rdlen - 20), 4);
	assert_null(d->next);

	zone_t *z = NULL;
	char err[XFR_ERRLEN] = "";
	assert_int_equal(zone_apply(old, cs, NULL, &z, err, sizeof(err)), 0);
	assert_zone_equal(z, want);
	/* The old version is untouched. */
	assert_zone_equal(old, copy);
	zone_unref(z);
	zone_unref(old);
	zone_unref(copy);
	zone_unref(want);
	xfr_in_free(x);
	free(s);
}

static void ixfr_condensed(void **state)
{
	(void)state;
	/* One sequence straight from 1 to 4, a record deleted and added back with a new TTL. */
	tstream_t *s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 4);
	ts_soa(s, 1);
	ts_add(s, "www A 192.0.2.80\na TXT a\nmail A 192.0.2.25\n");
	ts_soa(s, 4);
	ts_add(s, "c TXT c\nd.e A 192.0.2.4\nwww 600 A 192.0.2.80\nmail A 192.0.2.26\n"
	          "a TXT \"a again\"\n");
	ts_soa(s, 4);
	xfr_in_t *x = ixfr_in(1);
	assert_int_equal(ts_feed(x, s), XFR_DONE);
	const xfr_result_t *r = xfr_in_result(x);
	assert_int_equal(r->kind, XFR_INCREMENTAL);
	assert_int_equal(r->changeset->ndiffs, 1);
	zone_t *old = base_zone(1), *want = zone_text(final4), *z = NULL;
	char err[XFR_ERRLEN];
	assert_int_equal(zone_apply(old, r->changeset, NULL, &z, err, sizeof(err)), 0);
	assert_zone_equal(z, want);
	zone_unref(z);
	zone_unref(old);
	zone_unref(want);
	xfr_in_free(x);
	free(s);
}

static void ixfr_dnspython(void **state)
{
	(void)state;
	zone_t *old = zone_text(xfr_vec_base_zone), *want = zone_text(xfr_vec_final_zone);
	xfr_in_t *x = ixfr_in(1);
	assert_int_equal(feed_framed(x, xfr_vec_ixfr, sizeof(xfr_vec_ixfr)), XFR_DONE);
	const xfr_result_t *r = xfr_in_result(x);
	assert_int_equal(r->kind, XFR_INCREMENTAL);
	assert_int_equal(r->serial, 3);
	assert_int_equal(r->expire, 7200);
	assert_int_equal(r->changeset->ndiffs, 2);
	zone_t *z = NULL;
	char err[XFR_ERRLEN];
	if (zone_apply(old, r->changeset, NULL, &z, err, sizeof(err)))
		fail_msg("%s", err);
	assert_zone_equal(z, want);
	zone_unref(z);
	xfr_in_free(x);

	x = ixfr_in(1);
	assert_int_equal(feed_framed(x, xfr_vec_ixfr_uptodate, sizeof(xfr_vec_ixfr_uptodate)),
	                 XFR_DONE);
	assert_int_equal(xfr_in_result(x)->kind, XFR_UPTODATE);
	xfr_in_free(x);

	x = ixfr_in(1);
	assert_int_equal(feed_framed(x, xfr_vec_ixfr_axfr_style, sizeof(xfr_vec_ixfr_axfr_style)),
	                 XFR_DONE);
	assert_int_equal(xfr_in_result(x)->kind, XFR_FULL);
	assert_zone_equal(xfr_in_result(x)->zone, want);
	xfr_in_free(x);
	zone_unref(old);
	zone_unref(want);
}

/* Decodes a one-sequence IXFR 1 -> 2 with the given deletions and additions. */
static xfr_in_t *ixfr_one(const char *del, const char *add)
{
	tstream_t *s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 2);
	ts_soa(s, 1);
	ts_add(s, "%s", del);
	ts_soa(s, 2);
	ts_add(s, "%s", add);
	ts_soa(s, 2);
	xfr_in_t *x = ixfr_in(1);
	assert_int_equal(ts_feed(x, s), XFR_DONE);
	free(s);
	return x;
}

/*
 * Applies a one-sequence IXFR leniently: returns the redundant additions it left out (or a
 * negative error); on success what it kept applies strictly to the old zone and gives the
 * same result, as the journal and IXFR out rely on.
 */
static int apply_lenient(const char *del, const char *add, size_t *kept_added)
{
	xfr_in_t *x = ixfr_one(del, add);
	zone_t *old = base_zone(1), *z = NULL, *again = NULL;
	arena_t mem;
	arena_init(&mem);
	zone_apply_lenient_t l = {.mem = &mem};
	char err[XFR_ERRLEN];
	int ret = zone_apply(old, xfr_in_result(x)->changeset, &l, &z, err, sizeof(err));
	if (ret == 0) {
		assert_int_equal(l.kept.ndiffs, 1);
		assert_int_equal(l.kept.to, 2);
		*kept_added = 0;
		for (const zone_rr_t *r = l.kept.first->added; r; r = r->next)
			(*kept_added)++;
		assert_int_equal(*kept_added, l.kept.first->nadded);
		if (zone_apply(old, &l.kept, NULL, &again, err, sizeof(err)))
			fail_msg("what was kept does not apply: %s", err);
		assert_true(zone_same(z, again));
		assert_int_equal(z->nrecords, again->nrecords);
		ret = (int)l.redundant;
	}
	zone_unref(again);
	zone_unref(z);
	zone_unref(old);
	arena_deinit(&mem);
	xfr_in_free(x);
	return ret;
}

/* nsd 4.6's IXFRs add records the zone holds; named takes them as no change, and so do we
 * when asked to, refusing all else that strict applies refuse. */
static void ixfr_apply_lenient(void **state)
{
	(void)state;
	size_t kept = 99;
	assert_int_equal(apply_lenient("", "www A 192.0.2.80\nnew A 192.0.2.5\n", &kept), 1);
	assert_int_equal(kept, 1);
	assert_int_equal(apply_lenient("", "c TXT c\nc TXT c\n", &kept), 1);
	assert_int_equal(kept, 1);
	assert_int_equal(apply_lenient("www A 192.0.2.80\n", "www A 192.0.2.80\n", &kept), 0);
	assert_int_equal(kept, 1);
	/* Every addition there already: only the SOA moves. */
	assert_int_equal(apply_lenient("", "@ NS ns1\nmail A 192.0.2.25\n", &kept), 2);
	assert_int_equal(kept, 0);
	/* Not harmless: another TTL would change the RRset; a deletion of what we lack. */
	assert_int_equal(apply_lenient("", "www 900 A 192.0.2.80\n", &kept), US_EEXIST);
	assert_int_equal(apply_lenient("www A 192.0.2.99\n", "", &kept), US_ENOENT);
}

/*
 * Applies the IXFR 1 -> 2 -> 3 of the given deletions and additions leniently, then condenses
 * what it kept, as IXFR out does with the journal's entries: the condensed diff must take the
 * old zone to the same records and TTLs. Returns the TTL of the first removal it kept.
 */
static uint32_t kept_condenses(const char *del1, const char *add1, const char *del2,
                               const char *add2)
{
	tstream_t *s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 3);
	ts_soa(s, 1);
	ts_add(s, "%s", del1);
	ts_soa(s, 2);
	ts_add(s, "%s", add1);
	ts_soa(s, 2);
	ts_add(s, "%s", del2);
	ts_soa(s, 3);
	ts_add(s, "%s", add2);
	ts_soa(s, 3);
	xfr_in_t *x = ixfr_in(1);
	assert_int_equal(ts_feed(x, s), XFR_DONE);
	free(s);
	zone_t *old = base_zone(1), *z = NULL, *again = NULL;
	arena_t mem;
	arena_init(&mem);
	zone_apply_lenient_t l = {.mem = &mem};
	zone_changeset_t c;
	char err[XFR_ERRLEN];
	if (zone_apply(old, xfr_in_result(x)->changeset, &l, &z, err, sizeof(err)))
		fail_msg("does not apply: %s", err);
	assert_int_equal(zonediff_condense(&l.kept, &mem, &c), 0);
	if (zone_apply(old, &c, NULL, &again, err, sizeof(err)))
		fail_msg("the condensed diff does not apply: %s", err);
	assert_true(zone_same(z, again));
	uint32_t ttl = l.kept.first->removed ? l.kept.first->removed->ttl : 0;
	zone_unref(again);
	zone_unref(z);
	zone_unref(old);
	arena_deinit(&mem);
	xfr_in_free(x);
	return ttl;
}

/* TTLs are an RRset's, not a record's (RFC 2181 5.2): what is kept says how they changed. */
static void ixfr_kept_ttls(void **state)
{
	(void)state;
	/* Removed at a TTL it did not have, added back at that TTL: the RRset's TTL moves. */
	assert_int_equal(kept_condenses("www 301 A 192.0.2.80\n", "www 301 A 192.0.2.80\n", "", ""),
	                 300);
	/* A record added at a new TTL takes the RRset there; its removal later leaves it so. */
	kept_condenses("", "www 900 A 192.0.2.81\n", "www A 192.0.2.81\n", "");
	kept_condenses("", "www 900 A 192.0.2.81\n", "", "www A 192.0.2.82\n");
	/* Back and forth within the chain, and a record that only comes and goes. */
	kept_condenses("www A 192.0.2.80\n", "www 60 A 192.0.2.80\n", "www 60 A 192.0.2.80\n",
	               "www A 192.0.2.80\n");
	kept_condenses("", "new 60 A 192.0.2.9\n", "new A 192.0.2.9\n", "");
}

/* Decodes a one-sequence IXFR 1 -> 2 with the given deletions and additions, then applies it. */
static int apply_one(uint32_t base, const char *del, const char *add, char *err, size_t errlen)
{
	xfr_in_t *x = ixfr_one(del, add);
	zone_t *old = base_zone(base), *z = (zone_t *)0x1;
	int ret = zone_apply(old, xfr_in_result(x)->changeset, NULL, &z, err, errlen);
	if (ret == 0)
		zone_unref(z);
	else
		assert_ptr_equal(z, (zone_t *)0x1); /* written only on success */
	zone_unref(old);
	xfr_in_free(x);
	return ret;
}

static void ixfr_apply_failures(void **state)
{
	(void)state;
	char err[XFR_ERRLEN];
	assert_int_equal(apply_one(1, "www A 192.0.2.80\n", "www A 192.0.2.81\n", err, sizeof(err)),
	                 0);
	assert_int_equal(apply_one(1, "www A 192.0.2.99\n", "", err, sizeof(err)), US_ENOENT);
	assert_non_null(strstr(err, "deletes a type 1 record at www.example.com."));
	assert_int_equal(apply_one(1, "nowhere TXT x\n", "", err, sizeof(err)), US_ENOENT);
	/* Deleting the same record twice. */
	assert_int_equal(apply_one(1, "a TXT a\na TXT a\n", "", err, sizeof(err)), US_ENOENT);
	assert_int_equal(apply_one(1, "", "www 900 A 192.0.2.80\n", err, sizeof(err)), US_EEXIST);
	assert_non_null(strstr(err, "adds a type 1 record at www.example.com."));
	assert_int_equal(apply_one(1, "", "c TXT c\nc TXT c\n", err, sizeof(err)), US_EEXIST);
	/* The zone is at serial 7, the changeset starts at 1. */
	assert_int_equal(apply_one(7, "", "", err, sizeof(err)), US_EINVAL);
	assert_non_null(strstr(err, "from serial 1 does not apply to serial 7"));
	/* The result fails the checks: no NS left, or a CNAME beside other data. */
	assert_int_equal(apply_one(1, "@ NS ns1\n", "", err, sizeof(err)), US_EZONE);
	assert_non_null(strstr(err, "no NS records"));
	assert_int_equal(apply_one(1, "", "www CNAME mail\n", err, sizeof(err)), US_EZONE);
	/* errlen 0 is allowed. */
	assert_int_equal(apply_one(1, "www A 192.0.2.99\n", "", NULL, 0), US_ENOENT);

	/* Hand-made changesets that do not chain. */
	zone_t *old = base_zone(1), *z = NULL;
	zone_changeset_t cs = {0};
	assert_int_equal(zone_apply(old, &cs, NULL, &z, err, sizeof(err)), US_EINVAL);
	assert_non_null(strstr(err, "empty"));
	zone_rr_t soa = {.owner = (const uint8_t *)APEX,
	                 .rdata = (const uint8_t *)"\0\0\0\0\0\2\0\0\0\1\0\0\0\1\0\0\0\1\0\0\0\1",
	                 .rdlen = 22,
	                 .ttl = 60,
	                 .type = WIRE_T_SOA};
	zone_diff_t d = {.soa_from = &soa, .soa_to = &soa, .from = 1, .to = 2};
	cs = (zone_changeset_t){.first = &d, .ndiffs = 1, .from = 1, .to = 3};
	assert_int_equal(zone_apply(old, &cs, NULL, &z, err, sizeof(err)), US_EINVAL);
	assert_non_null(strstr(err, "end at serial 2, not at 3"));
	/* The diff says 2, the SOA it carries says otherwise. */
	soa.rdata = (const uint8_t *)"\0\0\0\0\0\5\0\0\0\1\0\0\0\1\0\0\0\1\0\0\0\1";
	cs.to = 2;
	assert_int_equal(zone_apply(old, &cs, NULL, &z, err, sizeof(err)), US_EINVAL);
	assert_non_null(strstr(err, "serial 5, not 2"));
	soa.rdata = (const uint8_t *)"\0\0\0\0\0\2\0\0\0\1\0\0\0\1\0\0\0\1\0\0\0\1";
	/* Rdata the zone checks refuse. */
	zone_rr_t bad = {.owner = (const uint8_t *)"\1x" APEX,
	                 .rdata = (const uint8_t *)"\1\2\3",
	                 .rdlen = 3,
	                 .ttl = 60,
	                 .type = WIRE_T_A};
	d.added = &bad;
	d.nadded = 1;
	assert_int_equal(zone_apply(old, &cs, NULL, &z, err, sizeof(err)), US_EZONE);
	assert_non_null(strstr(err, "malformed rdata"));
	d.added = NULL;
	d.nadded = 0;
	assert_int_equal(zone_apply(old, &cs, NULL, &z, err, sizeof(err)), 0);
	assert_int_equal(z->serial, 2);
	assert_int_equal(z->nrecords, old->nrecords);
	zone_unref(z);
	zone_unref(old);
}

static void ixfr_uptodate(void **state)
{
	(void)state;
	/* Same serial, and an older one (the primary is behind): a lone SOA. */
	for (uint32_t serial = 4; serial <= 5; serial++) {
		tstream_t *s = ts_new(WIRE_T_IXFR);
		ts_msg(s, true);
		ts_soa(s, 4);
		xfr_in_t *x = ixfr_in(serial);
		assert_int_equal(ts_feed(x, s), XFR_DONE);
		const xfr_result_t *r = xfr_in_result(x);
		assert_int_equal(r->kind, XFR_UPTODATE);
		assert_int_equal(r->serial, 4);
		assert_null(r->changeset);
		assert_null(xfr_in_take_zone(x));
		assert_int_equal(xfr_in_eof(x), 0);
		xfr_in_free(x);
		free(s);
	}
	/* A lone newer SOA waits for more; if nothing comes, it is an error. */
	tstream_t *s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 4);
	xfr_in_t *x = ixfr_in(1);
	assert_int_equal(ts_feed(x, s), XFR_MORE);
	assert_int_equal(xfr_in_eof(x), US_EMALF);
	assert_non_null(strstr(xfr_in_error(x), "only its SOA, serial 4, newer than ours (1)"));
	xfr_in_free(x);
	/* And when more does come, one record per message, it is a transfer. */
	ts_msg(s, false);
	ts_soa(s, 1);
	ts_msg(s, false);
	ts_add(s, "www A 192.0.2.80\n");
	ts_msg(s, false);
	ts_soa(s, 4);
	ts_msg(s, false);
	ts_add(s, "www A 192.0.2.81\n");
	ts_msg(s, false);
	ts_soa(s, 4);
	x = ixfr_in(1);
	assert_int_equal(ts_feed(x, s), XFR_DONE);
	assert_int_equal(xfr_in_result(x)->kind, XFR_INCREMENTAL);
	xfr_in_free(x);
	free(s);
	/* An up-to-date SOA with records after it in the same message is not up to date. */
	s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 4);
	ts_add(s, "@ NS ns1\n");
	expect_fail(ixfr_in(4), s, US_EMALF, "ended early");
}

static void ixfr_axfr_style(void **state)
{
	(void)state;
	char text[1024];
	snprintf(text, sizeof(text), ZONE_TEXT, 8);
	zone_t *want = zone_text(text);
	tstream_t *s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 8);
	ts_add(s, "@ NS ns1\n@ MX 10 mail\nns1 A 192.0.2.53\nwww A 192.0.2.80\n");
	ts_msg(s, false);
	ts_add(s, "mail A 192.0.2.25\na TXT a\nb TXT b\n");
	ts_soa(s, 8);
	xfr_in_t *x = ixfr_in(1);
	assert_int_equal(ts_feed(x, s), XFR_DONE);
	const xfr_result_t *r = xfr_in_result(x);
	assert_int_equal(r->kind, XFR_FULL);
	assert_int_equal(r->serial, 8);
	assert_null(r->changeset);
	zone_t *z = xfr_in_take_zone(x);
	xfr_in_free(x);
	assert_zone_equal(z, want);
	zone_unref(z);
	zone_unref(want);
	free(s);

	/* SOA, SOA: a full zone of one SOA, which fails the checks. */
	s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 8);
	ts_soa(s, 8);
	expect_fail(ixfr_in(1), s, US_EZONE, "no NS");

	/* A full zone that ends with another serial. */
	s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 8);
	ts_add(s, "@ NS ns1\n");
	ts_soa(s, 9);
	expect_fail(ixfr_in(1), s, US_EMALF, "serial 9 follows the first SOA's 8");
}

static void ixfr_bad_structure(void **state)
{
	(void)state;
	/* The first sequence does not start at our serial. */
	tstream_t *s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 3);
	ts_soa(s, 2);
	ts_add(s, "www A 192.0.2.80\n");
	expect_fail(ixfr_in(1), s, US_EMALF, "starts from serial 2, but ours is 1");

	/* A gap between sequences: 1 -> 2, then 3 -> 4. */
	s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 4);
	ts_soa(s, 1);
	ts_soa(s, 2);
	ts_soa(s, 3);
	expect_fail(ixfr_in(1), s, US_EMALF,
	            "serial gap: the change to serial 2 is followed by one "
	            "from 3");

	/* A sequence going backwards. */
	s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 4);
	ts_soa(s, 1);
	ts_add(s, "www A 192.0.2.80\n");
	ts_soa(s, 1);
	expect_fail(ixfr_in(1), s, US_EMALF, "from serial 1 goes back to 1");

	/* The last sequence ends at 3, the transfer claims 4. */
	s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 4);
	ts_soa(s, 1);
	ts_soa(s, 3);
	ts_soa(s, 4);
	expect_fail(ixfr_in(1), s, US_EMALF, "followed by one from 4");

	/* After the final serial's sequence, an SOA that is not the final one. */
	s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 4);
	ts_soa(s, 1);
	ts_soa(s, 4);
	ts_soa(s, 5);
	expect_fail(ixfr_in(1), s, US_EMALF, "after the change to the final serial 4 comes an SOA");

	/* The stream stops inside a sequence, in its deletions or its additions. */
	for (int cut = 0; cut < 2; cut++) {
		s = ts_new(WIRE_T_IXFR);
		ts_msg(s, true);
		ts_soa(s, 4);
		ts_soa(s, 1);
		ts_add(s, "www A 192.0.2.80\n");
		if (cut)
			ts_soa(s, 4);
		expect_fail(ixfr_in(1), s, US_EMALF, "the IXFR ended early");
	}

	/* Records outside the zone are refused in changesets too. */
	s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 2);
	ts_soa(s, 1);
	ts_soa(s, 2);
	ts_add(s, "www.example.net. A 192.0.2.1\n");
	expect_fail(ixfr_in(1), s, US_EZONE, "www.example.net. type 1 is outside the zone");

	/* The question must name IXFR. */
	s = ts_new(WIRE_T_AXFR);
	ts_msg(s, true);
	ts_soa(s, 1);
	expect_fail(ixfr_in(1), s, US_EMALF, "type 252");
}

static void limits(void **state)
{
	(void)state;
	/* ixfr_three() has 18 records in 3 messages of a few hundred bytes. */
	xfr_limits_t lim = {.max_records = 18};
	tstream_t *s = ixfr_three();
	xfr_in_t *x = xfr_in_new((const uint8_t *)APEX, WIRE_T_IXFR, 1, &lim, QID);
	assert_int_equal(ts_feed(x, s), XFR_DONE);
	uint64_t bytes = xfr_in_result(x)->bytes;
	assert_true(bytes > 300);
	xfr_in_free(x);

	lim.max_records = 17;
	x = xfr_in_new((const uint8_t *)APEX, WIRE_T_IXFR, 1, &lim, QID);
	expect_fail(x, s, US_ELIMIT, "more than 17 records");

	s = ixfr_three();
	lim = (xfr_limits_t){.max_bytes = bytes};
	x = xfr_in_new((const uint8_t *)APEX, WIRE_T_IXFR, 1, &lim, QID);
	assert_int_equal(ts_feed(x, s), XFR_DONE);
	xfr_in_free(x);
	lim.max_bytes = bytes - 1;
	x = xfr_in_new((const uint8_t *)APEX, WIRE_T_IXFR, 1, &lim, QID);
	expect_fail(x, s, US_ELIMIT, "larger than");

	/* Decompression counts: long names behind 2-byte pointers. */
	s = ts_new(WIRE_T_AXFR);
	ts_msg(s, true);
	ts_soa(s, 1);
	char name[300];
	snprintf(name, sizeof(name), "%.60s.%.60s.%.60s.%.40s", PAD, PAD, PAD, PAD);
	for (int i = 0; i < 50; i++)
		ts_add(s, "%s TXT x\n", name);
	size_t wire = s->m[0].w.len;
	lim = (xfr_limits_t){.max_bytes = wire + 100};
	x = xfr_in_new((const uint8_t *)APEX, WIRE_T_AXFR, 0, &lim, QID);
	expect_fail(x, s, US_ELIMIT, "larger than");
}

static void serial_arithmetic(void **state)
{
	(void)state;
	assert_int_equal(serial_cmp(1, 1), 0);
	assert_true(serial_cmp(1, 2) < 0);
	assert_true(serial_cmp(2, 1) > 0);
	assert_true(serial_cmp(0xffffffffu, 0) < 0); /* wraps: 0 follows 2^32 - 1 */
	assert_true(serial_cmp(0, 0xffffffffu) > 0);
	assert_true(serial_cmp(0x7fffffffu, 0) > 0);
	assert_true(serial_cmp(0x80000001u, 0) < 0);

	/* An IXFR across the wrap: 4294967295 -> 3. */
	tstream_t *s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 3);
	ts_soa(s, 0xffffffffu);
	ts_soa(s, 3);
	ts_add(s, "c TXT c\n");
	ts_soa(s, 3);
	xfr_in_t *x = ixfr_in(0xffffffffu);
	assert_int_equal(ts_feed(x, s), XFR_DONE);
	zone_t *old = base_zone(0xffffffffu), *z = NULL;
	char err[XFR_ERRLEN];
	assert_int_equal(zone_apply(old, xfr_in_result(x)->changeset, NULL, &z, err, sizeof(err)),
	                 0);
	assert_int_equal(z->serial, 3);
	zone_unref(z);
	zone_unref(old);
	xfr_in_free(x);
	free(s);

	/* The primary at 4294967290 is behind our 2 (RFC 1982): up to date. */
	s = ts_new(WIRE_T_IXFR);
	ts_msg(s, true);
	ts_soa(s, 4294967290u);
	x = ixfr_in(2);
	assert_int_equal(ts_feed(x, s), XFR_DONE);
	assert_int_equal(xfr_in_result(x)->kind, XFR_UPTODATE);
	xfr_in_free(x);
	/* ... while 2 from our 4294967290 is newer. */
	x = ixfr_in(4294967290u);
	tstream_t *t = ts_new(WIRE_T_IXFR);
	ts_msg(t, true);
	ts_soa(t, 2);
	assert_int_equal(ts_feed(x, t), XFR_MORE);
	xfr_in_free(x);
	free(t);
	free(s);
}

typedef struct walk {
	int n, stop_at;
	uint16_t first_type;
} walk_t;

static int count_rr(void *ctx, const uint8_t *owner, uint16_t type, uint32_t ttl,
                    const uint8_t *rdata, uint16_t rdlen)
{
	walk_t *w = ctx;
	(void)owner;
	(void)ttl;
	(void)rdata;
	(void)rdlen;
	if (w->n++ == 0)
		w->first_type = type;
	return w->n == w->stop_at ? 42 : 0;
}

static void foreach_rr(void **state)
{
	(void)state;
	zone_t *z = base_zone(1);
	walk_t w = {0};
	assert_int_equal(zone_foreach_rr(z, count_rr, &w), 0);
	assert_int_equal(w.n, (int)z->nrecords);
	assert_int_equal(w.first_type, WIRE_T_SOA);
	w = (walk_t){.stop_at = 3};
	assert_int_equal(zone_foreach_rr(z, count_rr, &w), 42);
	assert_int_equal(w.n, 3);
	zone_unref(z);
}

/* ---- random mutations of valid streams: no crash, no leak, no assert ---- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

typedef struct mstream {
	uint8_t *msg[MSGMAX];
	size_t len[MSGMAX];
	int n;
} mstream_t;

static void mutate(mstream_t *m, const tstream_t *s)
{
	m->n = s->n;
	for (int i = 0; i < s->n; i++) {
		m->len[i] = s->m[i].w.len;
		m->msg[i] = malloc(m->len[i] + 64);
		memcpy(m->msg[i], s->m[i].buf, m->len[i]);
	}
	int k = 1 + (int)rnd(4);
	for (int j = 0; j < k; j++) {
		int i = (int)rnd((uint32_t)m->n);
		uint8_t *p = m->msg[i];
		size_t len = m->len[i];
		if (!len)
			continue;
		switch (rnd(7)) {
		case 0:
		case 1: /* flip a bit, mostly in the records */
			p[rnd((uint32_t)len)] ^= (uint8_t)(1u << rnd(8));
			break;
		case 2: /* an interesting byte */
		{
			static const uint8_t v[] = {0, 1, 0x3f, 0x40, 0x7f, 0x80, 0xc0, 0xff};
			p[rnd((uint32_t)len)] = v[rnd(sizeof(v))];
			break;
		}
		case 3: /* cut short */
			m->len[i] = rnd((uint32_t)len + 1);
			break;
		case 4: /* insert a few random bytes */
		{
			size_t at = rnd((uint32_t)len + 1), n = 1 + rnd(8);
			memmove(p + at + n, p + at, len - at);
			for (size_t b = 0; b < n; b++)
				p[at + b] = (uint8_t)rnd(256);
			m->len[i] = len + n;
			break;
		}
		case 5: /* drop a message */
			if (m->n > 1) {
				free(m->msg[i]);
				memmove(&m->msg[i], &m->msg[i + 1],
				        (size_t)(m->n - i - 1) * sizeof(void *));
				memmove(&m->len[i], &m->len[i + 1],
				        (size_t)(m->n - i - 1) * sizeof(size_t));
				m->n--;
			}
			break;
		default: /* swap two messages */
		{
			int o = (int)rnd((uint32_t)m->n);
			uint8_t *tp = m->msg[i];
			size_t tl = m->len[i];
			m->msg[i] = m->msg[o];
			m->len[i] = m->len[o];
			m->msg[o] = tp;
			m->len[o] = tl;
			break;
		}
		}
	}
}

static void mutations(void **state)
{
	(void)state;
	tstream_t *streams[3] = {ixfr_three(), axfr_with(0), NULL};
	tstream_t *a = ts_new(WIRE_T_AXFR);
	ts_msg(a, true);
	ts_soa(a, 9);
	ts_add(a, "@ NS ns1\n@ MX 10 mail\nns1 A 192.0.2.53\nsub NS ns.sub\nns.sub A 192.0.2.9\n");
	ts_raw(a, "srv.example.com", WIRE_T_SRV, "\0\1\0\2\0\3\3www\300\14", 12);
	ts_msg(a, false);
	ts_add(a, "www A 192.0.2.80\n*.w CNAME www\nmail A 192.0.2.25\nt TXT a b c\n");
	ts_expire(a, 100);
	ts_soa(a, 9);
	streams[2] = a;
	zone_t *base = base_zone(1);
	int outcome[4] = {0};
	for (int iter = 0; iter < 20000; iter++) {
		int which = (int)rnd(3);
		mstream_t m;
		mutate(&m, streams[which]);
		uint16_t qtype = which == 0 ? WIRE_T_IXFR : WIRE_T_AXFR;
		if (rnd(8) == 0)
			qtype = qtype == WIRE_T_IXFR ? WIRE_T_AXFR : WIRE_T_IXFR;
		xfr_limits_t lim = {.max_records = rnd(4) ? 0 : rnd(30),
		                    .max_bytes = rnd(4) ? 0 : rnd(2000)};
		xfr_in_t *x = xfr_in_new((const uint8_t *)APEX, qtype, 1, &lim, QID);
		assert_non_null(x);
		int ret = XFR_MORE;
		for (int i = 0; i < m.n && ret == XFR_MORE; i++)
			ret = xfr_in_feed(x, m.msg[i], m.len[i]);
		if (ret == XFR_MORE)
			ret = xfr_in_eof(x);
		assert_true(ret == XFR_DONE || ret < 0);
		assert_true(strlen(xfr_in_error(x)) < XFR_ERRLEN);
		const xfr_result_t *r = xfr_in_result(x);
		if (ret < 0) {
			assert_null(r);
			assert_true(*xfr_in_error(x));
			outcome[0]++;
		} else {
			assert_non_null(r);
			outcome[r->kind]++;
		}
		if (r && r->kind == XFR_INCREMENTAL) {
			zone_t *z = NULL;
			char err[XFR_ERRLEN];
			if (zone_apply(base, r->changeset, NULL, &z, err, sizeof(err)) == 0)
				zone_unref(z);
		}
		if (r && r->kind == XFR_FULL && rnd(2))
			zone_unref(xfr_in_take_zone(x));
		xfr_in_free(x);
		for (int i = 0; i < m.n; i++)
			free(m.msg[i]);
	}
	/* The mutations leave some streams valid, and break most. */
	print_message("errors %d, up to date %d, full %d, incremental %d\n", outcome[0],
	              outcome[XFR_UPTODATE], outcome[XFR_FULL], outcome[XFR_INCREMENTAL]);
	assert_true(outcome[0] > 10000);
	assert_true(outcome[XFR_FULL] > 100);
	assert_true(outcome[XFR_INCREMENTAL] > 100);
	zone_unref(base);
	for (int i = 0; i < 3; i++)
		free(streams[i]);
}

/* ---- transfers out ---- */

/* Encodes the response to req from z into messages; returns how many, each checked to parse. */
static int encode_all(const zone_t *z, const xfr_request_t *req, const xfr_out_opts_t *opts,
                      uint8_t (*msgs)[WIRE_MAX_MSG], size_t *lens, int max)
{
	xfr_out_t x;
	xfr_out_init(&x, z, req, opts);
	int n = 0, ret = XFR_MORE;
	while (ret == XFR_MORE) {
		assert_true(n < max);
		ret = xfr_out_next(&x, msgs[n], WIRE_MAX_MSG, &lens[n]);
		assert_true(ret == XFR_MORE || ret == XFR_DONE);
		n++;
	}
	assert_int_equal(x.messages, (uint64_t)n);
	assert_int_equal(x.records, opts->soa_only ? 1 : z->nrecords + 1);
	assert_int_equal(xfr_out_next(&x, msgs[0], WIRE_MAX_MSG, &lens[0]), US_ELIMIT);
	return n;
}

static void request_of(const uint8_t *q, int qlen, xfr_request_t *req)
{
	assert_true(qlen > 0);
	assert_int_equal(xfr_request_parse(q, (size_t)qlen, req), 0);
}

static void transfer_requests(void **state)
{
	(void)state;
	uint8_t q[512];
	xfr_request_t req;
	int n = xfr_build_axfr(q, sizeof(q), QID, (const uint8_t *)"\7EXAMPLE\3com");
	request_of(q, n, &req);
	assert_int_equal(req.id, QID);
	assert_int_equal(req.qtype, WIRE_T_AXFR);
	assert_memory_equal(req.lname, APEX, sizeof(APEX));
	assert_memory_equal(req.question, "\7EXAMPLE\3com\0\0\xfc\0\1", req.question_len);
	assert_true(req.edns && req.expire);
	/* A transfer travels over a stream: it asks how long the connection stays. */
	assert_true(req.keepalive);
	assert_int_equal(req.udp_size, XFR_EDNS_UDP);

	n = xfr_build_ixfr(q, sizeof(q), QID, (const uint8_t *)APEX, 77);
	request_of(q, n, &req);
	assert_int_equal(req.qtype, WIRE_T_IXFR);
	assert_true(req.has_soa);
	assert_int_equal(req.serial, 77);

	/* Not transfer requests: the query path answers them. */
	n = xfr_build_soa_query(q, sizeof(q), QID, (const uint8_t *)APEX);
	assert_int_equal(xfr_request_parse(q, (size_t)n, &req), XFR_NOT_REQUEST);
	size_t len = util_query(q, "example.com", WIRE_T_AXFR, WIRE_CLASS_CH, 0, false);
	assert_int_equal(xfr_request_parse(q, len, &req), XFR_NOT_REQUEST);
	len = util_query(q, "example.com", WIRE_T_AXFR, WIRE_CLASS_IN, 0, false);
	assert_int_equal(xfr_request_parse(q, len, &req), 0);
	assert_false(req.edns);
	assert_int_equal(xfr_request_parse(q, len - 1, &req), XFR_NOT_REQUEST);
	q[2] |= 0x80; /* QR */
	assert_int_equal(xfr_request_parse(q, len, &req), XFR_NOT_REQUEST);
	q[2] = 0;
	assert_int_equal(xfr_request_parse(q, 5, &req), XFR_NOT_REQUEST);

	/* Transfer requests that break the protocol: FORMERR. */
	q[len] = 0;
	assert_int_equal(xfr_request_parse(q, len + 1, &req), US_EMALF);
	assert_int_equal(req.qtype, WIRE_T_AXFR); /* enough to answer with */
	len = util_query(q, "example.com", WIRE_T_IXFR, WIRE_CLASS_IN, 0, false);
	assert_int_equal(xfr_request_parse(q, len, &req), 0); /* no SOA: FORMERR, but later */
	assert_false(req.has_soa);
	n = xfr_build_ixfr(q, sizeof(q), QID, (const uint8_t *)APEX, 77);
	q[n - 19 - 22] = 5; /* the SOA rdata's names now leave 14 bytes, not 20 */
	assert_int_equal(xfr_request_parse(q, (size_t)n, &req), US_EMALF);
	len = util_query(q, "example.com", WIRE_T_AXFR, WIRE_CLASS_IN, 1232, false);
	memcpy(q + len, q + len - 11, 11); /* two OPTs */
	wire_write16(q + WIRE_ARCOUNT, 2);
	assert_int_equal(xfr_request_parse(q, len + 11, &req), US_EMALF);

	/* A refusal echoes the question and the OPT, with the extended RCODE bits there. */
	n = xfr_build_axfr(q, sizeof(q), QID, (const uint8_t *)APEX);
	request_of(q, n, &req);
	uint8_t r[512];
	util_msg_t m;
	n = xfr_out_error(&req, WIRE_RCODE_BADVERS, 0, r, sizeof(r));
	assert_true(n > 0);
	util_parse(r, (size_t)n, &m);
	assert_int_equal(m.rcode, WIRE_RCODE_BADVERS);
	assert_int_equal(wire_read16(r), QID);
	assert_int_equal(wire_read16(r + WIRE_QDCOUNT), 1);
	assert_int_equal(m.nrr, 1);
	assert_int_equal(m.rr[0].type, WIRE_T_OPT);
	assert_false(m.flags & WIRE_AA);
	assert_int_equal(xfr_out_error(&req, WIRE_RCODE_REFUSED, 0, r, 20), US_ETRUNC);
	assert_int_equal(m.rr[0].ttl & 0x8000, 0);
	/* The DO bit is echoed (RFC 3225 3), as in every reply. */
	len = util_query(q, "example.com", WIRE_T_IXFR, WIRE_CLASS_IN, 1232, true);
	request_of(q, (int)len, &req);
	n = xfr_out_error(&req, WIRE_RCODE_REFUSED, 0, r, sizeof(r));
	util_parse(r, (size_t)n, &m);
	assert_int_equal(m.rr[0].type, WIRE_T_OPT);
	assert_int_equal(m.rr[0].ttl & 0x8000, 0x8000);
}

/* The stream our encoder writes is what our decoder (and RFC 5936) takes, message by message. */
static void axfr_out_round_trip(void **state)
{
	(void)state;
	static uint8_t msgs[64][WIRE_MAX_MSG];
	size_t lens[64];
	zone_t *z = zone_text(final4);
	uint8_t q[512];
	xfr_request_t req;
	request_of(q, xfr_build_axfr(q, sizeof(q), QID, (const uint8_t *)APEX), &req);
	xfr_out_opts_t opts = {
	    .edns_udp = 1232, .expire = true, .expire_val = 3600, .reserve = 100, .target = 100};
	int n = encode_all(z, &req, &opts, msgs, lens, 64);
	assert_true(n > 3);
	xfr_in_t *x = axfr_in();
	for (int i = 0; i < n; i++) {
		util_msg_t m;
		util_parse(msgs[i], lens[i], &m);
		assert_true(lens[i] + 100 <= WIRE_MAX_MSG);
		assert_int_equal(wire_read16(msgs[i]), QID);
		assert_int_equal(m.flags & 0xFFF0, WIRE_QR | WIRE_AA);
		assert_int_equal(wire_read16(msgs[i] + WIRE_QDCOUNT), i == 0);
		/* Each message holds what fits in the target, one record at least. */
		assert_true(m.count[0] >= 1);
		assert_true(m.count[0] == 1 || lens[i] <= 100 + 11 + 8);
		assert_int_equal(m.rr[m.nrr - 1].type, WIRE_T_OPT);
		if (i == 0)
			assert_int_equal(m.rr[0].type, WIRE_T_SOA);
		if (i == n - 1)
			assert_int_equal(m.rr[m.count[0] - 1].type, WIRE_T_SOA);
		assert_int_equal(xfr_in_feed(x, msgs[i], lens[i]),
		                 i == n - 1 ? XFR_DONE : XFR_MORE);
	}
	const xfr_result_t *res = xfr_in_result(x);
	assert_int_equal(res->kind, XFR_FULL);
	assert_true(res->expire_present);
	assert_int_equal(res->expire, 3600);
	assert_zone_equal(res->zone, z);
	xfr_in_free(x);

	/* An IXFR from an older serial gets the whole zone, which the decoder takes as such. */
	request_of(q, xfr_build_ixfr(q, sizeof(q), QID, (const uint8_t *)APEX, 3), &req);
	opts = (xfr_out_opts_t){.edns_udp = 1232};
	n = encode_all(z, &req, &opts, msgs, lens, 64);
	assert_int_equal(n, 1);
	x = ixfr_in(3);
	assert_int_equal(xfr_in_feed(x, msgs[0], lens[0]), XFR_DONE);
	assert_int_equal(xfr_in_result(x)->kind, XFR_FULL);
	assert_zone_equal(xfr_in_result(x)->zone, z);
	xfr_in_free(x);

	/* Up to date: the SOA alone. */
	opts.soa_only = true;
	n = encode_all(z, &req, &opts, msgs, lens, 64);
	assert_int_equal(n, 1);
	util_msg_t m;
	util_parse(msgs[0], lens[0], &m);
	assert_int_equal(m.count[0], 1);
	assert_int_equal(m.rr[0].type, WIRE_T_SOA);
	x = ixfr_in(4);
	assert_int_equal(xfr_in_feed(x, msgs[0], lens[0]), XFR_DONE);
	assert_int_equal(xfr_in_result(x)->kind, XFR_UPTODATE);
	xfr_in_free(x);

	/* No room for a header, or for a record: the stream cannot go on. */
	xfr_out_t o;
	xfr_out_init(&o, z, &req, &opts);
	size_t len;
	assert_int_equal(xfr_out_next(&o, msgs[0], 40, &len), US_ELIMIT);
	opts.reserve = 10;
	xfr_out_init(&o, z, &req, &opts);
	assert_int_equal(xfr_out_next(&o, msgs[0], 12 + 10 + 11, &len), US_ELIMIT);
	zone_unref(z);
}

/*
 * IXFR out: the diff between two versions, encoded in small messages, is what our decoder
 * takes as an incremental transfer, and applying it gives the new version.
 */
static void ixfr_out_round_trip(void **state)
{
	(void)state;
	static uint8_t msgs[64][WIRE_MAX_MSG];
	size_t lens[64];
	zone_t *old = base_zone(1), *z = zone_text(final4);
	arena_t a;
	arena_init(&a);
	zone_changeset_t cs;
	assert_int_equal(zonediff_compute(old, z, &a, &cs), 0);
	assert_true(cs.first->nremoved > 0 && cs.first->nadded > 0);
	uint8_t q[512];
	xfr_request_t req;
	request_of(q, xfr_build_ixfr(q, sizeof(q), QID, (const uint8_t *)APEX, 1), &req);
	xfr_out_opts_t opts = {.edns_udp = 1232, .reserve = 100, .target = 80, .soa_only = true};
	xfr_out_t o;
	xfr_out_init_ixfr(&o, z, cs.first, &req, &opts);
	int n = 0, ret = XFR_MORE;
	while (ret == XFR_MORE) {
		assert_true(n < 64);
		ret = xfr_out_next(&o, msgs[n], WIRE_MAX_MSG, &lens[n]);
		assert_true(ret == XFR_MORE || ret == XFR_DONE);
		n++;
	}
	assert_true(n > 3);
	assert_int_equal(o.records, 4 + cs.first->nremoved + cs.first->nadded);
	xfr_in_t *x = ixfr_in(1);
	for (int i = 0; i < n; i++) {
		util_msg_t m;
		util_parse(msgs[i], lens[i], &m);
		assert_int_equal(wire_read16(msgs[i] + WIRE_QDCOUNT), i == 0);
		assert_int_equal(m.rr[m.nrr - 1].type, WIRE_T_OPT);
		if (i == 0) {
			/* SOA(new) then SOA(old), as RFC 1995 4 lays it out. */
			assert_int_equal(m.rr[0].type, WIRE_T_SOA);
			if (m.count[0] > 1)
				assert_int_equal(m.rr[1].type, WIRE_T_SOA);
		}
		assert_int_equal(xfr_in_feed(x, msgs[i], lens[i]),
		                 i == n - 1 ? XFR_DONE : XFR_MORE);
	}
	const xfr_result_t *res = xfr_in_result(x);
	assert_int_equal(res->kind, XFR_INCREMENTAL);
	assert_int_equal(res->serial, 4);
	zone_t *got = NULL;
	char err[XFR_ERRLEN];
	if (zone_apply(old, res->changeset, NULL, &got, err, sizeof(err)))
		fail_msg("zone_apply: %s", err);
	assert_zone_equal(got, z);
	zone_unref(got);
	xfr_in_free(x);

	/* A diff with no records (changes that cancelled out): the four SOAs alone. */
	zone_diff_t empty = *cs.first;
	empty.removed = empty.added = NULL;
	empty.nremoved = empty.nadded = 0;
	opts.target = 0;
	xfr_out_init_ixfr(&o, z, &empty, &req, &opts);
	assert_int_equal(xfr_out_next(&o, msgs[0], WIRE_MAX_MSG, &lens[0]), XFR_DONE);
	assert_int_equal(o.records, 4);
	x = ixfr_in(1);
	assert_int_equal(xfr_in_feed(x, msgs[0], lens[0]), XFR_DONE);
	assert_int_equal(xfr_in_result(x)->kind, XFR_INCREMENTAL);
	xfr_in_free(x);
	arena_deinit(&a);
	zone_unref(old);
	zone_unref(z);
}

/*
 * A big zone goes out in messages of about 16 KiB, compressed, each its own context, and the
 * names in rdata keep their case whatever the question's (the decoded zone is byte-equal).
 */
/* RFC 7828: asked in what travels over a stream, never over UDP; the server's timeout read
 * from its answers (the latest one), and sent in ours when asked. */
static void keepalive(void **state)
{
	(void)state;
	uint8_t q[512];
	util_msg_t m;
	xfr_request_t req;
	int n = xfr_build_soa_query(q, sizeof(q), QID, (const uint8_t *)APEX);
	util_parse(q, (size_t)n, &m);
	assert_int_equal(m.rr[0].rdlen, 8); /* EXPIRE and ZONEVERSION only */
	n = xfr_build_soa_query_stream(q, sizeof(q), QID, (const uint8_t *)APEX);
	util_parse(q, (size_t)n, &m);
	assert_int_equal(m.rr[0].rdlen, 12);
	assert_memory_equal(m.rr[0].rdata + 8, "\0\13\0\0", 4);

	/* The decoder keeps the last timeout it was told; a SOA answer gives its own. */
	tstream_t *s = ts_new(WIRE_T_AXFR);
	ts_msg(s, true);
	ts_soa(s, 9);
	ts_add(s, "@ NS ns1\nns1 A 192.0.2.53\n");
	uint8_t o[6] = {0, XFR_EDNS_KEEPALIVE, 0, 2, 0, 100};
	ts_opt(s, o, sizeof(o), 0);
	ts_msg(s, false);
	ts_soa(s, 9);
	o[5] = 50;
	ts_opt(s, o, sizeof(o), 0);
	xfr_in_t *x = axfr_in();
	assert_int_equal(ts_feed(x, s), XFR_DONE);
	assert_true(xfr_in_result(x)->keepalive_present);
	assert_int_equal(xfr_in_result(x)->keepalive, 50);
	xfr_in_free(x);
	free(s);
	s = ts_new(WIRE_T_SOA);
	ts_msg(s, true);
	ts_soa(s, 9);
	ts_opt(s, o, sizeof(o), 0);
	xfr_soa_answer_t a;
	char err[XFR_ERRLEN];
	tmsg_t *one = ts_cur(s);
	assert_int_equal(xfr_parse_soa_response(one->buf, one->w.len, QID, (const uint8_t *)APEX,
	                                        &a, err, sizeof(err)),
	                 0);
	assert_true(a.keepalive_present);
	assert_int_equal(a.keepalive, 50);
	free(s);

	/* A request that asks gets ours in every message; one that does not, none. */
	zone_t *z = zone_text(final4);
	static uint8_t msgs[64][WIRE_MAX_MSG];
	size_t lens[64];
	xfr_out_opts_t opts = {.edns_udp = 1232, .keepalive = true, .keepalive_val = 70};
	for (int ask = 0; ask < 2; ask++) {
		n = xfr_build_axfr(q, sizeof(q), QID, (const uint8_t *)APEX);
		if (!ask) /* the option's code, 11, made 12: an unknown one */
			q[n - 3] = 12;
		request_of(q, n, &req);
		assert_int_equal(req.keepalive, ask);
		int k = encode_all(z, &req, &opts, msgs, lens, 64);
		x = axfr_in();
		for (int i = 0; i < k; i++)
			xfr_in_feed(x, msgs[i], lens[i]);
		assert_int_equal(xfr_in_result(x)->kind, XFR_FULL);
		assert_int_equal(xfr_in_result(x)->keepalive_present, ask);
		assert_int_equal(xfr_in_result(x)->keepalive, ask ? 70 : 0);
		xfr_in_free(x);
	}
	zone_unref(z);
}

static void axfr_out_big(void **state)
{
	(void)state;
	size_t cap = 40 * 20000 + 1024;
	char *text = malloc(cap);
	size_t used = (size_t)snprintf(text, cap,
	                               "$TTL 300\n@ SOA ns1 h 9 1 1 1 1\n@ NS ns1\n"
	                               "ns1 A 192.0.2.1\nx CNAME Ns1.Example.COM.\n");
	for (int i = 0; i < 20000; i++)
		used += (size_t)snprintf(text + used, cap - used, "h%d.sub A 10.0.%d.%d\n", i,
		                         i / 256, i % 256);
	zone_t *z = zone_text(text);
	free(text);
	uint8_t q[512];
	xfr_request_t req;
	size_t qlen = util_query(q, "Example.COM", WIRE_T_AXFR, WIRE_CLASS_IN, 0, false);
	request_of(q, (int)qlen, &req);
	xfr_out_opts_t opts = {.reserve = 200};
	xfr_out_t o;
	xfr_out_init(&o, z, &req, &opts);
	static uint8_t buf[WIRE_MAX_MSG];
	xfr_in_t *x = xfr_in_new((const uint8_t *)APEX, WIRE_T_AXFR, 0, NULL, 0x1234);
	int ret = XFR_MORE;
	uint64_t total = 0;
	while (ret == XFR_MORE) {
		size_t len;
		ret = xfr_out_next(&o, buf, sizeof(buf), &len);
		assert_true(len <= XFR_OUT_TARGET);
		/* Well filled: another A record would not have fitted. */
		if (ret == XFR_MORE)
			assert_true(len > XFR_OUT_TARGET - 40);
		total += len;
		assert_int_equal(xfr_in_feed(x, buf, len), ret);
	}
	assert_int_equal(o.bytes, total);
	/* Compressed: an owner takes its first label and a pointer, 23 bytes a record instead
	 * of the 38 it would take uncompressed. */
	assert_true(total < 20000 * 24);
	assert_zone_equal(xfr_in_result(x)->zone, z);
	xfr_in_free(x);
	zone_unref(z);
}

#ifndef __SANITIZE_ADDRESS__
/* A failing allocator (ASan brings its own): the n-th allocation from now fails. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static long fail_in = -1; /* allocations left before one fails; -1: none fails */
static long live;         /* allocations not yet freed */

static bool alloc_fails(void)
{
	return fail_in >= 0 && fail_in-- == 0;
}

void *malloc(size_t n)
{
	void *p = alloc_fails() ? NULL : __libc_malloc(n);
	live += p != NULL;
	return p;
}

void *calloc(size_t a, size_t b)
{
	void *p = alloc_fails() ? NULL : __libc_calloc(a, b);
	live += p != NULL;
	return p;
}

void *realloc(void *p, size_t n)
{
	void *q = alloc_fails() ? NULL : __libc_realloc(p, n);
	live += !p && q;
	return q;
}

void free(void *p)
{
	live -= p != NULL;
	__libc_free(p);
}

static int feed_all(xfr_in_t *x, const tstream_t *s)
{
	int ret = XFR_MORE;
	for (int i = 0; i < s->n && ret == XFR_MORE; i++)
		ret = xfr_in_feed(x, s->m[i].buf, s->m[i].w.len);
	return ret;
}

/* An AXFR, then an IXFR applied to base; 0 when everything worked. */
static int oom_run(const tstream_t *ax, const tstream_t *ix, const zone_t *base)
{
	xfr_in_t *x = xfr_in_new((const uint8_t *)APEX, WIRE_T_AXFR, 0, NULL, QID);
	if (!x)
		return US_ENOMEM;
	int ret = feed_all(x, ax);
	zone_t *z = ret == XFR_DONE ? xfr_in_take_zone(x) : NULL;
	xfr_in_free(x);
	zone_unref(z);
	if (ret != XFR_DONE)
		return ret;
	x = xfr_in_new((const uint8_t *)APEX, WIRE_T_IXFR, 1, NULL, QID);
	if (!x)
		return US_ENOMEM;
	ret = feed_all(x, ix);
	if (ret == XFR_DONE) {
		char err[XFR_ERRLEN];
		z = NULL;
		ret = zone_apply(base, xfr_in_result(x)->changeset, NULL, &z, err, sizeof(err));
		if (ret == US_ENOMEM)
			assert_string_equal(err, "out of memory");
		zone_unref(z);
	} else {
		assert_string_equal(xfr_in_error(x), "out of memory");
	}
	xfr_in_free(x);
	return ret;
}

static void out_of_memory(void **state)
{
	(void)state;
	tstream_t *ax = axfr_with(0), *ix = ixfr_three();
	long n;
	for (n = 0;; n++) {
		/* A fresh base each time: versions derived from one keep their bytes in it. */
		long before = live;
		zone_t *base = base_zone(1);
		fail_in = n;
		int ret = oom_run(ax, ix, base);
		fail_in = -1;
		zone_unref(base);
		assert_int_equal(live, before);
		if (ret == 0)
			break;
		if (ret != US_ENOMEM)
			fail_msg("allocation %ld failing gave %d", n, ret);
	}
	print_message("each of %ld allocations failed in turn\n", n);
	assert_true(n > 10);
	free(ax);
	free(ix);
}
#endif

/* A NOTIFY for apex with its SOA (serial) as the first answer, names compressed or not, as
 * notify.c and knotd send it; returns its length. */
static size_t notify_msg(uint8_t *q, size_t cap, const char *apex, bool compressed, uint32_t serial)
{
	int n = xfr_build_soa_query(q, cap, QID, (const uint8_t *)apex);
	assert_true(n > 0);
	wire_write16(q + WIRE_FLAGS, (uint16_t)(WIRE_OPCODE_NOTIFY << 11 | WIRE_AA));
	size_t alen = strlen(apex) + 1, len = WIRE_HDR_LEN + alen + 4;
	uint8_t *p = q + len;
	if (compressed) {
		wire_write16(p, 0xC000 | WIRE_HDR_LEN);
		p += 2;
	} else {
		memcpy(p, apex, alen);
		p += alen;
	}
	wire_write16(p, WIRE_T_SOA);
	wire_write16(p + 2, WIRE_CLASS_IN);
	wire_write32(p + 4, 300);
	uint8_t *rdlen = p + 8, *rd = p + 10;
	for (int i = 0; i < 2; i++) { /* MNAME ns1.apex, RNAME hostmaster.apex */
		const char *label = i ? "\12hostmaster" : "\3ns1";
		memcpy(rd, label, strlen(label));
		rd += strlen(label);
		if (compressed) {
			wire_write16(rd, 0xC000 | WIRE_HDR_LEN);
			rd += 2;
		} else {
			memcpy(rd, apex, alen);
			rd += alen;
		}
	}
	uint32_t timers[5] = {serial, 3600, 600, 1209600, 300};
	for (int i = 0; i < 5; i++, rd += 4)
		wire_write32(rd, timers[i]);
	wire_write16(rdlen, (uint16_t)(rd - (p + 10)));
	wire_write16(q + WIRE_ANCOUNT, 1);
	wire_write16(q + WIRE_ARCOUNT, 0);
	return (size_t)(rd - q);
}

static void notify_serial(void **state)
{
	(void)state;
	const uint8_t *apex = (const uint8_t *)APEX;
	uint8_t q[512], bad[512];
	uint32_t serial = 0;
	for (int c = 0; c < 2; c++) {
		size_t len = notify_msg(q, sizeof(q), APEX, c, 4000000000u);
		assert_int_equal(xfr_notify_serial(q, len, apex, &serial), 0);
		assert_int_equal(serial, 4000000000u);
		/* Case does not matter; another zone's NOTIFY is not ours to read. */
		assert_int_equal(
		    xfr_notify_serial(q, len, (const uint8_t *)"\7EXAMPLE\3COM", &serial), 0);
		assert_int_equal(
		    xfr_notify_serial(q, len, (const uint8_t *)"\7example\3net", &serial),
		    US_ENOENT);
		/* Every cut short: an error, never a read past the end. */
		for (size_t cut = 0; cut < len; cut++) {
			uint8_t *copy = malloc(cut ? cut : 1);
			memcpy(copy, q, cut);
			serial = 7;
			assert_true(xfr_notify_serial(copy, cut, apex, &serial) < 0);
			assert_int_equal(serial, 7);
			free(copy);
		}
		/* A response, a query, no answer, an answer that is not the apex SOA. */
		memcpy(bad, q, len);
		bad[WIRE_FLAGS] |= 0x80;
		assert_int_equal(xfr_notify_serial(bad, len, apex, &serial), US_EMALF);
		memcpy(bad, q, len);
		wire_write16(bad + WIRE_FLAGS, WIRE_AA);
		assert_int_equal(xfr_notify_serial(bad, len, apex, &serial), US_EMALF);
		memcpy(bad, q, len);
		wire_write16(bad + WIRE_ANCOUNT, 0);
		assert_int_equal(xfr_notify_serial(bad, len, apex, &serial), US_ENOENT);
		memcpy(bad, q, len);
		size_t type_at = WIRE_HDR_LEN + sizeof(APEX) + 4 + (c ? 2 : sizeof(APEX));
		wire_write16(bad + type_at, WIRE_T_A);
		assert_int_equal(xfr_notify_serial(bad, len, apex, &serial), US_ENOENT);
		/* An SOA rdata too short for its timers. */
		memcpy(bad, q, len);
		wire_write16(bad + type_at + 8, (uint16_t)(wire_read16(bad + type_at + 8) - 4));
		assert_int_equal(xfr_notify_serial(bad, len - 4, apex, &serial), US_EMALF);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(requests),
	    cmocka_unit_test(soa_response),
	    cmocka_unit_test(notify_serial),
	    cmocka_unit_test(axfr_multi_message),
	    cmocka_unit_test(axfr_dnspython),
	    cmocka_unit_test(axfr_one_message_each),
	    cmocka_unit_test(axfr_out_of_zone),
	    cmocka_unit_test(axfr_truncated),
	    cmocka_unit_test(axfr_bad_streams),
	    cmocka_unit_test(decompression),
	    cmocka_unit_test(ixfr_three_sequences),
	    cmocka_unit_test(ixfr_condensed),
	    cmocka_unit_test(ixfr_dnspython),
	    cmocka_unit_test(ixfr_apply_failures),
	    cmocka_unit_test(ixfr_apply_lenient),
	    cmocka_unit_test(ixfr_kept_ttls),
	    cmocka_unit_test(ixfr_uptodate),
	    cmocka_unit_test(ixfr_axfr_style),
	    cmocka_unit_test(ixfr_bad_structure),
	    cmocka_unit_test(limits),
	    cmocka_unit_test(serial_arithmetic),
	    cmocka_unit_test(foreach_rr),
	    cmocka_unit_test(mutations),
	    cmocka_unit_test(transfer_requests),
	    cmocka_unit_test(axfr_out_round_trip),
	    cmocka_unit_test(ixfr_out_round_trip),
	    cmocka_unit_test(axfr_out_big),
	    cmocka_unit_test(keepalive),
#ifndef __SANITIZE_ADDRESS__
	    cmocka_unit_test(out_of_memory),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
