package ui

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/twin"
)

// ShutdownTimeout bounds graceful shutdown of the HTTP server.
const ShutdownTimeout = 5 * time.Second

// Connection timeouts of the HTTP server.
const (
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 2 * time.Minute
)

// DefaultMaxBodyBytes is the request body limit unless Server.MaxBodyBytes says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// ContentSecurityPolicy allows the page to load scripts, styles, images,
// fonts and connections (including the twin's WebSocket) from its own
// origin only, and to be framed by nobody.
const ContentSecurityPolicy = "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// Server is Pilotline's HTTP server. Set the fields, then call Open.
type Server struct {
	Addr   string // listen address, e.g. "127.0.0.1:8080"; port 0 picks a free port
	Logger *slog.Logger

	Line     *mes.LineConfig
	Products mes.ProductService
	Batches  mes.BatchService
	Burs     mes.BurService
	Events   mes.EventStore
	Backup   mes.Backuper
	Twin     *twin.Hub // live line: GET /ws/twin and GET /api/v1/line

	// Accounts and access. Without Users and Sessions nobody can sign in,
	// and every endpoint but /healthz (and the line view, with
	// AnonymousViewer) answers 401: the server fails closed.
	Users    mes.UserService
	Orgs     mes.OrgService
	Sessions mes.SessionService
	Tokens   mes.TokenService // bearer tokens; nil: cookie sessions only
	Audit    mes.AuditService // sign-ins, failures and denials; nil: logged only
	// AnonymousViewer opens the read-only line view (GET /api/v1/line,
	// GET /api/v1/batches, GET /ws/twin and the twin page) to anyone, for
	// andon screens on a trusted plant network. Customer data and every
	// write stay behind sign-in.
	AnonymousViewer bool
	// SetupToken, from Bootstrap, lets POST /api/v1/setup create the first
	// admin once. Empty: setup is closed.
	SetupToken string
	// TLSCert and TLSKey are PEM files; both set: Open serves HTTPS and
	// cookies are marked Secure.
	TLSCert, TLSKey string
	// SessionTTL is how long a browser stays signed in. Zero: DefaultSessionTTL.
	SessionTTL time.Duration
	// LoginLimit bounds sign-in attempts per user and per client address.
	LoginLimit LoginLimit
	// DenialLimit bounds the audit entries of one user's permission
	// denials (the requests are refused regardless). Zero: five a minute.
	DenialLimit LoginLimit
	// PasswordParams are the argon2id costs of new password hashes. Zero:
	// DefaultPasswordParams (tests lower them).
	PasswordParams PasswordParams

	// Portal is the booking portal: bookings, the capacity calendar,
	// quotes and notifications (api_bookings.go, api_calendar.go).
	Portal Portal

	// QA holds the quality services: nonconformances, e-signatures and the
	// trace exports. Unset: the QA endpoints answer 503.
	QA QA

	// Metrics is served at GET /metrics and fed with every request; the
	// integrator feeds its plant gauges. Nil: Open creates one.
	Metrics *Metrics
	// Health, if set, adds components to GET /healthz, e.g.
	// {"acquisition": {"status": "ok", "machines": 27}}. A component whose
	// value is a map with "status" other than "ok" marks the whole report
	// degraded (still 200: the server itself answers).
	Health func(ctx context.Context) map[string]any
	// KPI computes the KPI report for GET /api/v1/kpi and the takt of
	// GET /api/v1/line. Nil: kpi.Compute over Line, Events and Batches.
	KPI KPIFunc
	// MaxBodyBytes caps request bodies (413 beyond it). Zero: DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// LineClock is line time: the records the server makes about the line
	// (transitions, dispositions, signatures, bookings) and query defaults.
	// Nil: the host's clock.
	LineClock *mes.LineClock
	// WallClock is wall time: sessions, API tokens, the sign-in and e-signature
	// password limits, the setup token and uptime, so that a 12-hour
	// session lasts 12 real hours however fast the line runs. Zero: the
	// host's clock.
	WallClock mes.WallClock

	echo    *echo.Echo
	ln      net.Listener
	started time.Time // wall time, for uptime
	tls     bool

	logins  *limiter   // sign-in attempts
	denials *limiter   // audit entries of permission denials
	setupMu sync.Mutex // guards SetupToken once serving

	dummyOnce sync.Once // dummy: a password hash for unknown users to be checked against
	dummy     string

	taktMu   sync.Mutex // guards the takt cache of GET /api/v1/line
	taktAt   time.Time
	taktLast LineTakt
}

// Open builds the routes and starts listening. It returns once the listener
// is bound; URL then tells where.
func (s *Server) Open() error {
	s.setup()
	e := s.echo
	var tlsConf *tls.Config
	if s.TLSCert != "" || s.TLSKey != "" {
		if s.TLSCert == "" || s.TLSKey == "" {
			return mes.Errorf(mes.EINVALID, "tls: both a certificate and a key are needed")
		}
		cert, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		// HTTP/1.1 only: the twin's WebSocket upgrade needs it.
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.Addr, err)
	}
	if tlsConf != nil {
		ln, s.tls = tls.NewListener(ln, tlsConf), true
	}
	s.ln = ln
	go func() {
		if err := e.Server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Logger.Error("http server", "err", err)
		}
	}()
	return nil
}

// URL is the base URL of the web view, e.g. "http://127.0.0.1:8080/".
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	if s.tls {
		return "https://" + s.ln.Addr().String() + "/"
	}
	return "http://" + s.ln.Addr().String() + "/"
}

// Handler returns the server's http.Handler (for tests with httptest). It
// builds the routes if Open has not.
func (s *Server) Handler() http.Handler {
	s.setup()
	return s.echo
}

// setup fills the defaults and builds the Echo instance once.
func (s *Server) setup() {
	if s.echo != nil {
		return
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Metrics == nil {
		s.Metrics = NewMetrics()
	}
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if s.KPI == nil {
		s.KPI = s.computeKPI
	}
	if s.SessionTTL <= 0 {
		s.SessionTTL = DefaultSessionTTL
	}
	if s.PasswordParams == (PasswordParams{}) {
		s.PasswordParams = DefaultPasswordParams
	}
	s.logins = newLimiter(s.LoginLimit)
	s.denials = newLimiter(s.DenialLimit)
	if s.Users == nil || s.Sessions == nil {
		s.Logger.Warn("http: no user or session store: nobody can sign in; only /healthz and the anonymous line view answer")
	}
	s.started = s.WallClock.Now()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	// The peer address, never X-Forwarded-For: a client must not choose the
	// address its sign-in attempts are counted under.
	e.IPExtractor = echo.ExtractIPDirect()
	// No write timeout: backups and the twin's WebSocket stream for long.
	// A slow client still cannot hold a connection by dribbling headers.
	e.Server.ReadHeaderTimeout = ReadHeaderTimeout
	e.Server.IdleTimeout = IdleTimeout
	s.echo = e
	s.middleware()
	s.routes()
}

// middleware installs the chain, outermost first: metrics, request log,
// error rendering, panic recovery, security headers, body limit, then
// authentication and the sign-in gate (see authenticate).
func (s *Server) middleware() {
	s.echo.Use(
		s.metricsMiddleware,
		s.requestLogger(),
		s.renderErrors,
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
				s.Logger.Error("http: panic", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err, "stack", string(stack))
				return err
			},
		}),
		middleware.SecureWithConfig(middleware.SecureConfig{
			ContentTypeNosniff:    "nosniff",
			XFrameOptions:         "DENY",
			ContentSecurityPolicy: ContentSecurityPolicy,
			ReferrerPolicy:        "no-referrer",
		}),
		s.limitBody,
		s.authenticate,
	)
}

// ctxErr is the echo.Context key under which renderErrors leaves the
// handler's error for the request log.
const ctxErr = "pilotline.err"

// renderErrors renders a handler's error right away, so that the request
// log and the metrics outside it see the final status.
func (s *Server) renderErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := next(c); err != nil {
			c.Set(ctxErr, err)
			s.handleError(err, c)
		}
		return nil
	}
}

// requestLogger logs one line per request into the server's slog logger:
// at error level for 5xx, info otherwise.
func (s *Server) requestLogger() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogMethod:    true,
		LogURI:       true,
		LogRoutePath: true,
		LogStatus:    true,
		LogLatency:   true,
		LogRemoteIP:  true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			attrs := []slog.Attr{
				slog.String("method", v.Method), slog.String("uri", v.URI), slog.String("route", v.RoutePath),
				slog.Int("status", v.Status), slog.Duration("latency", v.Latency), slog.String("remote", v.RemoteIP),
			}
			level := slog.LevelInfo
			if v.Status >= 500 {
				level = slog.LevelError
			}
			if err, ok := c.Get(ctxErr).(error); ok {
				attrs = append(attrs, slog.String("err", err.Error()))
			}
			s.Logger.LogAttrs(c.Request().Context(), level, "http request", attrs...)
			return nil
		},
	})
}

// limitBody refuses bodies over MaxBodyBytes: at once when Content-Length
// says so, and while reading otherwise (decodeJSON reports that as 413).
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > s.MaxBodyBytes {
			return httpError(http.StatusRequestEntityTooLarge, CodeTooLarge,
				fmt.Sprintf("request body: %d bytes, limit %d", r.ContentLength, s.MaxBodyBytes))
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(c.Response(), r.Body, s.MaxBodyBytes)
		}
		return next(c)
	}
}

// Close shuts the server down gracefully within ShutdownTimeout.
func (s *Server) Close() error {
	if s.echo == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	return s.echo.Shutdown(ctx)
}
