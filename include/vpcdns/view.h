/*
 * view: an immutable table from client address to view index, by longest
 * prefix over every view's CIDRs (IPv4 and IPv6 in separate binary tries).
 * A lookup walks at most 32 or 128 nodes, whatever the number of views.
 * Built once per config snapshot, then read without locks by any thread.
 * Depends on util.
 */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

#include "vpcdns/util.h"

typedef struct vd_view_table vd_view_table_t;

/* Creates an empty table. NULL on out of memory. */
vd_view_table_t *vd_view_table_new(void);
/* Frees the table (NULL does nothing). */
void vd_view_table_free(vd_view_table_t *t);

/* Maps prefix c to view index idx (>= 0). The same prefix added twice is
 * -EEXIST (whatever the index); callers report it as "the same CIDR in two
 * views". Not thread-safe: only while building. */
int vd_view_table_add(vd_view_table_t *t, const vd_cidr_t *c, int idx);

/* Index of the view whose prefix is the longest match for the client's
 * address (AF_INET, AF_INET6; IPv4-mapped IPv6 is matched as IPv4), or
 * -1 when no prefix matches. Allocation-free and lock-free. */
int vd_view_table_match(const vd_view_table_t *t, const struct sockaddr *sa);
