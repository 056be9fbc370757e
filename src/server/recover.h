/* SPDX-License-Identifier: MIT */
/* recover: storage that cannot be used as it is found, set aside so the server starts anyway. */
#pragma once

#include "store.h"

#define RECOVER_EXIT_SIGBUS 75 /* EX_TEMPFAIL: a restart recovers */

/*
 * store_open for the server's start: when the LMDB files in dir are damaged (they do not open,
 * or the file is shorter than its last commit, which would be a SIGBUS at the first read), they
 * are moved into dir/damaged-TIME, which is logged, and a fresh store is opened in their place.
 * Returns store_open's result; other errors (no such directory, no permission, no space) are
 * left to the caller, as before.
 */
int recover_store_open(const char *dir, store_t **out);

/*
 * A SIGBUS (in practice: a mapped file, the storage, truncated by another process while we
 * run) prints why on stderr and exits with RECOVER_EXIT_SIGBUS instead of dumping core, so
 * the supervisor restarts us and recover_store_open sets the file aside.
 */
void recover_catch_sigbus(void);
