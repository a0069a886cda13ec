package writeback

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// An op its executor sets aside (refused for good, its data kept elsewhere)
// leaves the queue and the journal after one try, and its waiter gets the
// error; it is not retried, now or at the next Open.
func TestSetAsideIsNotRetried(t *testing.T) {
	dir := t.TempDir()
	refused := errors.New("413 Request Entity Too Large")
	var tries atomic.Int32
	q, _, _ := Open(Options{Dir: dir, BackoffBase: time.Millisecond})
	q.Start(funcExec(func(ctx context.Context, op Op) error {
		tries.Add(1)
		return SetAside(refused)
	}))
	id, err := q.Add(Op{Kind: Upload, Path: "/big", Item: "i1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Wait(ctx, id); !errors.Is(err, refused) || !IsSetAside(err) {
		t.Errorf("wait = %v, want the refusal, set aside", err)
	}
	if err := q.Drain(ctx, nil); err != nil {
		t.Errorf("drain: %v", err)
	}
	q.Close()
	if n := tries.Load(); n != 1 {
		t.Errorf("%d tries, want 1", n)
	}
	if _, rec, _ := Open(Options{Dir: dir}); len(rec) != 0 {
		t.Errorf("the journal still holds %+v", rec)
	}
}
