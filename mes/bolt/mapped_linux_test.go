//go:build linux

package bolt

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"
)

// rssFileKB is the file-backed part of the process's resident set.
func rssFileKB(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			require.NoError(t, err)
			return kb
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

func TestReleaseMapped_DropsWalkedPages(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "m.db"), 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	val := make([]byte, 64<<10)
	for i := range val {
		val[i] = byte(i)
	}
	const n = 512 // 32 MB
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		for i := range n {
			if err := b.Put([]byte(strconv.Itoa(100000+i)), val); err != nil {
				return err
			}
		}
		return nil
	}))

	walk := func(tx *bbolt.Tx) int {
		sum := 0
		c := tx.Bucket([]byte("b")).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			for i := 0; i < len(v); i += 4096 {
				sum += int(v[i])
			}
		}
		return sum
	}
	var before, walked, released, again int
	require.NoError(t, db.View(func(tx *bbolt.Tx) error {
		releaseMapped(tx)
		before = rssFileKB(t)
		want := walk(tx)
		walked = rssFileKB(t)
		releaseMapped(tx)
		released = rssFileKB(t)
		assert.Equal(t, want, walk(tx), "the data reads the same after its pages were released")
		again = rssFileKB(t)
		return nil
	}))
	assert.Greater(t, walked-before, 16<<10, "walking 32 MB maps most of it in")
	assert.Less(t, released-before, (walked-before)/4, "released: RSS %d kB → walked %d kB → released %d kB", before, walked, released)
	assert.Greater(t, again-released, 16<<10, "walking again faults the pages back in")
}
