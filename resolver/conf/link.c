/*
 * The link pass, once every view has been read: each view's includes, its
 * routing map (own zones, then included views' zones for apexes it does
 * not serve itself, then its forward rules), its subnets with their
 * Availability Zone IDs, and the AZ and reverse tables view/ builds from
 * them. conf/ checks and reports; view/ lays the tables out.
 */
#include "conf_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void check_same_az(cbuild_t *b, const subnets_t *sn, size_t i, const char *vname)
{
	const subnet_t *s = &sn->v[i];
	for (size_t j = 0; j < i; j++) {
		if (vd_cidr_equal(&sn->v[j].cidr, &s->cidr) &&
		    strcmp(sn->v[j].az_id, s->az_id) != 0) {
			vd_errlist_add(b->errs, s->file, s->line,
				       "view '%s': subnet listed with AZ '%s' and '%s'",
				       vname, sn->v[j].az_id, s->az_id);
			b->nerr++;
			return;
		}
	}
}

/* Adds subnets to one of v's tables mapping CIDR -> AZ index. The same
 * CIDR twice is fine with the same AZ and an error with another. */
static void table_add(cbuild_t *b, vd_view_t *v, int table, const subnets_t *sn,
		      size_t from, const char *vname)
{
	for (size_t i = from; i < sn->n; i++) {
		const subnet_t *s = &sn->v[i];
		int r = vd_view_add_subnet(v, b->a, &s->cidr, s->az_id, table);
		if (r == -EEXIST)
			check_same_az(b, sn, i, vname);
		else if (r < 0)
			vd_conf_nomem(b);
	}
}

/* The view of the replaced snapshot with v's name (usually at v's
 * index), or NULL. */
static const vd_view_t *old_view(const cbuild_t *b, size_t i, const char *name)
{
	const vd_snap_t *p = b->prev;

	if (!p)
		return NULL;
	if (i < p->nviews && strcmp(vd_view_name(p->views[i]), name) == 0)
		return p->views[i];
	for (size_t k = 0; k < p->nviews; k++)
		if (strcmp(vd_view_name(p->views[k]), name) == 0)
			return p->views[k];
	return NULL;
}

static void link_view(cbuild_t *b, size_t i, subnets_t *all)
{
	vd_view_t *v = b->snap->views[i];
	const char *vname = vd_view_name(v);
	const view_tmp_t *t = &b->vtmp[i];
	vd_view_rule_t *rules = malloc((t->nrules ? t->nrules : 1) * sizeof(*rules));
	bool shared = false;

	/* Clients by the view's own subnets; addresses by its own and its
	 * included views' subnets (the hub's endpoints are in the hub). */
	table_add(b, v, VD_VIEW_SUBNET_CLIENT, &all[i], 0, vname);
	table_add(b, v, VD_VIEW_SUBNET_ADDR, &all[i], 0, vname);
	for (size_t k = 0; k < vd_view_nincludes(v); k++)
		table_add(b, v, VD_VIEW_SUBNET_ADDR,
			  &all[vd_view_index(vd_view_include(v, k))], 0, vname);
	for (size_t k = 0; rules && k < t->nrules; k++)
		rules[k] = (vd_view_rule_t){ t->rules[k].name, t->rules[k].group };
	/* A view whose zones, rules and subnets did not change keeps the
	 * routing map and tables of the snapshot it replaces. */
	if (!rules ||
	    vd_view_build(v, rules, t->nrules, old_view(b, i, vname), &shared) < 0)
		vd_conf_nomem(b);
	b->snap->nviews_shared += shared;
	free(rules);
}

void vd_conf_link_views(cbuild_t *b)
{
	size_t n = b->snap->nviews;
	subnets_t *all = calloc(n ? n : 1, sizeof(*all));

	if (!all) {
		vd_conf_nomem(b);
		return;
	}
	vd_conf_resolve_includes(b);
	for (size_t i = 0; i < n; i++)
		vd_conf_read_subnets(b, i, &all[i]);
	for (size_t i = 0; i < n; i++)
		link_view(b, i, all);
	free(all); /* the subnet arrays live in the snapshot arena */
}
