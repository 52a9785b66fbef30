/*
 * What a sync changed: two versions of the importer's output compared
 * through their manifests (the VPCs) and their zone files (the address
 * records, as "owner TTL IN TYPE address" lines the importer writes).
 * Each side becomes a sorted list of record sets, "vpc zone-file name
 * type" with its addresses, and the two lists are merged.
 */
#include "vpcdns/sync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANIFEST ".vpcdns-import.manifest"

typedef struct rset {
	char *key;   /* "vpc\tname\ttype" (malloc) */
	char *addrs; /* sorted, space-separated (malloc) */
} rset_t;

typedef struct side {
	char **vpcs;
	size_t nvpcs, capvpcs;
	rset_t *sets;
	size_t nsets, capsets;
} side_t;

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*arr, (*cap ? *cap * 2 : 16) * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = *cap ? *cap * 2 : 16;
	return 0;
}

static void side_free(side_t *s)
{
	for (size_t i = 0; i < s->nvpcs; i++)
		free(s->vpcs[i]);
	for (size_t i = 0; i < s->nsets; i++) {
		free(s->sets[i].key);
		free(s->sets[i].addrs);
	}
	free(s->vpcs);
	free(s->sets);
}

/* One record line of a zone file into (vpc, name, type, addr). */
static int add_record(side_t *s, const char *vpc, const char *origin, char *line)
{
	char owner[300], type[8], addr[64], name[600];
	unsigned ttl;
	rset_t *r;

	if (sscanf(line, "%299s %u IN %7s %63s", owner, &ttl, type, addr) != 4 ||
	    (strcmp(type, "A") != 0 && strcmp(type, "AAAA") != 0))
		return 0;
	if (strcmp(owner, "@") == 0)
		snprintf(name, sizeof(name), "%s", origin);
	else
		snprintf(name, sizeof(name), "%s.%s", owner, origin);
	if (grow((void **)&s->sets, &s->capsets, s->nsets, sizeof(*r)))
		return -ENOMEM;
	r = &s->sets[s->nsets];
	r->key = NULL;
	r->addrs = strdup(addr);
	if (!r->addrs || asprintf(&r->key, "%s\t%s\t%s", vpc, name, type) < 0) {
		free(r->addrs);
		return -ENOMEM;
	}
	s->nsets++;
	return 0;
}

static int read_zone(side_t *s, const char *dir, const char *vpc, const char *rel)
{
	char *path = NULL, *line = NULL, origin[300] = ".";
	size_t cap = 0;
	FILE *fp;
	int rc = 0;

	if (asprintf(&path, "%s/%s", dir, rel) < 0)
		return -ENOMEM;
	fp = fopen(path, "r");
	free(path);
	if (!fp)
		return -errno;
	while (rc == 0 && getline(&line, &cap, fp) > 0) {
		if (strncmp(line, "$ORIGIN ", 8) == 0)
			sscanf(line + 8, "%299s", origin);
		else if (line[0] != ';' && line[0] != '$')
			rc = add_record(s, vpc, origin, line);
	}
	free(line);
	fclose(fp);
	return rc;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int rset_cmp(const void *a, const void *b)
{
	const rset_t *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : strcmp(x->addrs, y->addrs);
}

/* Joins the addresses of equal keys (sorted) into one set. */
static int merge_sets(side_t *s)
{
	size_t out = 0;

	if (!s->nsets)
		return 0;
	qsort(s->sets, s->nsets, sizeof(rset_t), rset_cmp);
	for (size_t i = 0; i < s->nsets; i++) {
		rset_t *prev = out ? &s->sets[out - 1] : NULL;

		if (prev && strcmp(prev->key, s->sets[i].key) == 0) {
			char *j = NULL;

			if (asprintf(&j, "%s %s", prev->addrs, s->sets[i].addrs) < 0)
				return -ENOMEM;
			free(prev->addrs);
			prev->addrs = j;
			free(s->sets[i].key);
			free(s->sets[i].addrs);
			continue;
		}
		s->sets[out++] = s->sets[i];
	}
	s->nsets = out;
	return 0;
}

static bool is_zone_file(const char *rel)
{
	size_t n = strlen(rel);

	return n > 5 && strcmp(rel + n - 5, ".zone") == 0;
}

static int read_side(const char *dir, side_t *s)
{
	char *path = NULL, *line = NULL;
	size_t cap = 0;
	FILE *fp;
	int rc = 0;

	if (!dir)
		return 0;
	if (asprintf(&path, "%s/%s", dir, MANIFEST) < 0)
		return -ENOMEM;
	fp = fopen(path, "r");
	free(path);
	if (!fp)
		return -errno;
	while (rc == 0 && getline(&line, &cap, fp) > 0) {
		char a[600] = "", b[600] = "";

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "vpc %599s", a) == 1) {
			rc = grow((void **)&s->vpcs, &s->capvpcs, s->nvpcs,
				  sizeof(char *));
			if (rc == 0 && !(s->vpcs[s->nvpcs] = strdup(a)))
				rc = -ENOMEM;
			if (rc == 0)
				s->nvpcs++;
		} else if (sscanf(line, "file %599s", b) == 1 && is_zone_file(b)) {
			char *slash = strchr(b, '/');

			if (!slash)
				continue;
			*slash = '\0';
			memcpy(a, b, (size_t)(slash - b) + 1);
			*slash = '/';
			rc = read_zone(s, dir, a, b);
		}
	}
	free(line);
	fclose(fp);
	if (rc == 0 && s->nvpcs)
		qsort(s->vpcs, s->nvpcs, sizeof(char *), str_cmp);
	return rc ? rc : merge_sets(s);
}

static void say(FILE *out, const char *key, const char *what, const char *rest)
{
	const char *t1 = strchr(key, '\t');

	if (out)
		fprintf(out, "%.*s: %s %s%s%s\n", (int)(t1 - key), key, what, t1 + 1,
			rest ? " " : "", rest ? rest : "");
}

static void print_key(FILE *out, const char *key, const char *what, const char *rest)
{
	char *k = strdup(key);

	if (!k)
		return;
	/* "vpc\tname\ttype" → "name type" after the VPC. */
	for (char *p = strchr(strchr(k, '\t') + 1, '\t'); p; p = NULL)
		*p = ' ';
	say(out, k, what, rest);
	free(k);
}

int vd_sync_diff(const char *old_dir, const char *new_dir, FILE *out, vd_sync_diff_t *d)
{
	side_t a = { 0 }, b = { 0 };
	size_t i = 0, j = 0;
	int rc;

	memset(d, 0, sizeof(*d));
	rc = read_side(old_dir, &a);
	if (rc == 0)
		rc = read_side(new_dir, &b);
	if (rc)
		goto fail;
	while (i < a.nvpcs || j < b.nvpcs) {
		int c = i == a.nvpcs   ? 1
			: j == b.nvpcs ? -1
				       : strcmp(a.vpcs[i], b.vpcs[j]);

		if (c < 0) {
			d->views_removed++;
			if (out)
				fprintf(out, "view removed: %s\n", a.vpcs[i]);
			i++;
		} else if (c > 0) {
			d->views_added++;
			if (out)
				fprintf(out, "view added: %s\n", b.vpcs[j]);
			j++;
		} else {
			i++;
			j++;
		}
	}
	for (i = 0, j = 0; i < a.nsets || j < b.nsets;) {
		int c = i == a.nsets   ? 1
			: j == b.nsets ? -1
				       : strcmp(a.sets[i].key, b.sets[j].key);

		if (c < 0) {
			d->rr_removed++;
			print_key(out, a.sets[i].key, "removed", NULL);
			i++;
		} else if (c > 0) {
			d->rr_added++;
			print_key(out, b.sets[j].key, "added", b.sets[j].addrs);
			j++;
		} else {
			if (strcmp(a.sets[i].addrs, b.sets[j].addrs) != 0) {
				char *r = NULL;

				d->rr_changed++;
				if (asprintf(&r, "%s -> %s", a.sets[i].addrs,
					     b.sets[j].addrs) >= 0)
					print_key(out, a.sets[i].key, "changed", r);
				free(r);
			}
			i++;
			j++;
		}
	}
fail:
	side_free(&a);
	side_free(&b);
	return rc;
}
