/*
 * vpcdns-sync's configuration file, read with libyaml's document API: a
 * small file, so the whole tree is loaded and walked once; each problem
 * is reported as "file:line: reason" and reading goes on, so one run
 * shows every problem.
 */
#include "vpcdns/sync.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

typedef struct cctx {
	yaml_document_t *doc;
	const char *file;
	char *dir; /* folder of the file, for relative paths */
	vd_errlist_t *errs;
	unsigned nerr;
	bool nomem;
	vd_sync_conf_t *c;
} cctx_t;

static void cerr(cctx_t *x, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void cerr(cctx_t *x, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vd_errlist_vadd(x->errs, x->file, n ? n->start_mark.line + 1 : 0, fmt, ap);
	va_end(ap);
	x->nerr++;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
						: NULL;
}

static char *dup_or_nomem(cctx_t *x, const char *s)
{
	char *d = strdup(s);

	if (!d)
		x->nomem = true;
	return d;
}

/* A string value; *out keeps the first one set. */
static void get_string(cctx_t *x, const yaml_node_t *v, const char *key, char **out)
{
	const char *s = scalar(v);

	if (!s) {
		cerr(x, v, "%s must be a string", key);
		return;
	}
	free(*out);
	*out = dup_or_nomem(x, s);
}

/* A path: relative ones are taken from the configuration file's folder. */
static void get_path(cctx_t *x, const yaml_node_t *v, const char *key, char **out)
{
	char *p = NULL;

	get_string(x, v, key, &p);
	if (!p)
		return;
	if (!*p) {
		cerr(x, v, "%s must not be empty", key);
		free(p);
		return;
	}
	free(*out);
	*out = p;
	if (p[0] != '/' && asprintf(out, "%s/%s", x->dir, p) < 0) {
		*out = NULL;
		x->nomem = true;
	}
	if (p != *out)
		free(p);
}

static bool good_region(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 40 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* A profile name as the AWS CLI accepts it in a config file section:
 * no spaces, quotes, '/' (it is part of a source name) or control bytes. */
static bool good_profile(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (; *s; s++) {
		if (*s <= ' ' || *s > '~' || *s == '"' || *s == '\\' || *s == '/' ||
		    *s == '[' || *s == ']')
			return false;
	}
	return true;
}

static void get_regions(cctx_t *x, const yaml_node_t *v, vd_sync_account_t *a)
{
	yaml_node_item_t *it;

	if (v->type != YAML_SEQUENCE_NODE ||
	    v->data.sequence.items.top == v->data.sequence.items.start) {
		cerr(x, v, "regions must be a non-empty list of region names");
		return;
	}
	a->regions = calloc(
		(size_t)(v->data.sequence.items.top - v->data.sequence.items.start),
		sizeof(char *));
	if (!a->regions) {
		x->nomem = true;
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		const yaml_node_t *r = yaml_document_get_node(x->doc, *it);
		const char *s = scalar(r);

		if (!s || !good_region(s)) {
			cerr(x, r, "'%s' is not an AWS region name (us-east-1)",
			     s ? s : "(not a string)");
			continue;
		}
		for (size_t k = 0; k < a->nregions; k++) {
			if (strcmp(a->regions[k], s) == 0) {
				cerr(x, r, "region %s listed twice", s);
				s = NULL;
				break;
			}
		}
		if (s)
			a->regions[a->nregions++] = dup_or_nomem(x, s);
	}
}

static void get_account(cctx_t *x, const yaml_node_t *m, vd_sync_account_t *a)
{
	yaml_node_pair_t *p;
	bool have_regions = false;

	a->line = m->start_mark.line + 1;
	if (m->type != YAML_MAPPING_NODE) {
		cerr(x, m, "an account must be a map {profile: NAME, regions: [...]}");
		return;
	}
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
		const yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
		const char *key = scalar(k) ? scalar(k) : "";

		if (strcmp(key, "profile") == 0) {
			get_string(x, v, "profile", &a->profile);
			if (a->profile && !good_profile(a->profile)) {
				cerr(x, v, "'%s' is not a profile name", a->profile);
				free(a->profile);
				a->profile = NULL;
			}
		} else if (strcmp(key, "regions") == 0) {
			have_regions = true;
			get_regions(x, v, a);
		} else {
			cerr(x, k, "unknown key in an account: '%s'", key);
		}
	}
	if (!have_regions)
		cerr(x, m, "an account needs 'regions'");
}

static void get_accounts(cctx_t *x, const yaml_node_t *v)
{
	vd_sync_conf_t *c = x->c;
	yaml_node_item_t *it;
	size_t n;

	n = v->type == YAML_SEQUENCE_NODE ? (size_t)(v->data.sequence.items.top -
						     v->data.sequence.items.start)
					  : 0;
	if (!n) {
		cerr(x, v, "accounts must be a non-empty list");
		return;
	}
	c->accounts = calloc(n, sizeof(*c->accounts));
	if (!c->accounts) {
		x->nomem = true;
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		vd_sync_account_t *a = &c->accounts[c->naccounts++];

		get_account(x, yaml_document_get_node(x->doc, *it), a);
		for (size_t k = 0; k + 1 < c->naccounts; k++) {
			const char *p = c->accounts[k].profile;

			if ((p == a->profile) ||
			    (p && a->profile && !strcmp(p, a->profile)))
				cerr(x, yaml_document_get_node(x->doc, *it),
				     "profile %s listed twice (first on line %lu)",
				     a->profile ? a->profile : "(default)",
				     c->accounts[k].line);
		}
	}
}

static void get_uint(cctx_t *x, const yaml_node_t *v, const char *key, unsigned lo,
		     unsigned hi, unsigned *out)
{
	const char *s = scalar(v);
	unsigned long n;
	char *end;

	errno = 0;
	n = s ? strtoul(s, &end, 10) : 0;
	if (!s || !*s || *end || errno || n < lo || n > hi || *s == '-') {
		cerr(x, v, "%s must be a number from %u to %u", key, lo, hi);
		return;
	}
	*out = (unsigned)n;
}

static void get_retry(cctx_t *x, const yaml_node_t *m)
{
	yaml_node_pair_t *p;

	if (m->type != YAML_MAPPING_NODE) {
		cerr(x, m, "retry must be a map");
		return;
	}
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
		const yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
		const char *key = scalar(k) ? scalar(k) : "";

		if (strcmp(key, "tries") == 0)
			get_uint(x, v, "retry.tries", 1, 20, &x->c->tries);
		else if (strcmp(key, "base_ms") == 0)
			get_uint(x, v, "retry.base_ms", 1, 600000, &x->c->base_ms);
		else if (strcmp(key, "max_ms") == 0)
			get_uint(x, v, "retry.max_ms", 1, 3600000, &x->c->max_ms);
		else
			cerr(x, k, "unknown key in retry: '%s'", key);
	}
}

static void get_top(cctx_t *x, const yaml_node_t *root)
{
	vd_sync_conf_t *c = x->c;
	bool have_accounts = false;
	yaml_node_pair_t *p;

	if (!root || root->type != YAML_MAPPING_NODE) {
		cerr(x, root, "the file must be a map (accounts:, output:, ...)");
		return;
	}
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
		const yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
		const char *key = scalar(k) ? scalar(k) : "";

		for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < p; q++) {
			const char *qk = scalar(yaml_document_get_node(x->doc, q->key));

			if (qk && strcmp(qk, key) == 0)
				cerr(x, k, "duplicate key '%s'", key);
		}
		if (strcmp(key, "accounts") == 0) {
			have_accounts = true;
			get_accounts(x, v);
		} else if (strcmp(key, "output") == 0) {
			get_path(x, v, key, &c->output);
		} else if (strcmp(key, "vpcdns_config") == 0) {
			get_path(x, v, key, &c->vpcdns_config);
		} else if (strcmp(key, "vpcdnsctl") == 0) {
			get_string(x, v, key, &c->vpcdnsctl);
		} else if (strcmp(key, "socket") == 0) {
			get_string(x, v, key, &c->socket);
		} else if (strcmp(key, "vpcdns") == 0) {
			get_string(x, v, key, &c->vpcdns);
		} else if (strcmp(key, "importer") == 0) {
			get_string(x, v, key, &c->importer);
		} else if (strcmp(key, "aws") == 0) {
			get_string(x, v, key, &c->aws);
		} else if (strcmp(key, "retry") == 0) {
			get_retry(x, v);
		} else {
			cerr(x, k, "unknown key '%s'", key);
		}
	}
	if (!have_accounts)
		cerr(x, root, "missing required key 'accounts'");
	if (!c->output && !x->nerr)
		cerr(x, root, "missing required key 'output'");
	if (c->max_ms < c->base_ms)
		c->max_ms = c->base_ms;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char cwd[PATH_MAX], *d;

	if (slash == path)
		return strdup("/");
	if (slash)
		d = strndup(path, (size_t)(slash - path));
	else
		d = getcwd(cwd, sizeof(cwd)) ? strdup(cwd) : strdup(".");
	if (d && d[0] != '/' && getcwd(cwd, sizeof(cwd))) {
		char *abs = NULL;

		if (asprintf(&abs, "%s/%s", cwd, d) < 0)
			abs = NULL;
		free(d);
		d = abs;
	}
	return d;
}

int vd_sync_conf_load(const char *path, vd_sync_conf_t **out, vd_errlist_t *errs)
{
	cctx_t x = { .file = path, .errs = errs };
	yaml_parser_t parser;
	yaml_document_t doc;
	FILE *fp;
	int rc;

	if (!path || !out || !errs)
		return -EINVAL;
	*out = NULL;
	fp = fopen(path, "r");
	if (!fp) {
		rc = -errno;
		vd_errlist_add(errs, path, 0, "cannot open: %s", strerror(-rc));
		return rc;
	}
	x.c = calloc(1, sizeof(*x.c));
	x.dir = dir_of(path);
	if (!x.c || !x.dir || !yaml_parser_initialize(&parser)) {
		fclose(fp);
		free(x.c);
		free(x.dir);
		return -ENOMEM;
	}
	x.c->tries = VD_SYNC_TRIES;
	x.c->base_ms = VD_SYNC_BASE_MS;
	x.c->max_ms = VD_SYNC_MAX_MS;
	yaml_parser_set_input_file(&parser, fp);
	if (!yaml_parser_load(&parser, &doc)) {
		vd_errlist_add(errs, path, parser.problem_mark.line + 1, "%s",
			       parser.problem ? parser.problem : "not YAML");
		x.nerr++;
	} else {
		x.doc = &doc;
		get_top(&x, yaml_document_get_root_node(&doc));
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	fclose(fp);
	free(x.dir);
	if (x.nomem || x.nerr) {
		vd_sync_conf_free(x.c);
		return x.nomem ? -ENOMEM : VD_ECONF;
	}
	*out = x.c;
	return 0;
}

void vd_sync_conf_free(vd_sync_conf_t *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->naccounts; i++) {
		for (size_t k = 0; k < c->accounts[i].nregions; k++)
			free(c->accounts[i].regions[k]);
		free(c->accounts[i].regions);
		free(c->accounts[i].profile);
	}
	free(c->accounts);
	free(c->output);
	free(c->vpcdnsctl);
	free(c->socket);
	free(c->vpcdns_config);
	free(c->vpcdns);
	free(c->importer);
	free(c->aws);
	free(c);
}
