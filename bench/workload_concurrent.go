package bench

import (
	"fmt"
	"sync"
	"time"
)

// runConcurrent is W8: Config.Writers goroutines (each count in turn, on
// a fresh store), each appending one entry at a time and waiting until it
// is durable. The positions are handed out under one lock, in the order
// the entries reach the store, as a Raft leader's clients would get them
// through one log.
//
// A store with an asynchronous flush (AsyncStore) appends and requests a
// flush under that lock and waits for its callback outside it, so that
// entries arriving during one sync share the next (group commit in the
// store). The others have no separate durability wait, and run twice:
//
//   - direct (Batch 1): the natural equivalent, the store's synced Append
//     under the position lock, which its own lock would serialize anyway
//     (raft-wal's StoreLogs and etcd's Save hold their lock across the
//     fsync);
//   - leader loop (Batch raftBatch): what hashicorp/raft's leader and
//     etcd's raft node do above the store, one synced Append of every
//     entry waiting (up to raftBatch): group commit above the store.
func runConcurrent(r *runner, d *Driver) ([]Result, error) {
	var out []Result
	for _, writers := range r.cfg.Writers {
		for leader := false; ; leader = true {
			var async bool
			res, err := r.measure(d, OpenOptions{}, func(st Store) (Result, error) {
				_, async = st.(AsyncStore)
				return r.concurrent(st, writers, leader && !async)
			})
			if err != nil {
				return nil, fmt.Errorf("%d writers: %w", writers, err)
			}
			res.Workload, res.Writers = "W8-concurrent", writers
			out = append(out, res)
			if async || leader {
				break
			}
		}
	}
	return out, nil
}

// appendWait appends e at the next position and returns once it is
// durable. ch is the calling writer's own channel and cb a callback that
// sends to it; both are made once per writer.
type appendWait func(e Entry, ch chan error, cb func(error)) error

func (r *runner) concurrent(st Store, writers int, leader bool) (Result, error) {
	var (
		op    appendWait
		note  string
		batch = 1
	)
	if as, ok := st.(AsyncStore); ok {
		var (
			mu   sync.Mutex
			next uint64 = 1
		)
		op = func(e Entry, ch chan error, cb func(error)) error {
			mu.Lock()
			e.Index = next
			err := as.AppendFlush(e, cb)
			if err == nil {
				next++
			}
			mu.Unlock()
			if err != nil {
				return err
			}
			return <-ch
		}
		note = "Append+Flush(callback) under one lock, wait for the callback outside it"
	} else if leader {
		c := newCombiner(st)
		defer c.close()
		op, batch = c.append, raftBatch
		note = fmt.Sprintf("leader loop: one synced Append of the entries waiting (≤ %d), group commit above the store", raftBatch)
	} else {
		var (
			mu   sync.Mutex
			next uint64 = 1
			ents        = make([]Entry, 1)
		)
		op = func(e Entry, _ chan error, _ func(error)) error {
			mu.Lock()
			defer mu.Unlock()
			e.Index = next
			ents[0] = e
			if err := st.Append(ents); err != nil {
				return err
			}
			next++
			return nil
		}
		note = "direct: synced Append under the position lock (no group commit in the store)"
	}

	dur := r.cfg.ConcurrentDuration
	r.phase(fmt.Sprintf("run %d writers", writers), dur)
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		lats   = make([]*latency, writers)
		counts = make([]int64, writers)
		errs   = make([]error, writers)
		begin  time.Time
	)
	for w := range writers {
		lats[w] = newLatency()
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch := make(chan error, 1)
			cb := func(err error) { ch <- err }
			e := Entry{Term: 1, Payload: r.payload[:r.cfg.Size]}
			<-start
			deadline := begin.Add(dur)
			for {
				t0 := time.Now()
				if t0.After(deadline) {
					return
				}
				if err := op(e, ch, cb); err != nil {
					errs[w] = fmt.Errorf("bench: writer %d: %w", w, err)
					return
				}
				lats[w].record(time.Since(t0))
				counts[w]++
			}
		}()
	}
	begin = time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(begin)
	lat := newLatency()
	var n int64
	for w := range writers {
		if errs[w] != nil {
			return Result{}, errs[w]
		}
		lat.h.Merge(lats[w].h)
		n += counts[w]
	}
	res := Result{Batch: batch, OpsPerSec: perSec(n, elapsed)}
	lat.fill(&res)
	res.Note = note + "; latency = lock to durable"
	return res, nil
}

// combiner is the leader loop of W8 for stores without a separate
// durability wait.
type combiner struct {
	st      Store
	mu      sync.Mutex
	next    uint64
	queue   []Entry
	waiters []chan error
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newCombiner(st Store) *combiner {
	c := &combiner{st: st, next: 1, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// append queues e at the next position and waits until the leader loop
// stored it.
func (c *combiner) append(e Entry, ch chan error, _ func(error)) error {
	c.mu.Lock()
	e.Index = c.next
	c.next++
	c.queue = append(c.queue, e)
	c.waiters = append(c.waiters, ch)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return <-ch
}

func (c *combiner) run() {
	defer close(c.done)
	var (
		batch   []Entry
		waiters []chan error
	)
	for {
		select {
		case <-c.kick:
		case <-c.stop:
			return
		}
		for {
			c.mu.Lock()
			n := min(len(c.queue), raftBatch)
			batch = append(batch[:0], c.queue[:n]...)
			waiters = append(waiters[:0], c.waiters[:n]...)
			c.queue = c.queue[:copy(c.queue, c.queue[n:])]
			c.waiters = c.waiters[:copy(c.waiters, c.waiters[n:])]
			c.mu.Unlock()
			if n == 0 {
				break
			}
			err := c.st.Append(batch)
			for _, ch := range waiters {
				ch <- err
			}
		}
	}
}

// close stops the leader loop; every writer must have returned.
func (c *combiner) close() {
	close(c.stop)
	<-c.done
}
