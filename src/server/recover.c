/* SPDX-License-Identifier: MIT */
/* recover: storage that cannot be used as it is found, set aside so the server starts anyway. */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "recover.h"

/*
 * Whether the LMDB file in dir is whole: a file shorter than its last commit's pages (another
 * process truncated it, a copy stopped half-way) opens fine, and the first read of a missing
 * page is a SIGBUS. So its header is read with a throwaway environment first (read-only, no
 * lock, which touches only the meta pages) and the file's size checked against it. Returns 0
 * (whole, or no file yet), US_EMALF with why filled, or another error.
 */
static int check_file(const char *dir, char *why, size_t len)
{
	char path[4200];
	struct stat st;
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (stat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	MDB_env *env;
	int rc = mdb_env_create(&env);
	if (rc)
		return US_ENOMEM;
	rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK, 0);
	if (rc) {
		snprintf(why, len, "%s", mdb_strerror(rc));
		mdb_env_close(env);
		return rc == ENOENT ? 0 : rc > 0 && rc != EINVAL ? -rc : US_EMALF;
	}
	MDB_envinfo info;
	MDB_stat ms;
	mdb_env_info(env, &info);
	mdb_env_stat(env, &ms);
	mdb_env_close(env);
	unsigned long long need = ((unsigned long long)info.me_last_pgno + 1) * ms.ms_psize;
	if ((unsigned long long)st.st_size < need) {
		snprintf(why, len,
		         "data.mdb holds %llu bytes, its last commit needs %llu: truncated",
		         (unsigned long long)st.st_size, need);
		return US_EMALF;
	}
	return 0;
}

/* Moves data.mdb and lock.mdb into dir/damaged-TIME; the path it used goes to where. */
static int set_aside(const char *dir, char *where, size_t len)
{
	char stamp[32], from[4200], to[4400];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(where, len, "%s/damaged-%s", dir, stamp);
	if (mkdir(where, 0750) != 0 && errno != EEXIST)
		return -errno;
	static const char *const files[] = {"data.mdb", "lock.mdb"};
	for (int i = 0; i < 2; i++) {
		snprintf(from, sizeof(from), "%s/%s", dir, files[i]);
		snprintf(to, sizeof(to), "%s/%s", where, files[i]);
		if (rename(from, to) != 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}

int recover_store_open(const char *dir, store_t **out)
{
	char why[256] = "";
	int ret = check_file(dir, why, sizeof(why));
	if (ret == 0) {
		ret = store_open(dir, 0, out);
		if (ret == US_EMALF)
			snprintf(why, sizeof(why), "it does not open as an LMDB environment");
	}
	if (ret != US_EMALF)
		return ret;
	char where[4300];
	int moved = set_aside(dir, where, sizeof(where));
	if (moved) {
		log_error("storage %s is damaged (%s) and cannot be moved aside: %s", dir, why,
		          strerror(-moved));
		return ret;
	}
	log_error("storage %s is damaged (%s); it is kept in %s and the storage starts afresh: "
	          "secondary zones are transferred again, primary zones' journals start over",
	          dir, why, where);
	return store_open(dir, 0, out);
}

static void on_sigbus(int sig)
{
	static const char msg[] =
	    "understudy: SIGBUS: a file mapped in memory shrank under us (was the storage "
	    "truncated by another process?); stopping, so that a restart can set it aside\n";
	(void)sig;
	ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)r;
	_exit(RECOVER_EXIT_SIGBUS);
}

void recover_catch_sigbus(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}
