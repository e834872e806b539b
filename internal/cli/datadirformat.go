package cli

// The data dir records the format of its layout and the mini that last
// wrote it (<data-dir>/version), so that an older mini refuses a data dir
// a newer one has changed instead of misreading it. A data dir without
// the file, or with an older format, is this format: mini upgrades it in
// place and writes the file.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"mini.dev/mini/internal/pki"
	"mini.dev/mini/internal/version"
)

// dataDirFormat is the data dir's layout this mini reads and writes.
// Raise it when a change would make an older mini misread a data dir.
const dataDirFormat = 1

// versionFileName is the data dir's format marker.
const versionFileName = "version"

// dataDirVersion is <data-dir>/version.
type dataDirVersion struct {
	Format int    `json:"format"`
	Mini   string `json:"mini"`
}

// checkDataDirFormat refuses a data dir written by a newer mini; with
// record it writes this mini's marker (making the data dir if needed)
// when the marker is missing or differs.
func checkDataDirFormat(dataDir string, record bool) error {
	return checkFormat(dataDir, record, dataDirFormat, version.Mini())
}

func checkFormat(dataDir string, record bool, format int, mini string) error {
	path := filepath.Join(dataDir, versionFileName)
	b, err := os.ReadFile(path)
	var cur dataDirVersion
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("data dir %s: %w", dataDir, err)
	default:
		if err := json.Unmarshal(b, &cur); err != nil {
			return fmt.Errorf("%s is not mini's format marker (%v): remove it if the data dir is mini's, or use another --data-dir", path, err)
		}
	}
	if cur.Format > format {
		return fmt.Errorf("data dir %s was written by mini %s (format %d); this mini %s reads format ≤ %d: use the newer mini or another --data-dir",
			dataDir, cur.Mini, cur.Format, mini, format)
	}
	if !record || (cur.Format == format && cur.Mini == mini) {
		return nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	b, err = json.MarshalIndent(dataDirVersion{Format: format, Mini: mini}, "", "  ")
	if err != nil {
		return err
	}
	return pki.WriteFileAtomic(path, append(b, '\n'), 0o644)
}
