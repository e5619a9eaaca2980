package ui

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
)

// burList is the body of GET /api/v1/batches/{id}/burs.
type burList struct {
	Batch string     `json:"batch"`
	Burs  []*mes.Bur `json:"burs"`
}

func (s *Server) handleGetBur(c echo.Context) error {
	serial, err := pathSerial(c)
	if err != nil {
		return err
	}
	if err := checkQuery(c); err != nil {
		return err
	}
	if s.Burs == nil || s.Batches == nil {
		return unavailable("burs")
	}
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	b, err := s.Burs.FindBur(ctx, serial)
	if err == nil && !u.Staff() {
		_, err = s.visibleBatch(ctx, u, b.Batch)
	}
	if mes.ErrorCode(err) == mes.ENOTFOUND {
		return mes.Errorf(mes.ENOTFOUND, "bur %q not found", serial) // also another organisation's
	} else if err != nil {
		return err
	}
	if b.Operations == nil {
		b.Operations = []mes.OperationRecord{}
	}
	return c.JSON(http.StatusOK, b)
}

func (s *Server) handleListBatchBurs(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := checkQuery(c); err != nil {
		return err
	}
	if s.Burs == nil || s.Batches == nil {
		return unavailable("burs")
	}
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	// An unknown batch is a 404, not an empty list; so is another organisation's.
	if _, err := s.visibleBatch(ctx, u, id); err != nil {
		return err
	}
	burs, err := s.Burs.ListBurs(ctx, id)
	if err != nil {
		return err
	}
	if burs == nil {
		burs = []*mes.Bur{}
	}
	return c.JSON(http.StatusOK, burList{Batch: id, Burs: burs})
}

// pathSerial returns the bur serial from the path. Serials may contain '/'
// (the line's pattern decides), which a client sends escaped as %2F.
func pathSerial(c echo.Context) (string, error) {
	v := c.Param("serial")
	if u, err := url.PathUnescape(v); err == nil {
		v = u
	}
	if err := mes.ValidateSerial(v); err != nil {
		return "", err
	}
	return v, nil
}
