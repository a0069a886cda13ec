package fs

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/pafs/pafs/internal/status"
)

// PafsDir is MOUNTPOINT/.pafs: the mount's state as text and JSON, and the
// serving process's pid (for pafs unmount).
func PafsDir(src *status.Source) Child {
	text := func() []byte { return []byte(src.Collect().Text()) }
	pid := func() []byte { return []byte(strconv.Itoa(os.Getpid()) + "\n") }
	js := func() []byte {
		b, _ := json.MarshalIndent(src.Collect(), "", "  ")
		return append(b, '\n')
	}
	return Child{Name: ".pafs", Mode: syscall.S_IFDIR, Node: &pafsDir{fixedDir: fixedDir{made: time.Now()}, StaticDir: StaticDir{Children: []Child{
		{Name: "status", Mode: syscall.S_IFREG, Node: &GenFile{Gen: text}},
		{Name: "status.json", Mode: syscall.S_IFREG, Node: &GenFile{Gen: js}},
		{Name: "pid", Mode: syscall.S_IFREG, Node: &GenFile{Gen: pid}},
		FailedChild(src.Files),
	}}}}
}

// pafsDir is .pafs: a fixed directory with the mount's time, whose files
// cannot be deleted.
type pafsDir struct {
	StaticDir
	fixedDir
}

var (
	_ gofs.NodeGetattrer = (*pafsDir)(nil)
	_ gofs.NodeReaddirer = (*pafsDir)(nil)
	_ gofs.NodeUnlinker  = (*pafsDir)(nil)
	_ gofs.NodeRmdirer   = (*pafsDir)(nil)
)

func (d *pafsDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	return gofs.NewListDirStream(withDots(childEntries(d.EmbeddedInode()))), 0
}
