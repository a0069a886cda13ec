module github.com/pafs/pafs

go 1.26

require (
	github.com/hanwen/go-fuse/v2 v2.12.1 // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	github.com/spf13/pflag v1.1.0 // indirect
)
