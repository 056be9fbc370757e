/* SPDX-License-Identifier: MIT */
/* importconf: another server's configuration (named, knot, nsd) read into understudy's. */
#pragma once

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum { IC_AUTO, IC_NAMED, IC_KNOT, IC_NSD } ic_format_t;

/* What an ACL rule covers, as understudy's `action`. */
enum { IC_TRANSFER = 1 << 0, IC_NOTIFY = 1 << 1 };

typedef struct ic_strv {
	char **v;
	size_t n, cap;
} ic_strv_t;

/* Where a setting came from, for the comments in the output and the reports. */
typedef struct ic_where {
	const char *file;
	int line;
} ic_where_t;

typedef struct ic_key {
	char *id, *algorithm, *secret;
	ic_where_t at;
} ic_key_t;

typedef struct ic_remote {
	char *id;
	ic_strv_t addr; /* ADDR@PORT */
	char *key;      /* NULL: none */
	char *via;      /* NULL: none */
	ic_where_t at;
} ic_remote_t;

typedef struct ic_acl {
	char *id;
	ic_strv_t addr; /* prefixes; empty: any address */
	char *key;      /* NULL: unsigned requests only */
	int actions;    /* IC_TRANSFER | IC_NOTIFY */
	bool deny;
	ic_where_t at;
} ic_acl_t;

/* A zone's part in catalogs (RFC 9432, docs/catalog-zones.md). */
typedef enum { IC_CAT_NONE, IC_CAT_PRODUCER, IC_CAT_CONSUMER } ic_catalog_t;

typedef struct ic_zone {
	char *domain;
	bool secondary;
	char *file;
	ic_strv_t primaries, notify, acl; /* ids */
	ic_strv_t extra;                  /* further "option: value" lines, ready to print */
	char *tpl;                        /* `template:`; NULL: none written */
	ic_catalog_t catalog;
	ic_strv_t catalog_templates; /* a consumer's template ids */
	char *catalog_zone;          /* a member's producer catalog; NULL: none */
	char *catalog_group;         /* with catalog_zone; NULL: none */
	ic_where_t at;
} ic_zone_t;

/* A template as understudy has them: the settings zones (and a consumer's members) take. The
 * fields of z that a template holds are used: not the domain, role or catalog keys. */
typedef struct ic_template {
	char *id;
	ic_zone_t z;
} ic_template_t;

/* A translation under way: what was read so far, and what could not be translated. */
typedef struct ic {
	ic_format_t format;
	FILE *err;         /* where the FILE:LINE reports go */
	unsigned reported; /* settings left out so far */
	bool no_include;   /* the fuzzer: includes are reported, never read */
	bool syntax_error; /* a file did not parse: the translation fails */
	int include_depth;
	size_t bytes_read; /* all files together, bounded */
	jmp_buf oom;       /* taken when memory runs out: the translation fails */
	struct ic_chunk *pool;
	size_t pool_used;

	ic_strv_t listen;
	char *identity, *version, *nsid, *user;
	ic_strv_t server_extra; /* "option: value" lines under server: */
	ic_where_t server_at;

	ic_key_t *keys;
	size_t nkeys, capkeys;
	ic_remote_t *remotes;
	size_t nremotes, capremotes;
	ic_acl_t *acls;
	size_t nacls, capacls;
	ic_zone_t *zones;
	size_t nzones, capzones;
	ic_template_t *templates;
	size_t ntemplates, captemplates;
} ic_t;

/* Most bytes read over every file of one translation, includes included. */
#define IC_MAX_INPUT (64u << 20)
/* Most files included into one another. */
#define IC_MAX_INCLUDE_DEPTH 8

/* Memory from the translation's pool, zeroed; freed all at once by ic_deinit. */
void *ic_alloc(ic_t *ic, size_t size);
char *ic_strdup(ic_t *ic, const char *s);
char *ic_strndup(ic_t *ic, const char *s, size_t n);
char *ic_printf(ic_t *ic, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ic_strv_push(ic_t *ic, ic_strv_t *v, const char *s);
/* Sets "name: value" in a list of option lines, replacing the line of the same name: the last
 * one given stands, as in the peers' files. */
void ic_option_set(ic_t *ic, ic_strv_t *v, const char *name, long long value);
bool ic_strv_has(const ic_strv_t *v, const char *s);

/* Names a setting that is not translated: "FILE:LINE: msg" on ic->err. */
void ic_report(ic_t *ic, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Reads path (at most IC_MAX_INPUT bytes over the whole translation) into a NUL-terminated
 * buffer from the pool; *len gets its length. NULL when it cannot be read or holds a NUL byte,
 * with the reason reported at from:line (from NULL: the file named on the command line).
 */
char *ic_read_file(ic_t *ic, const char *path, size_t *len, const char *from, int line);

/* A path relative to base_dir (NULL: as is), or path itself when absolute. */
char *ic_path(ic_t *ic, const char *base_dir, const char *path);

/* The directory part of path ("." when it has none). */
char *ic_dirname(ic_t *ic, const char *path);

/*
 * Normalises an address with an optional port ("192.0.2.1", "2001:db8::1", with port given
 * separately: port 0 means the default 53) into understudy's "ADDR@PORT". NULL when it is not
 * an IPv4 or IPv6 address or the port is out of range.
 */
char *ic_addr(ic_t *ic, const char *addr, long port);

/*
 * Normalises a prefix "ADDR/LEN" or a plain address into understudy's form; bits beyond the
 * length are cleared, as named and knotd do. NULL when it is not one.
 */
char *ic_prefix(ic_t *ic, const char *text);

/* True for a domain name understudy's configuration accepts (its rules for `domain`). */
bool ic_domain_ok(const char *name);

/* The algorithm name understudy knows ("hmac-sha256") for one of the peers', or NULL. */
const char *ic_algorithm(const char *name);

/* Adds a key; false (reported) when its algorithm, name or secret cannot be used. */
bool ic_key_add(ic_t *ic, const char *id, const char *algorithm, const char *secret, ic_where_t at);
bool ic_key_known(const ic_t *ic, const char *id);

/* The id of a remote with these addresses, key and source address, added when new. */
const char *ic_remote_get(ic_t *ic, const ic_strv_t *addr, const char *key, const char *via,
                          const char *want_id, ic_where_t at);

/* The id of an ACL rule with this content, added when new. */
const char *ic_acl_get(ic_t *ic, const ic_strv_t *addr, const char *key, int actions, bool deny,
                       ic_where_t at);

/* Adds a zone; NULL (reported) when its name cannot be used or is there already. */
ic_zone_t *ic_zone_add(ic_t *ic, const char *domain, ic_where_t at);

/* The template of that id, or NULL. */
ic_template_t *ic_template_find(const ic_t *ic, const char *id);

/* Adds a template of that id (the caller makes sure it is new) and returns it. */
ic_template_t *ic_template_add(ic_t *ic, const char *id, ic_where_t at);

/* The parsers: each reads the file at path (and what it includes) into ic; 0, or -1 when the
 * file cannot be read or parsed at all (reported). */
int ic_read_named(ic_t *ic, const char *path);
int ic_read_knot(ic_t *ic, const char *path);
int ic_read_nsd(ic_t *ic, const char *path);

/* Tells the format of a configuration from its text. */
ic_format_t ic_detect(const char *text, size_t len);

/* The translation as understudy.yaml, on out. */
void ic_write(const ic_t *ic, FILE *out, const char *source);

void ic_init(ic_t *ic, FILE *err);
void ic_deinit(ic_t *ic);

/*
 * The whole of `import-conf` on one file: reads it (format IC_AUTO: told by ic_detect), writes
 * the YAML to out and checks that understudy's configuration reader accepts it. Returns 0 when
 * everything was translated, 1 when something was left out (reported on err), 2 when the file
 * cannot be read or parsed, 3 when the output would not be accepted (a bug, reported).
 */
int importconf_run(const char *path, ic_format_t format, bool no_include, FILE *out, FILE *err);
