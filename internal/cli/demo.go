package cli

import "github.com/spf13/cobra"

// TODO(owner of this file): replace this stub.
func newDemoCmd(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "demo", Short: "not implemented yet", Hidden: true}
}
