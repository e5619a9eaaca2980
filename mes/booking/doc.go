// Package booking is the engine of pilot-run bookings: the Quoter prices a
// request (line time from the measured takt and OEE of recent runs, or the
// route's nominal figures) and finds the earliest free window on the
// capacity calendar; the Scheduler moves accepted bookings along with the
// clock and the line (expiry, lock-out, batch creation and release,
// completion).
//
// The booking vocabulary (mes.Booking, its states and transitions,
// mes.Quote) and the services it runs on stay in package mes; this package
// imports mes and mes/kpi only, never an adapter.
package booking
