/* SPDX-License-Identifier: MIT */
/* importconf_named: BIND's named.conf read into understudy's configuration. */
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "importconf.h"

/*
 * named.conf is statements ended by ';', each a run of words, quoted strings and blocks in
 * braces, which hold statements again: `zone "x" { type secondary; primaries { 192.0.2.1; };
 * };`. Comments are #, // and C style. The reader builds that tree (includes spliced in),
 * then walks it.
 */
typedef struct nc_stmt nc_stmt_t;

typedef struct nc_block {
	nc_stmt_t *v;
	size_t n, cap;
} nc_block_t;

typedef struct nc_item {
	char *word;        /* NULL for a block */
	nc_block_t *block; /* NULL for a word */
	bool quoted;
	int line;
} nc_item_t;

struct nc_stmt {
	nc_item_t *items;
	size_t n, cap;
	const char *file;
	int line;
};

#define NC_MAX_DEPTH 32

typedef struct lexer {
	ic_t *ic;
	const char *file, *p, *end, *dir;
	int line;
	bool failed;
} lexer_t;

typedef enum { T_EOF, T_WORD, T_STRING, T_OPEN, T_CLOSE, T_SEMI, T_ERROR } tok_t;

static void skip_space(lexer_t *lx)
{
	while (lx->p < lx->end) {
		char c = *lx->p;
		if (c == '\n') {
			lx->line++;
			lx->p++;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
			lx->p++;
		} else if (c == '#' || (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '/')) {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
			int start = lx->line;
			lx->p += 2;
			while (lx->p + 1 < lx->end && !(lx->p[0] == '*' && lx->p[1] == '/')) {
				lx->line += *lx->p == '\n';
				lx->p++;
			}
			if (lx->p + 1 >= lx->end) {
				ic_report(lx->ic, lx->file, start, "a comment that does not end");
				lx->failed = true;
				lx->p = lx->end;
				return;
			}
			lx->p += 2;
		} else {
			return;
		}
	}
}

static tok_t next(lexer_t *lx, char **word, int *line)
{
	skip_space(lx);
	*line = lx->line;
	if (lx->failed)
		return T_ERROR;
	if (lx->p >= lx->end)
		return T_EOF;
	char c = *lx->p;
	if (c == '{' || c == '}' || c == ';') {
		lx->p++;
		return c == '{' ? T_OPEN : c == '}' ? T_CLOSE : T_SEMI;
	}
	if (c == '"') {
		const char *s = ++lx->p;
		char *buf = ic_alloc(lx->ic, (size_t)(lx->end - s) + 1);
		size_t n = 0;
		while (lx->p < lx->end && *lx->p != '"') {
			if (*lx->p == '\\' && lx->p + 1 < lx->end)
				lx->p++;
			lx->line += *lx->p == '\n';
			buf[n++] = *lx->p++;
		}
		if (lx->p >= lx->end) {
			ic_report(lx->ic, lx->file, *line, "a quoted string that does not end");
			lx->failed = true;
			return T_ERROR;
		}
		lx->p++;
		buf[n] = 0;
		*word = buf;
		return T_STRING;
	}
	const char *s = lx->p;
	/* "!" is a word of its own: `!192.0.2.1` is a negated element. */
	if (c == '!') {
		lx->p++;
		*word = ic_strdup(lx->ic, "!");
		return T_WORD;
	}
	while (lx->p < lx->end && !strchr(" \t\r\n\f\v{};\"#!", *lx->p) &&
	       !(*lx->p == '/' && lx->p + 1 < lx->end && (lx->p[1] == '/' || lx->p[1] == '*')))
		lx->p++;
	*word = ic_strndup(lx->ic, s, (size_t)(lx->p - s));
	return T_WORD;
}

static void push_item(ic_t *ic, nc_stmt_t *st, nc_item_t it)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 4;
		nc_item_t *v = ic_alloc(ic, cap * sizeof(*v));
		if (st->n)
			memcpy(v, st->items, st->n * sizeof(*v));
		st->items = v;
		st->cap = cap;
	}
	st->items[st->n++] = it;
}

static void push_stmt(ic_t *ic, nc_block_t *b, const nc_stmt_t *st)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8;
		nc_stmt_t *v = ic_alloc(ic, cap * sizeof(*v));
		if (b->n)
			memcpy(v, b->v, b->n * sizeof(*v));
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = *st;
}

static int parse_file(ic_t *ic, const char *path, nc_block_t *into, const char *from, int line);

/* Parses statements into b until '}' (inner) or the end of the file (top); false on error. */
static bool parse_block(lexer_t *lx, nc_block_t *b, int depth, bool inner)
{
	if (depth > NC_MAX_DEPTH) {
		ic_report(lx->ic, lx->file, lx->line, "blocks nested more than %d deep",
		          NC_MAX_DEPTH);
		return false;
	}
	for (;;) {
		nc_stmt_t st = {.file = lx->file};
		char *w = NULL;
		int line;
		tok_t t = next(lx, &w, &line);
		st.line = line;
		if (t == T_ERROR)
			return false;
		if (t == T_EOF) {
			if (inner) {
				ic_report(lx->ic, lx->file, line,
				          "a block that does not end ('}' "
				          "missing)");
				return false;
			}
			return true;
		}
		if (t == T_CLOSE) {
			if (!inner) {
				ic_report(lx->ic, lx->file, line, "'}' without a block to end");
				return false;
			}
			return true;
		}
		/* One statement: items up to ';'. */
		for (; t != T_SEMI; t = next(lx, &w, &line)) {
			if (t == T_ERROR)
				return false;
			if (t == T_EOF || t == T_CLOSE) {
				ic_report(lx->ic, lx->file, line,
				          "';' missing after the statement of "
				          "line %d",
				          st.line);
				return false;
			}
			if (t == T_OPEN) {
				nc_block_t *inner_b = ic_alloc(lx->ic, sizeof(*inner_b));
				if (!parse_block(lx, inner_b, depth + 1, true))
					return false;
				push_item(lx->ic, &st, (nc_item_t){.block = inner_b, .line = line});
			} else {
				push_item(
				    lx->ic, &st,
				    (nc_item_t){.word = w, .quoted = t == T_STRING, .line = line});
			}
		}
		if (st.n == 0)
			continue; /* a lone ';' */
		if (st.items[0].word && !strcmp(st.items[0].word, "include") &&
		    !st.items[0].quoted) {
			if (st.n != 2 || !st.items[1].word) {
				ic_report(lx->ic, lx->file, st.line,
				          "include: expected one file name");
				continue;
			}
			char *p = ic_path(lx->ic, lx->dir, st.items[1].word);
			parse_file(lx->ic, p, b, lx->file, st.line);
			continue;
		}
		push_stmt(lx->ic, b, &st);
	}
}

static int parse_one(ic_t *ic, const char *path, nc_block_t *into, const char *from, int line)
{
	size_t len;
	char *text = ic_read_file(ic, path, &len, from, line);
	if (!text)
		return -1;
	lexer_t lx = {.ic = ic,
	              .file = ic_strdup(ic, path),
	              .p = text,
	              .end = text + len,
	              .line = 1,
	              .dir = ic_dirname(ic, path)};
	ic->include_depth++;
	bool ok = parse_block(&lx, into, 0, false);
	ic->include_depth--;
	/* named would not start with it: nothing is translated. */
	ic->syntax_error |= !ok;
	return ok ? 0 : -1;
}

/* Reads path, or every file a pattern in it names (named globs include paths too). */
static int parse_file(ic_t *ic, const char *path, nc_block_t *into, const char *from, int line)
{
	if (from) {
		if (ic->no_include) {
			ic_report(ic, from, line, "include \"%s\": not read here", path);
			return -1;
		}
		if (ic->include_depth >= IC_MAX_INCLUDE_DEPTH) {
			ic_report(ic, from, line,
			          "include \"%s\": includes nested more than %d deep", path,
			          IC_MAX_INCLUDE_DEPTH);
			return -1;
		}
		if (strpbrk(path, "*?[")) {
			glob_t g;
			int ret = 0;
			if (glob(path, 0, NULL, &g) != 0) {
				ic_report(ic, from, line, "include \"%s\": no file matches", path);
				return -1;
			}
			for (size_t i = 0; i < g.gl_pathc; i++)
				ret |=
				    parse_one(ic, ic_strdup(ic, g.gl_pathv[i]), into, from, line);
			globfree(&g);
			return ret;
		}
	}
	return parse_one(ic, path, into, from, line);
}

/* --- walking the tree */

typedef struct named {
	ic_t *ic;
	nc_block_t top;
	const char *directory; /* options { directory }: where relative zone files are */
	long port;             /* options { port }: the default port to listen on */
	const nc_stmt_t *options;
} named_t;

static const char *word(const nc_stmt_t *st, size_t i)
{
	return i < st->n ? st->items[i].word : NULL;
}

static nc_block_t *block_at(const nc_stmt_t *st, size_t i)
{
	return i < st->n ? st->items[i].block : NULL;
}

/* The first block of the statement and the index of the item holding it. */
static nc_block_t *first_block(const nc_stmt_t *st, size_t *at)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->items[i].block) {
			if (at)
				*at = i;
			return st->items[i].block;
		}
	return NULL;
}

static const nc_stmt_t *find(const nc_block_t *b, const char *name)
{
	const nc_stmt_t *found = NULL;
	for (size_t i = 0; b && i < b->n; i++)
		if (word(&b->v[i], 0) && !strcmp(word(&b->v[i], 0), name))
			found = &b->v[i]; /* named takes the last one; so do we */
	return found;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
	if (!s || !*s)
		return false;
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool is_yes(const char *s)
{
	return s && (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1"));
}

/* What named does with options understudy has no use for, said once per option. */
static const char *reason(const char *opt)
{
	static const char *const files[] = {"pid-file",
	                                    "session-keyfile",
	                                    "managed-keys-directory",
	                                    "dump-file",
	                                    "statistics-file",
	                                    "memstatistics-file",
	                                    "bindkeys-file",
	                                    "secroots-file",
	                                    "recursing-file",
	                                    "lock-file",
	                                    "key-directory",
	                                    "geoip-directory",
	                                    "new-zones-directory",
	                                    "journal",
	                                    NULL};
	static const char *const resolver[] = {"dnssec-validation",
	                                       "forwarders",
	                                       "forward",
	                                       "allow-recursion",
	                                       "allow-query-cache",
	                                       "recursive-clients",
	                                       "max-cache-size",
	                                       "allow-recursion-on",
	                                       "allow-query-cache-on",
	                                       "trust-anchors",
	                                       "managed-keys",
	                                       "trusted-keys",
	                                       "query-source",
	                                       "query-source-v6",
	                                       "root-hints",
	                                       "empty-zones-enable",
	                                       "prefetch",
	                                       "qname-minimization",
	                                       NULL};
	static const char *const checks[] = {"check-names",
	                                     "check-integrity",
	                                     "check-mx",
	                                     "check-mx-cname",
	                                     "check-srv-cname",
	                                     "check-wildcard",
	                                     "check-sibling",
	                                     "check-dup-records",
	                                     "check-spf",
	                                     "check-svcb",
	                                     NULL};
	for (int i = 0; files[i]; i++)
		if (!strcmp(opt, files[i]))
			return "a file of named's own; understudy keeps its state in "
			       "server.storage";
	for (int i = 0; resolver[i]; i++)
		if (!strcmp(opt, resolver[i]))
			return "a resolver's option; understudy is authoritative only";
	for (int i = 0; checks[i]; i++)
		if (!strcmp(opt, checks[i]))
			return "understudy checks zones its own way (check-zone), always";
	if (!strcmp(opt, "allow-query") || !strcmp(opt, "allow-query-on"))
		return "understudy answers queries from anyone";
	if (!strcmp(opt, "allow-update") || !strcmp(opt, "update-policy") ||
	    !strcmp(opt, "allow-update-forwarding"))
		return "understudy takes no dynamic updates yet";
	if (!strcmp(opt, "dnssec-policy") || !strcmp(opt, "inline-signing") ||
	    !strcmp(opt, "auto-dnssec"))
		return "understudy serves zones as signed by their operator and signs none itself";
	if (!strcmp(opt, "ixfr-from-differences") || !strcmp(opt, "max-journal-size") ||
	    !strcmp(opt, "provide-ixfr") || !strcmp(opt, "request-ixfr"))
		return "understudy always keeps a journal of each zone's changes, from reloads as "
		       "from transfers, and asks for IXFR first (journal-max-depth, "
		       "journal-max-size)";
	if (!strncmp(opt, "rate-limit", 10))
		return "understudy has no response rate limiting yet";
	return "understudy has no such option";
}

static void unknown(named_t *n, const nc_stmt_t *st, const char *where)
{
	const char *w = word(st, 0) ? word(st, 0) : "(block)";
	ic_report(n->ic, st->file, st->line, "%s%s%s: not translated: %s", where, *where ? " " : "",
	          w, reason(w));
}

/* Text of the whole statement, for messages. */
static char *text_of(ic_t *ic, const nc_stmt_t *st)
{
	char *s = ic_strdup(ic, "");
	for (size_t i = 0; i < st->n && strlen(s) < 100; i++)
		s = ic_printf(ic, "%s%s%s", s, i ? " " : "",
		              st->items[i].word ? st->items[i].word : "{...}");
	return s;
}

/* --- keys */

static void read_key(named_t *n, const nc_stmt_t *st)
{
	nc_block_t *b = block_at(st, 2);
	if (!word(st, 1) || !b || st->n != 3) {
		ic_report(n->ic, st->file, st->line,
		          "key: expected key \"name\" { ... }; left out");
		return;
	}
	const nc_stmt_t *alg = find(b, "algorithm"), *sec = find(b, "secret");
	for (size_t i = 0; i < b->n; i++) {
		const char *w = word(&b->v[i], 0);
		if (w && strcmp(w, "algorithm") && strcmp(w, "secret"))
			ic_report(n->ic, b->v[i].file, b->v[i].line,
			          "key %s: %s: not translated: understudy has no such option",
			          word(st, 1), w);
	}
	ic_key_add(n->ic, word(st, 1), alg ? word(alg, 1) : NULL, sec ? word(sec, 1) : NULL,
	           (ic_where_t){st->file, st->line});
}

/* The key named servers (`server ADDR { keys { k; }; };`) are talked to with by default. */
static const char *server_key(named_t *n, const char *addr)
{
	for (size_t i = 0; i < n->top.n; i++) {
		const nc_stmt_t *st = &n->top.v[i];
		if (!word(st, 0) || strcmp(word(st, 0), "server") || !word(st, 1))
			continue;
		char *a = ic_prefix(n->ic, word(st, 1)), *b = ic_prefix(n->ic, addr);
		if (!a || !b || strcmp(a, b))
			continue;
		const nc_stmt_t *k = find(block_at(st, 2), "keys");
		if (!k)
			return NULL;
		if (word(k, 1))
			return word(k, 1);
		nc_block_t *kb = first_block(k, NULL);
		return kb && kb->n ? word(&kb->v[0], 0) : NULL;
	}
	return NULL;
}

/* --- address match lists */

typedef struct aml_ctx {
	named_t *n;
	int actions;
	ic_strv_t *ids; /* the rules made, in order */
	int depth;
} aml_ctx_t;

static void add_rule(aml_ctx_t *a, const char *prefix, const char *key, bool deny,
                     const nc_stmt_t *st)
{
	ic_strv_t addr = {0};
	ic_t *ic = a->n->ic;
	ic_where_t at = {st->file, st->line};
	if (prefix)
		ic_strv_push(ic, &addr, prefix);
	/* A rule met again changes nothing: the first one decides. */
	const char *id = ic_acl_get(ic, &addr, key, a->actions, deny, at);
	if (!ic_strv_has(a->ids, id))
		ic_strv_push(ic, a->ids, id);
	if (key)
		return;
	/* named matches an address whether the request is signed or not; understudy's rule
	 * without a key matches unsigned requests only, so one rule per key follows. */
	for (size_t i = 0; i < ic->nkeys; i++) {
		id = ic_acl_get(ic, &addr, ic->keys[i].id, a->actions, deny, at);
		if (!ic_strv_has(a->ids, id))
			ic_strv_push(ic, a->ids, id);
	}
}

static void aml(aml_ctx_t *a, const nc_block_t *b, const char *what);

static void aml_element(aml_ctx_t *a, const nc_stmt_t *st, const char *what)
{
	ic_t *ic = a->n->ic;
	size_t i = 0;
	bool neg = false;
	if (word(st, 0) && !strcmp(word(st, 0), "!")) {
		neg = true;
		i = 1;
	}
	const char *w = word(st, i);
	nc_block_t *nested = block_at(st, i);
	if (nested && st->n == i + 1) {
		if (neg) {
			ic_report(
			    ic, st->file, st->line,
			    "%s: a negated nested list: not translated; "
			    "the rules after it are left out too, as it could have refused what "
			    "they allow",
			    what);
			a->depth = -1;
			return;
		}
		aml(a, nested, what);
		return;
	}
	if (!w || st->n != i + 1 + (w && !strcmp(w, "key"))) {
		ic_report(ic, st->file, st->line,
		          "%s: \"%s\": not an element understudy can "
		          "translate; the rules after it are left out too",
		          what, text_of(ic, st));
		a->depth = -1;
		return;
	}
	if (!strcmp(w, "key")) {
		const char *k = word(st, i + 1);
		if (!k || !ic_key_known(ic, k)) {
			ic_report(ic, st->file, st->line,
			          "%s: key %s: not a key that was translated; "
			          "rule left out",
			          what, k ? k : "(none)");
			return;
		}
		add_rule(a, NULL, k, neg, st);
	} else if (!strcmp(w, "any")) {
		add_rule(a, NULL, NULL, neg, st);
	} else if (!strcmp(w, "none")) {
		return; /* matches nothing, allows nothing */
	} else if (!strcmp(w, "localhost")) {
		ic_report(ic, st->file, st->line,
		          "%s: localhost: translated as the loopback "
		          "addresses; named also matches the host's other addresses",
		          what);
		add_rule(a, "127.0.0.0/8", NULL, neg, st);
		add_rule(a, "::1", NULL, neg, st);
	} else if (!strcmp(w, "localnets")) {
		ic_report(ic, st->file, st->line,
		          "%s: localnets: the networks of the host's "
		          "interfaces are not known here; rule left out%s",
		          what, neg ? ", with the rules after it" : "");
		if (neg)
			a->depth = -1;
	} else if (ic_prefix(ic, w)) {
		add_rule(a, ic_prefix(ic, w), NULL, neg, st);
	} else {
		/* The name of an acl statement. */
		for (size_t j = 0; j < a->n->top.n; j++) {
			const nc_stmt_t *acl = &a->n->top.v[j];
			if (word(acl, 0) && !strcmp(word(acl, 0), "acl") && word(acl, 1) &&
			    !strcmp(word(acl, 1), w) && block_at(acl, 2)) {
				if (neg) {
					ic_report(ic, st->file, st->line,
					          "%s: !%s: a negated acl is not "
					          "translated; the rules after it are left out too",
					          what, w);
					a->depth = -1;
					return;
				}
				if (++a->depth > 16) {
					ic_report(ic, st->file, st->line,
					          "%s: acl %s: nested too deep", what, w);
					a->depth = -1;
					return;
				}
				aml(a, block_at(acl, 2), what);
				if (a->depth > 0)
					a->depth--;
				return;
			}
		}
		ic_report(ic, st->file, st->line,
		          "%s: \"%s\": not an address, prefix, key or acl; "
		          "the rules after it are left out too",
		          what, w);
		a->depth = -1;
	}
}

static void aml(aml_ctx_t *a, const nc_block_t *b, const char *what)
{
	for (size_t i = 0; b && i < b->n && a->depth >= 0; i++)
		aml_element(a, &b->v[i], what);
}

/* Rules for `allow-transfer`/`allow-notify`: the statement's list after any port/transport. */
static void aml_option(named_t *n, const nc_stmt_t *st, int actions, ic_strv_t *ids)
{
	size_t at;
	nc_block_t *b = first_block(st, &at);
	if (!b) {
		ic_report(n->ic, st->file, st->line, "%s: expected a list in braces; left out",
		          word(st, 0));
		return;
	}
	if (at > 1)
		ic_report(n->ic, st->file, st->line,
		          "%s: \"%s\": the port and transport are not "
		          "translated; the list is",
		          word(st, 0), text_of(n->ic, st));
	aml_ctx_t a = {.n = n, .actions = actions, .ids = ids};
	aml(&a, b, word(st, 0));
}

/* --- remotes: primaries, also-notify */

typedef struct remote_ctx {
	named_t *n;
	ic_strv_t *ids;
	const char *what;
	int depth;
} remote_ctx_t;

static void remote_list(remote_ctx_t *r, const nc_stmt_t *st, size_t from, long port);

/* One element of a primaries/also-notify list: ADDR [port N] [key K], or a list's name. */
static void remote_element(remote_ctx_t *r, const nc_stmt_t *el, long port)
{
	ic_t *ic = r->n->ic;
	const char *w = word(el, 0);
	const char *key = NULL;
	long p = port;
	if (!w) {
		ic_report(ic, el->file, el->line, "%s: a nested list: not translated", r->what);
		return;
	}
	for (size_t i = 1; i < el->n; i += 2) {
		const char *k = word(el, i), *v = word(el, i + 1);
		if (k && v && !strcmp(k, "port") && parse_long(v, 1, 65535, &p))
			continue;
		if (k && v && !strcmp(k, "key")) {
			key = v;
			continue;
		}
		ic_report(ic, el->file, el->line, "%s: %s %s: not translated", r->what,
		          k ? k : "{...}", v ? v : "");
	}
	char *addr = strchr(w, '/') ? NULL : ic_addr(ic, w, p);
	if (!addr) {
		/* The name of a primaries (or masters, remote-servers) list. */
		for (size_t j = 0; j < r->n->top.n; j++) {
			const nc_stmt_t *l = &r->n->top.v[j];
			const char *kind = word(l, 0);
			if (kind && word(l, 1) && !strcmp(word(l, 1), w) &&
			    (!strcmp(kind, "primaries") || !strcmp(kind, "masters") ||
			     !strcmp(kind, "remote-servers"))) {
				if (++r->depth > 16) {
					ic_report(ic, el->file, el->line, "%s: %s: nested too deep",
					          r->what, w);
					return;
				}
				if (key)
					ic_report(ic, el->file, el->line,
					          "%s: %s key %s: a key for a "
					          "whole list is not translated; its own keys are",
					          r->what, w, key);
				remote_list(r, l, 2, 0);
				r->depth--;
				return;
			}
		}
		ic_report(ic, el->file, el->line,
		          "%s: \"%s\": not an address or a list of "
		          "primaries; left out",
		          r->what, w);
		return;
	}
	if (!key)
		key = server_key(r->n, w);
	if (key && !ic_key_known(ic, key)) {
		ic_report(ic, el->file, el->line, "%s: %s: key %s was not translated; left out",
		          r->what, w, key);
		return;
	}
	ic_strv_t a = {0};
	ic_strv_push(ic, &a, addr);
	const char *id = ic_remote_get(ic, &a, key, NULL, NULL, (ic_where_t){el->file, el->line});
	if (!ic_strv_has(r->ids, id))
		ic_strv_push(ic, r->ids, id);
}

/* `primaries [port N] [source ADDR] { elements };`, items from `from` on. */
static void remote_list(remote_ctx_t *r, const nc_stmt_t *st, size_t from, long port)
{
	ic_t *ic = r->n->ic;
	nc_block_t *b = NULL;
	for (size_t i = from; i < st->n; i++) {
		const char *k = word(st, i), *v = word(st, i + 1);
		if (st->items[i].block) {
			b = st->items[i].block;
			continue;
		}
		if (k && v && !strcmp(k, "port") && parse_long(v, 1, 65535, &port)) {
			i++;
			continue;
		}
		ic_report(ic, st->file, st->line, "%s: %s%s%s: not translated", r->what,
		          k ? k : "?", v ? " " : "", v ? v : "");
		if (v)
			i++;
	}
	for (size_t i = 0; b && i < b->n; i++)
		remote_element(r, &b->v[i], port);
}

/* --- options and zones */

static void listen_on(named_t *n, const nc_stmt_t *st, bool v6)
{
	ic_t *ic = n->ic;
	const char *what = v6 ? "listen-on-v6" : "listen-on";
	long port = n->port;
	nc_block_t *b = NULL;
	for (size_t i = 1; i < st->n; i++) {
		const char *k = word(st, i), *v = word(st, i + 1);
		if (st->items[i].block)
			b = st->items[i].block;
		else if (k && v && !strcmp(k, "port") && parse_long(v, 1, 65535, &port))
			i++;
		else {
			ic_report(ic, st->file, st->line, "%s: %s: not translated", what,
			          k ? k : "?");
			if (v)
				i++;
		}
	}
	for (size_t i = 0; b && i < b->n; i++) {
		const nc_stmt_t *el = &b->v[i];
		const char *w = word(el, 0);
		char *a = NULL;
		if (w && el->n == 1 && !strcmp(w, "any")) {
			a = ic_addr(ic, v6 ? "::" : "0.0.0.0", port);
			ic_report(ic, el->file, el->line,
			          "%s: any: named listens on each address of the host; understudy "
			          "listens on %s, so on a host with several addresses list them "
			          "instead",
			          what, a);
		} else if (w && el->n == 1 && !strcmp(w, "none")) {
			continue;
		} else if (w && el->n == 1 && !strchr(w, '/')) {
			a = ic_addr(ic, w, port);
		}
		if (!a) {
			ic_report(ic, el->file, el->line,
			          "%s: \"%s\": only addresses are translated", what,
			          text_of(ic, el));
			continue;
		}
		if (!ic_strv_has(&ic->listen, a))
			ic_strv_push(ic, &ic->listen, a);
	}
}

/* A string option that may also be `none` (do not answer) or, for server-id, `hostname`. */
static char *text_option(named_t *n, const nc_stmt_t *st)
{
	const char *v = word(st, 1);
	if (!v || st->n != 2) {
		ic_report(n->ic, st->file, st->line, "%s: expected one value; left out",
		          word(st, 0));
		return NULL;
	}
	if (!st->items[1].quoted && !strcmp(v, "none"))
		return ic_strdup(n->ic, "");
	if (!st->items[1].quoted && !strcmp(v, "hostname"))
		return NULL; /* understudy's default: the host name */
	if (strlen(v) > 255) {
		ic_report(n->ic, st->file, st->line, "%s: longer than 255 bytes; left out",
		          word(st, 0));
		return NULL;
	}
	return ic_strdup(n->ic, v);
}

static void read_options(named_t *n, const nc_stmt_t *st)
{
	ic_t *ic = n->ic;
	nc_block_t *b = block_at(st, 1);
	const nc_stmt_t *dir = find(b, "directory"), *port = find(b, "port");
	if (dir && word(dir, 1))
		n->directory = word(dir, 1);
	if (port && !parse_long(word(port, 1), 1, 65535, &n->port))
		ic_report(ic, port->file, port->line, "port: not a port number; 53 assumed");
	bool listen4 = false, listen6 = false, recursion = true;
	for (size_t i = 0; b && i < b->n; i++) {
		const nc_stmt_t *o = &b->v[i];
		const char *w = word(o, 0);
		if (!w)
			continue;
		if (!strcmp(w, "directory") || !strcmp(w, "port"))
			continue;
		if (!strcmp(w, "listen-on") || !strcmp(w, "listen-on-v6")) {
			listen_on(n, o, w[9] != 0);
			listen4 |= w[9] == 0;
			listen6 |= w[9] != 0;
		} else if (!strcmp(w, "version")) {
			ic->version = text_option(n, o);
		} else if (!strcmp(w, "server-id") || !strcmp(w, "hostname")) {
			ic->identity = text_option(n, o);
		} else if (!strcmp(w, "recursion")) {
			recursion = is_yes(word(o, 1));
		} else if (!strcmp(w, "allow-transfer") || !strcmp(w, "allow-notify") ||
		           !strcmp(w, "also-notify") || !strcmp(w, "notify") ||
		           !strcmp(w, "masterfile-format") || !strcmp(w, "catalog-zones")) {
			continue; /* read for each zone */
		} else {
			unknown(n, o, "options:");
		}
	}
	/* named's defaults: IPv4 on every address, IPv6 on every address too (9.18). */
	/* The defaults may be there already: a listen-on may name an IPv6 address too. */
	char *any4 = ic_addr(ic, "0.0.0.0", n->port), *any6 = ic_addr(ic, "::", n->port);
	if (!listen4 && any4 && !ic_strv_has(&ic->listen, any4))
		ic_strv_push(ic, &ic->listen, any4);
	if (!listen6 && any6 && !ic_strv_has(&ic->listen, any6))
		ic_strv_push(ic, &ic->listen, any6);
	if (!listen4 || !listen6)
		ic_report(ic, st->file, st->line,
		          "options: no listen-on%s: named listens on every "
		          "address; the translation listens on %s",
		          !listen4 ? "" : "-v6", !listen4 ? "0.0.0.0 and ::" : "::");
	if (recursion)
		ic_report(ic, st->file, st->line,
		          "options: recursion %s: named also answers "
		          "recursive queries; understudy is authoritative only",
		          find(b, "recursion") ? "yes" : "(named's default, yes)");
}

/* The zone's option if it has one, else the options' one. */
static const nc_stmt_t *inherited(named_t *n, const nc_block_t *zb, const char *name)
{
	const nc_stmt_t *st = find(zb, name);
	return st ? st : n->options ? find(block_at(n->options, 1), name) : NULL;
}

/*
 * A zone's NOTIFYs out, its transfer rules and the NOTIFYs it takes, from its block zb (NULL: none,
 * as for a catalog's members) or else the options.
 */
static void zone_acls(named_t *n, const nc_block_t *zb, const nc_stmt_t *st, ic_zone_t *z,
                      const char *name)
{
	ic_t *ic = n->ic;
	bool secondary = z->secondary;
	/* NOTIFY: `notify explicit` sends to also-notify alone; yes (the default) also to the
	 * zone's name servers, which understudy does not do. */
	const nc_stmt_t *notify = inherited(n, zb, "notify"),
	                *also = inherited(n, zb, "also-notify");
	const char *nv = notify ? word(notify, 1) : "yes";
	bool sends =
	    nv && (!strcmp(nv, "yes") || !strcmp(nv, "explicit") ||
	           ((!strcmp(nv, "primary-only") || !strcmp(nv, "master-only")) && !secondary));
	if (sends && also) {
		remote_ctx_t ra = {.n = n, .ids = &z->notify, .what = "also-notify"};
		remote_list(&ra, also, 1, 0);
	}
	if (sends && strcmp(nv, "explicit"))
		ic_report(
		    ic, notify ? notify->file : st->file, notify ? notify->line : st->line,
		    "zone %s: notify %s: named also notifies the name servers of the zone's NS "
		    "records; understudy notifies its notify list (also-notify) only",
		    name, notify ? nv : "yes (named's default)");

	/* Transfers out: allow-transfer, or named's default, any. */
	const nc_stmt_t *xfr = inherited(n, zb, "allow-transfer");
	if (xfr) {
		aml_option(n, xfr, IC_TRANSFER, &z->acl);
	} else {
		aml_ctx_t a = {.n = n, .actions = IC_TRANSFER, .ids = &z->acl};
		add_rule(&a, NULL, NULL, false, st);
	}
	/* NOTIFY in: from the primaries always (understudy does so too), and allow-notify. */
	const nc_stmt_t *an = inherited(n, zb, "allow-notify");
	if (an && secondary)
		aml_option(n, an, IC_NOTIFY, &z->acl);
	if (secondary) {
		/* named takes a primary's NOTIFY by its address alone, signed or not; understudy
		 * wants the remote's key, so the addresses get rules of their own. */
		for (size_t i = 0; i < z->primaries.n; i++)
			for (size_t j = 0; j < ic->nremotes; j++) {
				ic_remote_t *rem = &ic->remotes[j];
				if (strcmp(rem->id, z->primaries.v[i]))
					continue;
				char *host = ic_strdup(ic, rem->addr.v[0]);
				*strrchr(host, '@') = 0;
				aml_ctx_t a = {.n = n, .actions = IC_NOTIFY, .ids = &z->acl};
				add_rule(&a, host, NULL, false, st);
			}
	}
}

/* The entry of options { catalog-zones } that names zone (without its final dot), or NULL. */
static const nc_stmt_t *catalog_entry(named_t *n, const char *zone)
{
	const nc_stmt_t *cz = n->options ? find(block_at(n->options, 1), "catalog-zones") : NULL;
	nc_block_t *b = cz ? first_block(cz, NULL) : NULL;
	for (size_t i = 0; b && i < b->n; i++) {
		const char *w = word(&b->v[i], 0), *cat = word(&b->v[i], 1);
		size_t len = cat ? strlen(cat) : 0;
		if (len > 1 && cat[len - 1] == '.')
			len--;
		if (w && !strcmp(w, "zone") && cat && strlen(zone) == len &&
		    !strncasecmp(cat, zone, len))
			return &b->v[i];
	}
	return NULL;
}

/*
 * A zone that options { catalog-zones } lists is a catalog named consumes: understudy's consumer,
 * its members built from a template of the entry's default-primaries and the rules named applies
 * to a zone declared without options of its own.
 */
static void catalog_consumer(named_t *n, const nc_stmt_t *st, ic_zone_t *z)
{
	ic_t *ic = n->ic;
	const nc_stmt_t *e = catalog_entry(n, z->domain);
	if (!e)
		return;
	if (!z->secondary) {
		ic_report(ic, e->file, e->line,
		          "catalog-zones: zone %s: a catalog named loads from its file: "
		          "understudy consumes the catalogs it transfers (a secondary); "
		          "translated as an ordinary primary, its members are not",
		          z->domain);
		return;
	}
	nc_stmt_t prim = {.file = e->file, .line = e->line};
	bool have_prim = false;
	for (size_t i = 2; i < e->n; i++) {
		const char *w = word(e, i), *v = word(e, i + 1);
		if (w && (!strcmp(w, "default-primaries") || !strcmp(w, "default-masters"))) {
			/* `default-primaries [port N] { ... }`: a primaries list of its own. */
			size_t start = ++i;
			while (i < e->n && !e->items[i].block)
				i++;
			prim.items = e->items + start;
			prim.n = (i < e->n ? i + 1 : e->n) - start;
			have_prim = true;
		} else if (w && v && (!strcmp(w, "in-memory") || !strcmp(w, "zone-directory"))) {
			ic_report(ic, e->file, e->items[i].line,
			          "catalog-zones: zone %s: %s %s: not translated: understudy keeps "
			          "every member zone in server.storage",
			          z->domain, w, v);
			i++;
		} else if (w && v && !strcmp(w, "min-update-interval")) {
			ic_report(ic, e->file, e->items[i].line,
			          "catalog-zones: zone %s: min-update-interval %s: not translated: "
			          "understudy applies each new version of the catalog as it comes",
			          z->domain, v);
			i++;
		} else {
			ic_report(ic, e->file, e->items[i].line,
			          "catalog-zones: zone %s: %s: not translated", z->domain,
			          w ? w : "{...}");
		}
	}
	if (!have_prim) {
		ic_report(ic, e->file, e->line,
		          "catalog-zones: zone %s: no default-primaries: named takes the "
		          "members' primaries from the catalog's own properties (primaries.ext), "
		          "which understudy does not read; translated as an ordinary secondary",
		          z->domain);
		return;
	}
	char *id = ic_printf(ic, "%s members", z->domain);
	if (ic_template_find(ic, id))
		return; /* a zone is there once; said by ic_zone_add */
	ic_template_t *t = ic_template_add(ic, id, (ic_where_t){e->file, e->line});
	t->z.secondary = true;
	remote_ctx_t r = {.n = n, .ids = &t->z.primaries, .what = "default-primaries"};
	remote_list(&r, &prim, 0, 0);
	zone_acls(n, NULL, st, &t->z, id);
	z->catalog = IC_CAT_CONSUMER;
	ic_strv_push(ic, &z->catalog_templates, id);
}

static void read_zone(named_t *n, const nc_stmt_t *st)
{
	ic_t *ic = n->ic;
	const char *name = word(st, 1);
	size_t at;
	nc_block_t *zb = first_block(st, &at);
	if (!name || !zb) {
		ic_report(ic, st->file, st->line, "zone: expected zone \"name\" { ... }; left out");
		return;
	}
	if (at == 3 && word(st, 2) && strcasecmp(word(st, 2), "IN")) {
		ic_report(ic, st->file, st->line,
		          "zone %s: class %s: understudy serves class IN "
		          "only; left out",
		          name, word(st, 2));
		return;
	}
	const nc_stmt_t *type = find(zb, "type");
	const char *t = type ? word(type, 1) : NULL;
	bool secondary;
	if (t && (!strcmp(t, "primary") || !strcmp(t, "master")))
		secondary = false;
	else if (t && (!strcmp(t, "secondary") || !strcmp(t, "slave")))
		secondary = true;
	else {
		ic_report(ic, st->file, type ? type->line : st->line,
		          "zone %s: type %s: not translated; understudy "
		          "has primary and secondary zones only",
		          name, t ? t : "(none)");
		return;
	}
	ic_zone_t *z = ic_zone_add(ic, name, (ic_where_t){st->file, st->line});
	if (!z)
		return;
	z->secondary = secondary;
	const nc_stmt_t *file = find(zb, "file");
	if (file && word(file, 1))
		z->file = ic_path(ic, n->directory, word(file, 1));
	const nc_stmt_t *fmt = inherited(n, zb, "masterfile-format");
	if (fmt && word(fmt, 1) && strcmp(word(fmt, 1), "text"))
		ic_report(ic, fmt->file, fmt->line,
		          "zone %s: masterfile-format %s: understudy reads "
		          "and writes text zone files only%s",
		          name, word(fmt, 1),
		          secondary ? "" : "; convert the file with named-compilezone -F text");
	else if (!fmt && secondary && z->file)
		ic_report(ic, st->file, st->line,
		          "zone %s: named keeps a secondary's file in its "
		          "raw format by default; understudy writes it as text (ctl sync), and "
		          "serves its own stored copy",
		          name);

	remote_ctx_t r = {.n = n, .ids = &z->primaries, .what = "primaries"};
	const nc_stmt_t *pri = find(zb, "primaries");
	if (!pri)
		pri = find(zb, "masters");
	if (secondary && pri)
		remote_list(&r, pri, 1, 0);
	else if (pri)
		ic_report(ic, pri->file, pri->line,
		          "zone %s: primaries on a primary zone: left out", name);

	zone_acls(n, zb, st, z, name);
	catalog_consumer(n, st, z);
	static const char *const handled[] = {
	    "type",        "file",           "primaries",    "masters",           "notify",
	    "also-notify", "allow-transfer", "allow-notify", "masterfile-format", NULL};
	for (size_t i = 0; i < zb->n; i++) {
		const char *w = word(&zb->v[i], 0);
		bool known = false;
		for (int j = 0; w && handled[j]; j++)
			known |= !strcmp(w, handled[j]);
		if (w && !known)
			unknown(n, &zb->v[i], ic_printf(ic, "zone %s:", name));
	}
}

int ic_read_named(ic_t *ic, const char *path)
{
	named_t n = {.ic = ic, .port = 53};
	if (parse_file(ic, path, &n.top, NULL, 0) < 0 && n.top.n == 0)
		return -1;
	/* Keys and options first: zones refer to them wherever they stand. */
	for (size_t i = 0; i < n.top.n; i++) {
		const nc_stmt_t *st = &n.top.v[i];
		const char *w = word(st, 0);
		if (w && !strcmp(w, "key"))
			read_key(&n, st);
		else if (w && !strcmp(w, "options") && block_at(st, 1))
			n.options = st;
	}
	if (n.options)
		read_options(&n, n.options);
	else {
		ic_strv_push(ic, &ic->listen, ic_addr(ic, "0.0.0.0", 53));
		ic_strv_push(ic, &ic->listen, ic_addr(ic, "::", 53));
		ic_report(ic, path, 0,
		          "no options: named listens on every address, port 53; so "
		          "does the translation (0.0.0.0 and ::)");
	}
	for (size_t i = 0; i < n.top.n; i++) {
		const nc_stmt_t *st = &n.top.v[i];
		const char *w = word(st, 0);
		if (!w)
			continue;
		if (!strcmp(w, "zone"))
			read_zone(&n, st);
		else if (!strcmp(w, "view"))
			ic_report(ic, st->file, st->line,
			          "view %s: not translated: understudy has one "
			          "view; its zones are left out",
			          word(st, 1) ? word(st, 1) : "");
		else if (!strcmp(w, "controls"))
			ic_report(
			    ic, st->file, st->line,
			    "controls: not translated: understudy ctl "
			    "uses server.control, a Unix socket for root and the server's user");
		else if (!strcmp(w, "logging"))
			ic_report(ic, st->file, st->line,
			          "logging: not translated: understudy logs "
			          "to one target (log.target)");
		else if (strcmp(w, "key") && strcmp(w, "options") && strcmp(w, "acl") &&
		         strcmp(w, "primaries") && strcmp(w, "masters") && strcmp(w, "server") &&
		         strcmp(w, "remote-servers"))
			unknown(&n, st, "");
	}
	/* A catalog named consumes is declared as a zone too (in the same view). */
	const nc_stmt_t *cz = n.options ? find(block_at(n.options, 1), "catalog-zones") : NULL;
	nc_block_t *cb = cz ? first_block(cz, NULL) : NULL;
	for (size_t i = 0; cb && i < cb->n; i++) {
		const nc_stmt_t *e = &cb->v[i];
		const char *cat = word(e, 1);
		bool declared = false;
		if (!word(e, 0) || strcmp(word(e, 0), "zone") || !cat) {
			ic_report(ic, e->file, e->line,
			          "catalog-zones: expected zone \"name\" ...; left out");
			continue;
		}
		for (size_t j = 0; j < n.top.n && !declared; j++) {
			const nc_stmt_t *st = &n.top.v[j];
			const char *zn = word(st, 1);
			size_t a = zn ? strlen(zn) : 0, b = strlen(cat);
			a -= a > 1 && zn[a - 1] == '.';
			b -= b > 1 && cat[b - 1] == '.';
			declared = word(st, 0) && !strcmp(word(st, 0), "zone") && zn && a == b &&
			           !strncasecmp(zn, cat, a);
		}
		if (!declared)
			ic_report(
			    ic, e->file, e->line,
			    "catalog-zones: zone %s: no zone statement declares it (named needs "
			    "one); left out",
			    cat);
	}
	/* server statements: their keys went to the remotes; anything else in them did not. */
	for (size_t i = 0; i < n.top.n; i++) {
		const nc_stmt_t *st = &n.top.v[i];
		if (!word(st, 0) || strcmp(word(st, 0), "server"))
			continue;
		nc_block_t *b = first_block(st, NULL);
		for (size_t j = 0; b && j < b->n; j++)
			if (word(&b->v[j], 0) && strcmp(word(&b->v[j], 0), "keys"))
				unknown(&n, &b->v[j], ic_printf(ic, "server %s:", word(st, 1)));
	}
	return 0;
}
