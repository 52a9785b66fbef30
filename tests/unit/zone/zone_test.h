/*
 * Helpers shared by the zone unit tests: zone text written to a private
 * temporary directory (so each error case keeps its text and its expected
 * line numbers side by side), loading with an error list, names from
 * presentation form, and checks on error messages.
 */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpcdns/util.h"
#include "vpcdns/wire.h"
#include "vpcdns/zone.h"

static char zt_dir[64];
static char zt_path[128];
static char zt_files[32][16]; /* names written, removed at teardown */
static unsigned zt_nfiles;

static inline int zt_setup(void **state)
{
	(void)state;
	strcpy(zt_dir, "/tmp/vd-zone-test.XXXXXX");
	return mkdtemp(zt_dir) ? 0 : -1;
}

static inline int zt_teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < zt_nfiles; i++) {
		snprintf(zt_path, sizeof(zt_path), "%s/%s", zt_dir, zt_files[i]);
		unlink(zt_path);
	}
	return rmdir(zt_dir);
}

/* Writes text to <tmpdir>/name and returns the path (static buffer). */
static inline const char *zt_write(const char *name, const char *text)
{
	FILE *fp;
	unsigned i;

	for (i = 0; i < zt_nfiles && strcmp(zt_files[i], name) != 0; i++)
		;
	if (i == zt_nfiles && zt_nfiles < 32)
		snprintf(zt_files[zt_nfiles++], sizeof(zt_files[0]), "%s", name);
	snprintf(zt_path, sizeof(zt_path), "%s/%s", zt_dir, name);
	fp = fopen(zt_path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return zt_path;
}

/* Wire form of a presentation name, lower-cased (static buffer). */
static inline const uint8_t *zt_name(const char *text)
{
	static uint8_t buf[4][VD_NAME_MAX];
	static unsigned next;
	uint8_t *b = buf[next++ % 4];
	size_t len;

	assert_int_equal(vd_name_from_text(text, b, &len), 0);
	vd_name_lower(b, b);
	return b;
}

/* Asserts that the error list holds exactly one message, equal to
 * "<path><suffix>" (suffix is ":LINE: reason" or ": reason"). */
static inline void zt_expect_error(const vd_errlist_t *e, const char *path,
				   const char *suffix)
{
	char want[1024];

	snprintf(want, sizeof(want), "%s%s", path, suffix);
	if (e->count != 1) {
		for (size_t i = 0; i < e->count; i++)
			print_error("message: %s\n", e->msgs[i]);
	}
	assert_int_equal(e->count, 1);
	assert_string_equal(e->msgs[0], want);
}

/* Loads text as a zone expected to fail with exactly one message. */
static inline void zt_load_fails(const char *text, const char *origin,
				 const char *suffix)
{
	vd_errlist_t e;
	vd_zone_t *z = (vd_zone_t *)1;
	const char *path = zt_write("bad.zone", text);

	vd_errlist_init(&e);
	assert_int_equal(vd_zone_load(path, origin, VD_ZONE_FALLBACK_NXDOMAIN, &z, &e),
			 VD_ECONF);
	assert_null(z);
	zt_expect_error(&e, path, suffix);
	vd_errlist_deinit(&e);
}
