//go:build !linux

package bolt

import bbolt "go.etcd.io/bbolt"

// releaseMapped does nothing where madvise is not used (see mapped_linux.go).
func releaseMapped(*bbolt.Tx) {}
