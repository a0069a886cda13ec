package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// cacheDir returns the mount's cache directory, created 0700 and locked so
// that two mounts never share one upload queue.
func (m *mount) cacheDir(baseURL string) (string, error) {
	dir := m.c.cacheDir
	if dir == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("no cache directory: pass --cache-dir (%w)", err)
			}
			base = filepath.Join(home, ".cache")
		}
		dir = filepath.Join(base, "pafs", accountKey(m.c.username, baseURL))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("cache dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", fmt.Errorf("cache dir: %w", err)
	}
	m.c.cacheDir = dir
	unlock, err := lockDir(dir)
	if err != nil {
		return "", err
	}
	m.cleanup = append(m.cleanup, unlock)
	return dir, nil
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
	f.Truncate(0)
	f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	return func() { f.Close() }, nil
}
