package main

import (
	"testing"

	"github.com/spf13/pflag"
)

// Every serve flag can also come from the environment (README.md, `serve
// --help`), so each must be bound to its CALLGATE_* variable.
func TestEveryServeFlagHasAnEnvVar(t *testing.T) {
	newServeCmd().Flags().VisitAll(func(f *pflag.Flag) {
		if !envFlags[f.Name] {
			t.Errorf("serve flag --%s is not in envFlags", f.Name)
		}
	})
}

func TestEnvFillsFlagsAndCommandLineWins(t *testing.T) {
	t.Setenv("CALLGATE_ADDR", "127.0.0.1:9999")
	t.Setenv("CALLGATE_RATE_LIMIT", "off")
	t.Setenv("CALLGATE_NAME", "should-not-bind")
	fs := newServeCmd().Flags()
	fs.String("name", "", "")
	if err := fs.Parse([]string{"--rate-limit", "on"}); err != nil {
		t.Fatal(err)
	}
	if err := bindEnv(fs); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"addr": "127.0.0.1:9999", "rate-limit": "on", "name": ""} {
		if got, _ := fs.GetString(flag); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
}

// A DSN in a message never shows its password, in any of its spellings.
func TestRedactDSN(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://app:s3cret@db:5432/callgate":                 "postgres://app:xxxxx@db:5432/callgate",
		"postgres://app@db/callgate?sslmode=disable":             "postgres://app@db/callgate?sslmode=disable",
		"postgres://app@db/callgate?password=s3cret&sslmode=off": "postgres://app@db/callgate?password=xxxxx&sslmode=off",
		"host=db user=app password=s3cret":                       "(a DSN that is not a URL; not shown, as it may hold a password)",
	} {
		if got := redactDSN(dsn); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", dsn, got, want)
		}
	}
}
