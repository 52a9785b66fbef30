/*
 * Helpers shared by the conf unit tests: a scratch folder under /tmp that
 * is removed afterwards, writing small files into it, and searching an
 * error list for a message with an exact "file:line: " prefix.
 */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vpcdns/util.h"
#include "vpcdns/wire.h"
#include "vpcdns/zone.h"

/* A fresh folder /tmp/vdconf-XXXXXX; buf must hold 64 bytes. */
static inline void tmpdir_new(char *buf)
{
	strcpy(buf, "/tmp/vdconf-XXXXXX");
	assert_non_null(mkdtemp(buf));
}

static inline int rm_one(const char *path, const struct stat *st, int flag,
			 struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void tmpdir_rm(const char *dir)
{
	assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Writes text to dir/name (creating dir/name's parent folders is up to
 * the caller) and returns the full path in out (at least 512 bytes). */
static inline void file_write(const char *dir, const char *name, const char *text,
			      char *out)
{
	FILE *f;

	snprintf(out, 512, "%s/%s", dir, name);
	f = fopen(out, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static inline void subdir_new(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(mkdir(path, 0700), 0);
}

/* Whether errs holds a message starting with "file:line: " (or "file: "
 * for line 0) that contains needle. */
static inline bool err_has(const vd_errlist_t *errs, const char *file,
			   unsigned long line, const char *needle)
{
	char prefix[1100];

	if (strlen(file) > 1000)
		return false;
	if (line)
		snprintf(prefix, sizeof(prefix), "%s:%lu: ", file, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", file);
	for (size_t i = 0; i < errs->count; i++) {
		const char *m = errs->msgs[i];

		if (strncmp(m, prefix, strlen(prefix)) == 0 &&
		    strstr(m + strlen(prefix), needle))
			return true;
	}
	return false;
}

static inline void errs_print(const vd_errlist_t *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		print_message("  %s\n", errs->msgs[i]);
}

/* Fails the test, listing the errors, unless err_has. */
#define assert_err(errs, file, line, needle)                            \
	do {                                                            \
		if (!err_has((errs), (file), (line), (needle))) {       \
			errs_print(errs);                               \
			fail_msg("no error '%s:%lu: ...%s...'", (file), \
				 (unsigned long)(line), (needle));      \
		}                                                       \
	} while (0)

/* The last byte of the address of zone z's one apex A record. */
static inline int apex_a(const vd_zone_t *z)
{
	const vd_rrset_t *rs = NULL;

	assert_int_equal(vd_zone_lookup(z, vd_zone_apex(z), VD_T_A, &rs, NULL),
			 VD_ZL_ANSWER);
	assert_int_equal(rs->count, 1);
	assert_int_equal(rs->rdlen[0], 4);
	return rs->rdata[0][3];
}
