/* virtio-gpu 2D commands of cellvm-dev-gpu; see gpu_cmd.h. Runs in the gpu
 * process. A command is copied out of the chain's readable part once, into
 * a local struct, and only that copy is read; its response is built locally
 * and written into the chain's writable part, cut to what that part holds.
 * Every error is one of the spec's codes, never a reset: a bad command costs
 * the guest that command only. */
#include "dev-procs/gpu/gpu_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- bytes in, bytes out ---- */

static uint32_t gpu_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t gpu_le64(const uint8_t *p)
{
	return gpu_le32(p) | (uint64_t)gpu_le32(p + 4) << 32;
}

static void gpu_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void gpu_put64(uint8_t *p, uint64_t v)
{
	gpu_put32(p, (uint32_t)v);
	gpu_put32(p + 4, (uint32_t)(v >> 32));
}

static void gpu_rect_get(struct gpu_rect *r, const uint8_t *p)
{
	r->x = gpu_le32(p);
	r->y = gpu_le32(p + 4);
	r->width = gpu_le32(p + 8);
	r->height = gpu_le32(p + 12);
}

/* ---- publishing to the capture ring ---- */

bool gpu_model_frame(const struct gpu_model *m, uint32_t s, struct gpu_frame *ret)
{
	const struct gpu_scanout *so = s < m->nscanouts ? &m->scanout[s] : NULL;
	const struct gpu_res *r = so ? so->res : NULL;

	if (!r)
		return false;
	*ret = (struct gpu_frame){
		.fourcc = r->fourcc,
		.width = so->r.width,
		.height = so->r.height,
		.stride = r->stride,
		.pixels =
			r->pixels + (uint64_t)so->r.y * r->stride + (uint64_t)so->r.x * GPU_RES_BPP,
	};
	return true;
}

/* Publish scanout s; dmg (resource coordinates) or NULL for the whole. */
static void gpu_cmd_publish(struct gpu_model *m, uint32_t s, const struct gpu_rect *dmg)
{
	const struct gpu_scanout *so = &m->scanout[s];
	struct capture_rect d = {0, 0, so->r.width, so->r.height};
	struct gpu_frame f;
	int64_t n;

	if (!gpu_model_frame(m, s, &f) || (!m->cap && !m->present))
		return;
	if (dmg) {
		uint64_t x0 = dmg->x > so->r.x ? dmg->x : so->r.x;
		uint64_t y0 = dmg->y > so->r.y ? dmg->y : so->r.y;
		uint64_t x1 = (uint64_t)dmg->x + dmg->width, y1 = (uint64_t)dmg->y + dmg->height;

		if (x1 > (uint64_t)so->r.x + so->r.width)
			x1 = (uint64_t)so->r.x + so->r.width;
		if (y1 > (uint64_t)so->r.y + so->r.height)
			y1 = (uint64_t)so->r.y + so->r.height;
		if (x0 >= x1 || y0 >= y1)
			return; /* the flush is not on this scanout */
		d = (struct capture_rect){(uint32_t)(x0 - so->r.x), (uint32_t)(y0 - so->r.y),
					  (uint32_t)(x1 - x0), (uint32_t)(y1 - y0)};
	}
	if (m->present)
		m->present->frame(m->present->ctx, s, &f);
	if (!m->cap)
		return;
	n = capture_publish(m->cap, s, f.fourcc, f.width, f.height, f.stride, f.pixels, &d, 1);
	if (n < 0)
		m->count.ring_drops++;
	else
		m->count.frames++;
}

/* ---- the model ---- */

void gpu_model_init(struct gpu_model *m, const struct gmem *mem, uint64_t max_bytes,
		    const uint32_t (*modes)[2], uint32_t n, struct capture *cap)
{
	memset(m, 0, sizeof(*m));
	m->mem = mem;
	gpu_res_table_init(&m->res, max_bytes);
	m->nscanouts = n;
	for (uint32_t i = 0; i < n; i++) {
		m->scanout[i].width = modes[i][0];
		m->scanout[i].height = modes[i][1];
	}
	m->cap = cap;
}

static void gpu_scanout_bind(struct gpu_model *m, uint32_t s, struct gpu_res *r,
			     const struct gpu_rect *rect)
{
	struct gpu_scanout *so = &m->scanout[s];

	if (r)
		gpu_res_get(r);
	if (so->res)
		gpu_res_put(&m->res, so->res);
	so->res = r;
	so->r = r ? *rect : (struct gpu_rect){0};
}

void gpu_model_reset(struct gpu_model *m)
{
	for (uint32_t s = 0; s < m->nscanouts; s++)
		gpu_scanout_bind(m, s, NULL, NULL);
	gpu_res_table_clear(&m->res);
	if (m->cursor.visible && m->cap)
		capture_cursor(m->cap, NULL, 0, 0, m->cursor.x, m->cursor.y, m->cursor.scanout,
			       false);
	m->cursor = (struct gpu_cursor){0};
	if (m->present)
		m->present->cursor(m->present->ctx, &m->cursor, NULL);
}

/* ---- EDID ---- */

static void gpu_edid_text(uint8_t *d, uint8_t tag, const char *text)
{
	size_t n = strlen(text);

	memset(d, 0, 18);
	d[3] = tag;
	memset(d + 5, ' ', 13);
	memcpy(d + 5, text, n < 13 ? n : 13);
	if (n < 13)
		d[5 + n] = '\n';
}

/* A detailed timing with reduced blanking (CVT-RB's porches), 60 Hz unless
 * the pixel clock (16 bits of 10 kHz) says less. */
static void gpu_edid_timing(uint8_t *d, uint32_t w, uint32_t h, uint32_t wmm, uint32_t hmm)
{
	const uint32_t hblank = 160, hfront = 48, hsync = 32;
	const uint32_t vfront = 3, vsync = 6, vblank = h / 20 > 23 ? h / 20 : 23;
	uint64_t total = (uint64_t)(w + hblank) * (h + vblank), clock = total * 60 / 10000;

	if (clock > 65535)
		clock = 65535;
	d[0] = (uint8_t)clock;
	d[1] = (uint8_t)(clock >> 8);
	d[2] = (uint8_t)w;
	d[3] = (uint8_t)hblank;
	d[4] = (uint8_t)((w >> 8) << 4 | hblank >> 8);
	d[5] = (uint8_t)h;
	d[6] = (uint8_t)vblank;
	d[7] = (uint8_t)((h >> 8) << 4 | vblank >> 8);
	d[8] = (uint8_t)hfront;
	d[9] = (uint8_t)hsync;
	d[10] = (uint8_t)((vfront & 15) << 4 | (vsync & 15));
	d[11] = 0;
	d[12] = (uint8_t)wmm;
	d[13] = (uint8_t)hmm;
	d[14] = (uint8_t)((wmm >> 8 & 15) << 4 | (hmm >> 8 & 15));
	d[15] = d[16] = 0;
	d[17] = 0x1a; /* digital separate sync, hsync +, vsync - (as CVT-RB) */
}

void gpu_cmd_edid(uint8_t *e, uint32_t width, uint32_t height, uint32_t serial)
{
	/* sRGB primaries and D65 white, 10 bits each: x and y of R, G, B, W. */
	static const uint16_t chroma[8] = {655, 338, 307, 614, 154, 61, 320, 337};
	/* 96 dpi: the size Linux then reports (mm) */
	uint32_t wmm = width * 254 / 960, hmm = height * 254 / 960;
	const uint16_t mfg = ('C' - '@') << 10 | ('V' - '@') << 5 | ('M' - '@');
	uint8_t sum = 0;
	char name[14];

	memset(e, 0, GPU_EDID_LEN);
	memcpy(e, "\x00\xff\xff\xff\xff\xff\xff\x00", 8);
	e[8] = (uint8_t)(mfg >> 8);
	e[9] = (uint8_t)mfg;
	e[10] = 0x01; /* product code 0x0001 */
	gpu_put32(e + 12, serial);
	e[16] = 0;	     /* week: unknown */
	e[17] = 2024 - 1990; /* year */
	e[18] = 1;	     /* EDID 1.4 */
	e[19] = 4;
	e[20] = 0xa0; /* digital, 8 bits per colour */
	e[21] = (uint8_t)(wmm / 10 ? wmm / 10 > 255 ? 255 : wmm / 10 : 1); /* cm */
	e[22] = (uint8_t)(hmm / 10 ? hmm / 10 > 255 ? 255 : hmm / 10 : 1);
	e[23] = 120;  /* gamma 2.2 */
	e[24] = 0x06; /* RGB 4:4:4, sRGB, the preferred timing is native */
	e[25] = (uint8_t)((chroma[0] & 3) << 6 | (chroma[1] & 3) << 4 | (chroma[2] & 3) << 2 |
			  (chroma[3] & 3));
	e[26] = (uint8_t)((chroma[4] & 3) << 6 | (chroma[5] & 3) << 4 | (chroma[6] & 3) << 2 |
			  (chroma[7] & 3));
	for (int i = 0; i < 8; i++)
		e[27 + i] = (uint8_t)(chroma[i] >> 2);
	/* 35..37: no established timings; 38..53: no standard timings */
	for (int i = 38; i < 54; i++)
		e[i] = 1;
	gpu_edid_timing(e + 54, width, height, wmm, hmm);
	snprintf(name, sizeof(name), "cellvm-%u", serial);
	gpu_edid_text(e + 72, 0xfc, name); /* display product name */
	gpu_edid_text(e + 90, 0xff, name); /* serial number string */
	e[108 + 3] = 0x10;		   /* dummy descriptor */
	e[126] = 0;			   /* no extension blocks */
	for (int i = 0; i < 127; i++)
		sum += e[i];
	e[127] = (uint8_t)(0x100 - sum);
}

/* ---- control commands ---- */

/* The request's header and the response being built. */
struct gpu_req {
	const struct virtq_chain *c;
	uint32_t type, flags;
	uint64_t fence_id;
	uint32_t ctx_id;
	uint8_t cmd[64]; /* the command's fixed part, hdr included */
	uint8_t resp[GPU_RESP_EDID_LEN];
	uint32_t resp_len;
};

static uint32_t gpu_cmd_nodata(struct gpu_req *q, uint32_t type)
{
	gpu_put32(q->resp, type);
	q->resp_len = GPU_HDR_LEN;
	return type;
}

/* The fixed part of the command (len bytes, hdr included) into q->cmd. */
static bool gpu_cmd_fixed(struct gpu_req *q, uint32_t len)
{
	return len <= sizeof(q->cmd) && virtq_chain_read(q->c, 0, q->cmd, len);
}

static uint32_t gpu_cmd_display_info(struct gpu_model *m, struct gpu_req *q)
{
	for (uint32_t s = 0; s < m->nscanouts; s++) {
		uint8_t *p = q->resp + GPU_HDR_LEN + s * 24;

		gpu_put32(p + 8, m->scanout[s].width);
		gpu_put32(p + 12, m->scanout[s].height);
		gpu_put32(p + 16, 1); /* enabled: every configured scanout is connected */
	}
	gpu_put32(q->resp, VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	q->resp_len = GPU_DISPLAY_INFO_LEN;
	return VIRTIO_GPU_RESP_OK_DISPLAY_INFO;
}

static uint32_t gpu_cmd_get_edid(struct gpu_model *m, struct gpu_req *q)
{
	uint32_t s;

	if (!gpu_cmd_fixed(q, GPU_HDR_LEN + 8))
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_UNSPEC);
	s = gpu_le32(q->cmd + GPU_HDR_LEN);
	if (s >= m->nscanouts)
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	gpu_put32(q->resp + GPU_HDR_LEN, GPU_EDID_LEN);
	gpu_cmd_edid(q->resp + GPU_HDR_LEN + 8, m->scanout[s].width, m->scanout[s].height, s + 1);
	gpu_put32(q->resp, VIRTIO_GPU_RESP_OK_EDID);
	q->resp_len = GPU_RESP_EDID_LEN;
	return VIRTIO_GPU_RESP_OK_EDID;
}

static uint32_t gpu_cmd_create(struct gpu_model *m, struct gpu_req *q)
{
	struct gpu_res *r;
	int e;

	if (!gpu_cmd_fixed(q, GPU_HDR_LEN + 16))
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_UNSPEC);
	e = gpu_res_create(&m->res, gpu_le32(q->cmd + 24), gpu_le32(q->cmd + 28),
			   gpu_le32(q->cmd + 32), gpu_le32(q->cmd + 36), &r);
	switch (e) {
	case 0: return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_OK_NODATA);
	case -EEXIST: return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	case -EINVAL: return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	default: return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	}
}

/* The resource named at offset off of the command, or NULL. */
static struct gpu_res *gpu_cmd_res(struct gpu_model *m, struct gpu_req *q, uint32_t off)
{
	return gpu_res_lookup(&m->res, gpu_le32(q->cmd + off));
}

static uint32_t gpu_cmd_unref(struct gpu_model *m, struct gpu_req *q)
{
	struct gpu_res *r;

	if (!gpu_cmd_fixed(q, GPU_HDR_LEN + 8))
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_UNSPEC);
	r = gpu_cmd_res(m, q, 24);
	if (!r)
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* A scanout showing it keeps its own reference (and the pixels). */
	gpu_res_unref(&m->res, r);
	return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_OK_NODATA);
}

static uint32_t gpu_cmd_set_scanout(struct gpu_model *m, struct gpu_req *q)
{
	struct gpu_rect rect;
	struct gpu_res *r;
	uint32_t s, id;

	if (!gpu_cmd_fixed(q, GPU_HDR_LEN + GPU_RECT_LEN + 8))
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_UNSPEC);
	gpu_rect_get(&rect, q->cmd + 24);
	s = gpu_le32(q->cmd + 40);
	id = gpu_le32(q->cmd + 44);
	if (s >= m->nscanouts)
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	if (id == 0) {
		gpu_scanout_bind(m, s, NULL, NULL); /* disabled */
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_OK_NODATA);
	}
	r = gpu_res_lookup(&m->res, id);
	if (!r)
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	if (!gpu_res_rect_ok(r, &rect))
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	gpu_scanout_bind(m, s, r, &rect);
	gpu_cmd_publish(m, s, NULL);
	return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_OK_NODATA);
}

static uint32_t gpu_cmd_flush(struct gpu_model *m, struct gpu_req *q)
{
	struct gpu_rect rect;
	struct gpu_res *r;

	if (!gpu_cmd_fixed(q, GPU_HDR_LEN + GPU_RECT_LEN + 8))
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_UNSPEC);
	gpu_rect_get(&rect, q->cmd + 24);
	r = gpu_cmd_res(m, q, 40);
	if (!r)
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	if (!gpu_res_rect_ok(r, &rect))
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	for (uint32_t s = 0; s < m->nscanouts; s++)
		if (m->scanout[s].res == r)
			gpu_cmd_publish(m, s, &rect);
	return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_OK_NODATA);
}

static uint32_t gpu_cmd_transfer(struct gpu_model *m, struct gpu_req *q)
{
	struct gpu_rect rect;
	struct gpu_res *r;

	if (!gpu_cmd_fixed(q, GPU_HDR_LEN + GPU_RECT_LEN + 16))
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_UNSPEC);
	gpu_rect_get(&rect, q->cmd + 24);
	r = gpu_cmd_res(m, q, 48);
	if (!r)
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* No backing, a rectangle outside, a row past the backing. */
	if (gpu_res_transfer(r, &rect, gpu_le64(q->cmd + 40)) < 0)
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	m->count.bytes_in += (uint64_t)rect.width * rect.height * GPU_RES_BPP;
	return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_OK_NODATA);
}

static uint32_t gpu_cmd_attach(struct gpu_model *m, struct gpu_req *q)
{
	struct gpu_backing_ent *ents;
	struct gpu_res *r;
	uint32_t n;
	int e = 0;

	if (!gpu_cmd_fixed(q, GPU_HDR_LEN + 8))
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_UNSPEC);
	r = gpu_cmd_res(m, q, 24);
	n = gpu_le32(q->cmd + 28);
	if (!r)
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* UNTRUSTED(guest): nr_entries; bounded, and the request must hold
	 * every entry (CVE-2021-3544's kind) before anything is allocated. */
	if (n == 0 || n > GPU_RES_MAX_ENTRIES || r->nents ||
	    (uint64_t)n * GPU_MEM_ENTRY_LEN > q->c->read_len - (GPU_HDR_LEN + 8))
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	ents = malloc((size_t)n * sizeof(*ents));
	if (!ents)
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	for (uint32_t i = 0; i < n && e == 0; i++) {
		uint8_t b[GPU_MEM_ENTRY_LEN];
		uint64_t addr;
		uint32_t len;

		if (!virtq_chain_read(q->c, GPU_HDR_LEN + 8 + (uint64_t)i * GPU_MEM_ENTRY_LEN, b,
				      sizeof(b))) {
			e = -EINVAL;
			break;
		}
		addr = gpu_le64(b);
		len = gpu_le32(b + 8);
		/* Zero-length, or not all of it guest RAM. */
		ents[i].host = len ? gmem_ptr(m->mem, addr, len) : NULL;
		ents[i].len = len;
		if (!ents[i].host)
			e = -EINVAL;
	}
	if (e == 0)
		e = gpu_res_attach(&m->res, r, ents, n);
	free(ents);
	if (e == -ENOSPC || e == -ENOMEM)
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	if (e < 0)
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_OK_NODATA);
}

static uint32_t gpu_cmd_detach(struct gpu_model *m, struct gpu_req *q)
{
	struct gpu_res *r;

	if (!gpu_cmd_fixed(q, GPU_HDR_LEN + 8))
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_UNSPEC);
	r = gpu_cmd_res(m, q, 24);
	if (!r)
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	if (gpu_res_detach(&m->res, r) < 0)
		return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	return gpu_cmd_nodata(q, VIRTIO_GPU_RESP_OK_NODATA);
}

uint32_t gpu_cmd_ctrl(struct gpu_model *m, const struct virtq_chain *c)
{
	struct gpu_req q = {.c = c};
	uint32_t status;

	m->count.ctrl_cmds++;
	/* UNTRUSTED(guest): the header; a chain too short for one gets an
	 * ERR_UNSPEC without a fence. */
	if (!virtq_chain_read(c, 0, q.cmd, GPU_HDR_LEN)) {
		m->count.errors++;
		gpu_cmd_nodata(&q, VIRTIO_GPU_RESP_ERR_UNSPEC);
		return virtq_chain_write(c, q.resp, q.resp_len);
	}
	q.type = gpu_le32(q.cmd);
	q.flags = gpu_le32(q.cmd + 4);
	q.fence_id = gpu_le64(q.cmd + 8);
	q.ctx_id = gpu_le32(q.cmd + 16);
	switch (q.type) {
	case VIRTIO_GPU_CMD_GET_DISPLAY_INFO: status = gpu_cmd_display_info(m, &q); break;
	case VIRTIO_GPU_CMD_GET_EDID: status = gpu_cmd_get_edid(m, &q); break;
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D: status = gpu_cmd_create(m, &q); break;
	case VIRTIO_GPU_CMD_RESOURCE_UNREF: status = gpu_cmd_unref(m, &q); break;
	case VIRTIO_GPU_CMD_SET_SCANOUT: status = gpu_cmd_set_scanout(m, &q); break;
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH: status = gpu_cmd_flush(m, &q); break;
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D: status = gpu_cmd_transfer(m, &q); break;
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING: status = gpu_cmd_attach(m, &q); break;
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING: status = gpu_cmd_detach(m, &q); break;
	case VIRTIO_GPU_CMD_GET_CAPSET_INFO:
	case VIRTIO_GPU_CMD_GET_CAPSET:
		/* num_capsets is 0: no index or id is valid (CVE-2016-9845's
		 * and CVE-2016-10028's commands answer nothing else). */
		status = gpu_cmd_nodata(&q, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
		break;
	default: status = gpu_cmd_nodata(&q, VIRTIO_GPU_RESP_ERR_UNSPEC); break;
	}
	if (status >= VIRTIO_GPU_RESP_ERR_UNSPEC)
		m->count.errors++;
	/* 2D commands complete here: the fence is signalled with the answer. */
	if (q.flags & VIRTIO_GPU_FLAG_FENCE) {
		gpu_put32(q.resp + 4, VIRTIO_GPU_FLAG_FENCE);
		gpu_put64(q.resp + 8, q.fence_id);
		gpu_put32(q.resp + 16, q.ctx_id);
	}
	return virtq_chain_write(c, q.resp, q.resp_len);
}

/* ---- cursor commands ---- */

/* A cursor's X byte is its alpha: Linux creates every dumb buffer, its
 * cursors' too, as B8G8R8X8 and draws ARGB into it, and hosts (QEMU) take
 * the byte as alpha; a cursor with no alpha would be an opaque square. */
static uint32_t gpu_cmd_cursor_fourcc(uint32_t fourcc)
{
	if (fourcc == DRM_FORMAT_XRGB8888)
		return DRM_FORMAT_ARGB8888;
	if (fourcc == DRM_FORMAT_XBGR8888)
		return DRM_FORMAT_ABGR8888;
	return fourcc;
}

static bool gpu_cmd_cursor_image(struct gpu_model *m, uint32_t id)
{
	const struct gpu_res *r = gpu_res_lookup(&m->res, id);
	uint32_t fourcc;

	if (!r || r->width != GPU_CURSOR_DIM || r->height != GPU_CURSOR_DIM)
		return false;
	fourcc = gpu_cmd_cursor_fourcc(r->fourcc);
	for (uint32_t y = 0; y < GPU_CURSOR_DIM; y++)
		for (uint32_t x = 0; x < GPU_CURSOR_DIM; x++)
			m->cursor_argb[y * GPU_CURSOR_DIM + x] =
				gpu_res_argb(fourcc, r->pixels + y * r->stride + x * GPU_RES_BPP);
	return true;
}

uint32_t gpu_cmd_cursor(struct gpu_model *m, const struct virtq_chain *c)
{
	uint8_t b[GPU_CURSOR_CMD_LEN];
	struct gpu_cursor *cur = &m->cursor;
	uint32_t type, s, id, hx, hy;
	int32_t x, y;

	m->count.cursor_cmds++;
	/* UNTRUSTED(guest): the whole command; a bad one is ignored and
	 * counted (the cursor queue has no response). */
	if (!virtq_chain_read(c, 0, b, sizeof(b)))
		goto bad;
	type = gpu_le32(b);
	s = gpu_le32(b + 24);
	x = (int32_t)gpu_le32(b + 28);
	y = (int32_t)gpu_le32(b + 32);
	id = gpu_le32(b + 40);
	hx = gpu_le32(b + 44);
	hy = gpu_le32(b + 48);
	if (s >= m->nscanouts)
		goto bad;
	if (type == VIRTIO_GPU_CMD_MOVE_CURSOR) {
		cur->scanout = s;
		cur->x = x;
		cur->y = y;
		if (m->cap)
			capture_cursor(m->cap, NULL, cur->hot_x, cur->hot_y, x, y, s, cur->visible);
		if (m->present)
			m->present->cursor(m->present->ctx, cur, NULL);
		return 0;
	}
	if (type != VIRTIO_GPU_CMD_UPDATE_CURSOR)
		goto bad;
	if (id != 0 &&
	    (hx >= GPU_CURSOR_DIM || hy >= GPU_CURSOR_DIM || !gpu_cmd_cursor_image(m, id)))
		goto bad;
	*cur = (struct gpu_cursor){
		.scanout = s, .x = x, .y = y, .hot_x = hx, .hot_y = hy, .visible = id != 0};
	if (m->cap)
		capture_cursor(m->cap, id ? m->cursor_argb : NULL, hx, hy, x, y, s, id != 0);
	if (m->present)
		m->present->cursor(m->present->ctx, cur, id ? m->cursor_argb : NULL);
	return 0;
bad:
	m->count.errors++;
	return 0;
}
