package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
)

// Cookies and headers of browser sessions.
const (
	// SessionCookie holds the session id: HttpOnly, SameSite=Lax, Secure
	// over TLS. Only its hash is stored.
	SessionCookie = "pilotline_session"
	// CSRFCookie holds the session's CSRF token for the page's scripts to
	// read (not HttpOnly, SameSite=Strict).
	CSRFCookie = "pilotline_csrf"
	// CSRFHeader must carry the session's CSRF token on every
	// state-changing request authenticated by the session cookie.
	CSRFHeader = "X-CSRF-Token"
	// LoginPage is where a browser without a session is sent.
	LoginPage = "/login.html"
)

// DefaultSessionTTL is one long shift: a browser signs in again the next day.
const DefaultSessionTTL = 12 * time.Hour

// staffRoles are the platform's own people.
var staffRoles = []mes.Role{mes.RoleAdmin, mes.RoleEngineer, mes.RoleQA}

// everyone is every role, for endpoints any signed-in user may call.
var everyone = []mes.Role{mes.RoleAdmin, mes.RoleEngineer, mes.RoleQA, mes.RoleCustomer}

// ctxSession is the echo.Context key of the *mes.Session of a cookie-authenticated request.
const ctxSession = "pilotline.session"

// publicAssets are the files the sign-in page needs before anyone signs in.
var publicAssets = []string{"login.html", "login.js", "login.css", "favicon.ico", "favicon.svg",
	"lib/base.css", "lib/i18n.js", "lib/strings.json", "lib/api.js", "lib/dom.js"}

// anonymousRoutes are the routes of the read-only line view that
// AnonymousViewer opens (GET and HEAD only).
var anonymousRoutes = []string{APIPrefix + "/line", APIPrefix + "/batches", "/ws/twin", "/*"}

// authenticate finds who is asking (bearer token or session cookie), puts
// the user on the request context, checks the CSRF token of
// cookie-authenticated writes, and turns away anonymous requests to
// anything that is not public. Roles are checked per route (allow).
//
// IMPORTANT: this runs for every route, so a route added later is behind
// sign-in unless it is named in publicRoute.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Path() == APIPrefix+"/login" && c.Request().Method == http.MethodPost {
			// Signing in acts on no one's authority: the live session it
			// replaces (switching accounts) is not asked for its CSRF
			// token, which the sign-in page does not have. A sign-in from
			// another site is refused instead (sameOrigin).
			if err := sameOrigin(c.Request()); err != nil {
				return err
			}
			return next(c)
		}
		u, sess, err := s.identify(c)
		if err != nil {
			return err
		}
		r := c.Request()
		if u != nil {
			c.SetRequest(r.WithContext(mes.NewContextWithUser(r.Context(), u)))
			if sess != nil {
				c.Set(ctxSession, sess)
				if !safeMethod(r.Method) && !mes.SecretEqual(r.Header.Get(CSRFHeader), sess.CSRF) {
					s.deny(c, u, "csrf token missing or wrong")
					return mes.Errorf(mes.EFORBIDDEN, "CSRF token missing or wrong: send the %s header given at sign-in", CSRFHeader)
				}
			}
		} else if !s.publicRoute(c) {
			return s.signInFirst(c)
		}
		if u != nil && c.Path() == "/ws/twin" && !u.Staff() {
			if err := s.scopeTwin(c, u); err != nil {
				return err
			}
		}
		return next(c)
	}
}

// sameOrigin refuses a request a browser sent from another site: an Origin
// header naming another host, or Sec-Fetch-Site cross-site or same-site.
// Clients that send neither (API clients, old browsers) pass; a browser
// cannot send a JSON body cross-site without them. Errors: EFORBIDDEN.
func sameOrigin(r *http.Request) error {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return mes.Errorf(mes.EFORBIDDEN, "sign-in from another site refused")
	}
	if o := r.Header.Get(echo.HeaderOrigin); o != "" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return mes.Errorf(mes.EFORBIDDEN, "sign-in from another site refused")
		}
	}
	return nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// identify returns the signed-in user, if any. A bearer token that does not
// authenticate is a 401 (an API client must learn its token is bad); a
// stale session cookie just means "not signed in".
func (s *Server) identify(c echo.Context) (*mes.User, *mes.Session, error) {
	r := c.Request()
	ctx := r.Context()
	if h := r.Header.Get(echo.HeaderAuthorization); h != "" {
		u, err := s.bearerUser(ctx, h)
		if err != nil {
			return nil, nil, s.bearerFailed(c, err)
		}
		return u, nil, nil
	}
	ck, err := r.Cookie(SessionCookie)
	if err != nil || ck.Value == "" || s.Sessions == nil || s.Users == nil {
		return nil, nil, nil
	}
	sess, err := s.Sessions.FindSession(ctx, mes.HashSecret(ck.Value), s.WallClock.Now())
	if mes.ErrorCode(err) == mes.ENOTFOUND {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	u, err := s.Users.FindUser(ctx, sess.User)
	if mes.ErrorCode(err) == mes.ENOTFOUND {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	if u.Disabled {
		return nil, nil, nil
	}
	return u, sess, nil
}

// bearerUser resolves "Bearer plt_…". Errors: EUNAUTHORIZED, or the store's.
func (s *Server) bearerUser(ctx context.Context, header string) (*mes.User, error) {
	scheme, secret, _ := strings.Cut(header, " ")
	secret = strings.TrimSpace(secret)
	if !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(secret, mes.TokenPrefix) {
		return nil, mes.Errorf(mes.EUNAUTHORIZED, "Authorization: want \"Bearer %s…\"", mes.TokenPrefix)
	}
	if s.Tokens == nil || s.Users == nil {
		return nil, mes.Errorf(mes.EUNAUTHORIZED, "API tokens are not enabled on this server")
	}
	t, err := s.Tokens.FindTokenByHash(ctx, mes.HashSecret(secret))
	if mes.ErrorCode(err) == mes.ENOTFOUND || err == nil && !t.Active(s.WallClock.Now()) {
		return nil, mes.Errorf(mes.EUNAUTHORIZED, "API token unknown, expired or revoked")
	} else if err != nil {
		return nil, err
	}
	u, err := s.Users.FindUser(ctx, t.User)
	if mes.ErrorCode(err) == mes.ENOTFOUND || err == nil && u.Disabled {
		return nil, mes.Errorf(mes.EUNAUTHORIZED, "API token unknown, expired or revoked")
	}
	return u, err
}

// bearerFailed records a refused token (rate-limited per address, so a
// flood of bad tokens cannot flood the audit trail) and returns the error.
func (s *Server) bearerFailed(c echo.Context, err error) error {
	if mes.ErrorCode(err) != mes.EUNAUTHORIZED {
		return err
	}
	ok, retry, first := s.logins.take(s.WallClock.Now(), "ip:"+c.RealIP())
	if ok || first {
		s.auditLoginFailed(c, "", "bearer token: "+mes.ErrorMessage(err))
	}
	if !ok {
		return tooManyAttempts(c, retry)
	}
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="pilotline"`)
	return err
}

// publicRoute reports whether c's route answers without sign-in.
func (s *Server) publicRoute(c echo.Context) bool {
	p, m := c.Path(), c.Request().Method
	get := m == http.MethodGet || m == http.MethodHead
	switch {
	case p == "/healthz" && get:
		return true
	case m == http.MethodPost && (p == APIPrefix+"/login" || p == APIPrefix+"/logout" || p == APIPrefix+"/setup"):
		return true
	case p == "/*" && get && slices.Contains(publicAssets, webPath(c)):
		return true
	case s.AnonymousViewer && get && slices.Contains(anonymousRoutes, p):
		return true
	}
	return false
}

// webPath is the file a request to the web front end names, cleaned the
// way mountWeb cleans it.
func webPath(c echo.Context) string {
	return strings.TrimPrefix(path.Clean("/"+c.Param("*")), "/")
}

// signInFirst answers an anonymous request for something that needs a
// user: a browser asking for a page goes to the sign-in page, everything
// else gets 401.
func (s *Server) signInFirst(c echo.Context) error {
	r := c.Request()
	if c.Path() == "/*" && r.Method == http.MethodGet && strings.Contains(r.Header.Get(echo.HeaderAccept), "text/html") {
		return c.Redirect(http.StatusSeeOther, LoginPage+"?next="+url.QueryEscape(r.URL.RequestURI()))
	}
	return mes.Errorf(mes.EUNAUTHORIZED, "sign in first (POST %s/login, or Authorization: Bearer %s…)", APIPrefix, mes.TokenPrefix)
}

// allow returns route middleware that admits the given roles. An anonymous
// request reaching it was admitted by publicRoute (the line view).
func (s *Server) allow(roles ...mes.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if u := mes.UserFromContext(c.Request().Context()); u != nil && !slices.Contains(roles, u.Role) {
				s.deny(c, u, "role "+string(u.Role))
				return mes.Errorf(mes.EFORBIDDEN, "%s %s: not allowed for the %s role", c.Request().Method, c.Path(), u.Role)
			}
			return next(c)
		}
	}
}

// signedIn returns the user of a route that requires one. Errors: EUNAUTHORIZED.
func signedIn(c echo.Context) (*mes.User, error) {
	u := mes.UserFromContext(c.Request().Context())
	if u == nil {
		return nil, mes.Errorf(mes.EUNAUTHORIZED, "sign in first")
	}
	return u, nil
}

// deny records a permission denial in the audit trail, rate-limited per
// user (DenialLimit) so that a client repeating a forbidden request cannot
// grow the permanent trail at will: within a window the first denials are
// recorded one by one, then one entry says further ones go unrecorded.
// The request is refused either way.
func (s *Server) deny(c echo.Context, u *mes.User, why string) {
	r := c.Request()
	ok, retry, first := s.denials.take(s.WallClock.Now(), "user:"+u.ID)
	if !ok && !first {
		s.Logger.Debug("permission denied (not audited: limit reached)", "user", u.ID, "method", r.Method, "path", r.URL.Path)
		return
	}
	detail := map[string]string{"path": r.URL.Path, "ip": c.RealIP(), "reason": why}
	if !ok {
		detail["limited"] = fmt.Sprintf("further denials of %s are not recorded for %d s", u.ID, int(retry.Round(time.Second)/time.Second))
	}
	s.audit(c, mes.AuditEntry{Actor: u.ID, Action: mes.AuditDenied, ObjectType: mes.AuditObjectRoute,
		ObjectID: r.Method + " " + c.Path(), New: auditJSON(detail)})
}

// auditLoginFailed records a failed sign-in for the name the client gave.
func (s *Server) auditLoginFailed(c echo.Context, name, why string) {
	if name == "" {
		name = "(none)"
	}
	s.audit(c, mes.AuditEntry{Actor: "anonymous", Action: mes.AuditLoginFailed, ObjectType: mes.AuditObjectUser,
		ObjectID: truncate(name, maxIDLen), New: auditJSON(map[string]string{"ip": c.RealIP(), "reason": why})})
}

// audit appends e to the trail; a failure is logged, and returned for the
// callers (sign-in, account changes) that must not go on without a record.
func (s *Server) audit(c echo.Context, e mes.AuditEntry) error {
	if e.TimeBase() == mes.WallTime {
		e.Time = s.WallClock.Now().UTC()
	} else {
		e.Time = s.LineClock.Now().UTC()
	}
	if s.Audit == nil {
		s.Logger.Info("audit", "actor", e.Actor, "action", e.Action, "object", e.ObjectType+" "+e.ObjectID)
		return nil
	}
	if _, err := s.Audit.AppendAudit(c.Request().Context(), e); err != nil {
		s.Logger.Error("audit: append", "actor", e.Actor, "action", e.Action, "err", err)
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// auditJSON encodes v for an audit entry's old/new value.
func auditJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`null`)
	}
	return b
}

// tooManyAttempts is the 429 of the sign-in limit, with Retry-After.
func tooManyAttempts(c echo.Context, retry time.Duration) error {
	secs := int((retry + time.Second - 1) / time.Second)
	c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(max(secs, 1)))
	return httpError(http.StatusTooManyRequests, CodeTooManyRequests, fmt.Sprintf("too many sign-in attempts: try again in %d s", max(secs, 1)))
}

// visibleBatch returns the batch if u may see it. A batch of another
// organisation is answered exactly like one that does not exist.
func (s *Server) visibleBatch(ctx context.Context, u *mes.User, id string) (*mes.Batch, error) {
	b, err := s.Batches.FindBatch(ctx, id)
	if mes.ErrorCode(err) == mes.ENOTFOUND || err == nil && !u.CanSee(b.Org) {
		return nil, mes.Errorf(mes.ENOTFOUND, "batch %q not found", id)
	}
	return b, err
}

// customerTwinStates are the states whose batch a customer's twin shows
// by default, most interesting first.
var customerTwinStates = []mes.BatchState{mes.BatchRunning, mes.BatchReleased, mes.BatchHeld}

// scopeTwin forces a customer's /ws/twin onto one of its organisation's
// batches: the one asked for with ?batch= if it is theirs (404 as for a
// batch that does not exist otherwise), else their running (or released,
// or held, or latest) batch. The hub then blanks every other batch's burs.
func (s *Server) scopeTwin(c echo.Context, u *mes.User) error {
	if s.Batches == nil {
		return unavailable("twin")
	}
	r := c.Request()
	ctx := r.Context()
	q := r.URL.Query()
	id := q.Get("batch")
	if id != "" {
		if err := validID("batch", id); err != nil {
			return err
		}
		if _, err := s.visibleBatch(ctx, u, id); err != nil {
			return err
		}
	} else {
		bs, err := s.Batches.ListBatches(ctx, mes.BatchFilter{Org: u.Org})
		if err != nil {
			return err
		}
		if len(bs) == 0 {
			return mes.Errorf(mes.ENOTFOUND, "no batch of your organisation on the line yet")
		}
		id = bs[0].ID // newest
		for _, st := range slices.Backward(customerTwinStates) {
			for _, b := range bs {
				if b.State == st {
					id = b.ID
					break
				}
			}
		}
	}
	q.Set("batch", id)
	r.URL.RawQuery = q.Encode()
	return nil
}
