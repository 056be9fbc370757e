/* SPDX-License-Identifier: MIT */
/* main: dispatches the understudy subcommands. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "server.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: understudy serve [-c FILE]           run the daemon\n"
	           "       understudy ctl [-s SOCKET] COMMAND [ZONE]  control a running daemon\n"
	           "       understudy check-conf [-c FILE]      validate a configuration\n"
	           "       understudy check-zone ORIGIN FILE    validate a zone file\n"
	           "       understudy import-conf [--from named|knot|nsd] FILE\n"
	           "                                            translate another server's "
	           "configuration\n"
	           "       understudy version\n");
}

static int serve(int argc, char **argv)
{
	const char *path = "/etc/understudy/understudy.yaml";
	int opt;
	optind = 1;
	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt != 'c') {
			usage(stderr);
			return 2;
		}
		path = optarg;
	}
	return server_run(path);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "serve") == 0)
		return serve(argc - 1, argv + 1);
	if (strcmp(cmd, "ctl") == 0)
		return cli_ctl(argc - 1, argv + 1);
	if (strcmp(cmd, "check-conf") == 0)
		return cli_check_conf(argc - 1, argv + 1);
	if (strcmp(cmd, "check-zone") == 0)
		return cli_check_zone(argc - 1, argv + 1);
	if (strcmp(cmd, "import-conf") == 0)
		return cli_import_conf(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("understudy %s\n", UNDERSTUDY_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "understudy: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
