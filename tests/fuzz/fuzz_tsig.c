/* SPDX-License-Identifier: MIT */
/* fuzz_tsig: the TSIG verification paths on any bytes: a request checked against our keys as
 * the server checks one (acl_check_tsig), a stream of messages checked as a transfer client
 * does, and the round trip: what we sign verifies, and one byte changed does not. */
#include <string.h>

#include "acl.h"
#include "fuzz.h"
#include "tsig.h"

#define NOW 1700000000ull

static tsig_key_t keys[3];
static const uint8_t secret1[] = "0123456789abcdef0123456789abcdef";
static const uint8_t secret2[] = "another secret, of another size";

static void setup(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	FUZZ_CHECK(tsig_key_init(&keys[0], "k1.", TSIG_HMAC_SHA256, secret1, 32) == 0, "key");
	FUZZ_CHECK(tsig_key_init(&keys[1], "k2.example.", TSIG_HMAC_MD5, secret2, 31) == 0, "key");
	FUZZ_CHECK(tsig_key_init(&keys[2], "k3.", TSIG_HMAC_SHA512, secret1, 17) == 0, "key");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[65535 + 512];
	setup();
	if (size < 2)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;

	/* A request as the server sees it. */
	tsig_verify_t v = {0};
	tsig_rr_t rr;
	uint16_t terr = 0;
	int key = acl_check_tsig(keys, 3, data, size, NOW + (mode & 0xF) * 100, &v, &rr, &terr);
	FUZZ_CHECK(key >= ACL_TSIG_MALFORMED && key < 3, "acl_check_tsig returned %d", key);
	if (key == ACL_TSIG_BAD && size <= 65535) {
		/* The error answer is well formed whatever the request was. */
		size_t out;
		memcpy(buf, data, size);
		if (size >= 12 && tsig_strip(buf, size, &out) == 1 &&
		    tsig_answer_error(v.key, &rr, terr, buf, out, sizeof(buf), NOW, &out) == 0)
			FUZZ_CHECK(out <= sizeof(buf), "error answer length");
	}
	tsig_verify_deinit(&v);

	/* A stream: the input cut into messages by 2-byte lengths, checked in turn. */
	const tsig_key_t *k = &keys[mode % 3];
	tsig_verify_init(&v, k, data, size > 32 ? 32 : size);
	for (size_t p = 0; p + 2 <= size;) {
		size_t n = (size_t)data[p] << 8 | data[p + 1];
		if (p + 2 + n > size)
			break;
		size_t stripped;
		uint16_t e = 0;
		int r = tsig_verify_msg(&v, data + p + 2, n, NOW, &e, &stripped);
		FUZZ_CHECK(r <= TSIG_UNSIGNED, "tsig_verify_msg returned %d", r);
		if (r >= 0)
			FUZZ_CHECK(stripped <= n, "stripped %zu of %zu", stripped, n);
		p += 2 + n;
	}
	tsig_verify_done(&v);
	tsig_verify_deinit(&v);

	/* Round trip: a message that parses as one is signed, verifies, and fails when a byte of
	 * it changes. */
	if (size < 12 || size > 4096 || tsig_find(data, size, &rr) != 0)
		return 0;
	memcpy(buf, data, size);
	size_t len, mac_len;
	uint8_t mac[TSIG_MAC_MAX];
	if (tsig_sign(k, buf, size, sizeof(buf), NULL, 0, false, NOW, 300, &len, mac, &mac_len))
		return 0;
	tsig_verify_t w;
	tsig_verify_init(&w, k, NULL, 0);
	size_t stripped;
	uint16_t e = 0;
	int r = tsig_verify_msg(&w, buf, len, NOW + 10, &e, &stripped);
	tsig_verify_deinit(&w);
	FUZZ_CHECK(r == 0 && stripped == size, "our own signature does not verify: %d, error %u", r,
	           e);
	/* Not the ID: the TSIG RR keeps the original, which verification puts back. */
	buf[2 + (mode * 7u) % (size - 2)] ^= 0x20;
	tsig_verify_init(&w, k, NULL, 0);
	r = tsig_verify_msg(&w, buf, len, NOW + 10, &e, &stripped);
	tsig_verify_deinit(&w);
	FUZZ_CHECK(r != 0, "a changed message still verifies");
	return 0;
}
