// Opens a leakscope HTML page in Debian's headless Chromium (driven by
// playwright-core; no browser is downloaded) and checks that it works:
// no console errors, no network request, the charts have data, clicking a
// flame-graph frame zooms, search highlights, hovering shows a tooltip.
// Saves a full-page screenshot and prints its path and the load timings.
//
//   node html_check.js PAGE.html SCREENSHOT.png [--flame-click FUNCTION]
//
// Exit status: 0 all checks passed, 1 a check failed, 2 usage or launch error.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const args = process.argv.slice(2);
if (args.length < 2) {
  console.error('usage: node html_check.js PAGE.html SCREENSHOT.png [--search TEXT]');
  process.exit(2);
}
const page_path = path.resolve(args[0]);
const shot = path.resolve(args[1]);
const search = args[2] === '--search' ? args[3] : null;
const exe = process.env.LK_CHROMIUM || '/usr/bin/chromium';

let failures = 0;
const errors = [];
const requests = [];
function fail(msg) { console.log('FAIL: ' + msg); failures++; }
function ok(msg) { console.log('ok: ' + msg); }

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-chromium-'));
  let ctx;
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: exe,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 60000,
    });
  } catch (e) {
    console.error('cannot start ' + exe + ': ' + e.message.split('\n')[0]);
    process.exit(2);
  }
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await ctx.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    requests.push(url);
    return route.abort();
  });

  const t0 = Date.now();
  await page.goto('file://' + page_path, { waitUntil: 'load', timeout: 60000 });
  await page.waitForSelector('body[data-ready="1"]', { timeout: 30000 });
  const wall = Date.now() - t0;
  const timing = await page.evaluate(() => {
    const n = performance.getEntriesByType('navigation')[0];
    return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd,
      render: Number(document.body.getAttribute('data-render-ms')) };
  });
  console.log(`timing: navigation to load ${timing.load.toFixed(0)} ms, renderer ${timing.render} ms, ` +
    `goto+ready ${wall} ms, page ${fs.statSync(page_path).size} bytes`);

  // Charts have data: paths with many points.
  const charts = await page.evaluate(() => Array.from(document.querySelectorAll('svg.chart')).map((svg) => {
    const card = svg.closest('.card');
    const pts = Array.from(svg.querySelectorAll('path')).map((p) => (p.getAttribute('d').match(/[ML]/g) || []).length);
    return { id: card ? card.id : '', paths: pts.length, maxPoints: pts.length ? Math.max(...pts) : 0 };
  }));
  // A `watch` recording has no sites: its charts are the mappings' kinds.
  const watch = await page.evaluate(() => JSON.parse(document.getElementById('lk-data').textContent).meta.flags.watch);
  for (const want of watch ? ['watch-kinds'] : ['memory', 'sites', 'classes']) {
    const c = charts.find((x) => x.id === want);
    if (!c) fail(`chart #${want} missing (have ${charts.map((x) => x.id).join(', ')})`);
    else if (c.maxPoints < 8) fail(`chart #${want}: paths have ${c.maxPoints} points`);
    else ok(`chart #${want}: ${c.paths} paths, up to ${c.maxPoints} points`);
  }
  const verdict = await page.textContent(watch ? '#watch-verdict' : '#verdict');
  ok('verdict on top: ' + verdict);
  if (watch) return finish(page, ctx, profile);
  const suspects = await page.$$('#suspects .suspect');
  if (!suspects.length) fail('no suspect listed'); else ok(`${suspects.length} suspect(s) listed`);
  const cohorts = await page.$$('#cohorts svg rect');
  if (!cohorts.length) fail('cohort chart has no bars'); else ok(`cohort charts: ${cohorts.length} bars`);

  // Flame graph: click the widest frame below the root, the graph zooms.
  const sel = '#flame-live-svg';
  const before = await page.$eval(sel, (s) => ({ zoom: s.getAttribute('data-zoom'), rects: s.querySelectorAll('rect').length }));
  if (before.rects < 3) fail(`flame graph has ${before.rects} frames`);
  const target = await page.$$eval(sel + ' g', (gs) => {
    let best = null;
    for (const g of gs) {
      const r = g.querySelector('rect');
      const y = Number(r.getAttribute('y')), w = Number(r.getAttribute('width'));
      const text = g.querySelector('text');
      // A frame two levels down or deeper that is narrower than the whole.
      // Prefer frames clearly narrower than the whole, so that zooming shows.
      const score = w < 1000 ? w + 2000 : w;
      if (y >= 36 && w < 1190 && w > 20 && (!best || score > best.score)) best = { node: g.getAttribute('data-node'), w, score, name: text ? text.textContent : '' };
    }
    return best;
  });
  if (!target) {
    fail('no flame frame narrower than the root to click');
  } else {
    await page.click(`${sel} g[data-node="${target.node}"] rect`);
    const after = await page.$eval(sel, (s, node) => {
      const r = s.querySelector(`g[data-node="${node}"] rect`);
      return { zoom: s.getAttribute('data-zoom'), width: r ? Number(r.getAttribute('width')) : 0 };
    }, target.node);
    if (after.zoom === before.zoom || after.width < 1190)
      fail(`click on frame ${target.node} did not zoom (zoom ${before.zoom} -> ${after.zoom}, width ${target.w} -> ${after.width})`);
    else ok(`click zoomed into '${after.zoom}' (frame width ${target.w.toFixed(0)} -> ${after.width.toFixed(0)} of 1200)`);
    // Hover shows bytes, blocks, rate and file:line.
    await page.hover(`${sel} g[data-node="${target.node}"] rect`);
    const tip = await page.$eval('#tip', (t) => ({ hidden: t.hidden, text: t.textContent }));
    if (tip.hidden || !/blocks/.test(tip.text) || !/rate/.test(tip.text)) fail('hover shows no tooltip: ' + JSON.stringify(tip));
    else ok('hover: ' + tip.text.split('\n').slice(0, 3).join(' | '));
    await page.click('#flame-live-reset');
  }
  if (search) {
    await page.fill('#flame-live-search', search);
    const n = await page.$$eval(sel + ' rect.match', (r) => r.length);
    const found = await page.textContent('#flame-live-found');
    if (!n) fail(`search '${search}' highlights nothing`); else ok(`search '${search}': ${n} frames, ${found}`);
    await page.fill('#flame-live-search', '');
  }
  return finish(page, ctx, profile);
})().catch((e) => { console.error('browser check crashed: ' + e.stack); process.exit(2); });

async function finish(page, ctx, profile) {
  await page.mouse.move(1, 1);
  await page.screenshot({ path: shot, fullPage: true });
  console.log('screenshot: ' + shot);

  if (errors.length) fail('console errors: ' + errors.join(' | ')); else ok('no console errors');
  if (requests.length) fail('network requests: ' + requests.join(' ')); else ok('no network request');
  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(failures ? 1 : 0);
}
