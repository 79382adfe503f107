package executor

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/autoanalyst/autoanalyst/metrics"
)

// pool keeps the kernels: one per (Request.Key, datasets), least recently used
// first to go when there are more than MaxKernels or they hold more than
// MemoryBudgetBytes together, idle ones closed after
// IdleTimeout, dead ones replaced on their next use. A warm spare kernel (data
// stack imported, no datasets) is handed to the next new key so that its first
// execution only pays for loading its datasets. Safe for concurrent use.
type pool struct {
	s *settings

	ctx    context.Context // canceled by close: aborts kernel start-ups
	cancel context.CancelFunc

	mu            sync.Mutex
	entries       map[string]*entry
	lru           *list.List // of *entry, most recently used first
	spare         *kernel
	spareStarting bool
	closed        bool

	stopJanitor chan struct{}
	wg          sync.WaitGroup
}

// entry is a kernel in the pool, or one being started.
type entry struct {
	key, pkey string
	ready     chan struct{} // closed when k or err is set
	k         *kernel
	err       error
	refs      int // callers between acquire and release
	lastUsed  time.Time
	elem      *list.Element
	removed   bool
}

func (e *entry) isReady() bool {
	select {
	case <-e.ready:
		return true
	default:
		return false
	}
}

func newPool(s *settings) *pool {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pool{
		s:           s,
		ctx:         ctx,
		cancel:      cancel,
		entries:     map[string]*entry{},
		lru:         list.New(),
		stopJanitor: make(chan struct{}),
	}
	p.wg.Add(1)
	go p.janitor()
	return p
}

// fingerprint identifies a dataset list, including the files' (and parsed
// forms') sizes and modification times, so that a changed file gets a new
// kernel.
func fingerprint(datasets []Dataset) string {
	h := sha256.New()
	for _, ds := range datasets {
		size, mtime := fileStamp(ds.Path)
		psize, pmtime := fileStamp(ds.Parsed)
		fmt.Fprintf(h, "%q %q %q %q %d %d %q %q %d %d\n", ds.Name, ds.Format, ds.Sheet, ds.Path, size, mtime, ds.Columns,
			ds.Parsed, psize, pmtime)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fileStamp returns the size and modification time of the file at path
// (zeros when there is none).
func fileStamp(path string) (size, mtime int64) {
	if path == "" {
		return 0, 0
	}
	if fi, err := os.Stat(path); err == nil {
		return fi.Size(), fi.ModTime().UnixNano()
	}
	return 0, 0
}

// acquire returns the ready kernel for key and datasets, starting one if
// needed. The caller must release the entry.
func (p *pool) acquire(ctx context.Context, key string, datasets []Dataset) (*entry, error) {
	pkey := key + "\x00" + fingerprint(datasets)
	for tries := 0; ; tries++ {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		ent := p.entries[pkey]
		if ent != nil && ent.isReady() && (ent.err != nil || !ent.k.alive()) {
			if ent.err == nil {
				p.s.Metrics.KernelEvicted(metrics.EvictDead, 1)
			}
			p.removeLocked(ent)
			ent = nil
		}
		if ent == nil {
			ent = &entry{key: key, pkey: pkey, ready: make(chan struct{}), lastUsed: time.Now(), refs: 1}
			ent.elem = p.lru.PushFront(ent)
			p.entries[pkey] = ent
			stale := p.evictKeyLocked(key, pkey)
			p.s.Metrics.KernelEvicted(metrics.EvictDatasetsChanged, len(stale))
			p.wg.Add(1)
			p.mu.Unlock()
			closeKernels(stale)
			go p.start(ent, datasets)
		} else {
			ent.refs++
			ent.lastUsed = time.Now()
			p.lru.MoveToFront(ent.elem)
			p.mu.Unlock()
		}
		select {
		case <-ent.ready:
		case <-ctx.Done():
			p.release(ent)
			return nil, ctx.Err()
		}
		if ent.err != nil {
			p.release(ent)
			return nil, ent.err
		}
		if !ent.k.alive() {
			p.release(ent)
			p.discard(ent)
			if tries < 2 {
				continue
			}
			return nil, fmt.Errorf("%w: new kernels die immediately: %s%s", ErrKernel, ent.k.describeExit(), ent.k.outputNote())
		}
		return ent, nil
	}
}

// start gives ent a kernel: the spare or a new one, with datasets loaded.
func (p *pool) start(ent *entry, datasets []Dataset) {
	defer p.wg.Done()
	ctx, cancel := context.WithTimeout(p.ctx, p.s.StartTimeout)
	defer cancel()
	began := time.Now()
	k, spare := p.takeSpare(), true
	var err error
	if k == nil {
		spare = false
		k, err = startKernel(ctx, p.s)
	}
	if err == nil {
		if err = k.load(ctx, datasets); err != nil {
			k.close()
			k = nil
		}
	}
	if err != nil && p.ctx.Err() != nil {
		err = ErrClosed
	}
	p.mu.Lock()
	if err == nil && p.closed {
		err = ErrClosed
		defer k.close()
		k = nil
	}
	ent.k, ent.err = k, err
	if err != nil {
		p.removeLocked(ent)
	}
	victims := p.evictLRULocked()
	p.mu.Unlock()
	close(ent.ready)
	closeKernels(victims)
	if err != nil {
		p.s.log.Warn().Err(err).Msg("kernel start failed")
	} else {
		p.s.log.Debug().Uint64("kernel", k.id).Bool("spare", spare).Int("datasets", len(datasets)).
			Dur("took_ms", time.Since(began)).Msg("kernel assigned")
	}
	p.refillSpare()
}

// release ends a caller's use of ent.
func (p *pool) release(ent *entry) {
	p.mu.Lock()
	ent.refs--
	ent.lastUsed = time.Now()
	p.mu.Unlock()
}

// discard removes ent (whose kernel died) from the pool.
func (p *pool) discard(ent *entry) {
	p.mu.Lock()
	if !ent.removed {
		p.s.Metrics.KernelEvicted(metrics.EvictDead, 1)
	}
	p.removeLocked(ent)
	p.mu.Unlock()
	if ent.k != nil {
		ent.k.close()
	}
}

func (p *pool) removeLocked(ent *entry) {
	if ent.removed {
		return
	}
	ent.removed = true
	if p.entries[ent.pkey] == ent {
		delete(p.entries, ent.pkey)
	}
	p.lru.Remove(ent.elem)
}

// evictLRULocked removes idle kernels, least recently used first, while there
// are more than MaxKernels or they hold more than MemoryBudgetBytes. Busy
// kernels are never evicted.
func (p *pool) evictLRULocked() []*kernel {
	var held int64
	for el := p.lru.Front(); el != nil; el = el.Next() {
		held += el.Value.(*entry).memory()
	}
	over := func() bool {
		return p.lru.Len() > p.s.MaxKernels || p.s.MemoryBudgetBytes > 0 && held > p.s.MemoryBudgetBytes
	}
	var victims []*kernel
	for el := p.lru.Back(); el != nil && over(); {
		prev := el.Prev()
		ent := el.Value.(*entry)
		if ent.refs == 0 && ent.isReady() {
			reason := metrics.EvictMemory
			if p.lru.Len() > p.s.MaxKernels {
				reason = metrics.EvictMaxKernels
			}
			p.s.Metrics.KernelEvicted(reason, 1)
			held -= ent.memory()
			p.removeLocked(ent)
			if ent.k != nil {
				victims = append(victims, ent.k)
			}
		}
		el = prev
	}
	return victims
}

// memory is what ent's kernel holds (0 while it starts).
func (e *entry) memory() int64 {
	if !e.isReady() || e.k == nil {
		return 0
	}
	return e.k.memory.Load()
}

// evictKeyLocked removes idle kernels of key whose datasets differ from pkey's.
func (p *pool) evictKeyLocked(key, pkey string) []*kernel {
	var victims []*kernel
	for _, ent := range p.entries {
		if ent.key == key && ent.pkey != pkey && ent.refs == 0 && ent.isReady() {
			p.removeLocked(ent)
			if ent.k != nil {
				victims = append(victims, ent.k)
			}
		}
	}
	return victims
}

// evictIdle closes kernels unused for IdleTimeout and replaces a dead spare.
func (p *pool) evictIdle() {
	now := time.Now()
	var victims []*kernel
	p.mu.Lock()
	for _, ent := range p.entries {
		if ent.refs == 0 && ent.isReady() && now.Sub(ent.lastUsed) >= p.s.IdleTimeout {
			p.removeLocked(ent)
			if ent.k != nil {
				victims = append(victims, ent.k)
			}
		}
	}
	if p.spare != nil && !p.spare.alive() {
		victims = append(victims, p.spare)
		p.spare = nil
	}
	p.mu.Unlock()
	p.s.Metrics.KernelEvicted(metrics.EvictIdle, len(victims))
	if len(victims) > 0 {
		p.s.log.Debug().Int("kernels", len(victims)).Msg("closing idle kernels")
	}
	closeKernels(victims)
	p.refillSpare()
}

func (p *pool) janitor() {
	defer p.wg.Done()
	interval := min(max(p.s.IdleTimeout/4, 10*time.Millisecond), 30*time.Second)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stopJanitor:
			return
		case <-t.C:
			p.evictIdle()
		}
	}
}

func (p *pool) setSpare(k *kernel) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		go k.close()
		return
	}
	p.spare = k
}

// hasSpare reports whether a live spare kernel is waiting.
func (p *pool) hasSpare() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spare != nil && p.spare.alive()
}

// takeSpare returns the spare kernel if there is a live one, or nil.
func (p *pool) takeSpare() *kernel {
	p.mu.Lock()
	k := p.spare
	p.spare = nil
	p.mu.Unlock()
	if k != nil && !k.alive() {
		k.close()
		return nil
	}
	return k
}

// refillSpare starts a new spare kernel in the background if there is none.
func (p *pool) refillSpare() {
	p.mu.Lock()
	if p.closed || p.s.DisableSpare || p.spare != nil || p.spareStarting {
		p.mu.Unlock()
		return
	}
	p.spareStarting = true
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(p.ctx, p.s.StartTimeout)
		defer cancel()
		k, err := startKernel(ctx, p.s)
		p.mu.Lock()
		p.spareStarting = false
		switch {
		case err != nil:
			if !p.closed {
				p.s.log.Warn().Err(err).Msg("spare kernel start failed")
			}
		case p.closed:
			defer k.close()
		default:
			p.spare = k
		}
		p.mu.Unlock()
	}()
}

// kernelFor returns the kernel currently serving key and datasets, if any
// (for tests).
func (p *pool) kernelFor(key string, datasets []Dataset) *kernel {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ent := p.entries[key+"\x00"+fingerprint(datasets)]; ent != nil && ent.isReady() {
		return ent.k
	}
	return nil
}

// gauges returns the live kernels (the pool's and the spare) and the memory
// they hold, for the metrics.
func (p *pool) gauges() (running int, memory int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for el := p.lru.Front(); el != nil; el = el.Next() {
		ent := el.Value.(*entry)
		if ent.isReady() && ent.k != nil && ent.k.alive() {
			running++
			memory += ent.k.memory.Load()
		}
	}
	if p.spare != nil && p.spare.alive() {
		running++
		memory += p.spare.memory.Load()
	}
	return running, memory
}

// size returns the number of kernels in the pool, not counting the spare.
func (p *pool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lru.Len()
}

// close stops every kernel and waits for background work.
func (p *pool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	var victims []*kernel
	for _, ent := range p.entries {
		ent.removed = true
		if ent.isReady() && ent.k != nil {
			victims = append(victims, ent.k)
		}
	}
	p.entries = map[string]*entry{}
	p.lru = list.New()
	if p.spare != nil {
		victims = append(victims, p.spare)
		p.spare = nil
	}
	close(p.stopJanitor)
	p.mu.Unlock()
	p.cancel()
	closeKernels(victims)
	p.wg.Wait()
}

// closeKernels closes kernels concurrently and waits for them.
func closeKernels(ks []*kernel) {
	var wg sync.WaitGroup
	for _, k := range ks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k.close()
		}()
	}
	wg.Wait()
}
