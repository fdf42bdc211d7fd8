// Package states embeds the emulator's built-in states (the demo fund used
// by `panicbutton demo` and by `panicbutton emulator` without --state).
package states

import "embed"

// FS holds the embedded state files.
//
//go:embed *.yaml
var FS embed.FS

// Demo is the name of the demo state in FS.
const Demo = "demo.yaml"
