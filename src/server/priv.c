/* SPDX-License-Identifier: MIT */
/* priv: the user the daemon runs as, and giving up root once its sockets are bound. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"
#include "priv.h"

int priv_lookup(const char *name, priv_user_t *out, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (strlen(name) >= sizeof(out->name)) {
		us_errf(err, errlen, "user name too long");
		return US_EINVAL;
	}
	errno = 0;
	int ret = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (!res) {
		/* getpwnam_r reports "not found" as 0 or as one of several errnos, by NSS module.
		 */
		if (ret == 0 || ret == ENOENT || ret == ESRCH || ret == EBADF || ret == EPERM) {
			us_errf(err, errlen, "no such user \"%s\"", name);
			return US_ENOENT;
		}
		us_errf(err, errlen, "cannot look up user \"%s\": %s", name, strerror(ret));
		return -ret;
	}
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->uid = pw.pw_uid;
	out->gid = pw.pw_gid;
	return 0;
}

/* Gives path (opened relative to dirfd, not followed if a link) to u; 0 or a negative errno. */
static int own_one(int dirfd, const char *name, const char *shown, bool must_be_dir,
                   const priv_user_t *u, char *err, size_t errlen)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT && !must_be_dir)
			return 0;
		int e = errno;
		us_errf(err, errlen, "%s: %s", shown, strerror(e));
		return -e;
	}
	if (must_be_dir ? !S_ISDIR(st.st_mode) : (!S_ISREG(st.st_mode) || st.st_nlink != 1)) {
		us_errf(err, errlen, "%s: not a %s; refusing to hand it to user %s", shown,
		        must_be_dir ? "directory" : "plain file with one link", u->name);
		return US_EINVAL;
	}
	if (st.st_uid == u->uid && st.st_gid == u->gid)
		return 0;
	if (geteuid() != 0) {
		us_errf(err, errlen,
		        "%s belongs to uid %u, not to user %s, and only root can change that",
		        shown, (unsigned)st.st_uid, u->name);
		return -EPERM;
	}
	if (fchownat(dirfd, name, u->uid, u->gid, AT_SYMLINK_NOFOLLOW) < 0) {
		int e = errno;
		us_errf(err, errlen, "%s: cannot hand it to user %s: %s", shown, u->name,
		        strerror(e));
		return -e;
	}
	return 0;
}

int priv_own_dir(const char *dir, mode_t mode, const char *const *files, const priv_user_t *u,
                 char *err, size_t errlen)
{
	if (mkdir(dir, mode) < 0 && errno != EEXIST) {
		int e = errno;
		us_errf(err, errlen, "%s: cannot create it: %s", dir, strerror(e));
		return -e;
	}
	int ret = own_one(AT_FDCWD, dir, dir, true, u, err, errlen);
	if (ret || !files)
		return ret;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		us_errf(err, errlen, "%s: %s", dir, strerror(e));
		return -e;
	}
	for (size_t i = 0; files[i] && ret == 0; i++) {
		char shown[4200];
		snprintf(shown, sizeof(shown), "%s/%s", dir, files[i]);
		ret = own_one(fd, files[i], shown, false, u, err, errlen);
	}
	close(fd);
	return ret;
}

int priv_mkdirs(const char *dir, const priv_user_t *u, char *err, size_t errlen)
{
	char *copy = strdup(dir);
	if (!copy)
		return US_ENOMEM;
	int ret = 0;
	bool created = false;
	for (char *p = copy + 1;; p++) {
		char c = *p;
		if (c != '/' && c != 0)
			continue;
		*p = 0;
		created = mkdir(copy, 0755) == 0;
		if (!created && errno != EEXIST) {
			ret = -errno;
			us_errf(err, errlen, "%s: cannot create it: %s", copy, strerror(-ret));
			break;
		}
		*p = c;
		if (c == 0)
			break;
	}
	if (ret == 0 && created && u && chown(copy, u->uid, u->gid) < 0) {
		ret = -errno;
		us_errf(err, errlen, "%s: cannot hand it to user %s: %s", copy, u->name,
		        strerror(-ret));
	}
	free(copy);
	return ret;
}

/* The number of threads of this process, from /proc/self/status; 0 if it cannot be read. */
static int thread_count(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return 0;
	char line[256];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static int capset_zero(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	return (int)syscall(SYS_capset, &h, d);
}

static bool caps_clear(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return false;
	for (int i = 0; i < 2; i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable)
			return false;
	return true;
}

int priv_drop(const priv_user_t *u, char *err, size_t errlen)
{
	/* setuid() in glibc reaches every thread, but capset() does not: one thread only. */
	int threads = thread_count();
	/* 0: no /proc to ask (a bare chroot); the order in server_run is what ensures it. */
	if (threads > 1) {
		us_errf(err, errlen, "giving up privileges needs one thread, the process has %d",
		        threads);
		return US_EINVAL;
	}
	if (u) {
		uid_t ruid, euid, suid;
		gid_t rgid, egid, sgid;
		getresuid(&ruid, &euid, &suid);
		getresgid(&rgid, &egid, &sgid);
		bool already = ruid == u->uid && euid == u->uid && suid == u->uid &&
		               rgid == u->gid && egid == u->gid && sgid == u->gid;
		if (!already && euid != 0) {
			us_errf(err, errlen,
			        "cannot switch to user %s (uid %u): running as uid %u, not as root",
			        u->name, (unsigned)u->uid, (unsigned)euid);
			return -EPERM;
		}
		/* Groups first: once the uid is not root, they can no longer be changed. */
		if (!already &&
		    (setgroups(1, &u->gid) < 0 || setresgid(u->gid, u->gid, u->gid) < 0 ||
		     setresuid(u->uid, u->uid, u->uid) < 0)) {
			int e = errno;
			us_errf(err, errlen, "cannot switch to user %s (uid %u, gid %u): %s",
			        u->name, (unsigned)u->uid, (unsigned)u->gid, strerror(e));
			return -e;
		}
		if (u->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
			us_errf(err, errlen, "switched to user %s, yet root could be regained",
			        u->name);
			return -EPERM;
		}
	}
	/* The daemon never runs another program; this makes sure no set-user-ID program it
	 * might be tricked into running could hand back what was given up. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		int e = errno;
		us_errf(err, errlen, "cannot set no_new_privs: %s", strerror(e));
		return -e;
	}
	/* Setting the uid from root to another clears the capabilities already; a process
	 * started as the user by a service manager may still hold what it granted. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		int e = errno;
		us_errf(err, errlen, "cannot clear the ambient capabilities: %s", strerror(e));
		return -e;
	}
	if (capset_zero() < 0 || !caps_clear()) {
		int e = errno ? errno : EPERM;
		us_errf(err, errlen, "cannot give up the capabilities: %s", strerror(e));
		return -e;
	}
	return 0;
}
