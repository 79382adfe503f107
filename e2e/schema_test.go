package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autoanalyst/autoanalyst/graph/sdl"
)

// runCommand runs the binary with args and no configuration at all (no
// DATABASE_URL, no DATA_DIR, another working directory) and returns stdout.
func runCommand(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	cmd.Dir = t.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("autoanalyst %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// TestSchemaCommand: `autoanalyst schema` needs nothing, prints the published
// SDL, and api/schema.graphql holds the same text.
func TestSchemaCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	got := runCommand(t, "schema")
	if got != sdl.String() {
		t.Fatal("autoanalyst schema differs from sdl.String()")
	}
	committed, err := os.ReadFile(filepath.Join(repoRoot, "api", "schema.graphql"))
	if err != nil {
		t.Fatalf("%v: run make generate", err)
	}
	if string(committed) != got {
		t.Fatal("api/schema.graphql is stale: run make generate (or go run . schema > api/schema.graphql)")
	}
	for _, bad := range []string{"@goField", "@goModel", "directive @go"} {
		if strings.Contains(got, bad) {
			t.Errorf("the schema has %s", bad)
		}
	}
}

// TestVersionCommand: `version` and `--version` print the same line;
// `version --json` the same facts.
func TestVersionCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	line := runCommand(t, "version")
	if !strings.HasPrefix(line, "autoanalyst ") || !strings.Contains(line, "go1.") || strings.Count(line, "\n") != 1 {
		t.Errorf("version printed %q", line)
	}
	if flag := runCommand(t, "--version"); flag != line {
		t.Errorf("--version printed %q, version %q", flag, line)
	}
	var info struct{ Version, Commit, GoVersion string }
	if err := json.Unmarshal([]byte(runCommand(t, "version", "--json")), &info); err != nil {
		t.Fatal(err)
	}
	if info.Version == "" || !strings.HasPrefix(info.GoVersion, "go") ||
		!strings.HasPrefix(line, "autoanalyst "+info.Version+" (") {
		t.Errorf("version --json %+v, version %q", info, line)
	}
}

// TestSchemaServed: GET /graphql/schema.graphql serves what the command
// prints; /healthz and the "listening" log line name the version.
func TestSchemaServed(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	want := runCommand(t, "schema")
	var info struct{ Version string }
	if err := json.Unmarshal([]byte(runCommand(t, "version", "--json")), &info); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, nil)

	resp, err := http.Get(s.url + "/graphql/schema.graphql")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		t.Errorf("GET /graphql/schema.graphql: 404: the route is not registered " +
			`(mux.Handle("GET /graphql/schema.graphql", sdl.Handler()) in httpapi.NewHandler)`)
	case resp.StatusCode != http.StatusOK:
		t.Errorf("GET /graphql/schema.graphql: %d %s", resp.StatusCode, body)
	case resp.Header.Get("Content-Type") != sdl.ContentType:
		t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), sdl.ContentType)
	case string(body) != want:
		t.Error("GET /graphql/schema.graphql differs from autoanalyst schema")
	}

	resp, err = http.Get(s.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var health struct{ Status, Version string }
	err = json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if err != nil || health.Version != info.Version {
		t.Errorf("/healthz: %+v (%v), want version %q", health, err, info.Version)
	}

	listening := false
	for _, l := range strings.Split(s.logs.String(), "\n") {
		var entry struct{ Message, Version string }
		if json.Unmarshal([]byte(l), &entry) == nil && entry.Message == "listening" {
			listening = true
			if entry.Version != info.Version {
				t.Errorf("the listening log line has version %q, want %q: %s", entry.Version, info.Version, l)
			}
		}
	}
	if !listening {
		t.Error(`no "listening" log line`)
	}
}
