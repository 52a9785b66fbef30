/*
 * include: the graph of views serving each other's zones (hub and spoke).
 * Each view's includes are closed transitively, in order (own list first,
 * each followed by what it includes); unknown names, a view including
 * itself and cycles are reported. An item with a wildcard (*, ? or [...])
 * is an fnmatch(3) pattern over view names: every matching view but the
 * includer itself, in view order (an on-premises view including "vpc-*"
 * follows the VPCs as their view files come and go; a pattern matching
 * nothing is not an error).
 */
#include "conf_int.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

int vd_conf_view_index(const vd_snap_t *s, const char *name)
{
	for (size_t i = 0; i < s->nviews; i++)
		if (strcmp(vd_view_name(s->views[i]), name) == 0)
			return (int)i;
	return -1;
}

static bool has(const int *v, size_t n, int j)
{
	for (size_t k = 0; k < n; k++)
		if (v[k] == j)
			return true;
	return false;
}

/* Every view but i whose name matches pattern, not listed yet. */
static void include_pattern(const cbuild_t *b, size_t i, const char *pattern, int *out,
			    size_t *n)
{
	for (size_t j = 0; j < b->snap->nviews; j++)
		if (j != i &&
		    fnmatch(pattern, vd_view_name(b->snap->views[j]), 0) == 0 &&
		    !has(out, *n, (int)j))
			out[(*n)++] = (int)j;
}

/* Direct includes of view i as indexes (-1 for unknown names, reported). */
static void direct_includes(cbuild_t *b, size_t i, int *out, size_t *n)
{
	const yn_pair_t *p = b->vtmp[i].include;
	const vd_view_t *v = b->snap->views[i];

	*n = 0;
	if (p == NULL)
		return;
	if (!vd_conf_is_string_list(p->val)) {
		vd_conf_nerr(b, p->key,
			     "view '%s': include must be a list of view names or "
			     "patterns",
			     vd_view_name(v));
		return;
	}
	for (size_t k = 0; k < p->val->n; k++) {
		const ynode_t *item = p->val->items[k];
		int j;

		if (strpbrk(item->str, "*?[")) {
			include_pattern(b, i, item->str, out, n);
			continue;
		}
		j = vd_conf_view_index(b->snap, item->str);
		if (j < 0)
			vd_conf_nerr(b, item, "view '%s' includes unknown view '%s'",
				     vd_view_name(v), item->str);
		else if ((size_t)j == i)
			vd_conf_nerr(b, item, "view '%s' includes itself",
				     vd_view_name(v));
		else if (!has(out, *n, j))
			out[(*n)++] = j;
	}
}

/* Depth-first walk over includes: state 1 = on the current path, 2 =
 * done. A view met again on the path closes a cycle. */
static bool walk(cbuild_t *b, int **adj, size_t *nadj, uint8_t *state, int i, int *acc,
		 size_t *nacc, int root)
{
	state[i] = 1;
	for (size_t k = 0; k < nadj[i]; k++) {
		int j = adj[i][k];
		if (state[j] == 1) {
			const yn_pair_t *p = b->vtmp[i].include;
			vd_conf_nerr(b, p ? p->key : NULL,
				     "include cycle: view '%s' includes '%s', which "
				     "leads back to '%s'",
				     vd_view_name(b->snap->views[i]),
				     vd_view_name(b->snap->views[j]),
				     vd_view_name(b->snap->views[j]));
			state[i] = 2;
			return false;
		}
		bool seen = j == root;
		for (size_t m = 0; m < *nacc && !seen; m++)
			seen = acc[m] == j;
		if (!seen)
			acc[(*nacc)++] = j;
		if (state[j] == 0 && !walk(b, adj, nadj, state, j, acc, nacc, root)) {
			state[i] = 2;
			return false;
		}
	}
	state[i] = 2; /* done for this root */
	return true;
}

void vd_conf_resolve_includes(cbuild_t *b)
{
	size_t n = b->snap->nviews;
	int **adj = calloc(n, sizeof(*adj));
	size_t *nadj = calloc(n, sizeof(*nadj));
	uint8_t *state = calloc(n, 1);
	int *acc = malloc((n ? n : 1) * sizeof(*acc));
	const vd_view_t **incs = malloc((n ? n : 1) * sizeof(*incs));
	bool cycle = false;

	if (!adj || !nadj || !state || !acc || !incs)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		adj[i] = malloc((n ? n : 1) * sizeof(int));
		if (!adj[i])
			goto nomem;
		direct_includes(b, i, adj[i], &nadj[i]);
	}
	for (size_t i = 0; i < n && !cycle; i++) {
		size_t nacc = 0;
		memset(state, 0, n);
		if (!walk(b, adj, nadj, state, (int)i, acc, &nacc, (int)i)) {
			cycle = true;
			break;
		}
		for (size_t k = 0; k < nacc; k++)
			incs[k] = b->snap->views[acc[k]];
		if (vd_view_set_includes(b->snap->views[i], b->a, incs, nacc) < 0)
			goto nomem;
	}
	goto out;
nomem:
	vd_conf_nomem(b);
out:
	for (size_t i = 0; adj && i < n; i++)
		free(adj[i]);
	free(adj);
	free(nadj);
	free(state);
	free(acc);
	free(incs);
}

const vd_view_t *vd_snap_view(const vd_snap_t *s, const char *name)
{
	int i = vd_conf_view_index(s, name);
	return i < 0 ? NULL : s->views[i];
}
