/* SPDX-License-Identifier: MIT */
/* store: durable zone snapshots and refresh timers of secondary zones, in LMDB. */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "store.h"
#include "wire.h"

/*
 * Snapshot value, big-endian:
 *
 *   0  magic "USZS"
 *   4  u16 format version (1)
 *   6  u16 header length (32; a reader skips what it does not know of a longer header)
 *   8  u32 SOA serial
 *  12  u32 CRC-32C of the body
 *  16  u64 record count
 *  24  u64 body length
 *  32  body: records in zone_foreach_rr order, each
 *        owner: a wire name, or the byte 0xFF for "same owner as the previous record" (no
 *               name can start with 0xFF: label lengths stop at 63)
 *        u16 type, u32 TTL, u16 rdata length, rdata
 *
 * LMDB already makes a commit all-or-nothing; the checksum is for what LMDB cannot see,
 * bits that rot on the disk or a stray write into the map, so that damage makes the load fail
 * (and the zone transfer again) instead of serving wrong records that still pass the checks.
 */
#define SNAP_MAGIC      "USZS"
#define SNAP_VERSION    1
#define SNAP_HDR_LEN    32
#define SNAP_SAME_OWNER 0xFF

/*
 * Timers value, big-endian: u8 version (1), i64 last_refresh, i64 next_refresh, i64 expire_at,
 * u32 serial, i64 last_error_at, u8 length + primary, u8 length + last_error.
 */
#define TIMERS_VERSION 1
#define TIMERS_FIXED   (1 + 8 * 4 + 4)
#define TIMERS_MAX                                                                                 \
	(TIMERS_FIXED + 1 + sizeof(((store_timers_t *)0)->primary) + 1 +                           \
	 sizeof(((store_timers_t *)0)->last_error))

/* "zones", "timers", and room for "journal" and whatever comes after it. */
#define STORE_MAX_DBS 8

struct store {
	MDB_env *env;
	MDB_dbi zones;
	MDB_dbi timers;
	char errmsg[512];
};

/* LMDB breaks its locks if one process opens the same environment twice (lmdb.h, Caveats). */
static atomic_bool store_is_open;

/* ---- helpers ---- */

static int fail(store_t *s, int ret, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(store_t *s, int ret, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
	va_end(ap);
	return ret;
}

/* LMDB returns errno values (positive) or its own MDB_* codes (negative). */
static int map_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return US_ENOENT;
	case MDB_MAP_FULL:
	case ENOSPC:
	case EDQUOT:
		return US_ENOSPC;
	case MDB_TXN_FULL:
	case MDB_READERS_FULL:
	case MDB_DBS_FULL:
	case MDB_TLS_FULL:
	case MDB_CURSOR_FULL:
	case MDB_PAGE_FULL:
	case MDB_MAP_RESIZED:
	case MDB_BAD_VALSIZE:
		return US_ELIMIT;
	case MDB_BAD_RSLOT:
	case MDB_BAD_TXN:
	case MDB_BAD_DBI:
		return US_EINVAL;
	default:
		/* MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_INVALID, MDB_VERSION_MISMATCH, ... */
		return rc > 0 ? -rc : US_EMALF;
	}
}

static int lmdb_fail(store_t *s, int rc, const char *what)
{
	return fail(s, map_err(rc), "%s: %s", what, mdb_strerror(rc));
}

static void put64(uint8_t *p, uint64_t v)
{
	wire_write32(p, (uint32_t)(v >> 32));
	wire_write32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)wire_read32(p) << 32 | wire_read32(p + 4);
}

/* The key for a zone: its apex lower-cased. Returns the length or US_ENAME. */
static int apex_key(store_t *s, const uint8_t *apex, uint8_t key[DNAME_MAXLEN])
{
	int len = dname_check(apex, DNAME_MAXLEN);
	if (len < 0)
		return fail(s, US_ENAME, "malformed zone name");
	dname_lower(key, apex, (size_t)len);
	return len;
}

static const char *name_text(const uint8_t *name, char buf[DNAME_TEXT_MAX])
{
	dname_to_text(name, buf, DNAME_TEXT_MAX);
	return buf;
}

/* fsync on a directory makes the entries created in it durable, which LMDB does not do. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int ret = fsync(fd) ? -errno : 0;
	close(fd);
	return ret;
}

static int sync_parent(const char *dir)
{
	char *copy = strdup(dir);
	if (!copy)
		return US_ENOMEM;
	size_t n = strlen(copy);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = 0;
	char *slash = strrchr(copy, '/');
	const char *parent = ".";
	if (slash == copy)
		parent = "/";
	else if (slash) {
		*slash = 0;
		parent = copy;
	}
	int ret = sync_dir(parent);
	free(copy);
	return ret;
}

/* ---- CRC-32C, slicing by 8 ---- */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (int t = 1; t < 8; t++)
		for (uint32_t i = 0; i < 256; i++)
			crc_table[t][i] =
			    (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
}

uint32_t store__crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
	const uint8_t *p = buf;
	uint32_t c = ~crc;
	for (; len >= 8; len -= 8, p += 8) {
		uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		                   (uint32_t)p[3] << 24);
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
		              (uint32_t)p[7] << 24;
		c = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^
		    crc_table[5][(lo >> 16) & 0xFF] ^ crc_table[4][lo >> 24] ^
		    crc_table[3][hi & 0xFF] ^ crc_table[2][(hi >> 8) & 0xFF] ^
		    crc_table[1][(hi >> 16) & 0xFF] ^ crc_table[0][hi >> 24];
	}
	for (; len; len--, p++)
		c = crc_table[0][(c ^ *p) & 0xFF] ^ (c >> 8);
	return ~c;
}

/* ---- open and close ---- */

int store_open(const char *dir, size_t map_size_bytes, store_t **out)
{
	bool was_open = false;
	if (!atomic_compare_exchange_strong(&store_is_open, &was_open, true))
		return US_EEXIST;
	MDB_txn *txn = NULL;
	int ret, rc;
	bool created = false;
	store_t *s = calloc(1, sizeof(*s));
	if (!s) {
		ret = US_ENOMEM;
		goto cleanup;
	}
	if (mkdir(dir, 0750) == 0)
		created = true;
	else if (errno != EEXIST) {
		ret = -errno;
		goto cleanup;
	}
	rc = mdb_env_create(&s->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(s->env, STORE_MAX_DBS);
	if (rc == 0)
		rc = mdb_env_set_mapsize(s->env,
		                         map_size_bytes ? map_size_bytes : STORE_DEFAULT_MAP_SIZE);
	/* Default flags: synced commits, a subdirectory, thread-local reader slots (each call
	 * holds at most one read transaction, on the calling thread). */
	if (rc == 0)
		rc = mdb_env_open(s->env, dir, 0, 0640);
	if (rc) {
		ret = map_err(rc);
		goto cleanup;
	}
	/* A process killed inside a read transaction leaves its reader slot behind, which would
	 * keep old pages from being reused. */
	int dead;
	mdb_reader_check(s->env, &dead);
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "zones", MDB_CREATE, &s->zones);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "timers", MDB_CREATE, &s->timers);
	if (rc == 0) {
		/* Commit frees the transaction whether it succeeds or not. */
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (rc) {
		ret = map_err(rc);
		goto cleanup;
	}
	ret = sync_dir(dir);
	if (ret == 0 && created)
		ret = sync_parent(dir);
	if (ret)
		goto cleanup;
	*out = s;
	return 0;
cleanup:
	if (txn)
		mdb_txn_abort(txn);
	if (s && s->env)
		mdb_env_close(s->env);
	free(s);
	atomic_store(&store_is_open, false);
	return ret;
}

void store_close(store_t *s)
{
	if (!s)
		return;
	mdb_env_close(s->env);
	free(s);
	atomic_store(&store_is_open, false);
}

const char *store_errmsg(const store_t *s)
{
	return s->errmsg;
}

/* ---- timers ---- */

static size_t put_str(uint8_t *p, const char *str, size_t size)
{
	size_t n = strnlen(str, size - 1);
	p[0] = (uint8_t)n;
	memcpy(p + 1, str, n);
	return 1 + n;
}

static size_t timers_encode(const store_timers_t *t, uint8_t *buf)
{
	uint8_t *p = buf;
	*p++ = TIMERS_VERSION;
	put64(p, (uint64_t)t->last_refresh);
	put64(p + 8, (uint64_t)t->next_refresh);
	put64(p + 16, (uint64_t)t->expire_at);
	wire_write32(p + 24, t->serial);
	put64(p + 28, (uint64_t)t->last_error_at);
	p += 36;
	p += put_str(p, t->primary, sizeof(t->primary));
	p += put_str(p, t->last_error, sizeof(t->last_error));
	return (size_t)(p - buf);
}

/* Reads a length-prefixed string at *pos into dst (size bytes); false if it does not fit. */
static bool get_str(const uint8_t *buf, size_t len, size_t *pos, char *dst, size_t size)
{
	if (*pos >= len)
		return false;
	size_t n = buf[*pos];
	if (n >= size || len - *pos - 1 < n)
		return false;
	memcpy(dst, buf + *pos + 1, n);
	dst[n] = 0;
	*pos += 1 + n;
	return true;
}

static bool timers_decode(const uint8_t *buf, size_t len, store_timers_t *t)
{
	if (len < TIMERS_FIXED || buf[0] != TIMERS_VERSION)
		return false;
	memset(t, 0, sizeof(*t));
	const uint8_t *p = buf + 1;
	t->last_refresh = (int64_t)get64(p);
	t->next_refresh = (int64_t)get64(p + 8);
	t->expire_at = (int64_t)get64(p + 16);
	t->serial = wire_read32(p + 24);
	t->last_error_at = (int64_t)get64(p + 28);
	size_t pos = TIMERS_FIXED;
	return get_str(buf, len, &pos, t->primary, sizeof(t->primary)) &&
	       get_str(buf, len, &pos, t->last_error, sizeof(t->last_error)) && pos == len;
}

static int timers_put(store_t *s, MDB_txn *txn, const uint8_t *key, size_t klen,
                      const store_timers_t *t)
{
	uint8_t buf[TIMERS_MAX];
	MDB_val k = {klen, (void *)key};
	MDB_val v = {timers_encode(t, buf), buf};
	int rc = mdb_put(txn, s->timers, &k, &v, 0);
	return rc ? lmdb_fail(s, rc, "saving timers") : 0;
}

/* Reads the timers under key; US_ENOENT, with no message, when there are none. */
static int timers_get(store_t *s, MDB_txn *txn, const uint8_t *key, size_t klen, store_timers_t *t)
{
	char name[DNAME_TEXT_MAX];
	MDB_val k = {klen, (void *)key}, v;
	int rc = mdb_get(txn, s->timers, &k, &v);
	if (rc == MDB_NOTFOUND)
		return US_ENOENT;
	if (rc)
		return lmdb_fail(s, rc, "reading timers");
	if (!timers_decode(v.mv_data, v.mv_size, t))
		return fail(s, US_EMALF, "stored timers of %s are damaged", name_text(key, name));
	return 0;
}

/* Commits txn, or aborts it if ret says an earlier step failed. */
static int finish_write(store_t *s, MDB_txn *txn, int ret)
{
	if (ret) {
		mdb_txn_abort(txn);
		return ret;
	}
	/* A failed commit frees the transaction too. */
	int rc = mdb_txn_commit(txn);
	return rc ? lmdb_fail(s, rc, "committing") : 0;
}

int store_save_timers(store_t *s, const uint8_t *apex, const store_timers_t *t)
{
	uint8_t key[DNAME_MAXLEN];
	int klen = apex_key(s, apex, key);
	if (klen < 0)
		return klen;
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return lmdb_fail(s, rc, "starting a write");
	return finish_write(s, txn, timers_put(s, txn, key, (size_t)klen, t));
}

int store_load_timers(store_t *s, const uint8_t *apex, store_timers_t *t)
{
	uint8_t key[DNAME_MAXLEN];
	int klen = apex_key(s, apex, key);
	if (klen < 0)
		return klen;
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return lmdb_fail(s, rc, "starting a read");
	store_timers_t tmp;
	int ret = timers_get(s, txn, key, (size_t)klen, &tmp);
	mdb_txn_abort(txn);
	if (ret == US_ENOENT) {
		char name[DNAME_TEXT_MAX];
		return fail(s, ret, "no timers stored for %s", name_text(key, name));
	}
	if (ret == 0)
		*t = tmp;
	return ret;
}

/* ---- snapshots ---- */

/*
 * Measures the body when buf is NULL, writes it into buf[0..cap) otherwise; a zone is
 * immutable, so both passes see the same records, but the second never writes past cap.
 */
typedef struct snap_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint64_t count;
	uint8_t last[DNAME_MAXLEN];
	size_t last_len;
} snap_writer_t;

static int snap_put_rr(void *ctx, const uint8_t *owner, uint16_t type, uint32_t ttl,
                       const uint8_t *rdata, uint16_t rdlen)
{
	snap_writer_t *w = ctx;
	size_t olen = dname_len(owner);
	/* Compare names, not pointers: the callback promises nothing about owner's address. */
	bool same = olen == w->last_len && memcmp(owner, w->last, olen) == 0;
	size_t need = (same ? 1 : olen) + 8 + rdlen;
	if (w->buf && need <= w->cap - w->len) {
		uint8_t *p = w->buf + w->len;
		if (same)
			*p++ = SNAP_SAME_OWNER;
		else {
			memcpy(p, owner, olen);
			p += olen;
		}
		wire_write16(p, type);
		wire_write32(p + 2, ttl);
		wire_write16(p + 6, rdlen);
		memcpy(p + 8, rdata, rdlen);
	}
	w->len += need;
	w->count++;
	if (!same) {
		memcpy(w->last, owner, olen);
		w->last_len = olen;
	}
	return 0;
}

int store_save_zone(store_t *s, const zone_t *z, const store_timers_t *t)
{
	char name[DNAME_TEXT_MAX];
	uint8_t key[DNAME_MAXLEN];
	int klen = apex_key(s, z->apex, key);
	if (klen < 0)
		return klen;
	snap_writer_t *w = calloc(1, sizeof(*w));
	if (!w)
		return fail(s, US_ENOMEM, "out of memory");
	zone_foreach_rr(z, snap_put_rr, w);
	size_t body = w->len;
	uint64_t count = w->count;

	MDB_txn *txn;
	int ret = 0, rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc) {
		free(w);
		return lmdb_fail(s, rc, "starting a write");
	}
	/* MDB_RESERVE hands out the value's pages to write into, sparing a copy of a zone that
	 * may be tens of megabytes. */
	MDB_val k = {(size_t)klen, key}, v = {SNAP_HDR_LEN + body, NULL};
	rc = mdb_put(txn, s->zones, &k, &v, MDB_RESERVE);
	if (rc) {
		ret = lmdb_fail(s, rc, "saving the zone");
		if (ret == US_ENOSPC)
			fail(s, ret, "no room for the %zu-byte snapshot of %s: %s", v.mv_size,
			     name_text(key, name), mdb_strerror(rc));
		goto cleanup;
	}
	uint8_t *hdr = v.mv_data;
	*w = (snap_writer_t){.buf = hdr + SNAP_HDR_LEN, .cap = body};
	zone_foreach_rr(z, snap_put_rr, w);
	if (w->len != body || w->count != count) {
		ret = fail(s, US_EINVAL, "zone changed while being saved");
		goto cleanup;
	}
	memcpy(hdr, SNAP_MAGIC, 4);
	wire_write16(hdr + 4, SNAP_VERSION);
	wire_write16(hdr + 6, SNAP_HDR_LEN);
	wire_write32(hdr + 8, z->serial);
	wire_write32(hdr + 12, store__crc32c(0, hdr + SNAP_HDR_LEN, body));
	put64(hdr + 16, count);
	put64(hdr + 24, body);
	ret = timers_put(s, txn, key, (size_t)klen, t);
cleanup:
	free(w);
	return finish_write(s, txn, ret);
}

typedef struct snap_reader {
	store_t *s;
	const char *zone;
	bool failed;
} snap_reader_t;

/* Keeps the first error the builder reports, which is what an operator needs to see. */
static void snap_report(void *ctx, const char *file, unsigned long line, bool error,
                        const char *msg)
{
	snap_reader_t *r = ctx;
	(void)file;
	if (!error || r->failed)
		return;
	r->failed = true;
	if (line)
		fail(r->s, US_EZONE, "stored snapshot of %s, record %lu: %s", r->zone, line, msg);
	else
		fail(r->s, US_EZONE, "stored snapshot of %s: %s", r->zone, msg);
}

/* Rebuilds a zone from a snapshot value, which is treated as untrusted bytes. */
static int snap_decode(store_t *s, const uint8_t *key, const uint8_t *buf, size_t len, zone_t **out)
{
	char name[DNAME_TEXT_MAX];
	name_text(key, name);
	if (len < SNAP_HDR_LEN || memcmp(buf, SNAP_MAGIC, 4) != 0)
		return fail(s, US_EMALF, "stored snapshot of %s has no valid header", name);
	uint16_t version = wire_read16(buf + 4), hlen = wire_read16(buf + 6);
	if (version != SNAP_VERSION)
		return fail(s, US_EMALF, "stored snapshot of %s has format version %u, not %u",
		            name, version, SNAP_VERSION);
	uint32_t serial = wire_read32(buf + 8), crc = wire_read32(buf + 12);
	uint64_t count = get64(buf + 16), body = get64(buf + 24);
	if (hlen < SNAP_HDR_LEN || hlen > len || body != len - hlen)
		return fail(s, US_EMALF, "stored snapshot of %s has bad lengths", name);
	if (store__crc32c(0, buf + hlen, (size_t)body) != crc)
		return fail(s, US_EMALF, "stored snapshot of %s fails its checksum", name);

	snap_reader_t r = {.s = s, .zone = name};
	zone_t *z = NULL;
	int ret = US_ENOMEM;
	zone_builder_t *b = zone_builder_new(key, snap_report, &r);
	if (!b) {
		fail(s, ret, "out of memory");
		goto cleanup;
	}
	const uint8_t *owner = NULL;
	uint64_t n = 0;
	bool bad = false;
	for (size_t pos = hlen; pos < len && !bad;) {
		if (buf[pos] == SNAP_SAME_OWNER) {
			bad = !owner;
			pos++;
		} else {
			size_t room = len - pos < DNAME_MAXLEN ? len - pos : DNAME_MAXLEN;
			int olen = dname_check(buf + pos, room);
			bad = olen < 0;
			owner = buf + pos;
			pos += bad ? 0 : (size_t)olen;
		}
		if (bad || len - pos < 8) {
			bad = true;
			break;
		}
		uint16_t type = wire_read16(buf + pos);
		uint32_t ttl = wire_read32(buf + pos + 2);
		uint16_t rdlen = wire_read16(buf + pos + 6);
		pos += 8;
		if (len - pos < rdlen) {
			bad = true;
			break;
		}
		n++;
		ret = zone_builder_add(b, owner, type, WIRE_CLASS_IN, ttl, buf + pos, rdlen,
		                       "snapshot", (unsigned long)n);
		if (ret) {
			fail(s, ret, "out of memory");
			goto cleanup;
		}
		pos += rdlen;
	}
	if (bad) {
		ret = fail(s, US_EMALF,
		           "stored snapshot of %s: record %llu is truncated or malformed", name,
		           (unsigned long long)n + 1);
		goto cleanup;
	}
	if (n != count) {
		ret = fail(s, US_EMALF, "stored snapshot of %s holds %llu records, not %llu", name,
		           (unsigned long long)n, (unsigned long long)count);
		goto cleanup;
	}
	ret = zone_builder_finish(b, &z);
	if (ret == US_ENOMEM)
		fail(s, ret, "out of memory");
	if (ret)
		goto cleanup;
	/* Duplicates would have been dropped: a snapshot of a built zone has none. */
	if (z->serial != serial || z->nrecords != count) {
		ret = fail(s, US_EMALF, "stored snapshot of %s does not match its header", name);
		goto cleanup;
	}
	*out = z;
	z = NULL;
	ret = 0;
cleanup:
	zone_free(z);
	zone_builder_free(b);
	return ret;
}

int store_load_zone(store_t *s, const uint8_t *apex, zone_t **zp, store_timers_t *tp)
{
	char name[DNAME_TEXT_MAX];
	uint8_t key[DNAME_MAXLEN];
	int klen = apex_key(s, apex, key);
	if (klen < 0)
		return klen;
	MDB_txn *txn;
	int ret, rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return lmdb_fail(s, rc, "starting a read");
	zone_t *z = NULL;
	store_timers_t t;
	MDB_val k = {(size_t)klen, key}, v;
	rc = mdb_get(txn, s->zones, &k, &v);
	if (rc == MDB_NOTFOUND) {
		ret = fail(s, US_ENOENT, "no snapshot stored for %s", name_text(key, name));
		goto cleanup;
	}
	if (rc) {
		ret = lmdb_fail(s, rc, "reading the zone");
		goto cleanup;
	}
	/* v points into the map, valid until the transaction ends; the builder copies. */
	ret = snap_decode(s, key, v.mv_data, v.mv_size, &z);
	if (ret || !tp)
		goto cleanup;
	ret = timers_get(s, txn, key, (size_t)klen, &t);
	if (ret == US_ENOENT) {
		memset(&t, 0, sizeof(t));
		t.serial = z->serial;
		ret = 0;
	}
cleanup:
	mdb_txn_abort(txn);
	if (ret) {
		zone_free(z);
		return ret;
	}
	*zp = z;
	if (tp)
		*tp = t;
	return 0;
}

int store_drop_zone(store_t *s, const uint8_t *apex)
{
	uint8_t key[DNAME_MAXLEN];
	int klen = apex_key(s, apex, key);
	if (klen < 0)
		return klen;
	MDB_txn *txn;
	int ret = 0, rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return lmdb_fail(s, rc, "starting a write");
	MDB_val k = {(size_t)klen, key};
	rc = mdb_del(txn, s->zones, &k, NULL);
	if (rc == 0 || rc == MDB_NOTFOUND)
		rc = mdb_del(txn, s->timers, &k, NULL);
	if (rc && rc != MDB_NOTFOUND)
		ret = lmdb_fail(s, rc, "dropping the zone");
	return finish_write(s, txn, ret);
}
