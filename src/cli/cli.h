/* SPDX-License-Identifier: MIT */
/* cli: the subcommands other than serve; each returns the process exit code. */
#pragma once

int cli_check_conf(int argc, char **argv);
int cli_check_zone(int argc, char **argv);
int cli_ctl(int argc, char **argv);
int cli_import_conf(int argc, char **argv);
