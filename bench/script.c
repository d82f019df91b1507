// SPDX-License-Identifier: MIT
/*
 * Suites whose work is a shell script (they boot guests): find the script beside the build, run
 * it, and report the "ROW\tcase\tmetric\tvalue\tunit\tbaseline" lines it prints on stdout.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

bool bench_beside_exe(const char *rel, char *out, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat st;
	char *slash;

	if (n <= 0)
		return false;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return false;
	*slash = '\0';
	if (snprintf(out, size, "%s/%s", exe, rel) >= (int)size)
		return false;
	return stat(out, &st) == 0 && S_ISREG(st.st_mode);
}

/* One "ROW\tcase\tmetric\tvalue\tunit\tbaseline" line of the script; anything else is ignored. */
static void parse_row(struct bench_ctx *ctx, char *line)
{
	char *f[6] = { 0 };
	size_t n = 0;
	char *end;
	double v;

	line[strcspn(line, "\n")] = '\0';
	for (char *s = line; n < 6; n++) {
		f[n] = s;
		s = strchr(s, '\t');
		if (!s) {
			n++;
			break;
		}
		*s++ = '\0';
	}
	if (n < 5 || strcmp(f[0], "ROW"))
		return;
	errno = 0;
	v = strtod(f[3], &end);
	if (errno || end == f[3])
		return;
	bench_report(ctx, f[1], f[2], v, f[4], n > 5 && f[5][0] ? f[5] : NULL);
}

int bench_run_script(struct bench_ctx *ctx, const char *const *argv)
{
	char line[512];
	int pfd[2], status;
	FILE *in;
	pid_t pid;

	if (pipe(pfd) < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		/* The script's stdout carries rows only; its notes go to our stderr. */
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		execv("/bin/sh", (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	in = fdopen(pfd[0], "r");
	if (!in) {
		close(pfd[0]);
		waitpid(pid, &status, 0);
		return -1;
	}
	while (fgets(line, sizeof(line), in))
		parse_row(ctx, line);
	fclose(in);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return 0;
}
