package ui

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
)

// OrgRequest is the body of POST /api/v1/orgs.
type OrgRequest struct {
	ID     string `json:"id"` // slug, e.g. "acme-dental"
	Name   string `json:"name"`
	NameZH string `json:"name_zh"`
}

type orgList struct {
	Orgs []*mes.Org `json:"orgs"`
}

func (s *Server) handleListOrgs(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	if s.Orgs == nil {
		return unavailable("organisations")
	}
	os, err := s.Orgs.ListOrgs(c.Request().Context())
	if err != nil {
		return err
	}
	if os == nil {
		os = []*mes.Org{}
	}
	return c.JSON(http.StatusOK, orgList{Orgs: os})
}

func (s *Server) handleCreateOrg(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	var req OrgRequest
	if err := s.decodeJSON(c, &req, false); err != nil {
		return err
	}
	o := &mes.Org{ID: req.ID, Name: req.Name, NameZH: req.NameZH}
	if err := o.Validate(); err != nil {
		return err
	}
	if err := validText("name", o.Name, true); err != nil {
		return err
	}
	if err := validText("name_zh", o.NameZH, false); err != nil {
		return err
	}
	if s.Orgs == nil {
		return unavailable("organisations")
	}
	if err := s.Orgs.CreateOrg(c.Request().Context(), o); err != nil {
		return err
	}
	u, _ := signedIn(c)
	_ = s.audit(c, mes.AuditEntry{Actor: u.ID, Action: mes.AuditCreate, ObjectType: mes.AuditObjectOrg, ObjectID: o.ID, New: auditJSON(o)})
	c.Response().Header().Set(echo.HeaderLocation, APIPrefix+"/orgs/"+o.ID)
	return c.JSON(http.StatusCreated, o)
}

// existingOrg checks that org names a stored organisation: a batch, booking
// or design made for a typo would belong to nobody.
func (s *Server) existingOrg(ctx context.Context, field, org string) error {
	if err := validID(field, org); err != nil {
		return err
	}
	if s.Orgs == nil {
		return unavailable("organisations")
	}
	if _, err := s.Orgs.FindOrg(ctx, org); mes.ErrorCode(err) == mes.ENOTFOUND {
		return invalid("%s: no organisation %q", field, org)
	} else if err != nil {
		return err
	}
	return nil
}
