/* SPDX-License-Identifier: MIT */
/* fuzz_rrl: the RRL table under a stream of accounts, workers and clock steps chosen by input. */
#include <string.h>

#include "fuzz.h"
#include "netset.h"
#include "rrl.h"

#define NACCT 64

/* The model of one account: its identity and what was passed in the current second. */
typedef struct acct {
	uint8_t addr[16];
	uint8_t family;
	rrl_class_t cls;
	uint16_t qtype;
	const uint8_t *name;
	uint32_t epoch, passed, sent; /* epoch: of the model's clock, bumped at each step */
	size_t set;
	int started; /* starts minus stops reported for its prefix and class */
} acct_t;

static const uint8_t *const names[4] = {(const uint8_t *)"", (const uint8_t *)"\3www\7example\3com",
                                        (const uint8_t *)"\3WWW\7Example\3COM",
                                        (const uint8_t *)"\7example\3net"};

typedef struct ctx {
	int events_this_second;
	uint32_t second;
	unsigned budget, nw;
} ctx_t;

static void on_event(void *arg, const rrl_event_t *ev)
{
	ctx_t *c = arg;
	FUZZ_CHECK(ev->cls < RRL_NCLASSES, "class %d", ev->cls);
	FUZZ_CHECK(ev->prefix.family == NET_V4 || ev->prefix.family == NET_V6, "family %d",
	           ev->prefix.family);
	FUZZ_CHECK(dname_check(ev->name, DNAME_MAXLEN) > 0, "event name malformed");
	c->events_this_second++;
	FUZZ_CHECK((unsigned)c->events_this_second <= c->budget * c->nw,
	           "%d events in one second, budget %u per worker", c->events_this_second,
	           c->budget);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 6)
		return 0;
	static const uint8_t key[16] = "fuzz-rrl-key-16b";
	rrl_params_t p = {.rate = 1u + data[0] % 64,
	                  .slip = data[1] % 4,
	                  .v4_bits = (uint8_t)(data[2] % 33),
	                  .v6_bits = (uint8_t)(data[3] % 129)};
	unsigned nw = 1u + data[4] % 4, track = data[5] % 9;
	size_t tsize = (size_t)16 << (data[5] >> 4 & 7);
	rrl_group_t *g = rrl_group_new(nw, tsize, track, key);
	FUZZ_CHECK(g != NULL, "no group");
	data += 6;
	size -= 6;

	acct_t acct[NACCT];
	memset(acct, 0, sizeof(acct));
	for (int i = 0; i < NACCT; i++) {
		acct_t *a = &acct[i];
		a->family = i % 5 == 4 ? NET_V6 : NET_V4;
		/* Clients in few prefixes, so accounts share them. */
		a->addr[0] = a->family == NET_V4 ? 192 : 0x20;
		a->addr[2] = (uint8_t)(i % 3);
		a->addr[3] = (uint8_t)i;
		a->addr[15] = (uint8_t)(i * 7);
		a->cls = (rrl_class_t)(i % RRL_NCLASSES);
		a->qtype = (uint16_t)(1 + i % 2);
		a->name = names[i % 4];
		a->epoch = UINT32_MAX;
	}
	ctx_t c = {.budget = 3, .nw = nw};
	uint32_t now = 1000, epoch = 0;
	uint64_t suppressed = 0;
	/* Accounts seen per set this second: more than four in a set may evict. */
	static uint16_t per_set[1 << 12];
	memset(per_set, 0, sizeof(per_set));

	for (size_t i = 0; i + 2 <= size; i += 2) {
		uint8_t op = data[i], arg = data[i + 1];
		if (op >= 0xF0) {
			/* Clocks step: forward usually, sometimes a big jump either way. */
			uint32_t step = op == 0xFF ? (uint32_t)arg << 12 : (uint32_t)(op & 7);
			uint32_t then = now;
			now = op == 0xFE ? now - arg : now + step;
			if (now != then) {
				/* Another second: every account starts over, in the model as in
				 * the table (which compares seconds modulo 2048, so a jump by a
				 * multiple of that looks like the same second: fewer pass). */
				epoch++;
				memset(per_set, 0, sizeof(per_set));
			}
			continue;
		}
		if (now != c.second) {
			c.second = now;
			c.events_this_second = 0;
		}
		unsigned w = op % nw;
		acct_t *a = &acct[arg % NACCT];
		rrl_request_t r = {a->family, a->addr, a->cls, a->qtype, a->name};
		if (a->epoch != epoch) {
			a->epoch = epoch;
			a->passed = a->sent = 0;
			a->set = rrl__set(g, &p, &r) % (1 << 12);
			if (per_set[a->set] < 0xFFFF)
				per_set[a->set]++;
		}
		rrl_action_t act = rrl_decide(g, w, &p, &r, now);
		FUZZ_CHECK(act == RRL_PASS || act == RRL_DROP || act == RRL_SLIP, "action %d", act);
		FUZZ_CHECK(act != RRL_SLIP || p.slip, "slipped with slip 0");
		a->sent++;
		if (act == RRL_PASS)
			a->passed++;
		/*
		 * An account never gets past the rate plus the workers' free share, unless a
		 * crowd in its set pushed it out (other accounts of the same prefix and class
		 * share it: the bound holds per account only while nobody else shares the
		 * bucket; accounts count alike, so this test is per set).
		 */
		uint32_t bound = p.rate + p.rate / 4 + nw;
		if (per_set[a->set] <= 1)
			FUZZ_CHECK(a->passed <= bound, "%u passed at rate %u with %u workers",
			           a->passed, p.rate, nw);
		if (op & 0x80)
			rrl_tick(g, w, now, c.budget, on_event, &c, &suppressed);
	}
	rrl_group_free(g);
	return 0;
}
