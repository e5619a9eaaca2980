package mes

import (
	"errors"
	"fmt"
)

// Error codes shared by every adapter. The HTTP layer maps each to one status.
const (
	EINVALID      = "invalid"      // bad input: 400/422
	ENOTFOUND     = "not_found"    // no such object, or not visible to the caller: 404
	ECONFLICT     = "conflict"     // the object's state forbids the action: 409
	EUNAUTHORIZED = "unauthorized" // no or bad credentials: 401
	EFORBIDDEN    = "forbidden"    // authenticated but not allowed: 403
	EINTERNAL     = "internal"     // everything else: 500
)

// Error is an application error with a machine-readable code and a message
// meant for the person who caused it.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("pilotline error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic message for internal errors so that no internals leak to users.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
