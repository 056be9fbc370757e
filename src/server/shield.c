/* SPDX-License-Identifier: MIT */
/* shield: RRL, cookies and blocking on the query path; per-source limits and caps on the change
 * path; settings published by RCU pointer swap and changed at run time through ctl. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "dname.h"
#include "error.h"
#include "shield.h"
#include "log.h"
#include "server.h"
#include "wire.h"

#define TCP_TABLE_SIZE 4096 /* NOTIFY and transfer-request accounts of the TCP workers */
#define SECRET_FILE    "cookie-secret"

uint32_t shield_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)ts.tv_sec;
}

void shield_client(const struct sockaddr_storage *ss, answer_client_t *out)
{
	out->keepalive = 0; /* the TCP loop sets its own */
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		/* An IPv4-mapped address is the IPv4 client it stands for. */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			out->family = NET_V4;
			memcpy(out->addr, s6->sin6_addr.s6_addr + 12, 4);
			memset(out->addr + 4, 0, 12);
			return;
		}
		out->family = NET_V6;
		memcpy(out->addr, &s6->sin6_addr, 16);
		return;
	}
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	out->family = NET_V4;
	memcpy(out->addr, &s4->sin_addr, 4);
	memset(out->addr + 4, 0, 12);
}

/* ---- rate-limited logging ---- */

static __thread uint32_t log_second;
static __thread unsigned log_used;
static __thread uint64_t log_dropped;

bool shield_log_allow(void)
{
	uint32_t now = shield_now();
	if (now != log_second) {
		log_second = now;
		log_used = 0;
	}
	if (log_used >= SHIELD_LOG_BUDGET) {
		log_dropped++;
		return false;
	}
	log_used++;
	if (log_dropped) {
		log_msg(LOG_NOTICE, "%llu similar messages were not logged (at most %d a second)",
		        (unsigned long long)log_dropped, SHIELD_LOG_BUDGET);
		log_dropped = 0;
	}
	return true;
}

void shield_log(int level, const char *fmt, ...)
{
	if (!shield_log_allow())
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(level, "%s", buf);
}

/* ---- settings ---- */

/* An empty set is NULL, so the query path tests a pointer instead of calling into it. */
static void empty_to_null(netset_t **s)
{
	if (*s && netset_size(*s) == 0) {
		netset_free(*s);
		*s = NULL;
	}
}

static netset_t *set_from_conf(const conf_prefix_t *p, size_t n)
{
	netprefix_t *tmp = calloc(n ? n : 1, sizeof(*tmp));
	if (!tmp)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		tmp[i].family = p[i].family == AF_INET ? NET_V4 : NET_V6;
		tmp[i].bits = p[i].bits;
		memcpy(tmp[i].addr, p[i].addr, 16);
	}
	netset_t *s = netset_new(tmp, n);
	free(tmp);
	return s;
}

static void settings_free(shield_settings_t *gs)
{
	if (!gs)
		return;
	netset_free(gs->whitelist);
	netset_free(gs->block);
	free(gs);
}

/* A copy of gs that owns copies of its sets; NULL when out of memory. */
static shield_settings_t *settings_copy(const shield_settings_t *gs)
{
	shield_settings_t *n = malloc(sizeof(*n));
	if (!n)
		return NULL;
	*n = *gs;
	n->whitelist = netset_with(gs->whitelist, NULL, NULL);
	n->block = netset_with(gs->block, NULL, NULL);
	if (!n->whitelist || !n->block) {
		settings_free(n);
		return NULL;
	}
	empty_to_null(&n->whitelist);
	empty_to_null(&n->block);
	return n;
}

/* Makes ns the settings in force and frees the old ones once no worker can be reading them. */
static void settings_publish(shield_t *g, shield_settings_t *ns)
{
	shield_settings_t *old = g->settings;
	rcu_assign_pointer(g->settings, ns);
	synchronize_rcu();
	settings_free(old);
}

/* ---- cookie secrets ---- */

static void hex_text(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = 0;
}

static int hex_digit(char ch)
{
	return ch >= '0' && ch <= '9'   ? ch - '0'
	       : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
	       : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
	                                : -1;
}

/* n bytes from 2n hex digits, an optional 0x first (as knot.conf writes secrets). */
static bool hex_parse(const char *s, uint8_t *out, size_t n)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (strlen(s) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* Writes the secrets to the storage directory, atomically: a new file renamed over the old. */
static int secrets_store(const shield_t *g, const cookie_secrets_t *cs)
{
	char tmp[4200], cur[2 * COOKIE_SECRET_LEN + 1], prev[2 * COOKIE_SECRET_LEN + 1];
	snprintf(tmp, sizeof(tmp), "%s.new", g->secret_path);
	hex_text(cs->current, COOKIE_SECRET_LEN, cur);
	hex_text(cs->previous, COOKIE_SECRET_LEN, prev);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	char text[128];
	int n = snprintf(text, sizeof(text), "current %s\n%s%s%s", cur,
	                 cs->has_previous ? "previous " : "", cs->has_previous ? prev : "",
	                 cs->has_previous ? "\n" : "");
	int ret = 0;
	if (write(fd, text, (size_t)n) != n || fsync(fd) != 0)
		ret = errno ? -errno : US_EINVAL;
	if (close(fd) != 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, g->secret_path) != 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* Reads secrets written by secrets_store; 0, US_ENOENT, or US_EINVAL for a damaged file. */
static int secrets_load(const shield_t *g, cookie_secrets_t *cs)
{
	FILE *f = fopen(g->secret_path, "re");
	if (!f)
		return errno == ENOENT ? US_ENOENT : -errno;
	char line[256];
	bool have = false;
	cookie_secrets_t tmp = {0};
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (strncmp(line, "current ", 8) == 0)
			have = hex_parse(line + 8, tmp.current, COOKIE_SECRET_LEN);
		else if (strncmp(line, "previous ", 9) == 0)
			tmp.has_previous = hex_parse(line + 9, tmp.previous, COOKIE_SECRET_LEN);
	}
	fclose(f);
	if (!have)
		return US_EINVAL;
	*cs = tmp;
	return 0;
}

static int secrets_setup(server_t *s, shield_t *g)
{
	const conf_t *c = s->conf;
	size_t plen = strlen(c->storage) + sizeof(SECRET_FILE) + 2;
	if (!(g->secret_path = malloc(plen)))
		return US_ENOMEM;
	snprintf(g->secret_path, plen, "%s/%s", c->storage, SECRET_FILE);
	if (!c->cookies)
		return 0;
	cookie_secrets_t *cs = calloc(1, sizeof(*cs));
	if (!cs)
		return US_ENOMEM;
	if (c->ncookie_secrets) {
		memcpy(cs->current, c->cookie_secret[0], COOKIE_SECRET_LEN);
		cs->has_previous = c->ncookie_secrets > 1;
		memcpy(cs->previous, c->cookie_secret[1], COOKIE_SECRET_LEN);
		g->secrets_from_conf = true;
		log_info("cookies: on, with the server secret from the configuration");
	} else {
		int ret = secrets_load(g, cs);
		if (ret == 0) {
			log_info("cookies: on, with the server secret kept in %s", g->secret_path);
		} else {
			if (ret != US_ENOENT)
				log_warning(
				    "cookies: %s is unreadable (%s); a new secret replaces it",
				    g->secret_path, us_strerror(ret));
			arc4random_buf(cs->current, COOKIE_SECRET_LEN);
			mkdir(c->storage, 0750);
			if ((ret = secrets_store(g, cs)) != 0)
				log_warning(
				    "cookies: cannot keep the new secret in %s (%s); cookies "
				    "made before a restart will not be accepted after it",
				    g->secret_path, us_strerror(ret));
			else
				log_info("cookies: on, with a new server secret kept in %s",
				         g->secret_path);
		}
	}
	g->secrets = cs;
	s->answer.cookies = cs;
	return 0;
}

/* cookie-rotate [HEX]: the new secret makes cookies, the old one is still accepted. */
static void cookie_rotate(server_t *s, shield_t *g, int argc, char **argv, ctl_reply_t *r)
{
	if (!g->secrets) {
		ctl_fail(r, "cookie-rotate: cookies are off (server.cookies)\n");
		return;
	}
	cookie_secrets_t *cs = malloc(sizeof(*cs));
	if (!cs) {
		ctl_fail(r, "cookie-rotate: out of memory\n");
		return;
	}
	memcpy(cs->previous, g->secrets->current, COOKIE_SECRET_LEN);
	cs->has_previous = true;
	if (argc > 1 && !hex_parse(argv[1], cs->current, COOKIE_SECRET_LEN)) {
		free(cs);
		ctl_fail(r, "cookie-rotate: expected 32 hexadecimal digits (16 bytes)\n");
		return;
	}
	if (argc == 1)
		arc4random_buf(cs->current, COOKIE_SECRET_LEN);
	cookie_secrets_t *old = g->secrets;
	rcu_assign_pointer(g->secrets, cs);
	/* The workers read it with an acquire load (answer.c): a release store pairs with it. */
	__atomic_store_n(&s->answer.cookies, cs, __ATOMIC_RELEASE);
	synchronize_rcu();
	free(old);
	int ret = secrets_store(g, cs);
	log_notice("control: cookie-rotate: a new server secret makes cookies, the previous one "
	           "is still accepted%s",
	           ret ? ", but it cannot be kept in the storage" : "");
	ctl_printf(r, "cookie-rotate: new secret in use, previous one still accepted\n");
	if (ret)
		ctl_printf(r, "warning: cannot write %s: %s\n", g->secret_path, us_strerror(ret));
	if (g->secrets_from_conf)
		ctl_printf(r, "warning: cookie-secret in the configuration takes over again at the "
		              "next start\n");
}

/* ---- setup ---- */

int shield_init(server_t *s)
{
	const conf_t *c = s->conf;
	shield_t *g = calloc(1, sizeof(*g));
	shield_settings_t *gs = calloc(1, sizeof(*gs));
	if (!g || !gs) {
		free(g);
		free(gs);
		return US_ENOMEM;
	}
	s->shield = g;
	pthread_mutex_init(&g->slots_lock, NULL);
	g->settings = gs;
	gs->rrl = (rrl_params_t){.rate = (uint32_t)c->rrl.rate_limit,
	                         .slip = (uint32_t)c->rrl.slip,
	                         .v4_bits = (uint8_t)c->rrl.ipv4_prefix_length,
	                         .v6_bits = (uint8_t)c->rrl.ipv6_prefix_length};
	gs->notify_rate = (uint32_t)c->notify_rate_limit;
	gs->transfer_rate = (uint32_t)c->transfer_rate_limit;
	gs->transfers_out = (uint32_t)c->transfers_out;
	gs->transfers_out_per_address = (uint32_t)c->transfers_out_per_address;
	gs->tcp_per_address = (uint32_t)c->tcp_max_clients_per_address;
	gs->whitelist = set_from_conf(c->rrl.whitelist, c->rrl.nwhitelist);
	gs->block = set_from_conf(c->block, c->nblock);
	uint8_t key[SIPHASH_KEY_LEN];
	arc4random_buf(key, sizeof(key));
	arc4random_buf(g->key, sizeof(g->key));
	unsigned nudp = (unsigned)(c->udp_workers * (int)c->nlisten);
	/* Tables for RRL exist even when it is off, so ctl can turn it on: their pages are not
	 * backed until used. */
	g->udp = rrl_group_new(nudp ? nudp : 1, (size_t)c->rrl.table_size, 64, key);
	g->tcp = rrl_group_new((unsigned)c->tcp_workers, TCP_TABLE_SIZE, 0, key);
	if (!gs->whitelist || !gs->block || !g->udp || !g->tcp)
		return US_ENOMEM;
	empty_to_null(&gs->whitelist);
	empty_to_null(&gs->block);
	__atomic_store_n(&s->answer.now, (uint32_t)clock_now(), __ATOMIC_RELAXED);
	__atomic_store_n(&s->answer.wall, (uint32_t)time(NULL), __ATOMIC_RELAXED);
	int ret = secrets_setup(s, g);
	if (ret)
		return ret;
	if (gs->rrl.rate)
		log_info("rrl: %u responses per second per account, slip %u, clients by /%u and "
		         "/%u, %zu buckets per UDP worker",
		         gs->rrl.rate, gs->rrl.slip, gs->rrl.v4_bits, gs->rrl.v6_bits,
		         rrl_group_size(g->udp));
	return 0;
}

void shield_deinit(server_t *s)
{
	shield_t *g = s->shield;
	if (!g)
		return;
	settings_free(g->settings);
	free(g->secrets);
	s->answer.cookies = NULL;
	rrl_group_free(g->udp);
	rrl_group_free(g->tcp);
	free(g->secret_path);
	pthread_mutex_destroy(&g->slots_lock);
	free(g);
	s->shield = NULL;
}

/* ---- the query path ---- */

bool shield_allow(rrl_group_t *grp, unsigned worker, rrl_class_t cls, uint32_t rate,
                  const rrl_params_t *prefixes, const answer_client_t *c, uint32_t now)
{
	if (!rate)
		return true;
	rrl_params_t p = *prefixes;
	p.rate = rate;
	p.slip = 0;
	rrl_request_t r = {.family = c->family, .addr = c->addr, .cls = cls};
	return rrl_decide(grp, worker, &p, &r, now) == RRL_PASS;
}

void shield_count_cookie(server_stats_t *st, const answer_info_t *info)
{
	switch (info->cookie) {
	case COOKIE_GOOD:
		stat_inc(&st->cookie_good);
		break;
	case COOKIE_BAD:
		stat_inc(&st->cookie_bad);
		break;
	case COOKIE_CLIENT_ONLY:
		stat_inc(&st->cookie_client_only);
		break;
	default:
		break;
	}
}

bool shield_rrl_prepare(shield_t *g, unsigned worker, const shield_settings_t *gs,
                        shield_pending_t *p, const uint8_t *resp, size_t len)
{
	const answer_info_t *info = &p->info;
	/* A valid server cookie proves the address (Knot DNS's rule); so does a valid TSIG. */
	if (info->cookie == COOKIE_GOOD || (p->was_signed && info->rcode != WIRE_RCODE_NOTAUTH))
		return false;
	if (gs->whitelist && netset_contains(gs->whitelist, p->client.family, p->client.addr))
		return false;
	rrl_classify(resp, len, info->rcode, info->apex, p->name, &p->req);
	p->req.family = p->client.family;
	p->req.addr = p->client.addr;
	p->hash = rrl_hash(g->udp, &gs->rrl, &p->req);
	rrl_prefetch(g->udp, worker, p->hash);
	return true;
}

size_t shield_rrl_finish(shield_t *g, unsigned worker, const shield_settings_t *gs,
                         shield_pending_t *p, uint8_t *resp, size_t len, server_stats_t *st,
                         uint32_t now)
{
	const answer_info_t *info = &p->info;
	switch (rrl_decide_hash(g->udp, worker, &gs->rrl, &p->req, p->hash, now)) {
	case RRL_PASS:
		return len;
	case RRL_DROP:
		stat_inc(&st->rrl_limited);
		stat_inc(&st->rrl_dropped);
		return 0;
	case RRL_SLIP:
		break;
	}
	stat_inc(&st->rrl_limited);
	if (p->was_signed) {
		/* A truncated copy would fail the client's TSIG check anyway. */
		stat_inc(&st->rrl_dropped);
		return 0;
	}
	stat_inc(&st->rrl_slipped);
	/* A client that sent a cookie learns its server cookie and comes back with it, exempt. */
	bool badcookie = (info->cookie == COOKIE_CLIENT_ONLY || info->cookie == COOKIE_BAD) &&
	                 info->rcode != WIRE_RCODE_FORMERR;
	if (badcookie)
		stat_inc(&st->badcookie);
	return rrl_slip(resp, len, badcookie);
}

typedef struct event_ctx {
	int dummy;
} event_ctx_t;

static void rrl_log_event(void *ctx, const rrl_event_t *ev)
{
	(void)ctx;
	char prefix[NETSET_TEXT_MAX], name[DNAME_TEXT_MAX];
	netprefix_text(&ev->prefix, prefix, sizeof(prefix));
	if (dname_to_text(ev->name, name, sizeof(name)) < 0)
		snprintf(name, sizeof(name), "?");
	char what[DNAME_TEXT_MAX + 32];
	if (ev->cls == RRL_ANSWER)
		snprintf(what, sizeof(what), "%s type %u", name, ev->qtype);
	else
		snprintf(what, sizeof(what), "%s", name);
	log_notice("rrl: %s, class %s, %s: %s limiting", prefix, rrl_class_name(ev->cls), what,
	           ev->start ? "enters" : "leaves");
}

void shield_tick(shield_t *g, rrl_group_t *grp, unsigned worker, uint32_t now, uint64_t *suppressed,
                 uint32_t *summary_at)
{
	(void)g;
	event_ctx_t ctx = {0};
	rrl_tick(grp, worker, now, SHIELD_LOG_BUDGET, rrl_log_event, &ctx, suppressed);
	if (*suppressed && now != *summary_at) {
		*summary_at = now;
		log_notice("rrl: %llu more accounts entered or left limiting (not logged)",
		           (unsigned long long)*suppressed);
		*suppressed = 0;
	}
}

/* ---- caps on transfers and connections ---- */

/* The address's slots in the two rows, as one int: row 0's in the low 16 bits. */
static int addr_slot(const shield_t *g, const struct sockaddr_storage *peer)
{
	answer_client_t c;
	shield_client(peer, &c);
	uint8_t buf[17];
	buf[0] = c.family;
	memcpy(buf + 1, c.addr, 16);
	uint64_t h = siphash24(g->key, buf, sizeof(buf));
	return (int)((h % SHIELD_SLOTS) | ((h >> 32) % SHIELD_SLOTS) << 16);
}

/* Takes one of cap places of the address in slots of ctr; false when all are taken. Under a
 * mutex, so the cap is exact: it is taken as a connection or a transfer begins, never per
 * query. */
static bool take(shield_t *g, int (*ctr)[SHIELD_SLOTS], int slot, uint32_t cap)
{
	int *a = &ctr[0][slot & 0xFFFF], *b = &ctr[1][slot >> 16];
	pthread_mutex_lock(&g->slots_lock);
	bool room = (uint32_t)(*a < *b ? *a : *b) < cap;
	if (room) {
		++*a;
		++*b;
	}
	pthread_mutex_unlock(&g->slots_lock);
	return room;
}

static void give_back(shield_t *g, int (*ctr)[SHIELD_SLOTS], int slot)
{
	pthread_mutex_lock(&g->slots_lock);
	ctr[0][slot & 0xFFFF]--;
	ctr[1][slot >> 16]--;
	pthread_mutex_unlock(&g->slots_lock);
}

/* Takes one of cap places in *ctr; false when all are taken. */
static bool take_one(_Atomic int *ctr, uint32_t cap)
{
	int n = atomic_load_explicit(ctr, memory_order_relaxed);
	do {
		if ((uint32_t)n >= cap)
			return false;
	} while (!atomic_compare_exchange_weak(ctr, &n, n + 1));
	return true;
}

bool shield_xfr_begin(shield_t *g, const struct sockaddr_storage *peer, int *slot, bool *total)
{
	rcu_read_lock();
	const shield_settings_t *gs = shield_settings(g);
	uint32_t cap = gs->transfers_out, per = gs->transfers_out_per_address;
	rcu_read_unlock();
	int i = addr_slot(g, peer);
	*total = false;
	if (!take(g, g->xfr_per, i, per)) {
		atomic_fetch_add(&g->transfers_busy, 1);
		return false;
	}
	if (!take_one(&g->transfers, cap)) {
		give_back(g, g->xfr_per, i);
		atomic_fetch_add(&g->transfers_busy, 1);
		*total = true;
		return false;
	}
	*slot = i;
	return true;
}

void shield_xfr_end(shield_t *g, int slot)
{
	if (slot < 0)
		return;
	give_back(g, g->xfr_per, slot);
	atomic_fetch_sub(&g->transfers, 1);
}

bool shield_tcp_begin(shield_t *g, const shield_settings_t *gs, const struct sockaddr_storage *peer,
                      int *slot)
{
	int i = addr_slot(g, peer);
	if (!take(g, g->tcp_per, i, gs->tcp_per_address))
		return false;
	*slot = i;
	return true;
}

void shield_tcp_end(shield_t *g, int slot)
{
	if (slot >= 0)
		give_back(g, g->tcp_per, slot);
}

/* ---- control ---- */

static bool parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || errno || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

static void print_set(ctl_reply_t *r, const char *label, const netset_t *set)
{
	ctl_printf(r, " %s=[", label);
	for (size_t i = 0; i < netset_size(set); i++) {
		char t[NETSET_TEXT_MAX];
		netprefix_text(netset_at(set, i), t, sizeof(t));
		ctl_printf(r, "%s%s", i ? "," : "", t);
	}
	ctl_printf(r, "]");
}

static void show_rrl(const shield_t *g, const shield_settings_t *gs, ctl_reply_t *r)
{
	ctl_printf(r,
	           "rrl: rate-limit=%u slip=%u ipv4-prefix-length=%u ipv6-prefix-length=%u "
	           "table-size=%zu",
	           gs->rrl.rate, gs->rrl.slip, gs->rrl.v4_bits, gs->rrl.v6_bits,
	           rrl_group_size(g->udp));
	print_set(r, "whitelist", gs->whitelist);
	ctl_printf(r, "%s\n", gs->rrl.rate ? "" : " (off)");
}

static void show_limits(const shield_settings_t *gs, ctl_reply_t *r)
{
	ctl_printf(r,
	           "limits: notify-rate-limit=%u transfer-rate-limit=%u transfers-out=%u "
	           "transfers-out-per-address=%u tcp-max-clients-per-address=%u\n",
	           gs->notify_rate, gs->transfer_rate, gs->transfers_out,
	           gs->transfers_out_per_address, gs->tcp_per_address);
}

/* The settings field a name stands for, with its bounds; NULL if none. */
static uint32_t *field(shield_settings_t *gs, bool rrl, const char *name, uint32_t *min,
                       uint32_t *max)
{
	static uint32_t v4, v6;
	*min = 0;
	*max = 1000000;
	if (rrl && strcmp(name, "rate-limit") == 0)
		return &gs->rrl.rate;
	if (rrl && strcmp(name, "slip") == 0) {
		*max = 100;
		return &gs->rrl.slip;
	}
	if (rrl && strcmp(name, "ipv4-prefix-length") == 0) {
		*min = 8;
		*max = 32;
		v4 = gs->rrl.v4_bits;
		return &v4;
	}
	if (rrl && strcmp(name, "ipv6-prefix-length") == 0) {
		*min = 16;
		*max = 128;
		v6 = gs->rrl.v6_bits;
		return &v6;
	}
	if (!rrl && strcmp(name, "notify-rate-limit") == 0)
		return &gs->notify_rate;
	if (!rrl && strcmp(name, "transfer-rate-limit") == 0)
		return &gs->transfer_rate;
	*min = 1;
	*max = 100000;
	if (!rrl && strcmp(name, "transfers-out") == 0)
		return &gs->transfers_out;
	if (!rrl && strcmp(name, "transfers-out-per-address") == 0)
		return &gs->transfers_out_per_address;
	if (!rrl && strcmp(name, "tcp-max-clients-per-address") == 0)
		return &gs->tcp_per_address;
	return NULL;
}

/* rrl NAME VALUE, limits NAME VALUE, and rrl whitelist add|remove PREFIX. */
static void set_option(shield_t *g, bool rrl, int argc, char **argv, ctl_reply_t *r)
{
	const char *cmd = argv[0];
	shield_settings_t *ns = settings_copy(g->settings);
	if (!ns) {
		ctl_fail(r, "%s: out of memory\n", cmd);
		return;
	}
	if (rrl && strcmp(argv[1], "whitelist") == 0) {
		netprefix_t p;
		const char *why = "expected: rrl whitelist add|remove PREFIX";
		bool add = argc == 4 && strcmp(argv[2], "add") == 0;
		bool del = argc == 4 && strcmp(argv[2], "remove") == 0;
		if ((!add && !del) || netprefix_parse(argv[3], &p, &why) != 0) {
			ctl_fail(r, "%s: %s\n", cmd, why);
			settings_free(ns);
			return;
		}
		if (del && !netset_has(ns->whitelist, &p)) {
			ctl_fail(r, "%s: %s is not in the whitelist\n", cmd, argv[3]);
			settings_free(ns);
			return;
		}
		netset_t *w = netset_with(ns->whitelist, add ? &p : NULL, del ? &p : NULL);
		if (!w) {
			ctl_fail(r, "%s: out of memory\n", cmd);
			settings_free(ns);
			return;
		}
		netset_free(ns->whitelist);
		ns->whitelist = w;
		empty_to_null(&ns->whitelist);
		log_notice("control: rrl whitelist %s %s", argv[2], argv[3]);
	} else {
		uint32_t min, max, v, *f = argc == 3 ? field(ns, rrl, argv[1], &min, &max) : NULL;
		if (!f) {
			ctl_fail(r, "%s: expected: %s [OPTION VALUE]\n", cmd, cmd);
			settings_free(ns);
			return;
		}
		if (!parse_u32(argv[2], max, &v) || v < min) {
			ctl_fail(r, "%s: %s: expected an integer from %u to %u\n", cmd, argv[1],
			         min, max);
			settings_free(ns);
			return;
		}
		uint32_t was = *f;
		*f = v;
		if (strcmp(argv[1], "ipv4-prefix-length") == 0)
			ns->rrl.v4_bits = (uint8_t)v;
		if (strcmp(argv[1], "ipv6-prefix-length") == 0)
			ns->rrl.v6_bits = (uint8_t)v;
		log_notice("control: %s %s %u (was %u)", cmd, argv[1], v, was);
	}
	settings_publish(g, ns);
	if (rrl)
		show_rrl(g, g->settings, r);
	else
		show_limits(g->settings, r);
}

/* block [PREFIX] (no prefix: list them), unblock PREFIX. */
static void block(shield_t *g, bool add, int argc, char **argv, ctl_reply_t *r)
{
	const char *cmd = argv[0];
	if (argc == 1 && add) {
		print_set(r, "blocked", g->settings->block);
		ctl_printf(r, "\n");
		return;
	}
	netprefix_t p;
	const char *why = "expected a prefix, e.g. 192.0.2.0/24";
	if (argc != 2 || netprefix_parse(argv[1], &p, &why) != 0) {
		ctl_fail(r, "%s: %s\n", cmd, why);
		return;
	}
	if (!add && !netset_has(g->settings->block, &p)) {
		ctl_fail(r, "%s: %s is not blocked\n", cmd, argv[1]);
		return;
	}
	shield_settings_t *ns = settings_copy(g->settings);
	netset_t *b = ns ? netset_with(ns->block, add ? &p : NULL, add ? NULL : &p) : NULL;
	if (!b) {
		settings_free(ns);
		ctl_fail(r, "%s: out of memory\n", cmd);
		return;
	}
	size_t nblocked = netset_size(b);
	netset_free(ns->block);
	ns->block = b;
	empty_to_null(&ns->block);
	settings_publish(g, ns);
	char t[NETSET_TEXT_MAX];
	netprefix_text(&p, t, sizeof(t));
	log_notice("control: %s %s: queries from it are %s", cmd, t,
	           add ? "dropped" : "answered again");
	ctl_printf(r, "%s %s (%zu prefixes blocked)\n", add ? "blocked" : "unblocked", t, nblocked);
}

bool shield_ctl(server_t *s, int argc, char **argv, ctl_reply_t *r)
{
	shield_t *g = s->shield;
	const char *cmd = argv[0];
	if (strcmp(cmd, "rrl") == 0) {
		if (argc == 1)
			show_rrl(g, g->settings, r);
		else
			set_option(g, true, argc, argv, r);
	} else if (strcmp(cmd, "limits") == 0) {
		if (argc == 1)
			show_limits(g->settings, r);
		else
			set_option(g, false, argc, argv, r);
	} else if (strcmp(cmd, "block") == 0 || strcmp(cmd, "unblock") == 0) {
		block(g, cmd[0] == 'b', argc, argv, r);
	} else if (strcmp(cmd, "cookie-rotate") == 0) {
		if (argc > 2)
			ctl_fail(r, "cookie-rotate: too many arguments\n");
		else
			cookie_rotate(s, g, argc, argv, r);
	} else {
		return false;
	}
	return true;
}

void shield_status(server_t *s, ctl_reply_t *r)
{
	server_stats_t sum = {0};
	for (int i = 0; i < s->nstats; i++) {
		const server_stats_t *st = &s->stats[i];
#define ADD(f) atomic_store(&sum.f, atomic_load(&sum.f) + atomic_load(&st->f))
		ADD(rrl_limited);
		ADD(rrl_slipped);
		ADD(rrl_dropped);
		ADD(cookie_good);
		ADD(cookie_bad);
		ADD(cookie_client_only);
		ADD(badcookie);
		ADD(blocked);
		ADD(notify_limited);
		ADD(notify_refused);
		ADD(transfer_limited);
		ADD(transfer_refused);
		ADD(tcp_timeouts);
		ADD(tcp_refused_address);
#undef ADD
	}
	const struct {
		const char *name;
		unsigned long long v;
	} c[] = {
	    {"rrl-limited", atomic_load(&sum.rrl_limited)},
	    {"rrl-slipped", atomic_load(&sum.rrl_slipped)},
	    {"rrl-dropped", atomic_load(&sum.rrl_dropped)},
	    {"cookies-good", atomic_load(&sum.cookie_good)},
	    {"cookies-bad", atomic_load(&sum.cookie_bad)},
	    {"cookies-client-only", atomic_load(&sum.cookie_client_only)},
	    {"badcookie", atomic_load(&sum.badcookie)},
	    {"blocked", atomic_load(&sum.blocked)},
	    {"notify-limited", atomic_load(&sum.notify_limited)},
	    {"notify-refused", atomic_load(&sum.notify_refused)},
	    {"transfer-limited", atomic_load(&sum.transfer_limited)},
	    {"transfer-refused", atomic_load(&sum.transfer_refused)},
	    {"transfers-busy", atomic_load(&s->shield->transfers_busy)},
	    {"transfers-out", (unsigned long long)atomic_load(&s->shield->transfers)},
	    {"tcp-timeouts", atomic_load(&sum.tcp_timeouts)},
	    {"tcp-refused-per-address", atomic_load(&sum.tcp_refused_address)},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		if (!r->json) {
			ctl_printf(r, " %s=%llu", c[i].name, c[i].v);
			continue;
		}
		/* In JSON, as the other fields are named: with underscores. */
		char key[64];
		snprintf(key, sizeof(key), "%s", c[i].name);
		for (char *p = key; *p; p++)
			*p = *p == '-' ? '_' : *p;
		ctl_printf(r, ", \"%s\": %llu", key, c[i].v);
	}
}
