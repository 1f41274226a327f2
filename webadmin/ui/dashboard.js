// dashboard.js: the Dashboard: phones registered out of all extensions,
// calls now and the machine's load (live from the event stream), and the
// calls of the last 24 hours per hour from the call history, drawn as an
// SVG bar chart (made with DOM calls: no markup strings, no inline style).

import { $, api, updated } from './api.js';
import { onLive } from './live.js';

const SVG = 'http://www.w3.org/2000/svg';
const HOUR = 3600 * 1000;
const CDR_PAGE = 1000;
const CDR_PAGES_MAX = 20;        // 20,000 calls a day is beyond a small office
const CHART_REFRESH_MS = 5 * 60 * 1000;
const CDR_WRITE_DELAY_MS = 2500; // a call's record is written a moment after it ends

let unsubs = [];
let chartTimer = 0;
let lastCalls = -1;

function svg(name, attrs, parent) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (parent) parent.appendChild(el);
  return el;
}

function hourLabel(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

// Draw 24 hourly bars; each bar is the answered calls with the others on
// top of them.
function drawChart(first, hours) {
  const W = 720, H = 220, L = 36, B = 28, T = 10;
  const max = Math.max(1, ...hours.map((h) => h.all));
  const step = max <= 5 ? 1 : Math.ceil(max / 5);
  const top = Math.ceil(max / step) * step;
  const bw = (W - L) / 24;
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', 'aria-hidden': 'true', focusable: 'false' });
  for (let v = 0; v <= top; v += step) {
    svg('line', { x1: L, x2: W, y1: y(v), y2: y(v), class: 'grid' }, root);
    svg('text', { x: L - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, root).textContent = String(v);
  }
  hours.forEach((h, i) => {
    const x = L + i * bw + 2;
    const g = svg('g', {}, root);
    svg('title', {}, g).textContent =
      `${hourLabel(first + i * HOUR)}: ${h.all} calls, ${h.answered} answered`;
    if (h.answered) {
      svg('rect', { x, y: y(h.answered), width: bw - 4, height: y(0) - y(h.answered), class: 'bar-ok' }, g);
    }
    if (h.all > h.answered) {
      svg('rect', { x, y: y(h.all), width: bw - 4, height: y(h.answered) - y(h.all), class: 'bar-miss' }, g);
    }
    if (i % 3 === 0) {
      svg('text', { x: x + (bw - 4) / 2, y: H - 8, class: 'axis', 'text-anchor': 'middle' }, root).textContent =
        hourLabel(first + i * HOUR);
    }
  });
  const legend = svg('g', {}, root);
  svg('rect', { x: W - 210, y: 2, width: 10, height: 10, class: 'bar-ok' }, legend);
  svg('text', { x: W - 196, y: 11, class: 'axis' }, legend).textContent = 'answered';
  svg('rect', { x: W - 120, y: 2, width: 10, height: 10, class: 'bar-miss' }, legend);
  svg('text', { x: W - 106, y: 11, class: 'axis' }, legend).textContent = 'not answered';
  $('dash-chart').replaceChildren(root);
}

async function loadChart() {
  const now = Date.now();
  const first = Math.floor(now / HOUR) * HOUR - 23 * HOUR;
  const hours = Array.from({ length: 24 }, () => ({ all: 0, answered: 0 }));
  let total = 0, seen = 0;
  for (let page = 0; page < CDR_PAGES_MAX; page++) {
    const q = new URLSearchParams({ from: String(first), limit: String(CDR_PAGE), offset: String(page * CDR_PAGE) });
    const r = await api('GET', '/api/v1/cdr?' + q.toString());
    if (r.status !== 200 || !r.data) {
      if (r.status !== 401) $('dash-chart-desc').textContent = 'The call history could not be read.';
      return;
    }
    total = r.data.total;
    for (const c of r.data.rows || []) {
      const i = Math.floor((c.start_at - first) / HOUR);
      if (i < 0 || i > 23) continue;
      hours[i].all++;
      if (c.disposition === 'answered') hours[i].answered++;
    }
    seen += (r.data.rows || []).length;
    if (seen >= total || !(r.data.rows || []).length) break;
  }
  const answered = hours.reduce((n, h) => n + h.answered, 0);
  $('dash-calls24').textContent = String(total);
  $('dash-answered24').textContent = `${answered} answered` + (seen < total ? ` (chart shows the newest ${seen})` : '');
  let busiest = 0;
  hours.forEach((h, i) => { if (h.all > hours[busiest].all) busiest = i; });
  $('dash-chart-desc').textContent = total
    ? `${total} calls in the last 24 hours; the busiest hour began at ${hourLabel(first + busiest * HOUR)} with ${hours[busiest].all}.`
    : 'No calls in the last 24 hours.';
  drawChart(first, hours);
}

async function loadExtensionCount() {
  const r = await api('GET', '/api/v1/extensions?limit=1');
  if (r.status === 200 && r.data) $('dash-ext').textContent = String(r.data.total);
}

function onRegs(d) {
  $('dash-reg').textContent = String(d.extensions);
  $('dash-bindings').textContent = d.total === 1 ? '1 phone signed in' : `${d.total} phones signed in`;
  updated('dash-updated');
}

function onCalls(d) {
  $('dash-calls').textContent = String(d.total);
  // A call ended: its record comes to the history a moment later.
  if (lastCalls >= 0 && d.total < lastCalls) setTimeout(loadChart, CDR_WRITE_DELAY_MS);
  lastCalls = d.total;
  updated('dash-updated');
}

function onRooms(d) {
  const items = (d && d.items) || [];
  const people = items.reduce((n, r) => n + (r.count || 0), 0);
  $('dash-rooms').textContent = String(items.length);
  $('dash-rooms-people').textContent = people === 1 ? '1 participant.' : `${people} participants.`;
}

function onStats(d) {
  if (Array.isArray(d.load)) {
    $('dash-load').textContent = d.load[0].toFixed(2);
    $('dash-load').title = `Load average over 1, 5 and 15 minutes: ${d.load.map((v) => v.toFixed(2)).join(', ')}`;
  }
  const tick = (d.media_tick_max_us / 1000).toFixed(1);
  $('dash-media').textContent = `${d.media_legs} media streams; longest media tick ${tick} ms`;
}

export default {
  init() {},
  show() {
    lastCalls = -1;
    loadExtensionCount();
    loadChart();
    // What the stream has not sent yet (or never will, without a core).
    api('GET', '/api/v1/registrations').then((r) => { if (r.status === 200 && r.data) onRegs(r.data); });
    api('GET', '/api/v1/rooms/live').then((r) => { if (r.status === 200 && r.data) onRooms(r.data); });
    if (!unsubs.length) {
      unsubs = [onLive('registrations', (d) => { onRegs(d); loadExtensionCount(); }),
        onLive('calls', onCalls), onLive('stats', onStats), onLive('rooms', onRooms)];
    }
    clearInterval(chartTimer);
    chartTimer = setInterval(loadChart, CHART_REFRESH_MS);
  },
  hide() {
    for (const u of unsubs) u();
    unsubs = [];
    clearInterval(chartTimer);
  },
};
