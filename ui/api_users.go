package ui

import (
	"net/http"
	"net/mail"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
)

// UserRequest is the body of POST /api/v1/users.
type UserRequest struct {
	ID       string   `json:"id"` // login name
	Name     string   `json:"name"`
	Email    string   `json:"email"`
	Role     mes.Role `json:"role"`
	Org      string   `json:"org"` // customers only
	Password string   `json:"password"`
}

// UserPatch is the body of PATCH /api/v1/users/{id}: only the fields
// present change. Password is an admin's reset; it and Disabled end the
// user's sessions.
type UserPatch struct {
	Name     *string   `json:"name"`
	Email    *string   `json:"email"`
	Role     *mes.Role `json:"role"`
	Org      *string   `json:"org"`
	Disabled *bool     `json:"disabled"`
	Password *string   `json:"password"`
	Reason   string    `json:"reason"` // for the audit trail
}

type userList struct {
	Users []*mes.User `json:"users"`
}

// validNewUser checks a user and its password as a request gives them.
func (s *Server) validNewUser(u *mes.User, password string) error {
	if err := u.Validate(); err != nil {
		return err
	}
	if err := validText("name", u.Name, true); err != nil {
		return err
	}
	if err := validEmail(u.Email); err != nil {
		return err
	}
	return validPassword("password", password)
}

func validEmail(e string) error {
	if e == "" {
		return nil
	}
	if err := validText("email", e, false); err != nil {
		return err
	}
	if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
		return invalid("email: %q is not an address", truncate(e, 40))
	}
	return nil
}

func (s *Server) handleListUsers(c echo.Context) error {
	if err := checkQuery(c, "org", "role"); err != nil {
		return err
	}
	f := mes.UserFilter{Org: c.QueryParam("org"), Role: mes.Role(c.QueryParam("role"))}
	if f.Org != "" {
		if err := mes.ValidateOrgID(f.Org); err != nil {
			return err
		}
	}
	if f.Role != "" && !f.Role.Valid() {
		return invalid("role: want admin, engineer, qa or customer")
	}
	if s.Users == nil {
		return unavailable("users")
	}
	us, err := s.Users.ListUsers(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if us == nil {
		us = []*mes.User{}
	}
	return c.JSON(http.StatusOK, userList{Users: us})
}

func (s *Server) handleCreateUser(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	var req UserRequest
	if err := s.decodeJSON(c, &req, false); err != nil {
		return err
	}
	u := &mes.User{ID: req.ID, Name: req.Name, Email: req.Email, Role: req.Role, Org: req.Org}
	if err := s.validNewUser(u, req.Password); err != nil {
		return err
	}
	if s.Users == nil {
		return unavailable("users")
	}
	ctx := c.Request().Context()
	var err error
	if u.PasswordHash, err = HashPassword(ctx, req.Password, s.PasswordParams); err != nil {
		return err
	}
	if err := s.Users.CreateUser(ctx, u); err != nil {
		return err
	}
	admin, _ := signedIn(c)
	_ = s.audit(c, mes.AuditEntry{Actor: admin.ID, Action: mes.AuditCreate, ObjectType: mes.AuditObjectUser, ObjectID: u.ID, New: auditJSON(u)})
	c.Response().Header().Set(echo.HeaderLocation, APIPrefix+"/users/"+u.ID)
	return c.JSON(http.StatusCreated, u)
}

func (s *Server) handleUpdateUser(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := checkQuery(c); err != nil {
		return err
	}
	var p UserPatch
	if err := s.decodeJSON(c, &p, false); err != nil {
		return err
	}
	if p == (UserPatch{Reason: p.Reason}) {
		return invalid("request body: nothing to change (name, email, role, org, disabled, password)")
	}
	if err := validText("reason", p.Reason, false); err != nil {
		return err
	}
	if p.Name != nil {
		if err := validText("name", *p.Name, true); err != nil {
			return err
		}
	}
	if p.Email != nil {
		if err := validEmail(*p.Email); err != nil {
			return err
		}
	}
	if p.Role != nil && !p.Role.Valid() {
		return invalid("role: want admin, engineer, qa or customer")
	}
	admin, err := signedIn(c)
	if err != nil {
		return err
	}
	if id == admin.ID && (p.Role != nil && *p.Role != mes.RoleAdmin || p.Disabled != nil && *p.Disabled) {
		return mes.Errorf(mes.ECONFLICT, "an admin cannot demote or disable themselves; another admin can")
	}
	ctx := c.Request().Context()
	var hash string
	if p.Password != nil {
		if err := validPassword("password", *p.Password); err != nil {
			return err
		}
		if hash, err = HashPassword(ctx, *p.Password, s.PasswordParams); err != nil {
			return err
		}
	}
	if s.Users == nil || s.Sessions == nil {
		return unavailable("users")
	}
	var old mes.User
	u, err := s.Users.UpdateUser(ctx, id, func(u *mes.User) error {
		old = *u
		if p.Name != nil {
			u.Name = *p.Name
		}
		if p.Email != nil {
			u.Email = *p.Email
		}
		if p.Role != nil {
			u.Role = *p.Role
		}
		if p.Org != nil {
			u.Org = *p.Org
		}
		if p.Disabled != nil {
			u.Disabled = *p.Disabled
		}
		if hash != "" {
			u.PasswordHash = hash
		}
		return nil
	})
	if err != nil {
		return err
	}
	// A reset password, a disabled account or a new role or organisation
	// must not live on in sessions opened before.
	if hash != "" || u.Disabled || u.Role != old.Role || u.Org != old.Org {
		if _, err := s.Sessions.DeleteUserSessions(ctx, id); err != nil {
			return err
		}
	}
	reason := p.Reason
	if reason == "" {
		reason = "changed by admin"
	}
	type change struct {
		*mes.User
		PasswordReset bool `json:"password_reset,omitempty"`
	}
	_ = s.audit(c, mes.AuditEntry{Actor: admin.ID, Action: mes.AuditChange, ObjectType: mes.AuditObjectUser, ObjectID: id,
		Old: auditJSON(&old), New: auditJSON(change{User: u, PasswordReset: hash != ""}), Reason: reason})
	return c.JSON(http.StatusOK, u)
}
