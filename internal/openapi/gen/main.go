package main

import (
	"encoding/json"
	"log"
	"os"

	"github.com/callgate/callgate/internal/openapi"
)

func main() {
	out := "docs/openapi.json"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	if !json.Valid(openapi.JSON()) {
		log.Fatal("internal/openapi/openapi.json is not valid JSON")
	}
	if err := os.WriteFile(out, openapi.JSON(), 0o644); err != nil {
		log.Fatal(err)
	}
}
