package securedb_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
)

// TestSecurityChecklistDocCoversEveryItem holds docs/security-checklist.md
// to the guide's fifteen items, in order, and to the code: every checklist
// ID appears, and the fix text the report prints for an item no layer
// reports is quoted word for word.
func TestSecurityChecklistDocCoversEveryItem(t *testing.T) {
	b, err := os.ReadFile("docs/security-checklist.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	headings := regexp.MustCompile(`(?m)^## ([0-9]+)\. `).FindAllStringSubmatch(text, -1)
	if len(headings) != 15 {
		t.Fatalf("%d numbered items, want the guide's 15", len(headings))
	}
	for i, h := range headings {
		if h[1] != strconv.Itoa(i+1) {
			t.Errorf("item %d is numbered %s", i+1, h[1])
		}
	}
	flat := strings.Join(strings.Fields(text), " ")
	for _, item := range dbservice.Checklist() {
		if !strings.Contains(text, "`"+item.ID+"`") {
			t.Errorf("the document never names the finding ID %s", item.ID)
		}
		if !strings.Contains(flat, item.HowToCheck) {
			t.Errorf("the document does not quote the fix the report prints for %s: %q", item.ID, item.HowToCheck)
		}
	}
}
