/* fuzz_config.c: the config file parser, on a file of the fuzzer's bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct config cfg;
	char err[1024];
	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/imagegen-fuzz-%ld.conf", (long)getpid());
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	config_load(&cfg, path, err, sizeof(err));
	config_free(&cfg);
	return 0;
}
