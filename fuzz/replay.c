/*
 * Runs a libFuzzer target over files without libFuzzer, so every compiler
 * (and CI's sanitizer build) can replay a corpus through the same target.
 * Arguments are files or folders (not recursive). A missing path is a skip
 * (exit 77) with a message: the shared corpus is not always present.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return 0;
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	/* A private copy of exactly n bytes, so ASan sees over-reads. */
	uint8_t *copy = malloc(n ? n : 1);
	memcpy(copy, buf, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	return 1;
}

int main(int argc, char **argv)
{
	unsigned long files = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			printf("skipped: corpus %s not found\n", argv[i]);
			return 77;
		}
		if (!S_ISDIR(st.st_mode)) {
			files += run_file(argv[i]);
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		while (d != NULL && (e = readdir(d)) != NULL) {
			char path[4096];
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			files += run_file(path);
		}
		if (d != NULL)
			closedir(d);
	}
	printf("replayed %lu inputs\n", files);
	return files > 0 ? 0 : 1;
}
