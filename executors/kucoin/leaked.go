package kucoin

import (
	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/internal/subacct"
)

// checkKeyIDs reports, for each key_ids entry, whether this account holds
// the key (see subacct.CheckKeyIDs): KuCoin cannot delete the account's
// own key by API, so it becomes the manual step.
func (x *Executor) checkKeyIDs(res *executors.Result, p executors.Params, sks []subKey) {
	subacct.CheckKeyIDs(res, p, subacct.KeyIDCheck{Venue: "KuCoin", Account: x.acct.Name, Own: x.ownKey(),
		Manual: x.masterManual,
		Listed: func(id string) bool {
			for _, k := range sks {
				if k.info.APIKey == id || mask(k.info.APIKey) == id {
					return true
				}
			}
			return false
		},
		Known: x.knownSubKey})
}

// midRunKeys returns the sub keys the first listing of this process did
// not show (created while the run goes on), except temporary keys the
// process minted itself.
func (x *Executor) midRunKeys(sks []subKey) []subKey {
	m := x.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []subKey
	for _, k := range sks {
		if m.baseline != nil && !m.baseline[k.info.APIKey] && !m.temp[k.info.APIKey] {
			out = append(out, k)
		}
	}
	return out
}
