package mes_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// fakeWall is a settable wall clock.
type fakeWall struct {
	mu sync.Mutex
	t  time.Time
}

func (w *fakeWall) Now() time.Time      { w.mu.Lock(); defer w.mu.Unlock(); return w.t }
func (w *fakeWall) Add(d time.Duration) { w.mu.Lock(); w.t = w.t.Add(d); w.mu.Unlock() }
func (w *fakeWall) clock() mes.WallClock {
	return mes.NewWallClock(w.Now)
}

// memLineTime is a LineTimeStore in memory that can be made to fail.
type memLineTime struct {
	mu     sync.Mutex
	t      time.Time
	writes int
	fail   error
}

func (s *memLineTime) LineTime(context.Context) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t, nil
}

func (s *memLineTime) ReserveLineTime(_ context.Context, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.writes++
	if t.After(s.t) {
		s.t = t
	}
	return nil
}

var wall0 = time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC)

func TestLineClock_SimulatedRunsFromWhereItStopped(t *testing.T) {
	ctx := context.Background()
	w := &fakeWall{t: wall0}
	store := &memLineTime{}
	open := func() *mes.LineClock {
		c, err := mes.OpenLineClock(ctx, mes.LineClockOptions{Wall: w.clock(), Speed: 120, Simulated: true, Store: store})
		require.NoError(t, err)
		return c
	}

	c := open()
	assert.Equal(t, wall0, c.Now(), "a new store starts at the wall clock")
	w.Add(30 * time.Minute) // 30 real minutes at 120× = 60 line hours
	stopped := c.Now()
	assert.Equal(t, wall0.Add(60*time.Hour), stopped)

	// Restart a moment later: the wall clock is 2.5 days behind line time.
	w.Add(time.Second)
	c = open()
	resumed := c.Now()
	assert.False(t, resumed.Before(stopped), "line time went back from %v to %v at the restart", stopped, resumed)
	assert.LessOrEqual(t, resumed.Sub(stopped), 120*mes.DefaultLineReserve, "resumes within one reservation")
	w.Add(time.Minute)
	assert.Equal(t, resumed.Add(2*time.Hour), c.Now(), "and runs on at 120× from there")
}

func TestLineClock_RealLineFollowsTheWallClockButNeverGoesBack(t *testing.T) {
	ctx := context.Background()
	w := &fakeWall{t: wall0}
	store := &memLineTime{}
	c, err := mes.OpenLineClock(ctx, mes.LineClockOptions{Wall: w.clock(), Store: store})
	require.NoError(t, err)
	w.Add(time.Hour)
	before := c.Now()
	assert.Equal(t, wall0.Add(time.Hour), before)

	// The host's clock is set back an hour while running: line time waits.
	w.Add(-time.Hour)
	assert.Equal(t, before, c.Now())

	// And after a restart with the clock still behind.
	c, err = mes.OpenLineClock(ctx, mes.LineClockOptions{Wall: w.clock(), Store: store})
	require.NoError(t, err)
	assert.False(t, c.Now().Before(before))

	// A restart much later follows the wall clock again.
	w.Add(48 * time.Hour)
	c, err = mes.OpenLineClock(ctx, mes.LineClockOptions{Wall: w.clock(), Store: store})
	require.NoError(t, err)
	assert.Equal(t, w.Now(), c.Now())
}

func TestLineClock_NeverHandsOutAnUnreservedTime(t *testing.T) {
	ctx := context.Background()
	w := &fakeWall{t: wall0}
	store := &memLineTime{}
	c, err := mes.OpenLineClock(ctx, mes.LineClockOptions{Wall: w.clock(), Speed: 60, Simulated: true, Store: store})
	require.NoError(t, err)
	for range 100 {
		w.Add(100 * time.Millisecond)
		now := c.Now()
		reserved, _ := store.LineTime(ctx)
		require.False(t, now.After(reserved), "handed out %v beyond the reserved %v", now, reserved)
	}
	assert.LessOrEqual(t, store.writes, 6, "one store write per reservation (10 s of wall time, 2 s each)")

	store.fail = errors.New("disk full")
	w.Add(time.Minute)
	stuck := c.Now()
	reserved, _ := store.LineTime(ctx)
	assert.Equal(t, reserved, stuck, "stands at the reserved time while the store fails")
	assert.Error(t, c.Err())
	store.fail = nil
	w.Add(time.Second)
	assert.True(t, c.Now().After(stuck))
	assert.NoError(t, c.Err())
}

func TestWallClock_ZeroIsTheHostsClock(t *testing.T) {
	var w mes.WallClock
	a := w.Now()
	b := w.Now()
	assert.False(t, b.Before(a))
	assert.WithinDuration(t, a, b, time.Minute)
	fake := mes.NewWallClock(func() time.Time { return wall0 })
	assert.Equal(t, wall0, fake.Now())
	assert.Equal(t, time.Hour, fake.Until(wall0.Add(time.Hour)))
}

func TestBatchTransition_NeverEarlierThanTheOneBefore(t *testing.T) {
	b := &mes.Batch{ID: "B1", State: mes.BatchPlanned,
		Transitions: []mes.Transition{{To: mes.BatchPlanned, By: "system", At: wall0}}}
	// A caller read its clock before the batch was created.
	require.NoError(t, b.Transition(mes.BatchReleased, "system", "", wall0.Add(-time.Second)))
	require.NoError(t, b.Transition(mes.BatchRunning, "system", "", wall0.Add(-9*time.Minute)))
	require.NoError(t, b.Transition(mes.BatchHeld, "qa", "", wall0.Add(time.Minute)))
	for i := 1; i < len(b.Transitions); i++ {
		assert.False(t, b.Transitions[i].At.Before(b.Transitions[i-1].At), "%s stamped before %s", b.Transitions[i].To, b.Transitions[i-1].To)
	}
	assert.Equal(t, wall0.Add(time.Minute), b.Transitions[3].At, "a later time is kept")
}
