/* SPDX-License-Identifier: MIT */
/* importconf_nsd: NSD's nsd.conf read into understudy's configuration. */
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "importconf.h"

/*
 * nsd.conf is lines of `option: value`, grouped by section headers (`server:`, `zone:`,
 * `key:`, `pattern:`, `remote-control:`, ...) that may repeat; `#` starts a comment, values
 * may be quoted, and `include: "file"` (a glob) may stand anywhere. The reader makes a flat
 * list of entries, each knowing its section, then walks it.
 */
typedef struct entry {
	int section; /* index of the section header's entry; -1 before any */
	char *key;
	char *value; /* the raw value, comment and outer spaces removed */
	const char *file;
	int line;
} entry_t;

typedef struct nsd {
	ic_t *ic;
	entry_t *v;
	size_t n, cap;
	int section;
	const char *zonesdir;
	long port;
} nsd_t;

static const char *const sections[] = {"server", "zone",   "key",      "pattern", "remote-control",
                                       "verify", "dnstap", "tls-auth", NULL};

static bool is_section(const char *k)
{
	for (int i = 0; sections[i]; i++)
		if (!strcmp(k, sections[i]))
			return true;
	return false;
}

static void push(nsd_t *n, const entry_t *e)
{
	if (n->n == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 64;
		entry_t *v = ic_alloc(n->ic, cap * sizeof(*v));
		if (n->n)
			memcpy(v, n->v, n->n * sizeof(*v));
		n->v = v;
		n->cap = cap;
	}
	n->v[n->n++] = *e;
}

static int read_file(nsd_t *n, const char *path, const char *from, int fline);

static void include(nsd_t *n, const char *pattern, const char *file, int line)
{
	ic_t *ic = n->ic;
	if (ic->no_include) {
		ic_report(ic, file, line, "include \"%s\": not read here", pattern);
		return;
	}
	if (ic->include_depth >= IC_MAX_INCLUDE_DEPTH) {
		ic_report(ic, file, line, "include \"%s\": includes nested more than %d deep",
		          pattern, IC_MAX_INCLUDE_DEPTH);
		return;
	}
	glob_t g;
	int ret = glob(pattern, 0, NULL, &g);
	if (ret == GLOB_NOMATCH && strpbrk(pattern, "*?[")) {
		return; /* nsd reads nothing for a pattern that matches nothing: nor do we */
	} else if (ret != 0) {
		read_file(n, pattern, file, line); /* says why it cannot be read */
		return;
	}
	for (size_t i = 0; i < g.gl_pathc; i++)
		read_file(n, ic_strdup(ic, g.gl_pathv[i]), file, line);
	globfree(&g);
}

/* The first word of a value, unquoted; *rest gets what follows. NULL when it is empty. */
static char *take(ic_t *ic, const char *s, const char **rest)
{
	if (rest)
		*rest = s;
	if (!s)
		return NULL;
	while (*s == ' ' || *s == '\t')
		s++;
	if (rest)
		*rest = s;
	if (!*s)
		return NULL;
	const char *start = s, *end;
	if (*s == '"' || *s == '\'') {
		char quote = *s++;
		start = s;
		end = strchr(s, quote);
		if (!end)
			end = s + strlen(s);
		s = *end ? end + 1 : end;
	} else {
		while (*s && *s != ' ' && *s != '\t')
			s++;
		end = s;
	}
	if (rest)
		*rest = s;
	return ic_strndup(ic, start, (size_t)(end - start));
}

static int read_file(nsd_t *n, const char *path, const char *from, int fline)
{
	ic_t *ic = n->ic;
	size_t len;
	char *text = ic_read_file(ic, path, &len, from, fline);
	if (!text)
		return -1;
	const char *file = ic_strdup(ic, path);
	ic->include_depth++;
	int line = 0;
	for (char *p = text; p && *p;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		line++;
		/* The comment ends the line, outside quotes. */
		char quote = 0;
		for (char *c = p; *c; c++) {
			if (quote) {
				quote = *c == quote ? 0 : quote;
			} else if (*c == '"' || *c == '\'') {
				quote = *c;
			} else if (*c == '#') {
				*c = 0;
				break;
			}
		}
		char *s = p;
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		size_t l = strlen(s);
		while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r'))
			s[--l] = 0;
		p = nl ? nl + 1 : NULL;
		if (!*s)
			continue;
		char *colon = strchr(s, ':');
		if (!colon || colon == s) {
			ic_report(
			    ic, file, line,
			    "\"%s\": not an \"option: value\" line: nsd would not start with it",
			    s);
			ic->syntax_error = true;
			continue;
		}
		char *key = ic_strndup(ic, s, (size_t)(colon - s));
		const char *value = colon + 1;
		while (*value == ' ' || *value == '\t')
			value++;
		if (!strcmp(key, "include")) {
			char *f = take(ic, value, NULL);
			if (f)
				include(n, f, file, line);
			else
				ic_report(ic, file, line, "include: no file named");
			continue;
		}
		entry_t e = {.section = n->section,
		             .key = key,
		             .value = ic_strdup(ic, value),
		             .file = file,
		             .line = line};
		if (!*value && is_section(key)) {
			n->section = (int)n->n;
			e.section = -1;
		}
		push(n, &e);
	}
	ic->include_depth--;
	return 0;
}

static const char *section_of(const nsd_t *n, const entry_t *e)
{
	return e->section >= 0 ? n->v[e->section].key : NULL;
}

/* The value of option key in the section starting at entry s, or NULL. */
static const entry_t *get(const nsd_t *n, int s, const char *key)
{
	for (size_t i = (size_t)s + 1; i < n->n && n->v[i].section == s; i++)
		if (!strcmp(n->v[i].key, key))
			return &n->v[i];
	return NULL;
}

/* An option given no value, or "". */
static bool empty(ic_t *ic, const char *value)
{
	char *v = take(ic, value, NULL);
	return !v || !*v;
}

static bool yes(const char *v)
{
	return v && !strcmp(v, "yes");
}

static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	if (!s || !*s)
		return false;
	long v = strtol(s, &end, 10);
	if (*end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* "ADDR" or "ADDR@PORT" (nsd's form, also for IPv6) to understudy's; NULL if neither. */
static char *addr_port(ic_t *ic, const char *text, long port)
{
	const char *at = strrchr(text, '@');
	long p = port;
	if (at && !parse_long(at + 1, 1, 65535, &p))
		return NULL;
	char *a = ic_strndup(ic, text, at ? (size_t)(at - text) : strlen(text));
	return ic_addr(ic, a, p);
}

/* --- zones and patterns */

typedef struct zone_ctx {
	nsd_t *n;
	ic_zone_t *z;
	const char *zname;
	const char *via4, *via6; /* outgoing-interface */
	const entry_t *catalog;  /* `catalog:`, the last one given */
	const entry_t *member_pattern;
	int depth;
	int stack[16]; /* the patterns being read, against one that includes itself */
} zone_ctx_t;

static int find_pattern(const nsd_t *n, const char *name)
{
	for (size_t i = 0; i < n->n; i++)
		if (n->v[i].section == -1 && !strcmp(n->v[i].key, "pattern")) {
			const entry_t *e = get(n, (int)i, "name");
			char *v = e ? take(n->ic, e->value, NULL) : NULL;
			if (v && !strcmp(v, name))
				return (int)i;
		}
	return -1;
}

/* The key word after an address: a key's name, NOKEY or BLOCKED. */
static const char *key_word(zone_ctx_t *c, const entry_t *e, const char *k, bool *blocked)
{
	*blocked = false;
	if (!k || !strcmp(k, "NOKEY"))
		return NULL;
	if (!strcmp(k, "BLOCKED")) {
		*blocked = true;
		return NULL;
	}
	if (!ic_key_known(c->n->ic, k)) {
		ic_report(c->n->ic, e->file, e->line, "%s: key %s was not translated", e->key, k);
		return "";
	}
	return k;
}

/* provide-xfr / allow-notify: IPSPEC KEY|NOKEY|BLOCKED. */
static void acl_entry(zone_ctx_t *c, const entry_t *e, int action)
{
	ic_t *ic = c->n->ic;
	const char *rest;
	char *spec = take(ic, e->value, &rest), *k = take(ic, rest, &rest);
	bool blocked;
	const char *key = key_word(c, e, k, &blocked);
	if (!spec || !k || (rest && take(ic, rest, NULL))) {
		ic_report(ic, e->file, e->line,
		          "%s: expected an address and a key (or NOKEY or "
		          "BLOCKED); left out",
		          e->key);
		return;
	}
	if (key && !*key)
		return;
	char *at = strchr(spec, '@');
	if (at) {
		*at = 0;
		ic_report(ic, e->file, e->line,
		          "%s %s: the port is not translated; any port is "
		          "matched",
		          e->key, spec);
	}
	ic_strv_t addr = {0};
	if (strcmp(spec, "0.0.0.0/0") && strcmp(spec, "::/0")) {
		char *p = ic_prefix(ic, spec);
		if (!p) {
			ic_report(ic, e->file, e->line,
			          "%s %s: only addresses and prefixes are "
			          "translated (not masks or ranges); rule left out",
			          e->key, spec);
			return;
		}
		ic_strv_push(ic, &addr, p);
	} else {
		/* "any address" in understudy is the rule without one; nsd's 0.0.0.0/0 is the
		 * IPv4 half, so it stays a prefix. */
		ic_strv_push(ic, &addr, ic_prefix(ic, spec));
	}
	const char *id =
	    ic_acl_get(ic, &addr, key, action, blocked, (ic_where_t){e->file, e->line});
	if (!ic_strv_has(&c->z->acl, id))
		ic_strv_push(ic, &c->z->acl, id);
}

/* request-xfr: [AXFR|UDP] ADDR[@PORT] KEY|NOKEY; notify: ADDR[@PORT] KEY|NOKEY. */
static void remote_entry(zone_ctx_t *c, const entry_t *e, ic_strv_t *ids)
{
	ic_t *ic = c->n->ic;
	const char *rest;
	char *first = take(ic, e->value, &rest);
	if (first && (!strcmp(first, "AXFR") || !strcmp(first, "UDP"))) {
		ic_report(ic, e->file, e->line,
		          "%s %s: not translated: understudy asks for IXFR "
		          "over TCP first and falls back to AXFR by itself",
		          e->key, first);
		first = take(ic, rest, &rest);
	}
	char *k = take(ic, rest, &rest);
	char *extra = rest ? take(ic, rest, NULL) : NULL;
	if (extra)
		ic_report(ic, e->file, e->line,
		          "%s: %s: not translated (TLS is not yet understudy's)", e->key, extra);
	char *addr = first ? addr_port(ic, first, 53) : NULL;
	bool blocked;
	const char *key = k ? key_word(c, e, k, &blocked) : NULL;
	if (!addr || !k || blocked) {
		ic_report(ic, e->file, e->line,
		          "%s: expected an address and a key or NOKEY; left "
		          "out",
		          e->key);
		return;
	}
	if (key && !*key)
		return;
	ic_strv_t a = {0};
	ic_strv_push(ic, &a, addr);
	const char *via = strchr(addr, ':') ? c->via6 : c->via4;
	const char *id = ic_remote_get(ic, &a, key, via, NULL, (ic_where_t){e->file, e->line});
	if (!ic_strv_has(ids, id))
		ic_strv_push(ic, ids, id);
}

static void zone_options(zone_ctx_t *c, int s);

static void zone_option(zone_ctx_t *c, const entry_t *e)
{
	ic_t *ic = c->n->ic;
	ic_zone_t *z = c->z;
	const char *k = e->key;
	long v;
	static const struct {
		const char *nsd, *ours;
	} timers[] = {{"min-refresh-time", "refresh-min-interval"},
	              {"max-refresh-time", "refresh-max-interval"},
	              {"min-retry-time", "retry-min-interval"},
	              {"max-retry-time", "retry-max-interval"},
	              {"min-expire-time", "expire-min-interval"}};
	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++)
		if (!strcmp(k, timers[i].nsd)) {
			if (parse_long(e->value, 1, 0x7FFFFFFF, &v))
				ic_option_set(ic, &z->extra, timers[i].ours, v);
			else
				ic_report(ic, e->file, e->line, "%s: not a number of seconds", k);
			return;
		}
	if (!strcmp(k, "name") || !strcmp(k, "outgoing-interface")) {
		return;
	} else if (!strcmp(k, "include-pattern")) {
		char *name = take(ic, e->value, NULL);
		int p = name ? find_pattern(c->n, name) : -1;
		bool cycle = false;
		for (int i = 0; i < c->depth; i++)
			cycle |= c->stack[i] == p;
		if (p < 0) {
			ic_report(ic, e->file, e->line, "include-pattern: no pattern \"%s\"",
			          name ? name : "");
		} else if (cycle) {
			ic_report(ic, e->file, e->line,
			          "include-pattern %s: the pattern includes itself; not read again",
			          name);
		} else if (c->depth >= 16) {
			ic_report(ic, e->file, e->line, "include-pattern %s: nested too deep",
			          name);
		} else {
			c->stack[c->depth++] = p;
			zone_options(c, p);
			c->depth--;
		}
	} else if (!strcmp(k, "zonefile")) {
		char *f = take(ic, e->value, NULL);
		if (!f)
			return;
		/* nsd's patterns in the name: %s the zone, %1 %2 %3 its first letters, %z the
		 * top-level label, %y the next, %x the one after. */
		char *out = ic_strdup(ic, "");
		for (const char *p = f; *p; p++) {
			if (*p != '%' || !p[1]) {
				out = ic_printf(ic, "%s%c", out, *p);
				continue;
			}
			char d = *++p;
			const char *zn = c->zname;
			size_t zl = strlen(zn);
			if (d == 's') {
				out = ic_printf(ic, "%s%s", out, zn);
			} else if (d >= '1' && d <= '3') {
				size_t i = (size_t)(d - '1');
				out = ic_printf(ic, "%s%c", out,
				                i < zl && zn[i] != '.' ? zn[i] : '.');
			} else if (d == 'z' || d == 'y' || d == 'x') {
				/* Labels from the right: z the last, y the one before, x before it.
				 */
				int want = d == 'z' ? 0 : d == 'y' ? 1 : 2;
				const char *endp = zn + zl;
				for (int i = 0; i < want && endp > zn; i++) {
					const char *dot = endp;
					while (dot > zn && dot[-1] != '.')
						dot--;
					endp = dot > zn ? dot - 1 : zn;
				}
				const char *st = endp;
				while (st > zn && st[-1] != '.')
					st--;
				out = ic_printf(ic, "%s%.*s", out, (int)(endp - st), st);
			} else {
				out = ic_printf(ic, "%s%%%c", out, d);
				ic_report(ic, e->file, e->line,
				          "zonefile: %%%c is not a pattern nsd "
				          "knows; kept as written",
				          d);
			}
		}
		z->file = ic_path(ic, c->n->zonesdir, out);
	} else if (!strcmp(k, "request-xfr")) {
		z->secondary = true;
		remote_entry(c, e, &z->primaries);
	} else if (!strcmp(k, "notify")) {
		remote_entry(c, e, &z->notify);
	} else if (!strcmp(k, "provide-xfr")) {
		acl_entry(c, e, IC_TRANSFER);
	} else if (!strcmp(k, "allow-notify")) {
		acl_entry(c, e, IC_NOTIFY);
	} else if (!strcmp(k, "size-limit-xfr")) {
		v = -1;
		if (parse_long(e->value, 0, 0x7FFFFFFF, &v) && v >= 1024)
			ic_option_set(ic, &z->extra, "max-zone-size", v);
		else if (v != 0)
			ic_report(ic, e->file, e->line,
			          "size-limit-xfr: not a size understudy takes "
			          "(1024 bytes or more)");
	} else if (!strcmp(k, "allow-axfr-fallback") && yes(e->value)) {
		return; /* understudy falls back to AXFR whenever IXFR cannot be had */
	} else if (!strcmp(k, "catalog")) {
		c->catalog = e;
	} else if (!strcmp(k, "catalog-member-pattern")) {
		c->member_pattern = e;
	} else if (!strcmp(k, "catalog-producer-zone")) {
		/* nsd.conf(5): it makes members of the zones `nsd-control addzone` adds with the
		 * pattern; those are in nsd's zone list file, not in nsd.conf. */
		ic_report(ic, e->file, e->line,
		          "catalog-producer-zone %s: not translated: nsd lists in that catalog the "
		          "zones nsd-control addzone adds with this pattern, which are not in "
		          "nsd.conf; give each of them catalog-zone (and catalog-group: the "
		          "pattern's name, as nsd does) in understudy.yaml",
		          e->value);
	} else if (!strcmp(k, "store-ixfr") || !strcmp(k, "create-ixfr") ||
	           !strcmp(k, "ixfr-number") || !strcmp(k, "ixfr-size")) {
		ic_report(ic, e->file, e->line,
		          "%s: not translated: understudy always keeps a "
		          "journal of each zone's changes for IXFR out (journal-max-depth, "
		          "journal-max-size)",
		          k);
	} else {
		ic_report(ic, e->file, e->line,
		          "%s: not translated: understudy has no such zone "
		          "option",
		          k);
	}
}

static void zone_options(zone_ctx_t *c, int s)
{
	/* The source addresses first: they go into the remotes made below. */
	for (size_t i = (size_t)s + 1; i < c->n->n && c->n->v[i].section == s; i++) {
		const entry_t *e = &c->n->v[i];
		if (strcmp(e->key, "outgoing-interface"))
			continue;
		char *a = take(c->n->ic, e->value, NULL);
		char *addr = a && !strchr(a, '@') ? ic_addr(c->n->ic, a, 53) : NULL;
		if (!addr) {
			ic_report(c->n->ic, e->file, e->line,
			          "outgoing-interface %s: only an address "
			          "without port is translated",
			          a ? a : "");
			continue;
		}
		*strrchr(addr, '@') = 0;
		const char **slot = strchr(addr, ':') ? &c->via6 : &c->via4;
		if (*slot)
			ic_report(c->n->ic, e->file, e->line,
			          "outgoing-interface %s: understudy uses "
			          "one source address per family; %s is kept",
			          addr, *slot);
		else
			*slot = addr;
	}
	for (size_t i = (size_t)s + 1; i < c->n->n && c->n->v[i].section == s; i++)
		zone_option(c, &c->n->v[i]);
}

/* The understudy template for pattern p (its name, name); NULL when understudy takes no such id. */
static ic_template_t *pattern_template(nsd_t *n, int p, const char *name)
{
	ic_t *ic = n->ic;
	ic_template_t *t = ic_template_find(ic, name);
	if (t)
		return t;
	if (!*name || strlen(name) > 255)
		return NULL;
	t = ic_template_add(ic, name, (ic_where_t){n->v[p].file, n->v[p].line});
	zone_ctx_t c = {.n = n, .z = &t->z, .zname = "%s"};
	c.stack[c.depth++] = p;
	zone_options(&c, p);
	/* Members' files: nsd's patterns need the zone's name; understudy keeps members in
	 * server.storage anyway. */
	t->z.file = NULL;
	return t;
}

/*
 * nsd 4.9's catalog option (nsd.conf(5)): a consumer takes the pattern a member's group names,
 * else catalog-member-pattern; a producer lists the zones nsd-control addzone added.
 */
static void read_catalog(zone_ctx_t *c)
{
	ic_t *ic = c->n->ic;
	ic_zone_t *z = c->z;
	const entry_t *e = c->catalog, *mp = c->member_pattern;
	char *role = e ? take(ic, e->value, NULL) : NULL;
	if (mp && (!role || strcmp(role, "consumer")))
		ic_report(
		    ic, mp->file, mp->line,
		    "catalog-member-pattern: nsd uses it on a catalog consumer only; left out");
	if (!role)
		return;
	if (!strcmp(role, "producer")) {
		if (z->secondary) {
			ic_report(ic, e->file, e->line,
			          "catalog: producer with request-xfr: nsd refuses it; left out");
			return;
		}
		z->catalog = IC_CAT_PRODUCER;
		ic_report(ic, e->file, e->line,
		          "zone %s: catalog: producer: translated, but its members are the zones "
		          "nsd-control addzone added (nsd's zone list file, not read here): give "
		          "them catalog-zone: %s in understudy.yaml",
		          z->domain, z->domain);
		return;
	}
	if (strcmp(role, "consumer")) {
		ic_report(ic, e->file, e->line, "catalog: %s: not one nsd has; left out", role);
		return;
	}
	if (!z->secondary) {
		ic_report(ic, e->file, e->line,
		          "zone %s: catalog: consumer on a catalog nsd reads from its zone file: "
		          "understudy consumes the catalogs it transfers (request-xfr); translated "
		          "as an ordinary primary, its members are not",
		          z->domain);
		return;
	}
	char *name = mp ? take(ic, mp->value, NULL) : NULL;
	int p = name ? find_pattern(c->n, name) : -1;
	if (p < 0) {
		ic_report(
		    ic, mp ? mp->file : e->file, mp ? mp->line : e->line,
		    "zone %s: catalog: consumer %s; translated as an ordinary secondary", z->domain,
		    name ? ic_printf(ic, "with catalog-member-pattern %s, no such pattern", name)
		         : "without catalog-member-pattern");
		return;
	}
	z->catalog = IC_CAT_CONSUMER;
	pattern_template(c->n, p, name);
	ic_strv_push(ic, &z->catalog_templates, name);
	/* A member's group may name any other pattern fit for members: those with primaries. */
	for (size_t i = 0; i < c->n->n; i++) {
		if (c->n->v[i].section != -1 || strcmp(c->n->v[i].key, "pattern") || (int)i == p ||
		    !get(c->n, (int)i, "request-xfr"))
			continue;
		const entry_t *ne = get(c->n, (int)i, "name");
		char *other = ne ? take(ic, ne->value, NULL) : NULL;
		if (other && !ic_strv_has(&z->catalog_templates, other) &&
		    pattern_template(c->n, (int)i, other))
			ic_strv_push(ic, &z->catalog_templates, other);
	}
}

static void read_zone(nsd_t *n, int s)
{
	ic_t *ic = n->ic;
	const entry_t *h = &n->v[s], *ne = get(n, s, "name");
	char *name = ne ? take(ic, ne->value, NULL) : NULL;
	if (!name) {
		ic_report(ic, h->file, h->line, "zone: no name; left out");
		return;
	}
	ic_zone_t *z = ic_zone_add(ic, name, (ic_where_t){h->file, h->line});
	if (!z)
		return;
	zone_ctx_t c = {.n = n, .z = z, .zname = z->domain};
	zone_options(&c, s);
	read_catalog(&c);
}

static void read_key(nsd_t *n, int s)
{
	ic_t *ic = n->ic;
	const entry_t *h = &n->v[s];
	const entry_t *ne = get(n, s, "name"), *ae = get(n, s, "algorithm"),
	              *se = get(n, s, "secret");
	char *name = ne ? take(ic, ne->value, NULL) : NULL;
	if (!name) {
		ic_report(ic, h->file, h->line, "key: no name; left out");
		return;
	}
	for (size_t i = (size_t)s + 1; i < n->n && n->v[i].section == s; i++) {
		const char *k = n->v[i].key;
		if (strcmp(k, "name") && strcmp(k, "algorithm") && strcmp(k, "secret"))
			ic_report(ic, n->v[i].file, n->v[i].line, "key %s: %s: not translated",
			          name, k);
	}
	ic_key_add(ic, name, ae ? take(ic, ae->value, NULL) : NULL,
	           se ? take(ic, se->value, NULL) : NULL, (ic_where_t){h->file, h->line});
}

/* nsid: hex, or "ascii_" and the text. */
static char *nsid(ic_t *ic, const entry_t *e)
{
	char *v = take(ic, e->value, NULL);
	if (!v)
		return NULL;
	if (!strncmp(v, "ascii_", 6))
		return v[6] ? ic_strdup(ic, v + 6) : NULL;
	size_t len = strlen(v);
	char *out = ic_alloc(ic, len / 2 + 1);
	if (len == 0 || len % 2)
		goto bad;
	for (size_t i = 0; i < len; i += 2) {
		int x = 0;
		for (int j = 0; j < 2; j++) {
			char d = v[i + (size_t)j];
			int h = d >= '0' && d <= '9'   ? d - '0'
			        : d >= 'a' && d <= 'f' ? d - 'a' + 10
			        : d >= 'A' && d <= 'F' ? d - 'A' + 10
			                               : -1;
			if (h < 0)
				goto bad;
			x = x * 16 + h;
		}
		if (x < 0x21 || x > 0x7E)
			goto bad;
		out[i / 2] = (char)x;
	}
	return out;
bad:
	ic_report(ic, e->file, e->line, "nsid %s: understudy's nsid is printable text; left out",
	          v);
	return NULL;
}

static void read_server(nsd_t *n, int s)
{
	ic_t *ic = n->ic;
	static const char *const own_files[] = {"database", "zonelistfile", "xfrdfile",
	                                        "xfrdir",   "pidfile",      "cookie-secret-file",
	                                        NULL};
	for (size_t i = (size_t)s + 1; i < n->n && n->v[i].section == s; i++) {
		const entry_t *e = &n->v[i];
		const char *k = e->key;
		long v;
		bool own = false;
		for (int j = 0; own_files[j]; j++)
			own |= !strcmp(k, own_files[j]);
		if (!strcmp(k, "ip-address") || !strcmp(k, "interface") || !strcmp(k, "port") ||
		    !strcmp(k, "do-ip4") || !strcmp(k, "do-ip6") || !strcmp(k, "zonesdir")) {
			continue; /* read below */
		} else if (!strcmp(k, "identity")) {
			ic->identity = take(ic, e->value, NULL);
			if (!ic->identity)
				ic->identity = ic_strdup(ic, "");
		} else if (!strcmp(k, "hide-identity")) {
			if (yes(e->value))
				ic->identity = ic_strdup(ic, "");
		} else if (!strcmp(k, "version")) {
			ic->version = take(ic, e->value, NULL);
			if (!ic->version)
				ic->version = ic_strdup(ic, "");
		} else if (!strcmp(k, "hide-version")) {
			if (yes(e->value))
				ic->version = ic_strdup(ic, "");
		} else if (!strcmp(k, "nsid")) {
			ic->nsid = nsid(ic, e);
		} else if (!strcmp(k, "tcp-count") && parse_long(e->value, 1, 100000, &v)) {
			ic_option_set(ic, &ic->server_extra, "tcp-max-clients", v);
		} else if (!strcmp(k, "tcp-timeout") && parse_long(e->value, 1, 3600, &v)) {
			ic_option_set(ic, &ic->server_extra, "tcp-idle-timeout", v);
		} else if ((!strcmp(k, "ipv4-edns-size") || !strcmp(k, "ipv6-edns-size")) &&
		           parse_long(e->value, 512, 4096, &v)) {
			ic_option_set(ic, &ic->server_extra, "udp-max-payload", v);
		} else if (!strcmp(k, "logfile") || !strcmp(k, "log-only-syslog") ||
		           !strcmp(k, "verbosity") || !strcmp(k, "log-time-ascii")) {
			ic_report(ic, e->file, e->line,
			          "%s: not translated: understudy logs to one "
			          "target at one level (log.target, log.level)",
			          k);
		} else if (!strcmp(k, "username") && empty(ic, e->value)) {
			continue; /* no user switch: understudy's default too */
		} else if (!strcmp(k, "username")) {
			ic_report(ic, e->file, e->line,
			          "username %s: not translated: understudy runs "
			          "as its own user (server.user; the package makes \"understudy\")",
			          e->value);
		} else if (!strcmp(k, "chroot") && empty(ic, e->value)) {
			continue;
		} else if (own) {
			ic_report(ic, e->file, e->line,
			          "%s: not translated: a file of nsd's own; "
			          "understudy keeps its state in server.storage",
			          k);
		} else if (!strncmp(k, "rrl-", 4)) {
			ic_report(ic, e->file, e->line,
			          "%s: not translated: understudy has no "
			          "response rate limiting yet",
			          k);
		} else {
			ic_report(ic, e->file, e->line,
			          "%s: not translated: understudy has no such "
			          "option",
			          k);
		}
	}
}

/* Listen addresses from every server: section: ip-address, port, do-ip4, do-ip6. */
static void read_listen(nsd_t *n)
{
	ic_t *ic = n->ic;
	bool ip4 = true, ip6 = true;
	for (size_t i = 0; i < n->n; i++) {
		const entry_t *e = &n->v[i];
		if (!section_of(n, e) || strcmp(section_of(n, e), "server"))
			continue;
		if (!strcmp(e->key, "port") && !parse_long(e->value, 1, 65535, &n->port))
			ic_report(ic, e->file, e->line, "port: not a port number; 53 assumed");
		else if (!strcmp(e->key, "do-ip4"))
			ip4 = yes(e->value);
		else if (!strcmp(e->key, "do-ip6"))
			ip6 = yes(e->value);
		else if (!strcmp(e->key, "zonesdir"))
			n->zonesdir = take(ic, e->value, NULL);
	}
	bool any = false;
	for (size_t i = 0; i < n->n; i++) {
		const entry_t *e = &n->v[i];
		if (!section_of(n, e) || strcmp(section_of(n, e), "server") ||
		    (strcmp(e->key, "ip-address") && strcmp(e->key, "interface")))
			continue;
		const char *rest;
		char *a = take(ic, e->value, &rest);
		char *more = rest ? take(ic, rest, NULL) : NULL;
		char *addr = a ? addr_port(ic, a, n->port) : NULL;
		any = true;
		if (more)
			ic_report(ic, e->file, e->line,
			          "%s: %s: not translated (understudy's "
			          "workers share every address)",
			          e->key, more);
		if (!addr) {
			ic_report(ic, e->file, e->line,
			          "%s %s: only addresses are translated, not "
			          "interface names",
			          e->key, a ? a : "");
			continue;
		}
		bool v6 = strchr(addr, ':') != NULL;
		if ((v6 && !ip6) || (!v6 && !ip4))
			continue;
		if (!ic_strv_has(&ic->listen, addr))
			ic_strv_push(ic, &ic->listen, addr);
	}
	if (!any) {
		/* nsd's default: every address. */
		if (ip4)
			ic_strv_push(ic, &ic->listen, ic_addr(ic, "0.0.0.0", n->port));
		if (ip6)
			ic_strv_push(ic, &ic->listen, ic_addr(ic, "::", n->port));
		ic_report(ic, n->n ? n->v[0].file : "nsd.conf", 0,
		          "no ip-address: nsd listens "
		          "on every address; the translation listens on 0.0.0.0 and ::, so on a "
		          "host with several addresses list them instead");
	}
}

int ic_read_nsd(ic_t *ic, const char *path)
{
	nsd_t n = {.ic = ic, .section = -1, .port = 53};
	if (read_file(&n, path, NULL, 0) < 0)
		return -1;
	read_listen(&n);
	for (size_t i = 0; i < n.n; i++)
		if (n.v[i].section == -1 && !strcmp(n.v[i].key, "key"))
			read_key(&n, (int)i);
	for (size_t i = 0; i < n.n; i++) {
		const entry_t *e = &n.v[i];
		if (e->section != -1) {
			if (!section_of(&n, e) && !is_section(e->key))
				ic_report(ic, e->file, e->line, "%s: outside any section; left out",
				          e->key);
			continue;
		}
		if (!strcmp(e->key, "server"))
			read_server(&n, (int)i);
		else if (!strcmp(e->key, "zone"))
			read_zone(&n, (int)i);
		else if (!strcmp(e->key, "key") || !strcmp(e->key, "pattern"))
			continue; /* keys above; patterns where zones include them */
		else if (!strcmp(e->key, "remote-control")) {
			const entry_t *en = get(&n, (int)i, "control-enable");
			if (en && yes(en->value))
				ic_report(ic, e->file, e->line,
				          "remote-control: not translated: "
				          "understudy ctl uses server.control, a Unix socket for "
				          "root and "
				          "the server's user");
			for (size_t j = i + 1; j < n.n && n.v[j].section == (int)i; j++)
				if (strcmp(n.v[j].key, "control-enable"))
					ic_report(ic, n.v[j].file, n.v[j].line,
					          "remote-control: %s: not "
					          "translated",
					          n.v[j].key);
		} else {
			ic_report(ic, e->file, e->line,
			          "%s: section not translated: understudy has no "
			          "%s",
			          e->key, e->key);
			for (size_t j = i + 1; j < n.n && n.v[j].section == (int)i; j++)
				ic_report(ic, n.v[j].file, n.v[j].line, "%s: %s: not translated",
				          e->key, n.v[j].key);
		}
	}
	/* nsd.conf(5): with more than one catalog consumer, nsd processes none of them. */
	size_t consumers = 0;
	for (size_t i = 0; i < ic->nzones; i++)
		consumers += ic->zones[i].catalog == IC_CAT_CONSUMER;
	for (size_t i = 0; consumers > 1 && i < ic->nzones; i++)
		if (ic->zones[i].catalog == IC_CAT_CONSUMER) {
			ic->zones[i].catalog = IC_CAT_NONE;
			ic_report(
			    ic, ic->zones[i].at.file, ic->zones[i].at.line,
			    "zone %s: one of %zu catalog consumers, and nsd processes none when "
			    "there are several; translated as an ordinary secondary",
			    ic->zones[i].domain, consumers);
		}
	/* A pattern no zone includes has nothing to translate; one without a name is an error. */
	for (size_t i = 0; i < n.n; i++) {
		if (n.v[i].section != -1 || strcmp(n.v[i].key, "pattern"))
			continue;
		const entry_t *ne = get(&n, (int)i, "name");
		char *name = ne ? take(ic, ne->value, NULL) : NULL;
		bool used = false;
		for (size_t j = 0; name && j < n.n && !used; j++)
			used = !strcmp(n.v[j].key, "include-pattern") &&
			       !strcmp(take(ic, n.v[j].value, NULL) ? take(ic, n.v[j].value, NULL)
			                                            : "",
			               name);
		used |= name && ic_template_find(ic, name);
		if (!name)
			ic_report(ic, n.v[i].file, n.v[i].line, "pattern: no name; left out");
		else if (!used)
			ic_report(ic, n.v[i].file, n.v[i].line,
			          "pattern %s: no zone includes it; "
			          "nothing translated from it",
			          name);
	}
	return 0;
}
