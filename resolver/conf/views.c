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
	"name",	   "clients",	  "zones",	"forward", "include",
	"subnets", "az_affinity", "explain",	"vpc_id",  "account_id",
	"region",  "firewall",	  "rate_limit", NULL,
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
			   const ynode_t *item)
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
	b->clients[b->nclients++] = (client_ref_t){ *c, view, item->file, item->line };
	return 0;
}

static void duplicate_client(cbuild_t *b, const vd_view_t *v, const vd_cidr_t *c,
			     const ynode_t *item, const char *where)
{
	const client_ref_t *first = find_client(b, c);

	if (!first) /* cannot happen: every added prefix is listed */
		vd_conf_nerr(b, item, "%s.clients: '%s' is in two views", where,
			     item->str);
	else if (first->view == vd_view_index(v))
		vd_conf_nerr(b, item,
			     "%s.clients: '%s' is listed twice (first at line %lu)",
			     where, item->str, first->line);
	else if (first->file == item->file)
		vd_conf_nerr(
			b, item,
			"client prefix '%s' is in two views: '%s' (line %lu) and '%s'",
			item->str, vd_view_name(b->snap->views[first->view]),
			first->line, vd_view_name(v));
	else
		vd_conf_nerr(
			b, item,
			"client prefix '%s' is in two views: '%s' (%s:%lu) and '%s'",
			item->str, vd_view_name(b->snap->views[first->view]),
			first->file, first->line, vd_view_name(v));
}

static void add_client(cbuild_t *b, vd_view_t *v, const ynode_t *item,
		       const char *where)
{
	vd_cidr_t c;
	int r;

	if (vd_cidr_parse(item->str, &c) < 0) {
		vd_conf_nerr(b, item,
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
	if (r < 0 || push_client_ref(b, &c, vd_view_index(v), item) < 0 ||
	    vd_view_add_client(v, b->a, &c) < 0)
		vd_conf_nomem(b);
}

static void view_clients(cbuild_t *b, vd_view_t *v, const ynode_t *m, const char *where)
{
	const yn_pair_t *p = NULL;
	const ynode_t *list = vd_conf_yaml_get(m, "clients", &p);

	if (!list) {
		vd_conf_nerr(b, m, "missing required key 'clients' in %s", where);
		return;
	}
	if (!vd_conf_is_string_list(list)) {
		vd_conf_nerr(b, p->key, "%s.clients must be a list of strings", where);
		return;
	}
	if (list->n == 0) {
		vd_conf_nerr(b, p->key, "%s.clients must not be empty", where);
		return;
	}
	for (size_t i = 0; i < list->n; i++)
		add_client(b, v, list->items[i], where);
}

/* The name node of an earlier view called name, or NULL. */
static const ynode_t *earlier_name(const cbuild_t *b, size_t i, const char *name)
{
	for (size_t j = 0; j < i; j++) {
		const ynode_t *n = b->vtmp[j].name;

		if (n && strcmp(n->str, name) == 0)
			return n;
	}
	return NULL;
}

static void view_name(cbuild_t *b, vd_view_t *v, const ynode_t *m, const char *where)
{
	size_t i = (size_t)vd_view_index(v);
	const yn_pair_t *p = NULL;
	const ynode_t *first;
	const char *name;
	char what[64];

	if (!vd_conf_yaml_get(m, "name", &p)) {
		vd_conf_nerr(b, m, "missing required key 'name' in %s", where);
		return;
	}
	snprintf(what, sizeof(what), "%s.name", where);
	if (vd_conf_string(b, p, what, &name) < 0)
		return;
	if (!*name) {
		vd_conf_nerr(b, p->val, "%s.name must not be empty", where);
		return;
	}
	first = earlier_name(b, i, name);
	if (first && first->file == p->val->file)
		vd_conf_nerr(b, p->val, "duplicate view name '%s' (first at line %lu)",
			     name, first->line);
	else if (first)
		vd_conf_nerr(b, p->val, "view '%s' already defined at %s:%lu", name,
			     first->file, first->line);
	else
		b->vtmp[i].name = p->val;
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
		vd_conf_nerr(b, p->key, "%s.forward: bad name '%s'", where,
			     p->key->str);
		return 0;
	}
	vd_name_lower(wire, wire);
	for (size_t j = 0; j < nprev; j++) {
		if (vd_name_equal(prev[j].name, wire)) {
			vd_conf_nerr(b, p->key,
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
		vd_conf_nerr(b, p->key, "%s.forward['%s'] must be a group name", where,
			     p->key->str);
		return 1;
	}
	gname = p->val->str;
	rule->group = find_group(b->snap, gname);
	if (rule->group < 0)
		vd_conf_nerr(b, p->val,
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
		vd_conf_nerr(b, p->key,
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
	vd_conf_nerr(b, p->val, "%s: bad value '%s' (prefer, only or off)", what, s);
}

/* explain: true, false, or a list of client prefixes (absent: the view's
 * default, loopback clients only). */
static void view_explain(cbuild_t *b, vd_view_t *v, const ynode_t *m, const char *where)
{
	const yn_pair_t *p = NULL;
	vd_cidr_t *list;
	char what[64];
	bool on;
	size_t n = 0;

	if (!vd_conf_yaml_get(m, "explain", &p))
		return;
	snprintf(what, sizeof(what), "%s.explain", where);
	if (p->val->kind != YN_SEQ) {
		if (vd_conf_bool(b, p, what, &on) == 0 &&
		    vd_view_set_explain(v, b->a, on ? VD_EXPLAIN_ALL : VD_EXPLAIN_OFF,
					NULL, 0) < 0)
			vd_conf_nomem(b);
		return;
	}
	if (!vd_conf_is_string_list(p->val)) {
		vd_conf_nerr(b, p->key,
			     "%s must be true, false or a list of client prefixes",
			     what);
		return;
	}
	list = calloc(p->val->n ? p->val->n : 1, sizeof(*list));
	if (!list) {
		vd_conf_nomem(b);
		return;
	}
	for (size_t i = 0; i < p->val->n; i++) {
		const ynode_t *it = p->val->items[i];
		if (vd_cidr_parse(it->str, &list[n]) < 0) {
			vd_conf_nerr(b, it,
				     "%s: bad CIDR '%s' (an address, or a prefix with "
				     "no host bits set)",
				     what, it->str);
			continue;
		}
		n++;
	}
	if (vd_view_set_explain(v, b->a, VD_EXPLAIN_LIST, list, n) < 0)
		vd_conf_nomem(b);
	free(list);
}

/* Keys read in the link pass, once every view is known. */
static void view_links(cbuild_t *b, vd_view_t *v, const ynode_t *m, const char *where)
{
	vd_conf_yaml_get(m, "include", &b->vtmp[vd_view_index(v)].include);
	vd_conf_yaml_get(m, "subnets", &b->vtmp[vd_view_index(v)].subnets);
	view_explain(b, v, m, where);
	view_az_affinity(b, v, m, where);
}

static bool all_of(const char *s, size_t n, const char *set)
{
	return strlen(s) == n && strspn(s, set) == n;
}

static bool valid_vpc_id(const char *s)
{
	size_t n = strlen(s) - 4;

	return strncmp(s, "vpc-", 4) == 0 && (n == 8 || n == 17) &&
	       all_of(s + 4, n, "0123456789abcdef");
}

static bool valid_account_id(const char *s)
{
	return all_of(s, 12, "0123456789");
}

/* Two letters, one or more lowercase words, a number: "us-east-1",
 * "us-gov-west-1", "ap-southeast-2". */
static bool valid_region(const char *s)
{
	static const char lower[] = "abcdefghijklmnopqrstuvwxyz";
	size_t n = strspn(s, lower), words = 0;

	if (n != 2 || s[2] != '-')
		return false;
	for (s += 3; (n = strspn(s, lower)) > 0 && s[n] == '-'; s += n + 1)
		words++;
	return words > 0 && *s && strspn(s, "0123456789") == strlen(s);
}

typedef struct meta_key {
	const char *key;
	bool (*valid)(const char *);
	const char *form;
	int (*set)(vd_view_t *, vd_arena_t *, const char *);
} meta_key_t;

/* vpc_id, account_id, region: stored for the query log, checked here. */
static void view_meta(cbuild_t *b, vd_view_t *v, const ynode_t *m, const char *where)
{
	static const meta_key_t keys[] = {
		{ "vpc_id", valid_vpc_id, "vpc- and 8 or 17 hex digits",
		  vd_view_set_vpc_id },
		{ "account_id", valid_account_id, "12 digits", vd_view_set_account_id },
		{ "region", valid_region, "like us-east-1", vd_view_set_region },
	};
	const yn_pair_t *p = NULL;
	const char *s;
	char what[64];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!vd_conf_yaml_get(m, keys[i].key, &p))
			continue;
		snprintf(what, sizeof(what), "%s.%s", where, keys[i].key);
		if (vd_conf_string(b, p, what, &s) < 0)
			continue;
		if (!keys[i].valid(s))
			vd_conf_nerr(b, p->val, "%s: bad value '%s' (%s)", what, s,
				     keys[i].form);
		else if (keys[i].set(v, b->a, s) < 0)
			vd_conf_nomem(b);
	}
}

static void build_view(cbuild_t *b, const vitem_t *it)
{
	const ynode_t *m = it->m;
	vd_view_t *v = vd_view_new(b->a, (int)b->snap->nviews);
	const yn_pair_t *zp = NULL;
	char where[40];

	if (!v) {
		vd_conf_nomem(b);
		return;
	}
	b->snap->views[b->snap->nviews++] = v;
	snprintf(where, sizeof(where), "views[%zu]", it->pos);
	/* Until a valid name is known, messages use the position. */
	if (vd_view_set_name(v, b->a, where) < 0)
		vd_conf_nomem(b);
	if (m->kind != YN_MAP) {
		vd_conf_nerr(b, m, "%s must be a map", where);
		return;
	}
	view_name(b, v, m, where);
	vd_conf_check_keys(b, m, view_keys, where);
	view_clients(b, v, m, where);
	if (vd_conf_yaml_get(m, "zones", &zp))
		vd_conf_view_zones(b, v, zp, where);
	view_forward(b, v, m, where);
	view_links(b, v, m, where);
	view_meta(b, v, m, where);
	vd_conf_view_firewall(b, v, m, where);
	vd_conf_view_rate_limit(b, vd_view_index(v), m, where);
}

/* vpcdns.yaml's views, then the view files' (views: may be left out, or
 * empty, when view_files is given). */
static void collect(cbuild_t *b, const ynode_t *root, vlist_t *all)
{
	const yn_pair_t *vp = NULL;
	const ynode_t *vs = vd_conf_yaml_get(root, "views", &vp);
	bool files = vd_conf_yaml_get(root, "view_files", NULL) != NULL;

	if (!vs && !files)
		vd_conf_err(b, root->line, "missing required key 'views'");
	else if (vs && (vs->kind != YN_SEQ || (vs->n == 0 && !files)))
		vd_conf_nerr(b, vp->key, "views must be a non-empty list of maps");
	else
		for (size_t i = 0; vs && i < vs->n; i++)
			if (vd_conf_vlist_push(all, vs->items[i], i) < 0)
				vd_conf_nomem(b);
	vd_conf_view_files(b, root, all);
}

void vd_conf_build_views(cbuild_t *b, const ynode_t *root)
{
	vlist_t all = { 0 };
	size_t n;

	b->snap->view_table = vd_view_table_new();
	if (!b->snap->view_table) {
		vd_conf_nomem(b);
		return;
	}
	collect(b, root, &all);
	n = all.n ? all.n : 1;
	b->snap->views = vd_arena_alloc(b->a, n * sizeof(*b->snap->views));
	b->vtmp = calloc(n, sizeof(*b->vtmp));
	b->snap->fw_views = vd_arena_alloc(b->a, n * sizeof(*b->snap->fw_views));
	b->snap->view_rate_limit =
		vd_arena_alloc(b->a, n * sizeof(*b->snap->view_rate_limit));
	if (!b->snap->views || !b->vtmp || !b->snap->fw_views ||
	    !b->snap->view_rate_limit) {
		vd_conf_nomem(b);
		goto out;
	}
	memset(b->snap->fw_views, 0, n * sizeof(*b->snap->fw_views));
	vd_conf_zones_reserve(b);
	for (size_t i = 0; i < all.n; i++)
		build_view(b, &all.v[i]);
	vd_conf_zones_attach(b);
	vd_conf_zones_done(b);
	vd_conf_link_views(b);
out:
	free(all.v);
}
