package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
)

// APIPrefix is where the JSON API lives.
const APIPrefix = "/api/v1"

// mountAPI registers the JSON API, /healthz and /metrics, each route with
// the roles it admits (authenticate has already turned away anonymous
// requests to routes that are not public).
//
// IMPORTANT: every write handler validates its whole input before it calls a
// service, so a rejected request never changes stored data.
func (s *Server) mountAPI() {
	e := s.echo
	e.GET("/healthz", s.handleHealth)
	metrics := s.Metrics.Handler()
	e.GET("/metrics", func(c echo.Context) error {
		if err := checkQuery(c); err != nil {
			return err
		}
		metrics.ServeHTTP(c.Response(), c.Request())
		return nil
	}, s.allow(staffRoles...))

	engineers := s.allow(mes.RoleEngineer, mes.RoleAdmin)
	g := e.Group(APIPrefix)
	s.mountAccess(g)
	g.GET("/line", s.handleLine, s.allow(staffRoles...))

	g.GET("/products", s.handleListProducts, s.allow(everyone...))
	g.POST("/products", s.handleCreateProduct, engineers)
	g.GET("/products/:iso", s.handleGetProduct, s.allow(everyone...))

	// Customers reach batches and burs too, scoped to their organisation by
	// the handlers (visibleBatch).
	g.GET("/batches", s.handleListBatches, s.allow(everyone...))
	g.POST("/batches", s.handleCreateBatch, engineers)
	g.GET("/batches/:id", s.handleGetBatch, s.allow(everyone...))
	g.GET("/batches/:id/burs", s.handleListBatchBurs, s.allow(everyone...))
	for action := range batchActions {
		g.POST("/batches/:id/"+action, s.handleBatchAction(action), s.allow(batchActionRoles[action]...))
	}

	g.GET("/burs/:serial", s.handleGetBur, s.allow(everyone...))
	g.GET("/kpi", s.handleKPI, s.allow(staffRoles...))
	s.mountReport(g)
	g.GET("/events", s.handleEvents, s.allow(staffRoles...))
	g.GET("/backup", s.handleBackup, s.allow(mes.RoleAdmin))

	// Unknown API paths answer in JSON even when the web front end serves
	// everything else (its SPA fallback must not swallow API typos).
	g.RouteNotFound("/*", s.apiNotFound)
}

// apiNotFound answers a request no API route took: 405 with Allow when the
// path exists for other methods, 404 otherwise. (The catch-all route would
// otherwise turn every wrong method into a 404.)
func (s *Server) apiNotFound(c echo.Context) error {
	r := c.Request()
	var allow []string
	for _, rt := range s.echo.Routes() {
		if rt.Method != echo.RouteNotFound && strings.HasPrefix(rt.Path, APIPrefix+"/") && !strings.HasSuffix(rt.Path, "*") &&
			routeMatches(rt.Path, r.URL.Path) && !slices.Contains(allow, rt.Method) {
			allow = append(allow, rt.Method)
		}
	}
	if len(allow) > 0 {
		slices.Sort(allow)
		c.Response().Header().Set(echo.HeaderAllow, strings.Join(allow, ", "))
		return httpError(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
			fmt.Sprintf("%s %s: method not allowed (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")))
	}
	return httpError(http.StatusNotFound, mes.ENOTFOUND, "no such API route: "+r.Method+" "+r.URL.Path)
}

// routeMatches reports whether path fits the route template (":name"
// segments match any one non-empty segment).
func routeMatches(template, path string) bool {
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if !(ts[i] == ps[i] || strings.HasPrefix(ts[i], ":") && ps[i] != "") {
			return false
		}
	}
	return true
}

// unavailable is the error for an endpoint whose service is not wired.
func unavailable(what string) error {
	return httpError(http.StatusServiceUnavailable, CodeUnavailable, what+": not available on this server")
}

// Input limits shared by the handlers.
const (
	maxIDLen   = mes.MaxIDLen // batch ids, serials, machine ids, lots, programs
	maxTextLen = 500          // names, reasons, organisations
)

// validID checks an identifier from a path, query or body (mes.ValidID).
func validID(field, v string) error { return mes.ValidID(field, v) }

// pathID returns the path parameter name, validated as an id.
func pathID(c echo.Context, name string) (string, error) {
	v := c.Param(name)
	if u, err := url.PathUnescape(v); err == nil {
		v = u
	}
	return v, validID(name, v)
}

// validText checks free text: bounded length, no control characters.
func validText(field, v string, required bool) error {
	if v == "" && required {
		return invalid("%s: required", field)
	}
	if len(v) > maxTextLen {
		return invalid("%s: longer than %d bytes", field, maxTextLen)
	}
	if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
		return invalid("%s: control character at byte %d", field, i)
	}
	if r, ok := bidiControl(v); ok {
		return invalid("%s: Unicode bidirectional control U+%04X is not allowed", field, r)
	}
	return nil
}

// decodeJSON strictly decodes the request body into v: the content type must
// be JSON, the body at most MaxBodyBytes, a single JSON value with no unknown
// fields and every value of the right type. Errors name the field.
// If optional is true an empty body leaves v untouched.
func (s *Server) decodeJSON(c echo.Context, v any, optional bool) error {
	r := c.Request()
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return httpError(http.StatusRequestEntityTooLarge, CodeTooLarge,
				fmt.Sprintf("request body: larger than the limit of %d bytes", tooBig.Limit))
		}
		return invalid("request body: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if optional {
			return nil
		}
		return invalid("request body: required (a JSON object)")
	}
	ct := r.Header.Get(echo.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != echo.MIMEApplicationJSON {
		return httpError(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
			fmt.Sprintf("Content-Type: want application/json, got %q", ct))
	}
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		return invalid("request body: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("request body: %s", describeJSONError(data, err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("request body: unexpected data after the JSON object")
	}
	return strictJSON(data, v)
}

// strictJSON refuses what encoding/json lets through: a member name given
// twice in one object (which value counts would depend on the reader), a
// name that matches a field only when case is ignored ("ORG" for "org"),
// and Unicode bidirectional controls in any string, which make text read
// differently from what it is (a printed name goes on e-signatures).
// v is what data was decoded into; it is not changed.
func strictJSON(data []byte, v any) error {
	dec := jsontext.NewDecoder(bytes.NewReader(data)) // duplicate names are an error by default
	for {
		tok, err := dec.ReadToken()
		if errors.Is(err, io.EOF) {
			break
		}
		var syn *jsontext.SyntacticError
		if errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName) {
			return invalid("field %q: given more than once", fieldOf(syn.JSONPointer))
		} else if err != nil {
			return invalid("request body: %v", err)
		}
		if tok.Kind() != '"' {
			continue
		}
		if r, ok := bidiControl(tok.String()); ok {
			return invalid("field %q: Unicode bidirectional control U+%04X is not allowed", fieldOf(dec.StackPointer()), r)
		}
	}
	// encoding/json's rules but for case and duplicates, into a fresh value.
	fresh := reflect.New(reflect.TypeOf(v).Elem()).Interface()
	err := jsonv2.Unmarshal(data, fresh, jsonv1.DefaultOptionsV1(), jsonv2.MatchCaseInsensitiveNames(false),
		jsonv2.RejectUnknownMembers(true), jsontext.AllowDuplicateNames(false))
	var sem *jsonv2.SemanticError
	if errors.As(err, &sem) && errors.Is(sem.Err, jsonv2.ErrUnknownName) {
		return invalid("unknown field %q (field names are case-sensitive)", fieldOf(sem.JSONPointer))
	} else if err != nil {
		return invalid("request body: %v", err)
	}
	return nil
}

// fieldOf names a JSON pointer's member as the error messages do:
// "/spec/name" is "spec.name".
func fieldOf(p jsontext.Pointer) string {
	return strings.ReplaceAll(strings.TrimPrefix(string(p), "/"), "/", ".")
}

// bidiControl returns the first Unicode bidirectional embedding, override or
// isolate control in s (U+202A–U+202E, U+2066–U+2069).
func bidiControl(s string) (rune, bool) {
	for _, r := range s {
		if r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 {
			return r, true
		}
	}
	return 0, false
}

// describeJSONError turns a decoding error into a message naming the field
// or the position, without Go type names a client cannot act on.
func describeJSONError(data []byte, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Sprintf("field %q: want %s, got JSON %s", field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of input"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "an integer in range"
	case strings.HasPrefix(k, "float"):
		return "a number"
	case k == "string":
		return "a string"
	case k == "bool":
		return "true or false"
	case k == "slice", k == "array":
		return "an array"
	case k == "map", k == "struct", k == "ptr":
		return "an object"
	}
	return k
}

// checkQuery rejects query parameters the endpoint does not know, so a typo
// (?stat=held) is an error rather than a silently unfiltered answer.
func checkQuery(c echo.Context, known ...string) error {
	for k := range c.QueryParams() {
		if !slices.Contains(known, k) {
			if len(known) == 0 {
				return invalid("query: unknown parameter %q (none accepted)", k)
			}
			return invalid("query: unknown parameter %q (accepted: %s)", k, strings.Join(known, ", "))
		}
	}
	return nil
}

// The dates the API accepts, in bodies and queries: from MinDate up to but
// not including MaxDate. Outside them a date is a typo (year 1, 9999), and
// beyond 2262 the store's nanosecond keys cannot represent it at all.
var (
	MinDate = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxDate = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// parseTime parses an RFC 3339 time of field and checks it is a date the
// API accepts.
func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invalid("%s: want an RFC 3339 time such as 2026-03-01T06:00:00Z, got %q", field, truncate(v, 40))
	}
	if t.Before(MinDate) || !t.Before(MaxDate) {
		return time.Time{}, invalid("%s: %s is outside the dates Pilotline accepts (%s to %s)", field, truncate(v, 40),
			MinDate.Format(time.DateOnly), MaxDate.Add(-time.Nanosecond).Format(time.DateOnly))
	}
	return t, nil
}

// queryTime parses an RFC 3339 time from the query; ok is false when absent.
func queryTime(c echo.Context, name string) (t time.Time, ok bool, err error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, false, nil
	}
	if t, err = parseTime(name, v); err != nil {
		return time.Time{}, false, err
	}
	return t, true, nil
}

// queryInt parses an integer in [lo, hi] from the query, def when absent.
func queryInt(c echo.Context, name string, def, lo, hi int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, invalid("%s: want an integer in %d..%d, got %q", name, lo, hi, v)
	}
	return n, nil
}

// queryRange parses from/to with a default window ending now. The range must
// be positive and at most maxSpan long.
func (s *Server) queryRange(c echo.Context, def, maxSpan time.Duration) (from, to time.Time, err error) {
	from, hasFrom, err := queryTime(c, "from")
	if err != nil {
		return from, to, err
	}
	to, hasTo, err := queryTime(c, "to")
	if err != nil {
		return from, to, err
	}
	switch {
	case !hasTo && !hasFrom:
		to = s.LineClock.Now()
		from = to.Add(-def)
	case !hasTo:
		to = from.Add(def)
	case !hasFrom:
		from = to.Add(-def)
	}
	if !from.Before(to) {
		return from, to, invalid("from: must be before to (from=%s, to=%s)", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if to.Sub(from) > maxSpan {
		return from, to, invalid("to: range longer than %s", maxSpan)
	}
	return from, to, nil
}

// machineParam validates a machine id from the query against the line.
func (s *Server) machineParam(c echo.Context) (string, error) {
	m := c.QueryParam("machine")
	if m == "" {
		return "", nil
	}
	if err := validID("machine", m); err != nil {
		return "", err
	}
	if s.Line != nil && !s.knownMachine(m) {
		return "", invalid("machine: unknown machine %q", m)
	}
	return m, nil
}

// knownMachine reports whether id is a machine, robot or station of the line.
func (s *Server) knownMachine(id string) bool {
	if _, ok := s.Line.Machine(id); ok {
		return true
	}
	for _, r := range s.Line.Robots {
		if r.ID == id {
			return true
		}
	}
	for _, st := range s.Line.Stations {
		if st.ID == id {
			return true
		}
	}
	return false
}
