// Package kucoin emulates KuCoin's REST API for the panicbutton emulator:
// the spot/margin/account host (venue "kucoin") and the futures host (venue
// "kucoin-futures"), sharing one state.
//
// It verifies KC-API-* signatures exactly as KuCoin documents them (the
// query signed in decoded form; kucoin-go-sdk's URL-encoded form is
// accepted but flagged in the request log), checks key versions,
// passphrases, timestamps, IP whitelists and permissions, accounts weights
// in 30-second rate-limit pools per UID, and reproduces the documented
// quirks (asynchronous cancels, data:"success", data:null, classic order
// lists defaulting to status=done). Facts: ../../../../shared/EXCHANGES.md
// §2; state format: ../STATE.md, "KuCoin venue".
package kucoin

import (
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// Venue names, also the path prefixes the core mounts them under.
const (
	SpotName    = "kucoin"
	FuturesName = "kucoin-futures"
)

// Load builds the two KuCoin venues (spot host and futures host) from the
// YAML node of the state's "kucoin" key. The node is either the state
// mapping itself or a scalar naming a file (resolved in env.FS/env.Dir).
// Errors name file:line:col.
func Load(file string, node *yaml.Node, env emu.Env) ([]emu.Venue, error) {
	if node == nil {
		return nil, fmt.Errorf("%s: kucoin state is missing", file)
	}
	for node.Kind == yaml.DocumentNode && len(node.Content) > 0 {
		node = node.Content[0]
	}
	if node.Kind == yaml.ScalarNode && node.Tag == "!!str" && env.FS != nil {
		name := path.Join(env.Dir, node.Value)
		b, err := fs.ReadFile(env.FS, name)
		if err != nil {
			return nil, fmt.Errorf("%s:%d:%d: read kucoin state: %w", file, node.Line, node.Column, err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		file, node = name, &doc
		for node.Kind == yaml.DocumentNode && len(node.Content) > 0 {
			node = node.Content[0]
		}
	}
	sp, err := parseSpec(file, node)
	if err != nil {
		return nil, err
	}
	clock := env.Clock
	if clock == nil {
		clock = emu.NewClock(nil)
	}
	st := &store{spec: sp, clock: clock, base: clock.Now()}
	st.w = buildWorld(sp, st.base)
	spot := &Venue{st: st, name: SpotName}
	spot.mux = st.mux(spotRoutes(st))
	fut := &Venue{st: st, name: FuturesName}
	fut.mux = st.mux(futuresRoutes(st))
	return []emu.Venue{spot, fut}, nil
}

func parseSpec(file string, node *yaml.Node) (*spec, error) {
	d := &decoder{file: file}
	sp := &spec{}
	if err := d.decode(node, ptrElem(sp)); err != nil {
		return nil, err
	}
	if err := sp.validate(file); err != nil {
		return nil, err
	}
	return sp, nil
}

// store is the state shared by both venues.
type store struct {
	mu    sync.Mutex
	spec  *spec
	base  time.Time
	clock *emu.Clock
	w     *world
}

func (s *store) now() time.Time { return s.clock.Now() }

// Venue is one KuCoin host. It implements emu.Venue; the spot venue also
// implements emu.Exporter.
type Venue struct {
	st   *store
	name string
	mux  http.Handler
}

var (
	_ emu.Venue      = (*Venue)(nil)
	_ emu.Exporter   = (*Venue)(nil)
	_ emu.KeyDeleter = (*Venue)(nil)
)

// DeleteKey deletes any key (master or sub), as a user does in KuCoin's
// API Management page; the key gets 400003 from its next request on.
func (v *Venue) DeleteKey(apiKey string) bool {
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	k := v.st.w.keys[apiKey]
	if k == nil || k.deleted {
		return false
	}
	k.deleted = true
	return true
}

// Name is "kucoin" or "kucoin-futures".
func (v *Venue) Name() string { return v.name }

// Handler serves the venue's API at its real paths (prefix already stripped).
func (v *Venue) Handler() http.Handler { return v.mux }

// Snapshot returns the full shared state (on the spot venue) or a pointer
// to it (on the futures venue), JSON-serialisable. Secrets are left out.
func (v *Venue) Snapshot() any {
	if v.name == FuturesName {
		return map[string]string{"state": "shared with the kucoin venue; see its snapshot"}
	}
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	return v.st.w.snapshot(v.st.now())
}

// Reset restores the loaded state (shared by both venues).
func (v *Venue) Reset() {
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	v.st.w = buildWorld(v.st.spec, v.st.base)
}

// ExportAccounts lists every master key (with the sub keys whose
// passphrase the state marks as known) for --accounts-out. Only the spot
// venue exports, so accounts are not listed twice.
func (v *Venue) ExportAccounts() []emu.AccountExport {
	if v.name != SpotName {
		return nil
	}
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	var out []emu.AccountExport
	for _, m := range v.st.w.masters {
		var subs []emu.SubKeyExport
		for _, s := range m.subs {
			for _, k := range s.keys {
				if k.deleted || !k.export {
					continue
				}
				subs = append(subs, emu.SubKeyExport{Sub: s.name, APIKey: k.key, Passphrase: k.passphrase})
			}
		}
		n := 0
		for _, k := range m.keys {
			if k.deleted || !k.export {
				continue
			}
			name := m.name
			if n > 0 {
				name = fmt.Sprintf("%s-%d", m.name, n+1)
			}
			n++
			out = append(out, emu.AccountExport{
				Name:       name,
				Exchange:   "kucoin",
				APIKey:     k.key,
				Secret:     k.secret,
				Passphrase: k.passphrase,
				KeyVersion: k.version,
				Tags:       append([]string(nil), m.tags...),
				SubKeys:    subs,
			})
		}
	}
	return out
}
