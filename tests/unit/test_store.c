/* SPDX-License-Identifier: MIT */
/* test_store: LMDB snapshots, journals and timers: round trips, bounds, full map, damage, kill -9.
 */
#include <dirent.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "util.h"
#include "error.h"
#include "store.h"
#include "zonediff.h"

/* ---- scratch directories ---- */

typedef struct tdir {
	char base[64]; /* made by mkdtemp */
	char path[96]; /* base/store, which store_open creates */
} tdir_t;

static void tdir_make(tdir_t *d)
{
	strcpy(d->base, "/tmp/us-store-XXXXXX");
	assert_non_null(mkdtemp(d->base));
	snprintf(d->path, sizeof(d->path), "%s/store", d->base);
}

static void rm_tree(const char *path)
{
	DIR *dir = opendir(path);
	if (dir) {
		struct dirent *e;
		while ((e = readdir(dir))) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char sub[512];
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			rm_tree(sub);
		}
		closedir(dir);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static void tdir_remove(tdir_t *d)
{
	rm_tree(d->base);
}

static store_t *open_store(const tdir_t *d, size_t map)
{
	store_t *s = NULL;
	int ret = store_open(d->path, map, &s);
	if (ret)
		fail_msg("store_open %s: %s", d->path, us_strerror(ret));
	return s;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- zones made in code ---- */

static const uint8_t APEX[] = "\7example\3com";

/* owner = label + apex */
static size_t owner_name(uint8_t *out, const char *label)
{
	size_t l = strlen(label);
	out[0] = (uint8_t)l;
	memcpy(out + 1, label, l);
	memcpy(out + 1 + l, APEX, sizeof(APEX));
	return 1 + l + sizeof(APEX);
}

static void add(zone_builder_t *b, const uint8_t *owner, uint16_t type, uint32_t ttl,
                const void *rdata, size_t rdlen)
{
	assert_int_equal(
	    zone_builder_add(b, owner, type, WIRE_CLASS_IN, ttl, rdata, (uint16_t)rdlen, "gen", 0),
	    0);
}

/*
 * A zone with serial, n generated records past the apex ones, and contents that depend on
 * variant, so two variants share no record but the NS and its glue.
 */
static zone_t *gen_zone(uint32_t serial, size_t n, int variant)
{
	zone_builder_t *b = zone_builder_new(APEX, NULL, NULL);
	assert_non_null(b);
	uint8_t owner[DNAME_MAXLEN], rd[512];
	size_t p = owner_name(rd, "ns");
	p += owner_name(rd + p, "hostmaster");
	wire_write32(rd + p, serial);
	for (int i = 1; i <= 4; i++)
		wire_write32(rd + p + 4 * (size_t)i, 3600);
	add(b, APEX, WIRE_T_SOA, 3600, rd, p + 20);
	size_t l = owner_name(rd, "ns");
	add(b, APEX, WIRE_T_NS, 3600, rd, l);
	owner_name(owner, "ns");
	add(b, owner, WIRE_T_A, 3600, "\xc0\x00\x02\x01", 4);
	char label[32];
	for (size_t i = 0; i < n; i++) {
		snprintf(label, sizeof(label), "%c%zu", variant ? 'v' : 'h', i / 2);
		owner_name(owner, label);
		uint32_t ttl = 300 + (uint32_t)variant;
		switch (i % 4) {
		case 0:
			wire_write32(rd, (uint32_t)(0x0A000000 + i));
			add(b, owner, WIRE_T_A, ttl, rd, 4);
			break;
		case 1:
			rd[0] = (uint8_t)snprintf((char *)rd + 1, 200, "variant %d record %zu",
			                          variant, i);
			add(b, owner, WIRE_T_TXT, ttl, rd, 1 + rd[0]);
			break;
		case 2:
			memset(rd, 0, 16);
			rd[0] = 0x20;
			rd[1] = 0x01;
			wire_write32(rd + 12, (uint32_t)i);
			add(b, owner, WIRE_T_AAAA, ttl, rd, 16);
			break;
		default:
			wire_write16(rd, (uint16_t)(10 + variant));
			l = owner_name(rd + 2, "ns");
			add(b, owner, WIRE_T_MX, ttl, rd, 2 + l);
			break;
		}
	}
	zone_t *z = NULL;
	assert_int_equal(zone_builder_finish(b, &z), 0);
	zone_builder_free(b);
	return z;
}

/* ---- comparing zones record by record ---- */

typedef struct rrlist {
	uint8_t **items; /* each: u16 length, then owner, type, ttl, rdlen, rdata */
	size_t n, cap;
} rrlist_t;

static int collect(void *ctx, const uint8_t *owner, uint16_t type, uint32_t ttl,
                   const uint8_t *rdata, uint16_t rdlen)
{
	rrlist_t *l = ctx;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->items = realloc(l->items, l->cap * sizeof(*l->items));
		assert_non_null(l->items);
	}
	size_t ol = dname_len(owner), len = ol + 8 + rdlen;
	uint8_t *it = malloc(2 + len);
	assert_non_null(it);
	wire_write16(it, (uint16_t)len);
	memcpy(it + 2, owner, ol);
	wire_write16(it + 2 + ol, type);
	wire_write32(it + 4 + ol, ttl);
	wire_write16(it + 8 + ol, rdlen);
	memcpy(it + 10 + ol, rdata, rdlen);
	l->items[l->n++] = it;
	return 0;
}

static int item_cmp(const void *a, const void *b)
{
	const uint8_t *x = *(uint8_t *const *)a, *y = *(uint8_t *const *)b;
	size_t lx = wire_read16(x), ly = wire_read16(y);
	int c = memcmp(x + 2, y + 2, lx < ly ? lx : ly);
	return c ? c : (lx > ly) - (lx < ly);
}

static void rrlist_of(const zone_t *z, rrlist_t *l)
{
	memset(l, 0, sizeof(*l));
	zone_foreach_rr(z, collect, l);
	qsort(l->items, l->n, sizeof(*l->items), item_cmp);
}

static void rrlist_free(rrlist_t *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
}

static bool rrlist_equal(const rrlist_t *a, const rrlist_t *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (item_cmp(&a->items[i], &b->items[i]) != 0)
			return false;
	return true;
}

static void assert_same_zone(const zone_t *a, const zone_t *b)
{
	rrlist_t la, lb;
	rrlist_of(a, &la);
	rrlist_of(b, &lb);
	assert_int_equal(a->serial, b->serial);
	assert_int_equal(a->nrecords, b->nrecords);
	assert_int_equal(la.n, a->nrecords);
	assert_true(rrlist_equal(&la, &lb));
	rrlist_free(&la);
	rrlist_free(&lb);
}

static store_timers_t make_timers(uint32_t serial, int64_t base)
{
	store_timers_t t;
	memset(&t, 0x5A, sizeof(t)); /* junk after the strings' NULs must not matter */
	t.last_refresh = base;
	t.next_refresh = base + 3600;
	t.expire_at = base + 86400 * 14;
	t.serial = serial;
	snprintf(t.primary, sizeof(t.primary), "192.0.2.1@53");
	t.last_error_at = -1;
	snprintf(t.last_error, sizeof(t.last_error), "refresh of %lld failed", (long long)base);
	return t;
}

static void assert_same_timers(const store_timers_t *a, const store_timers_t *b)
{
	assert_int_equal(a->last_refresh, b->last_refresh);
	assert_int_equal(a->next_refresh, b->next_refresh);
	assert_int_equal(a->expire_at, b->expire_at);
	assert_int_equal(a->serial, b->serial);
	assert_string_equal(a->primary, b->primary);
	assert_int_equal(a->last_error_at, b->last_error_at);
	assert_string_equal(a->last_error, b->last_error);
}

/* ---- raw LMDB access, for damage the store itself never writes ---- */

/* Puts val under key in db, or deletes key when val is NULL. */
static void raw_put(const tdir_t *d, const char *db, const uint8_t *key, size_t klen,
                    const void *val, size_t vlen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, d->path, MDB_NOSYNC, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
	if (val)
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	else
		assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* Returns a malloc'd copy of the value, its length in *vlen. */
static uint8_t *raw_get(const tdir_t *d, const char *db, const uint8_t *key, size_t klen,
                        size_t *vlen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, d->path, MDB_RDONLY, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	MDB_val k = {klen, (void *)key}, v;
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	uint8_t *copy = malloc(v.mv_size);
	assert_non_null(copy);
	memcpy(copy, v.mv_data, v.mv_size);
	*vlen = v.mv_size;
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return copy;
}

/* ---- tests ---- */

static void crc32c_vectors(void **state)
{
	(void)state;
	assert_int_equal(store__crc32c(0, "123456789", 9), 0xE3069283);
	assert_int_equal(store__crc32c(0, "", 0), 0);
	/* In pieces, across the 8-byte stride, the same as at once. */
	uint8_t buf[1000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 31 + 7);
	uint32_t whole = store__crc32c(0, buf, sizeof(buf));
	for (size_t cut = 0; cut < 20; cut++)
		assert_int_equal(
		    store__crc32c(store__crc32c(0, buf, cut), buf + cut, sizeof(buf) - cut), whole);
}

static void open_errors(void **state)
{
	(void)state;
	tdir_t d;
	tdir_make(&d);
	store_t *s = NULL;
	char path[160];
	snprintf(path, sizeof(path), "%s/no/such/parent", d.base);
	assert_int_equal(store_open(path, 0, &s), US_ENOENT);
	assert_null(s);
	snprintf(path, sizeof(path), "%s/file", d.base);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_true(store_open(path, 0, &s) < 0);
	assert_null(s);
	/* A failed open leaves nothing open; then one store per process. */
	s = open_store(&d, 0);
	struct stat st;
	assert_int_equal(stat(d.path, &st), 0);
	mode_t mask = umask(0);
	umask(mask);
	assert_int_equal(st.st_mode & 0777, 0750 & ~mask);
	store_t *again = NULL;
	assert_int_equal(store_open(d.path, 0, &again), US_EEXIST);
	assert_null(again);
	store_close(s);
	store_close(NULL);
	s = open_store(&d, 0);
	store_close(s);
	tdir_remove(&d);
}

static void save_then_load(void **state)
{
	(void)state;
	tdir_t d;
	tdir_make(&d);
	zone_t *z = util_zone("Example.COM",
	                      "$TTL 300\n@ SOA ns hostmaster 2024010101 7200 3600 1209600 300\n"
	                      "@ NS ns\n@ NS ns.other.net.\nns A 192.0.2.1\nns AAAA 2001:db8::1\n"
	                      "WWW 60 A 192.0.2.2\nwww A 192.0.2.3\n@ MX 10 Mail.Example.COM.\n"
	                      "mail A 192.0.2.4\n*.wild TXT \"any\" \"thing\"\n"
	                      "sub NS ns.sub\nns.sub A 192.0.2.5\nempty TYPE65280 \\# 0\n"
	                      "big TXT \"" /* a longer record */
	                      "0123456789012345678901234567890123456789012345678901234567890123"
	                      "0123456789012345678901234567890123456789012345678901234567890123"
	                      "\"\nd DNAME example.net.\n");
	assert_non_null(z);
	/* The root zone: its apex is the one name that starts with a 0 byte. */
	zone_t *root = util_zone(".", "$TTL 86400\n. SOA a.root. nstld. 7 1800 900 604800 86400\n"
	                              ". NS a.root.\na.root. A 198.41.0.4\ncom. NS a.gtld.com.\n"
	                              "a.gtld.com. A 192.5.6.30\n");
	assert_non_null(root);

	store_t *s = open_store(&d, 0);
	store_timers_t t = make_timers(z->serial, 1700000000), rt = make_timers(7, 1);
	rt.primary[0] = 0;
	rt.last_error[0] = 0;
	assert_int_equal(store_save_zone(s, z, &t), 0);
	assert_int_equal(store_save_zone(s, root, &rt), 0);
	store_close(s);

	s = open_store(&d, 0);
	zone_t *got = NULL;
	store_timers_t gt;
	/* Any case of the apex finds the zone. */
	assert_int_equal(store_load_zone(s, (const uint8_t *)"\7EXAMPLE\3cOm", &got, &gt), 0);
	assert_same_zone(z, got);
	assert_same_timers(&t, &gt);
	assert_string_equal(store_errmsg(s), "");
	zone_unref(got);
	assert_int_equal(store_load_zone(s, (const uint8_t *)"", &got, NULL), 0);
	assert_same_zone(root, got);
	zone_unref(got);
	memset(&gt, 0, sizeof(gt));
	assert_int_equal(store_load_timers(s, (const uint8_t *)"", &gt), 0);
	assert_same_timers(&rt, &gt);
	got = NULL;
	assert_int_equal(store_load_zone(s, (const uint8_t *)"\7example\3org", &got, &gt),
	                 US_ENOENT);
	assert_null(got);
	assert_non_null(strstr(store_errmsg(s), "example.org"));
	store_close(s);
	zone_unref(z);
	zone_unref(root);
	tdir_remove(&d);
}

static void replace_and_drop(void **state)
{
	(void)state;
	tdir_t d;
	tdir_make(&d);
	zone_t *a = gen_zone(1, 100, 0), *b = gen_zone(2, 120, 1), *got = NULL;
	store_t *s = open_store(&d, 0);
	store_timers_t ta = make_timers(1, 100), tb = make_timers(2, 200), tg;
	assert_int_equal(store_save_zone(s, a, &ta), 0);
	assert_int_equal(store_save_zone(s, b, &tb), 0);
	assert_int_equal(store_load_zone(s, APEX, &got, &tg), 0);
	assert_same_zone(b, got);
	assert_same_timers(&tb, &tg);
	zone_unref(got);

	/* Timers alone leave the snapshot as it is. */
	store_timers_t tc = make_timers(2, 300);
	assert_int_equal(store_save_timers(s, APEX, &tc), 0);
	assert_int_equal(store_load_zone(s, APEX, &got, &tg), 0);
	assert_same_zone(b, got);
	assert_same_timers(&tc, &tg);
	zone_unref(got);

	assert_int_equal(store_drop_zone(s, APEX), 0);
	got = NULL;
	assert_int_equal(store_load_zone(s, APEX, &got, &tg), US_ENOENT);
	assert_null(got);
	assert_int_equal(store_load_timers(s, APEX, &tg), US_ENOENT);
	assert_int_equal(store_drop_zone(s, APEX), 0);

	/* Timers may exist without a snapshot (say, the first transfer failed). */
	assert_int_equal(store_save_timers(s, APEX, &tc), 0);
	assert_int_equal(store_load_zone(s, APEX, &got, &tg), US_ENOENT);
	assert_int_equal(store_load_timers(s, APEX, &tg), 0);
	assert_same_timers(&tc, &tg);
	/* and a snapshot without timers loads with zero timers */
	assert_int_equal(store_drop_zone(s, APEX), 0);
	assert_int_equal(store_save_zone(s, a, &ta), 0);
	store_close(s);
	raw_put(&d, "timers", APEX, sizeof(APEX), NULL, 0);
	s = open_store(&d, 0);
	assert_int_equal(store_load_zone(s, APEX, &got, &tg), 0);
	assert_same_zone(a, got);
	assert_int_equal(tg.serial, 1);
	assert_int_equal(tg.last_refresh, 0);
	assert_string_equal(tg.primary, "");
	zone_unref(got);
	store_close(s);
	zone_unref(a);
	zone_unref(b);
	tdir_remove(&d);
}

static void full_map(void **state)
{
	(void)state;
	tdir_t d;
	tdir_make(&d);
	zone_t *small = gen_zone(1, 200, 0), *big = gen_zone(2, 60000, 1), *got = NULL;
	store_t *s = open_store(&d, 1 << 20);
	store_timers_t ts = make_timers(1, 10), tb = make_timers(2, 20), tg;
	assert_int_equal(store_save_zone(s, small, &ts), 0);
	assert_int_equal(store_save_zone(s, big, &tb), US_ENOSPC);
	printf("full map: %s\n", store_errmsg(s));
	assert_non_null(strstr(store_errmsg(s), "example.com"));
	/* The failed save changed nothing, and the store still works. */
	assert_int_equal(store_load_zone(s, APEX, &got, &tg), 0);
	assert_same_zone(small, got);
	assert_same_timers(&ts, &tg);
	zone_unref(got);
	store_timers_t ts2 = make_timers(1, 11);
	assert_int_equal(store_save_zone(s, small, &ts2), 0);
	store_close(s);
	s = open_store(&d, 1 << 20);
	assert_int_equal(store_load_zone(s, APEX, &got, &tg), 0);
	assert_same_zone(small, got);
	assert_same_timers(&ts2, &tg);
	zone_unref(got);
	store_close(s);
	zone_unref(small);
	zone_unref(big);
	tdir_remove(&d);
}

static zone_t *small_zone(const char *origin, uint32_t serial)
{
	char text[256];
	snprintf(text, sizeof(text),
	         "$TTL 300\n@ SOA ns hostmaster %u 7200 3600 1209600 300\n@ NS ns\n"
	         "ns A 192.0.2.1\nwww TXT \"%s\"\n",
	         serial, origin);
	zone_t *z = util_zone(origin, text);
	assert_non_null(z);
	return z;
}

static void expect_stored(store_t *s, const zone_t *want)
{
	zone_t *got = NULL;
	assert_int_equal(store_load_zone(s, want->apex, &got, NULL), 0);
	assert_same_zone(want, got);
	zone_unref(got);
}

static void expect_absent(store_t *s, const zone_t *z)
{
	zone_t *got = NULL;
	assert_int_equal(store_load_zone(s, z->apex, &got, NULL), US_ENOENT);
	assert_null(got);
}

/* A batch commits many zones at once; a call that fails in it undoes its own part only. */
static void batch(void **state)
{
	(void)state;
	tdir_t d;
	tdir_make(&d);
	zone_t *a = small_zone("a.test", 1), *b = small_zone("b.test", 2),
	       *c = small_zone("c.test", 3);
	zone_t *d1 = small_zone("d.test", 4), *big = gen_zone(2, 60000, 1);
	store_timers_t t = make_timers(1, 10);
	store_t *s = open_store(&d, 1 << 20);
	assert_int_equal(store_batch_commit(s), 0); /* none open: nothing to do */
	assert_int_equal(store_batch_begin(s), 0);
	assert_int_equal(store_batch_begin(s), US_EINVAL);
	assert_int_equal(store_save_zone(s, a, &t), 0);
	assert_int_equal(store_save_change(s, b, NULL, NULL, &t), 0);
	/* What the batch wrote is what the calls after it see. */
	expect_stored(s, a);
	store_journal_info_t ji;
	assert_int_equal(store_journal_info(s, b->apex, &ji), 0);
	assert_int_equal(ji.serial, 2);
	/* A zone too large for the map fails alone; the batch goes on. */
	assert_int_equal(store_save_zone(s, big, &t), US_ENOSPC);
	assert_int_equal(store_save_zone(s, c, &t), 0);
	assert_int_equal(store_compact(s, c, NULL), 0);
	assert_int_equal(store_batch_commit(s), 0);
	store_close(s);

	s = open_store(&d, 1 << 20);
	expect_stored(s, a);
	expect_stored(s, b);
	expect_stored(s, c);
	expect_absent(s, big);
	/* A batch never committed leaves nothing behind. */
	assert_int_equal(store_batch_begin(s), 0);
	assert_int_equal(store_save_zone(s, d1, &t), 0);
	assert_int_equal(store_drop_zone(s, a->apex), 0);
	store_close(s);
	s = open_store(&d, 1 << 20);
	expect_absent(s, d1);
	expect_stored(s, a);
	store_close(s);
	zone_unref(a);
	zone_unref(b);
	zone_unref(c);
	zone_unref(d1);
	zone_unref(big);
	tdir_remove(&d);
}

/* Stores value under the zone's key and expects the load to fail with want (0: any error). */
static void expect_damaged(const tdir_t *d, const void *val, size_t len, int want)
{
	raw_put(d, "zones", APEX, sizeof(APEX), val, len);
	store_t *s = open_store(d, 0);
	zone_t *got = NULL;
	store_timers_t tg;
	int ret = store_load_zone(s, APEX, &got, &tg);
	if (want ? ret != want : ret >= 0)
		fail_msg("load gave %d (%s), wanted %d; %s", ret, us_strerror(ret), want,
		         store_errmsg(s));
	assert_null(got);
	assert_true(strlen(store_errmsg(s)) > 0);
	store_close(s);
}

/* Fixes the header's checksum after an edit, so the decoder itself meets the damage. */
static void fix_crc(uint8_t *v, size_t len)
{
	wire_write32(v + 12, store__crc32c(0, v + 32, len - 32));
}

static void damaged_values(void **state)
{
	(void)state;
	tdir_t d;
	tdir_make(&d);
	zone_t *z = gen_zone(5, 40, 0);
	store_t *s = open_store(&d, 0);
	store_timers_t t = make_timers(5, 1);
	assert_int_equal(store_save_zone(s, z, &t), 0);
	store_close(s);
	size_t len;
	uint8_t *good = raw_get(&d, "zones", APEX, sizeof(APEX), &len);
	uint8_t *v = malloc(len + 64);
	assert_non_null(v);

	/* garbage, empty, a lone header */
	uint8_t junk[300];
	srand(7);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand();
	expect_damaged(&d, junk, sizeof(junk), US_EMALF);
	expect_damaged(&d, "", 0, US_EMALF);
	expect_damaged(&d, good, 32, US_EMALF);
	/* truncated, with and without a fixed checksum and length */
	expect_damaged(&d, good, len - 5, US_EMALF);
	for (size_t cut = 33; cut < len; cut += 37) {
		memcpy(v, good, cut);
		uint64_t body = cut - 32;
		wire_write32(v + 24, (uint32_t)(body >> 32));
		wire_write32(v + 28, (uint32_t)body);
		fix_crc(v, cut);
		expect_damaged(&d, v, cut, 0);
	}
	/* one flipped bit: the checksum catches it */
	memcpy(v, good, len);
	v[len / 2] ^= 0x10;
	expect_damaged(&d, v, len, US_EMALF);
	/* a newer format version */
	memcpy(v, good, len);
	v[5] = 2;
	expect_damaged(&d, v, len, US_EMALF);
	/* "same owner" as the first record */
	memcpy(v, good, len);
	v[32] = 0xFF;
	fix_crc(v, len);
	expect_damaged(&d, v, len, US_EMALF);
	/* a record count that lies */
	memcpy(v, good, len);
	v[23] ^= 1;
	expect_damaged(&d, v, len, US_EMALF);
	/* well-formed records that fail the zone checks: the apex SOA (first) becomes NULL */
	memcpy(v, good, len);
	assert_int_equal(wire_read16(v + 32 + sizeof(APEX)), WIRE_T_SOA);
	wire_write16(v + 32 + sizeof(APEX), WIRE_T_NULL);
	fix_crc(v, len);
	expect_damaged(&d, v, len, US_EZONE);

	/* Random edits behind a fixed checksum: an error or a zone, never a crash. */
	unsigned errors = 0, loaded = 0;
	for (int i = 0; i < 150; i++) {
		memcpy(v, good, len);
		int edits = 1 + rand() % 4;
		for (int e = 0; e < edits; e++)
			v[32 + (size_t)rand() % (len - 32)] = (uint8_t)rand();
		fix_crc(v, len);
		raw_put(&d, "zones", APEX, sizeof(APEX), v, len);
		s = open_store(&d, 0);
		zone_t *got = NULL;
		int ret = store_load_zone(s, APEX, &got, NULL);
		if (ret == 0) {
			loaded++;
			zone_unref(got);
		} else {
			errors++;
			assert_null(got);
		}
		store_close(s);
	}
	printf("random edits: %u rejected, %u still a valid zone\n", errors, loaded);

	/* damaged timers beside a good snapshot */
	raw_put(&d, "zones", APEX, sizeof(APEX), good, len);
	raw_put(&d, "timers", APEX, sizeof(APEX), "\1\2\3", 3);
	s = open_store(&d, 0);
	zone_t *got = NULL;
	store_timers_t tg;
	assert_int_equal(store_load_zone(s, APEX, &got, &tg), US_EMALF);
	assert_int_equal(store_load_timers(s, APEX, &tg), US_EMALF);
	/* without asking for timers, the zone still loads */
	assert_int_equal(store_load_zone(s, APEX, &got, NULL), 0);
	assert_same_zone(z, got);
	zone_unref(got);
	store_close(s);

	free(v);
	free(good);
	zone_unref(z);
	tdir_remove(&d);
}

/* ---- kill -9 ---- */

#define KILL_ROUNDS  30
#define KILL_RECORDS 3000

/* Saves B, A, B, ... from counter k on, reporting each committed k on fd; never returns. */
static void saver(const tdir_t *d, const zone_t *za, const zone_t *zb, int64_t k, int fd)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	store_t *s = NULL;
	if (store_open(d->path, 0, &s))
		_exit(3);
	for (double end = now() + 20; now() < end; k++) {
		const zone_t *z = k % 2 ? zb : za;
		store_timers_t t = make_timers(z->serial, k);
		int ret = store_save_zone(s, z, &t);
		if (ret) {
			fprintf(stderr, "saver: %s: %s\n", us_strerror(ret), store_errmsg(s));
			_exit(2);
		}
		if (write(fd, &k, sizeof(k)) != sizeof(k))
			_exit(4);
	}
	_exit(5);
}

static void kill_nine(void **state)
{
	(void)state;
	tdir_t d;
	tdir_make(&d);
	zone_t *za = gen_zone(1, KILL_RECORDS, 0), *zb = gen_zone(2, KILL_RECORDS, 1);
	rrlist_t la, lb;
	rrlist_of(za, &la);
	rrlist_of(zb, &lb);
	assert_false(rrlist_equal(&la, &lb));

	store_t *s = open_store(&d, 0);
	store_timers_t t0 = make_timers(1, 0);
	assert_int_equal(store_save_zone(s, za, &t0), 0);
	store_close(s);

	srand(20240601);
	int64_t next = 1;
	int seen[2] = {0, 0}, unreported = 0;
	double start = now();
	for (int round = 0; round < KILL_ROUNDS; round++) {
		int pfd[2];
		assert_int_equal(pipe(pfd), 0);
		fflush(NULL);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			saver(&d, za, zb, next, pfd[1]);
		}
		close(pfd[1]);
		struct timespec delay = {0, (2 + rand() % 60) * 1000000L + rand() % 1000000L};
		nanosleep(&delay, NULL);
		assert_int_equal(kill(pid, SIGKILL), 0);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("saver exited with %d before the kill", WEXITSTATUS(status));
		int64_t k, reported = next - 1;
		while (read(pfd[0], &k, sizeof(k)) == sizeof(k))
			reported = k;
		close(pfd[0]);

		s = open_store(&d, 0);
		zone_t *got = NULL;
		store_timers_t tg;
		int ret = store_load_zone(s, APEX, &got, &tg);
		if (ret)
			fail_msg("round %d: %s: %s", round, us_strerror(ret), store_errmsg(s));
		store_close(s);
		/* What was reported committed is there; at most one more commit got in after. */
		if (tg.last_refresh != reported && tg.last_refresh != reported + 1)
			fail_msg("round %d: loaded save #%lld, last reported #%lld", round,
			         (long long)tg.last_refresh, (long long)reported);
		unreported += tg.last_refresh != reported;
		/* The zone and its timers come from the same save, and the zone is whole. */
		const zone_t *want = tg.last_refresh % 2 ? zb : za;
		assert_int_equal(got->serial, want->serial);
		assert_int_equal(tg.serial, want->serial);
		rrlist_t lg;
		rrlist_of(got, &lg);
		assert_true(rrlist_equal(&lg, tg.last_refresh % 2 ? &lb : &la));
		rrlist_free(&lg);
		seen[tg.last_refresh % 2]++;
		zone_unref(got);
		next = tg.last_refresh + 1;
	}
	struct stat st;
	char file[160];
	snprintf(file, sizeof(file), "%s/data.mdb", d.path);
	assert_int_equal(stat(file, &st), 0);
	printf("kill -9: %d rounds in %.2f s, %lld saves committed, loaded A %d times and B %d "
	       "times, %d committed but unreported; data.mdb %lld KiB\n",
	       KILL_ROUNDS, now() - start, (long long)next - 1, seen[0], seen[1], unreported,
	       (long long)st.st_size / 1024);
	rrlist_free(&la);
	rrlist_free(&lb);
	zone_unref(za);
	zone_unref(zb);
	tdir_remove(&d);
}

/* ---- the journal ---- */

/* gen_zone(serial, n, 0) plus `extras` TXT records: consecutive steps differ by one record. */
static zone_t *step_zone(uint32_t serial, size_t n, size_t extras)
{
	zone_t *base = gen_zone(serial, n, 0);
	zone_builder_t *b = zone_builder_new(APEX, NULL, NULL);
	assert_non_null(b);
	rrlist_t l;
	rrlist_of(base, &l);
	for (size_t i = 0; i < l.n; i++) {
		const uint8_t *it = l.items[i] + 2;
		size_t ol = dname_len(it);
		add(b, it, wire_read16(it + ol), wire_read32(it + ol + 2), it + ol + 8,
		    wire_read16(it + ol + 6));
	}
	rrlist_free(&l);
	zone_unref(base);
	uint8_t owner[DNAME_MAXLEN], rd[64];
	owner_name(owner, "extra");
	for (size_t i = 0; i < extras; i++) {
		rd[0] = (uint8_t)snprintf((char *)rd + 1, 60, "extra record %zu", i);
		add(b, owner, WIRE_T_TXT, 300, rd, 1 + rd[0]);
	}
	zone_t *z = NULL;
	assert_int_equal(zone_builder_finish(b, &z), 0);
	zone_builder_free(b);
	return z;
}

/* Saves cur as the change from prev (computed with zonediff). */
static int save_step(store_t *s, const zone_t *prev, const zone_t *cur,
                     const store_journal_limits_t *lim, int64_t k)
{
	arena_t a;
	arena_init(&a);
	zone_changeset_t cs;
	assert_int_equal(zonediff_compute(prev, cur, &a, &cs), 0);
	store_timers_t t = make_timers(cur->serial, k);
	int ret = store_save_change(s, cur, &cs, lim, &t);
	/* As the server does once the version is out. */
	if (ret == 0)
		ret = store_compact(s, cur, lim);
	arena_deinit(&a);
	return ret;
}

static void expect_loads(store_t *s, const zone_t *want)
{
	zone_t *got = NULL;
	store_timers_t tg;
	int ret = store_load_zone(s, APEX, &got, &tg);
	if (ret)
		fail_msg("load: %s: %s", us_strerror(ret), store_errmsg(s));
	assert_same_zone(want, got);
	assert_int_equal(tg.serial, want->serial);
	zone_unref(got);
}

static void expect_history(store_t *s, uint32_t from, uint32_t to, uint32_t nrm, uint32_t nadd)
{
	arena_t a;
	arena_init(&a);
	zone_changeset_t cs;
	char err[256];
	int ret = store_journal_read(s, APEX, from, to, 0, &a, &cs, err, sizeof(err));
	if (ret)
		fail_msg("journal %u -> %u: %s: %s", from, to, us_strerror(ret), err);
	assert_int_equal(cs.ndiffs, 1);
	assert_int_equal(cs.from, from);
	assert_int_equal(cs.to, to);
	assert_int_equal(cs.first->nremoved, nrm);
	assert_int_equal(cs.first->nadded, nadd);
	assert_int_equal(cs.first->soa_from->type, WIRE_T_SOA);
	arena_deinit(&a);
}

static int history_error(store_t *s, uint32_t from, uint32_t to, uint64_t max)
{
	arena_t a;
	arena_init(&a);
	zone_changeset_t cs;
	char err[256] = "";
	int ret = store_journal_read(s, APEX, from, to, max, &a, &cs, err, sizeof(err));
	if (ret)
		assert_true(strlen(err) > 0);
	arena_deinit(&a);
	return ret;
}

static void journal_replay(void **state)
{
	(void)state;
	tdir_t d;
	tdir_make(&d);
	store_t *s = open_store(&d, 0);
	zone_t *prev = step_zone(1, 400, 0);
	store_timers_t t = make_timers(1, 0);
	assert_int_equal(store_save_zone(s, prev, &t), 0);
	store_journal_info_t ji;
	for (uint32_t serial = 2; serial <= 10; serial++) {
		zone_t *cur = step_zone(serial, 400, serial - 1);
		assert_int_equal(save_step(s, prev, cur, NULL, serial), 0);
		zone_unref(prev);
		prev = cur;
		/* Reopened, as after a restart: snapshot + replay give the latest version. */
		store_close(s);
		s = open_store(&d, 0);
		expect_loads(s, cur);
		assert_int_equal(store_journal_info(s, APEX, &ji), 0);
		/* One small entry per change; the snapshot of serial 1 stays. */
		assert_int_equal(ji.entries, serial - 1);
		assert_int_equal(ji.replay, serial - 1);
		assert_int_equal(ji.serial, serial);
		assert_int_equal(ji.oldest, 1);
	}
	printf("journal: 9 one-record changes take %llu bytes (%llu per change); snapshot %llu\n",
	       (unsigned long long)ji.bytes, (unsigned long long)ji.bytes / 9,
	       (unsigned long long)ji.snapshot_bytes);
	/* One record and two SOAs per change, not a copy of the zone. */
	assert_true(ji.bytes / 9 < 300);
	/* Condensed: each serial's SOA change vanishes into one, the extras add up. */
	expect_history(s, 1, 10, 0, 9);
	expect_history(s, 5, 10, 0, 5);
	expect_history(s, 9, 10, 0, 1);
	assert_int_equal(history_error(s, 77, 10, 0), US_ENOENT);
	assert_int_equal(history_error(s, 10, 10, 0), US_ENOENT);
	assert_int_equal(history_error(s, 1, 9, 0), US_ENOENT); /* 9 is not the latest */
	assert_int_equal(history_error(s, 1, 10, 5), US_ELIMIT);

	/* Back to fewer extras: removals, and a condensed history that cancels out. */
	zone_t *cur = step_zone(11, 400, 2);
	assert_int_equal(save_step(s, prev, cur, NULL, 11), 0);
	expect_history(s, 10, 11, 7, 0);
	expect_history(s, 3, 11, 0, 0);
	expect_loads(s, cur);
	zone_unref(prev);
	prev = cur;

	/* A change that does not start at the stored serial restarts the journal. */
	zone_t *other = step_zone(20, 400, 1);
	cur = step_zone(21, 400, 3);
	assert_int_equal(save_step(s, other, cur, NULL, 21), 0);
	assert_int_equal(store_journal_info(s, APEX, &ji), 0);
	assert_int_equal(ji.entries, 0);
	assert_int_equal(ji.oldest, 21);
	expect_loads(s, cur);
	assert_int_equal(history_error(s, 11, 21, 0), US_ENOENT);

	/* A change as large as the zone: the snapshot is rewritten, nothing left to replay. */
	zone_t *big = gen_zone(22, 400, 1);
	assert_int_equal(save_step(s, cur, big, NULL, 22), 0);
	assert_int_equal(store_journal_info(s, APEX, &ji), 0);
	assert_int_equal(ji.entries, 1);
	assert_int_equal(ji.replay, 0);
	expect_loads(s, big);

	/* Dropping the zone drops its journal. */
	assert_int_equal(store_drop_zone(s, APEX), 0);
	assert_int_equal(store_journal_info(s, APEX, &ji), US_ENOENT);
	assert_int_equal(history_error(s, 21, 22, 0), US_ENOENT);
	store_close(s);
	zone_unref(prev);
	zone_unref(other);
	zone_unref(cur);
	zone_unref(big);
	tdir_remove(&d);
}

/* A change is stored without writing a snapshot; store_compact writes it later and trims. */
static void journal_snapshot_waits_for_compact(void **state)
{
	(void)state;
	tdir_t d;
	tdir_make(&d);
	store_t *s = open_store(&d, 0);
	zone_t *prev = step_zone(1, 100, 0);
	store_timers_t t = make_timers(1, 0);
	assert_int_equal(store_save_zone(s, prev, &t), 0);
	store_journal_limits_t lim = {.max_depth = 2};
	store_journal_info_t ji;
	for (uint32_t serial = 2; serial <= 6; serial++) {
		zone_t *cur = step_zone(serial, 100, serial - 1);
		arena_t a;
		arena_init(&a);
		zone_changeset_t cs;
		assert_int_equal(zonediff_compute(prev, cur, &a, &cs), 0);
		t = make_timers(serial, 0);
		assert_int_equal(store_save_change(s, cur, &cs, &lim, &t), 0);
		arena_deinit(&a);
		zone_unref(prev);
		prev = cur;
	}
	/* Past the depth, but a load needs every entry since the snapshot. */
	assert_int_equal(store_journal_info(s, APEX, &ji), 0);
	assert_int_equal(ji.entries, 5);
	assert_int_equal(ji.replay, 5);
	expect_loads(s, prev);
	/* Not the latest version: nothing to do. */
	zone_t *older = step_zone(5, 100, 4);
	assert_int_equal(store_compact(s, older, &lim), 0);
	assert_int_equal(store_journal_info(s, APEX, &ji), 0);
	assert_int_equal(ji.entries, 5);
	assert_int_equal(store_compact(s, prev, &lim), 0);
	assert_int_equal(store_journal_info(s, APEX, &ji), 0);
	assert_int_equal(ji.entries, 2);
	assert_int_equal(ji.replay, 0);
	assert_int_equal(ji.oldest, 4);
	expect_history(s, 4, 6, 0, 2);
	store_close(s);
	s = open_store(&d, 0);
	expect_loads(s, prev);
	store_close(s);
	zone_unref(older);
	zone_unref(prev);
	tdir_remove(&d);
}

static void journal_bounds(void **state)
{
	(void)state;
	tdir_t d;
	tdir_make(&d);
	store_t *s = open_store(&d, 0);
	zone_t *prev = step_zone(1, 100, 0);
	store_timers_t t = make_timers(1, 0);
	assert_int_equal(store_save_zone(s, prev, &t), 0);
	store_journal_limits_t depth = {.max_depth = 3};
	store_journal_info_t ji;
	for (uint32_t serial = 2; serial <= 10; serial++) {
		zone_t *cur = step_zone(serial, 100, serial - 1);
		assert_int_equal(save_step(s, prev, cur, &depth, serial), 0);
		zone_unref(prev);
		prev = cur;
		expect_loads(s, cur);
		assert_int_equal(store_journal_info(s, APEX, &ji), 0);
		assert_true(ji.entries <= 3);
	}
	/* The oldest went first; what is left still serves IXFR, and loads. */
	assert_int_equal(ji.entries, 3);
	assert_int_equal(ji.oldest, 7);
	expect_history(s, 7, 10, 0, 3);
	assert_int_equal(history_error(s, 6, 10, 0), US_ENOENT);
	store_close(s);
	s = open_store(&d, 0);
	expect_loads(s, prev);

	/* A byte bound smaller than one entry: no history, but every version still loads. */
	store_journal_limits_t tiny = {.max_size = 1};
	for (uint32_t serial = 11; serial <= 14; serial++) {
		zone_t *cur = step_zone(serial, 100, serial % 3);
		assert_int_equal(save_step(s, prev, cur, &tiny, serial), 0);
		zone_unref(prev);
		prev = cur;
		assert_int_equal(store_journal_info(s, APEX, &ji), 0);
		assert_int_equal(ji.entries, 0);
		assert_int_equal(ji.bytes, 0);
		store_close(s);
		s = open_store(&d, 0);
		expect_loads(s, cur);
	}
	/* A byte bound of three entries' worth keeps about three. */
	store_journal_limits_t some = {.max_size = 3 * 400};
	for (uint32_t serial = 15; serial <= 25; serial++) {
		zone_t *cur = step_zone(serial, 100, serial % 5);
		assert_int_equal(save_step(s, prev, cur, &some, serial), 0);
		zone_unref(prev);
		prev = cur;
		assert_int_equal(store_journal_info(s, APEX, &ji), 0);
		assert_true(ji.bytes <= some.max_size);
	}
	assert_true(ji.entries >= 2);
	expect_loads(s, prev);
	store_close(s);
	zone_unref(prev);
	tdir_remove(&d);
}

static void journal_full_map(void **state)
{
	(void)state;
	tdir_t d;
	tdir_make(&d);
	store_t *s = open_store(&d, 1 << 20);
	zone_t *a = step_zone(1, 200, 0), *b = step_zone(2, 200, 1), *huge = gen_zone(3, 60000, 1);
	store_timers_t t = make_timers(1, 0);
	assert_int_equal(store_save_zone(s, a, &t), 0);
	assert_int_equal(save_step(s, a, b, NULL, 2), 0);
	/* A change too big for the map fails alone; the stored version and history stay. */
	assert_int_equal(save_step(s, b, huge, NULL, 3), US_ENOSPC);
	printf("journal, full map: %s\n", store_errmsg(s));
	expect_loads(s, b);
	expect_history(s, 1, 2, 0, 1);
	zone_t *c = step_zone(3, 200, 2);
	assert_int_equal(save_step(s, b, c, NULL, 3), 0);
	expect_loads(s, c);
	store_close(s);
	zone_unref(a);
	zone_unref(b);
	zone_unref(c);
	zone_unref(huge);
	tdir_remove(&d);
}

static void journal_damage(void **state)
{
	(void)state;
	tdir_t d;
	tdir_make(&d);
	store_t *s = open_store(&d, 0);
	zone_t *a = step_zone(1, 50, 0), *b = step_zone(2, 50, 1), *c = step_zone(3, 50, 2);
	store_timers_t t = make_timers(1, 0);
	assert_int_equal(store_save_zone(s, a, &t), 0);
	assert_int_equal(save_step(s, a, b, NULL, 2), 0);
	assert_int_equal(save_step(s, b, c, NULL, 3), 0);
	store_close(s);
	/* The second entry: apex + sequence number 1. */
	uint8_t key[sizeof(APEX) + 8];
	memcpy(key, APEX, sizeof(APEX));
	memset(key + sizeof(APEX), 0, 8);
	key[sizeof(APEX) + 7] = 1;
	size_t len;
	uint8_t *good = raw_get(&d, "journal", key, sizeof(key), &len);
	uint8_t *v = malloc(len);
	int outcomes[2] = {0, 0};
	srand(11);
	for (int round = 0; round < 120; round++) {
		memcpy(v, good, len);
		size_t vlen = len;
		if (round == 0)
			vlen = 10; /* truncated header */
		else if (round == 1)
			v[len - 1] ^= 1; /* the checksum catches it */
		else {
			/* Edits behind a fixed checksum reach the decoder itself. */
			for (int e = 0; e < 1 + round % 4; e++)
				v[rand() % len] = (uint8_t)rand();
			if (round % 3)
				vlen = 28 + (size_t)rand() % (len - 28);
			wire_write32(v + 16, store__crc32c(0, v + 28, vlen - 28));
		}
		raw_put(&d, "journal", key, sizeof(key), v, vlen);
		s = open_store(&d, 0);
		zone_t *got = NULL;
		int ret = store_load_zone(s, APEX, &got, NULL);
		if (ret) {
			assert_true(strlen(store_errmsg(s)) > 0);
			assert_null(got);
		}
		outcomes[ret == 0]++;
		zone_unref(got);
		history_error(s, 1, 3, 0);
		store_close(s);
	}
	printf("damaged journal entries: %d rejected, %d still applied\n", outcomes[0],
	       outcomes[1]);
	assert_true(outcomes[0] > 0);
	/* A missing entry and damaged bounds are errors too. */
	raw_put(&d, "journal", key, sizeof(key), NULL, 0);
	s = open_store(&d, 0);
	zone_t *got = NULL;
	assert_int_equal(store_load_zone(s, APEX, &got, NULL), US_EMALF);
	assert_int_equal(history_error(s, 1, 3, 0), US_EMALF);
	store_close(s);
	raw_put(&d, "jmeta", APEX, sizeof(APEX), "\1junk", 5);
	s = open_store(&d, 0);
	assert_int_equal(store_load_zone(s, APEX, &got, NULL), US_EMALF);
	assert_int_equal(history_error(s, 1, 3, 0), US_EMALF);
	/* Saving a fresh version repairs it. */
	t = make_timers(3, 3);
	assert_int_equal(store_save_zone(s, c, &t), 0);
	expect_loads(s, c);
	store_close(s);
	free(v);
	free(good);
	zone_unref(a);
	zone_unref(b);
	zone_unref(c);
	tdir_remove(&d);
}

/* Saves the chain step_zone(k), step_zone(k + 1), ... as journal entries; never returns. */
static void journal_saver(const tdir_t *d, int64_t k, int fd)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	store_t *s = NULL;
	if (store_open(d->path, 0, &s))
		_exit(3);
	store_journal_limits_t lim = {.max_depth = 5};
	zone_t *prev = step_zone((uint32_t)k - 1, KILL_RECORDS / 4, (size_t)(k - 1) % 9);
	for (double end = now() + 20; now() < end; k++) {
		zone_t *cur = step_zone((uint32_t)k, KILL_RECORDS / 4, (size_t)k % 9);
		int ret = save_step(s, prev, cur, &lim, k);
		if (ret) {
			fprintf(stderr, "saver: %s: %s\n", us_strerror(ret), store_errmsg(s));
			_exit(2);
		}
		zone_unref(prev);
		prev = cur;
		if (write(fd, &k, sizeof(k)) != sizeof(k))
			_exit(4);
	}
	_exit(5);
}

static void journal_kill_nine(void **state)
{
	(void)state;
	tdir_t d;
	tdir_make(&d);
	store_t *s = open_store(&d, 0);
	zone_t *z0 = step_zone(1, KILL_RECORDS / 4, 1);
	store_timers_t t0 = make_timers(1, 1);
	assert_int_equal(store_save_zone(s, z0, &t0), 0);
	store_close(s);
	zone_unref(z0);
	srand(20240602);
	int64_t next = 2;
	double start = now();
	for (int round = 0; round < KILL_ROUNDS; round++) {
		int pfd[2];
		assert_int_equal(pipe(pfd), 0);
		fflush(NULL);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			journal_saver(&d, next, pfd[1]);
		}
		close(pfd[1]);
		struct timespec delay = {0, (2 + rand() % 40) * 1000000L + rand() % 1000000L};
		nanosleep(&delay, NULL);
		assert_int_equal(kill(pid, SIGKILL), 0);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("saver exited with %d before the kill", WEXITSTATUS(status));
		int64_t k, reported = next - 1;
		while (read(pfd[0], &k, sizeof(k)) == sizeof(k))
			reported = k;
		close(pfd[0]);
		s = open_store(&d, 0);
		zone_t *got = NULL;
		store_timers_t tg;
		int ret = store_load_zone(s, APEX, &got, &tg);
		if (ret)
			fail_msg("round %d: %s: %s", round, us_strerror(ret), store_errmsg(s));
		store_close(s);
		if (tg.last_refresh != reported && tg.last_refresh != reported + 1)
			fail_msg("round %d: loaded save #%lld, last reported #%lld", round,
			         (long long)tg.last_refresh, (long long)reported);
		/* Snapshot + replay is exactly the version saved last, whole. */
		zone_t *want = step_zone((uint32_t)tg.last_refresh, KILL_RECORDS / 4,
		                         (size_t)tg.last_refresh % 9);
		assert_same_zone(want, got);
		zone_unref(want);
		zone_unref(got);
		next = tg.last_refresh + 1;
	}
	printf("journal kill -9: %d rounds in %.2f s, %lld versions committed\n", KILL_ROUNDS,
	       now() - start, (long long)next - 1);
	tdir_remove(&d);
}

/* IXFR out reads the journal on TCP worker threads while the zone manager writes to it. */
typedef struct reader_shared {
	store_t *s;
	atomic_bool stop;
	atomic_uint_fast32_t latest; /* the newest serial committed so far */
} reader_shared_t;

typedef struct reader_arg {
	reader_shared_t *sh;
	unsigned reads, found, errors; /* this thread's own */
} reader_arg_t;

static void *reader(void *p)
{
	reader_arg_t *r = p;
	reader_shared_t *sh = r->sh;
	while (!atomic_load(&sh->stop)) {
		uint32_t to = (uint32_t)atomic_load(&sh->latest);
		arena_t a;
		arena_init(&a);
		zone_changeset_t cs;
		char err[256];
		int ret = store_journal_read(sh->s, APEX, to > 3 ? to - 3 : 1, to, 0, &a, &cs, err,
		                             sizeof(err));
		r->reads++;
		/* Found whole, or not found because a newer version got in meanwhile. */
		if (ret == 0 && cs.to == to && cs.first->nadded == (to > 3 ? 3 : to - 1))
			r->found++;
		else if (ret != US_ENOENT)
			r->errors++;
		arena_deinit(&a);
	}
	return NULL;
}

static void journal_concurrent_reads(void **state)
{
	(void)state;
	tdir_t d;
	tdir_make(&d);
	store_t *s = open_store(&d, 0);
	zone_t *prev = step_zone(1, 200, 0);
	store_timers_t t = make_timers(1, 0);
	assert_int_equal(store_save_zone(s, prev, &t), 0);
	reader_shared_t sh = {.s = s};
	atomic_store(&sh.latest, 1);
	reader_arg_t r[2] = {{.sh = &sh}, {.sh = &sh}};
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, &r[i]), 0);
	for (uint32_t serial = 2; serial <= 150; serial++) {
		zone_t *cur = step_zone(serial, 200, serial - 1);
		assert_int_equal(save_step(s, prev, cur, NULL, serial), 0);
		atomic_store(&sh.latest, serial);
		zone_unref(prev);
		prev = cur;
	}
	atomic_store(&sh.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	printf("concurrent journal reads: %u reads, %u found whole, %u errors\n",
	       r[0].reads + r[1].reads, r[0].found + r[1].found, r[0].errors + r[1].errors);
	assert_int_equal(r[0].errors + r[1].errors, 0);
	assert_true(r[0].found + r[1].found > 0);
	expect_loads(s, prev);
	store_close(s);
	zone_unref(prev);
	tdir_remove(&d);
}

static void large_zone(void **state)
{
	(void)state;
	tdir_t d;
	tdir_make(&d);
	double t0 = now();
	zone_t *z = gen_zone(9, 200000, 0);
	double t1 = now();
	store_t *s = open_store(&d, 0);
	store_timers_t t = make_timers(9, 1);
	assert_int_equal(store_save_zone(s, z, &t), 0);
	double t2 = now();
	store_close(s);
	s = open_store(&d, 0);
	zone_t *got = NULL;
	store_timers_t tg;
	double t3 = now();
	assert_int_equal(store_load_zone(s, APEX, &got, &tg), 0);
	double t4 = now();
	assert_same_zone(z, got);
	struct stat st;
	char file[160];
	snprintf(file, sizeof(file), "%s/data.mdb", d.path);
	assert_int_equal(stat(file, &st), 0);
	long long first = (long long)st.st_size;
	/* Replacing it needs room for both copies until the commit. */
	double t5 = now();
	assert_int_equal(store_save_zone(s, got, &t), 0);
	double t6 = now();
	assert_int_equal(stat(file, &st), 0);
	long long second = (long long)st.st_size;
	/* From the third save on, the pages of the one before last are free for reuse. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_save_zone(s, i % 2 ? z : got, &t), 0);
	assert_int_equal(stat(file, &st), 0);
	printf("200k records (%zu kept): build %.0f ms, save %.0f ms, load %.0f ms, save again "
	       "%.0f ms; data.mdb %.1f MiB after one save, %.1f MiB after two, %.1f MiB after "
	       "five\n",
	       z->nrecords, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t4 - t3) * 1e3, (t6 - t5) * 1e3,
	       (double)first / 1048576, (double)second / 1048576, (double)st.st_size / 1048576);
	zone_unref(got);
	store_close(s);
	zone_unref(z);
	tdir_remove(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(crc32c_vectors),
	    cmocka_unit_test(open_errors),
	    cmocka_unit_test(save_then_load),
	    cmocka_unit_test(replace_and_drop),
	    cmocka_unit_test(full_map),
	    cmocka_unit_test(batch),
	    cmocka_unit_test(damaged_values),
	    cmocka_unit_test(kill_nine),
	    cmocka_unit_test(large_zone),
	    cmocka_unit_test(journal_replay),
	    cmocka_unit_test(journal_bounds),
	    cmocka_unit_test(journal_snapshot_waits_for_compact),
	    cmocka_unit_test(journal_full_map),
	    cmocka_unit_test(journal_damage),
	    cmocka_unit_test(journal_kill_nine),
	    cmocka_unit_test(journal_concurrent_reads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
