package mes_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clockReaders are the functions of package time that read the host's clock.
var clockReaders = []string{"Now", "Since", "Until"}

// clockAllowed are the files, besides mes/clock.go, that may read the
// host's clock directly, each for a reason that no time base covers.
var clockAllowed = map[string]string{
	"ui/uitest/chromium.go":     "test support: how long a test waits for a browser, not a time Pilotline keeps",
	"mqtt/mqtttest/mqtttest.go": "test support: how long a test waits for a broker, and unique test client ids",
}

// clockAllowedDirs are trees that may read the host's clock directly.
var clockAllowedDirs = map[string]string{
	"internal/soak": "the soak harness measures a run from outside, in real time, as an operator's stopwatch would",
}

// TestClock_OnlyClockFileReadsTheHostClock enforces the rule of clock.go:
// outside it (and the few files above), no code reads the host's clock; it
// is handed a LineClock or a WallClock, which say which time base they tell.
func TestClock_OnlyClockFileReadsTheHostClock(t *testing.T) {
	root := filepath.Join("..")
	fset := token.NewFileSet()
	var violations []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if path == root {
				return nil
			}
			if _, ok := clockAllowedDirs[rel]; ok || strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || rel == "mes/clock.go" {
			return nil
		}
		if _, ok := clockAllowed[rel]; ok {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		timeName := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "time" {
				timeName = "time"
				if imp.Name != nil {
					timeName = imp.Name.Name
				}
			}
		}
		if timeName == "" {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == timeName && slices.Contains(clockReaders, sel.Sel.Name) {
				violations = append(violations, fset.Position(sel.Pos()).String()+": time."+sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	assert.Empty(t, violations, "read a mes.LineClock or mes.WallClock instead (see mes/clock.go)")
	for rel := range clockAllowed {
		_, err := os.Stat(filepath.Join(root, rel))
		assert.NoError(t, err, "allowed file %s is gone: drop it from the list", rel)
	}
}
