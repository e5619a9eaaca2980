package mes

import (
	"context"
	"time"
)

// Role is what a user may do on the platform.
type Role string

// Roles.
const (
	RoleAdmin    Role = "admin"    // manages users, organisations and everything else
	RoleEngineer Role = "engineer" // runs the line: batches, dispatch, confirms bookings
	RoleQA       Role = "qa"       // quality: NCs, batch release with e-signature, trace exports
	RoleCustomer Role = "customer" // an enterprise's user: its own organisation's bookings and runs only
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleEngineer, RoleQA, RoleCustomer:
		return true
	}
	return false
}

// Org is a customer organisation (a tenant).
type Org struct {
	ID      string    `json:"id"` // short slug, e.g. "acme-dental"
	Name    string    `json:"name"`
	NameZH  string    `json:"name_zh,omitempty"`
	Created time.Time `json:"created"`
}

// User is a person who signs in.
//
// IMPORTANT: a customer always has Org set and sees only that organisation's
// objects; staff (admin, engineer, qa) have no Org and see everything.
type User struct {
	ID           string    `json:"id"`   // login name
	Name         string    `json:"name"` // printed name, used on e-signatures
	Email        string    `json:"email,omitempty"`
	Role         Role      `json:"role"`
	Org          string    `json:"org,omitempty"`
	PasswordHash string    `json:"-"`
	Disabled     bool      `json:"disabled,omitempty"`
	Created      time.Time `json:"created"`
}

// Staff reports whether the user belongs to the platform rather than a customer.
func (u *User) Staff() bool { return u != nil && u.Role != RoleCustomer }

// CanSee reports whether the user may see an object owned by org.
// Staff see everything; a customer sees only its own organisation's objects.
func (u *User) CanSee(org string) bool {
	return u != nil && (u.Staff() || (u.Org != "" && u.Org == org))
}

// userKey is the context key for the signed-in user.
type userKey struct{}

// NewContextWithUser returns a context carrying the signed-in user.
func NewContextWithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFromContext returns the signed-in user, or nil for an anonymous caller.
func UserFromContext(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}
