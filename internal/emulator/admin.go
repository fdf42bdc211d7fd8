package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// ClockInfo describes the emulator clock.
type ClockInfo struct {
	Now  int64    `json:"now_ms"`
	Skew Duration `json:"skew"`
}

// State returns the body of GET /_emulator/state: each venue's snapshot
// under its name, and the clock under "clock".
func (s *Server) State() map[string]any {
	st := map[string]any{}
	for _, v := range s.venues {
		st[v.Name()] = v.Snapshot()
	}
	st["clock"] = ClockInfo{Now: s.clock.Now().UnixMilli(), Skew: Duration(s.clock.Skew())}
	return st
}

func adminError(w http.ResponseWriter, status int, msg string) {
	emu.WriteJSON(w, status, map[string]string{"error": msg})
}

func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_emulator/state", func(w http.ResponseWriter, _ *http.Request) {
		emu.WriteJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("GET /_emulator/requests", func(w http.ResponseWriter, r *http.Request) {
		var since int64
		if v := r.URL.Query().Get("since"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				adminError(w, http.StatusBadRequest, fmt.Sprintf("since: %v", err))
				return
			}
			since = n
		}
		kind := r.URL.Query().Get("kind")
		venue := r.URL.Query().Get("venue")
		out := []emu.Entry{}
		for _, e := range s.Requests() {
			if e.Seq <= since || (kind != "" && e.Kind != kind) || (venue != "" && e.Venue != venue) {
				continue
			}
			out = append(out, e)
		}
		emu.WriteJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /_emulator/faults", func(w http.ResponseWriter, _ *http.Request) {
		emu.WriteJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("POST /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			adminError(w, http.StatusBadRequest, fmt.Sprintf("read body: %v", err))
			return
		}
		var f Faults
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if len(body) > 0 {
			if err := dec.Decode(&f); err != nil {
				adminError(w, http.StatusBadRequest, fmt.Sprintf("faults: %v", err))
				return
			}
		}
		if err := f.validate(); err != nil {
			adminError(w, http.StatusBadRequest, fmt.Sprintf("faults: %v", err))
			return
		}
		s.SetFaults(f)
		emu.WriteJSON(w, http.StatusOK, s.Faults())
	})
	// delete-key plays the human who deletes a key in the exchange's web
	// UI (no API can delete a master's own key): {"api_key": "…"}.
	mux.HandleFunc("POST /_emulator/delete-key", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			APIKey string `json:"api_key"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil || body.APIKey == "" {
			adminError(w, http.StatusBadRequest, `want {"api_key": "…"}`)
			return
		}
		if !s.DeleteKey(body.APIKey) {
			adminError(w, http.StatusNotFound, "no such key")
			return
		}
		emu.WriteJSON(w, http.StatusOK, map[string]any{"deleted": true})
	})
	s.registerKeyAdmin(mux) // edit-key, create-key: admin_keys.go
	s.registerAttacker(mux) // attacker: attackers.go
	mux.HandleFunc("POST /_emulator/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		emu.WriteJSON(w, http.StatusOK, map[string]bool{"reset": true})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil || !isLoopbackHost(host) {
			adminError(w, http.StatusForbidden, "the admin endpoints answer loopback clients only")
			return
		}
		mux.ServeHTTP(w, r)
	})
}
