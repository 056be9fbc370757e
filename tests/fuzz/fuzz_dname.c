/* SPDX-License-Identifier: MIT */
/* fuzz_dname: names from packets at any offset, and from text, must survive a round trip. */
#include <stdlib.h>
#include <string.h>

#include "dname.h"
#include "error.h"
#include "fuzz.h"

/* Text form of name, checked to be a NUL-terminated string of the returned length. */
static int to_text(const uint8_t *name, char *text)
{
	int n = dname_to_text(name, text, DNAME_TEXT_MAX);
	FUZZ_CHECK(n > 0, "dname_to_text failed with %d on a valid name", n);
	FUZZ_CHECK(strlen(text) == (size_t)n, "text length %zu, returned %d", strlen(text), n);
	FUZZ_CHECK(text[n - 1] == '.', "text \"%s\" lacks the trailing dot", text);
	return n;
}

/* Everything that must hold for any well-formed name of length len. */
static void check_name(const uint8_t *name, size_t len)
{
	char text[DNAME_TEXT_MAX];
	uint8_t back[DNAME_MAXLEN], lower[DNAME_MAXLEN], offs[DNAME_MAXLABELS];

	FUZZ_CHECK(len >= 1 && len <= DNAME_MAXLEN, "name length %zu", len);
	FUZZ_CHECK(dname_check(name, len) == (int)len, "dname_check disagrees on a %zu-byte name",
	           len);
	FUZZ_CHECK(dname_len(name) == len, "dname_len %zu, expected %zu", dname_len(name), len);
	int labels = dname_labels(name);
	FUZZ_CHECK(dname_label_offsets(name, offs) == labels, "label counts disagree");
	FUZZ_CHECK(labels < DNAME_MAXLABELS, "%d labels", labels);

	int n = to_text(name, text);
	int blen = dname_from_text(text, back);
	FUZZ_CHECK(blen == (int)len, "\"%s\" parses back to %d bytes, not %zu", text, blen, len);
	FUZZ_CHECK(memcmp(back, name, len) == 0, "\"%s\" parses back to a different name", text);
	FUZZ_CHECK(dname_equal(name, back), "dname_equal fails on the round trip of \"%s\"", text);

	/* A buffer of exactly the text and its NUL must do; one byte less must not. */
	char *exact = malloc((size_t)n + 1);
	FUZZ_CHECK(exact, "out of memory");
	int m = dname_to_text(name, exact, (size_t)n + 1);
	FUZZ_CHECK(m == n && memcmp(exact, text, (size_t)n + 1) == 0,
	           "dname_to_text into exactly %d bytes gave %d for \"%s\"", n + 1, m, text);
	FUZZ_CHECK(dname_to_text(name, exact, (size_t)n) == US_ETRUNC,
	           "dname_to_text into %d bytes did not truncate \"%s\"", n, text);
	free(exact);

	dname_lower(lower, name, len);
	FUZZ_CHECK(dname_cmp(name, name) == 0, "dname_cmp(a, a) != 0 for \"%s\"", text);
	FUZZ_CHECK(dname_cmp(name, lower) == 0, "dname_cmp ignores case wrongly for \"%s\"", text);
	FUZZ_CHECK(dname_equal(name, lower), "dname_equal is case-sensitive for \"%s\"", text);
	FUZZ_CHECK(dname_is_sub(name, name), "\"%s\" is not below itself", text);
	FUZZ_CHECK(dname_is_sub(name, (const uint8_t *)""), "\"%s\" is not below the root", text);
	FUZZ_CHECK(dname_hash(lower, len) == dname_hash(lower, len), "hash is not stable");

	/* Every suffix is a parent of the name, and the name sorts after each proper one. */
	for (int i = 0; i < labels; i++) {
		const uint8_t *parent = name + offs[i];
		FUZZ_CHECK(dname_is_sub(name, parent), "\"%s\" is not below its suffix %d", text,
		           i);
		if (i > 0) {
			FUZZ_CHECK(dname_cmp(name, parent) > 0, "\"%s\" sorts before its suffix %d",
			           text, i);
			FUZZ_CHECK(dname_cmp(parent, name) < 0, "suffix %d sorts after \"%s\"", i,
			           text);
			FUZZ_CHECK(!dname_is_sub(parent, name), "suffix %d is below \"%s\"", i,
			           text);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The first two bytes choose where in the rest the name starts. */
	if (size >= 2) {
		const uint8_t *pkt = data + 2;
		size_t len = size - 2;
		size_t start = (size_t)(data[0] << 8 | data[1]) % (len + 1);
		size_t pos = start, outlen = 0;
		uint8_t name[DNAME_MAXLEN];
		int ret = dname_unpack(pkt, len, &pos, name, &outlen);
		if (ret == 0) {
			FUZZ_CHECK(pos > start && pos <= len,
			           "position %zu after a name at %zu of %zu", pos, start, len);
			check_name(name, outlen);
		} else {
			FUZZ_CHECK(ret == US_EMALF || ret == US_ECOMPRESS,
			           "dname_unpack returned %d", ret);
			FUZZ_CHECK(pos == start, "dname_unpack moved the position on failure");
		}
	}

	/* The same bytes as presentation text. */
	if (size < 4096) {
		char *text = malloc(size + 1);
		FUZZ_CHECK(text, "out of memory");
		memcpy(text, data, size);
		text[size] = 0;
		uint8_t name[DNAME_MAXLEN];
		int len = dname_from_text(text, name);
		if (len >= 0)
			check_name(name, (size_t)len);
		else
			FUZZ_CHECK(len == US_ENAME, "dname_from_text returned %d", len);
		free(text);
	}
	return 0;
}
