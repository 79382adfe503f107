package memory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/broker/memory"
)

// A run is enqueued as a job, a worker claims it and writes its events to the
// run's log, and a client follows the log until the Final event.
func Example() {
	ctx := context.Background()
	b := memory.New()
	defer b.Close()

	// API: enqueue the run.
	err := b.Enqueue(ctx, broker.Job{ID: "run-1", Kind: "chat", Payload: json.RawMessage(`{"question":"mean age?"}`)})
	if err != nil {
		panic(err)
	}

	// Client: follow the run's events from the start.
	sub, err := b.Follow(ctx, "run-1", 0)
	if err != nil {
		panic(err)
	}

	// Worker: claim, work (appending events), ack.
	lease, err := b.Claim(ctx, 30*time.Second)
	if err != nil {
		panic(err)
	}
	fmt.Println("claimed", lease.Job.ID, "attempt", lease.Attempt)
	for _, ev := range []broker.Event{
		{Type: "agent.started", Data: json.RawMessage(`{"agent":"statistics"}`)},
		{Type: "text", Data: json.RawMessage(`{"text":"The mean age is 38.2."}`)},
		{Type: "run.finished", Final: true},
	} {
		if _, err := b.Append(ctx, "run-1", ev); err != nil {
			panic(err)
		}
	}
	if err := b.Ack(ctx, lease); err != nil {
		panic(err)
	}

	for ev := range sub.C {
		fmt.Println(ev.Seq, ev.Type, string(ev.Data), ev.Final)
	}
	fmt.Println("follower err:", sub.Err())

	// A client reconnecting after event 2 replays only what it missed.
	missed, _ := b.Read(ctx, "run-1", 2, 0)
	fmt.Println("missed:", len(missed), missed[0].Type)
	// Output:
	// claimed run-1 attempt 1
	// 1 agent.started {"agent":"statistics"} false
	// 2 text {"text":"The mean age is 38.2."} false
	// 3 run.finished  true
	// follower err: <nil>
	// missed: 1 run.finished
}
