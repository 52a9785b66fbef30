/*
 * The "views" section: each view's name, client prefixes, zones and
 * forward rules, and the client-address table built from every view's
 * prefixes as they are read. A prefix given twice is found by the table
 * itself (-EEXIST); the list of prefixes already added only serves to
 * name both places in the message.
 */
#include "conf_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpcdns/wire.h"

static const char *const view_keys[] = {
	"name",	   "clients",	  "zones",   "forward",	   "include",
	"subnets", "az_affinity", "explain", "rate_limit", NULL,
};

/* "::ffff:10.0.0.0/104" is the IPv4 prefix 10.0.0.0/8: clients with
 * mapped addresses are matched against IPv4 prefixes. */
static void unmap_cidr(vd_cidr_t *c)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (c->family != AF_INET6 || c->prefix < 96 || memcmp(c->addr, mapped, 12) != 0)
		return;
	c->family = AF_INET;
	memmove(c->addr, c->addr + 12, 4);
	memset(c->addr + 4, 0, 12);
	c->prefix = (uint8_t)(c->prefix - 96);
}

static const client_ref_t *find_client(const cbuild_t *b, const vd_cidr_t *c)
{
	for (size_t i = 0; i < b->nclients; i++)
		if (vd_cidr_equal(&b->clients[i].cidr, c))
			return &b->clients[i];
	return NULL;
}

static int push_client_ref(cbuild_t *b, const vd_cidr_t *c, int view,
			   unsigned long line)
{
	client_ref_t *grown;

	if (b->nclients == b->capclients) {
		size_t cap = b->capclients ? b->capclients * 2 : 16;

		grown = realloc(b->clients, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		b->clients = grown;
		b->capclients = cap;
	}
	b->clients[b->nclients++] = (client_ref_t){ *c, view, line };
	return 0;
}

static void duplicate_client(cbuild_t *b, const vd_view_t *v, const vd_cidr_t *c,
			     const ynode_t *item, const char *where)
{
	const client_ref_t *first = find_client(b, c);

	if (!first) /* cannot happen: every added prefix is listed */
		vd_conf_err(b, item->line, "%s.clients: '%s' is in two views", where,
			    item->str);
	else if (first->view == vd_view_index(v))
		vd_conf_err(b, item->line,
			    "%s.clients: '%s' is listed twice (first at line %lu)",
			    where, item->str, first->line);
	else
		vd_conf_err(
			b, item->line,
			"client prefix '%s' is in two views: '%s' (line %lu) and '%s'",
			item->str, vd_view_name(b->snap->views[first->view]),
			first->line, vd_view_name(v));
}

static void add_client(cbuild_t *b, vd_view_t *v, const ynode_t *item,
		       const char *where)
{
	vd_cidr_t c;
	int r;

	if (vd_cidr_parse(item->str, &c) < 0) {
		vd_conf_err(b, item->line,
			    "%s.clients: bad CIDR '%s' (an address, or a prefix with "
			    "no host bits set)",
			    where, item->str);
		return;
	}
	unmap_cidr(&c);
	r = vd_view_table_add(b->snap->view_table, &c, vd_view_index(v));
	if (r == -EEXIST) {
		duplicate_client(b, v, &c, item, where);
		return;
	}
	if (r < 0 || push_client_ref(b, &c, vd_view_index(v), item->line) < 0 ||
	    vd_view_add_client(v, b->a, &c) < 0)
		vd_conf_nomem(b);
}

static void view_clients(cbuild_t *b, vd_view_t *v, const ynode_t *m, const char *where)
{
	const yn_pair_t *p = NULL;
	const ynode_t *list = vd_conf_yaml_get(m, "clients", &p);

	if (!list) {
		vd_conf_err(b, m->line, "missing required key 'clients' in %s", where);
		return;
	}
	if (!vd_conf_is_string_list(list)) {
		vd_conf_err(b, p->key->line, "%s.clients must be a list of strings",
			    where);
		return;
	}
	if (list->n == 0) {
		vd_conf_err(b, p->key->line, "%s.clients must not be empty", where);
		return;
	}
	for (size_t i = 0; i < list->n; i++)
		add_client(b, v, list->items[i], where);
}

/* Line of the name of an earlier view called name, or 0. */
static unsigned long earlier_name_line(const ynode_t *list, size_t i, const char *name)
{
	for (size_t j = 0; j < i; j++) {
		const ynode_t *n = vd_conf_yaml_get(list->items[j], "name", NULL);

		if (n && n->kind == YN_SCALAR && !n->null && strcmp(n->str, name) == 0)
			return n->line;
	}
	return 0;
}

static void view_name(cbuild_t *b, vd_view_t *v, const ynode_t *list, size_t i,
		      const char *where)
{
	const ynode_t *m = list->items[i];
	const yn_pair_t *p = NULL;
	const char *name;
	unsigned long first;

	char what[64];

	if (!vd_conf_yaml_get(m, "name", &p)) {
		vd_conf_err(b, m->line, "missing required key 'name' in %s", where);
		return;
	}
	snprintf(what, sizeof(what), "%s.name", where);
	if (vd_conf_string(b, p, what, &name) < 0)
		return;
	if (!*name) {
		vd_conf_err(b, p->val->line, "%s.name must not be empty", where);
		return;
	}
	first = earlier_name_line(list, i, name);
	if (first)
		vd_conf_err(b, p->val->line,
			    "duplicate view name '%s' (first at line %lu)", name,
			    first);
	if (vd_view_set_name(v, b->a, name) < 0)
		vd_conf_nomem(b);
}

static int find_group(const vd_snap_t *s, const char *name)
{
	for (size_t i = 0; i < s->ngroups; i++)
		if (strcmp(s->groups[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Returns 1 when *rule was filled (its name is valid), 0 after an error.
 * A rule with a bad group is still filled, with group -1, so later
 * duplicates of its name are found; the build fails anyway. */
static int forward_rule(cbuild_t *b, const yn_pair_t *p, const fwd_rule_t *prev,
			size_t nprev, const char *where, fwd_rule_t *rule)
{
	uint8_t wire[VD_NAME_MAX];
	const char *gname;
	size_t len;

	if (vd_name_from_text(p->key->str, wire, &len) < 0) {
		vd_conf_err(b, p->key->line, "%s.forward: bad name '%s'", where,
			    p->key->str);
		return 0;
	}
	vd_name_lower(wire, wire);
	for (size_t j = 0; j < nprev; j++) {
		if (vd_name_equal(prev[j].name, wire)) {
			vd_conf_err(b, p->key->line,
				    "%s.forward: duplicate rule for '%s' (first at "
				    "line %lu)",
				    where, p->key->str, prev[j].line);
			return 0;
		}
	}
	rule->name = vd_arena_memdup(b->a, wire, len);
	rule->line = p->key->line;
	rule->group = -1;
	if (!rule->name) {
		vd_conf_nomem(b);
		return 0;
	}
	if (!p->val || p->val->kind != YN_SCALAR || p->val->null) {
		vd_conf_err(b, p->key->line, "%s.forward['%s'] must be a group name",
			    where, p->key->str);
		return 1;
	}
	gname = p->val->str;
	rule->group = find_group(b->snap, gname);
	if (rule->group < 0)
		vd_conf_err(b, p->val->line,
			    "unknown upstream group '%s' in forward rule '%s'", gname,
			    p->key->str);
	return 1;
}

static void view_forward(cbuild_t *b, vd_view_t *v, const ynode_t *m, const char *where)
{
	const yn_pair_t *p = NULL;
	const ynode_t *f = vd_conf_yaml_get(m, "forward", &p);
	fwd_rule_t *rules = NULL;
	size_t n = 0;

	if (f && f->kind != YN_MAP) {
		vd_conf_err(b, p->key->line,
			    "%s.forward must be a map of names to upstream groups",
			    where);
		f = NULL;
	}
	if (f && f->n) {
		rules = malloc(f->n * sizeof(*rules));
		if (!rules) {
			vd_conf_nomem(b);
			return;
		}
		for (size_t i = 0; i < f->n; i++)
			n += (size_t)forward_rule(b, &f->pairs[i], rules, n, where,
						  &rules[n]);
	}
	/* The routing map is built in the link pass, with included zones. */
	b->vtmp[vd_view_index(v)].rules = rules;
	b->vtmp[vd_view_index(v)].nrules = n;
}

static void view_az_affinity(cbuild_t *b, vd_view_t *v, const ynode_t *m,
			     const char *where)
{
	static const char *const names[] = { "prefer", "only", "off" };
	const yn_pair_t *p = NULL;
	const char *s;
	char what[64];

	vd_view_set_az_affinity(v, VD_AZ_PREFER);
	if (!vd_conf_yaml_get(m, "az_affinity", &p))
		return;
	snprintf(what, sizeof(what), "%s.az_affinity", where);
	if (vd_conf_string(b, p, what, &s) < 0)
		return;
	for (int i = 0; i < 3; i++) {
		if (strcmp(s, names[i]) == 0) {
			vd_view_set_az_affinity(v, (vd_az_affinity_t)i);
			return;
		}
	}
	vd_conf_err(b, p->val->line, "%s: bad value '%s' (prefer, only or off)", what,
		    s);
}

/* Keys read in the link pass, once every view is known. */
static void view_links(cbuild_t *b, vd_view_t *v, const ynode_t *m, const char *where)
{
	const yn_pair_t *p = NULL;
	char what[64];
	bool explain = true;

	vd_conf_yaml_get(m, "include", &b->vtmp[vd_view_index(v)].include);
	vd_conf_yaml_get(m, "subnets", &b->vtmp[vd_view_index(v)].subnets);
	if (vd_conf_yaml_get(m, "explain", &p)) {
		snprintf(what, sizeof(what), "%s.explain", where);
		vd_conf_bool(b, p, what, &explain);
	}
	vd_view_set_explain(v, explain);
	view_az_affinity(b, v, m, where);
}

static void build_view(cbuild_t *b, const ynode_t *list, size_t i)
{
	const ynode_t *m = list->items[i];
	vd_view_t *v = vd_view_new(b->a, (int)b->snap->nviews);
	const yn_pair_t *zp = NULL;
	char where[40];

	if (!v) {
		vd_conf_nomem(b);
		return;
	}
	b->snap->views[b->snap->nviews++] = v;
	snprintf(where, sizeof(where), "views[%zu]", i);
	/* Until a valid name is known, messages use the position. */
	if (vd_view_set_name(v, b->a, where) < 0)
		vd_conf_nomem(b);
	if (m->kind != YN_MAP) {
		vd_conf_err(b, m->line, "%s must be a map", where);
		return;
	}
	view_name(b, v, list, i, where);
	vd_conf_check_keys(b, m, view_keys, where);
	view_clients(b, v, m, where);
	if (vd_conf_yaml_get(m, "zones", &zp))
		vd_conf_view_zones(b, v, zp, where);
	view_forward(b, v, m, where);
	view_links(b, v, m, where);
	vd_conf_view_rate_limit(b, vd_view_index(v), m, where);
}

void vd_conf_build_views(cbuild_t *b, const ynode_t *root)
{
	const yn_pair_t *vp = NULL;
	const ynode_t *vs = vd_conf_yaml_get(root, "views", &vp);

	b->snap->view_table = vd_view_table_new();
	if (!b->snap->view_table) {
		vd_conf_nomem(b);
		return;
	}
	if (!vs) {
		vd_conf_err(b, root->line, "missing required key 'views'");
		return;
	}
	if (vs->kind != YN_SEQ || vs->n == 0) {
		vd_conf_err(b, vp->key->line, "views must be a non-empty list of maps");
		return;
	}
	b->snap->views = vd_arena_alloc(b->a, vs->n * sizeof(*b->snap->views));
	b->vtmp = calloc(vs->n, sizeof(*b->vtmp));
	b->snap->view_rate_limit =
		vd_arena_alloc(b->a, vs->n * sizeof(*b->snap->view_rate_limit));
	if (!b->snap->views || !b->vtmp || !b->snap->view_rate_limit) {
		vd_conf_nomem(b);
		return;
	}
	for (size_t i = 0; i < vs->n; i++)
		build_view(b, vs, i);
	vd_conf_link_views(b);
}
