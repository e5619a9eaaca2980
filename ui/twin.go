package ui

import (
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/pilotline/pilotline/mes"
)

// mountTwin mounts the twin's WebSocket endpoint. Without a hub the
// endpoint answers 503, so the page shows "reconnecting" rather than a 404.
func (s *Server) mountTwin() {
	s.echo.GET("/ws/twin", func(c echo.Context) error {
		if err := checkQuery(c, "grinders", "batch"); err != nil {
			return err
		}
		if s.Twin == nil {
			return mes.Errorf(mes.EINTERNAL, "no twin on this server")
		}
		s.Twin.ServeHTTP(c.Response(), c.Request())
		return nil
	})
}

// mountWeb serves the embedded web front end at /. Unknown paths outside
// the API get the page itself, so a bookmarked view still loads.
// webLandings are the pages the web front end's folders open on, so that
// /portal/ and /qa/ lead somewhere instead of into a directory listing.
var webLandings = map[string]string{
	"portal": "/portal/booking.html",
	"qa":     "/qa/review.html",
}

func (s *Server) mountWeb() {
	files := WebFS()
	serve := http.FileServer(http.FS(files))
	s.echo.GET("/*", func(c echo.Context) error {
		p := strings.TrimPrefix(path.Clean("/"+c.Param("*")), "/")
		if p == "" {
			p = "index.html"
		}
		if st, err := fs.Stat(files, p); err != nil {
			p = "index.html"
		} else if st.IsDir() {
			if landing, ok := webLandings[p]; ok {
				return c.Redirect(http.StatusFound, landing)
			}
			p = "index.html"
		}
		r := c.Request().Clone(c.Request().Context())
		r.URL.Path = "/" + p
		if p == "index.html" {
			r.URL.Path = "/"
		}
		// Assets change with the binary; never let a browser keep an old one.
		c.Response().Header().Set("Cache-Control", "no-cache")
		serve.ServeHTTP(c.Response(), r)
		return nil
	})
}
