/* SPDX-License-Identifier: MIT */
/* tsig: RFC 8945 transaction signatures with HMAC from OpenSSL 3's EVP_MAC. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "error.h"
#include "tsig.h"
#include "wire.h"

typedef struct alg_info {
	const char *digest; /* OpenSSL's name for the hash */
	const uint8_t *name;
	size_t name_len;
	size_t mac_len;
} alg_info_t;

#define N(s) (const uint8_t *)(s), sizeof(s) /* the NUL is the root label */
static const alg_info_t algs[TSIG_ALG_COUNT] = {
    [TSIG_HMAC_MD5] = {"MD5", N("\10hmac-md5\7sig-alg\3reg\3int"), 16},
    [TSIG_HMAC_SHA1] = {"SHA1", N("\11hmac-sha1"), 20},
    [TSIG_HMAC_SHA224] = {"SHA224", N("\13hmac-sha224"), 28},
    [TSIG_HMAC_SHA256] = {"SHA256", N("\13hmac-sha256"), 32},
    [TSIG_HMAC_SHA384] = {"SHA384", N("\13hmac-sha384"), 48},
    [TSIG_HMAC_SHA512] = {"SHA512", N("\13hmac-sha512"), 64},
};
#undef N

/* Fixed part of the rdata after the algorithm name: time 6, fudge 2, MAC size 2, then after the
 * MAC original ID 2, error 2, other length 2. */
#define RDATA_FIXED 16

static bool alg_ok(tsig_alg_t alg)
{
	return (unsigned)alg < TSIG_ALG_COUNT;
}

int tsig_key_init(tsig_key_t *k, const char *name_text, tsig_alg_t alg, const uint8_t *secret,
                  size_t len)
{
	uint8_t name[DNAME_MAXLEN];
	int n = dname_from_text(name_text, name);
	if (n < 0)
		return US_ENAME;
	if (!alg_ok(alg))
		return US_EINVAL;
	dname_lower(k->name, name, (size_t)n);
	k->name_len = (size_t)n;
	k->alg = alg;
	k->secret = secret;
	k->secret_len = len;
	return 0;
}

const tsig_key_t *tsig_key_find(const tsig_key_t *keys, size_t n, const uint8_t *name)
{
	for (size_t i = 0; i < n; i++)
		if (dname_equal(keys[i].name, name))
			return &keys[i];
	return NULL;
}

size_t tsig_alg_mac_len(tsig_alg_t alg)
{
	return alg_ok(alg) ? algs[alg].mac_len : 0;
}

const uint8_t *tsig_alg_name(tsig_alg_t alg, size_t *len)
{
	if (!alg_ok(alg))
		return NULL;
	*len = algs[alg].name_len;
	return algs[alg].name;
}

int tsig_alg_from_name(const uint8_t *name)
{
	for (int i = 0; i < TSIG_ALG_COUNT; i++)
		if (dname_equal(algs[i].name, name))
			return i;
	return -1;
}

size_t tsig_space(const tsig_key_t *k)
{
	const alg_info_t *a = &algs[k->alg];
	return k->name_len + 10 + a->name_len + RDATA_FIXED + a->mac_len;
}

/* Reads the TSIG rdata (RFC 8945 4.2): every field present and nothing after Other Data. */
static int parse_rdata(const uint8_t *rd, size_t rdlen, tsig_rr_t *rr)
{
	int alg = dname_check(rd, rdlen);
	if (alg < 0 || (size_t)alg + 10 > rdlen)
		return US_EMALF;
	size_t p = (size_t)alg;
	rr->alg_name = rd;
	rr->alg_len = (size_t)alg;
	rr->alg = tsig_alg_from_name(rd);
	rr->time_signed = (uint64_t)wire_read16(rd + p) << 32 | wire_read32(rd + p + 2);
	rr->fudge = wire_read16(rd + p + 6);
	rr->mac_len = wire_read16(rd + p + 8);
	p += 10;
	if (p + rr->mac_len + 6 > rdlen)
		return US_EMALF;
	rr->mac = rd + p;
	p += rr->mac_len;
	rr->orig_id = wire_read16(rd + p);
	rr->error = wire_read16(rd + p + 2);
	rr->other_len = wire_read16(rd + p + 4);
	p += 6;
	if (p + rr->other_len != rdlen)
		return US_EMALF;
	rr->other = rd + p;
	return 0;
}

int tsig_find(const uint8_t *msg, size_t len, tsig_rr_t *rr)
{
	if (len < WIRE_HDR_LEN)
		return US_EMALF;
	size_t qd = wire_read16(msg + WIRE_QDCOUNT), an = wire_read16(msg + WIRE_ANCOUNT);
	size_t ns = wire_read16(msg + WIRE_NSCOUNT), ar = wire_read16(msg + WIRE_ARCOUNT);
	size_t pos = WIRE_HDR_LEN, nlen;
	uint8_t name[DNAME_MAXLEN];
	for (size_t i = 0; i < qd; i++) {
		if (dname_unpack(msg, len, &pos, name, &nlen) < 0 || pos + 4 > len)
			return US_EMALF;
		pos += 4;
	}
	tsig_rr_t found;
	bool signed_ = false;
	size_t total = an + ns + ar;
	for (size_t i = 0; i < total; i++) {
		size_t start = pos;
		if (dname_unpack(msg, len, &pos, name, &nlen) < 0 || pos + 10 > len)
			return US_EMALF;
		const uint8_t *rrp = msg + pos;
		size_t rdlen = wire_read16(rrp + 8);
		if (pos + 10 + rdlen > len)
			return US_EMALF;
		pos += 10 + rdlen;
		if (wire_read16(rrp) != WIRE_T_TSIG)
			continue;
		/* The single last record, in the additional section, class ANY (RFC 8945 4.2, 5.1):
		 * nothing after it could be covered by its MAC. */
		if (i != total - 1 || i < an + ns || wire_read16(rrp + 2) != WIRE_CLASS_ANY)
			return US_EMALF;
		if (parse_rdata(rrp + 10, rdlen, &found) < 0)
			return US_EMALF;
		memcpy(found.owner, name, nlen);
		found.owner_len = nlen;
		found.start = start;
		signed_ = true;
	}
	if (pos != len)
		return US_EMALF;
	if (signed_)
		*rr = found;
	return signed_;
}

int tsig_strip(uint8_t *msg, size_t len, size_t *out_len)
{
	tsig_rr_t rr;
	int ret = tsig_find(msg, len, &rr);
	if (ret < 0)
		return ret;
	if (ret == 0) {
		*out_len = len;
		return 0;
	}
	wire_write16(msg + WIRE_ID, rr.orig_id);
	wire_write16(msg + WIRE_ARCOUNT, (uint16_t)(wire_read16(msg + WIRE_ARCOUNT) - 1));
	*out_len = rr.start;
	return 1;
}

/* An HMAC computation with a sticky error, checked once at the end. */
typedef struct hmac {
	EVP_MAC_CTX *ctx;
	bool ok;
} hmac_t;

static EVP_MAC_CTX *hmac_new(void)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	if (!mac)
		return NULL;
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac); /* the context keeps its own reference */
	return ctx;
}

static void hmac_start(hmac_t *h, EVP_MAC_CTX *ctx, const tsig_key_t *k)
{
	static const uint8_t empty[1];
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)algs[k->alg].digest, 0),
	    OSSL_PARAM_construct_end(),
	};
	h->ctx = ctx;
	/* A NULL key would mean "keep the previous one", so an empty secret needs a pointer. */
	h->ok = ctx && EVP_MAC_init(ctx, k->secret_len ? k->secret : empty, k->secret_len, params);
}

static void hmac_put(hmac_t *h, const void *data, size_t n)
{
	if (h->ok && n && !EVP_MAC_update(h->ctx, data, n))
		h->ok = false;
}

static void hmac_put16(hmac_t *h, uint16_t v)
{
	uint8_t b[2];
	wire_write16(b, v);
	hmac_put(h, b, 2);
}

/* Prior MAC (RFC 8945 4.3.1): size and bytes, absent when there is none. */
static void hmac_prior(hmac_t *h, const uint8_t *mac, size_t len)
{
	if (len == 0)
		return;
	hmac_put16(h, (uint16_t)len);
	hmac_put(h, mac, len);
}

/* The TSIG variables (4.3.3), or only the timers (4.3.1) for message 2..n of a stream. */
static void hmac_vars(hmac_t *h, const tsig_key_t *k, bool timers_only, uint64_t time_signed,
                      uint16_t fudge, uint16_t error, const uint8_t *other, uint16_t other_len)
{
	if (!timers_only) {
		/* The key name is kept lower-cased, which is its canonical form. */
		hmac_put(h, k->name, k->name_len);
		static const uint8_t class_ttl[6] = {0, WIRE_CLASS_ANY, 0, 0, 0, 0};
		hmac_put(h, class_ttl, sizeof(class_ttl));
		hmac_put(h, algs[k->alg].name, algs[k->alg].name_len);
	}
	uint8_t t[8];
	wire_write16(t, (uint16_t)(time_signed >> 32));
	wire_write32(t + 2, (uint32_t)time_signed);
	wire_write16(t + 6, fudge);
	hmac_put(h, t, sizeof(t));
	if (!timers_only) {
		hmac_put16(h, error);
		hmac_put16(h, other_len);
		hmac_put(h, other, other_len);
	}
}

static void hmac_final(hmac_t *h, uint8_t *mac, size_t *mac_len)
{
	if (h->ok && !EVP_MAC_final(h->ctx, mac, mac_len, TSIG_MAC_MAX))
		h->ok = false;
}

/* What goes into one TSIG RR we write. */
typedef struct out_rr {
	const tsig_key_t *key; /* NULL for an unsigned error response */
	const uint8_t *owner, *alg;
	size_t owner_len, alg_len;
	const uint8_t *prior;
	size_t prior_len;
	bool timers_only;
	uint64_t time_signed;
	uint16_t fudge, error, other_len;
	const uint8_t *other;
} out_rr_t;

static int append(const out_rr_t *o, uint8_t *buf, size_t len, size_t cap, size_t *out_len,
                  uint8_t *mac, size_t *mac_len)
{
	if (len < WIRE_HDR_LEN || wire_read16(buf + WIRE_ARCOUNT) == 0xFFFF)
		return US_EINVAL;
	size_t maclen = o->key ? algs[o->key->alg].mac_len : 0;
	size_t rdlen = o->alg_len + RDATA_FIXED + maclen + o->other_len;
	size_t end = len + o->owner_len + 10 + rdlen;
	if (end > cap || end > WIRE_MAX_MSG)
		return US_ETRUNC;

	uint8_t m[TSIG_MAC_MAX];
	size_t mlen = 0;
	if (o->key) {
		hmac_t h;
		hmac_start(&h, hmac_new(), o->key);
		hmac_prior(&h, o->prior, o->prior_len);
		/* The message as it stands: its ID is the original ID, ARCOUNT not yet counting us.
		 */
		hmac_put(&h, buf, len);
		hmac_vars(&h, o->key, o->timers_only, o->time_signed, o->fudge, o->error, o->other,
		          o->other_len);
		hmac_final(&h, m, &mlen);
		EVP_MAC_CTX_free(h.ctx);
		if (!h.ok || mlen != maclen)
			return US_ENOMEM;
	}

	uint16_t id = wire_read16(buf + WIRE_ID);
	uint8_t *p = buf + len;
	memcpy(p, o->owner, o->owner_len);
	p += o->owner_len;
	wire_write16(p, WIRE_T_TSIG);
	wire_write16(p + 2, WIRE_CLASS_ANY);
	wire_write32(p + 4, 0);
	wire_write16(p + 8, (uint16_t)rdlen);
	p += 10;
	memcpy(p, o->alg, o->alg_len);
	p += o->alg_len;
	wire_write16(p, (uint16_t)(o->time_signed >> 32));
	wire_write32(p + 2, (uint32_t)o->time_signed);
	wire_write16(p + 6, o->fudge);
	wire_write16(p + 8, (uint16_t)mlen);
	p += 10;
	memcpy(p, m, mlen);
	p += mlen;
	wire_write16(p, id);
	wire_write16(p + 2, o->error);
	wire_write16(p + 4, o->other_len);
	p += 6;
	if (o->other_len)
		memcpy(p, o->other, o->other_len);
	wire_write16(buf + WIRE_ARCOUNT, (uint16_t)(wire_read16(buf + WIRE_ARCOUNT) + 1));
	*out_len = end;
	if (mac) {
		memcpy(mac, m, mlen);
		*mac_len = mlen;
	}
	return 0;
}

int tsig_sign(const tsig_key_t *k, uint8_t *buf, size_t len, size_t cap, const uint8_t *prior_mac,
              size_t prior_len, bool timers_only, uint64_t now, uint16_t fudge, size_t *out_len,
              uint8_t *mac, size_t *mac_len)
{
	if (!alg_ok(k->alg))
		return US_EINVAL;
	out_rr_t o = {
	    .key = k,
	    .owner = k->name,
	    .owner_len = k->name_len,
	    .alg = algs[k->alg].name,
	    .alg_len = algs[k->alg].name_len,
	    .prior = prior_mac,
	    .prior_len = prior_mac ? prior_len : 0,
	    .timers_only = timers_only,
	    .time_signed = now,
	    .fudge = fudge,
	};
	return append(&o, buf, len, cap, out_len, mac, mac_len);
}

int tsig_answer_error(const tsig_key_t *k, const tsig_rr_t *req, uint16_t tsig_error, uint8_t *buf,
                      size_t len, size_t cap, uint64_t now, size_t *out_len)
{
	uint8_t other[6];
	out_rr_t o = {.fudge = req->fudge, .error = tsig_error};
	switch (tsig_error) {
	case TSIG_ERR_BADKEY:
	case TSIG_ERR_BADSIG:
		/* Unsigned (5.3.2): we do not know the key, or the request's MAC is not one to
		 * build on. The fields echo the request, as answer.c's put_badkey does. */
		o.owner = req->owner;
		o.owner_len = req->owner_len;
		o.alg = req->alg_name;
		o.alg_len = req->alg_len;
		o.time_signed = req->time_signed;
		break;
	case TSIG_ERR_BADTIME:
	case TSIG_ERR_BADTRUNC:
		if (!k || !alg_ok(k->alg))
			return US_EINVAL;
		o.key = k;
		o.owner = k->name;
		o.owner_len = k->name_len;
		o.alg = algs[k->alg].name;
		o.alg_len = algs[k->alg].name_len;
		o.prior = req->mac;
		o.prior_len = req->mac_len;
		o.time_signed = now;
		if (tsig_error == TSIG_ERR_BADTIME) {
			/* Time Signed is the client's own (as knotd does), so a client whose clock
			 * is off still takes the answer; ours goes in Other Data (5.2.3). */
			o.time_signed = req->time_signed;
			wire_write16(other, (uint16_t)(now >> 32));
			wire_write32(other + 2, (uint32_t)now);
			o.other = other;
			o.other_len = sizeof(other);
		}
		break;
	default:
		return US_EINVAL;
	}
	return append(&o, buf, len, cap, out_len, NULL, NULL);
}

void tsig_verify_init(tsig_verify_t *v, const tsig_key_t *k, const uint8_t *request_mac,
                      size_t request_mac_len)
{
	memset(v, 0, sizeof(*v));
	v->key = k;
	if (request_mac) {
		v->mac_len = request_mac_len < TSIG_MAC_MAX ? request_mac_len : TSIG_MAC_MAX;
		memcpy(v->mac, request_mac, v->mac_len);
	}
	size_t full = tsig_alg_mac_len(k->alg);
	v->min_mac_len = full / 2 > 10 ? full / 2 : 10;
}

void tsig_verify_deinit(tsig_verify_t *v)
{
	EVP_MAC_CTX_free(v->ctx);
	v->ctx = NULL;
}

static int fail(tsig_verify_t *v, int ret)
{
	v->failed = true;
	return ret;
}

int tsig_verify_msg(tsig_verify_t *v, const uint8_t *msg, size_t len, uint64_t now,
                    uint16_t *tsig_error, size_t *stripped_len)
{
	*tsig_error = 0;
	if (v->failed)
		return US_ETSIG;
	const tsig_key_t *k = v->key;
	tsig_rr_t rr;
	int found = tsig_find(msg, len, &rr);
	if (found < 0)
		return fail(v, found);
	bool first = v->nmsg++ == 0;
	if (!found && (first || v->nunsigned >= TSIG_UNSIGNED_MAX))
		return fail(v, US_ETSIG);

	if (!v->ctx && !(v->ctx = hmac_new()))
		return fail(v, US_ENOMEM);
	hmac_t h = {v->ctx, true};
	if (v->nunsigned == 0) {
		/* This message opens the digest that the next signed message closes (5.3.1). */
		hmac_start(&h, v->ctx, k);
		hmac_prior(&h, v->mac, v->mac_len);
	}
	if (!found) {
		hmac_put(&h, msg, len);
		if (!h.ok)
			return fail(v, US_ENOMEM);
		v->nunsigned++;
		*stripped_len = len;
		return TSIG_UNSIGNED;
	}

	v->rr = rr;
	v->peer_error = rr.error;
	/* 5.2.1: a key we do not have under that name and algorithm. */
	if (!dname_equal(rr.owner, k->name) || rr.alg != (int)k->alg) {
		*tsig_error = TSIG_ERR_BADKEY;
		return fail(v, US_ETSIG);
	}
	/* An unsigned error report from the peer (5.3.2): nothing to check it with. */
	if (rr.error && rr.mac_len == 0)
		return fail(v, US_ETSIG);
	/* 5.2.2.1: longer than the hash, or truncated below max(10, half): FORMERR. */
	size_t full = algs[k->alg].mac_len;
	if (rr.mac_len > full || rr.mac_len < 10 || rr.mac_len < full / 2)
		return fail(v, US_EMALF);

	/* The message as it was before signing: original ID back, ARCOUNT without the TSIG. */
	uint8_t hdr[WIRE_HDR_LEN];
	memcpy(hdr, msg, WIRE_HDR_LEN);
	wire_write16(hdr + WIRE_ID, rr.orig_id);
	wire_write16(hdr + WIRE_ARCOUNT, (uint16_t)(wire_read16(msg + WIRE_ARCOUNT) - 1));
	hmac_put(&h, hdr, WIRE_HDR_LEN);
	hmac_put(&h, msg + WIRE_HDR_LEN, rr.start - WIRE_HDR_LEN);
	hmac_vars(&h, k, !first, rr.time_signed, rr.fudge, rr.error, rr.other, rr.other_len);
	uint8_t mac[TSIG_MAC_MAX];
	size_t mac_len = 0;
	hmac_final(&h, mac, &mac_len);
	v->nunsigned = 0;
	if (!h.ok || mac_len != full)
		return fail(v, US_ENOMEM);
	if (CRYPTO_memcmp(mac, rr.mac, rr.mac_len) != 0) {
		*tsig_error = TSIG_ERR_BADSIG;
		return fail(v, US_ETSIG);
	}
	/* The next message builds on the MAC as it was sent, truncated or not. */
	memcpy(v->mac, rr.mac, rr.mac_len);
	v->mac_len = rr.mac_len;
	/* A signed error report from the peer (BADTIME, BADTRUNC): authentic, but a failure. */
	if (rr.error)
		return fail(v, US_ETSIG);
	/* 5.2.3, after the MAC so that a forged time cannot draw a signed BADTIME from us. */
	uint64_t skew = now > rr.time_signed ? now - rr.time_signed : rr.time_signed - now;
	if (skew > rr.fudge) {
		*tsig_error = TSIG_ERR_BADTIME;
		return fail(v, US_ETSIG);
	}
	/* 5.2.4: a truncation that is allowed but shorter than we accept. */
	if (rr.mac_len < v->min_mac_len) {
		*tsig_error = TSIG_ERR_BADTRUNC;
		return fail(v, US_ETSIG);
	}
	*stripped_len = rr.start;
	return 0;
}

int tsig_verify_done(const tsig_verify_t *v)
{
	return v->nmsg > 0 && !v->failed && v->nunsigned == 0 ? 0 : US_ETSIG;
}

const char *tsig_error_name(uint16_t e)
{
	switch (e) {
	case TSIG_ERR_BADSIG:
		return "BADSIG";
	case TSIG_ERR_BADKEY:
		return "BADKEY";
	case TSIG_ERR_BADTIME:
		return "BADTIME";
	case TSIG_ERR_BADTRUNC:
		return "BADTRUNC";
	default:
		return "none";
	}
}
