// history.js: the Call history page: records newest first, filtered by
// caller, callee, result and dates, a page at a time, and the same filter
// as a CSV download.

import { $, api, cell, emptyRow, errorText, FieldErrors, fmtDuration, fmtTime } from './api.js';

const PAGE = 50;
const RESULTS = {
  answered: 'Answered', busy: 'Busy', noanswer: 'Not answered', unavailable: 'Unavailable',
  cancelled: 'Cancelled', failed: 'Failed', redirected: 'Redirected', rejected: 'Rejected',
};
const errors = new FieldErrors('cdr', ['caller', 'callee', 'from', 'to'], 'cdr-error');

let offset = 0;
let total = 0;

// The filter as query arguments; dates are local days, "to" included.
function filter() {
  const q = new URLSearchParams();
  for (const k of ['caller', 'callee', 'disposition']) {
    const v = $('cdr-' + k).value.trim();
    if (v) q.set(k, v);
  }
  const from = $('cdr-from').value, to = $('cdr-to').value;
  if (from) q.set('from', String(new Date(from + 'T00:00:00').getTime()));
  if (to) {
    const end = new Date(to + 'T00:00:00');
    end.setDate(end.getDate() + 1);
    q.set('to', String(end.getTime()));
  }
  return q;
}

function codecs(c) {
  return [c.a && c.a.codec, c.b && c.b.codec].filter(Boolean).join(' / ');
}

async function load() {
  errors.clear();
  const q = filter();
  $('cdr-csv').href = '/api/v1/cdr.csv' + (q.toString() ? '?' + q.toString() : '');
  q.set('limit', String(PAGE));
  q.set('offset', String(offset));
  const r = await api('GET', '/api/v1/cdr?' + q.toString());
  if (r.status !== 200 || !r.data) {
    if (r.status === 401) return;
    if (!errors.show(r, 'The call history could not be read.')) $('cdr-count').textContent = '';
    return;
  }
  total = r.data.total;
  const rows = r.data.rows || [];
  const body = $('cdr-table').tBodies[0];
  if (!rows.length) {
    emptyRow(body, 7, 'No calls match.');
  } else {
    const frag = document.createDocumentFragment();
    for (const c of rows) {
      const tr = document.createElement('tr');
      cell(tr, fmtTime(c.start_at));
      cell(tr, c.caller);
      cell(tr, c.dialed);
      cell(tr, c.callee);
      cell(tr, RESULTS[c.disposition] || c.disposition);
      cell(tr, c.answer_at ? fmtDuration((c.end_at - c.answer_at) / 1000) : '');
      cell(tr, codecs(c));
      frag.appendChild(tr);
    }
    body.replaceChildren(frag);
  }
  $('cdr-count').textContent = total
    ? `Calls ${offset + 1}–${offset + rows.length} of ${total}, newest first.` : 'No calls match.';
  $('cdr-prev').disabled = offset === 0;
  $('cdr-next').disabled = offset + rows.length >= total;
}

export default {
  init() {
    $('cdr-filter').addEventListener('submit', (ev) => {
      ev.preventDefault();
      if ($('cdr-from').value && $('cdr-to').value && $('cdr-to').value < $('cdr-from').value) {
        errors.show({ data: { field: 'to', error: 'The end date is before the start date.' } });
        return;
      }
      offset = 0;
      load();
    });
    $('cdr-clear').addEventListener('click', () => {
      $('cdr-filter').reset();
      offset = 0;
      load();
    });
    $('cdr-prev').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); load(); });
    $('cdr-next').addEventListener('click', () => { if (offset + PAGE < total) { offset += PAGE; load(); } });
  },
  show() { load(); },
  hide() {},
};
