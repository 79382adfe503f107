// Package scalars maps the schema's JSON scalar and LLMProvider enum to Go
// (gqlgen.yml binds them here).
//
// JSON is any JSON value. It is bound to two Go types: json.RawMessage,
// written as it is (Plotly figures, which the kernel already encoded), and
// any, encoded with encoding/json (table cells).
//
// LLMProvider is bound to the provider names the llm package uses ("openai",
// "anthropic", "groq", "gemini", "ollama"): the enum's values are their upper
// case. A stored name the enum lacks (none recorded, a provider of another
// version, a test double) is written as null, never as an invalid value.
package scalars

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/autoanalyst/autoanalyst/llm"
)

// MarshalJSON writes a JSON document as it is; an empty or invalid one is
// written as null.
func MarshalJSON(v json.RawMessage) graphql.Marshaler {
	if len(v) == 0 || !json.Valid(v) {
		return graphql.Null
	}
	return graphql.WriterFunc(func(w io.Writer) {
		w.Write(bytes.TrimSpace(v))
	})
}

// UnmarshalJSON reads a JSON input value.
func UnmarshalJSON(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("not a JSON value: %w", err)
	}
	return b, nil
}

// MarshalJSONValue encodes v with encoding/json; a value it cannot encode (a
// NaN) is written as null.
func MarshalJSONValue(v any) graphql.Marshaler {
	if v == nil {
		return graphql.Null
	}
	b, err := json.Marshal(v)
	if err != nil {
		return graphql.Null
	}
	return graphql.WriterFunc(func(w io.Writer) { w.Write(b) })
}

// UnmarshalJSONValue reads a JSON input value as decoded JSON.
func UnmarshalJSONValue(v any) (any, error) { return v, nil }

// providers are the names the LLMProvider enum has.
var providers = map[string]bool{
	llm.ProviderOpenAI: true, llm.ProviderAnthropic: true, llm.ProviderGroq: true,
	llm.ProviderGemini: true, llm.ProviderOllama: true,
}

// KnownProvider reports whether the LLMProvider enum has a value for name.
func KnownProvider(name string) bool { return providers[name] }

// MarshalLLMProvider writes a provider name as its enum value, or null when
// the enum has none.
func MarshalLLMProvider(name string) graphql.Marshaler {
	if !providers[name] {
		return graphql.Null
	}
	return graphql.MarshalString(strings.ToUpper(name))
}

// UnmarshalLLMProvider reads an enum value as the provider's name.
func UnmarshalLLMProvider(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("LLMProvider must be a string, not %T", v)
	}
	name := strings.ToLower(s)
	if !providers[name] || s != strings.ToUpper(name) {
		return "", fmt.Errorf("%q is not a valid LLMProvider", s)
	}
	return name, nil
}
