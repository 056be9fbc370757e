/* SPDX-License-Identifier: MIT */
/* server: the daemon's shared state, its lifecycle, and the zone manager. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "answer.h"
#include "ctl.h"
#include "conf.h"
#include "store.h"
#include "zonedb.h"

/* Per-thread counters, written only by their thread and summed when read. */
typedef struct server_stats {
	_Alignas(64) atomic_uint_fast64_t queries;
	atomic_uint_fast64_t rcode[16];
	atomic_uint_fast64_t tcp_refused; /* connections turned away at the limit */
	/* The defences (shield.c, docs/under-attack.md). */
	atomic_uint_fast64_t rrl_limited; /* responses over the rate: slipped + dropped */
	atomic_uint_fast64_t rrl_slipped; /* sent truncated (or BADCOOKIE) instead */
	atomic_uint_fast64_t rrl_dropped; /* not sent */
	atomic_uint_fast64_t cookie_good; /* queries with a valid server cookie */
	atomic_uint_fast64_t cookie_bad;  /* an invalid or malformed server cookie */
	atomic_uint_fast64_t cookie_client_only;
	atomic_uint_fast64_t badcookie;           /* BADCOOKIE answers (slips of cookie clients) */
	atomic_uint_fast64_t blocked;             /* queries dropped: the client is blocked */
	atomic_uint_fast64_t notify_limited;      /* NOTIFY dropped over the per-source rate */
	atomic_uint_fast64_t notify_refused;      /* NOTIFY answered with an error */
	atomic_uint_fast64_t transfer_limited;    /* transfer requests over the per-source rate */
	atomic_uint_fast64_t transfer_refused;    /* transfer requests answered with an error */
	atomic_uint_fast64_t tcp_timeouts;        /* a message did not arrive whole in time */
	atomic_uint_fast64_t tcp_refused_address; /* connections over the per-address cap */
	atomic_uint_fast64_t notify_accepted;     /* NOTIFY answered NOERROR */
	atomic_uint_fast64_t tsig_failures;       /* signed requests that failed the TSIG check */
} server_stats_t;

/*
 * Counters of the threads that have no server_stats_t of their own (the zone manager, the
 * transfer and NOTIFY threads): rare events, so an atomic add each.
 */
typedef struct server_cold_stats {
	atomic_uint_fast64_t tsig_failures; /* answers to our signed requests failing TSIG, or
	                                     * a peer refusing our key */
	atomic_uint_fast64_t notify_out_answered;
	atomic_uint_fast64_t notify_out_failed;
} server_cold_stats_t;

/* The calling thread's own counters: set by each worker as it starts, NULL elsewhere. */
extern _Thread_local server_stats_t *server_stats_self;

/* server_zone_t.xfr[direction][kind][result]: transfers of the zone, for /metrics. */
enum { SERVER_XFR_IN, SERVER_XFR_OUT };
enum { SERVER_XFR_AXFR, SERVER_XFR_IXFR };
enum { SERVER_XFR_OK, SERVER_XFR_FAILED, SERVER_XFR_HELD, SERVER_XFR_NRESULTS };

/* A counter has one writer, its own thread: a relaxed load and store do, without the locked
 * instruction an atomic add costs on the query path. */
static inline void stat_inc(atomic_uint_fast64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

/* server_zone_t.notified: no NOTIFY waiting, one from a sender that is not a primary of the
 * zone, or one from the primary at position (value - NOTIFIED_BY) in its conf->primaries. */
enum { NOTIFIED_NONE, NOTIFIED_OTHER, NOTIFIED_BY };
#define NOTIFY_HINT (UINT64_C(1) << 32)

typedef struct server_zone {
	const conf_zone_t *conf;
	zonedb_slot_t *slot;
	size_t index; /* its place in server_t.zones */
	bool added;   /* by the reload under way, which loaded it */
	time_t loaded_at;
	time_t error_at;
	char error[256];
	/* Secondary state, owned by the zone manager thread. */
	time_t next_refresh; /* when to check the primary next */
	time_t expire_at;    /* when our copy stops being served; 0 while we have none */
	time_t last_refresh; /* the last check that reached a primary */
	char primary[64];    /* the primary the last check reached */
	uint32_t refresh, retry;
	unsigned failures; /* checks failed in a row */
	bool busy;         /* a check or transfer is running */
	bool again;        /* asked for again meanwhile: check once more when it ends, ... */
	int again_first; /* ... starting with this primary (a position in conf->primaries), or -1 */
	bool force_axfr; /* the next transfer is a full one */
	bool queued;     /* due, but transfers-in was full: starts as a job ends (xfrin_tick) */
	bool expired;
	bool journal_pending; /* primary: loaded at start, not yet compared with what was stored */
	bool notify_pending;  /* its serial changed while we were down: NOTIFY once stored */
	/*
	 * The policies' states (docs/configuration.md: expire-policy, serial-regression, the
	 * change guard, ZONEMD), for zone-status, /health and /metrics. Written by the zone
	 * manager thread only; times are Unix seconds, 0 while the state is off. `expired`
	 * above means no copy is served (SERVFAIL); `stale` means one is served past expiry.
	 */
	bool stale;                 /* expire-policy keep-serving: serving past expiry (EDE 3) */
	time_t stale_since;         /* when the copy expired */
	bool regressed;             /* a primary answered a serial older than ours (RFC 1982) */
	time_t regressed_since;     /* the first check that found it, in this run of it */
	uint32_t regressed_serial;  /* the primary's lower serial */
	char regressed_primary[64]; /* ADDR@PORT of the primary that has it */
	unsigned regressed_checks;  /* checks in a row in which every primary answered it */
	bool follow;                /* serial-regression follow: the next job takes it by AXFR */
	bool held;                  /* the change guard holds a transfer in: ctl accept / reject */
	time_t held_since;
	uint32_t held_serial;
	char held_from[64];       /* the primary it came from */
	char held_why[160];       /* what tripped the guard */
	bool rejected;            /* ctl reject: rejected_serial is not taken again unless */
	uint32_t rejected_serial; /* a transfer is forced (ctl retransfer) */
	bool zonemd_failed;       /* the last transfer in failed ZONEMD (not published) */
	time_t zonemd_failed_at;
	uint32_t zonemd_failed_serial;
	char zonemd_error[160];
	int zonemd;                 /* the served copy's ZONEMD: a zonemd_status_t (zonemd.h) */
	struct xfrin_job *held_job; /* what the guard holds: the version and its journal entry */
	/* Set by other threads, then the manager is woken: flags coalesce bursts for free. */
	atomic_int notified; /* a NOTIFY was accepted: NOTIFIED_* */
	/* Its SOA serial, when it came from the primary with the primary's TSIG key:
	 * NOTIFY_HINT | serial, else 0 (notify.c; xfrin.c then skips its SOA query). */
	atomic_uint_fast64_t notify_hint;
	bool has_hint; /* the next job's hint: manager thread */
	uint32_t hint_serial;
	struct xfrin_job *_Atomic done; /* a finished check or transfer, to take in */
	struct fleet_zone *fleet;       /* what the fleet monitor knows of every copy (fleetmon) */
	/* Transfers finished, by direction, kind and result (SERVER_XFR_*): in by the zone
	 * manager, out by the TCP and TLS workers, so added atomically (rare, off the query
	 * path); read by /metrics. */
	atomic_uint_fast64_t xfr[2][2][SERVER_XFR_NRESULTS];
	/* Transfers out under way that will count in xfr: a zone a reload removed is freed only
	 * once none is left (server_reap). */
	atomic_int xfr_out;
} server_zone_t;

/*
 * One configuration with what is made from it: the zone table the workers read, the TSIG keys
 * ready for signing (same indexes as conf->keys). Threads other than the zone manager reach
 * these only through server_t.gen, loaded once per request with rcu_dereference inside an RCU
 * read section (so the conf, keys and zone table they use always belong together); whatever
 * uses them past its read section (a transfer in or out, a NOTIFY out) holds a reference, and
 * a generation replaced by ctl reload is freed only after a grace period and its last
 * reference (server_apply_conf, docs/design-notes.md).
 */
typedef struct server_gen {
	conf_t *conf;
	zonedb_t *db;
	struct tsig_key *keys;
	bool *lenient_noted; /* per remote: its IXFRs' redundant additions have been logged */
	unsigned *xfrin_per_primary; /* per remote: refresh jobs asking it first (zone manager) */
	struct tls_client **tls_clients; /* per remote: its TLS context (tls.h), NULL: clear text */
	atomic_int refs;                 /* holders outside an RCU read section */
	/* Once retired: the zones the change removed, freed when their last job is taken in. */
	struct server_zone **dropped;
	size_t ndropped;
	struct server_gen *next;
} server_gen_t;

typedef struct server {
	/* The zone manager's view of the current generation (gen's, and the zones): it is the
	 * only writer, so it reads these directly. */
	conf_t *conf;
	zonedb_t *db;
	server_zone_t **zones; /* conf->nzones, each its own allocation: state outlives a reload */
	server_gen_t *gen;     /* for every other thread: rcu_dereference, see server_gen_t */
	server_gen_t *retired; /* replaced generations waiting for their last reference */
	/* Called by ctl reload with the configuration just read, before it is applied: the
	 * catalog consumer adds the members of its catalogs there (conf_add_zone). 0 or an
	 * error, which refuses the reload with the message written to r. */
	int (*extend_conf)(struct server *s, conf_t *next, struct ctl_reply *r);
	answer_conf_t answer;
	atomic_bool stop;
	time_t started;
	server_stats_t *stats; /* one per worker thread */
	int nstats;
	struct store *store;
	struct tsig_key *keys; /* gen->keys */
	int wake_fd;           /* eventfd: other threads wake the zone manager through it */
	/* Refresh jobs under way, in total (transfers-in; per primary in gen, whose remotes they
	 * count); the zone manager's alone. */
	unsigned xfrin_jobs;
	size_t xfrin_cursor;    /* the zone xfrin_tick looks at first, so the queue is fair */
	struct fleetmon *fleet; /* asks every copy of every zone for its serial */
	struct connpool *pool;  /* idle TCP connections to primaries (connpool.h) */
	struct tls *tls;        /* XFR over TLS: the listener's pool, the remotes' contexts */
	/* Listening sockets, bound at start while still root and handed to the workers as they
	 * start (-1 once handed over): udp_fds[address * udp_workers + worker],
	 * tcp_fds[worker * nlisten + address]. */
	int *udp_fds, *tcp_fds;
	struct shield *shield; /* RRL, cookies, blocking, change-path limits (shield.h) */
	struct catz *catz;     /* the consumer catalogs' applied member lists (catz.h) */
	server_cold_stats_t cold;
	struct http *http; /* the HTTP listener (http.h), NULL without server.http */
} server_t;

/* Counts a failed TSIG check: on the thread's own counters when it has them. */
void server_count_tsig_failure(server_t *s);

/* Counts a finished transfer of z (SERVER_XFR_* values); safe from any thread. */
void server_count_xfr(server_zone_t *z, int direction, int kind, int result);

/*
 * The configuration of the zone in slot, a slot of g->db: the one to use with g->conf's acls
 * and remotes, where z->conf may already be the next generation's. Slots are added in the
 * order of g->conf->zones (setup, server_apply_conf), so the slot's index is the zone's.
 */
static inline const conf_zone_t *server_gen_zone(const server_gen_t *g, const zonedb_slot_t *slot)
{
	return &g->conf->zones[slot - g->db->slots];
}

/* The TLS client context of remote (an index in g->conf->remotes), NULL for a clear-text one. */
static inline const struct tls_client *server_gen_tls(const server_gen_t *g, int remote)
{
	return g->tls_clients && remote >= 0 && (size_t)remote < g->conf->nremotes
	           ? g->tls_clients[remote]
	           : NULL;
}

/* Takes a reference on the current generation, for use past an RCU read section; any thread. */
server_gen_t *server_gen_ref(server_t *s);

/* Drops a reference taken with server_gen_ref (NULL: none); any thread. The zone manager frees
 * a retired generation once the last one is gone. */
void server_gen_unref(server_gen_t *g);

/*
 * Zone manager only: makes next the running configuration, as ctl reload does after reading
 * the file, and takes ownership of next whatever the outcome. The new zone table is built
 * beside the old one: zones that stay keep their state and their served version (answered
 * without a gap), added ones are loaded (primary) or restored and bootstrapped (secondary)
 * before the table is published, removed ones stop being answered (REFUSED) and lose their
 * stored copy and journal. Keys, remotes, ACLs and templates change with it. Server settings
 * that only a restart can change (listen addresses, workers, user, storage, ...) keep their
 * running values and are named in r. Returns 0, or a negative US_E* code with nothing
 * changed and the reason in r (a TLS remote changed, out of memory).
 */
int server_apply_conf(server_t *s, conf_t *next, struct ctl_reply *r);

/* Frees what retired generations no one holds any more. Zone manager only. */
void server_reap(server_t *s);

/* Wakes the zone manager to look at the zones' flags; safe from any thread. */
void server_wake(server_t *s);

/* Runs the daemon with the configuration at path until SIGTERM/SIGINT; returns an exit code. */
int server_run(const char *conf_path);

/* Zone manager only: makes nz (NULL: nothing) the zone's served version and frees the old one
 * once no reader can hold it. */
void server_publish(server_zone_t *z, zone_t *nz);

/* The zone's journal bounds from its configuration. */
store_journal_limits_t server_journal_limits(const conf_zone_t *zc);

/*
 * Writes a snapshot of the zone's published version when its journal needs one
 * (store_compact): after publishing and NOTIFY, since for a large zone it takes long. Logs a
 * failure, which leaves the journal as it was.
 */
void server_compact(server_t *s, server_zone_t *z);

/* Loads (or reloads) one zone from its file, publishing the new version only if it is whole
 * and valid. Logs every problem; returns 0 or a negative US_E* code. */
int server_zone_load(server_t *s, server_zone_t *z);

/* Checks that no other socket holds a's port for type; 0 or a negative errno (EADDRINUSE). */
int server_port_free(const conf_addr_t *a, int type);

/* Opens a listening socket for a (SOCK_DGRAM or SOCK_STREAM) with SO_REUSEPORT; fd or -errno. */
int server_listen(const conf_addr_t *a, int type);

/* Starts the UDP worker threads for every listen address on the sockets in s->udp_fds; 0 or a
 * negative errno. */
int udp_start(server_t *s, pthread_t *threads, int *nthreads, int first_stats);

/* Starts the TCP worker threads on the sockets in s->tcp_fds; 0 or a negative errno. */
int tcp_start(server_t *s, pthread_t *threads, int *nthreads, int first_stats);
