package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// runCLI runs the CLI in-process without a terminal.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut strings.Builder
	f := &Factory{
		In: strings.NewReader(""), Out: &out, ErrOut: &errOut,
		IsTTY: func() bool { return false }, Now: time.Now, Getenv: func(string) string { return "" },
		Logger: NewFactory().Logger, Registry: NewRegistry(), Version: "test",
	}
	code = Run(context.Background(), f, args)
	return out.String(), errOut.String(), code
}

func TestCompletionScripts(t *testing.T) {
	tests := []struct {
		shell string
		want  string // a line every script for that shell has
	}{
		{"bash", "# bash completion V2 for panicbutton"},
		{"zsh", "#compdef panicbutton"},
		{"fish", "complete -c panicbutton"},
		{"powershell", "Register-ArgumentCompleter"},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			out, errOut, code := runCLI(t, "completion", tt.shell)
			if code != ExitOK || errOut != "" {
				t.Fatalf("got exit %d, stderr %q; want 0 and nothing", code, errOut)
			}
			if !strings.Contains(out, tt.want) || len(out) < 1000 {
				t.Errorf("got a %d-byte script without %q, want a full %s completion script", len(out), tt.want, tt.shell)
			}
		})
	}
}

// TestCompletionOfCommands: the hidden __complete command (what the
// scripts call) offers the subcommands and flags.
func TestCompletionOfCommands(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", ""}, []string{"run", "playbooks", "accounts", "audit", "emulator", "demo", "completion"}},
		{[]string{"__complete", "run", "--"}, []string{"--dry-run", "--yes", "--json", "--input", "--account", "--tag"}},
		{[]string{"__complete", "playbooks", ""}, []string{"list", "show", "validate"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, _, code := runCLI(t, tt.args...)
			if code != ExitOK {
				t.Fatalf("got exit %d, want 0", code)
			}
			var got []string
			for _, line := range strings.Split(out, "\n") {
				word, _, _ := strings.Cut(line, "\t")
				got = append(got, word)
			}
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					found = found || g == w
				}
				if !found {
					t.Errorf("completions %q do not offer %q", got, w)
				}
			}
		})
	}
}

// TestEveryCommandHasExamples walks the command tree: every command of
// ours (not cobra's help and completion) shows examples in --help.
func TestEveryCommandHasExamples(t *testing.T) {
	root := NewRootCmd(NewFactory())
	root.InitDefaultCompletionCmd()
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" || sub.Hidden {
				continue
			}
			n++
			if !strings.Contains(sub.Example, "panicbutton "+strings.TrimPrefix(sub.CommandPath(), "panicbutton ")) &&
				!strings.Contains(sub.Example, "panicbutton "+sub.Parent().Name()) {
				t.Errorf("%s: Example %q, want examples that show the command", sub.CommandPath(), sub.Example)
			}
			walk(sub)
		}
	}
	walk(root)
	if n < 10 {
		t.Errorf("walked %d commands, want the whole tree (at least 10)", n)
	}
}
