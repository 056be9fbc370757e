/* SPDX-License-Identifier: MIT */
/* test_dnssec: NSEC3 hashing, the chains' index and the checks that refuse a broken chain. */
#include "util.h"
#include "error.h"

/* RFC 5155 Appendix A: salt aabbccdd, 12 iterations. */
static void nsec3_hash_vectors(void **state)
{
	(void)state;
	static const struct {
		const char *name, *hash;
	} v[] = {{"example", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"},
	         {"a.example", "35mthgpgcu1qg68fab165klnsnk3dpvl"},
	         {"ai.example", "gjeqe526plbf1g8mklp59enfd789njgi"},
	         {"*.w.example", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"},
	         {"xx.example", "t644ebqk9bibcna874givr6joj62mlhv"}};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t name[DNAME_MAXLEN], h[DNSSEC_HASH_MAX];
		char text[33];
		int len = dname_from_text(v[i].name, name);
		dnssec_nsec3_hash((const uint8_t *)"\xaa\xbb\xcc\xdd", 4, 12, name, (size_t)len, h);
		util_b32hex(h, text);
		assert_string_equal(text, v[i].hash);
	}
	/* Inputs longer than one SHA-1 block: a long name with a long salt. */
	uint8_t salt[255], h1[DNSSEC_HASH_MAX], h2[DNSSEC_HASH_MAX];
	memset(salt, 0x5a, sizeof(salt));
	uint8_t name[DNAME_MAXLEN];
	int len = dname_from_text("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	                          "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	                          name);
	dnssec_nsec3_hash(salt, sizeof(salt), 0, name, (size_t)len, h1);
	dnssec_nsec3_hash(salt, sizeof(salt), 0, name, (size_t)len, h2);
	assert_memory_equal(h1, h2, sizeof(h1));
}

static const util_rec_t recs[] = {
    {"@", "SOA", "ns1 hostmaster 1 7200 3600 1209600 300"},
    {"@", "NS", "ns1"},
    {"@", "DNSKEY", "257 3 13 AAAA"},
    {"ns1", "A", "192.0.2.53"},
    {"b", "A", "192.0.2.1"},
    {"a.b", "A", "192.0.2.2"},
    {"z.a.b", "A", "192.0.2.3"},
    {"c", "TXT", "\"c\""},
    {NULL, NULL, NULL},
};

/* The NSEC predecessor search follows canonical order (RFC 4034 6.1), not text order. */
static void nsec_cover(void **state)
{
	(void)state;
	zone_t *z = util_zone("t.test", util_signed_zone("t.test", recs, false, false));
	assert_non_null(z);
	assert_true(dnssec_has_nsec(z->dnssec));
	static const struct {
		const char *q, *cover;
	} v[] = {{"a.t.test", "t.test."},         {"b.t.test", "b.t.test."},
	         {"0.a.b.t.test", "a.b.t.test."}, {"zz.a.b.t.test", "z.a.b.t.test."},
	         {"bb.t.test", "z.a.b.t.test."},  {"zzz.t.test", "ns1.t.test."}};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t name[DNAME_MAXLEN];
		char text[DNAME_TEXT_MAX];
		dname_from_text(v[i].q, name);
		const zone_node_t *n = dnssec_nsec_cover(z->dnssec, name);
		dname_to_text(n->name, text, sizeof(text));
		assert_string_equal(text, v[i].cover);
	}
	zone_unref(z);
}

/* Drops the first line holding what, from zone text. */
static const char *drop_line(const char *text, const char *what)
{
	static char out[65536];
	const char *at = strstr(text, what);
	assert_non_null(at);
	const char *start = at;
	while (start > text && start[-1] != '\n')
		start--;
	const char *end = strchr(at, '\n');
	snprintf(out, sizeof(out), "%.*s%s", (int)(start - text), text, end + 1);
	return out;
}

static void broken_chains(void **state)
{
	(void)state;
	const char *good = util_signed_zone("t.test", recs, true, false);
	zone_t *z = util_zone("t.test", good);
	assert_non_null(z);
	assert_true(dnssec_has_nsec3(z->dnssec));
	zone_unref(z);
	/* One NSEC3 missing: the chain is broken and the zone refused. */
	char copy[65536];
	snprintf(copy, sizeof(copy), "%s", good);
	assert_null(util_zone("t.test", drop_line(copy, " NSEC3 1 0 2 AB ")));
	assert_non_null(strstr(util_last_error, "broken NSEC3 chain"));
	/* No NSEC3PARAM: the salt is unknown. */
	assert_null(util_zone("t.test", drop_line(copy, "NSEC3PARAM 1 0 2 AB")));
	assert_non_null(strstr(util_last_error, "NSEC3PARAM"));
	/* A malformed RRSIG is refused rather than read past its end. */
	snprintf(copy, sizeof(copy), "%s%s", good, "c.t.test. RRSIG \\# 2 0001\n");
	assert_null(util_zone("t.test", copy));
	assert_non_null(strstr(util_last_error, "malformed"));
	/* An NSEC chain gap is a warning only. */
	const char *nsec = util_signed_zone("t.test", recs, false, false);
	snprintf(copy, sizeof(copy), "%s", nsec);
	z = util_zone("t.test", drop_line(copy, "c.t.test. NSEC"));
	assert_non_null(z);
	zone_unref(z);
}

/* An incremental change goes through the same checks: one that breaks the chain fails, so the
 * secondary falls back to a full transfer instead of serving bad proofs. */
static void changes_keep_the_chain(void **state)
{
	(void)state;
	zone_t *z = util_zone("t.test", util_signed_zone("t.test", recs, true, false));
	assert_non_null(z);
	const zone_node_t *n3 = NULL;
	uint32_t pos = 0;
	for (const zone_node_t *n; !n3 && (n = zone_next_node(z, &pos));)
		if (zone_node_rrset(n, WIRE_T_NSEC3))
			n3 = n;
	assert_non_null(n3);
	const zone_rrset_t *rs = zone_node_rrset(n3, WIRE_T_NSEC3);
	uint8_t soa_to[512];
	size_t soa_len = wire_read16(z->soa->rdata);
	memcpy(soa_to, z->soa->rdata + 2, soa_len);
	size_t p = dname_len(soa_to);
	p += dname_len(soa_to + p);
	wire_write32(soa_to + p, z->serial + 1);
	zone_rr_t from = {.owner = z->apex,
	                  .rdata = z->soa->rdata + 2,
	                  .rdlen = (uint16_t)soa_len,
	                  .ttl = z->soa->ttl,
	                  .type = WIRE_T_SOA};
	zone_rr_t to = from;
	to.rdata = soa_to;
	zone_rr_t gone = {.owner = n3->name,
	                  .rdata = rs->rdata + 2,
	                  .rdlen = wire_read16(rs->rdata),
	                  .ttl = rs->ttl,
	                  .type = WIRE_T_NSEC3};
	zone_diff_t d = {.soa_from = &from,
	                 .soa_to = &to,
	                 .removed = &gone,
	                 .from = z->serial,
	                 .to = z->serial + 1,
	                 .nremoved = 1};
	zone_changeset_t cs = {.first = &d, .ndiffs = 1, .from = z->serial, .to = z->serial + 1};
	zone_t *nz = NULL;
	char err[512] = "";
	assert_int_equal(zone_apply(z, &cs, NULL, &nz, err, sizeof(err)), US_EZONE);
	assert_non_null(strstr(err, "broken NSEC3 chain"));
	/* The SOA alone changes: the new version has its own index. */
	d.removed = NULL;
	d.nremoved = 0;
	assert_int_equal(zone_apply(z, &cs, NULL, &nz, err, sizeof(err)), 0);
	assert_non_null(nz->base); /* an overlay on z, not a rebuilt base */
	assert_true(dnssec_has_nsec3(nz->dnssec) && nz->dnssec != z->dnssec);
	zone_unref(nz);
	zone_unref(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(nsec3_hash_vectors),
	    cmocka_unit_test(nsec_cover),
	    cmocka_unit_test(broken_chains),
	    cmocka_unit_test(changes_keep_the_chain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
