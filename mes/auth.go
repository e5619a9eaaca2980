package mes

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"time"
)

// Audit object types of the access trail.
const (
	AuditObjectOrg     = "org"
	AuditObjectToken   = "token"
	AuditObjectSession = "session"
	AuditObjectRoute   = "route" // a permission denial names the route asked for
)

// TokenPrefix starts every API bearer token, so a leaked token is
// recognisable by secret scanners and in logs.
const TokenPrefix = "plt_"

// SecretBytes is the entropy of session ids, CSRF tokens, API tokens and
// setup tokens: 256 bits, beyond any guessing.
const SecretBytes = 32

// NewSecret returns prefix followed by SecretBytes random bytes in unpadded
// base64url.
func NewSecret(prefix string) string {
	b := make([]byte, SecretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics on a broken OS source)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// HashSecret returns the hex SHA-256 of a secret, the form in which
// session ids and API tokens are stored.
//
// IMPORTANT: a single unsalted hash is enough only because these secrets
// carry 256 random bits; passwords need a slow, salted hash instead.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// SecretEqual compares two secrets in time independent of where they differ.
func SecretEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// userIDPattern is what a login name may look like.
var userIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,63}$`)

// orgIDPattern is what an organisation slug may look like.
var orgIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,63}$`)

// ValidateUserID checks a login name: 2–64 lower-case letters, digits,
// '.', '_' or '-', starting with a letter or digit. Errors: EINVALID.
func ValidateUserID(id string) error {
	if !userIDPattern.MatchString(id) || strings.Contains(id, "..") {
		return Errorf(EINVALID, "user id: want 2-64 lower-case letters, digits, '.', '_', '-', got %q", clip(id))
	}
	return nil
}

// ValidateOrgID checks an organisation slug. Errors: EINVALID.
func ValidateOrgID(id string) error {
	if !orgIDPattern.MatchString(id) {
		return Errorf(EINVALID, "org id: want a slug of 2-64 lower-case letters, digits and '-', got %q", clip(id))
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Validate checks a user before it is stored: a valid id and role, an
// organisation for a customer and none for staff. Errors: EINVALID.
func (u *User) Validate() error {
	switch {
	case u == nil:
		return Errorf(EINVALID, "user: missing")
	case !u.Role.Valid():
		return Errorf(EINVALID, "role: want admin, engineer, qa or customer, got %q", clip(string(u.Role)))
	case u.Role == RoleCustomer && u.Org == "":
		return Errorf(EINVALID, "org: a customer belongs to an organisation")
	case u.Role != RoleCustomer && u.Org != "":
		return Errorf(EINVALID, "org: only customers belong to an organisation")
	}
	if err := ValidateUserID(u.ID); err != nil {
		return err
	}
	if u.Org != "" {
		return ValidateOrgID(u.Org)
	}
	return nil
}

// Validate checks an organisation before it is stored. Errors: EINVALID.
func (o *Org) Validate() error {
	if o == nil {
		return Errorf(EINVALID, "org: missing")
	}
	if err := ValidateOrgID(o.ID); err != nil {
		return err
	}
	if strings.TrimSpace(o.Name) == "" {
		return Errorf(EINVALID, "name: required")
	}
	return nil
}

// Session is a signed-in browser. Only the hash of its id is stored, so a
// copy of the store does not let anyone take over a session.
type Session struct {
	IDHash  string    `json:"id_hash"` // HashSecret of the cookie value
	User    string    `json:"user"`
	CSRF    string    `json:"csrf"` // the token state-changing requests must echo in X-CSRF-Token
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// APIToken is a bearer token a user created for an API client. The secret
// is shown once at creation; only its hash is stored.
type APIToken struct {
	ID      string    `json:"id"` // e.g. "T000007"; names the token, not a secret
	User    string    `json:"user"`
	Name    string    `json:"name"` // what the user called it, e.g. "MES bridge"
	Hash    string    `json:"-"`
	Hint    string    `json:"hint"` // the first characters of the secret, to tell tokens apart
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"` // zero: never
	Revoked time.Time `json:"revoked,omitzero"`
}

// Active reports whether t authenticates at time now.
func (t *APIToken) Active(now time.Time) bool {
	return t != nil && t.Revoked.IsZero() && (t.Expires.IsZero() || now.Before(t.Expires))
}

// UserFilter selects users. Zero fields match everything.
type UserFilter struct {
	Org  string
	Role Role
}

// UserService stores users and their password hashes.
type UserService interface {
	// CreateUser stores a new user (Created set by the store).
	// Errors: EINVALID, ECONFLICT (id taken).
	CreateUser(ctx context.Context, u *User) error
	// CreateFirstAdmin stores u, an admin, only if no admin exists yet; the
	// check and the write are one transaction, so two setups cannot both
	// win. Errors: EINVALID, ECONFLICT (an admin exists).
	CreateFirstAdmin(ctx context.Context, u *User) error
	// FindUser returns one user with its password hash. Errors: ENOTFOUND.
	FindUser(ctx context.Context, id string) (*User, error)
	// ListUsers returns the users matching f ordered by id.
	ListUsers(ctx context.Context, f UserFilter) ([]*User, error)
	// UpdateUser applies fn to the stored user and stores the result, in one
	// transaction. fn may refuse with an error, which is returned as is.
	// Errors: ENOTFOUND, EINVALID (the result does not validate).
	UpdateUser(ctx context.Context, id string, fn func(u *User) error) (*User, error)
}

// OrgService stores customer organisations.
type OrgService interface {
	// CreateOrg stores a new organisation. Errors: EINVALID, ECONFLICT.
	CreateOrg(ctx context.Context, o *Org) error
	// FindOrg returns one organisation. Errors: ENOTFOUND.
	FindOrg(ctx context.Context, id string) (*Org, error)
	// ListOrgs returns every organisation ordered by id.
	ListOrgs(ctx context.Context) ([]*Org, error)
}

// SessionService stores browser sessions.
type SessionService interface {
	// CreateSession stores s and drops sessions that have expired.
	CreateSession(ctx context.Context, s *Session) error
	// FindSession returns the session whose id hashes to idHash, if it has
	// not expired at now. Errors: ENOTFOUND (unknown or expired).
	FindSession(ctx context.Context, idHash string, now time.Time) (*Session, error)
	// DeleteSession ends one session; ending an unknown one is no error.
	DeleteSession(ctx context.Context, idHash string) error
	// DeleteUserSessions ends every session of user (after a password
	// reset or when the user is disabled) and returns how many.
	DeleteUserSessions(ctx context.Context, user string) (int, error)
}

// TokenService stores API bearer tokens.
type TokenService interface {
	// CreateToken assigns ID and stores t. Errors: EINVALID.
	CreateToken(ctx context.Context, t *APIToken) error
	// FindTokenByHash returns the token whose secret hashes to hash,
	// revoked or not. Errors: ENOTFOUND.
	FindTokenByHash(ctx context.Context, hash string) (*APIToken, error)
	// FindToken returns a token by id. Errors: ENOTFOUND.
	FindToken(ctx context.Context, id string) (*APIToken, error)
	// ListTokens returns the tokens of user ("" for everyone's) in id order.
	ListTokens(ctx context.Context, user string) ([]*APIToken, error)
	// RevokeToken marks the token revoked at at; it no longer authenticates.
	// Errors: ENOTFOUND, ECONFLICT (already revoked).
	RevokeToken(ctx context.Context, id string, at time.Time) (*APIToken, error)
}
