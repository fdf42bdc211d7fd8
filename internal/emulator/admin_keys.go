package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// registerKeyAdmin adds the endpoints that play the victim of a fake
// "support" call: they change a key's settings, or create a key, the way
// the venue's web UI does (STATE.md, admin endpoints).
//
//	POST /_emulator/edit-key   {"api_key": "…", "permissions": [...], "withdrawals": true, "ips": []}
//	POST /_emulator/create-key {"venue": "kucoin", "account": "sub1", "label": "…", "permissions": [...], "ips": [...]}
func (s *Server) registerKeyAdmin(mux *http.ServeMux) {
	mux.HandleFunc("POST /_emulator/edit-key", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			APIKey string `json:"api_key"`
			emu.KeyEdit
		}
		if err := decodeAdmin(r, &body); err != nil || body.APIKey == "" {
			adminError(w, http.StatusBadRequest, `want {"api_key": "…", "permissions": [...], "withdrawals": true|false, "ips": [...]} (unknown fields refused)`)
			return
		}
		if body.Permissions == nil && body.Withdrawals == nil && body.IPs == nil {
			adminError(w, http.StatusBadRequest, "nothing to change: give permissions, withdrawals or ips")
			return
		}
		for _, v := range s.venues {
			ed, ok := Unwrap(v).(emu.KeyEditor)
			if !ok {
				continue
			}
			kv, found, err := ed.EditKey(body.APIKey, body.KeyEdit)
			if !found {
				continue
			}
			if err != nil {
				adminError(w, http.StatusBadRequest, err.Error())
				return
			}
			emu.WriteJSON(w, http.StatusOK, kv)
			return
		}
		adminError(w, http.StatusNotFound, "no such key")
	})
	mux.HandleFunc("POST /_emulator/create-key", func(w http.ResponseWriter, r *http.Request) {
		var body emu.KeyCreate
		if err := decodeAdmin(r, &body); err != nil || body.Venue == "" || body.Account == "" {
			adminError(w, http.StatusBadRequest, `want {"venue": "binance"|"kucoin", "account": "…", "api_key": "…", "secret": "…", "passphrase": "…", "label": "…", "permissions": [...], "ips": [...]} (venue and account required)`)
			return
		}
		for _, v := range s.venues {
			ed, ok := Unwrap(v).(emu.KeyEditor)
			if !ok {
				continue
			}
			kv, found, err := ed.CreateKey(body)
			if !found {
				continue
			}
			if err != nil {
				adminError(w, http.StatusBadRequest, err.Error())
				return
			}
			emu.WriteJSON(w, http.StatusOK, kv)
			return
		}
		adminError(w, http.StatusNotFound, fmt.Sprintf("no account %q on venue %q", body.Account, body.Venue))
	})
}

// decodeAdmin decodes a JSON admin body strictly (unknown fields refused).
func decodeAdmin(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
