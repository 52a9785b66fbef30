/*
 * The request line: words split on spaces and tabs, --json anywhere,
 * --client ADDRESS for the commands that take it, then the command's
 * positional arguments checked against its entry in one table. Pure: it
 * reads the line and writes the request, so the server and vpcdnsctl
 * share it and the fuzzer can drive it.
 */
#include "vpcdns/ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vpcdns/util.h"

#define MAX_WORDS 8

static const struct cmd {
	const char *name;
	vd_ctl_cmd_t cmd;
	unsigned min, max; /* positional arguments */
	bool client;	   /* --client ADDRESS required */
	const char *usage;
} cmds[] = {
	{ "reload", VD_CTL_RELOAD, 0, 0, false, "reload" },
	{ "status", VD_CTL_STATUS, 0, 0, false, "status" },
	{ "stats", VD_CTL_STATS, 0, 0, false, "stats" },
	{ "flush", VD_CTL_FLUSH, 1, 1, false, "flush NAME" },
	{ "flush-all", VD_CTL_FLUSH_ALL, 0, 0, false, "flush-all" },
	{ "views", VD_CTL_VIEWS, 0, 0, false, "views" },
	{ "explain", VD_CTL_EXPLAIN, 1, 2, true,
	  "explain NAME [TYPE] --client ADDRESS" },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* The types an explain question can name with a "_<type>" label (the
 * same list as query/explain.c). */
static const struct {
	const char *name;
	uint16_t type;
} types[] = {
	{ "A", VD_T_A },     { "NS", VD_T_NS },	    { "CNAME", VD_T_CNAME },
	{ "SOA", VD_T_SOA }, { "PTR", VD_T_PTR },   { "MX", VD_T_MX },
	{ "TXT", VD_T_TXT }, { "AAAA", VD_T_AAAA }, { "SRV", VD_T_SRV },
	{ "SVCB", 64 },	     { "HTTPS", 65 },	    { "CAA", 257 },
	{ "ANY", VD_T_ANY },
};

const char *vd_ctl_cmd_name(vd_ctl_cmd_t cmd)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (cmds[i].cmd == cmd)
			return cmds[i].name;
	return NULL;
}

const char *vd_ctl_usage(void)
{
	static char text[512];
	size_t off = 0;

	if (text[0] != '\0')
		return text;
	for (size_t i = 0; i < NCMDS && off < sizeof(text); i++) {
		int n = snprintf(text + off, sizeof(text) - off, "  %s\n",
				 cmds[i].usage);
		if (n > 0)
			off += (size_t)n;
	}
	return text;
}

const char *vd_ctl_type_name(uint16_t type)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == type)
			return types[i].name;
	return NULL;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Splits buf (NUL-terminated, modified) into words. */
static int split(char *buf, char **words, unsigned *n, char *err, size_t errlen)
{
	char *save = NULL, *w;

	*n = 0;
	for (w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (*n == MAX_WORDS)
			return fail(err, errlen, "too many words (at most %d)",
				    MAX_WORDS);
		words[(*n)++] = w;
	}
	return 0;
}

static int parse_name(const char *text, vd_ctl_req_t *req, char *err, size_t errlen)
{
	size_t len;

	if (strlen(text) >= sizeof(req->name_text) ||
	    vd_name_from_text(text, req->name, &len) != 0)
		return fail(err, errlen, "bad name '%.80s'", text);
	snprintf(req->name_text, sizeof(req->name_text), "%s", text);
	vd_name_lower(req->name_lc, req->name);
	memcpy(req->qname, req->name, len);
	return 0;
}

/* explain NAME TYPE: the question is "_<type>.<name>". */
static int parse_type(const char *text, vd_ctl_req_t *req, char *err, size_t errlen)
{
	size_t i, nlen = vd_name_len(req->name), tlen;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(text, types[i].name) == 0)
			break;
	if (i == sizeof(types) / sizeof(types[0]))
		return fail(err, errlen,
			    "unknown type '%.20s' (explain knows A, AAAA, CNAME, NS, "
			    "SOA, PTR, MX, TXT, SRV, SVCB, HTTPS, CAA, ANY)",
			    text);
	tlen = strlen(types[i].name);
	if (nlen + tlen + 2 > VD_NAME_MAX)
		return fail(err, errlen, "name too long to ask about type %s",
			    types[i].name);
	req->qtype = types[i].type;
	req->qname[0] = (uint8_t)(tlen + 1);
	req->qname[1] = '_';
	memcpy(req->qname + 2, types[i].name, tlen);
	memcpy(req->qname + 2 + tlen, req->name, nlen);
	return 0;
}

static int parse_words(char **words, unsigned n, vd_ctl_req_t *req, char *err,
		       size_t errlen)
{
	const char *pos[MAX_WORDS], *client = NULL;
	unsigned npos = 0;
	const struct cmd *c = NULL;

	for (unsigned i = 0; i < n; i++) {
		if (strcmp(words[i], "--json") == 0) {
			req->json = true;
		} else if (strcmp(words[i], "--client") == 0) {
			if (i + 1 == n)
				return fail(err, errlen, "--client needs an address");
			client = words[++i];
		} else if (words[i][0] == '-' && words[i][1] == '-') {
			return fail(err, errlen, "unknown option '%.40s'", words[i]);
		} else {
			pos[npos++] = words[i];
		}
	}
	if (npos == 0)
		return fail(err, errlen,
			    "no command (one of: reload, status, stats, "
			    "flush, flush-all, views, explain)");
	for (size_t i = 0; i < NCMDS && c == NULL; i++)
		if (strcmp(pos[0], cmds[i].name) == 0)
			c = &cmds[i];
	if (c == NULL)
		return fail(err, errlen,
			    "unknown command '%.40s' (one of: reload, status, stats, "
			    "flush, flush-all, views, explain)",
			    pos[0]);
	req->cmd = c->cmd;
	if (npos - 1 < c->min || npos - 1 > c->max)
		return fail(err, errlen, "usage: %s", c->usage);
	if (client != NULL && !c->client)
		return fail(err, errlen, "%s takes no --client", c->name);
	if (client == NULL && c->client)
		return fail(err, errlen, "usage: %s", c->usage);
	if (client != NULL && vd_addr_parse(client, 0, &req->client) != 0)
		return fail(err, errlen, "bad address '%.60s'", client);
	if (npos > 1 && parse_name(pos[1], req, err, errlen) != 0)
		return -EINVAL;
	if (npos > 2 && parse_type(pos[2], req, err, errlen) != 0)
		return -EINVAL;
	return 0;
}

int vd_ctl_parse(const char *line, size_t len, vd_ctl_req_t *req, char *err,
		 size_t errlen)
{
	char buf[VD_CTL_REQUEST_MAX + 1];
	char *words[MAX_WORDS];
	unsigned n;

	memset(req, 0, sizeof(*req));
	if (errlen > 0)
		err[0] = '\0';
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len + 1 > VD_CTL_REQUEST_MAX)
		return fail(err, errlen, "request longer than %d bytes",
			    VD_CTL_REQUEST_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];
		if ((ch < 0x20 && ch != '\t') || ch > 0x7e)
			return fail(err, errlen,
				    "request holds a byte that is not printable "
				    "ASCII (0x%02x at %zu)",
				    ch, i);
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	if (split(buf, words, &n, err, errlen) != 0)
		return -EINVAL;
	return parse_words(words, n, req, err, errlen);
}
