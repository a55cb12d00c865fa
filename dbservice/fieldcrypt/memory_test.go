package fieldcrypt_test

import (
	"testing"

	"github.com/securedb-go/securedb/dbservice/memory"
)

func TestOnMemory(t *testing.T) {
	suite(t, memory.New(), 10000)
}
