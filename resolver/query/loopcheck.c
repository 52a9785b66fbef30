/*
 * Forwarding loop detection, the query side. The daemon sends each upstream
 * group a query for "<token>-<group>.vpcdns-loop-check.invalid." (token:
 * 16 hex digits, new at each round, that is at start and after each
 * reload). When such a name with the current token reaches one of our
 * workers, our own query came back to us through that group: the group is
 * marked looping, which every worker reads with one atomic load before it
 * forwards a query there. Only names ending in the reserved suffix are
 * looked at (one comparison of the name's tail per query); the table is
 * fixed at start, so nothing allocates or locks on the query path.
 */
#include "query_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "vpcdns/util.h"

struct vd_loopcheck {
	_Atomic uint64_t token; /* 0: no round (nothing matches) */
	_Atomic uint64_t gen;	/* the snapshot generation probed */
	atomic_bool looping[VD_LOOPCHECK_MAX_GROUPS];
};

/* "\021vpcdns-loop-check\007invalid\0": the wire form of the suffix. */
static const uint8_t suffix[] = "\021" VD_LOOPCHECK_LABEL "\007invalid";
#define SUFFIX_LEN sizeof(suffix) /* with the root label */

vd_loopcheck_t *vd_query_loopcheck_new(void)
{
	vd_loopcheck_t *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	atomic_init(&l->token, 0);
	atomic_init(&l->gen, 0);
	for (size_t i = 0; i < VD_LOOPCHECK_MAX_GROUPS; i++)
		atomic_init(&l->looping[i], false);
	return l;
}

void vd_query_loopcheck_free(vd_loopcheck_t *l)
{
	free(l);
}

void vd_query_loopcheck_round(vd_loopcheck_t *l, uint64_t gen)
{
	uint64_t token = 0;

	/* No match while the flags are cleared. */
	atomic_store_explicit(&l->token, 0, memory_order_release);
	for (size_t i = 0; i < VD_LOOPCHECK_MAX_GROUPS; i++)
		atomic_store_explicit(&l->looping[i], false, memory_order_relaxed);
	atomic_store_explicit(&l->gen, gen, memory_order_relaxed);
	while (token == 0)
		vd_rand_bytes(&token, sizeof(token));
	atomic_store_explicit(&l->token, token, memory_order_release);
}

int vd_query_loopcheck_name(const vd_loopcheck_t *l, size_t group, uint8_t *out)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t token = atomic_load_explicit(&l->token, memory_order_acquire);
	char digits[24];
	size_t n = 0, len = 0;

	if (token == 0 || group >= VD_LOOPCHECK_MAX_GROUPS)
		return -EINVAL;
	do {
		digits[n++] = (char)('0' + group % 10);
		group /= 10;
	} while (group > 0);
	out[len++] = (uint8_t)(16 + 1 + n);
	for (int i = 15; i >= 0; i--)
		out[len++] = (uint8_t)hex[(token >> (4 * i)) & 15];
	out[len++] = '-';
	while (n > 0)
		out[len++] = (uint8_t)digits[--n];
	memcpy(out + len, suffix, SUFFIX_LEN);
	return 0;
}

bool vd_query_loopcheck_looping(const vd_loopcheck_t *l, const vd_snap_t *snap,
				size_t group)
{
	return l != NULL && group < VD_LOOPCHECK_MAX_GROUPS &&
	       atomic_load_explicit(&l->looping[group], memory_order_relaxed) &&
	       atomic_load_explicit(&l->gen, memory_order_relaxed) == snap->generation;
}

uint64_t vd_query_loopcheck_generation(const vd_loopcheck_t *l)
{
	return atomic_load_explicit(&l->gen, memory_order_relaxed);
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The group a probe label of the current round names; -1 for any other
 * name. name_lc is lower-cased and ends with the suffix. */
static int probe_group(const vd_loopcheck_t *l, const uint8_t *name_lc, size_t len)
{
	size_t lab = name_lc[0];
	uint64_t token = 0, group = 0;

	if (lab < 18 || lab > 20 || 1 + lab + SUFFIX_LEN != len || name_lc[17] != '-')
		return -1;
	for (size_t i = 1; i <= 16; i++) {
		int v = hexval(name_lc[i]);
		if (v < 0)
			return -1;
		token = token << 4 | (uint64_t)v;
	}
	for (size_t i = 18; i <= lab; i++) {
		if (name_lc[i] < '0' || name_lc[i] > '9')
			return -1;
		group = group * 10 + (uint64_t)(name_lc[i] - '0');
	}
	if (token != atomic_load_explicit(&l->token, memory_order_acquire) ||
	    group >= VD_LOOPCHECK_MAX_GROUPS)
		return -1;
	return (int)group;
}

bool vd_query_loopcheck_probe_name(const vd_query_msg_t *q)
{
	size_t len = q->qname_len;

	return len > SUFFIX_LEN &&
	       memcmp(q->qname_lc + len - SUFFIX_LEN, suffix, SUFFIX_LEN) == 0;
}

bool vd_query_loopcheck_seen(vd_query_ctx_t *ctx, const vd_snap_t *snap,
			     const vd_query_msg_t *q)
{
	const vd_loopcheck_t *l = ctx->loopcheck;
	size_t len = q->qname_len;

	if (l == NULL || !vd_query_loopcheck_probe_name(q))
		return false;
	int g = probe_group(l, q->qname_lc, len);
	if (g < 0)
		return false; /* another server's probe: forwarded as usual */
	if (atomic_exchange_explicit(&ctx->loopcheck->looping[g], true,
				     memory_order_relaxed))
		return true;
	bool ours = atomic_load_explicit(&l->gen, memory_order_relaxed) ==
			    snap->generation &&
		    (size_t)g < snap->ngroups;
	vd_log(VD_LOG_ERR,
	       "forwarding loop: upstream group '%s' sends our queries back to "
	       "us; its queries get SERVFAIL (EDE 22) until the next reload",
	       ours ? snap->groups[g].name : "?");
	return true;
}

void vd_query_set_loopcheck(vd_query_ctx_t *ctx, vd_loopcheck_t *l)
{
	ctx->loopcheck = l;
}
