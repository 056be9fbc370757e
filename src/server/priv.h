/* SPDX-License-Identifier: MIT */
/* priv: the user the daemon runs as, and giving up root once its sockets are bound. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The account named by server.user: its uid and its primary group. */
typedef struct priv_user {
	char name[256];
	uid_t uid;
	gid_t gid;
} priv_user_t;

/*
 * Looks up the user called name in the password database. Returns 0 with *out filled, or
 * US_ENOENT when there is no such user (err says so), or a negative errno from the lookup;
 * err (errlen bytes) gets the reason on failure.
 */
int priv_lookup(const char *name, priv_user_t *out, char *err, size_t errlen);

/*
 * Makes dir (created with mode if missing; its parent must exist) and, when it is a plain
 * file there, each of the files named in files (a NULL-terminated list, may be NULL) belong to
 * u. Only root can do this; for anyone else it checks that dir is u's already. A symbolic link
 * or a file with more than one hard link is refused rather than followed, so a user who owns
 * the directory cannot make root chown something else. Returns 0 or a negative errno with err
 * saying which path and why.
 */
int priv_own_dir(const char *dir, mode_t mode, const char *const *files, const priv_user_t *u,
                 char *err, size_t errlen);

/*
 * Creates the directory dir and its missing parents (mode 0755), and hands the last one to
 * u (NULL: no one) when this call created it, so the daemon can later remove what it puts
 * there. An existing directory is left as it is. 0 or a negative errno (err says which).
 */
int priv_mkdirs(const char *dir, const priv_user_t *u, char *err, size_t errlen);

/*
 * Gives up every privilege: with u, switches the process to u's uid and gid with u's group as
 * its only supplementary group, which needs root unless the process is u already (then it is
 * a no-op); then, with or without u, clears every capability (effective, permitted,
 * inheritable and ambient), such as the CAP_NET_BIND_SERVICE a service manager granted for
 * binding port 53. Checks afterwards that root cannot be regained. Must be called while the
 * process has one thread: capabilities are per thread. Returns 0, or a negative errno with err
 * saying what could not be done; the caller must then stop, as it is not running as asked.
 */
int priv_drop(const priv_user_t *u, char *err, size_t errlen);
