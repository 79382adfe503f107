package orchestrator

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/broker/memory"
	"github.com/autoanalyst/autoanalyst/dataset"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/executor"
)

// ev is a broker event of a test: its type and payload.
func ev(t EventType, d eventData) broker.Event {
	b, _ := json.Marshal(d)
	return broker.Event{Type: string(t), Data: b}
}

func TestGoodCode(t *testing.T) {
	ok, failed := &executor.Result{OK: true}, &executor.Result{OK: false}
	tests := []struct {
		name string
		evs  []broker.Event
		want string
	}{
		{"none", nil, ""},
		{"one that ran", []broker.Event{ev(EventExecutionStarted, eventData{Code: "a = 1"}), ev(EventExecutionResult, eventData{Result: ok})}, "a = 1"},
		{"failed", []broker.Event{ev(EventExecutionStarted, eventData{Code: "a = 1"}), ev(EventExecutionResult, eventData{Result: failed})}, ""},
		{"repaired", []broker.Event{
			ev(EventExecutionStarted, eventData{Code: "a ="}), ev(EventExecutionResult, eventData{Result: failed}),
			ev(EventExecutionStarted, eventData{Code: "a = 2"}), ev(EventExecutionResult, eventData{Result: ok}),
		}, "a = 2"},
		{"a later failure keeps the last success", []broker.Event{
			ev(EventExecutionStarted, eventData{Code: "a = 1"}), ev(EventExecutionResult, eventData{Result: ok}),
			ev(EventExecutionStarted, eventData{Code: "b ="}), ev(EventExecutionResult, eventData{Result: failed}),
		}, "a = 1"},
		{"restarted", []broker.Event{
			ev(EventExecutionStarted, eventData{Code: "a = 1"}), ev(EventExecutionResult, eventData{Result: ok}),
			ev(EventRunRestarted, eventData{}), ev(EventExecutionStarted, eventData{Code: "a = 3"}),
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := goodCode(tc.evs)
			if err != nil || got != tc.want {
				t.Errorf("goodCode = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// frameExecutor answers a frame request as the kernel would, and records it.
type frameExecutor struct {
	req   executor.Request
	res   *executor.Result
	calls int
}

func (f *frameExecutor) Execute(_ context.Context, req executor.Request) (*executor.Result, error) {
	f.req, f.calls = req, f.calls+1
	return f.res, nil
}

// TestFrame: the run's last code that succeeded runs again in its chat's
// kernel with the frame request; each refusal has its code and field; an
// exported frame is a file of the viewer's.
func TestFrame(t *testing.T) {
	db := openTestDB(t, false)
	ctx := context.Background()
	brk := memory.New()
	t.Cleanup(func() { brk.Close() })
	fx := &frameExecutor{}
	store := &dataset.LocalStore{Dir: t.TempDir()}
	s, err := New(Config{DB: db, Broker: brk, Files: noFiles{}, Logger: zerolog.Nop(), Executor: fx, Outputs: store,
		FrameMaxBytes: 1234})
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := db.User.Create().Save(system(ctx))
	bob, _ := db.User.Create().Save(system(ctx))
	actx := viewer.NewContext(ctx, &viewer.Viewer{UserID: alice.ID})
	bctx := viewer.NewContext(ctx, &viewer.Viewer{UserID: bob.ID})
	c := db.Chat.Create().SetUserID(alice.ID).SaveX(system(ctx))
	done := time.Now()
	newRun := func(kind run.Kind, chat bool, finished bool, evs ...broker.Event) string {
		cr := db.Run.Create().SetUserID(alice.ID).SetKind(kind)
		if chat {
			cr.SetChatID(c.ID)
		}
		if finished {
			cr.SetFinishedAt(done).SetStatus(run.StatusSUCCEEDED)
		}
		r := cr.SaveX(system(ctx))
		for _, e := range evs {
			if _, err := brk.Append(ctx, r.ID, e); err != nil {
				t.Fatal(err)
			}
		}
		return r.ID
	}
	ran := []broker.Event{ev(EventExecutionStarted, eventData{Code: "summary = df.head()"}), ev(EventExecutionResult, eventData{Result: &executor.Result{OK: true}})}
	good := newRun(run.KindCHAT, true, true, ran...)
	// A run whose broker log expired: its events are stored with it.
	b, _ := json.Marshal([]broker.Event{{Seq: 1, Type: ran[0].Type, Data: ran[0].Data}, {Seq: 2, Type: ran[1].Type, Data: ran[1].Data}})
	stored := newRun(run.KindEXECUTE_CODE, true, true)
	db.Run.UpdateOneID(stored).SetEvents(b).ExecX(system(ctx))
	noChat := newRun(run.KindDESCRIBE_DATASETS, false, true)
	running := newRun(run.KindCHAT, true, false, ran[0])
	noCode := newRun(run.KindCHAT, true, true)
	frameOK := &executor.Result{OK: true, Frame: &executor.Frame{Data: []byte("a\n1\n"), Rows: 1, Columns: 1}}

	tests := []struct {
		name     string
		ctx      context.Context
		run      string
		variable string
		res      *executor.Result
		code     errcode.Code
		field    string
	}{
		{"made again", actx, good, "summary", frameOK, "", ""},
		{"from the stored events", actx, stored, "summary", frameOK, "", ""},
		{"bad variable", actx, good, "df.head()", frameOK, errcode.BadUserInput, "variable"},
		{"keyword", actx, good, "class", frameOK, errcode.BadUserInput, "variable"},
		{"unknown run", actx, "run_unknown", "summary", frameOK, errcode.NotFound, "run"},
		{"another user's run", bctx, good, "summary", frameOK, errcode.NotFound, "run"},
		{"no chat", actx, noChat, "summary", frameOK, errcode.BadUserInput, "run"},
		{"not finished", actx, running, "summary", frameOK, errcode.BadUserInput, "run"},
		{"no code", actx, noCode, "summary", frameOK, errcode.BadUserInput, "run"},
		{"fails again", actx, good, "summary", &executor.Result{Error: &executor.Error{Type: "KeyError", Message: "'city'"}}, errcode.BadUserInput, "run"},
		{"missing", actx, good, "nope", &executor.Result{OK: true, Frame: &executor.Frame{Problem: executor.FrameMissing, Message: "no nope"}}, errcode.BadUserInput, "variable"},
		{"not a frame", actx, good, "n", &executor.Result{OK: true, Frame: &executor.Frame{Problem: executor.FrameNotFrame, Message: "n is an int"}}, errcode.BadUserInput, "variable"},
		{"too large", actx, good, "summary", &executor.Result{OK: true, Frame: &executor.Frame{Problem: executor.FrameTooLarge, Message: "big", Limit: 10}}, errcode.LimitExceeded, "variable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx.res, fx.calls = tc.res, 0
			data, err := s.FrameForDataset(tc.ctx, tc.run, tc.variable, 99)
			if tc.code != "" {
				e, ok := errcode.As(err)
				if !ok || e.Code != tc.code || e.Field != tc.field {
					t.Fatalf("err %v, want %s on %s", err, tc.code, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != "a\n1\n" || fx.calls != 1 {
				t.Errorf("frame %q after %d executions", data, fx.calls)
			}
			if fx.req.Key != c.ID || fx.req.Code != "summary = df.head()" || fx.req.Frame == nil || fx.req.Frame.Variable != "summary" ||
				fx.req.Frame.MaxBytes != 99 || fx.req.Frame.Neutralise || fx.req.Frame.Format != executor.FrameCSV {
				t.Errorf("request %+v", fx.req)
			}
		})
	}

	t.Run("export", func(t *testing.T) {
		fx.res = frameOK
		of, err := s.ExportFrame(actx, good, "summary", FrameXLSX)
		if err != nil {
			t.Fatal(err)
		}
		if fx.req.Frame.MaxBytes != 1234 || !fx.req.Frame.Neutralise || fx.req.Frame.Format != executor.FrameXLSX {
			t.Errorf("frame request %+v", fx.req.Frame)
		}
		if of.Name != "summary.xlsx" || of.Size != 4 || of.RunID == nil || *of.RunID != good || of.MessageID != nil ||
			of.MediaType != MediaType("summary.xlsx") {
			t.Errorf("file %+v", of)
		}
		rec, file, err := s.OpenFile(actx, of.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		if data, _ := io.ReadAll(file); string(data) != "a\n1\n" || rec.ID != of.ID {
			t.Errorf("downloaded %q", data)
		}
		if _, _, err := s.OpenFile(bctx, of.ID); err == nil {
			t.Error("another user opened the exported file")
		}
		if _, err := s.ExportFrame(actx, good, "summary", "pdf"); err == nil {
			t.Error("a pdf export was accepted")
		}
	})
}
