package cli

import "github.com/spf13/cobra"

// TODO(owner of this file): replace this stub.
func newRunCmd(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "run", Short: "not implemented yet", Hidden: true}
}
