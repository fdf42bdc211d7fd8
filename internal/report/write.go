package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/panicbutton/panicbutton/internal/audit"
)

// File names of the report inside a run directory.
const (
	MarkdownFile = "report.md"
	HTMLFile     = "report.html"
)

// WriteFiles reads and verifies the audit trail of runDir and writes
// report.md and report.html (mode 0600) next to it. A trail whose chain is
// broken still gets a report, which says so loudly; WriteFiles then returns
// the paths together with an error wrapping audit.ErrTampered. Any other
// failure returns empty paths.
func WriteFiles(runDir string) (mdPath, htmlPath string, err error) {
	recs, readErr := audit.Read(runDir)
	if readErr != nil && len(recs) == 0 {
		return "", "", fmt.Errorf("write report: %w", readErr)
	}
	verify, verr := audit.Verify(runDir, "")
	if verr != nil && !errors.Is(verr, audit.ErrTampered) {
		return "", "", fmt.Errorf("write report: %w", verr)
	}
	rep, err := Build(recs, verify)
	if err != nil {
		return "", "", fmt.Errorf("write report for %s: %w", runDir, err)
	}
	dir := runDir
	if fi, err := os.Stat(runDir); err == nil && !fi.IsDir() {
		dir = filepath.Dir(runDir) // runDir named the audit.jsonl itself
	}
	reh, rerr := readRehearsal(dir)
	if rerr != nil {
		return "", "", fmt.Errorf("write report for %s: %w", runDir, rerr)
	}
	rep.Rehearsal = reh
	mdPath, htmlPath = filepath.Join(dir, MarkdownFile), filepath.Join(dir, HTMLFile)
	if err := writeFile(mdPath, rep.Markdown()); err != nil {
		return "", "", err
	}
	if err := writeFile(htmlPath, rep.HTML()); err != nil {
		return "", "", err
	}
	if verr != nil {
		return mdPath, htmlPath, fmt.Errorf("report written, but %w", verr)
	}
	if readErr != nil {
		return mdPath, htmlPath, fmt.Errorf("report written from the readable records only: %w", readErr)
	}
	return mdPath, htmlPath, nil
}

// writeFile replaces path atomically with data, mode 0600.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
