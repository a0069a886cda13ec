package vfs_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/writeback"
	"github.com/pafs/pafs/remote/emulator"
)

// gate holds the API's uploads of one path until released.
type gate struct {
	path    string
	release chan struct{}
}

func (g *gate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, g.path) {
			<-g.release
		}
		h.ServeHTTP(w, r)
	})
}

// newGatedEnv is newEnv with the uploads of path held until g.release is closed.
func newGatedEnv(t *testing.T, writeBack time.Duration, path string) (*env, *gate) {
	t.Helper()
	g := &gate{path: path, release: make(chan struct{})}
	emu := emulator.New(emulator.Config{Username: "u", Token: "t", RateLimit: -1})
	srv := httptest.NewServer(g.wrap(emu))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
	})
	e := &env{t: t, emu: emu, cache: t.TempDir(), url: srv.URL, ctx: t.Context()}
	e.open(writeBack)
	return e, g
}

// op returns the queued op of kind on p, and whether it is in flight.
func (e *env) op(kind writeback.Kind, p string) (id uint64, inflight, ok bool) {
	for _, st := range e.fs.Queue().Snapshot() {
		if st.Kind == kind && st.Path == p {
			return st.ID, st.InFlight, true
		}
	}
	return 0, false, false
}

// A directory made here, removed with rm -r while the upload of its file
// is in flight (its delete queued behind that upload), and made again: the
// old upload landing shows the server has the directory, but the queued
// delete takes that directory with everything in it. Before the fix the
// landing took the new directory for on the server (its mkdir cancelled,
// the old file entered in its listing): rm -r of the new directory failed
// with ENOTEMPTY (issue 10 item 5), and an empty new directory was deleted
// with the old one.
func TestRmdirAfterOldUploadLandsInDirMadeAgain(t *testing.T) {
	for _, c := range []struct {
		name string
		rm   bool // rm -r the new directory after the old upload landed
	}{
		{"rm -r the new directory", true},
		{"keep the new directory", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			const home, nd, one = "/home/u", "/home/u/nd", "/home/u/nd/one"
			e, g := newGatedEnv(t, time.Hour, "/home/u/nd/one")
			if _, err := e.fs.Mkdir(e.ctx, home, "nd", 0o755); err != nil {
				t.Fatal(err)
			}
			e.write(nd, "one", "old")
			// The mkdir goes first, and sends nothing: the upload creates nd.
			for _, k := range []writeback.Kind{writeback.Mkdir, writeback.Upload} {
				id, _, _ := e.op(k, map[writeback.Kind]string{writeback.Mkdir: nd, writeback.Upload: one}[k])
				e.fs.Queue().Expedite(id)
			}
			waitFor(t, "the upload of nd/one in flight", func() bool {
				_, inflight, _ := e.op(writeback.Upload, one)
				return inflight
			})
			// rm -r nd: the delete waits for the upload.
			if err := e.fs.Unlink(e.ctx, nd, "one"); err != nil {
				t.Fatal(err)
			}
			if err := e.fs.Rmdir(e.ctx, home, "nd"); err != nil {
				t.Fatal(err)
			}
			if _, err := e.fs.Mkdir(e.ctx, home, "nd", 0o755); err != nil {
				t.Fatal(err)
			}
			if c.rm {
				e.write(nd, "one", "new")
			}
			close(g.release)
			waitFor(t, "the old upload to land", func() bool {
				_, inflight, _ := e.op(writeback.Upload, one)
				return !inflight
			})
			if got := e.names(nd); c.rm != (len(got) == 1) {
				t.Errorf("nd shows %v", got)
			}
			if c.rm {
				if err := e.fs.Unlink(e.ctx, nd, "one"); err != nil {
					t.Fatal(err)
				}
				if err := e.fs.Rmdir(e.ctx, home, "nd"); err != nil {
					t.Fatalf("rmdir of the new nd, emptied: %v", err)
				}
			}
			e.drain()
			if _, err := e.fs.Lookup(e.ctx, home, "nd"); (err == nil) == c.rm {
				t.Errorf("lookup nd after the queue drained: %v", err)
			}
			if e.emu.Exists(nd) == c.rm {
				t.Errorf("nd on the server: %v", e.emu.Exists(nd))
			}
			if _, ok := e.remote(one); ok {
				t.Error("nd/one is on the server")
			}
		})
	}
}
