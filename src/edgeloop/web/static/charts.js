// The dashboard's charts, drawn with uPlot (vendor/uplot, served from this site): a device's metric over time
// with its anomaly spans and decision and event markers, and the ROI ledger's charts. Time axes are data time
// in UTC, as every time on the page. Spans and markers are elements laid over the plot, placed through the
// DOM (never a style attribute), so the page's content security policy holds and tests can find them.
"use strict";
const Charts = (() => {
  const FONT = "12px system-ui, -apple-system, \"Segoe UI\", sans-serif";
  const COLOR = { ink: "#1d2433", muted: "#5b6475", line: "#e3e6ec", accent: "#1f5fbf", holdout: "#6d28d9",
    warn: "#b54708", bad: "#b42318", ok: "#1a7f37" };
  const HEIGHT = 240;
  const utc = (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");

  function axis(label, extra) {
    return { stroke: COLOR.muted, font: FONT, labelFont: FONT, label, labelSize: label ? 18 : 0,
      grid: { stroke: COLOR.line, width: 1 }, ticks: { stroke: COLOR.line, width: 1 }, ...extra };
  }

  // Time ticks in UTC as the rest of the page writes times: the date where it changes, the hour within a day.
  function timeTicks(when) {
    return (u, splits) => {
      const span = splits.length > 1 ? splits[splits.length - 1] - splits[0] : 0;
      return splits.map((t, i) => {
        const s = when(t), day = s.slice(0, 10);
        if (span >= 3 * 86400) return day.slice(5);
        const newDay = i === 0 || when(splits[i - 1]).slice(0, 10) !== day;
        return newDay ? `${s.slice(11, 16)}\n${day}` : s.slice(11, 16);
      });
    };
  }

  function widthOf(box) {
    return Math.max(240, Math.floor(box.getBoundingClientRect().width) - 2);
  }

  function follow(plot, box) { // the chart keeps its container's width
    new ResizeObserver(() => {
      const w = widthOf(box);
      if (Math.abs(w - plot.width) > 1) plot.setSize({ width: w, height: HEIGHT });
    }).observe(box);
  }

  function place(el, plot, t0, t1) { // an overlay element over [t0, t1] of the x axis (t1 null: a line)
    const x0 = plot.valToPos(t0, "x");
    const x1 = t1 == null ? x0 : plot.valToPos(t1, "x");
    const w = plot.over.clientWidth;
    el.hidden = x1 < 0 || x0 > w;
    el.style.left = `${Math.max(0, x0)}px`;
    if (t1 != null) el.style.width = `${Math.max(2, Math.min(w, x1) - Math.max(0, x0))}px`;
  }

  // -- a device's metric ---------------------------------------------------------------------------------
  function stepOf(xs) { // the usual time between buckets (the median)
    const d = xs.slice(1).map((x, i) => x - xs[i]).filter((v) => v > 0).sort((a, b) => a - b);
    return d.length ? d[Math.floor(d.length / 2)] : 60;
  }

  function spansOf(xs, scores, level) { // runs of buckets scored >= level, each to the next bucket's start
    const spans = [];
    const step = stepOf(xs);
    for (let i = 0; i < xs.length; i++) {
      if (scores[i] == null || scores[i] < level) continue;
      const next = i + 1 < xs.length ? xs[i + 1] : Infinity;
      const end = next - xs[i] <= 3 * step ? next : xs[i] + step; // not across a stretch without data
      const last = spans[spans.length - 1];
      if (last && last.i === i - 1 && last.t1 === xs[i]) {
        last.t1 = end; last.i = i; last.peak = Math.max(last.peak, scores[i]);
      } else spans.push({ t0: xs[i], t1: end, i, peak: scores[i] });
    }
    return spans;
  }

  function withGaps(buckets) { // a null after a bucket followed by a stretch without data: the line breaks there
    const step = stepOf(buckets.map((b) => b.t));
    const out = [];
    buckets.forEach((b, i) => {
      out.push(b);
      const next = buckets[i + 1];
      if (next && next.t - b.t > 3 * step) out.push({ t: b.t + step, min: null, mean: null, max: null, score: null });
    });
    return out;
  }

  // One metric: min-max band and mean of the stored buckets, the scale from the device's meta (low, high),
  // anomaly spans shaded, decisions and events marked. `chart.add(t, value, score)` appends a live reading.
  function metric(box, opts) {
    const { unit, low, high, level, marks, when } = opts;
    const buckets = withGaps(opts.buckets);
    const data = [buckets.map((b) => b.t), buckets.map((b) => b.min), buckets.map((b) => b.mean),
      buckets.map((b) => b.max)];
    const scores = buckets.map((b) => b.score);
    const layer = document.createElement("div");
    layer.className = "marks";
    const range = (u, lo, hi) => {
      const a = Math.min(low ?? lo, lo ?? low ?? 0), b = Math.max(high ?? hi, hi ?? high ?? 1);
      const pad = (b - a || 1) * 0.04;
      return [a - pad, b + pad];
    };
    const fmt = (v) => (v == null ? "-" : `${v.toFixed(2)}${unit ? " " + unit : ""}`);
    const plot = new uPlot({
      width: widthOf(box), height: HEIGHT, tzDate: utc,
      scales: { x: { time: true, range: (u, lo, hi) => {
        const ts = marks.map((m) => m.ts).filter((t) => t != null);
        const a = Math.min(lo ?? Infinity, ...ts), b = Math.max(hi ?? -Infinity, ...ts);
        return a === b ? [a - 60, b + 60] : [a, b + (b - a) * 0.01];
      } }, y: { range } },
      series: [
        { value: (u, t) => (t == null ? "-" : when(t)) },
        { label: "min", stroke: "rgba(31,95,191,0.35)", width: 1, value: (u, v) => fmt(v) },
        { label: "mean", stroke: COLOR.accent, width: 1.6, value: (u, v) => fmt(v) },
        { label: "max", stroke: "rgba(31,95,191,0.35)", width: 1, value: (u, v) => fmt(v) },
      ],
      bands: [{ series: [3, 1], fill: "rgba(31,95,191,0.10)" }],
      axes: [axis("", { values: timeTicks(when), size: 44 }), axis(unit || "", { size: 56 })],
      legend: { live: true },
      hooks: { draw: [() => redraw()], ready: [(u) => u.over.appendChild(layer)] },
    }, data, box);

    function redraw() {
      layer.replaceChildren();
      for (const s of spansOf(data[0], scores, level)) {
        const el = document.createElement("div");
        el.className = "span-anomaly";
        el.title = `anomalous (score up to ${s.peak.toFixed(3)}): ${when(s.t0)} to ${when(s.t1)}`;
        place(el, plot, s.t0, s.t1);
        layer.appendChild(el);
      }
      const labelled = { decision: -1e9, event: -1e9 }; // where the last label of each row was put (px)
      for (const m of [...marks].sort((a, b) => a.ts - b.ts)) {
        const el = document.createElement("div");
        el.className = `marker ${m.kind}`;
        el.title = `${when(m.ts)}: ${m.text}`;
        el.dataset.ts = String(m.ts);
        const tag = document.createElement("span");
        tag.textContent = m.label;
        el.appendChild(tag);
        place(el, plot, m.ts, null);
        const x = plot.valToPos(m.ts, "x"), row = m.kind.startsWith("event") ? "event" : "decision";
        el.classList.toggle("left", x > plot.over.clientWidth - 90); // the label inside the plot
        if (x - labelled[row] < 110) tag.hidden = true; // no label over another: the line and its tooltip stay
        else labelled[row] = x;
        layer.appendChild(el);
      }
      box.dataset.spans = String(layer.querySelectorAll(".span-anomaly").length);
      box.dataset.points = String(data[0].length);
    }
    follow(plot, box);

    return {
      plot,
      add(t, value, score) {
        const xs = data[0];
        if (xs.length && t <= xs[xs.length - 1]) return;
        xs.push(t); data[1].push(value); data[2].push(value); data[3].push(value); scores.push(score);
        if (xs.length > 3000) { for (const a of [...data, scores]) a.shift(); }
        plot.setData(data);
      },
    };
  }

  // -- the ROI ledger --------------------------------------------------------------------------------------
  function lossZone(u) { // the part of the plot below zero, tinted: money lost
    const zero = u.valToPos(0, "y", true);
    const { left, top, width, height } = u.bbox;
    if (zero >= top + height) return;
    const y = Math.max(top, zero);
    u.ctx.save();
    u.ctx.fillStyle = "rgba(181,71,8,0.07)";
    u.ctx.fillRect(left, y, width, top + height - y);
    u.ctx.restore();
  }

  function band(u, low, high, estimate) { // a measured uplift's 95% interval across the plot
    if (low == null || high == null) return;
    const { left, width } = u.bbox;
    const y0 = u.valToPos(high, "y", true), y1 = u.valToPos(low, "y", true);
    u.ctx.save();
    u.ctx.fillStyle = "rgba(31,95,191,0.12)";
    u.ctx.fillRect(left, y0, width, Math.max(1, y1 - y0));
    if (estimate != null) {
      const y = u.valToPos(estimate, "y", true);
      u.ctx.strokeStyle = COLOR.accent;
      u.ctx.setLineDash([6, 4]);
      u.ctx.lineWidth = 1.5;
      u.ctx.beginPath(); u.ctx.moveTo(left, y); u.ctx.lineTo(left + width, y); u.ctx.stroke();
    }
    u.ctx.restore();
  }

  const bars = () => uPlot.paths.bars({ size: [0.6, 48] });
  const signed = (values) => [values.map((v) => (v >= 0 ? v : null)), values.map((v) => (v < 0 ? v : null))];

  function withZero(lo, hi, extra = []) {
    const all = [lo, hi, 0, ...extra].filter((v) => v != null && Number.isFinite(v));
    const a = Math.min(...all), b = Math.max(...all);
    const pad = (b - a || 1) * 0.08;
    return [a - pad, b + pad];
  }

  // Each chart: {name, title, note, build(width) -> [options, data]}; all the same size and font.
  function roi(box, s, when) {
    const cur = s.currency;
    const t = s.arms.treated, h = s.arms.holdout;
    const up = s.uplift.net_value || {}, dt = s.uplift.downtime_h || {};
    const money = (v) => (v == null ? "-" : `${Math.round(v).toLocaleString("en")} ${cur}`);
    const hours = (v) => (v == null ? "-" : `${v.toFixed(2)} h`);
    const day = { value: (u, x) => (x == null ? "-" : when(x).slice(0, 10)) };
    const days = (u, lo, hi) => [(lo ?? 0) - 43200, (hi ?? 0) + 43200]; // half a day around the first and last
    const daySplits = (u) => { // ticks on the days with data only, as many as fit
      const fit = Math.max(2, Math.floor(u.bbox.width / (uPlot.pxRatio || devicePixelRatio || 1) / 100));
      const step = Math.ceil(s.days.length / fit);
      return s.days.filter((_, i) => i % step === 0);
    };
    const dayAxis = axis("", { splits: daySplits, values: (u, xs) => xs.map((x) => when(x).slice(0, 10)) });
    const arms = (fmt) => [
      { label: `treated (${t.devices} devices)`, stroke: COLOR.accent, width: 2, points: { size: 5 }, value: (u, v) => fmt(v) },
      { label: `holdout (${h.devices} devices)`, stroke: COLOR.holdout, width: 2, points: { size: 5 }, value: (u, v) => fmt(v) },
    ];
    const interval = (u, unit, f) => (u.ci_low == null ? "too little data for an interval yet"
      : `measured treated minus holdout: ${f(u.per_device_day)} per device-day, 95% interval ${f(u.ci_low)} to ${f(u.ci_high)}${unit}`);
    const diff = t.net_value.map((v, i) => v - h.net_value[i]);
    const [gain, loss] = signed(diff);
    const actions = Object.entries(s.by_action);
    const [aGain, aLoss] = signed(actions.map(([, v]) => v));
    const specs = [
      {
        name: "downtime", title: "Unplanned downtime per device, by day (h)",
        note: interval(dt, "", hours),
        opts: { scales: { x: { time: true, range: days }, y: { range: (u, lo, hi) => withZero(lo, hi) } },
          series: [day, ...arms(hours)], axes: [dayAxis, axis("h per device")] },
        data: [s.days, t.downtime_h, h.downtime_h],
      },
      {
        name: "cumulative_value", title: `Net value per device, summed day by day (${cur})`,
        note: "Below zero (tinted) the arm has lost money so far.",
        opts: { scales: { x: { time: true, range: days }, y: { range: (u, lo, hi) => withZero(lo, hi) } },
          series: [day, ...arms(money)], axes: [dayAxis, axis(cur, { size: 70 })], hooks: { drawAxes: [lossZone] } },
        data: [s.days, t.cumulative_net_value, h.cumulative_net_value],
      },
      {
        name: "uplift", title: `Treated minus holdout: net value per device-day (${cur})`,
        note: interval(up, "", money) + (up.ci_low == null ? "." : ". Shaded: the interval; dashed: the estimate."),
        opts: { scales: { x: { time: true, range: days }, y: { range: (u, lo, hi) => withZero(lo, hi, [up.ci_low, up.ci_high]) } },
          series: [day,
            { label: "treated ahead", fill: COLOR.ok, stroke: COLOR.ok, paths: bars(), points: { show: false }, value: (u, v) => money(v) },
            { label: "treated behind", fill: COLOR.warn, stroke: COLOR.warn, paths: bars(), points: { show: false }, value: (u, v) => money(v) }],
          axes: [dayAxis, axis(cur, { size: 70 })],
          hooks: { drawAxes: [(u) => band(u, up.ci_low, up.ci_high, up.per_device_day)] } },
        data: [s.days, gain, loss],
      },
      {
        name: "value_by_action", title: `Net value by action (${cur})`,
        note: "The action is the linked decision's command; \"none\" when no decision is linked.",
        opts: { scales: { x: { time: false, range: (u) => [-0.6, Math.max(0.6, actions.length - 0.4)] },
          y: { range: (u, lo, hi) => withZero(lo, hi) } },
          series: [{ value: (u, i) => (actions[i] ? actions[i][0] : "-") },
            { label: "gain", fill: COLOR.ok, stroke: COLOR.ok, paths: bars(), points: { show: false }, value: (u, v) => money(v) },
            { label: "cost", fill: COLOR.warn, stroke: COLOR.warn, paths: bars(), points: { show: false }, value: (u, v) => money(v) }],
          axes: [axis("", { splits: () => actions.map((_, i) => i), values: () => actions.map(([k]) => k) }),
            axis(cur, { size: 70 })] },
        data: [actions.map((_, i) => i), aGain, aLoss],
      },
    ];
    box.replaceChildren();
    const plots = [];
    for (const spec of specs) {
      const figure = document.createElement("figure");
      figure.className = "chart";
      figure.dataset.chart = spec.name;
      const caption = document.createElement("figcaption");
      caption.textContent = spec.title;
      const area = document.createElement("div");
      const note = document.createElement("p");
      note.className = "note";
      note.textContent = spec.note;
      figure.append(caption, area, note);
      box.appendChild(figure);
      const plot = new uPlot({ width: widthOf(area), height: HEIGHT, tzDate: utc, legend: { live: true }, ...spec.opts },
        spec.data, area);
      follow(plot, area);
      plots.push(plot);
    }
    return plots;
  }

  return { metric, roi, spansOf };
})();
