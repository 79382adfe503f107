package sdl

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/autoanalyst/autoanalyst/graph"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ContentType || string(body) != String() {
		t.Fatalf("GET: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	tag := resp.Header.Get("ETag")

	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("If-None-Match", tag)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if tag == "" || resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match %s: %d", tag, resp.StatusCode)
	}

	if resp, err = http.Head(srv.URL); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(String())) {
		t.Errorf("HEAD: %d, length %d", resp.StatusCode, resp.ContentLength)
	}

	if resp, err = http.Post(srv.URL, "text/plain", nil); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestIntrospection runs the executable schema on the published one
// (graph.Config.Schema): introspection then shows what the SDL shows.
func TestIntrospection(t *testing.T) {
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Schema: Schema()}))
	srv.AddTransport(transport.POST{})
	srv.Use(extension.Introspection{})
	query := `{
		__schema { directives { name } queryType { name } }
		time: __type(name: "Time") { specifiedByURL }
		upload: __type(name: "Upload") { specifiedByURL }
		cursor: __type(name: "Cursor") { description }
	}`
	body, _ := json.Marshal(map[string]any{"query": query})
	req := httptest.NewRequest("POST", "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	var out struct {
		Data struct {
			Schema struct {
				Directives []struct{ Name string }
				QueryType  struct{ Name string }
			} `json:"__schema"`
			Time, Upload struct{ SpecifiedByURL string }
			Cursor       struct{ Description string }
		}
		Errors []any
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || len(out.Errors) > 0 {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	if out.Data.Schema.QueryType.Name != "Query" || out.Data.Time.SpecifiedByURL != scalars["Time"].specifiedBy ||
		out.Data.Upload.SpecifiedByURL != scalars["Upload"].specifiedBy || !strings.Contains(out.Data.Cursor.Description, "opaque") {
		t.Errorf("introspection: %s", rec.Body)
	}
	var names []string
	for _, d := range out.Data.Schema.Directives {
		names = append(names, d.Name)
		if goDirectives[d.Name] {
			t.Errorf("introspection shows @%s", d.Name)
		}
	}
	for _, want := range []string{"defer", "deprecated", "include", "skip", "specifiedBy"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("introspection lacks @%s: %v", want, names)
		}
	}
}
