/*
 * sd_notify.h: tell systemd about readiness (Type=notify) with one datagram
 * to $NOTIFY_SOCKET; no libsystemd needed. A no-op outside systemd.
 */
#ifndef PBX_SD_NOTIFY_H
#define PBX_SD_NOTIFY_H

void sd_notify_send(const char *state);

#endif
