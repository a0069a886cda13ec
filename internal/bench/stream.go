package bench

import (
	"fmt"
	"io"

	"github.com/pafs/pafs/internal/status"
	"github.com/pafs/pafs/remote/emulator"
)

const bigFile = home + "/big.bin"

// streamPhases is workload 7: write a large file and read it back, with the
// server's rate limit off: throughput and the mount's peak memory.
func streamPhases(s *suite) []*phase {
	size := s.sz.stream
	mib := size >> 20
	return []*phase{{
		id: "7a", workload: "7", name: fmt.Sprintf("write %s", status.Bytes(size)),
		cmds:  []string{fmt.Sprintf("dd if=/dev/zero of=big.bin bs=1M count=%d", mib)},
		tools: []string{"dd", "sync"}, bytes: size, rateOff: true, bandwidth: true,
		// Start without dirty pages from earlier phases, which the kernel
		// would otherwise be writing out during the measurement.
		prepare: func(r *runner) error { _, err := r.sh("sync"); return err },
		run: func(r *runner) error {
			_, err := r.sh(fmt.Sprintf("dd if=/dev/zero of=big.bin bs=1M count=%d status=none", mib))
			return err
		},
		// The emulator stores an upload only once it has read all of it, so
		// Exists is enough (and cheap: reading 1 GiB back would copy it).
		done:  func(e *emulator.Emulator) bool { return e.Exists(bigFile) },
		check: func(e *emulator.Emulator) error { return sizeIs(e, bigFile, size) },
		min: func(*emulator.Emulator) model {
			return model{steps: []step{free("POST files/path", 1)},
				how: "one upload; its time is bound by bytes, so the floor is the naive client's single upload"}
		},
		expect: true, naive: func(n *naive) error { return n.upload(bigFile, io.NewSectionReader(zeros{}, 0, size)) },
		naiveHow: "one upload of a seekable source (its length is sent, as the official client does from a file)",
	}, {
		id: "7b", workload: "7", name: fmt.Sprintf("read %s back", status.Bytes(size)), after: "7a",
		cmds:  []string{"dd if=big.bin of=/dev/null bs=1M"},
		tools: []string{"dd"}, bytes: size, read: true, rateOff: true, bandwidth: true,
		run: func(r *runner) error {
			return r.expectLines("dd if=big.bin bs=1M status=none | wc -c", int(size))
		},
		min: func(*emulator.Emulator) model {
			return model{how: "the file was written here and is in the disk cache"}
		},
		expect: true, naive: func(n *naive) error { return n.download(bigFile, size) },
		naiveHow: "one download",
	}}
}

// zeros reads as an endless run of zero bytes, like /dev/zero.
type zeros struct{}

func (zeros) ReadAt(p []byte, _ int64) (int, error) {
	clear(p)
	return len(p), nil
}

// sizeIs checks the size of a file on the server.
func sizeIs(e *emulator.Emulator, p string, size int64) error {
	b, ok := e.ReadFile(p)
	if !ok || int64(len(b)) != size {
		return fmt.Errorf("the server holds %d bytes at %s, want %d", len(b), p, size)
	}
	return nil
}
