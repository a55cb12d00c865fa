package firestore

import (
	"testing"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/dbtest"
)

func TestConformance(t *testing.T) {
	dbtest.Run(t, func(t *testing.T) dbservice.Service { return newServer(t) })
}
