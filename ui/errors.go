package ui

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
)

// Error codes the HTTP layer adds to the mes codes, for failures that come
// from the protocol rather than from the plant (routing, body size, media type).
const (
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeTooLarge             = "too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeUnavailable          = "unavailable"
	CodeTooManyRequests      = "too_many_requests" // the sign-in limit; Retry-After says when to try again
)

// ErrorBody is the JSON body of every error response:
// {"error": {"code": "...", "message": "..."}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the code and human-readable message of an error response.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// codeStatus maps each mes error code to its one HTTP status.
//
// EINVALID is always 400, whether the body was malformed or well-formed but
// out of range: one status per code keeps clients simple, and the message
// names the offending field either way.
var codeStatus = map[string]int{
	mes.EINVALID:      http.StatusBadRequest,
	mes.ENOTFOUND:     http.StatusNotFound,
	mes.ECONFLICT:     http.StatusConflict,
	mes.EUNAUTHORIZED: http.StatusUnauthorized,
	mes.EFORBIDDEN:    http.StatusForbidden,
	mes.EINTERNAL:     http.StatusInternalServerError,
}

// statusCode maps HTTP statuses that Echo or the middleware produce on their
// own back to an error code.
var statusCode = map[int]string{
	http.StatusBadRequest:            mes.EINVALID,
	http.StatusUnauthorized:          mes.EUNAUTHORIZED,
	http.StatusForbidden:             mes.EFORBIDDEN,
	http.StatusNotFound:              mes.ENOTFOUND,
	http.StatusMethodNotAllowed:      CodeMethodNotAllowed,
	http.StatusConflict:              mes.ECONFLICT,
	http.StatusRequestEntityTooLarge: CodeTooLarge,
	http.StatusUnsupportedMediaType:  CodeUnsupportedMediaType,
	http.StatusServiceUnavailable:    CodeUnavailable,
	http.StatusTooManyRequests:       CodeTooManyRequests,
}

// ErrorStatus returns the HTTP status for a mes error code (500 for unknown codes).
func ErrorStatus(code string) int {
	if s, ok := codeStatus[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// httpError returns an error that the error handler turns into status with
// the given code and message.
func httpError(status int, code, message string) error {
	return &echo.HTTPError{Code: status, Message: ErrorDetail{Code: code, Message: message}}
}

// invalid returns an EINVALID error naming the offending input.
func invalid(format string, args ...any) error { return mes.Errorf(mes.EINVALID, format, args...) }

// errorResponse turns any error into its status and body. Internal details
// never reach the client: a non-mes error becomes "internal error".
func errorResponse(err error) (int, ErrorDetail, bool) {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		if inner, ok := he.Internal.(*echo.HTTPError); ok {
			he = inner
		}
		d := ErrorDetail{Code: statusCode[he.Code]}
		if d.Code == "" {
			d.Code = mes.EINTERNAL
			if he.Code < 500 {
				d.Code = mes.EINVALID
			}
		}
		switch m := he.Message.(type) {
		case ErrorDetail:
			d = m
		case string:
			d.Message = m
		default:
			d.Message = http.StatusText(he.Code)
		}
		if he.Code == http.StatusNotFound && d.Message == http.StatusText(http.StatusNotFound) {
			d.Message = "no such route"
		}
		return he.Code, d, he.Code >= 500
	}
	code := mes.ErrorCode(err)
	return ErrorStatus(code), ErrorDetail{Code: code, Message: mes.ErrorMessage(err)}, code == mes.EINTERNAL
}

// handleError is the server's one echo.HTTPErrorHandler: every error, from a
// handler, the router or middleware, becomes a JSON ErrorBody with the status
// of its code. Only internal errors are logged; the client's mistakes are not
// the server's news.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		// A streamed response (backup) failed half-way; the status is gone.
		s.Logger.Error("http: error after response started", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
		return
	}
	status, detail, internal := errorResponse(err)
	if internal {
		s.Logger.Error("http: internal error", "method", c.Request().Method, "path", c.Request().URL.Path, "status", status, "err", err)
	}
	if c.Request().Method == http.MethodHead {
		err = c.NoContent(status)
	} else {
		err = c.JSON(status, ErrorBody{Error: detail})
	}
	if err != nil {
		s.Logger.Error("http: write error response", "err", err)
	}
}
