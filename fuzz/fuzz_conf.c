/*
 * libFuzzer target for the YAML configuration loader: every input is
 * written to a file in a private folder and loaded with vd_conf_load
 * (and the --check warnings). The files it names (zones, lists, view
 * files) are mostly missing, so those are errors like any other. A load
 * either fails with at least one "file:line: reason" message or gives a
 * snapshot that is freed again; nothing crashes, leaks or hangs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpcdns/conf.h"
#include "vpcdns/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A folder of our own, so relative names resolve where nothing is;
 * removed at exit. */
static char dir[64], file[96];

static void remove_dir(void)
{
	unlink(file);
	rmdir(dir);
}

static const char *conf_path(void)
{
	if (file[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/vd-fuzz-conf-XXXXXX");
		if (mkdtemp(dir) == NULL)
			return NULL;
		snprintf(file, sizeof(file), "%s/vpcdns.yaml", dir);
		atexit(remove_dir);
	}
	return file;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = conf_path();
	vd_errlist_t errs, warns;
	vd_snap_t *snap = NULL;

	if (path == NULL)
		return 0;
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	vd_log_set_level(VD_LOG_ERR);
	vd_errlist_init(&errs);
	vd_errlist_init(&warns);
	int rc = vd_conf_check(path, &snap, &errs, &warns);
	if (rc != 0 && rc != -ENOMEM && errs.count == 0)
		abort(); /* every failure says why */
	if (rc == 0 && snap == NULL)
		abort();
	vd_snap_unref(snap);
	vd_errlist_deinit(&errs);
	vd_errlist_deinit(&warns);
	unlink(path);
	return 0;
}
