package validate_test

import (
	"encoding/json"
	"reflect"
)

func jsonNumber(s string) json.Number { return json.Number(s) }

func deepEqual(a, b any) bool { return reflect.DeepEqual(a, b) }
