package vfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pafs/pafs/cache"
	"github.com/pafs/pafs/internal/rpath"
	"github.com/pafs/pafs/internal/writeback"
	"github.com/pafs/pafs/remote"
)

// Refused changes. A change the server refuses for good (a 4xx answer other
// than 401, 408 and 429: a path outside the writable roots, a body over the
// upload limit, an upload onto a directory) would fail the same way at every
// retry and at every later mount. So it leaves the upload queue after its
// first refusal; an upload's data is kept first under the cache directory's
// failed/ (one folder per refusal: the data and a small JSON record of the
// path, the server's answer and the time), shown in .pafs/failed/ and in
// .pafs/status, and kept across mounts until the user removes it there. The
// mount then shows the server's state of the path again: the refused
// version exists nowhere but in failed/, and showing it in place would
// claim something the server will never hold.
//
// A 401 is not a refusal of the change but of the token: those ops stay
// queued (a mount with a valid token sends them).

// Refused is a change the server refused for good.
type Refused struct {
	ID      string    `json:"id"`   // its folder under the cache directory's failed/
	Name    string    `json:"name"` // its file in .pafs/failed/ ("" when no data is kept)
	Kind    string    `json:"kind"` // upload, delete or mkdir
	Path    string    `json:"path"`
	Status  int       `json:"status"`  // the server's HTTP status
	Message string    `json:"message"` // the server's answer
	Time    time.Time `json:"time"`
	Size    int64     `json:"size"`     // bytes kept
	HasData bool      `json:"has_data"` // an upload whose data is kept
}

// Reason is the server's answer as a person reads it: "413 Request Entity
// Too Large", with the server's message when it says more.
func (r Refused) Reason() string {
	s := strconv.Itoa(r.Status) + " " + http.StatusText(r.Status)
	if r.Status == 0 {
		s = ""
	}
	if m := r.Message; m != "" && m != http.StatusText(r.Status) && m != "HTTP "+strconv.Itoa(r.Status) {
		if s != "" {
			s += ": "
		}
		s += m
	}
	return s
}

// failedDir is the cache directory's folder of refused changes.
const failedDir = "failed"

// refusedForGood reports whether err, from running op, is the server
// refusing op itself for good: a 4xx other than 401 (the token), 408 and 429
// (passing), on op's own path or below it (a directory delete deletes inside
// it; a conflict copy beside it is another matter).
func refusedForGood(op writeback.Op, err error) bool {
	var apiErr *remote.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch s := apiErr.Status; {
	case s < 400 || s >= 500, s == http.StatusUnauthorized, s == http.StatusRequestTimeout, s == http.StatusTooManyRequests:
		return false
	}
	p, ok := strings.CutPrefix(apiErr.Endpoint, "files/path")
	return ok && (p == op.Path || rpath.IsBelow(p, op.Path))
}

// failedStore is the list of refused changes, loaded from disk at first use.
type failedStore struct {
	once sync.Once
	dir  string
	mu   sync.Mutex
	list []Refused // oldest first
}

func (f *FS) failedList() *failedStore {
	s := &f.failed
	s.once.Do(func() {
		s.dir = filepath.Join(f.o.CacheDir, failedDir)
		s.list = loadFailed(s.dir, f.report)
	})
	return s
}

// loadFailed reads the records under dir; folders left half written by a
// run that died (".tmp") are removed.
func loadFailed(dir string, report func(op, path string, err error)) []Refused {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			report("refused changes", dir, err)
		}
		return nil
	}
	var out []Refused
	for _, d := range ents {
		if strings.HasSuffix(d.Name(), ".tmp") {
			os.RemoveAll(filepath.Join(dir, d.Name()))
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, d.Name(), "info.json"))
		var r Refused
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err != nil {
			report("refused changes", filepath.Join(dir, d.Name()), err)
			continue
		}
		r.ID = d.Name()
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Refused) int { return a.Time.Compare(b.Time) })
	return out
}

// keep writes a record, with the data of it if not nil, and returns it. A
// newer refused upload of a path replaces the older (the user's own later
// write superseded it), as does a newer record without data one without.
func (s *failedStore) keep(r Refused, it *cache.Item, content string) (Refused, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return r, err
	}
	base := r.Time.UTC().Format("20060102-150405") + "-" + r.Kind
	var tmp string
	for i := 0; ; i++ {
		r.ID = base
		if i > 0 {
			r.ID += "-" + strconv.Itoa(i)
		}
		tmp = filepath.Join(s.dir, r.ID+".tmp")
		if _, err := os.Stat(filepath.Join(s.dir, r.ID)); err == nil {
			continue
		}
		err := os.Mkdir(tmp, 0o700)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) {
			return r, err
		}
	}
	err := func() error {
		if it != nil {
			n, err := saveData(filepath.Join(tmp, "data"), it, content)
			if err != nil {
				return err
			}
			r.Size, r.HasData = n, true
		}
		b, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(filepath.Join(tmp, "info.json"), append(b, '\n'), 0o600); err != nil {
			return err
		}
		return os.Rename(tmp, filepath.Join(s.dir, r.ID))
	}()
	if err != nil {
		os.RemoveAll(tmp)
		return r, fmt.Errorf("keeping the refused %s of %s: %w", r.Kind, r.Path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = slices.DeleteFunc(s.list, func(old Refused) bool {
		if old.Path != r.Path || old.HasData != r.HasData {
			return false
		}
		os.RemoveAll(filepath.Join(s.dir, old.ID))
		return true
	})
	s.list = append(s.list, r)
	return r, nil
}

// saveData stores the content of it at dst: a hard link to its cache file
// when that is it (content is its path; nothing is copied, and the cache
// file may go), else a copy.
func saveData(dst string, it *cache.Item, content string) (int64, error) {
	if content != "" {
		if err := os.Link(content, dst); err == nil {
			st, err := os.Stat(dst)
			if err == nil {
				return st.Size(), nil
			}
			os.Remove(dst)
		}
	}
	r, _, err := it.Snapshot()
	if err != nil {
		return 0, err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// setAside takes op, which the server refused for good (err), out of the
// queue: what it carried is kept (an upload's data under failed/), the
// overlay lets go of the path so that the server's state shows again, and
// the deletes waiting for an upload (a rename's) are withdrawn with it. If
// the data cannot be kept, the op stays queued: nothing is ever dropped
// without a copy.
func (f *FS) setAside(op writeback.Op, err error) error {
	r := Refused{Kind: string(op.Kind), Path: op.Path, Time: f.o.Now(), Message: err.Error()}
	var apiErr *remote.APIError
	if errors.As(err, &apiErr) {
		r.Status, r.Message = apiErr.Status, apiErr.Message
	}
	var e *entry
	var it *cache.Item
	var gen uint64 // of the data kept
	content := ""
	f.mu.Lock()
	switch x := f.ov.get(op.Path); {
	case op.Kind != writeback.Upload:
	case x == nil || x.kind != kFile || x.item == nil || x.item.ID() != op.Item:
		// The data went elsewhere meanwhile (overwritten, deleted): there
		// is nothing of this upload left to keep.
		f.mu.Unlock()
		return writeback.SetAside(err)
	default:
		e, it = x, x.item
		it.Ref()
		if x.writers == 0 {
			content = filepath.Join(f.content.Dir(), it.ID())
		}
		_, gen = it.Dirty()
	}
	f.mu.Unlock()
	if it != nil {
		defer it.Release()
	}
	r, kerr := f.failedList().keep(r, it, content)
	if kerr != nil {
		f.report("refused", op.Path, kerr)
		return err
	}
	f.mu.Lock()
	switch op.Kind {
	case writeback.Upload:
		f.withdrawFollowersLocked(op)
		if f.ov.get(op.Path) == e && e.op == op.ID {
			e.op, e.due = 0, time.Time{}
			if e.writers == 0 {
				f.forgetLocalLocked(e)
			} else {
				// Still open for writing: the last close lets go of it
				// unless it was written since (refusedAtCloseLocked).
				e.refused = gen + 1
			}
		}
	case writeback.Delete:
		f.undeleteLocked(op)
	case writeback.Mkdir:
		if x := f.ov.get(op.Path); x != nil && x.kind == kDir && x.op == op.ID {
			x.op = 0
			if len(f.ov.below(op.Path)) == 0 && x.gone == 0 {
				f.ov.remove(x)
				f.meta.ForgetTree(op.Path)
			}
		}
	}
	f.mu.Unlock()
	where := ""
	if r.HasData {
		where = "; its data is kept in .pafs/failed/" + failedName(r.Path) + " (" + filepath.Join(f.failedList().dir, r.ID) + ")"
	}
	f.log.Warn(fmt.Sprintf("files: the server refused the %s of %s for good (%s): not retried%s",
		op.Kind, op.Path, r.Reason(), where))
	return writeback.SetAside(err)
}

// forgetLocalLocked drops the local version of a file whose upload was
// refused: the path shows what the server holds again (nothing, or the
// version it had), downloaded afresh.
func (f *FS) forgetLocalLocked(e *entry) {
	f.content.Remove(e.path)
	f.dropLocked(e)
	dir, name := rpath.Split(e.path)
	if e.remote {
		// The server's version is back: its size is unknown until read.
		f.meta.UpdateAttr(e.path, func(a *cache.Attr) { a.Size, a.HasHash = -1, false })
	} else {
		f.meta.DeleteAttr(e.path)
		f.meta.RemoveEntry(dir, name)
	}
	f.ensureDirsLocked(dir)
}

// refusedAtCloseLocked lets go of a file, at its last close, whose data the
// server refused while it was open and which was not written since: that
// data is kept in failed/ already, and uploading it again would only be
// refused again. A file written since is uploaded as usual.
func (f *FS) refusedAtCloseLocked(e *entry) bool {
	if !stillRefused(e) {
		return false
	}
	f.forgetLocalLocked(e)
	return true
}

// stillRefused reports whether e holds, unchanged and with no upload
// queued, data the server refused for good while it was open.
func stillRefused(e *entry) bool {
	if e.refused == 0 || e.op != 0 {
		return false
	}
	if _, gen := e.item.Dirty(); gen+1 != e.refused {
		e.refused = 0 // written since: uploaded as usual
		return false
	}
	return true
}

// refusedErrLocked returns, for a file open for writing whose data the
// server refused for good and which was not written since, the errno of
// that refusal: a second fsync or close does not upload it again.
func (f *FS) refusedErrLocked(e *entry) error {
	if !stillRefused(e) {
		return nil
	}
	s := f.failedList()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.list) - 1; i >= 0; i-- {
		if r := s.list[i]; r.Path == e.path && r.HasData {
			return remote.Errno(&remote.APIError{Status: r.Status})
		}
	}
	return syscall.EIO
}

// undeleteLocked withdraws the delete op from the overlay: the path shows
// what the server holds again.
func (f *FS) undeleteLocked(op writeback.Op) {
	switch x := f.ov.get(op.Path); {
	case x == nil:
	case x.kind == kGone && x.op == op.ID:
		f.ov.remove(x)
	case x.gone == op.ID:
		x.gone = 0
	}
}

// withdrawFollowersLocked cancels the deletes waiting for upload op (the old
// name of a rename, a directory delete covering it): with the upload
// refused, they would leave the server without the data. Each is recorded
// as refused with it.
func (f *FS) withdrawFollowersLocked(op writeback.Op) {
	for _, s := range f.q.Snapshot() {
		if s.Kind != writeback.Delete || s.InFlight || !slices.Contains(s.After, op.ID) || !f.q.Cancel(s.ID) {
			continue
		}
		f.undeleteLocked(s.Op)
		r := Refused{Kind: string(s.Kind), Path: s.Path, Time: f.o.Now(),
			Message: "not sent: it waited for the upload of " + op.Path + ", which the server refused"}
		if _, err := f.failedList().keep(r, nil, ""); err != nil {
			f.report("refused", s.Path, err)
		}
	}
}

// RefusedChanges lists the changes the server refused for good, oldest
// first, with the names they have in .pafs/failed/.
func (f *FS) RefusedChanges() []Refused {
	s := f.failedList()
	s.mu.Lock()
	list := slices.Clone(s.list)
	s.mu.Unlock()
	used := map[string]bool{FailedReadme: true}
	for i := range list {
		if !list[i].HasData {
			continue
		}
		name := failedName(list[i].Path)
		if used[name] {
			name = name[:min(len(name), 200)] + "~" + list[i].ID
		}
		used[name] = true
		list[i].Name = name
	}
	return list
}

// FailedReadme is the file of .pafs/failed/ that explains the others.
const FailedReadme = "README"

// failedName is the name of a refused upload in .pafs/failed/: its path with
// "%" and "/" escaped ("home%2Fu%2Fbig.bin"), cut to fit a file name.
func failedName(p string) string {
	n := strings.NewReplacer("%", "%25", "/", "%2F").Replace(strings.TrimPrefix(p, "/"))
	if len(n) > 200 {
		n = n[:200]
	}
	return n
}

// OpenRefused opens the data kept of a refused upload.
func (f *FS) OpenRefused(id string) (*os.File, error) {
	s := f.failedList()
	if !validFailedID(id) {
		return nil, os.ErrNotExist
	}
	return os.Open(filepath.Join(s.dir, id, "data"))
}

// DismissRefused deletes a refused change's record and the data kept of it
// (rm in .pafs/failed/).
func (f *FS) DismissRefused(id string) error {
	s := f.failedList()
	if !validFailedID(id) {
		return os.ErrNotExist
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.list, func(r Refused) bool { return r.ID == id })
	if i < 0 {
		return os.ErrNotExist
	}
	if err := os.RemoveAll(filepath.Join(s.dir, id)); err != nil {
		return err
	}
	s.list = slices.Delete(s.list, i, i+1)
	return nil
}

func validFailedID(id string) bool {
	return id != "" && id != "." && id != ".." && !strings.ContainsRune(id, '/')
}
