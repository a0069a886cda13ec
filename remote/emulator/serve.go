package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ShutdownGrace is how long Serve waits for requests in flight when its context ends.
const ShutdownGrace = 5 * time.Second

// Serve serves the emulator on ln until ctx is done, then shuts down gracefully:
// requests in flight get ShutdownGrace to finish before their connections are
// closed. It returns nil after a shutdown, or the error that stopped serving.
func (e *Emulator) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ServeLoopback serves e on a free port of 127.0.0.1 until stop is called
// (which waits for the shutdown): `pafs mount --demo`, `pafs bench` and
// tests that want the emulator behind a real socket all start it this way.
func (e *Emulator) ServeLoopback() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("emulator: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Serve(ctx, ln); close(done) }() // ends with ctx
	return "http://" + ln.Addr().String(), func() { cancel(); <-done }, nil
}
