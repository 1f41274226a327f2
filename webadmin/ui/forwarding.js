// forwarding.js: the Forwarding page: for one extension, where calls go
// when it is busy, does not answer, or always; do not disturb; how long it
// rings; and its call options. "#forwarding/201" opens extension 201.
// The API checks every field; its {"error","field"} is shown next to the
// field it names, and nothing is changed then.

import { $, api, errorText, FieldErrors, setStatus } from './api.js';

const TARGETS = ['always', 'busy', 'noanswer'];
const FLAGS = ['dnd', 'redirect', 'require_srtp'];
const errors = new FieldErrors('fwd', [...TARGETS, 'ring_time']);

let number = '';

async function fillNumbers() {
  const r = await api('GET', '/api/v1/extensions?limit=1000');
  if (r.status !== 200 || !r.data) return;
  const frag = document.createDocumentFragment();
  for (const e of r.data.items || []) {
    const o = document.createElement('option');
    o.value = e.number;
    o.label = e.name ? `${e.number} ${e.name}` : e.number;
    frag.appendChild(o);
  }
  $('ext-numbers').replaceChildren(frag);
}

async function open(n) {
  $('fwd-ext-error').textContent = '';
  errors.clear();
  const r = await api('GET', '/api/v1/extensions/' + encodeURIComponent(n) + '/forwarding');
  if (r.status !== 200 || !r.data) {
    $('fwd-form').hidden = true;
    if (r.status !== 401) $('fwd-ext-error').textContent = r.status === 404 ? `There is no extension ${n}.`
      : errorText(r, 'The forwarding could not be read.');
    return;
  }
  number = r.data.number;
  $('fwd-ext').value = number;
  $('fwd-number').textContent = number;
  for (const t of TARGETS) $('fwd-' + t).value = r.data[t] || '';
  $('fwd-ring_time').value = r.data.ring_time;
  for (const f of FLAGS) $('fwd-' + f).checked = !!r.data[f];
  $('fwd-form').hidden = false;
}

function pick(ev) {
  ev.preventDefault();
  const n = $('fwd-ext').value.trim();
  if (!n) {
    $('fwd-ext-error').textContent = 'Type an extension number.';
    $('fwd-ext').focus();
    return;
  }
  if (location.hash === '#forwarding/' + n) open(n);
  else location.hash = '#forwarding/' + encodeURIComponent(n);
}

async function save(ev) {
  ev.preventDefault();
  errors.clear();
  const body = {};
  for (const t of TARGETS) body[t] = $('fwd-' + t).value.trim();
  for (const f of FLAGS) body[f] = $('fwd-' + f).checked;
  const rt = $('fwd-ring_time').value.trim();
  if (!/^\d{1,4}$/.test(rt)) {
    errors.show({ data: { field: 'ring_time', error: 'ring_time: a whole number of seconds' } });
    return;
  }
  body.ring_time = Number(rt);
  const r = await api('PUT', '/api/v1/extensions/' + encodeURIComponent(number) + '/forwarding', body);
  if (r.status === 200) {
    setStatus(`Forwarding of ${number} saved.`);
    return;
  }
  if (r.status !== 401) errors.show(r, 'The forwarding could not be saved.');
}

export default {
  init() {
    $('fwd-pick').addEventListener('submit', pick);
    $('fwd-form').addEventListener('submit', save);
  },
  show(arg) {
    fillNumbers();
    if (arg) open(arg);
    else {
      $('fwd-form').hidden = true;
      $('fwd-ext').value = '';
    }
  },
  hide() {},
};
