/*
 * The "query_log" section: where query logs go (Route 53 JSON to a file,
 * standard output or syslog; dnstap to a file or a Unix socket; both at
 * once is fine), which queries are logged (1 in sample; only some views,
 * rcodes, routes) and the size of each worker's ring. Relative paths are
 * relative to the configuration file's folder. The outputs and the ring
 * size are read at start; the rest applies from the reload that sets it.
 */
#include "conf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const qlog_keys[] = {
	"file",	 "dnstap_file", "dnstap_socket", "dnstap_forwarder", "sample",
	"views", "rcodes",	"routes",	 "ring_size",	     NULL,
};

static void keep_path(cbuild_t *b, const yn_pair_t *p, const char *what, bool special,
		      const char **out)
{
	const char *s;
	char *joined = NULL;

	if (vd_conf_string(b, p, what, &s) < 0)
		return;
	if (!*s) {
		vd_conf_err(b, p->val->line, "%s must not be empty", what);
		return;
	}
	if (special &&
	    (strcmp(s, VD_QLOG_STDOUT) == 0 || strcmp(s, VD_QLOG_SYSLOG) == 0))
		joined = strdup(s);
	else if (s[0] == '/')
		joined = strdup(s);
	else if (b->confdir && asprintf(&joined, "%s/%s", b->confdir, s) < 0)
		joined = NULL;
	if (!joined) {
		if (b->confdir)
			vd_conf_nomem(b);
		return;
	}
	if (!(*out = vd_arena_strdup(b->a, joined)))
		vd_conf_nomem(b);
	free(joined);
}

static bool list_of_strings(cbuild_t *b, const yn_pair_t *p, const char *what)
{
	if (!vd_conf_is_string_list(p->val) || p->val->n == 0) {
		vd_conf_err(b, p->key->line, "%s must be a non-empty list of strings",
			    what);
		return false;
	}
	return true;
}

static void read_views(cbuild_t *b, const yn_pair_t *p, vd_qlog_conf_t *c)
{
	uint8_t *on;

	if (!list_of_strings(b, p, "query_log.views"))
		return;
	on = vd_arena_alloc(b->a, b->snap->nviews ? b->snap->nviews : 1);
	if (!on) {
		vd_conf_nomem(b);
		return;
	}
	memset(on, 0, b->snap->nviews ? b->snap->nviews : 1);
	for (size_t i = 0; i < p->val->n; i++) {
		const ynode_t *it = p->val->items[i];
		int vi = vd_conf_view_index(b->snap, it->str);
		if (vi < 0)
			vd_conf_err(b, it->line, "query_log.views: unknown view '%s'",
				    it->str);
		else
			on[vi] = 1;
	}
	c->views = on;
	c->nviews = b->snap->nviews;
}

static void read_rcodes(cbuild_t *b, const yn_pair_t *p, vd_qlog_conf_t *c)
{
	static const char *const names[] = { "NOERROR",	 "FORMERR", "SERVFAIL",
					     "NXDOMAIN", "NOTIMP",  "REFUSED" };

	if (!list_of_strings(b, p, "query_log.rcodes"))
		return;
	c->rcodes = 0;
	for (size_t i = 0; i < p->val->n; i++) {
		const ynode_t *it = p->val->items[i];
		bool found = false;
		for (unsigned r = 0; r < 6; r++) {
			if (strcasecmp(it->str, names[r]) == 0) {
				c->rcodes |= 1u << r;
				found = true;
			}
		}
		/* "error": every rcode but NOERROR */
		if (strcasecmp(it->str, "error") == 0) {
			c->rcodes |= 0xfffeu;
			found = true;
		}
		if (!found)
			vd_conf_err(b, it->line,
				    "query_log.rcodes: unknown rcode '%s' (NOERROR, "
				    "FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED or "
				    "error)",
				    it->str);
	}
}

static void read_routes(cbuild_t *b, const yn_pair_t *p, vd_qlog_conf_t *c)
{
	if (!list_of_strings(b, p, "query_log.routes"))
		return;
	c->routes = 0;
	for (size_t i = 0; i < p->val->n; i++) {
		const ynode_t *it = p->val->items[i];
		int r = vd_qlog_route_parse(it->str);
		if (r < 0)
			vd_conf_err(
				b, it->line,
				"query_log.routes: unknown route '%s' (local, cache, "
				"forward, stale, refused, formerr, notimp or "
				"servfail)",
				it->str);
		else
			c->routes |= 1u << r;
	}
}

static void read_bounded(cbuild_t *b, const yn_pair_t *p, const char *what,
			 uint32_t min, uint32_t max, uint32_t *out)
{
	uint32_t n = 0;

	if (vd_conf_uint(b, p, what, &n) < 0)
		return;
	if (n < min || n > max) {
		vd_conf_err(b, p->val->line, "%s must be between %u and %u", what, min,
			    max);
		return;
	}
	*out = n;
}

static void qlog_pair(cbuild_t *b, const yn_pair_t *p, vd_qlog_conf_t *c)
{
	const char *k = p->key->str;

	if (strcmp(k, "file") == 0)
		keep_path(b, p, "query_log.file", true, &c->file);
	else if (strcmp(k, "dnstap_file") == 0)
		keep_path(b, p, "query_log.dnstap_file", false, &c->dnstap_file);
	else if (strcmp(k, "dnstap_socket") == 0)
		keep_path(b, p, "query_log.dnstap_socket", false, &c->dnstap_socket);
	else if (strcmp(k, "dnstap_forwarder") == 0)
		vd_conf_bool(b, p, "query_log.dnstap_forwarder", &c->dnstap_forwarder);
	else if (strcmp(k, "sample") == 0)
		read_bounded(b, p, "query_log.sample", 1, 1000000, &c->sample);
	else if (strcmp(k, "ring_size") == 0)
		read_bounded(b, p, "query_log.ring_size", VD_QLOG_RING_MIN,
			     VD_QLOG_RING_MAX, &c->ring_size);
	else if (strcmp(k, "views") == 0)
		read_views(b, p, c);
	else if (strcmp(k, "rcodes") == 0)
		read_rcodes(b, p, c);
	else if (strcmp(k, "routes") == 0)
		read_routes(b, p, c);
}

void vd_conf_build_qlog(cbuild_t *b, const ynode_t *root)
{
	vd_qlog_conf_t *c = &b->snap->qlog;
	const yn_pair_t *qp = NULL;
	const ynode_t *m;

	memset(c, 0, sizeof(*c));
	c->sample = 1;
	c->ring_size = VD_QLOG_RING_DEFAULT;
	c->rcodes = 0xffffffffu;
	c->routes = 0xffffffffu;
	c->dnstap_forwarder = true;
	m = vd_conf_yaml_get(root, "query_log", &qp);
	if (m == NULL)
		return;
	if (m->kind != YN_MAP) {
		vd_conf_err(b, qp->key->line, "query_log must be a map");
		return;
	}
	vd_conf_check_keys(b, m, qlog_keys, "query_log");
	for (size_t i = 0; i < m->n; i++)
		qlog_pair(b, &m->pairs[i], c);
	if (!c->file && !c->dnstap_file && !c->dnstap_socket)
		vd_conf_err(b, qp->key->line,
			    "query_log needs an output: file, dnstap_file or "
			    "dnstap_socket");
	if (c->dnstap_file && c->dnstap_socket)
		vd_conf_err(b, qp->key->line,
			    "query_log: dnstap_file and dnstap_socket are exclusive");
	/* a power of two: the ring indexes with a mask */
	uint32_t n = VD_QLOG_RING_MIN;
	while (n < c->ring_size)
		n <<= 1;
	c->ring_size = n;
	c->on = true;
}
