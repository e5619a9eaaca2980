package ui

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
)

// MaxTokenDays bounds a token's life; zero days means it never expires.
const MaxTokenDays = 3650

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	Name          string `json:"name"`
	ExpiresInDays int    `json:"expires_in_days"` // 0: never
}

// NewToken answers POST /api/v1/tokens. Secret is shown this once: the
// server keeps only its hash.
type NewToken struct {
	Token  *mes.APIToken `json:"token"`
	Secret string        `json:"secret"`
}

type tokenList struct {
	Tokens []*mes.APIToken `json:"tokens"`
}

// tokenHintLen is how much of a secret the list shows: the prefix and a
// few characters, to tell tokens apart, nowhere near enough to guess one.
const tokenHintLen = len(mes.TokenPrefix) + 4

// handleListTokens lists the caller's own tokens.
func (s *Server) handleListTokens(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	if s.Tokens == nil {
		return unavailable("tokens")
	}
	ts, err := s.Tokens.ListTokens(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []*mes.APIToken{}
	}
	return c.JSON(http.StatusOK, tokenList{Tokens: ts})
}

func (s *Server) handleCreateToken(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	var req TokenRequest
	if err := s.decodeJSON(c, &req, false); err != nil {
		return err
	}
	if err := validText("name", req.Name, true); err != nil {
		return err
	}
	if req.ExpiresInDays < 0 || req.ExpiresInDays > MaxTokenDays {
		return invalid("expires_in_days: want 0 (never) to %d, got %d", MaxTokenDays, req.ExpiresInDays)
	}
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	if s.Tokens == nil {
		return unavailable("tokens")
	}
	secret := mes.NewSecret(mes.TokenPrefix)
	t := &mes.APIToken{User: u.ID, Name: req.Name, Hash: mes.HashSecret(secret), Hint: secret[:tokenHintLen]}
	if req.ExpiresInDays > 0 {
		t.Expires = s.WallClock.Now().UTC().Add(time.Duration(req.ExpiresInDays) * 24 * time.Hour)
	}
	if err := s.Tokens.CreateToken(c.Request().Context(), t); err != nil {
		return err
	}
	_ = s.audit(c, mes.AuditEntry{Actor: u.ID, Action: mes.AuditCreate, ObjectType: mes.AuditObjectToken, ObjectID: t.ID, New: auditJSON(t)})
	c.Response().Header().Set(echo.HeaderLocation, APIPrefix+"/tokens/"+t.ID)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, NewToken{Token: t, Secret: secret})
}

// handleRevokeToken revokes one of the caller's tokens (an admin may revoke
// anyone's). Someone else's token is answered as one that does not exist.
func (s *Server) handleRevokeToken(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := checkQuery(c); err != nil {
		return err
	}
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	if s.Tokens == nil {
		return unavailable("tokens")
	}
	ctx := c.Request().Context()
	notFound := mes.Errorf(mes.ENOTFOUND, "token %q not found", id)
	t, err := s.Tokens.FindToken(ctx, id)
	if mes.ErrorCode(err) == mes.ENOTFOUND || err == nil && t.User != u.ID && u.Role != mes.RoleAdmin {
		return notFound
	} else if err != nil {
		return err
	}
	revoked, err := s.Tokens.RevokeToken(ctx, id, s.WallClock.Now())
	if err != nil {
		return err
	}
	_ = s.audit(c, mes.AuditEntry{Actor: u.ID, Action: mes.AuditDelete, ObjectType: mes.AuditObjectToken, ObjectID: id,
		Old: auditJSON(t), New: auditJSON(revoked), Reason: "revoked"})
	return c.JSON(http.StatusOK, revoked)
}
