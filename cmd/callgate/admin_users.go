package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

const adminConnHelp = `
Connection: --server URL, --app APP_ID and --key FULL_ACCESS_KEY, or the
environment variables CALLGATE_SERVER, CALLGATE_APP and CALLGATE_KEY. Anything
not given is taken from {--data}/dev-credentials.json (default --data
./callgate-data), which ` + "`callgate serve --dev`" + ` writes.`

func newUsersCmd() *cobra.Command {
	return adminGroup("users", "Create, list, show and delete users (REST)",
		"Manage the users of an app through the REST API of a running server.\n"+adminConnHelp,
		newAdminUsersCreateCmd(), newAdminUsersListCmd(), newAdminUsersGetCmd(), newAdminUsersDeleteCmd())
}

func newAdminUsersCreateCmd() *cobra.Command {
	var f adminRESTFlags
	var uid, name, avatar, link, role, metadata string
	var tags []string
	var withToken bool
	cmd := &cobra.Command{
		Use:   "create UID --name NAME",
		Short: "Create a user",
		Long:  "Creates a user (POST /v3/users). uids are 1–100 characters of a-z, 0-9, _ and -, stored lower case.\n" + adminConnHelp,
		Example: `  callgate users create alice --name "Alice Liddell" --avatar https://example.com/alice.png
  callgate users create bob --name Bob --metadata '{"team":"red"}' --tags beta,staff --with-auth-token`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 1 && uid != "" && !strings.EqualFold(args[0], uid):
				return fmt.Errorf("the uid is given twice (%q and --uid %q): pass one", args[0], uid)
			case len(args) == 1:
				uid = args[0]
			case len(args) == 0 && uid == "":
				return fmt.Errorf("missing UID\n  usage: %s", cmd.UseLine())
			case len(args) > 1:
				return fmt.Errorf("too many arguments (%s)\n  usage: %s", strings.Join(args[1:], " "), cmd.UseLine())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(name) == "" {
				return errors.New("missing --name: every user needs a display name, e.g. --name \"Alice Liddell\"")
			}
			body := map[string]any{"uid": uid, "name": name}
			fs := cmd.Flags()
			if fs.Changed("avatar") {
				body["avatar"] = avatar
			}
			if fs.Changed("link") {
				body["link"] = link
			}
			if fs.Changed("role") {
				body["role"] = role
			}
			if fs.Changed("metadata") {
				if !json.Valid([]byte(metadata)) || !strings.HasPrefix(strings.TrimSpace(metadata), "{") {
					return fmt.Errorf("--metadata %q: want a JSON object, e.g. --metadata '{\"team\":\"red\"}'", metadata)
				}
				body["metadata"] = json.RawMessage(metadata)
			}
			if fs.Changed("tags") {
				body["tags"] = tags
			}
			if withToken {
				body["withAuthToken"] = true
			}
			return adminRESTDo(cmd, &f, http.MethodPost, "/users", nil, body, func(w io.Writer, r adminReply[adminUser]) {
				u := r.v
				fmt.Fprintf(w, "Created user %s.\n\n", u.UID)
				adminPrintUser(w, u)
				if u.AuthToken != "" {
					fmt.Fprintf(w, "\nAuth token (shown only this once):\n\n  %s\n", u.AuthToken)
				}
			})
		},
	}
	f.register(cmd.Flags())
	fs := cmd.Flags()
	fs.StringVar(&uid, "uid", "", "the uid (instead of the UID argument)")
	fs.StringVar(&name, "name", "", "display name, up to 100 characters (required)")
	fs.StringVar(&avatar, "avatar", "", "avatar URL (http or https)")
	fs.StringVar(&link, "link", "", "profile URL (http or https)")
	fs.StringVar(&role, "role", "", "role (default: default)")
	fs.StringVar(&metadata, "metadata", "", "metadata: a JSON object up to 5 KB")
	fs.StringSliceVar(&tags, "tags", nil, "tags, comma-separated")
	fs.BoolVar(&withToken, "with-auth-token", false, "also create an auth token for the user (printed once)")
	return cmd
}

func newAdminUsersListCmd() *cobra.Command {
	var f adminRESTFlags
	var search, status string
	var perPage, page int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users, a page at a time",
		Long:  "Lists users (GET /v3/users) in uid order, a page at a time.\n" + adminConnHelp,
		Example: `  callgate users list
  callgate users list --search ali --status online --per-page 50 --page 2`,
		Args: adminArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if search != "" {
				q.Set("searchKey", search)
			}
			if status != "" {
				if status != "online" && status != "offline" {
					return fmt.Errorf("--status %q: want online or offline", status)
				}
				q.Set("status", status)
			}
			if perPage < 1 || perPage > 1000 {
				return fmt.Errorf("--per-page %d: want 1 to 1000", perPage)
			}
			if page < 1 {
				return fmt.Errorf("--page %d: pages count from 1", page)
			}
			if cmd.Flags().Changed("per-page") {
				q.Set("perPage", strconv.Itoa(perPage))
			}
			if cmd.Flags().Changed("page") {
				q.Set("page", strconv.Itoa(page))
			}
			return adminRESTDo(cmd, &f, http.MethodGet, "/users", q, nil, func(w io.Writer, r adminReply[[]adminUser]) {
				users, pg := r.v, r.page
				rows := make([][]string, len(users))
				for i, u := range users {
					rows[i] = []string{u.UID, u.Name, u.Status, u.Role, adminTime(u.LastActiveAt, "never"), adminTime(u.CreatedAt, "-")}
				}
				printTable(w, []string{"UID", "NAME", "STATUS", "ROLE", "LAST ACTIVE", "CREATED"}, rows)
				if pg != nil && pg.TotalPages > 1 {
					fmt.Fprintf(w, "\npage %d of %d (%d users in all)", pg.CurrentPage, pg.TotalPages, pg.Total)
					if pg.CurrentPage < pg.TotalPages {
						fmt.Fprintf(w, "; next: --page %d", pg.CurrentPage+1)
					}
					fmt.Fprintln(w)
				}
			})
		},
	}
	f.register(cmd.Flags())
	fs := cmd.Flags()
	fs.StringVar(&search, "search", "", "only users whose uid or name contains this (case-insensitive)")
	fs.StringVar(&status, "status", "", "only online or offline users")
	fs.IntVar(&perPage, "per-page", 100, "users per page (1–1000)")
	fs.IntVar(&page, "page", 1, "page number, from 1")
	return cmd
}

func newAdminUsersGetCmd() *cobra.Command {
	return adminPathCmd(&cobra.Command{
		Use:     "get UID",
		Short:   "Show one user",
		Long:    "Shows one user (GET /v3/users/{uid}).\n" + adminConnHelp,
		Example: "  callgate users get cometchat-uid-1",
		Args:    adminArgs("UID"),
	}, http.MethodGet, func(args []string) string { return adminPath("users", args[0]) },
		func(w io.Writer, _ []string, r adminReply[adminUser]) { adminPrintUser(w, r.v) })
}

func newAdminUsersDeleteCmd() *cobra.Command {
	return adminDeleteCmd(&cobra.Command{
		Use:   "delete UID",
		Short: "Delete a user and all their auth tokens",
		Long: `Deletes a user for good (DELETE /v3/users/{uid}): the record and every auth
token of theirs; their sessions end at once.
` + adminConnHelp,
		Example: "  callgate users delete alice",
		Args:    adminArgs("UID"),
	}, func(args []string) string { return adminPath("users", args[0]) })
}

// adminPrintUser prints one user as label/value lines.
func adminPrintUser(w io.Writer, u adminUser) {
	pairs := [][2]string{
		{"UID", u.UID},
		{"Name", u.Name},
		{"Status", u.Status},
		{"Role", u.Role},
	}
	if u.Avatar != "" {
		pairs = append(pairs, [2]string{"Avatar", u.Avatar})
	}
	if u.Link != "" {
		pairs = append(pairs, [2]string{"Link", u.Link})
	}
	if len(u.Metadata) > 0 {
		pairs = append(pairs, [2]string{"Metadata", string(u.Metadata)})
	}
	if len(u.Tags) > 0 {
		pairs = append(pairs, [2]string{"Tags", strings.Join(u.Tags, ", ")})
	}
	pairs = append(pairs,
		[2]string{"Last active", adminTime(u.LastActiveAt, "never")},
		[2]string{"Created", adminTime(u.CreatedAt, "-")},
	)
	if u.UpdatedAt != 0 && u.UpdatedAt != u.CreatedAt {
		pairs = append(pairs, [2]string{"Updated", adminTime(u.UpdatedAt, "-")})
	}
	if u.DeactivatedAt != 0 {
		pairs = append(pairs, [2]string{"Deactivated", adminTime(u.DeactivatedAt, "-")})
	}
	adminFields(w, pairs...)
}
