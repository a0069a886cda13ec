// Package cache holds what pafs remembers about the remote account: directory
// listings and attributes (Meta: bounded LRUs, listings with a TTL, optionally
// backed by a durable store on disk, package cache/metastore), and file
// contents on local disk (Content, bounded by bytes).
//
// The API has no way to validate a cached copy (no ETag, no mtime), so both
// caches are time-based: an entry is trusted for its TTL and fetched again after.
package cache
