/* cellctl: the command-line client of cellvm-broker's protobuf RPC API
 * (proto/api.proto). Runs as any user; the broker decides what that user's
 * tenant may see and do. Replies from the broker are decoded by the channel
 * framing and printed as text or, with --json, as JSON. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api.pb-c.h"
#include "cellctl/cellctl.h"
#include "common/fdutil.h"
#include "common/parse.h"
#include "proto/channel.h"
#include "proto/ipc.h"

#define CELLCTL_MAX_DISKS 8
#define CELLCTL_MAX_NETS  8
/* shutdown VM_ID: the VM did not power off (it runs on). */
#define EXIT_RUNNING 3

static void cellctl_usage(FILE *f)
{
	fprintf(f,
		"usage: cellctl [--socket PATH] [--json] COMMAND [ARGS]\n"
		"  ping | shutdown | upgrade | list | events\n"
		"  create --kernel PATH|--firmware PATH [--no-acpi] [--name N] [--cpus N]\n"
		"         [--memory SIZE] [--initrd PATH]\n"
		"         [--cmdline S] [--disk path=IMG[,readonly=on]...]... "
		"[--net tap=T[,mac=M][,queues=N]]...\n"
		"         [--input ps2|usb|virtio] [--gpu WxH[,WxH...][,budget=SIZE]] "
		"[--pass-files]\n"
		"         [--snd "
		"[playback=N][,capture=N][,periods=N][,channels=N][,sink=ring|null]]\n"
		"         --pass-files: open the kernel (or firmware), initrd and disks here,\n"
		"         as you, and pass the open files (they need not be in your tenant's\n"
		"         image_dir)\n"
		"  info|boot|pause|resume|reboot|power-off|delete|counters [VM_ID]\n"
		"  shutdown VM_ID [--timeout S]\n"
		"         press the VM's ACPI power button and wait up to S seconds (0-3600,\n"
		"         60) for it to power off; exit status 3: it runs on (bare shutdown:\n"
		"         the broker's, administrator only)\n"
		"  console [VM_ID] [--follow]\n"
		"  input [VM_ID] inject JSON|- [--timeout-ms N] | info | switch ps2|virtio\n"
		"  screenshot [VM_ID] -o FILE [--scanout N] [--no-cursor] [--crop X,Y,W,H]\n"
		"         a PNG of the VM's screen (its gpu; docs/gpu.md)\n"
		"  console-token [VM_ID] [--view-only] [--ttl SECONDS]\n"
		"         a one-time token for the viewer listeners (browser URL, VNC password)\n"
		"         JSON: the inject-input request (docs/input.md); -: read it from stdin\n"
		"  record-audio [VM_ID] -o FILE.wav [--seconds N] [--stream S]\n"
		"         what the VM plays (its snd; docs/snd.md) as a WAV, N seconds of it\n"
		"         or until interrupted\n"
		"  play-audio [VM_ID] FILE.wav\n"
		"         a WAV file as the VM's microphone (its snd's capture streams)\n"
		"Without VM_ID: the first VM of your tenant. Socket: $CELLVM_RPC_SOCKET or "
		"/run/cellvm/rpc.sock.\n");
}

static int cellctl_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

Cellvm__Api__Response *cellctl_recv_fds(struct cellctl *c, int *ret_fds, size_t max,
					size_t *ret_nfds)
{
	Cellvm__Api__Response *m = NULL;
	int fds[IPC_MAX_FDS];
	size_t nfds = 0;
	uint32_t which;
	int r = channel_recv(c->fd, &cellvm__api__response__descriptor, CELLCTL_MAX_MSG,
			     (ProtobufCMessage **)&m, &which, fds, IPC_MAX_FDS, &nfds);

	*ret_nfds = 0;
	if (r == 0 && nfds && nfds <= max) {
		memcpy(ret_fds, fds, nfds * sizeof(int));
		*ret_nfds = nfds;
		nfds = 0;
	}
	ipc_close_fds(fds, nfds);
	if (r < 0) {
		fprintf(stderr, "cellctl: %s\n",
			r == -ECONNRESET ? "the broker closed the connection" : strerror(-r));
		return NULL;
	}
	return m;
}

static Cellvm__Api__Response *cellctl_recv(struct cellctl *c)
{
	size_t n;

	return cellctl_recv_fds(c, NULL, 0, &n);
}

static Cellvm__Api__Response *cellctl_call_fds(struct cellctl *c, Cellvm__Api__Request *q,
					       const int *fds, size_t nfds)
{
	int r = channel_send(c->fd, &q->base, CELLCTL_MAX_MSG, fds, nfds);

	/* A refused peer gets its error before the broker hangs up: read it. */
	if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
		fprintf(stderr, "cellctl: cannot send: %s\n", strerror(-r));
		return NULL;
	}
	return cellctl_recv(c);
}

static Cellvm__Api__Response *cellctl_call(struct cellctl *c, Cellvm__Api__Request *q)
{
	return cellctl_call_fds(c, q, NULL, 0);
}

void cellctl_print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static json_object *cellctl_info_json(const Cellvm__Api__VmInfo *i)
{
	json_object *o = json_object_new_object(), *devs = json_object_new_array();
	json_object *def = json_object_new_object(), *disks = json_object_new_array();

	json_object_object_add(o, "id", json_object_new_string(i->id));
	json_object_object_add(o, "name", json_object_new_string(i->name));
	json_object_object_add(o, "tenant", json_object_new_string(i->tenant));
	json_object_object_add(o, "state", json_object_new_string(i->state));
	json_object_object_add(o, "input_backend", json_object_new_string(i->input_backend));
	json_object_object_add(o, "created_at", json_object_new_int64((int64_t)i->created_at));
	json_object_object_add(o, "boots", json_object_new_int64(i->boots));
	json_object_object_add(o, "last_exit", json_object_new_string(i->last_exit));
	json_object_object_add(o, "core_pid", json_object_new_int64(i->core_pid));
	for (size_t k = 0; k < i->n_devices; k++) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "kind", json_object_new_string(i->devices[k]->kind));
		json_object_object_add(d, "running",
				       json_object_new_boolean(i->devices[k]->running));
		json_object_object_add(d, "pid", json_object_new_int64(i->devices[k]->pid));
		json_object_array_add(devs, d);
	}
	json_object_object_add(o, "devices", devs);
	if (i->definition) {
		const Cellvm__Api__VmDefinition *d = i->definition;
		json_object_object_add(def, "cpus", json_object_new_int64(d->cpus));
		json_object_object_add(def, "memory",
				       json_object_new_int64((int64_t)d->memory_bytes));
		if (*d->firmware) {
			json_object_object_add(def, "firmware",
					       json_object_new_string(d->firmware));
		} else {
			json_object_object_add(def, "kernel", json_object_new_string(d->kernel));
			json_object_object_add(def, "initrd", json_object_new_string(d->initrd));
			json_object_object_add(def, "cmdline", json_object_new_string(d->cmdline));
		}
		if (d->no_acpi)
			json_object_object_add(def, "acpi", json_object_new_boolean(false));
		for (size_t k = 0; k < d->n_disks; k++)
			json_object_array_add(disks, json_object_new_string(d->disks[k]));
		if (*d->snd)
			json_object_object_add(def, "snd", json_object_new_string(d->snd));
	}
	json_object_object_add(def, "disks", disks);
	json_object_object_add(o, "config", def);
	return o;
}

static void cellctl_print_info(const struct cellctl *c, const Cellvm__Api__VmInfo *i)
{
	if (c->json) {
		cellctl_print_json(cellctl_info_json(i));
		return;
	}
	printf("id:         %s\nname:       %s\ntenant:     %s\nstate:      %s\n", i->id, i->name,
	       i->tenant, i->state);
	printf("boots:      %u\n", i->boots);
	if (*i->last_exit)
		printf("last exit:  %s\n", i->last_exit);
	if (i->core_pid)
		printf("core pid:   %d\n", i->core_pid);
	if (i->definition)
		printf("vcpus:      %u\nmemory:     %llu MiB\n%s     %s\n", i->definition->cpus,
		       (unsigned long long)(i->definition->memory_bytes >> 20),
		       *i->definition->firmware ? "firmware:" : "kernel:  ",
		       *i->definition->firmware ? i->definition->firmware : i->definition->kernel);
	if (i->definition && i->definition->no_acpi)
		printf("acpi:       no\n");
	for (size_t k = 0; i->definition && k < i->definition->n_disks; k++)
		printf("disk %zu:     %s\n", k, i->definition->disks[k]);
	if (i->definition && *i->definition->snd)
		printf("snd:        %s\n", i->definition->snd);
}

static void cellctl_print_counters(const struct cellctl *c, const Cellvm__Api__CountersReply *cr)
{
	json_object *o = json_object_new_object(), *devs = json_object_new_array();

	json_object_object_add(o, "boots", json_object_new_int64(cr->boots));
	json_object_object_add(o, "console_bytes",
			       json_object_new_int64((int64_t)cr->console_bytes));
	for (size_t i = 0; i < cr->n_devices; i++) {
		const Cellvm__Api__DeviceCounters *d = cr->devices[i];
		json_object *j = json_object_new_object();
		json_object_object_add(j, "index", json_object_new_int64(d->index));
		json_object_object_add(j, "kind", json_object_new_string(d->kind));
		json_object_object_add(j, "state", json_object_new_string(d->state));
		json_object_object_add(j, "restarts", json_object_new_int64(d->restarts));
		json_object_object_add(j, "host_read_bytes",
				       json_object_new_int64((int64_t)d->host_read_bytes));
		json_object_object_add(j, "host_write_bytes",
				       json_object_new_int64((int64_t)d->host_write_bytes));
		json_object_object_add(j, "requests", json_object_new_int64((int64_t)d->requests));
		json_object_object_add(j, "bytes_in", json_object_new_int64((int64_t)d->bytes_in));
		json_object_object_add(j, "bytes_out",
				       json_object_new_int64((int64_t)d->bytes_out));
		json_object_object_add(j, "errors", json_object_new_int64((int64_t)d->errors));
		json_object_array_add(devs, j);
	}
	json_object_object_add(o, "devices", devs);
	if (c->json) {
		cellctl_print_json(o);
		return;
	}
	json_object_put(o);
	printf("boots: %u\nconsole bytes: %llu\n", cr->boots,
	       (unsigned long long)cr->console_bytes);
	for (size_t i = 0; i < cr->n_devices; i++)
		printf("device %u (%s): %s, %u restarts, %llu requests, %llu B in, %llu B out, "
		       "%llu errors, host read %llu B, write %llu B\n",
		       cr->devices[i]->index, cr->devices[i]->kind, cr->devices[i]->state,
		       cr->devices[i]->restarts, (unsigned long long)cr->devices[i]->requests,
		       (unsigned long long)cr->devices[i]->bytes_in,
		       (unsigned long long)cr->devices[i]->bytes_out,
		       (unsigned long long)cr->devices[i]->errors,
		       (unsigned long long)cr->devices[i]->host_read_bytes,
		       (unsigned long long)cr->devices[i]->host_write_bytes);
}

static void cellctl_print_event(const struct cellctl *c, const Cellvm__Api__Event *e)
{
	if (c->json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "seq", json_object_new_int64((int64_t)e->seq));
		json_object_object_add(o, "time", json_object_new_int64((int64_t)e->time));
		json_object_object_add(o, "vm_id", json_object_new_string(e->vm_id));
		json_object_object_add(o, "name", json_object_new_string(e->name));
		json_object_object_add(o, "event", json_object_new_string(e->event));
		json_object_object_add(o, "detail", json_object_new_string(e->detail));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		printf("%llu %s %s %s%s%s\n", (unsigned long long)e->seq, e->vm_id, e->name,
		       e->event, *e->detail ? ": " : "", e->detail);
	}
	fflush(stdout);
}

/* An input error's progress, as REST shows it: how far an inject got and
 * the event at fault. */
static void cellctl_error_input_json(const struct cellctl *c, json_object *o,
				     const Cellvm__Api__Error *e)
{
	if (!c->input)
		return;
	if (e->at_case == CELLVM__API__ERROR__AT_EVENT)
		json_object_object_add(o, "event", json_object_new_int(e->event));
	json_object_object_add(o, "delivered", json_object_new_int64(e->delivered));
	json_object_object_add(o, "total", json_object_new_int64(e->total));
}

static json_object *cellctl_input_json(const Cellvm__Api__InputResult *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "delivered", json_object_new_int64(r->delivered));
	json_object_object_add(o, "total", json_object_new_int64(r->total));
	if (*r->active_backend)
		json_object_object_add(o, "active_backend",
				       json_object_new_string(r->active_backend));
	if (r->n_backends) {
		json_object *bs = json_object_new_array();

		for (size_t i = 0; i < r->n_backends; i++) {
			json_object *b = json_object_new_object();
			json_object_object_add(b, "backend",
					       json_object_new_string(r->backends[i]->backend));
			json_object_object_add(b, "bound",
					       json_object_new_boolean(r->backends[i]->bound));
			json_object_object_add(b, "detail",
					       json_object_new_string(r->backends[i]->detail));
			json_object_object_add(b, "leds",
					       json_object_new_int64(r->backends[i]->leds));
			json_object_array_add(bs, b);
		}
		json_object_object_add(o, "backends", bs);
		json_object_object_add(o, "pending", json_object_new_int64(r->pending));
	}
	return o;
}

int cellctl_print(struct cellctl *c, const Cellvm__Api__Response *m)
{
	json_object *o;

	switch (m->msg_case) {
	case CELLVM__API__RESPONSE__MSG_ERROR:
		if (c->json) {
			o = json_object_new_object();
			json_object_object_add(o, "error",
					       json_object_new_string(m->error->message));
			json_object_object_add(o, "code", json_object_new_string(m->error->code));
			cellctl_error_input_json(c, o, m->error);
			cellctl_print_json(o);
		} else {
			fprintf(stderr, "cellctl: %s: %s\n", m->error->code, m->error->message);
		}
		return EXIT_ERR;
	case CELLVM__API__RESPONSE__MSG_SHUTDOWN: {
		const Cellvm__Api__ShutdownResult *sr = m->shutdown;

		if (c->json) {
			o = json_object_new_object();
			json_object_object_add(o, "powered_off",
					       json_object_new_boolean(sr->powered_off));
			json_object_object_add(o, "guest_listens",
					       json_object_new_boolean(sr->guest_listens));
			json_object_object_add(o, "state", json_object_new_string(sr->state));
			json_object_object_add(o, "seconds", json_object_new_double(sr->seconds));
			json_object_object_add(o, "message", json_object_new_string(sr->message));
			if (*sr->last_exit)
				json_object_object_add(o, "last_exit",
						       json_object_new_string(sr->last_exit));
			cellctl_print_json(o);
		} else if (sr->powered_off) {
			printf("powered off in %.1f s: %s\n", sr->seconds, sr->last_exit);
		} else {
			printf("not powered off (%s, after %.1f s, guest_listens %s): %s\n",
			       sr->state, sr->seconds, sr->guest_listens ? "yes" : "no",
			       sr->message);
		}
		/* A script tells a guest that went from one that runs on. */
		return sr->powered_off ? 0 : EXIT_RUNNING;
	}
	case CELLVM__API__RESPONSE__MSG_PONG:
		if (c->json) {
			o = json_object_new_object();
			json_object_object_add(o, "version",
					       json_object_new_string(m->pong->version));
			json_object_object_add(o, "tenant",
					       json_object_new_string(m->pong->tenant));
			cellctl_print_json(o);
		} else {
			printf("cellvm-broker %s, tenant %s\n", m->pong->version, m->pong->tenant);
		}
		return 0;
	case CELLVM__API__RESPONSE__MSG_CREATED:
		if (c->json) {
			o = json_object_new_object();
			json_object_object_add(o, "vm_id",
					       json_object_new_string(m->created->vm_id));
			cellctl_print_json(o);
		} else {
			printf("%s\n", m->created->vm_id);
		}
		return 0;
	case CELLVM__API__RESPONSE__MSG_LIST:
		if (c->json) {
			o = json_object_new_array();
			for (size_t i = 0; i < m->list->n_vms; i++)
				json_object_array_add(o, cellctl_info_json(m->list->vms[i]));
			cellctl_print_json(o);
			return 0;
		}
		printf("%-36s  %-16s  %-8s  %-8s\n", "ID", "NAME", "STATE", "TENANT");
		for (size_t i = 0; i < m->list->n_vms; i++)
			printf("%-36s  %-16s  %-8s  %-8s\n", m->list->vms[i]->id,
			       m->list->vms[i]->name, m->list->vms[i]->state,
			       m->list->vms[i]->tenant);
		return 0;
	case CELLVM__API__RESPONSE__MSG_INFO: cellctl_print_info(c, m->info); return 0;
	case CELLVM__API__RESPONSE__MSG_OK:
		if (c->json)
			cellctl_print_json(json_object_new_object());
		return 0;
	case CELLVM__API__RESPONSE__MSG_COUNTERS: cellctl_print_counters(c, m->counters); return 0;
	case CELLVM__API__RESPONSE__MSG_CONSOLE:
		(void)fd_write_all(STDOUT_FILENO, m->console->data.data, m->console->data.len);
		return 0;
	case CELLVM__API__RESPONSE__MSG_EVENT: cellctl_print_event(c, m->event); return 0;
	case CELLVM__API__RESPONSE__MSG_INPUT:
		/* As REST answers it, text or not: it is what a script reads. */
		cellctl_print_json(cellctl_input_json(m->input));
		return 0;
	case CELLVM__API__RESPONSE__MSG_CONSOLE_TOKEN: {
		/* As REST answers it, for scripts (and people) alike. */
		const Cellvm__Api__ConsoleTokenReply *t = m->console_token;
		json_object *tj = json_object_new_object();

		json_object_object_add(tj, "token", json_object_new_string(t->token));
		json_object_object_add(tj, "password", json_object_new_string(t->password));
		json_object_object_add(tj, "expires_in", json_object_new_int64(t->expires_in));
		json_object_object_add(tj, "view_only", json_object_new_boolean(t->view_only));
		if (*t->viewer)
			json_object_object_add(tj, "viewer", json_object_new_string(t->viewer));
		if (*t->websocket)
			json_object_object_add(tj, "websocket",
					       json_object_new_string(t->websocket));
		if (*t->vnc)
			json_object_object_add(tj, "vnc", json_object_new_string(t->vnc));
		cellctl_print_json(tj);
		return 0;
	}
	default: fprintf(stderr, "cellctl: unexpected reply\n"); return EXIT_ERR;
	}
}

/* One request (with fds, sent as SCM_RIGHTS), its reply printed; returns the
 * exit status. */
static int cellctl_call_print_fds(struct cellctl *c, Cellvm__Api__Request *q, const int *fds,
				  size_t nfds)
{
	Cellvm__Api__Response *m = cellctl_call_fds(c, q, fds, nfds);
	int st;

	if (!m)
		return EXIT_ERR;
	st = cellctl_print(c, m);
	cellvm__api__response__free_unpacked(m, NULL);
	return st;
}

static int cellctl_call_print(struct cellctl *c, Cellvm__Api__Request *q)
{
	return cellctl_call_print_fds(c, q, NULL, 0);
}

/* Streams: print replies until the end (console without --follow, or the VM
 * gone) or the broker closes. */
static int cellctl_stream(struct cellctl *c, Cellvm__Api__Request *q, bool console_once)
{
	Cellvm__Api__Response *m = cellctl_call(c, q);
	int st = EXIT_ERR;

	while (m) {
		bool end = m->msg_case == CELLVM__API__RESPONSE__MSG_CONSOLE && m->console->end;
		/* The Ok that starts an event stream is not an event. */
		st = m->msg_case == CELLVM__API__RESPONSE__MSG_OK ? 0 : cellctl_print(c, m);
		if (m->msg_case == CELLVM__API__RESPONSE__MSG_ERROR)
			end = true;
		cellvm__api__response__free_unpacked(m, NULL);
		if (end || (console_once && st))
			break;
		m = cellctl_recv(c);
	}
	return st;
}

/* "tap=T[,mac=M][,queues=N]" */
static int cellctl_parse_net(char *s, Cellvm__Api__NetDefinition *n)
{
	char *save = NULL;

	cellvm__api__net_definition__init(n);
	for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		uint32_t q;

		if (!eq)
			return -EINVAL;
		*eq = 0;
		if (strcmp(tok, "tap") == 0)
			n->tap = eq + 1;
		else if (strcmp(tok, "mac") == 0)
			n->mac = eq + 1;
		else if (strcmp(tok, "queues") == 0 && parse_u32(eq + 1, 1, 64, &q) == 0)
			n->queues = q;
		else
			return -EINVAL;
	}
	return n->tap && *n->tap ? 0 : -EINVAL;
}

/* --pass-files: the files a create names, opened here as the user who runs
 * cellctl and passed open (SCM_RIGHTS); the definition names each "fd:N". */
struct cellctl_files {
	int fds[2 + CELLCTL_MAX_DISKS];
	size_t n;
	char names[2][16];
	char disks[CELLCTL_MAX_DISKS][4096];
};

/* Open path for the create; *name becomes its "fd:N". Returns 0 or -errno. */
static int cellctl_pass(struct cellctl_files *f, const char *path, int flags, char *name,
			size_t len)
{
	int fd = open(path, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		int r = -errno;
		fprintf(stderr, "cellctl: %s: %s\n", path, strerror(errno));
		return r;
	}
	f->fds[f->n++] = fd;
	snprintf(name, len, "fd:%zu", f->n);
	return 0;
}

/* A --disk string with its path= opened and replaced by fd:N (read-only
 * when it says readonly=on, as the broker requires). */
static int cellctl_pass_disk(struct cellctl_files *f, const char *opt, char *out, size_t len)
{
	char buf[4096], *save = NULL, *tok, name[16] = "";
	const char *path = NULL;
	bool ro = false;
	size_t n = 0;

	if (strlen(opt) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, opt);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strncmp(tok, "path=", 5) == 0)
			path = tok + 5;
		else if (strcmp(tok, "readonly=on") == 0 || strcmp(tok, "readonly=true") == 0 ||
			 strcmp(tok, "readonly=1") == 0)
			ro = true;
	if (!path || cellctl_pass(f, path, ro ? O_RDONLY : O_RDWR, name, sizeof(name)) < 0)
		return -EINVAL;
	strcpy(buf, opt);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const char *item = strncmp(tok, "path=", 5) == 0 ? "path=" : tok;
		n += (size_t)snprintf(out + n, len - n, "%s%s%s", n ? "," : "", item,
				      item == tok ? "" : name);
		if (n >= len)
			return -EINVAL;
	}
	return 0;
}

static int cellctl_create(struct cellctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"kernel", required_argument, NULL, 'k'},
		{"name", required_argument, NULL, 'N'},
		{"cpus", required_argument, NULL, 'n'},
		{"memory", required_argument, NULL, 'm'},
		{"initrd", required_argument, NULL, 'i'},
		{"cmdline", required_argument, NULL, 'c'},
		{"disk", required_argument, NULL, 'D'},
		{"net", required_argument, NULL, 'T'},
		{"input", required_argument, NULL, 'I'},
		{"gpu", required_argument, NULL, 'G'},
		{"snd", required_argument, NULL, 'S'},
		{"pass-files", no_argument, NULL, 'P'},
		{"firmware", required_argument, NULL, 'F'},
		{"no-acpi", no_argument, NULL, 'A'},
		{NULL, 0, NULL, 0},
	};
	static struct cellctl_files files;
	bool pass = false;
	int st;
	Cellvm__Api__Request q = CELLVM__API__REQUEST__INIT;
	Cellvm__Api__Create cr = CELLVM__API__CREATE__INIT;
	Cellvm__Api__VmDefinition d = CELLVM__API__VM_DEFINITION__INIT;
	char *disks[CELLCTL_MAX_DISKS];
	Cellvm__Api__NetDefinition nets[CELLCTL_MAX_NETS], *pnets[CELLCTL_MAX_NETS];
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'k': d.kernel = optarg; break;
		case 'N': d.name = optarg; break;
		case 'i': d.initrd = optarg; break;
		case 'c': d.cmdline = optarg; break;
		case 'I': d.input_backend = optarg; break;
		case 'G': d.gpu = optarg; break;
		case 'S': d.snd = optarg; break;
		case 'P': pass = true; break;
		case 'F': d.firmware = optarg; break;
		case 'A': d.no_acpi = true; break;
		case 'n':
			if (parse_u32(optarg, 1, 1024, &d.cpus) < 0)
				goto bad;
			break;
		case 'm':
			if (parse_size(optarg, &d.memory_bytes) < 0)
				goto bad;
			break;
		case 'D':
			if (d.n_disks == CELLCTL_MAX_DISKS)
				goto bad;
			disks[d.n_disks++] = optarg;
			break;
		case 'T':
			if (d.n_nets == CELLCTL_MAX_NETS ||
			    cellctl_parse_net(optarg, &nets[d.n_nets]) < 0)
				goto bad;
			pnets[d.n_nets] = &nets[d.n_nets];
			d.n_nets++;
			break;
		default: goto bad;
		}
	}
	/* One or the other (the broker says so too); unset strings are "". */
	if (!*d.kernel == !*d.firmware || optind < argc)
		goto bad;
	files.n = 0;
	if (pass) {
		char **boot = *d.kernel ? &d.kernel : &d.firmware;
		size_t len = sizeof(files.names[0]);

		st = EXIT_ERR;
		if (cellctl_pass(&files, *boot, O_RDONLY, files.names[0], len) < 0)
			goto out;
		*boot = files.names[0];
		if (d.initrd && *d.initrd) {
			if (cellctl_pass(&files, d.initrd, O_RDONLY, files.names[1],
					 sizeof(files.names[1])) < 0)
				goto out;
			d.initrd = files.names[1];
		}
		for (size_t i = 0; i < d.n_disks; i++) {
			if (cellctl_pass_disk(&files, disks[i], files.disks[i],
					      sizeof(files.disks[i])) < 0) {
				fprintf(stderr, "cellctl: --disk %s: cannot pass it\n", disks[i]);
				goto out;
			}
			disks[i] = files.disks[i];
		}
	}
	d.disks = disks;
	d.nets = pnets;
	cr.definition = &d;
	q.msg_case = CELLVM__API__REQUEST__MSG_CREATE;
	q.create = &cr;
	st = cellctl_call_print_fds(c, &q, files.fds, files.n);
out:
	for (size_t i = 0; i < files.n; i++)
		close(files.fds[i]);
	return st;
bad:
	fprintf(stderr, "cellctl create: bad or missing option (--kernel or --firmware is "
			"required, not both)\n");
	return EXIT_USAGE;
}

static int cellctl_vm_command(struct cellctl *c, const char *cmd, int argc, char **argv)
{
	static const struct {
		const char *name;
		Cellvm__Api__Action action;
	} actions[] = {
		{"boot", CELLVM__API__ACTION__ACTION_BOOT},
		{"pause", CELLVM__API__ACTION__ACTION_PAUSE},
		{"resume", CELLVM__API__ACTION__ACTION_RESUME},
		{"reboot", CELLVM__API__ACTION__ACTION_REBOOT},
		{"power-off", CELLVM__API__ACTION__ACTION_POWER_OFF},
	};
	Cellvm__Api__Request q = CELLVM__API__REQUEST__INIT;
	Cellvm__Api__Info info = CELLVM__API__INFO__INIT;
	Cellvm__Api__VmAction act = CELLVM__API__VM_ACTION__INIT;
	Cellvm__Api__Delete del = CELLVM__API__DELETE__INIT;
	Cellvm__Api__Counters cnt = CELLVM__API__COUNTERS__INIT;
	Cellvm__Api__Console con = CELLVM__API__CONSOLE__INIT;
	char *id = (char *)"";
	bool follow = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--follow") == 0 && strcmp(cmd, "console") == 0)
			follow = true;
		else if (!*id && argv[i][0] != '-')
			id = argv[i];
		else
			return EXIT_USAGE;
	}
	if (strcmp(cmd, "info") == 0) {
		info.vm_id = id;
		q.msg_case = CELLVM__API__REQUEST__MSG_INFO;
		q.info = &info;
	} else if (strcmp(cmd, "delete") == 0) {
		del.vm_id = id;
		q.msg_case = CELLVM__API__REQUEST__MSG_DELETE;
		q.delete_ = &del;
	} else if (strcmp(cmd, "counters") == 0) {
		cnt.vm_id = id;
		q.msg_case = CELLVM__API__REQUEST__MSG_COUNTERS;
		q.counters = &cnt;
	} else if (strcmp(cmd, "console") == 0) {
		con.vm_id = id;
		con.follow = follow;
		q.msg_case = CELLVM__API__REQUEST__MSG_CONSOLE;
		q.console = &con;
		return cellctl_stream(c, &q, !follow);
	} else {
		for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
			if (strcmp(cmd, actions[i].name) == 0)
				act.action = actions[i].action;
		if (!act.action)
			return EXIT_USAGE;
		act.vm_id = id;
		q.msg_case = CELLVM__API__REQUEST__MSG_ACTION;
		q.action = &act;
	}
	return cellctl_call_print(c, &q);
}

/* shutdown VM_ID [--timeout S]: a graceful shutdown of one VM (a bare
 * shutdown is the broker's: cellctl_simple). */
static int cellctl_vm_shutdown(struct cellctl *c, int argc, char **argv)
{
	Cellvm__Api__Request q = CELLVM__API__REQUEST__INIT;
	Cellvm__Api__VmShutdown sd = CELLVM__API__VM_SHUTDOWN__INIT;
	char *id = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			if (parse_u32(argv[++i], 0, 3600, &sd.timeout_s) < 0) {
				fprintf(stderr, "cellctl shutdown: --timeout: 0 to 3600 seconds\n");
				return EXIT_USAGE;
			}
			sd.timeout_case = CELLVM__API__VM_SHUTDOWN__TIMEOUT_TIMEOUT_S;
		} else if (!id && argv[i][0] != '-') {
			id = argv[i];
		} else {
			return EXIT_USAGE;
		}
	}
	/* Without a VM_ID this would read as the broker's own shutdown. */
	if (!id)
		return EXIT_USAGE;
	sd.vm_id = id;
	q.msg_case = CELLVM__API__REQUEST__MSG_VM_SHUTDOWN;
	q.vm_shutdown = &sd;
	return cellctl_call_print(c, &q);
}

#define CELLCTL_MAX_INPUT_JSON (60 * 1024) /* it travels in one datagram */

/* The inject's JSON from stdin: a NUL-terminated copy the caller frees, or
 * NULL with a message. */
static char *cellctl_read_stdin(void)
{
	char *buf = malloc(CELLCTL_MAX_INPUT_JSON + 1);
	size_t n = 0;
	ssize_t r;

	if (!buf)
		return NULL;
	while (n <= CELLCTL_MAX_INPUT_JSON &&
	       (r = read(STDIN_FILENO, buf + n, CELLCTL_MAX_INPUT_JSON + 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "cellctl: stdin: %s\n", strerror(errno));
			free(buf);
			return NULL;
		}
		n += (size_t)r;
	}
	if (n > CELLCTL_MAX_INPUT_JSON) {
		fprintf(stderr, "cellctl: the request is larger than %d bytes\n",
			CELLCTL_MAX_INPUT_JSON);
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

/* Copy len bytes of the memfd src to the file path (created 0644, or
 * truncated). Returns 0 or -errno. */
static int cellctl_save(int src, uint64_t len, const char *path)
{
	char buf[65536];
	uint64_t off = 0;
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), r = 0;

	if (out < 0)
		return -errno;
	while (off < len && r == 0) {
		size_t n = len - off < sizeof(buf) ? (size_t)(len - off) : sizeof(buf);

		r = fd_pread_all(src, buf, n, (off_t)off);
		if (r == 0)
			r = fd_write_all(out, buf, n);
		off += n;
	}
	if (close(out) < 0 && r == 0)
		r = -errno;
	return r;
}

/* screenshot [VM_ID] -o FILE [--scanout N] [--no-cursor] [--crop X,Y,W,H] */
static int cellctl_screenshot(struct cellctl *c, int argc, char **argv)
{
	Cellvm__Api__Request q = CELLVM__API__REQUEST__INIT;
	Cellvm__Api__Screenshot sh = CELLVM__API__SCREENSHOT__INIT;
	Cellvm__Api__Response *m;
	const char *out = NULL;
	char *id = (char *)"";
	int fd = -1, st, r;
	size_t nfds;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else if (strcmp(argv[i], "--scanout") == 0 && i + 1 < argc) {
			if (parse_u32(argv[++i], 0, 3, &sh.scanout) < 0)
				return EXIT_USAGE;
		} else if (strcmp(argv[i], "--no-cursor") == 0) {
			sh.no_cursor = true;
		} else if (strcmp(argv[i], "--crop") == 0 && i + 1 < argc) {
			if (sscanf(argv[++i], "%u,%u,%u,%u", &sh.x, &sh.y, &sh.w, &sh.h) != 4 ||
			    !sh.w || !sh.h)
				return EXIT_USAGE;
		} else if (!*id && argv[i][0] != '-') {
			id = argv[i];
		} else {
			return EXIT_USAGE;
		}
	}
	if (!out)
		return EXIT_USAGE;
	sh.vm_id = id;
	q.msg_case = CELLVM__API__REQUEST__MSG_SCREENSHOT;
	q.screenshot = &sh;
	r = channel_send(c->fd, &q.base, CELLCTL_MAX_MSG, NULL, 0);
	if (r < 0) {
		fprintf(stderr, "cellctl: cannot send: %s\n", strerror(-r));
		return EXIT_ERR;
	}
	m = cellctl_recv_fds(c, &fd, 1, &nfds);
	if (!m)
		return EXIT_ERR;
	if (m->msg_case != CELLVM__API__RESPONSE__MSG_SCREENSHOT || nfds != 1) {
		st = m->msg_case == CELLVM__API__RESPONSE__MSG_ERROR ? cellctl_print(c, m)
								     : EXIT_ERR;
		if (st == 0)
			st = EXIT_ERR;
		if (nfds)
			close(fd);
		cellvm__api__response__free_unpacked(m, NULL);
		return st;
	}
	r = cellctl_save(fd, m->screenshot->size, out);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "cellctl: %s: %s\n", out, strerror(-r));
		st = EXIT_ERR;
	} else if (c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "file", json_object_new_string(out));
		json_object_object_add(o, "bytes",
				       json_object_new_int64((int64_t)m->screenshot->size));
		cellctl_print_json(o);
		st = 0;
	} else {
		printf("%s: %llu bytes of PNG\n", out, (unsigned long long)m->screenshot->size);
		st = 0;
	}
	cellvm__api__response__free_unpacked(m, NULL);
	return st;
}

/* console-token [VM_ID] [--view-only] [--ttl SECONDS] */
static int cellctl_console_token(struct cellctl *c, int argc, char **argv)
{
	Cellvm__Api__Request q = CELLVM__API__REQUEST__INIT;
	Cellvm__Api__ConsoleToken ct = CELLVM__API__CONSOLE_TOKEN__INIT;
	char *id = (char *)"";

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--view-only") == 0)
			ct.view_only = true;
		else if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc)
			if (parse_u32(argv[++i], 1, 600, &ct.ttl_s) < 0)
				return EXIT_USAGE;
			else
				continue;
		else if (!*id && argv[i][0] != '-')
			id = argv[i];
		else
			return EXIT_USAGE;
	}
	ct.vm_id = id;
	q.msg_case = CELLVM__API__REQUEST__MSG_CONSOLE_TOKEN;
	q.console_token = &ct;
	return cellctl_call_print(c, &q);
}

/* input [VM_ID] inject JSON|- [--timeout-ms N] | info | switch BACKEND */
static int cellctl_input(struct cellctl *c, int argc, char **argv)
{
	Cellvm__Api__Request q = CELLVM__API__REQUEST__INIT;
	Cellvm__Api__InjectInput inj = CELLVM__API__INJECT_INPUT__INIT;
	Cellvm__Api__InputInfo info = CELLVM__API__INPUT_INFO__INIT;
	Cellvm__Api__SwitchInputBackend sw = CELLVM__API__SWITCH_INPUT_BACKEND__INIT;
	char *id = (char *)"", *arg = NULL, *buf = NULL;
	const char *op;
	uint32_t timeout = 0;
	bool has_timeout = false;
	int i = 1, st;

	if (i < argc && strcmp(argv[i], "inject") != 0 && strcmp(argv[i], "info") != 0 &&
	    strcmp(argv[i], "switch") != 0)
		id = argv[i++];
	if (i >= argc)
		return EXIT_USAGE;
	op = argv[i++];
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc) {
			if (parse_u32(argv[++i], 1, 60000, &timeout) < 0) {
				fprintf(stderr, "cellctl input: --timeout-ms: 1 to 60000\n");
				return EXIT_USAGE;
			}
			has_timeout = true;
		} else if (!arg && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
			arg = argv[i];
		} else {
			return EXIT_USAGE;
		}
	}
	if (strcmp(op, "inject") == 0 && arg) {
		if (strcmp(arg, "-") == 0 && !(arg = buf = cellctl_read_stdin()))
			return EXIT_ERR;
		inj.vm_id = id;
		inj.request_json = arg;
		inj.timeout_ms = timeout;
		q.msg_case = CELLVM__API__REQUEST__MSG_INJECT_INPUT;
		q.inject_input = &inj;
	} else if (strcmp(op, "info") == 0 && !arg && !has_timeout) {
		info.vm_id = id;
		q.msg_case = CELLVM__API__REQUEST__MSG_INPUT_INFO;
		q.input_info = &info;
	} else if (strcmp(op, "switch") == 0 && arg && !has_timeout) {
		sw.vm_id = id;
		sw.backend = arg;
		q.msg_case = CELLVM__API__REQUEST__MSG_SWITCH_INPUT_BACKEND;
		q.switch_input_backend = &sw;
	} else {
		return EXIT_USAGE;
	}
	c->input = true;
	st = cellctl_call_print(c, &q);
	free(buf);
	return st;
}

static int cellctl_simple(struct cellctl *c, const char *cmd)
{
	Cellvm__Api__Request q = CELLVM__API__REQUEST__INIT;
	Cellvm__Api__Ping ping = CELLVM__API__PING__INIT;
	Cellvm__Api__Shutdown sd = CELLVM__API__SHUTDOWN__INIT;
	Cellvm__Api__Upgrade up = CELLVM__API__UPGRADE__INIT;
	Cellvm__Api__List list = CELLVM__API__LIST__INIT;
	Cellvm__Api__Events ev = CELLVM__API__EVENTS__INIT;

	if (strcmp(cmd, "ping") == 0) {
		q.msg_case = CELLVM__API__REQUEST__MSG_PING;
		q.ping = &ping;
	} else if (strcmp(cmd, "shutdown") == 0) {
		q.msg_case = CELLVM__API__REQUEST__MSG_SHUTDOWN;
		q.shutdown = &sd;
	} else if (strcmp(cmd, "upgrade") == 0) {
		q.msg_case = CELLVM__API__REQUEST__MSG_UPGRADE;
		q.upgrade = &up;
	} else if (strcmp(cmd, "list") == 0) {
		q.msg_case = CELLVM__API__REQUEST__MSG_LIST;
		q.list = &list;
	} else {
		q.msg_case = CELLVM__API__REQUEST__MSG_EVENTS;
		q.events = &ev;
		return cellctl_stream(c, &q, false);
	}
	return cellctl_call_print(c, &q);
}

int main(int argc, char **argv)
{
	const char *sock = getenv("CELLVM_RPC_SOCKET");
	struct cellctl c = {.fd = -1};
	const char *cmd;
	int i = 1, st;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			c.json = true;
		} else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			sock = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			cellctl_usage(stdout);
			return 0;
		} else {
			cellctl_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		cellctl_usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[i];
	if (!sock)
		sock = "/run/cellvm/rpc.sock";
	c.fd = cellctl_connect(sock);
	if (c.fd < 0) {
		fprintf(stderr, "cellctl: %s: %s\n", sock, strerror(-c.fd));
		return EXIT_ERR;
	}
	if (strcmp(cmd, "shutdown") == 0 && i + 1 < argc)
		st = cellctl_vm_shutdown(&c, argc - i, argv + i);
	else if (strcmp(cmd, "ping") == 0 || strcmp(cmd, "shutdown") == 0 ||
		 strcmp(cmd, "upgrade") == 0 || strcmp(cmd, "list") == 0 ||
		 strcmp(cmd, "events") == 0)
		st = i + 1 == argc ? cellctl_simple(&c, cmd) : EXIT_USAGE;
	else if (strcmp(cmd, "create") == 0)
		st = cellctl_create(&c, argc - i, argv + i);
	else if (strcmp(cmd, "input") == 0)
		st = cellctl_input(&c, argc - i, argv + i);
	else if (strcmp(cmd, "screenshot") == 0)
		st = cellctl_screenshot(&c, argc - i, argv + i);
	else if (strcmp(cmd, "console-token") == 0)
		st = cellctl_console_token(&c, argc - i, argv + i);
	else if (strcmp(cmd, "record-audio") == 0)
		st = cellctl_record_audio(&c, argc - i, argv + i);
	else if (strcmp(cmd, "play-audio") == 0)
		st = cellctl_play_audio(&c, argc - i, argv + i);
	else
		st = cellctl_vm_command(&c, cmd, argc - i, argv + i);
	if (st == EXIT_USAGE)
		cellctl_usage(stderr);
	close(c.fd);
	return st;
}
