package main

import (
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"
)

func newTokensCmd() *cobra.Command {
	return adminGroup("tokens", "Create, list, revoke and flush users' auth tokens (REST)",
		`Manage the auth tokens of a user through the REST API of a running server.
An auth token is what a client logs in with (loginWithAuthToken); revoking one
ends its sessions at once.
`+adminConnHelp,
		newAdminTokensCreateCmd(), newAdminTokensListCmd(), newAdminTokensRevokeCmd(), newAdminTokensFlushCmd())
}

func newAdminTokensCreateCmd() *cobra.Command {
	var f adminRESTFlags
	var platform, deviceID, userAgent string
	cmd := &cobra.Command{
		Use:   "create UID",
		Short: "Create an auth token for a user (shown once)",
		Long:  "Mints a new auth token for an existing user (POST /v3/users/{uid}/auth_tokens). The token is printed once; the server keeps only its hash.\n" + adminConnHelp,
		Example: `  callgate tokens create cometchat-uid-1
  TOKEN=$(callgate tokens create alice --json | jq -r .authToken)`,
		Args: adminArgs("UID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]string{}
			if platform != "" {
				body["platform"] = platform
			}
			if deviceID != "" {
				body["deviceId"] = deviceID
			}
			if userAgent != "" {
				body["userAgent"] = userAgent
			}
			return adminRESTDo(cmd, &f, http.MethodPost, adminPath("users", args[0], "auth_tokens"), nil, body, func(w io.Writer, r adminReply[adminToken]) {
				t := r.v
				fmt.Fprintf(w, "Created auth token %s for %s (expires: %s):\n\n  %s\n\n", t.ID, t.UID, adminTime(t.ExpiresAt, "never"), t.AuthToken)
				fmt.Fprintf(w, "It is shown only this once. Revoke it with: callgate tokens revoke %s %s\n", t.UID, t.ID)
			})
		},
	}
	f.register(cmd.Flags())
	fs := cmd.Flags()
	fs.StringVar(&platform, "platform", "", "platform to record with the token (web, ios, android…)")
	fs.StringVar(&deviceID, "device-id", "", "device id to record with the token")
	fs.StringVar(&userAgent, "user-agent", "", "user agent to record with the token")
	return cmd
}

func newAdminTokensListCmd() *cobra.Command {
	return adminPathCmd(&cobra.Command{
		Use:     "list UID",
		Short:   "List a user's auth tokens (never the tokens themselves)",
		Long:    "Lists the auth tokens of a user (GET /v3/users/{uid}/auth_tokens): ids and device details, never the secrets.\n" + adminConnHelp,
		Example: "  callgate tokens list cometchat-uid-1",
		Args:    adminArgs("UID"),
	}, http.MethodGet, func(args []string) string { return adminPath("users", args[0], "auth_tokens") },
		func(w io.Writer, args []string, r adminReply[[]adminToken]) {
			toks := r.v
			if len(toks) == 0 {
				fmt.Fprintf(w, "%s has no auth tokens.\n", args[0])
				return
			}
			rows := make([][]string, len(toks))
			for i, t := range toks {
				rows[i] = []string{t.ID, orDash(t.Platform), orDash(t.DeviceID), adminTime(t.CreatedAt, "-"),
					adminTime(t.LastUsedAt, "never"), adminTime(t.ExpiresAt, "never")}
			}
			printTable(w, []string{"ID", "PLATFORM", "DEVICE", "CREATED", "LAST USED", "EXPIRES"}, rows)
		})
}

func newAdminTokensRevokeCmd() *cobra.Command {
	return adminDeleteCmd(&cobra.Command{
		Use:   "revoke UID TOKEN_ID|AUTH_TOKEN",
		Short: "Revoke one auth token of a user",
		Long: `Deletes one auth token (DELETE /v3/users/{uid}/auth_tokens/{token or id}): the
token stops working and its sessions end at once. Name it by its id (from
tokens list) or by the token itself.
` + adminConnHelp,
		Example: "  callgate tokens revoke alice tok_3f9a0c1b2d4e",
		Args:    adminArgs("UID", "TOKEN_ID"),
	}, func(args []string) string { return adminPath("users", args[0], "auth_tokens", args[1]) })
}

func newAdminTokensFlushCmd() *cobra.Command {
	return adminDeleteCmd(&cobra.Command{
		Use:   "flush UID",
		Short: "Revoke every auth token of a user",
		Long: `Deletes all of a user's auth tokens (DELETE /v3/users/{uid}/auth_tokens): they
are logged out everywhere at once. The user remains.
` + adminConnHelp,
		Example: "  callgate tokens flush alice",
		Args:    adminArgs("UID"),
	}, func(args []string) string { return adminPath("users", args[0], "auth_tokens") })
}
