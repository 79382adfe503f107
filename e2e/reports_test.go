package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/ent/deepanalysisreport"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
)

func (s *server) viewerID(token string) string {
	s.t.Helper()
	var v struct{ Viewer struct{ ID string } }
	s.must(token, `{ viewer { id } }`, nil, &v)
	return v.Viewer.ID
}

// download GETs path with an optional bearer token.
func (s *server) download(token, path string) (int, http.Header, string) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestReports lists, reads, downloads and deletes deep-analysis reports;
// another user's are not found. (Reports are written into the database
// directly: producing them is the deep analysis's job.)
func TestReports(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	dir := t.TempDir()
	srv := startServer(t, map[string]string{"DATA_DIR": dir})
	alice, bob := srv.session(), srv.session()
	ctx := context.Background()
	db, err := database.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sys := privacy.DecisionContext(ctx, privacy.Allow)
	now := time.Now()
	newReport := func(owner, goal string, st deepanalysisreport.Status, html string) string {
		r, err := db.Client.DeepAnalysisReport.Create().SetUserID(owner).SetUUID(goal).SetGoal(goal).
			SetStatus(st).SetHTMLReport(html).SetStartTime(now).SetProgressPercentage(100).
			SetDeepQuestions([]string{"What drives prices?"}).SetModelName("gpt-5-mini").SetTotalTokensUsed(1234).
			Save(sys)
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	const html = "<!doctype html><title>Prices</title><h1>Prices</h1>"
	done := newReport(srv.viewerID(alice), "prices", deepanalysisreport.StatusCOMPLETED, html)
	running := newReport(srv.viewerID(alice), "areas", deepanalysisreport.StatusRUNNING, "")
	bobs := newReport(srv.viewerID(bob), "secret", deepanalysisreport.StatusCOMPLETED, "<h1>bob</h1>")

	const list = `query($where: DeepAnalysisReportWhereInput) { deepAnalysisReports(where: $where, orderBy: [{field: CREATED_AT, direction: DESC}]) {
	  totalCount edges { node { id goal status progressPercentage deepQuestions modelName totalTokensUsed htmlReport downloadURL } } } }`
	type rep struct {
		ID, Goal, Status, ModelName, HTMLReport, DownloadURL string
		ProgressPercentage, TotalTokensUsed                  int
		DeepQuestions                                        []string
	}
	var out struct {
		DeepAnalysisReports struct {
			TotalCount int
			Edges      []struct{ Node rep }
		}
	}
	srv.must(alice, list, nil, &out)
	if out.DeepAnalysisReports.TotalCount != 2 || out.DeepAnalysisReports.Edges[0].Node.ID != running {
		t.Fatalf("alice's reports: %+v", out.DeepAnalysisReports)
	}
	srv.must(alice, list, map[string]any{"where": map[string]any{"status": "COMPLETED"}}, &out)
	if len(out.DeepAnalysisReports.Edges) != 1 {
		t.Fatalf("completed reports: %+v", out.DeepAnalysisReports)
	}
	r := out.DeepAnalysisReports.Edges[0].Node
	if r.ID != done || r.HTMLReport != html || r.DownloadURL != "/reports/"+done+".html" || r.TotalTokensUsed != 1234 ||
		len(r.DeepQuestions) != 1 || r.ModelName != "gpt-5-mini" {
		t.Fatalf("report: %+v", r)
	}

	code, h, body := srv.download(alice, r.DownloadURL)
	if code != 200 || body != html || !strings.HasPrefix(h.Get("Content-Type"), "text/html") ||
		!strings.Contains(h.Get("Content-Disposition"), "attachment") || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("download: %d %v %q", code, h, body)
	}
	for _, tc := range []struct {
		name, token, path string
		want              int
	}{
		{"no token", "", r.DownloadURL, 401},
		{"another user's", bob, r.DownloadURL, 404},
		{"not ready", alice, "/reports/" + running + ".html", 404},
		{"no .html", alice, "/reports/" + done, 404},
		{"unknown", alice, "/reports/rep_nope.html", 404},
	} {
		if code, _, body := srv.download(tc.token, tc.path); code != tc.want || strings.Contains(body, "bob") {
			t.Errorf("%s: %d %q, want %d", tc.name, code, body, tc.want)
		}
	}
	wantCode(t, srv.do(alice, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": bobs}), "NOT_FOUND", "")
	wantCode(t, srv.do(alice, `mutation($id: ID!) { deleteReport(id: $id) }`, map[string]any{"id": bobs}), "NOT_FOUND", "id")
	var del struct{ DeleteReport string }
	srv.must(alice, `mutation($id: ID!) { deleteReport(id: $id) }`, map[string]any{"id": done}, &del)
	if del.DeleteReport != done {
		t.Fatalf("deleteReport: %q", del.DeleteReport)
	}
	if code, _, _ := srv.download(alice, r.DownloadURL); code != 404 {
		t.Fatalf("download after delete: %d", code)
	}
	if code, _, body := srv.download(bob, "/reports/"+bobs+".html"); code != 200 || body != "<h1>bob</h1>" {
		t.Fatalf("bob's own report: %d %q", code, body)
	}
}
