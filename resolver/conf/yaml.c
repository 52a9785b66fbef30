/*
 * YAML file -> tree of nodes with line numbers, using libyaml's event API.
 * The event API (rather than yaml_document_t) lets us reject what a
 * configuration never needs before it can hurt: recursive aliases (an
 * anchor is only known once its node is complete), unbounded nesting, and
 * several documents in one file. Duplicate mapping keys are reported here,
 * with both lines, because libyaml accepts them silently. A syntax error
 * stops the read (libyaml cannot resynchronise); every other problem is
 * recorded and reading goes on, so one pass reports as much as it can.
 */
#include "conf_yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

/* Far deeper than any sane configuration; bounds the recursion. */
#define MAX_DEPTH 64

typedef struct anchor {
	const char *name;
	const ynode_t *node;
	struct anchor *next;
} anchor_t;

typedef struct yreader {
	yaml_parser_t p;
	const char *file;
	vd_arena_t *a;
	vd_errlist_t *errs;
	anchor_t *anchors;
	unsigned nerr;
	bool nomem;
} yreader_t;

/* A temporary growable array; copied into the arena once complete. */
typedef struct tvec {
	void *v;
	size_t n, cap;
} tvec_t;

static int parse_node(yreader_t *r, yaml_event_t *ev, unsigned depth,
		      const ynode_t **out);

static void rerr(yreader_t *r, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void rerr(yreader_t *r, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vd_errlist_vadd(r->errs, r->file, line, fmt, ap);
	va_end(ap);
	r->nerr++;
}

static int tvec_push(tvec_t *t, const void *elem, size_t size)
{
	void *v;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		v = realloc(t->v, t->cap * size);
		if (!v)
			return -ENOMEM;
		t->v = v;
	}
	memcpy((char *)t->v + t->n * size, elem, size);
	t->n++;
	return 0;
}

static void syntax_error(yreader_t *r)
{
	const yaml_parser_t *p = &r->p;
	const char *problem = p->problem ? p->problem : "unknown problem";
	unsigned long line;

	if (p->error == YAML_MEMORY_ERROR) {
		r->nomem = true;
		return;
	}
	/* Reader errors (bad encoding, read failure) have no problem mark. */
	line = (p->error == YAML_READER_ERROR ? p->mark.line : p->problem_mark.line) +
	       1;
	if (p->context)
		rerr(r, line, "YAML syntax error: %s (%s at line %lu)", problem,
		     p->context, (unsigned long)p->context_mark.line + 1);
	else
		rerr(r, line, "YAML syntax error: %s", problem);
}

static int next_event(yreader_t *r, yaml_event_t *ev)
{
	if (yaml_parser_parse(&r->p, ev))
		return 0;
	syntax_error(r);
	return r->nomem ? -ENOMEM : VD_ECONF;
}

static ynode_t *node_new(yreader_t *r, yn_kind_t kind, const yaml_event_t *ev)
{
	ynode_t *n = vd_arena_alloc(r->a, sizeof(*n));

	if (!n) {
		r->nomem = true;
		return NULL;
	}
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->line = (unsigned long)ev->start_mark.line + 1;
	n->file = r->file;
	return n;
}

static bool is_null_text(const char *s, size_t len)
{
	return len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static int parse_scalar(yreader_t *r, const yaml_event_t *ev, ynode_t *n)
{
	const char *value = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	char *s;

	s = vd_arena_alloc(r->a, len + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, value, len);
	s[len] = '\0';
	if (memchr(value, '\0', len)) {
		rerr(r, n->line, "string contains a NUL character");
		len = strlen(s);
	}
	n->str = s;
	n->len = len;
	n->null = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		  is_null_text(s, len);
	return 0;
}

static int parse_seq(yreader_t *r, ynode_t *n, unsigned depth)
{
	tvec_t items = { 0 };
	const ynode_t *child;
	yaml_event_t ev;
	int rc;

	for (;;) {
		rc = next_event(r, &ev);
		if (rc < 0)
			goto fail;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		rc = parse_node(r, &ev, depth + 1, &child);
		if (rc < 0)
			goto fail;
		rc = tvec_push(&items, &child, sizeof(child));
		if (rc < 0)
			goto fail;
	}
	rc = 0;
	n->n = items.n;
	n->items = vd_arena_memdup(r->a, items.v, items.n * sizeof(child));
	if (!n->items)
		rc = -ENOMEM;
fail:
	free(items.v);
	return rc;
}

static const yn_pair_t *find_pair(const tvec_t *pairs, const char *key)
{
	const yn_pair_t *p = pairs->v;

	for (size_t i = 0; i < pairs->n; i++)
		if (strcmp(p[i].key->str, key) == 0)
			return &p[i];
	return NULL;
}

/* Keeps the first of duplicate keys; drops pairs whose key is no string. */
static int add_pair(yreader_t *r, tvec_t *pairs, const yn_pair_t *pair)
{
	const yn_pair_t *first;

	if (pair->key->kind != YN_SCALAR) {
		rerr(r, pair->key->line, "mapping keys must be strings");
		return 0;
	}
	first = find_pair(pairs, pair->key->str);
	if (first) {
		rerr(r, pair->key->line, "duplicate key '%s' (first at line %lu)",
		     pair->key->str, first->key->line);
		return 0;
	}
	return tvec_push(pairs, pair, sizeof(*pair));
}

static int parse_map(yreader_t *r, ynode_t *n, unsigned depth)
{
	tvec_t pairs = { 0 };
	yn_pair_t pair;
	yaml_event_t ev;
	int rc;

	for (;;) {
		rc = next_event(r, &ev);
		if (rc < 0)
			goto fail;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		rc = parse_node(r, &ev, depth + 1, &pair.key);
		if (rc < 0)
			goto fail;
		rc = next_event(r, &ev);
		if (rc < 0)
			goto fail;
		rc = parse_node(r, &ev, depth + 1, &pair.val);
		if (rc < 0)
			goto fail;
		rc = add_pair(r, &pairs, &pair);
		if (rc < 0)
			goto fail;
	}
	rc = 0;
	n->n = pairs.n;
	n->pairs = vd_arena_memdup(r->a, pairs.v, pairs.n * sizeof(pair));
	if (!n->pairs)
		rc = -ENOMEM;
fail:
	free(pairs.v);
	return rc;
}

static const ynode_t *alias(yreader_t *r, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	ynode_t *n;

	for (const anchor_t *a = r->anchors; a; a = a->next)
		if (strcmp(a->name, name) == 0)
			return a->node;
	/* Also the case of an alias inside its own anchor's node. */
	rerr(r, (unsigned long)ev->start_mark.line + 1, "unknown alias '*%s'", name);
	n = node_new(r, YN_SCALAR, ev);
	if (n) {
		n->str = "";
		n->null = true;
	}
	return n;
}

static int add_anchor(yreader_t *r, const char *name, const ynode_t *node)
{
	anchor_t *a = vd_arena_alloc(r->a, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->name = vd_arena_strdup(r->a, name);
	if (!a->name)
		return -ENOMEM;
	a->node = node;
	a->next = r->anchors;
	r->anchors = a;
	return 0;
}

static int parse_collection(yreader_t *r, unsigned depth, ynode_t *n)
{
	if (depth > MAX_DEPTH) {
		rerr(r, n->line, "nesting deeper than %d levels", MAX_DEPTH);
		return VD_ECONF;
	}
	return n->kind == YN_SEQ ? parse_seq(r, n, depth) : parse_map(r, n, depth);
}

/* Consumes *ev (deletes it) and every event of the node it starts. */
static int parse_node(yreader_t *r, yaml_event_t *ev, unsigned depth,
		      const ynode_t **out)
{
	const yaml_char_t *anchor = NULL;
	ynode_t *n = NULL;
	char *name = NULL;
	int rc = 0;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		*out = alias(r, ev);
		rc = *out ? 0 : -ENOMEM;
		goto out;
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		n = node_new(r, YN_SCALAR, ev);
		if (n)
			rc = parse_scalar(r, ev, n);
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		n = node_new(r, YN_SEQ, ev);
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		n = node_new(r, YN_MAP, ev);
		break;
	default:
		/* libyaml only delivers node events here. */
		rerr(r, (unsigned long)ev->start_mark.line + 1,
		     "unexpected YAML event");
		rc = VD_ECONF;
		goto out;
	}
	if (!n) {
		rc = -ENOMEM;
		goto out;
	}
	/* The anchor is registered after the node is complete, so an alias
	 * cannot refer to its own enclosing node (no cycles). */
	if (anchor) {
		name = strdup((const char *)anchor);
		if (!name) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (rc == 0 && n->kind != YN_SCALAR) {
		yaml_event_delete(ev); /* deleting twice is harmless */
		rc = parse_collection(r, depth, n);
	}
	if (rc == 0 && name)
		rc = add_anchor(r, name, n);
	*out = n;
out:
	free(name);
	yaml_event_delete(ev);
	return rc;
}

static int parse_stream(yreader_t *r, const ynode_t **root)
{
	yaml_event_t ev;
	int rc;

	rc = next_event(r, &ev); /* stream start */
	if (rc < 0)
		return rc;
	yaml_event_delete(&ev);
	rc = next_event(r, &ev);
	if (rc < 0 || ev.type == YAML_STREAM_END_EVENT)
		goto done;
	yaml_event_delete(&ev); /* document start */
	rc = next_event(r, &ev);
	if (rc < 0)
		return rc;
	rc = parse_node(r, &ev, 0, root);
	if (rc < 0)
		return rc;
	rc = next_event(r, &ev); /* document end */
	if (rc < 0)
		return rc;
	yaml_event_delete(&ev);
	rc = next_event(r, &ev);
	if (rc < 0)
		return rc;
	if (ev.type == YAML_DOCUMENT_START_EVENT)
		rerr(r, (unsigned long)ev.start_mark.line + 1,
		     "only one YAML document is allowed");
done:
	if (rc == 0)
		yaml_event_delete(&ev);
	return rc;
}

static FILE *open_regular(const char *path, const char *file, vd_errlist_t *errs,
			  int *err)
{
	struct stat st;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		*err = -errno;
		vd_errlist_add(errs, file, 0, "cannot open: %s", vd_strerror(*err));
		return NULL;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		*err = -EINVAL;
		vd_errlist_add(errs, file, 0, "cannot read: not a regular file");
		fclose(f);
		return NULL;
	}
	return f;
}

int vd_conf_yaml_read(const char *path, const char *file, vd_arena_t *a,
		      const ynode_t **root, vd_errlist_t *errs)
{
	yreader_t r;
	FILE *f;
	int rc = 0;

	if (!path || !file || !a || !root)
		return -EINVAL;
	*root = NULL;
	memset(&r, 0, sizeof(r));
	r.file = file;
	r.a = a;
	r.errs = errs;
	f = open_regular(path, file, errs, &rc);
	if (!f)
		return rc;
	if (!yaml_parser_initialize(&r.p)) {
		fclose(f);
		return -ENOMEM;
	}
	yaml_parser_set_input_file(&r.p, f);
	rc = parse_stream(&r, root);
	yaml_parser_delete(&r.p);
	fclose(f);
	if (r.nomem || rc == -ENOMEM)
		return -ENOMEM;
	if (rc < 0) {
		*root = NULL;
		return VD_ECONF;
	}
	if (*root && (*root)->kind == YN_SCALAR && (*root)->null)
		*root = NULL;
	return r.nerr ? VD_ECONF : 0;
}

const ynode_t *vd_conf_yaml_get(const ynode_t *m, const char *key,
				const yn_pair_t **pair)
{
	if (!m || m->kind != YN_MAP || !key)
		return NULL;
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->pairs[i].key->str, key) == 0) {
			if (pair)
				*pair = &m->pairs[i];
			return m->pairs[i].val;
		}
	}
	return NULL;
}
