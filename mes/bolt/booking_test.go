package bolt_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/pilotline/pilotline/mes/booking"
)

func newBooking(iso string) *mes.Booking {
	return &mes.Booking{Org: "acme", RequestedBy: "ana", Product: iso, Quantity: 50,
		QA:            mes.QARequirements{Characteristics: []string{mes.CharHeadDiameter}, Sampling: mes.Sampling{Mode: mes.SamplingPerLot, N: 5, Lot: 25}},
		EarliestStart: calT0, Deadline: calT0.Add(30 * 24 * time.Hour), Notes: "pilot"}
}

func TestBookingService_CreateFindList(t *testing.T) {
	s := newServices(t)
	bk := bolt.NewBookingService(s.db)
	ctx := context.Background()

	b := newBooking(s.product.ISO)
	b.State, b.Batch = mes.BookingConfirmed, "B000009"
	require.NoError(t, bk.CreateBooking(ctx, b))
	assert.Equal(t, "BK000001", b.ID)
	assert.Equal(t, mes.BookingRequested, b.State, "a new booking is requested, whatever the caller says")
	assert.Empty(t, b.Batch)
	assert.Equal(t, []mes.BookingTransition{{To: mes.BookingRequested, By: "ana", At: s.clock.Now()}}, b.Transitions)

	got, err := bk.FindBooking(ctx, b.ID)
	require.NoError(t, err)
	assert.Equal(t, b, got)

	for name, edit := range map[string]func(*mes.Booking){
		"unknown product":  func(b *mes.Booking) { b.Product = "500314001002014" },
		"untoleranced":     func(b *mes.Booking) { b.QA.Characteristics = []string{"colour"} },
		"spec of existing": func(b *mes.Booking) { p := s.product; b.Spec = &p },
		"zero quantity":    func(b *mes.Booking) { b.Quantity = 0 },
	} {
		bad := newBooking(s.product.ISO)
		edit(bad)
		assert.Equal(t, mes.EINVALID, mes.ErrorCode(bk.CreateBooking(ctx, bad)), name)
	}
	other := newBooking(s.product.ISO)
	other.Org = "beta"
	require.NoError(t, bk.CreateBooking(ctx, other))
	assert.Equal(t, "BK000002", other.ID, "rejected requests used no id")

	all, err := bk.ListBookings(ctx, mes.BookingFilter{})
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, "BK000002", all[0].ID, "newest first")
	acme, err := bk.ListBookings(ctx, mes.BookingFilter{Org: "acme"})
	require.NoError(t, err)
	require.Len(t, acme, 1)
	assert.Equal(t, b.ID, acme[0].ID)

	for _, id := range []string{"BK000009", "BK1", "B000001", ""} {
		_, err := bk.FindBooking(ctx, id)
		assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err), id)
	}
}

func TestBookingService_Lifecycle(t *testing.T) {
	s := newServices(t)
	bk := bolt.NewBookingService(s.db)
	cal := bolt.NewCalendarService(s.db, testLine(t))
	ctx := context.Background()
	b := newBooking(s.product.ISO)
	require.NoError(t, bk.CreateBooking(ctx, b))

	q := &mes.Quote{Groups: []string{"FLT", "HEAD", "NECK", "QC", "SHK"}, SetupS: 3600, ChangeoverS: 1800,
		Start: calT0.Add(24 * time.Hour), End: calT0.Add(48 * time.Hour), Quoted: s.clock.Now(), Expires: s.clock.Now().Add(72 * time.Hour)}
	b, err := bk.ChangeBooking(ctx, b.ID, mes.BookingChange{To: mes.BookingQuoted, By: "system", Quote: q})
	require.NoError(t, err)

	// Maintenance takes part of the window before the customer accepts.
	m := &mes.Reservation{Kind: mes.ReservationMaintenance, Groups: []string{"QC"}, Start: q.End, End: q.End.Add(time.Hour), By: "eng"}
	require.NoError(t, cal.Reserve(ctx, m))
	_, err = bk.ChangeBooking(ctx, b.ID, mes.BookingChange{To: mes.BookingAccepted, By: "ana"})
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err), "the changeover buffer meets the maintenance")
	assert.Contains(t, mes.ErrorMessage(err), "no longer free")
	require.NoError(t, cal.Unreserve(ctx, m.ID))

	b, err = bk.ChangeBooking(ctx, b.ID, mes.BookingChange{To: mes.BookingAccepted, By: "ana", Reason: "PO 77"})
	require.NoError(t, err)
	b, err = bk.ChangeBooking(ctx, b.ID, mes.BookingChange{To: mes.BookingConfirmed, By: "eng.wu"})
	require.NoError(t, err)
	require.NotEmpty(t, b.Reservation)
	rs, err := cal.Reservations(ctx, calT0, calT0.Add(72*time.Hour))
	require.NoError(t, err)
	require.Len(t, rs, 1)
	assert.Equal(t, mes.Reservation{ID: b.Reservation, Kind: mes.ReservationBooking, Groups: q.Groups, Start: q.Start, End: q.End,
		SetupBefore: 3600, SetupAfter: 1800, Booking: b.ID, Org: "acme", Product: s.product.ISO, By: "eng.wu", Created: s.clock.Now()}, *rs[0])

	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(cal.Unreserve(ctx, b.Reservation)), "a booking's window goes with the booking")
	_, err = bk.ChangeBooking(ctx, b.ID, mes.BookingChange{To: mes.BookingCancelled, By: "ana", LockOut: 90 * 24 * time.Hour})
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err), "inside the lock-out window")

	b, err = bk.ChangeBooking(ctx, b.ID, mes.BookingChange{To: mes.BookingCancelled, By: "eng.wu", Reason: "spindle repair"})
	require.NoError(t, err)
	assert.Empty(t, b.Reservation)
	rs, err = cal.Reservations(ctx, calT0, calT0.Add(72*time.Hour))
	require.NoError(t, err)
	assert.Empty(t, rs, "cancelling frees the window")

	var states []mes.BookingState
	for _, tr := range b.Transitions {
		states = append(states, tr.To)
	}
	assert.Equal(t, []mes.BookingState{mes.BookingRequested, mes.BookingQuoted, mes.BookingAccepted, mes.BookingConfirmed, mes.BookingCancelled}, states)

	ns, err := bk.ListNotifications(ctx, "acme", 10)
	require.NoError(t, err)
	var got []mes.BookingState
	for _, n := range ns {
		got = append(got, n.State)
	}
	assert.Equal(t, []mes.BookingState{mes.BookingCancelled, mes.BookingConfirmed, mes.BookingQuoted}, got, "newest first")
	ns, err = bk.ListNotifications(ctx, "acm", 10)
	require.NoError(t, err)
	assert.Empty(t, ns, "an org prefix is not the org")
	ns, err = bk.ListNotifications(ctx, "", 2)
	require.NoError(t, err)
	assert.Len(t, ns, 2)
}

func TestBookingScheduler(t *testing.T) {
	for _, auto := range []bool{true, false} {
		t.Run(map[bool]string{true: "auto release", false: "engineer releases"}[auto], func(t *testing.T) {
			s := newServices(t)
			bk := bolt.NewBookingService(s.db)
			ctx := context.Background()
			sched := &booking.Scheduler{Bookings: bk, Batches: s.batches, Products: s.products, AutoRelease: auto,
				LockOut: 24 * time.Hour, Clock: mes.LineClockFrom(s.clock.Now)}

			// A new bur type: its product is created with the batch.
			spec := s.product
			spec.ISO, spec.Name = "500314001002014", "custom round bur"
			b := newBooking(spec.ISO)
			b.Spec = &spec
			b.EarliestStart = s.clock.Now()
			require.NoError(t, bk.CreateBooking(ctx, b))
			start := s.clock.Now().Add(36 * time.Hour)
			q := &mes.Quote{Groups: []string{"FLT", "HEAD", "NECK", "QC", "SHK"}, SetupS: 3600,
				Start: start, End: start.Add(10 * time.Hour), Quoted: s.clock.Now(), Expires: s.clock.Now().Add(time.Hour)}
			_, err := bk.ChangeBooking(ctx, b.ID, mes.BookingChange{To: mes.BookingQuoted, By: "system", Quote: q})
			require.NoError(t, err)
			_, err = bk.ChangeBooking(ctx, b.ID, mes.BookingChange{To: mes.BookingAccepted, By: "ana"})
			require.NoError(t, err)
			_, err = bk.ChangeBooking(ctx, b.ID, mes.BookingChange{To: mes.BookingConfirmed, By: "eng"})
			require.NoError(t, err)

			// A second quote nobody accepts expires.
			stale := newBooking(s.product.ISO)
			stale.EarliestStart = s.clock.Now()
			require.NoError(t, bk.CreateBooking(ctx, stale))
			_, err = bk.ChangeBooking(ctx, stale.ID, mes.BookingChange{To: mes.BookingQuoted, By: "system", Quote: q})
			require.NoError(t, err)

			state := func(id string) *mes.Booking {
				got, err := bk.FindBooking(ctx, id)
				require.NoError(t, err)
				return got
			}
			require.NoError(t, sched.Tick(ctx))
			assert.Equal(t, mes.BookingConfirmed, state(b.ID).State, "36 h before start, lock-out 24 h")

			s.clock.Add(13 * time.Hour)
			require.NoError(t, sched.Tick(ctx))
			assert.Equal(t, mes.BookingScheduled, state(b.ID).State)
			assert.Equal(t, mes.BookingExpired, state(stale.ID).State)
			assert.Empty(t, state(b.ID).Batch, "no batch before the window")

			s.clock.Add(23 * time.Hour) // the window starts
			require.NoError(t, sched.Tick(ctx))
			got := state(b.ID)
			require.NotEmpty(t, got.Batch)
			batch, err := s.batches.FindBatch(ctx, got.Batch)
			require.NoError(t, err)
			assert.Equal(t, "acme", batch.Org)
			assert.Equal(t, spec.ISO, batch.Product)
			assert.Equal(t, 50, batch.Quantity)
			assert.Equal(t, start, batch.PlannedStart)
			_, err = s.products.FindProduct(ctx, spec.ISO)
			require.NoError(t, err, "the new bur type exists now")
			if auto {
				assert.Equal(t, mes.BatchReleased, batch.State)
				assert.Equal(t, mes.BookingRunning, got.State)
			} else {
				assert.Equal(t, mes.BatchPlanned, batch.State)
				assert.Equal(t, mes.BookingScheduled, got.State)
				require.NoError(t, sched.Tick(ctx))
				assert.Equal(t, got.Batch, state(b.ID).Batch, "a second pass makes no second batch")
				_, err = s.batches.TransitionBatch(ctx, batch.ID, mes.BatchReleased, "eng", "", time.Time{})
				require.NoError(t, err)
				require.NoError(t, sched.Tick(ctx))
				assert.Equal(t, mes.BookingRunning, state(b.ID).State)
			}
			all, err := s.batches.ListBatches(ctx, mes.BatchFilter{})
			require.NoError(t, err)
			assert.Len(t, all, 1)

			_, err = s.batches.TransitionBatch(ctx, batch.ID, mes.BatchRunning, "line", "", time.Time{})
			require.NoError(t, err)
			_, err = s.batches.TransitionBatch(ctx, batch.ID, mes.BatchCompleted, "line", "", time.Time{})
			require.NoError(t, err)
			require.NoError(t, sched.Tick(ctx))
			assert.Equal(t, mes.BookingCompleted, state(b.ID).State)

			ns, err := bk.ListNotifications(ctx, "acme", 1)
			require.NoError(t, err)
			require.Len(t, ns, 1)
			assert.Equal(t, mes.BookingCompleted, ns[0].State)
			assert.Contains(t, ns[0].Message, batch.ID)
			assert.Contains(t, ns[0].MessageZH, "已完成")
		})
	}
}
