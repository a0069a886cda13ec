// Package remote is the client of the PythonAnywhere HTTP API: typed calls for
// every endpoint, per-endpoint-family rate limiting that never exceeds the
// server's sliding-window throttle, retries with backoff, and request counters.
package remote
