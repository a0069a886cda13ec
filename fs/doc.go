// Package fs is the FUSE face of pafs: go-fuse nodes for the mount root, the
// files/ tree (thin adapters over package vfs) and the virtual folders.
//
// One type per kind of node, as in go-fuse's own examples: dirNode and
// fileNode for files/, Root for the top level. Every node states the
// interfaces it implements next to its type, so that go-fuse's silent defaults
// (Unlink and Rmdir succeed, Setattr fails) never apply by accident.
package fs
