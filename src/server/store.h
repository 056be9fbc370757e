/* SPDX-License-Identifier: MIT */
/* store: durable zone snapshots and refresh timers of secondary zones, in LMDB. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "zone.h"

/*
 * One LMDB environment in the directory server.storage (data.mdb and lock.mdb), with the
 * named databases "zones" (key: lower-cased wire apex, value: a snapshot) and "timers" (same
 * key). A transfer's zone version and its timers are committed in one write transaction, with
 * LMDB's default fsync on commit, so what store_save_zone reported saved survives kill -9 and
 * power loss, and a crash mid-save leaves the previous snapshot whole.
 *
 * A store_t is used by one thread at a time (the zone manager; the loads at start may come
 * from another thread before it runs). Every call that fails leaves a message for
 * store_errmsg. Functions that take an apex fail with US_ENAME when it is not a well-formed
 * wire name.
 */
typedef struct store store_t;

#define STORE_DEFAULT_MAP_SIZE ((size_t)1 << 30) /* 1 GiB */

/*
 * Opens (creating if needed) the store in dir: dir itself is created with mode 0750 if missing
 * (its parent must exist), the data file with mode 0640. map_size_bytes is the most the file
 * may grow to (0 for STORE_DEFAULT_MAP_SIZE); a file already larger keeps its size. LMDB frees
 * a replaced snapshot's pages only for the commit after next, so a zone saved again and again
 * settles at three copies of its snapshot (about 35 to 50 bytes per record): size the map at
 * three times the largest snapshot plus the others, with margin.
 *
 * LMDB allows one environment per file per process, and the store allows one open store per
 * process: a second store_open before store_close fails with US_EEXIST. A child of fork() must
 * not use its parent's store.
 *
 * Returns 0 with *out owning the store (free it with store_close); US_EEXIST; US_ENOMEM;
 * US_EMALF when data.mdb is not an LMDB file (or of another LMDB format); or a negative errno
 * (EACCES, ENOTDIR, ...) from creating or opening the files. On failure *out is untouched and
 * nothing stays open.
 */
int store_open(const char *dir, size_t map_size_bytes, store_t **out);

/* Closes the store; everything committed is already on disk. NULL is a no-op. */
void store_close(store_t *s);

/*
 * The message for the most recent failure of a call on s, e.g. which record of a snapshot is
 * bad, or LMDB's own words; "" until a call fails. Successful calls leave it alone. Valid until
 * the next call on s.
 */
const char *store_errmsg(const store_t *s);

/* A secondary zone's refresh state, as the zone manager keeps it. Times are Unix seconds. */
typedef struct store_timers {
	int64_t last_refresh;  /* last successful SOA check or transfer; 0 never */
	int64_t next_refresh;  /* when to check the primary next */
	int64_t expire_at;     /* when the zone stops being served without a refresh */
	uint32_t serial;       /* serial of the stored version (z->serial when saved with it) */
	char primary[64];      /* "ADDR@PORT" the zone came from; NUL-terminated */
	int64_t last_error_at; /* 0 when no error */
	char last_error[160];  /* NUL-terminated; "" when no error */
} store_timers_t;

/*
 * Saves z (a snapshot of every record) and t under z's apex in one write transaction,
 * replacing the zone's previous snapshot and timers; call it before publishing z. Strings in
 * t are cut at their array size minus one if not terminated. z and t are only read.
 *
 * Returns 0 once the transaction is committed and synced. On any failure the transaction is
 * aborted and the previous snapshot and timers stay as they were: US_ENOSPC when the map or
 * the disk is full, US_ENOMEM, US_ELIMIT (LMDB's own limits), or a negative errno from I/O.
 */
int store_save_zone(store_t *s, const zone_t *z, const store_timers_t *t);

/*
 * Saves the timers of the zone named apex (wire form, any case) alone, leaving its snapshot
 * as it is (after a refresh that found no change, or an error); a zone with no snapshot may
 * have timers. Fails like store_save_zone.
 */
int store_save_timers(store_t *s, const uint8_t *apex, const store_timers_t *t);

/*
 * Loads the snapshot of the zone named apex (wire form, any case) and rebuilds it through
 * zone_builder, so it passes the same checks as any new version. t may be NULL; otherwise it
 * receives the zone's timers, read in the same transaction (all zero, serial = the zone's,
 * when none are stored).
 *
 * Returns 0 with *z owning the zone (zone_free); US_ENOENT when no snapshot is stored;
 * US_EMALF when the snapshot or the timers are damaged (bad header, checksum, lengths or
 * names); US_EZONE when its records fail the zone checks; US_ENOMEM; a negative errno from
 * LMDB. Damage is an error, never a crash. On failure *z and *t are untouched.
 */
int store_load_zone(store_t *s, const uint8_t *apex, zone_t **z, store_timers_t *t);

/* Loads the timers alone: 0, US_ENOENT when none are stored, US_EMALF; *t untouched on error. */
int store_load_timers(store_t *s, const uint8_t *apex, store_timers_t *t);

/*
 * Removes the snapshot and the timers of the zone named apex in one transaction. Returns 0
 * (also when nothing was stored), or fails like store_save_zone.
 */
int store_drop_zone(store_t *s, const uint8_t *apex);

/* CRC-32C (Castagnoli) of buf, continuing from crc (0 to start); exposed for the tests. */
uint32_t store__crc32c(uint32_t crc, const void *buf, size_t len);
