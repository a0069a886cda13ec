package remote_test

// Streaming: a 256 MiB upload and download through the emulator with the
// client's memory staying flat. The emulator keeps files in memory, so it
// runs in a child process (this test binary re-executed): the parent's heap
// then holds only the client.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pafs/pafs/remote"
	"github.com/pafs/pafs/remote/emulator"
)

const childEnv = "PAFS_REMOTE_TEST_EMULATOR"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(runChildEmulator())
	}
	os.Exit(m.Run())
}

// runChildEmulator serves an emulator on a loopback port, prints the address,
// and exits when its standard input closes (the parent went away).
func runChildEmulator() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	emu := emulator.New(emulator.Config{Username: user, Token: testToken, RateLimit: -1, Demo: true})
	go http.Serve(ln, emu)
	fmt.Printf("ADDR %s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// startChildEmulator runs the emulator in a child process and returns its
// base URL.
func startChildEmulator(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ADDR ")
	if err != nil || !ok {
		t.Fatalf("child emulator said %q: %v", line, err)
	}
	return "http://" + addr
}

// genReader yields size deterministic pseudo-random bytes, computed from the
// offset, so it can seek and never holds the data.
type genReader struct {
	off, size int64
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.size-g.off)]
	i := 0
	for i < len(p) {
		o := g.off + int64(i)
		var word [8]byte
		binary.LittleEndian.PutUint64(word[:], splitmix(uint64(o/8)))
		i += copy(p[i:], word[o%8:])
	}
	g.off += int64(len(p))
	return len(p), nil
}

func (g *genReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += g.off
	case io.SeekEnd:
		offset += g.size
	}
	if offset < 0 {
		return 0, errors.New("negative offset")
	}
	g.off = offset
	return offset, nil
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// heapWatch samples HeapInuse until stopped and reports the peak.
type heapWatch struct {
	peak atomic.Uint64
	stop chan struct{}
	wg   sync.WaitGroup
}

func watchHeap() *heapWatch {
	h := &heapWatch{stop: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > h.peak.Load() {
				h.peak.Store(ms.HeapInuse)
			}
			select {
			case <-h.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return h
}

func (h *heapWatch) Peak() uint64 {
	close(h.stop)
	h.wg.Wait()
	return h.peak.Load()
}

func TestLargeFileStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 512 MiB")
	}
	const size = 256 << 20
	const slack = 32 << 20 // what the client may allocate in all, for a 256 MiB transfer
	base := startChildEmulator(t)
	c, err := remote.New(remote.Config{BaseURL: base, Username: user, Token: testToken, RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	path := "/home/alice/big/blob.bin"

	wantSum := sha256.New()
	io.Copy(wantSum, &genReader{size: size})

	// The unseekable (chunked) upload goes last and smaller: it takes the
	// same streaming path, and the download below checks the seekable one.
	for _, seekable := range []bool{false, true} {
		var src io.Reader = &genReader{size: size}
		n := int64(size)
		if !seekable {
			n = size / 4
			src = io.MultiReader(&genReader{size: n}) // hides Seek: a chunked upload
		}
		before, h := memNow(), watchHeap()
		start := time.Now()
		if _, err := c.Upload(ctx, path, src); err != nil {
			t.Fatalf("upload (seekable %v): %v", seekable, err)
		}
		after, peak := memNow(), h.Peak()
		t.Logf("upload (seekable %v) of %d MiB in %v: allocated %d KiB, heap peak +%d KiB",
			seekable, n>>20, time.Since(start).Round(time.Millisecond),
			(after.TotalAlloc-before.TotalAlloc)>>10, (peak-min(peak, before.HeapInuse))>>10)
		if a := after.TotalAlloc - before.TotalAlloc; a > slack {
			t.Fatalf("upload allocated %d MiB", a>>20)
		}
	}

	before, h := memNow(), watchHeap()
	start := time.Now()
	d, err := c.Download(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if d.Size != size {
		t.Fatalf("Size %d", d.Size)
	}
	gotSum := sha256.New()
	n, err := io.CopyBuffer(gotSum, d.Body, make([]byte, 64<<10))
	d.Body.Close()
	if err != nil || n != size {
		t.Fatalf("downloaded %d bytes: %v", n, err)
	}
	after, peak := memNow(), h.Peak()
	t.Logf("download of %d MiB in %v: allocated %d KiB, heap peak +%d KiB", size>>20,
		time.Since(start).Round(time.Millisecond), (after.TotalAlloc-before.TotalAlloc)>>10, (peak-min(peak, before.HeapInuse))>>10)
	if a := after.TotalAlloc - before.TotalAlloc; a > slack {
		t.Fatalf("download allocated %d MiB", a>>20)
	}
	if !bytes.Equal(gotSum.Sum(nil), wantSum.Sum(nil)) {
		t.Fatal("downloaded content differs from what was uploaded")
	}
}

func memNow() runtime.MemStats {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms
}
