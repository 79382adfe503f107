package e2e

import (
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

// TestDefer asks for a deferred fragment: a client that reads
// multipart/mixed gets the first payload and then the fragment, in parts; any
// other client gets one whole response with the fragment's fields in it.
func TestDefer(t *testing.T) {
	srv := startServer(t, nil)
	token := srv.session()
	const query = `{ viewer { id ... @defer(label: "usage") { usage(period: P30D) { calls } } } }`

	// One whole response.
	var whole struct {
		Viewer struct {
			ID    string
			Usage *struct{ Calls int }
		}
	}
	srv.must(token, query, nil, &whole)
	if whole.Viewer.ID == "" || whole.Viewer.Usage == nil {
		t.Fatalf("without multipart/mixed: %+v, want the deferred usage in the response", whole.Viewer)
	}

	// Incremental delivery.
	body, _ := json.Marshal(map[string]any{"query": query})
	req := srv.post(http.Header{"Accept": {"multipart/mixed; deferSpec=20220824, application/json"}}, token, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["deferspec"] != "20220824" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("Content-Type %q (%v): %s", resp.Header.Get("Content-Type"), err, b)
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var parts []map[string]any
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.NewDecoder(p).Decode(&v); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, v)
	}
	if len(parts) != 2 {
		t.Fatalf("%d parts, want 2: %v", len(parts), parts)
	}
	// gqlgen holds the deferred field's place with null.
	if parts[0]["hasNext"] != true || strings.Contains(mustJSON(parts[0]), `"calls"`) {
		t.Fatalf("first part %v: want hasNext and no usage yet", parts[0])
	}
	inc, _ := parts[1]["incremental"].([]any)
	if parts[1]["hasNext"] != false || len(inc) != 1 || !strings.Contains(mustJSON(inc[0]), `"label":"usage"`) ||
		!strings.Contains(mustJSON(inc[0]), `"calls":0`) {
		t.Fatalf("second part %v: want the usage fragment and hasNext false", parts[1])
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
