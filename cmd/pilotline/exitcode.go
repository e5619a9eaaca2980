package main

import "errors"

// Exit codes of every command.
const (
	exitOK = 0
	// exitFailed: a runtime failure; for verify, records were altered.
	exitFailed = 1
	// exitUsage: bad usage or configuration.
	exitUsage = 2
	// exitCannotOpen: the store could not be opened (missing, or locked by a
	// running pilotline serve) or the server could not be reached; for
	// verify, anything that kept it from checking. Nothing was checked or
	// written, so a script must not read it as "altered".
	exitCannotOpen = 3
)

// cannotOpen marks an error that kept a command from reaching its data:
// exit code exitCannotOpen.
type cannotOpen struct{ err error }

func (e cannotOpen) Error() string { return e.err.Error() }
func (e cannotOpen) Unwrap() error { return e.err }

// exitCode is the exit code of a command that failed with err.
func exitCode(err error) int {
	var co cannotOpen
	if errors.As(err, &co) {
		return exitCannotOpen
	}
	return exitFailed
}
