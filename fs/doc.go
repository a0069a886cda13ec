// Package fs is the FUSE face of pafs: every go-fuse node of the mount. The
// root, the files/ tree (thin adapters over package vfs), the control
// folders (thin adapters over package control, control*.go) and .pafs/.
//
// One type per kind of node, as in go-fuse's own examples: dirNode and
// fileNode for files/, controlDir, controlFile, controlLink and scratchNode
// for the control folders, Root for the top level. Every node states the
// interfaces it implements next to its type, so that go-fuse's silent
// defaults (Unlink and Rmdir succeed, Setattr fails) never apply by
// accident, and answers errors through Errno.
package fs
