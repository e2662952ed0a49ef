package main

import (
	"strings"
	"testing"
	"time"
)

// --audit-retention maps onto server.Config.AuditRetention, where 0 is the
// default (90 days) and a negative value keeps events for ever: the flag's
// 0 must keep them, not fall back to the default.
func TestAuditRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"2160h":   90 * 24 * time.Hour,
		"90d":     90 * 24 * time.Hour,
		"720h":    30 * 24 * time.Hour,
		" 1h ":    time.Hour,
		"0":       -1,
		"0s":      -1,
		"0d":      -1,
		"forever": -1,
		"Forever": -1,
	} {
		got, err := auditRetention(in)
		if err != nil || got != want {
			t.Errorf("auditRetention(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "90", "-1h", "30m", "1.5d", "99999999999999d"} {
		if got, err := auditRetention(in); err == nil {
			t.Errorf("auditRetention(%q) = %v, want an error", in, got)
		}
	}
	if got, _ := auditRetention(newServeCmd().Flags().Lookup("audit-retention").DefValue); got != 90*24*time.Hour {
		t.Errorf("the default keeps events %v, want 90 days", got)
	}
	// A bad value stops serve before it opens anything.
	isolateEnv(t)
	_, _, err := cli(t, "serve", "--audit-retention", "soon", "--data", t.TempDir(), "--addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "--audit-retention") {
		t.Errorf("serve --audit-retention soon: %v", err)
	}
	t.Setenv("CALLGATE_AUDIT_RETENTION", "later")
	_, _, err = cli(t, "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "--audit-retention") {
		t.Errorf("CALLGATE_AUDIT_RETENTION=later: %v", err)
	}
}
