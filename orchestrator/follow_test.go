package orchestrator

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/broker/memory"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/executor"
)

// TestDecodeEvent: an event reads back as it was appended, its result in the
// run service's terms.
func TestDecodeEvent(t *testing.T) {
	d := eventData{Agent: "data_viz_agent", Text: "t", Progress: ptr(40), MessageID: "msg_1", ErrorCode: CodeExecutionError,
		Plan: &Plan{Complexity: "basic", Steps: []PlanStep{{Agent: "a", Create: []string{"x"}, Use: []string{}}}},
		Result: &executor.Result{OK: true, Stdout: "5\n", Error: &executor.Error{Type: "KeyError", Line: 2},
			Figures: []json.RawMessage{json.RawMessage(`{"data":[]}`)},
			Tables:  []executor.Table{{Columns: []string{"a"}, Rows: [][]any{{1.5}, {nil}}}}}}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC()
	got, err := decodeEvent(broker.Event{Seq: 3, Type: string(EventExecutionResult), At: at, Data: b})
	if err != nil {
		t.Fatal(err)
	}
	want := &Event{Seq: 3, Type: EventExecutionResult, At: at, Agent: d.Agent, Text: d.Text, Progress: d.Progress,
		MessageID: d.MessageID, ErrorCode: d.ErrorCode, Plan: d.Plan, Result: resultOf(d.Result)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	if _, err := decodeEvent(broker.Event{Seq: 4, Data: []byte("{")}); err == nil {
		t.Fatal("an unreadable event decoded")
	}
}

// TestFollow: a run's events after a sequence number, from the broker's log
// while it lasts, else from the copy stored with the run; another user's run
// is not found.
func TestFollow(t *testing.T) {
	db := openTestDB(t, false)
	ctx := context.Background()
	brk := memory.New()
	t.Cleanup(func() { brk.Close() })
	s, err := New(Config{DB: db, Broker: brk, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := db.User.Create().Save(system(ctx))
	bob, _ := db.User.Create().Save(system(ctx))
	actx := viewer.NewContext(ctx, &viewer.Viewer{UserID: alice.ID})
	r, err := db.Run.Create().SetUserID(alice.ID).SetKind("EXECUTE_CODE").Save(actx)
	if err != nil {
		t.Fatal(err)
	}
	follow := func(ctx context.Context, after int64) []string {
		t.Helper()
		var got []string
		done := make(chan struct{})
		err := s.Follow(ctx, r.ID, after, func(e *Event) bool {
			got = append(got, string(e.Type)+":"+e.Text)
			return true
		}, func() { close(done) })
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("following did not end")
		}
		return got
	}
	em := &emitter{log: brk, runID: r.ID}
	for _, e := range []struct {
		t    EventType
		text string
	}{{EventRunStarted, "a"}, {EventStep, "b"}, {EventRunSucceeded, "c"}} {
		if err := em.emit(ctx, e.t, eventData{Text: e.text}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"STEP:b", "RUN_SUCCEEDED:c"}
	if got := follow(actx, 1); !reflect.DeepEqual(got, want) {
		t.Fatalf("from the broker: %v, want %v", got, want)
	}

	// The broker's copy expired: the copy stored with the finished run.
	evs, _ := brk.Read(ctx, r.ID, 0, 0)
	stored, _ := json.Marshal(evs)
	other := memory.New()
	t.Cleanup(func() { other.Close() })
	s.cfg.Broker = other
	if err := db.Run.UpdateOneID(r.ID).SetEvents(stored).SetFinishedAt(time.Now()).SetStatus("SUCCEEDED").Exec(actx); err != nil {
		t.Fatal(err)
	}
	if got := follow(actx, 1); !reflect.DeepEqual(got, want) {
		t.Fatalf("from the stored copy: %v, want %v", got, want)
	}

	bctx := viewer.NewContext(ctx, &viewer.Viewer{UserID: bob.ID})
	if err := s.Follow(bctx, r.ID, 0, func(*Event) bool { return true }, func() {}); err == nil {
		t.Fatal("another user's run followed")
	}
	if err := s.Follow(actx, r.ID, -1, func(*Event) bool { return true }, func() {}); errcode.Of(err) != errcode.BadUserInput {
		t.Fatalf("after -1: %v", err)
	}
}
