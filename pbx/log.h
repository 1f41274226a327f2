/*
 * log.h: log lines to stderr with syslog level prefixes ("<3>" ...), which
 * journald turns into priorities. One process-wide level, set at start-up
 * before any thread runs and only read afterwards.
 */
#ifndef PBX_LOG_H
#define PBX_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERR = 3, LOG_WARN = 4, LOG_NOTICE = 5, LOG_INFO = 6, LOG_DEBUG = 7 };

extern enum log_level log_level_max;

void log_set_level(enum log_level lvl);
/* "err", "warning", "notice", "info", "debug"; -1 when unknown. */
int log_level_parse(const char *name);
bool log_enabled(enum log_level lvl);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_level_max >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
