/// The dashboard page served at `/`: HTML, CSS and JavaScript in one string, so the
/// binary needs no asset files and the page no network beyond the process serving it.
///
/// The page polls `/metrics?scope=process`, `/api/status` and the analytics API every
/// two seconds (`?interval=MS` changes that), keeps a few minutes of history in the
/// browser for its charts (hand-drawn SVG), and reads fields by name so that fields the
/// APIs add later do not break it. Every number it shows carries its raw value in a
/// `data-value` attribute; errors the page meets are listed in `#page-errors`.
enum DashboardPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Logpipe</title>
<link rel="icon" href="data:,">
<script>
// Collects what would otherwise only reach the console, so a headless browser (and a
// person) can see it on the page: uncaught errors, rejected promises, console.error.
window.__errors = [];
(function () {
  function note(text) {
    window.__errors.push(String(text));
    var el = document.getElementById('page-errors');
    if (el) { el.textContent = window.__errors.join('\n'); el.hidden = false; }
  }
  window.addEventListener('error', function (e) { note('error: ' + (e.message || e.type)); });
  window.addEventListener('unhandledrejection', function (e) { note('unhandled rejection: ' + e.reason); });
  var original = console.error;
  console.error = function () { note('console.error: ' + Array.prototype.join.call(arguments, ' ')); original.apply(console, arguments); };
})();
</script>
<style>
:root { --bg:#0f1419; --panel:#171e26; --line:#263241; --text:#d7dee6; --dim:#8795a5; --ok:#3fb950; --warn:#d29922; --bad:#f85149; --accent:#58a6ff; }
* { box-sizing: border-box; }
:root { color-scheme: dark; }
body { margin:0; font:13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--text); }
header { display:flex; align-items:center; gap:18px; padding:10px 18px; border-bottom:1px solid var(--line); background:var(--panel); }
header h1 { font-size:17px; margin:0; }
header .meta { color:var(--dim); }
#conn { width:10px; height:10px; border-radius:50%; background:var(--warn); display:inline-block; }
#conn.ok { background:var(--ok); } #conn.bad { background:var(--bad); }
main { display:grid; grid-template-columns:repeat(auto-fill, minmax(440px, 1fr)); gap:12px; padding:12px; }
section { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:10px 12px; min-width:0; }
section.wide { grid-column:1 / -1; }
h2 { font-size:13px; margin:0 0 8px; color:var(--dim); text-transform:uppercase; letter-spacing:.05em; }
.stats { display:flex; flex-wrap:wrap; gap:6px 18px; margin-bottom:8px; }
.stat { min-width:92px; } .stat b { display:block; font-size:18px; font-variant-numeric:tabular-nums; }
.stat span { color:var(--dim); font-size:11px; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
#bus-table, #services { overflow-x:auto; }
#bus-table table { font-size:12px; }
#bus-table th, #bus-table td { padding:3px 4px; }
th, td { text-align:right; padding:3px 6px; border-bottom:1px solid var(--line); white-space:nowrap; }
th:first-child, td:first-child { text-align:left; } th { color:var(--dim); font-weight:normal; }
svg { display:block; width:100%; } svg text { fill:var(--dim); font-size:10px; }
.legend { display:flex; flex-wrap:wrap; gap:4px 12px; color:var(--dim); font-size:11px; }
.legend i { display:inline-block; width:10px; height:3px; margin-right:4px; vertical-align:middle; }
#health-score { font-size:30px; font-weight:600; }
.good { color:var(--ok); } .fair { color:var(--warn); } .poor { color:var(--bad); }
#alerts { max-height:360px; overflow:auto; }
.alert-item { border-left:3px solid var(--bad); padding:4px 8px; margin-bottom:6px; background:#1d242d; }
.alert-item .when { color:var(--dim); font-size:11px; }
.alert-item code { color:var(--dim); font-size:11px; }
#page-errors { color:var(--bad); white-space:pre-wrap; margin:0 12px; }
.empty { color:var(--dim); font-style:italic; }
</style>
</head>
<body>
<header>
  <h1>Logpipe</h1><span id="conn" title="connection"></span>
  <span class="meta">role <b id="role">…</b> · version <span id="version">…</span> · up <span id="uptime">…</span> · updated <span id="updated" data-value="0">never</span></span>
  <span style="margin-left:auto" class="meta">system health</span><span id="health-score" data-value="">–</span>
</header>
<pre id="page-errors" hidden></pre>
<main>
  <section>
    <h2>Ingest</h2>
    <div class="stats" id="ingest-stats"></div>
    <div id="ingest-chart"></div>
  </section>
  <section>
    <h2>Stream</h2>
    <div class="stats" id="stream-stats"></div>
    <div id="stream-chart"></div>
  </section>
  <section>
    <h2>Bus partitions</h2>
    <div id="bus-table"></div>
    <div id="lag-chart"></div>
  </section>
  <section>
    <h2>Event time</h2>
    <div class="stats" id="time-stats"></div>
    <div id="delay-chart"></div>
  </section>
  <section>
    <h2>Lake</h2>
    <div class="stats" id="lake-stats"></div>
    <div id="lake-table"></div>
  </section>
  <section>
    <h2>System health</h2>
    <div class="stats" id="system-stats"></div>
    <div id="health-chart"></div>
  </section>
  <section class="wide">
    <h2>Services (latest closed window)</h2>
    <div id="services"></div>
  </section>
  <section class="wide">
    <h2>Alerts <span id="alert-count" data-value="0">0</span></h2>
    <div id="alerts"></div>
  </section>
</main>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const INTERVAL = Math.max(250, Number(params.get('interval')) || 2000);
const HISTORY = 180;
const COLORS = ['#58a6ff', '#3fb950', '#d29922', '#f85149', '#bc8cff', '#39c5cf', '#ff7b72', '#a5d6ff', '#7ee787', '#e3b341', '#ffa198', '#d2a8ff'];
const history = {};      // series name -> [[t, v]]
let previous = null;     // the previous poll's histogram sums and counts, for interval means
let polls = 0;

function $(id) { return document.getElementById(id); }
function esc(s) { return String(s).replace(/[&<>"']/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c])); }
function num(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (digits !== undefined) return Number(v).toFixed(digits);
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(2) + 'G';
  if (a >= 1e6) return (v / 1e6).toFixed(2) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
  return Number.isInteger(v) ? String(v) : v.toFixed(a < 10 ? 2 : 1);
}
function bytes(v) {
  if (v === null || v === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(1) : v) + ' ' + units[i];
}
function secs(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  const a = Math.abs(v);
  if (a < 1) return (v * 1000).toFixed(a < 0.01 ? 2 : 1) + ' ms';
  if (a < 120) return v.toFixed(1) + ' s';
  if (a < 7200) return (v / 60).toFixed(1) + ' min';
  return (v / 3600).toFixed(1) + ' h';
}
// The analytics API gives rates and SLA figures in percent.
function pct(v) { return v === null || v === undefined ? '–' : Number(v).toFixed(1) + '%'; }
// The first of several field names present: the API may add or rename fields.
function pick(row, ...names) { for (const n of names) if (row && row[n] !== undefined && row[n] !== null) return row[n]; return null; }
function stat(id, label, value, shown) {
  return `<div class="stat"><b id="${id}" data-value="${value === null || value === undefined ? '' : value}">${shown}</b><span>${esc(label)}</span></div>`;
}

// Prometheus text format -> [{name, labels, value}]
function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => c === 'n' ? '\n' : c);
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}
function sum(samples, name, filter) {
  let total = 0, found = false;
  for (const s of samples) if (s.name === name && (!filter || filter(s.labels))) { total += s.value; found = true; }
  return found ? total : null;
}
function max(samples, name) {
  let best = null;
  for (const s of samples) if (s.name === name && (best === null || s.value > best)) best = s.value;
  return best;
}
function groupBy(samples, name, label) {
  const out = {};
  for (const s of samples) if (s.name === name) out[s.labels[label]] = (out[s.labels[label]] || 0) + s.value;
  return out;
}
function push(name, t, v) {
  if (v === null || v === undefined || Number.isNaN(v)) return;
  const h = history[name] || (history[name] = []);
  h.push([t, v]);
  if (h.length > HISTORY) h.shift();
}
// Per second over the last RATE_WINDOW ms of samples: clients post in bursts, so the rate
// between two polls alone jumps between zero and twice the mean.
const RATE_WINDOW = 10000;
const counters = {};
function rate(now, name, value) {
  if (value === null) return null;
  const samples = counters[name] || (counters[name] = []);
  samples.push([now, value]);
  while (samples.length > 2 && now - samples[1][0] >= RATE_WINDOW) samples.shift();
  if (samples.length < 2) return null;
  const [t0, v0] = samples[0];
  return now > t0 ? Math.max(0, (value - v0) / ((now - t0) / 1000)) : null;
}
// Mean of a histogram over the last interval (sum and count deltas), or over all time.
function histogramMean(now, samples, name) {
  const s = sum(samples, name + '_sum'), c = sum(samples, name + '_count');
  if (s === null || c === null || c === 0) return null;
  if (previous) {
    const ps = previous.values[name + '_sum'], pc = previous.values[name + '_count'];
    if (ps !== undefined && pc !== undefined && c > pc) return (s - ps) / (c - pc);
  }
  return s / c;
}

// A line chart in SVG: series [{name, points: [[x, y]]}], x as epoch milliseconds or seconds.
function lineChart(el, series, opts) {
  opts = opts || {};
  const W = 600, H = opts.height || 150, L = 46, R = 8, T = 8, B = 18;
  const all = series.flatMap(s => s.points);
  if (!all.length) { el.innerHTML = '<div class="empty">no data yet</div>'; return; }
  let x0 = Math.min(...all.map(p => p[0])), x1 = Math.max(...all.map(p => p[0]));
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  let y1 = Math.max(...all.map(p => p[1]), opts.minMax || 0);
  if (y1 <= 0) y1 = 1;
  const sx = x => L + (x - x0) / (x1 - x0) * (W - L - R);
  const sy = y => T + (1 - Math.max(0, y) / y1) * (H - T - B);
  const fmt = opts.format || num;
  let svg = `<svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img">`;
  for (const f of [0, 0.5, 1]) {
    const y = sy(y1 * f);
    svg += `<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" stroke="#263241"/><text x="${L - 4}" y="${y + 3}" text-anchor="end">${esc(fmt(y1 * f))}</text>`;
  }
  const span = (x1 - x0) / (opts.seconds ? 1 : 1000);
  svg += `<text x="${L}" y="${H - 4}">-${esc(secs(span))}</text><text x="${W - R}" y="${H - 4}" text-anchor="end">now</text>`;
  series.forEach((s, i) => {
    if (!s.points.length) return;
    const d = s.points.map((p, j) => (j ? 'L' : 'M') + sx(p[0]).toFixed(1) + ' ' + sy(p[1]).toFixed(1)).join('');
    svg += `<path d="${d}" fill="none" stroke="${s.color || COLORS[i % COLORS.length]}" stroke-width="1.6" vector-effect="non-scaling-stroke"/>`;
  });
  svg += '</svg>';
  const legend = series.map((s, i) => `<span><i style="background:${s.color || COLORS[i % COLORS.length]}"></i>${esc(s.name)}</span>`).join('');
  el.innerHTML = svg + `<div class="legend">${legend}</div>`;
}
function sparkline(points, color) {
  if (points.length < 2) return '';
  const W = 120, H = 22, xs = points.map(p => p[0]), ys = points.map(p => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y1 = Math.max(...ys, 1e-9);
  const d = points.map((p, j) => (j ? 'L' : 'M') + ((p[0] - x0) / (x1 - x0 || 1) * W).toFixed(1) + ' ' + (H - 1 - p[1] / y1 * (H - 2)).toFixed(1)).join('');
  return `<svg viewBox="0 0 ${W} ${H}" style="width:120px;height:22px;display:inline-block"><path d="${d}" fill="none" stroke="${color}" stroke-width="1.4"/></svg>`;
}

// A server with an API key is opened as /#key=KEY: the fragment never leaves the browser,
// and every request carries the key.
const apiKey = new URLSearchParams(location.hash.slice(1)).get('key');
async function getText(url) {
  const r = await fetch(url, { cache: 'no-store', headers: apiKey ? { Authorization: 'Bearer ' + apiKey } : {} });
  if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
  return r.text();
}
async function getJSON(url) { return JSON.parse(await getText(url)); }

function renderIngest(now, m) {
  const kinds = new Set(['logs', 'activities']);
  for (const s of m) if (s.name.startsWith('logpipe_collector_') && s.labels.kind) kinds.add(s.labels.kind);
  let html = '';
  const series = [];
  for (const kind of [...kinds].sort()) {
    const accepted = sum(m, 'logpipe_collector_records_total', l => l.kind === kind && l.outcome === 'accepted') || 0;
    const rejected = sum(m, 'logpipe_collector_rejected_total', l => l.kind === kind) || 0;
    const ra = rate(now, 'accepted_' + kind, accepted), rr = rate(now, 'rejected_' + kind, rejected);
    push('ingest ' + kind, now, ra); push('rejected ' + kind, now, rr);
    html += stat('ingest-' + kind + '-accepted', kind + ' accepted', accepted, num(accepted));
    html += stat('ingest-' + kind + '-rate', kind + ' /s', ra, num(ra));
    html += stat('ingest-' + kind + '-rejected', kind + ' rejected', rejected, num(rejected));
    series.push({ name: kind + ' /s', points: history['ingest ' + kind] || [] });
    series.push({ name: kind + ' rejected /s', points: history['rejected ' + kind] || [] });
  }
  const overloaded = sum(m, 'logpipe_collector_overloaded_total');
  html += stat('ingest-overloaded', '503 overloaded', overloaded, num(overloaded));
  $('ingest-stats').innerHTML = html;
  lineChart($('ingest-chart'), series);
}

function renderStream(now, m, values) {
  const records = sum(m, 'logpipe_stream_records_total');
  const dead = sum(m, 'logpipe_stream_dead_letters_total');
  const commits = sum(m, 'logpipe_stream_commits_total');
  const late = sum(m, 'logpipe_analytics_late_records_total');
  const future = sum(m, 'logpipe_analytics_future_records_total');
  const rps = rate(now, 'records', records);
  const batch = histogramMean(now, m, 'logpipe_stream_batch_seconds');
  const commit = histogramMean(now, m, 'logpipe_stream_commit_seconds');
  const lastCommit = max(m, 'logpipe_stream_last_commit_timestamp_seconds');
  for (const n of ['logpipe_stream_batch_seconds', 'logpipe_stream_commit_seconds']) {
    values[n + '_sum'] = sum(m, n + '_sum'); values[n + '_count'] = sum(m, n + '_count');
  }
  push('records/s', now, rps); push('batch s', now, batch); push('commit s', now, commit);
  $('stream-stats').innerHTML =
    stat('stream-records', 'records', records, num(records)) +
    stat('stream-rate', 'records/s', rps, num(rps)) +
    stat('stream-batch', 'batch duration', batch, secs(batch)) +
    stat('stream-commit-latency', 'commit latency', commit, secs(commit)) +
    stat('stream-commits', 'commits', commits, num(commits)) +
    stat('stream-last-commit', 'since last commit', lastCommit, lastCommit ? secs(now / 1000 - lastCommit) : '–') +
    stat('stream-late', 'late records', late, num(late)) +
    stat('stream-future', 'future records', future, num(future)) +
    stat('stream-dead-letters', 'dead letters', dead, num(dead));
  lineChart($('stream-chart'), [{ name: 'records/s', points: history['records/s'] || [] }]);
}

// The watermark's distance behind the newest event time (the allowed lateness), for saying
// why no window has closed yet: with the default 5 minutes the first closes ~6 minutes in.
let watermarkDelay = null;
function notClosedYet(what) {
  return `<div class="empty" id="${what}-waiting">no ${what} window closed yet: a window closes once the watermark` +
    (watermarkDelay === null ? '' : `, ${esc(secs(watermarkDelay))} behind the newest event time,`) + ' passes its end</div>';
}

function renderTime(now, m) {
  const wm = max(m, 'logpipe_analytics_watermark_delay_seconds');
  const ev = max(m, 'logpipe_analytics_event_time_delay_seconds');
  const windows = sum(m, 'logpipe_analytics_open_windows');
  watermarkDelay = wm;
  push('watermark delay', now, wm); push('event-time delay', now, ev);
  $('time-stats').innerHTML =
    stat('watermark-delay', 'watermark delay (max)', wm, secs(wm)) +
    stat('event-time-delay', 'event-time delay (max)', ev, secs(ev)) +
    stat('open-windows', 'open windows', windows, num(windows));
  lineChart($('delay-chart'), [
    { name: 'watermark delay', points: history['watermark delay'] || [] },
    { name: 'event-time delay', points: history['event-time delay'] || [] },
  ], { format: secs });
}

function renderBus(now, status, m) {
  const streamLag = {};
  for (const s of m) if (s.name === 'logpipe_stream_lag_records') streamLag[s.labels.topic + '/' + s.labels.partition] = s.value;
  let rows = '', totalLag = 0;
  for (const topic of status.topics || []) {
    for (const p of topic.partitions || []) {
      const key = topic.name + '/' + p.partition;
      const read = streamLag[key];
      if (p.lag !== null && p.lag !== undefined) totalLag += p.lag;
      rows += `<tr class="bus-row" data-topic="${esc(topic.name)}" data-partition="${p.partition}" data-high="${p.high_watermark}" data-lag="${p.lag === undefined || p.lag === null ? '' : p.lag}">` +
        `<td>${esc(topic.name)} / ${p.partition}</td><td>${num(p.low_watermark)}</td><td>${num(p.high_watermark)}</td><td>${bytes(p.size_bytes)}</td>` +
        `<td>${p.committed_offset === undefined || p.committed_offset === null ? '–' : num(p.committed_offset)}</td><td>${read === undefined ? '–' : num(read)}</td><td>${p.lag === undefined || p.lag === null ? '–' : num(p.lag)}</td></tr>`;
    }
  }
  $('bus-table').innerHTML = rows ? `<table><tr><th>topic / partition</th><th>low</th><th>high</th><th>size</th><th>committed</th><th>read lag</th><th>commit lag</th></tr>${rows}</table>` : '<div class="empty">no bus in this process</div>';
  push('commit lag', now, totalLag);
  lineChart($('lag-chart'), [{ name: 'commit lag (records, all partitions)', points: history['commit lag'] || [] }], { height: 100 });
}

function renderLake(status, m) {
  let rows = '';
  for (const d of status.lake || []) {
    rows += `<tr class="lake-row" data-dataset="${esc(d.name)}" data-files="${d.files}" data-bytes="${d.bytes}"><td>${esc(d.name)}</td><td>${num(d.partitions)}</td><td>${num(d.files)}</td><td>${bytes(d.bytes)}</td><td>${d.last_file_time ? new Date(d.last_file_time * 1000).toLocaleTimeString() : '–'}</td></tr>`;
  }
  const files = sum(m, 'logpipe_lake_files_written_total'), written = sum(m, 'logpipe_lake_bytes_written_total');
  const last = max(m, 'logpipe_stream_last_commit_timestamp_seconds');
  $('lake-stats').innerHTML = stat('lake-files-written', 'files written', files, num(files)) +
    stat('lake-bytes-written', 'bytes written', written, bytes(written)) +
    stat('lake-last-commit', 'last commit', last, last ? new Date(last * 1000).toLocaleTimeString() : '–');
  $('lake-table').innerHTML = rows ? `<table><tr><th>dataset</th><th>partitions</th><th>files</th><th>bytes</th><th>newest file</th></tr>${rows}</table>` : '<div class="empty">no lake in this process</div>';
}

function windowStart(row) { const w = row.window || {}; return pick(w, 'start_micros', 'start') || 0; }

function renderServices(services) {
  const byService = {};
  for (const row of services) (byService[row.service] || (byService[row.service] = [])).push(row);
  const names = Object.keys(byService).sort();
  let rows = '';
  names.forEach((name, i) => {
    const list = byService[name].sort((a, b) => windowStart(a) - windowStart(b));
    const last = list[list.length - 1];
    const requests = pick(last, 'request_count', 'requests');
    const errorRate = pick(last, 'error_rate');
    const p95points = list.map(r => [windowStart(r), pick(r, 'p95_response_time_ms', 'p95_response_time') || 0]);
    const reqPoints = list.map(r => [windowStart(r), pick(r, 'request_count', 'requests') || 0]);
    rows += `<tr class="service-row" data-service="${esc(name)}" data-requests="${requests}" data-window="${windowStart(last)}">` +
      `<td>${esc(name)}</td><td>${new Date(windowStart(last) / 1000).toLocaleTimeString()}</td><td>${num(requests)}</td><td>${sparkline(reqPoints, COLORS[i % COLORS.length])}</td>` +
      `<td>${num(pick(last, 'p50_response_time_ms', 'p50_response_time'), 1)}</td><td>${num(pick(last, 'p95_response_time_ms', 'p95_response_time'), 1)}</td><td>${num(pick(last, 'p99_response_time_ms', 'p99_response_time'), 1)}</td><td>${sparkline(p95points, COLORS[i % COLORS.length])}</td>` +
      `<td class="${errorRate > 5 ? 'poor' : errorRate > 1 ? 'fair' : 'good'}">${pct(errorRate)}</td><td>${pct(pick(last, 'availability'))}</td><td>${pct(pick(last, 'performance'))}</td></tr>`;
  });
  $('services').innerHTML = rows ? `<table><tr><th>service</th><th>window</th><th>requests</th><th>requests / window</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>p95 / window</th><th>error rate</th><th>SLA availability</th><th>SLA performance</th></tr>${rows}</table>` : notClosedYet('service');
  return names.length;
}

function renderSystem(system) {
  const rows = system.slice().sort((a, b) => windowStart(a) - windowStart(b));
  const last = rows[rows.length - 1];
  const score = last ? pick(last, 'health_score') : null;
  const el = $('health-score');
  el.textContent = score === null ? '–' : String(score);
  el.dataset.value = score === null ? '' : String(score);
  el.className = score === null ? '' : score >= 80 ? 'good' : score >= 50 ? 'fair' : 'poor';
  $('system-stats').innerHTML = last ? stat('system-requests', 'requests (window)', pick(last, 'request_count'), num(pick(last, 'request_count'))) +
    stat('system-error-rate', 'error rate', pick(last, 'error_rate'), pct(pick(last, 'error_rate'))) +
    stat('system-services', 'active services', pick(last, 'active_services'), num(pick(last, 'active_services'))) +
    stat('system-users', 'active users', pick(last, 'active_users'), num(pick(last, 'active_users'))) : notClosedYet('system');
  if (!last) { $('health-chart').innerHTML = ''; return; }
  lineChart($('health-chart'), [
    { name: 'health score', points: rows.map(r => [windowStart(r) / 1000, pick(r, 'health_score') || 0]) },
    { name: 'error rate %', points: rows.map(r => [windowStart(r) / 1000, pick(r, 'error_rate') || 0]) },
  ], { minMax: 100, height: 120 });
}

function renderAlerts(alerts) {
  const list = alerts.slice().sort((a, b) => windowStart(b) - windowStart(a)).slice(0, 100);
  $('alert-count').textContent = String(alerts.length);
  $('alert-count').dataset.value = String(alerts.length);
  $('alerts').innerHTML = list.length ? list.map(a => {
    const observed = Object.entries(a.observed || {}).map(([k, v]) => `${k}=${num(v)}`).join(' ');
    return `<div class="alert-item" data-type="${esc(a.type)}" data-subject="${esc(a.subject)}"><b>${esc(a.type)}</b> · ${esc(a.subject)} <span class="when">window ${new Date(windowStart(a) / 1000).toLocaleString()}</span><div>${esc(a.message || '')}</div><code>${esc(observed)}</code></div>`;
  }).join('') : '<div class="empty">no alerts</div>';
}

async function poll() {
  const now = Date.now();
  const from = Math.floor(now / 1000) - 3600;
  let data;
  try {
    data = await Promise.all([
      getText('metrics?scope=process'), getJSON('api/status'),
      // Closed windows only (`final=true`): a window still open would show a partial count.
      getJSON('api/metrics/services?final=true&from=' + from), getJSON('api/metrics/system?final=true&from=' + from),
      getJSON('api/alerts?from=' + (from - 23 * 3600)),
    ]);
  } catch (e) {
    // The pipeline restarting or stopping is not a page error: show it and keep polling.
    $('conn').className = 'bad';
    $('conn').title = String(e);
    setTimeout(poll, INTERVAL);
    return;
  }
  // A rendering error is a bug: it propagates (and is reported), and polling goes on.
  try {
    const [metricsText, status, services, system, alerts] = data;
    const m = parseMetrics(metricsText);
    const values = {};
    $('role').textContent = status.role;
    $('version').textContent = status.version;
    $('uptime').textContent = secs(status.now - status.started_at);
    renderIngest(now, m);
    renderStream(now, m, values);
    renderTime(now, m);
    renderBus(now, status, m);
    renderLake(status, m);
    renderSystem(system);
    renderServices(services);
    renderAlerts(alerts);
    previous = { t: now, values };
    polls++;
    $('updated').textContent = new Date(now).toLocaleTimeString();
    $('updated').dataset.value = String(polls);
    $('conn').className = 'ok';
  } finally {
    setTimeout(poll, INTERVAL);
  }
}
poll();
</script>
</body>
</html>
"""#
}
