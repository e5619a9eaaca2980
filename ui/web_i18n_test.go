package ui

import (
	"encoding/json"
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// webStrings loads the front end's one dictionary, lib/strings.json.
func webStrings(t *testing.T) map[string]map[string]string {
	t.Helper()
	b, err := fs.ReadFile(WebFS(), "lib/strings.json")
	require.NoError(t, err)
	var d map[string]map[string]string
	require.NoError(t, json.Unmarshal(b, &d))
	return d
}

// TestWeb_StringsBothLanguages: every key of the dictionary has a Chinese
// and an English text, and the same {placeholders} in both.
func TestWeb_StringsBothLanguages(t *testing.T) {
	d := webStrings(t)
	require.NotEmpty(t, d)
	ph := regexp.MustCompile(`\{\w+\}`)
	for k, v := range d {
		assert.Len(t, v, 2, "%s: exactly zh and en", k)
		zh, en := strings.TrimSpace(v["zh"]), strings.TrimSpace(v["en"])
		assert.NotEmpty(t, zh, "%s: Chinese missing", k)
		assert.NotEmpty(t, en, "%s: English missing", k)
		assert.ElementsMatch(t, ph.FindAllString(v["zh"], -1), ph.FindAllString(v["en"], -1), "%s: placeholders differ", k)
	}
}

// TestWeb_StringsUsedExist: every key a page names — data-t in the HTML,
// a literal t("key") or bi("key") in the scripts — is in the dictionary,
// and no page keeps a dictionary of its own.
func TestWeb_StringsUsedExist(t *testing.T) {
	d := webStrings(t)
	attr := regexp.MustCompile(`data-t="([^"]+)"`)
	call := regexp.MustCompile(`\b(?:t|tIn\(\w+,|bi|text|label)\(\s*"([A-Za-z_]+(?:\.[A-Za-z_]+)*)"`)
	own := regexp.MustCompile(`(?m)^const (text|dict|states|chars|sources|charNames) = \{`)
	used := 0
	require.NoError(t, fs.WalkDir(WebFS(), ".", func(p string, e fs.DirEntry, err error) error {
		require.NoError(t, err)
		if e.IsDir() || !(strings.HasSuffix(p, ".html") || strings.HasSuffix(p, ".js")) {
			return nil
		}
		b, err := fs.ReadFile(WebFS(), p)
		require.NoError(t, err)
		src := string(b)
		assert.NotRegexp(t, own, src, "%s keeps its own dictionary", p)
		for _, re := range []*regexp.Regexp{attr, call} {
			for _, m := range re.FindAllStringSubmatch(src, -1) {
				used++
				_, ok := d[m[1]]
				assert.True(t, ok, "%s uses %q, which lib/strings.json does not have", p, m[1])
			}
		}
		return nil
	}))
	assert.Greater(t, used, 100, "the pages name their strings")
}
