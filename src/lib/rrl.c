/* SPDX-License-Identifier: MIT */
/* rrl: response rate limiting with per-worker tables of packed 64-bit buckets. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "error.h"
#include "rrl.h"
#include "wire.h"

/*
 * A bucket is one 64-bit word, so another worker reads it whole with one relaxed load:
 *   tag (32) | window (11) | limited (1) | count (20)
 * tag is the account's hash beyond the set index (never 0: 0 is an empty bucket), window the
 * second it counts (modulo 2048), limited whether the account is limited in that second.
 * Buckets come in sets of four (32 bytes); an account lives in one set, replacing the bucket
 * with the fewest responses this second when it is new, so heavy accounts (floods) are the
 * last to be pushed out by a crowd of light ones.
 */
#define WAYS        4
#define WIN_BITS    11
#define WIN_MASK    ((1u << WIN_BITS) - 1)
#define COUNT_BITS  20
#define COUNT_MAX   ((1u << COUNT_BITS) - 1)
#define LIM_BIT     (1ull << COUNT_BITS)
#define LOG_SLOTS   256
#define MAX_WORKERS 1024
#define STOP_AFTER  2  /* seconds without limiting before an account is said to stop */
#define CLAIM_HOLD  10 /* seconds a reported start keeps other workers from reporting it */

static inline uint32_t b_tag(uint64_t w)
{
	return (uint32_t)(w >> 32);
}

static inline uint32_t b_win(uint64_t w)
{
	return (uint32_t)(w >> (COUNT_BITS + 1)) & WIN_MASK;
}

static inline uint32_t b_count(uint64_t w)
{
	return (uint32_t)w & COUNT_MAX;
}

static inline uint64_t b_pack(uint32_t tag, uint32_t win, bool lim, uint32_t count)
{
	return (uint64_t)tag << 32 | (uint64_t)(win & WIN_MASK) << (COUNT_BITS + 1) |
	       (lim ? LIM_BIT : 0) | count;
}

/* An account whose limiting this worker reports. */
typedef struct rrl_track {
	uint32_t set, tag;
	uint32_t last; /* the last second it was limited here */
	bool pending;  /* its start is yet to be reported */
	bool logged;   /* its start was reported by this worker, so its stop will be */
	rrl_event_t ev;
} rrl_track_t;

/* One worker's state, in its own allocation so that nothing of it shares a cache line. */
typedef struct rrl_worker {
	_Atomic uint64_t *b;
	size_t b_bytes; /* the mapping b lives in */
	uint64_t slip_ctr;
	uint64_t untracked; /* starts that found the track list full */
	rrl_track_t *track;
	unsigned ntrack;
	bool pending;
	uint32_t last_tick, log_second;
	unsigned log_used;
} rrl_worker_t;

struct rrl_group {
	unsigned n;
	unsigned track_max;
	size_t nsets;
	uint8_t key[SIPHASH_KEY_LEN];
	/* Written only when an account starts being limited, to let one worker report it. */
	_Atomic uint64_t logslot[LOG_SLOTS];
	rrl_worker_t *w[];
};

#define HUGE_PAGE (2u << 20)

/*
 * A table's memory: anonymous pages (zero, and backed only once touched), aligned to and
 * advised as huge pages. Each response touches a random bucket, so with 4 KiB pages nearly
 * every one is a TLB miss as well as a cache miss; on a 2 MiB page the TLB holds the table.
 */
static _Atomic uint64_t *table_alloc(size_t bytes, size_t *mapped)
{
	size_t len = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
	uint8_t *p =
	    mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uint8_t *a = (uint8_t *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	if (a + len < p + len + HUGE_PAGE)
		munmap(a + len, (size_t)(p + len + HUGE_PAGE - (a + len)));
	madvise(a, len, MADV_HUGEPAGE); /* a hint: without it the table works all the same */
	*mapped = len;
	return (_Atomic uint64_t *)a;
}

const char *rrl_class_name(rrl_class_t cls)
{
	static const char *const names[RRL_NCLASSES] = {"answer", "nodata", "nxdomain", "referral",
	                                                "error",  "notify", "transfer"};
	return (unsigned)cls < RRL_NCLASSES ? names[cls] : "?";
}

rrl_group_t *rrl_group_new(unsigned nworkers, size_t size, unsigned track,
                           const uint8_t key[SIPHASH_KEY_LEN])
{
	if (nworkers == 0 || nworkers > MAX_WORKERS || size > (1u << 28))
		return NULL;
	size_t nsets = 1;
	while (nsets * WAYS < size)
		nsets *= 2;
	rrl_group_t *g = calloc(1, sizeof(*g) + nworkers * sizeof(g->w[0]));
	if (!g)
		return NULL;
	g->n = nworkers;
	g->nsets = nsets;
	g->track_max = track;
	memcpy(g->key, key, SIPHASH_KEY_LEN);
	for (unsigned i = 0; i < nworkers; i++) {
		rrl_worker_t *w = aligned_alloc(64, (sizeof(*w) + 63) / 64 * 64);
		if (!w)
			goto fail;
		memset(w, 0, sizeof(*w));
		g->w[i] = w;
		w->b = table_alloc(nsets * WAYS * sizeof(uint64_t), &w->b_bytes);
		w->track = track ? calloc(track, sizeof(rrl_track_t)) : NULL;
		if (!w->b || (track && !w->track))
			goto fail;
	}
	return g;
fail:
	rrl_group_free(g);
	return NULL;
}

void rrl_group_free(rrl_group_t *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < g->n; i++) {
		if (!g->w[i])
			continue;
		if (g->w[i]->b)
			munmap((void *)g->w[i]->b, g->w[i]->b_bytes);
		free(g->w[i]->track);
		free(g->w[i]);
	}
	free(g);
}

size_t rrl_group_size(const rrl_group_t *g)
{
	return g->nsets * WAYS;
}

/* The account's client prefix: the address with the bits beyond the prefix length zeroed. */
static uint8_t prefix_of(const rrl_params_t *p, const rrl_request_t *r, uint8_t out[16])
{
	uint8_t bits = r->family == NET_V4 ? p->v4_bits : p->v6_bits;
	netprefix_mask(r->family, r->addr, bits, out);
	return bits;
}

/* Lower-cases the ASCII letters among 8 bytes at once (label lengths, at most 63, are not
 * letters). */
static inline uint64_t lower8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	uint64_t h = x & ~high;
	uint64_t ge_a = h + (0x80 - 'A') * ones, gt_z = h + (0x80 - 'Z' - 1) * ones;
	return x | ((ge_a & ~gt_z & ~x & high) >> 2);
}

/*
 * The account's keyed hash: one contiguous buffer through SipHash-1-3, the name first (lower-
 * cased 8 bytes at a time, so the words start at the buffer's start and nothing else is
 * touched), then class, family, type, prefix length and the prefix. This runs for every
 * response, so it is one pass over the name with no per-byte branches.
 */
static uint64_t account_hash(const rrl_group_t *g, const rrl_params_t *p, const rrl_request_t *r)
{
	_Alignas(8) uint8_t buf[DNAME_MAXLEN + 8 + 8 + 16];
	const uint8_t *name = r->name ? r->name : (const uint8_t *)"";
	size_t nlen = dname_len(name);
	memcpy(buf, name, nlen);
	for (size_t i = 0; i < nlen; i += 8) {
		uint64_t w;
		memcpy(&w, buf + i, 8);
		w = lower8(w);
		memcpy(buf + i, &w, 8);
	}
	uint8_t *h = buf + nlen;
	h[0] = (uint8_t)r->cls;
	h[1] = r->family;
	h[2] = r->cls == RRL_ANSWER ? (uint8_t)(r->qtype >> 8) : 0;
	h[3] = r->cls == RRL_ANSWER ? (uint8_t)r->qtype : 0;
	h[4] = prefix_of(p, r, h + 5);
	return siphash13(g->key, buf, nlen + 5 + (r->family == NET_V4 ? 4 : 16));
}

/*
 * Adds the other workers' counts of the account in this second to sum. True when one of them
 * has it limited already (the total went past the rate there).
 */
static bool others(const rrl_group_t *g, unsigned self, size_t set, uint32_t tag, uint32_t win,
                   uint32_t *sum)
{
	for (unsigned j = 0; j < g->n; j++) {
		if (j == self)
			continue;
		_Atomic uint64_t *b = g->w[j]->b + set;
		for (int i = 0; i < WAYS; i++) {
			uint64_t w = atomic_load_explicit(&b[i], memory_order_relaxed);
			if (b_tag(w) != tag || b_win(w) != win)
				continue;
			if (w & LIM_BIT)
				return true;
			*sum += b_count(w);
			break;
		}
	}
	return false;
}

static void track(rrl_group_t *g, rrl_worker_t *w, size_t set, uint32_t tag, uint32_t now,
                  const rrl_params_t *p, const rrl_request_t *r)
{
	for (unsigned i = 0; i < w->ntrack; i++) {
		if (w->track[i].set == set && w->track[i].tag == tag) {
			w->track[i].last = now;
			return;
		}
	}
	if (w->ntrack == g->track_max) {
		w->untracked++;
		return;
	}
	rrl_track_t *t = &w->track[w->ntrack++];
	memset(t, 0, sizeof(*t));
	t->set = (uint32_t)set;
	t->tag = tag;
	t->last = now;
	t->pending = true;
	t->ev.cls = r->cls;
	t->ev.qtype = r->qtype;
	t->ev.prefix.family = r->family;
	t->ev.prefix.bits = prefix_of(p, r, t->ev.prefix.addr);
	const uint8_t *name = r->name ? r->name : (const uint8_t *)"";
	dname_lower(t->ev.name, name, dname_len(name));
	w->pending = true;
}

static uint32_t free_share(const rrl_group_t *g, uint32_t rate)
{
	if (g->n == 1)
		return rate;
	uint32_t t = rate / (4 * g->n);
	return t ? t : 1;
}

uint64_t rrl_hash(const rrl_group_t *g, const rrl_params_t *p, const rrl_request_t *r)
{
	return account_hash(g, p, r);
}

void rrl_prefetch(const rrl_group_t *g, unsigned worker, uint64_t hash)
{
	__builtin_prefetch(g->w[worker]->b + (size_t)(hash & (g->nsets - 1)) * WAYS, 1);
}

rrl_action_t rrl_decide(rrl_group_t *g, unsigned worker, const rrl_params_t *p,
                        const rrl_request_t *r, uint32_t now)
{
	if (!p->rate)
		return RRL_PASS;
	return rrl_decide_hash(g, worker, p, r, account_hash(g, p, r), now);
}

rrl_action_t rrl_decide_hash(rrl_group_t *g, unsigned worker, const rrl_params_t *p,
                             const rrl_request_t *r, uint64_t h, uint32_t now)
{
	if (!p->rate)
		return RRL_PASS;
	size_t set = (size_t)(h & (g->nsets - 1)) * WAYS;
	uint32_t tag = (uint32_t)(h >> 32) | 1, win = now & WIN_MASK;
	rrl_worker_t *w = g->w[worker];
	_Atomic uint64_t *b = w->b + set;
	int slot = -1, victim = 0;
	uint32_t vcount = UINT32_MAX, count = 0;
	bool lim = false;
	for (int i = 0; i < WAYS; i++) {
		uint64_t x = atomic_load_explicit(&b[i], memory_order_relaxed);
		bool current = b_win(x) == win && b_tag(x) != 0;
		if (b_tag(x) == tag) {
			slot = i;
			if (current) {
				count = b_count(x);
				lim = (x & LIM_BIT) != 0;
			}
			break;
		}
		uint32_t c = current ? b_count(x) : 0;
		if (c < vcount) {
			vcount = c;
			victim = i;
		}
	}
	if (slot < 0)
		slot = victim;
	if (count < COUNT_MAX)
		count++;
	bool first = false;
	if (!lim) {
		uint32_t sum = count;
		if (count > p->rate)
			lim = true;
		else if (count > free_share(g, p->rate))
			lim = others(g, worker, set, tag, win, &sum) || sum > p->rate;
		first = lim;
	}
	atomic_store_explicit(&b[slot], b_pack(tag, win, lim, count), memory_order_relaxed);
	if (!lim)
		return RRL_PASS;
	if (first && g->track_max)
		track(g, w, set, tag, now, p, r);
	w->slip_ctr++;
	if (p->slip && w->slip_ctr % p->slip == 0)
		return RRL_SLIP;
	return RRL_DROP;
}

/* True if this worker is the one to report the start of the account: the first to claim it. */
static bool claim(rrl_group_t *g, const rrl_track_t *t, uint32_t now)
{
	_Atomic uint64_t *slot = &g->logslot[t->tag % LOG_SLOTS];
	uint64_t old = atomic_load_explicit(slot, memory_order_relaxed);
	if ((uint32_t)(old >> 32) == t->tag && now - (uint32_t)old < CLAIM_HOLD)
		return false;
	return atomic_compare_exchange_strong(slot, &old, (uint64_t)t->tag << 32 | now);
}

static void report(rrl_worker_t *w, uint32_t now, unsigned budget, rrl_event_fn fn, void *ctx,
                   rrl_track_t *t, bool start, uint64_t *suppressed)
{
	if (now != w->log_second) {
		w->log_second = now;
		w->log_used = 0;
	}
	if (w->log_used >= budget) {
		(*suppressed)++;
		return;
	}
	w->log_used++;
	t->ev.start = start;
	fn(ctx, &t->ev);
}

void rrl_tick(rrl_group_t *g, unsigned worker, uint32_t now, unsigned budget, rrl_event_fn fn,
              void *ctx, uint64_t *suppressed)
{
	rrl_worker_t *w = g->w[worker];
	if (!w->pending && now == w->last_tick)
		return;
	w->pending = false;
	w->last_tick = now;
	*suppressed += w->untracked;
	w->untracked = 0;
	for (unsigned i = 0; i < w->ntrack;) {
		rrl_track_t *t = &w->track[i];
		if (t->pending) {
			t->pending = false;
			t->logged = claim(g, t, now);
			if (t->logged)
				report(w, now, budget, fn, ctx, t, true, suppressed);
		} else if (now - t->last >= STOP_AFTER) {
			if (t->logged)
				report(w, now, budget, fn, ctx, t, false, suppressed);
			w->track[i] = w->track[--w->ntrack];
			continue;
		}
		i++;
	}
}

uint32_t rrl__count(rrl_group_t *g, unsigned worker, const rrl_params_t *p, const rrl_request_t *r,
                    uint32_t now)
{
	uint64_t h = account_hash(g, p, r);
	size_t set = (size_t)(h & (g->nsets - 1)) * WAYS;
	uint32_t tag = (uint32_t)(h >> 32) | 1;
	for (int i = 0; i < WAYS; i++) {
		uint64_t x = atomic_load_explicit(&g->w[worker]->b[set + i], memory_order_relaxed);
		if (b_tag(x) == tag && b_win(x) == (now & WIN_MASK))
			return b_count(x);
	}
	return 0;
}

/* ---- classifying and slipping responses ---- */

void rrl_classify(const uint8_t *resp, size_t len, uint16_t rcode, const uint8_t *apex,
                  uint8_t buf[DNAME_MAXLEN], rrl_request_t *r)
{
	uint16_t flags = wire_read16(resp + WIRE_FLAGS);
	bool question = len > WIRE_HDR_LEN && wire_read16(resp + WIRE_QDCOUNT) == 1;
	r->qtype = 0;
	r->name = apex;
	if (rcode == WIRE_RCODE_NXDOMAIN) {
		r->cls = RRL_NXDOMAIN;
		return;
	}
	if (rcode != WIRE_RCODE_NOERROR || !question) {
		r->cls = RRL_ERROR;
		return;
	}
	/* The question is the client's, checked by answer_query: uncompressed and whole. */
	size_t qend = WIRE_HDR_LEN + dname_len(resp + WIRE_HDR_LEN) + 4;
	if (wire_read16(resp + WIRE_ANCOUNT) > 0) {
		r->cls = RRL_ANSWER;
		r->name = resp + WIRE_HDR_LEN;
		r->qtype = wire_read16(resp + qend - 4);
		return;
	}
	r->cls = RRL_NODATA;
	if ((flags & WIRE_AA) || wire_read16(resp + WIRE_NSCOUNT) == 0)
		return;
	/* A referral: the delegation is the owner of the first authority record (the NS). */
	size_t pos = qend, nlen;
	if (dname_unpack(resp, len, &pos, buf, &nlen) == 0) {
		r->cls = RRL_REFERRAL;
		r->name = buf;
	}
}

/* Skips one record at *pos of our own response; false past the end. */
static bool skip_record(const uint8_t *m, size_t len, size_t *pos, uint16_t *type)
{
	uint8_t name[DNAME_MAXLEN];
	size_t nlen;
	if (dname_unpack(m, len, pos, name, &nlen) < 0 || *pos + 10 > len)
		return false;
	*type = wire_read16(m + *pos);
	size_t end = *pos + 10 + wire_read16(m + *pos + 8);
	if (end > len)
		return false;
	*pos = end;
	return true;
}

size_t rrl_slip(uint8_t *resp, size_t len, bool badcookie)
{
	size_t qend = WIRE_HDR_LEN;
	if (len < WIRE_HDR_LEN)
		return len;
	if (wire_read16(resp + WIRE_QDCOUNT) == 1 && dname_check(resp + qend, len - qend) > 0)
		qend += dname_len(resp + qend) + 4;
	if (qend > len)
		qend = WIRE_HDR_LEN;
	unsigned n = (unsigned)wire_read16(resp + WIRE_ANCOUNT) + wire_read16(resp + WIRE_NSCOUNT) +
	             wire_read16(resp + WIRE_ARCOUNT);
	size_t pos = qend, opt_off = 0, opt_len = 0;
	for (unsigned i = 0; i < n; i++) {
		size_t at = pos;
		uint16_t type;
		if (!skip_record(resp, len, &pos, &type))
			break;
		if (type == WIRE_T_OPT) {
			opt_off = at;
			opt_len = pos - at;
		}
	}
	uint16_t flags = wire_read16(resp + WIRE_FLAGS);
	if (badcookie)
		flags = (uint16_t)((flags & ~0x000F & ~WIRE_TC) | (WIRE_RCODE_BADCOOKIE & 0xF));
	else
		flags |= WIRE_TC;
	wire_write16(resp + WIRE_FLAGS, flags);
	wire_write16(resp + WIRE_ANCOUNT, 0);
	wire_write16(resp + WIRE_NSCOUNT, 0);
	wire_write16(resp + WIRE_ARCOUNT, opt_len ? 1 : 0);
	if (opt_len) {
		memmove(resp + qend, resp + opt_off, opt_len);
		if (badcookie)
			resp[qend + 5] = WIRE_RCODE_BADCOOKIE >> 4; /* the OPT's extended RCODE */
	}
	return qend + opt_len;
}

size_t rrl__set(const rrl_group_t *g, const rrl_params_t *p, const rrl_request_t *r)
{
	return (size_t)(account_hash(g, p, r) & (g->nsets - 1));
}
