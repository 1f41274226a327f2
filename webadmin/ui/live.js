// live.js: one EventSource on /api/v1/events for the whole signed-in
// session. The server sends "registrations", "calls", "stats" and "rooms"
// events, each the body of the GET of the same name (rooms: /rooms/live),
// whenever they change; pages
// subscribe to the kinds they show and get the latest one at once.
//
// The browser reconnects a dropped stream by itself. A stream refused
// (401 after the session ended, 503 when too many are open) is closed for
// good by the browser: then the session is checked and, while it lives,
// the stream is opened again after a pause.

import { $, api } from './api.js';

const KINDS = ['registrations', 'calls', 'stats', 'rooms'];
const REOPEN_MS = 5000;

let es = null;
let reopenTimer = 0;
const subs = { registrations: new Set(), calls: new Set(), stats: new Set(), rooms: new Set() };
const last = {};

function state(text, ok) {
  const el = $('live-state');
  el.hidden = false;
  el.textContent = text;
  el.classList.toggle('live-ok', ok);
}

function open() {
  clearTimeout(reopenTimer);
  reopenTimer = 0;
  es = new EventSource('/api/v1/events');
  for (const k of KINDS) {
    es.addEventListener(k, (e) => {
      let d;
      try { d = JSON.parse(e.data); } catch (err) { return; }
      last[k] = d;
      for (const fn of subs[k]) fn(d);
    });
  }
  es.onopen = () => state('Live', true);
  es.onerror = () => {
    if (!es) return;
    if (es.readyState === EventSource.CLOSED) {
      es.close();
      es = null;
      state('Not live', false);
      reopenTimer = setTimeout(async () => {
        const r = await api('GET', '/api/v1/session');
        if (r.status === 200) open();
      }, REOPEN_MS);
    } else {
      state('Reconnecting…', false);
    }
  };
}

export function liveStart() {
  if (!es && !reopenTimer) open();
}

export function liveStop() {
  clearTimeout(reopenTimer);
  reopenTimer = 0;
  if (es) es.close();
  es = null;
  for (const k of KINDS) delete last[k];
  $('live-state').hidden = true;
}

// Call fn with every new snapshot of kind (and the latest one now, if
// any). Returns the function that ends the subscription.
export function onLive(kind, fn) {
  subs[kind].add(fn);
  if (last[kind]) fn(last[kind]);
  return () => subs[kind].delete(fn);
}
