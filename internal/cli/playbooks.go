package cli

import "github.com/spf13/cobra"

// TODO(owner of this file): replace this stub.
func newPlaybooksCmd(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "playbooks", Short: "not implemented yet", Hidden: true}
}
