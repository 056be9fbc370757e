/* SPDX-License-Identifier: MIT */
/* fuzz_zonefile: any bytes as the zone file of example.com; a zone that loads is then queried. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "answer.h"
#include "dname.h"
#include "error.h"
#include "fuzz.h"
#include "fuzz_answer.h"
#include "wire.h"
#include "zone.h"
#include "zonedb.h"
#include "zonefile.h"

/* Bigger inputs only make runs slow; what they could show, smaller ones show too. */
#define MAX_INPUT (64 * 1024)
#define MAX_NODES 12 /* nodes queried per zone */

static const uint8_t origin[] = "\7example\3com";
static const answer_conf_t conf = {
    .identity = "fuzz",
    .version = "v",
    .nsid = (const uint8_t *)"n",
    .nsid_len = 1,
    .max_udp = 1232,
};

static int fd = -1;
static char path[64];
static uint8_t *tcp_buf, *udp_buf;

static void init(void)
{
	/* A memory file named by /proc/self/fd, as the loader takes a path; else a tmp file. */
	fd = memfd_create("fuzz_zonefile", MFD_CLOEXEC);
	if (fd < 0)
		fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0, "cannot create a file for the input");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	tcp_buf = malloc(WIRE_MAX_MSG);
	udp_buf = malloc(conf.max_udp);
	FUZZ_CHECK(tcp_buf && udp_buf, "out of memory");
}

/*
 * libzscanner 3.2 follows $INCLUDE with no depth limit, and reads character devices to their
 * end: "$INCLUDE /dev/zero" or a file that includes itself twice would run until memory or
 * time run out. Zone files are the operator's, but fuzz input must not wander the file system,
 * so inputs with the directive (case-insensitive, as the scanner reads it) are skipped.
 */
static bool has_include(const uint8_t *data, size_t size)
{
	static const char word[] = "include";
	for (size_t i = 0; i + 8 <= size; i++) {
		if (data[i] != '$')
			continue;
		size_t k = 0;
		while (k < 7 && (data[i + 1 + k] | 0x20) == word[k])
			k++;
		if (k == 7)
			return true;
	}
	return false;
}

static void on_report(void *ctx, const char *file, unsigned long line, bool error, const char *msg)
{
	(void)ctx;
	(void)file;
	(void)line;
	(void)error;
	FUZZ_CHECK(msg != NULL, "report without a message");
}

/* What the loader promises of every zone it returns. */
static void check_zone(const zone_t *z)
{
	FUZZ_CHECK(z->nnodes >= 1, "zone without nodes");
	FUZZ_CHECK(z->apex_len == sizeof(origin) && memcmp(z->apex, origin, sizeof(origin)) == 0,
	           "wrong apex");
	FUZZ_CHECK(z->soa && z->soa->type == WIRE_T_SOA && z->soa->count == 1, "bad SOA");
	FUZZ_CHECK(zone_node_rrset(&z->nodes[0], WIRE_T_SOA) == z->soa, "SOA not at the apex");
	FUZZ_CHECK(zone_node_rrset(&z->nodes[0], WIRE_T_NS), "no NS at the apex");
	size_t records = 0;
	uint32_t *children = calloc(z->nnodes, sizeof(uint32_t));
	FUZZ_CHECK(children, "out of memory");
	for (uint32_t i = 0; i < z->nnodes; i++) {
		const zone_node_t *n = &z->nodes[i];
		uint8_t lower[DNAME_MAXLEN];
		FUZZ_CHECK(dname_check(n->name, n->name_len) == n->name_len, "node %u name", i);
		dname_lower(lower, n->name, n->name_len);
		FUZZ_CHECK(memcmp(lower, n->name, n->name_len) == 0, "node %u not lower-cased", i);
		FUZZ_CHECK(dname_is_sub(n->name, z->apex), "node %u outside the zone", i);
		FUZZ_CHECK(zone_find(z, n->name, n->name_len) == n, "node %u not found by name", i);
		if (i) {
			const zone_node_t *p =
			    zone_find(z, n->name + n->name[0] + 1, n->name_len - n->name[0] - 1u);
			FUZZ_CHECK(p, "node %u has no parent", i);
			children[p - z->nodes]++;
		}
		for (uint16_t j = 0; j < n->nrrsets; j++) {
			const zone_rrset_t *rs = &n->rrsets[j];
			FUZZ_CHECK(rs->count >= 1 && rs->rdata_len >= 2u * rs->count,
			           "empty RRset");
			for (uint16_t k = 0; k < j; k++)
				FUZZ_CHECK(n->rrsets[k].type != rs->type, "node %u: type %u twice",
				           i, rs->type);
			uint32_t off = 0, seen = 0, bytes = 0;
			do {
				FUZZ_CHECK(off + 2 <= rs->rdata_len,
				           "record header past the RRset");
				uint32_t rl = wire_read16(rs->rdata + off);
				FUZZ_CHECK(off + 2 + rl <= rs->rdata_len, "record past the RRset");
				bytes += 2 + rl;
				seen++;
				off = zone_rr_next(rs, off);
			} while (off);
			FUZZ_CHECK(seen == rs->count && bytes == rs->rdata_len,
			           "RRset of %u records walks as %u of %u bytes (has %u)",
			           rs->count, seen, bytes, rs->rdata_len);
			records += rs->count;
		}
	}
	for (uint32_t i = 0; i < z->nnodes; i++)
		FUZZ_CHECK(children[i] == z->nodes[i].children, "node %u: %u children, counted %u",
		           i, children[i], z->nodes[i].children);
	free(children);
	FUZZ_CHECK(records == z->nrecords, "%zu records in RRsets, zone says %zu", records,
	           z->nrecords);
}

/* Writes a query for name (wire form) and type, with EDNS (DO, NSID) when udp is nonzero. */
static size_t make_query(uint8_t *q, const uint8_t *name, size_t len, uint16_t type, uint16_t udp)
{
	static const uint8_t hdr[12] = {0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0};
	memcpy(q, hdr, sizeof(hdr));
	size_t n = sizeof(hdr);
	memcpy(q + n, name, len);
	n += len;
	wire_write16(q + n, type);
	wire_write16(q + n + 2, WIRE_CLASS_IN);
	n += 4;
	if (udp) {
		static const uint8_t opt[] = {0, 0, 41, 0, 0, 0, 0, 0x80, 0, 0, 4, 0, 3, 0, 0};
		memcpy(q + n, opt, sizeof(opt));
		wire_write16(q + n + 3, udp);
		n += sizeof(opt);
		q[11] = 1;
	}
	return n;
}

/* Asks the zone about some of its names, and about names just below them. */
static void query_zone(zone_t *z)
{
	zonedb_t *db = zonedb_new(1);
	zonedb_slot_t *slot;
	FUZZ_CHECK(db, "out of memory");
	FUZZ_CHECK(zonedb_add(db, origin, &slot) == 0, "zonedb_add");
	slot->zone = z;

	static const uint16_t udps[] = {0, 512, 1232, 4096};
	uint32_t step = z->nnodes > MAX_NODES ? z->nnodes / MAX_NODES : 1;
	unsigned k = 0;
	for (uint32_t i = 0; i < z->nnodes; i += step) {
		const zone_node_t *n = &z->nodes[i];
		uint8_t q[512], below[DNAME_MAXLEN];
		uint16_t types[] = {WIRE_T_A, WIRE_T_ANY, WIRE_T_DS, WIRE_T_MX,
		                    n->nrrsets ? n->rrsets[0].type : WIRE_T_TXT};
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			size_t len = make_query(q, n->name, n->name_len, types[t], udps[k++ % 4]);
			fuzz_answer(&conf, db, q, len, udp_buf, tcp_buf);
		}
		/* A name one label down finds wildcards, cuts and DNAMEs from below. */
		if (n->name_len + 2 <= DNAME_MAXLEN) {
			below[0] = 1;
			below[1] = 'x';
			memcpy(below + 2, n->name, n->name_len);
			size_t len =
			    make_query(q, below, n->name_len + 2u, types[k % 5], udps[k % 4]);
			k++;
			fuzz_answer(&conf, db, q, len, udp_buf, tcp_buf);
		}
	}
	zonedb_free(db); /* frees z too */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT || has_include(data, size))
		return 0;
	if (fd < 0)
		init();
	FUZZ_CHECK(ftruncate(fd, 0) == 0, "ftruncate");
	for (size_t done = 0; done < size;) {
		ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
		FUZZ_CHECK(n > 0, "pwrite");
		done += (size_t)n;
	}

	static zone_t untouched;
	zone_t *z = &untouched;
	int ret = zonefile_load(origin, path, on_report, NULL, &z);
	if (ret) {
		FUZZ_CHECK(ret == US_ESYNTAX || ret == US_EZONE || ret == US_ENOMEM,
		           "zonefile_load returned %d (%s)", ret, us_strerror(ret));
		FUZZ_CHECK(z == &untouched, "zonefile_load wrote *out and failed");
		return 0;
	}
	FUZZ_CHECK(z && z != &untouched, "zonefile_load succeeded without a zone");
	check_zone(z);
	query_zone(z);
	return 0;
}
