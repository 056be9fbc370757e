/* SPDX-License-Identifier: MIT */
/* test_zone: zone building, the checks an operator expects, and lookups. */
#include <malloc.h>
#include <pthread.h>

#include "util.h"
#include "error.h"
#include "zonedb.h"

#define HEAD "$TTL 300\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\n"

/* Expects text to fail with an error reported on line. */
static void expect_error(const char *text, unsigned long line, const char *what)
{
	zone_t *z = util_zone("example.com", text);
	assert_null(z);
	assert_true(util_errors > 0);
	char want[32];
	snprintf(want, sizeof(want), "%lu: ", line);
	if (strncmp(util_last_error, want, strlen(want)) != 0 || !strstr(util_last_error, what))
		fail_msg("wanted line %lu '%s', got '%s'", line, what, util_last_error);
}

static void valid_zone(void **state)
{
	(void)state;
	zone_t *z = util_zone("example.com", HEAD "a.b.c A 192.0.2.2\nA.B.C A 192.0.2.2\n"
	                                          "$ORIGIN sub.example.com.\nx TXT hi\n");
	assert_non_null(z);
	assert_int_equal(z->serial, 1);
	assert_int_equal(z->nrecords, 5); /* the duplicate A is dropped */
	uint8_t n[DNAME_MAXLEN];
	int len = dname_from_text("b.c.example.com", n);
	const zone_node_t *ent = zone_find(z, n, (size_t)len);
	assert_non_null(ent);
	assert_int_equal(ent->nrrsets, 0);
	len = dname_from_text("x.sub.example.com", n);
	assert_non_null(zone_find(z, n, (size_t)len));
	zone_unref(z);
}

static void checks(void **state)
{
	(void)state;
	expect_error("$TTL 300\n@ NS ns\nns A 192.0.2.1\n", 0, "no SOA");
	expect_error("$TTL 300\n@ SOA ns h 1 1 1 1 1\n", 0, "no NS");
	expect_error(HEAD "@ SOA ns h 2 1 1 1 1\n", 2, "more than one SOA");
	expect_error(HEAD "www A 192.0.2.1\nwww CNAME x\n", 6, "CNAME and other data");
	expect_error(HEAD "www CNAME x\nwww CNAME y\n", 5, "more than one CNAME");
	expect_error(HEAD "x.example.org. A 192.0.2.1\n", 5, "outside the zone");
	expect_error(HEAD "d DNAME example.net.\nx.d A 192.0.2.1\n", 6, "below a DNAME");
	expect_error(HEAD "@ NS ns2\n", 3, "no address records");
	expect_error(HEAD "x SOA ns h 1 1 1 1 1\n", 5, "outside the apex");
	expect_error(HEAD "x A 1.2.3\n", 5, "");
	expect_error(HEAD "x CH A 192.0.2.1\n", 5, "");
}

static void occluded_is_a_warning(void **state)
{
	(void)state;
	zone_t *z = util_zone("example.com", HEAD "sub NS ns.sub\nns.sub A 192.0.2.3\n"
	                                          "x.sub TXT hidden\n");
	assert_non_null(z);
	zone_unref(z);
	/* A delegation without its glue still loads, as in knotd, nsd and named. */
	z = util_zone("example.com", HEAD "sub NS ns.sub\n");
	assert_non_null(z);
	uint8_t n[DNAME_MAXLEN], offs[DNAME_MAXLABELS];
	int len = dname_from_text("deep.x.sub.example.com", n);
	zone_lookup_t lk;
	zone_lookup(z, n, (size_t)len, offs, dname_label_offsets(n, offs), &lk);
	assert_null(lk.node);
	assert_non_null(lk.cut);
	assert_memory_equal(lk.cut->name, "\3sub\7example\3com", 17);
	zone_unref(z);
}

static void include_reports_its_file(void **state)
{
	(void)state;
	char inc[] = "/tmp/us-unit-inc-XXXXXX";
	int fd = mkstemp(inc);
	assert_true(fd >= 0);
	const char *bad = "ok A 192.0.2.1\nbad A not-an-address\n";
	assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
	close(fd);
	char text[256];
	snprintf(text, sizeof(text), HEAD "$INCLUDE %s\n", inc);
	assert_null(util_zone("example.com", text));
	unlink(inc);
	assert_true(util_errors > 0);
}

static void include_is_bounded(void **state)
{
	(void)state;
	char self[] = "/tmp/us-unit-self-XXXXXX";
	int fd = mkstemp(self);
	assert_true(fd >= 0);
	char text[256];
	int n = snprintf(text, sizeof(text), HEAD "$INCLUDE %s\n", self);
	assert_int_equal(write(fd, text, (size_t)n), n);
	close(fd);
	/* A file that includes itself stops at the depth limit instead of eating all memory. */
	uint8_t o[DNAME_MAXLEN];
	dname_from_text("example.com", o);
	zone_t *z = NULL;
	util_errors = 0;
	assert_int_equal(zonefile_load(o, self, util_report, NULL, &z), US_ESYNTAX);
	assert_non_null(strstr(util_last_error, "nested too deeply"));
	unlink(self);
	assert_null(util_zone("example.com", HEAD "$INCLUDE /dev/zero\n"));
	assert_non_null(strstr(util_last_error, "not a regular file"));
	assert_int_equal(zonefile_load(o, "/dev/zero", util_report, NULL, &z), US_ENOENT);
}

static void *ref_unref_many(void *arg)
{
	zone_t *z = arg;
	for (int i = 0; i < 100000; i++) {
		zone_ref(z);
		zone_unref(z);
	}
	return NULL;
}

/* A pinned version outlives its publication; the last reference frees it (ASan checks). */
static void references(void **state)
{
	(void)state;
	zone_t *z = util_zone("example.com", HEAD);
	assert_non_null(z);
	assert_int_equal(z->refs, 1);
	zone_ref(z);
	assert_int_equal(z->refs, 2);
	zone_unref(z); /* the publisher lets go... */
	assert_int_equal(z->refs, 1);
	assert_int_equal(z->serial, 1); /* ...and the pinned reader still reads it */
	zone_unref(z);
	zone_unref(NULL);

	/* Readers on other threads pinning and unpinning never free it under its owner. */
	z = util_zone("example.com", HEAD);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, ref_unref_many, z), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(z->refs, 1);

	/* The zone table drops its own reference only: a pinned version stays. */
	zonedb_t *db = zonedb_new(1);
	zonedb_slot_t *slot;
	assert_int_equal(zonedb_add(db, z->apex, &slot), 0);
	slot->zone = z;
	zone_ref(z);
	zonedb_free(db);
	assert_int_equal(z->refs, 1);
	assert_int_equal(z->nrecords, 3);
	zone_unref(z);
}

static void same_contents(void **state)
{
	(void)state;
	zone_t *a = util_zone("example.com", HEAD "x A 192.0.2.2\ny TXT hi\n");
	zone_t *b = util_zone("example.com", HEAD "y TXT hi\nx A 192.0.2.2\n");
	zone_t *c = util_zone("example.com", HEAD "x 60 A 192.0.2.2\ny TXT hi\n");
	zone_t *d = util_zone("example.com", HEAD "x A 192.0.2.2\ny TXT hi\ny TXT ho\n");
	assert_true(a && b && c && d);
	assert_true(zone_same(a, b));
	assert_false(zone_same(a, c)); /* a TTL differs */
	assert_false(zone_same(a, d));
	assert_false(zone_same(d, a));
	/* Signatures are compared at the TTL of what they cover, as zone_foreach_rr gives them,
	 * even when their own RRset says another (found by fuzz_xfr). */
	zone_t *e =
	    util_zone("example.com", HEAD "x 60 A 192.0.2.2\nx 300 RRSIG A 13 3 60 20400101000000 "
	                                  "20200101000000 4711 example.com. AAAA\n");
	assert_non_null(e);
	assert_true(zone_same(e, e));
	zone_unref(e);
	zone_unref(a);
	zone_unref(b);
	zone_unref(c);
	zone_unref(d);
}

/*
 * Random changes applied one version after another must give, at every step, the zone a full
 * build of the same records gives: the same records, nodes, flags and lookups, and the same
 * verdict when a change is refused.
 */
enum { RN_NAMES = 39, RN_TYPES = 5, RN_VALUES = 3 };

static const uint16_t rn_types[RN_TYPES] = {WIRE_T_A, WIRE_T_TXT, WIRE_T_NS, WIRE_T_CNAME,
                                            WIRE_T_DNAME};

typedef struct rn_rec {
	uint8_t name, type, value;
} rn_rec_t;

/* Names 0..38: a, b, * and two and three labels of them, below example.com. */
static void rn_name_text(int i, char *buf, size_t len)
{
	static const char *l[] = {"a", "b", "*"};
	if (i < 3)
		snprintf(buf, len, "%s.example.com.", l[i]);
	else if (i < 12)
		snprintf(buf, len, "%s.%s.example.com.", l[(i - 3) % 3], l[(i - 3) / 3]);
	else
		snprintf(buf, len, "%s.%s.%s.example.com.", l[(i - 12) % 3], l[(i - 12) / 3 % 3],
		         l[(i - 12) / 9]);
}

static void rn_rdata_text(const rn_rec_t *r, char *buf, size_t len)
{
	switch (rn_types[r->type]) {
	case WIRE_T_A:
		snprintf(buf, len, "A 192.0.2.%u", r->value + 10);
		break;
	case WIRE_T_TXT:
		snprintf(buf, len, "TXT t%u", r->value);
		break;
	case WIRE_T_NS:
		snprintf(buf, len, "NS ns%u.example.org.", r->value);
		break;
	case WIRE_T_CNAME:
		snprintf(buf, len, "CNAME c%u.example.org.", r->value);
		break;
	default:
		snprintf(buf, len, "DNAME d%u.example.org.", r->value);
		break;
	}
}

/* Wire rdata of a record, into buf; returns its length. */
static uint16_t rn_rdata(const rn_rec_t *r, uint8_t *buf)
{
	char t[64];
	uint16_t type = rn_types[r->type];
	if (type == WIRE_T_A) {
		memcpy(buf, (uint8_t[]){192, 0, 2, (uint8_t)(r->value + 10)}, 4);
		return 4;
	}
	if (type == WIRE_T_TXT) {
		buf[0] = 2;
		buf[1] = 't';
		buf[2] = (uint8_t)('0' + r->value);
		return 3;
	}
	snprintf(t, sizeof(t), "%c%u.example.org.", "nncd"[r->type - 1], r -> value);
	if (type == WIRE_T_NS)
		snprintf(t, sizeof(t), "ns%u.example.org.", r->value);
	return (uint16_t)dname_from_text(t, buf);
}

static zone_t *rn_build(const bool *present, uint32_t serial)
{
	static char text[65536];
	size_t len =
	    (size_t)snprintf(text, sizeof(text),
	                     "$TTL 300\n@ SOA ns h %u 1 1 1 1\n@ NS ns\nns A 192.0.2.1\n", serial);
	for (int i = 0; i < RN_NAMES * RN_TYPES * RN_VALUES; i++) {
		if (!present[i])
			continue;
		rn_rec_t r = {(uint8_t)(i / (RN_TYPES * RN_VALUES)),
		              (uint8_t)(i / RN_VALUES % RN_TYPES), (uint8_t)(i % RN_VALUES)};
		char owner[64], rd[64];
		rn_name_text(r.name, owner, sizeof(owner));
		rn_rdata_text(&r, rd, sizeof(rd));
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s %s\n", owner, rd);
	}
	return util_zone("example.com", text);
}

static void rn_same_node(const zone_node_t *a, const zone_node_t *b, const char *name)
{
	if (!a || !b) {
		if (a != b)
			fail_msg("%s: exists in one version only", name);
		return;
	}
	if (a->nrrsets != b->nrrsets || a->flags != b->flags || a->children != b->children)
		fail_msg("%s: rrsets %u/%u flags %x/%x children %u/%u", name, a->nrrsets,
		         b->nrrsets, a->flags, b->flags, a->children, b->children);
	for (uint16_t i = 0; i < a->nrrsets; i++)
		assert_int_equal(a->rrsets[i].type, b->rrsets[i].type);
}

static void rn_compare(const zone_t *got, const zone_t *want)
{
	assert_true(zone_same(got, want));
	assert_int_equal(got->serial, want->serial);
	assert_int_equal(got->nrecords, want->nrecords);
	uint32_t pos = 0, ngot = 0, nwant = 0;
	while (zone_next_node(got, &pos))
		ngot++;
	for (pos = 0; zone_next_node(want, &pos);)
		nwant++;
	assert_int_equal(ngot, nwant);
	for (int i = -1; i < RN_NAMES; i++) {
		char text[64];
		uint8_t n[DNAME_MAXLEN], offs[DNAME_MAXLABELS];
		if (i < 0)
			snprintf(text, sizeof(text), "x.a.b.a.example.com.");
		else
			rn_name_text(i, text, sizeof(text));
		int len = dname_from_text(text, n);
		rn_same_node(zone_find(got, n, (size_t)len), zone_find(want, n, (size_t)len), text);
		zone_lookup_t lg, lw;
		int nl = dname_label_offsets(n, offs);
		zone_lookup(got, n, (size_t)len, offs, nl, &lg);
		zone_lookup(want, n, (size_t)len, offs, nl, &lw);
		rn_same_node(lg.encloser, lw.encloser, text);
		rn_same_node(lg.cut, lw.cut, text);
		if (lg.cut && lw.cut)
			assert_memory_equal(lg.cut->name, lw.cut->name, lw.cut->name_len);
		if (lg.encloser && lw.encloser)
			assert_int_equal(lg.encloser->name_len, lw.encloser->name_len);
	}
}

static void apply_matches_rebuild(void **state)
{
	(void)state;
	enum { NRECS = RN_NAMES * RN_TYPES * RN_VALUES, STEPS = 1500 };
	bool present[NRECS] = {0}, next[NRECS];
	uint32_t seed = 12345;
	zone_t *cur = rn_build(present, 1);
	assert_non_null(cur);
	unsigned ok = 0, refused = 0;
	for (int step = 0; step < STEPS; step++) {
		/* Exercise new bases too: a small overlay limit in the second half. */
		zone__overlay_limit = step < STEPS / 2 ? 0 : 8;
		uint32_t serial = cur->serial + 1;
		zone_rr_t rrs[8];
		uint8_t rdata[8][64], owners[8][DNAME_MAXLEN], soa_rd[2][64];
		zone_rr_t soa[2];
		zone_diff_t d = {.from = cur->serial, .to = serial};
		memcpy(next, present, sizeof(next));
		int expect = 0, nops = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 6;
		for (int k = 0; k < nops; k++) {
			seed = seed * 1103515245 + 12345;
			uint32_t x = seed >> 8;
			int idx = (int)(x % NRECS);
			/* Mostly records that keep the zone valid: few CNAMEs and DNAMEs. */
			int t = idx / RN_VALUES % RN_TYPES;
			if ((t == 3 || t == 4) && (x >> 20) % 64)
				idx -= (t - (int)(x >> 12) % 3) * RN_VALUES;
			bool del = (x >> 24) % 2 == 1;
			/* Mostly a held record to delete, an absent one to add; now and then
			 * the other way round, which must be refused. */
			if ((x >> 4) % 16) {
				int j = 0;
				for (; j < NRECS; j++) {
					/* Another name, same type and value, for additions. */
					int at =
					    (idx + j * (del ? 1 : RN_TYPES * RN_VALUES)) % NRECS;
					if (present[at] == del) {
						idx = at;
						break;
					}
				}
				if (j == NRECS)
					continue;
			}
			rn_rec_t r = {(uint8_t)(idx / (RN_TYPES * RN_VALUES)),
			              (uint8_t)(idx / RN_VALUES % RN_TYPES),
			              (uint8_t)(idx % RN_VALUES)};
			char owner[64];
			rn_name_text(r.name, owner, sizeof(owner));
			dname_from_text(owner, owners[k]);
			rrs[k] = (zone_rr_t){.owner = owners[k],
			                     .rdata = rdata[k],
			                     .rdlen = rn_rdata(&r, rdata[k]),
			                     .ttl = 300,
			                     .type = rn_types[r.type]};
			if (del) {
				rrs[k].next = d.removed;
				d.removed = &rrs[k];
				d.nremoved++;
			} else {
				rrs[k].next = d.added;
				d.added = &rrs[k];
				d.nadded++;
			}
		}
		/* The model: deletions, then additions. */
		for (int pass = 0; pass < 2; pass++) {
			for (const zone_rr_t *r = pass ? d.added : d.removed; r; r = r->next) {
				int k = (int)(r - rrs);
				/* Recover the record's index from the generated parts. */
				int found = -1;
				for (int j = 0; j < NRECS && found < 0; j++) {
					rn_rec_t q = {(uint8_t)(j / (RN_TYPES * RN_VALUES)),
					              (uint8_t)(j / RN_VALUES % RN_TYPES),
					              (uint8_t)(j % RN_VALUES)};
					uint8_t qn[DNAME_MAXLEN], qr[64];
					char o[64];
					rn_name_text(q.name, o, sizeof(o));
					dname_from_text(o, qn);
					uint16_t ql = rn_rdata(&q, qr);
					if (rn_types[q.type] == r->type && ql == r->rdlen &&
					    memcmp(qr, r->rdata, ql) == 0 &&
					    dname_equal(qn, owners[k]))
						found = j;
				}
				assert_true(found >= 0);
				if (pass == 0 && !next[found])
					expect = US_ENOENT;
				else if (pass == 1 && next[found])
					expect = expect ? expect : US_EEXIST;
				next[found] = pass == 1;
			}
		}
		for (int i = 0; i < 2; i++) {
			soa_rd[i][0] = 0;
			int n = dname_from_text("ns.example.com.", soa_rd[i]);
			n += dname_from_text("h.example.com.", soa_rd[i] + n);
			uint32_t vals[5] = {i ? serial : cur->serial, 1, 1, 1, 1};
			for (int v = 0; v < 5; v++)
				wire_write32(soa_rd[i] + n + 4 * v, vals[v]);
			soa[i] = (zone_rr_t){.owner = cur->apex,
			                     .rdata = soa_rd[i],
			                     .rdlen = (uint16_t)(n + 20),
			                     .ttl = 300,
			                     .type = WIRE_T_SOA};
		}
		d.soa_from = &soa[0];
		d.soa_to = &soa[1];
		zone_changeset_t cs = {.first = &d, .ndiffs = 1, .from = d.from, .to = serial};
		zone_t *got = NULL;
		char err[256];
		int ret = zone_apply(cur, &cs, NULL, &got, err, sizeof(err));
		if (getenv("RN_DEBUG"))
			fprintf(stderr, "step %d expect %d ret %d %s / %s\n", step, expect, ret,
			        ret ? err : "", util_last_error);
		if (expect) {
			if (ret == 0)
				fail_msg("step %d: applied, but the model expected %d", step,
				         expect);
			refused++;
			continue;
		}
		zone_t *want = rn_build(next, serial);
		if (!want) {
			if (ret != US_EZONE)
				fail_msg("step %d: the build fails (%s), apply gave %d", step,
				         util_last_error, ret);
			refused++;
			continue;
		}
		if (ret)
			fail_msg("step %d: apply failed: %s", step, err);
		rn_compare(got, want);
		zone_unref(want);
		zone_unref(cur);
		cur = got;
		memcpy(present, next, sizeof(present));
		ok++;
	}
	zone__overlay_limit = 0;
	print_message("%u changes applied, %u refused\n", ok, refused);
	assert_true(ok > STEPS / 3);
	zone_unref(cur);
}

/* A zone written out and read back holds the same records, whatever their types and bytes. */
static void write_round_trip(void **state)
{
	(void)state;
	zone_t *z = util_zone(
	    "example.com",
	    HEAD "www 600 A 192.0.2.80\nwww AAAA 2001:db8::1\n@ MX 10 mail\nmail A 192.0.2.25\n"
	         "t TXT \"with space\" \"quote\\\"d\" \"\\255\\000\"\n*.w CNAME www\n"
	         "_sip._tcp SRV 1 2 5060 sip.example.net.\n@ CAA 0 issue \"ca.example\"\n"
	         "odd\\.label\\032x A 192.0.2.9\nu TYPE65000 \\# 3 abcdef\ne TYPE65001 \\# 0\n"
	         "sub NS ns.sub\nns.sub A 192.0.2.53\nd DNAME example.net.\n");
	assert_non_null(z);
	char path[] = "/tmp/us-unit-write-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	char err[256];
	assert_int_equal(zonefile_write(z, path, err, sizeof(err)), 0);
	uint8_t o[DNAME_MAXLEN];
	dname_from_text("example.com", o);
	zone_t *back = NULL;
	assert_int_equal(zonefile_load(o, path, util_report, NULL, &back), 0);
	assert_true(zone_same(z, back));
	assert_int_equal(back->serial, z->serial);
	/* No temporary file is left beside it. */
	assert_int_equal(unlink(path), 0);
	assert_true(zonefile_write(z, "/nonexistent/dir/zone", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent/dir/zone"));
	zone_unref(back);
	zone_unref(z);
}

/*
 * A small zone costs in proportion to its size, not a large zone's fixed chunks and tables:
 * the 11 records of a typical hosted zone (SOA, two NS and their glue, apex A, AAAA, MX, TXT,
 * a mail host and a CNAME), measured by the zone's own accounting and by glibc's counters.
 */
#define SMALL_ZONE                                                                                 \
	"$TTL 3600\n@ SOA ns1 hostmaster 2024010101 3600 900 1209600 300\n@ NS ns1\n@ NS ns2\n"    \
	"@ A 10.1.0.1\n@ AAAA 2001:db8:1::1\n@ MX 10 mail\n@ TXT \"v=spf1 mx -all\"\n"             \
	"ns1 A 10.2.0.1\nns2 A 10.3.0.1\nmail A 10.4.0.1\nwww CNAME @\n"
/* What one such zone may hold, in bytes: today about 1.4 KB (zone_t alone is 416). */
#define SMALL_ZONE_BOUND 2048
#define SMALL_ZONES      100

static void small_zone_footprint(void **state)
{
	(void)state;
	zone_t *zones[SMALL_ZONES];
#ifndef __SANITIZE_ADDRESS__
	/* In use by the program: the main heap's chunks plus the mmapped ones, header included. */
	struct mallinfo2 before = mallinfo2();
#endif
	for (int i = 0; i < SMALL_ZONES; i++) {
		char origin[64];
		snprintf(origin, sizeof(origin), "z%d.small.test", i);
		zones[i] = util_zone(origin, SMALL_ZONE);
		assert_non_null(zones[i]);
		assert_int_equal(zones[i]->nrecords, 11);
	}
#ifndef __SANITIZE_ADDRESS__
	struct mallinfo2 after = mallinfo2();
	size_t held = (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd);
	printf("an 11-record zone holds %zu bytes (malloc's count)\n", held / SMALL_ZONES);
	if (held / SMALL_ZONES > SMALL_ZONE_BOUND)
		fail_msg("an 11-record zone holds %zu bytes (malloc's count), more than %d",
		         held / SMALL_ZONES, SMALL_ZONE_BOUND);
#endif
	for (int i = 0; i < SMALL_ZONES; i++) {
		const zone_t *z = zones[i];
		size_t own = sizeof(*z) + z->arena.total + z->shared.total +
		             z->nnodes * sizeof(zone_node_t) + (z->mask + 1u) * sizeof(zone_slot_t);
		if (i == 0)
			printf("an 11-record zone holds %zu bytes (its own count)\n", own);
		if (own > SMALL_ZONE_BOUND)
			fail_msg("an 11-record zone holds %zu bytes (its own count), more than %d",
			         own, SMALL_ZONE_BOUND);
		assert_null(z->dnssec);
		zone_unref(zones[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(valid_zone),
	    cmocka_unit_test(checks),
	    cmocka_unit_test(occluded_is_a_warning),
	    cmocka_unit_test(include_reports_its_file),
	    cmocka_unit_test(include_is_bounded),
	    cmocka_unit_test(same_contents),
	    cmocka_unit_test(references),
	    cmocka_unit_test(apply_matches_rebuild),
	    cmocka_unit_test(write_round_trip),
	    cmocka_unit_test(small_zone_footprint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
