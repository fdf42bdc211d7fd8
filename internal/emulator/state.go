package emulator

import (
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// KnownVenueKeys are the top-level state keys the project has venues for.
// A known key whose loader is not in Config.Loaders is skipped with a
// warning (so a build without a venue still loads the demo state); any
// other key is an error.
var KnownVenueKeys = []string{"binance", "kucoin"}

// LoadState reads the state file name from fsys and builds the venues of
// each top-level key with cfg.Loaders. A key's value is either an inline
// mapping or a string naming a YAML file relative to the state file.
// Errors carry "file:line:col: " positions.
func LoadState(fsys fs.FS, name string, cfg Config) ([]emu.Venue, error) {
	clock := cfg.Clock
	if clock == nil {
		clock = emu.NewClock(cfg.Now)
	}
	doc, err := parseYAMLFile(fsys, name)
	if err != nil {
		return nil, err
	}
	root := doc
	if root.Kind == 0 {
		return nil, fmt.Errorf("%s: the state file is empty", name)
	}
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, fmt.Errorf("%s: the state file is empty", name)
		}
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d:%d: the state must be a mapping of venue keys (%s)", name, root.Line, root.Column, strings.Join(KnownVenueKeys, ", "))
	}
	dir := path.Dir(name)
	var venues []emu.Venue
	seenKeys := map[string]bool{}
	seenNames := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		if seenKeys[key] {
			return nil, fmt.Errorf("%s:%d:%d: duplicate key %q", name, k.Line, k.Column, key)
		}
		seenKeys[key] = true
		loader, ok := cfg.Loaders[key]
		if !ok {
			if isKnownVenue(key) {
				cfg.logger().Warn("state: no loader registered for this venue; skipping it", "venue", key, "file", name)
				continue
			}
			return nil, fmt.Errorf("%s:%d:%d: unknown venue %q (known: %s)", name, k.Line, k.Column, key, strings.Join(loaderKeys(cfg.Loaders), ", "))
		}
		file, node := name, v
		if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
			file = path.Join(dir, v.Value)
			sub, err := parseYAMLFile(fsys, file)
			if err != nil {
				return nil, fmt.Errorf("%s:%d:%d: %s: %w", name, v.Line, v.Column, key, err)
			}
			node = sub
			if node.Kind == yaml.DocumentNode && len(node.Content) > 0 {
				node = node.Content[0]
			}
		} else if v.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s:%d:%d: %s: want a mapping or a file name", name, v.Line, v.Column, key)
		}
		env := emu.Env{Clock: clock, Logger: cfg.logger().With("venue", key), FS: fsys, Dir: path.Dir(file)}
		vs, err := loader(file, node, env)
		if err != nil {
			if positionRE.MatchString(err.Error()) {
				return nil, err // already "file:line:col: msg"
			}
			return nil, fmt.Errorf("%s: load %s state: %w", file, key, err)
		}
		for _, vv := range vs {
			if seenNames[vv.Name()] {
				return nil, fmt.Errorf("%s:%d:%d: venue %q is defined twice", name, k.Line, k.Column, vv.Name())
			}
			seenNames[vv.Name()] = true
			venues = append(venues, &loadedVenue{Venue: vv, clock: clock})
		}
	}
	return venues, nil
}

func isKnownVenue(key string) bool {
	for _, k := range KnownVenueKeys {
		if k == key {
			return true
		}
	}
	return false
}

func loaderKeys(m map[string]emu.Loader) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var positionRE = regexp.MustCompile(`^[^\s:]+:\d+:\d+: `)

var yamlLineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// parseYAMLFile reads and parses one YAML file into a node tree, turning
// parser errors into "file:line: msg".
func parseYAMLFile(fsys fs.FS, name string) (*yaml.Node, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		msg := err.Error()
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			if m[1] != "" {
				return nil, fmt.Errorf("%s:%s:1: %s", name, m[1], m[2])
			}
			return nil, fmt.Errorf("%s: %s", name, m[2])
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &doc, nil
}

// loadedVenue carries the clock LoadState gave a venue to New.
type loadedVenue struct {
	emu.Venue
	clock *emu.Clock
}

// Unwrap returns the venue the loader built.
func (l *loadedVenue) Unwrap() emu.Venue { return l.Venue }

// ExportAccounts forwards to the venue when it is an emu.Exporter.
func (l *loadedVenue) ExportAccounts() []emu.AccountExport {
	if ex, ok := l.Venue.(emu.Exporter); ok {
		return ex.ExportAccounts()
	}
	return nil
}

// Handler forwards to the venue.
func (l *loadedVenue) Handler() http.Handler { return l.Venue.Handler() }

// Unwrap returns the venue a loader built, for callers that need its
// concrete type (venues from LoadState are wrapped to carry their clock).
func Unwrap(v emu.Venue) emu.Venue {
	if lv, ok := v.(*loadedVenue); ok {
		return lv.Venue
	}
	return v
}
