// Package ui is Pilotline's web server on Echo v4: the JSON API under
// /api/v1, the twin's WebSocket endpoint, and the embedded web front end.
package ui
