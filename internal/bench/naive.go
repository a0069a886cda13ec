package bench

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pafs/pafs/remote"
)

// walk lists dir and every directory below it, one request each, and
// returns the files found.
func (n *naive) walk(dir string) ([]string, error) {
	ents, err := n.c.ListDir(n.ctx, dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, name := range sortedKeys(ents) {
		p := dir + "/" + name
		if !ents[name].IsDir() {
			files = append(files, p)
			continue
		}
		sub, err := n.walk(p)
		if err != nil {
			return nil, err
		}
		files = append(files, sub...)
	}
	return files, nil
}

// readTree lists a tree and downloads every file in it (grep -r).
func (n *naive) readTree(dir string) error {
	files, err := n.walk(dir)
	if err != nil {
		return err
	}
	for _, p := range files {
		if _, err := n.read(p); err != nil {
			return err
		}
	}
	return nil
}

func (n *naive) read(p string) ([]byte, error) {
	d, err := n.c.Download(n.ctx, p)
	if err != nil {
		return nil, err
	}
	defer d.Body.Close()
	return io.ReadAll(d.Body)
}

// uploadAll uploads files (relative paths) below root, one request each.
func (n *naive) uploadAll(root string, files map[string][]byte) error {
	for _, rel := range sortedKeys(files) {
		if _, err := n.c.Upload(n.ctx, root+"/"+rel, bytes.NewReader(files[rel])); err != nil {
			return err
		}
	}
	return nil
}

// saves does an editor's saves: each reads the file and writes it back.
func (n *naive) saves(editor string, count int) error {
	p := home + "/" + editorFile(editor)
	for k := 1; k <= count; k++ {
		b, err := n.read(p)
		if err != nil {
			return err
		}
		b = bytes.Replace(b, fmt.Appendf(nil, "value = %d\n", k-1), fmt.Appendf(nil, "value = %d\n", k), 1)
		if _, err := n.c.Upload(n.ctx, p, bytes.NewReader(b)); err != nil {
			return err
		}
	}
	return nil
}

// gitClone clones on local disk and uploads the clone file by file; an empty
// directory is made the way the API allows: upload a placeholder, delete it.
func (n *naive) gitClone() error {
	dir, err := os.MkdirTemp(n.s.work, "naive-clone-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r := &runner{ctx: n.ctx, home: dir, env: n.s.env}
	if _, err := r.sh("git clone -q " + n.s.gitURL + " repo"); err != nil {
		return err
	}
	files, empty, err := treeShape(filepath.Join(dir, "repo"))
	if err != nil {
		return err
	}
	for _, rel := range files {
		b, err := os.ReadFile(filepath.Join(dir, "repo", rel))
		if err != nil {
			return err
		}
		if _, err := n.c.Upload(n.ctx, home+"/repo/"+rel, bytes.NewReader(b)); err != nil {
			return err
		}
	}
	for _, rel := range empty {
		keep := home + "/repo/" + rel + "/.keep"
		if _, err := n.c.Upload(n.ctx, keep, strings.NewReader("")); err != nil {
			return err
		}
		if err := n.c.Delete(n.ctx, keep); err != nil {
			return err
		}
	}
	return nil
}

// gitStatus is git status over a mount without a cache: every directory of
// the work tree listed, every file read (without mtimes git must hash each),
// and the repository files git reads first.
func (n *naive) gitStatus() error {
	root := home + "/repo"
	ents, err := n.c.ListDir(n.ctx, root)
	if err != nil {
		return err
	}
	for name, e := range ents {
		switch {
		case name == ".git":
		case e.IsDir():
			if err := n.readTree(root + "/" + name); err != nil {
				return err
			}
		default:
			if _, err := n.read(root + "/" + name); err != nil {
				return err
			}
		}
	}
	for _, f := range []string{"HEAD", "config", "index"} {
		if _, err := n.read(root + "/.git/" + f); err != nil {
			return err
		}
	}
	return nil
}

func (n *naive) upload(p string, r io.Reader) error {
	_, err := n.c.Upload(n.ctx, p, r)
	return err
}

// download reads p to the end and checks its size.
func (n *naive) download(p string, size int64) error {
	d, err := n.c.Download(n.ctx, p)
	if err != nil {
		return err
	}
	defer d.Body.Close()
	got, err := io.Copy(io.Discard, d.Body)
	if err == nil && got != size {
		err = fmt.Errorf("downloaded %d bytes of %s, want %d", got, p, size)
	}
	return err
}

// catWebapps reads every value file of every web app, one GET of the app's
// object per file, and each app's WSGI file.
func (n *naive) catWebapps() error {
	apps, err := n.c.ListWebapps(n.ctx)
	if err != nil {
		return err
	}
	for _, a := range apps {
		for range valueFiles {
			if _, err := n.c.GetWebapp(n.ctx, a.DomainName); err != nil {
				return err
			}
		}
		if _, err := n.read(wsgiPath(a.DomainName)); err != nil {
			return err
		}
	}
	return nil
}

// wsgiPath is where a web app's WSGI file lives (docs/api.md, "Web apps").
func wsgiPath(domain string) string {
	return "/var/www/" + strings.ToLower(strings.ReplaceAll(domain, ".", "_")) + "_wsgi.py"
}

// reload reloads a web app whose domain the user knows, as the mount's
// user names it in the path.
func (n *naive) reload() error {
	apps := n.emu.Webapps()
	if len(apps) == 0 {
		return fmt.Errorf("no web app to reload")
	}
	return n.c.ReloadWebapp(n.ctx, apps[0].DomainName)
}

func (n *naive) task() error {
	hour := 3
	t, err := n.c.CreateSchedule(n.ctx, remote.ScheduleCreate{Command: taskCommand, Interval: "daily", Hour: &hour})
	if err != nil {
		return err
	}
	return n.c.DeleteSchedule(n.ctx, t.ID)
}
