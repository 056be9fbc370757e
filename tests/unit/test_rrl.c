/* SPDX-License-Identifier: MIT */
/* test_rrl: accounts, rates, slip, several workers, events, eviction, classes and slipping. */
#include <arpa/inet.h>

#include "util.h"

#include "netset.h"
#include "rrl.h"

static const uint8_t KEY[16] = "0123456789abcdef";
static const rrl_params_t P10 = {.rate = 10, .slip = 2, .v4_bits = 24, .v6_bits = 56};

static rrl_request_t req(const char *addr, rrl_class_t cls, uint16_t qtype, const uint8_t *name,
                         uint8_t buf[16])
{
	rrl_request_t r = {.cls = cls, .qtype = qtype, .name = name, .addr = buf};
	memset(buf, 0, 16);
	r.family = inet_pton(AF_INET, addr, buf) == 1 ? NET_V4 : NET_V6;
	if (r.family == NET_V6)
		assert_int_equal(inet_pton(AF_INET6, addr, buf), 1);
	return r;
}

/* Counts the actions of n decisions for r on worker w at time now. */
static void run(rrl_group_t *g, unsigned w, const rrl_params_t *p, const rrl_request_t *r,
                uint32_t now, int n, int counts[3])
{
	for (int i = 0; i < n; i++)
		counts[rrl_decide(g, w, p, r, now)]++;
}

static void rate_and_slip(void **state)
{
	(void)state;
	rrl_group_t *g = rrl_group_new(1, 1024, 0, KEY);
	assert_non_null(g);
	uint8_t a[16];
	rrl_request_t r = req("192.0.2.1", RRL_ANSWER, WIRE_T_A, (const uint8_t *)"\3www\0", a);
	int c[3] = {0};
	run(g, 0, &P10, &r, 100, 30, c);
	/* 10 sent, 20 limited: every second one of those slips. */
	assert_int_equal(c[RRL_PASS], 10);
	assert_int_equal(c[RRL_SLIP], 10);
	assert_int_equal(c[RRL_DROP], 10);
	/* The next second has a fresh allowance. */
	memset(c, 0, sizeof(c));
	run(g, 0, &P10, &r, 101, 12, c);
	assert_int_equal(c[RRL_PASS], 10);
	/* slip 0 drops all, slip 1 truncates all. */
	rrl_params_t p = P10;
	p.slip = 0;
	memset(c, 0, sizeof(c));
	run(g, 0, &p, &r, 102, 20, c);
	assert_int_equal(c[RRL_PASS], 10);
	assert_int_equal(c[RRL_DROP], 10);
	p.slip = 1;
	memset(c, 0, sizeof(c));
	run(g, 0, &p, &r, 103, 20, c);
	assert_int_equal(c[RRL_SLIP], 10);
	/* rate 0 is no limit. */
	p.rate = 0;
	memset(c, 0, sizeof(c));
	run(g, 0, &p, &r, 103, 100, c);
	assert_int_equal(c[RRL_PASS], 100);
	rrl_group_free(g);
}

static void accounts(void **state)
{
	(void)state;
	rrl_group_t *g = rrl_group_new(1, 4096, 0, KEY);
	uint8_t a[16], b[16];
	const uint8_t *www = (const uint8_t *)"\3www\0", *WWW = (const uint8_t *)"\3WwW\0";
	const uint8_t *mail = (const uint8_t *)"\4mail\0";
	rrl_request_t r = req("192.0.2.1", RRL_ANSWER, WIRE_T_A, www, a);
	int c[3] = {0};
	run(g, 0, &P10, &r, 7, 10, c);
	assert_int_equal(c[RRL_PASS], 10);
	/* Same /24, name in another case: the same account, so limited. */
	rrl_request_t same = req("192.0.2.254", RRL_ANSWER, WIRE_T_A, WWW, b);
	assert_int_not_equal(rrl_decide(g, 0, &P10, &same, 7), RRL_PASS);
	/* Another /24, another type, another name, another class: each its own account. */
	struct {
		const char *addr;
		rrl_class_t cls;
		uint16_t qtype;
		const uint8_t *name;
	} other[] = {
	    {"192.0.3.1", RRL_ANSWER, WIRE_T_A, www},
	    {"192.0.2.1", RRL_ANSWER, WIRE_T_AAAA, www},
	    {"192.0.2.1", RRL_ANSWER, WIRE_T_A, mail},
	    {"192.0.2.1", RRL_NXDOMAIN, 0, www},
	};
	for (size_t i = 0; i < 4; i++) {
		rrl_request_t o =
		    req(other[i].addr, other[i].cls, other[i].qtype, other[i].name, b);
		memset(c, 0, sizeof(c));
		run(g, 0, &P10, &o, 7, 10, c);
		assert_int_equal(c[RRL_PASS], 10);
	}
	/* The type counts for answers only: NXDOMAIN accounts by name (zone) alone. */
	rrl_request_t nx = req("192.0.2.1", RRL_NXDOMAIN, WIRE_T_MX, www, b);
	assert_int_equal(rrl__count(g, 0, &P10, &nx, 7), 10);
	/* IPv6 clients are accounted by /56. */
	rrl_request_t v6 = req("2001:db8:0:ff::1", RRL_ANSWER, WIRE_T_A, www, a);
	memset(c, 0, sizeof(c));
	run(g, 0, &P10, &v6, 7, 10, c);
	rrl_request_t v6b = req("2001:db8:0:1::2", RRL_ANSWER, WIRE_T_A, www, b);
	assert_int_not_equal(rrl_decide(g, 0, &P10, &v6b, 7), RRL_PASS);
	rrl_request_t v6c = req("2001:db8:0:100::2", RRL_ANSWER, WIRE_T_A, www, b);
	assert_int_equal(rrl_decide(g, 0, &P10, &v6c, 7), RRL_PASS);
	/* Configured prefix lengths: /32 makes each IPv4 address its own client. */
	rrl_params_t p32 = P10;
	p32.v4_bits = 32;
	rrl_request_t h1 = req("198.51.100.1", RRL_ANSWER, WIRE_T_A, www, a);
	memset(c, 0, sizeof(c));
	run(g, 0, &p32, &h1, 8, 10, c);
	rrl_request_t h2 = req("198.51.100.2", RRL_ANSWER, WIRE_T_A, www, b);
	assert_int_equal(rrl_decide(g, 0, &p32, &h2, 8), RRL_PASS);
	/* Address bytes that look like letters are not lower-cased with the name. */
	rrl_request_t up = req("65.66.67.1", RRL_ERROR, 0, NULL, a);
	memset(c, 0, sizeof(c));
	run(g, 0, &P10, &up, 9, 10, c);
	rrl_request_t low = req("97.98.99.1", RRL_ERROR, 0, NULL, b);
	assert_int_equal(rrl_decide(g, 0, &P10, &low, 9), RRL_PASS);
	rrl_group_free(g);
}

/* A client whose queries the kernel spreads over the workers gets the rate in total. */
static void workers_share_the_rate(void **state)
{
	(void)state;
	rrl_params_t p = {.rate = 100, .slip = 0, .v4_bits = 24, .v6_bits = 56};
	uint8_t a[16];
	rrl_request_t r = req("192.0.2.1", RRL_ANSWER, WIRE_T_A, (const uint8_t *)"\1x\0", a);
	for (unsigned nw = 2; nw <= 8; nw *= 2) {
		rrl_group_t *g = rrl_group_new(nw, 4096, 0, KEY);
		assert_non_null(g);
		/* Round robin over the workers. */
		int passed = 0;
		for (int i = 0; i < 1000; i++)
			passed += rrl_decide(g, (unsigned)i % nw, &p, &r, 50) == RRL_PASS;
		assert_int_equal(passed, 100);
		/* All on one worker: that worker alone gets the whole rate. */
		passed = 0;
		for (int i = 0; i < 1000; i++)
			passed += rrl_decide(g, 1, &p, &r, 51) == RRL_PASS;
		assert_int_equal(passed, 100);
		/* Skewed: worker 0 gets nine in ten. At most a quarter more gets through. */
		passed = 0;
		for (int i = 0; i < 1000; i++)
			passed += rrl_decide(g, i % 10 ? 0 : nw - 1, &p, &r, 52) == RRL_PASS;
		assert_true(passed >= 100 && passed <= 125);
		rrl_group_free(g);
	}
}

typedef struct events {
	int starts, stops;
	rrl_event_t last;
} events_t;

static void on_event(void *ctx, const rrl_event_t *ev)
{
	events_t *e = ctx;
	if (ev->start)
		e->starts++;
	else
		e->stops++;
	e->last = *ev;
}

static void start_and_stop_events(void **state)
{
	(void)state;
	rrl_group_t *g = rrl_group_new(2, 4096, 8, KEY);
	uint8_t a[16];
	rrl_request_t r =
	    req("192.0.2.77", RRL_NXDOMAIN, 0, (const uint8_t *)"\7Example\3com\0", a);
	events_t ev = {0};
	uint64_t suppressed = 0;
	int c[3] = {0};
	/* Both workers limit the account: one start is reported. */
	run(g, 0, &P10, &r, 10, 20, c);
	run(g, 1, &P10, &r, 10, 20, c);
	rrl_tick(g, 0, 10, 5, on_event, &ev, &suppressed);
	rrl_tick(g, 1, 10, 5, on_event, &ev, &suppressed);
	assert_int_equal(ev.starts, 1);
	assert_int_equal(ev.last.cls, RRL_NXDOMAIN);
	char text[NETSET_TEXT_MAX];
	netprefix_text(&ev.last.prefix, text, sizeof(text));
	assert_string_equal(text, "192.0.2.0/24");
	assert_memory_equal(ev.last.name, "\7example\3com\0", 13);
	/* Still limited the next second: no new events. */
	run(g, 0, &P10, &r, 11, 20, c);
	run(g, 1, &P10, &r, 11, 20, c);
	rrl_tick(g, 0, 11, 5, on_event, &ev, &suppressed);
	rrl_tick(g, 1, 11, 5, on_event, &ev, &suppressed);
	rrl_tick(g, 0, 12, 5, on_event, &ev, &suppressed);
	assert_int_equal(ev.starts, 1);
	assert_int_equal(ev.stops, 0);
	/* Two seconds without limiting: it stops, once. */
	rrl_tick(g, 0, 13, 5, on_event, &ev, &suppressed);
	rrl_tick(g, 1, 13, 5, on_event, &ev, &suppressed);
	rrl_tick(g, 0, 14, 5, on_event, &ev, &suppressed);
	assert_int_equal(ev.starts, 1);
	assert_int_equal(ev.stops, 1);
	assert_int_equal(suppressed, 0);

	/* A budget of 2 events a second: 5 new accounts give 2 lines and 3 suppressed. */
	memset(&ev, 0, sizeof(ev));
	for (int i = 0; i < 5; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "10.0.%d.1", i);
		rrl_request_t o = req(addr, RRL_ERROR, 0, NULL, a);
		run(g, 0, &P10, &o, 20, 11, c);
	}
	rrl_tick(g, 0, 20, 2, on_event, &ev, &suppressed);
	assert_int_equal(ev.starts, 2);
	assert_int_equal(suppressed, 3);
	/* More accounts than can be tracked are counted too. */
	suppressed = 0;
	for (int i = 0; i < 12; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "10.1.%d.1", i);
		rrl_request_t o = req(addr, RRL_ERROR, 0, NULL, a);
		run(g, 1, &P10, &o, 21, 11, c);
	}
	rrl_tick(g, 1, 21, 100, on_event, &ev, &suppressed);
	assert_int_equal(suppressed, 4); /* 8 tracked */
	rrl_group_free(g);
}

/*
 * A flood's account is not pushed out of the table by a crowd of light accounts, even in a
 * table far too small for them: new accounts replace the lightest bucket of their set.
 */
static void heavy_account_survives_a_crowd(void **state)
{
	(void)state;
	rrl_group_t *g = rrl_group_new(1, 64, 0, KEY);
	assert_int_equal(rrl_group_size(g), 64);
	rrl_params_t p = {.rate = 50, .slip = 0, .v4_bits = 24, .v6_bits = 56};
	uint8_t a[16], b[16];
	rrl_request_t heavy = req("192.0.2.1", RRL_ANSWER, WIRE_T_A, (const uint8_t *)"\1x\0", a);
	int passed = 0;
	for (int i = 0; i < 5000; i++) {
		passed += rrl_decide(g, 0, &p, &heavy, 9) == RRL_PASS;
		char addr[32];
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 256, i % 256);
		rrl_request_t light = req(addr, RRL_ANSWER, WIRE_T_A, (const uint8_t *)"\1y\0", b);
		rrl_decide(g, 0, &p, &light, 9);
	}
	assert_int_equal(passed, 50);
	rrl_group_free(g);
}

/* The hash is keyed: another key puts the same accounts in other sets. */
static void keyed_hash(void **state)
{
	(void)state;
	uint8_t k2[16] = "fedcba9876543210";
	rrl_group_t *g1 = rrl_group_new(1, 1 << 16, 0, KEY), *g2 = rrl_group_new(1, 1 << 16, 0, k2);
	int same = 0;
	for (int i = 0; i < 100; i++) {
		char addr[32];
		uint8_t a[16];
		snprintf(addr, sizeof(addr), "10.0.%d.1", i);
		rrl_request_t r = req(addr, RRL_ERROR, 0, NULL, a);
		same += rrl__set(g1, &P10, &r) == rrl__set(g2, &P10, &r);
	}
	assert_true(same < 5);
	assert_null(rrl_group_new(0, 16, 0, KEY));
	rrl_group_free(g1);
	rrl_group_free(g2);
}

/* ---- classification and slipping, on real answers ---- */

static const char *ZONE = "$TTL 300\n"
                          "@ SOA ns hostmaster 1 3600 600 86400 60\n"
                          "@ NS ns\n"
                          "ns A 192.0.2.53\n"
                          "www A 192.0.2.80\n"
                          "sub NS ns.sub\n"
                          "ns.sub A 192.0.2.54\n";

static void classify(void **state)
{
	(void)state;
	zone_t *z = util_zone("example.com.", ZONE);
	assert_non_null(z);
	zonedb_t *db = zonedb_new(1);
	zonedb_slot_t *slot;
	assert_int_equal(zonedb_add(db, z->apex, &slot), 0);
	slot->zone = z;
	answer_conf_t conf = {.max_udp = 1232};
	struct {
		const char *name;
		uint16_t type;
		rrl_class_t cls;
		const char *account;
	} cases[] = {
	    {"www.example.com.", WIRE_T_A, RRL_ANSWER, "www.example.com."},
	    {"WWW.example.com.", WIRE_T_A, RRL_ANSWER, "www.example.com."},
	    {"www.example.com.", WIRE_T_MX, RRL_NODATA, "example.com."},
	    {"nope.example.com.", WIRE_T_A, RRL_NXDOMAIN, "example.com."},
	    {"a.b.sub.example.com.", WIRE_T_A, RRL_REFERRAL, "sub.example.com."},
	    {"www.example.net.", WIRE_T_A, RRL_ERROR, "."},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t q[512], resp[1232], buf[DNAME_MAXLEN];
		size_t qlen =
		    util_query(q, cases[i].name, cases[i].type, WIRE_CLASS_IN, 1232, false);
		answer_info_t info = {0};
		size_t len = answer_query(&conf, db, q, qlen, resp, false, &info);
		rrl_request_t r;
		rrl_classify(resp, len, info.rcode, info.apex, buf, &r);
		assert_int_equal(r.cls, cases[i].cls);
		char text[DNAME_TEXT_MAX];
		dname_to_text(r.name ? r.name : (const uint8_t *)"", text, sizeof(text));
		assert_string_equal(strcasecmp(text, cases[i].account) == 0 ? cases[i].account
		                                                            : text,
		                    cases[i].account);
		assert_int_equal(r.qtype, cases[i].cls == RRL_ANSWER ? cases[i].type : 0);
	}

	/* A slipped answer: TC, the question and the OPT, nothing else. */
	uint8_t q[512], resp[1232];
	size_t qlen = util_query(q, "www.example.com.", WIRE_T_A, WIRE_CLASS_IN, 1232, false);
	answer_info_t info = {0};
	size_t len = answer_query(&conf, db, q, qlen, resp, false, &info);
	len = rrl_slip(resp, len, false);
	util_msg_t m;
	util_parse(resp, len, &m);
	assert_true(m.flags & WIRE_TC);
	assert_int_equal(m.count[0], 0);
	assert_int_equal(m.count[1], 0);
	assert_int_equal(m.count[2], 1);
	assert_int_equal(m.rr[0].type, WIRE_T_OPT);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(len, qlen); /* the same size as the query */
	/* BADCOOKIE instead: no TC, the extended RCODE 23. */
	len = answer_query(&conf, db, q, qlen, resp, false, &info);
	len = rrl_slip(resp, len, true);
	util_parse(resp, len, &m);
	assert_false(m.flags & WIRE_TC);
	assert_int_equal(m.rcode, WIRE_RCODE_BADCOOKIE);
	/* Without EDNS there is no OPT to keep. */
	qlen = util_query(q, "www.example.com.", WIRE_T_A, WIRE_CLASS_IN, 0, false);
	len = answer_query(&conf, db, q, qlen, resp, false, &info);
	len = rrl_slip(resp, len, false);
	assert_int_equal(len, qlen);
	util_parse(resp, len, &m);
	assert_int_equal(m.count[2], 0);
	zonedb_free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rate_and_slip),
	    cmocka_unit_test(accounts),
	    cmocka_unit_test(workers_share_the_rate),
	    cmocka_unit_test(start_and_stop_events),
	    cmocka_unit_test(heavy_account_survives_a_crowd),
	    cmocka_unit_test(keyed_hash),
	    cmocka_unit_test(classify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
