package writeback

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzJournalEntry: whatever a journal entry holds after a crash or a bad
// disk — torn JSON, another program's file, garbage — opening the queue
// never panics, never deletes the entry (an unreadable one is set aside as
// .bad, for a human), and still recovers the good entries around it.
func FuzzJournalEntry(f *testing.F) {
	for _, s := range []string{
		`{"id":5,"kind":"upload","path":"/home/u/x","item":"abc","not_before":"2024-01-01T00:00:00Z","created":"2024-01-01T00:00:00Z"}`,
		`{"id":5,"kind":"delete","path":"/home/u/x","after":[1,2,3]}`, `{"id":`, `{}`, `null`, `[]`, "\x00\xff", "",
		`{"id":-1,"kind":"mkdir","path":""}`, `{"id":18446744073709551615,"kind":"upload"}`, `{"id":5,"not_before":"yesterday"}`,
	} {
		f.Add([]byte(s))
	}
	good := `{"id":3,"kind":"delete","path":"/home/u/keep","not_before":"2024-01-01T00:00:00Z","created":"2024-01-01T00:00:00Z"}`
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "3.json"), []byte(good), 0o600)
		os.WriteFile(filepath.Join(dir, "5.json"), b, 0o600)
		q, rec, errs := Open(Options{Dir: dir})
		if q == nil {
			t.Fatalf("open: %v", errs)
		}
		found := false
		for _, op := range rec {
			if op.Path == "/home/u/keep" && op.Kind == Delete {
				found = true
			}
		}
		if !found {
			t.Fatalf("the good entry was lost next to %q: %+v", b, rec)
		}
		_, errOK := os.Stat(filepath.Join(dir, "5.json"))
		_, errBad := os.Stat(filepath.Join(dir, "5.json.bad"))
		if errOK != nil && errBad != nil {
			t.Fatalf("the entry %q vanished", b)
		}
		if (errBad == nil) != (len(errs) > 0) {
			t.Fatalf("entry %q: set aside %v, errors %v", b, errBad == nil, errs)
		}
		// The queue keeps working: a new op gets an ID above every loaded one.
		id, err := q.Add(Op{Kind: Upload, Path: "/home/u/new", Item: "i"})
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range rec {
			if op.ID >= id {
				t.Fatalf("new op %d not above loaded op %d", id, op.ID)
			}
		}
	})
}
