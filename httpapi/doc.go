// Package httpapi serves the GraphQL API over HTTP, apart from the
// resolvers (package resolvers) as gqlgen's examples keep transport apart:
// the handler (NewHandler) with its transports (POST and GET, multipart
// uploads, SSE, WebSocket through graphws, @defer's incremental delivery),
// the guards each request meets before a resolver runs (body and document
// limits, costs, the rate limit, CORS and origin checks), the error
// presenter, the operations' metrics and traces, the access log, the
// health endpoints (/healthz, /livez, /readyz) and the report download.
package httpapi
