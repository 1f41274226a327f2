// registrations.js: the Registrations page: the phones registered now,
// loaded once when shown and then kept up to date by the live event stream.

import { $, api, cell, emptyRow, errorText, updated } from './api.js';
import { onLive } from './live.js';

let unsub = null;
let tick = 0;
let shown = [];

function fmtExpires(t) {
  const left = Math.round(t - Date.now() / 1000);
  return left > 0 ? `in ${left} s` : 'now';
}

function render(data) {
  shown = data.items || [];
  const body = $('reg-table').tBodies[0];
  if (!shown.length) {
    emptyRow(body, 5, 'No phone is registered.');
  } else {
    const rows = document.createDocumentFragment();
    for (const b of shown) {
      const tr = document.createElement('tr');
      cell(tr, b.extension || '');
      cell(tr, b.source || '');
      cell(tr, b.transport || '');
      cell(tr, b.user_agent || '');
      cell(tr, fmtExpires(b.expires_at)).className = 'expires';
      rows.appendChild(tr);
    }
    body.replaceChildren(rows);
  }
  const more = shown.length < data.total ? ` (${shown.length} shown)` : '';
  $('reg-count').textContent = `${data.total} registered${more}.`;
  updated('reg-updated');
}

// The "expires in" column counts down between updates.
function countDown() {
  const cells = $('reg-table').querySelectorAll('td.expires');
  cells.forEach((td, i) => { if (shown[i]) td.textContent = fmtExpires(shown[i].expires_at); });
}

async function load() {
  const r = await api('GET', '/api/v1/registrations');
  if (r.status === 200 && r.data) render(r.data);
  else if (r.status !== 401) $('reg-count').textContent = errorText(r, 'Registrations are not available.');
}

export default {
  init() {},
  show() {
    load();
    if (!unsub) unsub = onLive('registrations', render);
    clearInterval(tick);
    tick = setInterval(countDown, 1000);
  },
  hide() {
    if (unsub) unsub();
    unsub = null;
    clearInterval(tick);
  },
};
