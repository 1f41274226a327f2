// voicemail.js: the Voicemail page: every mailbox with its new and old
// message counts; for the mailbox chosen ("#voicemail/NUMBER") its
// messages, each with a player (the recording is served with HTTP Range,
// so the player can seek), a download link, mark heard / not heard, save
// and delete (after a confirmation), and the mailbox's settings. Playing a
// message marks it heard, as listening by phone does. Every text from the
// server goes in with textContent.

import { $, api, button, cell, emptyRow, errorText, FieldErrors, fmtDuration, fmtTime, setStatus } from './api.js';

const FIELDS = ['pin', 'email', 'email_attach', 'max_msg_seconds', 'max_messages', 'vm_on', 'unsolicited_mwi'];
const VM_ON = [
  ['noanswer', 'Not answered'],
  ['busy', 'Busy'],
  ['unavailable', 'No phone registered'],
  ['dnd', 'Do not disturb is on'],
];
const errors = new FieldErrors('vm', FIELDS);

let boxes = [];          // GET /api/v1/voicemail items
let current = '';        // the mailbox shown, '' for none
let msgs = [];           // its messages

const enc = encodeURIComponent;
const msgPath = (m) => `/api/v1/voicemail/${enc(m.mailbox)}/messages/${enc(String(m.id))}`;

// ---- mailboxes ---------------------------------------------------------------

function renderBoxes() {
  const body = $('vm-boxes').tBodies[0];
  const waiting = boxes.filter((b) => b.new > 0).length;
  $('vm-count').textContent = `${boxes.length} mailbox${boxes.length === 1 ? '' : 'es'}, ${waiting} with new ` +
    `messages. Open one to listen to its messages and change its settings.`;
  if (!boxes.length) {
    emptyRow(body, 4, 'No mailboxes: every extension has one.');
    return;
  }
  const frag = document.createDocumentFragment();
  for (const b of boxes) {
    const tr = document.createElement('tr');
    // The number opens the mailbox: a link, so it works by keyboard and
    // stays in the first column on a narrow screen.
    const link = document.createElement('a');
    link.href = '#voicemail/' + enc(b.mailbox);
    link.textContent = b.mailbox;
    link.setAttribute('aria-label', 'Open mailbox ' + b.mailbox);
    if (b.mailbox === current) link.setAttribute('aria-current', 'true');
    cell(tr, '').appendChild(link);
    cell(tr, String(b.new));
    cell(tr, String(b.old));
    cell(tr, b.email || '');
    frag.appendChild(tr);
  }
  body.replaceChildren(frag);
}

async function loadBoxes() {
  const r = await api('GET', '/api/v1/voicemail');
  if (r.status === 200 && r.data) {
    boxes = r.data.items || [];
    renderBoxes();
  } else if (r.status !== 401) {
    setStatus(errorText(r, 'The mailboxes could not be read.'));
  }
}

// ---- messages ----------------------------------------------------------------

function heardText(m) { return m.heard ? 'Yes' : 'No'; }

function emailText(m) {
  return m.email_status || '';
}

// The row's Heard cell and its toggle follow m without rebuilding the row
// (a rebuilt row would stop its player).
function refreshRow(tr, m) {
  tr.querySelector('.vm-heard').textContent = heardText(m);
  const t = tr.querySelector('.vm-toggle');
  t.textContent = m.heard ? 'Mark new' : 'Mark heard';
  t.setAttribute('aria-label', (m.heard ? 'Mark as not heard: message ' : 'Mark as heard: message ') + m.id);
  const save = tr.querySelector('.vm-save');
  if (save) save.hidden = m.folder === 'old';
}

async function patch(m, body, tr, done) {
  const r = await api('PATCH', msgPath(m), body);
  if (r.status === 200 && r.data) {
    Object.assign(m, r.data);
    refreshRow(tr, m);
    if (done) setStatus(done);
    loadBoxes();
  } else if (r.status === 404) {
    setStatus('That message is gone.');
    loadMessages();
  } else if (r.status !== 401) {
    setStatus(errorText(r, 'The message could not be changed.'));
  }
}

async function remove(m) {
  const who = m.caller_name ? `${m.caller_name} (${m.caller})` : m.caller;
  if (!window.confirm(`Delete the message from ${who} received ${fmtTime(m.received_at)}? It cannot be undone.`)) return;
  const r = await api('DELETE', msgPath(m));
  if (r.status === 204 || r.status === 404) {
    setStatus(r.status === 204 ? 'The message was deleted.' : 'That message was already gone.');
    loadMessages();
    loadBoxes();
  } else if (r.status !== 401) {
    setStatus(errorText(r, 'The message could not be deleted.'));
  }
}

function messageRow(m) {
  const tr = document.createElement('tr');
  cell(tr, fmtTime(m.received_at));
  cell(tr, m.caller_name ? `${m.caller_name} (${m.caller})` : m.caller);
  cell(tr, fmtDuration(Math.round(m.duration_ms / 1000)));
  cell(tr, heardText(m)).className = 'vm-heard';
  cell(tr, emailText(m));
  const play = cell(tr, '');
  const audio = document.createElement('audio');
  audio.controls = true;
  audio.preload = 'none';       // nothing is fetched until asked for
  audio.src = msgPath(m) + '/audio';
  audio.className = 'vm-audio';
  audio.setAttribute('aria-label', 'Message from ' + m.caller);
  audio.addEventListener('play', () => {
    if (!m.heard) patch(m, { heard: true }, tr);
  });
  play.appendChild(audio);
  // The actions under the player: one column less to scroll on a phone.
  const td = document.createElement('div');
  td.className = 'vm-actions';
  play.appendChild(td);
  const dl = document.createElement('a');
  dl.className = 'button-link small';
  dl.href = msgPath(m) + '/audio?download=1';
  dl.textContent = 'Download';
  dl.setAttribute('aria-label', 'Download message ' + m.id);
  dl.setAttribute('download', '');
  td.appendChild(dl);
  const toggle = button('', '', () => patch(m, { heard: !m.heard }, tr), 'small secondary vm-toggle');
  td.appendChild(toggle);
  const save = button('Save', 'Save message ' + m.id + ' (move it to old)',
    () => patch(m, { folder: 'old' }, tr, 'The message was saved.'), 'small secondary vm-save');
  td.appendChild(save);
  td.appendChild(button('Delete', 'Delete message ' + m.id, () => remove(m), 'small danger'));
  refreshRow(tr, m);
  return tr;
}

function renderMessages() {
  const body = $('vm-msgs').tBodies[0];
  const nNew = msgs.filter((m) => m.folder === 'new').length;
  $('vm-msg-count').textContent = msgs.length
    ? `${msgs.length} message${msgs.length === 1 ? '' : 's'}, ${nNew} new.` : '';
  if (!msgs.length) {
    emptyRow(body, 6, 'No messages.');
    return;
  }
  const frag = document.createDocumentFragment();
  for (const m of msgs) frag.appendChild(messageRow(m));
  body.replaceChildren(frag);
}

async function loadMessages() {
  if (!current) return;
  const box = current;
  const r = await api('GET', `/api/v1/voicemail/${enc(box)}/messages`);
  if (box !== current) return; // another mailbox was chosen meanwhile
  if (r.status === 200 && r.data) {
    msgs = r.data.items || [];
    renderMessages();
  } else if (r.status === 404) {
    setStatus(`There is no mailbox ${box}.`);
    current = '';
    $('vm-box').hidden = true;
  } else if (r.status !== 401) {
    setStatus(errorText(r, 'The messages could not be read.'));
  }
}

// ---- settings ------------------------------------------------------------------

function fillForm(b) {
  errors.clear();
  $('vm-form-number').textContent = b.mailbox;
  $('vm-pin').value = '';
  $('vm-pin-hint').textContent = b.pin_set ? 'A PIN is set.' : 'No PIN is set: the mailbox cannot be opened by phone.';
  $('vm-pin-clear').checked = false;
  $('vm-pin-clear-box').hidden = !b.pin_set;
  $('vm-email').value = b.email || '';
  $('vm-email_attach').checked = !!b.email_attach;
  $('vm-max_msg_seconds').value = String(b.max_msg_seconds);
  $('vm-max_messages').value = String(b.max_messages);
  const on = new Set(b.vm_on || []);
  for (const [k] of VM_ON) $('vm-on-' + k).checked = on.has(k);
  $('vm-unsolicited_mwi').checked = !!b.unsolicited_mwi;
}

async function loadSettings() {
  if (!current) return;
  const box = current;
  const r = await api('GET', `/api/v1/voicemail/${enc(box)}`);
  if (box !== current) return;
  if (r.status === 200 && r.data) fillForm(r.data);
  else if (r.status !== 401 && r.status !== 404) setStatus(errorText(r, 'The mailbox settings could not be read.'));
}

function intField(id) {
  const v = $(id).value.trim();
  return /^\d+$/.test(v) ? Number(v) : v; // not a number: the API names the field
}

async function saveSettings(ev) {
  ev.preventDefault();
  errors.clear();
  const body = {
    email: $('vm-email').value.trim(),
    email_attach: $('vm-email_attach').checked,
    max_msg_seconds: intField('vm-max_msg_seconds'),
    max_messages: intField('vm-max_messages'),
    vm_on: VM_ON.map(([k]) => k).filter((k) => $('vm-on-' + k).checked),
    unsolicited_mwi: $('vm-unsolicited_mwi').checked,
  };
  const pin = $('vm-pin').value.trim();
  if (pin) body.pin = pin;
  else if ($('vm-pin-clear').checked) body.pin = '';
  const box = current;
  const r = await api('PATCH', `/api/v1/voicemail/${enc(box)}`, body);
  if (r.status === 200 && r.data) {
    fillForm(r.data);
    setStatus(`The settings of mailbox ${box} were saved.`);
    loadBoxes();
  } else if (r.status !== 401) {
    errors.show(r, 'The settings could not be saved.');
  }
}

export default {
  init() {
    const box = $('vm-vm_on');
    for (const [k, label] of VM_ON) {
      const l = document.createElement('label');
      l.className = 'check';
      const input = document.createElement('input');
      input.type = 'checkbox';
      input.id = 'vm-on-' + k;
      l.appendChild(input);
      l.appendChild(document.createTextNode(label));
      box.appendChild(l);
    }
    $('vm-form').addEventListener('submit', saveSettings);
  },
  show(arg) {
    const next = arg && /^\d{1,15}$/.test(arg) ? arg : '';
    const changed = next !== current;
    current = next;
    $('vm-number').textContent = current;
    $('vm-box').hidden = !current;
    loadBoxes();
    if (current) {
      if (changed) {
        msgs = [];
        $('vm-msgs').tBodies[0].replaceChildren();
        $('vm-box-title').focus();
      }
      loadMessages();
      loadSettings();
    }
  },
  hide() {
    // Stop any message still playing.
    for (const a of document.querySelectorAll('#vm-msgs audio')) a.pause();
  },
};
