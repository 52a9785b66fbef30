/*
 * Unit tests of the "firewall" section: lists read relative to
 * server.directory, rule groups with their rules sorted by priority and
 * every option read, each view's rule groups, and every kind of error
 * with its "file:line: " (the config's, or the list file's).
 */
#include "conf_test.h"

#include <errno.h>

#include "vpcdns/conf.h"
#include "vpcdns/wire.h"
#include "vpcdns/zone.h"

typedef struct fixture {
	char dir[64];
	char path[512];
	vd_errlist_t errs;
	vd_snap_t *snap;
} fixture_t;

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof(*f));
	char out[512];

	tmpdir_new(f->dir);
	vd_errlist_init(&f->errs);
	snprintf(f->path, sizeof(f->path), "%s/vpcdns.yaml", f->dir);
	subdir_new(f->dir, "lists");
	file_write(f->dir, "lists/bad.txt", "bad.test\n*.worse.test\n", out);
	file_write(f->dir, "lists/ok.txt", "# allowed\nok.bad.test\n", out);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;

	vd_snap_unref(f->snap);
	vd_errlist_deinit(&f->errs);
	tmpdir_rm(f->dir);
	free(f);
	return 0;
}

static int load(fixture_t *f, const char *yaml)
{
	char out[512];
	char text[4096];

	snprintf(text, sizeof(text),
		 "server:\n"
		 "  listen: [127.0.0.1:5300]\n"
		 "  directory: %s\n"
		 "upstreams:\n"
		 "  up: [127.0.0.1:5301]\n"
		 "%s",
		 f->dir, yaml);
	file_write(f->dir, "vpcdns.yaml", text, out);
	vd_snap_unref(f->snap);
	f->snap = NULL;
	return vd_conf_load(f->path, &f->snap, &f->errs);
}

static void test_valid(void **state)
{
	fixture_t *f = *state;
	uint8_t wire[VD_NAME_MAX];

	assert_int_equal(load(f, "firewall:\n"
				 "  lists:\n"
				 "    bad: lists/bad.txt\n"
				 "    ok: lists/ok.txt\n"
				 "  rule_groups:\n"
				 "    main:\n"
				 "      - {priority: 200, list: bad, action: block,\n"
				 "         block_response: override, override_name: "
				 "sink.test,\n"
				 "         override_ttl: 30, types: [A, AAAA]}\n"
				 "      - {priority: 100, list: ok, action: allow,\n"
				 "         trust_redirections: true}\n"
				 "    watch:\n"
				 "      - {priority: 1, list: bad, action: alert}\n"
				 "views:\n"
				 "  - name: a\n"
				 "    clients: [10.0.0.0/8]\n"
				 "    firewall: [watch, main]\n"
				 "  - name: b\n"
				 "    clients: [10.1.0.0/16]\n"),
			 0);
	const vd_snap_t *s = f->snap;
	assert_int_equal(s->nfw_lists, 2);
	assert_int_equal(vd_fw_list_count(s->fw_lists[0]), 2);
	assert_int_equal(s->nfw_groups, 2);
	const vd_fw_group_t *g = &s->fw_groups[0];
	assert_string_equal(g->name, "main");
	assert_int_equal(g->nrules, 2);
	/* Sorted by priority. */
	assert_int_equal(g->rules[0].priority, 100);
	assert_int_equal(g->rules[0].action, VD_FW_ALLOW);
	assert_true(g->rules[0].trust_redirections);
	assert_string_equal(g->rules[0].list_name, "ok");
	assert_int_equal(g->rules[1].action, VD_FW_BLOCK);
	assert_int_equal(g->rules[1].block, VD_FW_OVERRIDE);
	assert_int_equal(g->rules[1].override_ttl, 30);
	assert_int_equal(g->rules[1].ntypes, 2);
	assert_int_equal(g->rules[1].types[1], VD_T_AAAA);
	assert_int_equal(vd_name_from_text("sink.test", wire, NULL), 0);
	assert_true(vd_name_equal(g->rules[1].override, wire));
	const vd_rrset_t *rs = g->rules[1].override_rrset;
	assert_int_equal(rs->type, VD_T_CNAME);
	assert_int_equal(rs->ttl, 30);
	/* View a applies watch then main; view b nothing. */
	const vd_fw_set_t *va = &s->fw_views[0];
	assert_int_equal(va->ngroups, 2);
	assert_string_equal(va->groups[0]->name, "watch");
	assert_string_equal(va->groups[1]->name, "main");
	assert_int_equal(s->fw_views[1].ngroups, 0);

	vd_fw_match_t m;
	assert_int_equal(vd_name_from_text("x.worse.test", wire, NULL), 0);
	assert_true(vd_fw_check(va, wire, VD_T_A, false, &m));
	assert_string_equal(m.group->name, "watch");
}

static void test_errors(void **state)
{
	fixture_t *f = *state;

	assert_int_equal(load(f, "firewall:\n"			      /* 6 */
				 "  lists:\n"			      /* 7 */
				 "    bad: lists/bad.txt\n"	      /* 8 */
				 "    gone: lists/missing.txt\n"      /* 9 */
				 "  rule_groups:\n"		      /* 10 */
				 "    g:\n"			      /* 11 */
				 "      - priority: 1\n"	      /* 12 */
				 "        list: nolist\n"	      /* 13 */
				 "        action: deny\n"	      /* 14 */
				 "      - priority: 1\n"	      /* 15 */
				 "        list: bad\n"		      /* 16 */
				 "        action: alert\n"	      /* 17 */
				 "        block_response: nodata\n"   /* 18 */
				 "      - priority: 2\n"	      /* 19 */
				 "        list: bad\n"		      /* 20 */
				 "        action: block\n"	      /* 21 */
				 "        block_response: override\n" /* 22 */
				 "        types: [A, BOGUS]\n"	      /* 23 */
				 "        colour: red\n"	      /* 24 */
				 "      - {priority: 3, list: bad, action: block, "
				 "block_response: drop, override_ttl: 5}\n" /* 25 */
				 "      - {list: bad, action: block, block_response: "
				 "override, override_name: 'a..b'}\n" /* 26 */
				 "    empty: []\n"		      /* 27 */
				 "views:\n"			      /* 28 */
				 "  - name: a\n"		      /* 29 */
				 "    clients: [10.0.0.0/8]\n"	      /* 30 */
				 "    firewall: [g, nope, g]\n"),     /* 31 */
			 VD_ECONF);
	assert_null(f->snap);
	char missing[600];
	snprintf(missing, sizeof(missing), "%s/lists/missing.txt", f->dir);
	assert_true(err_has(&f->errs, missing, 0, "cannot open"));
	assert_true(err_has(&f->errs, f->path, 13, "unknown list 'nolist'"));
	assert_true(err_has(&f->errs, f->path, 14, "bad value 'deny'"));
	assert_true(err_has(&f->errs, f->path, 15, "priority 1 is used twice"));
	assert_true(err_has(&f->errs, f->path, 18, "only applies to action: block"));
	assert_true(
		err_has(&f->errs, f->path, 19, "missing required key 'override_name'"));
	assert_true(err_has(&f->errs, f->path, 23, "unknown type 'BOGUS'"));
	assert_true(err_has(&f->errs, f->path, 24, "unknown key 'colour'"));
	assert_true(err_has(&f->errs, f->path, 25, "bad value 'drop'"));
	assert_true(err_has(&f->errs, f->path, 25, "override_ttl only applies"));
	assert_true(err_has(&f->errs, f->path, 26, "missing required key 'priority'"));
	assert_true(err_has(&f->errs, f->path, 26, "bad name 'a..b'"));
	assert_true(
		err_has(&f->errs, f->path, 27, "must be a non-empty list of rules"));
	assert_true(err_has(&f->errs, f->path, 31, "unknown rule group 'nope'"));
	assert_true(err_has(&f->errs, f->path, 31, "rule group 'g' is listed twice"));
}

static void test_bad_list_line(void **state)
{
	fixture_t *f = *state;
	char out[512], list[600];

	file_write(f->dir, "lists/bad.txt", "ok.test\n\nbad..test\n", out);
	assert_int_equal(load(f,
			      "firewall:\n"
			      "  lists: {bad: lists/bad.txt}\n"
			      "  rule_groups: {g: [{priority: 1, list: bad, action: "
			      "block}]}\n"
			      "views:\n"
			      "  - {name: a, clients: [10.0.0.0/8], firewall: [g]}\n"),
			 VD_ECONF);
	snprintf(list, sizeof(list), "%s/lists/bad.txt", f->dir);
	assert_true(err_has(&f->errs, list, 3, "bad domain name 'bad..test'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_list_line, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
