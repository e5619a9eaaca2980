package ui

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
)

// LoginRequest is the body of POST /api/v1/login.
type LoginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// SessionInfo answers POST /api/v1/login and GET /api/v1/me: who is signed
// in and, for a browser session, the CSRF token its writes must send.
type SessionInfo struct {
	User      *mes.User `json:"user"`
	CSRFToken string    `json:"csrf_token,omitempty"`
	Expires   time.Time `json:"expires,omitzero"`
}

// SetupRequest is the body of POST /api/v1/setup.
type SetupRequest struct {
	Token    string `json:"token"` // the one-time setup token Bootstrap printed
	User     string `json:"user"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// errBadLogin is the one answer to every failed sign-in, so a client cannot
// tell an unknown user from a wrong password or a disabled account.
var errBadLogin = mes.Errorf(mes.EUNAUTHORIZED, "wrong user or password")

// mountAccess registers sign-in, accounts, organisations and tokens.
func (s *Server) mountAccess(g *echo.Group) {
	g.POST("/login", s.handleLogin)
	g.POST("/logout", s.handleLogout)
	g.POST("/setup", s.handleSetup)
	g.GET("/me", s.handleMe, s.allow(everyone...))

	g.GET("/orgs", s.handleListOrgs, s.allow(mes.RoleAdmin))
	g.POST("/orgs", s.handleCreateOrg, s.allow(mes.RoleAdmin))

	g.GET("/users", s.handleListUsers, s.allow(mes.RoleAdmin))
	g.POST("/users", s.handleCreateUser, s.allow(mes.RoleAdmin))
	g.PATCH("/users/:id", s.handleUpdateUser, s.allow(mes.RoleAdmin))

	g.GET("/tokens", s.handleListTokens, s.allow(everyone...))
	g.POST("/tokens", s.handleCreateToken, s.allow(everyone...))
	g.DELETE("/tokens/:id", s.handleRevokeToken, s.allow(everyone...))
}

func (s *Server) handleLogin(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	var req LoginRequest
	if err := s.decodeJSON(c, &req, false); err != nil {
		return err
	}
	switch {
	case req.User == "" || req.Password == "":
		return invalid("user and password: required")
	case len(req.User) > maxIDLen:
		return invalid("user: longer than %d characters", maxIDLen)
	case len(req.Password) > MaxPasswordLen:
		return invalid("password: longer than %d bytes", MaxPasswordLen)
	}
	if s.Users == nil || s.Sessions == nil {
		return unavailable("sign-in")
	}
	name := strings.ToLower(strings.TrimSpace(req.User))
	keys := []string{"user:" + name, "ip:" + c.RealIP()}
	ok, retry, first := s.logins.take(s.WallClock.Now(), keys...)
	if !ok {
		if first {
			s.auditLoginFailed(c, name, "rate limited")
		}
		return tooManyAttempts(c, retry)
	}
	ctx := c.Request().Context()
	u, why, err := s.checkPassword(ctx, name, req.Password)
	if err != nil {
		return err
	}
	if why != "" {
		s.auditLoginFailed(c, name, why)
		return errBadLogin
	}
	s.logins.refund(keys...)
	// A fresh id at every sign-in: a session id planted before cannot be
	// carried into the signed-in session.
	if ck, err := c.Request().Cookie(SessionCookie); err == nil && ck.Value != "" {
		if err := s.Sessions.DeleteSession(ctx, mes.HashSecret(ck.Value)); err != nil {
			return err
		}
	}
	id, now := mes.NewSecret(""), s.WallClock.Now().UTC()
	sess := &mes.Session{IDHash: mes.HashSecret(id), User: u.ID, CSRF: mes.NewSecret(""), Created: now, Expires: now.Add(s.SessionTTL)}
	if err := s.audit(c, mes.AuditEntry{Actor: u.ID, Action: mes.AuditLogin, ObjectType: mes.AuditObjectUser, ObjectID: u.ID,
		New: auditJSON(map[string]string{"ip": c.RealIP(), "via": "password"})}); err != nil {
		return err // no sign-in without its record
	}
	if err := s.Sessions.CreateSession(ctx, sess); err != nil {
		return err
	}
	s.setSessionCookies(c, id, sess.CSRF, sess.Expires)
	return c.JSON(http.StatusOK, SessionInfo{User: u, CSRFToken: sess.CSRF, Expires: sess.Expires})
}

// checkPassword verifies name's password. why is the reason for the audit
// trail when the sign-in fails ("" when it succeeds); err is for the server's
// own failures only.
func (s *Server) checkPassword(ctx context.Context, name, password string) (u *mes.User, why string, err error) {
	u, err = s.Users.FindUser(ctx, name)
	switch {
	case mes.ErrorCode(err) == mes.ENOTFOUND:
		// Spend the same time as for a real user, so timing does not tell
		// which names exist.
		_, _ = VerifyPassword(ctx, s.dummyHash(ctx), password)
		return nil, "unknown user", nil
	case err != nil:
		return nil, "", err
	case u.PasswordHash == "":
		_, _ = VerifyPassword(ctx, s.dummyHash(ctx), password)
		return nil, "no password set", nil
	}
	match, err := VerifyPassword(ctx, u.PasswordHash, password)
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return nil, "", err
	case err != nil:
		s.Logger.Error("sign-in: stored password hash unreadable", "user", u.ID, "err", err)
		return nil, "stored password hash unreadable", nil
	case !match:
		return nil, "wrong password", nil
	case u.Disabled:
		return nil, "account disabled", nil
	}
	return u, "", nil
}

// dummyHash is a hash with the server's parameters that no password matches.
func (s *Server) dummyHash(ctx context.Context) string {
	s.dummyOnce.Do(func() {
		s.dummy, _ = HashPassword(ctx, mes.NewSecret(""), s.PasswordParams)
	})
	return s.dummy
}

// setSessionCookies sets (or, with an empty id, clears) the session and
// CSRF cookies.
func (s *Server) setSessionCookies(c echo.Context, id, csrf string, expires time.Time) {
	maxAge := int(expires.Sub(s.WallClock.Now()).Seconds())
	if id == "" {
		maxAge = -1
	}
	secure := c.IsTLS()
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: id, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	c.SetCookie(&http.Cookie{Name: CSRFCookie, Value: csrf, Path: "/", MaxAge: maxAge,
		Secure: secure, SameSite: http.SameSiteStrictMode})
}

// handleLogout ends the browser's session. Without one it only clears the
// cookies, so signing out twice is not an error.
func (s *Server) handleLogout(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	if sess, ok := c.Get(ctxSession).(*mes.Session); ok && s.Sessions != nil {
		if err := s.Sessions.DeleteSession(c.Request().Context(), sess.IDHash); err != nil {
			return err
		}
		_ = s.audit(c, mes.AuditEntry{Actor: sess.User, Action: mes.AuditLogout, ObjectType: mes.AuditObjectUser, ObjectID: sess.User})
	}
	s.setSessionCookies(c, "", "", time.Time{})
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) handleMe(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	info := SessionInfo{User: u}
	if sess, ok := c.Get(ctxSession).(*mes.Session); ok {
		info.CSRFToken, info.Expires = sess.CSRF, sess.Expires
	}
	return c.JSON(http.StatusOK, info)
}

// handleSetup creates the first admin with the one-time setup token.
func (s *Server) handleSetup(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	var req SetupRequest
	if err := s.decodeJSON(c, &req, false); err != nil {
		return err
	}
	u := &mes.User{ID: req.User, Name: req.Name, Email: req.Email, Role: mes.RoleAdmin}
	if err := s.validNewUser(u, req.Password); err != nil {
		return err
	}
	if req.Token == "" {
		return invalid("token: required (printed by pilotline serve at first start)")
	}
	if s.Users == nil {
		return unavailable("setup")
	}
	keys := []string{"setup", "ip:" + c.RealIP()}
	ok, retry, first := s.logins.take(s.WallClock.Now(), keys...)
	if !ok {
		if first {
			s.auditLoginFailed(c, req.User, "setup: rate limited")
		}
		return tooManyAttempts(c, retry)
	}
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	if s.SetupToken == "" || !mes.SecretEqual(req.Token, s.SetupToken) {
		s.auditLoginFailed(c, req.User, "setup: wrong or used token")
		return mes.Errorf(mes.EUNAUTHORIZED, "setup token wrong, or setup already done")
	}
	ctx := c.Request().Context()
	var err error
	if u.PasswordHash, err = HashPassword(ctx, req.Password, s.PasswordParams); err != nil {
		return err
	}
	if err := s.Users.CreateFirstAdmin(ctx, u); err != nil {
		return err
	}
	s.SetupToken = ""
	s.logins.refund(keys...)
	_ = s.audit(c, mes.AuditEntry{Actor: u.ID, Action: mes.AuditCreate, ObjectType: mes.AuditObjectUser, ObjectID: u.ID,
		New: auditJSON(u), Reason: "first admin, by setup token"})
	return c.JSON(http.StatusCreated, u)
}

// BootstrapAdmin is the login name of the admin Bootstrap creates from a password.
const BootstrapAdmin = "admin"

// Bootstrap makes sure the first start can get an admin without a default
// password in the binary. If an admin exists it does nothing. Otherwise,
// with adminPassword (from --admin-password-env or PILOTLINE_ADMIN_PASSWORD)
// it creates the admin "admin" with it; without, it returns a one-time
// setup token for Server.SetupToken, for the operator to pass to
// POST /api/v1/setup. audit may be nil. Errors: EINVALID (a password
// outside the policy).
func Bootstrap(ctx context.Context, users mes.UserService, audit mes.AuditService, adminPassword string) (setupToken string, err error) {
	admins, err := users.ListUsers(ctx, mes.UserFilter{Role: mes.RoleAdmin})
	if err != nil {
		return "", err
	}
	if len(admins) > 0 {
		return "", nil
	}
	if adminPassword == "" {
		return mes.NewSecret("setup_"), nil
	}
	if err := validPassword("admin password", adminPassword); err != nil {
		return "", err
	}
	u := &mes.User{ID: BootstrapAdmin, Name: "Administrator", Role: mes.RoleAdmin}
	if u.PasswordHash, err = HashPassword(ctx, adminPassword, DefaultPasswordParams); err != nil {
		return "", err
	}
	if err := users.CreateFirstAdmin(ctx, u); err != nil {
		return "", err
	}
	if audit != nil {
		if _, err := audit.AppendAudit(ctx, mes.AuditEntry{Time: u.Created, Actor: "system", Action: mes.AuditCreate,
			ObjectType: mes.AuditObjectUser, ObjectID: u.ID, New: auditJSON(u), Reason: "first admin, from the environment"}); err != nil {
			return "", err
		}
	}
	return "", nil
}
