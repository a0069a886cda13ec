package metastore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"sort"
	"time"
)

// Attr is what pafs knows about one path (file or directory) beyond its
// type. The API reports no size, mtime or mode, so every field was learnt
// locally: Size and Hash from a download or a write, the times from pafs'
// own clock or the user's touch, Mode and owner from chmod/chown.
type Attr struct {
	Size        int64 // -1 when unknown
	Mtime       time.Time
	Atime       time.Time
	Mode        uint32 // permission bits; 0 means "use the default"
	UID, GID    uint32
	HasOwner    bool
	FirstSeen   time.Time // when this record was created
	Ino         uint64    // inode number; 0 until one is assigned
	Hash        [32]byte  // SHA-256 of the content, when HasHash
	HasHash     bool
	ContentSeen time.Time // when pafs first saw (or wrote) the current content
}

// Listing is one directory's entries as the server last reported them,
// name → is-directory, and when that report was fetched (by whichever mount).
type Listing struct {
	Entries map[string]bool
	Fetched time.Time
}

// Every stored value starts with a format byte and ends with a CRC-32C of
// its key and everything before, so that a flipped value, or a value under
// a flipped key, is detected when it is read rather than believed.
const (
	attrFormat    = 1
	listingFormat = 1
	attrLen       = 1 + 1 + 8 + 8 + 3*4 + 4*12 + 32 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errBadValue = errors.New("bad value")

const (
	fHash = 1 << iota
	fOwner
	fMtime
	fAtime
	fFirstSeen
	fContentSeen
)

func putTime(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix()))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

func getTime(b []byte, set bool) time.Time {
	if !set {
		return time.Time{}
	}
	return time.Unix(int64(binary.BigEndian.Uint64(b)), int64(binary.BigEndian.Uint32(b[8:])))
}

func sum(key, b []byte) uint32 {
	return crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, b)
}

func seal(key, b []byte) []byte { return binary.BigEndian.AppendUint32(b, sum(key, b)) }

// unseal checks a value's format byte and checksum and returns its body.
func unseal(key, b []byte, format byte) ([]byte, error) {
	if len(b) < 5 || b[0] != format {
		return nil, errBadValue
	}
	n := len(b) - 4
	if sum(key, b[:n]) != binary.BigEndian.Uint32(b[n:]) {
		return nil, errBadValue
	}
	return b[1:n], nil
}

// reseal moves a value from one key to another: checked under the old key,
// sealed under the new one.
func reseal(from, to, v []byte) ([]byte, error) {
	if len(v) < 5 {
		return nil, errBadValue
	}
	b, err := unseal(from, v, v[0])
	if err != nil {
		return nil, err
	}
	return seal(to, append([]byte{v[0]}, b...)), nil
}

func encodeAttr(key []byte, a *Attr) []byte {
	var fl byte
	for _, c := range []struct {
		on  bool
		bit byte
	}{{a.HasHash, fHash}, {a.HasOwner, fOwner}, {!a.Mtime.IsZero(), fMtime}, {!a.Atime.IsZero(), fAtime},
		{!a.FirstSeen.IsZero(), fFirstSeen}, {!a.ContentSeen.IsZero(), fContentSeen}} {
		if c.on {
			fl |= c.bit
		}
	}
	b := make([]byte, 0, attrLen)
	b = append(b, attrFormat, fl)
	b = binary.BigEndian.AppendUint64(b, uint64(a.Size))
	b = binary.BigEndian.AppendUint64(b, a.Ino)
	b = binary.BigEndian.AppendUint32(b, a.Mode)
	b = binary.BigEndian.AppendUint32(b, a.UID)
	b = binary.BigEndian.AppendUint32(b, a.GID)
	for _, t := range []time.Time{a.Mtime, a.Atime, a.FirstSeen, a.ContentSeen} {
		b = putTime(b, t)
	}
	b = append(b, a.Hash[:]...)
	return seal(key, b)
}

func decodeAttr(key, v []byte) (Attr, error) {
	if len(v) != attrLen {
		return Attr{}, errBadValue
	}
	b, err := unseal(key, v, attrFormat)
	if err != nil {
		return Attr{}, err
	}
	fl := b[0]
	a := Attr{
		Size:     int64(binary.BigEndian.Uint64(b[1:])),
		Ino:      binary.BigEndian.Uint64(b[9:]),
		Mode:     binary.BigEndian.Uint32(b[17:]),
		UID:      binary.BigEndian.Uint32(b[21:]),
		GID:      binary.BigEndian.Uint32(b[25:]),
		HasHash:  fl&fHash != 0,
		HasOwner: fl&fOwner != 0,
	}
	a.Mtime = getTime(b[29:], fl&fMtime != 0)
	a.Atime = getTime(b[41:], fl&fAtime != 0)
	a.FirstSeen = getTime(b[53:], fl&fFirstSeen != 0)
	a.ContentSeen = getTime(b[65:], fl&fContentSeen != 0)
	copy(a.Hash[:], b[77:])
	return a, nil
}

func encodeListing(key []byte, l *Listing) []byte {
	names := make([]string, 0, len(l.Entries))
	n := 1 + 1 + 12 + binary.MaxVarintLen64 + 4
	for k := range l.Entries {
		names = append(names, k)
		n += 1 + binary.MaxVarintLen64 + len(k)
	}
	sort.Strings(names)
	b := make([]byte, 0, n)
	var fl byte
	if !l.Fetched.IsZero() {
		fl = 1
	}
	b = append(b, listingFormat, fl)
	b = putTime(b, l.Fetched)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, k := range names {
		var d byte
		if l.Entries[k] {
			d = 1
		}
		b = append(b, d)
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	return seal(key, b)
}

func decodeListing(key, v []byte) (*Listing, error) {
	b, err := unseal(key, v, listingFormat)
	if err != nil || len(b) < 13 {
		return nil, errBadValue
	}
	l := &Listing{Fetched: getTime(b[1:], b[0]&1 != 0)}
	b = b[13:]
	cnt, k := binary.Uvarint(b)
	if k <= 0 || cnt > uint64(len(b)) {
		return nil, errBadValue
	}
	b = b[k:]
	l.Entries = make(map[string]bool, cnt)
	for i := uint64(0); i < cnt; i++ {
		if len(b) < 2 {
			return nil, errBadValue
		}
		d := b[0]
		n, k := binary.Uvarint(b[1:])
		if k <= 0 || n > uint64(len(b)-1-k) {
			return nil, errBadValue
		}
		b = b[1+k:]
		l.Entries[string(b[:n])] = d == 1
		b = b[n:]
	}
	if len(b) != 0 {
		return nil, errBadValue
	}
	return l, nil
}
