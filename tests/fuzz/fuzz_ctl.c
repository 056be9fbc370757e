/* SPDX-License-Identifier: MIT */
/* fuzz_ctl: any bytes sent to the control socket: ctl_serve reads one bounded line, splits it,
 * and the defences' commands (rrl, limits, block, unblock, cookie-rotate) take it on a real
 * guard; every reply starts with its status byte, and what they accept shows in what they say. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <urcu.h>

#include "conf.h"
#include "ctl.h"
#include "fuzz.h"
#include "shield.h"
#include "log.h"
#include "server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static server_t srv;
static int lfd = -1;
static char sock_path[108], dir_path[64];

/* The temporary directory goes at exit: the socket, the configuration, the kept secret. */
static void cleanup(void)
{
	char p[200];
	static const char *const files[] = {"ctl.sock", "u.yaml", "storage/cookie-secret",
	                                    "storage/cookie-secret.new", "storage"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir_path, files[i]);
		if (unlink(p) != 0)
			rmdir(p);
	}
	rmdir(dir_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char dir[] = "/tmp/fuzz-ctl-XXXXXX";
	FUZZ_CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(dir_path, sizeof(dir_path), "%s", dir);
	atexit(cleanup);
	log_open("stderr", LOG_ERR); /* every accepted command logs a notice: not millions */
	char conf_path[200], text[1024];
	snprintf(conf_path, sizeof(conf_path), "%s/u.yaml", dir);
	snprintf(text, sizeof(text),
	         "server:\n  listen: [\"127.0.0.1@1\"]\n  storage: \"%s/storage\"\n"
	         "  udp-workers: 2\n  tcp-workers: 1\n  cookies: true\n"
	         "  rrl: {rate-limit: 100, whitelist: [10.0.0.0/8]}\n",
	         dir);
	FILE *f = fopen(conf_path, "w");
	FUZZ_CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "writing the configuration");
	char err[1024];
	FUZZ_CHECK(conf_load(conf_path, &srv.conf, err, sizeof(err)) == 0, "%s", err);
	srv.nstats = 3;
	srv.stats = calloc(3, sizeof(server_stats_t));
	rcu_register_thread();
	FUZZ_CHECK(shield_init(&srv) == 0, "shield_init");
	snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", dir);
	lfd = ctl_listen(sock_path);
	FUZZ_CHECK(lfd >= 0, "ctl_listen");
	return 0;
}

static void handler(void *ctx, int argc, char **argv, ctl_reply_t *r)
{
	(void)ctx;
	FUZZ_CHECK(argc >= 1 && argc <= CTL_MAX_ARGS, "argc %d", argc);
	for (int i = 0; i < argc; i++)
		FUZZ_CHECK(argv[i][0] && !strpbrk(argv[i], " \t\r\n"), "argument \"%s\"", argv[i]);
	if (!shield_ctl(&srv, argc, argv, r))
		ctl_fail(r, "unknown command: %s\n", argv[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, sock_path);
	FUZZ_CHECK(connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect");
	/* The client may send anything, NUL bytes and no newline included; the server reads
	 * at most a line's worth and then answers. */
	if (size)
		FUZZ_CHECK(send(c, data, size, MSG_NOSIGNAL) >= 0, "send");
	shutdown(c, SHUT_WR);
	ctl_serve(lfd, handler, NULL);
	char reply[65536];
	size_t n = 0;
	ssize_t got;
	while (n < sizeof(reply) && (got = recv(c, reply + n, sizeof(reply) - n, 0)) > 0)
		n += (size_t)got;
	close(c);
	FUZZ_CHECK(n >= 1 && (reply[0] == '0' || reply[0] == '1'), "status byte %d",
	           n ? reply[0] : -1);
	/* The settings stay within their bounds whatever was accepted. */
	rcu_read_lock();
	const shield_settings_t *gs = shield_settings(srv.shield);
	FUZZ_CHECK(gs->rrl.slip <= 100 && gs->rrl.rate <= 1000000, "rrl %u %u", gs->rrl.slip,
	           gs->rrl.rate);
	FUZZ_CHECK(gs->rrl.v4_bits >= 8 && gs->rrl.v4_bits <= 32 && gs->rrl.v6_bits >= 16 &&
	               gs->rrl.v6_bits <= 128,
	           "prefix lengths %u %u", gs->rrl.v4_bits, gs->rrl.v6_bits);
	FUZZ_CHECK(gs->transfers_out >= 1 && gs->tcp_per_address >= 1, "limits");
	size_t blocked = netset_size(gs->block) + netset_size(gs->whitelist);
	rcu_read_unlock();
	/* The guard lives on from input to input: start it afresh before its lists grow long. */
	if (blocked > 64) {
		shield_deinit(&srv);
		FUZZ_CHECK(shield_init(&srv) == 0, "shield_init");
	}
	return 0;
}
