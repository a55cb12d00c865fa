package couchdb

import (
	"os"
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

func testenvPassword() string { return os.Getenv(EnvPassword) }

func TestConformance(t *testing.T) {
	dbtest.Run(t, func(t *testing.T) dbservice.Service { return newServer(t) })
}
