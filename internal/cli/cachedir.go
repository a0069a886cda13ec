package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A cache directory holds the content cache, the upload queue's journal
// and a record of whose they are (ownerFile). pafs deletes and rewrites
// files in it, so it only ever uses a directory that it created, that is
// empty, or that is already a pafs cache; and it replays a journal only into
// the account that wrote it.
const ownerFile = "owner.json"

// cacheEntries are the names pafs keeps in a cache directory: metaFile is
// the metadata store, and a damaged one is set aside beside it under
// metaFile + ".bad-TIME" (see isCacheEntry).
var cacheEntries = map[string]bool{ownerFile: true, "lock": true, "queue": true, "content": true, metaFile: true, "failed": true}

// metaFile is the metadata store (cache/metastore) in a cache directory.
const metaFile = "meta.db"

func isCacheEntry(name string) bool {
	return cacheEntries[name] || strings.HasPrefix(name, metaFile+".bad-")
}

// cacheOwner is the account a cache directory's queued changes belong to.
type cacheOwner struct {
	API      string `json:"api"` // the API's scheme://host[:port], or "demo"
	Username string `json:"username"`
}

func (o cacheOwner) String() string { return o.Username + " at " + o.API }

// cacheDirPath names the mount's cache directory without touching it;
// named reports that it is the default one, named after the account.
func (m *mount) cacheDirPath(baseURL string) (dir string, named bool, err error) {
	if m.c.cacheDir != "" {
		return m.c.cacheDir, false, nil
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", false, fmt.Errorf("no cache directory: pass --cache-dir (%w)", err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "pafs", accountKey(m.c.username, baseURL)), true, nil
}

// owner is the account this mount's cache directory belongs to.
func (m *mount) owner(baseURL string) cacheOwner {
	want := cacheOwner{API: ownerAPI(baseURL), Username: m.c.username}
	if m.c.demo {
		// The demo's emulator gets a new port each run.
		want.API = "demo"
	}
	return want
}

// cacheDir returns the mount's cache directory, locked so that two mounts
// never share one upload queue and checked to belong to this account.
func (m *mount) cacheDir(baseURL string) (string, error) {
	// The default directory is named after the account, so changes queued
	// in it before owners were recorded are this account's.
	dir, named, err := m.cacheDirPath(baseURL)
	if err != nil {
		return "", err
	}
	if err := claimDir(dir); err != nil {
		return "", err
	}
	want := m.owner(baseURL)
	trust := named || m.c.adoptCache
	// Checked before taking the lock, so that a refusal changes nothing,
	// and again once holding it, before recording the owner.
	if _, err := checkOwner(dir, want, trust); err != nil {
		return "", err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return "", err
	}
	record, err := checkOwner(dir, want, trust)
	if err == nil && record {
		err = writeOwner(dir, want)
	}
	if err != nil {
		unlock()
		return "", err
	}
	m.c.cacheDir = dir
	m.cleanup = append(m.cleanup, unlock)
	return dir, nil
}

// claimDir creates dir (0700) if it does not exist; an existing one must be
// a directory of this user that no one else can write, and either empty or
// a pafs cache. Nothing in an existing directory is changed.
func claimDir(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("cache dir: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("cache dir: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("cache dir %s is not a directory", dir)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("cache dir %s: no owner information", dir)
	}
	if int(sys.Uid) != os.Geteuid() {
		return fmt.Errorf("cache dir %s belongs to another user (uid %d): pass a directory of your own, or a new path", dir, sys.Uid)
	}
	if sys.Mode&0o022 != 0 {
		return fmt.Errorf("cache dir %s is writable by other users (mode %o): your queued uploads live there; pass a directory only you can write, or a new path (pafs creates it 0700)",
			dir, sys.Mode&0o7777)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("cache dir: %w", err)
	}
	var foreign []string
	hasOwner, hasLock := false, false
	for _, e := range ents {
		switch {
		case e.Name() == ownerFile:
			hasOwner = true
		case e.Name() == "lock":
			hasLock = true
		case !isCacheEntry(e.Name()):
			foreign = append(foreign, e.Name())
		}
	}
	// A cache made before owners were recorded has a lock file and nothing
	// but pafs's names. Without the lock file, pafs's names alone are taken
	// only if none holds files pafs would delete: content/ is emptied of
	// what pafs does not know at start (queue/ is checked for an owner
	// later, and never emptied).
	if len(ents) == 0 || hasOwner || len(foreign) == 0 && (hasLock || emptyOrAbsent(filepath.Join(dir, "content"))) {
		return nil
	}
	if len(foreign) == 0 {
		foreign = []string{"a content/ directory with files but no pafs lock file"}
	}
	if len(foreign) > 3 {
		foreign = append(foreign[:3], "...")
	}
	return fmt.Errorf("cache dir %s is not empty and is not a pafs cache directory (it holds %s): pafs deletes and rewrites files in its cache directory, so pass an empty directory or a new path",
		dir, strings.Join(foreign, ", "))
}

// emptyOrAbsent reports whether dir does not exist or holds nothing.
func emptyOrAbsent(dir string) bool {
	ents, err := os.ReadDir(dir)
	return errors.Is(err, os.ErrNotExist) || err == nil && len(ents) == 0
}

// checkOwner compares dir's recorded owner with want. A directory without
// one is taken (record: the caller writes it) unless it holds queued
// changes that trust does not vouch for: whose they are is unknown.
func checkOwner(dir string, want cacheOwner, trust bool) (record bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err == nil {
		var got cacheOwner
		if err := json.Unmarshal(b, &got); err != nil || got.API == "" || got.Username == "" {
			return false, fmt.Errorf("cache dir %s: %s is unreadable (%v): move the directory aside and pass a new --cache-dir", dir, ownerFile, err)
		}
		if got != want {
			return false, fmt.Errorf("cache dir %s belongs to %s, not to %s: mount %s's account with it, or give %s another --cache-dir (nothing was changed)",
				dir, got, want, got.Username, want.Username)
		}
		return false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("cache dir: %w", err)
	}
	if trust {
		return true, nil
	}
	n, err := queuedOps(dir)
	if err != nil {
		return false, err
	}
	if n > 0 {
		return false, fmt.Errorf("cache dir %s holds %d queued changes from a pafs that did not record whose they are: if they belong to %s, mount again with --adopt-cache-dir to upload them; if not, move the directory aside and pass a new --cache-dir (nothing was changed)",
			dir, n, want)
	}
	return true, nil
}

// queuedOps counts the upload queue's journal entries in dir.
func queuedOps(dir string) (int, error) {
	ents, err := os.ReadDir(filepath.Join(dir, "queue"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cache dir: %w", err)
	}
	n := 0
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") {
			n++
		}
	}
	return n, nil
}

// writeOwner records the owner atomically (a crash leaves none or all of it).
func writeOwner(dir string, o cacheOwner) error {
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ownerFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("cache dir: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ownerFile)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cache dir: %w", err)
	}
	return nil
}

// ownerAPI is the API's identity in an owner record: scheme://host[:port],
// lower case, so that spellings of one URL agree.
func ownerAPI(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return strings.TrimRight(baseURL, "/")
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// accountKey names an account's cache: user@host, plus a hash of the full URL
// so that two emulators on different ports never share a queue.
func accountKey(user, baseURL string) string {
	host := baseURL
	if u, err := url.Parse(baseURL); err == nil && u.Host != "" {
		host = u.Host
	}
	host = strings.NewReplacer(":", "_", "/", "_").Replace(host)
	sum := sha256.Sum256([]byte(baseURL + "\x00" + user))
	return user + "@" + host + "-" + hex.EncodeToString(sum[:4])
}

// lockDir takes an exclusive lock on dir/lock, naming the holder on failure.
func lockDir(dir string) (func(), error) {
	name := filepath.Join(dir, "lock")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(name)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("cache dir %s is in use by another pafs mount (pid %s); unmount it or pass another --cache-dir",
				dir, strings.TrimSpace(string(b)))
		}
		return nil, fmt.Errorf("cache dir lock: %w", err)
	}
	// The PID is for people reading the lock file; the lock is what counts.
	_ = f.Truncate(0)
	_, _ = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	return func() { f.Close() }, nil
}
