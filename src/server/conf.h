/* SPDX-License-Identifier: MIT */
/* conf: the YAML configuration, parsed and checked into plain structs. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONF_DNAME_MAX 255

typedef struct conf_addr {
	struct sockaddr_storage ss; /* family AF_INET or AF_INET6, port in network order */
	socklen_t len;
} conf_addr_t;

typedef enum {
	CONF_HMAC_MD5,
	CONF_HMAC_SHA1,
	CONF_HMAC_SHA224,
	CONF_HMAC_SHA256,
	CONF_HMAC_SHA384,
	CONF_HMAC_SHA512,
} conf_hmac_t;

typedef struct conf_key {
	char *id; /* the TSIG key name: a domain name, unique case-insensitively */
	conf_hmac_t algorithm;
	uint8_t *secret; /* decoded from base64 */
	size_t secret_len;
	int line;
} conf_key_t;

/* A remote's `tls`: transfers from it go over TLS (RFC 9103), its certificate checked. */
typedef struct conf_remote_tls {
	char *ca;            /* CA file the server's chain must lead to; NULL: no chain check */
	char *hostname;      /* the name the certificate must hold; NULL: the address (with ca) */
	uint8_t (*pins)[32]; /* SHA-256 of the server's SubjectPublicKeyInfo; any one matches */
	size_t npins;
	char *certificate, *key; /* our client certificate (mutual TLS); both or neither */
	int line;
} conf_remote_tls_t;

typedef struct conf_remote {
	char *id;
	conf_addr_t *addr; /* default port 53 */
	size_t naddr;
	int key; /* index into conf_t.keys, -1 for none */
	bool has_via;
	conf_addr_t via;        /* source address, port 0 */
	conf_remote_tls_t *tls; /* NULL: clear text */
	int line;
} conf_remote_t;

typedef struct conf_prefix {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t bits;
} conf_prefix_t;

enum {
	CONF_ACTION_TRANSFER = 1 << 0,
	CONF_ACTION_NOTIFY = 1 << 1,
	CONF_ACTION_UPDATE = 1 << 2,
};

/* conf_acl_t.protocols: what a request came over. */
enum {
	CONF_PROTO_UDP = 1 << 0,
	CONF_PROTO_TCP = 1 << 1,
	CONF_PROTO_TLS = 1 << 2,
};

typedef struct conf_acl {
	char *id;
	conf_prefix_t *prefix; /* empty: any address */
	size_t nprefix;
	int key;       /* -1 for none: then the rule matches unsigned requests only */
	int actions;   /* CONF_ACTION_* bits */
	bool deny;     /* `deny: true` turns the rule into a refusal */
	int protocols; /* CONF_PROTO_* bits the rule matches; 0: any */
	int line;
} conf_acl_t;

typedef enum { CONF_ROLE_PRIMARY, CONF_ROLE_SECONDARY } conf_role_t;

/* expire-policy: what a secondary does when its copy expires. */
typedef enum { CONF_EXPIRE_SERVFAIL, CONF_EXPIRE_KEEP_SERVING } conf_expire_policy_t;

/* serial-regression: what a secondary does when its primaries' serial goes backwards. */
typedef enum { CONF_REGRESSION_ALARM, CONF_REGRESSION_FOLLOW } conf_regression_t;

/* catalog-role: what a zone is to catalog zones (RFC 9432). */
typedef enum {
	CONF_CATALOG_NONE,     /* an ordinary zone */
	CONF_CATALOG_PRODUCER, /* a primary whose contents are generated from its members */
	CONF_CATALOG_CONSUMER, /* a secondary whose members become secondary zones */
} conf_catalog_role_t;

typedef struct conf_zone {
	char *domain;                 /* as written, without a trailing dot (root is ".") */
	uint8_t name[CONF_DNAME_MAX]; /* lower-cased wire form */
	size_t name_len;
	conf_role_t role;
	char *file;  /* primary: required; secondary: optional */
	int *notify; /* indexes into conf_t.remotes */
	size_t nnotify;
	int *acl; /* indexes into conf_t.acls */
	size_t nacl;
	int *primaries; /* indexes into conf_t.remotes; secondary: required */
	size_t nprimaries;
	int *watch; /* indexes into conf_t.remotes: other servers holding the zone */
	size_t nwatch;
	int fleet_interval; /* seconds between checks of every copy; 0: none */
	bool watch_ns;      /* the addresses of the apex NS set are watched too */
	/* Secondary: bounds on the SOA timers (seconds), applied to what the primary says. */
	int refresh_min, refresh_max, retry_min, retry_max, expire_min, expire_max;
	/* Secondary: limits against a hostile or broken primary. */
	int max_zone_size; /* bytes of transfer data */
	int max_zone_records;
	int transfer_timeout; /* seconds for a whole transfer */
	int transfer_idle;    /* seconds without data before a transfer is dropped */
	int primary_timeout;  /* seconds to connect or to get a SOA answer */
	/* Bounds on the zone's journal (changes kept for IXFR out), oldest dropped first. */
	int journal_max_depth; /* changes */
	int journal_max_size;  /* bytes */
	/* Secondary: the policies a backup needs (docs/configuration.md). */
	conf_expire_policy_t expire_policy;  /* default servfail */
	conf_regression_t serial_regression; /* default alarm */
	int serial_regression_hold;          /* seconds every primary shows the lower serial before
	                                      * follow takes it; 0 (default): one refresh interval */
	int guard_max_removed; /* percent of the zone's records; 0 (default): no limit */
	bool guard_apex;       /* hold a change that replaces the apex NS or DNSKEY set */
	bool zonemd_verify;    /* verify ZONEMD on every transfer in; default true */
	int template_;         /* index into conf_t.templates it was built from, or -1 */
	/* Catalog zones (docs/catalog-zones.md). */
	conf_catalog_role_t catalog_role;
	int catalog_zone;    /* index into conf_t.zones of the producer listing this zone; -1 */
	char *catalog_group; /* the member's group property; NULL for none */
	/* Consumer: the templates its members are built from; a member's group picks the one of
	 * that id, the first is for the others. */
	int *catalog_templates; /* indexes into conf_t.templates */
	size_t ncatalog_templates;
	/* A member a consumer catalog brought (not in the file): that catalog's index in
	 * conf_t.zones, or -1, and the member's unique ID there (a label: length byte first). */
	int catalog_from;
	uint8_t *catalog_id;
	int catalog_max_members; /* consumer: a version with more is not used; default 100000 */
	int line;
} conf_zone_t;

/*
 * templates: settings zones inherit (knot.conf's template). A zone takes those of the template
 * it names with `template: ID`, else those of the template `default` when there is one; its
 * own keys replace the template's. zone holds the settings as a zone's (domain NULL, file may
 * hold "%s" for the zone's name), with the "not given" values a zone starts from elsewhere.
 */
typedef struct conf_template {
	char *id;
	conf_zone_t zone;
	int line;
} conf_template_t;

/* server.tls: a listener for transfers over TLS (RFC 9103), also answering queries (DoT). */
typedef struct conf_tls {
	char *certificate, *key; /* PEM files, required */
	char *ca;                /* NULL: no client certificate asked; else required, checked */
	conf_addr_t *listen;     /* default port 853 */
	size_t nlisten;
	int workers;           /* threads; default 1 */
	int max_clients;       /* connections at most; default 100 */
	int handshake_timeout; /* seconds from accept to a finished handshake; default 5 */
	int idle_timeout;      /* seconds without progress; default 10 */
	int line;
} conf_tls_t;

typedef enum { CONF_LOG_STDERR, CONF_LOG_SYSLOG, CONF_LOG_FILE } conf_log_target_t;
typedef enum { CONF_LOG_TEXT, CONF_LOG_JSON } conf_log_format_t;

#define CONF_COOKIE_SECRET_LEN 16 /* RFC 9018: SipHash-2-4 takes a 128-bit key */

/* server.rrl: response rate limiting over UDP (see docs/under-attack.md). */
typedef struct conf_rrl {
	int rate_limit; /* responses per second per account; 0: off (the default) */
	int slip;       /* 0 drops every limited response, 1 truncates each, N every Nth */
	int ipv4_prefix_length, ipv6_prefix_length; /* the client's prefix: 24, 56 */
	int table_size;                             /* buckets per UDP worker */
	conf_prefix_t *whitelist;                   /* never limited */
	size_t nwhitelist;
} conf_rrl_t;

typedef struct conf {
	char *path; /* the file this was read from */

	/* server: */
	conf_addr_t *listen;
	size_t nlisten;
	char *storage;
	char *control;
	char *identity;       /* default: the host name; "" means do not answer */
	char *version;        /* default: "understudy 0.1"; "" means do not answer */
	char *nsid;           /* NULL: no NSID */
	char *user;           /* drop to this user after binding; NULL: stay as started */
	int udp_workers;      /* default: number of CPUs */
	int tcp_workers;      /* default: 1 */
	int tcp_max_clients;  /* default: 1000 */
	int tcp_idle_timeout; /* seconds; default: 10 */
	int udp_max_payload;  /* EDNS buffer size we offer; default 1232 */
	/* Defences (docs/under-attack.md); -1 in a field means "not given" until the defaults. */
	conf_rrl_t rrl;
	bool cookies; /* DNS cookies (RFC 7873, RFC 9018 server cookies); default false */
	uint8_t cookie_secret[2][CONF_COOKIE_SECRET_LEN]; /* [0] makes cookies, [1] is accepted */
	int ncookie_secrets;                              /* 0: generated and kept in storage */
	conf_prefix_t *block;                             /* clients whose queries are dropped */
	size_t nblock;
	int notify_rate_limit;   /* NOTIFY per second per client prefix; 0: no limit */
	int transfer_rate_limit; /* transfer requests per second per client prefix; 0: none */
	int transfers_out;       /* concurrent transfers out, in total */
	int transfers_out_per_address;
	int transfers_in; /* refresh jobs (SOA check, then transfer) at once, in total */
	int transfers_in_per_primary; /* ... whose first choice is the same primary */
	int tcp_io_timeout; /* ms for a whole message once its first byte came (slow clients) */
	int tcp_max_clients_per_address;
	int tcp_nice; /* the TCP workers' nice value above the UDP workers', 0..19; default 10 */
	int fleet_interval; /* zones' default; 60 */
	bool watch_ns;      /* zones' default; true */
	conf_tls_t *tls;    /* NULL: no TLS listener */
	/* server.http: /health, /metrics, /fleet and the status page (docs/monitoring.md). */
	conf_addr_t *http; /* default port 80; none by default */
	size_t nhttp;
	int http_max_clients; /* connections at once, per address; default 32 */
	int http_timeout;     /* seconds a connection may stay without finishing; default 10 */

	/* log: */
	conf_log_target_t log_target;
	char *log_file;               /* CONF_LOG_FILE */
	int log_level;                /* syslog levels: LOG_ERR .. LOG_DEBUG; default LOG_INFO */
	conf_log_format_t log_format; /* default text */

	conf_key_t *keys;
	size_t nkeys;
	conf_remote_t *remotes;
	size_t nremotes;
	conf_acl_t *acls;
	size_t nacls;
	conf_template_t *templates;
	size_t ntemplates;
	conf_zone_t *zones;
	size_t nzones;
} conf_t;

/*
 * Reads and checks the configuration at path. On success returns 0 and *out owns a new conf_t
 * (free it with conf_free). On failure returns a negative US_E* code and writes one message per
 * problem, each "FILE:LINE: what is wrong", to err (a NUL-terminated string of at most errlen
 * bytes, truncated if need be); *out is untouched. US_EINVAL means the file is invalid, US_ENOMEM
 * out of memory (err then says only that), and a file that cannot be read gives -errno with
 * "FILE: cannot open: reason".
 */
int conf_load(const char *path, conf_t **out, char *err, size_t errlen);

/* Frees everything conf owns; conf_free(NULL) is a no-op. */
void conf_free(conf_t *conf);

/* Parses "ADDR@PORT" or "ADDR" (then default_port) into out; 0 or US_EINVAL. */
int conf_parse_addr(const char *text, uint16_t default_port, conf_addr_t *out);

/* Writes "ADDR@PORT" for a into buf (at least 64 bytes). */
void conf_addr_str(const conf_addr_t *a, char *buf, size_t len);

/*
 * Builds in *out a zone named domain (text, any case) from template tpl (an index into
 * conf->templates), defaults filled, as a catalog member is built at run time. 0, US_ENOMEM,
 * or US_EINVAL for a bad name, a bad index, or a template that does not make a whole zone (a
 * secondary without primaries, a primary without a file). Free with conf_zone_deinit, or hand
 * it to conf_add_zone.
 */
int conf_zone_from_template(const conf_t *conf, int tpl, const char *domain, conf_zone_t *out);

/*
 * As conf_zone_from_template, for a catalog member (RFC 9432): always a secondary of the
 * template's primaries (whatever the template's role, which a template shared with primary
 * zones leaves at primary), named by name (wire form, len bytes). 0, US_ENOMEM, or US_EINVAL
 * (a bad index, a template without primaries).
 */
int conf_member_from_template(const conf_t *conf, int tpl, const uint8_t *name, size_t len,
                              conf_zone_t *out);

/* Frees what a zone built by conf_zone_from_template owns (not z itself). */
void conf_zone_deinit(conf_zone_t *z);

/*
 * Appends *z to conf->zones, which takes over what z owns (z is zeroed). 0, US_EEXIST when conf
 * has a zone of that name already (z untouched), or US_ENOMEM. Pointers into conf->zones are
 * invalid after a success: for a conf not yet handed to server_apply_conf.
 */
int conf_add_zone(conf_t *conf, conf_zone_t *z);

/*
 * A deep copy of conf in *out, leaving out the zones catalogs brought (catalog_from >= 0) when
 * without_members: the configuration as the file gave it, to which the members of the catalogs'
 * current versions are added again. 0 or US_ENOMEM.
 */
int conf_copy(const conf_t *conf, bool without_members, conf_t **out);

/* Finds the zone whose lower-cased wire name equals name; NULL if none. */
const conf_zone_t *conf_find_zone(const conf_t *conf, const uint8_t *name, size_t name_len);
