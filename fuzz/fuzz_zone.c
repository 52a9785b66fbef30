/*
 * libFuzzer target for the zone loader: every input is written to a file
 * and loaded as a zone (with and without a given origin). A load either
 * fails with at least one "file:line: reason" message or gives a zone
 * whose apex has an SOA and whose lookups never crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpcdns/util.h"
#include "vpcdns/zone.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
	return 0;
}
