package ui

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// BenchmarkPasswordHash measures one password check at
// DefaultPasswordParams, the cost of a sign-in, with p50 and p99.
func BenchmarkPasswordHash(b *testing.B) {
	ctx := context.Background()
	hash, err := HashPassword(ctx, testPassword, DefaultPasswordParams)
	require.NoError(b, err)
	var d []time.Duration
	for b.Loop() {
		start := time.Now()
		ok, err := VerifyPassword(ctx, hash, testPassword)
		d = append(d, time.Since(start))
		if err != nil || !ok {
			b.Fatal("verify failed", err)
		}
	}
	reportPercentiles(b, d)
}

// BenchmarkLogin is POST /api/v1/login end to end at DefaultPasswordParams:
// hash check, audit entry and session written to bbolt.
func BenchmarkLogin(b *testing.B) {
	line := MustLine(b)
	s, _ := newTestServer(b, line, openBackend(b, line))
	s.PasswordParams = DefaultPasswordParams
	s.LoginLimit = LoginLimit{Attempts: 1 << 30}
	mustUser(b, s, "li.wei", mes.RoleEngineer, "")
	body := `{"user":"li.wei","password":"` + testPassword + `"}`
	var d []time.Duration
	for b.Loop() {
		start := time.Now()
		rec := send(b, s, http.MethodPost, "/api/v1/login", body)
		d = append(d, time.Since(start))
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Body.String())
		}
	}
	reportPercentiles(b, d)
}

func reportPercentiles(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	if len(d) == 0 {
		return
	}
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(d[min(len(d)-1, len(d)*99/100)].Microseconds())/1000, "p99-ms")
}
