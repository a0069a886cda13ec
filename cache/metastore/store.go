// Package metastore keeps pafs' metadata for one account on local disk, so
// that it survives unmount, kill -9 and reboot: directory listings with the
// time they were fetched, and per path the size, content hash, inode number,
// times, mode and owner (see Attr).
//
// The store is a bbolt database (go.etcd.io/bbolt): an embedded, pure-Go,
// transactional B+tree whose commits are atomic and fsynced, so a crash at
// any moment leaves the last committed state and never a torn one. Values
// carry their own format byte and CRC so that a damaged file is detected on
// open (or on the read that meets the damage) and set aside, never believed.
//
// Settings, and why: every commit is fsynced (no NoSync): without it a power
// cut may leave pages of a commit unwritten under a meta page that points at
// them, a damaged file. The cost is one fsync per commit, which cache.Meta
// pays once per batch (write-behind), not once per update. The free list is
// written with each commit (no NoFreelistSync): rebuilding it at open walks
// the whole tree in a goroutine of bbolt's own, where a damaged file could
// crash the process instead of being set aside (see checkFile). The hashmap
// free list allocates in constant time.
//
// The store is a cache: everything in it can be fetched from the server
// again. Pending uploads are not here; the upload journal keeps those.
package metastore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout this code reads and writes. A store written
// with another version is set aside by OpenOrRebuild, not migrated: its
// content can be fetched again.
const SchemaVersion = 1

// FirstIno is the first inode number a new store hands out (1 is the FUSE
// root). go-fuse numbers the inodes it allocates itself from 1<<63, far away.
const FirstIno = 2

var (
	// ErrLocked: another process (a running mount) has the store open.
	ErrLocked = errors.New("in use by another process (is another pafs mount of this account running?)")
	// ErrCorrupt: the file is not a readable store.
	ErrCorrupt = errors.New("damaged")
	// ErrSchema: the store was written by a pafs with another schema version.
	ErrSchema = errors.New("written by another version of pafs")
	// ErrAccount: the store belongs to another account.
	ErrAccount = errors.New("belongs to another account")
)

var (
	bucketMeta     = []byte("meta")
	bucketAttrs    = []byte("attrs")
	bucketListings = []byte("listings")
	keySchema      = []byte("schema")
	keyAccount     = []byte("account")
	keyNextIno     = []byte("next_ino")
	// keyClean is present while the store is closed after a clean
	// shutdown (MarkClean) and removed when it is opened: a store opened
	// without it was left by a process that died, and may lack the
	// changes of its last moments. Stores from before the key read as not
	// clean, which is the safe side.
	keyClean = []byte("clean")
)

// Options configures Open.
type Options struct {
	// Account identifies the account the store belongs to (any stable
	// string, e.g. user and server URL). A store of another account is
	// refused with ErrAccount.
	Account string
	// LockTimeout is how long Open waits for another process to release
	// the store before it returns ErrLocked (default 100ms).
	LockTimeout time.Duration
	// Now names the file OpenOrRebuild sets aside (default time.Now).
	Now func() time.Time
}

// Store is an open metadata store. Its methods are safe for concurrent use;
// bbolt serialises writers and lets readers run beside them.
type Store struct {
	db       *bolt.DB
	path     string
	nextIno  atomic.Uint64 // the persisted inode counter
	wasClean bool          // the last process to use it closed it cleanly
}

// Open opens the store at path, creating it if it does not exist. Errors:
// ErrLocked, ErrCorrupt, ErrSchema, ErrAccount (all wrapped with the path),
// or an error of the file system (permission, read-only, full).
func Open(path string, o Options) (*Store, error) {
	if o.LockTimeout <= 0 {
		o.LockTimeout = 100 * time.Millisecond
	}
	var file *os.File
	var db *bolt.DB
	err := guard(func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{
			Timeout:      o.LockTimeout,
			FreelistType: bolt.FreelistMapType,
			// Keep our hands on the file: if bbolt panics on a damaged file
			// half-way through Open, we still close it (and its lock).
			OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
				f, err := os.OpenFile(name, flag, perm)
				file = f
				return f, err
			},
		})
		return err
	})
	if err != nil {
		if db == nil && file != nil {
			file.Close()
		}
		return nil, fmt.Errorf("metadata store %s: %w", path, classify(err))
	}
	s := &Store{db: db, path: path}
	// The structure first (now that we hold the lock, nobody writes it),
	// then our own records.
	err = checkFile(path)
	var errno syscall.Errno
	if err != nil && !errors.As(err, &errno) {
		err = fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err == nil {
		err = s.init(o.Account)
	}
	if err == nil {
		err = s.takeClean()
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("metadata store %s: %w", path, err)
	}
	return s, nil
}

// classify maps bbolt's open errors onto ours: a lock timeout is ErrLocked;
// an error of the system (permission, read-only, disk full, I/O) stays as it
// is, since setting the file aside would not help; anything else means the
// file is not a store.
func classify(err error) error {
	var errno syscall.Errno
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return ErrLocked
	case errors.Is(err, ErrCorrupt), errors.As(err, &errno):
		return err
	default:
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
}

// init checks (or, for a new file, writes) the schema version and account,
// then reads every value once: damage anywhere is found now, at mount, and
// not by a later read in the middle of a listing.
func (s *Store) init(account string) error {
	fresh := false
	err := s.view(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if m == nil {
			fresh = true
			return tx.ForEach(func([]byte, *bolt.Bucket) error {
				return fmt.Errorf("%w: no schema record", ErrCorrupt)
			})
		}
		v := m.Get(keySchema)
		if len(v) != 4 {
			return fmt.Errorf("%w: no schema record", ErrCorrupt)
		}
		if got := binary.BigEndian.Uint32(v); got != SchemaVersion {
			return fmt.Errorf("%w (schema version %d, this pafs uses %d)", ErrSchema, got, SchemaVersion)
		}
		if got := m.Get(keyAccount); string(got) != account {
			return fmt.Errorf("%w (%q, not %q)", ErrAccount, got, account)
		}
		return nil
	})
	if err == nil && fresh {
		err = s.update(func(tx *bolt.Tx) error { return create(tx, account) })
	}
	if err != nil {
		return err
	}
	return s.verify(fresh)
}

func create(tx *bolt.Tx, account string) error {
	m, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	for _, b := range [][]byte{bucketAttrs, bucketListings} {
		if _, err := tx.CreateBucket(b); err != nil {
			return err
		}
	}
	if err := m.Put(keySchema, binary.BigEndian.AppendUint32(nil, SchemaVersion)); err != nil {
		return err
	}
	if err := m.Put(keyAccount, []byte(account)); err != nil {
		return err
	}
	return m.Put(keyNextIno, binary.BigEndian.AppendUint64(nil, FirstIno))
}

// verify decodes every value and checks that no inode number reaches the
// persisted counter (which would let a new path share one).
func (s *Store) verify(fresh bool) error {
	return s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyNextIno)
		if len(v) != 8 {
			return fmt.Errorf("%w: no inode counter", ErrCorrupt)
		}
		next := binary.BigEndian.Uint64(v)
		s.nextIno.Store(next)
		if fresh {
			return nil
		}
		a, l := tx.Bucket(bucketAttrs), tx.Bucket(bucketListings)
		if a == nil || l == nil {
			return fmt.Errorf("%w: missing bucket", ErrCorrupt)
		}
		if err := a.ForEach(func(k, v []byte) error {
			r, err := decodeAttr(k, v)
			if err == nil && r.Ino >= next {
				err = fmt.Errorf("inode %d at or above the counter %d", r.Ino, next)
			}
			if err != nil {
				return fmt.Errorf("%w: attributes of %q: %w", ErrCorrupt, k, err)
			}
			return nil
		}); err != nil {
			return err
		}
		return l.ForEach(func(k, v []byte) error {
			if _, err := decodeListing(k, v); err != nil {
				return fmt.Errorf("%w: listing of %q: %w", ErrCorrupt, k, err)
			}
			return nil
		})
	})
}

// OpenOrRebuild opens the store at path; if it is damaged, from another
// schema version or of another account, it renames the file aside
// (path.bad-TIME, never deleted: it may help a bug report) and starts an
// empty store, returning a warning for the log. ErrLocked and errors of the
// file system are returned as they are: the caller should run without a
// store (everything is fetched from the server again), not fight over it.
func OpenOrRebuild(path string, o Options) (*Store, string, error) {
	s, err := Open(path, o)
	if err == nil || !(errors.Is(err, ErrCorrupt) || errors.Is(err, ErrSchema) || errors.Is(err, ErrAccount)) {
		return s, "", err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	aside := path + ".bad-" + o.Now().UTC().Format("20060102T150405.000000000Z")
	if rerr := os.Rename(path, aside); rerr != nil {
		return nil, "", fmt.Errorf("%w; setting it aside: %w", err, rerr)
	}
	s, err2 := Open(path, o)
	if err2 != nil {
		return nil, "", err2
	}
	return s, fmt.Sprintf("%v; moved it to %s and starting an empty one (listings and sizes will be fetched from the server again)", err, aside), nil
}

// takeClean reads and removes the clean-shutdown mark (see keyClean).
func (s *Store) takeClean() error {
	return s.update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		s.wasClean = m.Get(keyClean) != nil
		if !s.wasClean {
			return nil
		}
		return m.Delete(keyClean)
	})
}

// WasClean reports whether the process that used the store last closed it
// after MarkClean: everything it learnt is there. If not (kill -9, a
// crash, a power cut), the changes of its last moments may be missing: a
// listing may lack a file its last upload created.
func (s *Store) WasClean() bool { return s.wasClean }

// MarkClean records that everything the caller learnt is committed; the
// next Open reports it (WasClean). Call it last, before Close.
func (s *Store) MarkClean() error {
	err := s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyClean, []byte{1}) })
	if err != nil {
		return fmt.Errorf("metadata store %s: %w", s.path, err)
	}
	return nil
}

// Path returns the store's file name.
func (s *Store) Path() string { return s.path }

// Close closes the store, releasing its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("metadata store %s: %w", s.path, err)
	}
	return nil
}

// NextIno returns the persisted inode counter: every inode number in the
// store is below it, and the numbers from it up have never been handed out.
func (s *Store) NextIno() uint64 { return s.nextIno.Load() }

// guard runs f, turning a panic or a memory fault in it (bbolt reads a
// damaged file through mmap and may do either) into ErrCorrupt: a bad cache
// file must never crash the mount.
func guard(f func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	return f()
}

func (s *Store) view(f func(*bolt.Tx) error) error {
	return guard(func() error { return s.db.View(f) })
}

func (s *Store) update(f func(*bolt.Tx) error) error {
	return guard(func() error { return s.db.Update(f) })
}

// below calls fn for p's own key and every key below p, in order.
func below(b *bolt.Bucket, p string, fn func(k, v []byte) error) error {
	c := b.Cursor()
	prefix := []byte(p)
	if !bytes.HasSuffix(prefix, []byte("/")) {
		if k, v := c.Seek(prefix); k != nil && bytes.Equal(k, prefix) {
			if err := fn(k, v); err != nil {
				return err
			}
		}
		prefix = append(prefix, '/')
	}
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}
