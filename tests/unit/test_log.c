/* SPDX-License-Identifier: MIT */
/* test_log: log lines as text and as JSON, events' fields, JSON string escaping, and lines
 * from threads that come and go. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static char path[] = "/tmp/us-log-XXXXXX";

/* Everything logged since the file was opened. */
static const char *logged(void)
{
	static char buf[1 << 17];
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return buf;
}

static void start(bool json)
{
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(log_open(path, LOG_INFO), 0);
	log_set_json(json);
}

static void stop(void)
{
	log_close();
	log_set_json(false);
	unlink(path);
	strcpy(path, "/tmp/us-log-XXXXXX");
}

static void escape(void **state)
{
	(void)state;
	char out[256];
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
	    {"plain", 5, "plain"},
	    {"q\"b\\", 4, "q\\\"b\\\\"},
	    {"a\nb\tc\rd\x01\x1f\x7f", 10, "a\\nb\\tc\\rd\\u0001\\u001f\\u007f"},
	    {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"},
	    {"\xff", 1, "\\ufffd"},
	    {"\xc0\xaf", 2, "\\ufffd\\ufffd"},                       /* overlong */
	    {"\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd"},            /* a surrogate */
	    {"\xe2\x82", 2, "\\ufffd\\ufffd"},                       /* cut short */
	    {"\xf4\x90\x80\x80", 4, "\\ufffd\\ufffd\\ufffd\\ufffd"}, /* past U+10FFFF */
	    {"nul\0after", 9, "nul\\u0000after"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		log_json_escape(cases[i].in, cases[i].len, out, sizeof(out));
		assert_string_equal(out, cases[i].want);
	}
	/* A small buffer: cut between escapes, never inside one, and terminated. */
	log_json_escape("\"\"\"", 3, out, 6);
	assert_string_equal(out, "\\\"\\\"");
}

static void text_lines(void **state)
{
	(void)state;
	start(false);
	log_info("zone %s: plain", "a.test");
	log_event(LOG_WARNING, "transfer",
	          LOG_FIELDS(LOG_STR("zone", "a.test"), LOG_NUM("serial", 7),
	                     LOG_STR("error", "two words"), LOG_STR("q", "x\"y")),
	          "AXFR %s from %s: serial %u -> %u, finished", "a.test", "192.0.2.1@53", 6, 7);
	log_debug("not shown at level info");
	const char *t = logged();
	assert_non_null(strstr(t, " info: zone a.test: plain\n"));
	/* The message as ever, then the fields. */
	assert_non_null(strstr(t, " warning: AXFR a.test from 192.0.2.1@53: serial 6 -> 7, "
	                          "finished [event=transfer zone=a.test serial=7 "
	                          "error=\"two words\" q=\"x\\\"y\"]\n"));
	assert_null(strstr(t, "not shown"));
	stop();
}

static void json_lines(void **state)
{
	(void)state;
	start(true);
	log_info("bad \xff byte and \"quotes\"\n");
	log_event(
	    LOG_ERR, "expire",
	    LOG_FIELDS(LOG_STR("zone", "a.test"), LOG_NUM("serial", -1), LOG_STR("state", "stale")),
	    "zone %s: EXPIRED", "a.test");
	const char *t = logged();
	const char *l2 = strchr(t, '\n');
	assert_non_null(l2);
	assert_true(strncmp(t, "{\"time\":\"", 9) == 0);
	assert_non_null(strstr(t, "Z\",\"level\":\"info\",\"message\":\"bad \\ufffd byte and "
	                          "\\\"quotes\\\"\\n\"}\n"));
	assert_non_null(strstr(l2 + 1, "\"level\":\"error\",\"message\":\"zone a.test: EXPIRED\","
	                               "\"event\":\"expire\",\"zone\":\"a.test\",\"serial\":-1,"
	                               "\"state\":\"stale\"}\n"));
	/* A very long message is cut before it is escaped, so the line stays whole. */
	char big[5000];
	memset(big, '"', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	log_event(LOG_ERR, "x", LOG_FIELDS(LOG_STR("long", big)), "%s", big);
	t = logged();
	const char *last = strrchr(t, '{');
	assert_non_null(last);
	size_t len = strlen(last);
	assert_true(len > 4000);
	assert_memory_equal(last + len - 3, "\"}\n", 3);
	stop();
}

enum { THREADS = 8, ROUNDS = 50, LINES = 3 };

/* Lines long enough that two threads sharing one buffer would garble them. */
static void *log_some(void *arg)
{
	char word[2048];
	memset(word, 'a' + (int)(intptr_t)arg, sizeof(word) - 1);
	word[sizeof(word) - 1] = 0;
	for (int i = 0; i < LINES; i++)
		log_event(LOG_WARNING, "t", LOG_FIELDS(LOG_NUM("thread", (intptr_t)arg)), "%s",
		          word);
	return NULL;
}

static void threads(void **state)
{
	(void)state;
	start(false);
	/* Threads come and go, as refreshes do: each line is whole and its thread's own. */
	for (int r = 0; r < ROUNDS; r++) {
		pthread_t t[THREADS];
		for (intptr_t i = 0; i < THREADS; i++)
			assert_int_equal(pthread_create(&t[i], NULL, log_some, (void *)i), 0);
		for (int i = 0; i < THREADS; i++)
			assert_int_equal(pthread_join(t[i], NULL), 0);
	}
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static char line[1 << 13];
	int lines[THREADS] = {0};
	while (fgets(line, sizeof(line), f)) {
		const char *w = strstr(line, " warning: ");
		assert_non_null(w);
		w += strlen(" warning: ");
		int i = *w - 'a';
		assert_true(i >= 0 && i < THREADS);
		assert_int_equal(strspn(w, (char[]){*w, 0}), 2047);
		char tail[64];
		snprintf(tail, sizeof(tail), " [event=t thread=%d]\n", i);
		assert_string_equal(w + 2047, tail);
		lines[i]++;
	}
	fclose(f);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(lines[i], ROUNDS * LINES);
	stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(escape),
	    cmocka_unit_test(text_lines),
	    cmocka_unit_test(json_lines),
	    cmocka_unit_test(threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
