package writeback

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// recorder is an Executor that notes when each op started; block, if set,
// holds every op until closed.
type recorder struct {
	mu      sync.Mutex
	started map[string]time.Time
	block   chan struct{}
}

func (r *recorder) Execute(ctx context.Context, op Op) error {
	r.mu.Lock()
	r.started[op.Path] = time.Now()
	r.mu.Unlock()
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (r *recorder) startedAt(p string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.started[p]
	return t, ok
}

// A run that dies with a request in flight: the server may still apply that
// request after the next run starts, so the next run sends nothing until
// Settle has passed, lest its newer change land first and be overwritten by
// the dead run's older one. A journal with nothing sent needs no wait.
func TestRecoveredInflightOpsWaitToSettle(t *testing.T) {
	dir := t.TempDir()
	q, _, _ := Open(Options{Dir: dir})
	ex := &recorder{started: map[string]time.Time{}, block: make(chan struct{})}
	q.Start(ex)
	if _, err := q.Add(Op{Kind: Upload, Path: "/sent", Item: "i1"}); err != nil {
		t.Fatal(err)
	}
	for {
		if _, ok := ex.startedAt("/sent"); ok {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// The process dies here, request in flight: nothing more is written.
	_, rec, _ := Open(Options{Dir: dir})
	if len(rec) != 1 || !rec[0].Sent {
		t.Fatalf("recovered %+v, want the op marked as sent", rec)
	}

	const settle = 300 * time.Millisecond
	q2, _, _ := Open(Options{Dir: dir, Settle: settle})
	ex2 := &recorder{started: map[string]time.Time{}}
	opened := time.Now()
	q2.Start(ex2)
	defer q2.Close()
	if _, err := q2.Add(Op{Kind: Upload, Path: "/new", Item: "i2"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q2.Drain(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/sent", "/new"} {
		at, ok := ex2.startedAt(p)
		if !ok || at.Sub(opened) < settle {
			t.Errorf("%s started %v after the reopen, want ≥ %v", p, at.Sub(opened), settle)
		}
	}
	close(ex.block)
	q.Close()

	// Nothing was sent: no wait.
	dir = t.TempDir()
	q3, _, _ := Open(Options{Dir: dir})
	if _, err := q3.Add(Op{Kind: Delete, Path: "/queued", NotBefore: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	q4, rec, _ := Open(Options{Dir: dir, Settle: time.Hour})
	if len(rec) != 1 || rec[0].Sent {
		t.Fatalf("recovered %+v", rec)
	}
	ex4 := &recorder{started: map[string]time.Time{}}
	q4.Start(ex4)
	defer q4.Close()
	if err := q4.Drain(ctx, nil); err != nil {
		t.Fatalf("a journal with nothing sent waited: %v", err)
	}
}

// failing is an Executor that fails while down is set.
type failing struct {
	mu    sync.Mutex
	down  bool
	tries int
	done  chan struct{}
}

func (f *failing) Execute(ctx context.Context, op Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tries++
	if f.down {
		return errors.New("connection refused")
	}
	close(f.done)
	return nil
}

// Retry sends at once an op that waits out the backoff of failed attempts
// (the server answers again): not after the minutes the backoff has grown to.
func TestRetryEndsBackoff(t *testing.T) {
	q, _, _ := Open(Options{Dir: t.TempDir(), BackoffBase: time.Hour})
	ex := &failing{down: true, done: make(chan struct{})}
	q.Start(ex)
	defer q.Close()
	id, err := q.Add(Op{Kind: Upload, Path: "/f", Item: "i"})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if op, inflight, _ := q.Get(id); op.Tries == 1 && !inflight {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first attempt did not fail")
		}
	}
	ex.mu.Lock()
	ex.down = false
	ex.mu.Unlock()
	q.Retry()
	select {
	case <-ex.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Retry did not send the op that waits out an hour's backoff")
	}
}
