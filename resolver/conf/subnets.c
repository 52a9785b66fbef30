/*
 * subnets: a view's subnets with their Availability Zone IDs, inline as
 * {cidr, az_id} maps or from files that vpcdns-import writes (a top-level
 * "subnets:" list). Messages about a file's contents name that file and
 * its line.
 */
#include "conf_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const subnet_keys[] = { "cidr", "az_id", "az", "subnet_id", NULL };

/* A message about a subnet, naming the file that holds it (the config or
 * a subnets file). */
static void subnet_err(cbuild_t *b, const char *file, unsigned long line,
		       const char *msg, const char *arg)
{
	if (arg != NULL)
		vd_errlist_add(b->errs, file, line, "%s '%s'", msg, arg);
	else
		vd_errlist_add(b->errs, file, line, "%s", msg);
	b->nerr++;
}

/* One "- cidr: …, az_id: …" item. */
static void subnet_item(cbuild_t *b, const char *file, const ynode_t *m, subnets_t *out)
{
	const yn_pair_t *cp = NULL, *ap = NULL;
	const ynode_t *cidr = vd_conf_yaml_get(m, "cidr", &cp);
	const ynode_t *az = vd_conf_yaml_get(m, "az_id", &ap);
	subnet_t s = { .file = file, .line = m->line };

	if (m->kind != YN_MAP) {
		subnet_err(b, file, m->line,
			   "a subnet must be a map (cidr, az_id, az, subnet_id)", NULL);
		return;
	}
	for (size_t i = 0; i < m->n; i++) {
		bool ok = false;
		for (const char *const *k = subnet_keys; *k; k++)
			ok |= strcmp(*k, m->pairs[i].key->str) == 0;
		if (!ok)
			subnet_err(b, file, m->pairs[i].key->line,
				   "unknown key in a subnet:", m->pairs[i].key->str);
	}
	if (!cidr || cidr->kind != YN_SCALAR || cidr->null) {
		subnet_err(b, file, m->line, "a subnet needs 'cidr'", NULL);
		return;
	}
	if (!az || az->kind != YN_SCALAR || az->null || !*az->str) {
		subnet_err(b, file, m->line, "a subnet needs 'az_id' (e.g. use1-az1)",
			   NULL);
		return;
	}
	if (vd_cidr_parse(cidr->str, &s.cidr) < 0) {
		subnet_err(b, file, cidr->line, "bad subnet CIDR", cidr->str);
		return;
	}
	s.az_id = vd_arena_strdup(b->a, az->str);
	if (!s.az_id || vd_arena_push(b->a, (void **)&out->v, &out->n, &out->cap, &s,
				      sizeof(s)) < 0)
		vd_conf_nomem(b);
}

static void subnet_list(cbuild_t *b, const char *file, const ynode_t *list,
			unsigned long line, subnets_t *out)
{
	if (!list || list->kind != YN_SEQ) {
		subnet_err(
			b, file, line,
			"subnets must be a list of {cidr, az_id} maps or a file name",
			NULL);
		return;
	}
	for (size_t i = 0; i < list->n; i++)
		subnet_item(b, file, list->items[i], out);
}

/* One subnets file (a top-level "subnets:" list, as vpcdns-import writes
 * it); messages about its contents name the file itself. */
static void read_subnet_file(cbuild_t *b, const ynode_t *name, subnets_t *out)
{
	const char *rel = name->str;
	const char *base = vd_conf_base_dir(b, name);
	char *path = NULL;
	vd_arena_t tree;
	const ynode_t *root = NULL;

	if (rel[0] != '/' && !base)
		return; /* server.directory is unusable: reported already */
	if (rel[0] == '/')
		path = strdup(rel);
	else if (asprintf(&path, "%s/%s", base, rel) < 0)
		path = NULL;
	if (!path) {
		vd_conf_nomem(b);
		return;
	}
	/* Named as written in vpcdns.yaml; in full when a view file names it
	 * (every VPC's folder has its own subnets.yaml). */
	const char *shown = rel[0] == '/' || base == b->zonedir ? rel : path;
	vd_arena_init(&tree, 0);
	size_t before = b->errs->count;
	int r = vd_conf_yaml_read(path, shown, &tree, &root, b->errs);
	if (r == -ENOMEM) {
		vd_conf_nomem(b);
	} else if (r < 0 || b->errs->count > before) {
		b->nerr++;
		vd_conf_nerr(b, name, "cannot use subnets file '%s'", rel);
	} else {
		char *file = vd_arena_strdup(b->a, shown);
		const ynode_t *list = vd_conf_yaml_get(root, "subnets", NULL);
		if (file)
			subnet_list(b, file, list, root ? root->line : 1, out);
		else
			vd_conf_nomem(b);
	}
	vd_arena_deinit(&tree);
	free(path);
}

/* subnets: a file name, or a list whose items are {cidr, az_id} maps or
 * file names (imported subnets plus a few of your own). */
void vd_conf_read_subnets(cbuild_t *b, size_t vi, subnets_t *out)
{
	const yn_pair_t *p = b->vtmp[vi].subnets;

	if (p == NULL)
		return;
	if (p->val->kind == YN_SCALAR && !p->val->null) {
		read_subnet_file(b, p->val, out);
		return;
	}
	if (p->val->kind != YN_SEQ) {
		subnet_list(b, p->key->file, p->val, p->key->line, out);
		return;
	}
	for (size_t i = 0; i < p->val->n; i++) {
		const ynode_t *item = p->val->items[i];
		if (item->kind == YN_SCALAR && !item->null)
			read_subnet_file(b, item, out);
		else
			subnet_item(b, item->file, item, out);
	}
}
