/* SPDX-License-Identifier: MIT */
/* fuzz_xfr: the SOA check, the AXFR/IXFR decoder, zone_apply, IXFR out of what applied, and
 * what a transfer in is judged by: ZONEMD (RFC 8976) and the change guard; the SOA serial
 * a NOTIFY carries. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "error.h"
#include "guard.h"
#include "wire.h"
#include "xfr.h"
#include "zonediff.h"
#include "zonemd.h"
#include "../unit/xfr_vectors.h"

/*
 * The input is a TCP stream: each message behind its 2-byte length (a last length that runs
 * past the end takes what is left). The responses answer queries for example.com with ID
 * XFR_VEC_ID; the IXFR query carried serial 1, the serial of the vectors' base zone, to which
 * every decoded changeset is applied. tests/fuzz/corpus/xfr/ holds the vectors as seeds.
 *
 * A changeset that applies then goes the way a journal sends it out: condensed, it must
 * still give the same zone; diffed afresh (zonediff) and encoded as an IXFR (the encoder's
 * changeset mode, in small messages), our decoder must take it back and give the same zone.
 */
#define APEX ((const uint8_t *)"\7example\3com")

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static zone_t *base;

/* Decodes the vectors' AXFR stream into the base zone; anything else is a bug here. */
static zone_t *base_zone(void)
{
	xfr_in_t *x = xfr_in_new(APEX, WIRE_T_AXFR, 0, NULL, XFR_VEC_ID);
	const uint8_t *d = xfr_vec_axfr;
	size_t len = sizeof(xfr_vec_axfr);
	int ret = XFR_MORE;
	while (x && len >= 2 && ret == XFR_MORE) {
		size_t n = wire_read16(d);
		ret = xfr_in_feed(x, d + 2, n);
		d += 2 + n;
		len -= 2 + n;
	}
	zone_t *z = ret == XFR_DONE ? xfr_in_take_zone(x) : NULL;
	xfr_in_free(x);
	if (!z)
		abort();
	return z;
}

static int touch(void *ctx, const uint8_t *owner, uint16_t type, uint32_t ttl, const uint8_t *rdata,
                 uint16_t rdlen)
{
	size_t *sum = ctx;
	*sum += owner[0] + type + ttl + rdlen + (rdlen ? rdata[rdlen - 1] : 0);
	return 0;
}

/* Applies cs to base; the zone, or NULL when it does not apply. */
static zone_t *applied(const zone_changeset_t *cs)
{
	zone_t *z = NULL;
	char err[XFR_ERRLEN];
	return zone_apply(base, cs, NULL, &z, err, sizeof(err)) == 0 ? z : NULL;
}

/* Encodes diff as an IXFR from base's serial to z, decodes it, applies it: z again. */
static void ixfr_round_trip(const zone_t *z, const zone_diff_t *diff)
{
	static uint8_t q[512], msg[WIRE_MAX_MSG];
	int qlen = xfr_build_ixfr(q, sizeof(q), XFR_VEC_ID, APEX, base->serial);
	xfr_request_t req;
	if (qlen < 0 || xfr_request_parse(q, (size_t)qlen, &req) != 0)
		abort();
	xfr_out_opts_t opts = {.edns_udp = 1232, .target = 200, .reserve = 64};
	xfr_out_t out;
	xfr_out_init_ixfr(&out, z, diff, &req, &opts);
	xfr_in_t *x = xfr_in_new(APEX, WIRE_T_IXFR, base->serial, NULL, XFR_VEC_ID);
	if (!x)
		abort();
	int ret = XFR_MORE, fed = XFR_MORE;
	while (ret == XFR_MORE) {
		size_t len;
		ret = xfr_out_next(&out, msg, sizeof(msg), &len);
		if (ret < 0)
			abort();
		fed = xfr_in_feed(x, msg, len);
		if (fed != (ret == XFR_DONE ? XFR_DONE : XFR_MORE))
			abort();
	}
	const xfr_result_t *r = xfr_in_result(x);
	if (!r || r->kind != XFR_INCREMENTAL)
		abort();
	zone_t *back = applied(r->changeset);
	if (!back || !zone_same(back, z))
		abort();
	zone_unref(back);
	xfr_in_free(x);
}

static void journal_paths(const zone_changeset_t *cs, const zone_t *z)
{
	arena_t a;
	arena_init(&a);
	zone_changeset_t c, d;
	/* Condensing a chain that applies gives one diff that applies to the same zone. */
	if (zonediff_condense(cs, &a, &c) == 0) {
		zone_t *zc = applied(&c);
		if (!zc || !zone_same(zc, z))
			abort();
		zone_unref(zc);
	}
	if (zonediff_compute(base, z, &a, &d) == 0 && base->serial != z->serial)
		ixfr_round_trip(z, d.first);
	arena_deinit(&a);
}

/* What the server does with every version a transfer brings, before it takes it: ZONEMD is
 * verified (and a digest computed both ways), the change guard judges it against the base. */
static void judge(const zone_t *z, const zone_changeset_t *cs)
{
	zonemd_status_t st;
	char why[160];
	if (zonemd_verify(z, &st, why, sizeof(why)) == 0 && st > ZONEMD_FAILED)
		abort();
	uint8_t d[ZONEMD_DIGEST_MAX];
	size_t len;
	if (zonemd_compute(z, ZONEMD_SCHEME_SIMPLE, ZONEMD_HASH_SHA384, d, &len) == 0 && len != 48)
		abort();
	arena_t a;
	arena_init(&a);
	guard_change_t c;
	if (guard_judge(base, z, cs, &a, &c) == 0) {
		if (c.removed > c.records)
			abort();
		guard_holds(&c, 50, true, why, sizeof(why));
	}
	arena_deinit(&a);
}

static void run(uint16_t qtype, const uint8_t *data, size_t size)
{
	xfr_limits_t lim = {.max_records = 20000, .max_bytes = 4u << 20};
	xfr_in_t *x = xfr_in_new(APEX, qtype, 1, &lim, XFR_VEC_ID);
	if (!x)
		return;
	int ret = XFR_MORE;
	while (size >= 2 && ret == XFR_MORE) {
		size_t n = wire_read16(data);
		if (n > size - 2)
			n = size - 2;
		if (qtype == WIRE_T_AXFR) {
			xfr_soa_answer_t ans;
			char err[XFR_ERRLEN];
			xfr_parse_soa_response(data + 2, n, XFR_VEC_ID, APEX, &ans, err,
			                       sizeof(err));
		}
		ret = xfr_in_feed(x, data + 2, n);
		data += 2 + n;
		size -= 2 + n;
	}
	if (ret == XFR_MORE)
		ret = xfr_in_eof(x);
	const xfr_result_t *r = xfr_in_result(x);
	if ((ret >= 0) != (r != NULL) || (ret < 0 && !*xfr_in_error(x)))
		abort();
	size_t sum = 0;
	if (r && r->kind == XFR_INCREMENTAL) {
		/* Leniently, as the server applies IXFRs: what it kept is what the journal
		 * stores, and must take the base strictly to the same zone. */
		zone_t *z = NULL;
		char err[XFR_ERRLEN];
		arena_t mem;
		arena_init(&mem);
		zone_apply_lenient_t l = {.mem = &mem};
		if (zone_apply(base, r->changeset, &l, &z, err, sizeof(err)) == 0) {
			zone_foreach_rr(z, touch, &sum);
			judge(z, &l.kept);
			zone_t *strict = applied(&l.kept);
			if (!strict || !zone_same(strict, z))
				abort();
			zone_unref(strict);
			journal_paths(&l.kept, z);
			zone_unref(z);
		}
		arena_deinit(&mem);
	}
	if (r && r->kind == XFR_FULL) {
		zone_t *z = xfr_in_take_zone(x);
		zone_foreach_rr(z, touch, &sum);
		judge(z, NULL);
		zone_unref(z);
	}
	xfr_in_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Versions applied to the base keep their bytes in it until it goes: a fresh one now
	 * and then keeps a long run's memory flat. */
	static unsigned runs;
	if (base && ++runs % 4096 == 0) {
		zone_unref(base);
		base = NULL;
	}
	if (!base)
		base = base_zone();
	run(WIRE_T_AXFR, data, size);
	run(WIRE_T_IXFR, data, size);
	/* The same bytes as a NOTIFY whose SOA serial a backup may take (notify.c). */
	uint32_t serial;
	(void)xfr_notify_serial(data, size, APEX, &serial);
	return 0;
}
