package main

// Shared pieces of the admin CLI: command groups, output helpers and the
// JSON shapes of the REST API.

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/callgate/callgate/internal/wire"
)

// adminGroup is a parent command (apps, keys, …): help without arguments,
// a clear error for an unknown subcommand.
func adminGroup(use, short, long string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q for %q; run `%s --help`", args[0], cmd.CommandPath(), cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(subs...)
	return cmd
}

// adminArgs checks the positional arguments and shows the usage line when
// they are wrong.
func adminArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(args) < len(names) {
			return fmt.Errorf("missing %s\n  usage: %s", strings.Join(names[len(args):], " and "), cmd.UseLine())
		}
		return fmt.Errorf("too many arguments (%s)\n  usage: %s", strings.Join(args[len(names):], " "), cmd.UseLine())
	}
}

// adminEmit prints raw (the data of an answer) as JSON when asJSON is set,
// else calls human.
func adminEmit(w io.Writer, asJSON bool, raw any, human func() error) error {
	if asJSON {
		return printJSON(w, raw)
	}
	return human()
}

// adminEmitThen is adminEmit for a write that was made: it shows it, then
// returns unaudited (the write's audit event could not be recorded) if
// that is not nil.
func adminEmitThen(unaudited error, w io.Writer, asJSON bool, raw any, human func() error) error {
	if err := adminEmit(w, asJSON, raw, human); err != nil {
		return err
	}
	return unaudited
}

// adminPrint prints the answer r: show(w, r) for people, r.out with --json.
func adminPrint[T any](cmd *cobra.Command, asJSON bool, r adminReply[T], show func(io.Writer, adminReply[T])) error {
	w := cmd.OutOrStdout()
	return adminEmit(w, asJSON, r.out, func() error {
		show(w, r)
		return nil
	})
}

// adminShowMessage shows the message of a {success, message} answer.
func adminShowMessage(w io.Writer, r adminReply[adminResult]) { fmt.Fprintln(w, r.v.Message) }

// adminFields prints label/value pairs, one per line, aligned.
func adminFields(w io.Writer, pairs ...[2]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range pairs {
		fmt.Fprintf(tw, "%s\t%s\n", p[0], p[1])
	}
	tw.Flush()
}

// adminTime renders a unix time for people: RFC 3339 in local time, or
// zero (e.g. "never", "-") for 0.
func adminTime(unix int64, zero string) string {
	if unix == 0 {
		return zero
	}
	return time.Unix(unix, 0).Local().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ---- JSON shapes of the REST API (internal/wire), as the CLI reads them

type adminUser = wire.User

type adminToken = wire.Token

type adminKey = wire.Key

// adminResult is the {success, message} answer of deletions.
type adminResult struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
	Deleted *int   `json:"deleted,omitempty"`
}
