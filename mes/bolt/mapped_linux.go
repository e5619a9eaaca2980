//go:build linux

package bolt

import (
	"unsafe"

	bbolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// releaseMapped drops the database file's memory-mapped pages from the
// process's resident set (madvise MADV_DONTNEED). bbolt maps the file
// read-only and writes through the file, so the data stays in the page
// cache and the next access faults it back in; what a long scan touched
// (an export of 100,000 burs walks the whole batch) no longer counts
// against the process.
//
// IMPORTANT: call it inside a transaction: an open transaction holds bbolt's
// mmap lock, so the mapping cannot be replaced under the call.
func releaseMapped(tx *bbolt.Tx) {
	info, size := tx.DB().Info(), tx.Size()
	if info == nil || info.Data == 0 || size <= 0 {
		return
	}
	// bbolt hands out the mapping's address as a uintptr; the mapping is
	// outside the Go heap, so reading it as a pointer is safe.
	data := unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&info.Data))), size)
	// best effort: an error leaves the pages resident, nothing else
	_ = unix.Madvise(data, unix.MADV_DONTNEED)
}
