/* SPDX-License-Identifier: MIT */
/* axfrclient: asks a server for an AXFR over TCP or TLS, reads the stream to its closing SOA. */
/*
 * usage: axfrclient [--tls] ADDR PORT ZONE [RUNS]
 *
 * --tls: over TLS 1.3 with ALPN "dot" (XoT, RFC 9103), the handshake counted in the time; the
 * server's certificate is not checked (a bench, on loopback).
 *
 * Prints one line per run: "seconds messages records bytes". The client does as little as it
 * can (it walks each message's records only to count them and to find the SOA that closes the
 * stream), so that the time is the server's. Exits 1 on any error, with a message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static SSL_CTX *tls_ctx; /* NULL: clear TCP */

static void die(const char *what)
{
	fprintf(stderr, "axfrclient: %s%s%s\n", what, errno ? ": " : "",
	        errno ? strerror(errno) : "");
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_full(int fd, SSL *ssl, uint8_t *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r =
		    ssl ? SSL_read(ssl, buf + got, (int)(n - got)) : read(fd, buf + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* Skips a name at *p in m[0..len); -1 when it runs past the end. */
static int skip_name(const uint8_t *m, size_t len, size_t *p)
{
	while (*p < len) {
		uint8_t l = m[*p];
		if (l == 0) {
			(*p)++;
			return 0;
		}
		if ((l & 0xC0) == 0xC0) {
			*p += 2;
			return *p <= len ? 0 : -1;
		}
		*p += 1 + (size_t)l;
	}
	return -1;
}

/* Builds the AXFR query for zone (text, with or without the final dot); returns its length. */
static size_t build_query(uint8_t *q, const char *zone)
{
	memset(q, 0, 12);
	q[0] = 0x4A;
	q[1] = 0x58;
	q[5] = 1; /* QDCOUNT */
	size_t p = 12;
	const char *s = zone;
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);
		if (n == 0 || n > 63 || p + n + 6 > 300)
			break;
		q[p++] = (uint8_t)n;
		memcpy(q + p, s, n);
		p += n;
		s += n + (dot ? 1 : 0);
	}
	q[p++] = 0;
	q[p++] = 0;
	q[p++] = 252; /* AXFR */
	q[p++] = 0;
	q[p++] = 1; /* IN */
	return p;
}

static void run(const char *addr, int port, const char *zone)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		die("bad IPv4 address");
	uint8_t q[2 + 320];
	size_t qlen = build_query(q + 2, zone);
	q[0] = (uint8_t)(qlen >> 8);
	q[1] = (uint8_t)qlen;
	static uint8_t msg[65536];
	double t0 = now();
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	SSL *ssl = NULL;
	if (tls_ctx) {
		ssl = SSL_new(tls_ctx);
		if (!ssl || !SSL_set_fd(ssl, fd) || SSL_connect(ssl) != 1) {
			ERR_print_errors_fp(stderr);
			errno = 0;
			die("TLS handshake failed");
		}
	}
	if ((ssl ? SSL_write(ssl, q, (int)(qlen + 2)) : write(fd, q, qlen + 2)) !=
	    (ssize_t)(qlen + 2))
		die("write");
	unsigned long long messages = 0, records = 0, bytes = 0, soas = 0;
	while (soas < 2) {
		uint8_t hl[2];
		if (read_full(fd, ssl, hl, 2) < 0)
			die("the stream ended before the closing SOA");
		size_t len = (size_t)hl[0] << 8 | hl[1];
		if (len < 12 || read_full(fd, ssl, msg, len) < 0)
			die("short message");
		if ((msg[3] & 0xF) != 0) {
			errno = 0;
			die("the server answered with an error RCODE");
		}
		messages++;
		bytes += len + 2;
		unsigned qd = (unsigned)msg[4] << 8 | msg[5], an = (unsigned)msg[6] << 8 | msg[7];
		size_t p = 12;
		for (unsigned i = 0; i < qd; i++)
			if (skip_name(msg, len, &p) < 0 || (p += 4) > len)
				die("bad question");
		for (unsigned i = 0; i < an; i++) {
			if (skip_name(msg, len, &p) < 0 || p + 10 > len)
				die("bad record");
			unsigned type = (unsigned)msg[p] << 8 | msg[p + 1];
			size_t rdlen = (size_t)msg[p + 8] << 8 | msg[p + 9];
			p += 10 + rdlen;
			if (p > len)
				die("bad record");
			records++;
			soas += type == 6;
		}
	}
	double t = now() - t0;
	if (ssl) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(fd);
	printf("%.4f %llu %llu %llu\n", t, messages, records, bytes);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--tls")) {
		static const unsigned char alpn[] = {3, 'd', 'o', 't'};
		tls_ctx = SSL_CTX_new(TLS_client_method());
		if (!tls_ctx || !SSL_CTX_set_min_proto_version(tls_ctx, TLS1_3_VERSION) ||
		    SSL_CTX_set_alpn_protos(tls_ctx, alpn, sizeof(alpn)) != 0)
			die("cannot make a TLS context");
		argv++;
		argc--;
	}
	if (argc < 4) {
		fprintf(stderr, "usage: axfrclient [--tls] ADDR PORT ZONE [RUNS]\n");
		return 2;
	}
	int runs = argc > 4 ? atoi(argv[4]) : 1;
	for (int i = 0; i < runs; i++)
		run(argv[1], atoi(argv[2]), argv[3]);
	return 0;
}
