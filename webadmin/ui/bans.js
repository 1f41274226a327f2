// bans.js: the Bans page: SIP sources refused after too many failed
// sign-ins, each with a button that lifts the ban.

import { $, api, button, cell, emptyRow, errorText, fmtTime, setStatus } from './api.js';

async function load() {
  const r = await api('GET', '/api/v1/bans');
  const body = $('ban-table').tBodies[0];
  if (r.status !== 200 || !r.data) {
    if (r.status !== 401) $('ban-count').textContent = errorText(r, 'Bans are not available.');
    return;
  }
  const items = r.data.items || [];
  $('ban-count').textContent = items.length === 1 ? '1 address is banned.' : `${items.length} addresses are banned.`;
  if (!items.length) {
    emptyRow(body, 4, 'Nothing is banned.');
    return;
  }
  const rows = document.createDocumentFragment();
  for (const b of items) {
    const tr = document.createElement('tr');
    cell(tr, b.addr);
    cell(tr, fmtTime(b.until * 1000));
    cell(tr, String(b.failures));
    cell(tr, '').appendChild(button('Lift', 'Lift the ban on ' + b.addr, () => lift(b.addr)));
    rows.appendChild(tr);
  }
  body.replaceChildren(rows);
}

async function lift(addr) {
  const r = await api('DELETE', '/api/v1/bans/' + encodeURIComponent(addr));
  if (r.status === 204) setStatus(`The ban on ${addr} was lifted.`);
  else if (r.status !== 401) setStatus(errorText(r, 'The ban could not be lifted.'));
  load();
}

export default {
  init() {},
  show() { load(); },
  hide() {},
};
