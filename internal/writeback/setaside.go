package writeback

import "errors"

// setAside wraps an Execute error after which the op must not be tried
// again: the server refused it for good, and the executor has kept what it
// carried elsewhere (vfs keeps refused uploads under the cache directory's
// failed/). The queue then drops the op and its journal entry instead of
// retrying it for ever, and its waiters get the error.
type setAside struct{ err error }

func (s setAside) Error() string { return s.err.Error() }
func (s setAside) Unwrap() error { return s.err }

// SetAside marks err, returned by Execute, as the end of its op (see
// setAside).
func SetAside(err error) error { return setAside{err} }

// maxSetAside is how many set-aside ops the queue remembers the error of,
// for a Wait that comes after the op has left.
const maxSetAside = 64

// noteSetAsideLocked remembers op id's end, for Wait.
func (q *Queue) noteSetAsideLocked(id uint64, err error) {
	if q.setAside == nil {
		q.setAside = map[uint64]error{}
	}
	if len(q.setAside) >= maxSetAside {
		clear(q.setAside) // old ends nobody waited for
	}
	q.setAside[id] = err
}

// IsSetAside reports whether err was marked by SetAside.
func IsSetAside(err error) bool {
	var s setAside
	return errors.As(err, &s)
}
