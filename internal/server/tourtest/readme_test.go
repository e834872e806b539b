package tourtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// The tour is the shell blocks between these two lines of README.md
// (HTML comments: a reader of the rendered page does not see them).
const (
	beginMarker = "<!-- tour: begin -->"
	endMarker   = "<!-- tour: end -->"
)

// comment is a command's trailing remark for the reader: two or more
// spaces, then "# ". bash would ignore it too; it is cut so that the
// command text alone names a step.
var comment = regexp.MustCompile(`\s{2,}#\s.*$`)

// tourCommands returns the tour's commands, one a line, without their
// comments, in order. Blank lines, fences and whole-line comments are not
// commands.
func tourCommands(r io.Reader) ([]string, error) {
	var cmds []string
	inTour, seen, inBlock := false, false, false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		trimmed := strings.TrimSpace(text)
		switch {
		case trimmed == beginMarker:
			if inTour || seen {
				return nil, fmt.Errorf("line %d: a second %q", line, beginMarker)
			}
			inTour, seen = true, true
			continue
		case trimmed == endMarker:
			if !inTour || inBlock {
				return nil, fmt.Errorf("line %d: %q outside the tour or inside a code block", line, endMarker)
			}
			inTour = false
			continue
		}
		if !inTour {
			continue
		}
		if strings.HasPrefix(trimmed, "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock || trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			return nil, fmt.Errorf("line %d: a tour command must fit on one line", line)
		}
		cmds = append(cmds, strings.TrimSpace(comment.ReplaceAllString(text, "")))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	switch {
	case !seen:
		return nil, fmt.Errorf("no %q line", beginMarker)
	case inTour:
		return nil, fmt.Errorf("no %q line after %q", endMarker, beginMarker)
	case len(cmds) == 0:
		return nil, errors.New("the tour has no commands")
	}
	return cmds, nil
}

// repoRoot is the directory holding go.mod, found upwards from the
// working directory (a test runs in its package's directory).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
