package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/panicbutton/panicbutton/internal/emulator/attacker"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// ErrNoAttacker is returned by StopAttacker for an id no attacker has.
var ErrNoAttacker = errors.New("no such attacker")

// StartAttacker parses spec (attacker.ParseSpec: "binance:fund-master:rate=5/s")
// and starts that attacker against this server's listener (Start must have
// been called). An attacker with the same id that has stopped is replaced;
// one still running is an error. Every error is the caller's (bad spec,
// unknown venue, account or key): nothing is started then.
func (s *Server) StartAttacker(spec string) (attacker.Report, error) {
	sp, err := attacker.ParseSpec(spec)
	if err != nil {
		return attacker.Report{}, err
	}
	return s.StartAttackerSpec(sp)
}

// StartAttackerSpec is StartAttacker with a parsed spec.
func (s *Server) StartAttackerSpec(sp attacker.Spec) (attacker.Report, error) {
	if err := sp.Validate(); err != nil {
		return attacker.Report{}, fmt.Errorf("attacker %s: %w", sp.ID(), err)
	}
	s.mu.Lock()
	base := s.base
	s.mu.Unlock()
	if base == "" {
		return attacker.Report{}, errors.New("attacker: the emulator is not listening (call Start first)")
	}
	cred, src, err := s.attackerKey(sp)
	if err != nil {
		return attacker.Report{}, fmt.Errorf("attacker %s: %w", sp.ID(), err)
	}
	a, err := attacker.New(sp, attacker.Config{BaseURL: base, Key: cred, Token: s.attackToken, Now: s.clock.Now,
		KeyAlive: src.KeyAlive})
	if err != nil {
		return attacker.Report{}, fmt.Errorf("attacker %s: %w", sp.ID(), err)
	}
	s.attackMu.Lock()
	defer s.attackMu.Unlock()
	if old, ok := s.attackers[sp.ID()]; ok {
		if old.Report().Running {
			return attacker.Report{}, fmt.Errorf("attacker %s is already running (stop it first)", sp.ID())
		}
	} else {
		s.attackOrder = append(s.attackOrder, sp.ID())
	}
	s.attackers[sp.ID()] = a
	a.Start(context.Background())
	return a.Report(), nil
}

// attackerKey finds the key the spec names (or the account's first key
// the attacker can sign with).
func (s *Server) attackerKey(sp attacker.Spec) (emu.Credential, emu.CredentialSource, error) {
	for _, v := range s.venues {
		if v.Name() != sp.Venue {
			continue
		}
		src, ok := Unwrap(v).(emu.CredentialSource)
		if !ok {
			return emu.Credential{}, nil, fmt.Errorf("the %s venue cannot lend its keys to an attacker yet", sp.Venue)
		}
		keys, found, err := src.Credentials(sp.Account, sp.Sub)
		if err != nil {
			return emu.Credential{}, nil, err
		}
		if !found {
			return emu.Credential{}, nil, fmt.Errorf("no account %q on %s", sp.Account, sp.Venue)
		}
		for _, k := range keys {
			if sp.Key != "" && k.APIKey != sp.Key {
				continue
			}
			if k.Secret == "" {
				if sp.Key != "" {
					return emu.Credential{}, nil, fmt.Errorf("key %s has no secret or private key in the emulator to sign with", sp.Key)
				}
				continue
			}
			return k, src, nil
		}
		who := sp.Account
		if sp.Sub != "" {
			who += "/" + sp.Sub
		}
		if sp.Key != "" {
			return emu.Credential{}, nil, fmt.Errorf("no key %q on %s account %s", sp.Key, sp.Venue, who)
		}
		return emu.Credential{}, nil, fmt.Errorf("%s account %s has no key the attacker can sign with", sp.Venue, who)
	}
	return emu.Credential{}, nil, fmt.Errorf("venue %q is not loaded", sp.Venue)
}

// StopAttacker stops the attacker with this id (its counters stay
// readable) and returns its final report.
func (s *Server) StopAttacker(id string) (attacker.Report, error) {
	s.attackMu.Lock()
	a, ok := s.attackers[id]
	s.attackMu.Unlock()
	if !ok {
		return attacker.Report{}, fmt.Errorf("%w %q", ErrNoAttacker, id)
	}
	a.Stop()
	return a.Report(), nil
}

// StopAttackers stops every attacker and returns their final reports.
func (s *Server) StopAttackers() []attacker.Report {
	for _, a := range s.attackerList() {
		a.Stop()
	}
	return s.Attackers()
}

// Attackers reports every attacker started on this server, in start order.
func (s *Server) Attackers() []attacker.Report {
	out := []attacker.Report{}
	for _, a := range s.attackerList() {
		out = append(out, a.Report())
	}
	return out
}

// AttackerAcceptedSince counts the actions of every attacker that the
// venues accepted at or after t (emulator clock): after containment, the
// number that should be 0.
func (s *Server) AttackerAcceptedSince(t time.Time) int {
	n := 0
	for _, a := range s.attackerList() {
		n += a.AcceptedSince(t)
	}
	return n
}

// AttackerAcceptedSinceID is AttackerAcceptedSince for one attacker (0
// for an unknown id).
func (s *Server) AttackerAcceptedSinceID(id string, t time.Time) int {
	s.attackMu.Lock()
	a := s.attackers[id]
	s.attackMu.Unlock()
	if a == nil {
		return 0
	}
	return a.AcceptedSince(t)
}

func (s *Server) attackerList() []*attacker.Attacker {
	s.attackMu.Lock()
	defer s.attackMu.Unlock()
	out := make([]*attacker.Attacker, 0, len(s.attackOrder))
	for _, id := range s.attackOrder {
		out = append(out, s.attackers[id])
	}
	return out
}

func newAttackToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// fromAttacker reports whether r is the scripted attacker's (its header
// carries this server's token).
func (s *Server) fromAttacker(r *http.Request) bool {
	v := r.Header.Get(attacker.Header)
	tok, _, _ := strings.Cut(v, " ")
	return v != "" && tok == s.attackToken
}

// markAttacker fills e's attacker fields when r carries this server's
// attacker mark ("TOKEN ID ACTION").
func (s *Server) markAttacker(r *http.Request, e *emu.Entry) {
	v := r.Header.Get(attacker.Header)
	if v == "" {
		return
	}
	parts := strings.SplitN(v, " ", 3)
	if len(parts) != 3 || parts[0] != s.attackToken {
		return
	}
	e.Kind, e.Attacker, e.Action = emu.KindAttacker, parts[1], parts[2]
	// An injected fault (set by this package) means the venue's answer did
	// not reach the attacker as it was; a venue's own note (KuCoin's
	// encoded-query flag) does not.
	fault := e.Fault != "" && !strings.HasPrefix(e.Fault, "kucoin:")
	ok := e.Status < 300 && !fault && (e.Code == "" || e.Code == "200000")
	e.Accepted = &ok
}

// attackerBody is POST /_emulator/attacker's body: a spec string, or its
// fields.
type attackerBody struct {
	Spec     string `json:"spec"`
	Venue    string `json:"venue"`
	Account  string `json:"account"`
	Sub      string `json:"sub"`
	Key      string `json:"key"`
	Rate     string `json:"rate"`
	Withdraw *bool  `json:"withdraw"`
	SubKeys  *bool  `json:"subkeys"`
	Address  string `json:"address"`
}

func (b attackerBody) spec() (attacker.Spec, error) {
	fields := b.Venue != "" || b.Account != "" || b.Sub != "" || b.Key != "" || b.Rate != "" ||
		b.Withdraw != nil || b.SubKeys != nil || b.Address != ""
	if b.Spec != "" {
		if fields {
			return attacker.Spec{}, errors.New(`give either "spec" or its fields, not both`)
		}
		return attacker.ParseSpec(b.Spec)
	}
	sp := attacker.Spec{Venue: strings.ToLower(b.Venue), Account: b.Account, Sub: b.Sub, Key: b.Key,
		Rate: b.Rate, Withdraw: true, SubKeys: true, Address: b.Address}
	if b.Withdraw != nil {
		sp.Withdraw = *b.Withdraw
	}
	if b.SubKeys != nil {
		sp.SubKeys = *b.SubKeys
	}
	if err := sp.Validate(); err != nil {
		return attacker.Spec{}, err
	}
	return sp, nil
}

const attackerUsage = `want {"spec": "VENUE:ACCOUNT[/SUB][:rate=N/s,withdraw=on|off,subkeys=on|off,key=K,address=A]"} or {"venue", "account", "sub", "key", "rate", "withdraw", "subkeys", "address"} (unknown fields refused)`

// registerAttacker adds POST/DELETE/GET /_emulator/attacker.
func (s *Server) registerAttacker(mux *http.ServeMux) {
	mux.HandleFunc("POST /_emulator/attacker", func(w http.ResponseWriter, r *http.Request) {
		var body attackerBody
		if err := decodeAdmin(r, &body); err != nil {
			adminError(w, http.StatusBadRequest, fmt.Sprintf("%v: %s", err, attackerUsage))
			return
		}
		sp, err := body.spec()
		if err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		rep, err := s.StartAttackerSpec(sp)
		if err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		emu.WriteJSON(w, http.StatusOK, rep)
	})
	mux.HandleFunc("DELETE /_emulator/attacker", func(w http.ResponseWriter, r *http.Request) {
		for name := range r.URL.Query() {
			if name != "id" {
				adminError(w, http.StatusBadRequest, fmt.Sprintf("unknown parameter %q: want ?id=ID (or nothing: stop every attacker)", name))
				return
			}
		}
		id := r.URL.Query().Get("id")
		if id == "" {
			emu.WriteJSON(w, http.StatusOK, s.StopAttackers())
			return
		}
		rep, err := s.StopAttacker(id)
		if err != nil {
			adminError(w, http.StatusNotFound, err.Error())
			return
		}
		emu.WriteJSON(w, http.StatusOK, []attacker.Report{rep})
	})
	mux.HandleFunc("GET /_emulator/attacker", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		out := []attacker.Report{}
		for _, rep := range s.Attackers() {
			if id == "" || rep.ID == id {
				out = append(out, rep)
			}
		}
		if id != "" && len(out) == 0 {
			adminError(w, http.StatusNotFound, fmt.Sprintf("%v %q", ErrNoAttacker, id))
			return
		}
		emu.WriteJSON(w, http.StatusOK, out)
	})
}

// OpenOrders counts the open orders of every account of every venue that
// can count them, from the venues' own state: "venue:account" -> count.
func (s *Server) OpenOrders() map[string]int {
	out := map[string]int{}
	for _, v := range s.venues {
		if c, ok := Unwrap(v).(emu.OrderCounter); ok {
			for acct, n := range c.OpenOrders() {
				out[v.Name()+":"+acct] += n
			}
		}
	}
	return out
}
