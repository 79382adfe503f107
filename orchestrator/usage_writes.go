package orchestrator

import "sync"

// usageWrites runs the writes of LLM usage rows in the background, so that
// the next step of a run does not wait for the database (on PostgreSQL, a
// round trip and a commit per call), and tells who needs them stored when
// they are: a run ends, and a report sums its usage, only after wait. It is
// safe for concurrent use; its zero value is ready.
type usageWrites struct {
	mu      sync.Mutex
	stored  sync.Cond      // signalled when a write ends
	pending map[string]int // run ID -> writes under way
	all     sync.WaitGroup
}

// start runs write in a goroutine, counted as one of the run's writes.
func (u *usageWrites) start(runID string, write func()) {
	u.mu.Lock()
	if u.pending == nil {
		u.pending = make(map[string]int)
		u.stored.L = &u.mu
	}
	u.pending[runID]++
	u.all.Add(1)
	u.mu.Unlock()
	go func() {
		defer u.all.Done()
		write()
		u.mu.Lock()
		if u.pending[runID]--; u.pending[runID] <= 0 {
			delete(u.pending, runID)
		}
		u.stored.Broadcast()
		u.mu.Unlock()
	}()
}

// wait returns once every write the run started before it has ended.
func (u *usageWrites) wait(runID string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for u.pending[runID] > 0 {
		u.stored.Wait()
	}
}

// waitAll returns once every write started before it has ended.
func (u *usageWrites) waitAll() { u.all.Wait() }
