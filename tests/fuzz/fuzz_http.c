/* SPDX-License-Identifier: MIT */
/* fuzz_http: our HTTP handlers (routing and rendering) with any method, path and zone state.
 * libmicrohttpd parses the request itself (fuzzed upstream); this drives what it hands us.
 *
 * Input: METHOD '\n' PATH '\n' STATE-BYTE ZONE-NAME '\n' ERROR-TEXT. The zone name and the
 * error text go into the zones (any bytes: quotes, newlines, non-ASCII), the state byte turns
 * the policy states on and off, and every body is checked: JSON well-formed, the Prometheus
 * text format's lines each a comment or NAME{LABELS} VALUE with escaped label values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu.h>

#include "conf.h"
#include "fleetmon.h"
#include "fuzz.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "zonedb.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static server_t srv;
static char dir_path[64];

static void cleanup(void)
{
	char p[200];
	static const char *const files[] = {"u.yaml", "example.com.zone"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir_path, files[i]);
		unlink(p);
	}
	rmdir(dir_path);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	FUZZ_CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "writing %s", path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char dir[] = "/tmp/fuzz-http-XXXXXX";
	FUZZ_CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(dir_path, sizeof(dir_path), "%s", dir);
	atexit(cleanup);
	log_open("stderr", LOG_ERR);
	char conf_path[200], zone_path[200], text[2048];
	snprintf(conf_path, sizeof(conf_path), "%s/u.yaml", dir);
	snprintf(zone_path, sizeof(zone_path), "%s/example.com.zone", dir);
	write_file(zone_path, "$ORIGIN example.com.\n$TTL 300\n"
	                      "@ SOA ns1 host 7 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.1\n");
	/* A primary with a copy, secondaries without one, remotes on loopback's discard port
	 * (the monitor's one tick asks none of them yet; if it did, nothing leaves the host). */
	snprintf(text, sizeof(text),
	         "server:\n  listen: [\"127.0.0.1@1\"]\n  udp-workers: 1\n  watch-ns: false\n"
	         "remotes:\n  - {id: pri, address: \"127.0.0.1@9\"}\n"
	         "  - {id: w, address: \"127.0.0.2@9\"}\n"
	         "zones:\n  - domain: example.com\n    role: primary\n    file: \"%s\"\n"
	         "    watch: [w]\n"
	         "  - domain: example.net\n    role: secondary\n    primaries: [pri]\n"
	         "  - domain: example.org\n    role: secondary\n    primaries: [pri]\n"
	         "    expire-policy: keep-serving\n",
	         zone_path);
	write_file(conf_path, text);
	char err[1024];
	FUZZ_CHECK(conf_load(conf_path, &srv.conf, err, sizeof(err)) == 0, "%s", err);
	rcu_register_thread();
	conf_t *c = srv.conf;
	srv.nstats = 2;
	srv.stats = calloc(2, sizeof(server_stats_t));
	srv.db = zonedb_new((uint32_t)c->nzones);
	srv.zones = calloc(c->nzones, sizeof(server_zone_t *));
	srv.gen = calloc(1, sizeof(*srv.gen));
	FUZZ_CHECK(srv.stats && srv.db && srv.zones && srv.gen, "out of memory");
	srv.gen->conf = c;
	srv.gen->db = srv.db;
	for (size_t i = 0; i < c->nzones; i++) {
		server_zone_t *z = srv.zones[i] = calloc(1, sizeof(server_zone_t));
		FUZZ_CHECK(z, "out of memory");
		z->index = i;
		z->conf = &c->zones[i];
		FUZZ_CHECK(zonedb_add(srv.db, z->conf->name, &z->slot) == 0, "zonedb_add");
		z->slot->user = z;
	}
	FUZZ_CHECK(fleetmon_new(&srv, &srv.fleet) == 0, "fleetmon_new");
	FUZZ_CHECK(server_zone_load(&srv, srv.zones[0]) == 0, "loading the zone");
	fleetmon_tick(srv.fleet, 1000); /* the monitor looks at the zones: their fleets exist */
	return 0;
}

/* A JSON document, checked for shape: strings closed and escaped, brackets balanced. */
static void check_json(const char *t, size_t len)
{
	int depth = 0;
	bool in_str = false;
	char stack[64];
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)t[i];
		if (in_str) {
			FUZZ_CHECK(ch >= 0x20, "raw control byte %#x in a JSON string", ch);
			if (ch == '\\') {
				FUZZ_CHECK(i + 1 < len && strchr("\"\\/bfnrtu", t[i + 1]),
				           "bad escape at %zu", i);
				i++;
			} else if (ch == '"') {
				in_str = false;
			}
			continue;
		}
		if (ch == '"') {
			in_str = true;
		} else if (ch == '{' || ch == '[') {
			FUZZ_CHECK(depth < 64, "too deep");
			stack[depth++] = (char)ch;
		} else if (ch == '}' || ch == ']') {
			FUZZ_CHECK(depth > 0 && stack[depth - 1] == (ch == '}' ? '{' : '['),
			           "unbalanced %c at %zu", ch, i);
			depth--;
		}
	}
	FUZZ_CHECK(!in_str && depth == 0, "unterminated JSON (depth %d)", depth);
}

/* Each line a comment, or NAME[{LABELS}] VALUE with every label value quoted and escaped. */
static void check_metrics(const char *t, size_t len)
{
	FUZZ_CHECK(len && t[len - 1] == '\n', "the text ends with a newline");
	for (const char *line = t; line < t + len;) {
		const char *end = memchr(line, '\n', (size_t)(t + len - line));
		FUZZ_CHECK(end, "a line without its newline");
		if (*line != '#') {
			const char *p = line;
			while (p < end && (*p == '_' || (*p >= 'a' && *p <= 'z')))
				p++;
			FUZZ_CHECK(p > line, "a line without a metric name: %.*s",
			           (int)(end - line), line);
			if (*p == '{') {
				p++;
				while (p < end && *p != '}') {
					while (p < end && *p >= 'a' && *p <= 'z')
						p++;
					FUZZ_CHECK(p + 1 < end && p[0] == '=' && p[1] == '"',
					           "a label without its quoted value");
					for (p += 2; p < end && *p != '"'; p++)
						if (*p == '\\') {
							FUZZ_CHECK(p + 1 < end &&
							               strchr("\\\"n", p[1]),
							           "bad escape in a label value");
							p++;
						}
					FUZZ_CHECK(p < end, "an unterminated label value");
					p++;
					if (*p == ',')
						p++;
				}
				FUZZ_CHECK(p < end, "unterminated labels");
				p++;
			}
			FUZZ_CHECK(*p == ' ' && p + 1 < end, "no value after the series");
		}
		line = end + 1;
	}
}

/* The next '\n'-ended field of the input, NUL-terminated in buf (cut to fit). */
static const uint8_t *field(const uint8_t *p, const uint8_t *end, char *buf, size_t cap)
{
	size_t n = 0;
	while (p < end && *p != '\n') {
		if (n + 1 < cap)
			buf[n++] = (char)*p;
		p++;
	}
	buf[n] = 0;
	return p < end ? p + 1 : p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	char method[64], path[2048], name[300], error[256];
	const uint8_t *p = data, *end = data + size;
	p = field(p, end, method, sizeof(method));
	p = field(p, end, path, sizeof(path));
	uint8_t state = p < end ? *p++ : 0;
	p = field(p, end, name, sizeof(name));
	size_t n = (size_t)(end - p) < sizeof(error) - 1 ? (size_t)(end - p) : sizeof(error) - 1;
	memcpy(error, p, n);
	error[n] = 0;

	/* The states a zone can be in, as the zone manager sets them. */
	for (size_t i = 0; i < srv.conf->nzones; i++) {
		server_zone_t *z = srv.zones[i];
		uint8_t st = (uint8_t)(state >> i | state << (8 - i));
		z->failures = st & 7;
		z->stale = i == 2 && (st & 8);
		z->stale_since = z->stale ? 1 : 0;
		z->expired = i == 1 && (st & 8);
		z->regressed = st & 16;
		z->regressed_serial = 5;
		z->held = st & 32;
		z->held_serial = 9;
		z->zonemd_failed = st & 64;
		z->last_refresh = st & 128 ? 100 : 0;
		z->expire_at = st & 128 ? 200 : 0;
		snprintf(z->error, sizeof(z->error), "%s", error);
		z->xfr[st & 1][(st >> 1) & 1][st % SERVER_XFR_NRESULTS] += 1;
	}
	/* A zone name of any bytes, as labels and JSON strings must carry it. */
	char *saved = srv.conf->zones[1].domain;
	if (name[0])
		srv.conf->zones[1].domain = name;

	http_reply_t r = {0};
	http_route(&srv, method, path, &r);
	srv.conf->zones[1].domain = saved;
	FUZZ_CHECK(r.status == 200 || r.status == 404 || r.status == 405 || r.status == 503,
	           "status %u", r.status);
	FUZZ_CHECK(r.type && (r.status != 405 || r.allow), "headers");
	bool known = !strcmp(path, "/health") || !strcmp(path, "/metrics") ||
	             !strcmp(path, "/fleet") || !strcmp(path, "/");
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	FUZZ_CHECK(known == (r.status != 404), "%s answered %u", path, r.status);
	FUZZ_CHECK(!known || get == (r.status != 405), "%s %s answered %u", method, path, r.status);
	FUZZ_CHECK(r.body.len == 0 || (r.body.text && strlen(r.body.text) == r.body.len),
	           "the body holds a NUL or is not terminated");
	if (r.status == 503 ||
	    (r.status == 200 && (!strcmp(path, "/health") || !strcmp(path, "/fleet"))))
		check_json(r.body.text, r.body.len);
	if (r.status == 200 && !strcmp(path, "/metrics"))
		check_metrics(r.body.text, r.body.len);
	if (r.status == 200 && !strcmp(path, "/")) {
		/* Nothing the page embeds may end its script early. */
		const char *script = strstr(r.body.text, "const initial = ");
		FUZZ_CHECK(script, "the page's data");
		const char *close = strstr(script, "</script>");
		FUZZ_CHECK(close && (size_t)(close - r.body.text) > r.body.len - 40,
		           "the page's script is cut short");
	}
	free(r.body.text);
	return 0;
}
