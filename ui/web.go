package ui

import (
	"embed"
	"io/fs"
)

//go:embed web
var webFiles embed.FS

// WebFS returns the embedded web front end (index.html at its root): plain
// JavaScript modules, SVG and canvas, no build step and no external asset.
func WebFS() fs.FS {
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}
