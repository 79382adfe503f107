package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// auditDir holds the GraphQL-over-HTTP audit: graphql-http pinned by its
// package-lock.json (`make deps` runs `npm ci` there) and audit.mjs.
const auditDir = "testdata/graphql-http-audit"

// auditResult is one line of audit.mjs's output.
type auditResult struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Status   string `json:"status"` // ok, or error (MUST), warn (SHOULD), notice (MAY)
	Reason   string `json:"reason"`
	Response *struct {
		Status      int    `json:"status"`
		ContentType string `json:"contentType"`
		Body        string `json:"body"`
	} `json:"response"`
}

func (r auditResult) String() string {
	s := fmt.Sprintf("%s [%s] %s: %s", r.Status, r.ID, r.Name, r.Reason)
	if r.Response != nil {
		s += fmt.Sprintf("\n\tgot %d, Content-Type %q: %s", r.Response.Status, r.Response.ContentType, r.Response.Body)
	}
	return s
}

// TestGraphQLOverHTTPAudit runs the GraphQL-over-HTTP spec's reference audit
// suite (graphql-http's serverAudits, through testdata/graphql-http-audit/audit.mjs)
// against the real binary's /graphql: every audit whose name starts with MUST or
// SHOULD must pass, each as a subtest named after the audit; MAY audits that
// fail are only logged. Without Node.js 18+ or the audit's node_modules it is
// skipped, and with CI=true it fails.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	node := nodeFor(t, 18, "the audit", auditDir, "graphql-http")
	// The audits send about 60 requests from one address in a few seconds.
	s := startServer(t, map[string]string{"RATE_LIMIT": "0"})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "audit.mjs", s.url+"/graphql")
	cmd.Dir = auditDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node audit.mjs: %v\n%s%s", err, out, stderr.String())
	}

	var results []auditResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r auditResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit output line %q: %v", sc.Text(), err)
		}
		results = append(results, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	levels := map[string]int{}
	for _, r := range results {
		level, _, _ := strings.Cut(r.Name, " ")
		levels[level]++
	}
	if levels["MUST"] == 0 || levels["SHOULD"] == 0 {
		t.Fatalf("audit.mjs reported %d audits (%v): want MUST and SHOULD audits\n%s", len(results), levels, stderr.String())
	}
	t.Logf("%d audits: %v", len(results), levels)

	for _, r := range results {
		switch level, _, _ := strings.Cut(r.Name, " "); level {
		case "MUST", "SHOULD":
			t.Run(r.Name, func(t *testing.T) {
				if r.Status != "ok" {
					t.Error(r)
				}
			})
		case "MAY":
			if r.Status != "ok" {
				t.Log(r)
			}
		default:
			t.Errorf("audit %s %q: name starts with neither MUST, SHOULD nor MAY", r.ID, r.Name)
		}
	}
}
