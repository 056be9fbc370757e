/* SPDX-License-Identifier: MIT */
/* cli: check-conf, check-zone and ctl. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "conf.h"
#include "ctl.h"
#include "dname.h"
#include "dnssec.h"
#include "error.h"
#include "zonefile.h"

#define DEFAULT_CONF "/etc/understudy/understudy.yaml"

static const char *conf_arg(int argc, char **argv, const char *usage)
{
	const char *path = DEFAULT_CONF;
	int opt;
	optind = 1;
	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt != 'c') {
			fprintf(stderr, "usage: %s\n", usage);
			return NULL;
		}
		path = optarg;
	}
	return path;
}

int cli_check_conf(int argc, char **argv)
{
	const char *path = conf_arg(argc, argv, "understudy check-conf [-c FILE]");
	if (!path)
		return 2;
	char err[16384];
	conf_t *conf = NULL;
	if (conf_load(path, &conf, err, sizeof(err))) {
		fputs(err, stderr);
		return 1;
	}
	printf("%s: ok, %zu zones\n", path, conf->nzones);
	conf_free(conf);
	return 0;
}

typedef struct check_ctx {
	unsigned errors, warnings;
} check_ctx_t;

static void check_report(void *ctx, const char *file, unsigned long line, bool error,
                         const char *msg)
{
	check_ctx_t *c = ctx;
	if (error)
		c->errors++;
	else
		c->warnings++;
	if (file && line)
		fprintf(stderr, "%s:%lu: %s: %s\n", file, line, error ? "error" : "warning", msg);
	else
		fprintf(stderr, "%s: %s: %s\n", file ? file : "zone", error ? "error" : "warning",
		        msg);
}

int cli_check_zone(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: understudy check-zone ORIGIN FILE\n");
		return 2;
	}
	uint8_t origin[DNAME_MAXLEN];
	if (dname_from_text(argv[1], origin) < 0) {
		fprintf(stderr, "error: invalid zone name: %s\n", argv[1]);
		return 2;
	}
	check_ctx_t c = {0};
	zone_t *z = NULL;
	int ret = zonefile_load(origin, argv[2], check_report, &c, &z);
	if (ret) {
		fprintf(stderr, "%s: zone %s not loadable: %u errors (%s)\n", argv[2], argv[1],
		        c.errors, us_strerror(ret));
		return 1;
	}
	/* Signature times depend on the clock, so they are checked here rather than in the
	 * builder; a backup still serves what its primary signed, hence warnings. */
	dnssec_check_times(z, (uint32_t)time(NULL), check_report, &c);
	printf("%s: zone %s ok: serial %u, %zu records, %u names, %u warnings\n", argv[2], argv[1],
	       z->serial, z->nrecords, z->nnodes, c.warnings);
	zone_unref(z);
	return 0;
}

int cli_ctl(int argc, char **argv)
{
	const char *usage =
	    "understudy ctl [-s SOCKET | -c CONF] [--json] COMMAND [ZONE]\n"
	    "commands: status, zone-status [ZONE], fleet [ZONE], reload [ZONE], refresh ZONE,\n"
	    "          retransfer ZONE, notify ZONE, accept ZONE, reject ZONE, sync [ZONE], stop";
	static const struct option longopts[] = {{"json", no_argument, NULL, 'j'}, {0}};
	const char *sock = NULL, *conf_path = NULL;
	bool json = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+s:c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'c':
			conf_path = optarg;
			break;
		case 'j':
			json = true;
			break;
		default:
			fprintf(stderr, "usage: %s\n", usage);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: %s\n", usage);
		return 2;
	}
	conf_t *conf = NULL;
	if (!sock) {
		/* Without -s the socket comes from the configuration, as the daemon reads it. */
		char err[8192];
		if (conf_load(conf_path ? conf_path : DEFAULT_CONF, &conf, err, sizeof(err))) {
			fputs(err, stderr);
			return 2;
		}
		sock = conf->control;
	}
	int ret = ctl_client(sock, json, argc - optind, argv + optind);
	conf_free(conf);
	return ret;
}
