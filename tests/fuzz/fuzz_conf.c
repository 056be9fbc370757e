/* SPDX-License-Identifier: MIT */
/* fuzz_conf: any bytes as the configuration file; conf_load either fills a coherent conf_t or
 * says what is wrong, file and line first, and frees everything either way. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "error.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* conf_load reads a path: a memory file stands in for it, without touching a disk. */
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("fuzz-conf", 0);
		FUZZ_CHECK(fd >= 0, "memfd_create");
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	FUZZ_CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == (ssize_t)size,
	           "writing the memory file");
	conf_t *c = NULL;
	char err[4096];
	int ret = conf_load(path, &c, err, sizeof(err));
	if (ret) {
		FUZZ_CHECK(c == NULL, "conf set on failure");
		FUZZ_CHECK(ret == US_EINVAL || ret == US_ENOMEM, "conf_load returned %d", ret);
		FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0, "message without the file: %s",
		           err);
		FUZZ_CHECK(strlen(err) > strlen(path) + 2, "empty message");
		return 0;
	}
	/* Defaults are filled and every reference points inside its table. */
	FUZZ_CHECK(c->nlisten > 0 && c->storage && c->control && c->version && c->identity,
	           "defaults missing");
	FUZZ_CHECK(c->udp_workers >= 1 && c->tcp_workers >= 1 && c->tcp_max_clients >= 1,
	           "workers");
	FUZZ_CHECK(c->rrl.rate_limit >= 0 && c->rrl.slip >= 0 && c->rrl.table_size >= 1024 &&
	               c->rrl.ipv4_prefix_length >= 8 && c->rrl.ipv4_prefix_length <= 32 &&
	               c->rrl.ipv6_prefix_length >= 16 && c->rrl.ipv6_prefix_length <= 128,
	           "rrl settings out of range");
	FUZZ_CHECK(c->notify_rate_limit >= 0 && c->transfer_rate_limit >= 0 &&
	               c->transfers_out >= 1 && c->transfers_out_per_address >= 1 &&
	               c->tcp_io_timeout >= 1 && c->tcp_max_clients_per_address >= 1,
	           "limits out of range");
	FUZZ_CHECK(c->ncookie_secrets >= 0 && c->ncookie_secrets <= 2, "cookie secrets");
	for (size_t i = 0; i < c->nremotes; i++) {
		FUZZ_CHECK(c->remotes[i].id && c->remotes[i].naddr > 0, "remote %zu", i);
		FUZZ_CHECK(c->remotes[i].key < (int)c->nkeys, "remote key");
	}
	for (size_t i = 0; i < c->nacls; i++)
		FUZZ_CHECK(c->acls[i].id && c->acls[i].key < (int)c->nkeys, "acl %zu", i);
	for (size_t i = 0; i < c->nzones; i++) {
		const conf_zone_t *z = &c->zones[i];
		FUZZ_CHECK(z->domain && z->name_len > 0, "zone %zu", i);
		FUZZ_CHECK(conf_find_zone(c, z->name, z->name_len) == z, "zone %zu not unique", i);
		for (size_t j = 0; j < z->nnotify; j++)
			FUZZ_CHECK(z->notify[j] >= 0 && (size_t)z->notify[j] < c->nremotes,
			           "notify");
		for (size_t j = 0; j < z->nprimaries; j++)
			FUZZ_CHECK(z->primaries[j] >= 0 && (size_t)z->primaries[j] < c->nremotes,
			           "primaries");
		for (size_t j = 0; j < z->nacl; j++)
			FUZZ_CHECK(z->acl[j] >= 0 && (size_t)z->acl[j] < c->nacls, "acl");
		FUZZ_CHECK(z->role != CONF_ROLE_PRIMARY || z->file, "primary without a file");
		FUZZ_CHECK(z->role != CONF_ROLE_SECONDARY || z->nprimaries, "secondary alone");
	}
	conf_free(c);
	return 0;
}
