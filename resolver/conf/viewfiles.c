/*
 * view_files: views kept in files of their own (the per-VPC view.yaml
 * files vpcdns-import writes), named by paths or glob(3) patterns relative
 * to server.directory. Each file holds a YAML list of views in the same
 * form as "views:". Every load expands the patterns again, so a VPC folder
 * that appears or goes away adds or removes its view at the next reload. A
 * pattern matching nothing is an empty organisation, not an error; a plain
 * path that does not exist is. An entry may carry defaults: view keys the
 * generated files leave out (forward rules, az_affinity, explain, ...),
 * merged into each of its views where the view does not set the key.
 */
#include "conf_int.h"

#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const entry_keys[] = { "path", "defaults", "optional", NULL };

/* What defaults may set: a view's keys but its identity. */
static const char *const default_keys[] = {
	"zones",   "forward", "include",    "subnets", "az_affinity",
	"explain", "vpc_id",  "account_id", "region",  NULL,
};

int vd_conf_vlist_push(vlist_t *out, const ynode_t *m, size_t pos)
{
	vitem_t *grown;

	if (out->n == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 16;

		grown = realloc(out->v, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		out->v = grown;
		out->cap = cap;
	}
	out->v[out->n++] = (vitem_t){ m, pos };
	return 0;
}

const char *vd_conf_base_dir(const cbuild_t *b, const ynode_t *n)
{
	for (size_t i = 0; n && n->file && i < b->nvfiles; i++)
		if (n->file == b->vfiles[i].name)
			return b->vfiles[i].dir;
	return b->zonedir;
}

void vd_conf_vfiles_free(cbuild_t *b)
{
	for (size_t i = 0; i < b->nvfiles; i++) {
		free(b->vfiles[i].name);
		free(b->vfiles[i].dir);
		free(b->vfiles[i].real);
	}
	free(b->vfiles);
	b->vfiles = NULL;
	b->nvfiles = b->capvfiles = 0;
}

static bool is_default_key(const char *key)
{
	for (const char *const *k = default_keys; *k; k++)
		if (strcmp(*k, key) == 0)
			return true;
	return false;
}

/* The view map m with every default key it does not set appended (a key
 * the view sets wins whole: a forward map is not merged rule by rule). */
static const ynode_t *merge(cbuild_t *b, const ynode_t *m, const ynode_t *defaults)
{
	yn_pair_t *pairs;
	ynode_t *n;

	if (!defaults || !defaults->n || m->kind != YN_MAP)
		return m;
	n = vd_arena_alloc(b->tree, sizeof(*n));
	pairs = vd_arena_alloc(b->tree, (m->n + defaults->n) * sizeof(*pairs));
	if (!n || !pairs) {
		vd_conf_nomem(b);
		return m;
	}
	*n = *m;
	if (m->n)
		memcpy(pairs, m->pairs, m->n * sizeof(*pairs));
	n->n = m->n;
	for (size_t i = 0; i < defaults->n; i++) {
		const yn_pair_t *d = &defaults->pairs[i];

		if (is_default_key(d->key->str) &&
		    !vd_conf_yaml_get(m, d->key->str, NULL))
			pairs[n->n++] = *d;
	}
	n->pairs = pairs;
	return n;
}

/* The resolved path of a file another entry already read, or NULL. */
static const vfile_t *read_before(const cbuild_t *b, const char *real)
{
	for (size_t i = 0; i < b->nvfiles; i++)
		if (strcmp(b->vfiles[i].real, real) == 0)
			return &b->vfiles[i];
	return NULL;
}

/* Records path as a view file of entry; NULL when it was read already
 * (reported) or out of memory. */
static const vfile_t *vfile_add(cbuild_t *b, const char *path, size_t entry,
				const ynode_t *enode)
{
	char *real = realpath(path, NULL), *copy;
	const vfile_t *first;
	vfile_t *f;

	first = real ? read_before(b, real) : NULL;
	if (first) {
		vd_conf_nerr(b, enode,
			     "view_files[%zu]: '%s' is read already by view_files[%zu] "
			     "(line %lu)",
			     entry, path, first->entry, first->entry_line);
		free(real);
		return NULL;
	}
	if (b->nvfiles == b->capvfiles) {
		size_t cap = b->capvfiles ? b->capvfiles * 2 : 16;

		f = realloc(b->vfiles, cap * sizeof(*f));
		if (!f)
			goto nomem;
		b->vfiles = f;
		b->capvfiles = cap;
	}
	f = &b->vfiles[b->nvfiles];
	memset(f, 0, sizeof(*f));
	f->entry = entry;
	f->entry_line = enode->line;
	f->real = real ? real : strdup(path); /* missing: the read reports it */
	f->name = strdup(path);
	copy = strdup(path);
	f->dir = copy ? strdup(dirname(copy)) : NULL;
	free(copy);
	if (!f->real || !f->name || !f->dir) {
		free(f->name);
		free(f->dir);
		free(f->real);
		vd_conf_nomem(b);
		return NULL;
	}
	b->nvfiles++;
	return f;
nomem:
	free(real);
	vd_conf_nomem(b);
	return NULL;
}

/* One view_files entry, as given. */
typedef struct ventry {
	size_t index;
	const ynode_t *node;	 /* the item, for messages */
	const ynode_t *defaults; /* NULL: none */
	vlist_t *out;
	bool optional; /* a plain path that does not exist gives no views */
} ventry_t;

static void empty_file(cbuild_t *b, const char *name)
{
	vd_errlist_add(b->errs, name, 1, "empty file: expected a list of views");
	b->nerr++;
}

/* Reads one view file and appends its views. */
static void read_file(cbuild_t *b, const char *path, const ventry_t *e)
{
	const ynode_t *root = NULL;
	const vfile_t *f = vfile_add(b, path, e->index, e->node);
	int r;

	if (!f)
		return;
	r = vd_conf_yaml_read(path, f->name, b->tree, &root, b->errs);
	if (r == -ENOMEM) {
		vd_conf_nomem(b);
		return;
	}
	if (r < 0)
		b->nerr++; /* its messages are in errs already */
	if (r < 0 && r != VD_ECONF)
		vd_conf_nerr(b, e->node, "view_files[%zu]: cannot read '%s'", e->index,
			     path);
	if (!root) {
		if (r == 0)
			empty_file(b, f->name);
		return;
	}
	if (root->kind != YN_SEQ) {
		vd_conf_nerr(b, root,
			     "a view file holds a list of views (\"- name: ...\")");
		return;
	}
	for (size_t i = 0; i < root->n; i++)
		if (vd_conf_vlist_push(e->out, merge(b, root->items[i], e->defaults),
				       i) < 0)
			vd_conf_nomem(b);
}

/* The error that stopped the last glob of this thread (loads run on a
 * worker thread during reloads). */
static _Thread_local int glob_errno;

/* A folder on the way that does not exist matches nothing; any other
 * error (permissions) stops the expansion, so it is reported rather than
 * taken for a VPC that is gone. */
static int glob_error(const char *epath, int err)
{
	(void)epath;
	glob_errno = err;
	return err != ENOENT && err != ENOTDIR;
}

static bool is_pattern(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* Expands one path or pattern (relative to server.directory) and reads
 * what it names, in sorted order. */
static void read_entry(cbuild_t *b, const char *rel, const ventry_t *e)
{
	char *path = NULL;
	glob_t g;
	int r;

	if (rel[0] != '/' && !b->zonedir)
		return; /* server.directory is unusable: reported already */
	if (rel[0] == '/')
		path = strdup(rel);
	else if (asprintf(&path, "%s/%s", b->zonedir, rel) < 0)
		path = NULL;
	if (!path) {
		vd_conf_nomem(b);
		return;
	}
	if (!is_pattern(rel)) {
		struct stat st;
		/* optional: true, for a file written later (vpcdns-import's
		 * output before the first import); it is read on the next
		 * reload that finds it. */
		if (!(e->optional && stat(path, &st) != 0 && errno == ENOENT))
			read_file(b, path, e);
		free(path);
		return;
	}
	glob_errno = 0;
	r = glob(path, 0, glob_error, &g);
	if (r == 0)
		for (size_t i = 0; i < g.gl_pathc; i++)
			read_file(b, g.gl_pathv[i], e);
	else if (r == GLOB_NOSPACE)
		vd_conf_nomem(b);
	else if (r == GLOB_ABORTED)
		vd_conf_nerr(b, e->node, "view_files[%zu]: cannot expand '%s': %s",
			     e->index, rel, vd_strerror(-glob_errno));
	/* GLOB_NOMATCH: no files, no views (an empty organisation) */
	globfree(&g);
	free(path);
}

/* The map form {path, defaults}; returns the path or NULL. */
static const char *entry_map(cbuild_t *b, ventry_t *e)
{
	const yn_pair_t *p = NULL;
	const char *path = NULL;
	char where[48];

	snprintf(where, sizeof(where), "view_files[%zu]", e->index);
	vd_conf_check_keys(b, e->node, entry_keys, where);
	if (vd_conf_yaml_get(e->node, "defaults", &p)) {
		if (p->val->kind != YN_MAP) {
			vd_conf_nerr(b, p->key,
				     "%s.defaults must be a map of view keys", where);
		} else {
			snprintf(where, sizeof(where), "view_files[%zu].defaults",
				 e->index);
			vd_conf_check_keys(b, p->val, default_keys, where);
			e->defaults = p->val;
		}
	}
	if (vd_conf_yaml_get(e->node, "optional", &p)) {
		snprintf(where, sizeof(where), "view_files[%zu].optional", e->index);
		vd_conf_bool(b, p, where, &e->optional);
	}
	if (!vd_conf_yaml_get(e->node, "path", &p)) {
		vd_conf_nerr(b, e->node,
			     "missing required key 'path' in view_files[%zu]",
			     e->index);
		return NULL;
	}
	snprintf(where, sizeof(where), "view_files[%zu].path", e->index);
	if (vd_conf_string(b, p, where, &path) < 0)
		return NULL;
	return path;
}

void vd_conf_view_files(cbuild_t *b, const ynode_t *root, vlist_t *out)
{
	const yn_pair_t *lp = NULL;
	const ynode_t *list = vd_conf_yaml_get(root, "view_files", &lp);

	if (!list)
		return;
	if (list->kind != YN_SEQ) {
		vd_conf_nerr(b, lp->key,
			     "view_files must be a list of paths, patterns or "
			     "{path, defaults} maps");
		return;
	}
	for (size_t i = 0; i < list->n; i++) {
		ventry_t e = { i, list->items[i], NULL, out, false };
		const char *path = NULL;

		if (e.node->kind == YN_MAP)
			path = entry_map(b, &e);
		else if (e.node->kind == YN_SCALAR && !e.node->null && e.node->len)
			path = e.node->str;
		else
			vd_conf_nerr(b, e.node,
				     "view_files[%zu] must be a path, a pattern or a "
				     "{path, defaults} map",
				     i);
		if (path)
			read_entry(b, path, &e);
	}
}
