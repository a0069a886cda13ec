package emulator

import "slices"

// systemDirs are the read-only directories of a real account's sandbox (an
// Ubuntu image; `ls /` in a console), which the files API lists like any other
// directory. They are created empty: what matters to a client is that "/" is not
// just /home, /tmp and /var, and that nothing outside the writable roots takes
// writes or deletes.
var systemDirs = []string{
	"/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/media", "/mnt", "/opt", "/proc", "/run",
	"/sbin", "/srv", "/sys",
	"/usr", "/usr/bin", "/usr/include", "/usr/lib", "/usr/local", "/usr/local/bin", "/usr/local/lib",
	"/usr/sbin", "/usr/share",
	"/var/cache", "/var/lib", "/var/local", "/var/mail", "/var/opt", "/var/spool", "/var/tmp",
}

// SystemDirs returns the read-only directories every emulated account has
// besides its writable roots (see WritableRoots), sorted.
func SystemDirs() []string {
	out := slices.Clone(systemDirs)
	slices.Sort(out)
	return out
}

// WritableRoots returns the directories an account may write and delete below
// (never the roots themselves): its home, /tmp, /var/www and /var/log. Uploads
// anywhere else answer 403 {"detail": ...}, deletes 403 {"message", "code"}.
func (e *Emulator) WritableRoots() []string {
	var out []string
	for _, r := range e.writableRoots() {
		out = append(out, joinPath(r))
	}
	return out
}
