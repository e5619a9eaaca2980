package bolt_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
	"github.com/pilotline/pilotline/mes/booking"
)

// fillCalendar reserves two years of runs from t0 on the whole line: runs
// of 6 to 40 h, one after another with gaps of 1 to 3 h (too short for a
// 1,000-bur run), and a day of maintenance every four weeks. It returns the
// number of reservations and the end of the last.
func fillCalendar(tb testing.TB, cal *bolt.CalendarService, t0 time.Time) (int, time.Time) {
	tb.Helper()
	ctx := context.Background()
	at := t0
	n := 0
	for i := 0; at.Before(t0.Add(2 * 365 * 24 * time.Hour)); i++ {
		r := &mes.Reservation{Kind: mes.ReservationBooking, Booking: "BK", Org: "org", By: "eng",
			Start: at.Add(time.Hour), End: at.Add(time.Hour + time.Duration(6+(i*7)%35)*time.Hour),
			SetupBefore: 3600, SetupAfter: 1800}
		if i%40 == 39 {
			r = &mes.Reservation{Kind: mes.ReservationMaintenance, Title: "service", By: "eng", Start: at, End: at.Add(24 * time.Hour)}
		}
		require.NoError(tb, cal.Reserve(ctx, r))
		n++
		at = r.BlockedEnd().Add(time.Duration(1+i%3) * time.Hour)
	}
	return n, at
}

// BenchmarkQuote quotes a 1,000-bur run on a calendar holding two years of
// bookings whose gaps are all too short, so the search reads the whole
// calendar before it finds the window after the last run. The line basis
// (from the KPIs) is cached by the Quoter, as in service. Reports p50 and
// p99 latency; target p99 < 20 ms.
func BenchmarkQuote(b *testing.B) {
	clk := newClock()
	db, _ := MustOpenDB(b, bolt.Options{Line: mes.LineClockFrom(clk.Now), Wall: mes.NewWallClock(clk.Now)})
	line := testLine(b)
	products := bolt.NewProductService(db)
	require.NoError(b, products.CreateProduct(context.Background(), &line.Products[0]))
	cal := bolt.NewCalendarService(db, line)
	t0 := clk.Now().Add(24 * time.Hour)
	n, last := fillCalendar(b, cal, t0)
	b.Logf("calendar: %d reservations from %s to %s", n, t0.Format(time.DateOnly), last.Format(time.DateOnly))

	q := &booking.Quoter{Line: line, Products: products, Calendar: cal, Events: bolt.NewEventStore(db), Location: time.UTC, Clock: mes.LineClockFrom(clk.Now)}
	booking := &mes.Booking{Org: "acme", RequestedBy: "ana", Product: line.Products[0].ISO, Quantity: 1000,
		QA: mes.QARequirements{Sampling: mes.Sampling{Mode: mes.SamplingAll}}, EarliestStart: t0, Deadline: t0.Add(3 * 365 * 24 * time.Hour)}
	ctx := context.Background()
	qt, err := q.Quote(ctx, booking)
	require.NoError(b, err)
	require.False(b, qt.Start.Add(-time.Duration(qt.SetupS)*time.Second).Before(last.Add(-3*time.Hour)), "the window is after the two years")

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := q.Quote(ctx, booking); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(n), "reservations")
}
