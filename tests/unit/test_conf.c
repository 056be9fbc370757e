/* SPDX-License-Identifier: MIT */
/* test_conf: unit tests for the YAML configuration parser, values, defaults and errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "error.h"

/* One temp dir for the whole run; every test writes its config to x.yaml inside it. */
#define SECRET3                                                                                    \
	"00112233445566778899aabbccddeeff, 00112233445566778899aabbccddeeff, "                     \
	"00112233445566778899aabbccddeeff"

static char dir[64];
static char path[128];
static char err[16384];

#define SECRET     "dW5kZXJzdHVkeS10ZXN0LXNlY3JldC0zMi1ieXRlcyE="
#define SECRET_RAW "understudy-test-secret-32-bytes!"

/* DESIGN.md's example, verbatim but for the secret, split where the remotes list ends. */
#define DESIGN_HEAD                                                                                \
	"server:\n"                                                                                \
	"  listen: [\"127.0.0.1@5300\", \"::1@5300\"]   # ADDR@PORT, UDP and TCP\n"                \
	"  storage: \"/var/lib/understudy\"           # durable state: zones, journals, timers\n"  \
	"  control: \"/run/understudy/ctl.sock\"      # control socket for `understudy ctl`\n"     \
	"  identity: \"ns1\"                          # CHAOS id.server / hostname.bind\n"         \
	"  version: \"understudy 0.1\"                # CHAOS version.bind / version.server\n"     \
	"  nsid: \"ns1\"                              # EDNS NSID (RFC 5001), sent when asked\n"   \
	"  udp-workers: 2                           # default: number of CPUs\n"                   \
	"log: {target: stderr, level: info}         # stderr | syslog | a file path\n"             \
	"keys:\n"                                                                                  \
	"  - {id: k1, algorithm: hmac-sha256, secret: \"" SECRET "\"}\n"                           \
	"remotes:\n"                                                                               \
	"  - {id: pri, address: [\"192.0.2.1@53\"], key: k1, via: 192.0.2.2}   # via = source "    \
	"address\n"
#define DESIGN_TAIL                                                                                \
	"acls:\n"                                                                                  \
	"  - {id: xfr, address: [192.0.2.0/24], key: k1, action: [transfer, notify]}\n"            \
	"zones:\n"                                                                                 \
	"  - domain: example.com\n"                                                                \
	"    role: primary                 # primary | secondary\n"                                \
	"    file: \"/etc/understudy/example.com.zone\"   # primary: the zone file\n"              \
	"    notify: [sec1, sec2]          # remotes to NOTIFY on every new serial\n"              \
	"    acl: [xfr]                    # who may transfer from us / NOTIFY us\n"               \
	"  - domain: example.net\n"                                                                \
	"    role: secondary\n"                                                                    \
	"    primaries: [pri]              # in order of preference\n"                             \
	"    acl: [xfr]\n"
/* The example NOTIFYs sec1 and sec2 without defining them; a complete file must. */
#define DESIGN_EXTRA                                                                               \
	"  - {id: sec1, address: 192.0.2.11}\n"                                                    \
	"  - {id: sec2, address: [\"192.0.2.12@5353\"]}\n"
#define DESIGN DESIGN_HEAD DESIGN_EXTRA DESIGN_TAIL

static void write_file(const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int load(const char *text, conf_t **out)
{
	write_file(text, strlen(text));
	*out = NULL;
	return conf_load(path, out, err, sizeof(err));
}

static conf_t *load_ok(const char *text)
{
	conf_t *c = NULL;
	int ret = load(text, &c);
	if (ret != 0)
		print_error("unexpected errors:\n%s", err);
	assert_int_equal(ret, 0);
	assert_string_equal(err, "");
	assert_non_null(c);
	return c;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Asserts that loading fails and that one message line holds both loc ("x.yaml:7:") and msg. */
static void expect_error(const char *text, const char *loc, const char *msg)
{
	conf_t *c = (conf_t *)1;
	assert_int_equal(load(text, &c), US_EINVAL);
	assert_ptr_equal(c, NULL); /* load() clears it; conf_load must leave it untouched */
	for (const char *p = err; (p = strstr(p, loc)); p++) {
		const char *eol = strchr(p, '\n');
		const char *m = strstr(p, msg);
		if (eol && m && m < eol)
			return;
	}
	fail_msg("no line with \"%s\" and \"%s\" in:\n%s", loc, msg, err);
}

static const char *addr_str(const conf_addr_t *a)
{
	static char buf[64];
	conf_addr_str(a, buf, sizeof(buf));
	return buf;
}

static void test_design_example(void **state)
{
	(void)state;
	conf_t *c = load_ok(DESIGN);
	assert_int_equal(c->nlisten, 2);
	assert_string_equal(addr_str(&c->listen[0]), "127.0.0.1@5300");
	assert_string_equal(addr_str(&c->listen[1]), "::1@5300");
	assert_string_equal(c->storage, "/var/lib/understudy");
	assert_string_equal(c->control, "/run/understudy/ctl.sock");
	assert_string_equal(c->identity, "ns1");
	assert_string_equal(c->version, "understudy 0.1");
	assert_string_equal(c->nsid, "ns1");
	assert_int_equal(c->udp_workers, 2);
	assert_int_equal(c->log_target, CONF_LOG_STDERR);
	assert_int_equal(c->log_level, LOG_INFO);
	assert_int_equal(c->nkeys, 1);
	assert_string_equal(c->keys[0].id, "k1");
	assert_int_equal(c->keys[0].algorithm, CONF_HMAC_SHA256);
	assert_int_equal(c->keys[0].secret_len, strlen(SECRET_RAW));
	assert_memory_equal(c->keys[0].secret, SECRET_RAW, strlen(SECRET_RAW));
	assert_int_equal(c->keys[0].line, 11);
	assert_int_equal(c->nremotes, 3);
	assert_string_equal(c->remotes[0].id, "pri");
	assert_int_equal(c->remotes[0].naddr, 1);
	assert_string_equal(addr_str(&c->remotes[0].addr[0]), "192.0.2.1@53");
	assert_int_equal(c->remotes[0].key, 0);
	assert_true(c->remotes[0].has_via);
	assert_string_equal(addr_str(&c->remotes[0].via), "192.0.2.2@0");
	assert_int_equal(c->nacls, 1);
	assert_string_equal(c->acls[0].id, "xfr");
	assert_int_equal(c->acls[0].nprefix, 1);
	assert_int_equal(c->acls[0].prefix[0].family, AF_INET);
	assert_int_equal(c->acls[0].prefix[0].bits, 24);
	assert_memory_equal(c->acls[0].prefix[0].addr, "\xc0\x00\x02\x00", 4);
	assert_int_equal(c->acls[0].key, 0);
	assert_int_equal(c->acls[0].actions, CONF_ACTION_TRANSFER | CONF_ACTION_NOTIFY);
	assert_false(c->acls[0].deny);
	assert_int_equal(c->nzones, 2);
	const conf_zone_t *z = &c->zones[0];
	assert_string_equal(z->domain, "example.com");
	assert_int_equal(z->name_len, 13);
	assert_memory_equal(z->name,
	                    "\x07"
	                    "example\x03"
	                    "com\x00",
	                    13);
	assert_int_equal(z->role, CONF_ROLE_PRIMARY);
	assert_string_equal(z->file, "/etc/understudy/example.com.zone");
	assert_int_equal(z->nnotify, 2);
	assert_int_equal(z->notify[0], 1);
	assert_int_equal(z->notify[1], 2);
	assert_int_equal(z->nacl, 1);
	assert_int_equal(z->acl[0], 0);
	assert_int_equal(z->nprimaries, 0);
	z = &c->zones[1];
	assert_string_equal(z->domain, "example.net");
	assert_int_equal(z->role, CONF_ROLE_SECONDARY);
	assert_null(z->file);
	assert_int_equal(z->nprimaries, 1);
	assert_int_equal(z->primaries[0], 0);
	assert_int_equal(z->line, 24);
	conf_free(c);
}

static void test_design_example_verbatim_needs_remotes(void **state)
{
	(void)state;
	expect_error(DESIGN_HEAD DESIGN_TAIL, "x.yaml:20:", "notify: unknown remote \"sec1\"");
	expect_error(DESIGN_HEAD DESIGN_TAIL, "x.yaml:20:", "notify: unknown remote \"sec2\"");
	assert_int_equal(count_lines(err), 2);
}

static void test_defaults(void **state)
{
	(void)state;
	char host[256] = "";
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	conf_t *c = load_ok("");
	assert_non_null(strstr(c->path, "x.yaml"));
	assert_int_equal(c->nlisten, 2);
	assert_string_equal(addr_str(&c->listen[0]), "127.0.0.1@53");
	assert_string_equal(addr_str(&c->listen[1]), "::1@53");
	assert_string_equal(c->storage, "/var/lib/understudy");
	assert_string_equal(c->control, "/run/understudy/ctl.sock");
	assert_string_equal(c->identity, host);
	assert_string_equal(c->version, "understudy 0.1");
	assert_null(c->nsid);
	assert_int_equal(c->udp_workers, cpus < 1 ? 1 : cpus > 256 ? 256 : cpus);
	assert_int_equal(c->tcp_workers, 1);
	assert_int_equal(c->tcp_max_clients, 1000);
	assert_int_equal(c->tcp_idle_timeout, 10);
	assert_int_equal(c->udp_max_payload, 1232);
	assert_int_equal(c->log_target, CONF_LOG_STDERR);
	assert_null(c->log_file);
	assert_int_equal(c->log_level, LOG_INFO);
	assert_int_equal(c->nkeys + c->nremotes + c->nacls + c->nzones, 0);
	conf_free(c);
}

static void test_secondary_timer_and_limit_options(void **state)
{
	(void)state;
	conf_t *c = load_ok("remotes:\n  - {id: p, address: 127.0.0.1@5300}\n"
	                    "zones:\n  - domain: a.test\n    role: secondary\n    primaries: p\n"
	                    "    refresh-min-interval: 5\n    max-zone-records: 1000\n"
	                    "  - domain: b.test\n    role: secondary\n    primaries: p\n");
	assert_int_equal(c->zones[0].refresh_min, 5);
	assert_int_equal(c->zones[0].expire_min, 15); /* follows refresh-min-interval */
	assert_int_equal(c->zones[0].max_zone_records, 1000);
	assert_int_equal(c->zones[1].refresh_min, 2);
	assert_int_equal(c->zones[1].retry_min, 1);
	assert_int_equal(c->zones[1].transfer_idle, 15);
	assert_int_equal(c->zones[1].primary_timeout, 2);
	conf_free(c);
	expect_error("remotes:\n  - {id: p, address: 127.0.0.1}\nzones:\n  - domain: a.test\n"
	             "    role: secondary\n    primaries: p\n    primary-timeout: 0\n",
	             "x.yaml:7:", "primary-timeout: expected an integer from 1 to 60");
}

/* The defences (docs/under-attack.md): off or bounded by default, every value checked. */
static void test_defences(void **state)
{
	(void)state;
	conf_t *c = load_ok("");
	assert_int_equal(c->rrl.rate_limit, 0);
	assert_int_equal(c->rrl.slip, 2);
	assert_int_equal(c->rrl.ipv4_prefix_length, 24);
	assert_int_equal(c->rrl.ipv6_prefix_length, 56);
	assert_int_equal(c->rrl.table_size, 16384);
	assert_false(c->cookies);
	assert_int_equal(c->ncookie_secrets, 0);
	assert_int_equal(c->notify_rate_limit, 200);
	assert_int_equal(c->transfer_rate_limit, 0);
	assert_int_equal(c->transfers_out, 128);
	assert_int_equal(c->transfers_out_per_address, 16);
	assert_int_equal(c->tcp_io_timeout, 1000);
	assert_int_equal(c->tcp_max_clients_per_address, 100);
	assert_int_equal(c->tcp_nice, 10);
	conf_free(c);
	c = load_ok("server:\n"
	            "  rrl: {rate-limit: 200, slip: 0, whitelist: [127.0.0.0/8, \"::1\"],\n"
	            "        ipv4-prefix-length: 32, ipv6-prefix-length: 64, table-size: 1024}\n"
	            "  cookies: yes\n"
	            "  cookie-secret: [0x00112233445566778899AABBCCDDEEFF, "
	            "ffeeddccbbaa99887766554433221100]\n"
	            "  block: 192.0.2.0/24\n"
	            "  notify-rate-limit: 0\n  transfer-rate-limit: 0\n  tcp-nice: 0\n");
	assert_int_equal(c->rrl.rate_limit, 200);
	assert_int_equal(c->rrl.slip, 0);
	assert_int_equal(c->rrl.nwhitelist, 2);
	assert_int_equal(c->rrl.whitelist[1].bits, 128);
	assert_int_equal(c->rrl.ipv4_prefix_length, 32);
	assert_int_equal(c->rrl.table_size, 1024);
	assert_true(c->cookies);
	assert_int_equal(c->ncookie_secrets, 2);
	assert_int_equal(c->cookie_secret[0][0], 0x00);
	assert_int_equal(c->cookie_secret[0][15], 0xff);
	assert_int_equal(c->cookie_secret[1][0], 0xff);
	assert_int_equal(c->nblock, 1);
	assert_int_equal(c->notify_rate_limit, 0); /* 0 is a value: no limit */
	assert_int_equal(c->transfer_rate_limit, 0);
	assert_int_equal(c->tcp_nice, 0);
	conf_free(c);
	expect_error("server:\n  rrl: {slip: 1}\n", "x.yaml:2:", "rrl: missing \"rate-limit\"");
	expect_error("server:\n  rrl: {rate-limit: 10, slip: 101}\n",
	             "x.yaml:2:", "slip: expected an integer from 0 to 100");
	expect_error("server:\n  rrl:\n    rate-limit: 10\n    whitelist: [192.0.2.1/24]\n",
	             "x.yaml:4:", "bits set beyond the prefix length");
	expect_error("server:\n  rrl: {rate-limit: 10, burst: 3}\n",
	             "x.yaml:2:", "rrl: unknown option \"burst\"");
	expect_error("server:\n  cookie-secret: 0011\n", "x.yaml:2:", "32 hexadecimal digits");
	expect_error("server:\n  cookie-secret: [" SECRET3 "]\n",
	             "x.yaml:2:", "one secret, or two");
	expect_error("server:\n  block: [nowhere]\n", "x.yaml:2:", "block: bad prefix");
	expect_error("server:\n  tcp-io-timeout: 0\n",
	             "x.yaml:2:", "tcp-io-timeout: expected an integer from 1 to 60000");
	expect_error("server:\n  tcp-nice: 20\n",
	             "x.yaml:2:", "tcp-nice: expected an integer from 0 to 19");
}

static void test_journal_bounds(void **state)
{
	(void)state;
	conf_t *c = load_ok("remotes:\n  - {id: p, address: 127.0.0.1@5300}\n"
	                    "zones:\n  - domain: a.test\n    role: secondary\n    primaries: p\n"
	                    "    journal-max-depth: 5\n    journal-max-size: 1000000\n"
	                    "  - domain: b.test\n    file: b.zone\n");
	assert_int_equal(c->zones[0].journal_max_depth, 5);
	assert_int_equal(c->zones[0].journal_max_size, 1000000);
	/* Defaults, for primaries as for secondaries. */
	assert_int_equal(c->zones[1].journal_max_depth, 20);
	assert_int_equal(c->zones[1].journal_max_size, 64 << 20);
	conf_free(c);
	expect_error("zones:\n  - domain: a.test\n    file: a.zone\n    journal-max-depth: 0\n",
	             "x.yaml:4:", "journal-max-depth: expected an integer from 1 to 1000000");
	expect_error("zones:\n  - domain: a.test\n    file: a.zone\n    journal-max-size: 100\n",
	             "x.yaml:4:", "journal-max-size: expected an integer from 4096 to");
	expect_error("zones:\n  - domain: a.test\n    file: a.zone\n    journal-max-size: big\n",
	             "x.yaml:4:", "journal-max-size");
}

static void test_tls(void **state)
{
	(void)state;
	/* SHA-256 of nothing in particular: 32 bytes of 0x00..0x1f. */
	const char *pin = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
	char text[1024];
	snprintf(text, sizeof(text),
	         "server:\n  tls: {certificate: c.pem, key: k.pem, listen: [127.0.0.1, "
	         "\"::1@8853\"]}\n"
	         "remotes:\n"
	         "  - {id: a, address: 192.0.2.1, tls: {ca: ca.pem, hostname: pri.example}}\n"
	         "  - {id: b, address: 192.0.2.2@53, tls: {pin: [\"%s\", \"%s\"], certificate: "
	         "me.pem, key: me.key}}\n"
	         "  - {id: c, address: 192.0.2.3}\n",
	         pin, pin);
	conf_t *c = load_ok(text);
	assert_non_null(c->tls);
	assert_string_equal(c->tls->certificate, "c.pem");
	assert_null(c->tls->ca);
	assert_int_equal(c->tls->nlisten, 2);
	assert_string_equal(addr_str(&c->tls->listen[0]), "127.0.0.1@853"); /* XoT's port */
	assert_string_equal(addr_str(&c->tls->listen[1]), "::1@8853");
	assert_int_equal(c->tls->workers, 1);
	assert_int_equal(c->tls->max_clients, 100);
	assert_int_equal(c->tls->handshake_timeout, 5);
	assert_int_equal(c->tls->idle_timeout, 10);
	assert_string_equal(addr_str(&c->remotes[0].addr[0]), "192.0.2.1@853");
	assert_string_equal(c->remotes[0].tls->hostname, "pri.example");
	assert_string_equal(addr_str(&c->remotes[1].addr[0]), "192.0.2.2@53");
	assert_int_equal(c->remotes[1].tls->npins, 2);
	assert_int_equal(c->remotes[1].tls->pins[1][31], 0x1f);
	assert_string_equal(c->remotes[1].tls->key, "me.key");
	assert_null(c->remotes[2].tls);
	assert_string_equal(addr_str(&c->remotes[2].addr[0]), "192.0.2.3@53");
	conf_free(c);
	expect_error("server:\n  tls: {certificate: c.pem, listen: 127.0.0.1}\n",
	             "x.yaml:2:", "tls: missing \"key\"");
	expect_error("server:\n  tls: {certificate: c, key: k, listen: 127.0.0.1, workers: 0}\n",
	             "x.yaml:2:", "workers: expected an integer from 1 to 64");
	expect_error("remotes:\n  - {id: a, address: 192.0.2.1, tls: {}}\n",
	             "x.yaml:2:", "tls: needs \"ca\" or \"pin\"");
	expect_error("remotes:\n  - {id: a, address: 192.0.2.1, tls: {pin: \"AAAA\"}}\n",
	             "x.yaml:2:", "pin: expected the base64 SHA-256");
	expect_error("remotes:\n  - {id: a, address: 192.0.2.1, tls: {pin: \"" SECRET "\", "
	             "hostname: x.example}}\n",
	             "x.yaml:2:", "hostname: is checked against \"ca\"");
	expect_error("remotes:\n  - {id: a, address: 192.0.2.1, tls: {ca: x, key: k}}\n",
	             "x.yaml:2:", "\"certificate\" and \"key\" go together");
	expect_error("remotes:\n  - {id: a, address: 192.0.2.1, tls: {ca: x}}\n"
	             "zones:\n  - {domain: a.test, file: a.zone, notify: a}\n",
	             "x.yaml:4:", "notify: remote \"a\" has tls");
	c = load_ok("acls:\n  - {id: a, action: transfer, protocol: tls}\n"
	            "  - {id: b, action: transfer, protocol: [udp, tcp]}\n"
	            "  - {id: c, action: transfer}\n");
	assert_int_equal(c->acls[0].protocols, CONF_PROTO_TLS);
	assert_int_equal(c->acls[1].protocols, CONF_PROTO_UDP | CONF_PROTO_TCP);
	assert_int_equal(c->acls[2].protocols, 0);
	conf_free(c);
	expect_error("acls:\n  - {id: a, action: transfer, protocol: quic}\n", "x.yaml:2:",
	             "protocol: unknown value \"quic\" (expected one of: udp, tcp, tls)");
}

static void test_http(void **state)
{
	(void)state;
	conf_t *c = load_ok("server:\n  listen: 127.0.0.1\n");
	assert_int_equal(c->nhttp, 0); /* none by default */
	assert_int_equal(c->http_max_clients, 32);
	assert_int_equal(c->http_timeout, 10);
	conf_free(c);
	c = load_ok("server:\n  http: [\"127.0.0.1@8053\", \"::1\"]\n  http-max-clients: 4\n"
	            "  http-timeout: 3\n");
	assert_int_equal(c->nhttp, 2);
	assert_string_equal(addr_str(&c->http[0]), "127.0.0.1@8053");
	assert_string_equal(addr_str(&c->http[1]), "::1@80");
	assert_int_equal(c->http_max_clients, 4);
	assert_int_equal(c->http_timeout, 3);
	conf_free(c);
	c = load_ok("server:\n  http: []\n");
	assert_int_equal(c->nhttp, 0);
	conf_free(c);
	expect_error("server:\n  http: [\"127.0.0.1@99999\"]\n",
	             "x.yaml:2:", "http: bad address \"127.0.0.1@99999\"");
	expect_error("server:\n  http: [\"127.0.0.1@1\", \"127.0.0.1@1\"]\n",
	             "x.yaml:2:", "listed twice");
	expect_error("server:\n  http-timeout: 0\n",
	             "x.yaml:2:", "http-timeout: expected an integer from 1 to 3600");
}

static void test_policies(void **state)
{
	(void)state;
	conf_t *c = load_ok("log: {target: stderr, format: json}\n"
	                    "remotes:\n  - {id: p, address: 127.0.0.1@5300}\n"
	                    "zones:\n  - domain: a.test\n    role: secondary\n    primaries: p\n"
	                    "    expire-policy: keep-serving\n    serial-regression: follow\n"
	                    "    serial-regression-hold: 600\n    guard-max-removed: 50%\n"
	                    "    guard-apex: true\n    zonemd-verify: false\n"
	                    "  - domain: b.test\n    role: secondary\n    primaries: p\n"
	                    "    guard-max-removed: 7\n");
	assert_int_equal(c->log_format, CONF_LOG_JSON);
	const conf_zone_t *a = &c->zones[0], *b = &c->zones[1];
	assert_int_equal(a->expire_policy, CONF_EXPIRE_KEEP_SERVING);
	assert_int_equal(a->serial_regression, CONF_REGRESSION_FOLLOW);
	assert_int_equal(a->serial_regression_hold, 600);
	assert_int_equal(a->guard_max_removed, 50);
	assert_true(a->guard_apex);
	assert_false(a->zonemd_verify);
	/* Defaults: today's behaviour, the guard off, ZONEMD verified. */
	assert_int_equal(b->expire_policy, CONF_EXPIRE_SERVFAIL);
	assert_int_equal(b->serial_regression, CONF_REGRESSION_ALARM);
	assert_int_equal(b->serial_regression_hold, 0);
	assert_int_equal(b->guard_max_removed, 7);
	assert_false(b->guard_apex);
	assert_true(b->zonemd_verify);
	conf_free(c);
	c = load_ok("");
	assert_int_equal(c->log_format, CONF_LOG_TEXT);
	conf_free(c);
	expect_error("log: {format: xml}\n",
	             "x.yaml:1:", "format: unknown value \"xml\" (expected one of: text, json)");
	expect_error("zones:\n  - domain: a.test\n    file: a.zone\n    expire-policy: keep\n",
	             "x.yaml:4:", "expected one of: servfail, keep-serving");
	expect_error("zones:\n  - domain: a.test\n    file: a.zone\n    serial-regression: no\n",
	             "x.yaml:4:", "expected one of: alarm, follow");
	expect_error("zones:\n  - domain: a.test\n    file: a.zone\n    guard-max-removed: 0\n",
	             "x.yaml:4:", "guard-max-removed: expected a share from 1% to 100%");
	expect_error("zones:\n  - domain: a.test\n    file: a.zone\n    guard-max-removed: 101%\n",
	             "x.yaml:4:", "guard-max-removed: expected a share");
	expect_error("zones:\n  - domain: a.test\n    file: a.zone\n    guard-max-removed: 5%%\n",
	             "x.yaml:4:", "guard-max-removed: expected a share");
	expect_error("zones:\n  - domain: a.test\n    file: a.zone\n    guard-apex: maybe\n",
	             "x.yaml:4:", "guard-apex: expected true, false, yes or no");
	expect_error(
	    "zones:\n  - domain: a.test\n    file: a.zone\n    serial-regression-hold: 0\n",
	    "x.yaml:4:", "serial-regression-hold: expected an integer from 1");
}

/* templates: a zone takes its template's settings (or default's), its own keys win. */
static void test_templates(void **state)
{
	(void)state;
	conf_t *c = load_ok("remotes:\n  - {id: p, address: 127.0.0.1@5300}\n"
	                    "  - {id: q, address: 127.0.0.2@5300}\n"
	                    "  - {id: s1, address: 127.0.0.3@5300}\n"
	                    "acls:\n  - {id: x, address: 127.0.0.0/8, action: transfer}\n"
	                    "templates:\n"
	                    "  - {id: default, role: secondary, primaries: [p], acl: [x],\n"
	                    "     notify: [s1], transfer-timeout: 30, file: \"/z/%s.zone\"}\n"
	                    "  - {id: other, role: secondary, primaries: [q, p]}\n"
	                    "zones:\n"
	                    "  - domain: a.test\n"
	                    "  - domain: b.test\n    template: other\n    primaries: [q]\n"
	                    "  - domain: c.test\n    role: primary\n    transfer-timeout: 7\n"
	                    "  - domain: d.test\n    acl: []\n");
	assert_int_equal(c->ntemplates, 2);
	const conf_zone_t *a = &c->zones[0], *b = &c->zones[1], *cz = &c->zones[2],
	                  *d = &c->zones[3];
	assert_int_equal(a->template_, 0);
	assert_int_equal(a->role, CONF_ROLE_SECONDARY);
	assert_int_equal(a->nprimaries, 1);
	assert_int_equal(a->primaries[0], 0);
	assert_int_equal(a->nacl, 1);
	assert_int_equal(a->nnotify, 1);
	assert_int_equal(a->notify[0], 2);
	assert_int_equal(a->transfer_timeout, 30);
	assert_string_equal(a->file, "/z/a.test.zone");
	assert_int_equal(a->journal_max_depth, 20); /* what neither sets: the default */
	/* A named template, not default's: its own primaries replace the template's. */
	assert_int_equal(b->template_, 1);
	assert_int_equal(b->nprimaries, 1);
	assert_int_equal(b->primaries[0], 1);
	assert_int_equal(b->nacl, 0);
	assert_null(b->file);
	assert_int_equal(b->transfer_timeout, 900);
	/* A primary from a template made for secondaries: its primaries do not apply. */
	assert_int_equal(cz->role, CONF_ROLE_PRIMARY);
	assert_int_equal(cz->nprimaries, 0);
	assert_string_equal(cz->file, "/z/c.test.zone");
	assert_int_equal(cz->transfer_timeout, 7);
	assert_int_equal(d->nacl, 0);
	/* What the catalog consumer builds at run time. */
	conf_zone_t m;
	assert_int_equal(conf_zone_from_template(c, 1, "Member.Test.", &m), 0);
	assert_string_equal(m.domain, "Member.Test");
	assert_int_equal(m.role, CONF_ROLE_SECONDARY);
	assert_int_equal(m.nprimaries, 2);
	assert_int_equal(m.transfer_timeout, 900);
	assert_int_equal(m.name_len, 13);
	assert_memory_equal(m.name, "\6member\4test", 13);
	assert_int_equal(conf_add_zone(c, &m), 0);
	assert_int_equal(c->nzones, 5);
	assert_non_null(conf_find_zone(c, (const uint8_t *)"\6member\4test", 13));
	assert_int_equal(conf_zone_from_template(c, 1, "member.test", &m), 0);
	assert_int_equal(conf_add_zone(c, &m), US_EEXIST);
	conf_zone_deinit(&m);
	assert_int_equal(conf_zone_from_template(c, 2, "x.test", &m), US_EINVAL);
	assert_int_equal(conf_zone_from_template(c, 0, "bad..name", &m), US_EINVAL);
	conf_free(c);

	expect_error("zones:\n  - domain: a.test\n    file: a\n    template: nope\n",
	             "x.yaml:4:", "template: unknown template \"nope\"");
	expect_error("templates:\n  - {id: t, file: a}\n  - {id: t, file: b}\n",
	             "x.yaml:3:", "templates: duplicate id \"t\" (first at line 2)");
	expect_error("templates:\n  - {id: t, template: u}\n",
	             "x.yaml:2:", "templates: unknown option \"template\"");
	expect_error("templates:\n  - {id: t, domain: a.test}\n",
	             "x.yaml:2:", "templates: unknown option \"domain\"");
	expect_error("templates:\n  - {id: t, acl: [nope]}\n",
	             "x.yaml:2:", "acl: unknown acl \"nope\"");
	expect_error("templates:\n  - {id: t, transfer-timeout: 0}\n",
	             "x.yaml:2:", "transfer-timeout: expected an integer");
	expect_error("templates:\n  - {id: t, role: secondary}\nzones:\n  - domain: a.test\n"
	             "    template: t\n",
	             "x.yaml:4:", "a secondary zone needs \"primaries\" (nor its template)");
	expect_error("templates:\n  - {file: a}\n", "x.yaml:2:", "templates: missing \"id\"");
}

static void test_comments_and_empty_sections_are_defaults(void **state)
{
	(void)state;
	conf_t *c = load_ok("# nothing here\n");
	assert_int_equal(c->nlisten, 2);
	conf_free(c);
	c = load_ok("---\n");
	conf_free(c);
	c = load_ok("server:\nlog:\nkeys:\nremotes: []\nacls: ~\nzones: null\n");
	assert_int_equal(c->tcp_workers, 1);
	assert_int_equal(c->nzones, 0);
	conf_free(c);
}

static void test_missing_file(void **state)
{
	(void)state;
	char p[160];
	conf_t *c = (conf_t *)1;
	snprintf(p, sizeof(p), "%s/nope.yaml", dir);
	assert_int_equal(conf_load(p, &c, err, sizeof(err)), US_ENOENT);
	assert_ptr_equal(c, (conf_t *)1);
	char want[256];
	snprintf(want, sizeof(want), "%s: cannot open: %s\n", p, strerror(ENOENT));
	assert_string_equal(err, want);
}

static void test_directory_is_an_error(void **state)
{
	(void)state;
	conf_t *c = (conf_t *)1;
	int ret = conf_load(dir, &c, err, sizeof(err));
	assert_true(ret < 0);
	assert_ptr_equal(c, (conf_t *)1);
	assert_non_null(strstr(err, strerror(EISDIR)));
}

static void test_root_must_be_mapping(void **state)
{
	(void)state;
	expect_error("- a\n- b\n", "x.yaml:1:", "the top level must be a mapping");
	expect_error("\n\njust a string\n", "x.yaml:3:", "the top level must be a mapping");
}

static void test_yaml_syntax_error_line(void **state)
{
	(void)state;
	expect_error("server:\n  storage: /x\n   bad: [\n", "x.yaml:", "YAML:");
	expect_error("server:\n  storage: \"/x\n", "x.yaml:", "YAML:");
	expect_error("server:\n  storage: /x\n  - y\n", "x.yaml:3:", "YAML:");
	assert_int_equal(count_lines(err), 1);
}

static void test_invalid_utf8_line(void **state)
{
	(void)state;
	expect_error("server:\n  identity: ok\n  storage: \"\xff\xfe\"\n", "x.yaml:3:", "YAML:");
}

static void test_multiple_documents(void **state)
{
	(void)state;
	expect_error("server: {tcp-workers: 2}\n---\nzones: []\n",
	             "x.yaml:2:", "only one YAML document");
}

static void test_unknown_top_level_key(void **state)
{
	(void)state;
	expect_error("server: {}\nzone:\n  - domain: a\n",
	             "x.yaml:2:", "top level: unknown option \"zone\"");
	assert_int_equal(count_lines(err), 1);
}

static void test_unknown_nested_keys(void **state)
{
	(void)state;
	expect_error("server:\n  storage: /x\n  udp_workers: 2\n",
	             "x.yaml:3:", "server: unknown option \"udp_workers\"");
	expect_error("log: {target: stderr, lvl: info}\n",
	             "x.yaml:1:", "log: unknown option \"lvl\"");
	expect_error("keys:\n  - id: k\n    algorithm: hmac-sha1\n    secret: " SECRET
	             "\n    extra: 1\n",
	             "x.yaml:5:", "keys: unknown option \"extra\"");
	expect_error("remotes:\n  - {id: r, address: 192.0.2.1, port: 53}\n",
	             "x.yaml:2:", "remotes: unknown option \"port\"");
	expect_error("acls:\n  - {id: a, action: notify, allow: true}\n",
	             "x.yaml:2:", "acls: unknown option \"allow\"");
	expect_error("zones:\n  - domain: a\n    file: /f\n    master: [x]\n",
	             "x.yaml:4:", "zones: unknown option \"master\"");
	expect_error("server:\n  ? [a, b]\n  : 1\n", "x.yaml:2:", "option names must be");
}

static void test_duplicate_option(void **state)
{
	(void)state;
	expect_error("server:\n  storage: /a\n  storage: /b\n",
	             "x.yaml:3:", "server: \"storage\" given twice (first at line 2)");
	expect_error("server: {}\nlog: {}\nserver: {}\n", "x.yaml:3:", "\"server\" given twice");
}

static void test_wrong_types(void **state)
{
	(void)state;
	expect_error("server:\n  storage: [/a]\n", "x.yaml:2:", "storage: expected a string");
	expect_error("server:\n  identity: {a: b}\n", "x.yaml:2:", "identity: expected a string");
	expect_error("server: [a]\n", "x.yaml:1:", "server: expected a mapping");
	expect_error("log: stderr\n", "x.yaml:1:", "log: expected a mapping");
	expect_error("zones: {domain: a}\n", "x.yaml:1:", "zones: expected a list");
	expect_error("keys:\n  - k1\n", "x.yaml:2:", "keys: expected a mapping");
	expect_error("server:\n  listen: {a: b}\n",
	             "x.yaml:2:", "listen: expected a string or a list of strings");
	expect_error("server:\n  listen:\n    - 127.0.0.1\n    - [a]\n",
	             "x.yaml:4:", "listen: each item must be a string");
	expect_error("server:\n  tcp-workers: [1]\n",
	             "x.yaml:2:", "tcp-workers: expected an integer");
}

static void test_null_value_is_an_error(void **state)
{
	(void)state;
	expect_error("server:\n  storage:\n  control: /c\n",
	             "x.yaml:2:", "storage: expected a string");
	expect_error("server:\n  nsid: ~\n", "x.yaml:2:", "nsid: expected a string");
}

static void test_embedded_nul(void **state)
{
	(void)state;
	expect_error("server:\n  storage: \"/a\\0b\"\n", "x.yaml:2:", "contains a NUL character");
}

static void test_integers(void **state)
{
	(void)state;
	conf_t *c = load_ok("server: {udp-workers: 256, tcp-workers: 64, tcp-max-clients: 100000,"
	                    " tcp-idle-timeout: 3600, udp-max-payload: 4096}\n");
	assert_int_equal(c->udp_workers, 256);
	assert_int_equal(c->tcp_workers, 64);
	assert_int_equal(c->tcp_max_clients, 100000);
	assert_int_equal(c->tcp_idle_timeout, 3600);
	assert_int_equal(c->udp_max_payload, 4096);
	conf_free(c);
	c = load_ok("server:\n  udp-workers: 1\n  tcp-workers: \"1\"\n  tcp-max-clients: 1\n"
	            "  tcp-idle-timeout: +1\n  udp-max-payload: 512\n");
	assert_int_equal(c->udp_workers, 1);
	assert_int_equal(c->tcp_idle_timeout, 1);
	assert_int_equal(c->udp_max_payload, 512);
	conf_free(c);
}

static void test_integer_errors(void **state)
{
	(void)state;
	expect_error("server:\n  udp-workers: 0\n",
	             "x.yaml:2:", "udp-workers: expected an integer from 1 to 256");
	expect_error("server:\n  udp-workers: 257\n", "x.yaml:2:", "from 1 to 256");
	expect_error("server:\n  tcp-workers: 65\n",
	             "x.yaml:2:", "tcp-workers: expected an integer from 1 to 64");
	expect_error("server:\n  tcp-max-clients: 100001\n", "x.yaml:2:", "from 1 to 100000");
	expect_error("server:\n  tcp-idle-timeout: -1\n", "x.yaml:2:", "from 1 to 3600");
	expect_error("server:\n  udp-max-payload: 511\n", "x.yaml:2:", "from 512 to 4096");
	expect_error("server:\n  udp-max-payload: 4097\n", "x.yaml:2:", "from 512 to 4096");
	expect_error("server:\n  udp-workers: two\n", "x.yaml:2:", "udp-workers:");
	expect_error("server:\n  udp-workers: 0x10\n", "x.yaml:2:", "udp-workers:");
	expect_error("server:\n  udp-workers: 1.5\n", "x.yaml:2:", "udp-workers:");
	expect_error("server:\n  udp-workers: \" 2\"\n", "x.yaml:2:", "udp-workers:");
	expect_error("server:\n  udp-workers: 99999999999999999999999\n",
	             "x.yaml:2:", "udp-workers:");
	expect_error("server:\n  udp-workers: \"-\"\n", "x.yaml:2:", "udp-workers:");
}

static void test_listen_addresses(void **state)
{
	(void)state;
	conf_t *c = load_ok("server:\n  listen:\n    - 192.0.2.1\n    - 192.0.2.2@5300\n"
	                    "    - \"2001:db8::1\"\n    - \"2001:db8::2@65535\"\n    - ::@1\n");
	assert_int_equal(c->nlisten, 5);
	assert_string_equal(addr_str(&c->listen[0]), "192.0.2.1@53");
	assert_string_equal(addr_str(&c->listen[1]), "192.0.2.2@5300");
	assert_string_equal(addr_str(&c->listen[2]), "2001:db8::1@53");
	assert_string_equal(addr_str(&c->listen[3]), "2001:db8::2@65535");
	assert_string_equal(addr_str(&c->listen[4]), "::@1");
	assert_int_equal(c->listen[0].len, sizeof(struct sockaddr_in));
	assert_int_equal(c->listen[2].len, sizeof(struct sockaddr_in6));
	conf_free(c);
	c = load_ok("server: {listen: 0.0.0.0@5353}\n");
	assert_int_equal(c->nlisten, 1);
	assert_string_equal(addr_str(&c->listen[0]), "0.0.0.0@5353");
	conf_free(c);
}

static void test_listen_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {"192.0.2.1@0",   "192.0.2.1@65536", "192.0.2.1@",
	                                  "@53",           "192.0.2.256",     "192.0.2.1:53",
	                                  "[::1]@53",      "::1@-1",          "host.example",
	                                  "192.0.2.1@5 3", "fe80::1%eth0"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128], msg[64];
		snprintf(text, sizeof(text), "server:\n  listen:\n    - \"%s\"\n", bad[i]);
		snprintf(msg, sizeof(msg), "listen: bad address \"%s\"", bad[i]);
		expect_error(text, "x.yaml:3:", msg);
	}
	expect_error("server:\n  listen: []\n", "x.yaml:2:", "listen: empty list");
	expect_error("server:\n  listen:\n    - 192.0.2.1@53\n    - 192.0.2.1\n",
	             "x.yaml:4:", "listen: \"192.0.2.1\" listed twice");
}

static void test_parse_addr_api(void **state)
{
	(void)state;
	conf_addr_t a;
	char buf[64];
	assert_int_equal(conf_parse_addr("192.0.2.7", 853, &a), 0);
	conf_addr_str(&a, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.7@853");
	assert_int_equal(((struct sockaddr_in *)&a.ss)->sin_port, htons(853));
	assert_int_equal(conf_parse_addr("2001:db8::53@5300", 53, &a), 0);
	assert_int_equal(a.ss.ss_family, AF_INET6);
	conf_addr_str(&a, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::53@5300");
	conf_addr_t keep = a;
	assert_int_equal(conf_parse_addr("nope", 53, &a), US_EINVAL);
	assert_int_equal(conf_parse_addr("", 53, &a), US_EINVAL);
	assert_int_equal(conf_parse_addr("1.2.3.4@+53", 53, &a), US_EINVAL);
	assert_memory_equal(&a, &keep, sizeof(a)); /* untouched on failure */
}

static void test_strings(void **state)
{
	(void)state;
	conf_t *c = load_ok("server:\n  version: \"\"\n  identity: ns9.example\n  nsid: abc\n"
	                    "  storage: rel/dir\n  control: ctl.sock\n");
	assert_string_equal(c->version, "");
	assert_string_equal(c->identity, "ns9.example");
	assert_string_equal(c->nsid, "abc");
	assert_string_equal(c->storage, "rel/dir"); /* kept as written */
	assert_string_equal(c->control, "ctl.sock");
	conf_free(c);
}

static void test_string_limits(void **state)
{
	(void)state;
	char text[1024], longs[300];
	memset(longs, 'a', 256);
	longs[256] = '\0';
	snprintf(text, sizeof(text), "server:\n  identity: %s\n", longs);
	expect_error(text, "x.yaml:2:", "identity: longer than 255 bytes");
	snprintf(text, sizeof(text), "server:\n  version: %s\n", longs);
	expect_error(text, "x.yaml:2:", "version: longer than 255 bytes");
	snprintf(text, sizeof(text), "server:\n  nsid: %s\n", longs);
	expect_error(text, "x.yaml:2:", "nsid: must be 1 to 255 bytes long");
	expect_error("server:\n  nsid: \"\"\n", "x.yaml:2:", "nsid: must be 1 to 255");
	longs[108] = '\0';
	snprintf(text, sizeof(text), "server:\n  control: /%s\n", longs);
	expect_error(text, "x.yaml:2:", "control: must be 1 to 107 bytes long");
	expect_error("server:\n  storage: \"\"\n", "x.yaml:2:", "storage: must be 1 to");
}

static void test_log(void **state)
{
	(void)state;
	static const char *const names[] = {"error", "warning", "notice", "info", "debug"};
	static const int levels[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};
	for (int i = 0; i < 5; i++) {
		char text[128];
		snprintf(text, sizeof(text), "log: {target: syslog, level: %s}\n", names[i]);
		conf_t *c = load_ok(text);
		assert_int_equal(c->log_target, CONF_LOG_SYSLOG);
		assert_int_equal(c->log_level, levels[i]);
		conf_free(c);
	}
	conf_t *c = load_ok("log:\n  target: /var/log/understudy.log\n");
	assert_int_equal(c->log_target, CONF_LOG_FILE);
	assert_string_equal(c->log_file, "/var/log/understudy.log");
	assert_int_equal(c->log_level, LOG_INFO);
	conf_free(c);
}

static void test_log_errors(void **state)
{
	(void)state;
	expect_error("log:\n  level: verbose\n", "x.yaml:2:",
	             "level: unknown value \"verbose\" (expected one of: error, warning, notice, "
	             "info, debug)");
	expect_error("log:\n  target: \"\"\n", "x.yaml:2:", "target: expected stderr, syslog");
	expect_error("log:\n  target: [stderr]\n", "x.yaml:2:", "target: expected");
}

static void test_keys(void **state)
{
	(void)state;
	static const char *const algs[] = {"hmac-md5",    "hmac-sha1",   "hmac-sha224",
	                                   "hmac-sha256", "hmac-sha384", "hmac-sha512"};
	char text[2048] = "keys:\n";
	for (int i = 0; i < 6; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		         "  - id: key%d.example.\n    algorithm: %s\n    secret: %s\n", i, algs[i],
		         i == 0   ? "YQ=="
		         : i == 1 ? "YWI="
		                  : SECRET);
	conf_t *c = load_ok(text);
	assert_int_equal(c->nkeys, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(c->keys[i].algorithm, (conf_hmac_t)i);
	assert_string_equal(c->keys[0].id, "key0.example.");
	assert_int_equal(c->keys[0].secret_len, 1);
	assert_memory_equal(c->keys[0].secret, "a", 1);
	assert_int_equal(c->keys[1].secret_len, 2);
	assert_memory_equal(c->keys[1].secret, "ab", 2);
	assert_int_equal(c->keys[2].secret_len, 32);
	assert_int_equal(c->keys[5].line, 17);
	conf_free(c);
}

static void test_key_bad_secret(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "", "YQ", "YQ=", "Y===", "YQ==YQ==", "Y Q==", "YR==", "YWJ=", "====", "YW*=", "="};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text),
		         "keys:\n  - id: k\n    algorithm: hmac-sha256\n    secret: \"%s\"\n",
		         bad[i]);
		expect_error(text, "x.yaml:4:", "secret: not valid, non-empty base64");
	}
}

static void test_key_bad_algorithm(void **state)
{
	(void)state;
	expect_error("keys:\n  - {id: k, algorithm: hmac-sha3, secret: " SECRET "}\n",
	             "x.yaml:2:", "algorithm: unknown value \"hmac-sha3\"");
	expect_error("keys:\n  - {id: k, algorithm: HMAC-SHA256, secret: " SECRET "}\n",
	             "x.yaml:2:", "unknown value");
}

static void test_key_required_fields(void **state)
{
	(void)state;
	expect_error("keys:\n  - id: k\n    algorithm: hmac-sha1\n",
	             "x.yaml:2:", "keys: missing \"secret\"");
	expect_error("keys:\n  - {id: k, secret: " SECRET "}\n",
	             "x.yaml:2:", "keys: missing \"algorithm\"");
	expect_error("keys:\n  - {algorithm: hmac-sha1, secret: " SECRET "}\n",
	             "x.yaml:2:", "keys: missing \"id\"");
	expect_error("keys:\n  - {}\n", "x.yaml:2:", "missing \"id\"");
	assert_int_equal(count_lines(err), 3);
}

static void test_key_id_must_be_a_name(void **state)
{
	(void)state;
	expect_error("keys:\n  - {id: \"a b\", algorithm: hmac-sha1, secret: " SECRET "}\n",
	             "x.yaml:2:", "keys: id \"a b\" is not a domain name");
	expect_error("keys:\n  - {id: \"a..b\", algorithm: hmac-sha1, secret: " SECRET "}\n",
	             "x.yaml:2:", "empty label");
}

static void test_duplicate_key_ids(void **state)
{
	(void)state;
	expect_error("keys:\n  - {id: k1, algorithm: hmac-sha1, secret: " SECRET "}\n"
	             "  - {id: K1, algorithm: hmac-sha1, secret: " SECRET "}\n",
	             "x.yaml:3:", "keys: duplicate id \"K1\" (first at line 2)");
}

static void test_duplicate_remote_and_acl_ids(void **state)
{
	(void)state;
	expect_error("remotes:\n  - {id: r, address: 192.0.2.1}\n\n"
	             "  - {id: r, address: 192.0.2.2}\n",
	             "x.yaml:4:", "remotes: duplicate id \"r\" (first at line 2)");
	expect_error("acls:\n  - {id: a, action: transfer}\n  - {id: a, action: notify}\n",
	             "x.yaml:3:", "acls: duplicate id \"a\" (first at line 2)");
	/* Remote and acl ids are compared exactly, unlike key names. */
	conf_t *c = load_ok("remotes:\n  - {id: r, address: 192.0.2.1}\n"
	                    "  - {id: R, address: 192.0.2.2}\n");
	assert_int_equal(c->nremotes, 2);
	conf_free(c);
}

static void test_remotes(void **state)
{
	(void)state;
	conf_t *c =
	    load_ok("keys:\n  - {id: K1, algorithm: hmac-sha1, secret: " SECRET "}\n"
	            "remotes:\n"
	            "  - id: one\n    address: 192.0.2.1\n"
	            "  - id: many\n    address:\n      - 192.0.2.1@5300\n      - 2001:db8::1\n"
	            "    key: k1\n"
	            "  - {id: v6, address: \"2001:db8::2\", via: \"2001:db8::ff\"}\n");
	assert_int_equal(c->nremotes, 3);
	assert_int_equal(c->remotes[0].naddr, 1);
	assert_string_equal(addr_str(&c->remotes[0].addr[0]), "192.0.2.1@53");
	assert_int_equal(c->remotes[0].key, -1);
	assert_false(c->remotes[0].has_via);
	assert_int_equal(c->remotes[1].naddr, 2);
	assert_string_equal(addr_str(&c->remotes[1].addr[0]), "192.0.2.1@5300");
	assert_string_equal(addr_str(&c->remotes[1].addr[1]), "2001:db8::1@53");
	assert_int_equal(c->remotes[1].key, 0); /* key ids are names: case-insensitive */
	assert_true(c->remotes[2].has_via);
	assert_string_equal(addr_str(&c->remotes[2].via), "2001:db8::ff@0");
	assert_int_equal(c->remotes[2].line, 11);
	conf_free(c);
}

static void test_remote_errors(void **state)
{
	(void)state;
	expect_error("remotes:\n  - {id: r, address: 192.0.2.1, key: nope}\n",
	             "x.yaml:2:", "key: unknown key \"nope\"");
	expect_error("remotes:\n  - {id: r}\n", "x.yaml:2:", "remotes: missing \"address\"");
	expect_error("remotes:\n  - {id: r, address: []}\n", "x.yaml:2:", "address: empty list");
	expect_error("remotes:\n  - id: r\n    address:\n      - 192.0.2.1\n      - bad\n",
	             "x.yaml:5:", "address: bad address \"bad\"");
	expect_error("remotes:\n  - {id: r, address: 192.0.2.1, via: 192.0.2.2@53}\n",
	             "x.yaml:2:", "via: bad address \"192.0.2.2@53\" (no port allowed)");
	expect_error("remotes:\n  - id: r\n    via: 192.0.2.2\n    address: [192.0.2.1, \"::1\"]\n",
	             "x.yaml:4:", "address: ::1@53 is not in the address family of via");
}

static void test_acls(void **state)
{
	(void)state;
	conf_t *c =
	    load_ok("keys:\n  - {id: k, algorithm: hmac-sha1, secret: " SECRET "}\n"
	            "acls:\n"
	            "  - {id: any, action: transfer}\n"
	            "  - id: nets\n    address: [192.0.2.0/24, \"2001:db8::/32\", 192.0.2.9,"
	            " \"2001:db8::9\", 0.0.0.0/0]\n"
	            "    action: [notify, update, transfer]\n    key: k\n    deny: yes\n"
	            "  - {id: one, address: 198.51.100.0/24, action: update, deny: False}\n"
	            "  - {id: two, address: 198.51.100.0/24, action: update, deny: TRUE}\n"
	            "  - {id: three, address: 198.51.100.0/24, action: update, deny: no}\n");
	assert_int_equal(c->nacls, 5);
	const conf_acl_t *a = &c->acls[0];
	assert_int_equal(a->nprefix, 0);
	assert_int_equal(a->key, -1);
	assert_int_equal(a->actions, CONF_ACTION_TRANSFER);
	assert_false(a->deny);
	a = &c->acls[1];
	assert_int_equal(a->nprefix, 5);
	assert_int_equal(a->prefix[1].family, AF_INET6);
	assert_int_equal(a->prefix[1].bits, 32);
	assert_memory_equal(a->prefix[1].addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	assert_int_equal(a->prefix[2].bits, 32);
	assert_memory_equal(a->prefix[2].addr, "\xc0\x00\x02\x09", 4);
	assert_int_equal(a->prefix[3].bits, 128);
	assert_int_equal(a->prefix[4].bits, 0);
	assert_int_equal(a->actions,
	                 CONF_ACTION_TRANSFER | CONF_ACTION_NOTIFY | CONF_ACTION_UPDATE);
	assert_int_equal(a->key, 0);
	assert_true(a->deny);
	assert_false(c->acls[2].deny);
	assert_true(c->acls[3].deny);
	assert_false(c->acls[4].deny);
	conf_free(c);
}

static void test_acl_host_bits(void **state)
{
	(void)state;
	expect_error(
	    "acls:\n  - id: a\n    action: transfer\n    address: [192.0.2.1/24]\n",
	    "x.yaml:4:", "address: bad prefix \"192.0.2.1/24\": address has bits set beyond");
	expect_error("acls:\n  - {id: a, action: transfer, address: \"2001:db8::1/64\"}\n",
	             "x.yaml:2:", "bits set beyond the prefix length");
}

static void test_acl_bad_prefix(void **state)
{
	(void)state;
	expect_error("acls:\n  - {id: a, action: transfer, address: 192.0.2.0/33}\n",
	             "x.yaml:2:", "prefix length too long");
	expect_error("acls:\n  - {id: a, action: transfer, address: \"::/129\"}\n",
	             "x.yaml:2:", "prefix length too long");
	expect_error("acls:\n  - {id: a, action: transfer, address: 192.0.2.0/}\n",
	             "x.yaml:2:", "expected ADDR or ADDR/BITS");
	expect_error("acls:\n  - {id: a, action: transfer, address: 192.0.2.0/x}\n",
	             "x.yaml:2:", "expected ADDR or ADDR/BITS");
	expect_error("acls:\n  - {id: a, action: transfer, address: example.com/8}\n",
	             "x.yaml:2:", "bad prefix");
	expect_error("acls:\n  - {id: a, action: transfer, address: []}\n",
	             "x.yaml:2:", "address: empty list");
}

static void test_acl_action_errors(void **state)
{
	(void)state;
	expect_error("acls:\n  - {id: a, address: 192.0.2.0/24}\n",
	             "x.yaml:2:", "acls: missing \"action\"");
	expect_error("acls:\n  - id: a\n    action:\n      - transfer\n      - query\n",
	             "x.yaml:5:",
	             "action: unknown value \"query\" (expected one of: transfer, notify, update)");
	expect_error("acls:\n  - {id: a, action: []}\n", "x.yaml:2:", "action: empty list");
	expect_error("acls:\n  - {id: a, action: notify, key: k}\n",
	             "x.yaml:2:", "key: unknown key \"k\"");
}

static void test_bool_errors(void **state)
{
	(void)state;
	expect_error("acls:\n  - id: a\n    action: notify\n    deny: maybe\n",
	             "x.yaml:4:", "deny: expected true, false, yes or no");
	expect_error("acls:\n  - {id: a, action: notify, deny: 1}\n", "x.yaml:2:", "deny:");
	expect_error("acls:\n  - {id: a, action: notify, deny: [true]}\n", "x.yaml:2:", "deny:");
}

static void test_zone_names(void **state)
{
	(void)state;
	conf_t *c = load_ok("zones:\n"
	                    "  - {domain: Example.COM., file: /a}\n"
	                    "  - {domain: ., file: /root}\n"
	                    "  - {domain: \"0/25.2.0.192.in-addr.arpa\", file: /c}\n"
	                    "  - {domain: _tcp.x, file: /d}\n");
	assert_int_equal(c->nzones, 4);
	assert_string_equal(c->zones[0].domain, "Example.COM");
	assert_int_equal(c->zones[0].name_len, 13);
	assert_memory_equal(c->zones[0].name,
	                    "\x07"
	                    "example\x03"
	                    "com\x00",
	                    13);
	assert_int_equal(c->zones[0].role, CONF_ROLE_PRIMARY);
	assert_string_equal(c->zones[1].domain, ".");
	assert_int_equal(c->zones[1].name_len, 1);
	assert_int_equal(c->zones[1].name[0], 0);
	assert_memory_equal(c->zones[2].name,
	                    "\x04"
	                    "0/25",
	                    5);
	conf_free(c);
}

static void test_zone_name_limits(void **state)
{
	(void)state;
	char text[1024], label[70], name[300];
	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(text, sizeof(text), "zones:\n  - {domain: %s.x, file: /f}\n", label);
	conf_free(load_ok(text));
	memset(label, 'a', 64);
	label[64] = '\0';
	snprintf(text, sizeof(text), "zones:\n  - {domain: %s.x, file: /f}\n", label);
	expect_error(text, "x.yaml:2:", "label longer than 63 bytes");
	/* 127 labels of 1 byte: 254 bytes of labels plus the root = 255, the maximum. */
	name[0] = '\0';
	for (int i = 0; i < 127; i++)
		strcat(name, i ? ".a" : "a");
	snprintf(text, sizeof(text), "zones:\n  - {domain: %s, file: /f}\n", name);
	conf_t *c = load_ok(text);
	assert_int_equal(c->zones[0].name_len, 255);
	conf_free(c);
	strcat(name, ".b");
	snprintf(text, sizeof(text), "zones:\n  - {domain: %s, file: /f}\n", name);
	expect_error(text, "x.yaml:2:", "name longer than 255 bytes");
	expect_error("zones:\n  - {domain: a..b, file: /f}\n", "x.yaml:2:", "empty label");
	expect_error("zones:\n  - {domain: .a, file: /f}\n", "x.yaml:2:", "empty label");
	expect_error("zones:\n  - {domain: \"a..\", file: /f}\n", "x.yaml:2:", "empty label");
	expect_error("zones:\n  - {domain: \"\", file: /f}\n", "x.yaml:2:", "empty name");
	expect_error("zones:\n  - {domain: \"a b\", file: /f}\n", "x.yaml:2:", "unsupported");
	expect_error("zones:\n  - {domain: \"a\\\\.b\", file: /f}\n", "x.yaml:2:", "unsupported");
	expect_error("zones:\n  - {file: /f}\n", "x.yaml:2:", "zones: missing \"domain\"");
}

static void test_duplicate_zones(void **state)
{
	(void)state;
	expect_error("zones:\n  - {domain: example.com, file: /a}\n"
	             "  - {domain: EXAMPLE.com., file: /b}\n",
	             "x.yaml:3:", "domain: zone \"EXAMPLE.com\" already defined at line 2");
	expect_error("zones:\n  - {domain: ., file: /a}\n  - {domain: ., file: /b}\n",
	             "x.yaml:3:", "already defined at line 2");
	/* Many zones: each is checked against the others by hashing, and the one defined twice
	 * is still found, with both lines. */
	enum { N = 20000 };
	char *text = malloc(N * 48 + 64), *p = text;
	assert_non_null(text);
	p += sprintf(p, "zones:\n");
	for (int i = 0; i < N; i++)
		p += sprintf(p, "  - {domain: z%d.example, file: /z}\n", i);
	sprintf(p, "  - {domain: Z%d.EXAMPLE, file: /z}\n", N / 2);
	char loc[32];
	snprintf(loc, sizeof(loc), "x.yaml:%d:", N + 2);
	expect_error(text, loc, "already defined at line 10002");
	free(text);
}

static void test_zone_references(void **state)
{
	(void)state;
	const char *base = "remotes:\n  - {id: r, address: 192.0.2.1}\n"
	                   "acls:\n  - {id: a, action: transfer}\n";
	char text[512];
	snprintf(text, sizeof(text), "%szones:\n  - {domain: z, file: /f, notify: [r, s]}\n", base);
	expect_error(text, "x.yaml:6:", "notify: unknown remote \"s\"");
	snprintf(text, sizeof(text), "%szones:\n  - domain: z\n    file: /f\n    acl: [a, r]\n",
	         base);
	expect_error(text, "x.yaml:8:", "acl: unknown acl \"r\"");
	snprintf(text, sizeof(text),
	         "%szones:\n  - domain: z\n    role: secondary\n    primaries:\n      - a\n", base);
	expect_error(text, "x.yaml:9:", "primaries: unknown remote \"a\"");
	snprintf(text, sizeof(text), "%szones:\n  - {domain: z, file: /f, notify: [r, r]}\n", base);
	expect_error(text, "x.yaml:6:", "notify: \"r\" listed twice");
}

static void test_zone_single_id_lists(void **state)
{
	(void)state;
	conf_t *c = load_ok("remotes:\n  - {id: r1, address: 192.0.2.1}\n"
	                    "  - {id: r2, address: 192.0.2.2}\n"
	                    "acls:\n  - {id: a, action: transfer}\n"
	                    "zones:\n  - {domain: p, file: /f, notify: r2, acl: a}\n"
	                    "  - {domain: s, role: secondary, primaries: r2, file: /cache}\n"
	                    "  - {domain: e, file: /f, notify: [], acl: []}\n");
	assert_int_equal(c->zones[0].nnotify, 1);
	assert_int_equal(c->zones[0].notify[0], 1);
	assert_int_equal(c->zones[0].nacl, 1);
	assert_int_equal(c->zones[0].acl[0], 0);
	assert_int_equal(c->zones[1].nprimaries, 1);
	assert_int_equal(c->zones[1].primaries[0], 1);
	assert_string_equal(c->zones[1].file, "/cache");
	assert_int_equal(c->zones[2].nnotify, 0);
	assert_int_equal(c->zones[2].nacl, 0);
	conf_free(c);
}

static void test_zone_role_rules(void **state)
{
	(void)state;
	const char *r = "remotes:\n  - {id: r, address: 192.0.2.1}\n";
	char text[512];
	snprintf(text, sizeof(text), "%szones:\n  - domain: z\n    role: primary\n", r);
	expect_error(text, "x.yaml:4:", "zones: a primary zone needs \"file\"");
	snprintf(text, sizeof(text), "%szones:\n  - domain: z\n    role: secondary\n", r);
	expect_error(text, "x.yaml:4:", "zones: a secondary zone needs \"primaries\"");
	snprintf(text, sizeof(text), "%szones:\n  - domain: z\n    file: /f\n    primaries: r\n",
	         r);
	expect_error(text, "x.yaml:6:", "primaries: only a secondary zone has primaries");
	snprintf(text, sizeof(text), "%szones:\n  - {domain: z, role: secondary, primaries: []}\n",
	         r);
	expect_error(text, "x.yaml:4:", "primaries: empty list");
	snprintf(text, sizeof(text), "%szones:\n  - domain: z\n    role: backup\n", r);
	expect_error(text, "x.yaml:5:",
	             "role: unknown value \"backup\" (expected one of: primary, secondary)");
	assert_int_equal(count_lines(err), 1); /* no follow-on "needs file" noise */
}

static void test_catalog_keys(void **state)
{
	(void)state;
	conf_t *c = load_ok("zones:\n"
	                    "  - {domain: a.example, file: /a, catalog-zone: Catalog.Example.}\n"
	                    "  - {domain: catalog.example, catalog-role: producer}\n"
	                    "  - {domain: b.example, file: /b, catalog-zone: catalog.example,\n"
	                    "     catalog-group: blue}\n"
	                    "  - {domain: c.example, file: /c, catalog-role: none}\n");
	assert_int_equal(c->zones[1].catalog_role, CONF_CATALOG_PRODUCER);
	assert_null(c->zones[1].file);
	/* Resolved whatever the order of the zones and the case of the name. */
	assert_int_equal(c->zones[0].catalog_zone, 1);
	assert_null(c->zones[0].catalog_group);
	assert_int_equal(c->zones[2].catalog_zone, 1);
	assert_string_equal(c->zones[2].catalog_group, "blue");
	assert_int_equal(c->zones[3].catalog_zone, -1);
	assert_int_equal(c->zones[3].catalog_role, CONF_CATALOG_NONE);
	conf_free(c);

	/* A default template's file is not a catalog's; zones from a template list nowhere. */
	c = load_ok("templates:\n  - {id: default, file: \"/z/%s.zone\"}\n"
	            "zones:\n  - {domain: cat, catalog-role: producer}\n"
	            "  - {domain: a, catalog-zone: cat}\n  - {domain: b}\n");
	assert_null(c->zones[0].file);
	assert_int_equal(c->zones[1].catalog_zone, 0);
	assert_string_equal(c->zones[2].file, "/z/b.zone");
	assert_int_equal(c->zones[2].catalog_zone, -1);
	conf_zone_t made;
	assert_int_equal(conf_zone_from_template(c, 0, "new.example", &made), 0);
	assert_int_equal(made.catalog_zone, -1);
	assert_int_equal(made.catalog_role, CONF_CATALOG_NONE);
	conf_zone_deinit(&made);
	conf_free(c);

	expect_error("zones:\n  - {domain: c, catalog-role: producer, role: secondary, "
	             "primaries: []}\n",
	             "x.yaml:2:", "catalog-role: producer needs role primary");
	expect_error("zones:\n  - {domain: c, catalog-role: producer, file: /c}\n",
	             "x.yaml:2:", "file: a producer catalog is generated");
	expect_error("zones:\n  - {domain: c, catalog-role: consumer, file: /c}\n",
	             "x.yaml:2:", "catalog-role: consumer needs role secondary");
	const char *pri = "remotes:\n  - {id: p, address: 192.0.2.1}\n";
	char text[1024];
	snprintf(
	    text, sizeof(text),
	    "%szones:\n  - {domain: c, role: secondary, primaries: p, catalog-role: consumer}\n",
	    pri);
	expect_error(text, "x.yaml:4:", "catalog-role: consumer needs catalog-template");
	snprintf(
	    text, sizeof(text),
	    "%stemplates:\n  - {id: t}\nzones:\n  - {domain: c, role: secondary, primaries: p, "
	    "catalog-role: consumer, catalog-template: [t, u]}\n",
	    pri);
	expect_error(text, "x.yaml:6:", "catalog-template: unknown template \"u\"");
	expect_error(text,
	             "x.yaml:6:", "catalog-template: template \"t\" (line 4) has no primaries");
	snprintf(text, sizeof(text), "%szones:\n  - {domain: c, file: /c, catalog-template: t}\n",
	         pri);
	expect_error(text, "x.yaml:4:", "catalog-template: only a consumer catalog");
	snprintf(text, sizeof(text),
	         "%stemplates:\n  - {id: default, primaries: p}\n  - {id: blue, primaries: p}\n"
	         "zones:\n  - {domain: c, role: secondary, catalog-role: consumer}\n"
	         "  - {domain: d, role: secondary, catalog-role: consumer, "
	         "catalog-template: [blue, default]}\n",
	         pri);
	c = load_ok(text);
	assert_int_equal(c->zones[0].catalog_role, CONF_CATALOG_CONSUMER);
	assert_int_equal(c->zones[0].ncatalog_templates, 1);
	assert_int_equal(c->zones[0].catalog_templates[0], 0);
	assert_int_equal(c->zones[1].ncatalog_templates, 2);
	assert_int_equal(c->zones[1].catalog_templates[0], 1);
	assert_int_equal(c->zones[1].catalog_from, -1);
	assert_int_equal(c->zones[0].catalog_max_members, 100000);
	/* A member is a secondary of its template's primaries, named from the wire, defaults
	 * filled, whatever role the template leaves (primary, with no file). */
	conf_zone_t m;
	assert_int_equal(conf_member_from_template(c, 1, (const uint8_t *)"\002M1\004test", 9, &m),
	                 0);
	assert_int_equal(m.role, CONF_ROLE_SECONDARY);
	assert_string_equal(m.domain, "M1.test");
	assert_memory_equal(m.name, "\002m1\004test", 9);
	assert_int_equal(m.nprimaries, 1);
	assert_int_equal(m.catalog_from, -1);
	assert_true(m.refresh_min > 0 && m.journal_max_depth > 0);
	conf_zone_deinit(&m);
	assert_int_equal(conf_member_from_template(c, 7, (const uint8_t *)"\002m1\004test", 9, &m),
	                 US_EINVAL);
	conf_free(c);
	snprintf(text, sizeof(text),
	         "%stemplates:\n  - {id: default, primaries: p}\nzones:\n  - {domain: c, role: "
	         "secondary, catalog-role: consumer, catalog-max-members: 0}\n",
	         pri);
	expect_error(text, "x.yaml:6:", "catalog-max-members");
	expect_error("zones:\n  - {domain: c, catalog-role: both, file: /c}\n",
	             "x.yaml:2:", "catalog-role: unknown value \"both\"");
	expect_error("zones:\n  - {domain: a, file: /a, catalog-zone: nowhere}\n",
	             "x.yaml:2:", "catalog-zone: no zone \"nowhere\" in this configuration");
	expect_error(
	    "zones:\n  - {domain: a, file: /a, catalog-zone: b}\n"
	    "  - {domain: b, file: /b}\n",
	    "x.yaml:2:", "catalog-zone: zone \"b\" (line 3) has no catalog-role: producer");
	expect_error("zones:\n  - {domain: a, catalog-role: producer, catalog-zone: a}\n",
	             "x.yaml:2:", "catalog-zone: a catalog cannot list itself");
	expect_error("zones:\n  - {domain: a, catalog-role: producer, catalog-zone: b}\n"
	             "  - {domain: b, catalog-role: producer}\n",
	             "x.yaml:2:", "catalog-zone: a catalog is not a member of another");
	expect_error("zones:\n  - {domain: a, file: /a, catalog-zone: \"a..b\"}\n",
	             "x.yaml:2:", "catalog-zone: bad name");
	expect_error("zones:\n  - {domain: a, file: /a, catalog-group: g}\n",
	             "x.yaml:2:", "catalog-group: only a member");
	expect_error("zones:\n  - {domain: c, catalog-role: producer}\n"
	             "  - {domain: a, file: /a, catalog-zone: c, catalog-group: \"\"}\n",
	             "x.yaml:3:", "catalog-group: must be 1 to 255 bytes long");
}

/* A copy holds what the original does, shares nothing with it (ASan sees both freed), and
 * leaves out the catalogs' members when asked. */
static void test_copy(void **state)
{
	(void)state;
	const char *pin = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
	char text[2048];
	snprintf(text, sizeof(text),
	         "server:\n  listen: [127.0.0.1@5300]\n  nsid: n\n  user: nobody\n"
	         "  rrl: {rate-limit: 5, whitelist: [10.0.0.0/8]}\n  block: [192.0.2.0/24]\n"
	         "  tls: {certificate: c.pem, key: k.pem, ca: ca.pem, listen: 127.0.0.1}\n"
	         "log: {target: /tmp/x.log}\n"
	         "keys:\n  - {id: k1, algorithm: hmac-sha256, secret: \"" SECRET "\"}\n"
	         "remotes:\n  - {id: p, address: [192.0.2.1, 192.0.2.2], key: k1, tls: {pin: "
	         "[\"%s\"], certificate: me.pem, key: me.key, ca: ca.pem, hostname: h}}\n"
	         "  - {id: q, address: 192.0.2.3}\n"
	         "acls:\n  - {id: a, address: [192.0.2.0/24], key: k1, action: transfer}\n"
	         "templates:\n  - {id: default, primaries: q, acl: a, file: \"/z/%%s\"}\n"
	         "zones:\n  - {domain: cat, role: secondary, catalog-role: consumer}\n"
	         "  - {domain: prod, catalog-role: producer, notify: q}\n"
	         "  - {domain: m, file: /m, catalog-zone: prod, catalog-group: g, watch: q}\n",
	         pin);
	conf_t *c = load_ok(text);
	conf_zone_t member;
	assert_int_equal(conf_zone_from_template(c, 0, "from.catalog", &member), 0);
	member.catalog_from = 0;
	member.catalog_id = (uint8_t *)strdup("\003abc");
	assert_int_equal(conf_add_zone(c, &member), 0);
	conf_t *all = NULL, *file = NULL;
	assert_int_equal(conf_copy(c, false, &all), 0);
	assert_int_equal(conf_copy(c, true, &file), 0);
	assert_int_equal(all->nzones, 4);
	assert_int_equal(file->nzones, 3);
	assert_memory_equal(all->zones[3].catalog_id, "\003abc", 4);
	assert_ptr_not_equal(all->zones[3].catalog_id, c->zones[3].catalog_id);
	assert_string_equal(all->zones[3].file, "/z/from.catalog");
	assert_string_equal(file->zones[2].catalog_group, "g");
	assert_int_equal(file->zones[2].catalog_zone, 1);
	assert_string_equal(file->remotes[0].tls->hostname, "h");
	assert_int_equal(file->remotes[0].tls->npins, 1);
	assert_int_equal(file->remotes[0].naddr, 2);
	assert_int_equal(file->keys[0].secret_len, 32);
	assert_memory_equal(file->keys[0].secret, SECRET_RAW, 32);
	assert_string_equal(file->tls->ca, "ca.pem");
	assert_string_equal(file->templates[0].zone.file, "/z/%s");
	assert_string_equal(file->log_file, "/tmp/x.log");
	assert_int_equal(file->rrl.nwhitelist, 1);
	conf_free(c);
	/* The copies live on without the original. */
	assert_string_equal(all->zones[0].domain, "cat");
	assert_int_equal(all->zones[0].catalog_templates[0], 0);
	conf_free(all);
	conf_free(file);
}

static void test_all_errors_collected(void **state)
{
	(void)state;
	expect_error("server:\n"
	             "  udp-workers: 0\n"
	             "  bogus: 1\n"
	             "log: {level: loud}\n"
	             "keys:\n"
	             "  - {id: k, algorithm: md5, secret: \"!\"}\n"
	             "zones:\n"
	             "  - {domain: a, notify: nope}\n",
	             "x.yaml:2:", "udp-workers");
	assert_non_null(strstr(err, "x.yaml:3: server: unknown option \"bogus\"\n"));
	assert_non_null(strstr(err, "x.yaml:4: level: unknown value"));
	assert_non_null(strstr(err, "x.yaml:6: algorithm: unknown value"));
	assert_non_null(strstr(err, "x.yaml:6: secret: not valid"));
	assert_non_null(strstr(err, "x.yaml:8: notify: unknown remote \"nope\""));
	assert_non_null(strstr(err, "x.yaml:8: zones: a primary zone needs \"file\""));
	assert_int_equal(count_lines(err), 7);
}

static void test_error_buffer_truncation(void **state)
{
	(void)state;
	const char *text = "server:\n  a: 1\n  b: 2\n  c: 3\n";
	char small[24];
	conf_t *c = NULL;
	write_file(text, strlen(text));
	memset(small, 'Z', sizeof(small));
	assert_int_equal(conf_load(path, &c, small, 10), US_EINVAL);
	assert_int_equal(strlen(small), 9);
	assert_int_equal(small[10], 'Z');
	assert_int_equal(conf_load(path, &c, small, 1), US_EINVAL);
	assert_string_equal(small, "");
	assert_int_equal(conf_load(path, &c, NULL, 0), US_EINVAL);
	assert_null(c);
	/* Exactly-full buffers keep their NUL and never run past errlen. */
	for (size_t n = 2; n <= sizeof(small) - 1; n++) {
		memset(small, 'Z', sizeof(small));
		assert_int_equal(conf_load(path, &c, small, n), US_EINVAL);
		assert_true(strlen(small) < n);
		assert_int_equal(small[n], 'Z');
	}
}

static void test_aliases_rejected(void **state)
{
	(void)state;
	expect_error("remotes:\n  - {id: a, address: &ad 192.0.2.1}\n  - {id: b, address: *ad}\n",
	             "x.yaml:2:", "anchors and aliases are not supported");
	expect_error("x: &a [*a]\n", "x.yaml:", "anchors and aliases are not supported");
	expect_error("&r {server: *r}\n", "x.yaml:1:", "anchors and aliases are not supported");
	/* Billion laughs: must fail fast rather than expand. */
	expect_error("a: &a [x, x, x, x, x, x, x, x, x]\n"
	             "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	             "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	             "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	             "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
	             "x.yaml:1:", "anchors and aliases");
	assert_int_equal(count_lines(err), 1);
	expect_error("a: *nope\n", "x.yaml:1:", "anchors and aliases are not supported");
}

static void test_deep_nesting_rejected(void **state)
{
	(void)state;
	enum { DEPTH = 200000 };
	char *text = malloc(2 * DEPTH + 16);
	assert_non_null(text);
	strcpy(text, "zones: ");
	memset(text + 7, '[', DEPTH);
	memset(text + 7 + DEPTH, ']', DEPTH);
	strcpy(text + 7 + 2 * DEPTH, "\n");
	expect_error(text, "x.yaml:1:", "nested deeper than 32 levels");
	free(text);
	/* The deepest valid shape passes. */
	conf_free(load_ok("zones:\n  - domain: z\n    role: secondary\n    primaries:\n"
	                  "      - r\nremotes: [{id: r, address: [192.0.2.1]}]\n"));
}

static void test_flow_and_block_agree(void **state)
{
	(void)state;
	conf_t *f =
	    load_ok("server: {listen: [\"192.0.2.1@5300\"], tcp-workers: 3}\n"
	            "remotes: [{id: r, address: [192.0.2.9, \"192.0.2.10@54\"]}]\n"
	            "acls: [{id: a, address: [192.0.2.0/25], action: [notify], deny: true}]\n"
	            "zones: [{domain: z, role: secondary, primaries: [r], acl: [a]}]\n");
	conf_t *b =
	    load_ok("server:\n  listen:\n    - \"192.0.2.1@5300\"\n  tcp-workers: 3\n"
	            "remotes:\n  - id: r\n    address:\n      - 192.0.2.9\n"
	            "      - \"192.0.2.10@54\"\n"
	            "acls:\n  - id: a\n    address:\n      - 192.0.2.0/25\n"
	            "    action:\n      - notify\n    deny: true\n"
	            "zones:\n  - domain: z\n    role: secondary\n    primaries:\n      - r\n"
	            "    acl:\n      - a\n");
	assert_memory_equal(&f->listen[0], &b->listen[0], sizeof(conf_addr_t));
	assert_int_equal(f->tcp_workers, b->tcp_workers);
	assert_int_equal(f->remotes[0].naddr, b->remotes[0].naddr);
	assert_memory_equal(f->remotes[0].addr, b->remotes[0].addr, 2 * sizeof(conf_addr_t));
	assert_memory_equal(&f->acls[0].prefix[0], &b->acls[0].prefix[0], sizeof(conf_prefix_t));
	assert_int_equal(f->acls[0].actions, b->acls[0].actions);
	assert_int_equal(f->acls[0].deny, b->acls[0].deny);
	assert_int_equal(f->zones[0].role, b->zones[0].role);
	assert_int_equal(f->zones[0].primaries[0], b->zones[0].primaries[0]);
	assert_int_equal(f->zones[0].acl[0], b->zones[0].acl[0]);
	conf_free(f);
	conf_free(b);
}

static void test_sections_in_any_order(void **state)
{
	(void)state;
	conf_t *c = load_ok("zones: [{domain: z, role: secondary, primaries: r}]\n"
	                    "remotes: [{id: r, address: 192.0.2.1, key: k}]\n"
	                    "keys: [{id: k, algorithm: hmac-sha512, secret: " SECRET "}]\n");
	assert_int_equal(c->zones[0].primaries[0], 0);
	assert_int_equal(c->remotes[0].key, 0);
	conf_free(c);
}

static void test_find_zone(void **state)
{
	(void)state;
	conf_t *c = load_ok("zones:\n  - {domain: Example.com, file: /a}\n"
	                    "  - {domain: example.net, file: /b}\n");
	const conf_zone_t *z = conf_find_zone(c,
	                                      (const uint8_t *)"\x07"
	                                                       "example\x03"
	                                                       "net",
	                                      13);
	assert_ptr_equal(z, &c->zones[1]);
	z = conf_find_zone(c,
	                   (const uint8_t *)"\x07"
	                                    "example\x03"
	                                    "com",
	                   13);
	assert_ptr_equal(z, &c->zones[0]);
	assert_null(conf_find_zone(c,
	                           (const uint8_t *)"\x07"
	                                            "example\x03"
	                                            "org",
	                           13));
	assert_null(conf_find_zone(c, (const uint8_t *)"", 1));
	conf_free(c);
	conf_free(NULL);
}

/* Every prefix of a real config, then random byte edits: never a crash, leak or odd code. */
static void test_truncated_and_mutated_inputs(void **state)
{
	(void)state;
	const char *full = DESIGN;
	size_t len = strlen(full);
	char *buf = malloc(len + 1);
	assert_non_null(buf);
	for (size_t n = 0; n <= len; n++) {
		conf_t *c = NULL;
		write_file(full, n);
		int ret = conf_load(path, &c, err, sizeof(err));
		assert_true(ret == 0 || ret == US_EINVAL);
		assert_true(ret != 0 || c != NULL);
		assert_true(ret == 0 || strlen(err) > 0);
		conf_free(c);
	}
	unsigned seed = 12345;
	for (int i = 0; i < 3000; i++) {
		memcpy(buf, full, len + 1);
		for (int k = 0; k < 1 + i % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t pos = (seed >> 8) % len;
			seed = seed * 1103515245u + 12345u;
			static const char pick[] = "{}[]:,-&*!|>'\"#\n @/.0\t\\";
			buf[pos] = (seed >> 16) & 1 ? pick[(seed >> 8) % (sizeof(pick) - 1)]
			                            : (char)(seed >> 8);
		}
		conf_t *c = NULL;
		write_file(buf, len);
		int ret = conf_load(path, &c, err, sizeof(err));
		assert_true(ret == 0 || ret == US_EINVAL);
		conf_free(c);
	}
	free(buf);
}

#ifndef __SANITIZE_ADDRESS__
/*
 * Out-of-memory injection by interposing the allocator (ASan owns it in sanitizer builds, so
 * there the test is skipped). Counting live blocks also proves conf_load/conf_free don't leak.
 */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static struct {
	bool armed;
	long calls, fail_at, live;
} alloc;

static bool alloc_fails(void)
{
	return alloc.armed && alloc.calls++ == alloc.fail_at;
}

/* Like glibc, a failed allocation sets errno: callers such as fopen rely on it. */
static void *nomem(void)
{
	errno = ENOMEM;
	return NULL;
}

void *malloc(size_t n)
{
	void *p = alloc_fails() ? nomem() : __libc_malloc(n);
	alloc.live += alloc.armed && p;
	return p;
}

void *calloc(size_t n, size_t size)
{
	void *p = alloc_fails() ? nomem() : __libc_calloc(n, size);
	alloc.live += alloc.armed && p;
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p = alloc_fails() ? nomem() : __libc_realloc(old, n);
	alloc.live += alloc.armed && p && !old;
	return p;
}

void free(void *p)
{
	alloc.live -= alloc.armed && p;
	__libc_free(p);
}

static void test_out_of_memory(void **state)
{
	(void)state;
	const char *text = DESIGN;
	write_file(text, strlen(text));
	bool done = false;
	int nomem = 0;
	for (long fail_at = 0; !done && fail_at < 100000; fail_at++) {
		conf_t *c = NULL;
		alloc.calls = alloc.live = 0;
		alloc.fail_at = fail_at;
		alloc.armed = true;
		int ret = conf_load(path, &c, err, sizeof(err));
		conf_free(ret == 0 ? c : NULL);
		alloc.armed = false;
		assert_int_equal(alloc.live, 0);
		if (ret != 0 && ret != US_ENOMEM)
			print_error("fail_at %ld ret %d: %s", fail_at, ret, err);
		/* glibc's stdio may absorb a failed buffer allocation and carry on unbuffered. */
		assert_true(ret == 0 || ret == US_ENOMEM);
		nomem += ret == US_ENOMEM;
		done = alloc.calls <= fail_at;
		if (done)
			assert_int_equal(ret, 0);
	}
	assert_true(done);
	assert_true(nomem > 10);
}
#else
static void test_out_of_memory(void **state)
{
	(void)state;
	skip();
}
#endif

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_conf.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/x.yaml", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_design_example),
	    cmocka_unit_test(test_design_example_verbatim_needs_remotes),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_secondary_timer_and_limit_options),
	    cmocka_unit_test(test_journal_bounds),
	    cmocka_unit_test(test_tls),
	    cmocka_unit_test(test_http),
	    cmocka_unit_test(test_defences),
	    cmocka_unit_test(test_policies),
	    cmocka_unit_test(test_templates),
	    cmocka_unit_test(test_comments_and_empty_sections_are_defaults),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_directory_is_an_error),
	    cmocka_unit_test(test_root_must_be_mapping),
	    cmocka_unit_test(test_yaml_syntax_error_line),
	    cmocka_unit_test(test_invalid_utf8_line),
	    cmocka_unit_test(test_multiple_documents),
	    cmocka_unit_test(test_unknown_top_level_key),
	    cmocka_unit_test(test_unknown_nested_keys),
	    cmocka_unit_test(test_duplicate_option),
	    cmocka_unit_test(test_wrong_types),
	    cmocka_unit_test(test_null_value_is_an_error),
	    cmocka_unit_test(test_embedded_nul),
	    cmocka_unit_test(test_integers),
	    cmocka_unit_test(test_integer_errors),
	    cmocka_unit_test(test_listen_addresses),
	    cmocka_unit_test(test_listen_errors),
	    cmocka_unit_test(test_parse_addr_api),
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_string_limits),
	    cmocka_unit_test(test_log),
	    cmocka_unit_test(test_log_errors),
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_key_bad_secret),
	    cmocka_unit_test(test_key_bad_algorithm),
	    cmocka_unit_test(test_key_required_fields),
	    cmocka_unit_test(test_key_id_must_be_a_name),
	    cmocka_unit_test(test_duplicate_key_ids),
	    cmocka_unit_test(test_duplicate_remote_and_acl_ids),
	    cmocka_unit_test(test_remotes),
	    cmocka_unit_test(test_remote_errors),
	    cmocka_unit_test(test_acls),
	    cmocka_unit_test(test_acl_host_bits),
	    cmocka_unit_test(test_acl_bad_prefix),
	    cmocka_unit_test(test_acl_action_errors),
	    cmocka_unit_test(test_bool_errors),
	    cmocka_unit_test(test_zone_names),
	    cmocka_unit_test(test_zone_name_limits),
	    cmocka_unit_test(test_duplicate_zones),
	    cmocka_unit_test(test_zone_references),
	    cmocka_unit_test(test_zone_single_id_lists),
	    cmocka_unit_test(test_zone_role_rules),
	    cmocka_unit_test(test_catalog_keys),
	    cmocka_unit_test(test_copy),
	    cmocka_unit_test(test_all_errors_collected),
	    cmocka_unit_test(test_error_buffer_truncation),
	    cmocka_unit_test(test_aliases_rejected),
	    cmocka_unit_test(test_deep_nesting_rejected),
	    cmocka_unit_test(test_flow_and_block_agree),
	    cmocka_unit_test(test_sections_in_any_order),
	    cmocka_unit_test(test_find_zone),
	    cmocka_unit_test(test_truncated_and_mutated_inputs),
	    cmocka_unit_test(test_out_of_memory),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
