package ui

import (
	"sync"
	"time"
)

// LoginLimit bounds sign-in attempts: at most Attempts per Window for one
// user name and, separately, for one client address. Zero fields take
// DefaultLoginAttempts and DefaultLoginWindow.
type LoginLimit struct {
	Attempts int
	Window   time.Duration
}

// Sign-in limit defaults: five tries a minute is plenty for a person who
// mistyped and useless for guessing an argon2id-hashed password.
const (
	DefaultLoginAttempts = 5
	DefaultLoginWindow   = time.Minute
)

// maxLimiterKeys bounds the memory of the limiter under a flood of
// distinct names; beyond it, keys whose window has passed are dropped.
const maxLimiterKeys = 100_000

// limiter counts attempts per key in a sliding window.
type limiter struct {
	mu      sync.Mutex
	limit   LoginLimit
	tries   map[string][]time.Time
	tripped map[string]bool // refused since the window last had room: audit only the first refusal
}

func newLimiter(l LoginLimit) *limiter {
	if l.Attempts <= 0 {
		l.Attempts = DefaultLoginAttempts
	}
	if l.Window <= 0 {
		l.Window = DefaultLoginWindow
	}
	return &limiter{limit: l, tries: map[string][]time.Time{}, tripped: map[string]bool{}}
}

// recent drops attempts that left the window and returns the rest.
func (l *limiter) recent(key string, now time.Time) []time.Time {
	ts := l.tries[key]
	i := 0
	for i < len(ts) && !ts[i].After(now.Add(-l.limit.Window)) {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.tries, key)
		delete(l.tripped, key)
	} else {
		l.tries[key] = ts
	}
	return ts
}

// take records an attempt under every key, or none if any key is at its
// limit: then it returns how long until the next attempt may be made and
// whether this is the first refusal since the key last had room.
func (l *limiter) take(now time.Time, keys ...string) (ok bool, retry time.Duration, first bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.tries) > maxLimiterKeys {
		for k := range l.tries {
			l.recent(k, now)
		}
	}
	for _, k := range keys {
		if ts := l.recent(k, now); len(ts) >= l.limit.Attempts {
			retry = max(retry, ts[len(ts)-l.limit.Attempts].Add(l.limit.Window).Sub(now))
			first = first || !l.tripped[k]
			l.tripped[k] = true
		}
	}
	if retry > 0 {
		return false, retry, first
	}
	for _, k := range keys {
		l.tries[k] = append(l.tries[k], now)
	}
	return true, 0, false
}

// refund forgets the latest attempt under each key: a successful sign-in
// does not count against the people behind the same plant NAT.
func (l *limiter) refund(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if ts := l.tries[k]; len(ts) > 0 {
			l.tries[k] = ts[:len(ts)-1]
		}
	}
}
