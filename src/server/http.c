/* SPDX-License-Identifier: MIT */
/* http: the monitoring listener (server.http): /health, /metrics, /fleet and the status page. */
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fleetmon.h"
#include "http.h"
#include "metrics.h"
#include "log.h"
#include "shield.h"

/*
 * Bounds on what a client can make the listener hold: connections at once (http-max-clients),
 * the time one may stay idle (http-timeout), and the memory of each, which caps the request
 * line and headers; MHD answers a longer head with 431 (or 414 for the URL) and closes.
 */
#define HTTP_CONN_MEMORY (32 * 1024)

#define TYPE_JSON    "application/json"
#define TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define TYPE_HTML    "text/html; charset=utf-8"
#define TYPE_TEXT    "text/plain; charset=utf-8"

/*
 * The status page: one table of zones by servers, drawn by its own script from /fleet's JSON
 * (inlined in the page, so it shows at once, even to a browser dumping the DOM on load), then
 * fetched again every few seconds. No external asset: it works on an isolated network.
 */
static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>understudy: every copy</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}\n"
    "h1{font-size:1.3em;margin:0 0 .3em}\n"
    "#summary{margin:.3em 0 1em;font-size:1.1em}\n"
    ".ok{color:#17692c}.degraded{color:#9a6700}.fail{color:#b3261e}\n"
    "table{border-collapse:collapse;background:#fff}\n"
    "th,td{border:1px solid #ccc;padding:.3em .6em;text-align:center;white-space:nowrap}\n"
    "th.zone{text-align:left}\n"
    "td.sync{background:#d8f5dd}td.behind{background:#ffe3a3}td.far{background:#ffb9a8}\n"
    "td.down{background:#f4c7c3}td.none{background:#eee;color:#999}\n"
    "td small,th small{display:block;color:#555;font-weight:normal}\n"
    "#updated{color:#666;margin-top:1em}\n"
    "</style></head><body>\n<h1>understudy: every copy of every zone</h1>\n"
    "<div id=\"summary\">loading</div>\n<table id=\"fleet\"></table>\n"
    "<div id=\"updated\"></div>\n"
    "<noscript>This page draws its table with a script; the data is at "
    "<a href=\"/fleet\">/fleet</a> and <a href=\"/health\">/health</a>.</noscript>\n"
    "<script>\nconst initial = ";

static const char page_tail[] =
    ";\n"
    "function el(tag, cls, text) {\n"
    "  const e = document.createElement(tag);\n"
    "  if (cls) e.className = cls;\n"
    "  if (text !== undefined) e.textContent = text;\n"
    "  return e;\n"
    "}\n"
    "function cell(s, newest) {\n"
    "  if (!s) return el('td', 'none', '-');\n"
    "  let cls, state;\n"
    "  if (s.in_sync) { cls = 'sync'; state = 'in-sync'; }\n"
    "  else if (s.serial === null) { cls = 'down'; state = 'down'; }\n"
    "  else { cls = s.lag > 1 || s.error ? 'far' : 'behind'; state = 'behind'; }\n"
    "  const none = s.roles.includes('self') ? 'no copy' : 'no answer';\n"
    "  const td = el('td', cls, s.serial === null ? none : String(s.serial));\n"
    "  td.dataset.server = s.address;\n"
    "  td.dataset.state = state;\n"
    "  td.dataset.lag = s.lag;\n"
    "  let note = '';\n"
    "  if (!s.in_sync && s.serial !== null) note = s.lag + ' behind, ' + s.behind_seconds + ' s';\n"
    "  if (s.error) note += (note ? '; ' : '') + s.error;\n"
    "  else if (s.in_sync && s.last_propagation_ms !== null)\n"
    "    note = 'reached in ' + (s.last_propagation_ms / 1000).toFixed(1) + ' s';\n"
    "  if (note) td.appendChild(el('small', '', note));\n"
    "  td.title = s.address + (s.name ? ' (' + s.name + ')' : '') + ': ' + s.roles.join(', ');\n"
    "  return td;\n"
    "}\n"
    "function draw(fleet, health) {\n"
    "  const servers = [];\n"
    "  const seen = new Map();\n"
    "  for (const z of fleet.zones) for (const s of z.servers)\n"
    "    if (!seen.has(s.address)) { seen.set(s.address, s); servers.push(s.address); }\n"
    "  const t = document.getElementById('fleet');\n"
    "  t.replaceChildren();\n"
    "  const hr = el('tr');\n"
    "  hr.appendChild(el('th', 'zone', 'zone'));\n"
    "  for (const a of servers) {\n"
    "    const s = seen.get(a);\n"
    "    const th = el('th', '', a);\n"
    "    th.appendChild(el('small', '', s.roles.join(', ') +\n"
    "      (s.name && s.name !== a && s.name !== 'self' ? ' ' + s.name : '')));\n"
    "    hr.appendChild(th);\n"
    "  }\n"
    "  t.appendChild(hr);\n"
    "  let behind = 0, copies = 0;\n"
    "  const bad = new Map();\n"
    "  for (const z of (health.zones || [])) bad.set(z.zone, z);\n"
    "  for (const z of fleet.zones) {\n"
    "    const tr = el('tr');\n"
    "    tr.dataset.zone = z.zone;\n"
    "    const th = el('th', 'zone', z.zone);\n"
    "    const h = bad.get(z.zone);\n"
    "    th.appendChild(el('small', h ? h.status : 'ok', 'serial ' +\n"
    "      (z.serial === null ? '-' : z.serial) + (h ? '; ' + h.status + ': ' +\n"
    "      h.reasons.join(', ') : '')));\n"
    "    tr.appendChild(th);\n"
    "    const by = new Map(z.servers.map(s => [s.address, s]));\n"
    "    for (const a of servers) {\n"
    "      const s = by.get(a);\n"
    "      if (s) { copies++; if (!s.in_sync) behind++; }\n"
    "      tr.appendChild(cell(s, z.serial));\n"
    "    }\n"
    "    t.appendChild(tr);\n"
    "  }\n"
    "  const sum = document.getElementById('summary');\n"
    "  sum.className = health.status;\n"
    "  sum.dataset.status = health.status;\n"
    "  sum.textContent = 'health: ' + health.status + ' - ' + fleet.zones.length + ' zones, ' +\n"
    "    copies + ' copies, ' + (behind ? behind + ' not in sync' : 'all in sync');\n"
    "  document.getElementById('updated').textContent = 'updated ' + new Date().toISOString();\n"
    "}\n"
    "draw(initial.fleet, initial.health);\n"
    "async function refresh() {\n"
    "  try {\n"
    "    const [f, h] = await Promise.all([fetch('/fleet', {cache: 'no-store'}),\n"
    "                                      fetch('/health', {cache: 'no-store'})]);\n"
    "    draw(await f.json(), await h.json());\n"
    "  } catch (e) {\n"
    "    document.getElementById('updated').textContent = 'cannot reach the server: ' + e;\n"
    "  }\n"
    "}\n"
    "setInterval(refresh, 5000);\n"
    "</script>\n</body></html>\n";

/* JSON put inside a script element: a '<' (only ever inside strings) would let "</script>"
 * end it, so every one becomes \u003c, which means the same to the script. */
static void append_script_json(ctl_reply_t *page, const ctl_reply_t *json)
{
	const char *p = json->text, *end = json->text + json->len;
	while (p && p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		size_t n = (size_t)((lt ? lt : end) - p);
		ctl_printf(page, "%.*s", (int)n, p);
		if (!lt)
			break;
		ctl_printf(page, "\\u003c");
		p = lt + 1;
	}
}

static void status_page(server_t *s, ctl_reply_t *r)
{
	ctl_reply_t fleet = {.json = true}, health = {0};
	fleetmon_report(s->fleet, NULL, &fleet);
	metrics_health(s, &health);
	ctl_printf(r, "%s{\"fleet\": ", page_head);
	append_script_json(r, &fleet);
	ctl_printf(r, ", \"health\": ");
	append_script_json(r, &health);
	ctl_printf(r, "}%s", page_tail);
	free(fleet.text);
	free(health.text);
}

void http_route(server_t *s, const char *method, const char *path, http_reply_t *out)
{
	static const char *const paths[] = {"/health", "/metrics", "/fleet", "/", NULL};
	ctl_reply_t body = out->body; /* a buffer to reuse, or none */
	memset(out, 0, sizeof(*out));
	out->body = (ctl_reply_t){.text = body.text, .cap = body.text ? body.cap : 0};
	int which = -1;
	for (int i = 0; paths[i]; i++)
		if (strcmp(path, paths[i]) == 0)
			which = i;
	out->type = TYPE_TEXT;
	if (which < 0) {
		out->status = 404;
		ctl_printf(&out->body, "not found; try /, /health, /metrics or /fleet\n");
		return;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		out->status = 405;
		out->allow = "GET, HEAD";
		ctl_printf(&out->body, "only GET and HEAD\n");
		return;
	}
	out->status = 200;
	switch (which) {
	case 0:
		out->type = TYPE_JSON;
		out->status = metrics_health(s, &out->body);
		break;
	case 1:
		out->type = TYPE_METRICS;
		metrics_render(s, &out->body);
		break;
	case 2:
		out->type = TYPE_JSON;
		out->body.json = true;
		fleetmon_report(s->fleet, NULL, &out->body);
		break;
	default:
		out->type = TYPE_HTML;
		status_page(s, &out->body);
		break;
	}
}

/* ---- the listener: libmicrohttpd, driven from the zone manager's loop ---- */

struct http {
	server_t *s;
	int fds[HTTP_MAX_LISTEN]; /* bound, until MHD owns them */
	struct MHD_Daemon *d[HTTP_MAX_LISTEN];
	size_t n;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[256];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = 0;
	/* What a client did wrong is for the debug log, and rate-limited there too. */
	if (shield_log_allow())
		log_debug("http: %s", msg);
}

/*
 * The path is taken as sent, not %-decoded: every path we serve is plain ASCII, and a decoded
 * "/%00" would read as "/" once its NUL ends the C string.
 */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

/*
 * The last body MHD is done with, kept for the next answer: a scrape of many zones is
 * megabytes, and fresh ones would cost a page fault per page each time. Bodies being sent
 * are remembered by pointer, to know their size when MHD gives them back. Zone manager
 * thread only (MHD calls back from http_run and http_free).
 */
static struct {
	char *spare;
	size_t spare_cap;
	struct {
		char *p;
		size_t cap;
	} out[8];
} bufs;

static void give_back(void *p)
{
	for (size_t i = 0; i < sizeof(bufs.out) / sizeof(bufs.out[0]); i++) {
		if (bufs.out[i].p != p)
			continue;
		bufs.out[i].p = NULL;
		if (!bufs.spare || bufs.spare_cap < bufs.out[i].cap) {
			free(bufs.spare);
			bufs.spare = p;
			bufs.spare_cap = bufs.out[i].cap;
			return;
		}
		break;
	}
	free(p);
}

static struct MHD_Response *body_response(ctl_reply_t *b)
{
	if (!b->text)
		return MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	for (size_t i = 0; i < sizeof(bufs.out) / sizeof(bufs.out[0]); i++) {
		if (bufs.out[i].p)
			continue;
		struct MHD_Response *r =
		    MHD_create_response_from_buffer_with_free_callback(b->len, b->text, give_back);
		if (r) {
			bufs.out[i].p = b->text;
			bufs.out[i].cap = b->cap;
		}
		return r;
	}
	return MHD_create_response_from_buffer(b->len, b->text, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
	(void)version;
	(void)upload;
	(void)con_cls;
	http_t *h = cls;
	http_reply_t rep = {.body = {.text = bufs.spare, .cap = bufs.spare_cap}};
	bufs.spare = NULL;
	http_route(h->s, method, url, &rep);
	/* A request body is never wanted: the answer goes now, and MHD closes the connection
	 * rather than read what it did not need. */
	*upload_size = 0;
	struct MHD_Response *resp = body_response(&rep.body);
	if (!resp) {
		free(rep.body.text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep.type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (rep.allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rep.allow);
	if (strcmp(rep.type, TYPE_HTML) == 0)
		MHD_add_response_header(resp, "Content-Security-Policy",
		                        "default-src 'none'; script-src 'unsafe-inline'; "
		                        "style-src 'unsafe-inline'; connect-src 'self'");
	enum MHD_Result ret = MHD_queue_response(c, rep.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int http_bind(server_t *s, http_t **out)
{
	const conf_t *c = s->conf;
	*out = NULL;
	if (!c->nhttp)
		return 0;
	if (c->nhttp > HTTP_MAX_LISTEN) {
		log_error("server.http: %zu addresses, at most %d", c->nhttp, HTTP_MAX_LISTEN);
		return -EINVAL;
	}
	http_t *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->s = s;
	for (size_t i = 0; i < HTTP_MAX_LISTEN; i++)
		h->fds[i] = -1;
	for (size_t i = 0; i < c->nhttp; i++) {
		const conf_addr_t *a = &c->http[i];
		char text[80];
		conf_addr_str(a, text, sizeof(text));
		int one = 1,
		    fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		int ret = fd < 0 ? -errno : 0;
		if (fd >= 0) {
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (a->ss.ss_family == AF_INET6)
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
			if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
			    listen(fd, 64) < 0)
				ret = -errno;
		}
		if (ret < 0) {
			log_error("cannot listen on %s (HTTP): %s", text, strerror(-ret));
			if (fd >= 0)
				close(fd);
			http_free(h);
			return ret;
		}
		h->fds[i] = fd;
		h->n++;
	}
	*out = h;
	return 0;
}

int http_start(http_t *h)
{
	if (!h)
		return 0;
	const conf_t *c = h->s->conf;
	for (size_t i = 0; i < h->n; i++) {
		char text[80];
		conf_addr_str(&c->http[i], text, sizeof(text));
		/* No thread of MHD's own: its epoll descriptor joins the zone manager's poll, so
		 * the handlers read zone and fleet state on the thread that writes it. */
		h->d[i] = MHD_start_daemon(
		    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, answer, h,
		    MHD_OPTION_LISTEN_SOCKET, h->fds[i], MHD_OPTION_CONNECTION_LIMIT,
		    (unsigned)c->http_max_clients, MHD_OPTION_CONNECTION_TIMEOUT,
		    (unsigned)c->http_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		    (size_t)HTTP_CONN_MEMORY, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		    MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_END);
		if (!h->d[i]) {
			log_error("cannot serve HTTP on %s", text);
			return -EINVAL;
		}
		h->fds[i] = -1; /* MHD's now: MHD_stop_daemon closes it */
		log_info("listening on %s (HTTP: /health, /metrics, /fleet, /)", text);
	}
	return 0;
}

int http_pollfds(const http_t *h, struct pollfd *p, int max)
{
	int n = 0;
	for (size_t i = 0; h && i < h->n && n < max; i++) {
		if (!h->d[i])
			continue;
		const union MHD_DaemonInfo *info =
		    MHD_get_daemon_info(h->d[i], MHD_DAEMON_INFO_EPOLL_FD);
		if (info)
			p[n++] = (struct pollfd){.fd = info->epoll_fd, .events = POLLIN};
	}
	return n;
}

int http_wait_ms(const http_t *h, int max)
{
	for (size_t i = 0; h && i < h->n; i++) {
		MHD_UNSIGNED_LONG_LONG t;
		if (h->d[i] && MHD_get_timeout(h->d[i], &t) == MHD_YES && t < (unsigned)max)
			max = (int)t;
	}
	return max;
}

void http_run(http_t *h)
{
	for (size_t i = 0; h && i < h->n; i++)
		if (h->d[i])
			MHD_run(h->d[i]);
}

void http_free(http_t *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < HTTP_MAX_LISTEN; i++) {
		if (h->d[i])
			MHD_stop_daemon(h->d[i]);
		if (h->fds[i] >= 0)
			close(h->fds[i]);
	}
	free(bufs.spare);
	bufs.spare = NULL;
	free(h);
}
