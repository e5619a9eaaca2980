package trace

// FormatTime exposes the CSV time format to the external tests.
var FormatTime = fmtTime
