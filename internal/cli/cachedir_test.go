package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// The metadata store and the damaged stores set aside beside it are
// pafs's own names: a cache directory holding them is a pafs cache.
func TestClaimDirKnowsTheMetadataStore(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"lock", metaFile, metaFile + ".bad-20261203T140000.000000000Z"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := claimDir(dir); err != nil {
		t.Errorf("a cache directory with a metadata store: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o600)
	if err := claimDir(dir); err == nil {
		t.Error("a directory with a file of someone else's was taken for a pafs cache")
	}
}
