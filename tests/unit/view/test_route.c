/*
 * Unit tests of a view's routing map on its own (forward rules only, no
 * zone files): the most specific suffix wins, the max_labels limit used
 * after a zone's forward fallback, names of equal label count but
 * different lengths, the deepest legal names, and a map large enough to
 * exercise probing in the open-addressing table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view_int.h" /* the slot count: the table's sizing rule */
#include "vpcdns/wire.h"

typedef struct fixture {
	vd_arena_t a;
	vd_view_t *v;
	vd_view_rule_t rules[2100];
	size_t n;
} fixture_t;

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof(*f));

	vd_arena_init(&f->a, 0);
	f->v = vd_view_new(&f->a, 0);
	assert_non_null(f->v);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;

	vd_view_deinit(f->v); /* the map is in an allocation of its own */
	vd_arena_deinit(&f->a);
	free(f);
	return 0;
}

static const uint8_t *wire(fixture_t *f, const char *text)
{
	uint8_t buf[VD_NAME_MAX];
	size_t len;

	assert_int_equal(vd_name_from_text(text, buf, &len), 0);
	vd_name_lower(buf, buf);
	return vd_arena_memdup(&f->a, buf, len);
}

static void rule(fixture_t *f, const char *name, int group)
{
	f->rules[f->n].name = wire(f, name);
	f->rules[f->n].group = group;
	f->n++;
}

static void build(fixture_t *f)
{
	bool shared = true;
	assert_int_equal(vd_view_build(f->v, f->rules, f->n, NULL, &shared), 0);
	assert_false(shared);
}

/* Group of the entry routing name, -2 when none does. */
static int group_of(fixture_t *f, const char *name, unsigned max_labels)
{
	const vd_view_route_t *e = vd_view_route(f->v, wire(f, name), max_labels);

	if (!e)
		return -2;
	assert_null(vd_view_route_zone(e));
	return vd_view_route_group(e);
}

static void test_null_args(void **state)
{
	fixture_t *f = *state;
	vd_view_t *unbuilt = vd_view_new(&f->a, 1);

	build(f);
	assert_null(vd_view_route(NULL, wire(f, "a."), UINT_MAX));
	assert_null(vd_view_route(f->v, NULL, UINT_MAX));
	assert_null(vd_view_route(unbuilt, wire(f, "a."), UINT_MAX));
	/* An empty map routes nothing, not even the root. */
	assert_int_equal(f->v->route_mask, 0);
	assert_int_equal(f->v->route_max_labels, 0);
	assert_int_equal(group_of(f, ".", UINT_MAX), -2);
	assert_int_equal(group_of(f, "www.example.com.", UINT_MAX), -2);
}

static void test_most_specific(void **state)
{
	fixture_t *f = *state;

	rule(f, ".", 0);
	rule(f, "a.", 1);
	rule(f, "c.b.a.", 3);
	rule(f, "example.com.", 4);
	rule(f, "corp.example.", 5); /* same labels as a.example., longer */
	rule(f, "a.example.", 6);
	build(f);
	assert_int_equal(f->v->route_max_labels, 3);
	/* Slots: a power of two, at most half full. */
	assert_int_equal((f->v->route_mask + 1) & f->v->route_mask, 0);
	assert_true(f->v->route_mask + 1 >= 2 * f->n);
	assert_int_equal(group_of(f, ".", UINT_MAX), 0);
	assert_int_equal(group_of(f, "org.", UINT_MAX), 0);
	assert_int_equal(group_of(f, "a.", UINT_MAX), 1);
	assert_int_equal(group_of(f, "b.a.", UINT_MAX), 1); /* no "b.a." rule */
	assert_int_equal(group_of(f, "c.b.a.", UINT_MAX), 3);
	assert_int_equal(group_of(f, "x.y.z.c.b.a.", UINT_MAX), 3);
	assert_int_equal(group_of(f, "www.example.com.", UINT_MAX), 4);
	assert_int_equal(group_of(f, "com.", UINT_MAX), 0);
	assert_int_equal(group_of(f, "x.corp.example.", UINT_MAX), 5);
	assert_int_equal(group_of(f, "x.a.example.", UINT_MAX), 6);
	assert_int_equal(group_of(f, "b.example.", UINT_MAX), 0);
	/* A label that merely ends like a rule is not below it. */
	assert_int_equal(group_of(f, "xa.", UINT_MAX), 0);
	assert_int_equal(group_of(f, "fooexample.com.", UINT_MAX), 0);
}

static void test_max_labels(void **state)
{
	fixture_t *f = *state;

	rule(f, "e.", 1);
	rule(f, "c.d.e.", 3);
	rule(f, "a.b.c.d.e.", 5);
	build(f);
	assert_int_equal(group_of(f, "x.a.b.c.d.e.", UINT_MAX), 5);
	assert_int_equal(group_of(f, "x.a.b.c.d.e.", 5), 5);
	assert_int_equal(group_of(f, "x.a.b.c.d.e.", 4), 3);
	assert_int_equal(group_of(f, "x.a.b.c.d.e.", 3), 3);
	assert_int_equal(group_of(f, "x.a.b.c.d.e.", 2), 1);
	assert_int_equal(group_of(f, "x.a.b.c.d.e.", 1), 1);
	/* No "." rule: nothing at 0 labels. */
	assert_int_equal(group_of(f, "x.a.b.c.d.e.", 0), -2);
	assert_int_equal(group_of(f, "d.e.", UINT_MAX), 1);
}

static void test_deep_names(void **state)
{
	fixture_t *f = *state;
	char deep[300] = "";

	/* 127 one-character labels: the deepest legal name. */
	for (int i = 0; i < 127; i++)
		strcat(deep, "x.");
	rule(f, deep, 7);
	rule(f, deep + 2, 6);
	build(f);
	assert_int_equal(f->v->route_max_labels, 127);
	assert_int_equal(group_of(f, deep, UINT_MAX), 7);
	assert_int_equal(group_of(f, deep + 2, UINT_MAX), 6);
	assert_int_equal(group_of(f, deep, 126), 6);
	assert_int_equal(group_of(f, deep + 4, UINT_MAX), -2);
}

static void test_many(void **state)
{
	fixture_t *f = *state;
	char name[64];

	rule(f, "example.", 0);
	for (int i = 1; i <= 2000; i++) {
		snprintf(name, sizeof(name), "n%d.example.", i);
		rule(f, name, i);
	}
	build(f);
	assert_true(f->v->route_mask + 1 >= 2 * f->n);
	for (int i = 1; i <= 2000; i++) {
		snprintf(name, sizeof(name), "www.n%d.EXAMPLE.", i);
		for (char *p = name; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		assert_int_equal(group_of(f, name, UINT_MAX), i);
	}
	assert_int_equal(group_of(f, "n2001.example.", UINT_MAX), 0);
	assert_int_equal(group_of(f, "n0.example.", UINT_MAX), 0);
	assert_int_equal(group_of(f, "example.org.", UINT_MAX), -2);
}

/* The same name twice (it cannot come from a config, where duplicates are
 * rejected) keeps one entry: the last rule's group. */
static void test_one_entry_per_name(void **state)
{
	fixture_t *f = *state;
	const vd_view_route_t *a, *b;

	rule(f, "a.example.", 1);
	rule(f, "a.example.", 2);
	build(f);
	a = vd_view_route(f->v, wire(f, "a.example."), UINT_MAX);
	b = vd_view_route(f->v, wire(f, "x.a.example."), UINT_MAX);
	assert_ptr_equal(a, b);
	assert_int_equal(vd_view_route_group(a), 2);
	assert_int_equal(vd_name_labels(vd_view_route_name(a)), 2);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_null_args),  T(test_most_specific), T(test_max_labels),
		T(test_deep_names), T(test_many),	   T(test_one_entry_per_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
