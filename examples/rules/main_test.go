package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/internal/testenv"
)

var serverVars = map[string][]string{
	"couchdb":   {"COUCHDB_URL", "COUCHDB_USER", "COUCHDB_PASSWORD"},
	"dynamodb":  {"DYNAMODB_ENDPOINT_URL", "AWS_SECRET_ACCESS_KEY"},
	"firestore": {"FIRESTORE_EMULATOR_HOST", "FIRESTORE_PROJECT_ID"},
}

func TestRulesExampleOnEveryProvider(t *testing.T) {
	for _, provider := range []string{"", "couchdb", "dynamodb", "firestore"} {
		name := provider
		if name == "" {
			name = "memory"
		}
		t.Run(name, func(t *testing.T) {
			prefix := ""
			if provider != "" {
				testenv.Need(t, provider, serverVars[provider]...)
				var b [4]byte
				_, _ = rand.Read(b[:])
				prefix = "ex" + hex.EncodeToString(b[:]) + "_"
			}
			t.Setenv("DATABASE_PROVIDER", provider)
			var out bytes.Buffer
			if err := run(t.Context(), &out, prefix); err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			got := out.String()
			for _, want := range []string{
				"on provider " + name,
				"posture security-rules: pass",
				"allowed alice gets users/alice                               firestore.rules:8\n",
				"denied  bob gets users/alice                                 firestore.rules:8,firestore.rules:17\n",
				"allowed alice saves users/alice ",
				"denied  bob saves users/alice ",
				"allowed alice lists users where _id == alice ",
				"denied  alice lists all users (rules are not filters) ",
				`add Where("_id", Eq, ...)`,
				"allowed alice gets agents/gofannon                           firestore.rules:12\n",
				"denied  anonymous gets agents/gofannon ",
				"allowed bob lists agents ",
				"denied  anonymous lists agents ",
				"allowed admin saves agents/scribe                            firestore.rules:13\n",
				"denied  alice saves agents/scribe ",
				"allowed service account gets users/bob                       firestore.rules:17\n",
				"allowed service account lists users ",
				"denied  another email gets users/bob ",
				"denied  anonymous deletes agents/gofannon ",
				"users/alice after the calls: name=Alice A.",
			} {
				if prefix != "" {
					// The labels name the collections without the prefix;
					// compare without the column padding.
					want = strings.Join(strings.Fields(want), " ")
					if !strings.Contains(strings.Join(strings.Fields(got), " "), want) {
						t.Errorf("output lacks %q", want)
					}
					continue
				}
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q", want)
				}
			}
			if strings.Contains(got, "error  ") {
				t.Error("a call failed with something other than a denial")
			}
			if t.Failed() {
				t.Log(got)
			}
		})
	}
}
