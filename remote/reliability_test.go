package remote_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/remote"
)

// A file truncated while its upload is being retried (pafs uploads a section
// of a cache file that a writer may shrink meanwhile): the retry announces
// the old length and can never succeed, so it must fail at once with an
// error that says why, not be retried with growing backoff (the upload queue
// takes a new snapshot and tries again). Found by TestReliabilityModel,
// where such an upload held up the queue for minutes.
func TestUploadOfShrunkSourceIsNotRetried(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "item"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(strings.Repeat("x", 100))
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if requests.Add(1) == 1 {
			f.Truncate(40) // a writer shrinks the file between two attempts
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	c, err := remote.New(remote.Config{BaseURL: srv.URL, Username: "u", Token: testToken,
		RateLimit: -1, RetryBase: time.Millisecond, MaxRetries: 5})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Upload(context.Background(), "/home/u/f", io.NewSectionReader(f, 0, 100))
	if !errors.Is(err, remote.ErrSourceShrank) || remote.Errno(err) != syscall.EIO {
		t.Fatalf("err %v, want ErrSourceShrank (EIO)", err)
	}
	if st := statsFor(c, "files/path"); st.Retries != 1 {
		t.Fatalf("%d retries, want 1 (after the 500 only): a shrunk source was retried", st.Retries)
	}
}

// A server that goes silent — before answering, or half way through an
// answer — fails the attempt after Config.Timeout instead of hanging the
// caller forever (sshfs's best-known failure: a read stuck on a dead link).
// A slow answer that keeps making progress is not cut.
func TestSilentServerTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v0/user/u/files/path/home/u/silent":
			<-release // never answers
		case "/api/v0/user/u/files/path/home/u/half":
			w.Header().Set("Content-Length", "1000")
			w.Write(make([]byte, 500))
			w.(http.Flusher).Flush()
			<-release // and then nothing more
		case "/api/v0/user/u/files/path/home/u/slow":
			w.Header().Set("Content-Length", "1000")
			for range 10 {
				w.Write(make([]byte, 100))
				w.(http.Flusher).Flush()
				time.Sleep(100 * time.Millisecond)
			}
		}
	}))
	defer srv.Close()
	defer close(release) // before srv.Close, which waits for the handlers
	c, err := remote.New(remote.Config{BaseURL: srv.URL, Username: "u", Token: testToken,
		RateLimit: -1, RetryBase: time.Millisecond, MaxRetries: 1, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	within := func(what string, d time.Duration, fn func()) {
		t.Helper()
		done := make(chan struct{})
		start := time.Now()
		go func() { fn(); close(done) }()
		select {
		case <-done:
			t.Logf("%s: %s", what, time.Since(start).Round(time.Millisecond))
		case <-time.After(d):
			t.Fatalf("%s: still waiting after %s", what, d)
		}
	}

	within("GET that is never answered", 5*time.Second, func() {
		_, err := c.ListDir(ctx, "/home/u/silent")
		if err == nil || !strings.Contains(err.Error(), "no answer within") || remote.Errno(err) != syscall.EIO {
			t.Errorf("ListDir: %v (errno %v), want an EIO saying there was no answer", err, remote.Errno(err))
		}
	})
	within("download that stops half way", 5*time.Second, func() {
		dl, err := c.Download(ctx, "/home/u/half")
		if err != nil {
			t.Errorf("Download: %v", err)
			return
		}
		defer dl.Body.Close()
		n, err := io.Copy(io.Discard, dl.Body)
		if n != 500 || err == nil || !strings.Contains(err.Error(), "no data for") || remote.Errno(err) != syscall.EIO {
			t.Errorf("read %d bytes, then %v; want 500, then an EIO saying no data came", n, err)
		}
	})
	within("download that is slow but steady", 5*time.Second, func() {
		dl, err := c.Download(ctx, "/home/u/slow")
		if err != nil {
			t.Errorf("Download: %v", err)
			return
		}
		defer dl.Body.Close()
		if n, err := io.Copy(io.Discard, dl.Body); n != 1000 || err != nil {
			t.Errorf("slow download: %d bytes, %v", n, err)
		}
	})
}
