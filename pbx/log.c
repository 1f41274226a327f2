/*
 * log.c: stderr logging with journald level prefixes. Each line is written
 * with one write(2) so lines from different threads never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum log_level log_level_max = LOG_NOTICE;

void log_set_level(enum log_level lvl) { log_level_max = lvl; }

bool log_enabled(enum log_level lvl) { return lvl <= log_level_max; }

int log_level_parse(const char *name)
{
	static const struct { const char *name; enum log_level lvl; } names[] = {
		{ "err", LOG_ERR }, { "error", LOG_ERR }, { "warning", LOG_WARN },
		{ "warn", LOG_WARN }, { "notice", LOG_NOTICE }, { "info", LOG_INFO },
		{ "debug", LOG_DEBUG },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(name, names[i].name) == 0)
			return (int)names[i].lvl;
	return -1;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if (lvl > log_level_max)
		return;
	char line[2048];
	int n = snprintf(line, sizeof line, "<%d>", (int)lvl);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	/* Never let a control character from the network split or forge a line. */
	for (size_t i = (size_t)n; i < len; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			line[i] = '?';
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}
