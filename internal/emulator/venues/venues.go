// Package venues wires the emulator's venue loaders in one place, so the
// emulator command, the demo and tests build the same emulator.
package venues

import (
	"io/fs"

	"github.com/panicbutton/panicbutton/internal/emulator/binance"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/emulator/kucoin"
	"github.com/panicbutton/panicbutton/internal/emulator/states"
)

// DefaultLoaders maps each top-level state key to its venue loader.
func DefaultLoaders() map[string]emu.Loader {
	return map[string]emu.Loader{
		"binance": binance.Load,
		"kucoin":  kucoin.Load,
	}
}

// DemoState returns the embedded demo state: its file system and the name
// of the state file in it.
func DemoState() (fs.FS, string) {
	return states.FS, states.Demo
}
