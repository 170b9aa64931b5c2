/* leakscope's HTML page renderer: reads the JSON data in #lk-data and draws
 * every chart as SVG. Vanilla JS, no library, no network (docs/HTML.md). */
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('lk-data').textContent);
  var NS = 'http://www.w3.org/2000/svg';
  var PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4',
    '#f032e6', '#9a6324', '#808000', '#469990', '#000075', '#bfa100'];
  var PART_COLOR = {
    heap: '#4363d8', allocator_free: '#9ecae1', allocator_overhead: '#c6dbef',
    outside_malloc: '#f58231', tracked_mmap: '#911eb4', file_backed: '#bdbdbd'
  };
  var KIND_COLOR = {heap: '#4363d8', anonymous: '#f58231', stack: '#3cb44b', file: '#bdbdbd',
    other: '#808080'};
  var tip = document.getElementById('tip');

  function h(tag, attrs, kids) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'cls') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (kids || []).forEach(function (c) {
      if (c != null) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }
  function s(tag, attrs) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs || {}) {
      if (k === 'text') e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    return e;
  }
  function bytes(b) {
    if (b == null || !isFinite(b)) return '?';
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], v = Math.abs(b), i = 0;
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return (b < 0 ? '-' : '') + (i ? v.toFixed(1) : v.toFixed(0)) + ' ' + u[i];
  }
  function rate(r) {
    if (r == null || !isFinite(r)) return '?';
    return (r > 0 ? '+' : '') + bytes(r) + '/s';
  }
  function dur(x) {
    if (x == null || !isFinite(x)) return '?';
    if (x < 60) return x.toFixed(1) + ' s';
    if (x < 3600) return Math.floor(x / 60) + ' min ' + Math.floor(x % 60) + ' s';
    if (x < 172800) return Math.floor(x / 3600) + ' h ' + Math.floor(x / 60 % 60) + ' min';
    return (x / 86400).toFixed(1) + ' days';
  }
  function count(n) { return n == null ? '?' : Number(n).toLocaleString('en-US'); }
  function classLabel(c) {
    if (c === 0) return '0-1 B';
    if (c === 31) return '>= 2 GiB';
    return bytes(Math.pow(2, c)).replace('.0', '') + '-' + bytes(Math.pow(2, c + 1) - 1);
  }
  function showTip(ev, text) {
    tip.textContent = text;
    tip.hidden = false;
    var x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + 380 > window.innerWidth) x = Math.max(0, ev.clientX - 390);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  function hideTip() { tip.hidden = true; }
  function niceStep(max, n) {
    var raw = max / n, p = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function byteStep(max, n) {
    /* Byte axes in powers of 2 times 1, 2 or 5 of a unit. */
    var unit = 1;
    while (max / unit >= 1024 * n) unit *= 1024;
    return niceStep(max / unit, n) * unit;
  }

  /* A time chart. o: {t, series: [{name, color, v, dash}], stacked, fmt,
   * height, lines: [...] drawn over the stack, legendExtra(i)}. */
  function chart(o) {
    var W = 1000, H = o.height || 220, L = 72, R = 12, T = 10, B = 26;
    var t = o.t, n = t.length, fmt = o.fmt || bytes;
    var svg = s('svg', {viewBox: '0 0 ' + W + ' ' + H, 'class': 'chart', role: 'img'});
    var wrap = h('div', {}, [svg]);
    if (!n) return wrap;
    var tmax = t[n - 1] > t[0] ? t[n - 1] : t[0] + 1, tmin = t[0];
    var stack = [], ymax = 0, i, k;
    var all = o.series.concat(o.lines || []);
    for (i = 0; i < n; i++) {
      var acc = 0;
      o.series.forEach(function (se, j) {
        var v = se.v[i] || 0;
        acc = o.stacked ? acc + v : v;
        if (!stack[j]) stack[j] = [];
        stack[j][i] = acc;
        if (acc > ymax) ymax = acc;
      });
      (o.lines || []).forEach(function (se) { if ((se.v[i] || 0) > ymax) ymax = se.v[i]; });
    }
    if (ymax <= 0) ymax = 1;
    var step = fmt === bytes ? byteStep(ymax, 4) : niceStep(ymax, 4);
    ymax = Math.ceil(ymax / step) * step;
    function X(x) { return L + (x - tmin) / (tmax - tmin) * (W - L - R); }
    function Y(y) { return T + (1 - y / ymax) * (H - T - B); }
    for (var y = 0; y <= ymax + step / 2; y += step) {
      svg.appendChild(s('line', {x1: L, x2: W - R, y1: Y(y), y2: Y(y), stroke: '#eee'}));
      svg.appendChild(s('text', {x: L - 6, y: Y(y) + 4, 'text-anchor': 'end', text: fmt(y)}));
    }
    var ts = niceStep(tmax - tmin, 6);
    for (var x = Math.ceil(tmin / ts) * ts; x <= tmax; x += ts)
      svg.appendChild(s('text', {x: X(x), y: H - 8, 'text-anchor': 'middle', text: dur(x)}));
    function line(vals) {
      var d = '';
      for (var q = 0; q < n; q++) d += (q ? 'L' : 'M') + X(t[q]).toFixed(1) + ' ' + Y(vals[q] || 0).toFixed(1);
      return d;
    }
    o.series.forEach(function (se, j) {
      if (o.stacked) {
        var d = line(stack[j]);
        for (k = n - 1; k >= 0; k--)
          d += 'L' + X(t[k]).toFixed(1) + ' ' + Y(j ? stack[j - 1][k] : 0).toFixed(1);
        svg.appendChild(s('path', {d: d + 'Z', fill: se.color, 'fill-opacity': 0.85,
          stroke: se.color, 'data-series': se.name}));
      } else {
        svg.appendChild(s('path', {d: line(se.v), fill: 'none', stroke: se.color,
          'stroke-width': se.width || 1.8, 'stroke-dasharray': se.dash || '', 'data-series': se.name}));
      }
    });
    (o.lines || []).forEach(function (se) {
      svg.appendChild(s('path', {d: line(se.v), fill: 'none', stroke: se.color, 'stroke-width': 2,
        'stroke-dasharray': se.dash || '', 'data-series': se.name}));
    });
    var cursor = s('line', {y1: T, y2: H - B, stroke: '#999', visibility: 'hidden'});
    svg.appendChild(cursor);
    var hit = s('rect', {x: L, y: T, width: W - L - R, height: H - T - B, fill: 'transparent'});
    svg.appendChild(hit);
    hit.addEventListener('mousemove', function (ev) {
      var r = svg.getBoundingClientRect();
      var tx = tmin + ((ev.clientX - r.left) * W / r.width - L) / (W - L - R) * (tmax - tmin);
      var best = 0;
      for (var q = 1; q < n; q++) if (Math.abs(t[q] - tx) < Math.abs(t[best] - tx)) best = q;
      cursor.setAttribute('x1', X(t[best]));
      cursor.setAttribute('x2', X(t[best]));
      cursor.setAttribute('visibility', 'visible');
      var lines = ['at ' + dur(t[best])];
      all.slice().reverse().forEach(function (se) { lines.push(se.name + ': ' + fmt(se.v[best] || 0)); });
      showTip(ev, lines.join('\n'));
    });
    hit.addEventListener('mouseleave', function () { cursor.setAttribute('visibility', 'hidden'); hideTip(); });
    var legend = h('div', {cls: 'legend'});
    all.forEach(function (se, j) {
      var extra = o.legendExtra ? o.legendExtra(se, j) : ' ' + fmt(se.v[n - 1] || 0);
      legend.appendChild(h('span', {cls: se.hot ? 'hot' : ''}, [h('i', {style: 'background:' + se.color}), se.name + extra]));
    });
    wrap.appendChild(legend);
    return wrap;
  }

  function card(title, kids, id) {
    return h('div', {cls: 'card', id: id || ''}, [h('h2', {text: title})].concat(kids));
  }

  /* The first six frames, the rest behind a disclosure. */
  function frameList(frames, total) {
    var ul = h('ul', {cls: 'frames mono'}), more = h('ul', {cls: 'frames mono'});
    frames.forEach(function (f, i) {
      var where = f[1] ? f[1] + ':' + f[2] : '';
      (i < 6 ? ul : more).appendChild(h('li', {}, [h('span', {cls: 'fn', text: f[0]}), '  ',
        h('span', {cls: 'where', text: where + '  [' + (f[3] || '?') + ']' + (f[4] ? ' (inlined)' : '')})]));
    });
    if (total > frames.length) more.appendChild(h('li', {cls: 'where', text: '... ' + (total - frames.length) + ' more frames'}));
    if (!more.firstChild) return ul;
    return h('div', {}, [ul, h('details', {}, [h('summary', {cls: 'sub', text: (total - 6) + ' more frames'}), more])]);
  }

  /* What a reachability scan says of a suspect: states, lost or held,
   * retainers, and content samples when the page was made with --content. */
  function reachBlock(x) {
    var r = x.scan, out = [];
    if (!r) return out;
    var st = r.states;
    var flags = r.partial ? ' (partial: counts are lower bounds)' : !r.registers ? " (without every thread's registers)" : '';
    out.push(h('div', {cls: 'sub reach', text: 'reachability (scan at ' + dur(r.time_s) + '): ' +
      count(st.unreachable.count) + ' unreachable blocks (' + bytes(st.unreachable.bytes) + '), ' +
      count(st.indirect.count) + ' indirect (' + bytes(st.indirect.bytes) + '), ' +
      count(st.reachable.count) + ' reachable (' + bytes(st.reachable.bytes) + ')' + flags}));
    if (r.lost_decisive)
      out.push(h('div', {cls: 'sub lost', text: 'lost: ' + count(r.lost_count) + ' blocks (' + bytes(r.lost_bytes) +
        ') nothing points to' + (r.lost_rate_bytes_per_s ? ', ' + rate(r.lost_rate_bytes_per_s) : '') + ': a leak whatever the trend says'}));
    else if (r.lost_count)
      out.push(h('div', {cls: 'sub note', text: count(r.lost_count) + ' blocks (' + bytes(r.lost_bytes) +
        ') nothing pointed to in a scan made at exit, partial or without registers: ' + (r.lost ? 'the growing trend agrees' : 'evidence, not a verdict')}));
    if (r.held)
      out.push(h('div', {cls: 'sub held', text: 'held by something: look for a missing eviction or removal' +
        (r.retainers.length ? '; mostly by ' + r.retainers[0].label : '')}));
    if (r.retainers.length)
      out.push(h('div', {cls: 'sub', text: 'retainers: ' + r.retainers.map(function (t) {
        return t.label + ' (' + count(t.count) + ' blocks)'; }).join(', ')}));
    if (r.samples_hidden)
      out.push(h('div', {cls: 'sub note', text: r.samples_hidden + ' content samples recorded, hidden (make the page with --content to show them)'}));
    (r.samples || []).forEach(function (sm) {
      var hex = sm.hex.split(' '), rows = [];
      for (var i = 0; i < hex.length; i += 16)
        rows.push(('000' + i.toString(16)).slice(-4) + '  ' + hex.slice(i, i + 16).join(' ') +
          new Array(Math.max(0, 16 - hex.slice(i, i + 16).length) * 3 + 1).join(' ') + '  |' + sm.text.slice(i, i + 16) + '|');
      out.push(h('div', {cls: 'sub', text: 'content of a' + (sm.state === 'unreachable' ? 'n ' : ' ') + sm.state + ' block of ' +
        bytes(sm.size) + ', born in period ' + sm.birth_period + ':'}));
      out.push(h('pre', {cls: 'mono sample', text: rows.join('\n')}));
    });
    return out;
  }

  function topFrame(site) {
    return site.frames.length ? site.frames[0][0] + '()' : 'site ' + site.id;
  }

  /* ---- sections ---------------------------------------------------- */

  function header() {
    var V = D.verdict, M = D.meta, P = V.process, out = [];
    /* A watch recording has no sites: its verdict is the process's alone. */
    if (D.watch) out.push(h('h1', {cls: 'verdict ' + (D.watch.growing ? 'GROWING' : 'STABLE'), id: 'watch-verdict', text: D.watch.summary}));
    else out.push(h('h1', {cls: 'verdict ' + V.verdict, id: 'verdict', text: V.summary}));
    if (V.verdict_time_s != null && !D.watch)
      out.push(h('p', {cls: 'sub', text: 'Time to verdict: ' + dur(V.verdict_time_s) + ' (held from snapshot ' + V.verdict_snapshots + ' of ' + M.snapshots + ' on)'}));
    var name = M.cmdline.length ? M.cmdline.join(' ') : M.exe;
    out.push(h('p', {cls: 'sub'}, ['Recording ', h('b', {text: M.file}), ': ', h('span', {cls: 'mono', text: name}),
      ' (pid ' + M.pid + '), ' + M.snapshots + ' snapshots over ' + dur(M.duration_s) + ', ' + count(M.sites) + ' sites']));
    var r = P.rss.trend, lim = P.limit;
    var ptxt = (D.watch ? 'Recorded by leakscope watch, without the agent: pages, not allocations. ' :
      'Process memory: ' + P.verdict + ' - ' + (P.why || '') + '. ') + 'RSS ' + bytes(P.rss.start) + ' -> ' +
      bytes(P.rss.end) + ' (peak ' + bytes(P.rss.peak) + '), ' + rate(r[0]) + ' (95% CI ' + rate(r[1]) + ' .. ' + rate(r[2]) + ')';
    if (lim.kind) ptxt += lim.seconds != null ? '; reaches the ' + (lim.kind === 'cgroup' ? 'cgroup limit' : 'physical memory') +
      ' of ' + bytes(lim.limit) + ' in ' + dur(lim.seconds) : '; limit ' + bytes(lim.limit) + ', not growing';
    out.push(h('p', {cls: 'sub', text: ptxt}));
    var S = D.scans || [];
    if (S.length) {
      var pause = 0, scanned = 0;
      S.forEach(function (x) { pause = Math.max(pause, x.pause_s); scanned += x.root_bytes + x.heap_bytes; });
      out.push(h('p', {cls: 'sub', id: 'scans', text: 'Scans: ' + S.length + ' (' + S.map(function (x) {
        return x.trigger + ' at ' + dur(x.time_s) + (x.partial ? ', partial' : '') + (x.registers ? '' : ', no registers'); }).join('; ') +
        '), longest pause ' + (pause * 1000).toFixed(1) + ' ms, ' + bytes(scanned) + ' scanned'}));
      if (D.content && D.content.recorded)
        out.push(h('p', {cls: 'sub note', text: D.content.shown ? 'Content samples are shown: they are the program\'s memory and can hold user data; share this page with care.' :
          'The latest scan recorded content samples; they are hidden (make the page with --content to show them).'}));
    }
    P.advice.forEach(function (a) { out.push(h('p', {cls: 'sub note', text: 'advice: ' + a})); });
    D.warnings.forEach(function (w) { out.push(h('p', {cls: 'sub note', text: 'warning: ' + w})); });
    return out;
  }

  function suspects() {
    var list = D.sites.filter(function (x) { return x.verdict === 'LEAK' || x.verdict === 'GROWING' || x.verdict === 'BOUNDED'; });
    var kids = [];
    if (!list.length) kids.push(h('p', {text: D.meta.flags.watch ? 'A watch recording has no allocation sites: see the process memory below.' : 'No suspect site: nothing grows materially.'}));
    list.forEach(function (x) {
      var ci = x.fitted ? ' (95% CI ' + rate(x.ci[0]) + ' .. ' + rate(x.ci[1]) + ', p ' + (x.p < 1e-12 ? '< 1e-12' : '= ' + x.p.toPrecision(2)) + ')' : ' (average)';
      var ev = 'live ' + bytes(x.live[0]) + ' -> ' + bytes(x.live[1]) + ' (' + count(x.blocks[0]) + ' -> ' + count(x.blocks[1]) +
        ' blocks), peak ' + bytes(x.peak) + '; ' + count(x.allocs) + ' allocs, ' + count(x.frees) + ' frees';
      var sv = x.survival != null ? 'survival ' + Math.round(100 * x.survival) + '% (99% bound ' + Math.round(100 * x.survival_hi) +
        '%): of ' + count(x.early[0]) + ' blocks born in the first quarter, ' + count(x.early[1]) + ' were live at mid-run, ' +
        count(x.early[2]) + ' are now' + (x.from_cohorts ? '' : ' (estimated)') : 'survival unknown';
      var tail = x.fitted ? 'last third: ' + rate(x.tail) + '; ' : '';
      kids.push(h('div', {cls: 'suspect', style: 'border-color:' + PALETTE[x.color % PALETTE.length], 'data-site': x.id}, [
        h('div', {}, [h('span', {cls: 'badge ' + x.verdict, text: x.verdict}), ' ', h('b', {text: topFrame(x)}),
          '  site ' + x.id + (x.kind !== 'heap' ? ' (' + x.kind + ')' : '') + '  ', h('b', {text: rate(x.rate)}), ci]),
        h('div', {cls: 'sub', text: ev}), h('div', {cls: 'sub', text: sv}),
        h('div', {cls: 'sub', text: tail + (x.why || '') + (x.vt != null ? '; ' + x.verdict + ' since ' + dur(x.vt) : '')})]
        .concat(x.scan ? reachBlock(x) : []).concat([frameList(x.frames, x.frames_total)])));
    });
    return card('Suspects, fastest growing first', kids, 'suspects');
  }

  function memoryChart() {
    var parts = D.mem.filter(function (p) { return p.key !== 'rss'; });
    var rss = D.mem.filter(function (p) { return p.key === 'rss'; })[0];
    var series = parts.map(function (p) { return {name: p.name, color: PART_COLOR[p.key] || '#999', v: p.v}; });
    var kids = [chart({t: D.t, series: series, stacked: true,
      lines: rss ? [{name: 'RSS', color: '#111', v: rss.v, dash: '5 3'}] : [],
      legendExtra: function (se) {
        var p = D.mem.filter(function (q) { return q.name === se.name; })[0];
        return ' ' + bytes(se.v[se.v.length - 1] || 0) + (p ? ' (' + rate(p.trend[0]) + ')' : '');
      }})];
    kids.push(h('p', {cls: 'sub', text: 'Stacked: the parts RSS is split into (docs/VERDICTS.md, "Process level"); dashed: RSS itself. Parts the recording lacks are left out.'}));
    return card('Memory over time', kids, 'memory');
  }

  function watchChart() {
    if (!D.watch || !D.watch.kinds.length) return null;
    var series = D.watch.kinds.map(function (k) { return {name: k.name, color: KIND_COLOR[k.name] || '#999', v: k.v}; });
    var rss = D.mem.filter(function (p) { return p.key === 'rss'; })[0];
    return card('Resident memory by kind of mapping', [chart({t: D.t, series: series, stacked: true,
      lines: rss ? [{name: 'RSS', color: '#111', v: rss.v, dash: '5 3'}] : [],
      legendExtra: function (se, j) {
        var k = D.watch.kinds[j];
        return ' ' + bytes(se.v[se.v.length - 1] || 0) + (k ? ' (' + rate(k.trend[0]) + ')' : '');
      }})], 'watch-kinds');
  }

  function sitesChart() {
    if (!D.sites.length) return null;
    var series = D.sites.map(function (x) {
      return {name: topFrame(x) + ' #' + x.id + ' ' + x.verdict, color: PALETTE[x.color % PALETTE.length], v: x.series};
    });
    if (D.others.n) series.push({name: D.others.n + ' other sites', color: '#aaa', v: D.others.series, dash: '3 3'});
    return card('Live bytes of the top sites', [chart({t: D.t, series: series, height: 260})], 'sites');
  }

  function cohortCharts() {
    var list = D.sites.filter(function (x) { return x.verdict !== 'STABLE' && x.cohorts.length; }).slice(0, 6);
    if (!list.length) return null;
    var grid = h('div', {cls: 'grid'});
    list.forEach(function (x) {
      var W = 320, H = 150, L = 36, B = 22, T = 8, end = D.meta.duration_s || 1;
      var svg = s('svg', {viewBox: '0 0 ' + W + ' ' + H, 'class': 'cohort'});
      var color = PALETTE[x.color % PALETTE.length];
      var tmax = Math.max(end, 1e-9);
      function X(v) { return L + Math.min(v, tmax) / tmax * (W - L - 6); }
      [0, 0.5, 1].forEach(function (f) {
        var y = T + (1 - f) * (H - T - B);
        svg.appendChild(s('line', {x1: L, x2: W - 6, y1: y, y2: y, stroke: '#eee'}));
        svg.appendChild(s('text', {x: L - 4, y: y + 4, 'text-anchor': 'end', text: (f * 100) + '%'}));
      });
      x.cohorts.forEach(function (c) {
        if (!c[2] || c[0] > tmax) return;
        var f = c[3] / c[2], x0 = X(c[0]), x1 = Math.max(X(c[1]), x0 + 2);
        var y = T + (1 - f) * (H - T - B);
        var r = s('rect', {x: x0, y: y, width: x1 - x0 - 1, height: H - B - y, fill: color, 'fill-opacity': 0.8});
        r.addEventListener('mousemove', function (ev) {
          showTip(ev, 'born ' + dur(c[0]) + ' .. ' + dur(c[1]) + '\n' + count(c[2]) + ' allocated, ' + count(c[3]) +
            ' still live (' + (100 * f).toFixed(1) + '%), ' + bytes(c[4]));
        });
        r.addEventListener('mouseleave', hideTip);
        svg.appendChild(r);
      });
      svg.appendChild(s('text', {x: L, y: H - 6, text: '0'}));
      svg.appendChild(s('text', {x: W - 6, y: H - 6, 'text-anchor': 'end', text: 'born at ' + dur(end)}));
      grid.appendChild(h('div', {}, [h('div', {cls: 'mono'}, [h('i', {style: 'display:inline-block;width:10px;height:10px;background:' + color}), ' ' + topFrame(x) + ' (' + x.verdict + ')']), svg]));
    });
    return card('Cohort survival: of what each period allocated, the part still live at the end', [grid,
      h('p', {cls: 'sub', text: 'A leak keeps every cohort (bars at 100%); a cache or queue lets old cohorts decay. Cohorts are coarsened geometrically as they age.'})], 'cohorts');
  }

  function classChart() {
    if (!D.classes.length) return null;
    var n = D.t.length;
    var cls = D.classes.map(function (c) {
      return {c: c.c, v: c.count, grow: (c.count[n - 1] || 0) - (c.count[0] || 0)};
    });
    cls.sort(function (a, b) { return Math.abs(b.grow) - Math.abs(a.grow); });
    cls = cls.slice(0, 8);
    var series = cls.map(function (c, j) {
      return {name: classLabel(c.c), color: PALETTE[(j + 6) % PALETTE.length], v: c.v, hot: j === 0 && c.grow > 0, width: j === 0 ? 3 : 1.5};
    });
    return card('Live blocks per size class', [chart({t: D.t, series: series, fmt: count, height: 220,
      legendExtra: function (se) { return ': ' + count(se.v[0] || 0) + ' -> ' + count(se.v[n - 1] || 0); }}),
      h('p', {cls: 'sub', text: 'The eight classes whose live block count changed most; bold: the one that grew most.'})], 'classes');
  }

  /* ---- icicle graph ------------------------------------------------ */

  function hashHue(str) {
    var x = 0;
    for (var i = 0; i < str.length; i++) x = (x * 31 + str.charCodeAt(i)) | 0;
    return Math.abs(x);
  }

  function Flame(title, tree, id, what) {
    var nodes = [];
    function build(a, parent, depth) {
      var lab = D.labels[a[0]] || '', tab = lab.indexOf('\t');
      var nd = {fn: tab < 0 ? lab : lab.slice(0, tab), where: tab < 0 ? '' : lab.slice(tab + 1), bytes: a[1],
        count: a[2], rate: a[3], color: a[4], parent: parent, depth: depth, kids: [], i: nodes.length};
      nodes.push(nd);
      a[5].sort(function (p, q) { return q[1] - p[1]; });
      a[5].forEach(function (c) { nd.kids.push(build(c, nd, depth + 1)); });
      return nd;
    }
    var root = build(tree, null, 0);
    var zoom = root, query = null, W = 1200, RH = 18;
    var svg = s('svg', {'class': 'flame', id: id + '-svg', 'data-zoom': 'all'});
    var crumbs = h('span', {cls: 'crumbs'});
    var input = h('input', {type: 'search', placeholder: 'search functions (regex)', id: id + '-search'});
    var reset = h('button', {text: 'Reset zoom', id: id + '-reset'});
    var found = h('span', {cls: 'crumbs', id: id + '-found'});
    function matches(nd) { return query && query.test(nd.fn + ' ' + nd.where); }
    function render() {
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      var rows = [], chain = [];
      for (var a = zoom; a; a = a.parent) chain.unshift(a);
      var maxDepth = 0;
      function place(nd, x, w, row) {
        if (w < 0.6 || row > 80) return;
        rows.push({nd: nd, x: x, w: w, row: row, dim: false});
        if (row > maxDepth) maxDepth = row;
        var cx = x;
        nd.kids.forEach(function (k) {
          var kw = nd.bytes ? w * k.bytes / nd.bytes : 0;
          place(k, cx, kw, row + 1);
          cx += kw;
        });
      }
      chain.forEach(function (a, r) { if (a !== zoom) rows.push({nd: a, x: 0, w: W, row: r, dim: true}); });
      place(zoom, 0, W, chain.length - 1);
      var H = (maxDepth + 1) * RH + 4;
      svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
      var matched = 0;
      rows.forEach(function (r) {
        var nd = r.nd, g = s('g', {'class': r.dim ? 'dim' : '', 'data-node': nd.i});
        var fill = nd.color >= 0 ? PALETTE[nd.color % PALETTE.length] : 'hsl(' + (10 + hashHue(nd.fn) % 45) + ',80%,' + (58 + hashHue(nd.where) % 12) + '%)';
        if (nd === root) fill = '#bbb';
        var rect = s('rect', {x: r.x.toFixed(2), y: r.row * RH, width: Math.max(r.w - 0.5, 0.5).toFixed(2), height: RH - 1, fill: fill});
        if (matches(nd)) {
          rect.setAttribute('class', 'match');
          var anc = nd.parent, inside = false;
          for (; anc; anc = anc.parent) if (matches(anc)) inside = true;
          if (!inside && !r.dim) matched += nd.bytes;
        }
        g.appendChild(rect);
        if (r.w > 40) {
          var label = nd.fn, maxc = Math.floor((r.w - 6) / 6.5);
          if (label.length > maxc) label = label.slice(0, Math.max(maxc - 2, 1)) + '..';
          g.appendChild(s('text', {x: r.x + 3, y: r.row * RH + 13, text: label, 'pointer-events': 'none'}));
        }
        g.addEventListener('click', function () { zoomTo(nd === zoom ? (nd.parent || root) : nd); });
        g.addEventListener('mousemove', function (ev) {
          var pct = root.bytes ? (100 * nd.bytes / root.bytes).toFixed(1) : '0';
          showTip(ev, nd.fn + '\n' + (nd.where || '') + '\n' + bytes(nd.bytes) + ' ' + what + ' (' + pct + '%), ' +
            count(nd.count) + ' blocks\nrate ' + rate(nd.rate) + '\nclick to zoom');
        });
        g.addEventListener('mouseleave', hideTip);
        svg.appendChild(g);
      });
      svg.setAttribute('data-zoom', zoom.fn);
      svg.setAttribute('data-rects', rows.length);
      crumbs.textContent = chain.map(function (a) { return a.fn; }).join(' > ') + '  (' + bytes(zoom.bytes) + ')';
      found.textContent = query ? 'matched ' + bytes(matched) + ' of ' + bytes(zoom.bytes) +
        (zoom.bytes ? ' (' + (100 * matched / zoom.bytes).toFixed(1) + '%)' : '') : '';
    }
    function zoomTo(nd) { zoom = nd; render(); }
    input.addEventListener('input', function () {
      try { query = input.value ? new RegExp(input.value, 'i') : null; } catch (e) { query = null; }
      render();
    });
    reset.addEventListener('click', function () { zoomTo(root); });
    render();
    var empty = !root.bytes ? h('p', {cls: 'sub', text: 'Nothing to show: no site has ' + what + '.'}) : null;
    return card(title, [h('div', {cls: 'toolbar'}, [input, reset, found]), crumbs, empty, svg], id);
  }

  function modules() {
    var M = D.meta, rows = [
      ['command line', M.cmdline.join(' ')], ['executable', M.exe], ['pid / ppid', M.pid + ' / ' + M.ppid],
      ['started', M.start_realtime_ns ? new Date(M.start_realtime_ns / 1e6).toISOString() : '?'],
      ['period', M.period_ms + ' ms'], ['stack depth', M.depth],
      ['sampling', M.sample_bytes ? 'one sample per ' + count(M.sample_bytes) + ' bytes on average' : 'every allocation'],
      ['flags', Object.keys(M.flags).filter(function (k) { return M.flags[k]; }).join(', ') || 'none'],
      ['format / agent', M.format_version + ' / ' + M.agent_version + ' (' + M.arch + ')'],
      ['end', M.end ? M.end.reason + ' ' + M.end.code + ' at ' + dur(M.end.time_s) : 'no END record (killed or still running)'],
      ['material growth', bytes(D.verdict.material_bytes)],
      ['site verdicts', Object.keys(D.verdict.counts).map(function (k) { return k + ' ' + D.verdict.counts[k]; }).join(', ')],
      ['leakscope', M.leakscope_version]];
    var t2 = h('table', {id: 'modules-table'}, [h('tr', {}, [h('th', {text: 'module'}), h('th', {text: 'build-id'}), h('th', {text: 'base'}), h('th', {text: 'unloaded'})])].concat(
      D.modules.map(function (m) { return h('tr', {}, [h('td', {cls: 'mono', text: m[0]}), h('td', {cls: 'mono', text: m[1]}), h('td', {cls: 'mono', text: m[2]}), h('td', {text: m[3] == null ? '' : dur(m[3])})]); })));
    if (D.watch) rows = rows.filter(function (r) { return ['stack depth', 'sampling', 'material growth', 'site verdicts'].indexOf(r[0]) < 0; });
    var t1 = h('table', {}, rows.map(function (r) { return h('tr', {}, [h('th', {text: r[0]}), h('td', {cls: 'mono', text: String(r[1])})]); }));
    var kids = [h('h2', {text: 'Settings'}), t1, h('h2', {text: 'Modules (' + D.modules.length + ')', style: 'margin-top:12px'}), t2];
    if (D.notes.length) {
      kids.push(h('h2', {text: 'Notes from the agent', style: 'margin-top:12px'}));
      D.notes.forEach(function (n) { kids.push(h('p', {cls: 'sub', text: dur(n[1]) + '  ' + ['info', 'warning', 'error'][n[0]] + ': ' + n[2]})); });
    }
    return h('div', {cls: 'card', id: 'settings'}, kids);
  }

  var app = document.getElementById('app');
  while (app.firstChild) app.removeChild(app.firstChild);
  var t0 = performance.now();
  header().forEach(function (e) { app.appendChild(e); });
  var parts = D.watch ? [watchChart(), modules()] :
    [suspects(), memoryChart(), sitesChart(), cohortCharts(), classChart(),
      D.flame_live ? Flame('Live memory at the end, by call stack (click to zoom)', D.flame_live, 'flame-live', 'live') : null,
      D.flame_growth ? Flame('Growth since the first snapshot, by call stack', D.flame_growth, 'flame-growth', 'grown') : null,
      modules()];
  parts.forEach(function (e) { if (e) app.appendChild(e); });
  document.body.setAttribute('data-render-ms', (performance.now() - t0).toFixed(1));
  document.body.setAttribute('data-ready', '1');
})();
