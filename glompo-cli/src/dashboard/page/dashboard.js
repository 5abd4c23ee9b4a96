// glompo dashboard: the page of `glompo dashboard DIR`.
//
// It follows the server's stream of `update` events (the protocol is in the module doc of
// glompo-cli/src/dashboard/mod.rs), keeps the run's state here, and draws it: counters, the best
// point, a chart of every optimizer's trajectory on a <canvas>, and the optimizers' table. Updates
// are applied as they arrive; drawing happens at most once per animation frame.
'use strict';
(() => {
  // ---------------------------------------------------------------------------------------------
  // Formatting

  const NNBSP = '\u202f'; // narrow no-break space: thousands separator

  /** A short number: `digits` significant digits, exponent notation below 1e-3 or from 1e6. */
  function num(v, digits = 4) {
    if (v === null || v === undefined) return '-';
    if (v === 0 || !Number.isFinite(v)) return v === 0 ? '0' : String(v);
    const m = Math.abs(v);
    const trim = (t) => (t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t);
    if (m >= 1e-3 && m < 1e6) {
      const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(m)));
      return trim(v.toFixed(Math.min(decimals, 20)));
    }
    const [mantissa, exponent] = v.toExponential(digits - 1).split('e');
    return trim(mantissa) + 'e' + exponent.replace('+', '');
  }

  /** An integer with thousands separators. */
  function int(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return '-';
    return Math.round(v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, NNBSP);
  }

  /** A duration in seconds, readable. */
  function duration(s) {
    if (s === null || s === undefined || !Number.isFinite(s)) return '-';
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + ' s';
    const h = Math.floor(s / 3600), mnt = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
    const two = (n) => String(n).padStart(2, '0');
    return h > 0 ? `${h} h ${two(mnt)} min` : `${mnt} min ${two(sec)} s`;
  }

  // ---------------------------------------------------------------------------------------------
  // State

  /** A curve as the server reduces it: buckets [index, c_first, f_first, c_min, f_min, c_max, f_max,
   *  c_last, f_last] in index order, and its points (cached, recomputed when `dirty`). */
  const newSeries = () => ({ buckets: [], xs: new Float64Array(0), fs: new Float64Array(0), n: 0, dirty: false });

  const S = {
    updates: 0,
    connection: 'reconnecting', // until the stream opens
    run: {},
    counters: {},
    best: null,
    scale: { kind: 'linear', lo: 0, hi: 1 },
    width: 1,
    tracks: new Map(), // opt -> series
    trackOrder: [], // opts, ascending (recomputed when a track is added)
    bestCurve: newSeries(),
    failures: [], // bucket indices
    rows: new Map(), // opt -> optimizer row
    warnings: [],
    zoom: null, // [c0, c1] while zoomed
    samples: [], // [time ms, evaluations] for the rate
  };
  // What changed since the last render (the chart is always redrawn; the rest only when changed).
  const dirty = { header: true, counters: true, best: true, warnings: true, rows: new Set(), resetRows: false };

  function resetState() {
    Object.assign(S, {
      run: {}, counters: {}, best: null, scale: { kind: 'linear', lo: 0, hi: 1 }, width: 1,
      tracks: new Map(), trackOrder: [], bestCurve: newSeries(), failures: [], rows: new Map(),
      warnings: [], samples: [],
    });
    dirty.rows.clear();
    dirty.resetRows = true;
  }

  /** Bucket `b` replaces the bucket of the same index, or is inserted in index order. */
  function putBucket(series, b) {
    const bs = series.buckets;
    const n = bs.length;
    if (n === 0 || b[0] > bs[n - 1][0]) bs.push(b);
    else if (b[0] === bs[n - 1][0]) bs[n - 1] = b;
    else {
      let lo = 0, hi = n; // first bucket with index >= b[0]
      while (lo < hi) { const mid = (lo + hi) >> 1; if (bs[mid][0] < b[0]) lo = mid + 1; else hi = mid; }
      if (bs[lo][0] === b[0]) bs[lo] = b; else bs.splice(lo, 0, b);
    }
    series.dirty = true;
  }

  /** The width grew by `factor`: index -> floor(index / factor), and consecutive buckets that fall
   *  together merge as the server merges them (first's `first`; a strictly lower `min`, a strictly
   *  higher `max`; the later `last`). */
  function coarsen(series, factor) {
    const out = [];
    for (const b of series.buckets) {
      const index = Math.floor(b[0] / factor);
      const m = out[out.length - 1];
      if (m && m[0] === index) {
        if (b[4] < m[4]) { m[3] = b[3]; m[4] = b[4]; }
        if (b[6] > m[6]) { m[5] = b[5]; m[6] = b[6]; }
        m[7] = b[7]; m[8] = b[8];
      } else {
        b[0] = index;
        out.push(b);
      }
    }
    series.buckets = out;
    series.dirty = true;
  }

  /** Recomputes a series' points: per bucket its four points in call-id order, a point with the
   *  same call id as the one before dropped. */
  function refreshPoints(series) {
    const bs = series.buckets;
    if (series.xs.length < bs.length * 4) {
      series.xs = new Float64Array(bs.length * 4 + 64);
      series.fs = new Float64Array(bs.length * 4 + 64);
    }
    const xs = series.xs, fs = series.fs, c = [0, 0, 0, 0], f = [0, 0, 0, 0];
    let n = 0;
    for (const b of bs) {
      for (let k = 0; k < 4; k++) {
        // Insertion sort of the four by call id, stable (as the server's sort).
        let j = k;
        const ck = b[1 + 2 * k], fk = b[2 + 2 * k];
        while (j > 0 && c[j - 1] > ck) { c[j] = c[j - 1]; f[j] = f[j - 1]; j--; }
        c[j] = ck; f[j] = fk;
      }
      for (let k = 0; k < 4; k++) {
        if (n === 0 || xs[n - 1] !== c[k]) { xs[n] = c[k]; fs[n] = f[k]; n++; }
      }
    }
    series.n = n;
    series.dirty = false;
  }

  /** Applies one update of the protocol to the state. */
  function apply(u) {
    if (u.reset) resetState();
    if (u.run) { Object.assign(S.run, u.run); dirty.header = true; dirty.best = true; }
    if (u.counters) {
      Object.assign(S.counters, u.counters);
      if (typeof u.counters.evaluations === 'number') S.samples.push([performance.now(), u.counters.evaluations]);
      dirty.counters = true;
    }
    if ('best' in u) { S.best = u.best; dirty.best = true; }
    if (u.scale) S.scale = u.scale;
    if (typeof u.width === 'number') {
      // The merge of the page's own buckets comes before the buckets of this update.
      const factor = Math.round(u.width / S.width);
      if (!u.reset && u.width > S.width && factor >= 2) {
        for (const t of S.tracks.values()) coarsen(t, factor);
        coarsen(S.bestCurve, factor);
        const merged = [];
        for (const i of S.failures) {
          const j = Math.floor(i / factor);
          if (merged[merged.length - 1] !== j) merged.push(j);
        }
        S.failures = merged; // the server re-sends them (reset) anyway
      }
      S.width = u.width;
    }
    for (const t of u.tracks || []) {
      let series = S.tracks.get(t.opt);
      if (!series) {
        series = newSeries();
        S.tracks.set(t.opt, series);
        S.trackOrder = null;
      }
      for (const b of t.buckets || []) putBucket(series, b);
    }
    for (const b of u.best_curve || []) putBucket(S.bestCurve, b);
    if (u.failures) {
      if (u.failures.reset) S.failures = (u.failures.add || []).slice();
      else for (const i of u.failures.add || []) S.failures.push(i);
    }
    for (const row of u.optimizers || []) {
      S.rows.set(row.opt, row);
      dirty.rows.add(row.opt);
    }
    if (u.warnings && u.warnings.length) { for (const w of u.warnings) S.warnings.push(w); dirty.warnings = true; }
    if (u.reset) { dirty.header = dirty.counters = dirty.best = dirty.warnings = true; }
    S.updates++;
  }

  // ---------------------------------------------------------------------------------------------
  // The chart's geometry: scale, ranges, ticks

  const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  const MARK = { killed: '#d62728', converged: '#2ca02c', crashed: '#ff7f0e', fail: '#d62728', best: '#111111' };
  const ENDINGS = new Set(['killed', 'converged', 'crashed']);
  const colours = new Map();

  /** The colour of optimizer `opt`: a golden-angle hue; the generator (0) grey. */
  function colour(opt) {
    let c = colours.get(opt);
    if (c) return c;
    if (opt === 0) c = '#9ca3af';
    else {
      // hsl(h, 65%, 45%) as hex, so that the SVG export needs no CSS colour functions.
      const h = (opt * 137.508) % 360, s = 0.65, l = 0.45;
      const a = s * Math.min(l, 1 - l);
      const ch = (n) => {
        const k = (n + h / 30) % 12;
        const v = l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
        return Math.round(v * 255).toString(16).padStart(2, '0');
      };
      c = '#' + ch(0) + ch(8) + ch(4);
    }
    colours.set(opt, c);
    return c;
  }

  /** f -> the y axis' units: f, log10 f, or log10 (f - min + offset). */
  function transformOf(scale) {
    if (scale.kind === 'log') return (f) => Math.log10(f);
    if (scale.kind === 'shifted-log') {
      const min = scale.min, offset = scale.offset ?? scale.lo;
      return (f) => Math.log10(f - min + offset);
    }
    return (f) => f;
  }

  /** Ticks at multiples of 1, 2 or 5 × 10^k (at least `minStep`), about `count` of them between lo
   *  and hi. */
  function niceTicks(lo, hi, count, minStep = 0) {
    const span = hi - lo;
    if (!(span > 0) || !Number.isFinite(span)) return [lo];
    const raw = span / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const r = raw / mag;
    const step = Math.max(minStep, (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag);
    const out = [];
    for (let k = Math.ceil(lo / step); k * step <= hi + step * 1e-9; k++) out.push(k * step);
    // Enough digits to tell neighbouring ticks apart.
    const digits = Math.max(1, Math.ceil(Math.log10(Math.max(Math.abs(lo), Math.abs(hi)) / step)) + 1);
    return out.map((v) => ({ v, label: num(Math.abs(v) < step * 1e-9 ? 0 : v, Math.min(digits, 12)) }));
  }

  /** A power of ten's label: plain from 0.01 to 1000, else 1e-3, 1e4, … */
  const decade = (k) => (k >= -2 && k <= 3 ? num(Math.pow(10, k), 4) : '1e' + k);

  /** Ticks of a log axis whose ends are y0, y1 (log10 units): powers of ten, or when the range is
   *  under two decades, nice values in f units. */
  function logTicks(y0, y1, count) {
    const k0 = Math.ceil(y0 - 1e-9), k1 = Math.floor(y1 + 1e-9);
    if (k1 - k0 >= 1) {
      const step = Math.max(1, Math.ceil((k1 - k0 + 1) / count));
      const out = [];
      for (let k = Math.ceil(k0 / step) * step; k <= k1; k += step) out.push({ v: k, label: decade(k) });
      if (out.length >= 2) return out;
    }
    return niceTicks(Math.pow(10, y0), Math.pow(10, y1), count)
      .filter((t) => t.v > 0)
      .map((t) => ({ v: Math.log10(t.v), label: t.label }));
  }

  /** A call id's label: thousands separators, exponent from 1e6. */
  const callLabel = (c) => (Math.abs(c) < 1e6 ? int(c) : num(c, 4));

  /** Binary search: the first index of xs[0..n) whose value is >= x. */
  function lowerBound(xs, n, x) {
    let lo = 0, hi = n;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (xs[mid] < x) lo = mid + 1; else hi = mid; }
    return lo;
  }

  /** The series' visible index range [i0, i1) for call ids c0..c1, one point either side kept so
   *  the lines run to the plot's edges. */
  function visibleRange(s, c0, c1) {
    return [Math.max(0, lowerBound(s.xs, s.n, c0) - 1), Math.min(s.n, lowerBound(s.xs, s.n, c1 + 1e-9) + 1)];
  }

  /** Everything a painter needs for the current view, `W` × `H` CSS pixels. */
  function computeView(measure, W, H) {
    const sc = S.scale;
    const yT = transformOf(sc);
    for (const t of S.tracks.values()) if (t.dirty) refreshPoints(t);
    if (S.bestCurve.dirty) refreshPoints(S.bestCurve);
    if (!S.trackOrder) S.trackOrder = [...S.tracks.keys()].sort((a, b) => a - b);

    // x: call ids from 0 (or the zoom) to the last call.
    let xMax = S.counters.last_call || 0;
    for (const t of S.tracks.values()) if (t.n) xMax = Math.max(xMax, t.xs[t.n - 1]);
    const [x0, x1] = S.zoom || [0, Math.max(1, xMax)];

    // y: the server's scale, or what the visible points span when zoomed.
    let y0, y1;
    if (sc.kind === 'linear') { y0 = sc.lo; y1 = sc.hi; } else if (sc.kind === 'log') {
      y0 = Math.log10(sc.lo); y1 = Math.log10(sc.hi);
    } else { y0 = Math.log10(sc.offset ?? sc.lo); y1 = Math.log10(sc.hi); }
    if (S.zoom) {
      let lo = Infinity, hi = -Infinity;
      const scan = (s) => {
        const [i0, i1] = visibleRange(s, x0, x1);
        for (let i = i0; i < i1; i++) {
          if (s.xs[i] < x0 || s.xs[i] > x1) continue;
          const y = yT(s.fs[i]);
          if (y < lo) lo = y;
          if (y > hi) hi = y;
        }
      };
      for (const t of S.tracks.values()) scan(t);
      scan(S.bestCurve);
      if (lo <= hi && Number.isFinite(lo) && Number.isFinite(hi)) { y0 = lo; y1 = hi; }
    }
    if (!Number.isFinite(y0) || !Number.isFinite(y1)) { y0 = 0; y1 = 1; }
    if (y1 <= y0) {
      const d = sc.kind === 'linear' ? Math.max(Math.abs(y0) * 0.1, 1e-9) : 0.5;
      y0 -= d; y1 += d;
    }
    // A small margin: 0.15 decade on log axes (as the static plot), 3 % on linear ones.
    const pad = sc.kind === 'linear' || S.zoom ? (y1 - y0) * 0.03 : 0.15;
    y0 -= pad; y1 += pad;

    const yTitle = sc.label || (sc.kind === 'linear' ? 'f' : 'f (log scale)');
    const top = 30, bottom = 44, right = 18;
    measure.font = FONT;
    const yTicks = sc.kind === 'linear' ? niceTicks(y0, y1, Math.max(3, H / 60)) : logTicks(y0, y1, Math.max(3, H / 45));
    const labelW = Math.max(24, ...yTicks.map((t) => measure.measureText(t.label).width));
    const left = Math.ceil(labelW + 34);
    const pw = Math.max(10, W - left - right), ph = Math.max(10, H - top - bottom);
    const xTicks = niceTicks(x0, x1, Math.max(2, pw / 110), 1).map((t) => ({ v: t.v, label: callLabel(t.v) }));
    const X = (c) => left + ((c - x0) / (x1 - x0)) * pw;
    const Y = (y) => top + ph - ((y - y0) / (y1 - y0)) * ph;
    const legend = [['best', 'best so far'], ['converged', 'converged'], ['killed', 'killed'],
      ['crashed', 'crashed'], ['fail', 'failed / infinite']];
    let lx = W - right;
    const legendAt = [];
    for (let i = legend.length - 1; i >= 0; i--) {
      lx -= measure.measureText(legend[i][1]).width;
      legendAt.unshift([legend[i][0], legend[i][1], lx]);
      lx -= (legend[i][0] === 'best' ? 24 : 16) + 16;
    }
    return { W, H, left, top, pw, ph, x0, x1, y0, y1, yT, X, Y, xTicks, yTicks, yTitle, legendAt };
  }

  // ---------------------------------------------------------------------------------------------
  // Painting: one routine, two back ends (the canvas and the SVG export)

  let bufX = new Float64Array(1024), bufY = new Float64Array(1024);

  /** Draws the view `v` with painter `g`; says what it drew. */
  function paint(g, v) {
    const { left, top, pw, ph, X, Y, yT } = v;
    g.rect(0, 0, v.W, v.H, '#ffffff', null);
    // Grid and ticks.
    for (const t of v.yTicks) {
      const y = Y(t.v);
      if (y < top - 0.5 || y > top + ph + 0.5) continue;
      g.line(left, y, left + pw, y, '#eceef2', 1);
      g.line(left - 4, y, left, y, '#6b7280', 1);
      g.text(t.label, left - 7, y, { align: 'end', base: 'middle' });
    }
    for (const t of v.xTicks) {
      const x = X(t.v);
      if (x < left - 0.5 || x > left + pw + 0.5) continue;
      g.line(x, top, x, top + ph, '#eceef2', 1);
      g.line(x, top + ph, x, top + ph + 4, '#6b7280', 1);
      g.text(t.label, x, top + ph + 7, { align: 'middle', base: 'top' });
    }
    g.text('call id', left + pw / 2, v.H - 8, { align: 'middle', base: 'alphabetic', weight: 600 });
    g.text(v.yTitle, 13, top + ph / 2, { align: 'middle', base: 'middle', rotate: true, weight: 600 });

    // The curves, clipped to the plot area.
    g.clip(left, top, pw, ph);
    let points = 0, tracks = 0;
    for (const opt of S.trackOrder) {
      const s = S.tracks.get(opt);
      if (!s.n) continue;
      tracks++;
      points += s.n;
      const [i0, i1] = visibleRange(s, v.x0, v.x1);
      if (bufX.length < i1 - i0) { bufX = new Float64Array(s.n * 2); bufY = new Float64Array(s.n * 2); }
      let m = 0;
      for (let i = i0; i < i1; i++) {
        const y = Y(yT(s.fs[i]));
        if (!Number.isFinite(y)) continue;
        bufX[m] = X(s.xs[i]); bufY[m] = y; m++;
      }
      g.poly(bufX, bufY, m, colour(opt), opt === 0 ? 0.8 : 1);
    }
    // The best so far: steps, each best held until the next, the last to the run's last call.
    const b = S.bestCurve;
    if (b.n) {
      const bx = [], by = [];
      for (let i = 0; i < b.n; i++) {
        if (i > 0) { bx.push(X(b.xs[i])); by.push(Y(yT(b.fs[i - 1]))); }
        bx.push(X(b.xs[i])); by.push(Y(yT(b.fs[i])));
      }
      const end = Math.max(S.counters.last_call || 0, b.xs[b.n - 1]);
      bx.push(X(end)); by.push(by[by.length - 1]);
      g.poly(bx, by, bx.length, MARK.best, 2.2);
    }
    // End markers (smaller when there are very many).
    const ended = [];
    for (const row of S.rows.values()) {
      if (row.marker && ENDINGS.has(row.status) && Number.isFinite(yT(row.marker[1]))) ended.push(row);
    }
    const size = ended.length > 1000 ? 0.55 : ended.length > 200 ? 0.75 : 1;
    for (const row of ended) {
      const [c, f] = row.marker;
      if (c >= v.x0 && c <= v.x1) g.marker(row.status, X(c), Y(yT(f)), size);
    }
    // Failures: ticks on the top edge, at the middle of each bucket holding a failure.
    const w = S.width, last = S.counters.last_call || 0;
    for (const i of S.failures) {
      const c = Math.max(1, Math.min(i * w + Math.floor(w / 2), last || Infinity));
      if (c >= v.x0 && c <= v.x1) g.line(X(c), top, X(c), top + 7, MARK.fail, 1.5);
    }
    g.unclip();
    g.rect(left, top, pw, ph, null, '#9aa1ad');
    if (!points) g.text('waiting for finite evaluations…', left + pw / 2, top + ph / 2, { align: 'middle', base: 'middle', color: '#6b7280' });

    // Legend, above the plot on the right.
    for (const [kind, label, x] of v.legendAt) {
      const y = 14;
      if (kind === 'best') {
        g.line(x - 26, y, x - 6, y, MARK.best, 2.2);
      } else if (kind === 'fail') {
        g.line(x - 10, y - 5, x - 10, y + 3, MARK.fail, 1.5);
      } else {
        g.marker(kind, x - 11, y);
      }
      g.text(label, x, y, { align: 'start', base: 'middle' });
    }
    return { points, tracks, markers: ended.length, failures: S.failures.length };
  }

  /** The canvas' painter. */
  function canvasPainter(ctx) {
    return {
      rect(x, y, w, h, fill, stroke) {
        if (fill) { ctx.fillStyle = fill; ctx.fillRect(x, y, w, h); }
        if (stroke) { ctx.strokeStyle = stroke; ctx.lineWidth = 1; ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1); }
      },
      line(x1, y1, x2, y2, colour, width) {
        ctx.beginPath();
        // Crisp one-pixel lines: on pixel centres.
        const o = width === 1 ? 0.5 : 0;
        ctx.moveTo(Math.round(x1) + o, Math.round(y1) + o);
        ctx.lineTo(Math.round(x2) + o, Math.round(y2) + o);
        ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.stroke();
      },
      poly(xs, ys, n, colour, width) {
        if (n === 0) return;
        if (n === 1) { ctx.fillStyle = colour; ctx.fillRect(xs[0] - 1.5, ys[0] - 1.5, 3, 3); return; }
        ctx.beginPath();
        ctx.moveTo(xs[0], ys[0]);
        for (let i = 1; i < n; i++) ctx.lineTo(xs[i], ys[i]);
        ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.lineJoin = 'round'; ctx.stroke();
      },
      text(s, x, y, o) {
        ctx.font = (o.weight ? o.weight + ' ' : '') + FONT;
        ctx.fillStyle = o.color || '#374151';
        ctx.textAlign = o.align === 'middle' ? 'center' : o.align;
        ctx.textBaseline = o.base;
        if (o.rotate) {
          ctx.save(); ctx.translate(x, y); ctx.rotate(-Math.PI / 2); ctx.fillText(s, 0, 0); ctx.restore();
        } else ctx.fillText(s, x, y);
      },
      marker(kind, x, y, k = 1) {
        ctx.beginPath();
        if (kind === 'killed') {
          const d = 4.5 * k;
          ctx.moveTo(x - d, y - d); ctx.lineTo(x + d, y + d);
          ctx.moveTo(x + d, y - d); ctx.lineTo(x - d, y + d);
          ctx.strokeStyle = '#ffffff'; ctx.lineWidth = 4.5 * k; ctx.stroke();
          ctx.strokeStyle = MARK.killed; ctx.lineWidth = 2.2 * k; ctx.stroke();
          return;
        }
        if (kind === 'converged') ctx.arc(x, y, 4.5 * k, 0, 2 * Math.PI);
        else { ctx.moveTo(x, y - 5.5 * k); ctx.lineTo(x + 5 * k, y + 3.5 * k); ctx.lineTo(x - 5 * k, y + 3.5 * k); ctx.closePath(); }
        ctx.fillStyle = MARK[kind]; ctx.fill();
        ctx.strokeStyle = '#1f2937'; ctx.lineWidth = k; ctx.stroke();
      },
      clip(x, y, w, h) { ctx.save(); ctx.beginPath(); ctx.rect(x, y, w, h); ctx.clip(); },
      unclip() { ctx.restore(); },
    };
  }

  /** The SVG export's painter: collects the document's elements. */
  function svgPainter() {
    const out = [];
    const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    const r = (v) => (Math.round(v * 10) / 10).toString();
    let clips = 0;
    return {
      out,
      rect(x, y, w, h, fill, stroke) {
        out.push(`<rect x="${r(x)}" y="${r(y)}" width="${r(w)}" height="${r(h)}" fill="${fill || 'none'}"` +
          (stroke ? ` stroke="${stroke}"` : '') + '/>');
      },
      line(x1, y1, x2, y2, colour, width) {
        out.push(`<line x1="${r(x1)}" y1="${r(y1)}" x2="${r(x2)}" y2="${r(y2)}" stroke="${colour}" stroke-width="${width}"/>`);
      },
      poly(xs, ys, n, colour, width) {
        if (n === 0) return;
        if (n === 1) { out.push(`<rect x="${r(xs[0] - 1.5)}" y="${r(ys[0] - 1.5)}" width="3" height="3" fill="${colour}"/>`); return; }
        const pts = new Array(n);
        for (let i = 0; i < n; i++) pts[i] = r(xs[i]) + ',' + r(ys[i]);
        out.push(`<polyline fill="none" stroke="${colour}" stroke-width="${width}" stroke-linejoin="round" points="${pts.join(' ')}"/>`);
      },
      text(s, x, y, o) {
        const dy = o.base === 'middle' ? '0.35em' : o.base === 'top' ? '0.8em' : '0';
        const rot = o.rotate ? ` transform="rotate(-90 ${r(x)} ${r(y)})"` : '';
        out.push(`<text x="${r(x)}" y="${r(y)}" dy="${dy}" text-anchor="${o.align}" fill="${o.color || '#374151'}"` +
          (o.weight ? ` font-weight="${o.weight}"` : '') + `${rot}>${esc(s)}</text>`);
      },
      marker(kind, x, y, k = 1) {
        const a = 4.5 * k;
        if (kind === 'killed') {
          const d = `M${r(x - a)} ${r(y - a)}L${r(x + a)} ${r(y + a)}M${r(x + a)} ${r(y - a)}L${r(x - a)} ${r(y + a)}`;
          out.push(`<path d="${d}" stroke="#ffffff" stroke-width="${r(a)}"/><path d="${d}" stroke="${MARK.killed}" stroke-width="${r(2.2 * k)}"/>`);
        } else if (kind === 'converged') {
          out.push(`<circle cx="${r(x)}" cy="${r(y)}" r="${r(a)}" fill="${MARK.converged}" stroke="#1f2937" stroke-width="${r(k)}"/>`);
        } else {
          out.push(`<path d="M${r(x)} ${r(y - 5.5 * k)}L${r(x + 5 * k)} ${r(y + 3.5 * k)}L${r(x - 5 * k)} ${r(y + 3.5 * k)}Z" ` +
            `fill="${MARK.crashed}" stroke="#1f2937" stroke-width="${r(k)}"/>`);
        }
      },
      clip(x, y, w, h) {
        clips++;
        out.push(`<clipPath id="plot${clips}"><rect x="${r(x)}" y="${r(y)}" width="${r(w)}" height="${r(h)}"/></clipPath>`,
          `<g clip-path="url(#plot${clips})">`);
      },
      unclip() { out.push('</g>'); },
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Rendering

  const $ = (id) => document.getElementById(id);
  const canvas = $('chart'), wrap = $('chart-wrap'), ctx = canvas.getContext('2d');
  const tbody = $('optimizers').tBodies[0];
  const rowEls = new Map(); // opt -> <tr>
  let rowOpts = []; // the opts of the table's rows, ascending
  let V = null; // the view last drawn (for hover and zoom)
  let drawn = { points: 0, tracks: 0, markers: 0, failures: 0 };
  let frame = 0;

  /** Renders at the next animation frame, once however often it is asked for. */
  function schedule() {
    if (!frame) frame = requestAnimationFrame(render);
  }

  function render() {
    frame = 0;
    const t0 = performance.now();
    renderChart();
    const t1 = performance.now();
    if (dirty.header) renderHeader();
    if (dirty.counters) renderCounters();
    if (dirty.best) renderBest();
    if (dirty.warnings) renderWarnings();
    renderRows();
    const d = document.body.dataset;
    Object.assign(d, {
      updates: S.updates, state: S.run.state || '', evaluations: S.counters.evaluations ?? 0,
      tracks: drawn.tracks, points: drawn.points, markers: drawn.markers, optimizers: rowEls.size,
      failures: drawn.failures, warnings: S.warnings.length, width: S.width, connection: S.connection,
      loading: String(S.run.loading === true), renderMs: (performance.now() - t0).toFixed(1),
    });
    // Timings, for whoever profiles the page (performance.getEntriesByName).
    try {
      performance.clearMeasures('dashboard-chart');
      performance.clearMeasures('dashboard-render');
      performance.measure('dashboard-chart', { start: t0, end: t1 });
      performance.measure('dashboard-render', { start: t0, end: performance.now() });
    } catch (e) { /* an older browser without measure options */ }
    if (mouse) hover();
  }

  function renderChart() {
    const dpr = window.devicePixelRatio || 1;
    const W = Math.max(200, wrap.clientWidth), H = Math.max(160, wrap.clientHeight);
    if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
      canvas.width = Math.round(W * dpr);
      canvas.height = Math.round(H * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    V = computeView(ctx, W, H);
    drawn = paint(canvasPainter(ctx), V);
    $('reset-zoom').hidden = !S.zoom;
    $('zoom-hint').textContent = S.zoom ? `calls ${int(S.zoom[0])} – ${int(S.zoom[1])} · double-click to reset`
      : 'drag across the chart to zoom';
  }

  function renderHeader() {
    dirty.header = false;
    const run = S.run;
    $('run-dir').textContent = run.dir || '…';
    const state = $('state');
    state.textContent = run.state || (S.updates ? 'waiting' : 'connecting…');
    state.className = 'badge ' + (run.state || 'waiting');
    const conn = $('conn');
    conn.hidden = S.connection === 'open';
    conn.textContent = S.connection === 'closed' ? 'server stopped' : 'reconnecting…';
    conn.className = 'badge ' + S.connection;
    $('end-reason').textContent = run.loading ? 'reading the logs…' : run.end_reason || '';
    document.title = `glompo · ${run.dir || 'dashboard'}${run.state ? ' · ' + run.state : ''}`;
  }

  /** Evaluations per second over the last ~10 s (the latest count taken as still current now, so
   *  the rate falls when nothing comes); null when the run is not live or too little is known. */
  function rate() {
    if (S.run.state !== 'live' || S.connection !== 'open') return null;
    const now = performance.now(), sm = S.samples;
    while (sm.length > 2 && sm[1][0] < now - 10000) sm.shift();
    if (sm.length < 2 || now - sm[0][0] < 1500) return null;
    return (sm[sm.length - 1][1] - sm[0][1]) / ((now - sm[0][0]) / 1000);
  }

  function renderCounters() {
    dirty.counters = false;
    const c = S.counters, set = (k, v) => { $('c-' + k).textContent = v; };
    const ev = $('c-evaluations');
    ev.textContent = int(c.evaluations);
    if (S.run.budget && c.evaluations !== undefined) {
      const extra = document.createElement('span');
      extra.className = 'dim';
      extra.textContent = ` / ${int(S.run.budget)} (${num((100 * c.evaluations) / S.run.budget, 3)} %)`;
      ev.append(extra);
    }
    for (const k of ['failed', 'infinite', 'started', 'running', 'converged', 'killed', 'crashed', 'stopped']) set(k, int(c[k]));
    set('elapsed', duration(c.elapsed_s));
    const r = rate();
    set('rate', r === null ? '-' : r >= 100 ? int(r) : num(r, 3));
  }

  function renderBest() {
    dirty.best = false;
    const b = S.best, summary = $('best-summary'), body = $('best-params').tBodies[0];
    body.textContent = '';
    if (!b) { summary.className = 'dim'; summary.textContent = 'no finite value yet'; return; }
    summary.className = '';
    summary.textContent = '';
    const f = document.createElement('b');
    f.textContent = 'f = ' + num(b.fx, 7);
    summary.append(f, ` found by optimizer ${b.opt_id} at evaluation ${int(b.call_id)}`);
    const names = S.run.parameter_names;
    (b.x || []).forEach((x, i) => {
      const tr = body.insertRow();
      tr.insertCell().textContent = (names && names[i]) || 'x' + i;
      tr.insertCell().textContent = num(x, 7);
    });
  }

  function renderWarnings() {
    dirty.warnings = false;
    const ws = S.warnings;
    $('warnings').hidden = ws.length === 0;
    if (!ws.length) return;
    $('warnings-title').textContent = ws.length === 1 ? '1 warning' : `${int(ws.length)} warnings` +
      (ws.length > 20 ? ' (the newest 20)' : '');
    const list = $('warnings-list');
    list.textContent = '';
    for (const w of ws.slice(-20).reverse()) {
      const li = document.createElement('li');
      li.textContent = w;
      list.append(li);
    }
  }

  const CELLS = ['opt', 'type', 'workers', 'status', 'evaluations', 'best', 'start_t', 'end_t', 'how'];
  const NUMERIC = new Set(['opt', 'workers', 'evaluations', 'best', 'start_t', 'end_t']);

  function fillRow(tr, r) {
    const c = tr.cells;
    c[0].lastChild.textContent = r.opt;
    c[1].textContent = r.type ?? '';
    c[2].textContent = r.workers ?? '';
    c[3].textContent = r.status ?? '';
    c[3].className = 'st st-' + r.status;
    c[4].textContent = int(r.evaluations);
    c[5].textContent = num(r.best);
    // Seconds since the run started, to the hundredth, as `glompo report` prints them.
    const secs = (t) => (t == null ? '-' : t.toFixed(2));
    c[6].textContent = secs(r.start_t);
    c[7].textContent = secs(r.end_t);
    c[8].textContent = r.how ?? '';
    c[8].title = r.how ?? '';
  }

  function newRow(opt) {
    const tr = document.createElement('tr');
    for (const k of CELLS) {
      const td = tr.insertCell();
      if (NUMERIC.has(k)) td.className = 'num';
    }
    const sw = document.createElement('span');
    sw.className = 'opt-sw';
    sw.style.background = colour(opt);
    tr.cells[0].append(sw, document.createTextNode(''));
    return tr;
  }

  /** Updates only the rows that changed; new rows go in opt order. */
  function renderRows() {
    if (dirty.resetRows) {
      dirty.resetRows = false;
      tbody.textContent = '';
      rowEls.clear();
      rowOpts = [];
    }
    if (!dirty.rows.size) return;
    const fresh = [];
    for (const opt of dirty.rows) {
      const tr = rowEls.get(opt);
      if (tr) fillRow(tr, S.rows.get(opt));
      else fresh.push(opt);
    }
    dirty.rows.clear();
    fresh.sort((a, b) => a - b);
    const appendAll = !rowOpts.length || fresh[0] > rowOpts[rowOpts.length - 1];
    const frag = document.createDocumentFragment();
    for (const opt of fresh) {
      const tr = newRow(opt);
      fillRow(tr, S.rows.get(opt));
      rowEls.set(opt, tr);
      if (appendAll) { frag.append(tr); rowOpts.push(opt); continue; }
      const at = lowerBound(rowOpts, rowOpts.length, opt);
      tbody.insertBefore(tr, at < rowOpts.length ? rowEls.get(rowOpts[at]) : null);
      rowOpts.splice(at, 0, opt);
    }
    if (appendAll) tbody.append(frag);
    $('opt-count').textContent = `(${int(rowEls.size)})`;
  }

  // ---------------------------------------------------------------------------------------------
  // Interaction: hover, zoom

  let mouse = null; // [x, y] in CSS pixels over the canvas
  let hoverFrame = 0;
  let drag = null; // the x where a drag started
  const tip = $('tooltip'), ring = $('ring'), sel = $('selection');

  const inPlot = (x, y) => V && x >= V.left && x <= V.left + V.pw && y >= V.top && y <= V.top + V.ph;
  const callAt = (x) => V.x0 + ((x - V.left) / V.pw) * (V.x1 - V.x0);

  /** The nearest point within 8 px of the mouse: a scan of the points near its x. */
  function hover() {
    hoverFrame = 0;
    if (!mouse || drag !== null || !inPlot(mouse[0], mouse[1])) { tip.hidden = ring.hidden = true; return; }
    const [mx, my] = mouse, R = 8;
    const c0 = callAt(mx - R), c1 = callAt(mx + R);
    let best = null, bestD = R * R;
    for (const opt of S.trackOrder || []) {
      const s = S.tracks.get(opt);
      for (let i = lowerBound(s.xs, s.n, c0); i < s.n && s.xs[i] <= c1; i++) {
        const dx = V.X(s.xs[i]) - mx, dy = V.Y(V.yT(s.fs[i])) - my, d = dx * dx + dy * dy;
        if (d <= bestD) { bestD = d; best = [opt, s.xs[i], s.fs[i]]; }
      }
    }
    if (!best) { tip.hidden = ring.hidden = true; return; }
    const [opt, c, f] = best, x = V.X(c), y = V.Y(V.yT(f));
    const row = S.rows.get(opt);
    tip.textContent = '';
    const sw = document.createElement('span');
    sw.className = 'sw';
    sw.style.background = colour(opt);
    tip.append(sw, `optimizer ${opt}${row && row.type ? ' (' + row.type + ')' : ''} · call ${int(c)} · f = ${num(f, 6)}`);
    ring.style.left = x + 'px'; ring.style.top = y + 'px'; ring.style.borderColor = colour(opt);
    tip.hidden = ring.hidden = false;
    const tw = tip.offsetWidth;
    tip.style.left = Math.min(Math.max(4, x + 12), V.W - tw - 4) + 'px';
    tip.style.top = (y > 50 ? y - 34 : y + 14) + 'px';
  }

  function mouseAt(e) {
    const r = canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  canvas.addEventListener('mousemove', (e) => {
    mouse = mouseAt(e);
    if (drag !== null) {
      const a = Math.max(V.left, Math.min(drag, mouse[0])), b = Math.min(V.left + V.pw, Math.max(drag, mouse[0]));
      Object.assign(sel.style, { left: a + 'px', width: b - a + 'px', top: V.top + 'px', height: V.ph + 'px' });
      sel.hidden = false;
    }
    if (!hoverFrame) hoverFrame = requestAnimationFrame(hover);
  });
  canvas.addEventListener('mouseleave', () => { mouse = null; tip.hidden = ring.hidden = true; });
  canvas.addEventListener('mousedown', (e) => {
    const [x, y] = mouseAt(e);
    if (e.button !== 0 || !inPlot(x, y)) return;
    drag = x;
    e.preventDefault();
  });
  window.addEventListener('mouseup', (e) => {
    if (drag === null) return;
    const x = Math.max(V.left, Math.min(V.left + V.pw, mouseAt(e)[0]));
    const a = Math.min(drag, x), b = Math.max(drag, x);
    drag = null;
    sel.hidden = true;
    if (b - a < 5) return; // a click, not a drag
    let c0 = callAt(a), c1 = callAt(b);
    if (c1 - c0 < 2) { const mid = (c0 + c1) / 2; c0 = mid - 1; c1 = mid + 1; }
    S.zoom = [Math.max(0, c0), c1];
    schedule();
  });
  const unzoom = () => { S.zoom = null; schedule(); };
  canvas.addEventListener('dblclick', unzoom);
  $('reset-zoom').addEventListener('click', unzoom);
  new ResizeObserver(schedule).observe(wrap);
  window.addEventListener('resize', schedule); // also catches a change of devicePixelRatio (zoom)

  // ---------------------------------------------------------------------------------------------
  // Export

  function download(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  $('export-png').addEventListener('click', () => {
    render(); // the current view, drawn now
    canvas.toBlob((blob) => blob && download(blob, 'trajectories.png'), 'image/png');
  });

  /** The current view as a standalone SVG document. */
  function svgDocument() {
    const W = Math.max(200, wrap.clientWidth), H = Math.max(160, wrap.clientHeight);
    const v = computeView(ctx, W, H);
    const g = svgPainter();
    paint(g, v);
    return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" ` +
      `viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="12" ` +
      `stroke-linecap="round">\n<title>glompo trajectories: ${(S.run.dir || '').replace(/[&<>]/g, '')}</title>\n` +
      g.out.join('\n') + '\n</svg>\n';
  }

  $('export-svg').addEventListener('click', () => {
    download(new Blob([svgDocument()], { type: 'image/svg+xml' }), 'trajectories.svg');
  });

  // ---------------------------------------------------------------------------------------------
  // The stream

  function connect() {
    const es = new EventSource('events');
    es.addEventListener('open', () => {
      S.connection = 'open';
      dirty.header = dirty.counters = true;
      schedule();
    });
    es.addEventListener('update', (e) => {
      let u;
      try { u = JSON.parse(e.data); } catch (err) { console.warn('dashboard: an update that is not JSON', err); return; }
      S.connection = 'open';
      apply(u);
      schedule();
    });
    es.addEventListener('error', () => {
      dirty.header = dirty.counters = true;
      schedule();
      // A run that has ended changes no more: when its stream ends (the server of `glompo run
      // --dashboard` stops with the run) the page keeps what it shows instead of knocking on a
      // closed port. A standalone dashboard keeps the stream of an ended run open, so a resume
      // of the run is still followed.
      if (S.run.state === 'finished' || S.run.state === 'killed') {
        es.close();
        S.connection = 'closed';
        return;
      }
      S.connection = 'reconnecting';
      // The browser retries by itself, unless the server answered with an error: then retry here.
      if (es.readyState === EventSource.CLOSED) { es.close(); setTimeout(connect, 2000); }
    });
  }

  // The rate falls while nothing arrives: recompute it every second.
  setInterval(() => { if (S.run.state === 'live') { dirty.counters = true; schedule(); } }, 1000);
  connect();
  schedule();
})();
