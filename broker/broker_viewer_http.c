/* The viewer listener's request parser; see broker_viewer_http.h. */
#include "broker/broker_viewer_http.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* The value of key in the query string q (to the next '&' or the end) into
 * out; "" when absent or longer than len - 1. */
static void viewer_query(const char *q, const char *key, char *out, size_t len)
{
	size_t k = strlen(key);

	out[0] = '\0';
	for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (strncmp(p, key, k) == 0 && p[k] == '=') {
			const char *v = p + k + 1;
			size_t n = strcspn(v, "&");

			if (n < len) {
				memcpy(out, v, n);
				out[n] = '\0';
			}
			return;
		}
	}
}

static const char *viewer_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".js", "text/javascript; charset=utf-8"},
		{".html", "text/html; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".ico", "image/x-icon"},
		{".json", "application/json"},
		{".mp3", "audio/mpeg"},
		{".oga", "audio/ogg"},
	};
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

/* Whether a header line "Upgrade: websocket" is in the headers (after the
 * request line), as a whole line, the name and value in any case. */
static bool viewer_upgrade(const char *headers)
{
	for (const char *l = headers; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *v;
		size_t n;

		if (strncasecmp(l, "Upgrade:", 8) != 0)
			continue;
		v = l + 8;
		while (*v == ' ' || *v == '\t')
			v++;
		n = strcspn(v, "\r\n");
		while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n == 9 && strncasecmp(v, "websocket", 9) == 0)
			return true;
	}
	return false;
}

void broker_viewer_route(const char *head, struct viewer_request *r)
{
	const char *target, *end, *q, *id, *sub;
	char path[VIEWER_PATH_MAX + 8];
	size_t n, idlen;

	memset(r, 0, sizeof(*r));
	r->route = VIEWER_BAD;
	/* "GET TARGET HTTP/1.x" */
	if (strncmp(head, "GET ", 4) != 0)
		return;
	target = head + 4;
	n = strcspn(target, " \r\n");
	if (target[n] != ' ' || strncmp(target + n + 1, "HTTP/1.", 7) != 0 || n == 0)
		return;
	r->route = VIEWER_NOT_FOUND;
	if (n >= sizeof(path))
		return;
	memcpy(path, target, n);
	path[n] = '\0';
	q = strchr(path, '?');
	end = q ? q : path + n;
	if (strncmp(path, "/novnc/", 7) == 0) {
		const char *rel = path + 7;
		size_t len = (size_t)(end - rel);

		if (q || len == 0 || len > VIEWER_PATH_MAX || rel[0] == '/')
			return;
		for (size_t i = 0; i < len; i++)
			if (!isalnum((unsigned char)rel[i]) && !strchr("._-/", rel[i]))
				return;
		memcpy(r->path, rel, len);
		r->path[len] = '\0';
		if (strstr(r->path, "..") || !(r->type = viewer_type(r->path))) {
			r->path[0] = '\0';
			return;
		}
		r->route = VIEWER_STATIC;
		return;
	}
	if (strncmp(path, "/vm/", 4) != 0)
		return;
	id = path + 4;
	sub = memchr(id, '/', (size_t)(end - id));
	if (!sub)
		return;
	idlen = (size_t)(sub - id);
	if (idlen == 0 || idlen > VIEWER_ID_MAX)
		return;
	for (size_t i = 0; i < idlen; i++)
		if (!isxdigit((unsigned char)id[i]) && id[i] != '-')
			return;
	if ((size_t)(end - sub) == 7 && strncmp(sub, "/viewer", 7) == 0) {
		r->route = VIEWER_PAGE;
	} else if ((size_t)(end - sub) == 11 && strncmp(sub, "/websockify", 11) == 0) {
		r->route =
			viewer_upgrade(strchr(head, '\n')) ? VIEWER_WEBSOCKET : VIEWER_NO_UPGRADE;
	} else {
		return;
	}
	memcpy(r->vm_id, id, idlen);
	r->vm_id[idlen] = '\0';
	if (q)
		viewer_query(q + 1, "token", r->token, sizeof(r->token));
}
