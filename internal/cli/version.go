package cli

import (
	"runtime/debug"

	"github.com/pafs/pafs/remote"
)

// Version is pafs's version. A release build sets it with
// -ldflags "-X github.com/pafs/pafs/internal/cli.Version=1.2.3"; otherwise it
// is taken from the build's module version or VCS revision (see version).
var Version = ""

// devVersion is what a build with no version information says.
const devVersion = "0.1.0-dev"

// version returns the version to print and to send in the User-Agent.
func version() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return devVersion
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return devVersion
	}
	return devVersion + "+" + rev + dirty
}

// stampVersion makes every API request carry this build's version: the
// remote package cannot know it by itself.
func stampVersion() string {
	v := version()
	remote.Version = v
	return v
}
