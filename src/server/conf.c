/* SPDX-License-Identifier: MIT */
/* conf: reads the YAML configuration with libyaml and checks it into a conf_t. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>
#include <yaml.h>

#include "conf.h"
#include "dname.h"
#include "error.h"

/* A bound on what we read, so a path like /dev/zero fails cleanly instead of eating memory. */
#define CONF_MAX_SIZE (64u << 20)
/* CHAOS TXT answers and NSID carry these in one character-string. */
#define CONF_TEXT_MAX 255
/* Valid files nest 4 deep (zones, a zone, its notify list); this bounds libyaml's recursion. */
#define CONF_MAX_DEPTH 32

typedef struct ctx {
	const char *path;
	yaml_document_t *doc;
	conf_t *conf;
	char *err;
	size_t errlen, errused;
	int nerr;
	bool oom;
	/* The zones by name (index + 1) while they are read: duplicates in one pass, whatever
	 * their number. */
	uint32_t *zone_names;
	size_t zone_mask;
} ctx_t;

/* A mapping entry picked out by map_get: the key node (named in messages) and its value. */
typedef struct kv {
	yaml_node_t *k, *v;
} kv_t;

/* Appends "FILE:LINE: message\n" (or "FILE: message\n" for line 0), truncating at errlen. */
__attribute__((format(printf, 3, 4))) static void cerr(ctx_t *c, int line, const char *fmt, ...)
{
	c->nerr++;
	if (c->err == NULL || c->errused + 1 >= c->errlen)
		return;
	char *p = c->err + c->errused;
	size_t left = c->errlen - c->errused;
	int n = line > 0 ? snprintf(p, left, "%s:%d: ", c->path, line)
	                 : snprintf(p, left, "%s: ", c->path);
	if (n >= 0 && (size_t)n < left) {
		va_list ap;
		va_start(ap, fmt);
		int m = vsnprintf(p + n, left - n, fmt, ap);
		va_end(ap);
		n = m < 0 ? n : n + m;
		if ((size_t)n < left)
			n += snprintf(p + n, left - n, "\n");
	}
	/* On truncation snprintf has already NUL-terminated at the end of the buffer. */
	c->errused = n < 0 ? c->errused : (size_t)n < left ? c->errused + n : c->errlen - 1;
}

static int line_of(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

static yaml_node_t *node(ctx_t *c, int idx)
{
	return yaml_document_get_node(c->doc, idx);
}

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static size_t seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *seq_at(ctx_t *c, const yaml_node_t *n, size_t i)
{
	return node(c, n->data.sequence.items.start[i]);
}

/* YAML 1.1 spells null as nothing, ~ or null; only plain (unquoted) scalars can be null. */
static bool is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *s = sval(n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

/* A string scalar: not null, and without a NUL that a "\0" escape could have put inside. */
static bool is_str(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && !is_null(n) &&
	       strlen(sval(n)) == n->data.scalar.length;
}

static void *xcalloc(ctx_t *c, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	c->oom |= p == NULL;
	return p;
}

static char *xstrdup(ctx_t *c, const char *s)
{
	char *p = strdup(s);
	c->oom |= p == NULL;
	return p;
}

/*
 * Checks that n is a mapping whose keys are all among names (NULL-terminated), each given at most
 * once, and fills kv[i] for names[i] (zeroed when absent). False if n is not a mapping at all.
 */
static bool map_get(ctx_t *c, yaml_node_t *n, const char *what, const char *const *names, kv_t *kv)
{
	size_t nn = 0;
	while (names[nn])
		nn++;
	memset(kv, 0, nn * sizeof(*kv));
	if (n->type != YAML_MAPPING_NODE) {
		cerr(c, line_of(n), "%s: expected a mapping", what);
		return false;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
		if (k->type != YAML_SCALAR_NODE) {
			cerr(c, line_of(k), "%s: option names must be plain strings", what);
			continue;
		}
		size_t i = 0;
		while (i < nn && strcmp(names[i], sval(k)))
			i++;
		if (i == nn)
			cerr(c, line_of(k), "%s: unknown option \"%s\"", what, sval(k));
		else if (kv[i].k)
			cerr(c, line_of(k), "%s: \"%s\" given twice (first at line %d)", what,
			     sval(k), line_of(kv[i].k));
		else
			kv[i] = (kv_t){k, v};
	}
	return true;
}

static bool need(ctx_t *c, const yaml_node_t *item, const kv_t *kv, const char *what,
                 const char *name)
{
	if (!kv->k)
		cerr(c, line_of(item), "%s: missing \"%s\"", what, name);
	return kv->k != NULL;
}

/*
 * The getters report a wrong or missing value at the key's line: the value of an empty option
 * has no position of its own (libyaml marks it on the next line), and the key is what the user
 * looks for. Problems with one list item are reported at that item's line.
 */
static const char *get_scalar(ctx_t *c, const kv_t *kv, const char *expected)
{
	if (is_str(kv->v))
		return sval(kv->v);
	if (kv->v->type == YAML_SCALAR_NODE && !is_null(kv->v))
		cerr(c, line_of(kv->k), "%s: contains a NUL character", sval(kv->k));
	else
		cerr(c, line_of(kv->k), "%s: expected %s", sval(kv->k), expected);
	return NULL;
}

static bool get_str(ctx_t *c, const kv_t *kv, size_t min, size_t max, char **out)
{
	const char *s = get_scalar(c, kv, "a string");
	if (s == NULL)
		return false;
	size_t len = strlen(s);
	if (len < min || len > max) {
		if (min)
			cerr(c, line_of(kv->k), "%s: must be %zu to %zu bytes long", sval(kv->k),
			     min, max);
		else
			cerr(c, line_of(kv->k), "%s: longer than %zu bytes", sval(kv->k), max);
		return false;
	}
	*out = xstrdup(c, s);
	return *out != NULL;
}

static void get_int(ctx_t *c, const kv_t *kv, long min, long max, int *out)
{
	const char *s = kv->v->type == YAML_SCALAR_NODE ? sval(kv->v) : "";
	const char *d = s + (*s == '-' || *s == '+');
	char *end;
	long x = 0;
	/* Decimal only: strtol alone would take " 7", base 0 would take "0x7" and "07". */
	bool ok = *d >= '0' && *d <= '9';
	if (ok) {
		errno = 0;
		x = strtol(s, &end, 10);
		ok = !*end && !errno && x >= min && x <= max;
	}
	if (ok)
		*out = (int)x;
	else
		cerr(c, line_of(kv->k), "%s: expected an integer from %ld to %ld", sval(kv->k), min,
		     max);
}

static void get_bool(ctx_t *c, const kv_t *kv, bool *out)
{
	static const char *const t[] = {"true", "yes", "false", "no"};
	for (size_t i = 0; kv->v->type == YAML_SCALAR_NODE && i < 4; i++) {
		if (!strcasecmp(sval(kv->v), t[i])) {
			*out = i < 2;
			return;
		}
	}
	cerr(c, line_of(kv->k), "%s: expected true, false, yes or no", sval(kv->k));
}

/* Index of v among names (NULL-terminated), or -1 after an error naming the choices. */
static int get_enum(ctx_t *c, const kv_t *kv, const yaml_node_t *v, const char *const *names)
{
	char all[128] = "";
	for (int i = 0; names[i]; i++) {
		if (is_str(v) && !strcmp(sval(v), names[i]))
			return i;
		snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", i ? ", " : "",
		         names[i]);
	}
	if (is_str(v))
		cerr(c, line_of(v), "%s: unknown value \"%s\" (expected one of: %s)", sval(kv->k),
		     sval(v), all);
	else
		cerr(c, line_of(kv->k), "%s: expected one of: %s", sval(kv->k), all);
	return -1;
}

/* List-valued options also take a single scalar, meaning a list of one. */
static bool list_check(ctx_t *c, const kv_t *kv, size_t *count)
{
	yaml_node_t *v = kv->v;
	bool ok = true;
	*count = 1;
	if (is_str(v))
		return true;
	if (v->type != YAML_SEQUENCE_NODE) {
		cerr(c, line_of(kv->k), "%s: expected a string or a list of strings", sval(kv->k));
		return false;
	}
	*count = seq_len(v);
	for (size_t i = 0; i < *count; i++) {
		if (!is_str(seq_at(c, v, i))) {
			cerr(c, line_of(seq_at(c, v, i)), "%s: each item must be a string",
			     sval(kv->k));
			ok = false;
		}
	}
	return ok;
}

static yaml_node_t *list_at(ctx_t *c, const kv_t *kv, size_t i)
{
	return kv->v->type == YAML_SCALAR_NODE ? kv->v : seq_at(c, kv->v, i);
}

/* Decimal digits only (strtoul would take " 5", "+5" and "-5"), at most max. */
static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
	unsigned long x = 0;
	size_t i = 0;
	for (; s[i] >= '0' && s[i] <= '9' && i < 6; i++)
		x = x * 10 + (unsigned long)(s[i] - '0');
	if (i == 0 || s[i] || x > max)
		return false;
	*out = (unsigned)x;
	return true;
}

/*
 * Parses the IPv4 or IPv6 address before sep (or of the whole string) into out, port 0, and
 * points *rest after sep (or at NULL). No brackets and no scope ids: "ADDR@PORT" needs neither.
 */
static bool parse_ip(const char *s, const char *sep, conf_addr_t *out, const char **rest)
{
	char buf[INET6_ADDRSTRLEN];
	size_t len = sep ? (size_t)(sep - s) : strlen(s);
	struct sockaddr_in *in4 = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;
	*rest = sep ? sep + 1 : NULL;
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		out->len = sizeof(*in4);
		return true;
	}
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET6, buf, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		out->len = sizeof(*in6);
		return true;
	}
	return false;
}

int conf_parse_addr(const char *text, uint16_t default_port, conf_addr_t *out)
{
	conf_addr_t a;
	const char *port_text;
	unsigned port = default_port;
	if (!parse_ip(text, strrchr(text, '@'), &a, &port_text) ||
	    (port_text && (!parse_uint(port_text, 65535, &port) || port == 0)))
		return US_EINVAL;
	if (a.ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a.ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&a.ss)->sin6_port = htons((uint16_t)port);
	*out = a;
	return 0;
}

void conf_addr_str(const conf_addr_t *a, char *buf, size_t len)
{
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (a->ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof(ip));
		port = ntohs(in4->sin_port);
	} else if (a->ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
	}
	snprintf(buf, len, "%s@%u", ip, port);
}

/* "ADDR/BITS" or "ADDR" (all bits); *why says what is wrong. */
static bool parse_prefix(const char *s, conf_prefix_t *out, const char **why)
{
	conf_addr_t a;
	const char *bits_text;
	*why = "expected ADDR or ADDR/BITS";
	if (!parse_ip(s, strchr(s, '/'), &a, &bits_text))
		return false;
	memset(out, 0, sizeof(*out));
	out->family = a.ss.ss_family;
	unsigned max = out->family == AF_INET ? 32 : 128, bits = max;
	if (out->family == AF_INET)
		memcpy(out->addr, &((struct sockaddr_in *)&a.ss)->sin_addr, 4);
	else
		memcpy(out->addr, &((struct sockaddr_in6 *)&a.ss)->sin6_addr, 16);
	if (bits_text && !parse_uint(bits_text, 999, &bits))
		return false;
	if (bits > max) {
		*why = "prefix length too long for the address family";
		return false;
	}
	out->bits = (uint8_t)bits;
	/* Host bits set usually mean a typo in the address or the length: refuse, don't guess. */
	for (unsigned i = bits; i < max; i++) {
		if (out->addr[i / 8] & (0x80 >> (i % 8))) {
			*why = "address has bits set beyond the prefix length";
			return false;
		}
	}
	return true;
}

static int b64_val(char ch)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = ch ? strchr(alpha, ch) : NULL;
	return p ? (int)(p - alpha) : -1;
}

/*
 * Strict RFC 4648 base64: padded to a multiple of 4, padding only at the end, unused bits zero.
 * OpenSSL's EVP_DecodeBlock skips whitespace and counts padding as data, which we don't want.
 * Returns 0, US_EINVAL or US_ENOMEM.
 */
static int b64_decode(const char *s, uint8_t **out, size_t *outlen)
{
	size_t len = strlen(s), pad = 0, n = 0;
	if (len == 0 || len % 4)
		return US_EINVAL;
	while (pad < 2 && s[len - 1 - pad] == '=')
		pad++;
	/* Non-zero bits hidden under the padding mean the text was not produced by an encoder. */
	if ((pad == 1 && (b64_val(s[len - 2]) & 3)) || (pad == 2 && (b64_val(s[len - 3]) & 15)))
		return US_EINVAL;
	uint8_t *buf = malloc(len / 4 * 3);
	if (buf == NULL)
		return US_ENOMEM;
	for (size_t i = 0; i < len; i += 4) {
		uint32_t w = 0;
		for (size_t j = i; j < i + 4; j++) {
			int v = j >= len - pad ? 0 : b64_val(s[j]);
			if (v < 0) {
				free(buf);
				return US_EINVAL;
			}
			w = w << 6 | (uint32_t)v;
		}
		buf[n++] = (uint8_t)(w >> 16);
		buf[n++] = (uint8_t)(w >> 8);
		buf[n++] = (uint8_t)w;
	}
	*out = buf;
	*outlen = n - pad;
	return 0;
}

/*
 * Text domain name to lower-cased wire form. A single trailing dot is optional and "." is the
 * root. Escapes are not supported: zone and key names in a configuration never need them.
 */
static bool dname_parse(const char *s, uint8_t *wire, size_t *wlen, const char **why)
{
	size_t len = strlen(s), w = 0;
	*why = "empty name";
	if (len == 0)
		return false;
	len = !strcmp(s, ".") ? 0 : s[len - 1] == '.' ? len - 1 : len;
	/* i <= len: after the optional final dot, a name ending in "." has an empty label. */
	for (size_t i = 0, j; len && i <= len; i = j + 1) {
		for (j = i; j < len && s[j] != '.'; j++) {
			unsigned char ch = (unsigned char)s[j];
			if (ch <= ' ' || ch >= 0x7f || ch == '\\') {
				*why = "unsupported character (space, control, escape, non-ASCII)";
				return false;
			}
		}
		*why = j == i ? "empty label" : j - i > 63 ? "label longer than 63 bytes" : NULL;
		if (*why == NULL && w + (j - i) + 2 > CONF_DNAME_MAX)
			*why = "name longer than 255 bytes in wire form";
		if (*why)
			return false;
		wire[w++] = (uint8_t)(j - i);
		for (size_t k = i; k < j; k++)
			wire[w++] = (uint8_t)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] + 32 : s[k]);
	}
	wire[w++] = 0;
	*wlen = w;
	return true;
}

/* A list of "ADDR@PORT" or "ADDR" (default_port); an empty list is an error. */
static void get_addrs_port(ctx_t *c, const kv_t *kv, uint16_t default_port, conf_addr_t **out,
                           size_t *count)
{
	size_t n;
	if (!list_check(c, kv, &n))
		return;
	if (n == 0)
		cerr(c, line_of(kv->k), "%s: empty list", sval(kv->k));
	if (n == 0 || !(*out = xcalloc(c, n, sizeof(**out))))
		return;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = list_at(c, kv, i);
		conf_addr_t *a = &(*out)[*count];
		size_t j = 0;
		if (conf_parse_addr(sval(it), default_port, a)) {
			cerr(c, line_of(it), "%s: bad address \"%s\" (expected ADDR or ADDR@PORT)",
			     sval(kv->k), sval(it));
			continue;
		}
		/* parse_ip zeroes the whole struct, so memcmp sees no stray padding. */
		while (j < *count && memcmp(&(*out)[j], a, sizeof(*a)))
			j++;
		if (j < *count)
			cerr(c, line_of(it), "%s: \"%s\" listed twice", sval(kv->k), sval(it));
		else
			(*count)++;
	}
}

static void get_addrs(ctx_t *c, const kv_t *kv, conf_addr_t **out, size_t *count)
{
	get_addrs_port(c, kv, 53, out, count);
}

/* Allocates one zeroed entry per item of a list section; NULL if it is empty or not a list. */
static void *section_new(ctx_t *c, const kv_t *kv, size_t size, size_t *n)
{
	*n = 0;
	if (!kv->k || is_null(kv->v))
		return NULL;
	if (kv->v->type != YAML_SEQUENCE_NODE) {
		cerr(c, line_of(kv->k), "%s: expected a list", sval(kv->k));
		return NULL;
	}
	void *p = seq_len(kv->v) ? xcalloc(c, seq_len(kv->v), size) : NULL;
	*n = p ? seq_len(kv->v) : 0;
	return p;
}

/* A file the server reads at start, as root when started so: a path, checked there. */
static void get_path(ctx_t *c, const kv_t *kv, char **out)
{
	if (kv->k)
		get_str(c, kv, 1, PATH_MAX, out);
}

static void parse_server_tls(ctx_t *c, const kv_t *sec)
{
	static const char *const names[] = {
	    "certificate",       "key",          "ca", "listen", "workers", "max-clients",
	    "handshake-timeout", "idle-timeout", NULL};
	kv_t kv[8];
	conf_tls_t *t = c->conf->tls = xcalloc(c, 1, sizeof(*t));
	if (!t)
		return;
	t->line = line_of(sec->k);
	if (!map_get(c, sec->v, "tls", names, kv))
		return;
	if (need(c, sec->k, &kv[0], "tls", "certificate"))
		get_path(c, &kv[0], &t->certificate);
	if (need(c, sec->k, &kv[1], "tls", "key"))
		get_path(c, &kv[1], &t->key);
	get_path(c, &kv[2], &t->ca);
	/* Without an address there is no listener, and a TLS block without one is a mistake. */
	if (need(c, sec->k, &kv[3], "tls", "listen"))
		get_addrs_port(c, &kv[3], 853, &t->listen, &t->nlisten);
	if (kv[4].k)
		get_int(c, &kv[4], 1, 64, &t->workers);
	if (kv[5].k)
		get_int(c, &kv[5], 1, 100000, &t->max_clients);
	if (kv[6].k)
		get_int(c, &kv[6], 1, 300, &t->handshake_timeout);
	if (kv[7].k)
		get_int(c, &kv[7], 1, 3600, &t->idle_timeout);
}

/* A list (or single) of "ADDR/BITS" prefixes; an empty list is allowed (nothing). */
static void get_prefixes(ctx_t *c, const kv_t *kv, conf_prefix_t **out, size_t *count)
{
	size_t n;
	*count = 0;
	if (!list_check(c, kv, &n) || n == 0 || !(*out = xcalloc(c, n, sizeof(**out))))
		return;
	for (size_t j = 0; j < n; j++) {
		yaml_node_t *it = list_at(c, kv, j);
		const char *why;
		if (parse_prefix(sval(it), &(*out)[*count], &why))
			(*count)++;
		else
			cerr(c, line_of(it), "%s: bad prefix \"%s\": %s", sval(kv->k), sval(it),
			     why);
	}
}

static int hex_val(char ch)
{
	return ch >= '0' && ch <= '9'   ? ch - '0'
	       : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
	       : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
	                                : -1;
}

/* 32 hex digits (an optional 0x before them, as knot.conf writes it) into a 16-byte secret. */
static bool parse_secret(const char *s, uint8_t out[CONF_COOKIE_SECRET_LEN])
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (strlen(s) != 2 * CONF_COOKIE_SECRET_LEN)
		return false;
	for (size_t i = 0; i < CONF_COOKIE_SECRET_LEN; i++) {
		int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static void parse_rrl(ctx_t *c, const kv_t *sec)
{
	static const struct {
		const char *name;
		long min, max;
		size_t off;
	} ints[] = {
	    {"rate-limit", 0, 1000000, offsetof(conf_rrl_t, rate_limit)},
	    {"slip", 0, 100, offsetof(conf_rrl_t, slip)},
	    {"ipv4-prefix-length", 8, 32, offsetof(conf_rrl_t, ipv4_prefix_length)},
	    {"ipv6-prefix-length", 16, 128, offsetof(conf_rrl_t, ipv6_prefix_length)},
	    {"table-size", 1024, 1 << 26, offsetof(conf_rrl_t, table_size)},
	};
	enum { N = sizeof(ints) / sizeof(ints[0]) };
	const char *names[N + 2] = {"whitelist"};
	kv_t kv[N + 1];
	conf_rrl_t *rrl = &c->conf->rrl;
	for (size_t i = 0; i < N; i++)
		names[i + 1] = ints[i].name;
	if (is_null(sec->v) || !map_get(c, sec->v, "rrl", names, kv))
		return;
	for (size_t i = 0; i < N; i++)
		if (kv[i + 1].k)
			get_int(c, &kv[i + 1], ints[i].min, ints[i].max,
			        (int *)((char *)rrl + ints[i].off));
	/* As in knot.conf: no implicit rate, the operator chooses one. */
	need(c, sec->k, &kv[1], "rrl", "rate-limit");
	if (kv[0].k)
		get_prefixes(c, &kv[0], &rrl->whitelist, &rrl->nwhitelist);
}

/* server: rrl, cookies, cookie-secret and block (kv in that order; absent ones zeroed). */
static void parse_defences(ctx_t *c, const kv_t *kv)
{
	conf_t *conf = c->conf;
	if (kv[0].k)
		parse_rrl(c, &kv[0]);
	if (kv[1].k)
		get_bool(c, &kv[1], &conf->cookies);
	if (kv[2].k) {
		size_t n;
		if (list_check(c, &kv[2], &n) && (n < 1 || n > 2))
			cerr(c, line_of(kv[2].k),
			     "cookie-secret: expected one secret, or two: the new and the old");
		for (size_t i = 0; i < n && i < 2; i++) {
			yaml_node_t *it = list_at(c, &kv[2], i);
			if (!is_str(it))
				continue;
			if (parse_secret(sval(it), conf->cookie_secret[i]))
				conf->ncookie_secrets++;
			else
				cerr(c, line_of(it),
				     "cookie-secret: expected 32 hexadecimal digits "
				     "(16 bytes)");
		}
	}
	if (kv[3].k)
		get_prefixes(c, &kv[3], &conf->block, &conf->nblock);
}

static void parse_server(ctx_t *c, const kv_t *sec)
{
	/* Strings are bounded by length (TXT strings for CHAOS and NSID, sun_path for control). */
	static const struct {
		const char *name;
		bool is_int;
		long min, max;
		size_t off;
	} opts[] = {
	    {"storage", false, 1, PATH_MAX, offsetof(conf_t, storage)},
	    {"control", false, 1, sizeof(((struct sockaddr_un *)0)->sun_path) - 1,
	     offsetof(conf_t, control)},
	    {"identity", false, 0, CONF_TEXT_MAX, offsetof(conf_t, identity)},
	    {"version", false, 0, CONF_TEXT_MAX, offsetof(conf_t, version)},
	    {"nsid", false, 1, CONF_TEXT_MAX, offsetof(conf_t, nsid)},
	    {"user", false, 1, CONF_TEXT_MAX, offsetof(conf_t, user)},
	    {"udp-workers", true, 1, 256, offsetof(conf_t, udp_workers)},
	    {"tcp-workers", true, 1, 64, offsetof(conf_t, tcp_workers)},
	    {"tcp-max-clients", true, 1, 100000, offsetof(conf_t, tcp_max_clients)},
	    {"tcp-idle-timeout", true, 1, 3600, offsetof(conf_t, tcp_idle_timeout)},
	    {"udp-max-payload", true, 512, 4096, offsetof(conf_t, udp_max_payload)},
	    {"notify-rate-limit", true, 0, 1000000, offsetof(conf_t, notify_rate_limit)},
	    {"transfer-rate-limit", true, 0, 1000000, offsetof(conf_t, transfer_rate_limit)},
	    {"transfers-out", true, 1, 100000, offsetof(conf_t, transfers_out)},
	    {"transfers-out-per-address", true, 1, 100000,
	     offsetof(conf_t, transfers_out_per_address)},
	    {"transfers-in", true, 1, 100000, offsetof(conf_t, transfers_in)},
	    {"transfers-in-per-primary", true, 1, 100000,
	     offsetof(conf_t, transfers_in_per_primary)},
	    {"tcp-io-timeout", true, 1, 60000, offsetof(conf_t, tcp_io_timeout)},
	    {"tcp-max-clients-per-address", true, 1, 100000,
	     offsetof(conf_t, tcp_max_clients_per_address)},
	    {"tcp-nice", true, 0, 19, offsetof(conf_t, tcp_nice)},
	    {"fleet-interval", true, 0, 86400, offsetof(conf_t, fleet_interval)},
	    {"http-max-clients", true, 1, 10000, offsetof(conf_t, http_max_clients)},
	    {"http-timeout", true, 1, 3600, offsetof(conf_t, http_timeout)},
	};
	enum { N = sizeof(opts) / sizeof(opts[0]), NDEF = 4 };
	/* After listen and the table: watch-ns, the defences with a structure of their own, tls
	 * and http. */
	const char *names[1 + N + 1 + NDEF + 2 + 1] = {"listen"};
	kv_t kv[1 + N + 1 + NDEF + 2];
	char *base = (char *)c->conf;
	for (size_t i = 0; i < N; i++)
		names[i + 1] = opts[i].name;
	names[N + 1] = "watch-ns";
	names[N + 2] = "rrl";
	names[N + 3] = "cookies";
	names[N + 4] = "cookie-secret";
	names[N + 5] = "block";
	names[N + 6] = "tls";
	names[N + 7] = "http";
	if (!sec->k || is_null(sec->v) || !map_get(c, sec->v, "server", names, kv))
		return;
	if (kv[0].k)
		get_addrs(c, &kv[0], &c->conf->listen, &c->conf->nlisten);
	if (kv[N + 1].k)
		get_bool(c, &kv[N + 1], &c->conf->watch_ns);
	parse_defences(c, &kv[N + 2]);
	if (kv[N + 6].k)
		parse_server_tls(c, &kv[N + 6]);
	/* `http: []` says "no listener" as plainly as leaving it out. */
	if (kv[N + 7].k && !is_null(kv[N + 7].v) &&
	    !(kv[N + 7].v->type == YAML_SEQUENCE_NODE && seq_len(kv[N + 7].v) == 0))
		get_addrs_port(c, &kv[N + 7], 80, &c->conf->http, &c->conf->nhttp);
	for (size_t i = 0; i < N; i++) {
		if (kv[i + 1].k && opts[i].is_int)
			get_int(c, &kv[i + 1], opts[i].min, opts[i].max,
			        (int *)(base + opts[i].off));
		else if (kv[i + 1].k)
			get_str(c, &kv[i + 1], (size_t)opts[i].min, (size_t)opts[i].max,
			        (char **)(base + opts[i].off));
	}
}

static void parse_log(ctx_t *c, const kv_t *sec)
{
	static const char *const names[] = {"target", "level", "format", NULL};
	static const char *const levels[] = {"error", "warning", "notice", "info", "debug", NULL};
	static const int lvals[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};
	static const char *const formats[] = {"text", "json", NULL};
	kv_t kv[3];
	conf_t *conf = c->conf;
	const char *s;
	int i;
	if (!sec->k || is_null(sec->v) || !map_get(c, sec->v, "log", names, kv))
		return;
	if (kv[0].k && (s = get_scalar(c, &kv[0], "stderr, syslog or a file path"))) {
		if (!strcmp(s, "stderr"))
			conf->log_target = CONF_LOG_STDERR;
		else if (!strcmp(s, "syslog"))
			conf->log_target = CONF_LOG_SYSLOG;
		else if (!*s)
			cerr(c, line_of(kv[0].k), "target: expected stderr, syslog or a file path");
		else if ((conf->log_file = xstrdup(c, s)))
			conf->log_target = CONF_LOG_FILE;
	}
	if (kv[1].k && (i = get_enum(c, &kv[1], kv[1].v, levels)) >= 0)
		conf->log_level = lvals[i];
	if (kv[2].k && (i = get_enum(c, &kv[2], kv[2].v, formats)) >= 0)
		conf->log_format = i ? CONF_LOG_JSON : CONF_LOG_TEXT;
}

/*
 * Index of the key, remote or acl (type 'k', 'r', 'a') with this id among the first limit, or
 * -1; *line gets its line. Key ids are TSIG key names, and DNS names compare case-insensitively.
 */
static int find_id(const conf_t *conf, char type, const char *id, size_t limit, int *line)
{
	size_t n = type == 'k'   ? conf->nkeys
	           : type == 'r' ? conf->nremotes
	           : type == 't' ? conf->ntemplates
	                         : conf->nacls;
	for (size_t i = 0; i < n && i < limit; i++) {
		const char *o = type == 'k'   ? conf->keys[i].id
		                : type == 'r' ? conf->remotes[i].id
		                : type == 't' ? conf->templates[i].id
		                              : conf->acls[i].id;
		*line = type == 'k'   ? conf->keys[i].line
		        : type == 'r' ? conf->remotes[i].line
		        : type == 't' ? conf->templates[i].line
		                      : conf->acls[i].line;
		if (o && !(type == 'k' ? strcasecmp(o, id) : strcmp(o, id)))
			return (int)i;
	}
	return -1;
}

/* The `id:` of item i of a section, required and unique among items 0..i-1. */
static char *get_id(ctx_t *c, yaml_node_t *item, const kv_t *kv, const char *what, size_t i)
{
	char *id = NULL;
	int line;
	if (need(c, item, kv, what, "id") && get_str(c, kv, 1, CONF_TEXT_MAX, &id) &&
	    find_id(c->conf, what[0], id, i, &line) >= 0)
		cerr(c, line_of(kv->k), "%s: duplicate id \"%s\" (first at line %d)", what, id,
		     line);
	return id;
}

/* An optional `key:` reference: index into conf->keys, -1 when absent. */
static int get_key_ref(ctx_t *c, const kv_t *kv)
{
	const char *s;
	int i = -1, line;
	if (kv->k && (s = get_scalar(c, kv, "a key id")) &&
	    (i = find_id(c->conf, 'k', s, SIZE_MAX, &line)) < 0)
		cerr(c, line_of(kv->k), "key: unknown key \"%s\"", s);
	return i;
}

/* A list (or single) of remote or acl ids, each known and listed once, as indexes. */
static int *get_refs(ctx_t *c, const kv_t *kv, char type, size_t *count)
{
	size_t n;
	int *out, line;
	*count = 0;
	if (!kv->k || !list_check(c, kv, &n) || !(out = xcalloc(c, n, sizeof(int))))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = list_at(c, kv, i);
		int j = find_id(c->conf, type, sval(it), SIZE_MAX, &line);
		size_t k = 0;
		while (k < *count && out[k] != j)
			k++;
		if (j < 0)
			cerr(c, line_of(it), "%s: unknown %s \"%s\"", sval(kv->k),
			     type == 'a'   ? "acl"
			     : type == 't' ? "template"
			                   : "remote",
			     sval(it));
		else if (k < *count)
			cerr(c, line_of(it), "%s: \"%s\" listed twice", sval(kv->k), sval(it));
		else
			out[(*count)++] = j;
	}
	return out;
}

static void parse_keys(ctx_t *c, const kv_t *sec)
{
	static const char *const names[] = {"id", "algorithm", "secret", NULL};
	static const char *const algs[] = {"hmac-md5",    "hmac-sha1",   "hmac-sha224",
	                                   "hmac-sha256", "hmac-sha384", "hmac-sha512",
	                                   NULL};
	conf_t *conf = c->conf;
	if (!(conf->keys = section_new(c, sec, sizeof(conf_key_t), &conf->nkeys)))
		return;
	for (size_t i = 0; i < conf->nkeys && !c->oom; i++) {
		conf_key_t *k = &conf->keys[i];
		yaml_node_t *item = seq_at(c, sec->v, i);
		kv_t kv[3];
		const char *s, *why;
		uint8_t wire[CONF_DNAME_MAX];
		size_t wlen;
		int a, ret;
		k->line = line_of(item);
		if (!map_get(c, item, "keys", names, kv))
			continue;
		k->id = get_id(c, item, &kv[0], "keys", i);
		/* The id goes on the wire as the TSIG key name, so it must be a domain name. */
		if (k->id && !dname_parse(k->id, wire, &wlen, &why))
			cerr(c, line_of(kv[0].k), "keys: id \"%s\" is not a domain name: %s", k->id,
			     why);
		if (need(c, item, &kv[1], "keys", "algorithm") &&
		    (a = get_enum(c, &kv[1], kv[1].v, algs)) >= 0)
			k->algorithm = (conf_hmac_t)a;
		if (!need(c, item, &kv[2], "keys", "secret") ||
		    !(s = get_scalar(c, &kv[2], "a base64 string")))
			continue;
		if ((ret = b64_decode(s, &k->secret, &k->secret_len)) == US_ENOMEM)
			c->oom = true;
		else if (ret)
			cerr(c, line_of(kv[2].k), "secret: not valid, non-empty base64");
	}
}

/* A list (or one) of base64 SHA-256 digests, 32 bytes each, as knot.conf's cert-key. */
static void get_pins(ctx_t *c, const kv_t *kv, conf_remote_tls_t *t)
{
	size_t n;
	if (!list_check(c, kv, &n))
		return;
	if (n == 0)
		cerr(c, line_of(kv->k), "pin: empty list");
	if (n == 0 || !(t->pins = xcalloc(c, n, sizeof(*t->pins))))
		return;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = list_at(c, kv, i);
		uint8_t *raw = NULL;
		size_t len = 0;
		int ret = b64_decode(sval(it), &raw, &len);
		if (ret == US_ENOMEM)
			c->oom = true;
		else if (ret || len != 32)
			cerr(c, line_of(it),
			     "pin: expected the base64 SHA-256 of a SubjectPublicKeyInfo (44 "
			     "characters)");
		else
			memcpy(t->pins[t->npins++], raw, 32);
		free(raw);
	}
}

static void parse_remote_tls(ctx_t *c, const kv_t *sec, conf_remote_t *r)
{
	static const char *const names[] = {"ca", "hostname", "pin", "certificate", "key", NULL};
	kv_t kv[5];
	conf_remote_tls_t *t = r->tls = xcalloc(c, 1, sizeof(*t));
	if (!t)
		return;
	t->line = line_of(sec->k);
	if (!map_get(c, sec->v, "tls", names, kv))
		return;
	get_path(c, &kv[0], &t->ca);
	const char *s, *why;
	uint8_t wire[CONF_DNAME_MAX];
	size_t wlen;
	if (kv[1].k && (s = get_scalar(c, &kv[1], "a host name"))) {
		if (!dname_parse(s, wire, &wlen, &why) || !strcmp(s, "."))
			cerr(c, line_of(kv[1].k), "hostname: bad name \"%s\": %s", s,
			     why ? why : "the root");
		else
			t->hostname = xstrdup(c, s);
	}
	if (kv[2].k)
		get_pins(c, &kv[2], t);
	get_path(c, &kv[3], &t->certificate);
	get_path(c, &kv[4], &t->key);
	/* Strict TLS only (RFC 9103 9.3): a server nothing vouches for could be anyone. */
	if (!kv[0].k && !kv[2].k)
		cerr(c, t->line, "tls: needs \"ca\" or \"pin\" to authenticate the server");
	if (kv[1].k && !kv[0].k)
		cerr(c, line_of(kv[1].k), "hostname: is checked against \"ca\", which is missing");
	if (!kv[3].k != !kv[4].k)
		cerr(c, t->line, "tls: \"certificate\" and \"key\" go together");
}

static void parse_remotes(ctx_t *c, const kv_t *sec)
{
	static const char *const names[] = {"id", "address", "key", "via", "tls", NULL};
	conf_t *conf = c->conf;
	if (!(conf->remotes = section_new(c, sec, sizeof(conf_remote_t), &conf->nremotes)))
		return;
	for (size_t i = 0; i < conf->nremotes && !c->oom; i++) {
		conf_remote_t *r = &conf->remotes[i];
		yaml_node_t *item = seq_at(c, sec->v, i);
		kv_t kv[5];
		const char *s, *rest;
		r->line = line_of(item);
		r->key = -1;
		if (!map_get(c, item, "remotes", names, kv))
			continue;
		r->id = get_id(c, item, &kv[0], "remotes", i);
		r->key = get_key_ref(c, &kv[2]);
		if (kv[3].k && (s = get_scalar(c, &kv[3], "a source address"))) {
			r->has_via = parse_ip(s, NULL, &r->via, &rest);
			if (!r->has_via)
				cerr(c, line_of(kv[3].k),
				     "via: bad address \"%s\" (no port allowed)", s);
		}
		if (kv[4].k)
			parse_remote_tls(c, &kv[4], r);
		/* XFR over TLS has its own port (RFC 9103 7.1, RFC 7858 3.1). */
		if (need(c, item, &kv[1], "remotes", "address"))
			get_addrs_port(c, &kv[1], r->tls ? 853 : 53, &r->addr, &r->naddr);
		/* Connecting from an address of the other family would fail at every attempt. */
		for (size_t j = 0; j < r->naddr && r->has_via; j++) {
			char text[64];
			if (r->addr[j].ss.ss_family == r->via.ss.ss_family)
				continue;
			conf_addr_str(&r->addr[j], text, sizeof(text));
			cerr(c, line_of(kv[1].k), "address: %s is not in the address family of via",
			     text);
			break;
		}
	}
}

static void parse_acls(ctx_t *c, const kv_t *sec)
{
	static const char *const names[] = {"id",   "address",  "key", "action",
	                                    "deny", "protocol", NULL};
	static const char *const actions[] = {"transfer", "notify", "update", NULL};
	static const char *const protocols[] = {"udp", "tcp", "tls", NULL};
	conf_t *conf = c->conf;
	if (!(conf->acls = section_new(c, sec, sizeof(conf_acl_t), &conf->nacls)))
		return;
	for (size_t i = 0; i < conf->nacls && !c->oom; i++) {
		conf_acl_t *a = &conf->acls[i];
		yaml_node_t *item = seq_at(c, sec->v, i);
		kv_t kv[6];
		size_t n;
		int x;
		a->line = line_of(item);
		a->key = -1;
		if (!map_get(c, item, "acls", names, kv))
			continue;
		a->id = get_id(c, item, &kv[0], "acls", i);
		a->key = get_key_ref(c, &kv[2]);
		if (kv[4].k)
			get_bool(c, &kv[4], &a->deny);
		if (need(c, item, &kv[3], "acls", "action") && list_check(c, &kv[3], &n)) {
			if (n == 0)
				cerr(c, line_of(kv[3].k), "action: empty list");
			for (size_t j = 0; j < n; j++)
				if ((x = get_enum(c, &kv[3], list_at(c, &kv[3], j), actions)) >= 0)
					a->actions |= 1 << x;
		}
		if (kv[5].k && list_check(c, &kv[5], &n)) {
			if (n == 0)
				cerr(c, line_of(kv[5].k), "protocol: empty list");
			for (size_t j = 0; j < n; j++)
				if ((x = get_enum(c, &kv[5], list_at(c, &kv[5], j), protocols)) >=
				    0)
					a->protocols |= 1 << x;
		}
		/* Absent means any address; an empty list is more likely a mistake than "any". */
		if (!kv[1].k || !list_check(c, &kv[1], &n))
			continue;
		if (n == 0)
			cerr(c, line_of(kv[1].k), "address: empty list (leave it out for any)");
		if (n == 0 || !(a->prefix = xcalloc(c, n, sizeof(*a->prefix))))
			continue;
		for (size_t j = 0; j < n; j++) {
			yaml_node_t *it = list_at(c, &kv[1], j);
			const char *why;
			if (parse_prefix(sval(it), &a->prefix[a->nprefix], &why))
				a->nprefix++;
			else
				cerr(c, line_of(it), "address: bad prefix \"%s\": %s", sval(it),
				     why);
		}
	}
}

static void get_domain(ctx_t *c, const kv_t *kv, conf_zone_t *z, size_t i)
{
	const char *s = get_scalar(c, kv, "a domain name"), *why;
	if (s && !dname_parse(s, z->name, &z->name_len, &why)) {
		z->name_len = 0;
		cerr(c, line_of(kv->k), "domain: bad name \"%s\": %s", s, why);
	}
	if (!s || !z->name_len || !(z->domain = xstrdup(c, s)))
		return;
	size_t len = strlen(s);
	if (len > 1 && s[len - 1] == '.')
		z->domain[len - 1] = '\0';
	if (!c->zone_names)
		return;
	/* FNV-1a over the name, which dname_parse lower-cased. */
	uint32_t h = 2166136261u;
	for (size_t j = 0; j < z->name_len; j++)
		h = (h ^ z->name[j]) * 16777619u;
	for (size_t j = h & c->zone_mask;; j = (j + 1) & c->zone_mask) {
		if (!c->zone_names[j]) {
			c->zone_names[j] = (uint32_t)i + 1;
			return;
		}
		const conf_zone_t *o = &c->conf->zones[c->zone_names[j] - 1];
		if (o->name_len == z->name_len && !memcmp(o->name, z->name, z->name_len)) {
			cerr(c, line_of(kv->k), "domain: zone \"%s\" already defined at line %d",
			     z->domain, o->line);
			return;
		}
	}
}

/* The policies of a zone, in the order of policy_names; they matter for secondaries only, and
 * are taken on a primary too, so one template can serve both. */
enum { EXPIRE_POLICY, SERIAL_REGRESSION, GUARD_MAX_REMOVED, GUARD_APEX, ZONEMD_VERIFY, NPOLICY };
static const char *const policy_names[NPOLICY] = {
    "expire-policy", "serial-regression", "guard-max-removed", "guard-apex", "zonemd-verify"};

static void parse_policies(ctx_t *c, conf_zone_t *z, const kv_t *kv)
{
	static const char *const expire[] = {"servfail", "keep-serving", NULL};
	static const char *const regression[] = {"alarm", "follow", NULL};
	int i;
	if (kv[EXPIRE_POLICY].k &&
	    (i = get_enum(c, &kv[EXPIRE_POLICY], kv[EXPIRE_POLICY].v, expire)) >= 0)
		z->expire_policy = i ? CONF_EXPIRE_KEEP_SERVING : CONF_EXPIRE_SERVFAIL;
	if (kv[SERIAL_REGRESSION].k &&
	    (i = get_enum(c, &kv[SERIAL_REGRESSION], kv[SERIAL_REGRESSION].v, regression)) >= 0)
		z->serial_regression = i ? CONF_REGRESSION_FOLLOW : CONF_REGRESSION_ALARM;
	if (kv[GUARD_APEX].k)
		get_bool(c, &kv[GUARD_APEX], &z->guard_apex);
	if (kv[ZONEMD_VERIFY].k)
		get_bool(c, &kv[ZONEMD_VERIFY], &z->zonemd_verify);
	const kv_t *g = &kv[GUARD_MAX_REMOVED];
	if (!g->k)
		return;
	/* A share of the zone: "50%" or 50. */
	const char *s = g->v->type == YAML_SCALAR_NODE ? sval(g->v) : "";
	size_t len = strlen(s);
	char num[8];
	unsigned pct;
	if (len && s[len - 1] == '%')
		len--;
	if (len && len < sizeof(num)) {
		memcpy(num, s, len);
		num[len] = 0;
	}
	if (!len || len >= sizeof(num) || !parse_uint(num, 100, &pct) || pct == 0)
		cerr(c, line_of(g->k), "%s: expected a share from 1%% to 100%%", sval(g->k));
	else
		z->guard_max_removed = (int)pct;
}

/* A zone's catalog keys (docs/catalog-zones.md), after "template": a zone's own, not a template's.
 */
enum { CATALOG_ROLE, CATALOG_ZONE, CATALOG_GROUP, CATALOG_TEMPLATE, NCATALOG };
static const char *const catalog_names[NCATALOG] = {"catalog-role", "catalog-zone", "catalog-group",
                                                    "catalog-template"};

/* The integer options of a zone (and of a template), at their offsets in conf_zone_t. */
static const struct {
	const char *name;
	long min, max;
	size_t off;
} zone_ints[] = {
    {"refresh-min-interval", 1, INT32_MAX, offsetof(conf_zone_t, refresh_min)},
    {"refresh-max-interval", 1, INT32_MAX, offsetof(conf_zone_t, refresh_max)},
    {"retry-min-interval", 1, INT32_MAX, offsetof(conf_zone_t, retry_min)},
    {"retry-max-interval", 1, INT32_MAX, offsetof(conf_zone_t, retry_max)},
    {"expire-min-interval", 1, INT32_MAX, offsetof(conf_zone_t, expire_min)},
    {"expire-max-interval", 1, INT32_MAX, offsetof(conf_zone_t, expire_max)},
    {"max-zone-size", 1024, INT32_MAX, offsetof(conf_zone_t, max_zone_size)},
    {"max-zone-records", 2, INT32_MAX, offsetof(conf_zone_t, max_zone_records)},
    {"transfer-timeout", 1, 86400, offsetof(conf_zone_t, transfer_timeout)},
    {"transfer-idle-timeout", 1, 3600, offsetof(conf_zone_t, transfer_idle)},
    {"primary-timeout", 1, 60, offsetof(conf_zone_t, primary_timeout)},
    {"journal-max-depth", 1, 1000000, offsetof(conf_zone_t, journal_max_depth)},
    {"journal-max-size", 4096, INT32_MAX, offsetof(conf_zone_t, journal_max_size)},
    {"fleet-interval", 0, 86400, offsetof(conf_zone_t, fleet_interval)},
    {"serial-regression-hold", 1, INT32_MAX, offsetof(conf_zone_t, serial_regression_hold)},
    {"catalog-max-members", 1, 10000000, offsetof(conf_zone_t, catalog_max_members)},
};

/*
 * The options of a zone, in this order in zone_names. A template takes the same ones, with
 * "id" in place of "domain" and without "template" and the catalog keys (the last, so that a
 * template's list simply ends before them): templates do not nest, and a catalog's members are
 * named one by one.
 */
enum {
	Z_DOMAIN,
	Z_ROLE,
	Z_FILE,
	Z_NOTIFY,
	Z_ACL,
	Z_PRIMARIES,
	Z_WATCH,
	Z_WATCH_NS,
	Z_INTS,
	Z_NINTS = sizeof(zone_ints) / sizeof(zone_ints[0]),
	Z_POLICIES = Z_INTS + Z_NINTS,
	Z_TEMPLATE = Z_POLICIES + NPOLICY,
	Z_CATALOG,
	Z_NKEYS = Z_CATALOG + NCATALOG
};

static void zone_names(const char *names[Z_NKEYS + 1], bool tmpl)
{
	static const char *const first[] = {"domain", "role",      "file",  "notify",
	                                    "acl",    "primaries", "watch", "watch-ns"};
	for (size_t j = 0; j < Z_INTS; j++)
		names[j] = first[j];
	for (size_t j = 0; j < Z_NINTS; j++)
		names[Z_INTS + j] = zone_ints[j].name;
	for (size_t j = 0; j < NPOLICY; j++)
		names[Z_POLICIES + j] = policy_names[j];
	names[Z_TEMPLATE] = "template";
	for (size_t j = 0; j < NCATALOG; j++)
		names[Z_CATALOG + j] = catalog_names[j];
	names[Z_NKEYS] = NULL;
	if (tmpl) {
		names[Z_DOMAIN] = "id";
		names[Z_TEMPLATE] = NULL;
	}
}

/* What a zone or template sets before its own keys are read: "not given" for all. */
static void zone_unset(const conf_t *conf, conf_zone_t *z)
{
	z->fleet_interval = -1; /* the server's, unless given */
	z->watch_ns = conf->watch_ns;
	z->zonemd_verify = true;
	z->template_ = -1;
	z->catalog_zone = -1;
	z->catalog_from = -1;
}

/*
 * Reads the settings a zone and a template share from kv (laid out as zone_names), over what z
 * holds already: a zone's own keys replace what its template gave. Not the domain, nor the
 * role-specific checks, which only a whole zone can make.
 */
static bool parse_zone_settings(ctx_t *c, conf_zone_t *z, const kv_t *kv)
{
	static const char *const roles[] = {"primary", "secondary", NULL};
	conf_t *conf = c->conf;
	int role = 0;
	if (kv[Z_ROLE].k && (role = get_enum(c, &kv[Z_ROLE], kv[Z_ROLE].v, roles)) >= 0)
		z->role = role ? CONF_ROLE_SECONDARY : CONF_ROLE_PRIMARY;
	if (kv[Z_FILE].k) {
		free(z->file);
		z->file = NULL;
		get_str(c, &kv[Z_FILE], 1, PATH_MAX, &z->file);
	}
	if (kv[Z_NOTIFY].k) {
		free(z->notify);
		z->notify = get_refs(c, &kv[Z_NOTIFY], 'r', &z->nnotify);
		/* NOTIFY goes over UDP (RFC 9103 leaves it in clear text), never to a TLS port. */
		for (size_t j = 0; j < z->nnotify; j++)
			if (conf->remotes[z->notify[j]].tls)
				cerr(c, line_of(kv[Z_NOTIFY].k),
				     "notify: remote \"%s\" has tls; NOTIFY goes over UDP, so name "
				     "a remote without tls for it",
				     conf->remotes[z->notify[j]].id);
	}
	if (kv[Z_ACL].k) {
		free(z->acl);
		z->acl = get_refs(c, &kv[Z_ACL], 'a', &z->nacl);
	}
	if (kv[Z_PRIMARIES].k) {
		free(z->primaries);
		z->primaries = get_refs(c, &kv[Z_PRIMARIES], 'r', &z->nprimaries);
	}
	if (kv[Z_WATCH].k) {
		free(z->watch);
		z->watch = get_refs(c, &kv[Z_WATCH], 'r', &z->nwatch);
	}
	if (kv[Z_WATCH_NS].k)
		get_bool(c, &kv[Z_WATCH_NS], &z->watch_ns);
	for (size_t j = 0; j < Z_NINTS; j++)
		if (kv[Z_INTS + j].k)
			get_int(c, &kv[Z_INTS + j], zone_ints[j].min, zone_ints[j].max,
			        (int *)((char *)z + zone_ints[j].off));
	parse_policies(c, z, &kv[Z_POLICIES]);
	return role >= 0;
}

static int *dup_refs(const int *a, size_t n, bool *oom)
{
	if (!n)
		return NULL;
	int *out = malloc(n * sizeof(int));
	if (!out)
		*oom = true;
	else
		memcpy(out, a, n * sizeof(int));
	return out;
}

/* The template's file with every "%s" replaced by the zone's name (knot.conf does the same). */
static char *template_file(const char *file, const char *domain, bool *oom)
{
	if (!file)
		return NULL;
	size_t n = 0, dl = strlen(domain);
	for (const char *p = file; (p = strstr(p, "%s")); p += 2)
		n++;
	char *out = malloc(strlen(file) + n * dl + 1), *o = out;
	if (!out) {
		*oom = true;
		return NULL;
	}
	for (const char *p = file; *p;) {
		if (p[0] == '%' && p[1] == 's') {
			memcpy(o, domain, dl);
			o += dl;
			p += 2;
		} else {
			*o++ = *p++;
		}
	}
	*o = 0;
	return out;
}

/* z (zeroed) gets the template's settings, copied, for a zone named domain. */
static void zone_from_template(conf_zone_t *z, const conf_template_t *t, const char *domain,
                               bool *oom)
{
	*z = t->zone;
	z->domain = NULL;
	z->file = template_file(t->zone.file, domain, oom);
	z->notify = dup_refs(t->zone.notify, t->zone.nnotify, oom);
	z->acl = dup_refs(t->zone.acl, t->zone.nacl, oom);
	z->primaries = dup_refs(t->zone.primaries, t->zone.nprimaries, oom);
	z->watch = dup_refs(t->zone.watch, t->zone.nwatch, oom);
}

static void zone_deinit(conf_zone_t *z)
{
	free(z->domain);
	free(z->file);
	free(z->notify);
	free(z->acl);
	free(z->primaries);
	free(z->watch);
	free(z->catalog_group);
	free(z->catalog_templates);
	free(z->catalog_id);
}

static void parse_templates(ctx_t *c, const kv_t *sec)
{
	const char *names[Z_NKEYS + 1];
	zone_names(names, true);
	conf_t *conf = c->conf;
	if (!(conf->templates = section_new(c, sec, sizeof(conf_template_t), &conf->ntemplates)))
		return;
	for (size_t i = 0; i < conf->ntemplates && !c->oom; i++) {
		conf_template_t *t = &conf->templates[i];
		yaml_node_t *item = seq_at(c, sec->v, i);
		kv_t kv[Z_NKEYS];
		t->line = line_of(item);
		zone_unset(conf, &t->zone);
		if (!map_get(c, item, "templates", names, kv))
			continue;
		t->id = get_id(c, item, &kv[Z_DOMAIN], "templates", i);
		parse_zone_settings(c, &t->zone, kv);
		t->zone.line = t->line;
	}
}

/* The index of the zone named by wire name, from the table get_domain fills; -1 if none. */
static int zone_index(const ctx_t *c, const uint8_t *name, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t j = 0; j < len; j++)
		h = (h ^ name[j]) * 16777619u;
	for (size_t j = h & c->zone_mask; c->zone_names[j]; j = (j + 1) & c->zone_mask) {
		const conf_zone_t *o = &c->conf->zones[c->zone_names[j] - 1];
		if (o->name_len == len && !memcmp(o->name, name, len))
			return (int)c->zone_names[j] - 1;
	}
	return -1;
}

/*
 * Reads a zone's catalog keys; catalog-zone names another zone, so it is resolved in
 * check_catalogs once every zone is read. Returns true when the zone is a producer, which
 * needs no file.
 */
static bool parse_catalog(ctx_t *c, conf_zone_t *z, const kv_t *kv, uint8_t *catz, size_t *catz_len)
{
	static const char *const roles[] = {"none", "producer", "consumer", NULL};
	int role = 0, line;
	if (kv[CATALOG_ROLE].k)
		role = get_enum(c, &kv[CATALOG_ROLE], kv[CATALOG_ROLE].v, roles);
	if (role == 1 && z->role != CONF_ROLE_PRIMARY) {
		cerr(c, line_of(kv[CATALOG_ROLE].k),
		     "catalog-role: producer needs role primary (the catalog is generated here)");
		role = -1;
	}
	if (role == 2 && z->role != CONF_ROLE_SECONDARY) {
		cerr(c, line_of(kv[CATALOG_ROLE].k),
		     "catalog-role: consumer needs role secondary (the catalog is transferred)");
		role = -1;
	}
	if (kv[CATALOG_TEMPLATE].k && role != 2) {
		cerr(c, line_of(kv[CATALOG_TEMPLATE].k),
		     "catalog-template: only a consumer catalog has templates for its members");
	} else if (role == 2) {
		/* Members are secondaries of the template's primaries; without a template the
		 * default one serves, as for a zone that names none. */
		int deflt = find_id(c->conf, 't', "default", SIZE_MAX, &line);
		if (kv[CATALOG_TEMPLATE].k)
			z->catalog_templates =
			    get_refs(c, &kv[CATALOG_TEMPLATE], 't', &z->ncatalog_templates);
		else if (deflt >= 0 && (z->catalog_templates = xcalloc(c, 1, sizeof(int))))
			z->catalog_templates[z->ncatalog_templates++] = deflt;
		else
			cerr(c, line_of(kv[CATALOG_ROLE].k),
			     "catalog-role: consumer needs catalog-template (or a template "
			     "\"default\") for its members");
		for (size_t j = 0; j < z->ncatalog_templates; j++) {
			const conf_template_t *t = &c->conf->templates[z->catalog_templates[j]];
			if (!t->zone.nprimaries)
				cerr(c,
				     line_of(kv[CATALOG_TEMPLATE].k ? kv[CATALOG_TEMPLATE].k
				                                    : kv[CATALOG_ROLE].k),
				     "catalog-template: template \"%s\" (line %d) has no primaries "
				     "for the members to transfer from",
				     t->id, t->line);
		}
		z->catalog_role = CONF_CATALOG_CONSUMER;
	}
	if (role == 1)
		z->catalog_role = CONF_CATALOG_PRODUCER;
	const char *s, *why;
	if (kv[CATALOG_ZONE].k && (s = get_scalar(c, &kv[CATALOG_ZONE], "a zone name")) &&
	    !dname_parse(s, catz, catz_len, &why)) {
		*catz_len = 0;
		cerr(c, line_of(kv[CATALOG_ZONE].k), "catalog-zone: bad name \"%s\": %s", s, why);
	}
	if (kv[CATALOG_GROUP].k) {
		if (!kv[CATALOG_ZONE].k)
			cerr(c, line_of(kv[CATALOG_GROUP].k),
			     "catalog-group: only a member (with catalog-zone) has a group");
		else
			get_str(c, &kv[CATALOG_GROUP], 1, 255, &z->catalog_group);
	}
	return role == 1;
}

/* Resolves catalog-zone: it must name a producer catalog of this configuration. */
static void check_catalog_zone(ctx_t *c, conf_zone_t *z, const kv_t *kv, const uint8_t *catz,
                               size_t catz_len)
{
	int i = zone_index(c, catz, catz_len);
	const conf_zone_t *cat = i >= 0 ? &c->conf->zones[i] : NULL;
	if (!cat)
		cerr(c, line_of(kv->k), "catalog-zone: no zone \"%s\" in this configuration",
		     sval(kv->v));
	else if (cat == z)
		cerr(c, line_of(kv->k), "catalog-zone: a catalog cannot list itself");
	else if (cat->catalog_role != CONF_CATALOG_PRODUCER)
		cerr(c, line_of(kv->k),
		     "catalog-zone: zone \"%s\" (line %d) has no catalog-role: producer",
		     cat->domain, cat->line);
	else if (z->catalog_role == CONF_CATALOG_PRODUCER)
		cerr(c, line_of(kv->k), "catalog-zone: a catalog is not a member of another");
	else
		z->catalog_zone = i;
}

static void parse_zones(ctx_t *c, const kv_t *sec)
{
	const char *names[Z_NKEYS + 1];
	zone_names(names, false);
	conf_t *conf = c->conf;
	if (!(conf->zones = section_new(c, sec, sizeof(conf_zone_t), &conf->nzones)))
		return;
	size_t size = 16;
	while (size < 2 * conf->nzones)
		size *= 2;
	if (!(c->zone_names = xcalloc(c, size, sizeof(*c->zone_names))))
		return;
	c->zone_mask = size - 1;
	int line, deflt = find_id(conf, 't', "default", SIZE_MAX, &line);
	/* The catalog-zone names, resolved once every zone's name is known. */
	uint8_t(*catz)[CONF_DNAME_MAX] = xcalloc(c, conf->nzones, sizeof(*catz));
	size_t *catz_len = xcalloc(c, conf->nzones, sizeof(*catz_len));
	kv_t *catz_kv = xcalloc(c, conf->nzones, sizeof(*catz_kv));
	for (size_t i = 0; i < conf->nzones && !c->oom; i++) {
		conf_zone_t *z = &conf->zones[i];
		yaml_node_t *item = seq_at(c, sec->v, i);
		kv_t kv[Z_NKEYS];
		const char *tid;
		int tpl = deflt;
		bool producer;
		z->line = line_of(item);
		zone_unset(conf, z);
		if (!map_get(c, item, "zones", names, kv))
			continue;
		if (need(c, item, &kv[Z_DOMAIN], "zones", "domain"))
			get_domain(c, &kv[Z_DOMAIN], z, i);
		if (kv[Z_TEMPLATE].k && (tid = get_scalar(c, &kv[Z_TEMPLATE], "a template id")) &&
		    (tpl = find_id(conf, 't', tid, SIZE_MAX, &line)) < 0)
			cerr(c, line_of(kv[Z_TEMPLATE].k), "template: unknown template \"%s\"",
			     tid);
		if (tpl >= 0 && z->domain) {
			/* The template first, then the zone's own keys over it. */
			char *domain = z->domain;
			int zline = z->line;
			uint8_t name[CONF_DNAME_MAX];
			size_t name_len = z->name_len;
			memcpy(name, z->name, name_len);
			zone_from_template(z, &conf->templates[tpl], domain, &c->oom);
			z->domain = domain;
			z->line = zline;
			z->name_len = name_len;
			memcpy(z->name, name, name_len);
			z->template_ = tpl;
		}
		/* After a bad role, the role-specific checks would only add noise. */
		if (!parse_zone_settings(c, z, kv))
			continue;
		const kv_t *ckv = &kv[Z_CATALOG];
		producer = c->oom ? false : parse_catalog(c, z, ckv, catz[i], &catz_len[i]);
		if (!c->oom)
			catz_kv[i] = ckv[CATALOG_ZONE];
		const char *from = z->template_ >= 0 ? " (nor its template)" : "";
		if (z->role == CONF_ROLE_PRIMARY && kv[Z_PRIMARIES].k) {
			cerr(c, line_of(kv[Z_PRIMARIES].k),
			     "primaries: only a secondary zone has primaries");
		} else if (z->role == CONF_ROLE_PRIMARY && z->nprimaries) {
			/* A template shared by primaries and secondaries: its primaries are for
			 * the secondaries (knotd's `master` in a default template likewise). */
			free(z->primaries);
			z->primaries = NULL;
			z->nprimaries = 0;
		}
		if (producer) {
			if (kv[Z_FILE].k)
				cerr(c, line_of(kv[Z_FILE].k),
				     "file: a producer catalog is generated from its members; it "
				     "has "
				     "no file");
			/* A template's file is for its zone-file zones, not for a catalog. */
			free(z->file);
			z->file = NULL;
		} else if (z->role == CONF_ROLE_PRIMARY && !z->file) {
			cerr(c, z->line, "zones: a primary zone needs \"file\"%s", from);
		} else if (z->role == CONF_ROLE_SECONDARY && kv[Z_PRIMARIES].k &&
		           kv[Z_PRIMARIES].v->type == YAML_SEQUENCE_NODE &&
		           !seq_len(kv[Z_PRIMARIES].v)) {
			cerr(c, line_of(kv[Z_PRIMARIES].k), "primaries: empty list");
		} else if (z->role == CONF_ROLE_SECONDARY && !z->nprimaries && !kv[Z_PRIMARIES].k) {
			cerr(c, z->line, "zones: a secondary zone needs \"primaries\"%s", from);
		}
	}
	for (size_t i = 0; !c->oom && i < conf->nzones; i++)
		if (catz_kv[i].k && catz_len[i])
			check_catalog_zone(c, &conf->zones[i], &catz_kv[i], catz[i], catz_len[i]);
	free(catz);
	free(catz_len);
	free(catz_kv);
}

/* Fills what a zone left out, after the server's own defaults are in. */
static void zone_defaults(const conf_t *conf, conf_zone_t *z)
{
	z->fleet_interval = z->fleet_interval >= 0 ? z->fleet_interval : conf->fleet_interval;
	/* Knot DNS's defaults for the timer bounds: short enough for fast tests and quick
	 * recovery, long enough not to hammer a primary. */
	z->refresh_min = z->refresh_min ? z->refresh_min : 2;
	z->refresh_max = z->refresh_max ? z->refresh_max : 86400;
	z->retry_min = z->retry_min ? z->retry_min : 1;
	z->retry_max = z->retry_max ? z->retry_max : 86400;
	z->expire_min = z->expire_min ? z->expire_min : 3 * z->refresh_min;
	z->expire_max = z->expire_max ? z->expire_max : 28 * 86400;
	z->max_zone_size = z->max_zone_size ? z->max_zone_size : 1 << 30;
	z->max_zone_records = z->max_zone_records ? z->max_zone_records : 20000000;
	z->transfer_timeout = z->transfer_timeout ? z->transfer_timeout : 900;
	z->transfer_idle = z->transfer_idle ? z->transfer_idle : 15;
	z->primary_timeout = z->primary_timeout ? z->primary_timeout : 2;
	/* Knot DNS keeps 20 changes too; the byte bound keeps one busy zone from filling
	 * the storage every other zone shares. */
	z->journal_max_depth = z->journal_max_depth ? z->journal_max_depth : 20;
	z->journal_max_size = z->journal_max_size ? z->journal_max_size : 64 << 20;
	/* A consumer catalog may bring this many zones: a bound on what one transfer can make
	 * us allocate, raised by whoever runs more. */
	z->catalog_max_members = z->catalog_max_members ? z->catalog_max_members : 100000;
}

/* Fills whatever the file left out. Runs only on a configuration that parsed without errors. */
static void set_defaults(ctx_t *c)
{
	conf_t *conf = c->conf;
	/* Loopback only: a fresh install must not answer the internet by surprise. */
	if (!conf->listen && (conf->listen = xcalloc(c, 2, sizeof(*conf->listen)))) {
		conf_parse_addr("127.0.0.1", 53, &conf->listen[0]);
		conf_parse_addr("::1", 53, &conf->listen[1]);
		conf->nlisten = 2;
	}
	if (!conf->storage)
		conf->storage = xstrdup(c, "/var/lib/understudy");
	if (!conf->control)
		conf->control = xstrdup(c, "/run/understudy/ctl.sock");
	if (!conf->version)
		conf->version = xstrdup(c, "understudy " UNDERSTUDY_VERSION);
	if (!conf->identity) {
		char host[CONF_TEXT_MAX + 1] = "";
		/* gethostname need not terminate a truncated name. */
		if (gethostname(host, sizeof(host) - 1) != 0)
			strcpy(host, "understudy");
		host[sizeof(host) - 1] = '\0';
		conf->identity = xstrdup(c, host);
	}
	if (!conf->udp_workers) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		conf->udp_workers = cpus < 1 ? 1 : cpus > 256 ? 256 : (int)cpus;
	}
	conf->tcp_workers = conf->tcp_workers ? conf->tcp_workers : 1;
	conf->tcp_max_clients = conf->tcp_max_clients ? conf->tcp_max_clients : 1000;
	conf->tcp_idle_timeout = conf->tcp_idle_timeout ? conf->tcp_idle_timeout : 10;
	conf->udp_max_payload = conf->udp_max_payload ? conf->udp_max_payload : 1232;
	/* The defences: RRL off as in the peers; the change path bounded whatever the setup. */
	conf_rrl_t *rrl = &conf->rrl;
	rrl->rate_limit = rrl->rate_limit > 0 ? rrl->rate_limit : 0;
	rrl->slip = rrl->slip >= 0 ? rrl->slip : 2;
	rrl->ipv4_prefix_length = rrl->ipv4_prefix_length > 0 ? rrl->ipv4_prefix_length : 24;
	rrl->ipv6_prefix_length = rrl->ipv6_prefix_length > 0 ? rrl->ipv6_prefix_length : 56;
	rrl->table_size = rrl->table_size > 0 ? rrl->table_size : 1 << 14;
	conf->tcp_nice = conf->tcp_nice >= 0 ? conf->tcp_nice : 10;
	conf->notify_rate_limit = conf->notify_rate_limit >= 0 ? conf->notify_rate_limit : 200;
	/* No transfer request rate by default, as in knotd, nsd and BIND: the caps on transfers at
	 * once guard the resources, and an understudy backup of a catalog asks up to
	 * transfers-in-per-primary (16) at once, thousands a second on a LAN; at 50 a second and
	 * 8 per address, 2,000 new members took 508 s to reach it (knotd to knotd 3.5 s). */
	conf->transfer_rate_limit = conf->transfer_rate_limit >= 0 ? conf->transfer_rate_limit : 0;
	conf->transfers_out = conf->transfers_out ? conf->transfers_out : 128;
	conf->transfers_out_per_address =
	    conf->transfers_out_per_address ? conf->transfers_out_per_address : 16;
	conf->transfers_in = conf->transfers_in ? conf->transfers_in : 64;
	conf->transfers_in_per_primary =
	    conf->transfers_in_per_primary ? conf->transfers_in_per_primary : 16;
	conf->tcp_io_timeout = conf->tcp_io_timeout ? conf->tcp_io_timeout : 1000;
	conf->tcp_max_clients_per_address =
	    conf->tcp_max_clients_per_address ? conf->tcp_max_clients_per_address : 100;
	conf->fleet_interval = conf->fleet_interval >= 0 ? conf->fleet_interval : 60;
	conf->http_max_clients = conf->http_max_clients ? conf->http_max_clients : 32;
	conf->http_timeout = conf->http_timeout ? conf->http_timeout : 10;
	if (conf->tls) {
		conf_tls_t *t = conf->tls;
		t->workers = t->workers ? t->workers : 1;
		t->max_clients = t->max_clients ? t->max_clients : 100;
		t->handshake_timeout = t->handshake_timeout ? t->handshake_timeout : 5;
		t->idle_timeout = t->idle_timeout ? t->idle_timeout : 10;
	}
	for (size_t i = 0; i < conf->nzones; i++)
		zone_defaults(conf, &conf->zones[i]);
}

static void parse_root(ctx_t *c)
{
	static const char *const names[] = {"server", "log",   "keys",      "remotes",
	                                    "acls",   "zones", "templates", NULL};
	yaml_node_t *root = yaml_document_get_root_node(c->doc);
	kv_t kv[7];
	/* An empty file (or one holding only comments) is a valid, all-default configuration. */
	if (root == NULL || is_null(root))
		return;
	if (root->type != YAML_MAPPING_NODE) {
		cerr(c, line_of(root), "the top level must be a mapping (server:, zones:, ...)");
		return;
	}
	map_get(c, root, "top level", names, kv);
	parse_server(c, &kv[0]);
	parse_log(c, &kv[1]);
	/* Fixed order, whatever the file's: later sections refer to ids of earlier ones. */
	parse_keys(c, &kv[2]);
	parse_remotes(c, &kv[3]);
	parse_acls(c, &kv[4]);
	parse_templates(c, &kv[6]);
	parse_zones(c, &kv[5]);
}

/* Reads the whole file, so a reader error's byte offset can be turned into a line. */
static int read_all(ctx_t *c, unsigned char **buf, size_t *len)
{
	FILE *f = fopen(c->path, "rb");
	size_t cap = 0, n = 0, got;
	unsigned char *b = NULL, *nb;
	int ret = 0;
	if (f == NULL) {
		/* errno is 0 only if something below broke its contract; still fail, never pass. */
		int e = errno ? errno : EIO;
		cerr(c, 0, "cannot open: %s", strerror(e));
		return -e;
	}
	do {
		if (n == cap && cap >= CONF_MAX_SIZE) {
			cerr(c, 0, "larger than %u bytes", CONF_MAX_SIZE);
			ret = US_EINVAL;
			goto cleanup;
		}
		if (n == cap) {
			if (!(nb = realloc(b, cap ? cap * 2 : 4096))) {
				ret = US_ENOMEM;
				goto cleanup;
			}
			b = nb;
			cap = cap ? cap * 2 : 4096;
		}
		got = fread(b + n, 1, cap - n, f);
		n += got;
	} while (got);
	if (ferror(f)) {
		int e = errno ? errno : EIO;
		cerr(c, 0, "cannot read: %s", strerror(e));
		ret = -e;
		goto cleanup;
	}
	*buf = b;
	*len = n;
	b = NULL;
cleanup:
	free(b);
	fclose(f);
	return ret;
}

static int yaml_failed(ctx_t *c, yaml_parser_t *p, const unsigned char *buf, size_t len)
{
	int line = (int)p->problem_mark.line + 1;
	/* Some of libyaml's allocation failures return without setting any error. */
	if (p->error == YAML_MEMORY_ERROR || p->error == YAML_NO_ERROR)
		return US_ENOMEM;
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset instead of a mark. */
		line = 1;
		for (size_t i = 0; i < p->problem_offset && i < len; i++)
			line += buf[i] == '\n';
	}
	if (p->context)
		cerr(c, line, "YAML: %s %s (line %d)", p->problem ? p->problem : "error",
		     p->context, (int)p->context_mark.line + 1);
	else
		cerr(c, line, "YAML: %s", p->problem ? p->problem : "error");
	return US_EINVAL;
}

/*
 * A first pass over the events, before libyaml's loader runs: the loader recurses once per
 * nesting level (so depth is bounded here first), and silently builds a graph from aliases (so
 * anchors, aliases and extra documents are refused here, where their line is known).
 */
static int prescan(ctx_t *c, const unsigned char *buf, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, docs = 0, ret = 0;
	if (!yaml_parser_initialize(&p))
		return US_ENOMEM;
	yaml_parser_set_input_string(&p, buf, len);
	for (yaml_event_type_t t = YAML_NO_EVENT; !ret && t != YAML_STREAM_END_EVENT;) {
		if (!yaml_parser_parse(&p, &ev)) {
			ret = yaml_failed(c, &p, buf, len);
			break;
		}
		int line = (int)ev.start_mark.line + 1;
		t = ev.type;
		if (t == YAML_ALIAS_EVENT || (t == YAML_SCALAR_EVENT && ev.data.scalar.anchor) ||
		    (t == YAML_SEQUENCE_START_EVENT && ev.data.sequence_start.anchor) ||
		    (t == YAML_MAPPING_START_EVENT && ev.data.mapping_start.anchor))
			cerr(c, line, "anchors and aliases are not supported");
		else if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1)
			cerr(c, line, "only one YAML document is allowed");
		else if ((t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) &&
		         ++depth > CONF_MAX_DEPTH)
			cerr(c, line, "nested deeper than %d levels", CONF_MAX_DEPTH);
		else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT)
			depth--;
		ret = c->nerr ? US_EINVAL : 0;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return ret;
}

int conf_load(const char *path, conf_t **out, char *err, size_t errlen)
{
	ctx_t c = {.path = path, .err = err, .errlen = errlen};
	yaml_parser_t parser;
	yaml_document_t doc;
	unsigned char *buf = NULL;
	size_t len = 0;
	bool have_doc = false, have_parser = false;
	int ret;
	if (err && errlen)
		err[0] = '\0';
	if ((ret = read_all(&c, &buf, &len)) || (ret = prescan(&c, buf, len)))
		goto cleanup;
	if ((c.conf = xcalloc(&c, 1, sizeof(conf_t)))) {
		/* Set or not, these are what zones inherit as they are read. */
		c.conf->fleet_interval = -1;
		c.conf->watch_ns = true;
	}
	if (!c.conf || !(c.conf->path = xstrdup(&c, path)))
		goto cleanup;
	c.conf->log_level = LOG_INFO;
	/* Options where 0 is a value of its own start as "not given". */
	c.conf->rrl.rate_limit = c.conf->rrl.slip = -1;
	c.conf->notify_rate_limit = c.conf->transfer_rate_limit = c.conf->tcp_nice = -1;
	if (!(have_parser = yaml_parser_initialize(&parser))) {
		c.oom = true;
		goto cleanup;
	}
	yaml_parser_set_input_string(&parser, buf, len);
	if (!(have_doc = yaml_parser_load(&parser, &doc))) {
		ret = yaml_failed(&c, &parser, buf, len);
		goto cleanup;
	}
	c.doc = &doc;
	parse_root(&c);
	if (!c.nerr && !c.oom)
		set_defaults(&c);
cleanup:
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	free(buf);
	free(c.zone_names);
	if (c.oom || ret == US_ENOMEM) {
		ret = US_ENOMEM;
		/* Drop other messages: after a failed allocation they may describe half-built
		 * state. */
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory\n", path);
	} else if (!ret && c.nerr) {
		ret = US_EINVAL;
	}
	if (ret) {
		conf_free(c.conf);
		return ret;
	}
	*out = c.conf;
	return 0;
}

void conf_free(conf_t *conf)
{
	if (conf == NULL)
		return;
	for (size_t i = 0; i < conf->nkeys; i++) {
		free(conf->keys[i].id);
		free(conf->keys[i].secret);
	}
	for (size_t i = 0; i < conf->nremotes; i++) {
		free(conf->remotes[i].id);
		free(conf->remotes[i].addr);
		conf_remote_tls_t *t = conf->remotes[i].tls;
		if (t) {
			free(t->ca);
			free(t->hostname);
			free(t->pins);
			free(t->certificate);
			free(t->key);
			free(t);
		}
	}
	if (conf->tls) {
		free(conf->tls->certificate);
		free(conf->tls->key);
		free(conf->tls->ca);
		free(conf->tls->listen);
		free(conf->tls);
	}
	for (size_t i = 0; i < conf->nacls; i++) {
		free(conf->acls[i].id);
		free(conf->acls[i].prefix);
	}
	for (size_t i = 0; i < conf->nzones; i++)
		zone_deinit(&conf->zones[i]);
	for (size_t i = 0; i < conf->ntemplates; i++) {
		free(conf->templates[i].id);
		zone_deinit(&conf->templates[i].zone);
	}
	free(conf->templates);
	free(conf->rrl.whitelist);
	free(conf->block);
	free(conf->keys);
	free(conf->remotes);
	free(conf->acls);
	free(conf->zones);
	free(conf->listen);
	free(conf->http);
	free(conf->storage);
	free(conf->control);
	free(conf->identity);
	free(conf->version);
	free(conf->nsid);
	free(conf->user);
	free(conf->log_file);
	free(conf->path);
	free(conf);
}

const conf_zone_t *conf_find_zone(const conf_t *conf, const uint8_t *name, size_t name_len)
{
	for (size_t i = 0; i < conf->nzones; i++) {
		const conf_zone_t *z = &conf->zones[i];
		if (z->name_len == name_len && !memcmp(z->name, name, name_len))
			return z;
	}
	return NULL;
}

void conf_zone_deinit(conf_zone_t *z)
{
	if (z)
		zone_deinit(z);
}

int conf_zone_from_template(const conf_t *conf, int tpl, const char *domain, conf_zone_t *out)
{
	const char *why;
	conf_zone_t z = {0};
	bool oom = false;
	if (tpl < 0 || (size_t)tpl >= conf->ntemplates)
		return US_EINVAL;
	zone_from_template(&z, &conf->templates[tpl], domain, &oom);
	z.template_ = tpl;
	if (!oom && !(z.domain = strdup(domain)))
		oom = true;
	if (oom) {
		zone_deinit(&z);
		return US_ENOMEM;
	}
	size_t len = strlen(z.domain);
	if (len > 1 && z.domain[len - 1] == '.')
		z.domain[len - 1] = '\0';
	if (!dname_parse(domain, z.name, &z.name_len, &why) ||
	    (z.role == CONF_ROLE_SECONDARY && !z.nprimaries) ||
	    (z.role == CONF_ROLE_PRIMARY && !z.file)) {
		zone_deinit(&z);
		return US_EINVAL;
	}
	zone_defaults(conf, &z);
	*out = z;
	return 0;
}

int conf_member_from_template(const conf_t *conf, int tpl, const uint8_t *name, size_t len,
                              conf_zone_t *out)
{
	char text[DNAME_TEXT_MAX];
	if (tpl < 0 || (size_t)tpl >= conf->ntemplates || !conf->templates[tpl].zone.nprimaries ||
	    len > CONF_DNAME_MAX || dname_to_text(name, text, sizeof(text)) <= 0)
		return US_EINVAL;
	conf_zone_t z = {0};
	bool oom = false;
	size_t tl = strlen(text);
	if (tl > 1)
		text[tl - 1] = 0; /* domain is kept without the trailing dot */
	zone_from_template(&z, &conf->templates[tpl], text, &oom);
	z.template_ = tpl;
	z.role = CONF_ROLE_SECONDARY;
	if (!oom && !(z.domain = strdup(text)))
		oom = true;
	if (oom) {
		zone_deinit(&z);
		return US_ENOMEM;
	}
	dname_lower(z.name, name, len);
	z.name_len = len;
	zone_defaults(conf, &z);
	*out = z;
	return 0;
}

int conf_add_zone(conf_t *conf, conf_zone_t *z)
{
	if (conf_find_zone(conf, z->name, z->name_len))
		return US_EEXIST;
	conf_zone_t *n = realloc(conf->zones, (conf->nzones + 1) * sizeof(*n));
	if (!n)
		return US_ENOMEM;
	conf->zones = n;
	n[conf->nzones++] = *z;
	memset(z, 0, sizeof(*z));
	return 0;
}

/* Copies n bytes of src into *dst (NULL stays NULL); false when out of memory. */
static bool copy_mem(void *dst, const void *src, size_t n)
{
	void **d = dst;
	*d = NULL;
	if (!src)
		return true;
	if (!(*d = malloc(n ? n : 1)))
		return false;
	memcpy(*d, src, n);
	return true;
}

static bool copy_str(char **dst, const char *src)
{
	return copy_mem(dst, src, src ? strlen(src) + 1 : 0);
}

/* Deep-copies z's owned parts into itself (after a struct copy). */
static bool copy_zone(conf_zone_t *z)
{
	bool ok = copy_str(&z->domain, z->domain);
	ok &= copy_str(&z->file, z->file);
	ok &= copy_mem(&z->notify, z->notify, z->nnotify * sizeof(int));
	ok &= copy_mem(&z->acl, z->acl, z->nacl * sizeof(int));
	ok &= copy_mem(&z->primaries, z->primaries, z->nprimaries * sizeof(int));
	ok &= copy_mem(&z->watch, z->watch, z->nwatch * sizeof(int));
	ok &= copy_str(&z->catalog_group, z->catalog_group);
	ok &= copy_mem(&z->catalog_templates, z->catalog_templates,
	               z->ncatalog_templates * sizeof(int));
	ok &= copy_mem(&z->catalog_id, z->catalog_id, z->catalog_id ? 1u + z->catalog_id[0] : 0);
	return ok;
}

/*
 * Every pointer conf_t owns is copied here: a field added to conf_t that owns memory must be
 * added too, or conf_free frees it twice (the unit test copies a configuration with every
 * section and frees both under ASan).
 */
int conf_copy(const conf_t *conf, bool without_members, conf_t **out)
{
	conf_t *c = malloc(sizeof(*c));
	if (!c)
		return US_ENOMEM;
	*c = *conf;
	/* Emptied first, so that conf_free of a half-made copy frees only what it holds. */
	c->path = c->storage = c->control = c->identity = c->version = c->nsid = c->user = NULL;
	c->log_file = NULL;
	c->listen = NULL;
	c->rrl.whitelist = NULL;
	c->block = NULL;
	c->tls = NULL;
	c->keys = NULL;
	c->remotes = NULL;
	c->acls = NULL;
	c->templates = NULL;
	c->zones = NULL;
	c->nkeys = c->nremotes = c->nacls = c->ntemplates = c->nzones = 0;
	bool ok = copy_str(&c->path, conf->path) && copy_str(&c->storage, conf->storage) &&
	          copy_str(&c->control, conf->control) && copy_str(&c->identity, conf->identity) &&
	          copy_str(&c->version, conf->version) && copy_str(&c->nsid, conf->nsid) &&
	          copy_str(&c->user, conf->user) && copy_str(&c->log_file, conf->log_file) &&
	          copy_mem(&c->listen, conf->listen, conf->nlisten * sizeof(*c->listen)) &&
	          copy_mem(&c->rrl.whitelist, conf->rrl.whitelist,
	                   conf->rrl.nwhitelist * sizeof(*c->rrl.whitelist)) &&
	          copy_mem(&c->block, conf->block, conf->nblock * sizeof(*c->block));
	if (ok && conf->tls) {
		ok = copy_mem(&c->tls, conf->tls, sizeof(*c->tls));
		if (ok) {
			conf_tls_t *t = c->tls;
			t->certificate = t->key = t->ca = NULL;
			t->listen = NULL;
			ok = copy_str(&t->certificate, conf->tls->certificate) &&
			     copy_str(&t->key, conf->tls->key) && copy_str(&t->ca, conf->tls->ca) &&
			     copy_mem(&t->listen, conf->tls->listen,
			              conf->tls->nlisten * sizeof(*t->listen));
		}
	}
	if (ok && conf->nkeys && (ok = (c->keys = calloc(conf->nkeys, sizeof(*c->keys))) != NULL))
		for (; ok && c->nkeys < conf->nkeys; c->nkeys++) {
			conf_key_t *k = &c->keys[c->nkeys];
			*k = conf->keys[c->nkeys];
			ok = copy_str(&k->id, k->id) &&
			     copy_mem(&k->secret, k->secret, k->secret_len);
		}
	if (ok && conf->nremotes &&
	    (ok = (c->remotes = calloc(conf->nremotes, sizeof(*c->remotes))) != NULL))
		for (; ok && c->nremotes < conf->nremotes; c->nremotes++) {
			conf_remote_t *r = &c->remotes[c->nremotes];
			*r = conf->remotes[c->nremotes];
			const conf_remote_tls_t *ot = r->tls;
			r->tls = NULL;
			ok = copy_str(&r->id, r->id) &&
			     copy_mem(&r->addr, r->addr, r->naddr * sizeof(*r->addr));
			if (ok && ot && (ok = copy_mem(&r->tls, ot, sizeof(*ot)))) {
				conf_remote_tls_t *t = r->tls;
				t->ca = t->hostname = t->certificate = t->key = NULL;
				t->pins = NULL;
				ok = copy_str(&t->ca, ot->ca) &&
				     copy_str(&t->hostname, ot->hostname) &&
				     copy_str(&t->certificate, ot->certificate) &&
				     copy_str(&t->key, ot->key) &&
				     copy_mem(&t->pins, ot->pins, ot->npins * sizeof(*t->pins));
			}
		}
	if (ok && conf->nacls && (ok = (c->acls = calloc(conf->nacls, sizeof(*c->acls))) != NULL))
		for (; ok && c->nacls < conf->nacls; c->nacls++) {
			conf_acl_t *a = &c->acls[c->nacls];
			*a = conf->acls[c->nacls];
			ok = copy_str(&a->id, a->id) &&
			     copy_mem(&a->prefix, a->prefix, a->nprefix * sizeof(*a->prefix));
		}
	if (ok && conf->ntemplates &&
	    (ok = (c->templates = calloc(conf->ntemplates, sizeof(*c->templates))) != NULL))
		for (; ok && c->ntemplates < conf->ntemplates; c->ntemplates++) {
			conf_template_t *t = &c->templates[c->ntemplates];
			*t = conf->templates[c->ntemplates];
			ok = copy_str(&t->id, t->id) && copy_zone(&t->zone);
		}
	if (ok && conf->nzones &&
	    (ok = (c->zones = calloc(conf->nzones, sizeof(*c->zones))) != NULL))
		for (size_t i = 0; ok && i < conf->nzones; i++) {
			if (without_members && conf->zones[i].catalog_from >= 0)
				continue;
			conf_zone_t *z = &c->zones[c->nzones++];
			*z = conf->zones[i];
			ok = copy_zone(z);
		}
	if (!ok) {
		conf_free(c);
		return US_ENOMEM;
	}
	*out = c;
	return 0;
}
