package ui

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestWebLandings checks that the front end's folders open on their page
// rather than redirecting to themselves.
func TestWebLandings(t *testing.T) {
	s := &Server{AnonymousViewer: true}
	h := s.Handler()
	for _, tt := range []struct{ path, want string }{
		{"/portal/", "/portal/booking.html"},
		{"/portal", "/portal/booking.html"},
		{"/qa/", "/qa/review.html"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		assert.Equal(t, http.StatusFound, rec.Code, tt.path)
		assert.Equal(t, tt.want, rec.Header().Get("Location"), tt.path)
	}
}
