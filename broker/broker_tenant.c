/* Tenants of cellvm-broker: the configuration file that maps client uids and
 * gids to tenants, their quotas and image directories. Runs in the broker. The
 * file is the operator's (trusted, but checked strictly so a typo is an error
 * at start, not a silent default); peer credentials come from the kernel. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "broker/broker.h"
#include "common/parse.h"

#define TENANT_DEFAULT_VMS    16
#define TENANT_DEFAULT_CPUS   64
#define TENANT_DEFAULT_MEMORY (64ULL << 30)

static char *broker_tenant_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int broker_tenant_add(struct tenants *ts, const char *name, bool admin)
{
	struct tenant *t;

	if (ts->n == BROKER_TENANT_MAX)
		return -E2BIG;
	t = &ts->t[ts->n];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->admin = admin;
	t->quota.max_vms = admin ? BROKER_MAX_VMS : TENANT_DEFAULT_VMS;
	t->quota.max_cpus = admin ? UINT32_MAX : TENANT_DEFAULT_CPUS;
	t->quota.max_memory = admin ? UINT64_MAX : TENANT_DEFAULT_MEMORY;
	return (int)ts->n++;
}

static int broker_tenant_name_ok(const char *n)
{
	if (!*n || strlen(n) >= BROKER_TENANT_NAME)
		return 0;
	for (; *n; n++)
		if (!isalnum((unsigned char)*n) && *n != '-' && *n != '_')
			return 0;
	return 1;
}

static int broker_tenant_map_add(struct tenants *ts, int tenant, const char *val, bool by_gid)
{
	struct tenant *t = &ts->t[tenant];
	uint32_t id;

	if (ts->nmap == sizeof(ts->map) / sizeof(ts->map[0]) ||
	    (by_gid ? t->ngids : t->nuids) == BROKER_TENANT_IDS)
		return -E2BIG;
	if (parse_u32(val, 0, UINT32_MAX - 1, &id) < 0)
		return -EINVAL;
	/* Whose access the broker grants on the tenant's behalf (broker_vmdef.c). */
	if (by_gid)
		t->gids[t->ngids++] = (gid_t)id;
	else
		t->uids[t->nuids++] = (uid_t)id;
	ts->map[ts->nmap++] = (struct tenant_map){
		.uid = (uid_t)id, .gid = (gid_t)id, .by_gid = by_gid, .tenant = tenant};
	return 0;
}

/* One entry of a taps list: a tap name, or a name prefix ending in '*'. */
static bool broker_tenant_tap_pattern_ok(const char *p, size_t len)
{
	size_t n = len && p[len - 1] == '*' ? len - 1 : len;

	if (n == 0 || n >= IFNAMSIZ)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && !strchr("-_.", p[i]))
			return false;
	return true;
}

/* Calls fn on each entry of a taps list (blank- or comma-separated); stops
 * at the first that returns true and says so. */
static bool broker_tenant_taps_any(const char *list,
				   bool (*fn)(const char *p, size_t len, void *arg), void *arg)
{
	const char *sep = " \t,";

	for (const char *p = list + strspn(list, sep); *p; p += strspn(p, sep)) {
		size_t len = strcspn(p, sep);
		if (fn(p, len, arg))
			return true;
		p += len;
	}
	return false;
}

static bool broker_tenant_tap_bad(const char *p, size_t len, void *arg)
{
	(void)arg;
	return !broker_tenant_tap_pattern_ok(p, len);
}

/* Whether two entries can name the same tap. */
static bool broker_tenant_taps_meet(const char *a, size_t alen, const char *b, size_t blen)
{
	bool ap = a[alen - 1] == '*', bp = b[blen - 1] == '*';

	alen -= ap;
	blen -= bp;
	if (ap && bp)
		return strncmp(a, b, alen < blen ? alen : blen) == 0;
	if (ap)
		return blen >= alen && strncmp(a, b, alen) == 0;
	if (bp)
		return alen >= blen && strncmp(a, b, blen) == 0;
	return alen == blen && strncmp(a, b, alen) == 0;
}

struct tenant_tap_arg {
	const char *p; /* an entry, or a tap name */
	size_t len;
	const char *list; /* the other tenant's list */
};

static bool broker_tenant_tap_meets_entry(const char *p, size_t len, void *arg)
{
	struct tenant_tap_arg *a = arg;

	return broker_tenant_taps_meet(a->p, a->len, p, len);
}

static bool broker_tenant_tap_meets_list(const char *p, size_t len, void *arg)
{
	struct tenant_tap_arg a = {.p = p, .len = len};

	return broker_tenant_taps_any(arg, broker_tenant_tap_meets_entry, &a);
}

bool broker_tenant_tap_allowed(const struct tenant *t, const char *name)
{
	struct tenant_tap_arg a = {.p = name, .len = strlen(name)};

	if (t->admin)
		return true;
	return a.len && broker_tenant_taps_any(t->taps, broker_tenant_tap_meets_entry, &a);
}

/* Tenants may not share a tap (one could read the other's traffic). */
static int broker_tenant_taps_disjoint(const struct tenants *ts, char *err, size_t errlen)
{
	for (size_t i = 0; i < ts->n; i++)
		for (size_t k = i + 1; k < ts->n; k++)
			if (broker_tenant_taps_any(ts->t[i].taps, broker_tenant_tap_meets_list,
						   (void *)ts->t[k].taps)) {
				snprintf(err, errlen, "tenants %s and %s: their taps overlap",
					 ts->t[i].name, ts->t[k].name);
				return -EINVAL;
			}
	return 0;
}

/* An image directory as it is compared: absolute, one '/' between
 * components, no "." or "..", ending in '/' (so /srv/a never admits
 * /srv/ab/x, and two tenants' directories are compared component-wise). */
static int broker_tenant_image_dir(struct tenant *t, const char *val)
{
	char out[sizeof(t->image_dir)];
	size_t n = 0;

	if (val[0] != '/')
		return -EINVAL;
	for (const char *p = val; *p;) {
		size_t len;

		p += strspn(p, "/");
		len = strcspn(p, "/");
		if (!len)
			break;
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		if (n + 1 + len + 1 >= sizeof(out))
			return -EINVAL;
		out[n++] = '/';
		memcpy(out + n, p, len);
		n += len;
		p += len;
	}
	out[n++] = '/';
	out[n] = 0;
	memcpy(t->image_dir, out, n + 1);
	return 0;
}

/* Whether directory a (a normalised image_dir, or a resolved path with a
 * trailing '/') is b or lies below it. */
static bool broker_tenant_dir_within(const char *a, const char *b)
{
	return strncmp(a, b, strlen(b)) == 0;
}

/* The directory as it resolves now (symlinks followed), with a trailing '/';
 * false when it does not resolve (it does not exist yet). */
static bool broker_tenant_dir_real(const char *dir, char *out, size_t len)
{
	char real[PATH_MAX];

	if (!realpath(dir, real) || strlen(real) + 2 > len)
		return false;
	snprintf(out, len, "%s%s", real, strcmp(real, "/") == 0 ? "" : "/");
	return true;
}

/* No tenant's image directory may be another's, or lie below it ('/' is above
 * every one): a tenant's files would be another's. Compared as written and, where
 * they exist, as they resolve. */
static int broker_tenant_dirs_disjoint(const struct tenants *ts, char *err, size_t errlen)
{
	char ri[PATH_MAX + 1], rk[PATH_MAX + 1];

	for (size_t i = 0; i < ts->n; i++)
		for (size_t k = 0; k < ts->n; k++) {
			const struct tenant *a = &ts->t[i], *b = &ts->t[k];
			bool meet;

			if (k <= i || !a->image_dir[0] || !b->image_dir[0])
				continue;
			meet = broker_tenant_dir_within(a->image_dir, b->image_dir) ||
			       broker_tenant_dir_within(b->image_dir, a->image_dir);
			if (!meet && broker_tenant_dir_real(a->image_dir, ri, sizeof(ri)) &&
			    broker_tenant_dir_real(b->image_dir, rk, sizeof(rk)))
				meet = broker_tenant_dir_within(ri, rk) ||
				       broker_tenant_dir_within(rk, ri);
			if (meet) {
				snprintf(err, errlen,
					 "tenants %s and %s: their image directories overlap (%s "
					 "and %s): one is the other or lies below it",
					 a->name, b->name, a->image_dir, b->image_dir);
				return -EINVAL;
			}
		}
	return 0;
}

static int broker_tenant_set(struct tenants *ts, int cur, const char *key, const char *val)
{
	struct tenant *t = &ts->t[cur];
	uint64_t size;
	uint32_t n;

	if (strcmp(key, "uid") == 0)
		return broker_tenant_map_add(ts, cur, val, false);
	if (strcmp(key, "gid") == 0)
		return broker_tenant_map_add(ts, cur, val, true);
	if (strcmp(key, "max_vms") == 0) {
		if (parse_u32(val, 0, BROKER_MAX_VMS, &n) < 0)
			return -EINVAL;
		t->quota.max_vms = n;
	} else if (strcmp(key, "max_cpus") == 0) {
		if (parse_u32(val, 0, UINT32_MAX - 1, &n) < 0)
			return -EINVAL;
		t->quota.max_cpus = n;
	} else if (strcmp(key, "max_memory") == 0) {
		if (parse_size(val, &size) < 0)
			return -EINVAL;
		t->quota.max_memory = size;
	} else if (strcmp(key, "image_dir") == 0) {
		return broker_tenant_image_dir(t, val);
	} else if (strcmp(key, "taps") == 0) {
		if (strlen(val) >= sizeof(t->taps) ||
		    broker_tenant_taps_any(val, broker_tenant_tap_bad, NULL))
			return -EINVAL;
		snprintf(t->taps, sizeof(t->taps), "%s", val);
	} else {
		return -ENOENT;
	}
	return 0;
}

int broker_tenant_config_load(struct tenants *ts, const char *path, char *err, size_t errlen)
{
	char line[512];
	int cur = -1, lineno = 0, r = 0;
	FILE *f;

	memset(ts, 0, sizeof(*ts));
	broker_host_config_defaults(&ts->host);
	ts->admin = broker_tenant_add(ts, "root", true);
	ts->map[ts->nmap++] = (struct tenant_map){.uid = 0, .tenant = ts->admin};
	if (!path)
		return 0;
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0; /* only root can use the broker then */
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = broker_tenant_trim(line), *eq;

		lineno++;
		if (!*s || *s == '#')
			continue;
		if (strncmp(s, "[tenant ", 8) == 0 && s[strlen(s) - 1] == ']') {
			s[strlen(s) - 1] = 0;
			s = broker_tenant_trim(s + 8);
			if (!broker_tenant_name_ok(s) || broker_tenant_by_name(ts, s)) {
				snprintf(err, errlen, "%s:%d: bad or repeated tenant name", path,
					 lineno);
				r = -EINVAL;
				break;
			}
			cur = broker_tenant_add(ts, s, false);
			if (cur < 0) {
				snprintf(err, errlen, "%s:%d: too many tenants", path, lineno);
				r = cur;
				break;
			}
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected [tenant NAME] or key = value", path,
				 lineno);
			r = -EINVAL;
			break;
		}
		*eq = 0;
		/* Before the first [tenant]: the broker's own keys (broker_host.c). */
		if (cur < 0)
			r = broker_host_config_set(&ts->host, broker_tenant_trim(s),
						   broker_tenant_trim(eq + 1));
		else
			r = broker_tenant_set(ts, cur, broker_tenant_trim(s),
					      broker_tenant_trim(eq + 1));
		if (r < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno,
				 r == -ENOENT  ? "unknown key"
				 : r == -E2BIG ? "too many uid or gid lines"
					       : "bad value");
			break;
		}
	}
	fclose(f);
	if (r == 0)
		r = broker_tenant_taps_disjoint(ts, err, errlen);
	if (r == 0)
		r = broker_tenant_dirs_disjoint(ts, err, errlen);
	return r;
}

struct tenant *broker_tenant_for_peer(struct tenants *ts, uid_t uid, gid_t gid, const gid_t *groups,
				      size_t ngroups)
{
	/* A uid entry wins over a gid entry; root is always the administrator. */
	for (size_t i = 0; i < ts->nmap; i++)
		if (!ts->map[i].by_gid && ts->map[i].uid == uid)
			return &ts->t[ts->map[i].tenant];
	/* Then the primary group, then the supplementary groups, in the order
	 * of the configuration file. */
	for (size_t i = 0; i < ts->nmap; i++)
		if (ts->map[i].by_gid && ts->map[i].gid == gid)
			return &ts->t[ts->map[i].tenant];
	for (size_t i = 0; i < ts->nmap; i++)
		for (size_t k = 0; ts->map[i].by_gid && k < ngroups; k++)
			if (ts->map[i].gid == groups[k])
				return &ts->t[ts->map[i].tenant];
	return NULL;
}

struct tenant *broker_tenant_for_socket(struct tenants *ts, int fd, uid_t *ret_uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t small[64], *groups = small;
	socklen_t glen = sizeof(small);
	struct tenant *t;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return NULL;
	*ret_uid = cred.uid;
	/* Supplementary groups as they were at connect (SO_PEERGROUPS). */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) < 0) {
		groups = errno == ERANGE ? malloc(glen) : NULL;
		if (!groups || getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) < 0)
			glen = 0;
	}
	t = broker_tenant_for_peer(ts, cred.uid, cred.gid, groups,
				   groups ? glen / sizeof(gid_t) : 0);
	if (groups != small)
		free(groups);
	return t;
}

struct tenant *broker_tenant_by_name(struct tenants *ts, const char *name)
{
	for (size_t i = 0; i < ts->n; i++)
		if (strcmp(ts->t[i].name, name) == 0)
			return &ts->t[i];
	return NULL;
}
