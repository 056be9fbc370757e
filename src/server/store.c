/* SPDX-License-Identifier: MIT */
/* store: durable zone snapshots, journals of changes and refresh timers, in LMDB. */
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
#include "serial.h"
#include "wire.h"
#include "zonediff.h"

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
	MDB_dbi journal; /* key: apex + u64 sequence number; value: one entry */
	MDB_dbi jmeta;   /* key: apex; value: the journal's bounds and sizes */
	MDB_txn *batch;  /* the open batch (store_batch_begin), or NULL */
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

/*
 * Starts a transaction (flags: 0 to write, MDB_RDONLY to read) on the zone named apex, whose
 * key it puts in key (*klen bytes). Returns 0, or the failure, recorded for store_errmsg.
 */
static int zone_txn(store_t *s, const uint8_t *apex, unsigned flags, uint8_t key[DNAME_MAXLEN],
                    size_t *klen, MDB_txn **txn)
{
	int len = apex_key(s, apex, key);
	if (len < 0)
		return len;
	*klen = (size_t)len;
	/* In a batch, each call is a child of the batch's transaction, which a thread cannot
	 * hold beside a read transaction of its own: a call that only reads aborts it. */
	int rc = s->batch ? mdb_txn_begin(s->env, s->batch, 0, txn)
	                  : mdb_txn_begin(s->env, NULL, flags, txn);
	if (rc)
		return lmdb_fail(s, rc,
		                 flags & MDB_RDONLY ? "starting a read" : "starting a write");
	return 0;
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
	if (rc == 0)
		rc = mdb_dbi_open(txn, "journal", MDB_CREATE, &s->journal);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "jmeta", MDB_CREATE, &s->jmeta);
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
	if (s->batch)
		mdb_txn_abort(s->batch);
	mdb_env_close(s->env);
	free(s);
	atomic_store(&store_is_open, false);
}

const char *store_errmsg(const store_t *s)
{
	return s->errmsg;
}

int store_batch_begin(store_t *s)
{
	if (s->batch)
		return fail(s, US_EINVAL, "a batch is open already");
	int rc = mdb_txn_begin(s->env, NULL, 0, &s->batch);
	if (rc) {
		s->batch = NULL;
		return lmdb_fail(s, rc, "starting a batch");
	}
	return 0;
}

int store_batch_commit(store_t *s)
{
	MDB_txn *txn = s->batch;
	if (!txn)
		return 0;
	s->batch = NULL;
	/* A failed commit frees the transaction too. */
	int rc = mdb_txn_commit(txn);
	return rc ? lmdb_fail(s, rc, "committing a batch") : 0;
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
	size_t klen;
	MDB_txn *txn;
	int rc = zone_txn(s, apex, 0, key, &klen, &txn);
	if (rc)
		return rc;
	return finish_write(s, txn, timers_put(s, txn, key, klen, t));
}

int store_load_timers(store_t *s, const uint8_t *apex, store_timers_t *t)
{
	uint8_t key[DNAME_MAXLEN];
	size_t klen;
	MDB_txn *txn;
	int rc = zone_txn(s, apex, MDB_RDONLY, key, &klen, &txn);
	if (rc)
		return rc;
	store_timers_t tmp;
	int ret = timers_get(s, txn, key, klen, &tmp);
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

/* Writes z's snapshot under key inside txn, replacing the one there; *size gets its length. */
static int snap_put(store_t *s, MDB_txn *txn, const uint8_t *key, size_t klen, const zone_t *z,
                    uint64_t *size)
{
	char name[DNAME_TEXT_MAX];
	snap_writer_t *w = calloc(1, sizeof(*w));
	if (!w)
		return fail(s, US_ENOMEM, "out of memory");
	zone_foreach_rr(z, snap_put_rr, w);
	size_t body = w->len;
	uint64_t count = w->count;
	int ret = 0;
	/* MDB_RESERVE hands out the value's pages to write into, sparing a copy of a zone that
	 * may be tens of megabytes. */
	MDB_val k = {klen, (void *)key}, v = {SNAP_HDR_LEN + body, NULL};
	int rc = mdb_put(txn, s->zones, &k, &v, MDB_RESERVE);
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
	*size = v.mv_size;
cleanup:
	free(w);
	return ret;
}

int store_save_zone(store_t *s, const zone_t *z, const store_timers_t *t)
{
	return store_save_change(s, z, NULL, NULL, t);
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
	zone_unref(z);
	zone_builder_free(b);
	return ret;
}

/* ---- the journal ---- */

/*
 * A zone's journal is a run of entries under apex + u64 sequence number (big-endian, so LMDB
 * keeps them in order), each the change from one serial to the next, and one meta value under
 * the apex in "jmeta". The entries from meta.snap on lead from the stored snapshot to the
 * latest version, so a load replays them; the older ones are history kept for IXFR only.
 *
 * Entry value, big-endian:
 *
 *   0  magic "USJE"
 *   4  u16 format version (1)
 *   6  u16 header length (28)
 *   8  u32 serial from, 12 u32 serial to
 *  16  u32 CRC-32C of the body
 *  20  u32 records removed, 24 u32 records added
 *  28  body: the old SOA, the new SOA, the removed records, the added records, each encoded
 *      as in a snapshot (an owner or 0xFF for the previous one, type, TTL, rdata length,
 *      rdata)
 *
 * Meta value: u8 version (1), u64 first, u64 next, u64 snap, u64 bytes, u64 tail_bytes,
 * u64 snap_bytes, u32 count, u32 serial.
 */
#define JENT_MAGIC    "USJE"
#define JENT_VERSION  1
#define JENT_HDR_LEN  28
#define JMETA_VERSION 1
#define JMETA_LEN     (1 + 6 * 8 + 4 + 4)
#define JKEY_MAX      (DNAME_MAXLEN + 8)

typedef struct jmeta {
	uint64_t first;      /* the oldest entry kept */
	uint64_t next;       /* the sequence number the next entry gets */
	uint64_t snap;       /* the first entry after the snapshot: a load replays from here */
	uint64_t bytes;      /* all entries kept */
	uint64_t tail_bytes; /* the entries a load replays */
	uint64_t snap_bytes; /* the snapshot */
	uint32_t count;      /* entries kept: next - first */
	uint32_t serial;     /* the latest version's */
} jmeta_t;

static size_t jkey(uint8_t *out, const uint8_t *key, size_t klen, uint64_t seq)
{
	memcpy(out, key, klen);
	put64(out + klen, seq);
	return klen + 8;
}

static void jmeta_encode(const jmeta_t *m, uint8_t *buf)
{
	buf[0] = JMETA_VERSION;
	put64(buf + 1, m->first);
	put64(buf + 9, m->next);
	put64(buf + 17, m->snap);
	put64(buf + 25, m->bytes);
	put64(buf + 33, m->tail_bytes);
	put64(buf + 41, m->snap_bytes);
	wire_write32(buf + 49, m->count);
	wire_write32(buf + 53, m->serial);
}

/* Reads the meta under key: 0, US_ENOENT, US_EMALF (damaged), or an LMDB error. No message. */
static int jmeta_get(store_t *s, MDB_txn *txn, const uint8_t *key, size_t klen, jmeta_t *m,
                     int *lmdb_rc)
{
	MDB_val k = {klen, (void *)key}, v;
	int rc = mdb_get(txn, s->jmeta, &k, &v);
	*lmdb_rc = rc;
	if (rc == MDB_NOTFOUND)
		return US_ENOENT;
	if (rc)
		return map_err(rc);
	const uint8_t *b = v.mv_data;
	if (v.mv_size != JMETA_LEN || b[0] != JMETA_VERSION)
		return US_EMALF;
	*m = (jmeta_t){.first = get64(b + 1),
	               .next = get64(b + 9),
	               .snap = get64(b + 17),
	               .bytes = get64(b + 25),
	               .tail_bytes = get64(b + 33),
	               .snap_bytes = get64(b + 41),
	               .count = wire_read32(b + 49),
	               .serial = wire_read32(b + 53)};
	if (m->first > m->next || m->snap < m->first || m->snap > m->next ||
	    m->next - m->first != m->count || m->tail_bytes > m->bytes)
		return US_EMALF;
	return 0;
}

static int jmeta_put(store_t *s, MDB_txn *txn, const uint8_t *key, size_t klen, const jmeta_t *m)
{
	uint8_t buf[JMETA_LEN];
	jmeta_encode(m, buf);
	MDB_val k = {klen, (void *)key}, v = {sizeof(buf), buf};
	int rc = mdb_put(txn, s->jmeta, &k, &v, 0);
	return rc ? lmdb_fail(s, rc, "saving the journal's bounds") : 0;
}

/* Removes every entry of the zone, whatever the meta says (it may be the damaged part). */
static int jdrop_entries(store_t *s, MDB_txn *txn, const uint8_t *key, size_t klen)
{
	MDB_cursor *c;
	int rc = mdb_cursor_open(txn, s->journal, &c);
	if (rc)
		return lmdb_fail(s, rc, "clearing the journal");
	uint8_t kb[JKEY_MAX];
	MDB_val k = {jkey(kb, key, klen, 0), kb}, v;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != klen + 8 || memcmp(k.mv_data, key, klen) != 0)
			break;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return lmdb_fail(s, rc, "clearing the journal");
	return 0;
}

static void jput_cell(snap_writer_t *w, const zone_rr_t *r)
{
	snap_put_rr(w, r->owner, r->type, r->ttl, r->rdata, r->rdlen);
}

static void jentry_body(snap_writer_t *w, const zone_diff_t *d)
{
	jput_cell(w, d->soa_from);
	jput_cell(w, d->soa_to);
	for (const zone_rr_t *r = d->removed; r; r = r->next)
		jput_cell(w, r);
	for (const zone_rr_t *r = d->added; r; r = r->next)
		jput_cell(w, r);
}

/* Writes one diff as the entry numbered seq; *size gets the value's length. */
static int jentry_put(store_t *s, MDB_txn *txn, const uint8_t *key, size_t klen, uint64_t seq,
                      const zone_diff_t *d, uint64_t *size)
{
	char name[DNAME_TEXT_MAX];
	snap_writer_t *w = calloc(1, sizeof(*w));
	if (!w)
		return fail(s, US_ENOMEM, "out of memory");
	jentry_body(w, d);
	size_t body = w->len;
	uint8_t kb[JKEY_MAX];
	MDB_val k = {jkey(kb, key, klen, seq), kb}, v = {JENT_HDR_LEN + body, NULL};
	int ret = 0, rc = mdb_put(txn, s->journal, &k, &v, MDB_RESERVE);
	if (rc) {
		ret = lmdb_fail(s, rc, "saving a journal entry");
		if (ret == US_ENOSPC)
			fail(s, ret,
			     "no room for the %zu-byte journal entry of %s (serial %u -> %u): %s",
			     v.mv_size, name_text(key, name), d->from, d->to, mdb_strerror(rc));
		goto cleanup;
	}
	uint8_t *hdr = v.mv_data;
	*w = (snap_writer_t){.buf = hdr + JENT_HDR_LEN, .cap = body};
	jentry_body(w, d);
	memcpy(hdr, JENT_MAGIC, 4);
	wire_write16(hdr + 4, JENT_VERSION);
	wire_write16(hdr + 6, JENT_HDR_LEN);
	wire_write32(hdr + 8, d->from);
	wire_write32(hdr + 12, d->to);
	wire_write32(hdr + 16, store__crc32c(0, hdr + JENT_HDR_LEN, body));
	wire_write32(hdr + 20, d->nremoved);
	wire_write32(hdr + 24, d->nadded);
	*size = v.mv_size;
cleanup:
	free(w);
	return ret;
}

/* Reads an entry's header: false when it is not one. */
static bool jentry_head(const uint8_t *b, size_t len, uint32_t *from, uint32_t *to,
                        uint64_t *nrecords)
{
	if (len < JENT_HDR_LEN || memcmp(b, JENT_MAGIC, 4) != 0 ||
	    wire_read16(b + 4) != JENT_VERSION || wire_read16(b + 6) != JENT_HDR_LEN)
		return false;
	*from = wire_read32(b + 8);
	*to = wire_read32(b + 12);
	*nrecords = (uint64_t)wire_read32(b + 20) + wire_read32(b + 24);
	return true;
}

/*
 * Decodes an entry, treated as untrusted bytes, into a diff whose cells and bytes are copied
 * into arena (the value lives in the map only as long as the transaction). US_EMALF with a
 * message in err when damaged, US_ENOMEM.
 */
static int jentry_decode(const uint8_t *val, size_t len, arena_t *a, zone_diff_t **out, char *err,
                         size_t errlen)
{
	uint32_t from, to;
	uint64_t n;
	if (!jentry_head(val, len, &from, &to, &n)) {
		us_errf(err, errlen, "a journal entry has no valid header");
		return US_EMALF;
	}
	if (store__crc32c(0, val + JENT_HDR_LEN, len - JENT_HDR_LEN) != wire_read32(val + 16)) {
		us_errf(err, errlen, "the journal entry %u -> %u fails its checksum", from, to);
		return US_EMALF;
	}
	uint32_t nrm = wire_read32(val + 20);
	uint8_t *b = arena_dup(a, val, len);
	zone_diff_t *d = arena_alloc(a, sizeof(*d));
	if (!b || !d)
		return US_ENOMEM;
	*d = (zone_diff_t){.from = from, .to = to};
	const zone_rr_t **rm_at = &d->removed, **add_at = &d->added;
	const uint8_t *owner = NULL;
	uint64_t i = 0;
	size_t pos = JENT_HDR_LEN;
	for (; pos < len && i < n + 2; i++) {
		if (b[pos] == SNAP_SAME_OWNER) {
			if (!owner)
				break;
			pos++;
		} else {
			size_t room = len - pos < DNAME_MAXLEN ? len - pos : DNAME_MAXLEN;
			int olen = dname_check(b + pos, room);
			if (olen < 0)
				break;
			owner = b + pos;
			pos += (size_t)olen;
		}
		if (len - pos < 8)
			break;
		zone_rr_t *r = arena_alloc(a, sizeof(*r));
		if (!r)
			return US_ENOMEM;
		*r = (zone_rr_t){.owner = owner,
		                 .type = wire_read16(b + pos),
		                 .ttl = wire_read32(b + pos + 2),
		                 .rdlen = wire_read16(b + pos + 6)};
		pos += 8;
		if (len - pos < r->rdlen)
			break;
		r->rdata = b + pos;
		pos += r->rdlen;
		if (i < 2) {
			if (r->type != WIRE_T_SOA)
				break;
			if (i == 0)
				d->soa_from = r;
			else
				d->soa_to = r;
			continue;
		}
		if (i < 2 + nrm) {
			*rm_at = r;
			rm_at = &r->next;
		} else {
			*add_at = r;
			add_at = &r->next;
		}
	}
	if (i != n + 2 || pos != len) {
		us_errf(err, errlen,
		        "the journal entry %u -> %u is truncated or malformed at record %llu", from,
		        to, (unsigned long long)i + 1);
		return US_EMALF;
	}
	d->nremoved = nrm;
	d->nadded = (uint32_t)(n - nrm);
	*out = d;
	return 0;
}

/* A new snapshot of z: the entries so far become history, none is needed to load. */
static int jsnapshot(store_t *s, MDB_txn *txn, const uint8_t *key, size_t klen, const zone_t *z,
                     jmeta_t *m)
{
	int ret = snap_put(s, txn, key, klen, z, &m->snap_bytes);
	if (ret == 0) {
		m->snap = m->next;
		m->tail_bytes = 0;
	}
	return ret;
}

/*
 * Drops the oldest entries past the bounds, but none that a load still needs: writing a
 * snapshot of a large zone to free them would put its cost on the change at hand, which for a
 * backup is the one a primary is waiting to see served. They go after the next snapshot.
 */
static int jtrim(store_t *s, MDB_txn *txn, const uint8_t *key, size_t klen,
                 const store_journal_limits_t *lim, jmeta_t *m)
{
	uint32_t depth = lim && lim->max_depth ? lim->max_depth : STORE_JOURNAL_DEPTH;
	uint64_t size = lim && lim->max_size ? lim->max_size : STORE_JOURNAL_SIZE;
	while (m->count && m->first < m->snap && (m->count > depth || m->bytes > size)) {
		uint8_t kb[JKEY_MAX];
		MDB_val k = {jkey(kb, key, klen, m->first), kb}, v;
		int rc = mdb_get(txn, s->journal, &k, &v);
		if (rc == 0) {
			uint64_t n = v.mv_size < m->bytes ? v.mv_size : m->bytes;
			m->bytes -= n;
			rc = mdb_del(txn, s->journal, &k, NULL);
		}
		if (rc && rc != MDB_NOTFOUND)
			return lmdb_fail(s, rc, "trimming the journal");
		m->first++;
		m->count--;
	}
	if (!m->count)
		m->bytes = 0;
	return 0;
}

/*
 * Starts a write for z's zone: its key in key (*klen bytes), the open *txn, and its journal's
 * bounds in *m, with *found 0, US_ENOENT (no journal) or US_EMALF (damaged). Returns 0, or an
 * error with nothing left open.
 */
static int jwrite_begin(store_t *s, const zone_t *z, uint8_t *key, size_t *klen, MDB_txn **txn,
                        jmeta_t *m, int *found)
{
	int rc = zone_txn(s, z->apex, 0, key, klen, txn);
	if (rc)
		return rc;
	*m = (jmeta_t){0};
	*found = jmeta_get(s, *txn, key, *klen, m, &rc);
	if (*found && *found != US_ENOENT && *found != US_EMALF) {
		mdb_txn_abort(*txn);
		return lmdb_fail(s, rc, "reading the journal's bounds");
	}
	return 0;
}

int store_save_change(store_t *s, const zone_t *z, const zone_changeset_t *cs,
                      const store_journal_limits_t *lim, const store_timers_t *t)
{
	uint8_t key[DNAME_MAXLEN];
	size_t klen;
	MDB_txn *txn;
	jmeta_t m;
	int ret, err = jwrite_begin(s, z, key, &klen, &txn, &m, &ret);
	if (err)
		return err;
	/* The change continues the stored history only if it starts at its latest serial and
	 * moves forward; anything else starts the journal afresh from a snapshot. */
	bool chains = ret == 0 && cs && cs->first && cs->from == m.serial && cs->to == z->serial &&
	              serial_cmp(cs->from, cs->to) < 0;
	for (const zone_diff_t *d = chains ? cs->first : NULL, *p = NULL; d; p = d, d = d->next)
		if (serial_cmp(d->from, d->to) >= 0 || (p && p->to != d->from) ||
		    (!d->next && d->to != cs->to))
			chains = false;
	if (!chains) {
		uint64_t next = ret == 0 ? m.next : 0;
		if ((ret = jdrop_entries(s, txn, key, klen)) != 0)
			goto cleanup;
		m = (jmeta_t){.first = next, .next = next, .snap = next};
		ret = jsnapshot(s, txn, key, klen, z, &m);
	} else {
		ret = 0;
		for (const zone_diff_t *d = cs->first; d && ret == 0; d = d->next) {
			uint64_t size = 0;
			ret = jentry_put(s, txn, key, klen, m.next, d, &size);
			m.next++;
			m.count++;
			m.bytes += size;
			m.tail_bytes += size;
		}
		if (ret == 0)
			ret = jtrim(s, txn, key, klen, lim, &m);
	}
	m.serial = z->serial;
	if (ret == 0)
		ret = jmeta_put(s, txn, key, klen, &m);
	if (ret == 0)
		ret = timers_put(s, txn, key, klen, t);
cleanup:
	return finish_write(s, txn, ret);
}

/* Whether a new snapshot would let the journal meet its bounds, or load faster. */
static bool jneeds_snapshot(const jmeta_t *m, const store_journal_limits_t *lim)
{
	uint32_t depth = lim && lim->max_depth ? lim->max_depth : STORE_JOURNAL_DEPTH;
	uint64_t size = lim && lim->max_size ? lim->max_size : STORE_JOURNAL_SIZE;
	/* Loading replays what came after the snapshot: once that outweighs the snapshot, or
	 * grows long, a fresh one loads faster and costs no more room. */
	return m->next > m->snap &&
	       (m->count > depth || m->bytes > size || m->tail_bytes > m->snap_bytes ||
	        m->next - m->snap > STORE_REPLAY_MAX);
}

int store_compact(store_t *s, const zone_t *z, const store_journal_limits_t *lim)
{
	uint8_t key[DNAME_MAXLEN];
	size_t klen;
	MDB_txn *txn;
	jmeta_t m;
	int ret, err = jwrite_begin(s, z, key, &klen, &txn, &m, &ret);
	if (err)
		return err;
	if (ret == US_ENOENT ||
	    (ret == 0 && (m.serial != z->serial || !jneeds_snapshot(&m, lim)))) {
		mdb_txn_abort(txn);
		return 0;
	}
	if (ret == 0)
		ret = jsnapshot(s, txn, key, klen, z, &m);
	if (ret == 0)
		ret = jtrim(s, txn, key, klen, lim, &m);
	if (ret == 0)
		ret = jmeta_put(s, txn, key, klen, &m);
	return finish_write(s, txn, ret);
}

/*
 * Reads the entries from sequence number `from_seq` to the end into one changeset (cells in
 * arena) and checks that they chain from serial `from`. 0 with *cs empty when there are none.
 */
static int jread_tail(store_t *s, MDB_txn *txn, const uint8_t *key, size_t klen, const jmeta_t *m,
                      uint32_t from, arena_t *a, zone_changeset_t *cs, char *err, size_t errlen)
{
	zone_diff_t *last = NULL;
	*cs = (zone_changeset_t){.from = from, .to = from};
	for (uint64_t seq = m->snap; seq < m->next; seq++) {
		uint8_t kb[JKEY_MAX];
		MDB_val k = {jkey(kb, key, klen, seq), kb}, v;
		int rc = mdb_get(txn, s->journal, &k, &v);
		if (rc) {
			us_errf(err, errlen, "journal entry %llu: %s", (unsigned long long)seq,
			        mdb_strerror(rc));
			return rc == MDB_NOTFOUND ? US_EMALF : map_err(rc);
		}
		zone_diff_t *d;
		int ret = jentry_decode(v.mv_data, v.mv_size, a, &d, err, errlen);
		if (ret)
			return ret;
		if (d->from != cs->to) {
			us_errf(err, errlen, "the journal entry %u -> %u does not follow serial %u",
			        d->from, d->to, cs->to);
			return US_EMALF;
		}
		if (last)
			last->next = d;
		else
			cs->first = d;
		last = d;
		cs->ndiffs++;
		cs->to = d->to;
	}
	return 0;
}

/* Brings *z, the snapshot, to the latest version with the journal entries after it. */
static int jreplay(store_t *s, MDB_txn *txn, const uint8_t *key, size_t klen, zone_t **z)
{
	char name[DNAME_TEXT_MAX], err[256] = "";
	name_text(key, name);
	jmeta_t m;
	int rc, ret = jmeta_get(s, txn, key, klen, &m, &rc);
	if (ret == US_ENOENT)
		return 0; /* a snapshot saved before journals existed */
	if (ret == US_EMALF)
		return fail(s, ret, "the stored journal bounds of %s are damaged", name);
	if (ret)
		return lmdb_fail(s, rc, "reading the journal's bounds");
	if (m.snap == m.next)
		return 0;
	arena_t a;
	arena_init(&a);
	zone_changeset_t cs;
	zone_t *nz = NULL;
	ret = jread_tail(s, txn, key, klen, &m, (*z)->serial, &a, &cs, err, sizeof(err));
	if (ret == 0 && cs.first) {
		ret = zone_apply(*z, &cs, NULL, &nz, err, sizeof(err));
		if (ret && ret != US_ENOMEM)
			ret = US_EMALF;
	}
	arena_deinit(&a);
	if (ret == US_ENOMEM)
		return fail(s, ret, "out of memory");
	if (ret)
		return fail(s, ret, "stored journal of %s: %s", name, err);
	if (nz) {
		/* A version built by zone_apply may share the snapshot's data and hold a
		 * reference to it: dropping ours frees it only when that is gone. */
		zone_unref(*z);
		*z = nz;
	}
	return 0;
}

int store_load_zone(store_t *s, const uint8_t *apex, zone_t **zp, store_timers_t *tp)
{
	char name[DNAME_TEXT_MAX];
	uint8_t key[DNAME_MAXLEN];
	size_t klen;
	MDB_txn *txn;
	int rc = zone_txn(s, apex, MDB_RDONLY, key, &klen, &txn);
	if (rc)
		return rc;
	int ret;
	zone_t *z = NULL;
	store_timers_t t;
	MDB_val k = {klen, key}, v;
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
	if (ret == 0)
		ret = jreplay(s, txn, key, klen, &z);
	if (ret || !tp)
		goto cleanup;
	ret = timers_get(s, txn, key, klen, &t);
	if (ret == US_ENOENT) {
		memset(&t, 0, sizeof(t));
		t.serial = z->serial;
		ret = 0;
	}
cleanup:
	mdb_txn_abort(txn);
	if (ret) {
		zone_unref(z);
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
	size_t klen;
	MDB_txn *txn;
	int rc = zone_txn(s, apex, 0, key, &klen, &txn);
	if (rc)
		return rc;
	int ret = 0;
	MDB_val k = {klen, key};
	rc = mdb_del(txn, s->zones, &k, NULL);
	if (rc == 0 || rc == MDB_NOTFOUND)
		rc = mdb_del(txn, s->timers, &k, NULL);
	if (rc == 0 || rc == MDB_NOTFOUND)
		rc = mdb_del(txn, s->jmeta, &k, NULL);
	if (rc && rc != MDB_NOTFOUND)
		ret = lmdb_fail(s, rc, "dropping the zone");
	if (ret == 0)
		ret = jdrop_entries(s, txn, key, klen);
	return finish_write(s, txn, ret);
}

/* ---- reading the journal from any thread ---- */

int store_journal_read(store_t *s, const uint8_t *apex, uint32_t from, uint32_t to,
                       uint64_t max_records, arena_t *a, zone_changeset_t *out, char *err,
                       size_t errlen)
{
	uint8_t key[DNAME_MAXLEN];
	int len = dname_check(apex, DNAME_MAXLEN);
	if (len < 0) {
		us_errf(err, errlen, "malformed zone name");
		return US_ENAME;
	}
	size_t klen = (size_t)len;
	dname_lower(key, apex, klen);
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc) {
		us_errf(err, errlen, "starting a read: %s", mdb_strerror(rc));
		return map_err(rc);
	}
	jmeta_t m = {0};
	int ret = jmeta_get(s, txn, key, klen, &m, &rc);
	if (ret == US_ENOENT || (ret == 0 && m.serial != to))
		us_errf(err, errlen, "no journal up to serial %u", to);
	if (ret == US_EMALF)
		us_errf(err, errlen, "the journal's bounds are damaged");
	if (ret == 0 && m.serial != to)
		ret = US_ENOENT;
	zone_changeset_t cs = {.from = from, .to = from};
	const zone_diff_t **at = &cs.first;
	uint64_t records = 0;
	/* Entries are few (the depth bound): a look at each header finds where `from` starts. */
	for (uint64_t seq = m.first; ret == 0 && seq < m.next && cs.to != to; seq++) {
		uint8_t kb[JKEY_MAX];
		MDB_val k = {jkey(kb, key, klen, seq), kb}, v;
		if ((rc = mdb_get(txn, s->journal, &k, &v)) != 0) {
			us_errf(err, errlen, "journal entry %llu: %s", (unsigned long long)seq,
			        mdb_strerror(rc));
			ret = rc == MDB_NOTFOUND ? US_EMALF : map_err(rc);
			break;
		}
		uint32_t ef, et;
		uint64_t n;
		if (!jentry_head(v.mv_data, v.mv_size, &ef, &et, &n)) {
			us_errf(err, errlen, "journal entry %llu has no valid header",
			        (unsigned long long)seq);
			ret = US_EMALF;
			break;
		}
		if (!cs.first && ef != from)
			continue;
		if (ef != cs.to) {
			us_errf(err, errlen, "the journal breaks at serial %u", cs.to);
			ret = US_EMALF;
			break;
		}
		records += n;
		if (max_records && records > max_records) {
			us_errf(err, errlen, "the changes since serial %u outweigh the zone", from);
			ret = US_ELIMIT;
			break;
		}
		zone_diff_t *d;
		ret = jentry_decode(v.mv_data, v.mv_size, a, &d, err, errlen);
		if (ret)
			break;
		*at = d;
		at = &d->next;
		cs.ndiffs++;
		cs.to = d->to;
	}
	mdb_txn_abort(txn);
	if (ret == 0 && (!cs.first || cs.to != to)) {
		us_errf(err, errlen, "serial %u is not in the journal", from);
		ret = US_ENOENT;
	}
	if (ret == 0 && (ret = zonediff_condense(&cs, a, out)) != 0)
		us_errf(err, errlen, "%s", us_strerror(ret));
	return ret;
}

int store_journal_info(store_t *s, const uint8_t *apex, store_journal_info_t *info)
{
	uint8_t key[DNAME_MAXLEN];
	size_t klen;
	MDB_txn *txn;
	int rc = zone_txn(s, apex, MDB_RDONLY, key, &klen, &txn);
	if (rc)
		return rc;
	jmeta_t m = {0};
	int ret = jmeta_get(s, txn, key, klen, &m, &rc);
	if (ret == US_ENOENT)
		fail(s, ret, "no journal stored");
	else if (ret == US_EMALF)
		fail(s, ret, "the journal's bounds are damaged");
	else if (ret)
		lmdb_fail(s, rc, "reading the journal's bounds");
	store_journal_info_t i = {.entries = m.count,
	                          .replay = (uint32_t)(m.next - m.snap),
	                          .bytes = m.bytes,
	                          .snapshot_bytes = m.snap_bytes,
	                          .serial = m.serial,
	                          .oldest = m.serial};
	if (ret == 0 && m.count) {
		uint8_t kb[JKEY_MAX];
		MDB_val k = {jkey(kb, key, klen, m.first), kb}, v;
		uint32_t to;
		uint64_t n;
		if (mdb_get(txn, s->journal, &k, &v) == 0)
			jentry_head(v.mv_data, v.mv_size, &i.oldest, &to, &n);
	}
	mdb_txn_abort(txn);
	if (ret == 0)
		*info = i;
	return ret;
}
