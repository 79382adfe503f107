package httpapi

import (
	"strings"
	"testing"
)

func TestDecodeParams(t *testing.T) {
	deep := `{"query":"{__typename}","variables":{"a":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}}`
	tests := []struct {
		name, body string
		wantErr    string // a part of the error; "" for none
	}{
		{"query", `{"query":"{ viewer { id } }"}`, ""},
		{"all", `{"query":"q","operationName":"Op","variables":{"a":1},"extensions":{"b":2}}`, ""},
		{"nulls", `{"query":"q","operationName":null,"variables":null,"extensions":null}`, ""},
		{"empty", ``, "empty"},
		{"open brace", `{`, "ends too early"},
		{"truncated", `{"query":`, "ends too early"},
		{"nul", `nul`, "not valid JSON"},
		{"garbage after", `{"query":"q"}garbage`, "more after"},
		{"string", `"x"`, "must be a JSON object"},
		{"number", `1`, "must be a JSON object"},
		{"null", `null`, "must be a JSON object"},
		{"batch", `[{"query":"q"}]`, "batched"},
		{"query number", `{"query":1}`, "query must be a string"},
		{"operationName number", `{"query":"q","operationName":1}`, "operationName must be a string"},
		{"variables string", `{"query":"q","variables":"{}"}`, "variables must be a JSON object"},
		{"variables array", `{"query":"q","variables":[]}`, "variables must be a JSON object"},
		{"extensions string", `{"query":"q","extensions":"x"}`, "extensions must be a JSON object"},
		{"deep", deep, "nested too deeply"},
		{"values", `{"query":"q","variables":{"ids":[` + strings.Repeat(`"a",`, maxJSONValues) + `"a"]}}`, "more than"},
		{"long query", `{"query":"` + strings.Repeat("x", 2<<20) + `"}`, "query is over the limit"},
		{"escaped key", `{"\u0071uery":"` + strings.Repeat("x", 2<<20) + `"}`, "query is over the limit"},
		{"long variable", `{"query":"q","variables":{"s":"` + strings.Repeat("x", 2<<20) + `"}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := "CANARY-SECRET"
			body := strings.Replace(tt.body, `"q"`, `"`+secret+`"`, 1)
			_, err := decodeParams([]byte(body), 1<<20)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), secret):
				t.Fatalf("the error quotes the body: %v", err)
			}
		})
	}
}

func TestResponseMedia(t *testing.T) {
	tests := []struct {
		accept []string
		want   string
		ok     bool
	}{
		{nil, mediaJSON, true},
		{[]string{"application/json"}, mediaJSON, true},
		{[]string{"application/graphql-response+json, application/json;q=0.9"}, mediaGraphQLResponse, true},
		{[]string{"*/*"}, mediaJSON, true},
		{[]string{"text/html", "application/*"}, mediaJSON, true},
		{[]string{"text/html"}, "", false},
		{[]string{"application/graphql-response+json;q=0"}, "", false},
	}
	for _, tt := range tests {
		got, ok := responseMedia(tt.accept)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("responseMedia(%q) = %q, %v; want %q, %v", tt.accept, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCheckUploadPath(t *testing.T) {
	vars := map[string]any{"file": nil, "files": []any{nil, nil}, "input": map[string]any{"f": nil, "name": "x"}}
	tests := []struct {
		path, wantErr string
	}{
		{"variables.file", ""},
		{"variables.files.1", ""},
		{"variables.input.f", ""},
		{"file", `must start with "variables."`},
		{"variables.nope.deeper", `variables has no entry "nope"`},
		{"variables.files.2", `has no index "2"`},
		{"variables.input.name", "must point to a null"},
		{"variables.input.name.x", "is not an object or a list"},
	}
	for _, tt := range tests {
		err := checkUploadPath(vars, tt.path)
		if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("checkUploadPath(%q) = %v, want %q", tt.path, err, tt.wantErr)
		}
	}
}
