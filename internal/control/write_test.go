package control_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pafs/pafs/internal/control"
)

// The write protocol of each policy, driven call by call as the kernel
// sends them.

// A one-value file applies at the write that ends a line, or at a short
// write that is all the content (printf 3.11), else at close; the same
// content is not sent twice; a truncation alone applies at release.
func TestWriteValue(t *testing.T) {
	e := start(t)
	e.addApp(appA, "mysite")
	d := "webapps/" + appA
	patches := func() int { return e.changes()["PATCH webapps/{domain}"] }
	f := e.file(d + "/source_directory")
	h, err := f.Open(e.ctx, true, pid)
	e.must("open", err)
	if got := readAll(h); got != "/home/alice/mysite\n" {
		t.Errorf("a read-write open reads %q", got)
	}
	h.Truncate(0)
	// A long value in two writes, as stdio sends it: a whole block, then
	// the rest; nothing until the newline.
	long := "/" + strings.Repeat("a", control.BlockSize-1)
	_, err = h.Write(e.ctx, []byte(long), 0)
	e.must("write 1", err)
	if w, _ := e.emu.Webapp(appA); w.SourceDirectory != "/home/alice/mysite" || patches() != 0 {
		t.Errorf("applied before the value ended: %+v", w)
	}
	_, err = h.Write(e.ctx, []byte("b\n"), int64(len(long)))
	e.must("write 2", err)
	if w, _ := e.emu.Webapp(appA); w.SourceDirectory != long+"b" || patches() != 1 {
		t.Errorf("not applied at the newline: %d PATCHes", patches())
	}
	if f.Size(e.ctx, h) != len(long)+2 {
		t.Errorf("size through the handle %d", f.Size(e.ctx, h))
	}
	e.must("flush", h.Flush(e.ctx))
	h.Release()
	if patches() != 1 {
		t.Errorf("%d PATCHes: close sent the applied value again", patches())
	}

	// printf 3.11: a short write of everything, no newline.
	h, err = f.Open(e.ctx, true, pid)
	e.must("open", err)
	h.Truncate(0)
	_, err = h.Write(e.ctx, []byte("/srv/x"), 0)
	e.must("printf", err)
	if w, _ := e.emu.Webapp(appA); w.SourceDirectory != "/srv/x" {
		t.Errorf("printf not applied at the write: %+v", w)
	}
	h.Release()

	// A partial write left for close.
	h, err = f.Open(e.ctx, true, pid)
	e.must("open", err)
	h.Truncate(0)
	big := "/" + strings.Repeat("a", control.BlockSize)
	_, err = h.Write(e.ctx, []byte(big), 0)
	e.must("write a block", err)
	if w, _ := e.emu.Webapp(appA); w.SourceDirectory == big {
		t.Error("applied before close")
	}
	e.must("close", h.Flush(e.ctx))
	if w, _ := e.emu.Webapp(appA); w.SourceDirectory != big {
		t.Errorf("not applied at close: %q", w.SourceDirectory)
	}
	h.Release()

	// : > virtualenv_path: a truncation alone applies at release.
	e.must("set venv", e.write(d+"/virtualenv_path", "/home/alice/venv\n"))
	e.must("clear venv", e.write(d+"/virtualenv_path", ""))
	e.waitFor("the virtualenv cleared", func() bool { w, _ := e.emu.Webapp(appA); return w.VirtualenvPath == "" })

	// truncate -s 0 without an open file applies at once.
	e.must("set venv", e.write(d+"/virtualenv_path", "/home/alice/venv\n"))
	zero := uint64(0)
	e.must("truncate -s 0", e.file(d+"/virtualenv_path").Setattr(e.ctx, nil, pid, control.SetAttr{Size: &zero}))
	if w, _ := e.emu.Webapp(appA); w.VirtualenvPath != "" {
		t.Errorf("truncate -s 0 left %q", w.VirtualenvPath)
	}
	// truncate -s 0 of JSON is not an object.
	e.wantErrno("truncate config.json", e.file(d+"/config.json").Setattr(e.ctx, nil, pid, control.SetAttr{Size: &zero}), syscall.EINVAL)
	// Growing a value with zeros is not a path.
	forty := uint64(40)
	e.wantErrno("truncate -s 40", e.file(d+"/virtualenv_path").Setattr(e.ctx, nil, pid, control.SetAttr{Size: &forty}), syscall.EINVAL)
	// Writes beyond the limit.
	h, err = f.Open(e.ctx, true, pid)
	e.must("open", err)
	_, err = h.Write(e.ctx, []byte("x"), 64<<10)
	e.wantErrno("write at 64 KiB", err, syscall.EFBIG)
	h.Release()
}

// A JSON file applies as soon as the content is one value; the last short
// write ending a line that leaves anything else is refused at once, and
// close reports it again without a second log line or a request.
func TestWriteJSON(t *testing.T) {
	e := start(t)
	e.addApp(appA, "mysite")
	f := e.file("webapps/" + appA + "/config.json")
	h, err := f.Open(e.ctx, true, pid)
	e.must("open", err)
	h.Truncate(0)
	_, err = h.Write(e.ctx, []byte(`{"force_https":`), 0)
	e.must("a part", err)
	_, err = h.Write(e.ctx, []byte(` true}`), 15)
	e.must("the rest", err)
	if w, _ := e.emu.Webapp(appA); !w.ForceHTTPS {
		t.Error("not applied once complete")
	}
	e.must("flush", h.Flush(e.ctx))
	h.Release()

	h, err = f.Open(e.ctx, true, pid)
	e.must("open", err)
	h.Truncate(0)
	_, err = h.Write(e.ctx, []byte("{\"force_https\": false\n"), 0)
	e.wantErrno("incomplete JSON", err, syscall.EINVAL)
	n, _ := e.errs.List()
	e.wantErrno("close", h.Flush(e.ctx), syscall.EINVAL)
	if m, _ := e.errs.List(); len(m) != len(n) {
		t.Errorf("close logged the refusal again: %v", m[len(n):])
	}
	h.Release()
	if w, _ := e.emu.Webapp(appA); !w.ForceHTTPS {
		t.Error("an incomplete object was applied")
	}
	// Incomplete, but in whole blocks: refused at close, and at release
	// (with nothing sent) when no flush came.
	h, err = f.Open(e.ctx, true, pid)
	e.must("open", err)
	h.Truncate(0)
	_, err = h.Write(e.ctx, []byte(`{"force_https": `), 0)
	e.must("a part", err)
	e.wantErrno("close", h.Flush(e.ctx), syscall.EINVAL)
	h.Release()
	before := e.changes()
	h, err = f.Open(e.ctx, true, pid)
	e.must("open", err)
	h.Truncate(0)
	_, err = h.Write(e.ctx, []byte(`{"force_https": `), 0)
	e.must("a part", err)
	h.Release()
	if d := delta(before, e.changes()); len(d) != 0 {
		t.Errorf("an incomplete object sent %v", d)
	}
}

// Two touches are two actions; a touch while this process holds the
// trigger open is part of that open; other processes' opens do not count.
func TestWriteTrigger(t *testing.T) {
	e := start(t)
	e.addApp(appA, "mysite")
	reloads := func() int { w, _ := e.emu.Webapp(appA); return w.Reloads }
	f := e.file("webapps/" + appA + "/reload")
	now := time.Now()
	h, err := f.Open(e.ctx, true, pid)
	e.must("open", err)
	e.must("touch 1", f.Setattr(e.ctx, nil, pid, control.SetAttr{Mtime: &now}))
	e.must("touch 1 again", f.Setattr(e.ctx, h, pid, control.SetAttr{Atime: &now}))
	_, err = h.Write(e.ctx, []byte("x"), 0)
	e.must("write", err)
	if reloads() != 1 {
		t.Errorf("%d reloads for one open", reloads())
	}
	// Another process's touch while ours is open is its own.
	e.must("touch 2", f.Setattr(e.ctx, nil, pid+1, control.SetAttr{Mtime: &now}))
	// And ours again, now that our open fired, is a new touch.
	e.must("touch 3", f.Setattr(e.ctx, nil, pid, control.SetAttr{Mtime: &now}))
	if reloads() != 3 {
		t.Errorf("%d reloads, want 3", reloads())
	}
	e.must("flush", h.Flush(e.ctx))
	h.Release()
	if reloads() != 3 {
		t.Errorf("%d reloads after close, want 3", reloads())
	}
	// A mode change is no touch.
	mode := uint32(0o600)
	e.must("chmod", f.Setattr(e.ctx, nil, pid, control.SetAttr{Mode: &mode}))
	if reloads() != 3 {
		t.Errorf("chmod reloaded")
	}
}

// A caller interrupted while a change is on its way gets EINTR; the change
// goes on and is reported; the same write retried does not send again.
func TestWriteInterrupted(t *testing.T) {
	e := start(t)
	e.addApp(appA, "mysite")
	e.cat("webapps/" + appA + "/python_version")
	e.cat("account/python3_version")
	f := e.file("webapps/" + appA + "/python_version")
	h, err := f.Open(e.ctx, true, pid)
	e.must("open", err)
	h.Truncate(0)
	e.emu.SetLatency(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Millisecond)
	defer cancel()
	_, err = h.Write(ctx, []byte("3.11\n"), 0)
	e.wantErrno("an interrupted write", err, syscall.EINTR)
	e.waitFor("the change made anyway", func() bool { w, _ := e.emu.Webapp(appA); return w.PythonVersion == "3.11" })
	e.emu.SetLatency(0)
	before := e.changes()
	_, err = h.Write(e.ctx, []byte("3.11\n"), 0)
	e.must("the write retried", err)
	e.must("close", h.Flush(e.ctx))
	h.Release()
	if d := delta(before, e.changes()); len(d) != 0 {
		t.Errorf("the retried write sent %v", d)
	}
	// An interrupted folder operation goes on too.
	e.emu.SetLatency(200 * time.Millisecond)
	ctx2, cancel2 := context.WithTimeout(e.ctx, 20*time.Millisecond)
	defer cancel2()
	e.wantErrno("an interrupted rmdir", e.dir("webapps").Rmdir(ctx2, appA), syscall.EINTR)
	e.waitFor("the app deleted anyway", func() bool { _, ok := e.emu.Webapp(appA); return !ok })
}

// Editors: swap and backup files live in memory, a temp file renamed onto
// a control file is applied like a write (sed -i), a control file renamed
// to a backup name leaves a copy and stays (vim); nothing else moves.
func TestEditors(t *testing.T) {
	e := start(t)
	e.addApp(appA, "mysite")
	d := "webapps/" + appA
	dir := e.dir(d)
	config := e.cat(d + "/config.json")

	// vim: backup by rename, swap file, write, remove both.
	notify, err := dir.Rename(e.ctx, "config.json", "config.json~", 0)
	e.must("rename to backup", err)
	if len(notify) != 2 {
		t.Errorf("notify %v", notify)
	}
	if got := e.cat(d + "/config.json~"); got != config {
		t.Errorf("backup reads %q", got)
	}
	if got := e.cat(d + "/config.json"); got != config {
		t.Errorf("config.json moved: %q", got)
	}
	ent, sw, err := dir.CreateScratch(".config.json.swp", 0o600)
	e.must("create swap", err)
	if ent.Mode != syscall.S_IFREG || ent.Key != sw.Key() {
		t.Errorf("swap entry %+v", ent)
	}
	if _, err := sw.Write([]byte("swap"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Write([]byte("x"), 64*64<<10); err == nil {
		t.Error("a swap file past 4 MiB")
	}
	size := uint64(2)
	mode := uint32(0o640)
	now := time.Now()
	sw.Setattr(control.SetAttr{Size: &size, Mode: &mode, Mtime: &now})
	if m, sz, mt := sw.Attr(); m != 0o640 || sz != 2 || !mt.Equal(now) {
		t.Errorf("swap attrs %o %d %v", m, sz, mt)
	}
	if got := e.cat(d + "/.config.json.swp"); got != "sw" {
		t.Errorf("swap reads %q", got)
	}
	buf := make([]byte, 10)
	if n := sw.Read(buf, 1); string(buf[:n]) != "w" {
		t.Errorf("read at 1: %q", buf[:n])
	}
	names := e.names(d)
	if !strings.Contains(strings.Join(names, " "), ".config.json.swp config.json config.json~") {
		t.Errorf("ls shows %v", names)
	}
	e.must("rm swap", dir.Unlink(e.ctx, ".config.json.swp"))
	e.must("rm backup", dir.Unlink(e.ctx, "config.json~"))

	// sed -i: a temp file renamed onto the file.
	_, tmp, err := dir.CreateScratch("sedAbc123", 0o600)
	e.must("create sed temp", err)
	_, err = tmp.Write([]byte(strings.Replace(config, `"force_https": false`, `"force_https": true`, 1)), 0)
	e.must("write temp", err)
	before := e.changes()
	notify, err = dir.Rename(e.ctx, "sedAbc123", "config.json", 0)
	e.must("rename onto config.json", err)
	if len(notify) != 1 || notify[0] != "config.json" {
		t.Errorf("notify %v", notify)
	}
	if w, _ := e.emu.Webapp(appA); !w.ForceHTTPS {
		t.Error("sed -i not applied")
	}
	if d := delta(before, e.changes()); d["PATCH webapps/{domain}"] != 1 || len(d) != 1 {
		t.Errorf("sed -i sent %v", d)
	}
	if _, err := e.lookup(d + "/sedAbc123"); err == nil {
		t.Error("the temp file is still there")
	}
	// A temp file with invalid JSON renamed onto config.json: EINVAL, and
	// the temp file stays.
	_, tmp, err = dir.CreateScratch("sedXyz789", 0o600)
	e.must("create", err)
	_, err = tmp.Write([]byte("{broken"), 0)
	e.must("write", err)
	_, err = dir.Rename(e.ctx, "sedXyz789", "config.json", 0)
	e.wantErrno("invalid JSON renamed onto config.json", err, syscall.EINVAL)
	// Renames between editors' names, and what is refused.
	_, err = dir.Rename(e.ctx, "sedXyz789", "4913", 0)
	e.must("rename scratch to scratch", err)
	_, _, err = dir.CreateScratch("config.json~", 0o600)
	e.must("create backup name", err)
	_, err = dir.Rename(e.ctx, "4913", "config.json~", 1) // RENAME_NOREPLACE
	e.wantErrno("noreplace onto an editor's file", err, syscall.EEXIST)
	_, err = dir.Rename(e.ctx, "4913", "config.json", 1)
	e.wantErrno("noreplace onto a control file", err, syscall.EEXIST)
	_, err = dir.Rename(e.ctx, "4913", "notes.txt", 0)
	e.wantErrno("rename to a new plain name", err, syscall.EACCES)
	_, err = dir.Rename(e.ctx, "4913", "logs", 0)
	e.wantErrno("rename onto a folder", err, syscall.EISDIR)
	_, err = dir.Rename(e.ctx, "python_version", "python_version.bak", 2) // RENAME_EXCHANGE
	e.wantErrno("exchange", err, syscall.EINVAL)
	_, err = dir.Rename(e.ctx, "python_version", "pv", 0)
	e.wantErrno("rename a control file to a plain name", err, syscall.EACCES)
	_, err = dir.Rename(e.ctx, "config.json", "config.json~", 1)
	e.wantErrno("backup onto an existing one with noreplace", err, syscall.EEXIST)
	_, err = dir.Rename(e.ctx, "nothing", "nothing~", 0)
	e.wantErrno("rename of a missing name", err, syscall.ENOENT)
	_, _, err = dir.CreateScratch("notes.txt", 0o600)
	e.wantErrno("create a plain name", err, syscall.EACCES)
	// Folders without editable files take no editors' files.
	_, err = e.dir(d+"/logs").Rename(e.ctx, "error.log", "error.log~", 0)
	e.wantErrno("rename in logs/", err, syscall.EACCES)
	_, _, err = e.dir(d+"/logs").CreateScratch("4913", 0o600)
	e.wantErrno("create in logs/", err, syscall.EACCES)
}
