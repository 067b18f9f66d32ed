// SPDX-License-Identifier: GPL-2.0
/*
 * --post: the spool's pure parts (the key, an entry's format, the backoff,
 * which files are a capture's), the spool on disk (durable before the
 * upload, resumed by a new process, dropped by rotation), then real
 * uploads to an HTTP server of our own on 127.0.0.1 that refuses its
 * first requests with 503, is killed and started again mid-run while the
 * uploader is killed and started again too. Every capture must arrive
 * with every file intact (sizes and hashes), and every request for a
 * capture must carry the same Idempotency-Key, in the header and the form.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "post.h"
#include "kselftest_harness.h"

#define T0		1795662960000000000ULL
#define HOST		"testhost"

static uint64_t fnv(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sum_of(struct kh_capture_sum *s, unsigned int i)
{
	memset(s, 0, sizeof(*s));
	s->id = i + 1;
	s->time_ns = T0 + (uint64_t)i * 1000000000ULL + i;
	s->pid = 1000 + i;
	snprintf(s->comm, sizeof(s->comm), i % 3 ? "app-%u" : "my app\n%u", i);
	s->has_metric = i % 4 != 3;
	s->metric = i % KHOLMES_NR_METRICS;
	s->value = 95400 + i;
	s->avg = 5400;
}

/* ------------------------------------------------------------ pure parts */

TEST(key_and_entry)
{
	struct kh_capture_sum s;
	struct kh_upload u, v;
	char *buf = NULL, name[KH_BASE_LEN + 16], base[KH_BASE_LEN];
	size_t len = 0;
	FILE *f;

	sum_of(&s, 0);
	ASSERT_EQ(0, kh_capture_base(base, sizeof(base), &s));
	ASSERT_EQ(0, kh_upload_init(&u, &s, base, "web 1\n"));
	/* a host name is cleaned for a header */
	EXPECT_STREQ("web_1_", u.hostname);
	EXPECT_STREQ("web_1_-1-1795662960000000000", u.key);
	EXPECT_STREQ("cpu", u.metric);
	EXPECT_STREQ("95.4", u.value);
	EXPECT_STREQ("5.4", u.avg);
	EXPECT_STREQ("my app?0", u.comm);
	EXPECT_EQ(1000, u.pid);
	snprintf(name, sizeof(name), "%s.txt", base);
	ASSERT_EQ(0, kh_upload_add_file(&u, name));
	snprintf(name, sizeof(name), "%s.cpu.pb.gz", base);
	ASSERT_EQ(0, kh_upload_add_file(&u, name));
	u.has_profile_of = true;
	u.profile_of = 77;
	snprintf(u.profile, sizeof(u.profile), "cpu");

	f = open_memstream(&buf, &len);
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, kh_spool_format(f, &u));
	fclose(f);
	kh_spool_name(name, sizeof(name), &u);
	EXPECT_STREQ("1-1795662960000000000" KH_SPOOL_EXT, name);
	ASSERT_EQ(0, kh_spool_parse(buf, name, &v)) TH_LOG("%s", buf);
	EXPECT_EQ(0, memcmp(&u, &v, sizeof(u))) TH_LOG("%s", buf);
	EXPECT_EQ(2, v.nfiles);
	/* the file's name must be the entry's own */
	EXPECT_EQ(-EINVAL, kh_spool_parse(buf, "2-1795662960000000000" KH_SPOOL_EXT, &v));
	free(buf);

	/* a manual capture has no value or average */
	sum_of(&s, 3);
	ASSERT_EQ(0, kh_capture_base(base, sizeof(base), &s));
	ASSERT_EQ(0, kh_upload_init(&u, &s, base, HOST));
	EXPECT_STREQ("manual", u.metric);
	EXPECT_STREQ("", u.value);
	EXPECT_STREQ("testhost-4-1795662963000000003", u.key);
	EXPECT_FALSE(u.has_profile_of);
	EXPECT_STREQ("", u.profile);
	snprintf(name, sizeof(name), "%s.json", base);
	ASSERT_EQ(0, kh_upload_add_file(&u, name));
	buf = NULL;
	f = open_memstream(&buf, &len);
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, kh_spool_format(f, &u));
	fclose(f);
	EXPECT_EQ(NULL, strstr(buf, "\nvalue "));
	EXPECT_EQ(NULL, strstr(buf, "\nprofile"));
	kh_spool_name(name, sizeof(name), &u);
	ASSERT_EQ(0, kh_spool_parse(buf, name, &v));
	EXPECT_EQ(0, memcmp(&u, &v, sizeof(u)));
	free(buf);
}

#define B	"20261126T031600Z-app-3-cpu-1"
#define HEAD	"kholmes-upload 1\nbase " B "\nkey k\nhostname h\nid 1\ntime-ns 2\nmetric cpu\n"

TEST(entry_parse_errors)
{
	static const char *const bad[] = {
		"",
		"kholmes-upload 2\nbase " B "\n",
		HEAD "file " B ".txt\n",				/* no pid */
		HEAD "pid 3\n",					/* no file */
		HEAD "pid x\nfile " B ".txt\n",
		HEAD "pid 4294967296\nfile " B ".txt\n",
		HEAD "pid 3\nnospace\nfile " B ".txt\n",
		HEAD "pid 3\nfile /etc/shadow\n",			/* not ours */
		HEAD "pid 3\nfile " B ".txt/../../x\n",
		HEAD "pid 3\nfile 20261126T031600Z-app-3-cpu-12.txt\n",
		"kholmes-upload 1\nbase " B "\nkey \nhostname h\nid 1\ntime-ns 2\nmetric cpu\npid 3\nfile " B ".txt\n",
		HEAD "pid 3\nfile " B ".1\nfile " B ".2\nfile " B ".3\nfile " B ".4\nfile " B
		".5\nfile " B ".6\nfile " B ".7\nfile " B ".8\nfile " B ".9\n",
	};
	/* without a final line feed, and with a key from a newer controller */
	static const char good[] = HEAD "pid 3\nnewer-key whatever\nfile " B ".txt";
	struct kh_upload u;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_EQ(-EINVAL, kh_spool_parse(bad[i], "1-2" KH_SPOOL_EXT, &u))
			TH_LOG("accepted: %s", bad[i]);
	EXPECT_EQ(0, kh_spool_parse(good, "1-2" KH_SPOOL_EXT, &u));
	EXPECT_EQ(3, u.pid);
	EXPECT_EQ(1, u.nfiles);
	EXPECT_STREQ(B ".txt", u.files[0]);
	EXPECT_EQ(-EINVAL, kh_spool_parse(good, B KH_SPOOL_EXT, &u));
}

TEST(only_the_captures_files)
{
	struct kh_capture_sum s;
	struct kh_upload u;
	char base[KH_BASE_LEN], name[KH_UPLOAD_NAME];
	int i;

	sum_of(&s, 1);
	ASSERT_EQ(0, kh_capture_base(base, sizeof(base), &s));
	ASSERT_EQ(0, kh_upload_init(&u, &s, base, HOST));
	EXPECT_EQ(-EINVAL, kh_upload_add_file(&u, "/etc/shadow"));
	EXPECT_EQ(-EINVAL, kh_upload_add_file(&u, base));
	snprintf(name, sizeof(name), "%s.txt/x", base);
	EXPECT_EQ(-EINVAL, kh_upload_add_file(&u, name));
	for (i = 0; i < KH_UPLOAD_FILES; i++) {
		snprintf(name, sizeof(name), "%s.%d", base, i);
		EXPECT_EQ(0, kh_upload_add_file(&u, name));
	}
	EXPECT_EQ(-E2BIG, kh_upload_add_file(&u, name));
	EXPECT_EQ(KH_UPLOAD_FILES, u.nfiles);
}

TEST(backoff)
{
	uint64_t d;
	unsigned int n;

	EXPECT_EQ(0, kh_backoff_ms(0, 1000, 300000, 0));
	EXPECT_EQ(1000, kh_backoff_ms(1, 1000, 300000, 0));
	EXPECT_EQ(2000, kh_backoff_ms(2, 1000, 300000, 0));
	EXPECT_EQ(4000, kh_backoff_ms(3, 1000, 300000, 0));
	EXPECT_EQ(256000, kh_backoff_ms(9, 1000, 300000, 0));
	EXPECT_EQ(300000, kh_backoff_ms(10, 1000, 300000, 0));
	EXPECT_EQ(300000, kh_backoff_ms(4000000000U, 1000, 300000, 0));
	/* jitter adds at most a tenth, never beyond the ceiling */
	EXPECT_EQ(1100, kh_backoff_ms(1, 1000, 300000, 100));
	EXPECT_EQ(1050, kh_backoff_ms(1, 1000, 300000, 50 + 101));
	EXPECT_EQ(300000, kh_backoff_ms(12, 1000, 300000, 100));
	for (n = 1; n < 40; n++) {
		d = kh_backoff_ms(n, 1000, 300000, rand());
		EXPECT_GE(d, 1000);
		EXPECT_LE(d, 300000);
	}
}

TEST(files_of_a_capture)
{
	const char *base = "20261126T031600Z-app-1000-cpu-1";

	EXPECT_TRUE(kh_capture_file_of("20261126T031600Z-app-1000-cpu-1.txt", base));
	EXPECT_TRUE(kh_capture_file_of("20261126T031600Z-app-1000-cpu-1.cpu.pb.gz", base));
	EXPECT_FALSE(kh_capture_file_of("20261126T031600Z-app-1000-cpu-12.txt", base));
	EXPECT_FALSE(kh_capture_file_of(".20261126T031600Z-app-1000-cpu-1.txt.tmp.5", base));
	EXPECT_FALSE(kh_capture_file_of("20261126T031600Z-app-1000-cpu-1", base));
	EXPECT_FALSE(kh_capture_file_of(KH_SPOOL_DIR, base));
}

/* ------------------------------------------------------- captures on disk */

struct capset {
	char base[KH_BASE_LEN];
	struct kh_capture_sum sum;
	char key[KH_KEY_LEN];
	unsigned int nfiles;
	char names[4][KH_BASE_LEN + 16];
	size_t size[4];
	uint64_t hash[4];
};

static int write_file(int dirfd, const char *name, size_t size,
		      unsigned int seed, uint64_t *hash)
{
	unsigned char *buf = malloc(size ? size : 1);
	size_t i;
	int fd;

	if (!buf)
		return -1;
	for (i = 0; i < size; i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = seed >> 16;
	}
	*hash = fnv(buf, size);
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, size) != (ssize_t)size) {
		free(buf);
		return -1;
	}
	close(fd);
	free(buf);
	return 0;
}

static int make_captures(int dirfd, struct capset *cs, unsigned int n)
{
	static const char *const ext[] = { ".txt", ".json", ".folded", ".pb.gz" };
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		sum_of(&cs[i].sum, i);
		if (kh_capture_base(cs[i].base, sizeof(cs[i].base), &cs[i].sum))
			return -1;
		kh_upload_key(cs[i].key, sizeof(cs[i].key), HOST, cs[i].sum.id,
			      cs[i].sum.time_ns);
		cs[i].nfiles = i % 2 ? 4 : 3;
		for (j = 0; j < cs[i].nfiles; j++) {
			snprintf(cs[i].names[j], sizeof(cs[i].names[j]), "%s%s",
				 cs[i].base, ext[j]);
			/* from empty up to a few hundred KiB */
			cs[i].size[j] = (i * 7919 + j * 104729) % (300 * 1024);
			if (i == 0 && j == 0)
				cs[i].size[j] = 0;
			if (write_file(dirfd, cs[i].names[j], cs[i].size[j],
				       i * 31 + j, &cs[i].hash[j]))
				return -1;
		}
	}
	return 0;
}

static int upload_of(struct kh_upload *u, const struct capset *cs)
{
	unsigned int j;
	int err;

	err = kh_upload_init(u, &cs->sum, cs->base, HOST);
	for (j = 0; !err && j < cs->nfiles; j++)
		err = kh_upload_add_file(u, cs->names[j]);
	return err;
}

static int spooled(int dirfd)
{
	struct dirent *de;
	int fd, n = 0;
	DIR *d;

	fd = openat(dirfd, KH_SPOOL_DIR, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	while ((de = readdir(d)))
		n += strstr(de->d_name, KH_SPOOL_EXT) != NULL;
	closedir(d);
	return n;
}

static void rm_rf(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		perror("rm");
}

TEST(spool_on_disk)
{
	char dir[] = "/tmp/kholmes-spool-XXXXXX", path[300], name[64];
	struct kh_post_opts o = { .url = "http://127.0.0.1:9/", .quiet = true };
	struct kh_post_stats st;
	struct capset cs[4];
	struct kh_upload u;
	struct kh_post *p;
	struct stat sb;
	int dirfd, i;

	ASSERT_NE(NULL, mkdtemp(dir));
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_GE(dirfd, 0);
	ASSERT_EQ(0, make_captures(dirfd, cs, 4));
	ASSERT_EQ(0, kh_post_open(&p, dirfd, &o));
	/* newest first, to see the reload sort them */
	for (i = 3; i >= 0; i--) {
		ASSERT_EQ(0, upload_of(&u, &cs[i]));
		ASSERT_EQ(0, kh_post_spool(p, &u));
		/* on disk when kh_post_spool() returns */
		kh_spool_name(name, sizeof(name), &u);
		snprintf(path, sizeof(path), "%s/%s/%s", dir, KH_SPOOL_DIR, name);
		EXPECT_EQ(0, stat(path, &sb));
		EXPECT_EQ(0600, sb.st_mode & 0777);
	}
	/* spooling a capture again (written again after a crash) is a no-op */
	ASSERT_EQ(0, upload_of(&u, &cs[2]));
	ASSERT_EQ(0, kh_post_spool(p, &u));
	kh_post_stats(p, &st);
	EXPECT_EQ(4, st.pending);
	EXPECT_EQ(4, spooled(dirfd));
	/* rotation drops one, counted */
	kh_post_drop(p, cs[1].base);
	kh_post_drop(p, "not-spooled");
	kh_post_stats(p, &st);
	EXPECT_EQ(3, st.pending);
	EXPECT_EQ(1, st.dropped);
	EXPECT_EQ(3, spooled(dirfd));
	kh_post_close(p);

	/* a new process resumes it, and a temporary file of a crash goes */
	snprintf(path, sizeof(path), "%s/%s/.x%s.tmp.77", dir, KH_SPOOL_DIR,
		 KH_SPOOL_EXT);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	snprintf(path, sizeof(path), "%s/%s/junk%s", dir, KH_SPOOL_DIR,
		 KH_SPOOL_EXT);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	ASSERT_EQ(0, kh_post_open(&p, dirfd, &o));
	kh_post_stats(p, &st);
	EXPECT_EQ(3, st.pending);
	EXPECT_EQ(0, st.dropped);
	snprintf(path, sizeof(path), "%s/%s/.x%s.tmp.77", dir, KH_SPOOL_DIR,
		 KH_SPOOL_EXT);
	EXPECT_EQ(-1, access(path, F_OK));
	/* a file that is no entry is left for a person, not retried */
	snprintf(path, sizeof(path), "%s/%s/junk%s", dir, KH_SPOOL_DIR,
		 KH_SPOOL_EXT);
	EXPECT_EQ(0, access(path, F_OK));
	unlink(path);
	/* a capture whose files are gone is dropped when its turn comes */
	for (i = 0; i < (int)cs[3].nfiles; i++)
		unlinkat(dirfd, cs[3].names[i], 0);
	kh_post_drop(p, cs[0].base);
	kh_post_drop(p, cs[2].base);
	kh_post_run(p);
	kh_post_stats(p, &st);
	EXPECT_EQ(0, st.pending);
	EXPECT_EQ(3, st.dropped);
	EXPECT_EQ(0, st.uploads);
	EXPECT_EQ(0, spooled(dirfd));
	kh_post_close(p);
	close(dirfd);
	rm_rf(dir);
}

/* ------------------------------------------------------ the HTTP server */

static int listen_on(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd, one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int port_of(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len))
		return -1;
	return ntohs(sa.sin_port);
}

static const char *find_hdr(const char *hdrs, const char *name, size_t *len)
{
	const char *p = hdrs, *eol;
	size_t n = strlen(name);

	while ((eol = strstr(p, "\r\n")) && eol != p) {
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			*len = eol - p;
			return p;
		}
		p = eol + 2;
	}
	return NULL;
}

static const char *disp_param(const char *hdrs, size_t hlen, const char *param,
			      size_t *len)
{
	char pat[32];
	const char *p, *q;

	snprintf(pat, sizeof(pat), "; %s=\"", param);
	p = memmem(hdrs, hlen, pat, strlen(pat));
	if (!p)
		return NULL;
	p += strlen(pat);
	q = memchr(p, '"', hdrs + hlen - p);
	if (!q)
		return NULL;
	*len = q - p;
	return p;
}

/*
 * One request: its headers, its body, its multipart parts, then one line
 * in the log: "<status> key=<header> fkey=<form field> id=<capture-id>
 * body=<bytes> files=<n> <name>:<size>:<hash>..." and the answer.
 */
static void handle(int c, const char *logpath, int status, int delay_ms)
{
	char *buf, *hend, *body, line[8192], files[4096] = "", bnd[128],
	     key[KH_KEY_LEN] = "", fkey[KH_KEY_LEN] = "", id[32] = "";
	size_t cap = 1 << 20, have = 0, clen = 0, hl, vlen, nlen, blen;
	const char *v, *p, *end, *name, *fname;
	int nfiles = 0, off = 0, fd;
	ssize_t r;

	buf = malloc(cap);
	if (!buf)
		return;
	for (;;) {
		if (have == cap - 1) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				return;
		}
		r = read(c, buf + have, cap - 1 - have);
		if (r <= 0)
			goto out;
		have += r;
		buf[have] = '\0';
		hend = strstr(buf, "\r\n\r\n");
		if (!hend)
			continue;
		v = find_hdr(strstr(buf, "\r\n") + 2, "Content-Length", &vlen);
		clen = v ? strtoul(v, NULL, 10) : 0;
		if (have >= (size_t)(hend + 4 - buf) + clen)
			break;
	}
	body = hend + 4;
	hend[2] = '\0';
	v = find_hdr(strstr(buf, "\r\n") + 2, "Idempotency-Key", &vlen);
	if (v && vlen < sizeof(key))
		snprintf(key, sizeof(key), "%.*s", (int)vlen, v);
	v = find_hdr(strstr(buf, "\r\n") + 2, "Content-Type", &vlen);
	p = v ? memmem(v, vlen, "boundary=", 9) : NULL;
	if (p) {
		snprintf(bnd, sizeof(bnd), "\r\n--%.*s", (int)(vlen - (p + 9 - v)),
			 p + 9);
		blen = strlen(bnd);
		/* the first delimiter has no line break before it */
		p = memmem(body, clen, bnd + 2, blen - 2);
		end = body + clen;
		while (p && p + blen - 2 + 2 <= end && strncmp(p + blen - 2, "--", 2)) {
			const char *ph = p + blen, *pe, *data, *next;

			pe = memmem(ph, end - ph, "\r\n\r\n", 4);
			if (!pe)
				break;
			data = pe + 4;
			next = memmem(data, end - data, bnd, blen);
			if (!next)
				break;
			hl = pe - ph;
			name = disp_param(ph, hl, "name", &nlen);
			fname = disp_param(ph, hl, "filename", &vlen);
			if (fname) {
				off += snprintf(files + off, sizeof(files) - off,
						" %.*s:%zu:%016" PRIx64, (int)vlen,
						fname, (size_t)(next - data),
						fnv((const unsigned char *)data,
						    next - data));
				nfiles++;
			} else if (name && nlen == 15 &&
				   !strncmp(name, "idempotency-key", 15)) {
				snprintf(fkey, sizeof(fkey), "%.*s",
					 (int)(next - data), data);
			} else if (name && nlen == 10 &&
				   !strncmp(name, "capture-id", 10)) {
				snprintf(id, sizeof(id), "%.*s",
					 (int)(next - data), data);
			}
			p = next + 2;
		}
	}
	snprintf(line, sizeof(line), "%d key=%s fkey=%s id=%s body=%zu files=%d%s\n",
		 status, key, fkey, id, clen, nfiles, files);
	if (delay_ms)
		usleep(delay_ms * 1000);
	fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd >= 0) {
		if (write(fd, line, strlen(line)) < 0)
			perror("log");
		close(fd);
	}
	off = snprintf(line, sizeof(line),
		       "HTTP/1.1 %d %s\r\nContent-Length: 6\r\nConnection: close\r\n\r\n%s",
		       status, status == 503 ? "Service Unavailable" : "Created",
		       status == 503 ? "later\n" : "thanks");
	if (write(c, line, off) < 0)
		perror("answer");
out:
	free(buf);
}

/* Serves until killed; the first `refuse` requests get 503. */
static void serve(int lfd, const char *logpath, int refuse, int delay_ms)
{
	int c, n = 0;

	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		c = accept(lfd, NULL, NULL);
		if (c < 0)
			continue;
		handle(c, logpath, n++ < refuse ? 503 : 201, delay_ms);
		close(c);
	}
}

static pid_t start_server(int port, const char *logpath, int refuse,
			  int delay_ms, int *out_port)
{
	int lfd = -1, tries;
	pid_t pid;

	/* the port is free again once the old server is reaped */
	for (tries = 0; tries < 100 && lfd < 0; tries++) {
		lfd = listen_on(port);
		if (lfd < 0)
			usleep(20000);
	}
	if (lfd < 0)
		return -1;
	*out_port = port_of(lfd);
	pid = fork();
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		serve(lfd, logpath, refuse, delay_ms);
		_exit(0);
	}
	/* only the server holds the socket: killed, it refuses connections */
	close(lfd);
	return pid;
}

/* The daemon's part: spool (or only resume) and upload until done. */
static void uploader(const char *dir, int port, const struct capset *cs,
		     unsigned int n, bool spool)
{
	struct kh_post_opts o = { .backoff_min_ms = 20, .backoff_max_ms = 300,
				  .quiet = true };
	struct kh_post_stats st;
	struct kh_upload u;
	struct kh_post *p;
	char url[64];
	uint64_t deadline = mono_ms() + 60000;
	unsigned int i;
	int dirfd, t;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/captures", port);
	o.url = url;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dirfd < 0 || kh_post_open(&p, dirfd, &o))
		_exit(10);
	for (i = 0; spool && i < n; i++) {
		if (upload_of(&u, &cs[i]) || kh_post_spool(p, &u))
			_exit(11);
	}
	for (;;) {
		kh_post_run(p);
		kh_post_stats(p, &st);
		if (!st.pending)
			break;
		if (mono_ms() > deadline)
			_exit(12);
		t = kh_post_timeout_ms(p);
		if (kh_post_poll(p, NULL, 0, t < 0 || t > 100 ? 100 : t))
			_exit(13);
	}
	kh_post_close(p);
	_exit(0);
}

struct req {
	int status;
	char key[KH_KEY_LEN], fkey[KH_KEY_LEN];
	uint64_t id;
	int nfiles;
	char files[512 * 4];
};

static int read_log(const char *path, struct req *r, int max)
{
	char line[8192];
	int n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		char *files;

		memset(&r[n], 0, sizeof(r[n]));
		if (sscanf(line, "%d key=%s fkey=%s id=%" SCNu64 " body=%*u files=%d",
			   &r[n].status, r[n].key, r[n].fkey, &r[n].id,
			   &r[n].nfiles) != 5)
			continue;
		files = strstr(line, "files=");
		files = strchr(files, ' ');
		snprintf(r[n].files, sizeof(r[n].files), "%s", files ? files : "");
		r[n].files[strcspn(r[n].files, "\n")] = '\0';
		n++;
	}
	fclose(f);
	return n;
}

static int accepted(const char *path)
{
	static struct req r[256];
	int n = read_log(path, r, 256), i, k = 0;

	for (i = 0; i < n; i++)
		k += r[i].status == 201;
	return k;
}

static bool wait_for(const char *path, int n, int ms)
{
	uint64_t end = mono_ms() + ms;

	while (accepted(path) < n) {
		if (mono_ms() > end)
			return false;
		usleep(5000);
	}
	return true;
}

static int word_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The same " name:size:hash" words, in any order. */
static bool same_files(const char *a, const char *b)
{
	char *x = strdup(a), *y = strdup(b), *wa[16], *wb[16], *sp;
	int na = 0, nb = 0, i;
	bool eq = false;

	if (!x || !y)
		goto out;
	for (sp = strtok(x, " "); sp && na < 16; sp = strtok(NULL, " "))
		wa[na++] = sp;
	for (sp = strtok(y, " "); sp && nb < 16; sp = strtok(NULL, " "))
		wb[nb++] = sp;
	if (na != nb)
		goto out;
	qsort(wa, na, sizeof(*wa), word_cmp);
	qsort(wb, nb, sizeof(*wb), word_cmp);
	for (i = 0; i < na && !strcmp(wa[i], wb[i]); i++)
		;
	eq = i == na;
out:
	free(x);
	free(y);
	return eq;
}

#define NCAP	12

FIXTURE(http) {
	char dir[64];
	char log[96];
	pid_t server, up;
};

FIXTURE_SETUP(http)
{
	snprintf(self->dir, sizeof(self->dir), "/tmp/kholmes-post-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->log, sizeof(self->log), "%s.log", self->dir);
	self->server = self->up = 0;
}

FIXTURE_TEARDOWN(http)
{
	if (self->server > 0) {
		kill(self->server, SIGKILL);
		waitpid(self->server, NULL, 0);
	}
	if (self->up > 0) {
		kill(self->up, SIGKILL);
		waitpid(self->up, NULL, 0);
	}
	rm_rf(self->dir);
	unlink(self->log);
}

TEST_F_TIMEOUT(http, uploads_survive_restarts, 120)
{
	static struct capset cs[NCAP];
	static struct req r[256];
	char want[2048];
	int dirfd, port = 0, n, i, j, st, dups = 0, ok;
	unsigned int c;

	dirfd = open(self->dir, O_RDONLY | O_DIRECTORY);
	ASSERT_GE(dirfd, 0);
	ASSERT_EQ(0, make_captures(dirfd, cs, NCAP));

	/* the first three requests are refused */
	self->server = start_server(0, self->log, 3, 30, &port);
	ASSERT_GT(self->server, 0);
	self->up = fork();
	if (!self->up)
		uploader(self->dir, port, cs, NCAP, true);
	/* the server dies mid-run and comes back, refusing one more */
	ASSERT_TRUE(wait_for(self->log, 3, 20000));
	kill(self->server, SIGKILL);
	waitpid(self->server, NULL, 0);
	usleep(300000);
	self->server = start_server(port, self->log, 1, 30, &port);
	ASSERT_GT(self->server, 0);
	/* the daemon dies too, and a new one resumes the spool */
	ASSERT_TRUE(wait_for(self->log, 6, 20000));
	kill(self->up, SIGKILL);
	waitpid(self->up, NULL, 0);
	EXPECT_LT(accepted(self->log), NCAP) TH_LOG("all done before the kill");
	self->up = fork();
	if (!self->up)
		uploader(self->dir, port, cs, NCAP, false);
	ASSERT_EQ(self->up, waitpid(self->up, &st, 0));
	self->up = 0;
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st)) TH_LOG("uploader: %d", st);

	EXPECT_EQ(0, spooled(dirfd));
	n = read_log(self->log, r, 256);
	TH_LOG("%d requests for %d captures", n, NCAP);
	EXPECT_GE(n, NCAP + 4);
	for (c = 0; c < NCAP; c++) {
		int reqs = 0;

		/* what the server must have seen: every file, byte for byte */
		want[0] = '\0';
		for (j = 0; j < (int)cs[c].nfiles; j++)
			snprintf(want + strlen(want), sizeof(want) - strlen(want),
				 " %s:%zu:%016" PRIx64, cs[c].names[j],
				 cs[c].size[j], cs[c].hash[j]);
		ok = 0;
		for (i = 0; i < n; i++) {
			if (r[i].id != cs[c].sum.id)
				continue;
			reqs++;
			/* every attempt, refused or not, has the capture's key */
			EXPECT_STREQ(cs[c].key, r[i].key);
			EXPECT_STREQ(cs[c].key, r[i].fkey);
			if (r[i].status == 201 && r[i].nfiles == (int)cs[c].nfiles)
				ok += same_files(r[i].files, want);
		}
		EXPECT_GE(ok, 1) TH_LOG("capture %" PRIu64 " never arrived whole (%d requests)",
					cs[c].sum.id, reqs);
		dups += reqs > 1;
	}
	/* the 503s alone make some captures go more than once */
	EXPECT_GE(dups, 1);
	close(dirfd);
}

/*
 * Rotation during an upload outage: the newer captures went up, then the
 * server went away while older ones (a backlog pulled late) were spooled.
 * Rotation deletes the delivered ones first, and an undelivered one only
 * when no delivered one is left, marked so for the daemon to count.
 */
TEST_F_TIMEOUT(http, rotation_spares_undelivered, 60)
{
	struct kh_post_opts o = { .backoff_min_ms = 60000,
				  .backoff_max_ms = 60000, .quiet = true };
	struct kh_store store = { .dirfd = -1 };
	struct kh_post_stats st;
	struct capset cs[6];
	struct kh_set *sets;
	struct kh_upload u;
	struct kh_post *p;
	uint64_t deadline;
	char url[64];
	size_t n, k, i;
	int port = 0, t;

	ASSERT_EQ(0, kh_store_open(&store, self->dir));
	ASSERT_EQ(0, make_captures(store.dirfd, cs, 6));
	self->server = start_server(0, self->log, 0, 0, &port);
	ASSERT_GT(self->server, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/captures", port);
	o.url = url;
	ASSERT_EQ(0, kh_post_open(&p, store.dirfd, &o));
	/* the three newest go up */
	for (i = 3; i < 6; i++) {
		ASSERT_EQ(0, upload_of(&u, &cs[i]));
		ASSERT_EQ(0, kh_post_spool(p, &u));
	}
	deadline = mono_ms() + 30000;
	do {
		kh_post_run(p);
		kh_post_stats(p, &st);
		t = kh_post_timeout_ms(p);
		ASSERT_EQ(0, kh_post_poll(p, NULL, 0, t < 0 || t > 50 ? 50 : t));
	} while (st.pending && mono_ms() < deadline);
	ASSERT_EQ(0U, st.pending);
	/* the outage; then the three oldest are spooled */
	kill(self->server, SIGKILL);
	waitpid(self->server, NULL, 0);
	self->server = 0;
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, upload_of(&u, &cs[i]));
		ASSERT_EQ(0, kh_post_spool(p, &u));
	}
	deadline = mono_ms() + 30000;
	do {
		kh_post_run(p);
		kh_post_stats(p, &st);
		t = kh_post_timeout_ms(p);
		ASSERT_EQ(0, kh_post_poll(p, NULL, 0, t < 0 || t > 50 ? 50 : t));
	} while (!st.failures && mono_ms() < deadline);
	ASSERT_LE(1U, st.failures);
	ASSERT_EQ(3U, st.pending);

	/* at most four captures: the two oldest delivered ones go */
	ASSERT_EQ(0, kh_store_scan(&store, &sets, &n));
	ASSERT_EQ(6U, n);
	for (i = 0; i < n; i++)
		sets[i].pending = kh_post_pending(p, sets[i].base);
	k = kh_rotate_plan(sets, n, 4, 0, NULL);
	EXPECT_EQ(2U, k);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(i == 3 || i == 4, sets[i].remove) TH_LOG("set %zu", i);
		EXPECT_FALSE(sets[i].undelivered);
	}
	/* at most one: undelivered ones go too, once no delivered one is left */
	k = kh_rotate_plan(sets, n, 1, 0, NULL);
	EXPECT_EQ(5U, k);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(i != 5, sets[i].remove) TH_LOG("set %zu", i);
		EXPECT_EQ(i < 3, sets[i].undelivered) TH_LOG("set %zu", i);
		if (!sets[i].remove)
			continue;
		ASSERT_EQ(0, kh_store_remove(&store, &sets[i]));
		kh_post_drop(p, sets[i].base);
	}
	kh_post_stats(p, &st);
	EXPECT_EQ(0U, st.pending);
	EXPECT_EQ(3U, st.dropped);
	free(sets);
	kh_post_close(p);
	kh_store_close(&store);
}

TEST_HARNESS_MAIN
