/* SPDX-License-Identifier: MIT */
/* rrl: response rate limiting, as pure logic: accounts, per-worker tables, decisions, events. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dname.h"
#include "netset.h"
#include "siphash.h"

/*
 * What a response is accounted as (BIND, NSD and Knot DNS classify alike): an answer by its
 * name and type, NXDOMAIN and NODATA by zone, a referral by its delegation, an error by zone (or
 * by client alone when no zone answered). RRL_NOTIFY and RRL_XFR are not responses: they
 * account NOTIFY messages and transfer requests by client prefix alone, for the per-source
 * limits of the change path.
 */
typedef enum {
	RRL_ANSWER,
	RRL_NODATA,
	RRL_NXDOMAIN,
	RRL_REFERRAL,
	RRL_ERROR,
	RRL_NOTIFY,
	RRL_XFR,
	RRL_NCLASSES,
} rrl_class_t;

/* The class's name in log lines and ctl output ("answer", "nxdomain", ...). */
const char *rrl_class_name(rrl_class_t cls);

/* How to limit: set by configuration and changed at run time (ctl). */
typedef struct rrl_params {
	uint32_t rate;   /* responses per second per account; 0 means no limit */
	uint32_t slip;   /* 0: drop every limited response; 1: truncate each; N: every Nth */
	uint8_t v4_bits; /* client prefix lengths: /24 and /56 by default */
	uint8_t v6_bits;
} rrl_params_t;

/* One response (or message) to account. name is a wire name in any case; NULL is the root. */
typedef struct rrl_request {
	uint8_t family;      /* NET_V4 or NET_V6 */
	const uint8_t *addr; /* the client's address: 4 or 16 bytes */
	rrl_class_t cls;
	uint16_t qtype; /* RRL_ANSWER only: part of the account */
	const uint8_t *name;
} rrl_request_t;

typedef enum { RRL_PASS, RRL_DROP, RRL_SLIP } rrl_action_t;

/*
 * The tables of a group of workers: one per worker, each written by its worker alone, so no
 * cache line is written by two threads. A decision counts into the worker's own table; only
 * when an account has gone past its share of the rate does the worker also read (never write)
 * the other workers' buckets for it, so that a client whose queries the kernel spreads over the
 * workers (SO_REUSEPORT hashes source ports) is limited to the rate in total, not per worker.
 */
typedef struct rrl_group rrl_group_t;

/*
 * A group of nworkers tables of at least size buckets each (rounded up to a power of two, 8
 * bytes a bucket), hashed with SipHash-2-4 under key (random, from the caller), so the memory
 * is fixed whatever the attacker's address space and nobody can aim collisions. The memory is
 * allocated zeroed and the system backs it only as buckets are used. track bounds the
 * accounts per worker whose start and end of limiting are reported (0: none). NULL when out of
 * memory or when an argument is out of range (nworkers 0 or over 1024, size over 2^28).
 */
rrl_group_t *rrl_group_new(unsigned nworkers, size_t size, unsigned track,
                           const uint8_t key[SIPHASH_KEY_LEN]);

/* Frees g; NULL is a no-op. No worker may be using it. */
void rrl_group_free(rrl_group_t *g);

/* Buckets per worker table. */
size_t rrl_group_size(const rrl_group_t *g);

/*
 * Accounts one response of worker `worker` at time now (seconds of a monotonic clock) and says
 * what to do with it: send it, drop it, or send it truncated (slip: every p->slip-th limited
 * response of this worker). An account may send p->rate responses in each second; the
 * per-worker bookkeeping may let slightly more through while the workers' counts are being
 * summed (at most a quarter of the rate, in a second where one worker saw few of them).
 * Allocates nothing, takes no lock and writes only the worker's own memory.
 */
rrl_action_t rrl_decide(rrl_group_t *g, unsigned worker, const rrl_params_t *p,
                        const rrl_request_t *r, uint32_t now);

/*
 * rrl_decide in two steps, so a worker can take a batch of responses through it with their
 * buckets' cache misses overlapped: rrl_hash each, rrl_prefetch its bucket, then
 * rrl_decide_hash each with the hash from the first step.
 */
uint64_t rrl_hash(const rrl_group_t *g, const rrl_params_t *p, const rrl_request_t *r);
void rrl_prefetch(const rrl_group_t *g, unsigned worker, uint64_t hash);
rrl_action_t rrl_decide_hash(rrl_group_t *g, unsigned worker, const rrl_params_t *p,
                             const rrl_request_t *r, uint64_t hash, uint32_t now);

/* An account that started or stopped being limited, for the log. */
typedef struct rrl_event {
	bool start; /* false: stopped */
	rrl_class_t cls;
	uint16_t qtype;
	netprefix_t prefix;
	uint8_t name[DNAME_MAXLEN]; /* lower case */
} rrl_event_t;

typedef void (*rrl_event_fn)(void *ctx, const rrl_event_t *ev);

/*
 * Reports the worker's pending events through fn: accounts that started being limited since the
 * last call, and those that have not been limited for two seconds. At most `budget` events per
 * second per worker are reported; the rest are counted in *suppressed (added to), so the log
 * stays bounded under any attack. When several workers limit the same account, one of them
 * reports it. Cheap when there is nothing to report: call it after every batch.
 */
void rrl_tick(rrl_group_t *g, unsigned worker, uint32_t now, unsigned budget, rrl_event_fn fn,
              void *ctx, uint64_t *suppressed);

/*
 * Works out the class and account name of the response resp[0..len) with the extended rcode
 * (the header keeps only its low bits) to a question whose zone has apex (lower-case wire name,
 * NULL when no zone answered). name gets the account name: the query name for answers, the
 * delegation for referrals (read from the authority section into buf), the apex otherwise.
 */
void rrl_classify(const uint8_t *resp, size_t len, uint16_t rcode, const uint8_t *apex,
                  uint8_t buf[DNAME_MAXLEN], rrl_request_t *r);

/*
 * Turns the response resp[0..len) into its slipped form in place: header, question and the OPT
 * record if it has one, with TC set and no other records, so the client retries over TCP; with
 * badcookie, RCODE BADCOOKIE instead of TC (RFC 7873 5.2.3: the client learns its server
 * cookie, which the response's OPT carries, and retries with it). Returns the new length.
 */
size_t rrl_slip(uint8_t *resp, size_t len, bool badcookie);

/* For tests: the counts of the account in each worker's table for the current second. */
uint32_t rrl__count(rrl_group_t *g, unsigned worker, const rrl_params_t *p, const rrl_request_t *r,
                    uint32_t now);

/* For tests and fuzzers: the set (of four buckets) the account lives in. */
size_t rrl__set(const rrl_group_t *g, const rrl_params_t *p, const rrl_request_t *r);
