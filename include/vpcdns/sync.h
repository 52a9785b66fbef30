/*
 * sync: the parts of vpcdns-sync worth testing on their own. Its
 * configuration file (accounts, regions, output folder, tools), running a
 * tool with its output captured, the back-off schedule for throttled AWS
 * calls, and the comparison of two imported trees (views and records
 * added, removed, changed). vpcdns-sync.c is the command around them. The
 * AWS CLI does the talking to AWS; nothing here reads credentials. Depends
 * on util, libyaml and jansson. One thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vpcdns/util.h"

/* Defaults of the retry: section. */
#define VD_SYNC_TRIES 5
#define VD_SYNC_BASE_MS 1000
#define VD_SYNC_MAX_MS 30000

typedef struct vd_sync_account {
	char *profile;	/* NULL: the AWS CLI's default credentials */
	char **regions; /* at least one */
	size_t nregions;
	unsigned long line; /* of the entry, for messages */
} vd_sync_account_t;

/* Every string is malloc'd and owned by the configuration. Relative paths
 * (output, vpcdns_config) are made absolute against the file's folder. */
typedef struct vd_sync_conf {
	vd_sync_account_t *accounts;
	size_t naccounts;
	char *output;	     /* the importer's --out */
	char *vpcdnsctl;     /* NULL: "vpcdnsctl"; "": no reload */
	char *socket;	     /* NULL: vpcdnsctl's default */
	char *vpcdns_config; /* NULL: no vpcdns --check */
	char *vpcdns;	     /* NULL: "vpcdns" */
	char *importer;	     /* NULL: "vpcdns-import" */
	char *aws;	     /* NULL: "aws" */
	unsigned tries;	     /* attempts per call, 1..20 */
	unsigned base_ms, max_ms;
} vd_sync_conf_t;

/* Reads the YAML file at path:
 *   accounts: [{profile: NAME, regions: [REGION, ...]}, ...]   (required)
 *   output: DIR                                                 (required)
 *   vpcdnsctl, socket, vpcdns_config, vpcdns, importer, aws: strings
 *   retry: {tries: N, base_ms: N, max_ms: N}
 * Unknown keys, duplicate keys, a profile twice, a bad region or an empty
 * list are errors "path:line: reason" in errs. Returns 0 with *out, or
 * VD_ECONF / -errno. */
int vd_sync_conf_load(const char *path, vd_sync_conf_t **out, vd_errlist_t *errs);
void vd_sync_conf_free(vd_sync_conf_t *c); /* NULL does nothing */

/* Runs argv (argv[0] searched on PATH when it has no '/') with stdin from
 * /dev/null, stdout into out_path (created; NULL: /dev/null) and stderr
 * captured into *err (malloc, NUL-terminated, at most 64 KiB kept).
 * *status is the exit status, or 128 + signal. Returns 0, or -errno when
 * it could not be started (*err then says why). */
int vd_sync_run(char *const argv[], const char *out_path, char **err, int *status);

/* Whether an AWS CLI error output is throttling (RequestLimitExceeded,
 * Throttling, ThrottlingException): worth another try. */
bool vd_sync_throttled(const char *err);

/* Wait before try number attempt + 1 (attempt counts from 1): d = base *
 * 2^(attempt - 1), capped at max, then jitter: a value in [d/2, d] picked
 * by rnd (0 gives d/2, UINT32_MAX gives d). */
unsigned vd_sync_backoff_ms(unsigned attempt, unsigned base, unsigned max,
			    uint32_t rnd);

/* ---- what changed ---------------------------------------------------------
 * Compares two versions of the importer's output (folders holding a
 * .vpcdns-import.manifest): views (VPCs) added and removed, and per view
 * the address record sets (name and type) of its zone files added,
 * removed or changed (other addresses). old_dir NULL: everything is new.
 * One line per change is written to out (may be NULL): "view added: ID",
 * "view removed: ID", "ID: added NAME TYPE ADDR...", "ID: removed NAME
 * TYPE", "ID: changed NAME TYPE OLD... -> NEW...". Returns 0 or -errno. */
typedef struct vd_sync_diff {
	unsigned views_added, views_removed;
	unsigned rr_added, rr_removed, rr_changed;
} vd_sync_diff_t;

int vd_sync_diff(const char *old_dir, const char *new_dir, FILE *out,
		 vd_sync_diff_t *d);
