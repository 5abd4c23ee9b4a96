// Drives the dashboard of a live run in headless Chromium (Debian's, through playwright-core) and
// prints what it saw as one JSON line: the trajectories growing, the optimizer table filling, an end
// marker appearing, the run's end, the PNG export, and any console error or CSP violation.
//
// node dashboard.mjs URL SCREENSHOT.png [--load]
//   --load: only time the page's load on a run that is already read (the benchmark), three times.
//
// playwright-core comes from NODE_PATH (`cargo xtask test` installs it into target/browser) and
// Chromium from CHROMIUM (default /usr/bin/chromium).
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const [url, screenshot, mode] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const problems = [];
const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
const page = await context.newPage();
page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
await page.addInitScript(() => {
  document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP ${e.violatedDirective} ${e.blockedURI}`));
});
const data = () => page.evaluate(() => Object.fromEntries(Object.entries(document.body.dataset)));
const num = (d, k) => Number(d[k] || 0);
/** Waits until `test(data)` holds, and returns that data; fails after `seconds`. */
async function until(what, test, seconds = 30) {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const d = await data();
    if (test(d)) return d;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(d)}`);
    await page.waitForTimeout(50);
  }
}

const seen = { problems };
try {
  if (mode === '--load') {
    seen.loads_ms = [];
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      await page.goto(url);
      const d = await until('the run drawn', (d) => d.loading === 'false' && num(d, 'points') > 0, 120);
      seen.loads_ms.push(Date.now() - t0);
      Object.assign(seen, { points: num(d, 'points'), tracks: num(d, 'tracks'), optimizers: num(d, 'optimizers'),
        render_ms: Number(d.renderMs) });
    }
  } else {
    await page.goto(url);
    let d = await until('the first points', (d) => num(d, 'points') > 0 && d.connection === 'open');
    seen.first = { points: num(d, 'points'), evaluations: num(d, 'evaluations'), state: d.state };
    const grown = await until('the trajectories to grow',
      (d) => num(d, 'evaluations') > seen.first.evaluations && num(d, 'points') > seen.first.points);
    seen.grown = { points: num(grown, 'points'), evaluations: num(grown, 'evaluations') };
    d = await until('the optimizer table to fill', (d) => num(d, 'optimizers') >= 3);
    d = await until('an end marker', (d) => num(d, 'markers') >= 1);
    seen.marker_at = num(d, 'evaluations');
    d = await until('the end of the run', (d) => d.state === 'finished', 60);
    seen.last = { points: num(d, 'points'), evaluations: num(d, 'evaluations'), optimizers: num(d, 'optimizers'),
      markers: num(d, 'markers'), tracks: num(d, 'tracks'), state: d.state, updates: num(d, 'updates') };
    const rows = await page.$$eval('#optimizers tbody tr', (trs) => trs.map((tr) => tr.innerText));
    seen.rows = rows.length;
    seen.converged_rows = rows.filter((r) => r.includes('converged')).length;
    seen.best = await page.$eval('#best', (e) => e.innerText);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-png')]);
    const path = await download.path();
    const { readFileSync } = await import('node:fs');
    const png = readFileSync(path);
    seen.png = { bytes: png.length, magic: png.subarray(1, 4).toString('latin1') };
  }
  await page.screenshot({ path: screenshot, fullPage: true });
} catch (e) {
  seen.error = String(e);
  try { await page.screenshot({ path: screenshot, fullPage: true }); } catch { /* the page is gone */ }
}
await browser.close();
writeFileSync(1, JSON.stringify(seen) + '\n');
