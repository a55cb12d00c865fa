package validate_test

import (
	"errors"
	"fmt"

	"github.com/securedb-go/securedb/validate"
)

func Example() {
	doc, err := validate.Sanitize(map[string]any{"name": "gofannon", "_rev": "x", "runs": 3}, validate.Limits{})
	fmt.Println(doc, err)

	_, err = validate.Sanitize(map[string]any{"$where": "sleep(1000)"}, validate.Limits{})
	fmt.Println(err, errors.Is(err, validate.ErrInvalid))

	fmt.Println(validate.IDRule{}.Check("../../etc/passwd"))
	// Output:
	// map[name:gofannon runs:3] <nil>
	// invalid doc.$where: field names starting with '$' are refused (operator injection; Limits.LiteralKeys allows them) true
	// invalid id: must not contain '/' (near "../../etc/passwd")
}
