/* SPDX-License-Identifier: MIT */
/* store: durable zone snapshots, journals of changes and refresh timers, in LMDB. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "zone.h"

/*
 * One LMDB environment in the directory server.storage (data.mdb and lock.mdb), with the
 * named databases "zones" (key: lower-cased wire apex, value: a snapshot), "timers" (same
 * key), "journal" (key: apex and a sequence number, value: the change from one serial to the
 * next) and "jmeta" (key: apex, value: the journal's bounds). A zone is stored as a snapshot
 * plus the journal entries after it: a new version costs one entry, in proportion to the
 * change, and a fresh snapshot is written only when the entries a load would replay outweigh
 * the snapshot, or when trimming the journal to its bounds would drop one of them. A new
 * version's entry (or snapshot) and its timers are committed in one write transaction, with
 * LMDB's default fsync on commit, so what store_save_change reported saved survives kill -9
 * and power loss, and a crash mid-save leaves the previous version whole.
 *
 * Every call but store_journal_read is made by one thread at a time (the zone manager; the
 * loads at start may come from another thread before it runs). store_journal_read may run on
 * any number of other threads at the same time, each in its own short LMDB read transaction
 * (a thread holds at most one at a time, as LMDB's default thread-local reader slots
 * require); it reports through its own err buffer, never store_errmsg. Every other call that
 * fails leaves a message for store_errmsg. Functions that take an apex fail with US_ENAME
 * when it is not a well-formed wire name.
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

/*
 * Groups the calls that follow into one write transaction, so that many zones' writes cost one
 * sync to disk: until store_batch_commit, each call but store_journal_read runs in a child
 * transaction of the batch. What a call writes is visible to the calls after it (loads too),
 * but neither durable nor visible to store_journal_read on other threads until the commit; a
 * call that fails undoes its own part only, as outside a batch. Meant for writes whose
 * durability nothing waits on, such as the first snapshots of the primary zones loaded at
 * start (their zone files are the source); a version a peer waits to see served must not be
 * batched. Returns 0, US_EINVAL when a batch is open already, or LMDB's failure.
 */
int store_batch_begin(store_t *s);

/*
 * Commits the open batch with one sync and ends it. Returns 0 (also with no batch open), or
 * the failure: then nothing written in the batch is stored, and the store is as before it.
 */
int store_batch_commit(store_t *s);

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

/* Bounds on one zone's journal; 0 means the default. */
typedef struct store_journal_limits {
	uint32_t max_depth; /* entries (changes from one serial to the next) kept */
	uint64_t max_size;  /* bytes of entries kept */
} store_journal_limits_t;

#define STORE_JOURNAL_DEPTH 20                   /* as Knot DNS's journal-max-depth */
#define STORE_JOURNAL_SIZE  ((uint64_t)64 << 20) /* 64 MiB */
#define STORE_REPLAY_MAX    1000                 /* entries a load applies to the snapshot */

/*
 * Saves the new version z and t under z's apex in one write transaction; call it before
 * publishing z. cs, when not NULL, is the change from the stored version to z (an IXFR as
 * received, or zonediff_compute's): each of its diffs becomes a journal entry, and the oldest
 * entries go while the journal is past lim's bounds (NULL: the defaults). When cs is NULL,
 * or does not start at the stored serial, or does not move the serial forward (RFC 1982),
 * the journal starts afresh: a snapshot of z and no history. Otherwise the bounds drop the
 * oldest entries, but none that a load needs: those stay until store_compact writes a new
 * snapshot, so that writing one, which for a large zone takes long, need not delay the change
 * at hand. Strings in t are
 * cut at their array size minus one if not terminated. Everything passed is only read.
 *
 * Returns 0 once the transaction is committed and synced. On any failure the transaction is
 * aborted and the previous version, journal and timers stay as they were: US_ENOSPC when the
 * map or the disk is full, US_ENOMEM, US_ELIMIT (LMDB's own limits), or a negative errno from
 * I/O.
 */
int store_save_change(store_t *s, const zone_t *z, const zone_changeset_t *cs,
                      const store_journal_limits_t *lim, const store_timers_t *t);

/*
 * Writes a new snapshot of z, the latest version saved, when the journal is past lim's bounds
 * only because a load needs its entries, or when the entries since the snapshot outweigh it or
 * number more than STORE_REPLAY_MAX; then trims the journal to its bounds. Call it after
 * store_save_change, once the version is published. Does nothing (returns 0) when no snapshot
 * is due, or z is not the latest version stored. Fails like store_save_change, leaving the
 * journal as it was.
 */
int store_compact(store_t *s, const zone_t *z, const store_journal_limits_t *lim);

/* store_save_change with no changeset: a snapshot of z, the journal emptied. */
int store_save_zone(store_t *s, const zone_t *z, const store_timers_t *t);

/*
 * Saves the timers of the zone named apex (wire form, any case) alone, leaving its snapshot
 * as it is (after a refresh that found no change, or an error); a zone with no snapshot may
 * have timers. Fails like store_save_zone.
 */
int store_save_timers(store_t *s, const uint8_t *apex, const store_timers_t *t);

/*
 * Loads the latest version of the zone named apex (wire form, any case): its snapshot,
 * rebuilt through zone_builder so it passes the same checks as any new version, then the
 * journal entries after it applied with zone_apply. t may be NULL; otherwise it
 * receives the zone's timers, read in the same transaction (all zero, serial = the zone's,
 * when none are stored).
 *
 * Returns 0 with *z owning the zone (zone_unref); US_ENOENT when no snapshot is stored;
 * US_EMALF when the snapshot, the journal or the timers are damaged (bad header, checksum,
 * lengths or names, entries that do not chain or apply); US_EZONE when its records fail the zone
 * checks; US_ENOMEM; a negative errno from LMDB. Damage is an error, never a crash. On failure *z
 * and *t are untouched.
 */
int store_load_zone(store_t *s, const uint8_t *apex, zone_t **z, store_timers_t *t);

/* Loads the timers alone: 0, US_ENOENT when none are stored, US_EMALF; *t untouched on error. */
int store_load_timers(store_t *s, const uint8_t *apex, store_timers_t *t);

/*
 * Reads the history of the zone named apex from serial `from` to serial `to` (the latest
 * stored version) and condenses it into one diff (zonediff_condense) in *out, its cells and
 * record bytes in arena. Safe from any thread, concurrently with the zone manager's writes
 * (see above). Returns 0; US_ENOENT when the journal does not hold a chain from `from` to
 * `to` (too old, never seen, or `to` is not the latest); US_ELIMIT when the entries carry more
 * than max_records records (0: no bound) before condensing, where a whole zone is cheaper;
 * US_EMALF when an entry is damaged; US_ENOMEM; an LMDB error. err (errlen bytes) says why.
 */
int store_journal_read(store_t *s, const uint8_t *apex, uint32_t from, uint32_t to,
                       uint64_t max_records, arena_t *arena, zone_changeset_t *out, char *err,
                       size_t errlen);

/* What a zone's journal holds, for tests, the bench and operators. */
typedef struct store_journal_info {
	uint32_t entries;        /* changes kept */
	uint32_t replay;         /* of which a load applies to the snapshot */
	uint64_t bytes;          /* the entries' size */
	uint64_t snapshot_bytes; /* the snapshot's size */
	uint32_t serial;         /* the latest version's */
	uint32_t oldest;         /* the oldest serial an IXFR can start from */
} store_journal_info_t;

/* Fills *info: 0, US_ENOENT when the zone has no journal, US_EMALF, or an LMDB error. */
int store_journal_info(store_t *s, const uint8_t *apex, store_journal_info_t *info);

/*
 * Removes the snapshot, the journal and the timers of the zone named apex in one transaction.
 * Returns 0 (also when nothing was stored), or fails like store_save_zone.
 */
int store_drop_zone(store_t *s, const uint8_t *apex);

/* CRC-32C (Castagnoli) of buf, continuing from crc (0 to start); exposed for the tests. */
uint32_t store__crc32c(uint32_t crc, const void *buf, size_t len);
