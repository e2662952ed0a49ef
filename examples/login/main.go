package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/callgate/callgate/calls"
)

// devCredentials is ./callgate-data/dev-credentials.json, written by
// `callgate serve --dev`.
type devCredentials struct {
	AppID      string `json:"appId"`
	Region     string `json:"region"`
	AuthKey    string `json:"authKey"`
	RESTAPIKey string `json:"restApiKey"`
	Host       string `json:"host"`
}

func main() {
	log.SetFlags(0)
	data := flag.String("data", "./callgate-data", "data directory of `callgate serve --dev` (holds dev-credentials.json)")
	appID := flag.String("app", "", "app ID (default: from dev-credentials.json)")
	region := flag.String("region", "", "region (default: from dev-credentials.json)")
	host := flag.String("host", "", "server URL (default: from dev-credentials.json, else $CALLGATE_HOST)")
	authKey := flag.String("key", "", "auth key (default: from dev-credentials.json)")
	uid := flag.String("uid", "cometchat-uid-1", "user to log in")
	flag.Parse()

	var creds devCredentials
	path := filepath.Join(*data, "dev-credentials.json")
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &creds); err != nil {
			log.Fatalf("%s: %v", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		log.Fatal(err)
	}
	pick := func(flagValue, fileValue string) string {
		if flagValue != "" {
			return flagValue
		}
		return fileValue
	}
	settings := calls.AppSettings{
		AppID:  pick(*appID, creds.AppID),
		Region: pick(*region, creds.Region),
		Host:   pick(*host, creds.Host),
	}
	key := pick(*authKey, creds.AuthKey)
	if settings.AppID == "" {
		log.Fatalf("no app: run `callgate serve --dev` in this directory (it writes %s) or pass -app, -region, -host and -key", path)
	}

	ctx := context.Background()

	// 1. Initialise the SDK. This restores a session saved by an earlier run.
	if err := calls.Init(settings); err != nil {
		log.Fatalf("Initialization failed with exception: %v", err)
	}
	fmt.Println("Initialization completed successfully")

	// 2. Log in only when nobody is logged in yet.
	user := calls.GetLoggedInUser()
	if user == nil {
		var err error
		user, err = calls.Login(ctx, *uid, key)
		if err != nil {
			var e *calls.Error
			if errors.As(err, &e) {
				log.Fatalf("Login failed with exception: %s: %s", e.Code, e.Description)
			}
			log.Fatalf("Login failed with exception: %v", err)
		}
		fmt.Println("Login successful")
	} else {
		fmt.Println("Already logged in")
	}

	// 3. Use the user.
	fmt.Printf("User: uid=%s name=%q status=%s authToken=%s…\n", user.UID, user.Name, user.Status, user.AuthToken[:min(len(user.AuthToken), 24)])

	// 4. Log out: the token is revoked on the server and the saved session deleted.
	msg, err := calls.Logout(ctx)
	if err != nil {
		log.Fatalf("Logout failed with exception: %v", err)
	}
	fmt.Println(msg)
}
