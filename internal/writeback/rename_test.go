package writeback

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// A rename is journalled as an upload under the new name, marked with the
// old one (From), then the delete of the old name. A kill between the two
// writes leaves only the marked upload: the next Open journals the missing
// delete, after the upload, so the server ends with the rename done rather
// than with both names (TestReliabilityCrashRounds found "z" still on the
// server after an interrupted "rename z → a/b/z").
func TestInterruptedRenameGetsItsDelete(t *testing.T) {
	dir := t.TempDir()
	j, err := openJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	// What the kill left: the rename's first write only, after an older op.
	for _, op := range []*Op{
		{ID: 4, Kind: Upload, Path: "/home/u/other", Item: "i0"},
		{ID: 5, Kind: Upload, Path: "/home/u/a/b/z", Item: "i1", From: "/home/u/z"},
	} {
		if err := j.write(op); err != nil {
			t.Fatal(err)
		}
	}
	q, rec, errs := Open(Options{Dir: dir})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if len(rec) != 3 || rec[2].Kind != Delete || rec[2].Path != "/home/u/z" ||
		len(rec[2].After) != 1 || rec[2].After[0] != 5 || rec[2].ID <= 5 {
		t.Fatalf("recovered %+v, want the delete of /home/u/z after op 5", rec)
	}
	if rec[1].From != "" {
		t.Errorf("the upload still carries From %q: it would never start", rec[1].From)
	}
	// It runs, upload first; and it is journalled: a second crash keeps it.
	_, rec2, _ := Open(Options{Dir: dir})
	if len(rec2) != 3 || rec2[2].Path != "/home/u/z" || rec2[1].From != "" {
		t.Fatalf("reopened: %+v", rec2)
	}
	ex := &recorder{started: map[string]time.Time{}}
	q.Start(ex)
	defer q.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Drain(ctx, nil); err != nil {
		t.Fatal(err)
	}
	up, _ := ex.startedAt("/home/u/a/b/z")
	del, ok := ex.startedAt("/home/u/z")
	if !ok || del.Before(up) {
		t.Errorf("delete started %v, upload %v: want the delete after the upload", del, up)
	}
}

// A kill after both writes (the mark not yet cleared), or a rename whose
// delete a later op made useless (a new file of the old name): nothing is
// added.
func TestFinishedRenameGetsNoSecondDelete(t *testing.T) {
	for _, later := range []Op{
		{ID: 6, Kind: Delete, Path: "/home/u/z", After: []uint64{5}},
		{ID: 6, Kind: Upload, Path: "/home/u/z", Item: "i2"},
		{ID: 6, Kind: Delete, Path: "/home/u"}, // rm -r of a parent
	} {
		dir := t.TempDir()
		j, _ := openJournal(dir)
		j.write(&Op{ID: 5, Kind: Upload, Path: "/home/u/a/b/z", Item: "i1", From: "/home/u/z"})
		j.write(&later)
		_, rec, errs := Open(Options{Dir: dir})
		if len(errs) != 0 || len(rec) != 2 || rec[0].From != "" {
			t.Errorf("after %+v: recovered %+v %v", later, rec, errs)
		}
		if ents, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(ents) != 2 {
			t.Errorf("after %+v: journal holds %d entries", later, len(ents))
		}
	}
}

// An op held (its file open for writing) or pushed back again and again
// still runs at its Deadline.
func TestDeadlineRunsHeldOps(t *testing.T) {
	q, _, _ := Open(Options{Dir: filepath.Join(t.TempDir(), "q")})
	ex := &recorder{started: map[string]time.Time{}}
	q.Start(ex)
	defer q.Close()
	start := time.Now()
	q.Add(Op{Kind: Upload, Path: "/held", Item: "i1", Held: true, Deadline: start.Add(200 * time.Millisecond)})
	id, _ := q.Add(Op{Kind: Upload, Path: "/pushed", Item: "i2", NotBefore: start.Add(time.Hour),
		Deadline: start.Add(300 * time.Millisecond)})
	q.Add(Op{Kind: Upload, Path: "/held-forever", Item: "i3", Held: true})
	q.Update(id, func(op *Op) { op.NotBefore = time.Now().Add(time.Hour) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ok1 := ex.startedAt("/held")
		_, ok2 := ex.startedAt("/pushed")
		if ok1 && ok2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("held %v, pushed %v: not started by their deadlines", ok1, ok2)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if at, _ := ex.startedAt("/held"); at.Sub(start) < 200*time.Millisecond {
		t.Errorf("the held op started %v after it was queued, before its deadline", at.Sub(start))
	}
	if _, ok := ex.startedAt("/held-forever"); ok {
		t.Error("a held op without a deadline started")
	}
}
