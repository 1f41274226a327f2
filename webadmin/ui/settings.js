// settings.js: the Settings page: every setting the API lists, with a
// label and a hint for the known ones; only changed values are sent, all
// at once, and a refused one is marked where it is.

import { $, api, errorText, setStatus } from './api.js';

const KNOWN = {
  sip_realm: ['SIP domain (realm)', 'The domain phones use in their SIP account. Changing it makes every phone sign in again.'],
  reg_min_expires: ['Shortest registration (seconds)', 'Phones asking for less are told to ask again.'],
  reg_max_expires: ['Longest registration (seconds)', ''],
  reg_default_expires: ['Registration when the phone does not say (seconds)', ''],
  auth_nonce_lifetime: ['Sign-in challenge lifetime (seconds)', ''],
  ban_limit: ['Failed sign-ins before a ban', '0 turns banning off.'],
  ban_window: ['Counted over (seconds)', ''],
  ban_time: ['Ban length (seconds)', ''],
  ban_allow: ['Never banned (networks)', 'Comma-separated addresses or networks, e.g. 192.168.1.0/24.'],
  auth_algorithms: ['Digest algorithms offered, in order', 'MD5, SHA-256 or both; many phones read only the first.'],
  keepalive_interval: ['Keep-alive for phones behind NAT (seconds)', '0 turns it off.'],
  max_contacts: ['Phones per extension', ''],
  sip_port: ['SIP port', 'The port phones register to (UDP and TCP). A change applies at once: calls in progress go on; every phone must then be set to the new port. Empty: as pbxd was started.'],
  rtp_port_min: ['Lowest media (RTP) port', 'New calls take their audio ports from this range; calls in progress keep theirs. Empty: as pbxd was started.'],
  rtp_port_max: ['Highest media (RTP) port', 'Open this range in a firewall between the phones and the PBX.'],
  codec_order: ['Codecs, in order of preference', 'opus, PCMU and PCMA, comma separated; a codec left out is not used. Applies to new calls.'],
  smtp_host: ['Mail relay for voicemail emails', 'Host name or address of the SMTP server; empty: no emails.'],
  smtp_port: ['Mail relay port', '587 (STARTTLS), 465 (TLS) or 25.'],
  smtp_tls: ['Mail relay encryption', 'opportunistic, required, implicit or none.'],
  smtp_user: ['Mail relay user name', 'Empty: no sign-in.'],
  smtp_password: ['Mail relay password', 'Never shown; type a new one to change it.'],
  smtp_from: ['Voicemail emails come from', 'An address, e.g. pbx@example.com.'],
  smtp_ca_file: ['Mail relay CA certificates (file)', 'Empty: the system\'s.'],
};

let values = {};

function fieldId(key) {
  return 'set-' + key.replace(/[^A-Za-z0-9_-]/g, '_');
}

function render(data) {
  values = data;
  const frag = document.createDocumentFragment();
  const keys = Object.keys(data).sort((a, b) => (a in KNOWN) === (b in KNOWN) ? a.localeCompare(b) : (a in KNOWN ? -1 : 1));
  for (const key of keys) {
    const id = fieldId(key);
    const label = document.createElement('label');
    label.htmlFor = id;
    label.textContent = KNOWN[key] ? KNOWN[key][0] : key;
    const input = document.createElement('input');
    input.id = id;
    input.dataset.key = key;
    input.autocomplete = 'off';
    if (key.endsWith('password')) input.type = 'password';
    input.value = String(data[key]);
    const hint = document.createElement('p');
    hint.className = 'muted hint';
    hint.id = id + '-hint';
    hint.textContent = (KNOWN[key] && KNOWN[key][1]) ? KNOWN[key][1] : '';
    const err = document.createElement('p');
    err.className = 'error';
    err.id = id + '-error';
    input.setAttribute('aria-describedby', `${id}-hint ${id}-error`);
    frag.append(label, input, hint, err);
  }
  $('set-fields').replaceChildren(frag);
}

async function load() {
  const r = await api('GET', '/api/v1/settings');
  if (r.status === 200 && r.data) render(r.data);
  else if (r.status !== 401) $('set-error').textContent = errorText(r, 'The settings could not be read.');
}

async function save(ev) {
  ev.preventDefault();
  $('set-error').textContent = '';
  const body = {};
  for (const input of $('set-fields').querySelectorAll('input')) {
    $(input.id + '-error').textContent = '';
    input.removeAttribute('aria-invalid');
    if (input.value !== String(values[input.dataset.key])) body[input.dataset.key] = input.value.trim();
  }
  if (!Object.keys(body).length) {
    setStatus('Nothing was changed.');
    return;
  }
  const r = await api('PATCH', '/api/v1/settings', body);
  if (r.status === 200 && r.data) {
    render(r.data);
    setStatus(`${Object.keys(body).length} setting(s) saved.`);
    return;
  }
  if (r.status === 401) return;
  const field = r.data && typeof r.data.field === 'string' ? r.data.field : '';
  const input = field ? $(fieldId(field)) : null;
  if (input && input.dataset.key === field) {
    $(input.id + '-error').textContent = errorText(r, 'Not accepted.');
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  } else {
    $('set-error').textContent = errorText(r, 'The settings could not be saved.');
  }
}

export default {
  init() { $('set-form').addEventListener('submit', save); },
  show() { load(); },
  hide() {},
};
