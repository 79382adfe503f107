// Package client is a typed Go client for the Auto-Analyst GraphQL API.
//
// The operations in this directory's *.graphql files are compiled by
// genqlient (github.com/Khan/genqlient) against the published schema,
// ../api/schema.graphql, into generated.go: one function per operation
// (CreateGuestSession, Viewer, Datasets, CreateChat, ExecuteCode, ...) that
// takes a context and a [*Client] and returns the typed response. `make
// generate` (go generate ./client) regenerates it; add an operation to a
// .graphql file and regenerate to use a query this package does not have
// yet.
//
// Three things genqlient does not do are written by hand:
//
//   - [*Client] sends operations over HTTP with the bearer token and turns
//     the server's GraphQL errors into [*Error] values whose Code is the
//     error's extensions.code (see "Errors" in the README).
//   - Uploads: an operation whose variables hold an [Upload] is sent as a
//     GraphQL multipart request, streaming the file ([*Client.UploadDataset]
//     is the short way).
//   - Subscriptions: [*Client.RunEvents] follows a run over the
//     graphql-transport-ws protocol and, when the connection drops before the
//     run's terminal event, reconnects and resubscribes with after set to the
//     last seq it delivered, so that every event is seen once and in order.
//     (The generated RunEventsSubscription function is for genqlient's own
//     graphql.WebSocketClient, which does not resume.)
//
// Concurrency: a [*Client] is safe for concurrent use by multiple goroutines,
// and so are the generated operation functions when given one. The generated
// request and response types are plain values: safe to share once no
// goroutine writes them.
package client

//go:generate go run github.com/Khan/genqlient
