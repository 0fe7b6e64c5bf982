// A small SVG line chart, drawn from JSON points; no library, nothing fetched.
// ReproChart.draw(container, series, options)
//   series:  [{label, points: [[x, y|null], ...], band: [[x, low, high], ...]?}]
//   options: {xLabel, yLabel, marker: {x, label}?}
// Each series is one <polyline class="curve"> whose points attribute holds
// exactly its points with a number y (a null y is a gap, not drawn).
'use strict';
const ReproChart = (() => {
  const NS = 'http://www.w3.org/2000/svg';
  const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
  const W = 760, H = 340, L = 64, R = 16, T = 26, B = 40;

  function node(tag, attrs, parent) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    if (parent) parent.appendChild(el);
    return el;
  }
  function text(parent, x, y, value, attrs) {
    const el = node('text', Object.assign({x, y}, attrs || {}), parent);
    el.textContent = value;
    return el;
  }
  function extent(values) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) { if (v !== null && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }
    if (lo === Infinity) return [0, 1];
    if (lo === hi) return [lo - 1, hi + 1];
    return [lo, hi];
  }
  function fmt(v) {
    const a = Math.abs(v);
    return (a !== 0 && (a >= 1e5 || a < 1e-3)) ? v.toExponential(2) : String(+v.toPrecision(4));
  }

  function draw(container, series, options) {
    options = options || {};
    container.textContent = '';
    const xs = [], ys = [];
    for (const s of series) {
      for (const [x, y] of s.points) { xs.push(x); ys.push(y); }
      for (const [x, lo, hi] of (s.band || [])) { xs.push(x); ys.push(lo, hi); }
    }
    const [x0, x1] = extent(xs), [y0, y1] = extent(ys);
    const sx = x => L + (x - x0) / (x1 - x0) * (W - L - R);
    const sy = y => H - B - (y - y0) / (y1 - y0) * (H - T - B);
    const svg = node('svg', {class: 'chart', viewBox: `0 0 ${W} ${H}`, width: W, height: H});
    for (let i = 0; i <= 4; i++) {
      const yv = y0 + (y1 - y0) * i / 4, xv = x0 + (x1 - x0) * i / 4;
      node('line', {class: 'grid', x1: L, x2: W - R, y1: sy(yv), y2: sy(yv)}, svg);
      text(svg, L - 6, sy(yv) + 4, fmt(yv), {'text-anchor': 'end'});
      text(svg, sx(xv), H - B + 16, fmt(xv), {'text-anchor': 'middle'});
    }
    node('line', {class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B}, svg);
    node('line', {class: 'axis', x1: L, x2: L, y1: T, y2: H - B}, svg);
    text(svg, (L + W - R) / 2, H - 6, options.xLabel || '', {'text-anchor': 'middle'});
    text(svg, 8, 14, options.yLabel || '', {});
    const legend = document.createElement('div');
    legend.className = 'legend';
    series.forEach((s, i) => {
      const color = s.color || COLORS[i % COLORS.length];
      if (s.band && s.band.length) {
        const upper = s.band.map(([x, , hi]) => `${sx(x)},${sy(hi)}`);
        const lower = s.band.map(([x, lo]) => `${sx(x)},${sy(lo)}`).reverse();
        node('polygon', {class: 'band', points: upper.concat(lower).join(' '), fill: color,
                         'fill-opacity': 0.18, stroke: 'none'}, svg);
      }
      const pts = s.points.filter(([x, y]) => x !== null && y !== null);
      node('polyline', {class: 'curve', points: pts.map(([x, y]) => `${sx(x)},${sy(y)}`).join(' '),
                        fill: 'none', stroke: color, 'stroke-width': s.width || 1.6,
                        'stroke-dasharray': s.dashed ? '6 4' : 'none',
                        'data-label': s.label, 'data-count': pts.length}, svg);
      const item = document.createElement('span');
      const swatch = document.createElement('i');
      swatch.style.background = color;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(s.label));
      legend.appendChild(item);
    });
    if (options.marker && options.marker.x !== null && options.marker.x !== undefined) {
      const mx = sx(options.marker.x);
      node('line', {class: 'divergence', x1: mx, x2: mx, y1: T, y2: H - B}, svg);
      text(svg, Math.min(mx + 4, W - 200), T + 12, options.marker.label || 'first divergence',
           {class: 'divergence-label'});
    }
    container.appendChild(svg);
    container.appendChild(legend);
    return svg;
  }
  return {draw, COLORS};
})();
