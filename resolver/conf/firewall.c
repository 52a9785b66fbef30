/*
 * The "firewall" section (domain lists and rule groups) and each view's
 * "firewall" list of rule groups. Lists are read here, during the build,
 * so a reload reads them again and a bad line fails the whole build (the
 * old snapshot keeps serving). Rules are sorted by priority once; the
 * query path only walks arrays.
 */
#include "conf_int.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpcdns/wire.h"

static const char *const fw_keys[] = { "lists", "rule_groups", NULL };
static const char *const rule_keys[] = {
	"priority", "list",	     "action",	     "block_response",
	"types",    "override_name", "override_ttl", "trust_redirections",
	NULL,
};

static int find_list(const vd_snap_t *s, const char *name)
{
	for (size_t i = 0; i < s->nfw_lists; i++)
		if (strcmp(s->fw_list_names[i], name) == 0)
			return (int)i;
	return -1;
}

static const vd_fw_group_t *find_group(const vd_snap_t *s, const char *name)
{
	for (size_t i = 0; i < s->nfw_groups; i++)
		if (strcmp(s->fw_groups[i].name, name) == 0)
			return &s->fw_groups[i];
	return NULL;
}

/* Relative paths are under server.directory, like zone files. */
static void read_list(cbuild_t *b, const yn_pair_t *p, size_t i)
{
	vd_snap_t *s = b->snap;
	char *joined = NULL;
	const char *path;
	char what[128];
	int r;

	snprintf(what, sizeof(what), "firewall.lists.%s", p->key->str);
	s->fw_list_names[i] = vd_arena_strdup(b->a, p->key->str);
	if (!s->fw_list_names[i]) {
		vd_conf_nomem(b);
		return;
	}
	if (vd_conf_string(b, p, what, &path) < 0)
		return;
	if (path[0] != '/' && !b->zonedir)
		return; /* a bad server.directory was reported already */
	if (path[0] == '/')
		joined = strdup(path);
	else if (asprintf(&joined, "%s/%s", b->zonedir, path) < 0)
		joined = NULL;
	if (!joined) {
		vd_conf_nomem(b);
		return;
	}
	r = vd_fw_list_read(joined, joined, &s->fw_lists[i], b->errs);
	if (r == -ENOMEM)
		vd_conf_nomem(b);
	else if (r < 0)
		b->nerr++; /* its messages are in errs already */
	free(joined);
}

static void build_lists(cbuild_t *b, const yn_pair_t *lp)
{
	const ynode_t *m = lp->val;
	vd_snap_t *s = b->snap;

	if (m->kind != YN_MAP) {
		vd_conf_err(b, lp->key->line,
			    "firewall.lists must be a map of list names to files");
		return;
	}
	s->fw_lists = calloc(m->n ? m->n : 1, sizeof(*s->fw_lists));
	s->fw_list_names = vd_arena_alloc(b->a, (m->n ? m->n : 1) * sizeof(char *));
	if (!s->fw_lists || !s->fw_list_names) {
		vd_conf_nomem(b);
		return;
	}
	s->nfw_lists = m->n;
	for (size_t i = 0; i < m->n; i++)
		read_list(b, &m->pairs[i], i);
}

static void rule_action(cbuild_t *b, const ynode_t *m, vd_fw_rule_t *r,
			const char *where)
{
	static const char *const actions[] = { "allow", "alert", "block" };
	static const char *const blocks[] = { "nodata", "nxdomain", "override" };
	const yn_pair_t *p = NULL;
	char what[192];
	const char *s;

	if (!vd_conf_yaml_get(m, "action", &p)) {
		vd_conf_err(b, m->line, "missing required key 'action' in %s", where);
		return;
	}
	snprintf(what, sizeof(what), "%s.action", where);
	if (vd_conf_string(b, p, what, &s) < 0)
		return;
	for (int i = 0; i < 3 && r->action == (vd_fw_action_t)-1; i++)
		if (strcmp(s, actions[i]) == 0)
			r->action = (vd_fw_action_t)i;
	if (r->action == (vd_fw_action_t)-1) {
		vd_conf_err(b, p->val->line,
			    "%s: bad value '%s' (allow, alert or block)", what, s);
		return;
	}
	r->block = VD_FW_NODATA;
	if (!vd_conf_yaml_get(m, "block_response", &p))
		return;
	snprintf(what, sizeof(what), "%s.block_response", where);
	if (vd_conf_string(b, p, what, &s) < 0)
		return;
	if (r->action != VD_FW_BLOCK) {
		vd_conf_err(b, p->key->line, "%s only applies to action: block", what);
		return;
	}
	for (int i = 0; i < 3; i++)
		if (strcmp(s, blocks[i]) == 0)
			r->block = (vd_fw_block_t)i;
	if (strcmp(s, blocks[r->block]) != 0)
		vd_conf_err(b, p->val->line,
			    "%s: bad value '%s' (nodata, nxdomain or override)", what,
			    s);
}

static void rule_override(cbuild_t *b, const ynode_t *m, vd_fw_rule_t *r,
			  const char *where)
{
	const yn_pair_t *np = NULL, *tp = NULL;
	uint8_t wire[VD_NAME_MAX];
	char what[192];
	const char *s;
	size_t len;

	vd_conf_yaml_get(m, "override_name", &np);
	vd_conf_yaml_get(m, "override_ttl", &tp);
	if (r->action != VD_FW_BLOCK || r->block != VD_FW_OVERRIDE) {
		if (np || tp)
			vd_conf_err(b, (np ? np : tp)->key->line,
				    "%s.%s only applies to block_response: override",
				    where, (np ? np : tp)->key->str);
		return;
	}
	if (!np) {
		vd_conf_err(b, m->line,
			    "missing required key 'override_name' in %s "
			    "(block_response: override)",
			    where);
		return;
	}
	snprintf(what, sizeof(what), "%s.override_name", where);
	if (vd_conf_string(b, np, what, &s) < 0)
		return;
	if (vd_name_from_text(s, wire, &len) < 0 || len == 1) {
		vd_conf_err(b, np->val->line, "%s: bad name '%s'", what, s);
		return;
	}
	r->override = vd_arena_memdup(b->a, wire, len);
	vd_rrset_t *rs = vd_arena_alloc(b->a, sizeof(*rs));
	const uint8_t **rdata = vd_arena_alloc(b->a, sizeof(*rdata));
	uint16_t *rdlen = vd_arena_alloc(b->a, sizeof(*rdlen));
	if (!r->override || !rs || !rdata || !rdlen) {
		vd_conf_nomem(b);
		return;
	}
	*rdata = r->override;
	*rdlen = (uint16_t)len;
	*rs = (vd_rrset_t){ .type = VD_T_CNAME,
			    .rclass = VD_C_IN,
			    .count = 1,
			    .rdata = rdata,
			    .rdlen = rdlen };
	r->override_rrset = rs;
	if (!tp)
		return;
	char *end = NULL;
	unsigned long ttl = 0;
	if (tp->val->kind == YN_SCALAR && !tp->val->null) {
		errno = 0;
		ttl = strtoul(tp->val->str, &end, 10);
	}
	if (!end || end == tp->val->str || *end || errno || ttl > 604800 ||
	    tp->val->str[0] == '-')
		vd_conf_err(b, tp->key->line,
			    "%s.override_ttl must be a number of seconds (0 to 604800)",
			    where);
	else
		r->override_ttl = (uint32_t)ttl;
	rs->ttl = r->override_ttl;
}

static void rule_types(cbuild_t *b, const ynode_t *m, vd_fw_rule_t *r,
		       const char *where)
{
	const yn_pair_t *p = NULL;
	const ynode_t *t = vd_conf_yaml_get(m, "types", &p);
	uint16_t *types;

	if (!t)
		return;
	if (!vd_conf_is_string_list(t) || t->n == 0) {
		vd_conf_err(b, p->key->line,
			    "%s.types must be a non-empty list of record types", where);
		return;
	}
	types = vd_arena_alloc(b->a, t->n * sizeof(*types));
	if (!types) {
		vd_conf_nomem(b);
		return;
	}
	for (size_t i = 0; i < t->n; i++) {
		ldns_rr_type rt = ldns_get_rr_type_by_name(t->items[i]->str);
		if (rt == 0)
			vd_conf_err(b, t->items[i]->line, "%s.types: unknown type '%s'",
				    where, t->items[i]->str);
		types[i] = (uint16_t)rt;
	}
	r->types = types;
	r->ntypes = (unsigned)t->n;
}

static void build_rule(cbuild_t *b, const ynode_t *m, vd_fw_rule_t *r,
		       const char *where)
{
	const yn_pair_t *p = NULL;
	char what[192];
	const char *s;

	memset(r, 0, sizeof(*r));
	r->action = (vd_fw_action_t)-1;
	if (m->kind != YN_MAP) {
		vd_conf_err(b, m->line, "%s must be a map", where);
		return;
	}
	vd_conf_check_keys(b, m, rule_keys, where);
	if (!vd_conf_yaml_get(m, "priority", &p))
		vd_conf_err(b, m->line, "missing required key 'priority' in %s", where);
	else {
		snprintf(what, sizeof(what), "%s.priority", where);
		vd_conf_uint(b, p, what, &r->priority);
	}
	if (!vd_conf_yaml_get(m, "list", &p)) {
		vd_conf_err(b, m->line, "missing required key 'list' in %s", where);
	} else {
		snprintf(what, sizeof(what), "%s.list", where);
		if (vd_conf_string(b, p, what, &s) == 0) {
			int li = find_list(b->snap, s);
			if (li < 0)
				vd_conf_err(b, p->val->line,
					    "%s: unknown list '%s' (not in "
					    "firewall.lists)",
					    what, s);
			else {
				r->list = b->snap->fw_lists[li];
				r->list_name = b->snap->fw_list_names[li];
			}
		}
	}
	rule_action(b, m, r, where);
	rule_override(b, m, r, where);
	rule_types(b, m, r, where);
	if (vd_conf_yaml_get(m, "trust_redirections", &p)) {
		snprintf(what, sizeof(what), "%s.trust_redirections", where);
		vd_conf_bool(b, p, what, &r->trust_redirections);
	}
}

static int by_priority(const void *a, const void *b)
{
	const vd_fw_rule_t *x = a, *y = b;
	return x->priority < y->priority ? -1 : x->priority > y->priority;
}

static void build_group(cbuild_t *b, const yn_pair_t *gp, vd_fw_group_t *g)
{
	const ynode_t *list = gp->val;
	unsigned long *lines;
	vd_fw_rule_t *rules;
	char where[160];

	g->name = vd_arena_strdup(b->a, gp->key->str);
	if (!g->name) {
		vd_conf_nomem(b);
		return;
	}
	if (list->kind != YN_SEQ || list->n == 0) {
		vd_conf_err(b, gp->key->line,
			    "firewall.rule_groups.%s must be a non-empty list of rules",
			    g->name);
		return;
	}
	rules = vd_arena_alloc(b->a, list->n * sizeof(*rules));
	lines = calloc(list->n, sizeof(*lines));
	if (!rules || !lines) {
		free(lines);
		vd_conf_nomem(b);
		return;
	}
	for (size_t i = 0; i < list->n; i++) {
		snprintf(where, sizeof(where), "firewall.rule_groups.%s[%zu]", g->name,
			 i);
		build_rule(b, list->items[i], &rules[i], where);
		lines[i] = list->items[i]->line;
		for (size_t j = 0; j < i; j++)
			if (rules[i].priority && rules[j].priority == rules[i].priority)
				vd_conf_err(b, lines[i],
					    "%s: priority %u is used twice in the "
					    "group (first at line %lu)",
					    where, rules[i].priority, lines[j]);
	}
	free(lines);
	qsort(rules, list->n, sizeof(*rules), by_priority);
	g->rules = rules;
	g->nrules = list->n;
}

static void build_groups(cbuild_t *b, const yn_pair_t *gp)
{
	const ynode_t *m = gp->val;
	vd_snap_t *s = b->snap;

	if (m->kind != YN_MAP) {
		vd_conf_err(b, gp->key->line,
			    "firewall.rule_groups must be a map of group names to "
			    "lists of rules");
		return;
	}
	s->fw_groups = vd_arena_alloc(b->a, (m->n ? m->n : 1) * sizeof(*s->fw_groups));
	if (!s->fw_groups) {
		vd_conf_nomem(b);
		return;
	}
	memset(s->fw_groups, 0, (m->n ? m->n : 1) * sizeof(*s->fw_groups));
	s->nfw_groups = m->n;
	for (size_t i = 0; i < m->n; i++)
		build_group(b, &m->pairs[i], &s->fw_groups[i]);
}

void vd_conf_build_firewall(cbuild_t *b, const ynode_t *root)
{
	const yn_pair_t *fp = NULL, *p = NULL;
	const ynode_t *m = vd_conf_yaml_get(root, "firewall", &fp);

	if (!m)
		return;
	if (m->kind != YN_MAP) {
		vd_conf_err(b, fp->key->line, "firewall must be a map");
		return;
	}
	vd_conf_check_keys(b, m, fw_keys, "firewall");
	if (vd_conf_yaml_get(m, "lists", &p))
		build_lists(b, p);
	if (vd_conf_yaml_get(m, "rule_groups", &p))
		build_groups(b, p);
}

void vd_conf_view_firewall(cbuild_t *b, vd_view_t *v, const ynode_t *m,
			   const char *where)
{
	const yn_pair_t *p = NULL;
	const ynode_t *list = vd_conf_yaml_get(m, "firewall", &p);
	vd_snap_t *s = b->snap;
	const vd_fw_group_t **groups;

	if (!list)
		return;
	if (!vd_conf_is_string_list(list)) {
		vd_conf_nerr(b, p->key,
			     "%s.firewall must be a list of rule group names", where);
		return;
	}
	groups = vd_arena_alloc(b->a, (list->n ? list->n : 1) * sizeof(*groups));
	if (!groups) {
		vd_conf_nomem(b);
		return;
	}
	for (size_t i = 0; i < list->n; i++) {
		groups[i] = find_group(s, list->items[i]->str);
		if (!groups[i])
			vd_conf_nerr(b, list->items[i],
				     "%s.firewall: unknown rule group '%s' (not in "
				     "firewall.rule_groups)",
				     where, list->items[i]->str);
		for (size_t j = 0; j < i; j++)
			if (groups[j] && groups[j] == groups[i])
				vd_conf_nerr(b, list->items[i],
					     "%s.firewall: rule group '%s' is listed "
					     "twice",
					     where, list->items[i]->str);
	}
	s->fw_views[vd_view_index(v)] = (vd_fw_set_t){ groups, list->n };
}
