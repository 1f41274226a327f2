// calls.js: the Calls page: the calls in progress, live from the event
// stream, each with a button that hangs it up.

import { $, api, button, cell, emptyRow, errorText, fmtDuration, setStatus, updated } from './api.js';
import { onLive } from './live.js';

const STATES = { ringing: 'Ringing', answered: 'Talking', echo: 'Echo test', feature: 'Feature code' };

let unsub = null;
let tick = 0;
let shown = [];

function duration(c) {
  const since = c.answer_at || c.start_at;
  return since ? fmtDuration((Date.now() - since) / 1000) : '';
}

function codecs(c) {
  const leg = (l) => (l && l.codec ? l.codec + (l.srtp ? ' (SRTP)' : '') : '');
  return [leg(c.a), leg(c.b)].filter(Boolean).join(' / ');
}

function render(data) {
  shown = data.items || [];
  const body = $('calls-table').tBodies[0];
  if (!shown.length) {
    emptyRow(body, 7, 'No calls right now.');
  } else {
    const rows = document.createDocumentFragment();
    for (const c of shown) {
      const tr = document.createElement('tr');
      cell(tr, c.caller);
      cell(tr, c.callee);
      cell(tr, c.dialed);
      cell(tr, STATES[c.state] || c.state);
      cell(tr, duration(c)).className = 'duration';
      cell(tr, codecs(c));
      const td = cell(tr, '');
      td.appendChild(button('Hang up', `Hang up the call from ${c.caller} to ${c.callee}`, () => hangup(c),
        'small danger'));
      rows.appendChild(tr);
    }
    body.replaceChildren(rows);
  }
  const more = shown.length < data.total ? ` (${shown.length} shown)` : '';
  $('calls-count').textContent = data.total === 1 ? '1 call now.' : `${data.total} calls now${more}.`;
  updated('calls-updated');
}

async function hangup(c) {
  if (!window.confirm(`Hang up the call from ${c.caller} to ${c.callee}?`)) return;
  const r = await api('DELETE', '/api/v1/calls/' + encodeURIComponent(c.id));
  if (r.status === 204) setStatus(`The call from ${c.caller} to ${c.callee} was hung up.`);
  else if (r.status === 404) setStatus('That call had already ended.');
  else if (r.status !== 401) setStatus(errorText(r, 'The call could not be hung up.'));
  load();
}

function countUp() {
  const cells = $('calls-table').querySelectorAll('td.duration');
  cells.forEach((td, i) => { if (shown[i]) td.textContent = duration(shown[i]); });
}

async function load() {
  const r = await api('GET', '/api/v1/calls');
  if (r.status === 200 && r.data) render(r.data);
  else if (r.status !== 401) $('calls-count').textContent = errorText(r, 'Calls are not available.');
}

export default {
  init() {},
  show() {
    load();
    if (!unsub) unsub = onLive('calls', render);
    clearInterval(tick);
    tick = setInterval(countUp, 1000);
  },
  hide() {
    if (unsub) unsub();
    unsub = null;
    clearInterval(tick);
  },
};
