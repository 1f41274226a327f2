// conferences.js: the Conferences page: the conference rooms (add, edit,
// delete) and, for each room in use, who is in it right now, live from
// the event stream ("rooms" events, the body of GET /api/v1/rooms/live),
// with Mute/Unmute and Remove for each participant and Lock/Unlock for the
// room. Every text from the server or the user goes in with textContent.

import { $, api, button, cell, emptyRow, errorText, FieldErrors, fmtDuration, setStatus, updated } from './api.js';
import { onLive } from './live.js';

const FIELDS = ['number', 'name', 'pin', 'moderator_pin', 'max_participants', 'options'];
const OPTIONS = [
  ['announce', 'Announce joins and leaves'],
  ['wait-moderator', 'Wait for a moderator'],
  ['join-muted', 'Participants join muted'],
  ['end-with-moderator', 'End when the last moderator leaves'],
];
const errors = new FieldErrors('conf', FIELDS);

let rooms = [];           // GET /api/v1/rooms items
let live = { items: [], total: 0 };
let editing = '';         // the number of the room being edited, '' when adding
let unsub = null;
let tick = 0;

function optionsText(opts) {
  if (!opts) return '';
  return opts.split(',').map((o) => (OPTIONS.find((x) => x[0] === o) || [o, o])[1]).join(', ');
}

// ---- the rooms -------------------------------------------------------------

function renderRooms() {
  const body = $('conf-table').tBodies[0];
  if (!rooms.length) {
    emptyRow(body, 7, 'No conference rooms yet.');
    return;
  }
  const frag = document.createDocumentFragment();
  for (const rm of rooms) {
    const tr = document.createElement('tr');
    cell(tr, rm.number);
    cell(tr, rm.name);
    cell(tr, rm.pin_set ? 'Set' : 'None');
    cell(tr, rm.moderator_pin_set ? 'Set' : 'None');
    cell(tr, String(rm.max_participants));
    cell(tr, optionsText(rm.options));
    const td = cell(tr, '');
    td.className = 'row-actions';
    td.appendChild(button('Edit', 'Edit room ' + rm.number, () => startEdit(rm)));
    td.appendChild(button('Delete', 'Delete room ' + rm.number, () => remove(rm), 'small danger'));
    frag.appendChild(tr);
  }
  body.replaceChildren(frag);
}

async function loadRooms() {
  const r = await api('GET', '/api/v1/rooms');
  if (r.status === 200 && r.data) {
    rooms = r.data.items || [];
    renderRooms();
    renderLive(live);
  } else if (r.status !== 401) {
    setStatus(errorText(r, 'The rooms could not be read.'));
  }
}

function setOptions(list) {
  const on = new Set((list || '').split(',').filter(Boolean));
  for (const [o] of OPTIONS) $('conf-opt-' + o).checked = on.has(o);
}

function formOptions() {
  return OPTIONS.map(([o]) => o).filter((o) => $('conf-opt-' + o).checked).join(',');
}

function startEdit(rm) {
  editing = rm.number;
  errors.clear();
  $('conf-form-title').textContent = 'Edit room ' + rm.number;
  $('conf-number').value = rm.number;
  $('conf-number').readOnly = true;
  $('conf-name').value = rm.name;
  $('conf-pin').value = '';
  $('conf-moderator_pin').value = '';
  $('conf-max_participants').value = String(rm.max_participants);
  setOptions(rm.options);
  for (const f of ['pin', 'moderator_pin']) {
    const set = f === 'pin' ? rm.pin_set : rm.moderator_pin_set;
    $('conf-' + f + '-hint').textContent = set ? 'A PIN is set: leave empty to keep it.' : 'No PIN: leave empty for none.';
    $('conf-' + f + '-clear').checked = false;
    $('conf-' + f + '-clear-box').hidden = !set;
  }
  $('conf-submit').textContent = 'Save room';
  $('conf-cancel').hidden = false;
  $('conf-name').focus();
}

function stopEdit() {
  editing = '';
  errors.clear();
  $('conf-form').reset();
  $('conf-form-title').textContent = 'Add a room';
  $('conf-number').readOnly = false;
  for (const f of ['pin', 'moderator_pin']) {
    $('conf-' + f + '-hint').textContent = '';
    $('conf-' + f + '-clear-box').hidden = true;
  }
  $('conf-submit').textContent = 'Add room';
  $('conf-cancel').hidden = true;
}

// What the form says, checked here first where the rule is plain; the
// server checks everything again and its answer is shown the same way.
function formBody() {
  const b = { name: $('conf-name').value.trim(), options: formOptions() };
  if (!editing) b.number = $('conf-number').value.trim();
  for (const f of ['pin', 'moderator_pin']) {
    const v = $('conf-' + f).value.trim();
    if (editing && $('conf-' + f + '-clear').checked) b[f] = '';
    else if (v || !editing) b[f] = v;
  }
  const max = $('conf-max_participants').value.trim();
  if (max !== '') b.max_participants = /^\d+$/.test(max) ? Number(max) : max;
  return b;
}

function localCheck(b) {
  const bad = (field, error) => ({ status: 400, data: { error, field } });
  if (!editing && !/^\d{2,15}$/.test(b.number)) return bad('number', 'number: 2 to 15 digits');
  for (const f of ['pin', 'moderator_pin']) {
    if (b[f] && !/^\d{4,12}$/.test(b[f])) return bad(f, f + ': empty or 4 to 12 digits');
  }
  if ('max_participants' in b && (typeof b.max_participants !== 'number' || b.max_participants < 1 ||
      b.max_participants > 500)) return bad('max_participants', 'max_participants: 1 to 500');
  return null;
}

async function submit(ev) {
  ev.preventDefault();
  errors.clear();
  const b = formBody();
  const wrong = localCheck(b);
  if (wrong) {
    errors.show(wrong, 'Not accepted.');
    return;
  }
  const r = editing ? await api('PATCH', '/api/v1/rooms/' + encodeURIComponent(editing), b)
    : await api('POST', '/api/v1/rooms', b);
  if (r.status === 201 || r.status === 204) {
    setStatus(editing ? `Room ${editing} saved.` : `Room ${b.number} added.`);
    stopEdit();
    loadRooms();
    return;
  }
  if (r.status !== 401) errors.show(r, 'Not accepted.');
}

async function remove(rm) {
  if (!window.confirm(`Delete room ${rm.number}? Who is in it now stays until they hang up.`)) return;
  const r = await api('DELETE', '/api/v1/rooms/' + encodeURIComponent(rm.number));
  if (r.status === 204) setStatus(`Room ${rm.number} deleted.`);
  else if (r.status !== 401) setStatus(errorText(r, 'The room could not be deleted.'));
  if (editing === rm.number) stopEdit();
  loadRooms();
}

// ---- who is in the rooms now ----------------------------------------------------

function since(ms) {
  return ms ? fmtDuration((Date.now() - ms) / 1000) : '';
}

function participantRow(room, p) {
  const tr = document.createElement('tr');
  const who = p.number + (p.name ? ' (' + p.name + ')' : '');
  cell(tr, p.number);
  cell(tr, p.name);
  const t = cell(tr, since(p.joined_at));
  t.className = 'joined';
  t.dataset.since = String(p.joined_at || 0);
  cell(tr, [p.moderator ? 'Moderator' : '', p.muted ? 'Muted' : 'Speaking allowed'].filter(Boolean).join(', '));
  const td = cell(tr, '');
  td.className = 'row-actions';
  td.appendChild(button(p.muted ? 'Unmute' : 'Mute', `${p.muted ? 'Unmute' : 'Mute'} ${who} in room ${room.number}`,
    () => mute(room, p, !p.muted)));
  td.appendChild(button('Remove', `Remove ${who} from room ${room.number}`, () => kick(room, p), 'small danger'));
  return tr;
}

function renderLive(data) {
  live = data || { items: [], total: 0 };
  const box = $('conf-live');
  const items = live.items || [];
  if (!items.length) {
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = 'Nobody is in a conference room right now.';
    box.replaceChildren(p);
  } else {
    const frag = document.createDocumentFragment();
    for (const room of items) {
      const known = rooms.find((x) => x.number === room.number);
      const sec = document.createElement('section');
      sec.className = 'card wide conf-room';
      sec.dataset.room = room.number;
      const h = document.createElement('h4');
      h.textContent = 'Room ' + room.number + (known && known.name ? ' – ' + known.name : '');
      sec.appendChild(h);
      const p = document.createElement('p');
      p.className = 'muted';
      const n = room.count === 1 ? '1 participant' : `${room.count} participants`;
      p.textContent = n + (room.locked ? '. Locked: only a moderator can join.' : '. Open.');
      sec.appendChild(p);
      sec.appendChild(button(room.locked ? 'Unlock' : 'Lock', `${room.locked ? 'Unlock' : 'Lock'} room ${room.number}`,
        () => lock(room, !room.locked), 'small secondary'));
      const scroll = document.createElement('div');
      scroll.className = 'scroll';
      const table = document.createElement('table');
      const cap = document.createElement('caption');
      cap.className = 'sr-only';
      cap.textContent = 'Participants in room ' + room.number;
      table.appendChild(cap);
      const head = table.createTHead().insertRow();
      for (const t of ['Extension', 'Name', 'In the room', 'State', '']) {
        const th = document.createElement('th');
        th.scope = 'col';
        if (t) th.textContent = t;
        else {
          const s = document.createElement('span');
          s.className = 'sr-only';
          s.textContent = 'Actions';
          th.appendChild(s);
        }
        head.appendChild(th);
      }
      const body = table.createTBody();
      for (const part of room.participants || []) body.appendChild(participantRow(room, part));
      scroll.appendChild(table);
      sec.appendChild(scroll);
      frag.appendChild(sec);
    }
    box.replaceChildren(frag);
  }
  const more = live.total > items.reduce((s, r) => s + (r.participants || []).length, 0) ? ' (not all shown)' : '';
  $('conf-live-count').textContent = (live.total === 1 ? '1 participant' : `${live.total || 0} participants`) +
    ' in ' + (items.length === 1 ? '1 room' : `${items.length} rooms`) + more + '.';
  updated('conf-live-updated');
}

async function loadLive() {
  const r = await api('GET', '/api/v1/rooms/live');
  if (r.status === 200 && r.data) renderLive(r.data);
  else if (r.status !== 401) $('conf-live-count').textContent = errorText(r, 'Live rooms are not available.');
}

// After a control, the next "rooms" event brings the change; ask at once
// so the page does not wait for it.
async function after(r, done, gone) {
  if (r.status === 200 || r.status === 204) setStatus(done);
  else if (r.status === 404) setStatus(gone);
  else if (r.status !== 401) setStatus(errorText(r, 'Not done.'));
  loadLive();
}

async function mute(room, p, muted) {
  const r = await api('POST', `/api/v1/rooms/${encodeURIComponent(room.number)}/participants/` +
    `${encodeURIComponent(p.id)}/mute`, { muted });
  after(r, `${p.number} is ${muted ? 'muted' : 'unmuted'} in room ${room.number}.`, `${p.number} has left room ${room.number}.`);
}

async function kick(room, p) {
  if (!window.confirm(`Remove ${p.number} from room ${room.number}? The call is hung up.`)) return;
  const r = await api('DELETE', `/api/v1/rooms/${encodeURIComponent(room.number)}/participants/` +
    encodeURIComponent(p.id));
  after(r, `${p.number} was removed from room ${room.number}.`, `${p.number} had already left room ${room.number}.`);
}

async function lock(room, locked) {
  const r = await api('POST', `/api/v1/rooms/${encodeURIComponent(room.number)}/lock`, { locked });
  after(r, `Room ${room.number} is ${locked ? 'locked' : 'unlocked'}.`, `Nobody is in room ${room.number} any more.`);
}

function countUp() {
  for (const td of $('conf-live').querySelectorAll('td.joined')) {
    const ms = Number(td.dataset.since);
    if (ms) td.textContent = since(ms);
  }
}

export default {
  init() {
    const box = $('conf-options');
    for (const [o, text] of OPTIONS) {
      const label = document.createElement('label');
      label.className = 'check';
      const input = document.createElement('input');
      input.type = 'checkbox';
      input.id = 'conf-opt-' + o;
      label.appendChild(input);
      label.appendChild(document.createTextNode(text));
      box.appendChild(label);
    }
    $('conf-form').addEventListener('submit', submit);
    $('conf-cancel').addEventListener('click', stopEdit);
  },
  show() {
    loadRooms();
    loadLive();
    if (!unsub) unsub = onLive('rooms', renderLive);
    clearInterval(tick);
    tick = setInterval(countUp, 1000);
  },
  hide() {
    if (unsub) unsub();
    unsub = null;
    clearInterval(tick);
  },
};
