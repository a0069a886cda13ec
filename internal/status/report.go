package status

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/pafs/pafs/internal/vfs"
	"github.com/pafs/pafs/remote"
)

// Source is what a report is made from.
type Source struct {
	Client     *remote.Client
	Files      *vfs.FS
	Errors     *Errors
	Notices    *Errors // things to do that are not failures (a reload is needed)
	Account    string  // user@host
	Mountpoint string
	Started    time.Time
	Now        func() time.Time
	// CacheDir holds the upload queue; CacheTemporary says it is deleted
	// when pafs exits (the demo's).
	CacheDir       string
	CacheTemporary bool
}

// Report is a snapshot of a mount's state. Its JSON form is .pafs/status.json.
type Report struct {
	Account    string     `json:"account"`
	Mountpoint string     `json:"mountpoint"`
	Uptime     Duration   `json:"uptime"`
	Limit      int        `json:"rate_limit"`
	Window     Duration   `json:"rate_window"`
	Endpoints  []Endpoint `json:"endpoints"`
	// Budgets are the budgets adapted to a server that counts more
	// coarsely than per endpoint (remote.Client.Budgets).
	Budgets    []Budget `json:"adapted_budgets"`
	Queue      Queue    `json:"queue"`
	Cache      Cache    `json:"cache"`
	Errors     []Event  `json:"last_errors"`
	ErrorCount int      `json:"error_count"`
	Notices    []Event  `json:"notices"`
	// Conflicts are files changed both here and on the server, each kept in
	// both versions; ConflictCount counts them all.
	Conflicts     []vfs.Conflict `json:"conflicts"`
	ConflictCount int            `json:"conflict_count"`
	// Refused are the changes the server refused for good: not retried,
	// an upload's data kept in .pafs/failed/.
	Refused []vfs.Refused `json:"refused"`

	// OfflineSince is set while the mount is offline: it started without
	// reaching the API and serves what earlier mounts cached.
	OfflineSince *time.Time `json:"offline_since,omitempty"`
	// Following is the files downloaded again and again for readers
	// following them (tail -f), and what that costs.
	Following Following `json:"following"`
	// Where the upload queue waits for the next mount, for `pafs unmount`.
	CacheDir       string `json:"cache_dir"`
	CacheTemporary bool   `json:"cache_temporary,omitempty"`
}

// Following is the files being followed and their cost: at most one
// download per interval, CapPerMinute a minute, for all of them together.
type Following struct {
	Interval     Duration       `json:"interval"`
	CapPerMinute int            `json:"cap_per_minute"`
	PerMinute    int            `json:"downloads_last_minute"`
	Files        []FollowedFile `json:"files"`
}

// FollowedFile is one followed file.
type FollowedFile struct {
	Path       string    `json:"path"`
	Readers    int       `json:"readers"`
	Every      Duration  `json:"every"`
	Since      time.Time `json:"since"`
	Downloads  int       `json:"downloads_last_minute"`
	Changes    int       `json:"changes"`
	LastChange time.Time `json:"last_change,omitzero"`
}

// Endpoint is one endpoint family's budget and counters.
type Endpoint struct {
	Family    string         `json:"family"`
	InWindow  int            `json:"in_window"`
	Limit     int            `json:"limit"`
	NextFree  Duration       `json:"next_free"`
	InFlight  int            `json:"in_flight"`
	Waiting   int            `json:"waiting"`
	Requests  int            `json:"requests"`
	ByMethod  map[string]int `json:"by_method"`
	Retries   int            `json:"retries"`
	Throttled int            `json:"throttled"`
	Errors    int            `json:"errors"`
	LastError string         `json:"last_error,omitempty"`
}

// Budget is one rate-limit budget the client adapted to the server: several
// endpoint families it counts together, or one family's, cut down.
type Budget struct {
	Families []string  `json:"families"`
	Limit    int       `json:"limit"`
	Base     int       `json:"base"` // each family's own limit
	InWindow int       `json:"in_window"`
	InFlight int       `json:"in_flight"`
	Waiting  int       `json:"waiting"`
	NextFree Duration  `json:"next_free"`
	Since    time.Time `json:"since"`
	Why      string    `json:"why"`
}

// Queue is the upload queue's state.
type Queue struct {
	Pending  int       `json:"pending"`
	InFlight int       `json:"in_flight"`
	Failing  int       `json:"failing"`
	Bytes    int64     `json:"bytes"`
	Done     uint64    `json:"done"`
	Failures uint64    `json:"failed_attempts"`
	Ops      []QueueOp `json:"ops"`
}

// QueueOp is one queued change.
type QueueOp struct {
	Kind      string   `json:"kind"`
	Path      string   `json:"path"`
	Bytes     int64    `json:"bytes"`
	Tries     int      `json:"tries"`
	InFlight  bool     `json:"in_flight"`
	Held      bool     `json:"held"`
	DueIn     Duration `json:"due_in"`
	LastError string   `json:"last_error,omitempty"`
}

// Cache is the caches' hit rates and size.
type Cache struct {
	ListingHits   uint64 `json:"listing_hits"`
	ListingMisses uint64 `json:"listing_misses"`
	ContentHits   uint64 `json:"content_hits"`
	ContentMisses uint64 `json:"content_misses"`
	ContentBytes  int64  `json:"content_bytes"`
}

// Duration marshals as seconds (a float) in JSON and reads well in text.
type Duration time.Duration

// MarshalJSON writes seconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).Seconds())
}

// UnmarshalJSON reads seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*d = Duration(s * float64(time.Second))
	return nil
}

// Collect takes a snapshot.
func (s *Source) Collect() Report {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	r := Report{Account: s.Account, Mountpoint: s.Mountpoint, Uptime: Duration(now().Sub(s.Started).Round(time.Second)),
		CacheDir: s.CacheDir, CacheTemporary: s.CacheTemporary}
	if s.Client != nil {
		limit, window := s.Client.Limits()
		r.Limit, r.Window = limit, Duration(window)
		for _, f := range s.Client.Stats() {
			r.Endpoints = append(r.Endpoints, endpoint(f))
		}
		sort.Slice(r.Endpoints, func(i, j int) bool { return r.Endpoints[i].Family < r.Endpoints[j].Family })
		for _, b := range s.Client.Budgets() {
			r.Budgets = append(r.Budgets, Budget{Families: b.Families, Limit: b.Limit, Base: b.Base, InWindow: b.InWindow,
				InFlight: b.InFlight, Waiting: b.Waiting, NextFree: Duration(b.NextFree), Since: b.Since, Why: b.Why})
		}
	}
	if s.Files != nil {
		if since, ok := s.Files.Offline(); ok {
			r.OfflineSince = &since
		}
		r.Queue = queue(s.Files, now())
		mh, mm, ch, cm, cb := s.Files.CacheStats()
		r.Cache = Cache{ListingHits: mh, ListingMisses: mm, ContentHits: ch, ContentMisses: cm, ContentBytes: cb}
		r.Conflicts, r.ConflictCount = s.Files.Conflicts()
		r.Refused = s.Files.RefusedChanges()
		r.Following = following(s.Files.Following())
	}
	if s.Errors != nil {
		r.Errors, r.ErrorCount = s.Errors.List()
	}
	if s.Notices != nil {
		r.Notices, _ = s.Notices.List()
	}
	return r
}

func endpoint(f remote.FamilyStats) Endpoint {
	e := Endpoint{Family: f.Family, InWindow: f.InWindow, Limit: f.Limit, NextFree: Duration(f.NextFree),
		InFlight: f.InFlight, Waiting: f.Waiting, ByMethod: f.Sent, Retries: f.Retries,
		Throttled: f.Throttled, Errors: f.Errors, LastError: f.LastError}
	for _, n := range f.Sent {
		e.Requests += n
	}
	return e
}

func queue(f *vfs.FS, now time.Time) Queue {
	var q Queue
	q.Done, q.Failures = f.Queue().Counts()
	for _, s := range f.Queue().Snapshot() {
		op := QueueOp{Kind: string(s.Kind), Path: s.Path, Bytes: s.Size, Tries: s.Tries,
			InFlight: s.InFlight, Held: s.Held, LastError: s.LastError}
		if d := s.NotBefore.Sub(now); d > 0 && !s.InFlight {
			op.DueIn = Duration(d.Round(100 * time.Millisecond))
		}
		if s.InFlight {
			q.InFlight++
		} else {
			q.Pending++
		}
		if s.LastError != "" {
			q.Failing++
		}
		q.Bytes += s.Size
		q.Ops = append(q.Ops, op)
	}
	return q
}

func following(f vfs.Following) Following {
	r := Following{Interval: Duration(f.Interval), PerMinute: f.PerMinute, Files: []FollowedFile{}}
	if f.Interval > 0 {
		r.CapPerMinute = int(time.Minute / f.Interval)
	}
	for _, x := range f.Files {
		r.Files = append(r.Files, FollowedFile{Path: x.Path, Readers: x.Readers, Every: Duration(x.Every),
			Since: x.Since, Downloads: x.Polls, Changes: x.Changes, LastChange: x.LastChange})
	}
	return r
}
