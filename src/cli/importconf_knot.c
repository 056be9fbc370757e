/* SPDX-License-Identifier: MIT */
/* importconf_knot: Knot DNS's knot.conf read into understudy's configuration. */
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "importconf.h"

/*
 * knot.conf is YAML (without anchors): sections server, key, remote, remotes, acl, template,
 * zone, log, database, control, mod-*, policy, ..., and `include:` lines, read with
 * libyaml's document loader. Zones take what they leave unset from their template, or from
 * the template "default".
 */
#define KN_MAX_DEPTH 32
#define KN_MAX_FILES 64

typedef struct kn_section {
	const char *name;
	yaml_document_t *doc;
	yaml_node_t *value;
	const char *file;
	int line;
} kn_section_t;

typedef struct knot {
	ic_t *ic;
	yaml_document_t *docs[KN_MAX_FILES];
	size_t ndocs;
	kn_section_t *s;
	size_t n, cap;
	bool automatic_acl;
	struct kn_remote *remotes_v;
	size_t remotes_n, remotes_cap;
	struct kn_acl *acls_v;
	size_t acls_n, acls_cap;
	struct kn_template *tpl_v;
	size_t tpl_n, tpl_cap;
} knot_t;

/* A scalar's text; NULL for other nodes or text with a NUL in it. */
static char *scalar(ic_t *ic, const yaml_node_t *v)
{
	if (!v || v->type != YAML_SCALAR_NODE ||
	    memchr(v->data.scalar.value, 0, v->data.scalar.length))
		return NULL;
	return ic_strndup(ic, (const char *)v->data.scalar.value, v->data.scalar.length);
}

static int line_of(const yaml_node_t *v)
{
	return (int)v->start_mark.line + 1;
}

/* The scalars of a string or a list of strings; false (reported) when it is neither. */
static bool strings(knot_t *k, yaml_document_t *doc, const yaml_node_t *v, ic_strv_t *out,
                    const char *file, const char *what)
{
	ic_t *ic = k->ic;
	char *s = scalar(ic, v);
	if (s) {
		ic_strv_push(ic, out, s);
		return true;
	}
	if (!v || v->type != YAML_SEQUENCE_NODE) {
		ic_report(ic, file, v ? line_of(v) : 0, "%s: expected a value or a list; left out",
		          what);
		return false;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *x = yaml_document_get_node(doc, *it);
		char *t = scalar(ic, x);
		if (!t) {
			ic_report(ic, file, x ? line_of(x) : 0,
			          "%s: expected a list of values; left "
			          "out",
			          what);
			return false;
		}
		ic_strv_push(ic, out, t);
	}
	return true;
}

static int load_file(knot_t *k, const char *path, const char *from, int fline);

/* Refuses aliases before the loader expands them: knot.conf has none, and they could make a
 * small file a huge tree. */
static bool no_aliases(ic_t *ic, const char *file, const char *text, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	bool ok = true, done = false;
	if (!yaml_parser_initialize(&p))
		longjmp(ic->oom, 1);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev))
			break; /* the loader reports the syntax error */
		if (ev.type == YAML_ALIAS_EVENT) {
			ic_report(ic, file, (int)ev.start_mark.line + 1,
			          "YAML alias: not part of knot.conf; the file is not translated");
			ic->syntax_error = true;
			ok = false;
			done = true;
		}
		done |= ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return ok;
}

static void add_section(knot_t *k, const char *name, yaml_document_t *doc, yaml_node_t *v,
                        const char *file, int line)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 16;
		kn_section_t *s = ic_alloc(k->ic, cap * sizeof(*s));
		if (k->n)
			memcpy(s, k->s, k->n * sizeof(*s));
		k->s = s;
		k->cap = cap;
	}
	k->s[k->n++] = (kn_section_t){name, doc, v, file, line};
}

static void include(knot_t *k, const char *dir, const char *pattern, const char *file, int line)
{
	ic_t *ic = k->ic;
	char *path = ic_path(ic, dir, pattern);
	if (ic->no_include) {
		ic_report(ic, file, line, "include \"%s\": not read here", path);
		return;
	}
	if (ic->include_depth >= IC_MAX_INCLUDE_DEPTH) {
		ic_report(ic, file, line, "include \"%s\": includes nested more than %d deep", path,
		          IC_MAX_INCLUDE_DEPTH);
		return;
	}
	glob_t g;
	int ret = glob(path, 0, NULL, &g);
	if (ret != 0) {
		if (ret == GLOB_NOMATCH && strpbrk(path, "*?["))
			return;
		load_file(k, path, file, line);
		return;
	}
	for (size_t i = 0; i < g.gl_pathc; i++)
		load_file(k, ic_strdup(ic, g.gl_pathv[i]), file, line);
	globfree(&g);
}

static int load_file(knot_t *k, const char *path, const char *from, int fline)
{
	ic_t *ic = k->ic;
	size_t len;
	char *text = ic_read_file(ic, path, &len, from, fline);
	if (!text)
		return -1;
	const char *file = ic_strdup(ic, path);
	if (k->ndocs == KN_MAX_FILES) {
		ic_report(ic, from ? from : file, fline, "%s: more than %d files; not read", path,
		          KN_MAX_FILES);
		return -1;
	}
	if (!no_aliases(ic, file, text, len))
		return -1;
	yaml_parser_t p;
	yaml_document_t *doc = malloc(sizeof(*doc));
	if (!doc || !yaml_parser_initialize(&p)) {
		free(doc);
		longjmp(ic->oom, 1);
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, doc)) {
		ic->syntax_error = true;
		ic_report(ic, file, (int)p.problem_mark.line + 1,
		          "not YAML as knot.conf is: %s%s%s",
		          p.problem ? p.problem : "syntax error", p.context ? " " : "",
		          p.context ? p.context : "");
		yaml_parser_delete(&p);
		free(doc);
		return -1;
	}
	yaml_parser_delete(&p);
	k->docs[k->ndocs++] = doc;
	yaml_node_t *root = yaml_document_get_root_node(doc);
	if (!root || (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0))
		return 0; /* an empty file */
	if (root->type != YAML_MAPPING_NODE) {
		ic_report(ic, file, line_of(root),
		          "expected sections (server:, zone:, ...); not "
		          "translated");
		return -1;
	}
	char *dir = ic_dirname(ic, file);
	ic->include_depth++;
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = yaml_document_get_node(doc, pr->key);
		yaml_node_t *vn = yaml_document_get_node(doc, pr->value);
		char *name = scalar(ic, kn);
		if (!name || !vn) {
			ic_report(ic, file, kn ? line_of(kn) : 0,
			          "a section without a name; left out");
			continue;
		}
		if (!strcmp(name, "include")) {
			char *f = scalar(ic, vn);
			if (f)
				include(k, dir, f, file, line_of(kn));
			else
				ic_report(ic, file, line_of(kn), "include: expected a file name");
			continue;
		}
		add_section(k, name, doc, vn, file, line_of(kn));
	}
	ic->include_depth--;
	return 0;
}

/* The items of a list section (key:, remote:, zone:, ...), each a mapping. */
typedef void (*item_fn)(knot_t *k, yaml_document_t *doc, yaml_node_t *item, const char *file);

static void each_item(knot_t *k, const char *section, item_fn fn)
{
	for (size_t i = 0; i < k->n; i++) {
		kn_section_t *s = &k->s[i];
		if (strcmp(s->name, section))
			continue;
		if (s->value->type == YAML_SCALAR_NODE && s->value->data.scalar.length == 0)
			continue; /* `zone:` with nothing under it */
		if (s->value->type != YAML_SEQUENCE_NODE) {
			ic_report(k->ic, s->file, s->line,
			          "%s: expected a list (- id: ...); left out", section);
			continue;
		}
		for (yaml_node_item_t *it = s->value->data.sequence.items.start;
		     it < s->value->data.sequence.items.top; it++) {
			yaml_node_t *item = yaml_document_get_node(s->doc, *it);
			if (!item || item->type != YAML_MAPPING_NODE) {
				ic_report(k->ic, s->file, item ? line_of(item) : s->line,
				          "%s: an item that is not a mapping; left out", section);
				continue;
			}
			fn(k, s->doc, item, s->file);
		}
	}
}

/* The value of option name in a mapping, or NULL; *line gets its line. */
static yaml_node_t *opt(yaml_document_t *doc, const yaml_node_t *map, const char *name, int *line)
{
	yaml_node_t *found = NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(doc, p->key);
		if (kn && kn->type == YAML_SCALAR_NODE && kn->data.scalar.length == strlen(name) &&
		    !memcmp(kn->data.scalar.value, name, kn->data.scalar.length)) {
			found = yaml_document_get_node(doc, p->value);
			if (line)
				*line = line_of(kn);
		}
	}
	return found;
}

/* Reports every option of map not in known[] (NULL-terminated). */
static void others(knot_t *k, yaml_document_t *doc, const yaml_node_t *map, const char *file,
                   const char *what, const char *const *known, const char *why)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(doc, p->key);
		char *name = scalar(k->ic, kn);
		bool ok = false;
		for (int i = 0; name && known[i]; i++)
			ok |= !strcmp(name, known[i]);
		if (!ok)
			ic_report(k->ic, file, kn ? line_of(kn) : 0, "%s: %s: not translated: %s",
			          what, name ? name : "(?)", why);
	}
}

/* Knot's numbers with units: sizes (B, K, M, G) and times (s, m, h, d, w). */
static bool knot_number(const char *s, bool time, long long *out)
{
	char *end;
	if (!s || !*s)
		return false;
	long long v = strtoll(s, &end, 10);
	if (v < 0 || end == s)
		return false;
	long long mul = 1;
	if (*end) {
		if (end[1])
			return false;
		switch (*end) {
		case 'B':
			mul = time ? 0 : 1;
			break;
		case 'K':
			mul = time ? 0 : 1024;
			break;
		case 'M':
			mul = time ? 0 : 1024 * 1024;
			break;
		case 'G':
			mul = time ? 0 : 1024LL * 1024 * 1024;
			break;
		case 's':
			mul = time ? 1 : 0;
			break;
		case 'm':
			mul = time ? 60 : 0;
			break;
		case 'h':
			mul = time ? 3600 : 0;
			break;
		case 'd':
			mul = time ? 86400 : 0;
			break;
		case 'w':
			mul = time ? 604800 : 0;
			break;
		default:
			return false;
		}
		if (!mul)
			return false;
	}
	if (v > (1LL << 40) / mul)
		return false;
	*out = v * mul;
	return true;
}

/* --- key, remote, remotes, acl */

static void read_key(knot_t *k, yaml_document_t *doc, yaml_node_t *item, const char *file)
{
	static const char *const known[] = {"id", "algorithm", "secret", NULL};
	char *id = scalar(k->ic, opt(doc, item, "id", NULL));
	if (!id) {
		ic_report(k->ic, file, line_of(item), "key: no id; left out");
		return;
	}
	others(k, doc, item, file, ic_printf(k->ic, "key %s", id), known,
	       "understudy has no "
	       "such key option");
	ic_key_add(k->ic, id, scalar(k->ic, opt(doc, item, "algorithm", NULL)),
	           scalar(k->ic, opt(doc, item, "secret", NULL)),
	           (ic_where_t){file, line_of(item)});
}

/* A remote as knot.conf has it, before the zones decide which become understudy's. */
typedef struct kn_remote {
	char *id;
	ic_strv_t addr, via;
	char *key; /* NULL: none; "" when it names a key that was not translated */
	ic_where_t at;
	bool group; /* remotes: a list of other ids */
	ic_strv_t members;
} kn_remote_t;

static kn_remote_t *new_remote(knot_t *k)
{
	if (k->remotes_n == k->remotes_cap) {
		size_t cap = k->remotes_cap ? k->remotes_cap * 2 : 16;
		kn_remote_t *v = ic_alloc(k->ic, cap * sizeof(*v));
		if (k->remotes_n)
			memcpy(v, k->remotes_v, k->remotes_n * sizeof(*v));
		k->remotes_v = v;
		k->remotes_cap = cap;
	}
	kn_remote_t *r = &k->remotes_v[k->remotes_n++];
	memset(r, 0, sizeof(*r));
	return r;
}

static const kn_remote_t *find_remote(const knot_t *k, const char *id)
{
	for (size_t i = 0; i < k->remotes_n; i++)
		if (!strcmp(k->remotes_v[i].id, id))
			return &k->remotes_v[i];
	return NULL;
}

static void read_remote(knot_t *k, yaml_document_t *doc, yaml_node_t *item, const char *file)
{
	static const char *const known[] = {"id", "address", "via", "key", NULL};
	ic_t *ic = k->ic;
	char *id = scalar(ic, opt(doc, item, "id", NULL));
	if (!id) {
		ic_report(ic, file, line_of(item), "remote: no id; left out");
		return;
	}
	if (find_remote(k, id)) {
		ic_report(ic, file, line_of(item), "remote %s: defined twice; the first is kept",
		          id);
		return;
	}
	kn_remote_t *r = new_remote(k);
	r->id = id;
	r->at = (ic_where_t){file, line_of(item)};
	others(k, doc, item, file, ic_printf(ic, "remote %s", id), known,
	       "understudy has no such remote option");
	int line = r->at.line;
	ic_strv_t raw = {0};
	yaml_node_t *a = opt(doc, item, "address", &line);
	if (a && strings(k, doc, a, &raw, file, "address"))
		for (size_t i = 0; i < raw.n; i++) {
			char *at = strrchr(raw.v[i], '@');
			long port = at ? strtol(at + 1, NULL, 10) : 53;
			char *host =
			    at ? ic_strndup(ic, raw.v[i], (size_t)(at - raw.v[i])) : raw.v[i];
			char *x = ic_addr(ic, host, port);
			if (x)
				ic_strv_push(ic, &r->addr, x);
			else
				ic_report(ic, file, line,
				          "remote %s: address %s: not an address "
				          "understudy takes (a Unix socket?); left out",
				          id, raw.v[i]);
		}
	ic_strv_t via = {0};
	yaml_node_t *v = opt(doc, item, "via", &line);
	if (v && strings(k, doc, v, &via, file, "via"))
		for (size_t i = 0; i < via.n; i++) {
			char *x = strchr(via.v[i], '@') ? NULL : ic_addr(ic, via.v[i], 53);
			if (!x) {
				ic_report(ic, file, line,
				          "remote %s: via %s: only an address without "
				          "port is translated",
				          id, via.v[i]);
				continue;
			}
			*strrchr(x, '@') = 0;
			ic_strv_push(ic, &r->via, x);
		}
	char *key = scalar(ic, opt(doc, item, "key", &line));
	if (key && !ic_key_known(ic, key)) {
		ic_report(ic, file, line, "remote %s: key %s was not translated", id, key);
		key = "";
	}
	r->key = key;
}

static void read_remotes(knot_t *k, yaml_document_t *doc, yaml_node_t *item, const char *file)
{
	static const char *const known[] = {"id", "remote", NULL};
	char *id = scalar(k->ic, opt(doc, item, "id", NULL));
	if (!id || find_remote(k, id)) {
		ic_report(k->ic, file, line_of(item), "remotes: %s; left out",
		          id ? "an id used twice" : "no id");
		return;
	}
	kn_remote_t *r = new_remote(k);
	r->id = id;
	r->group = true;
	r->at = (ic_where_t){file, line_of(item)};
	others(k, doc, item, file, ic_printf(k->ic, "remotes %s", id), known,
	       "understudy has no such option");
	yaml_node_t *m = opt(doc, item, "remote", NULL);
	if (m)
		strings(k, doc, m, &r->members, file, "remote");
}

/*
 * The understudy remotes for knot remote (or group) id: one per knot remote, holding all its
 * addresses, each family's source address from `via`. Adds their ids to out; false (reported)
 * when id is unknown.
 */
static bool remote_ids(knot_t *k, const char *id, ic_strv_t *out, const char *file, int line,
                       int depth)
{
	ic_t *ic = k->ic;
	const kn_remote_t *r = find_remote(k, id);
	if (!r || depth > 8) {
		ic_report(ic, file, line, "remote %s: %s; left out", id,
		          r ? "nested too deep" : "not defined");
		return false;
	}
	if (r->group) {
		for (size_t i = 0; i < r->members.n; i++)
			remote_ids(k, r->members.v[i], out, file, line, depth + 1);
		return true;
	}
	if (!r->addr.n || (r->key && !*r->key))
		return false; /* said where it was defined */
	/* understudy takes one source address for all of a remote's addresses, of one family:
	 * a remote with both families becomes one per family. */
	for (int fam = 0; fam < 2; fam++) {
		ic_strv_t a = {0};
		const char *via = NULL;
		for (size_t i = 0; i < r->addr.n; i++)
			if ((strchr(r->addr.v[i], ':') != NULL) == (fam == 1))
				ic_strv_push(ic, &a, r->addr.v[i]);
		for (size_t i = 0; i < r->via.n && !via; i++)
			if ((strchr(r->via.v[i], ':') != NULL) == (fam == 1))
				via = r->via.v[i];
		if (!a.n)
			continue;
		bool both = a.n != r->addr.n;
		const char *want = both ? ic_printf(ic, "%s-%s", r->id, fam ? "v6" : "v4") : r->id;
		const char *rid = ic_remote_get(ic, &a, r->key, via, want, r->at);
		if (!ic_strv_has(out, rid))
			ic_strv_push(ic, out, rid);
	}
	return true;
}

/* An acl as knot has it: its understudy rules come out when a zone refers to it. */
typedef struct kn_acl {
	char *id;
	ic_strv_t ids; /* understudy rule ids, in order */
	bool bad;      /* could not be translated whole: zones that use it are told */
} kn_acl_t;

static void read_acl(knot_t *k, yaml_document_t *doc, yaml_node_t *item, const char *file)
{
	static const char *const known[] = {"id",     "address", "key", "remote",
	                                    "action", "deny",    NULL};
	ic_t *ic = k->ic;
	char *id = scalar(ic, opt(doc, item, "id", NULL));
	if (!id) {
		ic_report(ic, file, line_of(item), "acl: no id; left out");
		return;
	}
	if (k->acls_n == k->acls_cap) {
		size_t cap = k->acls_cap ? k->acls_cap * 2 : 16;
		kn_acl_t *v = ic_alloc(ic, cap * sizeof(*v));
		if (k->acls_n)
			memcpy(v, k->acls_v, k->acls_n * sizeof(*v));
		k->acls_v = v;
		k->acls_cap = cap;
	}
	kn_acl_t *a = &k->acls_v[k->acls_n++];
	memset(a, 0, sizeof(*a));
	a->id = id;
	ic_where_t at = {file, line_of(item)};
	others(k, doc, item, file, ic_printf(ic, "acl %s", id), known,
	       "understudy has no such acl option");
	int line = at.line;
	ic_strv_t actions = {0}, addrs = {0}, keys = {0}, rems = {0};
	yaml_node_t *n = opt(doc, item, "action", &line);
	int act = 0;
	if (n && strings(k, doc, n, &actions, file, "action"))
		for (size_t i = 0; i < actions.n; i++) {
			if (!strcmp(actions.v[i], "transfer"))
				act |= IC_TRANSFER;
			else if (!strcmp(actions.v[i], "notify"))
				act |= IC_NOTIFY;
			else
				ic_report(ic, file, line,
				          "acl %s: action %s: not translated: understudy "
				          "takes no %s",
				          id, actions.v[i],
				          !strcmp(actions.v[i], "update") ? "dynamic updates yet"
				                                          : "such action");
		}
	char *deny_s = scalar(ic, opt(doc, item, "deny", NULL));
	bool deny =
	    deny_s && (!strcmp(deny_s, "on") || !strcmp(deny_s, "true") || !strcmp(deny_s, "yes"));
	if (!act)
		return; /* nothing understudy does; reported above, or knot's default action */
	ic_strv_t prefixes = {0};
	if ((n = opt(doc, item, "address", &line)) && strings(k, doc, n, &addrs, file, "address"))
		for (size_t i = 0; i < addrs.n; i++) {
			char *p = ic_prefix(ic, addrs.v[i]);
			if (p) {
				ic_strv_push(ic, &prefixes, p);
				continue;
			}
			ic_report(ic, file, line,
			          "acl %s: address %s: only addresses and prefixes "
			          "are translated (not ranges)%s",
			          id, addrs.v[i],
			          deny ? "; the rule is left out" : "; left out of the rule");
			if (deny)
				a->bad = true;
		}
	if ((n = opt(doc, item, "key", &line)))
		strings(k, doc, n, &keys, file, "key");
	for (size_t i = 0; i < keys.n; i++)
		if (!ic_key_known(ic, keys.v[i])) {
			ic_report(ic, file, line,
			          "acl %s: key %s was not translated; rule left out", id,
			          keys.v[i]);
			a->bad = true;
		}
	if ((n = opt(doc, item, "remote", &line)) && strings(k, doc, n, &rems, file, "remote"))
		ic_report(ic, file, line,
		          "acl %s: remote: translated as the remotes' addresses "
		          "and keys",
		          id);
	if (a->bad || (addrs.n && !prefixes.n && !rems.n))
		return;
	/* One understudy rule per key (a request matches one key), none meaning unsigned. */
	size_t nk = keys.n ? keys.n : 1;
	for (size_t i = 0; i < nk && (prefixes.n || !addrs.n) && (!rems.n || addrs.n); i++) {
		const char *rid =
		    ic_acl_get(ic, &prefixes, keys.n ? keys.v[i] : NULL, act, deny, at);
		if (!ic_strv_has(&a->ids, rid))
			ic_strv_push(ic, &a->ids, rid);
	}
	for (size_t i = 0; i < rems.n; i++) {
		const kn_remote_t *r = find_remote(k, rems.v[i]);
		if (!r || r->group) {
			ic_report(ic, file, line, "acl %s: remote %s: %s; left out", id, rems.v[i],
			          r ? "a group of remotes is not translated here" : "not defined");
			continue;
		}
		ic_strv_t hosts = {0};
		for (size_t j = 0; j < r->addr.n; j++) {
			char *h = ic_strdup(ic, r->addr.v[j]);
			*strrchr(h, '@') = 0;
			ic_strv_push(ic, &hosts, h);
		}
		const char *key = keys.n ? NULL : r->key;
		if (key && !*key)
			continue;
		for (size_t j = 0; j < (keys.n ? keys.n : 1); j++) {
			const char *rid =
			    ic_acl_get(ic, &hosts, keys.n ? keys.v[j] : key, act, deny, at);
			if (!ic_strv_has(&a->ids, rid))
				ic_strv_push(ic, &a->ids, rid);
		}
	}
}

/* --- templates and zones */

/* Zone options: translated, or said why not. */
static const char *const zone_known[] = {"domain",
                                         "template",
                                         "file",
                                         "storage",
                                         "master",
                                         "primary",
                                         "notify",
                                         "acl",
                                         "journal-max-depth",
                                         "journal-max-usage",
                                         "refresh-min-interval",
                                         "refresh-max-interval",
                                         "retry-min-interval",
                                         "retry-max-interval",
                                         "expire-min-interval",
                                         "expire-max-interval",
                                         "catalog-role",
                                         "catalog-template",
                                         "catalog-zone",
                                         "catalog-group",
                                         "id",
                                         NULL};

static const char *zone_why(const char *name)
{
	if (!strncmp(name, "dnssec", 6) || !strcmp(name, "policy"))
		return "understudy serves zones as signed by their operator and signs none itself";
	if (!strncmp(name, "zonefile", 8) || !strncmp(name, "journal", 7) ||
	    !strcmp(name, "ixfr-from-axfr") || !strcmp(name, "ixfr-by-one"))
		return "understudy keeps each zone and a journal of its changes in server.storage "
		       "and writes a secondary's file on ctl sync";
	if (!strcmp(name, "semantic-checks"))
		return "understudy checks zones its own way, always";
	if (!strncmp(name, "catalog", 7))
		return "understudy has no such catalog option";
	if (!strcmp(name, "module"))
		return "understudy has no modules";
	if (!strcmp(name, "ddns-master") || !strcmp(name, "serial-policy"))
		return "understudy takes no dynamic updates yet";
	return "understudy has no such zone option";
}

typedef struct kn_template {
	char *id;
	yaml_document_t *doc;
	yaml_node_t *map;
	const char *file;
} kn_template_t;

static void read_template(knot_t *k, yaml_document_t *doc, yaml_node_t *item, const char *file)
{
	char *id = scalar(k->ic, opt(doc, item, "id", NULL));
	if (!id) {
		ic_report(k->ic, file, line_of(item), "template: no id; left out");
		return;
	}
	if (k->tpl_n == k->tpl_cap) {
		size_t cap = k->tpl_cap ? k->tpl_cap * 2 : 8;
		kn_template_t *v = ic_alloc(k->ic, cap * sizeof(*v));
		if (k->tpl_n)
			memcpy(v, k->tpl_v, k->tpl_n * sizeof(*v));
		k->tpl_v = v;
		k->tpl_cap = cap;
	}
	k->tpl_v[k->tpl_n++] = (kn_template_t){id, doc, item, file};
	/* What zones would take from it and understudy has not: said once, here. */
	for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(doc, p->key);
		char *name = scalar(k->ic, kn);
		bool known = false;
		for (int i = 0; name && zone_known[i]; i++)
			known |= !strcmp(name, zone_known[i]);
		if (!known)
			ic_report(k->ic, file, kn ? line_of(kn) : 0,
			          "template %s: %s: not translated: %s", id, name ? name : "(?)",
			          zone_why(name ? name : ""));
	}
}

static const kn_template_t *find_template(const knot_t *k, const char *id)
{
	for (size_t i = 0; i < k->tpl_n; i++)
		if (!strcmp(k->tpl_v[i].id, id))
			return &k->tpl_v[i];
	return NULL;
}

typedef struct zone_src {
	yaml_document_t *doc;
	yaml_node_t *map;
	const char *file;
} zone_src_t;

/* The zone's option, else its template's; NULL when neither has it. */
static yaml_node_t *zopt(const zone_src_t *z, const zone_src_t *t, const char *name,
                         const zone_src_t **from, int *line)
{
	yaml_node_t *v = opt(z->doc, z->map, name, line);
	if (v) {
		*from = z;
		return v;
	}
	if (t && t->map && (v = opt(t->doc, t->map, name, line))) {
		*from = t;
		return v;
	}
	return NULL;
}

/* Knot's zone file name patterns: %s the zone, %% a percent sign. */
static char *file_pattern(ic_t *ic, const char *f, const char *zone, const char *file, int line)
{
	char *out = ic_strdup(ic, "");
	for (const char *p = f; *p; p++) {
		if (*p != '%' || !p[1]) {
			out = ic_printf(ic, "%s%c", out, *p);
		} else if (p[1] == 's') {
			out = ic_printf(ic, "%s%s", out, zone);
			p++;
		} else if (p[1] == '%') {
			out = ic_printf(ic, "%s%%", out);
			p++;
		} else {
			ic_report(ic, file, line,
			          "file %s: the pattern %%%c is not translated; the "
			          "name is kept as written",
			          f, p[1]);
			out = ic_printf(ic, "%s%%", out);
		}
	}
	return out;
}

/*
 * What a zone takes from its own options and its template's (ts NULL for a template on its own):
 * primaries, file, notify, acl and the numbers, into z. name is the zone's name, or "%s" for a
 * template, whose file keeps the pattern.
 */
static void zone_settings(knot_t *k, ic_zone_t *z, const zone_src_t *zs, const zone_src_t *ts,
                          const char *name, int item_line)
{
	ic_t *ic = k->ic;
	const char *file = zs->file;
	const zone_src_t *src;
	int line = 0;
	yaml_node_t *m = zopt(zs, ts, "master", &src, &line);
	if (!m)
		m = zopt(zs, ts, "primary", &src, &line);
	ic_strv_t ids = {0};
	if (m && strings(k, src->doc, m, &ids, src->file, "master"))
		for (size_t i = 0; i < ids.n; i++)
			remote_ids(k, ids.v[i], &z->primaries, src->file, line, 0);
	z->secondary = m != NULL;

	char *storage = scalar(ic, zopt(zs, ts, "storage", &src, &line));
	if (!storage)
		storage = "/var/lib/knot";
	char *f = scalar(ic, zopt(zs, ts, "file", &src, &line));
	z->file = ic_path(ic, storage, file_pattern(ic, f ? f : "%s.zone", name, file, item_line));

	ids = (ic_strv_t){0};
	yaml_node_t *n = zopt(zs, ts, "notify", &src, &line);
	if (n && strings(k, src->doc, n, &ids, src->file, "notify"))
		for (size_t i = 0; i < ids.n; i++)
			remote_ids(k, ids.v[i], &z->notify, src->file, line, 0);

	ids = (ic_strv_t){0};
	n = zopt(zs, ts, "acl", &src, &line);
	if (n && strings(k, src->doc, n, &ids, src->file, "acl"))
		for (size_t i = 0; i < ids.n; i++) {
			const kn_acl_t *a = NULL;
			for (size_t j = 0; j < k->acls_n; j++)
				if (!strcmp(k->acls_v[j].id, ids.v[i]))
					a = &k->acls_v[j];
			if (!a) {
				ic_report(ic, src->file, line, "zone %s: acl %s is not defined",
				          z->domain, ids.v[i]);
				continue;
			}
			if (a->bad) {
				ic_report(
				    ic, src->file, line,
				    "zone %s: acl %s could not be translated "
				    "whole (see above); the zone's rules after it are left out too",
				    z->domain, a->id);
				break;
			}
			for (size_t j = 0; j < a->ids.n; j++)
				if (!ic_strv_has(&z->acl, a->ids.v[j]))
					ic_strv_push(ic, &z->acl, a->ids.v[j]);
		}
	/* automatic-acl: the notify remotes may transfer, the primaries NOTIFY (understudy
	 * lets a zone's primaries NOTIFY it anyway). */
	for (size_t i = 0; k->automatic_acl && i < z->notify.n; i++)
		for (size_t j = 0; j < ic->nremotes; j++) {
			ic_remote_t *r = &ic->remotes[j];
			if (strcmp(r->id, z->notify.v[i]))
				continue;
			ic_strv_t hosts = {0};
			for (size_t h = 0; h < r->addr.n; h++) {
				char *x = ic_strdup(ic, r->addr.v[h]);
				*strrchr(x, '@') = 0;
				ic_strv_push(ic, &hosts, x);
			}
			const char *rid = ic_acl_get(ic, &hosts, r->key, IC_TRANSFER, false, r->at);
			if (!ic_strv_has(&z->acl, rid))
				ic_strv_push(ic, &z->acl, rid);
		}

	static const struct {
		const char *name;
		bool time;
		long long min, max;
	} nums[] = {{"journal-max-depth", false, 1, 1000000},
	            {"journal-max-usage", false, 4096, 0x7FFFFFFF},
	            {"refresh-min-interval", true, 1, 0x7FFFFFFF},
	            {"refresh-max-interval", true, 1, 0x7FFFFFFF},
	            {"retry-min-interval", true, 1, 0x7FFFFFFF},
	            {"retry-max-interval", true, 1, 0x7FFFFFFF},
	            {"expire-min-interval", true, 1, 0x7FFFFFFF},
	            {"expire-max-interval", true, 1, 0x7FFFFFFF}};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		char *v = scalar(ic, zopt(zs, ts, nums[i].name, &src, &line));
		long long x;
		if (!v)
			continue;
		if (!knot_number(v, nums[i].time, &x) || x < nums[i].min || x > nums[i].max) {
			ic_report(ic, src->file, line,
			          "zone %s: %s %s: out of understudy's range; "
			          "left out",
			          z->domain, nums[i].name, v);
			continue;
		}
		bool secondary_only = nums[i].time;
		if (secondary_only && !z->secondary)
			continue; /* knot ignores them on a primary, and so does understudy */
		const char *ours =
		    !strcmp(nums[i].name, "journal-max-usage") ? "journal-max-size" : nums[i].name;
		ic_option_set(ic, &z->extra, ours, x);
	}
}

/* The understudy template for knot template id (defined), translated on first use. */
static void use_template(knot_t *k, const kn_template_t *tpl)
{
	ic_t *ic = k->ic;
	if (ic_template_find(ic, tpl->id))
		return;
	if (!*tpl->id || strlen(tpl->id) > 255) {
		ic_report(ic, tpl->file, line_of(tpl->map),
		          "template \"%s\": an id understudy does not take (1 to 255 bytes); not "
		          "translated",
		          tpl->id);
		return;
	}
	ic_template_t *t = ic_template_add(ic, tpl->id, (ic_where_t){tpl->file, line_of(tpl->map)});
	zone_src_t ts = {tpl->doc, tpl->map, tpl->file};
	zone_settings(k, &t->z, &ts, NULL, "%s", line_of(tpl->map));
}

/*
 * knotd's catalog options (the zone's, else its template's): generate is our producer, interpret
 * our consumer (of a catalog it transfers), member a zone listed in a generated catalog.
 */
static void read_catalog(knot_t *k, ic_zone_t *z, const zone_src_t *zs, const zone_src_t *ts)
{
	ic_t *ic = k->ic;
	const zone_src_t *src = NULL, *csrc = NULL, *gsrc = NULL;
	int line = z->at.line, rline = z->at.line, cline = 0, gline = 0;
	char *role = scalar(ic, zopt(zs, ts, "catalog-role", &src, &rline));
	const char *rfile = role ? src->file : z->at.file;
	if (!role)
		role = "none";
	yaml_node_t *cz = zopt(zs, ts, "catalog-zone", &csrc, &cline);
	yaml_node_t *cg = zopt(zs, ts, "catalog-group", &gsrc, &gline);
	yaml_node_t *ct = zopt(zs, ts, "catalog-template", &src, &line);
	if (!strcmp(role, "generate")) {
		if (z->secondary)
			ic_report(ic, rfile, rline,
			          "zone %s: catalog-role generate on a zone with a master: "
			          "understudy generates a catalog as a primary; left out",
			          z->domain);
		else
			z->catalog = IC_CAT_PRODUCER;
	} else if (!strcmp(role, "member")) {
		char *cat = scalar(ic, cz);
		if (!cat)
			ic_report(ic, rfile, rline,
			          "zone %s: catalog-role member without a catalog-zone; left out",
			          z->domain);
		z->catalog_zone = cat;
		z->catalog_group = cat ? scalar(ic, cg) : NULL;
	} else if (!strcmp(role, "interpret")) {
		ic_strv_t ids = {0};
		if (!z->secondary) {
			ic_report(
			    ic, rfile, rline,
			    "zone %s: catalog-role interpret on a catalog knotd loads from its "
			    "file: understudy consumes the catalogs it transfers (a secondary); "
			    "translated as an ordinary primary, its members are not",
			    z->domain);
		} else if (!ct || !strings(k, src->doc, ct, &ids, src->file, "catalog-template")) {
			ic_report(ic, rfile, rline,
			          "zone %s: catalog-role interpret without catalog-template (knotd "
			          "needs it); translated as an ordinary secondary",
			          z->domain);
		} else {
			z->catalog = IC_CAT_CONSUMER;
			for (size_t i = 0; i < ids.n; i++) {
				const kn_template_t *tpl = find_template(k, ids.v[i]);
				if (!tpl) {
					ic_report(ic, src->file, line,
					          "zone %s: catalog-template %s is not defined",
					          z->domain, ids.v[i]);
					continue;
				}
				use_template(k, tpl);
				ic_strv_push(ic, &z->catalog_templates, ids.v[i]);
			}
		}
	} else if (!strcmp(role, "hybrid")) {
		ic_report(ic, rfile, rline,
		          "zone %s: catalog-role hybrid (a catalog knotd interprets and also "
		          "generates for its own members): understudy's catalog is a producer or a "
		          "consumer, not both; translated as an ordinary zone",
		          z->domain);
	} else if (strcmp(role, "none")) {
		ic_report(ic, rfile, rline, "zone %s: catalog-role %s: not one knotd has; left out",
		          z->domain, role);
	}
	if (cz && strcmp(role, "member"))
		ic_report(
		    ic, csrc->file, cline,
		    "zone %s: catalog-zone: knotd uses it with catalog-role member only; left "
		    "out",
		    z->domain);
	if (ct && strcmp(role, "interpret") && strcmp(role, "hybrid"))
		ic_report(
		    ic, src->file, line,
		    "zone %s: catalog-template: knotd uses it on an interpreted catalog only; "
		    "left out",
		    z->domain);
}

static void read_zone(knot_t *k, yaml_document_t *doc, yaml_node_t *item, const char *file)
{
	ic_t *ic = k->ic;
	char *domain = scalar(ic, opt(doc, item, "domain", NULL));
	if (!domain) {
		ic_report(ic, file, line_of(item), "zone: no domain; left out");
		return;
	}
	char *tid = scalar(ic, opt(doc, item, "template", NULL));
	const kn_template_t *tpl = find_template(k, tid ? tid : "default");
	if (tid && !tpl)
		ic_report(ic, file, line_of(item), "zone %s: template %s is not defined", domain,
		          tid);
	ic_zone_t *z = ic_zone_add(ic, domain, (ic_where_t){file, line_of(item)});
	if (!z)
		return;
	zone_src_t zs = {doc, item, file},
	           ts = {tpl ? tpl->doc : NULL, tpl ? tpl->map : NULL, tpl ? tpl->file : NULL};
	/* Options of the zone that have no translation (its template's were said already). */
	for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(doc, p->key);
		char *name = scalar(ic, kn);
		bool known = false;
		for (int i = 0; name && zone_known[i]; i++)
			known |= !strcmp(name, zone_known[i]);
		if (!known)
			ic_report(ic, file, kn ? line_of(kn) : 0, "zone %s: %s: not translated: %s",
			          z->domain, name ? name : "(?)", zone_why(name ? name : ""));
	}

	zone_settings(k, z, &zs, &ts, z->domain, line_of(item));
	read_catalog(k, z, &zs, &ts);
	/* Kept only when a template "default" is written (see ic_read_knot). */
	if (tpl && tid && strcmp(tid, "default"))
		z->tpl = tpl->id;
}

/* --- server */

static void read_server(knot_t *k, yaml_document_t *doc, yaml_node_t *map, const char *file)
{
	ic_t *ic = k->ic;
	if (map->type != YAML_MAPPING_NODE) {
		if (!(map->type == YAML_SCALAR_NODE && map->data.scalar.length == 0))
			ic_report(ic, file, line_of(map), "server: expected options; left out");
		return;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(doc, p->value);
		char *name = scalar(ic, kn), *v = scalar(ic, vn);
		int line = kn ? line_of(kn) : 0;
		long long x;
		if (!name)
			continue;
		if (!strcmp(name, "listen")) {
			ic_strv_t raw = {0};
			if (strings(k, doc, vn, &raw, file, "listen"))
				for (size_t i = 0; i < raw.n; i++) {
					char *at = strrchr(raw.v[i], '@');
					long port = at ? strtol(at + 1, NULL, 10) : 53;
					char *h =
					    at ? ic_strndup(ic, raw.v[i], (size_t)(at - raw.v[i]))
					       : raw.v[i];
					char *a = ic_addr(ic, h, port);
					if (!a)
						ic_report(ic, file, line,
						          "listen %s: not an address; left out",
						          raw.v[i]);
					else if (!ic_strv_has(&ic->listen, a))
						ic_strv_push(ic, &ic->listen, a);
				}
		} else if (!strcmp(name, "identity") || !strcmp(name, "version") ||
		           !strcmp(name, "nsid")) {
			char **slot = name[0] == 'i'   ? &ic->identity
			              : name[0] == 'v' ? &ic->version
			                               : &ic->nsid;
			if (!v || strlen(v) > 255 ||
			    (name[0] == 'n' && (!*v || !strncmp(v, "0x", 2))))
				ic_report(
				    ic, file, line, "%s: %s: not translated%s", name, v ? v : "",
				    name[0] == 'n' ? " (understudy's nsid is printable text)" : "");
			else
				*slot = v;
		} else if ((!strcmp(name, "udp-workers") || !strcmp(name, "tcp-workers")) &&
		           knot_number(v, false, &x) && x >= 1 &&
		           x <= (name[0] == 'u' ? 256 : 64)) {
			ic_option_set(ic, &ic->server_extra, name, x);
		} else if (!strcmp(name, "tcp-max-clients") && knot_number(v, false, &x) &&
		           x >= 1 && x <= 100000) {
			ic_option_set(ic, &ic->server_extra, name, x);
		} else if (!strcmp(name, "tcp-idle-timeout") && knot_number(v, true, &x) &&
		           x >= 1 && x <= 3600) {
			ic_option_set(ic, &ic->server_extra, name, x);
		} else if (!strcmp(name, "udp-max-payload") && knot_number(v, false, &x) &&
		           x >= 512 && x <= 4096) {
			ic_option_set(ic, &ic->server_extra, name, x);
		} else if (!strcmp(name, "automatic-acl")) {
			k->automatic_acl = v && (!strcmp(v, "on") || !strcmp(v, "true"));
		} else if (!strcmp(name, "user")) {
			ic_report(ic, file, line,
			          "user %s: not translated: understudy runs as its own "
			          "user (server.user; the package makes \"understudy\")",
			          v ? v : "");
		} else if (!strcmp(name, "rundir") || !strcmp(name, "pidfile")) {
			ic_report(ic, file, line, "%s: not translated: a file of knotd's own",
			          name);
		} else {
			ic_report(ic, file, line,
			          "server: %s: not translated: understudy has no such "
			          "option",
			          name);
		}
	}
}

/* Sections reported whole, with the reason. */
static const char *section_why(const char *name)
{
	if (!strcmp(name, "log"))
		return "understudy logs to one target (log.target)";
	if (!strcmp(name, "database"))
		return "understudy keeps its state in server.storage";
	if (!strcmp(name, "control"))
		return "understudy ctl uses server.control, a Unix socket for root and the "
		       "server's "
		       "user";
	if (!strcmp(name, "policy") || !strcmp(name, "submission") || !strcmp(name, "keystore"))
		return "understudy serves zones as signed by their operator and signs none itself";
	if (!strncmp(name, "mod-", 4))
		return "understudy has no modules";
	if (!strcmp(name, "statistics"))
		return "understudy's counters are in ctl status";
	return "understudy has no such section";
}

static bool section_empty(const yaml_node_t *v)
{
	return (v->type == YAML_SCALAR_NODE && v->data.scalar.length == 0) ||
	       (v->type == YAML_SEQUENCE_NODE &&
	        v->data.sequence.items.start == v->data.sequence.items.top) ||
	       (v->type == YAML_MAPPING_NODE &&
	        v->data.mapping.pairs.start == v->data.mapping.pairs.top);
}

int ic_read_knot(ic_t *ic, const char *path)
{
	knot_t k = {.ic = ic};
	int ret = load_file(&k, path, NULL, 0);
	if (ret == 0) {
		bool server = false;
		for (size_t i = 0; i < k.n; i++)
			if (!strcmp(k.s[i].name, "server")) {
				read_server(&k, k.s[i].doc, k.s[i].value, k.s[i].file);
				server = true;
			}
		if (!ic->listen.n)
			/* knotd listens nowhere without `listen`; understudy needs somewhere. */
			ic_report(ic, path, 0,
			          "%s: knotd answers nowhere; understudy listens on "
			          "its default, the loopback addresses on port 53",
			          server ? "server has no listen" : "no server section");
		each_item(&k, "key", read_key);
		each_item(&k, "remote", read_remote);
		each_item(&k, "remotes", read_remotes);
		each_item(&k, "acl", read_acl);
		each_item(&k, "template", read_template);
		each_item(&k, "zone", read_zone);
		/* understudy applies a template "default" to every zone that names none; knotd's
		 * zones of other templates must name theirs, which are written too. Zones carry
		 * their templates' settings already, so naming them changes nothing else. */
		bool deflt = ic_template_find(ic, "default") != NULL;
		for (size_t i = 0; i < ic->nzones; i++) {
			ic_zone_t *z = &ic->zones[i];
			if (z->tpl && deflt)
				use_template(&k, find_template(&k, z->tpl));
			if (z->tpl && (!deflt || !ic_template_find(ic, z->tpl)))
				z->tpl = NULL;
		}
		for (size_t i = 0; i < k.n; i++) {
			const char *n = k.s[i].name;
			if (strcmp(n, "server") && strcmp(n, "key") && strcmp(n, "remote") &&
			    strcmp(n, "remotes") && strcmp(n, "acl") && strcmp(n, "template") &&
			    strcmp(n, "zone") && !section_empty(k.s[i].value))
				ic_report(ic, k.s[i].file, k.s[i].line, "%s: not translated: %s", n,
				          section_why(n));
		}
	}
	for (size_t i = 0; i < k.ndocs; i++) {
		yaml_document_delete(k.docs[i]);
		free(k.docs[i]);
	}
	return ret;
}
