package binance

import (
	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/internal/subacct"
)

// checkKeyIDs reports, for each key_ids entry, whether this account holds
// the key (see subacct.CheckKeyIDs): Binance cannot delete the account's
// own key by API, so it becomes the manual step.
func (e *Executor) checkKeyIDs(res *executors.Result, p executors.Params, keys []subKey, master bool) {
	subacct.CheckKeyIDs(res, p, subacct.KeyIDCheck{Venue: "Binance", Account: e.acct.Name, Own: e.acct.APIKey.Reveal(),
		Manual: func() executors.ManualStep { return e.masterManual(master) },
		Listed: func(id string) bool {
			for _, k := range keys {
				if k.row.APIKey == id || mask(k.row.APIKey) == id {
					return true
				}
			}
			return false
		},
		Known: e.knownSubKey})
}

// midRunKeys returns the sub keys the first listing of this process did
// not show (created while the run goes on), except the temporary keys the
// process minted itself.
func (e *Executor) midRunKeys(keys []subKey) []subKey {
	m := e.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []subKey
	for _, k := range keys {
		if m.baseline != nil && !m.baseline[k.row.APIKey] && !m.temp[k.row.APIKey] {
			out = append(out, k)
		}
	}
	return out
}

// unionKeys adds the keys of extra not in keys.
func unionKeys(keys, extra []subKey) []subKey {
	have := map[string]bool{}
	for _, k := range keys {
		have[k.row.APIKey] = true
	}
	for _, k := range extra {
		if !have[k.row.APIKey] {
			keys = append(keys, k)
			have[k.row.APIKey] = true
		}
	}
	return keys
}
