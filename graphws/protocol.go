package graphws

import (
	"encoding/json"
	"fmt"
)

// Subprotocols, as the client names them in Sec-WebSocket-Protocol.
const (
	// TransportWS is the graphql-transport-ws protocol.
	TransportWS = "graphql-transport-ws"
	// LegacyWS is the legacy graphql-ws protocol of subscriptions-transport-ws.
	LegacyWS = "graphql-ws"
)

// Close codes of graphql-transport-ws (also used on the legacy protocol).
const (
	CloseNormal            = 1000
	CloseGoingAway         = 1001
	CloseInternal          = 1011
	CloseTryAgainLater     = 1013
	CloseBadRequest        = 4400
	CloseUnauthorized      = 4401
	CloseForbidden         = 4403
	CloseInitTimeout       = 4408
	CloseSubscriberExists  = 4409
	CloseTooManyInitialise = 4429
)

// message is one protocol message in either direction.
type message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// protocol names a subprotocol's message types.
type protocol struct {
	name      string
	subscribe string // client: start an operation
	stop      string // client: stop an operation
	next      string // server: a result
	terminate string // client: close the connection ("" when the protocol has none)
	legacy    bool
}

var (
	transportWS = protocol{name: TransportWS, subscribe: "subscribe", stop: "complete", next: "next"}
	legacyWS    = protocol{name: LegacyWS, subscribe: "start", stop: "stop", next: "data", terminate: "connection_terminate", legacy: true}
)

// protocolFor returns the protocol of a negotiated subprotocol; a client
// that named none speaks the legacy one, as gqlgen assumes.
func protocolFor(subprotocol string) (protocol, error) {
	switch subprotocol {
	case TransportWS:
		return transportWS, nil
	case LegacyWS, "":
		return legacyWS, nil
	}
	return protocol{}, fmt.Errorf("unsupported subprotocol %q", subprotocol)
}

// InitPayload is the payload of connection_init.
type InitPayload map[string]any

// Authorization returns the payload's "Authorization" (or "authorization")
// string, or "".
func (p InitPayload) Authorization() string {
	for _, k := range []string{"Authorization", "authorization"} {
		if s, ok := p[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}
