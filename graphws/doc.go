// Package graphws serves GraphQL over WebSocket for a gqlgen executor: the
// graphql-transport-ws protocol (the "graphql-ws" library's) and the legacy
// graphql-ws protocol (Apollo's subscriptions-transport-ws), chosen by the
// subprotocol the client asks for.
//
// It is built to hold many idle subscribers cheaply. A connection costs the
// goroutine that reads it (the HTTP handler's) and one goroutine per active
// operation (gqlgen's executor blocks while it waits for the next event);
// keep-alives run on timers, and the socket keeps a 256-byte read buffer
// and borrows write buffers from a pool only while it writes.
//
// A client must send connection_init within Transport.InitTimeout; the
// Transport's InitFunc authenticates it and may refuse it (the socket closes
// with 4403). graphql-transport-ws close codes follow that protocol: 4400
// for an invalid message, 4401 for subscribe before connection_ack, 4408 for
// the init timeout, 4409 for a duplicate operation id, 4429 for a second
// connection_init. Every KeepAlive the server sends a WebSocket ping (and,
// on the legacy protocol, a "ka" message); a peer that sends nothing for two
// intervals, not even the pong, is disconnected.
package graphws
