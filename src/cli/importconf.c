/* SPDX-License-Identifier: MIT */
/* importconf: another server's configuration (named, knot, nsd) read into understudy's. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "importconf.h"

/* The pool: chunks freed together when the translation ends. */
typedef struct ic_chunk {
	struct ic_chunk *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
} ic_chunk_t;

#define IC_CHUNK    (64u << 10)
#define IC_POOL_MAX ((size_t)1 << 30)
#define IC_ID_MAX   255

void *ic_alloc(ic_t *ic, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	ic_chunk_t *c = ic->pool;
	if (!c || c->size - c->used < size) {
		size_t n = size > IC_CHUNK ? size : IC_CHUNK;
		if (ic->pool_used + n > IC_POOL_MAX || !(c = malloc(sizeof(*c) + n)))
			longjmp(ic->oom, 1);
		ic->pool_used += n;
		c->size = n;
		c->used = 0;
		c->next = ic->pool;
		ic->pool = c;
	}
	void *p = c->data + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

char *ic_strndup(ic_t *ic, const char *s, size_t n)
{
	char *p = ic_alloc(ic, n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *ic_strdup(ic_t *ic, const char *s)
{
	return s ? ic_strndup(ic, s, strlen(s)) : NULL;
}

char *ic_printf(ic_t *ic, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *p = ic_alloc(ic, (size_t)(n < 0 ? 0 : n) + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

/* Grows an array of the pool to hold one more element of size bytes. */
static void *grow(ic_t *ic, void *arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return arr;
	size_t ncap = *cap ? *cap * 2 : 8;
	void *p = ic_alloc(ic, ncap * size);
	if (n)
		memcpy(p, arr, n * size);
	*cap = ncap;
	return p;
}

void ic_strv_push(ic_t *ic, ic_strv_t *v, const char *s)
{
	v->v = grow(ic, v->v, &v->cap, v->n, sizeof(char *));
	v->v[v->n++] = ic_strdup(ic, s);
}

void ic_option_set(ic_t *ic, ic_strv_t *v, const char *name, long long value)
{
	char *line = ic_printf(ic, "%s: %lld", name, value);
	size_t n = strlen(name);
	for (size_t i = 0; i < v->n; i++)
		if (!strncmp(v->v[i], name, n) && v->v[i][n] == ':') {
			v->v[i] = line;
			return;
		}
	ic_strv_push(ic, v, line);
}

bool ic_strv_has(const ic_strv_t *v, const char *s)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->v[i], s) == 0)
			return true;
	return false;
}

static bool strv_equal(const ic_strv_t *a, const ic_strv_t *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

static bool str_equal(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

void ic_report(ic_t *ic, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	ic->reported++;
	if (line > 0)
		fprintf(ic->err, "%s:%d: ", file, line);
	else
		fprintf(ic->err, "%s: ", file);
	va_start(ap, fmt);
	vfprintf(ic->err, fmt, ap);
	va_end(ap);
	fputc('\n', ic->err);
}

/* True when buf[0..n) is UTF-8 (RFC 3629: no overlong forms, surrogates or code points past
 * U+10FFFF). */
static bool utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t need = c < 0x80             ? 0
		              : (c & 0xE0) == 0xC0 ? 1
		              : (c & 0xF0) == 0xE0 ? 2
		              : (c & 0xF8) == 0xF0 ? 3
		                                   : 9;
		if (need == 9 || i + need >= n + (need == 0))
			return need == 0;
		uint32_t cp = need == 0   ? c
		              : need == 1 ? c & 0x1F
		              : need == 2 ? c & 0x0F
		                          : c & 0x07;
		for (size_t j = 1; j <= need; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3F);
		}
		static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
		if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += need + 1;
	}
	return true;
}

char *ic_read_file(ic_t *ic, const char *path, size_t *len, const char *from, int line)
{
	FILE *f = fopen(path, "rbe");
	const char *where = from ? from : path;
	if (!f) {
		ic_report(ic, where, from ? line : 0, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *buf = NULL;
	for (;;) {
		char *nb = ic_alloc(ic, cap + 1);
		if (n)
			memcpy(nb, buf, n);
		buf = nb;
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (ic->bytes_read + n > IC_MAX_INPUT) {
			fclose(f);
			ic_report(ic, where, from ? line : 0,
			          "%s: more than %u MiB of configuration in all; not read", path,
			          IC_MAX_INPUT >> 20);
			return NULL;
		}
		if (n < cap)
			break;
		cap *= 2;
	}
	bool failed = ferror(f);
	fclose(f);
	if (failed) {
		ic_report(ic, where, from ? line : 0, "cannot read %s", path);
		return NULL;
	}
	if (memchr(buf, 0, n)) {
		ic_report(ic, where, from ? line : 0, "%s: holds a NUL byte, not a text file",
		          path);
		return NULL;
	}
	if (!utf8_ok((const unsigned char *)buf, n)) {
		ic_report(ic, where, from ? line : 0,
		          "%s: not UTF-8 text, which understudy.yaml "
		          "must be; convert it first (iconv)",
		          path);
		return NULL;
	}
	buf[n] = 0;
	ic->bytes_read += n;
	*len = n;
	return buf;
}

char *ic_path(ic_t *ic, const char *base_dir, const char *path)
{
	if (path[0] == '/' || !base_dir || !*base_dir)
		return ic_strdup(ic, path);
	size_t bl = strlen(base_dir);
	while (bl > 1 && base_dir[bl - 1] == '/')
		bl--;
	if (path[0] == '.' && path[1] == '/')
		path += 2;
	return ic_printf(ic, "%.*s/%s", (int)bl, base_dir, path);
}

char *ic_dirname(ic_t *ic, const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return ic_strdup(ic, ".");
	if (slash == path)
		return ic_strdup(ic, "/");
	return ic_strndup(ic, path, (size_t)(slash - path));
}

char *ic_addr(ic_t *ic, const char *addr, long port)
{
	unsigned char buf[16];
	char text[INET6_ADDRSTRLEN];
	if (port == 0)
		port = 53;
	if (port < 1 || port > 65535)
		return NULL;
	int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(fam, addr, buf) != 1 || !inet_ntop(fam, buf, text, sizeof(text)))
		return NULL;
	return ic_printf(ic, "%s@%ld", text, port);
}

char *ic_prefix(ic_t *ic, const char *text)
{
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	char addr[INET6_ADDRSTRLEN + 1], out[INET6_ADDRSTRLEN];
	unsigned char buf[16];
	if (alen == 0 || alen >= sizeof(addr))
		return NULL;
	memcpy(addr, text, alen);
	addr[alen] = 0;
	int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;
	int max = fam == AF_INET ? 32 : 128;
	if (inet_pton(fam, addr, buf) != 1)
		return NULL;
	long bits = max;
	if (slash) {
		char *end;
		errno = 0;
		bits = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || errno || bits < 0 || bits > max)
			return NULL;
	}
	for (int i = 0; i < max / 8; i++) {
		int keep = (int)bits - i * 8;
		buf[i] &= keep >= 8 ? 0xFF : keep <= 0 ? 0 : (unsigned char)(0xFF << (8 - keep));
	}
	inet_ntop(fam, buf, out, sizeof(out));
	return bits == max ? ic_strdup(ic, out) : ic_printf(ic, "%s/%ld", out, bits);
}

bool ic_domain_ok(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > 254)
		return false;
	if (strcmp(name, ".") == 0)
		return true;
	size_t label = 0, wire = 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.') {
			if (label == 0)
				return false;
			wire += label + 1;
			label = 0;
			continue;
		}
		if (c <= ' ' || c >= 0x7F || c == '\\' || c == '"')
			return false;
		if (++label > 63)
			return false;
	}
	wire += label ? label + 1 : 0;
	return wire <= 255;
}

const char *ic_algorithm(const char *name)
{
	static const char *const names[][2] = {
	    {"hmac-md5", "hmac-md5"},       {"hmac-md5.sig-alg.reg.int", "hmac-md5"},
	    {"hmac-sha1", "hmac-sha1"},     {"hmac-sha224", "hmac-sha224"},
	    {"hmac-sha256", "hmac-sha256"}, {"hmac-sha384", "hmac-sha384"},
	    {"hmac-sha512", "hmac-sha512"}, {"md5", "hmac-md5"},
	    {"sha1", "hmac-sha1"},          {"sha224", "hmac-sha224"},
	    {"sha256", "hmac-sha256"},      {"sha384", "hmac-sha384"},
	    {"sha512", "hmac-sha512"},
	};
	size_t len = strlen(name);
	if (len && name[len - 1] == '.')
		len--;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i][0]) == len && strncasecmp(names[i][0], name, len) == 0)
			return names[i][1];
	return NULL;
}

static bool base64_ok(const char *s)
{
	size_t n = strlen(s), pad = 0;
	if (n == 0 || n % 4)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '=') {
			if (i < n - 2)
				return false;
			pad++;
		} else if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		                    (c >= '0' && c <= '9') || c == '+' || c == '/')) {
			return false;
		}
	}
	if (pad > 2)
		return false;
	/* The bits past the last byte must be zero (RFC 4648 3.5), as understudy's reader wants. */
	if (pad) {
		char c = s[n - pad - 1];
		int v = c >= 'A' && c <= 'Z'   ? c - 'A'
		        : c >= 'a' && c <= 'z' ? c - 'a' + 26
		        : c >= '0' && c <= '9' ? c - '0' + 52
		        : c == '+'             ? 62
		                               : 63;
		if (v & (pad == 1 ? 0x3 : 0xF))
			return false;
	}
	return true;
}

/* A key name as understudy writes it: without the final dot, compared case-insensitively. */
static char *key_name(ic_t *ic, const char *id)
{
	size_t n = strlen(id);
	if (n > 1 && id[n - 1] == '.')
		n--;
	return ic_strndup(ic, id, n);
}

bool ic_key_known(const ic_t *ic, const char *id)
{
	size_t n = strlen(id);
	if (n > 1 && id[n - 1] == '.')
		n--;
	for (size_t i = 0; i < ic->nkeys; i++)
		if (strlen(ic->keys[i].id) == n && strncasecmp(ic->keys[i].id, id, n) == 0)
			return true;
	return false;
}

bool ic_key_add(ic_t *ic, const char *id, const char *algorithm, const char *secret, ic_where_t at)
{
	const char *alg = algorithm ? ic_algorithm(algorithm) : NULL;
	if (!ic_domain_ok(id)) {
		ic_report(ic, at.file, at.line,
		          "key \"%s\": not a name understudy accepts; left out", id);
		return false;
	}
	if (!alg) {
		ic_report(ic, at.file, at.line,
		          "key %s: algorithm %s is not one understudy has "
		          "(hmac-md5, hmac-sha1, hmac-sha224/256/384/512); key left out",
		          id, algorithm ? algorithm : "(none given)");
		return false;
	}
	if (!secret || !base64_ok(secret)) {
		ic_report(ic, at.file, at.line, "key %s: %s; key left out", id,
		          secret ? "the secret is not valid base64" : "no secret");
		return false;
	}
	if (ic_key_known(ic, id)) {
		ic_report(ic, at.file, at.line, "key %s: defined twice; the first is kept", id);
		return false;
	}
	ic->keys = grow(ic, ic->keys, &ic->capkeys, ic->nkeys, sizeof(*ic->keys));
	ic->keys[ic->nkeys++] = (ic_key_t){.id = key_name(ic, id),
	                                   .algorithm = ic_strdup(ic, alg),
	                                   .secret = ic_strdup(ic, secret),
	                                   .at = at};
	return true;
}

static bool remote_id_taken(const ic_t *ic, const char *id)
{
	for (size_t i = 0; i < ic->nremotes; i++)
		if (strcmp(ic->remotes[i].id, id) == 0)
			return true;
	return false;
}

const char *ic_remote_get(ic_t *ic, const ic_strv_t *addr, const char *key, const char *via,
                          const char *want_id, ic_where_t at)
{
	char *k = key ? key_name(ic, key) : NULL;
	for (size_t i = 0; i < ic->nremotes; i++) {
		ic_remote_t *r = &ic->remotes[i];
		if (strv_equal(&r->addr, addr) && str_equal(r->key ? r->key : NULL, k) &&
		    str_equal(r->via, via) && (!want_id || strcmp(r->id, want_id) == 0))
			return r->id;
	}
	/* An id says what it is: the peer's own name for it, or its first address (and key). */
	char *base = want_id && *want_id && strlen(want_id) <= IC_ID_MAX - 8
	                 ? ic_strdup(ic, want_id)
	                 : ic_printf(ic, "%.200s%s%.40s", addr->n ? addr->v[0] : "remote",
	                             k ? " key " : "", k ? k : "");
	char *id = base;
	for (int n = 2; remote_id_taken(ic, id); n++)
		id = ic_printf(ic, "%s-%d", base, n);
	ic->remotes = grow(ic, ic->remotes, &ic->capremotes, ic->nremotes, sizeof(*ic->remotes));
	ic_remote_t *r = &ic->remotes[ic->nremotes++];
	*r = (ic_remote_t){.id = id, .key = k, .via = ic_strdup(ic, via), .at = at};
	for (size_t i = 0; i < addr->n; i++)
		ic_strv_push(ic, &r->addr, addr->v[i]);
	return r->id;
}

const char *ic_acl_get(ic_t *ic, const ic_strv_t *addr, const char *key, int actions, bool deny,
                       ic_where_t at)
{
	char *k = key ? key_name(ic, key) : NULL;
	for (size_t i = 0; i < ic->nacls; i++) {
		ic_acl_t *a = &ic->acls[i];
		if (strv_equal(&a->addr, addr) && str_equal(a->key, k) && a->actions == actions &&
		    a->deny == deny)
			return a->id;
	}
	ic->acls = grow(ic, ic->acls, &ic->capacls, ic->nacls, sizeof(*ic->acls));
	ic_acl_t *a = &ic->acls[ic->nacls++];
	*a = (ic_acl_t){.id = ic_printf(ic, "%s%s-%zu", deny ? "deny-" : "",
	                                actions == IC_TRANSFER ? "transfer"
	                                : actions == IC_NOTIFY ? "notify"
	                                                       : "transfer-notify",
	                                ic->nacls),
	                .key = k,
	                .actions = actions,
	                .deny = deny,
	                .at = at};
	for (size_t i = 0; i < addr->n; i++)
		ic_strv_push(ic, &a->addr, addr->v[i]);
	return a->id;
}

ic_zone_t *ic_zone_add(ic_t *ic, const char *domain, ic_where_t at)
{
	size_t n = strlen(domain);
	char *name = ic_strndup(ic, domain, n > 1 && domain[n - 1] == '.' ? n - 1 : n);
	if (!ic_domain_ok(name)) {
		ic_report(ic, at.file, at.line,
		          "zone \"%s\": not a name understudy accepts; left out", domain);
		return NULL;
	}
	for (size_t i = 0; i < ic->nzones; i++)
		if (strcasecmp(ic->zones[i].domain, name) == 0) {
			ic_report(ic, at.file, at.line,
			          "zone %s: defined again (first at %s:%d); only the first is kept",
			          name, ic->zones[i].at.file, ic->zones[i].at.line);
			return NULL;
		}
	ic->zones = grow(ic, ic->zones, &ic->capzones, ic->nzones, sizeof(*ic->zones));
	ic_zone_t *z = &ic->zones[ic->nzones++];
	*z = (ic_zone_t){.domain = name, .at = at};
	return z;
}

ic_template_t *ic_template_find(const ic_t *ic, const char *id)
{
	for (size_t i = 0; i < ic->ntemplates; i++)
		if (strcmp(ic->templates[i].id, id) == 0)
			return &ic->templates[i];
	return NULL;
}

ic_template_t *ic_template_add(ic_t *ic, const char *id, ic_where_t at)
{
	ic->templates =
	    grow(ic, ic->templates, &ic->captemplates, ic->ntemplates, sizeof(*ic->templates));
	ic_template_t *t = &ic->templates[ic->ntemplates++];
	*t = (ic_template_t){.id = ic_strdup(ic, id), .z = {.domain = ic_strdup(ic, id), .at = at}};
	return t;
}

ic_format_t ic_detect(const char *text, size_t len)
{
	/* knot.conf and nsd.conf both open sections with "name:" at the start of a line; nsd's
	 * sections repeat ("zone:" once per zone), knot's hold lists ("- id:", "- domain:").
	 * named.conf is made of statements in braces and semicolons. */
	int named = 0, knot = 0, nsd = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *s = p;
		while (s < le && (*s == ' ' || *s == '\t'))
			s++;
		size_t n = (size_t)(le - s);
		if (n && *s != '#') {
			if (memchr(s, '{', n) || (memchr(s, ';', n) && !memchr(s, ':', n)))
				named++;
			if (n >= 2 && s[0] == '-' && s[1] == ' ')
				knot++;
			if (s == p && n >= 5 &&
			    (!strncmp(s, "zone:", 5) || !strncmp(s, "key:", 4) ||
			     !strncmp(s, "pattern:", 8) || !strncmp(s, "remote-control:", 15)))
				nsd++;
			if (s == p && (!strncmp(s, "remote:", 7) || !strncmp(s, "acl:", 4) ||
			               !strncmp(s, "template:", 9) || !strncmp(s, "database:", 9)))
				knot++;
			/* Options only one of the two has. */
			static const char *const nsd_only[] = {"ip-address:",   "zonefile:",
			                                       "request-xfr:",  "provide-xfr:",
			                                       "allow-notify:", "include-pattern:",
			                                       "zonesdir:",     "log-only-syslog:",
			                                       "hide-version:", "username:",
			                                       "server-count:", "xfrdfile:",
			                                       "verbosity:",    "do-ip4:",
			                                       "do-ip6:",       "control-enable:",
			                                       "name:",         NULL};
			static const char *const knot_only[] = {
			    "rundir:",  "listen:", "automatic-acl:", "background-workers:",
			    "storage:", "domain:", "master:",        "any:",
			    "target:",  NULL};
			for (int i = 0; s != p && nsd_only[i]; i++)
				nsd += !strncmp(s, nsd_only[i], strlen(nsd_only[i]));
			for (int i = 0; knot_only[i]; i++)
				knot += !strncmp(s, knot_only[i], strlen(knot_only[i])) ||
				        (s[0] == '-' &&
				         !strncmp(s + 2, knot_only[i], strlen(knot_only[i])));
		}
		p = le + 1;
	}
	if (named > knot && named > nsd)
		return IC_NAMED;
	if (knot > nsd)
		return IC_KNOT;
	if (nsd)
		return IC_NSD;
	/* Only a server: section, or nothing: nsd.conf and knot.conf read alike. */
	return named ? IC_NAMED : IC_KNOT;
}

void ic_init(ic_t *ic, FILE *err)
{
	memset(ic, 0, sizeof(*ic));
	ic->err = err;
}

void ic_deinit(ic_t *ic)
{
	for (ic_chunk_t *c = ic->pool, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	ic->pool = NULL;
}

/* --- the YAML */

/* A double-quoted YAML scalar. */
static void q(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			fprintf(out, "\\%c", *p);
		} else if (*p < 0x20 || *p == 0x7F) {
			fprintf(out, "\\x%02x", *p);
		} else if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
			/* C1 controls: not printable in YAML, so escaped (same code point). */
			fprintf(out, "\\u%04x", p[1]);
			p++;
		} else if (p[0] == 0xEF && ((p[1] == 0xBB && p[2] == 0xBF) ||
		                            (p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF)))) {
			fprintf(out, "\\u%04x", 0xF000 | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F));
			p += 2;
		} else {
			fputc(*p, out);
		}
	}
	fputc('"', out);
}

static void qlist(FILE *out, const ic_strv_t *v)
{
	fputc('[', out);
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			fputs(", ", out);
		q(out, v->v[i]);
	}
	fputc(']', out);
}

static void from(FILE *out, const char *indent, ic_where_t at)
{
	if (at.file)
		fprintf(out, "%s# from %s:%d\n", indent, at.file, at.line);
}

/* What a zone and a template share: file, primaries, notify, acl and the other options. */
static void settings(FILE *out, const ic_zone_t *z)
{
	if (z->file) {
		fputs("    file: ", out);
		q(out, z->file);
		fputc('\n', out);
	}
	const ic_strv_t *lists[] = {&z->primaries, &z->notify, &z->acl};
	const char *names[] = {"primaries", "notify", "acl"};
	for (int j = 0; j < 3; j++)
		if (lists[j]->n) {
			fprintf(out, "    %s: ", names[j]);
			qlist(out, lists[j]);
			fputc('\n', out);
		}
	for (size_t j = 0; j < z->extra.n; j++)
		fprintf(out, "    %s\n", z->extra.v[j]);
}

void ic_write(const ic_t *ic, FILE *out, const char *source)
{
	static const char *const fmt[] = {"", "named.conf", "knot.conf", "nsd.conf"};
	fprintf(out, "# Written by understudy import-conf from %s (%s).\n", source,
	        fmt[ic->format]);
	fprintf(out, "# What it could not translate was listed on standard error.\n");
	fprintf(out, "server:\n");
	if (ic->listen.n) {
		fputs("  listen: ", out);
		qlist(out, &ic->listen);
		fputc('\n', out);
	}
	/* understudy's own state: not the peer's folders, which hold the peer's formats. */
	fputs("  storage: \"/var/lib/understudy\"\n", out);
	fputs("  control: \"/run/understudy/ctl.sock\"\n", out);
	const char *opts[][2] = {{"identity", ic->identity},
	                         {"version", ic->version},
	                         {"nsid", ic->nsid},
	                         {"user", ic->user}};
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (opts[i][1]) {
			fprintf(out, "  %s: ", opts[i][0]);
			q(out, opts[i][1]);
			fputc('\n', out);
		}
	for (size_t i = 0; i < ic->server_extra.n; i++)
		fprintf(out, "  %s\n", ic->server_extra.v[i]);
	fputs("log: {target: stderr, level: info}\n", out);
	if (ic->nkeys)
		fputs("keys:\n", out);
	for (size_t i = 0; i < ic->nkeys; i++) {
		const ic_key_t *k = &ic->keys[i];
		from(out, "  ", k->at);
		fputs("  - id: ", out);
		q(out, k->id);
		fprintf(out, "\n    algorithm: %s\n    secret: ", k->algorithm);
		q(out, k->secret);
		fputc('\n', out);
	}
	if (ic->nremotes)
		fputs("remotes:\n", out);
	for (size_t i = 0; i < ic->nremotes; i++) {
		const ic_remote_t *r = &ic->remotes[i];
		from(out, "  ", r->at);
		fputs("  - id: ", out);
		q(out, r->id);
		fputs("\n    address: ", out);
		qlist(out, &r->addr);
		fputc('\n', out);
		if (r->key) {
			fputs("    key: ", out);
			q(out, r->key);
			fputc('\n', out);
		}
		if (r->via) {
			fputs("    via: ", out);
			q(out, r->via);
			fputc('\n', out);
		}
	}
	if (ic->nacls)
		fputs("acls:\n", out);
	for (size_t i = 0; i < ic->nacls; i++) {
		const ic_acl_t *a = &ic->acls[i];
		from(out, "  ", a->at);
		fputs("  - id: ", out);
		q(out, a->id);
		fputc('\n', out);
		if (a->addr.n) {
			fputs("    address: ", out);
			qlist(out, &a->addr);
			fputc('\n', out);
		}
		if (a->key) {
			fputs("    key: ", out);
			q(out, a->key);
			fputc('\n', out);
		}
		fprintf(out, "    action: %s\n",
		        a->actions == IC_TRANSFER ? "transfer"
		        : a->actions == IC_NOTIFY ? "notify"
		                                  : "[transfer, notify]");
		if (a->deny)
			fputs("    deny: true\n", out);
	}
	if (ic->ntemplates)
		fputs("templates:\n", out);
	for (size_t i = 0; i < ic->ntemplates; i++) {
		const ic_template_t *t = &ic->templates[i];
		from(out, "  ", t->z.at);
		fputs("  - id: ", out);
		q(out, t->id);
		fputc('\n', out);
		settings(out, &t->z);
	}
	if (ic->nzones)
		fputs("zones:\n", out);
	for (size_t i = 0; i < ic->nzones; i++) {
		const ic_zone_t *z = &ic->zones[i];
		from(out, "  ", z->at);
		fputs("  - domain: ", out);
		q(out, z->domain);
		fprintf(out, "\n    role: %s\n", z->secondary ? "secondary" : "primary");
		if (z->tpl) {
			fputs("    template: ", out);
			q(out, z->tpl);
			fputc('\n', out);
		}
		settings(out, z);
		if (z->catalog != IC_CAT_NONE)
			fprintf(out, "    catalog-role: %s\n",
			        z->catalog == IC_CAT_PRODUCER ? "producer" : "consumer");
		if (z->catalog == IC_CAT_CONSUMER) {
			fputs("    catalog-template: ", out);
			qlist(out, &z->catalog_templates);
			fputc('\n', out);
		}
		if (z->catalog_zone) {
			fputs("    catalog-zone: ", out);
			q(out, z->catalog_zone);
			fputc('\n', out);
		}
		if (z->catalog_group) {
			fputs("    catalog-group: ", out);
			q(out, z->catalog_group);
			fputc('\n', out);
		}
	}
}

/* A consumer's templates must be there and have primaries: its members are their secondaries. */
static void finish_consumer(ic_t *ic, ic_zone_t *z)
{
	ic_strv_t kept = {0};
	for (size_t i = 0; i < z->catalog_templates.n; i++) {
		const char *id = z->catalog_templates.v[i];
		const ic_template_t *t = ic_template_find(ic, id);
		if (ic_strv_has(&kept, id))
			continue;
		if (!t || !t->z.primaries.n) {
			ic_report(ic, z->at.file, z->at.line,
			          "zone %s: catalog template %s: %s; left out of the catalog's "
			          "templates",
			          z->domain, id,
			          t ? "no primary understudy can use for the members to transfer "
			              "from"
			            : "not translated");
			continue;
		}
		ic_strv_push(ic, &kept, id);
	}
	z->catalog_templates = kept;
	if (!kept.n) {
		ic_report(ic, z->at.file, z->at.line,
		          "zone %s: a catalog consumer with no template left; translated as an "
		          "ordinary secondary, its members are not",
		          z->domain);
		z->catalog = IC_CAT_NONE;
	}
}

/* A member's catalog must be a producer catalog of the translation, as understudy wants. */
static void finish_member(ic_t *ic, ic_zone_t *z)
{
	if (!z->catalog_zone) {
		z->catalog_group = NULL;
		return;
	}
	size_t n = strlen(z->catalog_zone);
	if (n > 1 && z->catalog_zone[n - 1] == '.')
		z->catalog_zone[--n] = 0;
	const ic_zone_t *cat = NULL;
	for (size_t i = 0; i < ic->nzones; i++)
		if (strcasecmp(ic->zones[i].domain, z->catalog_zone) == 0)
			cat = &ic->zones[i];
	const char *why = !cat                              ? "no such zone in the translation"
	                  : cat == z                        ? "a catalog cannot list itself"
	                  : cat->catalog != IC_CAT_PRODUCER ? "not a generated (producer) catalog"
	                  : z->catalog == IC_CAT_PRODUCER   ? "a catalog is not a member of another"
	                                                    : NULL;
	if (why) {
		ic_report(ic, z->at.file, z->at.line, "zone %s: catalog-zone %s: %s; left out",
		          z->domain, z->catalog_zone, why);
		z->catalog_zone = z->catalog_group = NULL;
		return;
	}
	if (z->catalog_group && (!*z->catalog_group || strlen(z->catalog_group) > 255)) {
		ic_report(ic, z->at.file, z->at.line,
		          "zone %s: catalog-group: understudy takes 1 to 255 bytes; left out",
		          z->domain);
		z->catalog_group = NULL;
	}
}

/*
 * Makes the translation one understudy accepts however odd the input: a zone whose primaries
 * or file went missing is left out (a secondary without primaries, a primary without a file
 * cannot run), rather than handing check-conf something it refuses.
 */
static void finish(ic_t *ic)
{
	/* Lengths understudy's reader takes: TXT strings for the CHAOS answers and NSID. */
	char **texts[] = {&ic->identity, &ic->version, &ic->nsid};
	const char *names[] = {"identity", "version", "nsid"};
	for (int i = 0; i < 3; i++) {
		size_t len = *texts[i] ? strlen(*texts[i]) : 0;
		if (*texts[i] && (len > 255 || (i == 2 && len == 0))) {
			ic_report(ic, ic->format == IC_NAMED ? "named.conf" : "the configuration",
			          0, "%s: %s; left out", names[i],
			          len ? "longer than 255 bytes" : "empty");
			*texts[i] = NULL;
		}
	}
	size_t kept = 0;
	for (size_t i = 0; i < ic->nzones; i++) {
		ic_zone_t *z = &ic->zones[i];
		if (z->file && (!*z->file || strlen(z->file) > 4096)) {
			ic_report(ic, z->at.file, z->at.line,
			          "zone %s: a file name of %zu bytes; "
			          "understudy takes 1 to 4096; left out",
			          z->domain, strlen(z->file));
			z->file = NULL;
		}
		if (z->secondary && !z->primaries.n) {
			ic_report(
			    ic, z->at.file, z->at.line,
			    "zone %s: a secondary with no primary understudy can use; left out",
			    z->domain);
			continue;
		}
		if (z->catalog == IC_CAT_PRODUCER) {
			z->file = NULL; /* generated from its members */
		} else if (!z->secondary && !z->file) {
			ic_report(ic, z->at.file, z->at.line,
			          "zone %s: a primary with no zone file; left out", z->domain);
			continue;
		}
		if (z->catalog == IC_CAT_CONSUMER)
			finish_consumer(ic, z);
		ic->zones[kept++] = *z;
	}
	ic->nzones = kept;
	for (size_t i = 0; i < ic->nzones; i++)
		finish_member(ic, &ic->zones[i]);
}

/* Checks text with understudy's own configuration reader, as check-conf would. */
static int self_check(const char *text, size_t len, FILE *err)
{
	int fd = memfd_create("import-conf", MFD_CLOEXEC);
	if (fd < 0)
		return 0; /* nothing to check with; the output stands on its own */
	int ret = 0;
	if (write(fd, text, len) == (ssize_t)len) {
		char path[64], msg[16384];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		conf_t *conf = NULL;
		if (conf_load(path, &conf, msg, sizeof(msg)) == 0) {
			conf_free(conf);
		} else {
			fprintf(err,
			        "import-conf: internal error: understudy would not accept what "
			        "was written:\n%s",
			        msg);
			ret = -1;
		}
	}
	close(fd);
	return ret;
}

int importconf_run(const char *path, ic_format_t format, bool no_include, FILE *out, FILE *err)
{
	ic_t ic;
	ic_init(&ic, err);
	ic.no_include = no_include;
	/* Kept across the longjmp that running out of memory takes. */
	char *volatile text = NULL;
	volatile ic_format_t fmt = format;
	volatile int code = 2;
	size_t len = 0;
	if (setjmp(ic.oom)) {
		fprintf(err, "import-conf: %s: out of memory\n", path);
		goto cleanup;
	}
	if (fmt == IC_AUTO) {
		const char *t = ic_read_file(&ic, path, &len, NULL, 0);
		if (!t)
			goto cleanup;
		fmt = ic_detect(t, len);
		ic.bytes_read = 0;
	}
	ic.format = fmt;
	int ret = fmt == IC_NAMED  ? ic_read_named(&ic, path)
	          : fmt == IC_KNOT ? ic_read_knot(&ic, path)
	                           : ic_read_nsd(&ic, path);
	if (ret < 0 || ic.syntax_error)
		goto cleanup;
	finish(&ic);
	char *buf = NULL;
	FILE *mem = open_memstream(&buf, &len);
	if (!mem)
		goto cleanup;
	ic_write(&ic, mem, path);
	int closed = fclose(mem);
	text = buf;
	if (closed != 0 || !text)
		goto cleanup;
	if (self_check(text, len, err) < 0) {
		code = 3;
		goto cleanup;
	}
	fwrite(text, 1, len, out);
	code = ic.reported ? 1 : 0;
cleanup:
	free(text);
	ic_deinit(&ic);
	return code;
}

int cli_import_conf(int argc, char **argv)
{
	static const struct option longopts[] = {{"from", required_argument, NULL, 'f'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	const char *usage = "usage: understudy import-conf [--from named|knot|nsd] FILE\n";
	ic_format_t format = IC_AUTO;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		if (opt != 'f') {
			fputs(usage, stderr);
			return 2;
		}
		if (!strcmp(optarg, "named") || !strcmp(optarg, "bind"))
			format = IC_NAMED;
		else if (!strcmp(optarg, "knot"))
			format = IC_KNOT;
		else if (!strcmp(optarg, "nsd"))
			format = IC_NSD;
		else {
			fprintf(stderr, "import-conf: --from %s: expected named, knot or nsd\n",
			        optarg);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(usage, stderr);
		return 2;
	}
	return importconf_run(argv[optind], format, false, stdout, stderr);
}
