package main

import (
	"log"
	"os"

	"github.com/callgate/callgate/internal/apierr"
)

func main() {
	out := "docs/errors.md"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	if err := os.WriteFile(out, []byte(apierr.Markdown()), 0o644); err != nil {
		log.Fatal(err)
	}
}
