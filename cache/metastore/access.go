package metastore

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/pafs/pafs/internal/rpath"
)

// Batch is a set of changes committed in one transaction: all of them or
// none reach the disk.
type Batch struct {
	Attrs    map[string]*Attr    // path → attributes; nil deletes the record
	Listings map[string]*Listing // directory → listing; nil deletes it
	// NextIno raises the persisted inode counter (never lowers it); it must
	// exceed every Ino in the batch. 0 leaves it.
	NextIno uint64
}

// storable reports whether p can be a key. A path bbolt cannot hold (empty,
// or longer than its 32 KiB key limit: nested deeper than any real tree) is
// simply not persisted; it stays in memory like before.
func storable(p string) bool { return p != "" && len(p) <= bolt.MaxKeySize }

// Attr returns the attributes stored for p.
func (s *Store) Attr(p string) (Attr, bool, error) {
	return get(s, bucketAttrs, p, decodeAttr, "attributes")
}

// Listing returns the listing stored for dir.
func (s *Store) Listing(dir string) (*Listing, bool, error) {
	return get(s, bucketListings, dir, decodeListing, "listing")
}

func get[V any](s *Store, bucket []byte, p string, decode func(k, v []byte) (V, error), what string) (V, bool, error) {
	var out, zero V
	var ok bool
	if !storable(p) {
		return zero, false, nil
	}
	err := s.view(func(tx *bolt.Tx) error {
		k := []byte(p)
		v := tx.Bucket(bucket).Get(k)
		if v == nil {
			return nil
		}
		var err error
		out, err = decode(k, v)
		ok = err == nil
		return err
	})
	if err != nil {
		return zero, false, s.readErr(what, p, err)
	}
	return out, ok, nil
}

func (s *Store) readErr(what, p string, err error) error {
	if err == errBadValue {
		err = fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return fmt.Errorf("metadata store %s: %s of %q: %w", s.path, what, p, err)
}

// Below returns the paths at or below p that have attributes, and those
// that have listings.
func (s *Store) Below(p string) (attrs, listings []string, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		for _, c := range []struct {
			b   []byte
			out *[]string
		}{{bucketAttrs, &attrs}, {bucketListings, &listings}} {
			if err := below(tx.Bucket(c.b), p, func(k, _ []byte) error {
				*c.out = append(*c.out, string(k))
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("metadata store %s: below %q: %w", s.path, p, err)
	}
	return attrs, listings, nil
}

// Apply commits b in one transaction (with an fsync: once Apply returns,
// the changes survive a crash or a power cut).
func (s *Store) Apply(b Batch) error {
	err := s.update(func(tx *bolt.Tx) error {
		if err := putAll(tx.Bucket(bucketAttrs), b.Attrs, encodeAttr, "attributes"); err != nil {
			return err
		}
		if err := putAll(tx.Bucket(bucketListings), b.Listings, encodeListing, "listing"); err != nil {
			return err
		}
		if b.NextIno > s.nextIno.Load() {
			return tx.Bucket(bucketMeta).Put(keyNextIno, binary.BigEndian.AppendUint64(nil, b.NextIno))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("metadata store %s: %w", s.path, err)
	}
	if b.NextIno > s.nextIno.Load() {
		s.nextIno.Store(b.NextIno)
	}
	return nil
}

// putAll writes (nil: deletes) the records of m in bucket b, in key order:
// bbolt fills pages better and touches fewer.
func putAll[V any](b *bolt.Bucket, m map[string]*V, encode func([]byte, *V) []byte, what string) error {
	for _, p := range slices.Sorted(maps.Keys(m)) {
		k, v := []byte(p), m[p]
		var err error
		switch {
		case !storable(p):
		case v == nil:
			err = b.Delete(k)
		default:
			err = b.Put(k, encode(k, v))
		}
		if err != nil {
			return fmt.Errorf("%s of %q: %w", what, p, err)
		}
	}
	return nil
}

// Move renames the records of from and of every path below it (attributes
// with their inode numbers, and listings with their fetch times) to the
// same places under to, replacing whatever was at or below to; in one
// transaction. Moving a directory into itself is refused.
func (s *Store) Move(from, to string) error {
	if from == to {
		return nil
	}
	if rpath.Overlaps(from, to) {
		return fmt.Errorf("metadata store %s: move %q into %q: a directory cannot move into itself", s.path, from, to)
	}
	err := s.update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketAttrs, bucketListings} {
			b := tx.Bucket(name)
			var old, moved [][]byte
			collect := func(out *[][]byte) func(k, v []byte) error {
				return func(k, v []byte) error {
					*out = append(*out, append([]byte(nil), k...), append([]byte(nil), v...))
					return nil
				}
			}
			if err := below(b, to, collect(&old)); err != nil {
				return err
			}
			if err := below(b, from, collect(&moved)); err != nil {
				return err
			}
			for i := 0; i < len(old); i += 2 {
				if err := b.Delete(old[i]); err != nil {
					return err
				}
			}
			for i := 0; i < len(moved); i += 2 {
				k := []byte(to + string(moved[i][len(from):]))
				if err := b.Delete(moved[i]); err != nil {
					return err
				}
				if !storable(string(k)) {
					continue
				}
				v, err := reseal(moved[i], k, moved[i+1])
				if err != nil {
					return fmt.Errorf("%w: %q: %w", ErrCorrupt, moved[i], err)
				}
				if err := b.Put(k, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("metadata store %s: move %q to %q: %w", s.path, from, to, err)
	}
	return nil
}

// ForEachAttr calls fn for every stored attribute record, in path order.
// A damaged record stops the walk with ErrCorrupt.
func (s *Store) ForEachAttr(fn func(p string, a Attr) error) error {
	return s.forEach(bucketAttrs, func(k, v []byte) error {
		a, err := decodeAttr(k, v)
		if err != nil {
			return s.readErr("attributes", string(k), err)
		}
		return fn(string(k), a)
	})
}

// ForEachListing calls fn for every stored listing, in path order.
func (s *Store) ForEachListing(fn func(dir string, l *Listing) error) error {
	return s.forEach(bucketListings, func(k, v []byte) error {
		l, err := decodeListing(k, v)
		if err != nil {
			return s.readErr("listing", string(k), err)
		}
		return fn(string(k), l)
	})
}

func (s *Store) forEach(bucket []byte, fn func(k, v []byte) error) error {
	return s.view(func(tx *bolt.Tx) error { return tx.Bucket(bucket).ForEach(fn) })
}
