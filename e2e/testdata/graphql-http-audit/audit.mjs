// Runs the GraphQL-over-HTTP spec's server audits (graphql-http's
// serverAudits) against a running server and prints one JSON line per audit:
//
//   {"id":"4655","name":"MUST accept ...","status":"ok","reason":""}
//
// status is graphql-http's: "ok", or for a failed audit "error" (MUST),
// "warn" (SHOULD) or "notice" (MAY). A failed audit also carries the
// response it got: {"response":{"status":415,"contentType":"...","body":"..."}}.
// An audit that could not run at all (the request failed) is an "error" whose
// reason starts with "fatal:".
//
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
// (httpspec_test.go runs it; `npm ci` in this folder installs graphql-http.)
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs http://127.0.0.1:PORT/graphql');
  process.exit(2);
}

async function describe(res) {
  if (!res) return undefined;
  let body = '';
  try {
    body = await res.text();
  } catch (err) {
    body = `(body not readable: ${err})`;
  }
  if (body.length > 1000) body = body.slice(0, 1000) + '…';
  return { status: res.status, contentType: res.headers.get('content-type'), body };
}

// One at a time, in the package's order: the output is stable and the server
// sees no burst.
for (const { id, name, fn } of serverAudits({ url, fetchFn: fetch })) {
  let line;
  try {
    const result = await fn();
    line = { id, name, status: result.status, reason: result.reason ?? '' };
    if (result.status !== 'ok') line.response = await describe(result.response);
  } catch (err) {
    const cause = err?.cause ? ` (${err.cause.message ?? err.cause})` : '';
    line = { id, name, status: 'error', reason: `fatal: ${err?.message ?? err}${cause}` };
  }
  process.stdout.write(JSON.stringify(line) + '\n');
}
