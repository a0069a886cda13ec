package vfs

import (
	"cmp"
	"slices"
	"sort"
	"time"
)

// Following files. The API has no change feed and no ranged reads: the only
// way to see a log grow on the server is to download it again. That is
// affordable if it is done only while someone watches, at a fixed share of
// the budget:
//
//   - Who watches. coreutils tail -f on FUSE polls with fstat every second
//     and reads only when the size grew; a Python readline() loop or
//     less +F reads at the end, which the kernel turns into a getattr
//     through the descriptor. Either way pafs sees getattrs of a file with
//     an open handle that has read through the end. Two of them, each at
//     least pollGap after the previous one (or the read), make the file
//     followed: tar and cp, which fstat right after their last read, never
//     do. Watchers that open the file again and again (watch cat) show up
//     as three opens in a row read through the end, reopenGap to followIdle
//     apart. Those are not polled in the background (editors and builds
//     reopen files too): for followIdle after the last such open, an open
//     of the file downloads it again if the copy at hand is an interval old
//     and the budget has a spare slot (refreshOnOpen).
//   - What it costs. One download per follow poll (or refreshing open), at
//     most one per --follow-interval for all followed files together (they
//     take turns, the one due longest first), so following costs at most
//     60 s / interval requests a minute however many files are followed:
//     10 a minute at the default 6 s, a quarter of the files budget. A file
//     whose content did not change for followQuiet polls in a row is polled
//     half as often after each further one, down to once per followBackoff
//     intervals; a change resets it. (A log written every half minute keeps
//     the full rate; a quiet one costs a quarter of it.) Polls are
//     background requests: whatever a person waits for goes first.
//   - When it stops. When the last watching handle closes, or when its
//     readers have not polled for followIdle; reopening, followIdle after
//     the last open.
//
// A poll that finds new content is a change like any other (changed.go):
// sizes, mtimes, open descriptors and the kernel's caches all move to it.

// DefaultFollowInterval is --follow-interval when the rate limit is unknown.
const DefaultFollowInterval = 6 * time.Second

const (
	// followBackoff bounds the backing off: a quiet file is still polled
	// every followBackoff intervals (24 s by default).
	followBackoff = 4
	// followQuiet is how many polls in a row must find no change before
	// the backing off starts.
	followQuiet = 4
	// followIdle: readers that stopped polling this long ago (less +F
	// stopped with Ctrl-C, the file left open) no longer follow.
	followIdle = 10 * time.Second
	// pollGap is the least time between a read through the end and a poll,
	// or two polls, for them to count as a reader polling.
	pollGap = 200 * time.Millisecond
	// followPolls is how many polls make a file followed.
	followPolls = 2
	// followReopens: the number of opens read through the end, beyond
	// the first, after which opens refresh the file (refreshOnOpen).
	followReopens = 2
	// reopenGap is the least time between two such opens for them to
	// count: opens closer together are a tool reading the file again, not
	// a watcher, and start the count again.
	reopenGap = 500 * time.Millisecond
)

// FollowInterval is the interval that spends a quarter of a budget of limit
// requests per window on following (6 s for the API's 40 a minute).
func FollowInterval(limit int, window time.Duration) time.Duration {
	if limit <= 0 || window <= 0 {
		return DefaultFollowInterval
	}
	return window * 4 / time.Duration(limit)
}

// watch is what pafs knows of the readers of one path, and its following.
type watch struct {
	handles map[*Handle]bool // open read-only handles that read through the end
	created time.Time
	mark    time.Time // the last read through the end, or counted poll
	polls   int       // polls counted so far
	lastEnd time.Time // when an open last read through the end for the first time
	reopens int       // such opens in a row, reopenGap to followIdle apart

	following  bool
	since      time.Time
	seen       time.Time // the readers' last poll
	linger     time.Time // opens refresh the file until then (watch cat: refreshOnOpen)
	fetched    time.Time // the last download of the path, a poll or not
	delay      time.Duration
	unchanged  int // polls in a row that found no change
	changes    int
	lastChange time.Time
	polled     []time.Time // this file's polls, the last minute of them
}

func (f *FS) followInterval() time.Duration {
	if f.o.FollowInterval > 0 {
		return f.o.FollowInterval
	}
	return DefaultFollowInterval
}

// watchLocked returns p's watch, created if need be. l.mu must be held.
func (l *live) watchLocked(p string, now time.Time) *watch {
	if l.watches == nil {
		l.watches = map[string]*watch{}
	}
	w := l.watches[p]
	if w == nil {
		if len(l.watches) >= 256 {
			l.sweepLocked(now)
		}
		w = &watch{handles: map[*Handle]bool{}, created: now}
		l.watches[p] = w
	}
	return w
}

// sweepLocked drops the watches that remember nothing useful any more.
func (l *live) sweepLocked(now time.Time) {
	for p, w := range l.watches {
		if !w.following && len(w.handles) == 0 && now.Sub(w.lastEnd) >= followIdle {
			delete(l.watches, p)
		}
	}
}

// readThroughEnd records that h served a read reaching the end of its file.
func (f *FS) readThroughEnd(h *Handle) {
	p, now := h.Path(), f.o.Now()
	l := &f.live
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.readers[h] == nil {
		return // released meanwhile
	}
	w := l.watchLocked(p, now)
	if h.atEnd == "" {
		switch gap := now.Sub(w.lastEnd); {
		case gap < reopenGap || gap >= followIdle:
			// A burst (git reads its config and HEAD several times
			// per command), or a first read after a long while.
			w.reopens = 0
		default:
			w.reopens++
		}
		w.lastEnd = now
		h.atEnd = p
		w.handles[h] = true
		if w.reopens >= followReopens {
			w.linger = now.Add(followIdle)
		}
	}
	w.mark = now
}

// Polled records a getattr of the file through h (any open handle of it:
// the kernel does not say whose fstat it is). See the top of this file.
func (h *Handle) Polled() {
	f := h.f
	p, now := h.Path(), f.o.Now()
	l := &f.live
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.watches[p]
	if w == nil || len(w.handles) == 0 {
		return
	}
	if w.following {
		w.seen = now
		return
	}
	if now.Sub(w.mark) >= pollGap {
		w.polls++
		w.mark = now
		if w.polls >= followPolls {
			f.startFollowLocked(w, now)
		}
	}
}

// startFollowLocked makes w followed. l.mu must be held.
func (f *FS) startFollowLocked(w *watch, now time.Time) {
	w.seen = now
	if w.following {
		return
	}
	w.following, w.since, w.delay, w.unchanged = true, now, f.followInterval(), 0
	if w.fetched.IsZero() {
		// What the readers read was downloaded when they opened it, or
		// earlier: the first poll is due an interval after that.
		w.fetched = w.created
	}
	l := &f.live
	l.loopOnce.Do(func() {
		l.wake = make(chan struct{}, 1)
		go f.followLoop()
	})
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// releaseReader forgets a read-only handle being closed; its file stops
// being followed when it was the last watching handle.
func (f *FS) releaseReader(h *Handle) {
	l := &f.live
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.readers, h)
	w := l.watches[h.atEnd]
	if h.atEnd == "" || w == nil {
		return
	}
	delete(w.handles, h)
	if len(w.handles) == 0 {
		w.following = false
	}
}

// polling reports whether w's readers still poll at now (the follow loop
// downloads it for them).
func (w *watch) polling(now time.Time) bool {
	return w.following && len(w.handles) > 0 && now.Sub(w.seen) < followIdle
}

// active reports whether w is followed at now, by polling readers or by
// reopening.
func (w *watch) active(now time.Time) bool { return w.polling(now) || now.Before(w.linger) }

// followLoop polls the followed files, one at a time, until the mount ends.
func (f *FS) followLoop() {
	l := &f.live
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		p, wait := f.nextPoll()
		if p != "" {
			f.poll(p)
			continue
		}
		t.Reset(wait)
		select {
		case <-f.bgCtx.Done():
			return
		case <-l.wake:
		case <-t.C:
		}
	}
}

// nextPoll picks the followed file to poll now, if any, and counts the poll;
// otherwise it says how long to wait for the next one.
func (f *FS) nextPoll() (string, time.Duration) {
	l := &f.live
	now, every := f.o.Now(), f.followInterval()
	l.mu.Lock()
	defer l.mu.Unlock()
	var best string
	var due time.Time
	for p, w := range l.watches {
		if w.following && !w.polling(now) {
			w.following = false
		}
		if !w.following {
			continue
		}
		at := w.fetched.Add(w.delay)
		if best == "" || at.Before(due) || (at.Equal(due) && p < best) {
			best, due = p, at
		}
	}
	if best == "" {
		return "", time.Hour
	}
	if slot := l.slot.Add(every); due.Before(slot) {
		due = slot
	}
	if due.After(now) {
		return "", due.Sub(now)
	}
	l.takeSlotLocked(l.watches[best], now)
	return best, 0
}

// takeSlotLocked counts a download of w's file for its followers.
func (l *live) takeSlotLocked(w *watch, now time.Time) {
	l.slot, w.fetched = now, now
	l.polls = append(lastMinute(l.polls, now), now)
	w.polled = append(lastMinute(w.polled, now), now)
}

// refreshOnOpen reports whether an open of p should download it again: p
// is reopened again and again (watch cat), its copy is an interval old, the
// follow budget has a slot free and the rate limit a spare one (the open
// waits for the download). It counts the download if so.
func (f *FS) refreshOnOpen(p string) bool {
	l := &f.live
	now, every := f.o.Now(), f.followInterval()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.watches[p]
	if w == nil || !now.Before(w.linger) || now.Before(l.slot.Add(every)) {
		return false
	}
	if last := cmp.Or(w.fetched, w.created); now.Sub(last) < every {
		return false
	}
	if f.o.Spare != nil && f.o.Spare() == 0 {
		return false
	}
	l.takeSlotLocked(w, now)
	return true
}

// lastMinute drops the times older than a minute.
func lastMinute(ts []time.Time, now time.Time) []time.Time {
	i := sort.Search(len(ts), func(i int) bool { return now.Sub(ts[i]) < time.Minute })
	return slices.Delete(ts, 0, i)
}

// poll downloads p again for its followers (the download ends in
// sawDownload, which sees whether it changed). A file with local changes
// is not polled: what is here is newer than the server's until uploaded.
func (f *FS) poll(p string) {
	f.mu.Lock()
	local := f.ov.get(p) != nil
	f.mu.Unlock()
	if local {
		return
	}
	if err := f.downloadNow(p, true); err != nil {
		f.followFetched(p, false, true)
	}
}

// followFetched records a download of p (a poll or not) for its following:
// a change resets the polling to every interval, a poll that found none
// backs off.
func (f *FS) followFetched(p string, changed, poll bool) {
	l := &f.live
	now, every := f.o.Now(), f.followInterval()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.watches[p]
	if w == nil {
		return
	}
	w.fetched = now
	if !w.following {
		return
	}
	switch {
	case changed:
		w.delay, w.unchanged, w.changes, w.lastChange = every, 0, w.changes+1, now
	case poll:
		if w.unchanged++; w.unchanged >= followQuiet {
			w.delay = min(2*w.delay, followBackoff*every)
		}
	}
}

// Following is what is followed, for the status file.
type Following struct {
	Interval  time.Duration  // --follow-interval: at most one poll per interval
	PerMinute int            // polls in the last minute, all files together
	Files     []FollowedFile // by path
}

// FollowedFile is one followed file.
type FollowedFile struct {
	Path       string
	Readers    int           // open handles watching it (0: followed by reopening)
	Every      time.Duration // current poll interval (backed off while it does not change)
	Since      time.Time
	Polls      int // in the last minute
	Changes    int // changes seen by the follow
	LastChange time.Time
}

// Following reports the followed files and their cost.
func (f *FS) Following() Following {
	l := &f.live
	now := f.o.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.polls = lastMinute(l.polls, now)
	r := Following{Interval: f.followInterval(), PerMinute: len(l.polls)}
	for p, w := range l.watches {
		if !w.active(now) {
			continue
		}
		w.polled = lastMinute(w.polled, now)
		r.Files = append(r.Files, FollowedFile{Path: p, Readers: len(w.handles), Every: w.delay, Since: w.since,
			Polls: len(w.polled), Changes: w.changes, LastChange: w.lastChange})
	}
	sort.Slice(r.Files, func(i, j int) bool { return r.Files[i].Path < r.Files[j].Path })
	return r
}
