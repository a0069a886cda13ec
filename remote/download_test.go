package remote_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pafs/pafs/remote"
)

// rawServer answers every request with what serve writes on the bare
// connection (status line, headers, body) and then closes it: the framings
// net/http's server would never produce on its own.
func rawServer(t *testing.T, serve func(n int, w *bufio.Writer)) (*remote.Client, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		serve(int(n.Add(1)), buf.Writer)
		buf.Writer.Flush()
	}))
	t.Cleanup(srv.Close)
	c, err := remote.New(remote.Config{BaseURL: srv.URL, Username: "u", Token: testToken,
		RateLimit: -1, RetryBase: time.Millisecond, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	return c, &n
}

// download reads a whole file through the client.
func download(c *remote.Client) ([]byte, error) {
	d, err := c.Download(context.Background(), "/home/u/f.bin")
	if err != nil {
		return nil, err
	}
	defer d.Body.Close()
	return io.ReadAll(d.Body)
}

// A download counts as whole only if the answer proves it: its
// Content-Length, or chunked framing with its terminator. A body with
// neither ends when the connection closes, which a server dying half way
// does too: it is fetched a second time and accepted only if both agree.
func TestDownloadCompleteness(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 100000) // 1000000 bytes
	half := data[:500000]
	closeDelimited := func(body []byte) func(int, *bufio.Writer) {
		return func(_ int, w *bufio.Writer) {
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
			w.Write(body)
		}
	}
	t.Run("close-delimited, cut half way once", func(t *testing.T) {
		c, n := rawServer(t, func(i int, w *bufio.Writer) {
			if i == 1 {
				closeDelimited(half)(i, w)
				return
			}
			closeDelimited(data)(i, w)
		})
		got, err := download(c)
		if err == nil {
			t.Fatalf("a body cut half way read as complete: %d of %d bytes", len(got), len(data))
		}
		if n.Load() != 2 {
			t.Errorf("%d requests, want 2 (the download and the one checking it)", n.Load())
		}
		// The next download sees two whole bodies that agree.
		got, err = download(c)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("second download: %d bytes, %v", len(got), err)
		}
	})
	t.Run("close-delimited, whole", func(t *testing.T) {
		c, n := rawServer(t, closeDelimited(data))
		got, err := download(c)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes, %v", len(got), err)
		}
		if n.Load() != 2 {
			t.Errorf("%d requests, want 2", n.Load())
		}
	})
	t.Run("Content-Length, cut", func(t *testing.T) {
		c, n := rawServer(t, func(_ int, w *bufio.Writer) {
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(data))
			w.Write(half)
		})
		if got, err := download(c); err == nil {
			t.Fatalf("cut body read as complete: %d bytes", len(got))
		}
		if n.Load() != 1 {
			t.Errorf("%d requests, want 1", n.Load())
		}
	})
	chunked := func(body []byte, terminate bool) func(int, *bufio.Writer) {
		return func(_ int, w *bufio.Writer) {
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
			for b := body; len(b) > 0; {
				k := min(len(b), 65536)
				fmt.Fprintf(w, "%x\r\n", k)
				w.Write(b[:k])
				w.WriteString("\r\n")
				b = b[k:]
			}
			if terminate {
				w.WriteString("0\r\n\r\n")
			}
		}
	}
	t.Run("chunked, cut", func(t *testing.T) {
		c, _ := rawServer(t, chunked(half, false))
		if got, err := download(c); err == nil {
			t.Fatalf("cut chunked body read as complete: %d bytes", len(got))
		}
	})
	t.Run("chunked, whole", func(t *testing.T) {
		c, n := rawServer(t, chunked(data, true))
		got, err := download(c)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes, %v", len(got), err)
		}
		if n.Load() != 1 {
			t.Errorf("%d requests, want 1", n.Load())
		}
	})
}
