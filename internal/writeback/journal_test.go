package writeback

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Ops survive a reopen in order, held ones released; a torn or foreign entry
// is set aside (never deleted) and reported.
func TestJournalRecovery(t *testing.T) {
	dir := t.TempDir()
	q, rec, errs := Open(Options{Dir: dir})
	if len(rec) != 0 || len(errs) != 0 {
		t.Fatalf("fresh queue: %v %v", rec, errs)
	}
	for _, op := range []Op{
		{Kind: Upload, Path: "/a", Item: "i1", Held: true, NotBefore: time.Now().Add(time.Hour)},
		{Kind: Delete, Path: "/b"},
		{Kind: Mkdir, Path: "/c"},
	} {
		if _, err := q.Add(op); err != nil {
			t.Fatal(err)
		}
	}
	id, _ := q.Add(Op{Kind: Upload, Path: "/gone", Item: "i2"})
	q.Cancel(id)
	os.WriteFile(filepath.Join(dir, "99.json"), []byte("{torn"), 0o600)
	os.WriteFile(filepath.Join(dir, "98.json.tmp"), []byte("half-written"), 0o600)

	_, rec, errs = Open(Options{Dir: dir})
	if len(errs) != 1 {
		t.Errorf("errors %v, want one for the torn entry", errs)
	}
	if len(rec) != 3 || rec[0].Path != "/a" || rec[1].Path != "/b" || rec[2].Path != "/c" {
		t.Fatalf("recovered %+v", rec)
	}
	if rec[0].Held || rec[0].NotBefore.After(time.Now().Add(time.Minute)) {
		t.Errorf("recovered upload still held or deferred: %+v", rec[0])
	}
	if _, err := os.Stat(filepath.Join(dir, "99.json.bad")); err != nil {
		t.Errorf("torn entry not set aside: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "98.json.tmp")); !os.IsNotExist(err) {
		t.Error("temp file left")
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("queue dir mode %v", st.Mode())
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	q := &Queue{o: Options{BackoffBase: time.Second, BackoffMax: time.Minute}}
	prev := time.Duration(0)
	for tries := 1; tries <= 10; tries++ {
		d := q.backoff(tries)
		if d > 72*time.Second {
			t.Fatalf("try %d: %v beyond the cap", tries, d)
		}
		if tries <= 5 && d < prev/2 {
			t.Errorf("try %d: %v shrank from %v", tries, d, prev)
		}
		prev = d
	}
}

// funcExec runs a function as the Executor.
type funcExec func(ctx context.Context, op Op) error

func (f funcExec) Execute(ctx context.Context, op Op) error { return f(ctx, op) }

// A finished op whose journal entry cannot be removed is reported, counts as
// done, and its removal is tried again; the sums an attempt noted are in
// the entry a later run would replay.
func TestUnremovableEntryIsReportedAndRetried(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var reported []string
	q, _, _ := Open(Options{Dir: dir, OnError: func(op, path string, err error) {
		mu.Lock()
		reported = append(reported, op+" "+path+": "+err.Error())
		mu.Unlock()
	}})
	entry := filepath.Join(dir, "1.json")
	q.Start(funcExec(func(ctx context.Context, op Op) error {
		if err := q.NoteSent(op.ID, "abc"); err != nil {
			t.Error(err)
		}
		// The entry becomes something the queue cannot remove (as on a
		// read-only disk): a directory that is not empty.
		b, _ := os.ReadFile(entry)
		os.Remove(entry)
		os.MkdirAll(filepath.Join(entry, "x"), 0o700)
		os.WriteFile(filepath.Join(dir, "saved"), b, 0o600)
		return nil
	}))
	defer q.Close()
	id, err := q.Add(Op{Kind: Upload, Path: "/f", Item: "i"})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Wait(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if len(q.Snapshot()) != 0 {
		t.Errorf("finished op still queued: %+v", q.Snapshot())
	}
	mu.Lock()
	if len(reported) != 1 || !strings.HasPrefix(reported[0], "journal /f: ") {
		t.Errorf("reported %q, want the journal failure", reported)
	}
	mu.Unlock()
	if b, _ := os.ReadFile(filepath.Join(dir, "saved")); !strings.Contains(string(b), `"sent_sums":["abc"]`) {
		t.Errorf("entry before the failure: %s", b)
	}
	os.RemoveAll(filepath.Join(entry, "x"))
	q.mu.Lock()
	q.retryRemovalsLocked()
	left := len(q.unremoved)
	q.mu.Unlock()
	if _, err := os.Stat(entry); left != 0 || !os.IsNotExist(err) {
		t.Errorf("entry not removed on retry: %d left, stat %v", left, err)
	}
}

// An op is sent only once the journal says so: if the entry cannot be
// marked as sent (a full or read-only disk), nothing leaves, the attempt
// counts as failed, and it is tried again later.
func TestUnjournalledSendIsNotSent(t *testing.T) {
	dir := t.TempDir()
	q, _, _ := Open(Options{Dir: dir})
	defer q.Close()
	id, err := q.Add(Op{Kind: Upload, Path: "/f", Item: "i"})
	if err != nil {
		t.Fatal(err)
	}
	// The entry's next version cannot be written: its temp name is taken by
	// a directory that is not empty.
	blocker := filepath.Join(dir, fmt.Sprintf("%d.json.tmp", id))
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int32
	q.Start(funcExec(func(ctx context.Context, op Op) error {
		sent.Add(1)
		return nil
	}))
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := q.Snapshot()
		if len(s) == 1 && strings.Contains(s[0].LastError, "not sent") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempt recorded: %+v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := sent.Load(); n != 0 {
		t.Fatalf("the op was sent %d times without its journal mark", n)
	}
	os.RemoveAll(blocker)
	q.Expedite(id)
	if err := q.Wait(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if sent.Load() != 1 {
		t.Errorf("after the disk recovered: sent %d times, want 1", sent.Load())
	}
}
