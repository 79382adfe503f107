// Loads pages of other origins in Debian's Chromium and reports what each
// could do with the API: usage `node cors.mjs PAGE_URL...` (see
// cors_test.go). Each page (served by the test) calls the API with fetch
// (a JSON POST with Authorization: a preflighted request) and opens its
// WebSocket, and puts what happened in window.result; this script prints
// {"<page url>": result, ...} as one JSON object.
import { chromium } from 'playwright-core';

const pages = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const report = {};
try {
  for (const url of pages) {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForFunction(() => window.result !== undefined, null, { timeout: 30_000 });
    report[url] = await page.evaluate(() => window.result);
    await page.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
