/*
 * libFuzzer target for the importer's inventory reader: every input is
 * loaded as one AWS CLI JSON document (vd_import_load_buffer) and, when it
 * loads, built into zone files, subnets and views in memory
 * (vd_import_build, towards an output folder that does not exist, so no
 * previous import is read and nothing is written). A load or build either
 * succeeds or fails with at least one message; nothing crashes or leaks.
 */
#include <errno.h>
#include <stdlib.h>

#include "vpcdns/import.h"
#include "vpcdns/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void note(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vd_errlist_t errs;
	vd_import_t *im = vd_import_new();

	if (im == NULL)
		return 0;
	vd_errlist_init(&errs);
	int rc =
		vd_import_load_buffer(im, "fuzz.json", (const char *)data, size, &errs);
	if (rc != 0 && rc != -ENOMEM && errs.count == 0)
		abort(); /* every failure says why */
	if (rc == 0) {
		rc = vd_import_build(im, "/nonexistent/vd-fuzz-out", note, NULL, &errs);
		if (rc != 0 && rc != -ENOMEM && errs.count == 0)
			abort();
		size_t n = 0;
		const vd_import_file_t *f = vd_import_files(im, &n);
		for (size_t i = 0; i < n; i++)
			if (f[i].path == NULL || (f[i].len > 0 && f[i].data == NULL))
				abort();
	}
	vd_errlist_deinit(&errs);
	vd_import_free(im);
	return 0;
}
