package memory

import (
	"context"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/broker"
)

func (b *Broker) numRuns() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.runs)
}

func TestFollowerOfEmptyLogLeavesNothing(t *testing.T) {
	b := New()
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := b.Follow(ctx, "run", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := b.numRuns(); n != 1 {
		t.Fatalf("%d runs while following, want 1", n)
	}
	cancel()
	for range sub.C {
	}
	if n := b.numRuns(); n != 0 {
		t.Fatalf("%d runs after the follower left an empty log, want 0", n)
	}
}

func TestPurgeKeepsReplacedLog(t *testing.T) {
	b := New(WithLogRetention(0))
	defer b.Close()
	ctx := context.Background()
	if _, err := b.Append(ctx, "run", broker.Event{Final: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	if _, err := b.Append(ctx, "run", broker.Event{}); err != nil { // purges, then starts anew
		t.Fatal(err)
	}
	if n := b.numRuns(); n != 1 {
		t.Fatalf("%d runs, want 1", n)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.finished) != 0 || len(b.runs["run"].events) != 1 {
		t.Fatalf("finished %d, events %d", len(b.finished), len(b.runs["run"].events))
	}
}
