/*
 * Unit tests of the YAML layer of conf: the node tree and its line
 * numbers, null detection, duplicate and non-string keys, aliases (shared,
 * never recursive), syntax errors with libyaml's text and line, several
 * documents, empty files and the nesting bound.
 */
#include "conf_test.h"

#include <errno.h>

#include "conf_yaml.h"

typedef struct fixture {
	char dir[64];
	char path[512];
	vd_arena_t a;
	vd_errlist_t errs;
	const ynode_t *root;
} fixture_t;

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof(*f));

	tmpdir_new(f->dir);
	vd_arena_init(&f->a, 0);
	vd_errlist_init(&f->errs);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;

	tmpdir_rm(f->dir);
	vd_arena_deinit(&f->a);
	vd_errlist_deinit(&f->errs);
	free(f);
	return 0;
}

static int read_text(fixture_t *f, const char *text)
{
	file_write(f->dir, "c.yaml", text, f->path);
	return vd_conf_yaml_read(f->path, f->path, &f->a, &f->root, &f->errs);
}

static void test_null_args(void **state)
{
	fixture_t *f = *state;
	char missing[600];

	assert_int_equal(vd_conf_yaml_read(NULL, "x", &f->a, &f->root, &f->errs),
			 -EINVAL);
	assert_int_equal(vd_conf_yaml_read("x", NULL, &f->a, &f->root, &f->errs),
			 -EINVAL);
	assert_int_equal(vd_conf_yaml_read("x", "x", NULL, &f->root, &f->errs),
			 -EINVAL);
	assert_int_equal(vd_conf_yaml_read("x", "x", &f->a, NULL, &f->errs), -EINVAL);
	assert_null(vd_conf_yaml_get(NULL, "a", NULL));
	snprintf(missing, sizeof(missing), "%s/missing.yaml", f->dir);
	assert_int_equal(vd_conf_yaml_read(missing, missing, &f->a, &f->root, &f->errs),
			 -ENOENT);
	assert_null(f->root);
	assert_err(&f->errs, missing, 0, "cannot open: No such file or directory");
	assert_int_equal(vd_conf_yaml_read(f->dir, "dir", &f->a, &f->root, &f->errs),
			 -EINVAL);
	assert_err(&f->errs, "dir", 0, "not a regular file");
	/* A scalar is no map. */
	assert_int_equal(read_text(f, "just text\n"), 0);
	assert_null(vd_conf_yaml_get(f->root, "just text", NULL));
}

static void test_tree(void **state)
{
	fixture_t *f = *state;
	const ynode_t *s, *l, *v;
	const yn_pair_t *p = NULL;

	assert_int_equal(read_text(f, "# comment\n"
				      "server:\n"
				      "  listen: [ \"127.0.0.1:5353\", '[::1]:53' ]\n"
				      "  empty:\n"
				      "  tilde: ~\n"
				      "  quoted: \"null\"\n"
				      "views:\n"
				      "  - name: a\n"
				      "    clients:\n"
				      "      - 10.0.0.0/8\n"
				      "      - |\n"
				      "        two\n"
				      "        lines\n"),
			 0);
	assert_int_equal(f->errs.count, 0);
	assert_non_null(f->root);
	assert_int_equal(f->root->kind, YN_MAP);
	assert_int_equal(f->root->n, 2);
	s = vd_conf_yaml_get(f->root, "server", &p);
	assert_non_null(s);
	assert_int_equal(p->key->line, 2);
	assert_int_equal(s->kind, YN_MAP);
	assert_int_equal(s->line, 3);
	l = vd_conf_yaml_get(s, "listen", &p);
	assert_int_equal(l->kind, YN_SEQ);
	assert_int_equal(l->n, 2);
	assert_string_equal(l->items[0]->str, "127.0.0.1:5353");
	assert_string_equal(l->items[1]->str, "[::1]:53");
	assert_int_equal(l->items[1]->line, 3);
	v = vd_conf_yaml_get(s, "empty", NULL);
	assert_true(v->null);
	assert_int_equal(v->len, 0);
	assert_true(vd_conf_yaml_get(s, "tilde", NULL)->null);
	v = vd_conf_yaml_get(s, "quoted", NULL);
	assert_false(v->null);
	assert_string_equal(v->str, "null");
	assert_null(vd_conf_yaml_get(s, "missing", NULL));
	/* Keys are case-sensitive. */
	assert_null(vd_conf_yaml_get(f->root, "Server", NULL));
	v = vd_conf_yaml_get(f->root, "views", NULL);
	assert_int_equal(v->kind, YN_SEQ);
	assert_int_equal(v->items[0]->line, 8);
	l = vd_conf_yaml_get(v->items[0], "clients", &p);
	assert_int_equal(p->key->line, 9);
	assert_int_equal(l->items[0]->line, 10);
	assert_int_equal(l->items[1]->line, 11);
	assert_string_equal(l->items[1]->str, "two\nlines\n");
}

static void test_duplicate_keys(void **state)
{
	fixture_t *f = *state;
	const ynode_t *s;

	assert_int_equal(read_text(f, "server:\n"
				      "  identity: one\n"
				      "  identity: two\n"
				      "views: []\n"
				      "server: {}\n"),
			 VD_ECONF);
	assert_err(&f->errs, f->path, 3, "duplicate key 'identity' (first at line 2)");
	assert_err(&f->errs, f->path, 5, "duplicate key 'server' (first at line 1)");
	assert_int_equal(f->errs.count, 2);
	/* The tree is still there, first values kept, for further checks. */
	assert_non_null(f->root);
	s = vd_conf_yaml_get(f->root, "server", NULL);
	assert_int_equal(s->n, 1);
	assert_string_equal(vd_conf_yaml_get(s, "identity", NULL)->str, "one");
	assert_int_equal(f->root->n, 2);
}

static void test_bad_keys(void **state)
{
	fixture_t *f = *state;

	assert_int_equal(read_text(f, "a: 1\n"
				      "? [x, y]\n"
				      ": 2\n"
				      "b: \"nul\\0here\"\n"),
			 VD_ECONF);
	assert_err(&f->errs, f->path, 2, "mapping keys must be strings");
	assert_err(&f->errs, f->path, 4, "string contains a NUL character");
	assert_int_equal(f->root->n, 2);
	assert_string_equal(vd_conf_yaml_get(f->root, "b", NULL)->str, "nul");
}

static void test_syntax_error(void **state)
{
	fixture_t *f = *state;

	assert_int_equal(read_text(f, "server:\n"
				      "  listen: [\"a\"\n"
				      "  identity: x\n"
				      "views: 1\n"),
			 VD_ECONF);
	assert_null(f->root);
	assert_int_equal(f->errs.count, 1);
	assert_non_null(strstr(f->errs.msgs[0], "YAML syntax error: "));
	assert_err(&f->errs, f->path, 3, "did not find expected ',' or ']'");

	vd_errlist_deinit(&f->errs);
	assert_int_equal(read_text(f, "a: b\n c: d\n  - e\n"), VD_ECONF);
	assert_err(&f->errs, f->path, 2,
		   "mapping values are not allowed in this context");

	vd_errlist_deinit(&f->errs);
	assert_int_equal(read_text(f, "a: \"\\xff\xff\"\n"), VD_ECONF);
	assert_err(&f->errs, f->path, 1, "YAML syntax error: invalid");
}

static void test_aliases(void **state)
{
	fixture_t *f = *state;
	const ynode_t *a, *b;

	assert_int_equal(read_text(f, "a: &nets [\"10.0.0.0/8\", \"::1\"]\n"
				      "b: *nets\n"),
			 0);
	a = vd_conf_yaml_get(f->root, "a", NULL);
	b = vd_conf_yaml_get(f->root, "b", NULL);
	assert_ptr_equal(a, b);
	assert_int_equal(b->n, 2);

	assert_int_equal(read_text(f, "a: *nowhere\nb: 1\n"), VD_ECONF);
	assert_err(&f->errs, f->path, 1, "unknown alias '*nowhere'");
	assert_true(vd_conf_yaml_get(f->root, "a", NULL)->null);

	/* An alias inside its own anchor would make a cycle. */
	vd_errlist_deinit(&f->errs);
	assert_int_equal(read_text(f, "a: &loop\n  b: *loop\n"), VD_ECONF);
	assert_err(&f->errs, f->path, 2, "unknown alias '*loop'");
}

static void test_documents(void **state)
{
	fixture_t *f = *state;

	assert_int_equal(read_text(f, ""), 0);
	assert_null(f->root);
	assert_int_equal(read_text(f, "# only a comment\n\n"), 0);
	assert_null(f->root);
	assert_int_equal(read_text(f, "---\n...\n"), 0);
	assert_null(f->root);
	assert_int_equal(read_text(f, "---\n~\n"), 0);
	assert_null(f->root);
	assert_int_equal(f->errs.count, 0);
	assert_int_equal(read_text(f, "a: 1\n---\nb: 2\n"), VD_ECONF);
	assert_err(&f->errs, f->path, 2, "only one YAML document is allowed");
	assert_non_null(vd_conf_yaml_get(f->root, "a", NULL));
}

static void test_depth(void **state)
{
	fixture_t *f = *state;
	char text[400];
	int i;

	for (i = 0; i < 150; i++)
		text[i] = '[';
	text[i++] = '\n';
	text[i] = '\0';
	assert_int_equal(read_text(f, text), VD_ECONF);
	assert_null(f->root);
	assert_err(&f->errs, f->path, 1, "nesting deeper than 64 levels");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_null_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_documents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
