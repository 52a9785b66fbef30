/*
 * conf private: the configuration file as a small tree of YAML nodes, each
 * carrying the 1-based line where it starts, so the validator can report
 * every problem as "file:line: reason". Only what a configuration needs:
 * scalars (kept as text), sequences and mappings with scalar keys. Aliases
 * share the anchored node; the tree is a DAG owned by one arena.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "vpcdns/util.h"

typedef enum { YN_SCALAR, YN_SEQ, YN_MAP } yn_kind_t;

typedef struct ynode ynode_t;

/* One "key: value" of a mapping; key is always a scalar. */
typedef struct yn_pair {
	const ynode_t *key;
	const ynode_t *val;
} yn_pair_t;

struct ynode {
	yn_kind_t kind;
	unsigned long line; /* 1-based */
	/* The name of the file the node was read from, as given to
	 * vd_conf_yaml_read (its caller keeps it alive as long as the tree):
	 * messages about a node name its own file. */
	const char *file;
	/* scalar: NUL-terminated text (never contains NUL itself) */
	const char *str;
	size_t len;
	bool null; /* plain "", "~" or "null": no value */
	/* sequence: items[n]; mapping: pairs[n] */
	const ynode_t **items;
	const yn_pair_t *pairs;
	size_t n;
};

/* Reads the YAML file at path into a tree allocated from arena a (which
 * the caller owns and frees). file is the name used in messages and kept
 * in every node: it must outlive the tree. *root is
 * NULL when the file holds no document or only a null one. Errors (syntax,
 * duplicate keys, non-scalar keys, unknown aliases, nesting too deep, more
 * than one document) go to errs and the result is VD_ECONF; after a
 * syntax error *root is NULL, after the others it holds the tree read
 * (the duplicates and bad keys left out) so validation can go on. A file that
 * cannot be opened is -errno with a message in errs; -ENOMEM as usual. */
int vd_conf_yaml_read(const char *path, const char *file, vd_arena_t *a,
		      const ynode_t **root, vd_errlist_t *errs);

/* Value of key in mapping m, or NULL (also when m is not a mapping).
 * If pair is not NULL it receives the pair, for the key's line. */
const ynode_t *vd_conf_yaml_get(const ynode_t *m, const char *key,
				const yn_pair_t **pair);
