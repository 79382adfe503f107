// Drives GraphiQL, served by a running autoanalyst, in Debian's Chromium as a
// user would, with no network beyond the server: usage `node graphiql.mjs
// http://127.0.0.1:PORT [SCREENSHOT.png]` (see browser_test.go, which
// checks what it reports).
//
// Every request to another host is blocked and recorded. The script loads the
// page, opens the docs explorer and the Query type, runs createGuestSession,
// puts the token in the Headers pane, runs a viewer query, creates a chat, runs
// Python in it (executeCode) and subscribes to the run's events until the
// subscription ends, typing into GraphiQL's editors and pressing its buttons,
// and reading every result from its response pane. It prints one JSON object
// (the report) on stdout; on a failure it prints the report so far with an
// "error", saves a screenshot when given a path, and exits 1.
import { chromium } from 'playwright-core';

const [base, screenshot] = process.argv.slice(2);
if (!base) {
  console.error('usage: node graphiql.mjs http://127.0.0.1:PORT [SCREENSHOT.png]');
  process.exit(2);
}
const origin = new URL(base).origin;
const host = new URL(base).host;
const timeout = 60_000;

const report = {
  requests: [], // every request the page made: {url, status}
  blocked: [], // requests to another host (aborted)
  webSockets: [], // URLs of the page's WebSockets
  wsSent: [], // the WebSocket's messages, as the page sent them
  wsReceived: [], // the WebSocket's messages, as the server sent them
  console: [], // console errors and warnings, page errors
  cspViolations: [], // securitypolicyviolation events
  starter: '', // the query editor's text on load
  docs: {}, // what the docs explorer showed
  steps: {}, // each operation's response, as the response pane showed it
};

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  context.setDefaultTimeout(timeout);
  // No network beyond the server: anything else is recorded and aborted.
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.host === host) return route.continue();
    report.blocked.push(url.href);
    return route.abort('blockedbyclient');
  });
  // Reported by the page itself (an init script runs despite the CSP).
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  page = await context.newPage();
  page.on('response', (r) => report.requests.push({ url: r.url(), status: r.status() }));
  page.on('requestfailed', (r) => {
    if (new URL(r.url()).host === host) report.requests.push({ url: r.url(), status: 0, error: r.failure()?.errorText });
  });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') report.console.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => report.console.push(`pageerror: ${e.message}`));
  page.on('websocket', (ws) => {
    report.webSockets.push(ws.url());
    const record = (list) => (f) => {
      try {
        list.push(JSON.parse(f.payload));
      } catch {
        list.push({ raw: String(f.payload) });
      }
    };
    ws.on('framesent', record(report.wsSent));
    ws.on('framereceived', record(report.wsReceived));
  });

  // GraphiQL loads, with the starter document in its query editor.
  await page.goto(origin + '/');
  if (report.blocked.length > 0) throw new Error('the page asked for other hosts: ' + report.blocked.join(', '));
  await page.locator('.graphiql-query-editor .CodeMirror').waitFor();
  await page.waitForFunction(() => document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror?.getValue().length > 0);
  report.starter = await editorText('.graphiql-query-editor');

  // The docs explorer lists the schema's types; Query shows its fields.
  await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
  const explorer = page.locator('.graphiql-doc-explorer');
  const queryLink = explorer.locator('a.graphiql-doc-explorer-type-name', { hasText: /^Query$/ });
  await queryLink.first().waitFor();
  report.docs.types = await explorer.locator('a.graphiql-doc-explorer-type-name').allInnerTexts();
  await queryLink.first().click();
  await explorer.locator('.graphiql-doc-explorer-title', { hasText: /^Query$/ }).waitFor();
  report.docs.queryFields = await explorer.locator('a.graphiql-doc-explorer-field-name').allInnerTexts();

  // A mutation: the starter's first operation, picked from the menu that the
  // execute button opens on a document of several operations.
  await page.locator('.graphiql-execute-button').click();
  const menu = page.getByRole('menu');
  await menu.waitFor();
  report.operationsMenu = await menu.getByRole('menuitem').allInnerTexts();
  await menu.getByRole('menuitem', { name: 'CreateGuestSession' }).click();
  const session = await response('createGuestSession', (r) => r.data?.createGuestSession);
  const token = session.data?.createGuestSession?.token;
  if (!token) throw new Error('createGuestSession gave no token: ' + JSON.stringify(session));

  // The token in the Headers pane, then a query that needs it.
  await page.locator('.graphiql-editor-tools button[data-name="headers"]').click();
  await typeInto('.graphiql-editor-tool .graphiql-editor:not(.hidden)', JSON.stringify({ Authorization: `Bearer ${token}` }));
  await run('viewer', '{ viewer { id } }', (r) => r.data && 'viewer' in r.data);

  // A chat, Python run in it, and the run's events to their end.
  const chat = await run('createChat', 'mutation { createChat(input: {title: "GraphiQL"}) { id } }', (r) => r.data?.createChat);
  const chatID = chat.data?.createChat?.id;
  if (!chatID) throw new Error('createChat: ' + JSON.stringify(chat));
  // The code sleeps, so that the subscription follows the run live.
  const exec = await run(
    'executeCode',
    `mutation { executeCode(input: {chatID: ${JSON.stringify(chatID)}, code: "import time; time.sleep(2); print(6 * 7)"}) { id } }`,
    (r) => r.data?.executeCode,
  );
  const runID = exec.data?.executeCode?.id;
  if (!runID) throw new Error('executeCode: ' + JSON.stringify(exec));
  report.runID = runID;

  // The subscription: every response the pane shows while it runs (GraphiQL
  // shows the latest event), until its end: the terminal event, the server's
  // complete message, and GraphiQL's button back from "Stop" to "Execute".
  await setQuery(`subscription { runEvents(runID: ${JSON.stringify(runID)}) { seq type text result { ok stdout } } }`);
  await page.locator('.graphiql-response .CodeMirror').evaluate((el) => {
    window.__shown = [];
    el.CodeMirror.on('change', (cm) => window.__shown.push(cm.getValue()));
  });
  await execute();
  const terminal = (r) => ['RUN_SUCCEEDED', 'RUN_FAILED', 'RUN_CANCELLED'].includes(r.data?.runEvents?.type);
  const labels = new Set();
  const deadline = Date.now() + timeout;
  for (;;) {
    const text = await editorText('.graphiql-response');
    labels.add(await page.locator('.graphiql-execute-button').getAttribute('aria-label'));
    const done = report.wsReceived.some((m) => m.type === 'complete');
    const idle = await page.locator('.graphiql-execute-button[aria-label^="Execute"]').count();
    if (done && idle && text && terminal(parse(text))) break;
    if (text && parse(text).errors) throw new Error('the subscription failed: ' + text);
    if (Date.now() > deadline) throw new Error('the subscription did not end: ' + text);
    await page.waitForTimeout(25);
  }
  report.executeButtonLabels = [...labels];
  report.steps.runEventsShown = (await page.evaluate(() => window.__shown)).filter((t) => t).map(parse);
  report.steps.runEvents = parse(await editorText('.graphiql-response'));
  report.cspViolations = await page.evaluate(() => window.__cspViolations);
  console.log(JSON.stringify(report));
} catch (err) {
  report.error = String(err?.stack || err);
  try {
    if (page) {
      report.cspViolations = await page.evaluate(() => window.__cspViolations || []);
      if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
    }
  } catch {}
  console.log(JSON.stringify(report));
  process.exitCode = 1;
} finally {
  await browser.close();
}

// editorText returns the text of the CodeMirror editor inside selector, as the
// page holds it.
async function editorText(selector) {
  return page.locator(selector + ' .CodeMirror').first().evaluate((el) => el.CodeMirror.getValue());
}

// typeInto replaces the text of the editor inside selector, through the
// keyboard: a click, select all, then the text as typed input.
async function typeInto(selector, text) {
  const editor = page.locator(selector + ' .CodeMirror').first();
  await editor.click({ position: { x: 60, y: 12 } }); // on the first line
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
  const got = await editor.evaluate((el) => el.CodeMirror.getValue());
  if (got !== text) throw new Error(`typed ${JSON.stringify(text)}, the editor holds ${JSON.stringify(got)}`);
}

async function setQuery(text) {
  await typeInto('.graphiql-query-editor', text);
}

// execute presses GraphiQL's execute button once GraphiQL has parsed the query
// editor's text (it does so shortly after a change): it then runs the
// document's only operation, over the WebSocket when it is a subscription.
async function execute() {
  await page.waitForFunction(() => {
    const cm = document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror;
    return cm.documentAST?.loc?.source?.body === cm.getValue() && cm.operations?.length === 1;
  });
  await page.locator('.graphiql-execute-button:not([aria-haspopup])').click();
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return { unparsed: text };
  }
}

// run types an operation, executes it and returns its response.
async function run(name, query, done) {
  await setQuery(query);
  await execute();
  return response(name, done);
}

// response waits until the response pane shows a response that done accepts,
// or errors, and records and returns it.
async function response(name, done) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const text = await editorText('.graphiql-response');
    const r = text ? parse(text) : null;
    if (r && (r.errors || done(r))) {
      report.steps[name] = r;
      return r;
    }
    if (Date.now() > deadline) throw new Error(`${name}: no response; the pane shows ${JSON.stringify(text)}`);
    await page.waitForTimeout(25);
  }
}
