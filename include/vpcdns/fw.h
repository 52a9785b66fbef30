/*
 * fw: the DNS firewall (Route 53 Resolver DNS Firewall's model). Domain
 * lists read from files, rule groups of priority-ordered rules that name
 * a list, an action (allow, alert, block), a block response (NODATA,
 * NXDOMAIN, or an override CNAME) and optionally the query types they
 * apply to; a view applies a sequence of rule groups. conf reads the lists
 * and builds the groups into the snapshot; query asks vd_fw_check for each
 * name it answers (the question, then each CNAME target unless the rule
 * trusts redirections). Depends on wire and util.
 *
 * Matching (as Route 53 documents it): a list entry "example.com" matches
 * only example.com; "*.example.com" matches every name below example.com
 * but not example.com itself; "*" matches every name. Case does not
 * matter. The first matching rule decides, whatever its action: allow and
 * alert answer normally, block answers with the rule's block response.
 *
 * Cost: a list is an open-addressed hash set of lower-cased wire names
 * (vd_hash, fixed seed: the keys come from files); a lookup hashes the
 * name once for the exact entries and once per label for the wildcard
 * entries (at most 128 probes), whatever the size of the list, and
 * allocates nothing. Lists, groups and rules are immutable once built and
 * may be read from any thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpcdns/util.h"

/* Errors reported for one list file before the rest are only counted. */
#define VD_FW_LIST_MAX_ERRORS 10

typedef struct vd_fw_list vd_fw_list_t;

/* Parses a list from buf (len bytes, need not be NUL-terminated): one
 * name per line, an optional leading "*." (or "*" alone), "#" comments
 * (whole lines, or after whitespace), blank lines, CRLF line ends.
 * Duplicates are kept once. file names the list in messages. On success
 * *out is a new list (free with vd_fw_list_free) and the result is 0; on
 * a bad line every problem (up to VD_FW_LIST_MAX_ERRORS, then a count)
 * goes to errs as "file:line: reason", nothing is returned and the
 * result is VD_ECONF; -ENOMEM as usual. */
int vd_fw_list_parse(const char *buf, size_t len, const char *file, vd_fw_list_t **out,
		     vd_errlist_t *errs);
/* Reads the file at path and parses it (file names it in messages). A
 * file that cannot be read is -errno with a message in errs. */
int vd_fw_list_read(const char *path, const char *file, vd_fw_list_t **out,
		    vd_errlist_t *errs);
void vd_fw_list_free(vd_fw_list_t *l); /* NULL is ok */

/* Whether the lower-cased wire name name_lc matches an entry of l. */
bool vd_fw_list_match(const vd_fw_list_t *l, const uint8_t *name_lc);
/* Distinct names ("x.test" and "*.x.test" count once). */
size_t vd_fw_list_count(const vd_fw_list_t *l);
/* Bytes the list holds in memory (names and table). */
size_t vd_fw_list_bytes(const vd_fw_list_t *l);

typedef enum { VD_FW_ALLOW = 0, VD_FW_ALERT, VD_FW_BLOCK } vd_fw_action_t;
#define VD_FW_NACTIONS 3
typedef enum {
	VD_FW_NODATA = 0,
	VD_FW_NXDOMAIN,
	VD_FW_OVERRIDE,
} vd_fw_block_t;

/* "ALLOW", "ALERT", "BLOCK": Route 53's firewall_rule_action values. */
const char *vd_fw_action_name(vd_fw_action_t a);

/* One rule. Everything it points at belongs to whoever built it (the
 * snapshot) and lives as long as it. */
typedef struct vd_fw_rule {
	uint32_t priority;
	const char *list_name;
	const vd_fw_list_t *list;
	vd_fw_action_t action;
	vd_fw_block_t block;	 /* for VD_FW_BLOCK */
	const uint8_t *override; /* VD_FW_OVERRIDE: CNAME target, wire */
	uint32_t override_ttl;
	/* The override as a precompiled CNAME RRset (a zone.h vd_rrset_t),
	 * built by conf for the reply writers; fw does not read it. */
	const void *override_rrset;
	const uint16_t *types; /* ntypes == 0: every query type */
	unsigned ntypes;
	/* Route 53's TRUST_REDIRECTION_DOMAIN: the rule inspects only the
	 * question, not the CNAME targets that follow it. */
	bool trust_redirections;
} vd_fw_rule_t;

/* A rule group: rules sorted by priority (lowest first, unique). */
typedef struct vd_fw_group {
	const char *name;
	const vd_fw_rule_t *rules;
	size_t nrules;
} vd_fw_group_t;

/* The rule groups one view applies, in order. */
typedef struct vd_fw_set {
	const vd_fw_group_t *const *groups;
	size_t ngroups;
} vd_fw_set_t;

/* The rule that decided a query (rule == NULL: none matched), for the
 * reply, the statistics and the query log (Route 53's
 * firewall_rule_group_id = group->name, firewall_domain_list_id =
 * rule->list_name, firewall_rule_action = vd_fw_action_name). */
typedef struct vd_fw_match {
	const vd_fw_group_t *group;
	const vd_fw_rule_t *rule;
} vd_fw_match_t;

/* Evaluates set's groups in order and each group's rules by priority
 * against name_lc (lower-cased wire name) for a query of type qtype;
 * redirect says name_lc is a CNAME target rather than the question (rules
 * that trust redirections are skipped then). Returns true and fills *m
 * with the first rule that matches; false (m->rule = NULL) when none
 * does. No allocation, no lock. */
bool vd_fw_check(const vd_fw_set_t *set, const uint8_t *name_lc, uint16_t qtype,
		 bool redirect, vd_fw_match_t *m);
