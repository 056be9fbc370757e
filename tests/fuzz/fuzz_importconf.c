/* SPDX-License-Identifier: MIT */
/* fuzz_importconf: any bytes as a named.conf, knot.conf or nsd.conf given to import-conf. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/importconf.h"
#include "fuzz.h"

/* Bigger inputs only make runs slow; what they could show, smaller ones show too. */
#define MAX_INPUT (64 * 1024)

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	devnull = fopen("/dev/null", "w");
	return 0;
}

/*
 * The first byte picks the format (auto, named, knot, nsd), the rest is the file. Whatever
 * the input, the translation must end (no crash, hang or leak) and, whenever it writes a
 * configuration, understudy's own reader must accept it: importconf_run checks that and says
 * 3 when it does not.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > MAX_INPUT)
		return 0;
	if (!devnull)
		LLVMFuzzerInitialize(NULL, NULL);
	static const ic_format_t formats[] = {IC_AUTO, IC_NAMED, IC_KNOT, IC_NSD};
	ic_format_t format = formats[data[0] % 4];
	int fd = memfd_create("fuzz-importconf", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0, "memfd_create failed");
	FUZZ_CHECK(write(fd, data + 1, size - 1) == (ssize_t)(size - 1), "short write");
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int code = importconf_run(path, format, true, devnull, devnull);
	close(fd);
	FUZZ_CHECK(code >= 0 && code <= 2, "import-conf wrote what check-conf refuses (code %d)",
	           code);
	return 0;
}
