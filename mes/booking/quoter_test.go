package booking

import (
	"bytes"
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/kpi/kpitest"
)

var bookingT0 = time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)

func validBooking() *mes.Booking {
	return &mes.Booking{Org: "acme", RequestedBy: "ana", Product: "500314001001014", Quantity: 1000,
		QA:            mes.QARequirements{Characteristics: []string{mes.CharHeadDiameter}, Sampling: mes.Sampling{Mode: mes.SamplingAll}},
		EarliestStart: bookingT0, Deadline: bookingT0.Add(30 * 24 * time.Hour)}
}

// memCalendar is an in-memory CalendarService for the quote tests.
type memCalendar struct{ busy []mes.Interval }

func (m *memCalendar) Reserve(context.Context, *mes.Reservation) error {
	return mes.Errorf(mes.EINTERNAL, "not here")
}
func (m *memCalendar) Unreserve(context.Context, string) error {
	return mes.Errorf(mes.EINTERNAL, "not here")
}
func (m *memCalendar) Reservations(context.Context, time.Time, time.Time) ([]*mes.Reservation, error) {
	return nil, nil
}
func (m *memCalendar) Busy(_ context.Context, _ []string, from, to time.Time) ([]mes.Interval, error) {
	var out []mes.Interval
	for _, b := range m.busy {
		if b.Overlaps(mes.Interval{Start: from, End: to}) {
			out = append(out, b)
		}
	}
	return out, nil
}

func hours(h float64) time.Time { return bookingT0.Add(time.Duration(h * float64(time.Hour))) }

// lineForTest returns the default 25-grinder line.
func lineForTest(tb testing.TB) *mes.LineConfig {
	tb.Helper()
	line, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(tb, err)
	return line
}

// memProducts serves the line's products.
type memProducts struct{ line *mes.LineConfig }

func (m memProducts) CreateProduct(context.Context, *mes.Product) error {
	return mes.Errorf(mes.EINTERNAL, "read-only")
}
func (m memProducts) FindProduct(_ context.Context, iso string) (*mes.Product, error) {
	if p, ok := m.line.Product(iso); ok {
		return &p, nil
	}
	return nil, mes.Errorf(mes.ENOTFOUND, "no product %s", iso)
}
func (m memProducts) ListProducts(context.Context) ([]*mes.Product, error) { return nil, nil }

func TestQuoteNominal(t *testing.T) {
	line := lineForTest(t)
	now := bookingT0.Add(-time.Hour)
	cal := &memCalendar{busy: []mes.Interval{{Start: hours(0), End: hours(30)}}}
	q := &Quoter{Line: line, Products: memProducts{line}, Calendar: cal, Clock: mes.LineClockFrom(func() time.Time { return now })}
	b := validBooking()

	got, err := q.Quote(context.Background(), b)
	require.NoError(t, err)
	assert.Equal(t, mes.QuoteNominal, got.Basis)
	assert.Contains(t, got.BasisNote, "no production history")
	// Route: SHK 780 s on 5, HEAD 780/5, FLT 1620 s on 10 grinders, NECK 780/5, QC 90/1.
	assert.Equal(t, "FLT", got.BottleneckGroup)
	assert.InDelta(t, 162, got.BottleneckS, 1e-9)
	assert.InDelta(t, 180/0.85, got.IntervalS, 1e-9, "the target takt paces the line, at the assumed OEE")
	assert.InDelta(t, 780*3+1620+90, got.LeadS, 1e-9)
	assert.InDelta(t, 3*27000/86400.0, got.PlannedShare, 1e-12, "three 8 h shifts with 30 min breaks")
	production := math.Ceil((got.LeadS+999*got.IntervalS)/got.PlannedShare/60) * 60
	assert.InDelta(t, DefaultQuoteSetup.Seconds()+production, got.LineTimeS, 1e-6)
	assert.Equal(t, []string{"FLT", "HEAD", "NECK", "QC", "SHK"}, got.Groups)
	assert.Equal(t, hours(30).Add(DefaultQuoteSetup), got.Start, "after the busy block, set-up first")
	assert.Equal(t, got.Start.Add(time.Duration(production)*time.Second), got.End)
	assert.Equal(t, now.Add(DefaultQuoteValidity), got.Expires)

	// Customers cannot ask for a window in the past: the search starts now.
	b.EarliestStart = now.Add(-48 * time.Hour)
	cal.busy = nil
	got, err = q.Quote(context.Background(), b)
	require.NoError(t, err)
	assert.Equal(t, now.Add(DefaultQuoteSetup), got.Start)
}

func TestQuoteNoWindow(t *testing.T) {
	line := lineForTest(t)
	cal := &memCalendar{busy: []mes.Interval{{Start: hours(0), End: hours(24 * 29)}}}
	q := &Quoter{Line: line, Products: memProducts{line}, Calendar: cal, Clock: mes.LineClockFrom(func() time.Time { return bookingT0 })}
	_, err := q.Quote(context.Background(), validBooking())
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
	assert.Contains(t, mes.ErrorMessage(err), "no free window")

	b := validBooking()
	b.Deadline = b.EarliestStart.Add(24 * time.Hour)
	_, err = q.Quote(context.Background(), b)
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
	assert.Contains(t, mes.ErrorMessage(err), "cannot end by the deadline")

	b = validBooking()
	b.Product = "500314001001099"
	_, err = q.Quote(context.Background(), b)
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
}

func TestQuoteMeasured(t *testing.T) {
	line, store := kpitest.Month(t)
	now := time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	q := &Quoter{Line: line, Products: memProducts{line}, Calendar: &memCalendar{}, Events: store,
		Location: time.UTC, Clock: mes.LineClockFrom(func() time.Time { return now })}
	b := validBooking()
	b.EarliestStart, b.Deadline = now, now.Add(60*24*time.Hour)

	got, err := q.Quote(context.Background(), b)
	require.NoError(t, err)
	assert.Equal(t, mes.QuoteMeasured, got.Basis)
	assert.Equal(t, now.Add(-DefaultQuoteLookback), got.BasisFrom)
	assert.Greater(t, got.Departures, 3000, "a week at one bur per 180 s")
	assert.InDelta(t, 180, got.MeasuredTaktS, 20)
	assert.InDelta(t, 0.95, got.Availability, 0.04, "idle, starved and blocked are no work, not lost availability")
	assert.InDelta(t, 0.87, got.Quality, 0.05)
	assert.NotEqual(t, 162.0, got.BottleneckS, "measured cycle times, not the ideal ones")
	assert.InDelta(t, max(got.BottleneckS/(got.Availability*got.Quality), got.MeasuredTaktS), got.IntervalS, 1e-9)

	nominal, err := (&Quoter{Line: line, Products: memProducts{line}, Calendar: &memCalendar{}, Clock: q.Clock}).Quote(context.Background(), b)
	require.NoError(t, err)
	assert.NotEqual(t, nominal.IntervalS, got.IntervalS, "history changes the quote")

	// The basis is cached: an empty store now would not change the quote.
	q.Events = kpitest.NewMemStore()
	again, err := q.Quote(context.Background(), b)
	require.NoError(t, err)
	assert.Equal(t, got.IntervalS, again.IntervalS)
	q.ResetBasis()
	again, err = q.Quote(context.Background(), b)
	require.NoError(t, err)
	assert.Equal(t, mes.QuoteNominal, again.Basis)
	assert.Contains(t, again.BasisNote, "0 burs left the line")
}
