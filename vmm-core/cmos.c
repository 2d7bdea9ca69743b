/* MC146818 RTC and CMOS RAM model; see cmos.h. The clock registers are made
 * from the host's UTC clock at each read; the guest's writes only move an
 * offset. */
#include "vmm-core/cmos.h"

#include <string.h>
#include <time.h>

#define KIB (1ULL << 10)
#define MIB (1ULL << 20)

static int64_t host_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

static bool cmos_binary(const struct cmos *c)
{
	return c->ram[CMOS_REG_B] & CMOS_B_BINARY;
}

static uint8_t to_reg(const struct cmos *c, int v)
{
	return cmos_binary(c) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | v % 10);
}

/* -1 for a byte that is not a valid BCD number. */
static int from_reg(const struct cmos *c, uint8_t v)
{
	if (cmos_binary(c))
		return v;
	if ((v & 0x0f) > 9 || (v >> 4) > 9)
		return -1;
	return (v >> 4) * 10 + (v & 0x0f);
}

/* Days from 1970-01-01 to year-month-day of the proleptic Gregorian
 * calendar (month 1-12), counted in 400-year eras. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int m)
{
	static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

/* The clock registers for the guest's current time. */
static void cmos_snapshot(struct cmos *c)
{
	time_t t = (time_t)(host_now() + c->offset);
	struct tm tm;
	int h;

	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	h = tm.tm_hour;
	c->ram[CMOS_SECONDS] = to_reg(c, tm.tm_sec > 59 ? 59 : tm.tm_sec);
	c->ram[CMOS_MINUTES] = to_reg(c, tm.tm_min);
	if (c->ram[CMOS_REG_B] & CMOS_B_24H)
		c->ram[CMOS_HOURS] = to_reg(c, h);
	else
		c->ram[CMOS_HOURS] =
			(uint8_t)(to_reg(c, h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0));
	c->ram[CMOS_WEEKDAY] = to_reg(c, tm.tm_wday + 1);
	c->ram[CMOS_DAY] = to_reg(c, tm.tm_mday);
	c->ram[CMOS_MONTH] = to_reg(c, tm.tm_mon + 1);
	c->ram[CMOS_YEAR] = to_reg(c, (tm.tm_year + 1900) % 100);
	c->ram[CMOS_CENTURY] = to_reg(c, (tm.tm_year + 1900) / 100 % 100); /* 9999 wraps */
}

/* The clock registers as the guest wrote them become the time; a time
 * that does not decode is dropped. */
static void cmos_commit(struct cmos *c)
{
	int s = from_reg(c, c->ram[CMOS_SECONDS]), mi = from_reg(c, c->ram[CMOS_MINUTES]);
	int d = from_reg(c, c->ram[CMOS_DAY]), mo = from_reg(c, c->ram[CMOS_MONTH]);
	int y = from_reg(c, c->ram[CMOS_YEAR]), cy = from_reg(c, c->ram[CMOS_CENTURY]);
	uint8_t hr = c->ram[CMOS_HOURS];
	int h;
	int64_t year;

	/* UNTRUSTED(guest): every field is range-checked before use. */
	if (c->ram[CMOS_REG_B] & CMOS_B_24H) {
		h = from_reg(c, hr);
	} else {
		h = from_reg(c, hr & 0x7f);
		h = h < 1 || h > 12 ? -1 : h % 12 + (hr & 0x80 ? 12 : 0);
	}
	if (s < 0 || s > 59 || mi < 0 || mi > 59 || h < 0 || h > 23 || mo < 1 || mo > 12 || y < 0 ||
	    y > 99 || cy < 0 || cy > 99)
		return;
	year = (int64_t)cy * 100 + y;
	if (d < 1 || d > days_in_month(year, mo))
		return;
	c->offset = days_from_civil(year, mo, d) * 86400 + h * 3600 + mi * 60 + s - host_now();
}

void cmos_init(struct cmos *c, const struct gmem *mem, uint32_t ncpus)
{
	uint64_t low = mem->low_size, high = mem->size - mem->low_size, v;

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->ram[CMOS_REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
	c->ram[CMOS_REG_B] = CMOS_B_24H;
	c->ram[CMOS_REG_D] = 0x80;
	c->ram[CMOS_EQUIPMENT] = 0x06; /* FPU, PS/2 mouse; no floppy */
	/* The memory sizes as QEMU's pc_cmos_init writes them. */
	v = low / KIB < 640 ? low / KIB : 640;
	c->ram[CMOS_BASE_LO] = (uint8_t)v;
	c->ram[CMOS_BASE_LO + 1] = (uint8_t)(v >> 8);
	v = low > MIB ? (low - MIB) / KIB : 0;
	v = v > 0xffff ? 0xffff : v;
	c->ram[CMOS_EXT_LO] = c->ram[CMOS_EXT2_LO] = (uint8_t)v;
	c->ram[CMOS_EXT_LO + 1] = c->ram[CMOS_EXT2_LO + 1] = (uint8_t)(v >> 8);
	v = low > 16 * MIB ? (low - 16 * MIB) / (64 * KIB) : 0;
	v = v > 0xffff ? 0xffff : v;
	c->ram[CMOS_MEM16M_LO] = (uint8_t)v;
	c->ram[CMOS_MEM16M_LO + 1] = (uint8_t)(v >> 8);
	v = high / (64 * KIB);
	c->ram[CMOS_MEM4G_LO] = (uint8_t)v;
	c->ram[CMOS_MEM4G_LO + 1] = (uint8_t)(v >> 8);
	c->ram[CMOS_MEM4G_LO + 2] = (uint8_t)(v >> 16);
	c->ram[CMOS_NCPUS_LESS] = (uint8_t)(ncpus ? ncpus - 1 : 0);
	/* QEMU's default boot order "cad" (disk, floppy, CD-ROM), which
	 * SeaBIOS takes for its default priorities without a bootorder file. */
	c->ram[CMOS_BOOTFLAG2] = 0x12;
	c->ram[CMOS_BOOTFLAG1] = 0x30;
	/* The standard checksum of 0x10-0x2d, big-endian at 0x2e. */
	v = 0;
	for (uint32_t i = 0x10; i <= 0x2d; i++)
		v += c->ram[i];
	c->ram[CMOS_CHECKSUM] = (uint8_t)(v >> 8);
	c->ram[CMOS_CHECKSUM + 1] = (uint8_t)v;
	c->c_read_sec = host_now();
	cmos_snapshot(c);
}

void cmos_destroy(struct cmos *c)
{
	pthread_mutex_destroy(&c->lock);
}

static bool cmos_is_clock(uint8_t i)
{
	return i == CMOS_SECONDS || i == CMOS_MINUTES || i == CMOS_HOURS ||
	       (i >= CMOS_WEEKDAY && i <= CMOS_YEAR) || i == CMOS_CENTURY;
}

static uint8_t cmos_read(struct cmos *c, uint8_t i)
{
	int64_t sec;
	uint8_t v;

	if (cmos_is_clock(i)) {
		if (!(c->ram[CMOS_REG_B] & CMOS_B_SET))
			cmos_snapshot(c);
		return c->ram[i];
	}
	switch (i) {
	case CMOS_REG_A: return c->ram[i] & 0x7f; /* UIP never set */
	case CMOS_REG_C:
		sec = host_now() + c->offset;
		v = c->ram[i];
		if (sec != c->c_read_sec)
			v |= CMOS_C_UF;
		c->c_read_sec = sec;
		c->ram[i] = 0;
		return v;
	case CMOS_REG_D: return 0x80;
	default: return c->ram[i];
	}
}

static void cmos_write(struct cmos *c, uint8_t i, uint8_t v)
{
	bool was_set = c->ram[CMOS_REG_B] & CMOS_B_SET;

	if (cmos_is_clock(i)) {
		if (was_set) {
			c->ram[i] = v;
			return;
		}
		cmos_snapshot(c);
		c->ram[i] = v;
		cmos_commit(c);
		return;
	}
	switch (i) {
	case CMOS_REG_A: c->ram[i] = v & 0x7f; break;
	case CMOS_REG_B:
		c->ram[i] = v;
		if (!was_set && (v & CMOS_B_SET))
			cmos_snapshot(c); /* freeze */
		else if (was_set && !(v & CMOS_B_SET))
			cmos_commit(c);
		break;
	case CMOS_REG_C:
	case CMOS_REG_D: break; /* read-only */
	default: c->ram[i] = v; break;
	}
}

bool cmos_pio(struct cmos *c, uint16_t port, uint8_t *data, bool is_write)
{
	/* UNTRUSTED(guest): the index and every byte written; the index is
	 * kept to 7 bits, clock values are checked when they are taken. */
	if (port != CMOS_PORT_INDEX && port != CMOS_PORT_DATA)
		return false;
	pthread_mutex_lock(&c->lock);
	if (port == CMOS_PORT_INDEX) {
		if (is_write)
			c->index = *data & 0x7f;
		else
			*data = 0xff;
	} else if (is_write) {
		cmos_write(c, c->index, *data);
	} else {
		*data = cmos_read(c, c->index);
	}
	pthread_mutex_unlock(&c->lock);
	return true;
}
