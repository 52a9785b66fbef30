/*
 * The "http" section: the addresses of the listener for /metrics,
 * /health and /ready, its bounds (connections, timeout) and whether the
 * request and response families carry a per-view label. Also read on its
 * own (vd_conf_read_http) before the first full load, so the listener is
 * up, answering /ready with 503, while a large configuration loads.
 */
#include "conf_int.h"

#include <errno.h>
#include <string.h>

#define HTTP_DEFAULT_PORT 9153

static const char *const http_keys[] = {
	"listen", "per_view_metrics", "max_connections", "timeout", NULL,
};

static void http_defaults(vd_http_conf_t *h)
{
	memset(h, 0, sizeof(*h));
	h->per_view_metrics = true;
	h->max_connections = 16;
	h->timeout_ms = 10000;
}

static void http_listen(cbuild_t *b, const yn_pair_t *p, vd_http_conf_t *h)
{
	const ynode_t *list = p->val;

	if (!vd_conf_is_string_list(list)) {
		vd_conf_err(b, p->key->line, "http.listen must be a list of strings");
		return;
	}
	if (list->n > VD_HTTP_LISTEN_MAX) {
		vd_conf_err(b, p->key->line, "http.listen: at most %d addresses",
			    VD_HTTP_LISTEN_MAX);
		return;
	}
	for (size_t i = 0; i < list->n; i++) {
		const ynode_t *item = list->items[i];
		struct sockaddr_storage *ss = &h->listen[h->nlisten];

		if (vd_addr_parse(item->str, HTTP_DEFAULT_PORT, ss) < 0) {
			vd_conf_err(b, item->line, "http.listen: bad address '%s'",
				    item->str);
			continue;
		}
		for (size_t j = 0; j < h->nlisten; j++) {
			if (vd_addr_equal((struct sockaddr *)ss,
					  (struct sockaddr *)&h->listen[j])) {
				vd_conf_err(b, item->line,
					    "http.listen: duplicate address '%s'",
					    item->str);
				return;
			}
		}
		h->nlisten++;
	}
}

static void http_pair(cbuild_t *b, const yn_pair_t *p, vd_http_conf_t *h)
{
	const char *k = p->key->str;

	if (strcmp(k, "listen") == 0) {
		http_listen(b, p, h);
	} else if (strcmp(k, "per_view_metrics") == 0) {
		vd_conf_bool(b, p, "http.per_view_metrics", &h->per_view_metrics);
	} else if (strcmp(k, "max_connections") == 0) {
		if (vd_conf_uint(b, p, "http.max_connections", &h->max_connections) ==
			    0 &&
		    (h->max_connections == 0 || h->max_connections > 1024))
			vd_conf_err(b, p->val->line,
				    "http.max_connections must be 1 to 1024");
	} else if (strcmp(k, "timeout") == 0) {
		if (vd_conf_duration(b, p, "http.timeout", &h->timeout_ms) == 0 &&
		    (h->timeout_ms < 1000 || h->timeout_ms > 600000))
			vd_conf_err(b, p->val->line, "http.timeout must be 1s to 10m");
	}
}

/* Fills h from root's "http" section (defaults when there is none). */
static void build_http(cbuild_t *b, const ynode_t *root, vd_http_conf_t *h)
{
	const yn_pair_t *hp = NULL;
	const ynode_t *s;

	http_defaults(h);
	s = vd_conf_yaml_get(root, "http", &hp);
	if (!s || s->null)
		return;
	if (s->kind != YN_MAP) {
		vd_conf_err(b, hp->key->line, "http must be a map");
		return;
	}
	vd_conf_check_keys(b, s, http_keys, "http");
	for (size_t i = 0; i < s->n; i++)
		http_pair(b, &s->pairs[i], h);
}

void vd_conf_build_http(cbuild_t *b, const ynode_t *root)
{
	build_http(b, root, &b->snap->http);
}

int vd_conf_read_http(const char *path, vd_http_conf_t *out, vd_errlist_t *errs)
{
	vd_errlist_t local;
	const ynode_t *root = NULL;
	vd_arena_t tree;
	cbuild_t b;
	int r;

	if (!path || !out)
		return -EINVAL;
	http_defaults(out);
	vd_errlist_init(&local);
	memset(&b, 0, sizeof(b));
	b.file = path;
	b.errs = errs ? errs : &local;
	vd_arena_init(&tree, 0);
	r = vd_conf_yaml_read(path, path, &tree, &root, b.errs);
	if (r == 0 && root && root->kind == YN_MAP)
		build_http(&b, root, out);
	vd_arena_deinit(&tree);
	vd_errlist_deinit(&local);
	if (r < 0 && r != VD_ECONF)
		return r;
	if (b.nomem)
		return -ENOMEM;
	if (r != 0 || b.nerr)
		return VD_ECONF;
	return 0;
}
