/* SPDX-License-Identifier: MIT */
/* shield: the defences of the query path and the change path, and their run-time controls. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <urcu.h>

#include "answer.h"
#include "cookie.h"
#include "ctl.h"
#include "netset.h"
#include "rrl.h"

struct server;
struct server_stats;

#define SHIELD_SLOTS      4096 /* per-address counters of TCP connections and transfers, per row */
#define SHIELD_LOG_BUDGET 5    /* RRL start/stop lines per second per worker */

/*
 * What the workers read, published whole by pointer swap (RCU): a change through ctl makes a
 * new copy and swaps it in, so the query path reads it without a lock and never sees half a
 * change. Each copy owns its sets.
 */
typedef struct shield_settings {
	rrl_params_t rrl; /* rate 0: off */
	netset_t *whitelist;
	netset_t *block;
	uint32_t notify_rate;   /* NOTIFY per second per client prefix; 0: no limit */
	uint32_t transfer_rate; /* transfer requests per second per client prefix; 0: no limit */
	uint32_t transfers_out; /* concurrent transfers out, in total */
	uint32_t transfers_out_per_address;
	uint32_t tcp_per_address; /* TCP connections per client address */
} shield_settings_t;

typedef struct shield {
	shield_settings_t *settings;  /* RCU: rcu_dereference inside a read section */
	cookie_secrets_t *secrets;    /* RCU, also answer_conf.cookies; NULL: cookies off */
	bool secrets_from_conf;       /* the configuration names them: a rotation is not kept */
	rrl_group_t *udp;             /* UDP workers: responses, NOTIFY and transfer requests */
	rrl_group_t *tcp;             /* TCP workers: NOTIFY and transfer requests */
	uint8_t key[SIPHASH_KEY_LEN]; /* for the per-address counters */
	_Atomic int transfers;        /* transfers out under way */
	/* Two rows of counters, an address counted in one slot of each by two halves of its
	 * hash, its count the smaller of the two: two addresses share a cap only when they
	 * collide in both rows, about one pair in 16 million, not one in 4096. */
	pthread_mutex_t slots_lock; /* over both: a connection or transfer begins or ends */
	int xfr_per[2][SHIELD_SLOTS];
	int tcp_per[2][SHIELD_SLOTS];
	_Atomic uint64_t transfers_busy; /* transfers refused by the caps */
	char *secret_path;               /* where generated secrets are kept */
} shield_t;

/* Sets the defences up from s->conf before the workers start; logs and returns an error. */
int shield_init(struct server *s);

/* Frees what shield_init made; the workers have stopped. */
void shield_deinit(struct server *s);

/*
 * Handles the control commands of the defences: rrl, block, unblock, limits, cookie-rotate.
 * Returns false when argv[0] is none of them. Runs on the zone manager thread.
 */
bool shield_ctl(struct server *s, int argc, char **argv, ctl_reply_t *r);

/* Appends the defences' counters, summed over the workers, to a status line (" name=N"), or
 * with --json to the status object (", \"name\": N"). */
void shield_status(struct server *s, ctl_reply_t *r);

/* The settings in force; call inside an RCU read section. */
static inline const shield_settings_t *shield_settings(shield_t *g)
{
	return rcu_dereference(g->settings);
}

/* The client of a socket address, for cookies, RRL and the block list. */
void shield_client(const struct sockaddr_storage *ss, answer_client_t *out);

static inline bool shield_blocked(const shield_settings_t *gs, const answer_client_t *c)
{
	return gs->block && netset_contains(gs->block, c->family, c->addr);
}

/*
 * Per-source limits of the change path: true when the NOTIFY (cls RRL_NOTIFY) or transfer
 * request (RRL_XFR) from c may be looked at, false when its prefix sent more than rate this
 * second (then drop it unanswered: an answer would be work for the flood).
 */
bool shield_allow(rrl_group_t *grp, unsigned worker, rrl_class_t cls, uint32_t rate,
                  const rrl_params_t *prefixes, const answer_client_t *c, uint32_t now);

/*
 * Response rate limiting of a batch of UDP answers, in two passes so that the table's cache
 * misses overlap: shield_rrl_prepare for each answer as it is made (false: exempt, nothing to
 * do: a valid server cookie, a validly signed query, the whitelist), then shield_rrl_finish for
 * each prepared one, which returns its length to send: the same, 0 (drop), or that of its
 * slipped form (TC, or BADCOOKIE for a client with a cookie but no valid server cookie).
 */
typedef struct shield_pending {
	int out; /* the caller's index of the answer */
	bool was_signed;
	answer_client_t client;
	answer_info_t info;
	rrl_request_t req;
	uint64_t hash;
	uint8_t name[DNAME_MAXLEN];
} shield_pending_t;

bool shield_rrl_prepare(shield_t *g, unsigned worker, const shield_settings_t *gs,
                        shield_pending_t *p, const uint8_t *resp, size_t len);
size_t shield_rrl_finish(shield_t *g, unsigned worker, const shield_settings_t *gs,
                         shield_pending_t *p, uint8_t *resp, size_t len, struct server_stats *st,
                         uint32_t now);

/* Counts what the query's COOKIE option said. */
void shield_count_cookie(struct server_stats *st, const answer_info_t *info);

/* After each batch: logs the RRL accounts that started or stopped being limited. */
void shield_tick(shield_t *g, rrl_group_t *grp, unsigned worker, uint32_t now, uint64_t *suppressed,
                 uint32_t *summary_at);

/*
 * A transfer out to peer may start: true and *slot set (release it with shield_xfr_end), or
 * false when transfers-out are under way in total or transfers-out-per-address for this
 * address (counted; the caller refuses it). Called on the TCP workers.
 */
bool shield_xfr_begin(shield_t *g, const struct sockaddr_storage *peer, int *slot, bool *total);
void shield_xfr_end(shield_t *g, int slot);

/* A TCP connection from peer may be kept: true and *slot set, or false at the per-address cap. */
bool shield_tcp_begin(shield_t *g, const shield_settings_t *gs, const struct sockaddr_storage *peer,
                      int *slot);
void shield_tcp_end(shield_t *g, int slot);

/* Seconds of the monotonic clock, for the per-second limits. */
uint32_t shield_now(void);

/*
 * True when a line about a single request may be logged now: at most SHIELD_LOG_BUDGET a second
 * per thread; the first one allowed after some were not says how many (a line of its own).
 */
bool shield_log_allow(void);

/*
 * Logs like log_msg, but at most a few lines per second per thread: under a flood of refused
 * NOTIFYs or transfer requests the log says how many were left out instead of filling the disk.
 */
void shield_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
