// Package e2e holds the end-to-end tests and benchmarks of the autoanalyst
// command. It has no code of its own: its tests build the binary from the
// module's root package, start it (serve, worker and the other subcommands)
// and use it as clients do, over HTTP, multipart uploads, WebSocket and SSE,
// from a browser and from the npm tools in testdata/. The model is a local
// server speaking OpenAI's chat-completions protocol; Python runs for real.
//
// Run them with go test ./e2e/ (PostgreSQL and Redis at their usual local
// addresses; a test whose service is missing is skipped, except under
// CI=true), and the benchmarks with go test -run '^$' -bench . ./e2e/.
package e2e
