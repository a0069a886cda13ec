package fs

import (
	"encoding/json"
	"os"
	"strconv"
	"syscall"

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
	return Child{Name: ".pafs", Mode: syscall.S_IFDIR, Node: &StaticDir{Children: []Child{
		{Name: "status", Mode: syscall.S_IFREG, Node: &GenFile{Gen: text}},
		{Name: "status.json", Mode: syscall.S_IFREG, Node: &GenFile{Gen: js}},
		{Name: "pid", Mode: syscall.S_IFREG, Node: &GenFile{Gen: pid}},
		FailedChild(src.Files),
	}}}
}
