/* SPDX-License-Identifier: MIT */
/* test_dname: names in wire and text form, compression, case and order. */
#include "util.h"
#include "error.h"

static void text_round_trip(void **state)
{
	(void)state;
	const char *names[] = {"example.com.", "a\\.b.example.", "\\032x.\\255.", ".",
	                       "Mixed.CASE.org."};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint8_t w[DNAME_MAXLEN];
		char t[DNAME_TEXT_MAX];
		int n = dname_from_text(names[i], w);
		assert_true(n > 0);
		assert_int_equal(dname_len(w), n);
		assert_true(dname_to_text(w, t, sizeof(t)) > 0);
		assert_string_equal(t, names[i]);
	}
}

static void text_limits(void **state)
{
	(void)state;
	uint8_t w[DNAME_MAXLEN];
	char label[80], name[400];
	memset(label, 'a', 63);
	label[63] = 0;
	assert_true(dname_from_text(label, w) == 65);
	memset(label, 'a', 64);
	label[64] = 0;
	assert_int_equal(dname_from_text(label, w), US_ENAME);
	assert_int_equal(dname_from_text("a..b", w), US_ENAME);
	/* 4 labels of 63 = 256 bytes of wire: one too many. */
	snprintf(name, sizeof(name), "%.63s.%.63s.%.63s.%.63s", label, label, label, label);
	assert_int_equal(dname_from_text(name, w), US_ENAME);
	/* 3 x 63 + 61 fits exactly: 3*64 + 62 + 1 = 255. */
	snprintf(name, sizeof(name), "%.63s.%.63s.%.63s.%.61s", label, label, label, label);
	assert_int_equal(dname_from_text(name, w), 255);
	assert_int_equal(dname_from_text("a.b\\", w), US_ENAME);
	assert_int_equal(dname_from_text("a\\256", w), US_ENAME);
}

static void unpack_compression(void **state)
{
	(void)state;
	/* "example.com" at 12, then "www" + pointer to 12, then a pointer to itself. */
	uint8_t pkt[64] = {0};
	size_t p = 12;
	const uint8_t ex[] = "\7example\3com";
	memcpy(pkt + p, ex, sizeof(ex));
	p += sizeof(ex);
	size_t www = p;
	memcpy(pkt + p, "\3www\xC0\x0C", 6);
	p += 6;
	size_t self = p;
	pkt[p] = 0xC0;
	pkt[p + 1] = (uint8_t)self;
	p += 2;

	uint8_t out[DNAME_MAXLEN];
	size_t olen, pos = www;
	assert_int_equal(dname_unpack(pkt, p, &pos, out, &olen), 0);
	assert_int_equal(pos, www + 6);
	assert_int_equal(olen, 17);
	assert_memory_equal(out, "\3www\7example\3com", 17);
	pos = self;
	assert_int_equal(dname_unpack(pkt, p, &pos, out, &olen), US_ECOMPRESS);
	/* A label running past the end. */
	pos = 12;
	assert_int_equal(dname_unpack(pkt, 15, &pos, out, &olen), US_EMALF);
	/* Reserved label types 0x40 and 0x80. */
	uint8_t bad[] = {0x41, 'a', 0};
	pos = 0;
	assert_int_equal(dname_unpack(bad, sizeof(bad), &pos, out, &olen), US_EMALF);
}

/*
 * Writes many names, some twice in a row, with rollbacks here and there, into one long message,
 * as a transfer does; every name must decompress to what was written, and a name repeated
 * after the table filled up must still shrink to a pointer.
 */
static void compression_past_a_full_table(void **state)
{
	(void)state;
	static uint8_t pkt[65535];
	wire_writer_t w;
	wire_writer_init(&w, pkt, sizeof(pkt));
	w.len = WIRE_HDR_LEN;
	uint8_t names[600][DNAME_MAXLEN];
	size_t at[600];
	int kept = 0;
	for (int i = 0; i < 600; i++) {
		char text[64];
		snprintf(text, sizeof(text), "n%d.%s.example.com", i / 2, i % 7 ? "zone" : "other");
		int len = dname_from_text(text, names[kept]);
		assert_true(len > 0);
		wire_mark_t m = wire_mark(&w);
		at[kept] = w.len;
		size_t before = w.len;
		assert_int_equal(wire_put_name(&w, names[kept], true), 0);
		/* The same name as just before, unless either had "other" or it was rolled
		 * back. */
		if (i % 2 && i % 7 && (i - 1) % 7 && (i - 1) % 13 != 5 && i > 300)
			assert_int_equal(w.len - before, 2);
		if (i % 13 == 5) {
			wire_rollback(&w, m); /* as when an RRset does not fit */
			continue;
		}
		kept++;
	}
	assert_true(w.comp_wrapped);
	for (int i = 0; i < kept; i++) {
		uint8_t out[DNAME_MAXLEN];
		size_t olen, pos = at[i];
		assert_int_equal(dname_unpack(pkt, w.len, &pos, out, &olen), 0);
		assert_int_equal(olen, dname_len(names[i]));
		assert_memory_equal(out, names[i], olen);
	}
}

static void case_and_order(void **state)
{
	(void)state;
	uint8_t a[DNAME_MAXLEN], b[DNAME_MAXLEN], c[DNAME_MAXLEN];
	dname_from_text("WWW.Example.COM", a);
	dname_from_text("www.example.com", b);
	dname_from_text("example.com", c);
	assert_true(dname_equal(a, b));
	assert_true(dname_is_sub(a, c));
	assert_false(dname_is_sub(c, a));
	assert_int_equal(dname_cmp(a, b), 0);
	assert_true(dname_cmp(c, a) < 0);
	/* RFC 4034 6.1 example order. */
	const char *order[] = {"example.",         "a.example.",      "yljkjljk.a.example.",
	                       "Z.a.example.",     "zABC.a.EXAMPLE.", "z.example.",
	                       "\\001.z.example.", "*.z.example.",    "\\200.z.example."};
	for (size_t i = 0; i + 1 < sizeof(order) / sizeof(order[0]); i++) {
		dname_from_text(order[i], a);
		dname_from_text(order[i + 1], b);
		assert_true(dname_cmp(a, b) < 0);
		assert_true(dname_cmp(b, a) > 0);
	}
	dname_lower(a, (const uint8_t *)"\3WwW\0", 5);
	assert_memory_equal(a, "\3www\0", 5);
	assert_int_equal(dname_labels(c), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(text_round_trip),
	    cmocka_unit_test(text_limits),
	    cmocka_unit_test(unpack_compression),
	    cmocka_unit_test(case_and_order),
	    cmocka_unit_test(compression_past_a_full_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
