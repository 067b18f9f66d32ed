// SPDX-License-Identifier: GPL-2.0
/*
 * The uploader runs on the daemon's own thread, through libcurl's multi
 * interface, rather than on a worker thread: the daemon already waits in
 * one place (a signalfd and the netlink event socket), and
 * curl_multi_poll() waits on those and on every transfer's socket at
 * once. A transfer only moves when its socket is ready, so an upload
 * never holds up pulling captures; a slow or dead server costs a socket,
 * not the loop (libcurl's threaded resolver keeps DNS off it too). One
 * thread also means rotation can drop an upload in flight, and the
 * counters can be read, without locks. While a backlog is being pulled
 * the daemon calls kh_post_run() after each capture, so uploads keep
 * moving between them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


/* calls go through the pointers below; the macros would hide that */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "kholmes.h"
#include "out.h"
#include "post.h"
#include "store.h"
#include "util.h"

/*
 * libcurl is loaded when an uploader is opened, not linked: kholmesctl runs
 * for every `status`, `capture` and poll, and libcurl brings some thirty
 * more libraries (TLS, Kerberos, LDAP, IDN, ...) whose loading and
 * constructors took 40 % of each run's start in the test VMs (TCG: 175 ms
 * a run with it, 105 ms without). Only the daemon with --upload needs it.
 */
#define KH_CURL_SYMS(X)							\
	X(curl_global_init) X(curl_global_cleanup)			\
	X(curl_easy_init) X(curl_easy_cleanup) X(curl_easy_setopt)	\
	X(curl_easy_getinfo) X(curl_easy_strerror)			\
	X(curl_slist_append) X(curl_slist_free_all)			\
	X(curl_mime_init) X(curl_mime_free) X(curl_mime_addpart)	\
	X(curl_mime_name) X(curl_mime_filename) X(curl_mime_type)	\
	X(curl_mime_data) X(curl_mime_data_cb)				\
	X(curl_multi_init) X(curl_multi_cleanup)			\
	X(curl_multi_add_handle) X(curl_multi_remove_handle)		\
	X(curl_multi_perform) X(curl_multi_poll)			\
	X(curl_multi_info_read)

KH_CURL_SYMS(KH_DL_DECL)

#define KH_CURL_SONAME "libcurl.so.4"

/* Once per process; the library stays loaded. */
static int curl_load(void)
{
	static const char *const names[] = { KH_CURL_SYMS(KH_DL_NAME) };
	static void **const ptrs[] = { KH_CURL_SYMS(KH_DL_PTR) };
	char err[256];

	if (p_curl_global_init)
		return 0;
	if (kh_dl_load(KH_CURL_SONAME, names, ptrs,
		       sizeof(names) / sizeof(*names), err, sizeof(err))) {
		kh_err("uploads need libcurl: %s (apt-get install libcurl4)",
		       err);
		return -ENOENT;
	}
	return 0;
}

/* curl.h's three-argument checks of these two, replaced by the pointers */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init (*p_curl_global_init)
#define curl_global_cleanup (*p_curl_global_cleanup)
#define curl_easy_init (*p_curl_easy_init)
#define curl_easy_cleanup (*p_curl_easy_cleanup)
#define curl_easy_setopt (*p_curl_easy_setopt)
#define curl_easy_getinfo (*p_curl_easy_getinfo)
#define curl_easy_strerror (*p_curl_easy_strerror)
#define curl_slist_append (*p_curl_slist_append)
#define curl_slist_free_all (*p_curl_slist_free_all)
#define curl_mime_init (*p_curl_mime_init)
#define curl_mime_free (*p_curl_mime_free)
#define curl_mime_addpart (*p_curl_mime_addpart)
#define curl_mime_name (*p_curl_mime_name)
#define curl_mime_filename (*p_curl_mime_filename)
#define curl_mime_type (*p_curl_mime_type)
#define curl_mime_data (*p_curl_mime_data)
#define curl_mime_data_cb (*p_curl_mime_data_cb)
#define curl_multi_init (*p_curl_multi_init)
#define curl_multi_cleanup (*p_curl_multi_cleanup)
#define curl_multi_add_handle (*p_curl_multi_add_handle)
#define curl_multi_remove_handle (*p_curl_multi_remove_handle)
#define curl_multi_perform (*p_curl_multi_perform)
#define curl_multi_poll (*p_curl_multi_poll)
#define curl_multi_info_read (*p_curl_multi_info_read)

#define SPOOL_FORMAT		"kholmes-upload 1"
#define SPOOL_MAX_BYTES		8192
#define BACKOFF_MIN_MS		1000
#define BACKOFF_MAX_MS		(5 * 60 * 1000)
#define PARALLEL		2
#define CONNECT_TIMEOUT_S	10
/* a transfer that moves less than a byte a second for this long is dead */
#define STALL_S			60
#define TEMP_MARK		".tmp."
#define MAX_POLL_FDS		8

/* ------------------------------------------------------------ pure parts */

int kh_upload_key(char *buf, size_t len, const char *hostname, uint64_t id,
		  uint64_t time_ns)
{
	int n = snprintf(buf, len, "%s-%" PRIu64 "-%" PRIu64, hostname, id,
			 time_ns);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* A host name goes into a header and a file: no blanks, no controls. */
static void clean_host(char *dst, size_t len, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < len; i++)
		dst[i] = (unsigned char)src[i] <= ' ' || src[i] == 0x7f ? '_' :
									     src[i];
	dst[i] = '\0';
	if (!dst[0] && len > 1)
		snprintf(dst, len, "localhost");
}

int kh_upload_init(struct kh_upload *u, const struct kh_capture_sum *sum,
		   const char *base, const char *hostname)
{
	memset(u, 0, sizeof(*u));
	if (strlen(base) >= sizeof(u->base))
		return -ENAMETOOLONG;
	snprintf(u->base, sizeof(u->base), "%s", base);
	clean_host(u->hostname, sizeof(u->hostname), hostname);
	u->id = sum->id;
	u->time_ns = sum->time_ns;
	snprintf(u->metric, sizeof(u->metric), "%s", kh_trigger_name(sum));
	if (sum->has_metric) {
		kh_fixed(u->value, sizeof(u->value), sum->value, KH_JSON_DIGITS);
		kh_fixed(u->avg, sizeof(u->avg), sum->avg, KH_JSON_DIGITS);
	}
	u->pid = sum->pid;
	kh_text_clean(u->comm, sizeof(u->comm), sum->comm);
	u->has_profile_of = sum->has_profile_of;
	u->profile_of = sum->profile_of;
	if (sum->flags & KHOLMES_CAPTURE_F_PROFILE)
		snprintf(u->profile, sizeof(u->profile), "%s",
			 kh_profile_kind_name(sum->profile_kind));
	return kh_upload_key(u->key, sizeof(u->key), u->hostname, u->id,
			     u->time_ns);
}

/* One of the capture's files, DIR/<base>.<ext>: nothing else is sent. */
int kh_upload_add_file(struct kh_upload *u, const char *name)
{
	if (!kh_capture_file_of(name, u->base) || strchr(name, '/') ||
	    strlen(name) >= KH_UPLOAD_NAME)
		return -EINVAL;
	if (u->nfiles == KH_UPLOAD_FILES)
		return -E2BIG;
	snprintf(u->files[u->nfiles++], KH_UPLOAD_NAME, "%s", name);
	return 0;
}

/* Unique per capture, across module reloads that start ids again. */
void kh_spool_name(char *buf, size_t len, const struct kh_upload *u)
{
	snprintf(buf, len, "%" PRIu64 "-%" PRIu64 "%s", u->id, u->time_ns,
		 KH_SPOOL_EXT);
}

/* One "key value" line each; every value is free of line feeds. */
int kh_spool_format(FILE *f, const struct kh_upload *u)
{
	unsigned int i;

	fprintf(f, "%s\n", SPOOL_FORMAT);
	fprintf(f, "base %s\n", u->base);
	fprintf(f, "key %s\n", u->key);
	fprintf(f, "hostname %s\n", u->hostname);
	fprintf(f, "id %" PRIu64 "\n", u->id);
	fprintf(f, "time-ns %" PRIu64 "\n", u->time_ns);
	fprintf(f, "metric %s\n", u->metric);
	if (u->value[0])
		fprintf(f, "value %s\n", u->value);
	if (u->avg[0])
		fprintf(f, "avg %s\n", u->avg);
	fprintf(f, "pid %" PRIu32 "\n", u->pid);
	fprintf(f, "comm %s\n", u->comm);
	if (u->has_profile_of)
		fprintf(f, "profile-of %" PRIu64 "\n", u->profile_of);
	if (u->profile[0])
		fprintf(f, "profile %s\n", u->profile);
	for (i = 0; i < u->nfiles; i++)
		fprintf(f, "file %s\n", u->files[i]);
	return ferror(f) ? -EIO : 0;
}

static int get_str(char *dst, size_t len, const char *v, size_t vlen)
{
	if (vlen >= len)
		return -EINVAL;
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
	return 0;
}

static int get_u64(uint64_t *out, const char *v, size_t vlen, uint64_t max)
{
	return kh_parse_dec(v, vlen, max, out) ? -EINVAL : 0;
}

/*
 * text is a spool file's content, name its file name, which must be the
 * one kh_spool_name() gives the entry inside. 0 or -EINVAL.
 */
int kh_spool_parse(const char *text, const char *name, struct kh_upload *u)
{
	enum { F_BASE = 1, F_KEY = 2, F_HOST = 4, F_ID = 8, F_TIME = 16,
	       F_METRIC = 32, F_PID = 64, F_ALL = 127 };
	const char *p = text, *eol, *sp, *v;
	unsigned int i;
	char want[64], file[KH_UPLOAD_NAME];
	unsigned int have = 0;
	size_t klen, vlen;
	uint64_t x = 0;
	int err = 0;

	memset(u, 0, sizeof(*u));
	eol = strchr(p, '\n');
	if (!eol || (size_t)(eol - p) != strlen(SPOOL_FORMAT) ||
	    strncmp(p, SPOOL_FORMAT, eol - p))
		return -EINVAL;
	for (p = eol + 1; *p && !err; p = *eol ? eol + 1 : eol) {
		eol = strchr(p, '\n');
		if (!eol)
			eol = p + strlen(p);
		sp = memchr(p, ' ', eol - p);
		if (!sp)
			return -EINVAL;
		klen = sp - p;
		v = sp + 1;
		vlen = eol - v;
#define IS(k)	(klen == strlen(k) && !strncmp(p, k, klen))
		if (IS("base")) {
			err = get_str(u->base, sizeof(u->base), v, vlen);
			have |= F_BASE;
		} else if (IS("key")) {
			err = get_str(u->key, sizeof(u->key), v, vlen);
			have |= F_KEY;
		} else if (IS("hostname")) {
			err = get_str(u->hostname, sizeof(u->hostname), v, vlen);
			have |= F_HOST;
		} else if (IS("id")) {
			err = get_u64(&u->id, v, vlen, UINT64_MAX);
			have |= F_ID;
		} else if (IS("time-ns")) {
			err = get_u64(&u->time_ns, v, vlen, UINT64_MAX);
			have |= F_TIME;
		} else if (IS("metric")) {
			err = get_str(u->metric, sizeof(u->metric), v, vlen);
			have |= F_METRIC;
		} else if (IS("value")) {
			err = get_str(u->value, sizeof(u->value), v, vlen);
		} else if (IS("avg")) {
			err = get_str(u->avg, sizeof(u->avg), v, vlen);
		} else if (IS("pid")) {
			err = get_u64(&x, v, vlen, UINT32_MAX);
			u->pid = x;
			have |= F_PID;
		} else if (IS("comm")) {
			err = get_str(u->comm, sizeof(u->comm), v, vlen);
		} else if (IS("profile-of")) {
			err = get_u64(&u->profile_of, v, vlen, UINT64_MAX);
			u->has_profile_of = true;
		} else if (IS("profile")) {
			err = get_str(u->profile, sizeof(u->profile), v, vlen);
		} else if (IS("file")) {
			/* checked against the base once it is known */
			err = get_str(file, sizeof(file), v, vlen);
			if (!err && u->nfiles < KH_UPLOAD_FILES)
				snprintf(u->files[u->nfiles++], KH_UPLOAD_NAME,
					 "%s", file);
			else if (!err)
				err = -EINVAL;
		}
		/* a key from a newer controller is left alone */
#undef IS
	}
	if (err || have != F_ALL || !u->base[0] || !u->key[0] || !u->nfiles)
		return -EINVAL;
	for (i = 0; i < u->nfiles; i++)
		if (!kh_capture_file_of(u->files[i], u->base) ||
		    strchr(u->files[i], '/'))
			return -EINVAL;
	kh_spool_name(want, sizeof(want), u);
	return strcmp(name, want) ? -EINVAL : 0;
}

/*
 * The wait after the n-th failure in a row: min_ms doubled each time up
 * to max_ms, plus up to a tenth more by rnd (never beyond max_ms).
 */
uint64_t kh_backoff_ms(unsigned int failures, uint32_t min_ms,
		       uint32_t max_ms, uint32_t rnd)
{
	uint64_t d = min_ms;
	unsigned int i;

	if (!failures)
		return 0;
	for (i = 1; i < failures && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	d += d * (rnd % 101) / 1000;
	return d > max_ms ? max_ms : d;
}

/* name is one of the capture's files: "<base>.<ext>". */
bool kh_capture_file_of(const char *name, const char *base)
{
	size_t blen;
	uint64_t id;

	return kh_parse_name(name, &blen, &id) && blen == strlen(base) &&
	       !strncmp(name, base, blen);
}

/* --------------------------------------------------------------- uploader */

struct entry {
	struct kh_upload u;
	CURL *easy;			/* in flight when not NULL */
	curl_mime *mime;
	struct curl_slist *hdrs;
	unsigned int attempts;
	char errbuf[CURL_ERROR_SIZE];
	char resp[128];			/* the start of the server's answer */
	size_t resp_len;
};

struct kh_post {
	struct kh_post_opts o;
	char *url;
	int dirfd;
	int spoolfd;
	CURLM *multi;
	struct entry **q;		/* oldest first; a failed one goes last */
	size_t n, cap;
	unsigned int inflight;
	unsigned int streak;		/* failures in a row */
	uint64_t gate_ms;		/* no new attempt before, monotonic */
	struct kh_post_stats st;
	unsigned int seed;
};

struct src {
	int fd;
	curl_off_t off, size;
};

static size_t src_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct src *s = arg;
	size_t want = size * nitems;
	ssize_t n;

	if (s->off >= s->size)
		return 0;
	if ((curl_off_t)want > s->size - s->off)
		want = s->size - s->off;
	do
		n = pread(s->fd, buf, want, s->off);
	while (n < 0 && errno == EINTR);
	/* a file cut short under us would send a body shorter than announced */
	if (n <= 0)
		return CURL_READFUNC_ABORT;
	s->off += n;
	return n;
}

static int src_seek(void *arg, curl_off_t off, int origin)
{
	struct src *s = arg;

	if (origin == SEEK_CUR)
		off += s->off;
	else if (origin == SEEK_END)
		off += s->size;
	if (off < 0 || off > s->size)
		return CURL_SEEKFUNC_FAIL;
	s->off = off;
	return CURL_SEEKFUNC_OK;
}

static void src_free(void *arg)
{
	struct src *s = arg;

	close(s->fd);
	free(s);
}

static size_t resp_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct entry *e = arg;
	size_t n = size * nmemb, room = sizeof(e->resp) - 1 - e->resp_len;

	memcpy(e->resp + e->resp_len, ptr, n < room ? n : room);
	e->resp_len += n < room ? n : room;
	e->resp[e->resp_len] = '\0';
	return n;
}

/* --exec hooks are forked from this thread: they get no upload sockets. */
static int sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	(void)arg;
	(void)purpose;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return CURL_SOCKOPT_OK;
}

static const char *content_type(const char *name)
{
	size_t len = strlen(name);

#define ENDS(s)	(len > strlen(s) && !strcmp(name + len - strlen(s), s))
	if (ENDS(".json"))
		return "application/json";
	if (ENDS(".txt") || ENDS(".folded"))
		return "text/plain; charset=utf-8";
	if (ENDS(".gz"))
		return "application/gzip";
#undef ENDS
	return "application/octet-stream";
}

static int field(curl_mime *mime, const char *name, const char *value)
{
	curl_mimepart *part = curl_mime_addpart(mime);

	if (!part || curl_mime_name(part, name) ||
	    curl_mime_data(part, value, CURL_ZERO_TERMINATED))
		return -ENOMEM;
	return 0;
}

static int fields(curl_mime *mime, const struct kh_upload *u)
{
	char num[32], tm[KH_TIME_LEN];
	int err = 0;

	err |= field(mime, "idempotency-key", u->key);
	snprintf(num, sizeof(num), "%" PRIu64, u->id);
	err |= field(mime, "capture-id", num);
	err |= field(mime, "time", kh_time_iso(tm, sizeof(tm), u->time_ns));
	snprintf(num, sizeof(num), "%" PRIu64, u->time_ns);
	err |= field(mime, "time-ns", num);
	err |= field(mime, "hostname", u->hostname);
	err |= field(mime, "metric", u->metric);
	if (u->value[0])
		err |= field(mime, "value", u->value);
	if (u->avg[0])
		err |= field(mime, "avg", u->avg);
	snprintf(num, sizeof(num), "%" PRIu32, u->pid);
	err |= field(mime, "pid", num);
	err |= field(mime, "comm", u->comm);
	err |= field(mime, "name", u->base);
	if (u->has_profile_of) {
		snprintf(num, sizeof(num), "%" PRIu64, u->profile_of);
		err |= field(mime, "profile-of", num);
	}
	if (u->profile[0])
		err |= field(mime, "profile", u->profile);
	return err ? -ENOMEM : 0;
}

static int file_part(struct kh_post *p, curl_mime *mime, const char *name)
{
	curl_mimepart *part;
	struct stat sb;
	struct src *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = openat(p->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (s->fd < 0 || fstat(s->fd, &sb) || !S_ISREG(sb.st_mode)) {
		int err = s->fd < 0 ? -errno : -EINVAL;

		if (s->fd >= 0)
			close(s->fd);
		free(s);
		return err;
	}
	s->size = sb.st_size;
	part = curl_mime_addpart(mime);
	if (!part || curl_mime_name(part, "file") ||
	    curl_mime_filename(part, name) ||
	    curl_mime_type(part, content_type(name)) ||
	    curl_mime_data_cb(part, s->size, src_read, src_seek, src_free, s)) {
		src_free(s);
		return -ENOMEM;
	}
	return 0;
}

static void release(struct kh_post *p, struct entry *e)
{
	if (!e->easy)
		return;
	curl_multi_remove_handle(p->multi, e->easy);
	curl_easy_cleanup(e->easy);
	curl_mime_free(e->mime);
	curl_slist_free_all(e->hdrs);
	e->easy = NULL;
	e->mime = NULL;
	e->hdrs = NULL;
	p->inflight--;
}

/* 0, -ENOENT when the capture has no files left, or another errno. */
static int start(struct kh_post *p, struct entry *e)
{
	char hdr[KH_KEY_LEN + 32];
	struct curl_slist *h;
	unsigned int i, parts;
	int err = -ENOMEM;

	e->easy = curl_easy_init();
	if (!e->easy)
		return err;
	e->mime = curl_mime_init(e->easy);
	if (!e->mime || fields(e->mime, &e->u))
		goto fail;
	for (i = 0, parts = 0; i < e->u.nfiles; i++) {
		err = file_part(p, e->mime, e->u.files[i]);
		/* deleted by hand: the others still go */
		if (err == -ENOENT)
			continue;
		if (err)
			goto fail;
		parts++;
	}
	err = -ENOENT;
	if (!parts)
		goto fail;
	err = -ENOMEM;
	snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", e->u.key);
	h = curl_slist_append(NULL, hdr);
	/* no 100-continue round trip: the server reads the whole body anyway */
	if (h)
		e->hdrs = curl_slist_append(h, "Expect:");
	if (!h || !e->hdrs) {
		curl_slist_free_all(h);
		goto fail;
	}
	e->errbuf[0] = '\0';
	e->resp[0] = '\0';
	e->resp_len = 0;
	if (curl_easy_setopt(e->easy, CURLOPT_URL, p->url) ||
	    curl_easy_setopt(e->easy, CURLOPT_MIMEPOST, e->mime) ||
	    curl_easy_setopt(e->easy, CURLOPT_HTTPHEADER, e->hdrs) ||
	    curl_easy_setopt(e->easy, CURLOPT_PRIVATE, e) ||
	    curl_easy_setopt(e->easy, CURLOPT_ERRORBUFFER, e->errbuf) ||
	    curl_easy_setopt(e->easy, CURLOPT_WRITEFUNCTION, resp_write) ||
	    curl_easy_setopt(e->easy, CURLOPT_WRITEDATA, e) ||
	    curl_easy_setopt(e->easy, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e->easy, CURLOPT_SOCKOPTFUNCTION, sockopt) ||
	    curl_easy_setopt(e->easy, CURLOPT_USERAGENT,
			     PROG_NAME "/" KHOLMES_VERSION) ||
	    curl_easy_setopt(e->easy, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(e->easy, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S) ||
	    curl_easy_setopt(e->easy, CURLOPT_LOW_SPEED_LIMIT, 1L) ||
	    curl_easy_setopt(e->easy, CURLOPT_LOW_SPEED_TIME, (long)STALL_S))
		goto fail;
	if (curl_multi_add_handle(p->multi, e->easy))
		goto fail;
	p->inflight++;
	return 0;
fail:
	curl_easy_cleanup(e->easy);
	curl_mime_free(e->mime);
	curl_slist_free_all(e->hdrs);
	e->easy = NULL;
	e->mime = NULL;
	e->hdrs = NULL;
	return err;
}

static size_t find(const struct kh_post *p, const struct entry *e)
{
	size_t i;

	for (i = 0; i < p->n && p->q[i] != e; i++)
		;
	return i;
}

static void forget(struct kh_post *p, struct entry *e)
{
	char name[64];
	size_t i = find(p, e);

	release(p, e);
	kh_spool_name(name, sizeof(name), &e->u);
	if (unlinkat(p->spoolfd, name, 0) && errno != ENOENT)
		kh_err("removing %s/%s: %s", KH_SPOOL_DIR, name, strerror(errno));
	if (i < p->n) {
		memmove(&p->q[i], &p->q[i + 1], (p->n - i - 1) * sizeof(*p->q));
		p->n--;
	}
	free(e);
}

static void failed(struct kh_post *p, struct entry *e, const char *why)
{
	uint64_t delay;
	size_t i;

	p->st.failures++;
	e->attempts++;
	p->streak++;
	delay = kh_backoff_ms(p->streak, p->o.backoff_min_ms,
			      p->o.backoff_max_ms, rand_r(&p->seed));
	p->gate_ms = kh_now_ms() + delay;
	/* behind the others: one the server always refuses blocks no one */
	i = find(p, e);
	if (i < p->n) {
		memmove(&p->q[i], &p->q[i + 1], (p->n - i - 1) * sizeof(*p->q));
		p->q[p->n - 1] = e;
	}
	kh_log(LOG_WARNING, "capture %" PRIu64 ": upload failed (attempt %u): %s; next attempt in %" PRIu64 ".%01" PRIu64 " s",
	       e->u.id, e->attempts, why, delay / 1000, delay % 1000 / 100);
}

static void finish(struct kh_post *p, struct entry *e, CURLcode res)
{
	char why[CURL_ERROR_SIZE + 160], body[sizeof(e->resp)];
	long code = 0;

	curl_easy_getinfo(e->easy, CURLINFO_RESPONSE_CODE, &code);
	release(p, e);
	if (res == CURLE_OK && code >= 200 && code < 300) {
		p->st.uploads++;
		p->streak = 0;
		p->gate_ms = 0;
		if (!p->o.quiet)
			kh_log(LOG_INFO, "capture %" PRIu64 ": uploaded (HTTP %ld, key %s)",
			       e->u.id, code, e->u.key);
		forget(p, e);
		return;
	}
	if (res != CURLE_OK) {
		snprintf(why, sizeof(why), "%s",
			 e->errbuf[0] ? e->errbuf : curl_easy_strerror(res));
	} else {
		/* its first line, as a reason: "Service Unavailable" */
		e->resp[strcspn(e->resp, "\r\n")] = '\0';
		kh_text_clean(body, sizeof(body), e->resp);
		snprintf(why, sizeof(why), "HTTP %ld%s%s", code,
			 body[0] ? ": " : "", body);
	}
	failed(p, e, why);
}

/* Starts what the gate and the parallel limit allow, oldest first. */
static void starts(struct kh_post *p)
{
	char why[64];
	size_t i = 0;
	int err;

	while (i < p->n && p->inflight < p->o.parallel && kh_now_ms() >= p->gate_ms) {
		struct entry *e = p->q[i];

		if (e->easy) {
			i++;
			continue;
		}
		err = start(p, e);
		if (!err) {
			i++;
			continue;
		}
		if (err == -ENOENT) {
			kh_err("capture %" PRIu64 ": upload dropped: its files are gone",
			       e->u.id);
			p->st.dropped++;
			forget(p, e);
			continue;
		}
		snprintf(why, sizeof(why), "%s", strerror(-err));
		failed(p, e, why);
		break;
	}
}

void kh_post_run(struct kh_post *p)
{
	struct {
		CURL *easy;
		CURLcode res;
	} done;
	struct entry *e;
	char *priv;
	CURLMsg *m;
	int running, left;

	curl_multi_perform(p->multi, &running);
	while ((m = curl_multi_info_read(p->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		/* m does not outlive the handle's removal */
		done.easy = m->easy_handle;
		done.res = m->data.result;
		priv = NULL;
		curl_easy_getinfo(done.easy, CURLINFO_PRIVATE, &priv);
		e = (struct entry *)priv;
		if (e)
			finish(p, e, done.res);
	}
	starts(p);
	curl_multi_perform(p->multi, &running);
}

/* -1: nothing to start; else how long until something may start. */
int kh_post_timeout_ms(const struct kh_post *p)
{
	uint64_t now;

	if (p->n <= p->inflight || p->inflight >= p->o.parallel)
		return -1;
	now = kh_now_ms();
	if (p->gate_ms <= now)
		return 0;
	return p->gate_ms - now > INT_MAX ? INT_MAX : (int)(p->gate_ms - now);
}

/* poll(2) over pfd and the transfers' sockets at once. */
int kh_post_poll(struct kh_post *p, struct pollfd *pfd, unsigned int n,
		 int timeout_ms)
{
	struct curl_waitfd w[MAX_POLL_FDS];
	unsigned int i;

	if (n > MAX_POLL_FDS)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		w[i].fd = pfd[i].fd;
		w[i].events = (pfd[i].events & POLLIN ? CURL_WAIT_POLLIN : 0) |
			      (pfd[i].events & POLLPRI ? CURL_WAIT_POLLPRI : 0) |
			      (pfd[i].events & POLLOUT ? CURL_WAIT_POLLOUT : 0);
		w[i].revents = 0;
	}
	if (curl_multi_poll(p->multi, w, n, timeout_ms, NULL) != CURLM_OK)
		return -EIO;
	for (i = 0; i < n; i++)
		pfd[i].revents = (w[i].revents & CURL_WAIT_POLLIN ? POLLIN : 0) |
				 (w[i].revents & CURL_WAIT_POLLPRI ? POLLPRI : 0) |
				 (w[i].revents & CURL_WAIT_POLLOUT ? POLLOUT : 0);
	return 0;
}

void kh_post_stats(const struct kh_post *p, struct kh_post_stats *s)
{
	*s = p->st;
	s->pending = p->n;
}

/* ------------------------------------------------------------------ spool */

static bool temp_name(const char *name)
{
	const char *m = strstr(name, TEMP_MARK);

	return name[0] == '.' && m;
}

static int push(struct kh_post *p, const struct kh_upload *u)
{
	struct entry *e;

	if (KH_GROW(p->q, p->n, p->cap, 64))
		return -ENOMEM;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->u = *u;
	p->q[p->n++] = e;
	return 0;
}

static int entry_age(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a;
	const struct entry *y = *(struct entry *const *)b;

	if (x->u.time_ns != y->u.time_ns)
		return x->u.time_ns < y->u.time_ns ? -1 : 1;
	if (x->u.id != y->u.id)
		return x->u.id < y->u.id ? -1 : 1;
	return strcmp(x->u.base, y->u.base);
}

static int read_small(int dirfd, const char *name, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	if ((size_t)n == len - 1)
		return -EFBIG;
	buf[n] = '\0';
	return 0;
}

/* What the last run left: its entries resume, its temporary files go. */
static int load(struct kh_post *p)
{
	char *buf, name[NAME_MAX + 1];
	struct kh_upload u;
	struct dirent *de;
	int ret = 0, err;
	size_t len;
	DIR *d;

	buf = malloc(SPOOL_MAX_BYTES);
	if (!buf)
		return -ENOMEM;
	d = kh_opendir_at(p->spoolfd);
	if (!d) {
		err = -errno;
		free(buf);
		return err;
	}
	while ((de = readdir(d)) && !ret) {
		snprintf(name, sizeof(name), "%s", de->d_name);
		if (temp_name(name)) {
			unlinkat(p->spoolfd, name, 0);
			continue;
		}
		len = strlen(name);
		if (len <= strlen(KH_SPOOL_EXT) ||
		    strcmp(name + len - strlen(KH_SPOOL_EXT), KH_SPOOL_EXT))
			continue;
		err = read_small(p->spoolfd, name, buf, SPOOL_MAX_BYTES);
		if (!err)
			err = kh_spool_parse(buf, name, &u);
		if (err) {
			/* left for a person to look at, not retried forever */
			kh_err("%s/%s: %s; skipped", KH_SPOOL_DIR, name,
			       err == -EINVAL ? "not a spool entry" : strerror(-err));
			continue;
		}
		ret = push(p, &u);
	}
	closedir(d);
	free(buf);
	if (!ret && p->n)
		qsort(p->q, p->n, sizeof(*p->q), entry_age);
	return ret;
}

int kh_post_open(struct kh_post **pp, int dirfd, const struct kh_post_opts *o)
{
	struct kh_post *p;
	int err;

	*pp = NULL;
	err = curl_load();
	if (err)
		return err;
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -ENOMEM;
	p = calloc(1, sizeof(*p));
	if (!p) {
		curl_global_cleanup();
		return -ENOMEM;
	}
	p->o = *o;
	if (!p->o.backoff_min_ms)
		p->o.backoff_min_ms = BACKOFF_MIN_MS;
	if (!p->o.backoff_max_ms)
		p->o.backoff_max_ms = BACKOFF_MAX_MS;
	if (p->o.backoff_max_ms < p->o.backoff_min_ms)
		p->o.backoff_max_ms = p->o.backoff_min_ms;
	if (!p->o.parallel)
		p->o.parallel = PARALLEL;
	p->seed = getpid() ^ (unsigned int)kh_now_ms();
	p->spoolfd = -1;
	p->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	p->url = strdup(o->url);
	p->multi = curl_multi_init();
	if (p->dirfd < 0 || !p->url || !p->multi) {
		err = p->dirfd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	if (mkdirat(p->dirfd, KH_SPOOL_DIR, 0700) && errno != EEXIST) {
		err = -errno;
		goto fail;
	}
	fsync(p->dirfd);
	p->spoolfd = openat(p->dirfd, KH_SPOOL_DIR,
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (p->spoolfd < 0) {
		err = -errno;
		goto fail;
	}
	err = load(p);
	if (err)
		goto fail;
	*pp = p;
	return 0;
fail:
	kh_post_close(p);
	return err;
}

void kh_post_close(struct kh_post *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++) {
		release(p, p->q[i]);
		free(p->q[i]);
	}
	free(p->q);
	if (p->multi)
		curl_multi_cleanup(p->multi);
	if (p->spoolfd >= 0)
		close(p->spoolfd);
	if (p->dirfd >= 0)
		close(p->dirfd);
	free(p->url);
	free(p);
	curl_global_cleanup();
}

/*
 * Records u durably (the entry file fsynced, renamed, the spool directory
 * fsynced) and queues it. A capture spooled already (written again after
 * a crash before its acknowledgement) keeps its entry and its key.
 */
static int spool_write(FILE *f, void *arg)
{
	return kh_spool_format(f, arg);
}

int kh_post_spool(struct kh_post *p, const struct kh_upload *u)
{
	char name[64];
	int ret;
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->q[i]->u.id == u->id && p->q[i]->u.time_ns == u->time_ns)
			return 0;
	kh_spool_name(name, sizeof(name), u);
	ret = kh_write_atomic(p->spoolfd, name, 0600, spool_write, (void *)u);
	if (!ret && fsync(p->spoolfd))
		ret = -errno;
	if (ret)
		return ret;
	return push(p, u);
}

/* base's files have an upload the server has not taken yet. */
bool kh_post_pending(const struct kh_post *p, const char *base)
{
	size_t i;

	for (i = 0; p && i < p->n; i++)
		if (!strcmp(p->q[i]->u.base, base))
			return true;
	return false;
}

/*
 * Rotation deleted base's files: their uploads go too (a capture's, and
 * its profile's), in flight or not.
 */
void kh_post_drop(struct kh_post *p, const char *base)
{
	size_t i = 0;

	while (i < p->n) {
		if (strcmp(p->q[i]->u.base, base)) {
			i++;
			continue;
		}
		kh_log(LOG_WARNING, "capture %" PRIu64 ": upload dropped: rotated out before the server took it",
		       p->q[i]->u.id);
		p->st.dropped++;
		forget(p, p->q[i]);
	}
}
