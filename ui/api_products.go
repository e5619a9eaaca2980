package ui

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
)

// Product limits beyond mes.Product.Validate: what the API accepts from a client.
const (
	maxRouteOps    = 50
	maxIdealCycleS = 86400 // one day per bur is no longer a takt
	maxToleranceMM = 1000  // a bur is a few centimetres long
)

// productList is the body of GET /api/v1/products.
type productList struct {
	Products []*mes.Product `json:"products"`
}

func (s *Server) handleListProducts(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	if s.Products == nil {
		return unavailable("products")
	}
	ps, err := s.Products.ListProducts(c.Request().Context())
	if err != nil {
		return err
	}
	u := mes.UserFromContext(c.Request().Context())
	out := make([]*mes.Product, 0, len(ps))
	for _, p := range ps {
		if productVisible(u, p) {
			out = append(out, p)
		}
	}
	return c.JSON(http.StatusOK, productList{Products: out})
}

// productVisible reports whether u may see p: the line's products are
// everyone's, a customer's design its organisation's (and staff's).
func productVisible(u *mes.User, p *mes.Product) bool {
	return p.Org == "" || u.CanSee(p.Org)
}

// visibleProduct returns the product if u may see it. Another
// organisation's design answers exactly like a product that does not exist.
func (s *Server) visibleProduct(ctx context.Context, u *mes.User, iso string) (*mes.Product, error) {
	p, err := s.Products.FindProduct(ctx, iso)
	if mes.ErrorCode(err) == mes.ENOTFOUND || err == nil && !productVisible(u, p) {
		return nil, mes.Errorf(mes.ENOTFOUND, "product %q not found", iso)
	}
	return p, err
}

func (s *Server) handleGetProduct(c echo.Context) error {
	iso := c.Param("iso")
	if err := validISO(iso); err != nil {
		return err
	}
	if err := checkQuery(c); err != nil {
		return err
	}
	if s.Products == nil {
		return unavailable("products")
	}
	ctx := c.Request().Context()
	p, err := s.visibleProduct(ctx, mes.UserFromContext(ctx), iso)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

func (s *Server) handleCreateProduct(c echo.Context) error {
	if s.Products == nil {
		return unavailable("products")
	}
	if err := checkQuery(c); err != nil {
		return err
	}
	var p mes.Product
	if err := s.decodeJSON(c, &p, false); err != nil {
		return err
	}
	if err := s.validateProduct(&p); err != nil {
		return err
	}
	if p.Org != "" {
		if err := s.existingOrg(c.Request().Context(), "org", p.Org); err != nil {
			return err
		}
	}
	if err := s.Products.CreateProduct(c.Request().Context(), &p); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, APIPrefix+"/products/"+p.ISO)
	return c.JSON(http.StatusCreated, &p)
}

// validISO checks the form of an ISO 6360 number in a path.
func validISO(iso string) error {
	if len(iso) != 15 || strings.Trim(iso, "0123456789") != "" {
		return invalid("iso: want a 15-digit ISO 6360 number, got %q", truncate(iso, 40))
	}
	return nil
}

// validateProduct applies the domain's rules and the API's limits.
func (s *Server) validateProduct(p *mes.Product) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := validText("name", p.Name, true); err != nil {
		return err
	}
	if err := validText("name_zh", p.NameZH, false); err != nil {
		return err
	}
	if p.GTIN != "" {
		if err := validGTIN(p.GTIN); err != nil {
			return err
		}
	}
	if err := validTolerances("tolerances", p.Tolerances); err != nil {
		return err
	}
	if len(p.Route) > maxRouteOps {
		return invalid("route: at most %d operations, got %d", maxRouteOps, len(p.Route))
	}
	for i, op := range p.Route {
		f := fmt.Sprintf("route[%d]", i)
		if err := validText(f+".name", op.Name, true); err != nil {
			return err
		}
		if err := validText(f+".name_zh", op.NameZH, false); err != nil {
			return err
		}
		if err := validID(f+".group", op.Group); err != nil {
			return err
		}
		if s.Line != nil && !s.knownGroup(op.Group) {
			return invalid("%s.group: unknown group %q", f, op.Group)
		}
		if err := validID(f+".program", op.Program); err != nil {
			return err
		}
		if err := validID(f+".program_version", op.ProgramVersion); err != nil {
			return err
		}
		if op.IdealCycleS > maxIdealCycleS {
			return invalid("%s.ideal_cycle_s: at most %d, got %v", f, maxIdealCycleS, op.IdealCycleS)
		}
	}
	return nil
}

// validTolerances checks that every nominal and limit is a finite length
// within ±maxToleranceMM, for products and booking specs alike.
func validTolerances(field string, ts map[string]mes.Tolerance) error {
	for ch, t := range ts {
		for _, v := range []float64{t.Nominal, t.Lower, t.Upper} {
			if math.IsNaN(v) || math.Abs(v) > maxToleranceMM {
				return invalid("%s.%s: values must be within ±%d mm", field, ch, maxToleranceMM)
			}
		}
	}
	return nil
}

// knownGroup reports whether id is a machine group of the line.
func (s *Server) knownGroup(id string) bool {
	return slices.ContainsFunc(s.Line.Groups, func(g mes.Group) bool { return g.ID == id })
}

// validGTIN checks the form of a GS1 GTIN-8/12/13/14. The check digit is
// not verified: the line's own demo product carries a GTIN whose check digit
// does not compute, and refusing it would make the fixture unusable.
func validGTIN(g string) error {
	if n := len(g); (n != 8 && n != 12 && n != 13 && n != 14) || strings.Trim(g, "0123456789") != "" {
		return invalid("gtin: want 8, 12, 13 or 14 digits, got %q", truncate(g, 40))
	}
	return nil
}

// truncate shortens s for an error message, so a huge input is not echoed back.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
