/*
 * Responses: each command's result as text (one "key: value" or one item
 * per line, for people and grep) or as one JSON object (jansson, for
 * scripts such as vpcdns-sync), after the status line "ok" or "error".
 * Pure functions of the results the daemon hands over, unit-tested apart
 * from the socket.
 */
#include "vpcdns/ctl.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vpcdns/util.h"

/* ---- buffer ------------------------------------------------------------- */

void vd_ctl_buf_printf(vd_ctl_buf_t *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->nomem)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->nomem = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void vd_ctl_buf_free(vd_ctl_buf_t *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Appends "ok\n" or "error\n" and the object, then frees it. */
static void put_json(vd_ctl_buf_t *out, json_t *o)
{
	bool ok = json_is_true(json_object_get(o, "ok"));
	char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (text == NULL) {
		out->nomem = true;
	} else {
		vd_ctl_buf_printf(out, "%s\n%s\n", ok ? "ok" : "error", text);
		free(text);
	}
	json_decref(o);
}

static json_t *json_ok(void)
{
	json_t *o = json_object();
	json_object_set_new(o, "ok", json_true());
	return o;
}

static void set_u64(json_t *o, const char *k, uint64_t v)
{
	json_object_set_new(o, k, json_integer((json_int_t)v));
}

static void set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, v ? json_string(v) : json_null());
}

void vd_ctl_write_error(vd_ctl_buf_t *out, bool json, const char *msg)
{
	if (!json) {
		vd_ctl_buf_printf(out, "error\n%s\n", msg);
		return;
	}
	json_t *o = json_object(), *errs = json_array();
	json_object_set_new(o, "ok", json_false());
	json_array_append_new(errs, json_string(msg));
	json_object_set_new(o, "errors", errs);
	put_json(out, o);
}

/* ---- reload ------------------------------------------------------------- */

void vd_ctl_write_reload(vd_ctl_buf_t *out, bool json,
			 const vd_daemon_reload_result_t *r)
{
	size_t nerr = r->errs ? r->errs->count : 0;

	if (json) {
		json_t *o = r->rc == 0 ? json_ok() : json_object();
		if (r->rc != 0) {
			json_t *errs = json_array();
			json_object_set_new(o, "ok", json_false());
			for (size_t i = 0; i < nerr; i++)
				json_array_append_new(errs,
						      json_string(r->errs->msgs[i]));
			if (nerr == 0)
				json_array_append_new(errs,
						      json_string(vd_strerror(r->rc)));
			json_object_set_new(o, "errors", errs);
		}
		set_u64(o, "generation", r->generation);
		set_u64(o, "ms", r->ms);
		put_json(out, o);
		return;
	}
	if (r->rc == 0) {
		vd_ctl_buf_printf(out, "ok\ngeneration %llu loaded in %llu ms\n",
				  (unsigned long long)r->generation,
				  (unsigned long long)r->ms);
		return;
	}
	vd_ctl_buf_printf(out, "error\n");
	for (size_t i = 0; i < nerr; i++)
		vd_ctl_buf_printf(out, "%s\n", r->errs->msgs[i]);
	if (nerr == 0)
		vd_ctl_buf_printf(out, "%s\n", vd_strerror(r->rc));
	vd_ctl_buf_printf(out,
			  "reload failed (%zu errors); generation %llu keeps serving\n",
			  nerr, (unsigned long long)r->generation);
}

/* ---- status ------------------------------------------------------------- */

static const char *last_result(const vd_daemon_status_t *st)
{
	if (st->reloads == 0)
		return "none";
	return st->last_rc == 0 ? "ok" : "failed";
}

static void time_text(uint64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void vd_ctl_write_status(vd_ctl_buf_t *out, bool json, const vd_daemon_status_t *st,
			 uint64_t now)
{
	uint64_t uptime = now > st->started_at ? now - st->started_at : 0;
	char loaded[32], last[32];

	time_text(st->loaded_at, loaded, sizeof(loaded));
	time_text(st->last_at, last, sizeof(last));
	if (json) {
		json_t *o = json_ok(), *lr = json_object();
		set_str(o, "config", st->conf_path);
		set_u64(o, "generation", st->generation);
		set_u64(o, "loaded_at", st->loaded_at);
		set_u64(o, "started_at", st->started_at);
		set_u64(o, "uptime", uptime);
		set_u64(o, "views", st->views);
		set_u64(o, "zones", st->zones);
		set_u64(o, "zone_uses", st->zone_uses);
		set_u64(o, "records", st->records);
		set_u64(o, "upstream_groups", st->groups);
		set_u64(o, "workers", st->workers);
		json_object_set_new(o, "reloading", json_boolean(st->reloading));
		set_u64(o, "reloads", st->reloads);
		set_u64(o, "reload_failures", st->reload_failures);
		set_str(lr, "result", last_result(st));
		if (st->reloads > 0) {
			set_u64(lr, "at", st->last_at);
			set_u64(lr, "ms", st->last_ms);
			set_u64(lr, "errors", st->last_errors);
			set_str(lr, "first_error", st->last_rc ? st->last_error : NULL);
		}
		json_object_set_new(o, "last_reload", lr);
		set_u64(o, "looping_upstream_groups", st->nlooping);
		set_str(o, "looping", st->nlooping ? st->looping : NULL);
		put_json(out, o);
		return;
	}
	vd_ctl_buf_printf(out,
			  "ok\nconfig: %s\ngeneration: %llu\nloaded at: %s\n"
			  "uptime: %llu s\nviews: %zu\nzones: %zu (%zu uses)\n"
			  "records: %llu\nupstream groups: %zu\nworkers: %zu\n"
			  "reloads: %llu (%llu failed)%s\n",
			  st->conf_path, (unsigned long long)st->generation, loaded,
			  (unsigned long long)uptime, st->views, st->zones,
			  st->zone_uses, (unsigned long long)st->records, st->groups,
			  st->workers, (unsigned long long)st->reloads,
			  (unsigned long long)st->reload_failures,
			  st->reloading ? ", one running" : "");
	if (st->reloads == 0)
		vd_ctl_buf_printf(out, "last reload: none\n");
	else if (st->last_rc == 0)
		vd_ctl_buf_printf(out, "last reload: ok at %s in %llu ms\n", last,
				  (unsigned long long)st->last_ms);
	else
		vd_ctl_buf_printf(out,
				  "last reload: failed at %s after %llu ms, %zu "
				  "errors; first: %s\n",
				  last, (unsigned long long)st->last_ms,
				  st->last_errors, st->last_error);
	if (st->nlooping > 0)
		vd_ctl_buf_printf(out,
				  "forwarding loop: upstream groups %s (queries to "
				  "them get SERVFAIL until a reload)\n",
				  st->looping);
}

/* ---- stats -------------------------------------------------------------- */

typedef struct field {
	const char *name;
	size_t off;
} field_t;

#define F(type, f)                    \
	{                             \
#f, offsetof(type, f) \
	}
static const field_t query_fields[] = {
	F(vd_query_stats_t, queries),
	F(vd_query_stats_t, udp),
	F(vd_query_stats_t, tcp),
	F(vd_query_stats_t, local),
	F(vd_query_stats_t, forwarded),
	F(vd_query_stats_t, refused),
	F(vd_query_stats_t, formerr),
	F(vd_query_stats_t, notimp),
	F(vd_query_stats_t, servfail),
	F(vd_query_stats_t, dropped),
	F(vd_query_stats_t, nxdomain),
	F(vd_query_stats_t, truncated),
	F(vd_query_stats_t, cache_hits),
	F(vd_query_stats_t, stale),
	F(vd_query_stats_t, coalesced),
	F(vd_query_stats_t, upstream_fetches),
	F(vd_query_stats_t, refreshes),
	F(vd_query_stats_t, rejected_pending),
	F(vd_query_stats_t, fw_allow),
	F(vd_query_stats_t, fw_alert),
	F(vd_query_stats_t, fw_block),
	F(vd_query_stats_t, ratelimited),
	F(vd_query_stats_t, slipped),
	F(vd_query_stats_t, badcookie),
	F(vd_query_stats_t, cookies),
	F(vd_query_stats_t, cookies_valid),
	{ NULL, 0 },
};
static const field_t cache_fields[] = {
	F(vd_cache_stats_t, entries),
	F(vd_cache_stats_t, bytes),
	F(vd_cache_stats_t, max_bytes),
	F(vd_cache_stats_t, hits),
	F(vd_cache_stats_t, misses),
	F(vd_cache_stats_t, stale_hits),
	F(vd_cache_stats_t, inserts),
	F(vd_cache_stats_t, evictions),
	F(vd_cache_stats_t, expired),
	F(vd_cache_stats_t, not_cacheable),
	{ NULL, 0 },
};
static const field_t fwd_fields[] = {
	F(vd_fwd_stats_t, queries),
	F(vd_fwd_stats_t, sent_udp),
	F(vd_fwd_stats_t, sent_tcp),
	F(vd_fwd_stats_t, sent_tls),
	F(vd_fwd_stats_t, answered),
	F(vd_fwd_stats_t, dropped_mismatch),
	F(vd_fwd_stats_t, dropped_malformed),
	F(vd_fwd_stats_t, timeouts),
	F(vd_fwd_stats_t, net_errors),
	F(vd_fwd_stats_t, tc_retries),
	F(vd_fwd_stats_t, failovers),
	F(vd_fwd_stats_t, failed),
	F(vd_fwd_stats_t, rejected_inflight),
	F(vd_fwd_stats_t, deadlines),
	F(vd_fwd_stats_t, explored),
	F(vd_fwd_stats_t, probes),
	F(vd_fwd_stats_t, conn_opened),
	F(vd_fwd_stats_t, conn_reused),
	F(vd_fwd_stats_t, conn_broken),
	F(vd_fwd_stats_t, conn_retries),
	F(vd_fwd_stats_t, tls_failures),
	F(vd_fwd_stats_t, tls_resumed),
	F(vd_fwd_stats_t, socket_failures),
	F(vd_fwd_stats_t, scrubbed),
	{ NULL, 0 },
};
static const field_t net_fields[] = {
	F(vd_net_stats_t, udp_recv),	      F(vd_net_stats_t, udp_sent),
	F(vd_net_stats_t, udp_send_errors),   F(vd_net_stats_t, udp_queued),
	F(vd_net_stats_t, udp_queue_dropped), F(vd_net_stats_t, tcp_accepted),
	F(vd_net_stats_t, tcp_rejected),      F(vd_net_stats_t, tcp_idle_closed),
	F(vd_net_stats_t, tcp_queries),	      F(vd_net_stats_t, tcp_open),
	F(vd_net_stats_t, tcp_evicted),	      F(vd_net_stats_t, tcp_client_rejected),
	F(vd_net_stats_t, tcp_read_timeouts), F(vd_net_stats_t, tcp_write_timeouts),
	F(vd_net_stats_t, tcp_paused),	      { NULL, 0 },
};
#undef F

/* Every counter of each struct is listed: a field added to one of them
 * and not here fails the build (they are all uint64_t). */
#define LISTS_ALL(fields, type)                                                       \
	_Static_assert((sizeof(fields) / sizeof(fields[0]) - 1) * sizeof(uint64_t) == \
			       sizeof(type),                                          \
		       #fields " lists every counter of " #type)
LISTS_ALL(query_fields, vd_query_stats_t);
LISTS_ALL(cache_fields, vd_cache_stats_t);
LISTS_ALL(fwd_fields, vd_fwd_stats_t);
LISTS_ALL(net_fields, vd_net_stats_t);
#undef LISTS_ALL

/* The groups of counters in a worker's copy. */
static const struct group {
	const char *name;
	size_t off;
	const field_t *fields;
} groups[] = {
	{ "query", offsetof(vd_worker_stats_t, query), query_fields },
	{ "cache", offsetof(vd_worker_stats_t, cache), cache_fields },
	{ "upstream", offsetof(vd_worker_stats_t, fwd), fwd_fields },
	{ "net", offsetof(vd_worker_stats_t, net), net_fields },
};
#define NGROUPS (sizeof(groups) / sizeof(groups[0]))

static uint64_t counter(const vd_worker_stats_t *w, size_t g, size_t f)
{
	uint64_t v;
	memcpy(&v, (const char *)w + groups[g].off + groups[g].fields[f].off,
	       sizeof(v));
	return v;
}

/* The sum over the workers that answered. */
static void add_up(const vd_worker_stats_t *w, size_t n, vd_worker_stats_t *total)
{
	memset(total, 0, sizeof(*total));
	total->worker = -1;
	total->valid = true;
	for (size_t i = 0; i < n; i++) {
		if (!w[i].valid)
			continue;
		for (size_t g = 0; g < NGROUPS; g++)
			for (size_t f = 0; groups[g].fields[f].name; f++) {
				uint64_t v =
					counter(total, g, f) + counter(&w[i], g, f);
				memcpy((char *)total + groups[g].off +
					       groups[g].fields[f].off,
				       &v, sizeof(v));
			}
		total->pending += w[i].pending;
		total->pooled += w[i].pooled;
		total->has_cache |= w[i].has_cache;
	}
}

static json_t *stats_json(const vd_worker_stats_t *w)
{
	json_t *o = json_object();
	if (w->worker >= 0) {
		set_u64(o, "worker", (uint64_t)w->worker);
		json_object_set_new(o, "valid", json_boolean(w->valid));
		if (!w->valid)
			return o;
		set_u64(o, "generation", w->generation);
	}
	set_u64(o, "pending", w->pending);
	set_u64(o, "pooled", w->pooled);
	for (size_t g = 0; g < NGROUPS; g++) {
		json_t *gj = json_object();
		if (groups[g].fields == cache_fields && !w->has_cache)
			continue;
		for (size_t f = 0; groups[g].fields[f].name; f++)
			set_u64(gj, groups[g].fields[f].name, counter(w, g, f));
		json_object_set_new(o, groups[g].name, gj);
	}
	return o;
}

static void stats_text(vd_ctl_buf_t *out, const vd_worker_stats_t *w, const char *who)
{
	if (!w->valid) {
		vd_ctl_buf_printf(out, "%s: did not answer in time\n", who);
		return;
	}
	for (size_t g = 0; g < NGROUPS; g++) {
		if (groups[g].fields == cache_fields && !w->has_cache)
			continue;
		vd_ctl_buf_printf(out, "%s %s:", who, groups[g].name);
		for (size_t f = 0; groups[g].fields[f].name; f++)
			vd_ctl_buf_printf(out, " %s=%llu", groups[g].fields[f].name,
					  (unsigned long long)counter(w, g, f));
		vd_ctl_buf_printf(out, "\n");
	}
	vd_ctl_buf_printf(out, "%s pending=%zu pooled=%zu\n", who, w->pending,
			  w->pooled);
}

void vd_ctl_write_stats(vd_ctl_buf_t *out, bool json, const vd_worker_stats_t *w,
			size_t n)
{
	vd_worker_stats_t total;
	size_t answered = 0;

	add_up(w, n, &total);
	for (size_t i = 0; i < n; i++)
		answered += w[i].valid;
	if (json) {
		json_t *o = json_ok(), *ws = json_array();
		set_u64(o, "workers", n);
		set_u64(o, "answered", answered);
		json_object_set_new(o, "total", stats_json(&total));
		for (size_t i = 0; i < n; i++)
			json_array_append_new(ws, stats_json(&w[i]));
		json_object_set_new(o, "per_worker", ws);
		put_json(out, o);
		return;
	}
	vd_ctl_buf_printf(out, "ok\n");
	stats_text(out, &total, "total");
	for (size_t i = 0; i < n; i++) {
		char who[32];
		snprintf(who, sizeof(who), "worker %d", w[i].worker);
		stats_text(out, &w[i], who);
	}
}

/* ---- flush -------------------------------------------------------------- */

void vd_ctl_write_flush(vd_ctl_buf_t *out, const vd_ctl_req_t *req, int rc,
			uint64_t removed, size_t answered, size_t workers)
{
	bool all = req->cmd == VD_CTL_FLUSH_ALL;
	char name[VD_NAME_TEXT];

	if (rc != 0) {
		vd_ctl_write_error(out, req->json, vd_strerror(rc));
		return;
	}
	vd_name_to_text(req->name, name, sizeof(name));
	if (req->json) {
		json_t *o = json_ok();
		if (!all)
			set_str(o, "name", name);
		set_u64(o, "removed", removed);
		set_u64(o, "workers", workers);
		set_u64(o, "answered", answered);
		put_json(out, o);
		return;
	}
	vd_ctl_buf_printf(out, "ok\nremoved %llu cache entries%s%s",
			  (unsigned long long)removed, all ? "" : " for ",
			  all ? "" : name);
	if (answered < workers)
		vd_ctl_buf_printf(out, " (%zu of %zu workers answered)", answered,
				  workers);
	vd_ctl_buf_printf(out, "\n");
}

/* ---- views -------------------------------------------------------------- */

static void cidr_text(const vd_cidr_t *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	inet_ntop(c->family, c->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, c->prefix);
}

void vd_ctl_write_views(vd_ctl_buf_t *out, bool json, const vd_snap_t *snap)
{
	json_t *o = json ? json_ok() : NULL, *vs = json ? json_array() : NULL;
	char text[64];

	if (!json)
		vd_ctl_buf_printf(out, "ok\n");
	for (size_t i = 0; i < snap->nviews; i++) {
		const vd_view_t *v = snap->views[i];
		json_t *vj = json ? json_object() : NULL,
		       *cl = json ? json_array() : NULL;
		json_t *inc = json ? json_array() : NULL;
		if (!json)
			vd_ctl_buf_printf(out, "%s: clients", vd_view_name(v));
		for (size_t k = 0; k < vd_view_nclients(v); k++) {
			cidr_text(vd_view_client(v, k), text, sizeof(text));
			if (json)
				json_array_append_new(cl, json_string(text));
			else
				vd_ctl_buf_printf(out, " %s", text);
		}
		if (!json) {
			vd_ctl_buf_printf(out, "%s; zones %zu",
					  vd_view_nclients(v) ? "" : " none",
					  vd_view_nzones(v));
			if (vd_view_nincludes(v) > 0)
				vd_ctl_buf_printf(out, "; includes");
		}
		for (size_t k = 0; k < vd_view_nincludes(v); k++) {
			const char *n = vd_view_name(vd_view_include(v, k));
			if (json)
				json_array_append_new(inc, json_string(n));
			else
				vd_ctl_buf_printf(out, " %s", n);
		}
		if (!json) {
			vd_ctl_buf_printf(out, "; explain %s\n",
					  vd_view_explain(v) ? "on" : "off");
			continue;
		}
		set_str(vj, "name", vd_view_name(v));
		json_object_set_new(vj, "clients", cl);
		set_u64(vj, "zones", vd_view_nzones(v));
		json_object_set_new(vj, "includes", inc);
		json_object_set_new(vj, "explain", json_boolean(vd_view_explain(v)));
		json_array_append_new(vs, vj);
	}
	if (json) {
		set_u64(o, "generation", snap->generation);
		json_object_set_new(o, "views", vs);
		put_json(out, o);
	}
}

/* ---- explain ------------------------------------------------------------ */

/* The TXT strings of each answer record, one line per record. */
static void explain_lines(const uint8_t *reply, size_t len, json_t *arr,
			  vd_ctl_buf_t *out)
{
	vd_rr_iter_t it;
	vd_rr_t *rr = malloc(sizeof(*rr));

	if (rr == NULL || vd_rr_iter_init(&it, reply, len, NULL, NULL, NULL) != 0) {
		free(rr);
		return;
	}
	while (vd_rr_iter_next(&it, rr) == 1 && rr->section == 1) {
		char line[65536];
		size_t n = 0;
		if (rr->type != VD_T_TXT)
			continue;
		for (size_t off = 0; off < rr->rdlen; off += 1 + rr->rdata[off]) {
			size_t sl = rr->rdata[off];
			if (off + 1 + sl > rr->rdlen)
				break;
			memcpy(line + n, rr->rdata + off + 1, sl);
			n += sl;
		}
		line[n] = '\0';
		if (arr != NULL)
			json_array_append_new(arr, json_stringn(line, n));
		else
			vd_ctl_buf_printf(out, "%s\n", line);
	}
	free(rr);
}

void vd_ctl_write_explain(vd_ctl_buf_t *out, const vd_ctl_req_t *req,
			  const vd_snap_t *snap, const uint8_t *reply, size_t len)
{
	const struct sockaddr *sa = (const struct sockaddr *)&req->client;
	int vi = vd_view_table_match(snap->view_table, sa);
	const vd_view_t *v = vi >= 0 ? snap->views[vi] : NULL;
	const char *type = vd_ctl_type_name(req->qtype ? req->qtype : VD_T_A);
	char addr[64], name[VD_NAME_TEXT];

	vd_addr_fmt(sa, addr, sizeof(addr));
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		/* No port: the view depends on the address alone. */
		char *colon = strrchr(addr, ':');
		if (colon != NULL)
			*colon = '\0';
	}
	vd_name_to_text(req->name, name, sizeof(name));
	/* What the client itself may see (the operator sees everything). */
	bool allowed = v != NULL && vd_view_explain_for(v, sa) != VD_EXPLAIN_REFUSED;
	if (req->json) {
		json_t *o = json_ok(), *lines = json_array();
		set_str(o, "client", addr);
		set_str(o, "view", v ? vd_view_name(v) : NULL);
		set_str(o, "name", name);
		set_str(o, "type", type);
		set_u64(o, "generation", snap->generation);
		json_object_set_new(o, "explain_enabled", json_boolean(allowed));
		explain_lines(reply, len, lines, NULL);
		json_object_set_new(o, "lines", lines);
		put_json(out, o);
		return;
	}
	vd_ctl_buf_printf(out, "ok\n");
	explain_lines(reply, len, NULL, out);
	if (v != NULL && !allowed)
		vd_ctl_buf_printf(
			out,
			"note: explain is off in view %s for this client; the "
			"client itself gets REFUSED for CH TXT questions\n",
			vd_view_name(v));
}
