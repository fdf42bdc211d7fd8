package posture

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// SeenFormat is the "format" of a first-seen file.
const SeenFormat = "panicbutton-posture-seen"

// Seen remembers when each drift was first seen, so that a check run
// every few minutes reports the moment the change appeared, not the
// moment of the latest run. It lives beside the baseline (SeenPath) and
// starts over when the baseline changes (a new baseline accepts the
// drift). A drift that disappears is forgotten.
type Seen struct {
	Format         string               `json:"format"`
	BaselineSHA256 string               `json:"baseline_sha256"`
	FirstSeen      map[string]time.Time `json:"first_seen"`

	current map[string]time.Time // stamped by this check
	checked map[string]bool      // accounts this check stamped
}

// SeenPath is the first-seen file of a baseline file.
func SeenPath(baseline string) string { return baseline + ".seen.json" }

// LoadSeen reads the first-seen file of the baseline whose SHA-256 is sum;
// a missing, unreadable or stale file starts empty.
func LoadSeen(path, sum string) *Seen {
	s := &Seen{Format: SeenFormat, BaselineSHA256: sum, FirstSeen: map[string]time.Time{}}
	data, err := os.ReadFile(path)
	if err != nil {
		return s
	}
	var old Seen
	if json.Unmarshal(data, &old) != nil || old.Format != SeenFormat || old.BaselineSHA256 != sum {
		return s
	}
	for k, v := range old.FirstSeen {
		s.FirstSeen[k] = v
	}
	return s
}

// Stamp sets FirstSeen on the drift findings of one account (now, for a
// drift not seen before). Not safe for concurrent use.
func (s *Seen) Stamp(account string, fs []Finding, now time.Time) {
	if s.current == nil {
		s.current = map[string]time.Time{}
	}
	if s.checked == nil {
		s.checked = map[string]bool{}
	}
	s.checked[account] = true
	for i := range fs {
		if !fs[i].Drift {
			continue
		}
		id := fs[i].ID()
		t, ok := s.FirstSeen[id]
		if !ok {
			t = now.UTC()
		}
		s.current[id] = t
		fs[i].FirstSeen = t
	}
}

// Save writes the file (mode 0600): the drifts stamped by this check, and
// those of accounts it did not check. A drift of a checked account that
// is gone is forgotten; with none left the file is removed.
func (s *Seen) Save(path string) error {
	keep := map[string]time.Time{}
	for id, t := range s.FirstSeen {
		if acct, _, _ := strings.Cut(id, "|"); !s.checked[acct] {
			keep[id] = t
		}
	}
	for id, t := range s.current {
		keep[id] = t
	}
	s.FirstSeen = keep
	if len(keep) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		return nil
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(path, append(data, '\n'))
}
