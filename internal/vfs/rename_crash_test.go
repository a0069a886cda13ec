package vfs_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A kill in the middle of a rename, between the journal write of the upload
// under the new name and that of the old name's delete, left after recovery
// both names on the server: neither the state before the rename nor the
// one after (TestReliabilityCrashRounds: "the kill interrupted rename z →
// a/b/z: ... z: a file of 139 bytes that should not exist"). The journal is
// put back into exactly that state: the rename's upload as its first write
// left it, no delete.
func TestRenameInterruptedBeforeItsDelete(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.emu.WriteFile("/home/u/z", []byte("the data"))
	if got := e.read("/home/u/z"); got != "the data" {
		t.Fatalf("z reads %q", got)
	}
	if err := e.fs.Rename(e.ctx, "/home/u", "z", "/home/u/a/b", "z", 0); err != nil {
		t.Fatal(err)
	}
	e.fs.Close()

	dir := filepath.Join(e.cache, "queue")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var upload string
	var deletes int
	for _, d := range ents {
		if !strings.HasSuffix(d.Name(), ".json") {
			continue // the journal's disk reserve
		}
		p := filepath.Join(dir, d.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var op map[string]any
		if err := json.Unmarshal(b, &op); err != nil {
			t.Fatalf("%s: %v", d.Name(), err)
		}
		switch op["kind"] {
		case "delete":
			deletes++
			os.Remove(p) // not yet written when the kill came
		case "upload":
			if op["path"] != "/home/u/a/b/z" {
				t.Fatalf("upload of %v", op["path"])
			}
			upload = p
		}
	}
	if upload == "" || deletes != 1 {
		t.Fatalf("journal after the rename: upload %q, %d deletes; want one of each", upload, deletes)
	}
	// The upload as the rename's first write leaves it: marked with the
	// name it was renamed from until the delete is journalled.
	b, _ := os.ReadFile(upload)
	var op map[string]any
	json.Unmarshal(b, &op)
	op["from"] = "/home/u/z"
	b, _ = json.Marshal(op)
	if err := os.WriteFile(upload, b, 0o600); err != nil {
		t.Fatal(err)
	}

	e.open(time.Hour)
	e.drain()
	if got, ok := e.remote("/home/u/a/b/z"); !ok || got != "the data" {
		t.Errorf("a/b/z = %q %v, want the renamed file", got, ok)
	}
	if _, ok := e.remote("/home/u/z"); ok {
		t.Error("z is still on the server: the rename is half done")
	}
	if got := e.names("/home/u"); len(got) != 1 || got[0] != "a" {
		t.Errorf("the mount shows %v in /home/u, want [a]", got)
	}
}
