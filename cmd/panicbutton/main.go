// Command panicbutton contains a leaked exchange API key: see internal/cli.
package main

import (
	"os"

	"github.com/panicbutton/panicbutton/internal/cli"
)

func main() { os.Exit(cli.Main()) }
