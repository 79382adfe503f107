package brokertest

import (
	"errors"
	"slices"
	"testing"

	"github.com/autoanalyst/autoanalyst/broker"
)

// ---- affinity ----

// affinityJob is testJob with an affinity key.
func affinityJob(id, key string) broker.Job {
	j := testJob(id)
	j.Affinity = key
	return j
}

// The cases use one broker: whether it sends a key's jobs somewhere of
// their own or not, the delivery semantics are those of any job. Several
// processes are the driver's own tests (broker/redis).
var affinityCases = []testCase{
	{"AffinityRoundTrip", func(t *testing.T, b broker.Broker) {
		// The key is delivered as enqueued, on every delivery (release,
		// retry); a job without one has none.
		enqueue(t, b, affinityJob("a-1", "chat-1"), testJob("plain"))
		l := claim(t, b, LongTTL, "a-1")
		if l.Job.Affinity != "chat-1" {
			t.Fatalf("Affinity = %q, want chat-1", l.Job.Affinity)
		}
		noErr(t, "Release", b.Release(bg(t), l))
		// The released job may come back before or after plain.
		got := map[string]*broker.Lease{}
		for range 2 {
			l, err := b.Claim(bg(t), LongTTL)
			noErr(t, "Claim", err)
			got[l.Job.ID] = l
		}
		if l := got["a-1"]; l == nil || l.Job.Affinity != "chat-1" || l.Attempt != 1 {
			t.Fatalf("after Release: %+v, want a-1 with Affinity chat-1, attempt 1", l)
		}
		if l := got["plain"]; l == nil || l.Job.Affinity != "" {
			t.Fatalf("job without a key: %+v, want plain with no Affinity", l)
		}
		noErr(t, "Ack", b.Ack(bg(t), got["plain"]))
		retry, err := b.Fail(bg(t), got["a-1"], errors.New("boom"), true)
		noErr(t, "Fail(retry)", err)
		if !retry {
			t.Fatal("Fail with attempts left did not retry")
		}
		l = claim(t, b, LongTTL, "a-1")
		if l.Job.Affinity != "chat-1" || l.Attempt != 2 {
			t.Fatalf("after a retry: Affinity %q attempt %d, want chat-1, 2", l.Job.Affinity, l.Attempt)
		}
		noErr(t, "Ack", b.Ack(bg(t), l))
		noClaim(t, b)
	}},
	{"AffinityQueuedJobs", func(t *testing.T, b broker.Broker) {
		// Once a key's job was claimed, the key's further jobs are counted,
		// looked up, cancelled and delivered like any queued job.
		enqueue(t, b, affinityJob("k-1", "chat-1"))
		first := claim(t, b, LongTTL, "k-1")
		enqueue(t, b, affinityJob("k-2", "chat-1"), affinityJob("k-3", "chat-1"), testJob("plain"),
			affinityJob("other", "chat-2"))
		st, err := b.Stats(bg(t))
		noErr(t, "Stats", err)
		if st != (broker.QueueStats{Ready: 4, Leased: 1}) {
			t.Fatalf("Stats = %+v, want 4 ready, 1 leased", st)
		}
		info, err := b.Lookup(bg(t), "k-2")
		noErr(t, "Lookup", err)
		if info.State != broker.JobQueued || info.Attempts != 0 {
			t.Fatalf("Lookup(k-2) = %+v, want queued, 0 attempts", info)
		}
		state, err := b.Cancel(bg(t), "k-2")
		noErr(t, "Cancel(k-2)", err)
		if state != broker.JobQueued {
			t.Fatalf("Cancel(k-2) = %s, want queued", state)
		}
		info, err = b.Lookup(bg(t), "k-2")
		noErr(t, "Lookup", err)
		if info.State != broker.JobUnknown {
			t.Fatalf("Lookup(k-2) after Cancel = %+v, want unknown", info)
		}
		st, err = b.Stats(bg(t))
		noErr(t, "Stats", err)
		if st.Ready != 3 {
			t.Fatalf("Stats after Cancel = %+v, want 3 ready", st)
		}
		noErr(t, "Ack", b.Ack(bg(t), first))
		var ids []string
		for range 3 {
			l, err := b.Claim(bg(t), LongTTL)
			noErr(t, "Claim", err)
			ids = append(ids, l.Job.ID)
			noErr(t, "Ack", b.Ack(bg(t), l))
		}
		slices.Sort(ids)
		if want := []string{"k-3", "other", "plain"}; !slices.Equal(ids, want) {
			t.Fatalf("delivered %v, want %v (k-2 was cancelled)", ids, want)
		}
		noClaim(t, b)
	}},
}
