/* cellvm-broker: the host service. Parses its options, loads the tenant
 * configuration and the state directory, opens its API socket (or takes it
 * from systemd), then runs one libevent loop until SIGTERM or PUT
 * /vmm.shutdown. The only privileged cellvm process; see docs/broker.md. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/fdutil.h"
#include "common/log.h"
#include "common/parse.h"

struct broker_main_opts {
	const char *api_socket, *rpc_socket, *state_dir, *config;
	const char *viewer_listen, *vnc_listen, *novnc_dir; /* NULL: off */
	/* Detaching moves to "/": every path made absolute first. */
	char api_abs[PATH_MAX], rpc_abs[PATH_MAX], state_abs[PATH_MAX], config_abs[PATH_MAX];
	bool foreground, restore, keep, cgroup_holder;
	/* Started by an upgrade whose old image had made the API sockets
	 * itself: they are ours to remove at exit, though they were passed. */
	bool reexec_own;
	uint32_t client_timeout, idle_timeout, max_conns_per_uid;
};

static void broker_main_usage(FILE *f)
{
	fprintf(f,
		"usage: cellvm-broker [--api-socket PATH] [--rpc-socket PATH] [--state-dir DIR]\n"
		"                     [--config FILE] [--foreground] [--client-timeout SECS]\n"
		"                     [--idle-timeout SECS] [--max-conns-per-uid N]\n"
		"  --api-socket PATH   REST/JSON socket (default %s)\n"
		"  --rpc-socket PATH   protobuf RPC socket (default %s)\n"
		"  --state-dir DIR     VM definitions (default %s)\n"
		"  --config FILE       tenants and quotas (default %s)\n"
		"  --foreground        do not detach (implied under systemd)\n"
		"  --client-timeout S  seconds a client may take to send a request whole,\n"
		"                      and per read and write (default 10)\n"
		"  --idle-timeout S    seconds an RPC connection may stay idle (default 60)\n"
		"  --max-conns-per-uid N  open API connections per uid, REST and RPC\n"
		"                      together; uid 0 is not limited (default 64)\n"
		"  --on-exit stop|restore|keep  running VMs are powered off at exit; restore\n"
		"                      boots them again at the next start; keep leaves them\n"
		"                      running for the next broker to adopt (default stop)\n"
		"  --viewer-listen ADDRESS:PORT|off  where browsers reach the noVNC viewer\n"
		"                      with console tokens (default %s; port 0: any)\n"
		"  --vnc-listen ADDRESS:PORT|off  where VNC clients connect with a console\n"
		"                      token's password (default %s)\n"
		"  --novnc-dir DIR     noVNC's files for the browser viewer (default %s)\n"
		"  --cgroup-holder     run as cellvm-vms.service: hold that unit's delegated\n"
		"                      cgroup for the VMs, and nothing else\n",
		BROKER_DEFAULT_API_SOCKET, BROKER_DEFAULT_RPC_SOCKET, BROKER_DEFAULT_STATE_DIR,
		BROKER_DEFAULT_CONFIG, BROKER_VIEWER_DEFAULT, BROKER_VNC_DEFAULT, BROKER_NOVNC_DIR);
}

/* broker.request_shutdown: SIGTERM, SIGINT, or an administrator's request. */
static void broker_main_shutdown(struct broker *b)
{
	if (b->shutting_down)
		return;
	if (b->upgrading) {
		/* A stop asked during an upgrade's drain wins: no new image. */
		log_info("shutting down during an upgrade: not upgrading");
		b->upgrading = false;
	}
	log_info("shutting down: running VMs are powered off");
	b->shutting_down = true;
	if (b->have_systemd)
		sd_notify(0, "STOPPING=1\nSTATUS=Stopping: powering off the VMs");
	event_base_loopexit(b->base, NULL);
}

/* The API sockets kept for the new image at an upgrade (-1: none). */
struct broker_main_handover {
	int api, rpc;
	bool own; /* we made them (not systemd): the new image removes them at exit */
};

/* What a re-exec needs, saved at start: the binary's path as installed (an
 * upgrade of the package replaces the file there; /proc/self/exe would then
 * name the old, deleted one) and our arguments. */
static char broker_main_exe[PATH_MAX];
static char **broker_main_argv;

/* An upgrade's drain: how long a connection accepted just before it has to
 * send its request, and the bound on the whole drain. */
#define BROKER_MAIN_DRAIN_MIN_MS 100
#define BROKER_MAIN_DRAIN_MAX_MS 10000

static struct event *broker_main_drain; /* the drain's timer, while it runs */

static void broker_main_on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct broker *b = arg;
	uint64_t ms = (broker_now_us() - b->upgrade_us) / 1000;

	if (ms < BROKER_MAIN_DRAIN_MIN_MS ||
	    ((broker_api_rest_busy(b) || rpc_busy(b)) && ms < BROKER_MAIN_DRAIN_MAX_MS))
		return;
	if (ms >= BROKER_MAIN_DRAIN_MAX_MS)
		log_warn("upgrade: requests still in flight after %d ms: their connections close",
			 BROKER_MAIN_DRAIN_MAX_MS);
	log_info("upgrading: re-executing %s in place; the VMs stay for it", broker_main_exe);
	b->shutting_down = true;
	event_base_loopexit(b->base, NULL);
}

/* broker.request_upgrade: accept no more (clients wait in the backlog),
 * answer what was accepted (the drain), then the loop ends as for a
 * shutdown, but the VMs stay for the new image, which main() then executes
 * in our place. */
static void broker_main_upgrade(struct broker *b)
{
	if (b->shutting_down || b->upgrading)
		return;
	if (!broker_main_exe[0]) {
		log_err("upgrade: the broker's own binary is unknown: not upgrading");
		return;
	}
	b->upgrading = true;
	b->upgrade_us = broker_now_us();
	if (b->have_systemd)
		sd_notify(0, "RELOADING=1\nSTATUS=Upgrading: re-executing the broker");
	broker_api_rest_quiesce(b);
	rpc_quiesce(b);
	broker_main_drain = event_new(b->base, -1, EV_PERSIST, broker_main_on_drain, b);
	if (!broker_main_drain ||
	    event_add(broker_main_drain, &(struct timeval){.tv_usec = 10000}) < 0) {
		log_err("upgrade: no drain timer: the connections accepted close");
		b->shutting_down = true;
		event_base_loopexit(b->base, NULL);
	}
}

/* The new image in our place (the same pid): the API sockets as systemd
 * would pass them (LISTEN_FDS, LISTEN_PID is still ours, names api and
 * rpc), every other fd closed by exec (all are close-on-exec). Returns only
 * when the exec failed. */
static void broker_main_reexec(const struct broker_main_handover *ho)
{
	char pid[24];

	if (dup2(ho->api, SD_LISTEN_FDS_START) < 0 || dup2(ho->rpc, SD_LISTEN_FDS_START + 1) < 0) {
		log_err("upgrade: %s", strerror(errno));
		return;
	}
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (setenv("LISTEN_PID", pid, 1) < 0 || setenv("LISTEN_FDS", "2", 1) < 0 ||
	    setenv("LISTEN_FDNAMES", "api:rpc", 1) < 0 ||
	    setenv("CELLVM_BROKER_REEXEC", ho->own ? "own" : "passed", 1) < 0) {
		log_err("upgrade: %s", strerror(errno));
		return;
	}
	execv(broker_main_exe, broker_main_argv);
	log_err("upgrade: cannot execute %s: %s", broker_main_exe, strerror(errno));
}

static void broker_main_on_signal(evutil_socket_t sig, short what, void *arg)
{
	broker_main_shutdown(arg);
}

static void broker_main_on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct broker *b = arg;
	char status[96];

	/* Sent from the loop itself: a stuck loop stops the pings and systemd
	 * restarts us. */
	snprintf(status, sizeof(status), "WATCHDOG=1\nSTATUS=Serving %zu VMs", b->nvms);
	sd_notify(0, status);
}

/* Create and listen on a unix socket of type at path, replacing a stale one. */
static int broker_main_listen(const char *path, int type, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)], *slash;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a unix socket", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		/* Clients of every tenant connect: the directory is searchable. */
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			r = -errno;
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			return r;
		}
	}
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	/* A socket file left by a broker that died: nobody listens on it. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		snprintf(err, errlen, "%s: another broker is listening there", path);
		return -EADDRINUSE;
	}
	unlink(path);
	/* Access is decided per peer by SO_PEERCRED and the tenant map, so any
	 * local user may connect. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0666) < 0 ||
	    listen(fd, 128) < 0)
		goto fail;
	return fd;
fail:
	r = -errno;
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return r;
}

/* Socket activation: the REST socket (a stream socket named "api", or the
 * first stream socket) and the RPC socket (a seqpacket socket) from systemd.
 * Each is -ENOENT when systemd did not pass it; other fds are closed. */
static void broker_main_systemd_sockets(int *ret_api, int *ret_rpc)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);

	*ret_api = *ret_rpc = -ENOENT;
	for (int i = 0; i < n; i++) {
		int cand = SD_LISTEN_FDS_START + i;
		if (*ret_api < 0 && sd_is_socket_unix(cand, SOCK_STREAM, 1, NULL, 0) > 0 &&
		    (!names || strcmp(names[i], "rpc") != 0))
			*ret_api = cand;
		else if (*ret_rpc < 0 && sd_is_socket_unix(cand, SOCK_SEQPACKET, 1, NULL, 0) > 0)
			*ret_rpc = cand;
		else
			close(cand);
	}
	for (int i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

static int broker_main_abs_path(const char *p, char *out)
{
	char cwd[PATH_MAX];

	if (p[0] == '/')
		return snprintf(out, PATH_MAX, "%s", p) < PATH_MAX ? 0 : -ENAMETOOLONG;
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	return snprintf(out, PATH_MAX, "%s/%s", cwd, p) < PATH_MAX ? 0 : -ENAMETOOLONG;
}

static int broker_main_parse(int argc, char **argv, struct broker_main_opts *o)
{
	static const struct option opts[] = {
		{"api-socket", required_argument, NULL, 'a'},
		{"rpc-socket", required_argument, NULL, 'r'},
		{"state-dir", required_argument, NULL, 's'},
		{"config", required_argument, NULL, 'c'},
		{"foreground", no_argument, NULL, 'f'},
		{"client-timeout", required_argument, NULL, 't'},
		{"idle-timeout", required_argument, NULL, 'i'},
		{"max-conns-per-uid", required_argument, NULL, 'm'},
		{"on-exit", required_argument, NULL, 'o'},
		{"viewer-listen", required_argument, NULL, 'v'},
		{"vnc-listen", required_argument, NULL, 'V'},
		{"novnc-dir", required_argument, NULL, 'n'},
		{"cgroup-holder", no_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct broker_main_opts){.api_socket = BROKER_DEFAULT_API_SOCKET,
				       .rpc_socket = BROKER_DEFAULT_RPC_SOCKET,
				       .state_dir = BROKER_DEFAULT_STATE_DIR,
				       .config = BROKER_DEFAULT_CONFIG,
				       .viewer_listen = BROKER_VIEWER_DEFAULT,
				       .vnc_listen = BROKER_VNC_DEFAULT,
				       .novnc_dir = BROKER_NOVNC_DIR,
				       .client_timeout = 10,
				       .idle_timeout = 60,
				       .max_conns_per_uid = 64};
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'a': o->api_socket = optarg; break;
		case 'r': o->rpc_socket = optarg; break;
		case 's': o->state_dir = optarg; break;
		case 'c': o->config = optarg; break;
		case 'f': o->foreground = true; break;
		case 't':
			if (parse_u32(optarg, 1, 3600, &o->client_timeout) < 0) {
				log_err("--client-timeout: 1 to 3600 seconds");
				return 2;
			}
			break;
		case 'i':
			if (parse_u32(optarg, 1, 86400, &o->idle_timeout) < 0) {
				log_err("--idle-timeout: 1 to 86400 seconds");
				return 2;
			}
			break;
		case 'm':
			if (parse_u32(optarg, 1, 65536, &o->max_conns_per_uid) < 0) {
				log_err("--max-conns-per-uid: 1 to 65536");
				return 2;
			}
			break;
		case 'o':
			if (strcmp(optarg, "stop") != 0 && strcmp(optarg, "restore") != 0 &&
			    strcmp(optarg, "keep") != 0) {
				log_err("--on-exit: stop, restore or keep");
				return 2;
			}
			o->restore = optarg[0] == 'r';
			o->keep = optarg[0] == 'k';
			break;
		case 'v': o->viewer_listen = strcmp(optarg, "off") == 0 ? NULL : optarg; break;
		case 'V': o->vnc_listen = strcmp(optarg, "off") == 0 ? NULL : optarg; break;
		case 'n': o->novnc_dir = optarg; break;
		case 'H': o->cgroup_holder = true; break;
		case 'h': broker_main_usage(stdout); exit(0);
		default: broker_main_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (broker_main_abs_path(o->api_socket, o->api_abs) < 0 ||
	    broker_main_abs_path(o->rpc_socket, o->rpc_abs) < 0 ||
	    broker_main_abs_path(o->state_dir, o->state_abs) < 0 ||
	    broker_main_abs_path(o->config, o->config_abs) < 0) {
		log_err("path too long");
		return 2;
	}
	o->api_socket = o->api_abs;
	o->rpc_socket = o->rpc_abs;
	o->state_dir = o->state_abs;
	o->config = o->config_abs;
	return 0;
}

static void broker_main_raise_nofile(void)
{
	struct rlimit rl;

	/* Every VM holds a few fds and every client one: use what we may. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The socket systemd passed (made non-blocking: the loop accepts until
 * EAGAIN), or our own at path. */
static int broker_main_socket(int passed, const char *path, int type, bool *ret_own, char *err,
			      size_t errlen)
{
	*ret_own = passed == -ENOENT;
	if (*ret_own)
		return broker_main_listen(path, type, err, errlen);
	if (fd_set_nonblock(passed, 1) < 0 || fcntl(passed, F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(err, errlen, "socket from systemd: %s", strerror(errno));
		return -errno;
	}
	return passed;
}

static int broker_main_run(struct broker *b, const struct broker_main_opts *o, int fd, int rfd,
			   struct broker_main_handover *ho)
{
	struct event *sigterm = NULL, *sigint = NULL, *wd = NULL;
	char err[512];
	bool own_socket = false, own_rpc = false;
	uint64_t wd_usec = 0;
	int r, n;

	r = broker_tenant_config_load(&b->tenants, o->config, err, sizeof(err));
	if (r < 0) {
		log_err("config: %s", err);
		return 2;
	}
	r = broker_state_open(b, o->state_dir, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		return 1;
	}
	n = broker_state_load(b);
	if (n < 0) {
		log_err("state directory: %s", strerror(-n));
		return 1;
	}
	/* The VMs' uids and cgroups, before the launcher thread exists. */
	r = broker_host_start(b, err, sizeof(err));
	if (r < 0) {
		log_err("config: %s", err);
		return 2;
	}
	/* VMs an earlier broker left running (whatever ended it), before any
	 * client can see them as stopped. */
	b->keep_on_exit = o->keep;
	(void)broker_adopt_all(b);
	fd = broker_main_socket(fd, o->api_socket, SOCK_STREAM, &own_socket, err, sizeof(err));
	if (fd < 0) {
		log_err("%s", err);
		return 1;
	}
	r = broker_api_rest_start(b, fd, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		return 1;
	}
	rfd = broker_main_socket(rfd, o->rpc_socket, SOCK_SEQPACKET, &own_rpc, err, sizeof(err));
	own_socket = own_socket || o->reexec_own;
	own_rpc = own_rpc || o->reexec_own;
	if (rfd < 0 || rpc_start(b, rfd, err, sizeof(err)) < 0) {
		log_err("%s", err);
		broker_api_rest_stop(b);
		return 1;
	}
	r = broker_launch_start(b);
	if (r < 0) {
		log_err("cannot start the launcher thread: %s", strerror(-r));
		rpc_stop(b);
		broker_api_rest_stop(b);
		return 1;
	}
	/* Without its listener the broker still serves VMs: console tokens
	 * say why there are none (a default port another program holds). */
	if ((o->viewer_listen || o->vnc_listen) &&
	    broker_viewer_start(b, o->viewer_listen, o->vnc_listen, o->novnc_dir, err,
				sizeof(err)) < 0)
		log_err("%s: no viewer listeners", err);
	sigterm = evsignal_new(b->base, SIGTERM, broker_main_on_signal, b);
	sigint = evsignal_new(b->base, SIGINT, broker_main_on_signal, b);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	if (b->have_systemd && sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec) {
		struct timeval tv = {.tv_sec = (time_t)(wd_usec / 2000000),
				     .tv_usec = (suseconds_t)(wd_usec / 2 % 1000000)};
		wd = event_new(b->base, -1, EV_PERSIST, broker_main_on_watchdog, b);
		event_add(wd, &tv);
	}
	log_info("serving %s with %d VM definitions from %s",
		 own_socket ? o->api_socket : "the socket systemd passed", n, o->state_dir);
	broker_vm_registry_restore(b);
	if (b->have_systemd) {
		snprintf(err, sizeof(err), "READY=1\nSTATUS=Serving %zu VMs", b->nvms);
		sd_notify(0, err);
	}
	event_base_dispatch(b->base);
	if (broker_main_drain)
		event_free(broker_main_drain);

	b->shutting_down = true;
	/* An upgrade keeps the listening sockets (dups: the APIs close theirs):
	 * clients that connect meanwhile wait in the backlog for the new image. */
	if (b->upgrading) {
		ho->api = fcntl(fd, F_DUPFD_CLOEXEC, 64);
		ho->rpc = fcntl(rfd, F_DUPFD_CLOEXEC, 64);
		ho->own = own_socket && own_rpc;
		if (ho->api < 0 || ho->rpc < 0)
			log_err("upgrade: cannot keep the API sockets: %s", strerror(errno));
	}
	/* Boots in flight finish first: their callers are answered while the
	 * APIs still stand. */
	broker_launch_stop(b);
	broker_input_stop(b); /* and input calls end, answered */
	broker_api_rest_stop(b);
	rpc_stop(b);
	broker_viewer_stop(b);
	if (own_rpc && !b->upgrading)
		unlink(o->rpc_socket);
	if (o->keep || b->upgrading)
		broker_adopt_leave_all(b);
	broker_vm_registry_free(b, o->restore);
	if (own_socket && !b->upgrading)
		unlink(o->api_socket);
	if (wd)
		event_free(wd);
	event_free(sigterm);
	event_free(sigint);
	return 0;
}

/* cellvm-vms.service's process: the VMs' cgroup subtree stays taken while it
 * runs (and a unit whose cgroup has VMs below it never needs a new main
 * process: that is why it is not the broker). Waits for SIGTERM. */
static int broker_main_cgroup_holder(void)
{
	char err[512];
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (broker_host_cgroup_hold(err, sizeof(err)) < 0) {
		log_err("%s", err);
		return 1;
	}
	sd_notify(0, "READY=1\nSTATUS=Holding the VMs' cgroup");
	while (sigwait(&set, &sig) != 0)
		;
	return 0;
}

/* fds 0 to 2 open (/dev/null where closed): the broker and the launcher
 * take an fd <= 0 for "none" in places (a log pipe, a counters page), and a
 * VM's fds received from its keeper (broker_adopt.c) must never land there. */
static void broker_main_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (open("/dev/null", O_RDWR) != fd)
			abort(); /* the lowest free fd is fd: nothing else runs yet */
	}
}

int main(int argc, char **argv)
{
	struct broker b = {.state_dirfd = -1};
	struct broker_main_opts o;
	struct broker_main_handover ho = {.api = -1, .rpc = -1};
	int r, fd, rfd;

	broker_main_std_fds();
	log_init("cellvm-broker", getenv("CELLVM_DEBUG") ? LOG_DEBUG : LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	r = broker_main_parse(argc, argv, &o);
	if (r)
		return r;
	if (o.cgroup_holder)
		return broker_main_cgroup_holder();
	broker_main_argv = argv;
	{
		ssize_t n =
			readlink("/proc/self/exe", broker_main_exe, sizeof(broker_main_exe) - 1);

		broker_main_exe[n > 0 ? n : 0] = 0;
	}
	/* Started by an upgrade: the old image had detached already. */
	if (getenv("CELLVM_BROKER_REEXEC")) {
		o.foreground = true;
		o.reexec_own = strcmp(getenv("CELLVM_BROKER_REEXEC"), "own") == 0;
		unsetenv("CELLVM_BROKER_REEXEC");
		log_info("upgraded: this is the new image, adopting the VMs");
	}
	/* First, while the fds systemd passed are the only ones above stderr. */
	broker_main_systemd_sockets(&fd, &rfd);
	if (geteuid() != 0)
		log_warn("not running as root: VMs will not start (the launcher needs "
			 "namespaces and /dev/kvm)");
	broker_main_raise_nofile();
	b.have_systemd = getenv("NOTIFY_SOCKET") != NULL;
	/* Detach before anything that does not survive a fork: the event base,
	 * the launcher thread, VM processes (they must be our children). */
	if (!o.foreground && !b.have_systemd && daemon(0, 1) < 0) {
		log_err("cannot detach: %s", strerror(errno));
		return 1;
	}
	TAILQ_INIT(&b.vms);
	b.client_timeout = (int)o.client_timeout;
	b.idle_timeout = (int)o.idle_timeout;
	b.max_conns_per_uid = o.max_conns_per_uid;
	b.request_shutdown = broker_main_shutdown;
	b.request_upgrade = broker_main_upgrade;
	b.base = event_base_new();
	if (!b.base) {
		log_err("cannot create the event loop");
		return 1;
	}
	r = broker_main_run(&b, &o, fd, rfd, &ho);
	broker_childlog_free_all(&b);
	broker_conn_uid_free(&b);
	/* The last state changes (VMs powered off at exit) reach the disk
	 * before the process ends; a stalled disk gets a bound, not forever. */
	broker_state_close(&b, BROKER_STATE_EXIT_WAIT);
	if (b.state_dirfd >= 0)
		close(b.state_dirfd);
	event_base_free(b.base);
	libevent_global_shutdown();
	if (b.upgrading && ho.api >= 0 && ho.rpc >= 0) {
		broker_main_reexec(&ho);
		return 1; /* the VMs stay: the next broker (systemd's restart) adopts them */
	}
	return r;
}
