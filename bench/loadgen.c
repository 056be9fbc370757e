// SPDX-License-Identifier: MIT
/* loadgen: UDP DNS load generator (recvmmsg/sendmmsg, open or closed loop) for `make bench`. */

/*
 * Every query of the query file is rendered to wire form once, at start. The send path then
 * only points an iovec pair at (2-byte ID, rest of the pre-built query), so nothing is copied
 * or allocated per query. Each thread owns S connected UDP sockets (distinct source ports, so
 * a server's SO_REUSEPORT group spreads them over its workers) and, per socket, a table of
 * the 65536 DNS IDs: which query is in flight under which ID, and since when. IDs are handed
 * out in sequence, so the oldest in-flight query is always at the tail of that sequence and
 * timeouts are found without searching.
 *
 * Output is key=value lines on stdout, one per figure, for bench/run.py to parse.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LG_MAX_BATCH   256
#define LG_MAX_SOCKS   64
#define LG_MAX_THREADS 64
#define LG_RXBUF       4096
#define LG_NIDS        65536u
#define LG_HIST        896 /* log-linear latency buckets, see lg_bucket() */
#define LG_MAX_QUERIES (1u << 24)

struct lg_query {
	uint32_t off;  /* into lg_wire */
	uint16_t len;  /* whole query */
	uint16_t qlen; /* question section: qname + qtype + qclass */
};

struct lg_stats {
	uint64_t sent;
	uint64_t answered;
	uint64_t lost;
	uint64_t late; /* answer for an ID no longer in flight (after timeout) */
	uint64_t bad;  /* not a response, or the question does not match */
	uint64_t trunc;
	uint64_t send_err;
	uint64_t recv_err;
	uint64_t rcode[16];
	uint64_t lat_sum_us;
	uint64_t hist[LG_HIST];
};

struct lg_sock {
	int fd;
	uint32_t head; /* next sequence number to send; ID = seq & 0xffff */
	uint32_t tail; /* oldest sequence number that may still be in flight */
	uint32_t inflight;
	uint32_t *slot_q; /* per ID: query index + 1, 0 when free */
	uint32_t *slot_t; /* per ID: send time, microseconds since start */
};

struct lg_thread {
	pthread_t tid;
	unsigned idx;
	unsigned nsocks;
	unsigned rr; /* open loop: next socket to send on */
	uint32_t qpos;
	struct lg_sock socks[LG_MAX_SOCKS];
	struct pollfd pfd[LG_MAX_SOCKS];
	struct mmsghdr txmsg[LG_MAX_BATCH];
	struct iovec txiov[2 * LG_MAX_BATCH];
	uint16_t txid[LG_MAX_BATCH];
	uint32_t txq[LG_MAX_BATCH];
	struct mmsghdr rxmsg[LG_MAX_BATCH];
	struct iovec rxiov[LG_MAX_BATCH];
	uint8_t *rxbuf;
	struct lg_stats st;
};

/* Configuration, written by main() before the threads start and read-only afterwards. */
static struct {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	unsigned threads;
	unsigned socks;
	unsigned batch;
	double duration;
	double rate;     /* open loop: total queries per second; 0 = closed loop */
	unsigned window; /* closed loop: outstanding queries per thread */
	uint32_t timeout_us;
	int edns;   /* EDNS buffer size, 0 = no OPT record */
	bool dobit; /* DNSSEC OK in the OPT record */
	int bufsize;
	const char *qfile;
	struct in_addr src; /* -B: first source address, 0 for any */
	unsigned nsrc;      /* -B ADDR/N: that many addresses, one per socket in turn */
} cfg = {
    .threads = 1,
    .socks = 8,
    .batch = 64,
    .duration = 10,
    .window = 256,
    .timeout_us = 100000,
    .edns = 1232,
    .bufsize = 4 << 20,
};

static uint8_t *lg_wire;
static struct lg_query *lg_queries;
static uint32_t lg_nqueries;
static struct timespec lg_t0;
static volatile sig_atomic_t lg_stop;
static pthread_barrier_t lg_barrier;

static void lg_on_signal(int sig)
{
	(void)sig;
	lg_stop = 1;
}

static uint32_t lg_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)((ts.tv_sec - lg_t0.tv_sec) * 1000000 +
	                  (ts.tv_nsec - lg_t0.tv_nsec) / 1000);
}

/* Exact below 64 us, then 32 buckets per power of two (about 3% resolution). */
static unsigned lg_bucket(uint32_t us)
{
	if (us < 64)
		return us;
	unsigned e = 31 - (unsigned)__builtin_clz(us);
	return 64 + (e - 6) * 32 + ((us >> (e - 5)) - 32);
}

static uint32_t lg_bucket_value(unsigned b)
{
	if (b < 64)
		return b;
	unsigned e = (b - 64) / 32 + 6, m = (b - 64) % 32 + 32;
	return m << (e - 5);
}

/* ---- query file ---------------------------------------------------------------------------- */

static const struct {
	const char *name;
	uint16_t type;
} lg_types[] = {
    {"A", 1},      {"NS", 2},    {"CNAME", 5},   {"SOA", 6},    {"PTR", 12},   {"HINFO", 13},
    {"MX", 15},    {"TXT", 16},  {"AAAA", 28},   {"SRV", 33},   {"NAPTR", 35}, {"DS", 43},
    {"RRSIG", 46}, {"NSEC", 47}, {"DNSKEY", 48}, {"NSEC3", 50}, {"TLSA", 52},  {"SVCB", 64},
    {"HTTPS", 65}, {"CAA", 257}, {"AXFR", 252},  {"ANY", 255},
};

static int lg_parse_type(const char *s, uint16_t *type)
{
	for (size_t i = 0; i < sizeof(lg_types) / sizeof(lg_types[0]); i++) {
		if (strcasecmp(s, lg_types[i].name) == 0) {
			*type = lg_types[i].type;
			return 0;
		}
	}
	if (strncasecmp(s, "TYPE", 4) == 0) {
		char *end;
		unsigned long v = strtoul(s + 4, &end, 10);
		if (*end == '\0' && end != s + 4 && v <= 65535) {
			*type = (uint16_t)v;
			return 0;
		}
	}
	return -1;
}

/* Text name (with \X and \DDD escapes) to wire form. Returns the wire length or -1. */
static int lg_name_to_wire(const char *s, uint8_t *out, size_t cap)
{
	/* out[lab] is the length byte of the label being filled; with a trailing dot the last
	 * placeholder simply stays 0 and becomes the root label. */
	size_t lab = 0, o = 1;
	if (cap < 256)
		return -1;
	out[0] = 0;
	if (strcmp(s, ".") == 0)
		return 1;
	while (*s) {
		int c = (unsigned char)*s++;
		if (c == '.') {
			size_t len = o - lab - 1;
			if (len == 0 || len > 63)
				return -1;
			out[lab] = (uint8_t)len;
			lab = o;
			out[o++] = 0;
			continue;
		}
		if (c == '\\') {
			if (s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' &&
			    s[2] >= '0' && s[2] <= '9') {
				c = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
				if (c > 255)
					return -1;
				s += 3;
			} else if (*s) {
				c = (unsigned char)*s++;
			} else {
				return -1;
			}
		}
		if (o >= 254)
			return -1;
		out[o++] = (uint8_t)c;
	}
	size_t len = o - lab - 1;
	if (len > 63)
		return -1;
	if (len > 0) {
		out[lab] = (uint8_t)len;
		out[o++] = 0;
	}
	return (int)o;
}

static int lg_load_queries(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t wcap = 1 << 20, wlen = 0, qcap = 1 << 14;
	lg_wire = malloc(wcap);
	lg_queries = malloc(qcap * sizeof(*lg_queries));
	if (lg_wire == NULL || lg_queries == NULL)
		goto oom;

	char line[1024];
	unsigned lineno = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		char *name = strtok(line, " \t\r\n");
		if (name == NULL || name[0] == '#' || name[0] == ';')
			continue;
		char *tname = strtok(NULL, " \t\r\n");
		uint16_t type = 1;
		if (tname != NULL && lg_parse_type(tname, &type) != 0) {
			fprintf(stderr, "loadgen: %s:%u: unknown type '%s'\n", path, lineno, tname);
			fclose(f);
			return -1;
		}
		if (wlen + 512 > wcap) {
			uint8_t *nw = realloc(lg_wire, wcap * 2);
			if (nw == NULL)
				goto oom;
			lg_wire = nw;
			wcap *= 2;
		}
		if (lg_nqueries == qcap) {
			struct lg_query *nq = realloc(lg_queries, qcap * 2 * sizeof(*nq));
			if (nq == NULL)
				goto oom;
			lg_queries = nq;
			qcap *= 2;
		}
		if (lg_nqueries == LG_MAX_QUERIES) {
			fprintf(stderr, "loadgen: %s: more than %u queries\n", path,
			        LG_MAX_QUERIES);
			fclose(f);
			return -1;
		}
		uint8_t *p = lg_wire + wlen;
		memset(p, 0, 12);
		p[5] = 1; /* QDCOUNT; ID is patched per send, RD clear as for an authoritative */
		int nl = lg_name_to_wire(name, p + 12, 256);
		if (nl < 0) {
			fprintf(stderr, "loadgen: %s:%u: bad name '%s'\n", path, lineno, name);
			fclose(f);
			return -1;
		}
		size_t o = 12 + (size_t)nl;
		p[o++] = (uint8_t)(type >> 8);
		p[o++] = (uint8_t)type;
		p[o++] = 0;
		p[o++] = 1; /* class IN */
		uint16_t qlen = (uint16_t)(o - 12);
		if (cfg.edns > 0) {
			p[11] = 1; /* ARCOUNT */
			const uint8_t opt[11] = {
			    0, 0, 41, (uint8_t)(cfg.edns >> 8), (uint8_t)cfg.edns, 0, 0, 0,
			    0, 0, 0};
			memcpy(p + o, opt, sizeof(opt));
			if (cfg.dobit)
				p[o + 7] = 0x80;
			o += sizeof(opt);
		}
		lg_queries[lg_nqueries++] =
		    (struct lg_query){.off = (uint32_t)wlen, .len = (uint16_t)o, .qlen = qlen};
		wlen += o;
	}
	fclose(f);
	if (lg_nqueries == 0) {
		fprintf(stderr, "loadgen: %s: no queries\n", path);
		return -1;
	}
	return 0;
oom:
	fclose(f);
	fprintf(stderr, "loadgen: out of memory reading %s\n", path);
	return -1;
}

/* ---- sockets -------------------------------------------------------------------------------- */

/* Socket n of the run (all threads counted) binds to the n-th of the -B addresses, so each
 * address is a client of its own for the server's per-client accounting (RRL). */
static int lg_socket(unsigned n)
{
	int fd = socket(cfg.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (cfg.nsrc) {
		struct sockaddr_in sin = {.sin_family = AF_INET};
		sin.sin_addr.s_addr = htonl(ntohl(cfg.src.s_addr) + n % cfg.nsrc);
		if (cfg.addr.ss_family != AF_INET ||
		    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
			close(fd);
			return -1;
		}
	}
	/* FORCE works for root beyond rmem_max; otherwise fall back to what the limit allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &cfg.bufsize, sizeof(cfg.bufsize)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &cfg.bufsize, sizeof(cfg.bufsize));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &cfg.bufsize, sizeof(cfg.bufsize)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cfg.bufsize, sizeof(cfg.bufsize));
	if (connect(fd, (struct sockaddr *)&cfg.addr, cfg.addrlen) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- the loop: nothing below allocates --------------------------------------------------- */

/* Frees IDs whose query timed out (counted lost). With force, also frees the oldest in-flight
 * IDs until `need` sequence numbers are available: open loop must not stall on ID reuse. */
static void lg_expire(struct lg_thread *t, struct lg_sock *s, uint32_t now, uint32_t need)
{
	while (s->tail != s->head) {
		uint32_t id = s->tail & (LG_NIDS - 1);
		if (s->slot_q[id] != 0) {
			int room = LG_NIDS - (s->head - s->tail) >= need;
			if (room && now - s->slot_t[id] < cfg.timeout_us)
				break;
			s->slot_q[id] = 0;
			s->inflight--;
			t->st.lost++;
		}
		s->tail++;
	}
}

static uint32_t lg_send(struct lg_thread *t, struct lg_sock *s, uint32_t n, uint32_t now)
{
	uint32_t qpos = t->qpos;
	for (uint32_t i = 0; i < n; i++) {
		const struct lg_query *q = &lg_queries[qpos];
		t->txid[i] = htons((uint16_t)(s->head + i));
		t->txq[i] = qpos;
		t->txiov[2 * i] = (struct iovec){.iov_base = &t->txid[i], .iov_len = 2};
		t->txiov[2 * i + 1] =
		    (struct iovec){.iov_base = lg_wire + q->off + 2, .iov_len = q->len - 2u};
		t->txmsg[i].msg_hdr.msg_iov = &t->txiov[2 * i];
		t->txmsg[i].msg_hdr.msg_iovlen = 2;
		if (++qpos == lg_nqueries)
			qpos = 0;
	}
	int r = sendmmsg(s->fd, t->txmsg, n, MSG_DONTWAIT);
	if (r < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS && errno != EINTR)
			t->st.send_err++;
		r = 0;
	}
	for (int i = 0; i < r; i++) {
		uint32_t id = (s->head + (uint32_t)i) & (LG_NIDS - 1);
		s->slot_q[id] = t->txq[i] + 1;
		s->slot_t[id] = now;
	}
	s->head += (uint32_t)r;
	s->inflight += (uint32_t)r;
	t->st.sent += (uint64_t)r;
	t->qpos = (uint32_t)r == n ? qpos : t->txq[r];
	return (uint32_t)r;
}

/* One recvmmsg batch; returns how many datagrams it read. */
static int lg_recv(struct lg_thread *t, struct lg_sock *s)
{
	int r = recvmmsg(s->fd, t->rxmsg, cfg.batch, MSG_DONTWAIT, NULL);
	if (r <= 0) {
		/* ECONNREFUSED: the port is closed (ICMP), e.g. the server died. */
		if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			t->st.recv_err++;
		return 0;
	}
	uint32_t now = lg_now_us();
	for (int i = 0; i < r; i++) {
		const uint8_t *p = t->rxbuf + (size_t)i * LG_RXBUF;
		uint32_t len = t->rxmsg[i].msg_len;
		if (len < 12 || !(p[2] & 0x80)) {
			t->st.bad++;
			continue;
		}
		uint32_t id = (uint32_t)p[0] << 8 | p[1];
		uint32_t q1 = s->slot_q[id];
		if (q1 == 0) {
			t->st.late++;
			continue;
		}
		const struct lg_query *q = &lg_queries[q1 - 1];
		unsigned qd = (unsigned)p[4] << 8 | p[5];
		/* A response without a question (FORMERR and the like) is matched by ID alone. */
		if (qd != 0 &&
		    (len < 12u + q->qlen || memcmp(p + 12, lg_wire + q->off + 12, q->qlen) != 0)) {
			t->st.bad++;
			continue;
		}
		s->slot_q[id] = 0;
		s->inflight--;
		t->st.answered++;
		t->st.rcode[p[3] & 0x0f]++;
		if (p[2] & 0x02)
			t->st.trunc++;
		uint32_t lat = now - s->slot_t[id];
		t->st.lat_sum_us += lat;
		t->st.hist[lg_bucket(lat)]++;
	}
	return r;
}

static void lg_poll_recv(struct lg_thread *t, uint64_t wait_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(wait_ns / 1000000000u),
	                      .tv_nsec = (long)(wait_ns % 1000000000u)};
	int n = ppoll(t->pfd, t->nsocks, &ts, NULL);
	if (n <= 0)
		return;
	for (unsigned i = 0; i < t->nsocks; i++) {
		if (t->pfd[i].revents == 0)
			continue;
		/* Drain a few batches while they come full, so one busy socket cannot hog. */
		for (int k = 0; k < 4; k++)
			if (lg_recv(t, &t->socks[i]) < (int)cfg.batch)
				break;
	}
}

static void *lg_thread_main(void *arg)
{
	struct lg_thread *t = arg;
	const uint32_t end = (uint32_t)(cfg.duration * 1e6);
	const double rate = cfg.rate / cfg.threads;
	/* Spread the window over the sockets; at least one each. */
	const uint32_t win = cfg.window / t->nsocks ? cfg.window / t->nsocks : 1;

	pthread_barrier_wait(&lg_barrier);
	for (;;) {
		uint32_t now = lg_now_us();
		if (now >= end || lg_stop)
			break;
		uint32_t did = 0;
		uint64_t wait_ns = 1000000; /* 1 ms at most, to notice the end and timeouts */
		if (rate == 0) {
			for (unsigned i = 0; i < t->nsocks; i++) {
				struct lg_sock *s = &t->socks[i];
				lg_expire(t, s, now, 0);
				uint32_t n = win > s->inflight ? win - s->inflight : 0;
				uint32_t room = LG_NIDS - (s->head - s->tail);
				n = n < room ? n : room;
				n = n < cfg.batch ? n : cfg.batch;
				if (n > 0)
					did += lg_send(t, s, n, now);
			}
		} else {
			uint64_t target = (uint64_t)(rate * now / 1e6);
			uint64_t due = target > t->st.sent ? target - t->st.sent : 0;
			for (unsigned k = 0; due > 0 && k < t->nsocks; k++) {
				struct lg_sock *s = &t->socks[t->rr];
				t->rr = (t->rr + 1) % t->nsocks;
				uint32_t n = due < cfg.batch ? (uint32_t)due : cfg.batch;
				lg_expire(t, s, now, n);
				uint32_t sent = lg_send(t, s, n, now);
				did += sent;
				due -= sent;
				if (sent < n)
					break; /* socket buffer full: let the receive side run */
			}
			if (did == 0) {
				/* Sleep until the next query is due. */
				double next_us = (double)(t->st.sent + 1) * 1e6 / rate;
				wait_ns = next_us > now ? (uint64_t)((next_us - now) * 1000) : 0;
				wait_ns = wait_ns < 1000000 ? wait_ns : 1000000;
				for (unsigned i = 0; i < t->nsocks; i++)
					lg_expire(t, &t->socks[i], now, 0);
			}
		}
		lg_poll_recv(t, did ? 0 : wait_ns);
	}

	/* Drain: wait up to one timeout for answers still in flight. */
	uint32_t stop_at = lg_now_us() + cfg.timeout_us;
	for (;;) {
		uint32_t inflight = 0, now = lg_now_us();
		for (unsigned i = 0; i < t->nsocks; i++)
			inflight += t->socks[i].inflight;
		if (inflight == 0 || (int32_t)(now - stop_at) >= 0)
			break;
		lg_poll_recv(t, 1000000);
	}
	for (unsigned i = 0; i < t->nsocks; i++) {
		t->st.lost += t->socks[i].inflight;
		t->socks[i].inflight = 0;
	}
	return NULL;
}

/* ---- setup and report ----------------------------------------------------------------------- */

static int lg_thread_init(struct lg_thread *t, unsigned idx)
{
	t->idx = idx;
	t->nsocks = cfg.socks;
	/* Threads start at different places in the query list. */
	t->qpos = (uint32_t)((uint64_t)lg_nqueries * idx / cfg.threads);
	t->rxbuf = malloc((size_t)LG_RXBUF * LG_MAX_BATCH);
	if (t->rxbuf == NULL)
		return -1;
	for (unsigned i = 0; i < LG_MAX_BATCH; i++) {
		t->rxiov[i] = (struct iovec){.iov_base = t->rxbuf + (size_t)i * LG_RXBUF,
		                             .iov_len = LG_RXBUF};
		t->rxmsg[i].msg_hdr.msg_iov = &t->rxiov[i];
		t->rxmsg[i].msg_hdr.msg_iovlen = 1;
	}
	for (unsigned i = 0; i < t->nsocks; i++) {
		struct lg_sock *s = &t->socks[i];
		s->fd = lg_socket(idx * cfg.socks + i);
		s->slot_q = calloc(LG_NIDS, sizeof(uint32_t));
		s->slot_t = calloc(LG_NIDS, sizeof(uint32_t));
		if (s->fd < 0 || s->slot_q == NULL || s->slot_t == NULL)
			return -1;
		/* Start each socket at a different ID so that two runs do not look alike. */
		s->head = s->tail = (uint32_t)(idx * 7919u + i * 104729u);
		t->pfd[i] = (struct pollfd){.fd = s->fd, .events = POLLIN};
	}
	return 0;
}

static int lg_parse_addr(const char *host, const char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST},
	                *res = NULL;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "loadgen: %s port %s: %s\n", host, port, gai_strerror(rc));
		return -1;
	}
	memcpy(&cfg.addr, res->ai_addr, res->ai_addrlen);
	cfg.addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void lg_usage(FILE *f)
{
	fprintf(f,
	        "usage: loadgen -s ADDR -p PORT -q QUERYFILE [options]\n"
	        "  -d SECONDS   run time (default 10)\n"
	        "  -t THREADS   sending/receiving threads, each with its own sockets (default 1)\n"
	        "  -S SOCKETS   sockets (source ports) per thread (default 8)\n"
	        "  -w WINDOW    closed loop: queries outstanding per thread (default 256)\n"
	        "  -Q QPS       open loop at QPS queries per second in total (default: closed)\n"
	        "  -b BATCH     datagrams per sendmmsg/recvmmsg (default 64, max %d)\n"
	        "  -T MS        a query is lost after MS milliseconds (default 100)\n"
	        "  -e BUFSIZE   EDNS buffer size, 0 sends no OPT record (default 1232)\n"
	        "  -D           set the DO bit (DNSSEC OK) in the OPT record\n"
	        "  -B ADDR[/N]  bind the sockets to ADDR, ADDR+1, ... ADDR+N-1 in turn (IPv4)\n"
	        "QUERYFILE holds 'name type' per line, as for dnsperf.\n",
	        LG_MAX_BATCH);
}

int main(int argc, char **argv)
{
	const char *host = NULL, *port = NULL;
	int c;
	while ((c = getopt(argc, argv, "s:p:q:d:t:S:w:Q:b:T:e:DB:h")) != -1) {
		switch (c) {
		case 'B': {
			char a[64];
			const char *slash = strchr(optarg, '/');
			size_t n = slash ? (size_t)(slash - optarg) : strlen(optarg);
			if (n >= sizeof(a))
				n = sizeof(a) - 1;
			memcpy(a, optarg, n);
			a[n] = 0;
			cfg.nsrc = slash ? (unsigned)atoi(slash + 1) : 1;
			if (inet_pton(AF_INET, a, &cfg.src) != 1 || cfg.nsrc < 1) {
				fprintf(stderr, "loadgen: -B %s: expected IPv4ADDR[/COUNT]\n",
				        optarg);
				return 2;
			}
			break;
		}
		case 's':
			host = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 'q':
			cfg.qfile = optarg;
			break;
		case 'd':
			cfg.duration = atof(optarg);
			break;
		case 't':
			cfg.threads = (unsigned)atoi(optarg);
			break;
		case 'S':
			cfg.socks = (unsigned)atoi(optarg);
			break;
		case 'w':
			cfg.window = (unsigned)atoi(optarg);
			break;
		case 'Q':
			cfg.rate = atof(optarg);
			break;
		case 'b':
			cfg.batch = (unsigned)atoi(optarg);
			break;
		case 'T':
			cfg.timeout_us = (uint32_t)(atof(optarg) * 1000);
			break;
		case 'D':
			cfg.dobit = true;
			break;
		case 'e':
			cfg.edns = atoi(optarg);
			break;
		case 'h':
			lg_usage(stdout);
			return 0;
		default:
			lg_usage(stderr);
			return 2;
		}
	}
	if (host == NULL || port == NULL || cfg.qfile == NULL || cfg.threads < 1 ||
	    cfg.threads > LG_MAX_THREADS || cfg.socks < 1 || cfg.socks > LG_MAX_SOCKS ||
	    cfg.batch < 1 || cfg.batch > LG_MAX_BATCH || cfg.duration <= 0 || cfg.duration > 4000 ||
	    cfg.rate < 0 || (cfg.rate == 0 && cfg.window < 1) || cfg.timeout_us < 1000 ||
	    cfg.edns < 0 || cfg.edns > 65535) {
		lg_usage(stderr);
		return 2;
	}
	if (lg_parse_addr(host, port) != 0 || lg_load_queries(cfg.qfile) != 0)
		return 1;

	struct sigaction sa = {.sa_handler = lg_on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	struct lg_thread *th = calloc(cfg.threads, sizeof(*th));
	if (th == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < cfg.threads; i++) {
		if (lg_thread_init(&th[i], i) != 0) {
			fprintf(stderr, "loadgen: thread setup: %s\n", strerror(errno));
			return 1;
		}
	}
	pthread_barrier_init(&lg_barrier, NULL, cfg.threads + 1);
	for (unsigned i = 0; i < cfg.threads; i++) {
		if (pthread_create(&th[i].tid, NULL, lg_thread_main, &th[i]) != 0) {
			fprintf(stderr, "loadgen: pthread_create failed\n");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &lg_t0);
	pthread_barrier_wait(&lg_barrier);
	for (unsigned i = 0; i < cfg.threads; i++)
		pthread_join(th[i].tid, NULL);
	double elapsed = cfg.duration;
	if (lg_stop) /* interrupted: report over the time actually run */
		elapsed = lg_now_us() / 1e6;

	struct lg_stats tot = {0};
	for (unsigned i = 0; i < cfg.threads; i++) {
		const struct lg_stats *s = &th[i].st;
		tot.sent += s->sent;
		tot.answered += s->answered;
		tot.lost += s->lost;
		tot.late += s->late;
		tot.bad += s->bad;
		tot.trunc += s->trunc;
		tot.send_err += s->send_err;
		tot.recv_err += s->recv_err;
		tot.lat_sum_us += s->lat_sum_us;
		for (int k = 0; k < 16; k++)
			tot.rcode[k] += s->rcode[k];
		for (int k = 0; k < LG_HIST; k++)
			tot.hist[k] += s->hist[k];
	}
	uint32_t p50 = 0, p99 = 0, pmax = 0;
	uint64_t acc = 0, th50 = (tot.answered + 1) / 2, th99 = (tot.answered * 99 + 99) / 100;
	for (unsigned k = 0; k < LG_HIST; k++) {
		if (tot.hist[k] == 0)
			continue;
		if (acc < th50 && acc + tot.hist[k] >= th50)
			p50 = lg_bucket_value(k);
		if (acc < th99 && acc + tot.hist[k] >= th99)
			p99 = lg_bucket_value(k);
		acc += tot.hist[k];
		pmax = lg_bucket_value(k);
	}
	uint64_t other = tot.answered - tot.rcode[0] - tot.rcode[3];

	printf("mode=%s\n", cfg.rate > 0 ? "open" : "closed");
	printf("threads=%u\nsockets_per_thread=%u\nbatch=%u\n", cfg.threads, cfg.socks, cfg.batch);
	if (cfg.rate > 0)
		printf("rate=%.0f\n", cfg.rate);
	else
		printf("window=%u\n", cfg.window);
	printf("queries_loaded=%u\n", lg_nqueries);
	printf("duration=%.3f\n", elapsed);
	printf("sent=%llu\nanswered=%llu\nlost=%llu\n", (unsigned long long)tot.sent,
	       (unsigned long long)tot.answered, (unsigned long long)tot.lost);
	printf("qps_sent=%.0f\nqps_answered=%.0f\n", tot.sent / elapsed, tot.answered / elapsed);
	printf("loss_pct=%.3f\n", tot.sent ? 100.0 * (double)tot.lost / (double)tot.sent : 0.0);
	printf("rcode_noerror=%llu\nrcode_nxdomain=%llu\nrcode_servfail=%llu\n"
	       "rcode_refused=%llu\nrcode_other=%llu\n",
	       (unsigned long long)tot.rcode[0], (unsigned long long)tot.rcode[3],
	       (unsigned long long)tot.rcode[2], (unsigned long long)tot.rcode[5],
	       (unsigned long long)(other - tot.rcode[2] - tot.rcode[5]));
	printf("truncated=%llu\nlate=%llu\nbad=%llu\nsend_errors=%llu\nrecv_errors=%llu\n",
	       (unsigned long long)tot.trunc, (unsigned long long)tot.late,
	       (unsigned long long)tot.bad, (unsigned long long)tot.send_err,
	       (unsigned long long)tot.recv_err);
	printf("latency_avg_us=%.1f\nlatency_p50_us=%u\nlatency_p99_us=%u\nlatency_max_us=%u\n",
	       tot.answered ? (double)tot.lat_sum_us / (double)tot.answered : 0.0, p50, p99, pmax);
	return 0;
}
