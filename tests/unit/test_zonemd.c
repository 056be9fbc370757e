/* SPDX-License-Identifier: MIT */
/* test_zonemd: RFC 8976 digests against the RFC's own examples, and verification outcomes. */
#include "util.h"
#include "error.h"
#include "zonemd.h"

/* RFC 8976 Appendix A.1, "Simple EXAMPLE Zone". */
static const char simple[] = "example.      86400  IN  SOA     ns1 admin 2018031900 (\n"
                             "                     1800 900 604800 86400 )\n"
                             "              86400  IN  NS      ns1\n"
                             "              86400  IN  NS      ns2\n"
                             "              86400  IN  ZONEMD  2018031900 1 1 (\n"
                             "                     c68090d90a7aed716bc459f9340e3d7c\n"
                             "                     1370d4d24b7e2fc3a1ddc0b9a87153b9\n"
                             "                     a9713b3c9ae5cc27777f98b8e730044c )\n"
                             "ns1           3600   IN  A       203.0.113.63\n"
                             "ns2           3600   IN  AAAA    2001:db8::63\n";

/*
 * RFC 8976 Appendix A.2, "Complex EXAMPLE Zone" (digest as corrected by erratum 6378), without
 * its out-of-zone record foo.test., which the digest leaves out and our loader refuses: the
 * digest is the same either way. Glue, occluded data, a wildcard, upper-case owners and
 * targets, a duplicate record, unsorted RRsets and a ZONEMD below the apex all count.
 */
static const char complex_zone[] =
    "example.      86400  IN  SOA     ns1 admin 2018031900 (\n"
    "                     1800 900 604800 86400 )\n"
    "              86400  IN  NS      ns1\n"
    "              86400  IN  NS      ns2\n"
    "              86400  IN  ZONEMD  2018031900 1 1 (\n"
    "                     a3b69bad980a3504e1cffcb0fd6397f9\n"
    "                     3848071c93151f552ae2f6b1711d4bd2\n"
    "                     d8b39808226d7b9db71e34b72077f8fe )\n"
    "ns1           3600   IN  A       203.0.113.63\n"
    "NS2           3600   IN  AAAA    2001:db8::63\n"
    "occluded.sub  7200   IN  TXT     \"I'm occluded but must be digested\"\n"
    "sub           7200   IN  NS      ns1\n"
    "duplicate     300    IN  TXT     \"I must be digested just once\"\n"
    "duplicate     300    IN  TXT     \"I must be digested just once\"\n"
    "UPPERCASE     3600   IN  TXT     \"canonicalize uppercase owner names\"\n"
    "*             777    IN  PTR     dont-forget-about-wildcards\n"
    "mail          3600   IN  MX      20 MAIL1\n"
    "mail          3600   IN  MX      10 Mail2.Example.\n"
    "sortme        3600   IN  AAAA    2001:db8::5:61\n"
    "sortme        3600   IN  AAAA    2001:db8::3:62\n"
    "sortme        3600   IN  AAAA    2001:db8::4:63\n"
    "sortme        3600   IN  AAAA    2001:db8::1:65\n"
    "sortme        3600   IN  AAAA    2001:db8::2:64\n"
    "non-apex      900    IN  ZONEMD  2018031900 1 1 (\n"
    "                     616c6c6f77656420627574206967 6e6f7265642e20616c6c6f7765642062\n"
    "                     75742069676e6f7265642e20616c6c6f7765 )\n";

/* RFC 8976 Appendix A.3, "EXAMPLE Zone with Multiple Digests": SHA-384, SHA-512, and two
 * records we cannot verify (hash algorithm 240, scheme 241). */
static const char multiple[] =
    "example.      86400  IN  SOA     ns1 admin 2018031900 (\n"
    "                     1800 900 604800 86400 )\n"
    "example.      86400  IN  NS      ns1.example.\n"
    "example.      86400  IN  NS      ns2.example.\n"
    "example.      86400  IN  ZONEMD  2018031900 1 1 (\n"
    "    62e6cf51b02e54b9b5f967d547ce43136792901f9f88e637\n"
    "    493daaf401c92c279dd10f0edb1c56f8080211f8480ee306 )\n"
    "example.      86400  IN  ZONEMD  2018031900 1 2 (\n"
    "    08cfa1115c7b948c4163a901270395ea226a930cd2cbcf2f\n"
    "    a9a5e6eb85f37c8a4e114d884e66f176eab121cb02db7d65\n"
    "    2e0cc4827e7a3204f166b47e5613fd27 )\n"
    "example.      86400  IN  ZONEMD  2018031900 1 240 (\n"
    "    e2d523f654b9422a96c5a8f44607bbee )\n"
    "example.      86400  IN  ZONEMD  2018031900 241 1 (\n"
    "    e1846540e33a9e4189792d18d5d131f605fc283eaaaaaaaa\n"
    "    aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa )\n"
    "ns1.example.  3600   IN  A       203.0.113.63\n"
    "ns2.example.  86400  IN  TXT     \"This example has multiple digests\"\n"
    "NS2.EXAMPLE.  3600   IN  AAAA    2001:db8::63\n";

static void unhex(const char *hex, uint8_t *out, size_t *len)
{
	size_t n = 0;
	for (const char *p = hex; p[0] && p[1]; p += 2) {
		unsigned v;
		assert_int_equal(sscanf(p, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
	}
	*len = n;
}

static void expect_digest(const zone_t *z, uint8_t alg, const char *hex)
{
	uint8_t want[ZONEMD_DIGEST_MAX], got[ZONEMD_DIGEST_MAX];
	size_t wlen, glen = 0;
	unhex(hex, want, &wlen);
	assert_int_equal(zonemd_compute(z, ZONEMD_SCHEME_SIMPLE, alg, got, &glen), 0);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);
}

static zonemd_status_t verify(const zone_t *z, char *why, size_t len)
{
	zonemd_status_t st;
	assert_int_equal(zonemd_verify(z, &st, why, len), 0);
	return st;
}

static void rfc8976_simple(void **state)
{
	(void)state;
	zone_t *z = util_zone("example", simple);
	assert_non_null(z);
	expect_digest(z, ZONEMD_HASH_SHA384,
	              "c68090d90a7aed716bc459f9340e3d7c1370d4d24b7e2fc3a1ddc0b9a87153b9"
	              "a9713b3c9ae5cc27777f98b8e730044c");
	char why[200];
	assert_int_equal(verify(z, why, sizeof(why)), ZONEMD_VERIFIED);
	zone_unref(z);
}

static void rfc8976_complex(void **state)
{
	(void)state;
	zone_t *z = util_zone("example", complex_zone);
	assert_non_null(z);
	expect_digest(z, ZONEMD_HASH_SHA384,
	              "a3b69bad980a3504e1cffcb0fd6397f93848071c93151f552ae2f6b1711d4bd2"
	              "d8b39808226d7b9db71e34b72077f8fe");
	char why[200];
	assert_int_equal(verify(z, why, sizeof(why)), ZONEMD_VERIFIED);
	zone_unref(z);
}

static void rfc8976_multiple(void **state)
{
	(void)state;
	zone_t *z = util_zone("example", multiple);
	assert_non_null(z);
	expect_digest(z, ZONEMD_HASH_SHA384,
	              "62e6cf51b02e54b9b5f967d547ce43136792901f9f88e637"
	              "493daaf401c92c279dd10f0edb1c56f8080211f8480ee306");
	expect_digest(z, ZONEMD_HASH_SHA512,
	              "08cfa1115c7b948c4163a901270395ea226a930cd2cbcf2f"
	              "a9a5e6eb85f37c8a4e114d884e66f176eab121cb02db7d65"
	              "2e0cc4827e7a3204f166b47e5613fd27");
	char why[200];
	assert_int_equal(verify(z, why, sizeof(why)), ZONEMD_VERIFIED);
	uint8_t out[ZONEMD_DIGEST_MAX];
	size_t len;
	assert_int_equal(zonemd_compute(z, 1, 240, out, &len), US_EINVAL);
	assert_int_equal(zonemd_compute(z, 241, 1, out, &len), US_EINVAL);
	zone_unref(z);
}

#define HEAD                                                                                       \
	"$ORIGIN example.\n$TTL 3600\n@ SOA ns1 admin 7 1800 900 604800 86400\n@ NS ns1\n"         \
	"ns1 A 203.0.113.63\nwww A 192.0.2.1\n"

static zone_t *with_zonemd(const char *records)
{
	char text[4096];
	snprintf(text, sizeof(text), HEAD "%s", records);
	zone_t *z = util_zone("example", text);
	assert_non_null(z);
	return z;
}

/* The ZONEMD record for z's SHA-384 digest, as zone file text. */
static void zonemd_line(const zone_t *z, char *buf, size_t len, uint32_t serial)
{
	uint8_t d[ZONEMD_DIGEST_MAX];
	size_t dlen;
	assert_int_equal(zonemd_compute(z, 1, 1, d, &dlen), 0);
	int n = snprintf(buf, len, "@ ZONEMD %u 1 1 ", serial);
	for (size_t i = 0; i < dlen; i++)
		n += snprintf(buf + n, len - (size_t)n, "%02x", d[i]);
	snprintf(buf + n, len - (size_t)n, "\n");
}

static void outcomes(void **state)
{
	(void)state;
	char why[200], line[256], recs[1024];
	zone_t *z = with_zonemd("");
	assert_int_equal(verify(z, why, sizeof(why)), ZONEMD_ABSENT);
	/* The digest leaves the apex ZONEMD out, so it can be computed before it is added. */
	zonemd_line(z, line, sizeof(line), 7);
	zone_unref(z);
	z = with_zonemd(line);
	assert_int_equal(verify(z, why, sizeof(why)), ZONEMD_VERIFIED);
	zone_unref(z);

	/* One record more: the digest no longer matches. */
	snprintf(recs, sizeof(recs), "%sextra TXT \"not digested\"\n", line);
	z = with_zonemd(recs);
	assert_int_equal(verify(z, why, sizeof(why)), ZONEMD_FAILED);
	assert_non_null(strstr(why, "mismatch"));
	zone_unref(z);

	/* A TTL counts too. */
	snprintf(recs, sizeof(recs), "%swww 60 A 192.0.2.2\n", line);
	z = with_zonemd(recs);
	assert_int_equal(verify(z, why, sizeof(why)), ZONEMD_FAILED);
	zone_unref(z);

	/* The right digest under another serial does not verify (RFC 8976 4). */
	z = with_zonemd("");
	zonemd_line(z, line, sizeof(line), 8);
	zone_unref(z);
	z = with_zonemd(line);
	assert_int_equal(verify(z, why, sizeof(why)), ZONEMD_FAILED);
	assert_non_null(strstr(why, "serial 8 is not the SOA serial 7"));
	zone_unref(z);

	/* Only what we do not know: unverifiable, which is not a failure. */
	z = with_zonemd("@ ZONEMD 7 1 240 e2d523f654b9422a96c5a8f44607bbee\n"
	                "@ ZONEMD 7 2 1 e2d523f654b9422a96c5a8f44607bbee\n");
	assert_int_equal(verify(z, why, sizeof(why)), ZONEMD_UNSUPPORTED);
	zone_unref(z);

	/* Two records of one scheme and algorithm; a digest of the wrong length. */
	z = with_zonemd("@ ZONEMD 7 1 240 e2d523f654b9422a96c5a8f44607bbee\n"
	                "@ ZONEMD 7 1 240 e2d523f654b9422a96c5a8f44607bbef\n");
	assert_int_equal(verify(z, why, sizeof(why)), ZONEMD_FAILED);
	assert_non_null(strstr(why, "two ZONEMD records"));
	zone_unref(z);
	z = with_zonemd("@ ZONEMD 7 1 1 e2d523f654b9422a96c5a8f44607bbee\n");
	assert_int_equal(verify(z, why, sizeof(why)), ZONEMD_FAILED);
	assert_non_null(strstr(why, "16 bytes"));
	zone_unref(z);
}

/* RRSIGs are digested, except those at the apex that cover the ZONEMD RRset. */
static void signatures(void **state)
{
	(void)state;
	uint8_t a[ZONEMD_DIGEST_MAX], b[ZONEMD_DIGEST_MAX];
	size_t alen, blen;
	const char *sig = " 13 1 3600 20400101000000 20200101000000 4711 EXAMPLE. AAAA\n";
	char recs[1024];
	zone_t *z = with_zonemd("");
	assert_int_equal(zonemd_compute(z, 1, 1, a, &alen), 0);
	zone_unref(z);
	snprintf(recs, sizeof(recs), "@ RRSIG ZONEMD%s", sig);
	z = with_zonemd(recs);
	assert_int_equal(zonemd_compute(z, 1, 1, b, &blen), 0);
	assert_memory_equal(a, b, alen);
	zone_unref(z);
	snprintf(recs, sizeof(recs), "@ RRSIG NS%s", sig);
	z = with_zonemd(recs);
	assert_int_equal(zonemd_compute(z, 1, 1, b, &blen), 0);
	assert_memory_not_equal(a, b, alen);
	zone_unref(z);
	/* The signer's name is lower-cased (RFC 6840 5.1): its case changes nothing. */
	snprintf(recs, sizeof(recs),
	         "@ RRSIG NS 13 1 3600 20400101000000 20200101000000 4711 "
	         "example. AAAA\n");
	z = with_zonemd(recs);
	assert_int_equal(zonemd_compute(z, 1, 1, a, &alen), 0);
	assert_memory_equal(a, b, alen);
	zone_unref(z);
}

static void canonical_rdata(void **state)
{
	(void)state;
	/* MX: the exchange is lower-cased. */
	uint8_t mx[] = {0, 10, 4, 'M', 'a', 'I', 'l', 2, 'E', 'x', 0};
	zonemd_canonical_rdata(WIRE_T_MX, mx, sizeof(mx));
	assert_memory_equal(mx + 2, "\4mail\2ex", 9);
	/* NSEC: the next name keeps its case (RFC 6840 5.1). */
	uint8_t nsec[] = {1, 'A', 0, 0, 1, 0x40};
	zonemd_canonical_rdata(WIRE_T_NSEC, nsec, sizeof(nsec));
	assert_int_equal(nsec[1], 'A');
	/* NAPTR: past the strings, to the replacement name. */
	uint8_t naptr[] = {0, 1, 0, 2, 1, 'S', 0, 1, 'X', 1, 'Q', 0};
	zonemd_canonical_rdata(WIRE_T_NAPTR, naptr, sizeof(naptr));
	assert_int_equal(naptr[5], 'S');
	assert_int_equal(naptr[10], 'q');
	/* A name cut short is left alone, and nothing is read past the end. */
	uint8_t bad[] = {0, 10, 9, 'A', 'B'};
	zonemd_canonical_rdata(WIRE_T_MX, bad, sizeof(bad));
	assert_int_equal(bad[3], 'A');
}

/* A version made by applying a change (an overlay on its base) digests like the same zone
 * built whole. */
static void applied_change(void **state)
{
	(void)state;
	zone_t *old = with_zonemd("gone TXT \"old\"\n");
	zone_t *whole = util_zone("example", "$ORIGIN example.\n$TTL 3600\n"
	                                     "@ SOA ns1 admin 8 1800 900 604800 86400\n@ NS ns1\n"
	                                     "ns1 A 203.0.113.63\nwww A 192.0.2.1\n"
	                                     "new TXT \"new\"\n");
	assert_non_null(old);
	assert_non_null(whole);
	uint8_t owner[DNAME_MAXLEN], gone_o[DNAME_MAXLEN], soa8[64], soa7[64];
	dname_from_text("new.example", owner);
	dname_from_text("gone.example", gone_o);
	const zone_rrset_t *s7 = old->soa, *s8 = whole->soa;
	memcpy(soa7, s7->rdata + 2, wire_read16(s7->rdata));
	memcpy(soa8, s8->rdata + 2, wire_read16(s8->rdata));
	uint8_t apex[DNAME_MAXLEN];
	dname_from_text("example", apex);
	zone_rr_t from = {.owner = apex,
	                  .rdata = soa7,
	                  .ttl = 3600,
	                  .type = WIRE_T_SOA,
	                  .rdlen = wire_read16(s7->rdata)};
	zone_rr_t to = {.owner = apex,
	                .rdata = soa8,
	                .ttl = 3600,
	                .type = WIRE_T_SOA,
	                .rdlen = wire_read16(s8->rdata)};
	zone_rr_t rm = {.owner = gone_o,
	                .rdata = (const uint8_t *)"\3old",
	                .ttl = 3600,
	                .type = WIRE_T_TXT,
	                .rdlen = 4};
	zone_rr_t add = {.owner = owner,
	                 .rdata = (const uint8_t *)"\3new",
	                 .ttl = 3600,
	                 .type = WIRE_T_TXT,
	                 .rdlen = 4};
	zone_diff_t d = {.soa_from = &from,
	                 .soa_to = &to,
	                 .removed = &rm,
	                 .added = &add,
	                 .from = 7,
	                 .to = 8,
	                 .nremoved = 1,
	                 .nadded = 1};
	zone_changeset_t cs = {.first = &d, .ndiffs = 1, .from = 7, .to = 8};
	zone_t *nz = NULL;
	char err[256] = "";
	assert_int_equal(zone_apply(old, &cs, NULL, &nz, err, sizeof(err)), 0);
	assert_non_null(nz->base);
	uint8_t a[ZONEMD_DIGEST_MAX], b[ZONEMD_DIGEST_MAX];
	size_t alen, blen;
	assert_int_equal(zonemd_compute(nz, 1, 2, a, &alen), 0);
	assert_int_equal(zonemd_compute(whole, 1, 2, b, &blen), 0);
	assert_int_equal(alen, 64);
	assert_memory_equal(a, b, alen);
	zone_unref(nz);
	zone_unref(whole);
	zone_unref(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rfc8976_simple),   cmocka_unit_test(rfc8976_complex),
	    cmocka_unit_test(rfc8976_multiple), cmocka_unit_test(outcomes),
	    cmocka_unit_test(signatures),       cmocka_unit_test(canonical_rdata),
	    cmocka_unit_test(applied_change),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
