package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
)

// testNow is the fixed clock of test servers.
var testNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// backend is the set of services a test server serves.
type backend struct {
	Products mes.ProductService
	Batches  mes.BatchService
	Burs     mes.BurService
	Events   mes.EventStore
	Backup   mes.Backuper
}

func backendOf(m *memStore) backend {
	return backend{Products: m, Batches: m, Burs: m, Events: m, Backup: m}
}

// MustLine returns the default line configuration.
func MustLine(tb testing.TB) *mes.LineConfig {
	tb.Helper()
	line, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(tb, err)
	return line
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newTestServer returns a server over be with a fixed clock, a log buffer
// and its own account store, in which an admin is signed in for do.
func newTestServer(tb testing.TB, line *mes.LineConfig, be backend) (*Server, *logBuffer) {
	tb.Helper()
	logs := &logBuffer{}
	acc := openAccess(tb, func() time.Time { return testNow })
	s := &Server{
		Addr:     "127.0.0.1:0",
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Line:     line,
		Products: be.Products, Batches: be.Batches, Burs: be.Burs, Events: be.Events, Backup: be.Backup,
		Users: acc.Users, Orgs: acc.Orgs, Sessions: acc.Sessions, Tokens: acc.Tokens, Audit: acc.Audit,
		PasswordParams: testPasswordParams,
		LineClock:      mes.LineClockFrom(func() time.Time { return testNow }), WallClock: mes.NewWallClock(func() time.Time { return testNow }),
	}
	// Routes are built at the first request, so a test may still set fields.
	adminTokens.Store(s, mustToken(tb, s, mustUser(tb, s, testAdmin, mes.RoleAdmin, "")))
	return s, logs
}

// testAdmin is the user do signs in as.
const testAdmin = "admin"

// adminTokens holds the bearer token do uses for each test server.
var adminTokens sync.Map // *Server → string

// do sends one request to s as the test admin and returns the recorded
// response. An "Authorization" header among header replaces the admin's
// token ("" makes the request anonymous).
func do(tb testing.TB, s *Server, method, target, body string, header ...string) *httptest.ResponseRecorder {
	tb.Helper()
	if tok, ok := adminTokens.Load(s); ok {
		header = append([]string{"Authorization", "Bearer " + tok.(string)}, header...)
	}
	return send(tb, s, method, target, body, header...)
}

// send sends one request to s with exactly the given headers (an empty
// value leaves the header out).
func send(tb testing.TB, s *Server, method, target, body string, header ...string) *httptest.ResponseRecorder {
	tb.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

// decode parses a JSON response body into v.
func decode[T any](tb testing.TB, rec *httptest.ResponseRecorder) T {
	tb.Helper()
	var v T
	require.NoError(tb, json.Unmarshal(rec.Body.Bytes(), &v), "body: %s", rec.Body.String())
	return v
}

// requireStatus checks the status and shows the body when it differs.
func requireStatus(tb testing.TB, want int, rec *httptest.ResponseRecorder) {
	tb.Helper()
	require.Equal(tb, want, rec.Code, "body: %s", rec.Body.String())
}

// assertJSONError checks an error response: status, JSON content type, the
// {"error": {"code", "message"}} shape, and that the message mentions want.
func assertJSONError(tb testing.TB, rec *httptest.ResponseRecorder, status int, code, want string) {
	tb.Helper()
	assert.Equal(tb, status, rec.Code, "body: %s", rec.Body.String())
	assert.True(tb, strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json"), "content type %q", rec.Header().Get("Content-Type"))
	var body ErrorBody
	if !assert.NoError(tb, json.Unmarshal(rec.Body.Bytes(), &body), "body: %s", rec.Body.String()) {
		return
	}
	assert.Equal(tb, code, body.Error.Code, "body: %s", rec.Body.String())
	assert.NotEmpty(tb, body.Error.Message)
	if want != "" {
		assert.Contains(tb, body.Error.Message, want)
	}
}

// demoProductJSON is the line's demo product as a request body.
func demoProductJSON(tb testing.TB, line *mes.LineConfig) string {
	tb.Helper()
	b, err := json.Marshal(line.Products[0])
	require.NoError(tb, err)
	return string(b)
}

// seedProduct stores the line's demo product through the API.
func seedProduct(tb testing.TB, s *Server) *mes.Product {
	tb.Helper()
	rec := do(tb, s, http.MethodPost, "/api/v1/products", demoProductJSON(tb, s.Line))
	requireStatus(tb, http.StatusCreated, rec)
	return decode[*mes.Product](tb, rec)
}

// seedBatch creates a batch through the API and returns it.
func seedBatch(tb testing.TB, s *Server, body string) batchView {
	tb.Helper()
	rec := do(tb, s, http.MethodPost, "/api/v1/batches", body)
	requireStatus(tb, http.StatusCreated, rec)
	return decode[batchView](tb, rec)
}

// dump is the business data of a store as JSON: every product, batch, bur
// and event. Two equal dumps mean nothing was changed.
func dump(tb testing.TB, be backend) string {
	tb.Helper()
	ctx := context.Background()
	products, err := be.Products.ListProducts(ctx)
	require.NoError(tb, err)
	batches, err := be.Batches.ListBatches(ctx, mes.BatchFilter{})
	require.NoError(tb, err)
	burs := map[string][]*mes.Bur{}
	for _, b := range batches {
		bs, err := be.Burs.ListBurs(ctx, b.ID)
		require.NoError(tb, err)
		burs[b.ID] = bs
	}
	var events []mes.MachineEvent
	for e, err := range be.Events.Events(ctx, mes.EventFilter{}) {
		require.NoError(tb, err)
		events = append(events, e)
	}
	out, err := json.MarshalIndent(map[string]any{"products": products, "batches": batches, "burs": burs, "events": events}, "", " ")
	require.NoError(tb, err)
	return string(out)
}
