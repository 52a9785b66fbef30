/*
 * libFuzzer target for the zone loader: every input is written to a file
 * and loaded as a zone (with and without a given origin). A load either
 * fails with at least one "file:line: reason" message or gives a zone
 * whose apex has an SOA and whose lookups never crash. And whenever the
 * fast reader (zone_text.c) takes an input, the ldns reader must read the
 * same records from it with the same origin, or the target aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpcdns/util.h"
#include "vpcdns/zone.h"
#include "zone_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load(const char *path, const char *origin)
{
	vd_errlist_t errs;
	vd_zone_t *z = NULL;
	vd_errlist_init(&errs);
	int rc = vd_zone_load(path, origin, VD_ZONE_FALLBACK_FORWARD, &z, &errs);
	if (rc != 0 && errs.count == 0)
		abort(); /* every failure says why */
	if (rc == 0) {
		const vd_rrset_t *rs;
		bool wild;
		if (vd_zone_soa(z) == NULL)
			abort();
		vd_zone_lookup(z, vd_zone_apex(z), VD_T_ANY, &rs, &wild);
		vd_zone_lookup(z, vd_zone_apex(z), VD_T_A, &rs, &wild);
		vd_zone_unref(z);
	}
	vd_errlist_deinit(&errs);
}

static bool same_recs(const vd_zone_ctx_t *a, const vd_zone_ctx_t *b)
{
	if (a->nrecs != b->nrecs)
		return false;
	for (size_t i = 0; i < a->nrecs; i++) {
		const vd_zone_rec_t *x = &a->recs[i], *y = &b->recs[i];

		if (x->line != y->line || x->type != y->type ||
		    x->rclass != y->rclass || x->ttl != y->ttl || x->seq != y->seq ||
		    x->owner_len != y->owner_len || x->rdlen != y->rdlen ||
		    memcmp(x->owner, y->owner, x->owner_len) != 0 ||
		    memcmp(x->rdata, y->rdata, x->rdlen) != 0)
			return false;
	}
	return true;
}

/* Both readers on the same text: if the fast one takes it, they agree. */
static void differential(const uint8_t *data, size_t size, const uint8_t *origin)
{
	vd_zone_ctx_t f = { .path = "fuzz", .max_size = VD_ZONE_FILE_MAX_SIZE };
	vd_zone_ctx_t l = f;
	uint8_t fo[VD_NAME_MAX], lo[VD_NAME_MAX];
	int fr, lr;

	fr = vd_zone_read_fast(&f, (const char *)data, size, origin, fo);
	if (fr == 0) {
		lr = vd_zone_read_ldns(&l, (const char *)data, size, origin, lo);
		if (lr != 0 || f.nerr != 0 || vd_name_len(fo) != vd_name_len(lo) ||
		    memcmp(fo, lo, vd_name_len(lo)) != 0 || !same_recs(&f, &l))
			abort();
	} else if (fr != VD_ZONE_NOT_MINE || f.nrecs != 0 || f.nerr != 0) {
		abort();
	}
	free(f.recs);
	free(f.blob);
	free(l.recs);
	free(l.blob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t example[] = "\7example\3com";

	static char path[64];
	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/vd-fuzz-zone-%d.zone",
			 (int)getpid());
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	load(path, NULL);
	load(path, "example.com.");
	unlink(path);
	differential(data, size, NULL);
	differential(data, size, example);
	return 0;
}
