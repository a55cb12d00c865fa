package dbservice

import (
	"os"
	"strconv"
	"strings"

	"github.com/securedb-go/securedb/validate"
)

// EnvBool reads a true/false environment variable for a provider's
// FromEnv: set reports whether it has a value; anything strconv.ParseBool
// refuses is ErrInvalid naming the variable (never its value).
func EnvBool(name string) (v, set bool, err error) {
	s := strings.TrimSpace(os.Getenv(name))
	if s == "" {
		return false, false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, false, &validate.Error{Field: name, Reason: "must be true or false"}
	}
	return b, true, nil
}
