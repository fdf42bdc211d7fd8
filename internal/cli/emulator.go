package cli

import "github.com/spf13/cobra"

// TODO(owner of this file): replace this stub.
func newEmulatorCmd(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "emulator", Short: "not implemented yet", Hidden: true}
}
