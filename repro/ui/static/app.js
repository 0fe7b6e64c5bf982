// The run browser's pages, drawn from the JSON endpoints (README: `repro ui`).
// Everything from the store goes into the page as text (textContent), never
// as markup: a run's names and values are data a container wrote.
'use strict';

const main = () => document.getElementById('main');
const render = (...nodes) => main().replaceChildren(...nodes.flat().filter(n => n !== null && n !== undefined));

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v; else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(show(child)));
  }
  return node;
}

function show(value) {
  if (value === null || value === undefined || value === '') return '-';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({credentials: 'same-origin'}, options || {}));
  const body = await response.json().catch(() => ({error: `HTTP ${response.status}`}));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

const q = encodeURIComponent;
const runLink = id => id ? el('a', {href: `/runs/${q(id)}`, class: 'mono'}, id) : el('span', {}, '-');
const status = s => el('span', {class: `status-${s}`}, s);
const verdict = v => el('span', {class: `verdict-${(v || '').replace(/ /g, '_')}`}, v || '-');

function kvTable(obj) {
  const rows = Object.entries(obj || {}).map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {class: 'mono'}, show(v))));
  return rows.length ? el('table', {class: 'kv'}, rows) : el('p', {class: 'muted'}, 'none recorded');
}

function table(headers, rows, attrs) {
  return el('table', attrs || {}, el('thead', {}, el('tr', {}, headers.map(h => el('th', {}, h)))),
            el('tbody', {}, rows));
}

function fail(error) {
  render(el('div', {class: 'banner', id: 'error'}, `error: ${error.message}`));
}

// -- Runs: a sortable, filterable table ----------------------------------------
const COLUMNS = [['run_id', 'run'], ['status', 'status'], ['seed', 'seed'], ['launcher', 'launcher'],
  ['commit', 'commit'], ['image', 'image'], ['sweep', 'sweep'], ['duration', 'duration'],
  ['verdict', 'replay verdict']];

function cell(run, key) {
  if (key === 'run_id') return runLink(run.run_id);
  if (key === 'status') return status(run.status);
  if (key === 'verdict') return verdict(run.verdict);
  if (key === 'sweep') return run.sweep ? el('a', {href: `/sweeps/${q(run.sweep)}`}, run.sweep) : '-';
  if (key === 'commit') return el('span', {class: 'mono'}, run.commit ? run.commit.slice(0, 10) + (run.dirty ? '*' : '') : '-');
  if (key === 'image') return el('span', {class: 'mono', title: run.image || ''}, run.image ? run.image.slice(0, 19) : '-');
  if (key === 'launcher' && run.error) return `(${run.error})`;
  return show(run[key]);
}

async function runsPage() {
  const [{runs}, {sweeps}] = await Promise.all([api('/api/runs'), api('/api/sweeps')]);
  let sortKey = 'run_id', descending = false;
  const filter = el('input', {id: 'filter', type: 'search', placeholder: 'filter: any text in a row'});
  const body = el('tbody');
  const headers = COLUMNS.map(([key, title]) => el('th', {class: 'sortable', 'data-key': key}, title));
  const picked = new Set();
  const compare = el('button', {id: 'compare', disabled: true}, 'compare the two selected');
  compare.addEventListener('click', () => {
    const [a, b] = [...picked];
    location.href = `/compare?a=${q(a)}&b=${q(b)}`;
  });
  function redraw() {
    const needle = filter.value.toLowerCase();
    const shown = runs.filter(r => !needle || COLUMNS.some(([k]) => show(r[k]).toLowerCase().includes(needle)))
      .sort((a, b) => {
        const [x, y] = [a[sortKey], b[sortKey]];
        const order = (typeof x === 'number' && typeof y === 'number') ? x - y : show(x).localeCompare(show(y));
        return descending ? -order : order;
      });
    body.replaceChildren(...shown.map(run => {
      const box = el('input', {type: 'checkbox', 'data-run': run.run_id, checked: picked.has(run.run_id)});
      box.addEventListener('change', () => {
        if (box.checked) picked.add(run.run_id); else picked.delete(run.run_id);
        compare.disabled = picked.size !== 2;
      });
      return el('tr', {'data-run': run.run_id}, el('td', {}, box), COLUMNS.map(([k]) => el('td', {'data-key': k}, cell(run, k))));
    }));
    headers.forEach(h => h.className = 'sortable' + (h.dataset.key === sortKey ? (descending ? ' sorted-desc' : ' sorted-asc') : ''));
    document.getElementById('count').textContent = `${shown.length} of ${runs.length} runs`;
  }
  headers.forEach(h => h.addEventListener('click', () => {
    descending = h.dataset.key === sortKey ? !descending : false;
    sortKey = h.dataset.key;
    redraw();
  }));
  filter.addEventListener('input', redraw);
  render(
    el('h1', {}, 'Runs'),
    el('div', {class: 'controls'}, filter, el('span', {id: 'count', class: 'muted'}), compare),
    el('table', {id: 'runs'}, el('thead', {}, el('tr', {}, el('th', {}, ''), headers)), body),
    el('h2', {}, 'Sweeps'),
    sweeps.length ? table(['sweep', 'engine', 'members', 'created', 'launcher'], sweeps.map(s =>
      el('tr', {}, el('td', {}, el('a', {href: `/sweeps/${q(s.sweep_id)}`}, s.sweep_id)), el('td', {}, s.engine || 'broken'),
         el('td', {}, show(s.members)), el('td', {}, show(s.created)), el('td', {}, s.launcher || s.error)))) :
      el('p', {class: 'muted'}, 'no sweeps'));
  redraw();
}

// -- Curves: a metric picker over one or more runs' scalars ------------------------
function metricPicker(metrics, chosen, onChange) {
  const select = el('select', {id: 'metric'});
  for (const [label, names] of [['progress.csv', metrics.progress], ['TensorBoard', metrics.tensorboard]]) {
    if (!names.length) continue;
    select.appendChild(el('optgroup', {label}, names.map(n => el('option', {value: n, selected: n === chosen}, n))));
  }
  select.addEventListener('change', () => onChange(select.value));
  return select;
}

function drawCurves(box, curves, metric, marker) {
  const series = curves.filter(c => c.data && c.data.points).map(c => ({label: c.label, points: c.data.points, dashed: c.dashed}));
  const x = (curves.find(c => c.data && c.data.x) || {data: {}}).data.x;
  ReproChart.draw(box, series, {xLabel: x || '', yLabel: metric, marker});
  box.dataset.metric = metric;
}

// -- Run ------------------------------------------------------------------------
async function runPage(id) {
  const run = await api(`/api/runs/${q(id)}`);
  const lineage = run.lineage;
  const verifyBox = el('div', {id: 'verify-result'});
  const verifyButton = el('button', {id: 'verify'}, 'verify');
  verifyButton.addEventListener('click', async () => {
    verifyBox.replaceChildren(el('span', {class: 'muted'}, 'verifying…'));
    try {
      const result = await api(`/api/runs/${q(id)}/verify`, {method: 'POST'});
      verifyBox.replaceChildren(
        el('p', {class: result.ok ? 'ok' : 'failed', id: 'verify-verdict'}, `verify ${result.ok ? 'passed' : 'failed'}: ${result.summary}`),
        el('pre', {}, result.lines.join('\n')));
    } catch (error) { verifyBox.replaceChildren(el('p', {class: 'failed'}, `verify failed: ${error.message}`)); }
  });
  const artifacts = table(['path', 'size', 'sha256'], run.artifacts.map(a => el('tr', {},
    el('td', {class: 'mono'}, a.download ? el('a', {href: `/api/runs/${q(id)}/artifacts/${a.path.split('/').map(q).join('/')}`}, a.path) :
      `${a.path} (${a.type}${a.target ? ' → ' + a.target : ''}, not served)`),
    el('td', {}, show(a.size)), el('td', {class: 'mono'}, show(a.sha256)))), {id: 'artifacts'});
  const chart = el('div', {id: 'chart'});
  const metric = defaultMetric(run.metrics);
  async function drawMetric(name) {
    try {
      const data = await api(`/api/runs/${q(id)}/scalars?metric=${q(name)}`);
      drawCurves(chart, [{label: id, data}], name);
    } catch (error) { chart.replaceChildren(el('p', {class: 'failed'}, error.message)); }
  }
  render(
    el('h1', {}, 'Run ', el('span', {class: 'mono', id: 'run-id'}, id), ' ', status(run.run.status)),
    run.unverified.length ? el('div', {class: 'banner', id: 'unverified'}, `UNVERIFIED: ${run.unverified.join('; ')}`) : null,
    el('div', {class: 'cols'},
      el('div', {class: 'card'}, el('h2', {}, 'Run'), kvTable({launcher: run.run.launcher, seed: run.run.seed, args: run.args,
        command: run.command ? run.command.join(' ') : null, replay: run.replay ? run.replay.join(' ') : null,
        start: run.start_time, end: run.end_time, duration: run.run.duration, 'exit code': run.exit_code,
        network: run.network, threads: run.threads, 'repro version': run.repro_version}),
        run.sweep ? el('p', {}, 'sweep: ', el('a', {href: `/sweeps/${q(run.sweep.id)}`, id: 'sweep-link'}, show(run.sweep.id)),
                       `, member ${show(run.sweep.index)}` + (run.run.grid_point ? ` (${run.run.grid_point})` : '')) : null),
      el('div', {class: 'card', id: 'lineage'}, el('h2', {}, 'Lineage'),
        el('p', {}, 'replay of: ', lineage.replay_of ? runLink(lineage.replay_of) : '-',
          lineage.replay_of ? el('span', {}, ' — ', verdict(lineage.replay_verdict)) : null),
        el('p', {}, 'replayed by: ', lineage.replayed_by.length ? lineage.replayed_by.map(r =>
          el('span', {class: 'replayed-by'}, runLink(r.run_id), ' ', verdict(r.verdict), ' ')) : '-'),
        el('p', {}, 'resumed from: ', lineage.resumed_from ? runLink(lineage.resumed_from) : '-'))),
    el('h2', {}, 'Learning curves'),
    el('div', {class: 'controls'}, metric ? metricPicker(run.metrics, metric, drawMetric) : el('span', {class: 'muted'}, 'no progress.csv or TensorBoard scalars'),
      run.metrics.notes.map(n => el('span', {class: 'failed'}, n))),
    chart,
    el('h2', {}, 'Artifacts'),
    el('div', {class: 'controls'}, verifyButton, el('span', {class: 'muted'}, 'the same check as `repro verify`: every hash, the manifest, the source diff')),
    verifyBox, artifacts,
    el('h2', {}, 'Git'), kvTable(run.git),
    el('h2', {}, 'Uncommitted diff (meta/source.diff)'),
    run.diff.lines.length ? el('pre', {id: 'diff'}, run.diff.lines.join('\n')) : el('p', {class: 'muted'}, run.diff.note || 'none: a clean tree'),
    el('div', {class: 'cols'},
      el('div', {}, el('h2', {}, 'Determinism'), kvTable(run.determinism)),
      el('div', {}, el('h2', {}, 'Host'), kvTable(run.host))),
    el('div', {class: 'cols'},
      el('div', {}, el('h2', {}, 'Image'), kvTable(run.image)),
      el('div', {}, el('h2', {}, 'Lock and environment'), kvTable(Object.assign({}, run.lock, run.env)))));
  if (metric) await drawMetric(metric);
}

function defaultMetric(metrics) {
  const learned = metrics.progress.filter(c => !['Epoch', 'TotalEnvSteps', 'Iteration'].includes(c));
  if (learned.includes('AverageReturn')) return 'AverageReturn';
  return learned[0] || metrics.tensorboard[0] || null;
}

// -- Compare two runs ----------------------------------------------------------------
async function comparePage(params) {
  const a = params.get('a'), b = params.get('b');
  if (!a || !b) {
    render(el('h1', {}, 'Compare'), el('p', {}, 'pick two runs on the ', el('a', {href: '/'}, 'runs page'), '.'));
    return;
  }
  const metricParam = params.get('metric');
  const c = await api(`/api/compare?a=${q(a)}&b=${q(b)}` + (metricParam ? `&metric=${q(metricParam)}` : ''));
  const fields = ['run_id', 'status', 'seed', 'launcher', 'commit', 'image', 'sweep', 'duration', 'verdict'];
  const chart = el('div', {id: 'chart'});
  const marked = c.divergence;
  const markerText = marked ? `first divergence at ${c.curves.a.x}=${marked.x} (a: ${show(marked.a)}, b: ${show(marked.b)})` : 'the curves do not part';
  const first = c.outputs.first_divergence;
  render(
    el('h1', {}, 'Compare ', el('span', {class: 'mono'}, a), ' and ', el('span', {class: 'mono'}, b)),
    table(['', 'a', 'b'], fields.map(f => el('tr', {}, el('th', {}, f),
      el('td', {}, cell(c.a, f)), el('td', {}, cell(c.b, f)))), {id: 'sides'}),
    el('h2', {}, 'Outputs, compared as `repro replay` compares them'),
    el('p', {id: 'outputs-verdict'}, verdict(c.outputs.verdict), ` — ${c.outputs.compared} items compared, ${c.outputs.divergence_count} divergence(s)`),
    first ? el('p', {id: 'first-divergence', class: 'failed mono'}, `first divergence: ${first.text}`) : null,
    el('h2', {}, 'Curves'),
    el('div', {class: 'controls'}, c.metric ? metricPicker(c.metrics, c.metric, name => {
      location.href = `/compare?a=${q(a)}&b=${q(b)}&metric=${q(name)}`;
    }) : null, el('span', {id: 'curve-divergence', class: marked ? 'failed' : 'ok'}, markerText)),
    chart,
    el('h2', {}, 'What `repro diff` says'),
    el('div', {id: 'diff-sections', class: 'cols'}, c.sections.map(s => el('div', {class: 'card'}, el('h2', {}, s.title),
      s.lines.length ? el('pre', {}, s.lines.join('\n')) : el('p', {class: 'muted'}, '(same)')))));
  if (c.metric) {
    drawCurves(chart, [{label: `a ${a}`, data: c.curves.a}, {label: `b ${b}`, data: c.curves.b, dashed: true}], c.metric,
               marked ? {x: marked.x, label: 'first divergence'} : null);
    for (const side of ['a', 'b']) {
      if (c.curves[side].error) chart.appendChild(el('p', {class: 'failed'}, `${side}: ${c.curves[side].error}`));
    }
  }
}

// -- Sweep -----------------------------------------------------------------------------
async function sweepPage(id, params) {
  const asked = params.get('metric');
  const s = await api(`/api/sweeps/${q(id)}` + (asked ? `?metric=${q(asked)}` : ''));
  const metric = s.metric;
  const fmt = v => v === null || v === undefined ? '-' : (+v.toPrecision(6)).toString();
  const picker = el('input', {id: 'sweep-metric', value: metric});
  const chart = el('div', {id: 'chart'});
  picker.addEventListener('change', () => { location.href = `/sweeps/${q(id)}?metric=${q(picker.value)}`; });
  render(
    el('h1', {}, 'Sweep ', el('span', {class: 'mono'}, s.sweep_id)),
    kvTable({launcher: s.launcher, engine: s.engine, created: s.created}),
    el('div', {class: 'controls'}, 'final value of ', picker, ' across seeds, per grid point'),
    table(['grid point', 'seeds', `mean ${metric}`, 'std', 'members'], s.points.map(p => el('tr', {'data-point': p.name},
      el('td', {class: 'mono'}, p.name), el('td', {}, String(p.n)), el('td', {class: 'mean'}, fmt(p.mean)), el('td', {class: 'std'}, fmt(p.std)),
      el('td', {}, table(['seed', 'status', 'final', 'run', 'attempts'], p.members.map(m => el('tr', {},
        el('td', {}, show(m.seed)), el('td', {}, status(m.status)), el('td', {}, fmt(m.final)),
        el('td', {}, runLink(m.run_id)), el('td', {}, show(m.attempts)))))))), {id: 'grid'}),
    el('h2', {}, `${metric}: mean ± one standard deviation across seeds`), chart);
  const drawn = s.points.filter(p => p.curve);
  if (drawn.length) {
    ReproChart.draw(chart, drawn.map(p => ({label: `${p.name} (${p.n} seeds)`, points: p.curve.mean, band: p.curve.band})),
                    {xLabel: drawn[0].curve.x, yLabel: metric});
  } else chart.replaceChildren(el('p', {class: 'muted'}, `no member has ${metric}`));
}

// -- Routing: one shell, one page per path --------------------------------------------------
async function route() {
  const path = location.pathname, params = new URLSearchParams(location.search);
  try {
    if (path === '/') await runsPage();
    else if (path.startsWith('/runs/')) await runPage(decodeURIComponent(path.slice(6)));
    else if (path === '/compare') await comparePage(params);
    else if (path.startsWith('/sweeps/')) await sweepPage(decodeURIComponent(path.slice(8)), params);
    else throw new Error('no such page');
    document.body.dataset.ready = 'true';
  } catch (error) {
    fail(error);
    document.body.dataset.ready = 'error';
  }
}

route();
