/* SPDX-License-Identifier: MIT */
/* test_connpool: idle connections kept per address, bounded, checked open, timed, retained. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "connpool.h"

static conf_addr_t addr4(const char *ip, int port)
{
	conf_addr_t a;
	memset(&a, 0, sizeof(a));
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ip, &sin->sin_addr);
	a.len = sizeof(*sin);
	return a;
}

/* A connected pair: *ours goes in the pool, the other end stands for the primary. */
static int pair(int *ours)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	*ours = sv[0];
	return sv[1];
}

/* Whether the pool closed our end, as the primary's end sees it (our fd's number may be
 * taken by a new socket since). */
static bool closed(int peer)
{
	char c;
	return recv(peer, &c, 1, MSG_DONTWAIT) == 0;
}

static const int tag = 1, other_tag = 2;

/* A clear-text connection from the pool: its socket, or -1. */
static int take(connpool_t *p, const conf_addr_t *to, const conf_addr_t *via)
{
	net_stream_t st;
	return connpool_take(p, to, via, NULL, &st) ? st.fd : -1;
}

static void take_what_was_put(void **state)
{
	(void)state;
	connpool_t *p = connpool_new();
	assert_non_null(p);
	connpool_retain(p, &tag, &(conf_t){0});
	conf_addr_t pri = addr4("192.0.2.1", 53), pri2 = addr4("192.0.2.2", 53);
	conf_addr_t via = addr4("192.0.2.9", 0);
	int fd, peer = pair(&fd);
	connpool_put(p, &tag, &pri, NULL, NULL, &(net_stream_t){.fd = fd}, 10000, 0);
	assert_int_equal(connpool_count(p), 1);
	/* Another address, another port or another source: not this connection. */
	conf_addr_t port = addr4("192.0.2.1", 5300);
	assert_int_equal(take(p, &pri2, NULL), -1);
	assert_int_equal(take(p, &port, NULL), -1);
	assert_int_equal(take(p, &pri, &via), -1);
	/* Nor one made with another TLS context (here: none) than asked for. */
	net_stream_t st;
	assert_false(connpool_take(p, &pri, NULL, &other_tag, &st));
	assert_int_equal(take(p, &pri, NULL), fd);
	assert_int_equal(take(p, &pri, NULL), -1);
	assert_int_equal(connpool_count(p), 0);

	/* The primary closed its end meanwhile: not handed out (and closed). */
	connpool_put(p, &tag, &pri, &via, NULL, &(net_stream_t){.fd = fd}, 10000, 0);
	close(peer);
	assert_int_equal(take(p, &pri, &via), -1);
	assert_int_equal(connpool_count(p), 0);

	/* Or it sent something unasked: not a connection to send a query on either. */
	peer = pair(&fd);
	connpool_put(p, &tag, &pri, NULL, NULL, &(net_stream_t){.fd = fd}, 10000, 0);
	assert_int_equal(write(peer, "x", 1), 1);
	assert_int_equal(take(p, &pri, NULL), -1);
	close(peer);
	connpool_free(p);
}

static void bounds(void **state)
{
	(void)state;
	connpool_t *p = connpool_new();
	connpool_retain(p, &tag, &(conf_t){0});
	conf_addr_t pri = addr4("192.0.2.1", 53);
	int fds[CONNPOOL_MAX + 8], peers[CONNPOOL_MAX + 8];
	/* A timeout no longer than the margin, a 0, or a stale configuration's: not kept. */
	peers[0] = pair(&fds[0]);
	connpool_put(p, &tag, &pri, NULL, NULL, &(net_stream_t){.fd = fds[0]}, CONNPOOL_MARGIN_MS,
	             0);
	assert_true(closed(peers[0]));
	peers[1] = pair(&fds[1]);
	connpool_put(p, &other_tag, &pri, NULL, NULL, &(net_stream_t){.fd = fds[1]}, 10000, 0);
	assert_true(closed(peers[1]));
	assert_int_equal(connpool_count(p), 0);
	close(peers[0]);
	close(peers[1]);

	/* A few per address: the one that would end first makes room. */
	for (int i = 0; i < CONNPOOL_PER_ADDRESS + 1; i++) {
		peers[i] = pair(&fds[i]);
		connpool_put(p, &tag, &pri, NULL, NULL, &(net_stream_t){.fd = fds[i]}, 10000, i);
	}
	assert_int_equal(connpool_count(p), CONNPOOL_PER_ADDRESS);
	assert_true(closed(peers[0]));
	/* The freshest is taken first. */
	assert_int_equal(take(p, &pri, NULL), fds[CONNPOOL_PER_ADDRESS]);
	close(fds[CONNPOOL_PER_ADDRESS]);
	for (int i = 0; i < CONNPOOL_PER_ADDRESS + 1; i++)
		close(peers[i]);
	connpool_free(p);

	/* And in all. */
	p = connpool_new();
	connpool_retain(p, &tag, &(conf_t){0});
	for (int i = 0; i < CONNPOOL_MAX + 8; i++) {
		conf_addr_t a = addr4("192.0.2.1", 1000 + i);
		peers[i] = pair(&fds[i]);
		connpool_put(p, &tag, &a, NULL, NULL, &(net_stream_t){.fd = fds[i]}, 10000, i);
	}
	assert_int_equal(connpool_count(p), CONNPOOL_MAX);
	for (int i = 0; i < 8; i++)
		assert_true(closed(peers[i]));
	connpool_free(p);
	for (int i = 0; i < CONNPOOL_MAX + 8; i++) {
		assert_true(closed(peers[i]));
		close(peers[i]);
	}
}

static void timers_and_reloads(void **state)
{
	(void)state;
	connpool_t *p = connpool_new();
	connpool_retain(p, &tag, &(conf_t){0});
	conf_addr_t pri = addr4("192.0.2.1", 53), gone = addr4("192.0.2.7", 53);
	int a, b, c;
	int pa = pair(&a), pb = pair(&b), pc = pair(&c);
	/* Kept until the server's time less the margin, and never past our own bound. */
	connpool_put(p, &tag, &pri, NULL, NULL, &(net_stream_t){.fd = a}, 5000, 0);
	connpool_put(p, &tag, &gone, NULL, NULL, &(net_stream_t){.fd = b}, 3600000, 0);
	assert_int_equal(connpool_reap(p, 0), 5000 - CONNPOOL_MARGIN_MS);
	assert_int_equal(connpool_reap(p, 5000 - CONNPOOL_MARGIN_MS), CONNPOOL_KEEP_MAX_MS - 5000);
	assert_true(closed(pa));
	assert_int_equal(connpool_count(p), 1);
	/* A reload that drops the remote of one closes it; the one that stays stays. */
	connpool_put(p, &tag, &pri, NULL, NULL, &(net_stream_t){.fd = c}, 10000, 0);
	conf_remote_t r = {.id = "pri", .addr = &pri, .naddr = 1, .key = -1};
	conf_t conf = {.remotes = &r, .nremotes = 1};
	connpool_retain(p, &other_tag, &conf);
	assert_true(closed(pb));
	assert_int_equal(connpool_count(p), 1);
	assert_int_equal(take(p, &pri, NULL), c);
	/* ... and what comes back from a job of the old configuration is not kept. */
	connpool_put(p, &tag, &pri, NULL, NULL, &(net_stream_t){.fd = c}, 10000, 0);
	assert_true(closed(pc));
	assert_int_equal(connpool_reap(p, 0), -1);
	close(pa);
	close(pb);
	close(pc);
	connpool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(take_what_was_put),
	    cmocka_unit_test(bounds),
	    cmocka_unit_test(timers_and_reloads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
