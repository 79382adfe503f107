package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/client"
)

// The end-to-end tests talk to the real binary that TestMain started.

func guest(t *testing.T, ctx context.Context) *client.Client {
	t.Helper()
	c, _ := guestToken(t, ctx)
	return c
}

// guestToken starts a guest session: a client with its token, and the token.
func guestToken(t *testing.T, ctx context.Context) (*client.Client, string) {
	t.Helper()
	c := client.New(serverURL + "/graphql")
	s, err := client.CreateGuestSession(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.CreateGuestSession.Token, "aat_") || s.CreateGuestSession.ExpiresAt.Before(time.Now()) {
		t.Fatalf("session = %+v", s.CreateGuestSession)
	}
	return c.WithToken(s.CreateGuestSession.Token), s.CreateGuestSession.Token
}

// follow collects a run's events to the end.
func follow(t *testing.T, ctx context.Context, c *client.Client, runID string, after int) []client.RunEvent {
	t.Helper()
	var evs []client.RunEvent
	for ev, err := range c.RunEvents(ctx, runID, after) {
		if err != nil {
			t.Fatalf("run events of %s: %v", runID, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func types(evs []client.RunEvent) []client.RunEventType {
	out := make([]client.RunEventType, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := guest(t, ctx)

	// Uploads: options, a name to escape, refusals.
	f, err := os.Open(houses)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ds, err := c.UploadDataset(ctx, "", f, "Données 2024.csv", client.UploadOptions{Columns: []string{"city", "price"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].FileName != "Données 2024.csv" || ds[0].RowCount != 5 || len(ds[0].Columns) != 2 ||
		ds[0].Columns[0].Name != "city" || ds[0].Format != client.DatasetFormatCsv {
		t.Fatalf("uploaded = %+v", ds)
	}
	xlsx, err := os.ReadFile("../e2e/testdata/regions.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	sheets, err := c.UploadDataset(ctx, "", bytes.NewReader(xlsx), "regions.xlsx", client.UploadOptions{Sheets: []string{"Sales", "Targets"}})
	if err != nil || len(sheets) != 2 || sheets[0].Sheet != "Sales" || sheets[1].Name != "targets" {
		t.Fatalf("sheets = %+v, %v", sheets, err)
	}
	inspected, err := client.InspectUpload(ctx, c, client.Upload{Filename: "regions.xlsx", Body: bytes.NewReader(xlsx)}, "Targets")
	if err != nil || !slices.Equal(inspected.InspectUpload.Sheets, []string{"Sales", "Targets"}) {
		t.Fatalf("inspectUpload = %+v, %v", inspected, err)
	}
	_, err = c.UploadDataset(ctx, "", strings.NewReader("%PDF-1.4"), "notes.pdf", client.UploadOptions{})
	if client.Code(err) != client.CodeBadUserInput {
		t.Fatalf("a .pdf upload: %v, want BAD_USER_INPUT", err)
	}

	// Datasets, a page at a time.
	var names []string
	after := ""
	for {
		page, err := client.Datasets(ctx, c, 2, after)
		if err != nil {
			t.Fatal(err)
		}
		if page.Datasets.TotalCount != 3 {
			t.Fatalf("totalCount = %d", page.Datasets.TotalCount)
		}
		for _, e := range page.Datasets.Edges {
			names = append(names, e.Node.Name)
		}
		if !page.Datasets.PageInfo.HasNextPage {
			break
		}
		after = page.Datasets.PageInfo.EndCursor
	}
	if !slices.Equal(names, []string{"donn_es_2024", "sales", "targets"}) {
		t.Errorf("datasets = %q", names)
	}

	chat, err := client.CreateChat(ctx, c, client.CreateChatInput{Title: "e2e", DatasetIDs: []string{ds[0].Id}})
	if err != nil {
		t.Fatal(err)
	}
	chatID := chat.CreateChat.Id

	t.Run("executeCode", func(t *testing.T) {
		tests := []struct {
			name      string
			code      string
			wantTypes []client.RunEventType
			wantOK    bool
			wantOut   string
			wantCode  client.RunErrorCode
			status    client.RunStatus
		}{
			{"prints", "print(df.columns.tolist(), len(df))", []client.RunEventType{"RUN_STARTED", "EXECUTION_STARTED", "EXECUTION_RESULT", "RUN_SUCCEEDED"},
				true, "['city', 'price'] 5\n", "", client.RunStatusSucceeded},
			{"fails", "undefined_name + 1", []client.RunEventType{"RUN_STARTED", "EXECUTION_STARTED", "EXECUTION_RESULT", "RUN_FAILED"},
				false, "", client.RunErrorCodeExecutionError, client.RunStatusFailed},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				run, err := client.ExecuteCode(ctx, c, client.ExecuteCodeInput{ChatID: chatID, Code: tt.code})
				if err != nil {
					t.Fatal(err)
				}
				if run.ExecuteCode.Kind != client.RunKindExecuteCode {
					t.Errorf("kind = %s", run.ExecuteCode.Kind)
				}
				evs := follow(t, ctx, c, run.ExecuteCode.Id, 0)
				if !slices.Equal(types(evs), tt.wantTypes) {
					t.Fatalf("events = %v, want %v", types(evs), tt.wantTypes)
				}
				res := evs[2].Result
				if res == nil || res.Ok != tt.wantOK || res.Stdout != tt.wantOut {
					t.Errorf("result = %+v", res)
				}
				if last := evs[len(evs)-1]; last.ErrorCode != tt.wantCode {
					t.Errorf("errorCode = %q, want %q", last.ErrorCode, tt.wantCode)
				}
				// A late subscriber with after gets only the rest.
				rest := follow(t, ctx, c, run.ExecuteCode.Id, 2)
				if len(rest) != 2 || rest[0].Seq != 3 {
					t.Errorf("after 2: %v", types(rest))
				}
				got, err := client.GetRun(ctx, c, run.ExecuteCode.Id)
				if err != nil {
					t.Fatal(err)
				}
				if r, ok := got.Node.(*client.GetRunNodeRun); !ok || r.Status != tt.status || r.FinishedAt.IsZero() {
					t.Errorf("run = %#v", got.Node)
				}
			})
		}
	})

	t.Run("runs that need a model fail without one", func(t *testing.T) {
		msg, err := client.SendMessage(ctx, c, client.SendMessageInput{ChatID: chatID, Content: "Which city is dearest?"})
		if err != nil {
			t.Fatal(err)
		}
		deep, err := client.StartDeepAnalysis(ctx, c, client.StartDeepAnalysisInput{ChatID: chatID, Goal: "What drives prices?"})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{msg.SendMessage.Id, deep.StartDeepAnalysis.Id} {
			evs := follow(t, ctx, c, id, 0)
			if last := evs[len(evs)-1]; last.Type != client.RunEventTypeRunFailed || last.ErrorCode != client.RunErrorCodeModelNotConfigured {
				t.Errorf("%s ended with %+v", id, last)
			}
		}
		got, err := client.GetRun(ctx, c, deep.StartDeepAnalysis.Id)
		if err != nil {
			t.Fatal(err)
		}
		run, ok := got.Node.(*client.GetRunNodeRun)
		if !ok || run.Kind != client.RunKindDeepAnalysis || run.Report == nil || run.Report.Status != client.DeepAnalysisReportStatusFailed {
			t.Fatalf("deep analysis run = %#v", got.Node)
		}
		reports, err := client.Reports(ctx, c, 10, "", client.DeepAnalysisReportStatusFailed)
		if err != nil {
			t.Fatal(err)
		}
		if e := reports.DeepAnalysisReports.Edges; len(e) != 1 || e[0].Node.Id != run.Report.Id || e[0].Node.Goal != "What drives prices?" {
			t.Fatalf("reports = %+v", reports.DeepAnalysisReports)
		}
		if none, err := client.Reports(ctx, c, 10, "", client.DeepAnalysisReportStatusCompleted); err != nil || none.DeepAnalysisReports.TotalCount != 0 {
			t.Fatalf("completed reports = %+v, %v", none, err)
		}
		if _, err := client.DeleteReport(ctx, c, run.Report.Id); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("models and cleanCode", func(t *testing.T) {
		all, err := client.Models(ctx, c, "")
		if err != nil || len(all.Models) == 0 {
			t.Fatalf("models = %+v, %v", all, err)
		}
		anthropic, err := client.Models(ctx, c, client.LLMProviderAnthropic)
		if err != nil || len(anthropic.Models) == 0 || len(anthropic.Models) >= len(all.Models) {
			t.Fatalf("anthropic models = %d of %d, %v", len(anthropic.Models), len(all.Models), err)
		}
		for _, m := range anthropic.Models {
			if m.Provider != client.LLMProviderAnthropic || m.InputPricePer1K <= 0 {
				t.Errorf("model = %+v", m)
			}
		}
		clean, err := client.CleanCode(ctx, c, "x = 1\nimport pandas as pd\nimport pandas as pd")
		if err != nil || clean.CleanCode != "import pandas as pd\n\nx = 1" {
			t.Fatalf("cleanCode = %q, %v", clean.CleanCode, err)
		}
	})

	t.Run("accounts", func(t *testing.T) {
		email := fmt.Sprintf("ada.%d@example.com", time.Now().UnixNano())
		up, err := client.SignUp(ctx, c, client.SignUpInput{Email: email, Password: "correct horse"})
		if err != nil {
			t.Fatal(err)
		}
		ada := c.WithToken(up.SignUp.Token)
		v, err := client.Viewer(ctx, ada)
		if err != nil || v.Viewer == nil || v.Viewer.IsGuest || v.Viewer.Email != email {
			t.Fatalf("viewer = %+v, %v", v, err)
		}
		if _, err := client.SignIn(ctx, c, client.SignInInput{Email: email, Password: "wrong horse"}); client.Code(err) != client.CodeUnauthenticated {
			t.Errorf("a wrong password: %v", err)
		}
		in, err := client.SignIn(ctx, client.New(serverURL), client.SignInInput{Email: strings.ToUpper(email), Password: "correct horse"})
		if err != nil || in.SignIn.User.Id != v.Viewer.Id {
			t.Fatalf("signIn = %+v, %v", in, err)
		}
		// The guest's datasets are the account's.
		if page, err := client.Datasets(ctx, ada, 0, ""); err != nil || page.Datasets.TotalCount != 3 {
			t.Errorf("datasets after signUp = %+v, %v", page, err)
		}
		if _, err := client.SignOut(ctx, ada); err != nil {
			t.Fatal(err)
		}
		if v, err := client.Viewer(ctx, ada); err == nil && v.Viewer != nil {
			t.Errorf("viewer after signOut = %+v", v.Viewer)
		}
		// A token the server refuses ends a subscription at once.
		for _, err := range ada.RunEvents(ctx, "run_01jd000000000000000000000", 0) {
			var e *client.Error
			if !errors.As(err, &e) || e.Code != client.CodeUnauthenticated || e.CloseCode != 4403 {
				t.Errorf("run events with a signed-out token: %v", err)
			}
		}
	})
}

// cutProxy forwards TCP connections to target and cuts the first one once
// the server has sent bytes matching cut, before more arrive: a network
// failure mid-stream.
type cutProxy struct {
	ln    net.Listener
	cut   []byte
	conns atomic.Int32
	wg    sync.WaitGroup
}

func newCutProxy(t *testing.T, target string, cut string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, cut: []byte(cut)}
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	p.wg.Go(func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			n := p.conns.Add(1)
			p.wg.Go(func() { p.serve(down, target, n == 1) })
		}
	})
	return p
}

func (p *cutProxy) serve(down net.Conn, target string, cut bool) {
	defer down.Close()
	up, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer up.Close()
	go func() { io.Copy(up, down); up.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			if _, werr := down.Write(buf[:n]); werr != nil {
				return
			}
			if cut && bytes.Contains(buf[:n], p.cut) {
				return // both ends close: the client sees the connection drop
			}
		}
		if err != nil {
			return
		}
	}
}

// TestResumeThroughADrop follows a live run through a proxy that drops the
// WebSocket after the second event: the client reconnects, resubscribes
// after seq 2, and sees each event once.
func TestResumeThroughADrop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, token := guestToken(t, ctx)
	chat, err := client.CreateChat(ctx, c, client.CreateChatInput{})
	if err != nil {
		t.Fatal(err)
	}
	// Warm the chat's kernel, so that the run below starts at once.
	warm, err := client.ExecuteCode(ctx, c, client.ExecuteCodeInput{ChatID: chat.CreateChat.Id, Code: "print(1)"})
	if err != nil {
		t.Fatal(err)
	}
	follow(t, ctx, c, warm.ExecuteCode.Id, 0)

	proxy := newCutProxy(t, strings.TrimPrefix(serverURL, "http://"), `"seq":2,`)
	viaProxy := client.New("http://"+proxy.ln.Addr().String()+"/graphql", client.WithToken(token),
		client.WithReconnect(3, 50*time.Millisecond))
	run, err := client.ExecuteCode(ctx, c, client.ExecuteCodeInput{ChatID: chat.CreateChat.Id,
		Code: "import time\ntime.sleep(1.5)\nprint('slept')"})
	if err != nil {
		t.Fatal(err)
	}
	evs := follow(t, ctx, viaProxy, run.ExecuteCode.Id, 0)
	var seqs []int
	for _, ev := range evs {
		seqs = append(seqs, ev.Seq)
	}
	if !slices.Equal(seqs, []int{1, 2, 3, 4}) || evs[2].Result == nil || evs[2].Result.Stdout != "slept\n" {
		t.Fatalf("events = %v %v", seqs, types(evs))
	}
	if n := proxy.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (a drop, then a resumption)", n)
	}
}
