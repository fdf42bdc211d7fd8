package cli

import "github.com/spf13/cobra"

// TODO(owner of this file): replace this stub.
func newAccountsCmd(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "accounts", Short: "not implemented yet", Hidden: true}
}
