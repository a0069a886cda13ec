package cache

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/cache/metastore"
)

const (
	crashStoreEnv = "PAFS_TEST_META_CRASH_STORE"
	crashBaseEnv  = "PAFS_TEST_META_CRASH_BASE"
)

// stamp fills a's fields from seq and seals them with a checksum (in UID),
// so that a record torn or mixed from two writes is seen.
func stamp(a *Attr, seq int64) {
	a.Size, a.Mode, a.GID = seq, uint32(seq)&0o777, uint32(seq*7919)
	a.Mtime = time.Unix(0, seq)
	a.UID = stampSum(*a)
}

func stampSum(a Attr) uint32 {
	b := binary.BigEndian.AppendUint64(nil, uint64(a.Size))
	b = binary.BigEndian.AppendUint64(b, uint64(a.Mtime.UnixNano()))
	b = binary.BigEndian.AppendUint32(b, a.Mode)
	return crc32.ChecksumIEEE(binary.BigEndian.AppendUint32(b, a.GID))
}

// TestMetaCrashChild is the process TestMetaCrashRounds kills: it streams
// metadata updates through Meta and its store until it is killed.
func TestMetaCrashChild(t *testing.T) {
	path := os.Getenv(crashStoreEnv)
	if path == "" {
		t.Skip("run by TestMetaCrashRounds")
	}
	base, _ := strconv.ParseInt(os.Getenv(crashBaseEnv), 10, 64)
	s, warn, err := metastore.OpenOrRebuild(path, metastore.Options{Account: "crash"})
	if err != nil || warn != "" {
		fmt.Println("open:", err, warn)
		os.Exit(2)
	}
	m := NewMeta(MetaOptions{TTL: time.Hour, Store: s, MaxAttrs: 64, MaxDirs: 4,
		FlushInterval: 5 * time.Millisecond, FlushRecords: 100})
	fmt.Println("ready")
	for i, end := int64(1), time.Now().Add(30*time.Second); time.Now().Before(end); i++ {
		seq := base + i
		d := fmt.Sprintf("/d%d", i%8)
		p := fmt.Sprintf("%s/f%d\xff\n", d, i%50)
		switch i % 10 {
		case 0:
			m.DeleteAttr(p)
		case 1:
			m.MoveAttr(p, p+".m")
		case 2:
			from, to := d+"/t1", d+"/t2"
			if i%20 >= 10 {
				from, to = to, from
			}
			m.Ino(from + "/x")
			m.MoveTree(from, to)
		default:
			m.UpdateAttr(p, func(a *Attr) { stamp(a, seq) })
		}
		m.Ino(p)
		m.Ino(d + "/keep")
		m.PutListing(d, &Listing{Entries: map[string]bool{"keep": false, "s" + strconv.FormatInt(seq, 10): false},
			Fetched: time.Unix(0, seq)})
	}
	os.Exit(3)
}

// kill -9 in the middle of a stream of metadata updates, again and again:
// the store always opens without a rebuild, every record is whole, no two
// paths share an inode number, an inode number never changes, and no
// listing goes back in time.
func TestMetaCrashRounds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	fetched := map[string]int64{} // dir → latest fetch time seen after a kill
	keep := map[string]uint64{}   // path never deleted or moved → its inode
	var next uint64
	advanced := 0
	start := time.Now()
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMetaCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashStoreEnv+"="+path, crashBaseEnv+"="+strconv.Itoa((round+1)*1e9))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(out)
			sc.Scan()
			ready <- sc.Text()
		}()
		select {
		case line := <-ready:
			if line != "ready" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: child said %q", round, line)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: child not ready", round)
		}
		// A random moment: before, during or between flushes.
		time.Sleep(time.Duration(rand.IntN(120)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		s, warn, err := metastore.OpenOrRebuild(path, metastore.Options{Account: "crash"})
		if err != nil || warn != "" {
			t.Fatalf("round %d: store after kill -9: %v %s", round, err, warn)
		}
		if s.NextIno() < next {
			t.Errorf("round %d: inode counter went back from %d to %d", round, next, s.NextIno())
		}
		next = s.NextIno()
		owner := map[uint64]string{}
		err = s.ForEachAttr(func(p string, a metastore.Attr) error {
			if a.Size >= 0 && a.UID != stampSum(a) {
				t.Errorf("round %d: %q: record not whole: %+v", round, p, a)
			}
			if a.Ino != 0 {
				if o, dup := owner[a.Ino]; dup {
					t.Errorf("round %d: %q and %q share inode %d", round, o, p, a.Ino)
				}
				owner[a.Ino] = p
				if a.Ino >= next {
					t.Errorf("round %d: %q has inode %d, not below the counter %d", round, p, a.Ino, next)
				}
			}
			if strings.HasSuffix(p, "/keep") {
				if was, ok := keep[p]; ok && was != a.Ino {
					t.Errorf("round %d: %s changed inode from %d to %d", round, p, was, a.Ino)
				}
				keep[p] = a.Ino
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.ForEachListing(func(d string, l *metastore.Listing) error {
			f := l.Fetched.UnixNano()
			if _, ok := l.Entries["s"+strconv.FormatInt(f, 10)]; !ok || len(l.Entries) != 2 {
				t.Errorf("round %d: %s fetched at %d holds %v", round, d, f, l.Entries)
			}
			if f < fetched[d] {
				t.Errorf("round %d: %s went back from the listing fetched at %d to %d", round, d, fetched[d], f)
			}
			if f > fetched[d] {
				advanced++
			}
			fetched[d] = f
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	if advanced == 0 {
		t.Error("no listing ever reached the store: the test tested nothing")
	}
	t.Logf("20 rounds in %v; listings advanced %d times", time.Since(start).Round(time.Millisecond), advanced)
}
