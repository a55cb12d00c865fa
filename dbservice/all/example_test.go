package all_test

import (
	"fmt"
	"slices"

	_ "github.com/securedb-go/securedb/dbservice/all"
	"github.com/securedb-go/securedb/dbservice/driver"
	"github.com/securedb-go/securedb/secrets"
)

// After one import, every provider and every secret scheme is available to
// securedb.Open.
func Example() {
	fmt.Println(driver.Names())
	schemes := []string{}
	for s := range secrets.Openers() {
		schemes = append(schemes, s)
	}
	slices.Sort(schemes)
	fmt.Println(schemes)
	// Output:
	// [couchdb dynamodb firestore memory]
	// [awssm gcpsm]
}
