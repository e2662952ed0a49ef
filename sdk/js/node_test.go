package sdkjs_test

import (
	"os"
	"os/exec"
	"testing"
)

// TestNode runs the SDK's own tests (test/*.test.js: its logic against a
// fake fetch, WebSocket and storage) under Node's test runner.
func TestNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node not found; CI is set, so the SDK's Node tests must run")
		}
		t.Skip("node not found: skipping the SDK's Node tests")
	}
	cmd := exec.Command(node, "--test", "--test-reporter=dot", "test/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test test/: %v\n%s", err, out)
	}
	t.Logf("node --test test/: %s", out)
}
