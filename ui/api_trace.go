package ui

import (
	"bufio"
	"fmt"
	"io"
	"iter"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/trace"
)

// burSeq is a re-iterable sequence of a batch's burs.
type burSeq = iter.Seq2[*mes.Bur, error]

// TraceFormat is one export of GET /api/v1/batches/{id}/trace?format=.
type TraceFormat struct {
	ContentType string
	Suffix      string // file name after the batch id
	Write       func(c echo.Context, w io.Writer, rec *mes.TraceRecord, burs burSeq) error
	// whole formats carry the whole record: its hash and the batch's audit
	// entries (one per finished bur among them). The CSVs carry bur rows
	// only, so they skip both and stream in constant memory.
	whole bool
}

// TraceFormats are the formats of the trace export, by ?format= value.
var TraceFormats = map[string]TraceFormat{
	"csv": {"text/csv; charset=utf-8", "-operations.csv", func(c echo.Context, w io.Writer, r *mes.TraceRecord, b burSeq) error {
		return trace.WriteOperationsCSV(c.Request().Context(), w, r, b)
	}, false},
	"measurements.csv": {"text/csv; charset=utf-8", "-measurements.csv", func(c echo.Context, w io.Writer, r *mes.TraceRecord, b burSeq) error {
		return trace.WriteMeasurementsCSV(c.Request().Context(), w, r, b)
	}, false},
	"json": {"application/json", "-record.json", func(c echo.Context, w io.Writer, r *mes.TraceRecord, b burSeq) error {
		return trace.WriteJSON(c.Request().Context(), w, r, b)
	}, true},
	"pdf": {"application/pdf", "-record.pdf", func(c echo.Context, w io.Writer, r *mes.TraceRecord, b burSeq) error {
		return trace.WritePDF(c.Request().Context(), w, r, b)
	}, true},
	"bundle": {"application/zip", "-trace.zip", func(c echo.Context, w io.Writer, r *mes.TraceRecord, b burSeq) error {
		return trace.WriteBundle(c.Request().Context(), w, r, b)
	}, true},
}

// handleTrace streams a batch's trace record. Staff export any batch at
// any time; a customer only its own organisation's, once QA released it.
func (s *Server) handleTrace(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := checkQuery(c, "format"); err != nil {
		return err
	}
	name := c.QueryParam("format")
	if name == "" {
		name = "json"
	}
	f, ok := TraceFormats[name]
	if !ok {
		return invalid("format: want csv, measurements.csv, json, pdf or bundle, got %q", truncate(name, 40))
	}
	q, u, err := s.qaBatchAccess(c, id)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	src := s.traceSource(q)
	if !f.whole {
		src.Audit = nil
	}
	rec, burs, err := src.TraceRecord(ctx, id, q.Location, s.LineClock.Now().UTC())
	if err != nil {
		return err
	}
	if f.whole {
		if err := rec.ComputeRecordHash(burs); err != nil {
			return err
		}
	}
	_ = s.audit(c, mes.AuditEntry{Actor: u.ID, Action: mes.AuditExport, ObjectType: mes.AuditObjectBatch, ObjectID: id,
		New: auditJSON(map[string]string{"format": name, "ip": c.RealIP()})})
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, f.ContentType)
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", id+f.Suffix))
	h.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(c.Response(), 64<<10)
	err = f.Write(c, bw, rec, burs)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		// The status is sent: all that is left is to cut the download short
		// and say why in the log.
		s.Logger.Error("trace export", "batch", id, "format", name, "err", err)
	}
	return nil
}
