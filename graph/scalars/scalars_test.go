package scalars

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

func written(m graphql.Marshaler) string {
	var b bytes.Buffer
	m.MarshalGQL(&b)
	return b.String()
}

func TestJSON(t *testing.T) {
	for in, want := range map[string]string{
		`{"data": [], "layout": {}}`: `{"data": [], "layout": {}}`,
		" [1, null]\n":               `[1, null]`,
		`{"data": `:                  "null", // not JSON
		"":                           "null",
	} {
		if got := written(MarshalJSON(json.RawMessage(in))); got != want {
			t.Errorf("MarshalJSON(%q) = %s, want %s", in, got, want)
		}
	}
	if got, err := UnmarshalJSON(map[string]any{"a": []any{1.5}}); err != nil || string(got) != `{"a":[1.5]}` {
		t.Errorf("UnmarshalJSON = %s, %v", got, err)
	}
	for in, want := range map[any]string{"Paris": `"Paris"`, 2.5: "2.5", true: "true", nil: "null", math.NaN(): "null"} {
		if got := written(MarshalJSONValue(in)); got != want {
			t.Errorf("MarshalJSONValue(%v) = %s, want %s", in, got, want)
		}
	}
}

func TestLLMProvider(t *testing.T) {
	for in, want := range map[string]string{"openai": `"OPENAI"`, "ollama": `"OLLAMA"`, "": "null", "scripted": "null", "OPENAI": "null"} {
		if got := written(MarshalLLMProvider(in)); got != want {
			t.Errorf("MarshalLLMProvider(%q) = %s, want %s", in, got, want)
		}
	}
	if got, err := UnmarshalLLMProvider("ANTHROPIC"); err != nil || got != "anthropic" {
		t.Errorf("UnmarshalLLMProvider(ANTHROPIC) = %q, %v", got, err)
	}
	for _, in := range []any{"anthropic", "ACME", 3} {
		if _, err := UnmarshalLLMProvider(in); err == nil {
			t.Errorf("UnmarshalLLMProvider(%v) accepted", in)
		}
	}
}
