package opcua

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// An outage is logged once when it starts and once when it ends with the
// number of attempts, however many reconnects fail in between.
func TestOutageLoggedOnce(t *testing.T) {
	f := startFakeLine(t, []string{"G01"})
	sink := &recordingSink{}
	var logs lockedBuffer
	a, err := New(Options{Line: fakeLineConfig(mes.ModePoll, 50, map[string]string{"G01": f.URL()}), DataDir: t.TempDir(), Sink: sink,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return statusOf(a, "G01").CommOK }, wait, 10*time.Millisecond)

	f.stop()
	require.Eventually(t, func() bool { return logs.count("reconnect failed") >= 3 }, wait, 10*time.Millisecond)
	require.NoError(t, f.start())
	require.Eventually(t, func() bool { return logs.count("endpoint reconnected") == 1 }, wait, 10*time.Millisecond)
	assert.Equal(t, 1, logs.count(`level=WARN msg="endpoint down`), "one warning for the outage")
	assert.Equal(t, 1, logs.count("attempts="), "one line with the count")
	assert.Len(t, sink.of("G01", mes.EventCommLost), 1)
}
