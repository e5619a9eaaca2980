package bolt_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
)

var calT0 = time.Date(2026, 5, 4, 6, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return calT0.Add(time.Duration(h * float64(time.Hour))) }

func maintenance(groups []string, from, to float64) *mes.Reservation {
	return &mes.Reservation{Kind: mes.ReservationMaintenance, Groups: groups, Start: at(from), End: at(to), By: "eng.wu", Title: "wheel change"}
}

func TestCalendarReserve(t *testing.T) {
	db, _ := MustOpenDB(t, bolt.Options{Line: mes.LineClockFrom(newClock().Now), Wall: mes.NewWallClock(newClock().Now)})
	cal := bolt.NewCalendarService(db, testLine(t))
	ctx := context.Background()

	first := maintenance([]string{"FLT", "SHK"}, 10, 20)
	first.SetupBefore, first.SetupAfter = 3600, 1800 // blocked 9:00..20:30
	require.NoError(t, cal.Reserve(ctx, first))
	assert.Equal(t, "R000001", first.ID)

	tests := []struct {
		name   string
		r      *mes.Reservation
		code   string
		reason string
	}{
		{"overlap in the middle", maintenance([]string{"FLT"}, 12, 13), mes.ECONFLICT, ""},
		{"overlaps the set-up before", maintenance([]string{"SHK"}, 8, 9.5), mes.ECONFLICT, ""},
		{"overlaps the buffer after", maintenance([]string{"FLT"}, 20.25, 22), mes.ECONFLICT, ""},
		{"covers it", maintenance([]string{"FLT"}, 0, 40), mes.ECONFLICT, ""},
		{"whole line overlaps", maintenance(nil, 19, 21), mes.ECONFLICT, ""},
		{"other groups at the same time", maintenance([]string{"HEAD", "QC"}, 10, 20), "", ""},
		{"touches the start", maintenance([]string{"FLT"}, 8, 9), "", ""},
		{"touches the end", maintenance([]string{"SHK"}, 20.5, 21), "", ""},
		{"invalid", maintenance([]string{"PAINT"}, 30, 31), mes.EINVALID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := cal.Reserve(ctx, tt.r)
			assert.Equal(t, tt.code, mes.ErrorCode(err), "%v", err)
			if tt.code != "" {
				assert.Empty(t, tt.r.ID, "nothing stored")
			}
		})
	}

	rs, err := cal.Reservations(ctx, at(0), at(48))
	require.NoError(t, err)
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	assert.Equal(t, []string{"R000003", "R000001", "R000002", "R000004"}, ids, "ordered by blocked start")

	busy, err := cal.Busy(ctx, []string{"FLT"}, at(9.5), at(48))
	require.NoError(t, err)
	assert.Equal(t, []mes.Interval{{Start: at(9), End: at(20.5)}}, busy, "the window reaching in from before is found")
	busy, err = cal.Busy(ctx, nil, at(0), at(48))
	require.NoError(t, err)
	assert.Equal(t, []mes.Interval{{Start: at(8), End: at(21)}}, busy)

	require.NoError(t, cal.Unreserve(ctx, first.ID))
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(cal.Unreserve(ctx, first.ID)))
	require.NoError(t, cal.Reserve(ctx, maintenance([]string{"FLT"}, 12, 13)), "free after unreserving")
}

// acceptedBookings creates n accepted bookings whose quoted windows start
// every step hours from offset hours after calT0 and last length hours on the whole route.
func acceptedBookings(t *testing.T, s *bolt.BookingService, clk *clock, n int, offset, step, length float64) []*mes.Booking {
	t.Helper()
	ctx := context.Background()
	var out []*mes.Booking
	for i := range n {
		b := &mes.Booking{Org: fmt.Sprintf("org%d", i%3), RequestedBy: "ana", Product: testLine(t).Products[0].ISO, Quantity: 100,
			QA:            mes.QARequirements{Sampling: mes.Sampling{Mode: mes.SamplingAll}},
			EarliestStart: calT0.Add(-24 * time.Hour), Deadline: calT0.Add(365 * 24 * time.Hour)}
		require.NoError(t, s.CreateBooking(ctx, b))
		start := at(offset + float64(i)*step)
		q := &mes.Quote{Basis: mes.QuoteNominal, Groups: []string{"FLT", "HEAD", "NECK", "QC", "SHK"}, SetupS: 1800, ChangeoverS: 600,
			Start: start, End: start.Add(time.Duration(length * float64(time.Hour))), Quoted: clk.Now(), Expires: clk.Now().Add(72 * time.Hour)}
		_, err := s.ChangeBooking(ctx, b.ID, mes.BookingChange{To: mes.BookingQuoted, By: "system", Quote: q})
		require.NoError(t, err)
		b, err = s.ChangeBooking(ctx, b.ID, mes.BookingChange{To: mes.BookingAccepted, By: "ana"})
		require.NoError(t, err)
		out = append(out, b)
	}
	return out
}

// confirmAll confirms the bookings from one goroutine each, released together.
func confirmAll(s *bolt.BookingService, bs []*mes.Booking) []error {
	errs := make([]error, len(bs))
	var wg sync.WaitGroup
	startGun := make(chan struct{})
	for i, b := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGun
			_, errs[i] = s.ChangeBooking(context.Background(), b.ID, mes.BookingChange{To: mes.BookingConfirmed, By: "eng.wu"})
		}()
	}
	close(startGun)
	wg.Wait()
	return errs
}

func TestConcurrentConfirmations(t *testing.T) {
	clk := newClock()
	db, _ := MustOpenDB(t, bolt.Options{Line: mes.LineClockFrom(clk.Now), Wall: mes.NewWallClock(clk.Now)})
	require.NoError(t, bolt.NewProductService(db).CreateProduct(context.Background(), &testLine(t).Products[0]))
	s := bolt.NewBookingService(db)
	cal := bolt.NewCalendarService(db, testLine(t))
	ctx := context.Background()

	t.Run("overlapping: exactly one wins", func(t *testing.T) {
		// Twenty 10 h windows starting 15 min apart: every pair overlaps.
		bs := acceptedBookings(t, s, clk, 20, 0, 0.25, 10)
		errs := confirmAll(s, bs)
		won := 0
		for i, err := range errs {
			if err == nil {
				won++
				continue
			}
			assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err), "booking %d: %v", i, err)
		}
		assert.Equal(t, 1, won)
		rs, err := cal.Reservations(ctx, at(-24), at(100))
		require.NoError(t, err)
		assert.Len(t, rs, 1)
		for i, b := range bs {
			got, err := s.FindBooking(ctx, b.ID)
			require.NoError(t, err)
			if errs[i] == nil {
				assert.Equal(t, mes.BookingConfirmed, got.State)
				assert.Equal(t, rs[0].ID, got.Reservation)
				assert.Equal(t, got.ID, rs[0].Booking)
			} else {
				assert.Equal(t, mes.BookingAccepted, got.State, "a losing confirmation changes nothing")
				assert.Empty(t, got.Reservation)
			}
		}
	})

	t.Run("disjoint: all succeed", func(t *testing.T) {
		// Twenty 10 h windows a day apart, after the first subtest's.
		bs := acceptedBookings(t, s, clk, 20, 100, 24, 10)
		for i, err := range confirmAll(s, bs) {
			assert.NoError(t, err, "booking %d", i)
		}
		rs, err := cal.Reservations(ctx, at(99), at(1000))
		require.NoError(t, err)
		assert.Len(t, rs, 20)
		for i := 1; i < len(rs); i++ {
			assert.False(t, rs[i].BlockedStart().Before(rs[i-1].BlockedEnd()), "%s overlaps %s", rs[i].ID, rs[i-1].ID)
		}
	})
}
