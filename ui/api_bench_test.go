package ui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkGetBur measures GET /api/v1/burs/{serial} through the whole
// middleware chain, and the store's FindBur alone as the baseline, on a
// real store; the ratio is the HTTP layer's cost.
func BenchmarkGetBur(b *testing.B) {
	line := MustLine(b)
	be := openBackend(b, line)
	s, _ := newTestServer(b, line, be)
	seedProduct(b, s)
	batch := seedBatch(b, s, `{"product": "500314001001014", "quantity": 200, "state": "released"}`)
	ctx := context.Background()
	var serials []string
	for range 200 {
		bur, err := be.Burs.StartBur(ctx, batch.ID, testNow)
		require.NoError(b, err)
		serials = append(serials, bur.Serial)
	}

	b.Run("store", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := be.Burs.FindBur(ctx, serials[i%len(serials)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("http", func(b *testing.B) {
		h := s.Handler()
		tok, ok := adminTokens.Load(s)
		require.True(b, ok, "the test server has an admin token")
		i := 0
		for b.Loop() {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/api/v1/burs/"+serials[i%len(serials)], nil)
			req.Header.Set("Authorization", "Bearer "+tok.(string))
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
			}
			i++
		}
	})
}
